"""Redis from Debian's ``redis-server``, with the append-only file on (fsync every second).

With ``redis_acl`` it starts with the ACL users of ``storage.redis_acl`` (an ACL file in its folder,
passwords generated into the stack folder) and the default user off.
"""

from __future__ import annotations

from pathlib import Path

import redis

from core import local_credentials
from deploy.local.server import LocalServer, require_tool
from storage import redis_acl


class RedisServer(LocalServer):
    name = "redis"
    port_setting = "CINESTREAM_REDIS_PORT"
    start_timeout = 30.0

    @property
    def port(self) -> int:
        return self.settings.redis_port

    @property
    def address(self) -> str:
        return self.settings.redis_url

    @property
    def marker(self) -> str:
        return f"redis-server 127.0.0.1:{self.port}"

    def install(self) -> None:
        require_tool("redis-server", "install Debian's package: apt-get install -y redis-server")

    @property
    def acl_file(self) -> Path:
        return self.data_dir / "users.acl"

    def prepare(self) -> None:
        super().prepare()
        if self.settings.redis_acl:
            passwords = local_credentials.passwords(self.settings.stack_dir, "redis", redis_acl.PRINCIPALS)
            self.acl_file.write_text("\n".join(redis_acl.rules(passwords)) + "\n")
            self.acl_file.chmod(0o600)

    def argv(self) -> list[str]:
        acl = ["--aclfile", str(self.acl_file)] if self.settings.redis_acl else []
        return [
            require_tool("redis-server", "apt-get install -y redis-server"), *acl,
            "--bind", "127.0.0.1", "--port", str(self.port), "--protected-mode", "yes",
            "--dir", str(self.data_dir), "--daemonize", "no", "--logfile", "",
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            # The workers append megabytes a second to the AOF under load, and each rewrite forks Redis
            # and keeps a core busy for seconds on a machine the API shares: the slowest answers of a
            # bench were the ones a rewrite fell on. A higher floor makes rewrites rare
            # (docs/benchmarks.md, "Serving at the speed of Redis").
            "--auto-aof-rewrite-min-size", "2gb",
        ]

    def _client(self) -> redis.Redis:
        return redis.Redis.from_url(self.address, socket_connect_timeout=0.5, socket_timeout=2)

    def healthy(self) -> bool:
        try:
            with self._client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def version(self) -> str:
        with self._client() as client:
            info = client.info("server")
            persistence = client.config_get("appendonly")
        return f"{info['redis_version']} (aof {persistence.get('appendonly', '?')})"

"""FerretDB 1.24 (MongoDB wire protocol over SQLite), built from the Go module proxy.

``go install …@version`` produces a binary that panics at start-up: FerretDB embeds
``build/version/version.txt``, which its own build task generates and the module zip lacks.
So we copy the module source out of the Go module cache, write that file, and ``go build``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from deploy.local.process import StackError
from deploy.local.server import LocalServer, cached, mark_cached, require_tool

MODULE = "github.com/FerretDB/FerretDB"


class FerretDBServer(LocalServer):
    name = "mongo-ferretdb"
    background = True
    port_setting = "CINESTREAM_MONGO_PORT"
    start_timeout = 60.0

    @property
    def port(self) -> int:
        return self.settings.mongo_port

    @property
    def address(self) -> str:
        return self.settings.mongo_uri

    @property
    def binary(self) -> Path:
        return self.settings.cache_dir / f"ferretdb-{self.settings.ferretdb_version}" / "ferretdb"

    @property
    def marker(self) -> str:
        return f"--listen-addr=127.0.0.1:{self.port}"

    def install(self) -> None:
        if cached(self.binary):
            return
        go = require_tool("go", "install Go (https://go.dev/doc/install) or set CINESTREAM_MONGO_URI")
        version = self.settings.ferretdb_version
        download = subprocess.run(
            [go, "mod", "download", "-json", f"{MODULE}@{version}"], capture_output=True, text=True
        )
        if download.returncode != 0:
            raise StackError(f"FerretDB {version}: go mod download failed: {download.stdout or download.stderr}")
        module_dir = Path(json.loads(download.stdout)["Dir"])
        src = self.settings.cache_dir / f"ferretdb-src-{version}"
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(module_dir, src)
        for path in [src, *src.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        (src / "build" / "version" / "version.txt").write_text(version + "\n")
        (src / "build" / "version" / "package.txt").write_text("cinestream\n")
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        build = subprocess.run(
            [go, "build", "-trimpath", "-o", str(self.binary), "./cmd/ferretdb"],
            cwd=src, capture_output=True, text=True,
        )
        if build.returncode != 0:
            raise StackError(f"FerretDB {version}: go build failed: {build.stderr.strip()[-500:]}")
        shutil.rmtree(src, ignore_errors=True)
        mark_cached(self.binary)

    def prepare(self) -> None:
        super().prepare()
        (self.data_dir / "sqlite").mkdir(exist_ok=True)

    def argv(self) -> list[str]:
        return [
            str(self.binary),
            "--handler=sqlite",
            f"--sqlite-url=file:{self.data_dir / 'sqlite'}/",
            f"--listen-addr=127.0.0.1:{self.port}",
            f"--state-dir={self.data_dir}",
            f"--debug-addr=127.0.0.1:{self.settings.ferretdb_debug_port}",
            "--telemetry=disable",
            "--log-level=error",
        ]

    def _client(self) -> MongoClient:
        return MongoClient(self.address, serverSelectionTimeoutMS=500, connectTimeoutMS=500)

    def healthy(self) -> bool:
        try:
            with self._client() as client:
                client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    def version(self) -> str:
        with self._client() as client:
            info = client.admin.command("buildInfo")
        ferret = info.get("ferretdbVersion")
        return f"FerretDB {ferret} (MongoDB {info['version']})" if ferret else f"MongoDB {info['version']}"

"""A local Redis Cluster: several masters from Debian's ``redis-server`` in cluster mode, with AOF.

The first piece of sharding the model's state (issue: "Redis Cluster, sharded"): the nodes and their
cluster, so the storage's multi-key scripts can be tested against the slot rules they must obey (all
keys of one script in one slot: hash tags). Node ``i`` (from 1) listens on ``redis_port + 100 (i - 1)``,
like the Kafka cluster's nodes; ``form`` assigns the 16,384 slots across the masters once
(``redis-cli --cluster create``), and is a no-op on a cluster already formed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from core.settings import Settings
from deploy.local.process import StackError
from deploy.local.redis_server import RedisServer
from deploy.local.server import require_tool

SLOTS = 16_384


class RedisClusterNode(RedisServer):
    def __init__(self, settings: Settings, node: int) -> None:
        self.node = node
        self.name = f"redis-{node}"
        super().__init__(settings)

    @property
    def port(self) -> int:
        return self.settings.redis_port + 100 * (self.node - 1)

    @property
    def address(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def marker(self) -> str:
        return f"redis-server 127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        return [*super().argv(), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "5000"]


def nodes(settings: Settings, masters: int = 3) -> list[RedisClusterNode]:
    return [RedisClusterNode(settings, node) for node in range(1, masters + 1)]


def cluster_info(member: RedisClusterNode) -> dict[str, str]:
    """``CLUSTER INFO`` of one node as text fields (``cluster_state``, ``cluster_slots_assigned``, …)."""
    with redis.Redis(port=member.port, decode_responses=True) as client:
        raw = client.execute_command("CLUSTER INFO")
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    return dict(line.split(":", 1) for line in str(raw).splitlines() if ":" in line)


def form(members: list[RedisClusterNode], timeout_s: float = 30.0) -> None:
    """Assign every slot across the masters, unless that was done, then wait for every node to say the
    cluster is up (they agree on the configuration a moment after ``create`` returns)."""
    if cluster_info(members[0]).get("cluster_slots_assigned") != str(SLOTS):
        _create(members)
    deadline = time.monotonic() + timeout_s
    while any(cluster_info(m).get("cluster_state") != "ok" for m in members):
        if time.monotonic() > deadline:
            raise StackError(f"the Redis Cluster is not up after {timeout_s:.0f} s: {cluster_info(members[0])}")
        time.sleep(0.1)


def _create(members: list[RedisClusterNode]) -> None:
    done = subprocess.run([require_tool("redis-cli", "apt-get install -y redis-tools"), "--cluster", "create",
                           *(f"127.0.0.1:{m.port}" for m in members), "--cluster-replicas", "0", "--cluster-yes"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"redis-cli --cluster create failed: {(done.stdout + done.stderr).strip()[-400:]}")


@contextmanager
def running(port: int, masters: int = 3) -> Iterator[list[RedisClusterNode]]:
    """A throwaway cluster of ``masters`` on ``port`` (and 100, 200, … above it), in a folder of its
    own: for tests and benches, removed with its data on exit."""
    folder = Path(tempfile.mkdtemp(prefix="cinestream-redis-cluster-"))
    members = nodes(Settings(stack_dir=folder, redis_port=port), masters)
    try:
        for member in members:
            member.start()
        form(members)
        yield members
    finally:
        for member in members:
            member.stop()
        shutil.rmtree(folder, ignore_errors=True)


def url(members: list[RedisClusterNode]) -> str:
    """What ``CINESTREAM_REDIS_URL`` names (with ``CINESTREAM_REDIS_CLUSTER=true``): any one node."""
    return f"redis://127.0.0.1:{members[0].port}/0"

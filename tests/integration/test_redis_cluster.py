"""A local Redis Cluster of three masters (deploy/local/redis_cluster.py): formed once, every slot
served, keys spread over the masters, and a hash tag keeping a group of keys in one slot — the rule
a multi-key script must follow there, and the first step of sharding the model's state."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

from cinestream.settings import Settings
from deploy.local import redis_cluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def masters() -> Iterator[list[redis_cluster.RedisClusterNode]]:
    folder = Path(tempfile.mkdtemp(prefix="cinestream-redis-cluster-"))
    own = Settings(stack_dir=folder, redis_port=int(os.environ.get("CINESTREAM_TEST_REDIS_CLUSTER_PORT", "17379")))
    members = redis_cluster.nodes(own)
    try:
        for member in members:
            member.start()
        redis_cluster.form(members)
        redis_cluster.form(members)  # formed already: nothing to do
        yield members
    finally:
        for member in members:
            member.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_three_masters_serve_every_slot_and_spread_keys(masters: list[redis_cluster.RedisClusterNode]) -> None:
    for member in masters:
        info = redis_cluster.cluster_info(member)
        assert info["cluster_state"] == "ok" and info["cluster_known_nodes"] == "3"
        assert info["cluster_slots_assigned"] == str(redis_cluster.SLOTS)
    client = RedisCluster(host="127.0.0.1", port=masters[0].port)
    try:
        users = range(1, 301)
        client.mset_nonatomic({f"mf:u:{u}": b"row" for u in users})
        owners = {client.get_node_from_key(f"mf:u:{u}").port for u in users}
        assert owners == {m.port for m in masters}, "300 users' rows not spread over the three masters"
        # one partition's keys under one hash tag: one slot, so one script may touch them all
        tagged = [f"mf:{{p3}}:u:{u}" for u in users]
        assert len({client.keyslot(k) for k in tagged}) == 1
        assert client.eval("for i, k in ipairs(KEYS) do redis.call('SET', k, i) end return #KEYS",
                           len(tagged), *tagged) == len(tagged)
        assert client.get(tagged[-1]) == b"300"
    finally:
        client.close()

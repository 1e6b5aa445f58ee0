"""A three-node KRaft cluster started by the stack: a broker killed mid-stream loses nothing.

The cluster runs beside the test stack, in a folder and on ports of its own (only Kafka: the
producers and consumers here are aiokafka's, as the simulators' and the API's are).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pydantic import SecretStr

from bench import soak as soak_module
from bench.soak import soak
from core.kafka_auth import client_options
from core.settings import Settings
from deploy.local import redis_cluster
from deploy.local import stack as local_stack
from deploy.local.kafka_server import KafkaServer, kafka_nodes
from deploy.local.redis_cluster import RedisClusterNode
from simulators.replay import load_ratings
from streams import acls
from streams.admin import ensure_topics

pytestmark = pytest.mark.integration
EVENTS = 30_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Settings, list[KafkaServer]]]:
    folder = Path(tempfile.mkdtemp(prefix="cinestream-kafka-cluster-"))
    base = int(os.environ.get("CINESTREAM_TEST_CLUSTER_PORT", "19192"))
    # built, not copied: the bootstrap list is derived from the nodes' ports when settings are made
    own = Settings(stack_dir=folder, kafka_brokers=3, kafka_heap="256m", kafka_port=base,
                   kafka_controller_port=base + 1)
    nodes = kafka_nodes(own)
    try:
        for node in nodes:
            node.launch()
        for node in nodes:
            node.ready()
        asyncio.run(acls.grant(own))  # as `stack up` does: a cluster runs with SASL and refuses what no ACL allows
        yield own, nodes
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def _topic_layout(own: Settings, topic: str) -> tuple[set[int], str]:
    """Replicas per partition, and the topic's min.insync.replicas."""
    admin = AIOKafkaAdminClient(bootstrap_servers=own.kafka_bootstrap, **client_options(own))
    await admin.start()
    try:
        deadline = time.monotonic() + 15
        # the node asked may learn of a topic just created a moment after the one that created it
        while not (described := await admin.describe_topics([topic]))[0]["partitions"]:
            assert time.monotonic() < deadline, f"{topic} has no partitions in the cluster's metadata"
            await asyncio.sleep(0.2)
        replicas = {len(p["replicas"]) for p in described[0]["partitions"]}
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {name: value for name, value, *_ in configs[0].resources[0][4]}
        return replicas, entries["min.insync.replicas"]
    finally:
        await admin.close()


async def _produce(own: Settings, topic: str, first: int, last: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=own.kafka_bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=5, request_timeout_ms=30_000, **client_options(own))
    await producer.start()
    try:
        for start in range(first, last, 500):
            sends = [await producer.send(topic, str(n).encode(), key=str(n % 97).encode())
                     for n in range(start, min(start + 500, last))]
            await asyncio.gather(*sends)  # every one acknowledged by the in-sync replicas
    finally:
        await producer.stop()


async def _read_all(own: Settings, topic: str, expected: int) -> list[int]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=own.kafka_bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, **client_options(own))
    await consumer.start()
    seen: list[int] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len(seen) < expected and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            seen += [int(record.value or b"-1") for records in batches.values() for record in records]
    finally:
        await consumer.stop()
    return seen


def test_topics_are_replicated_three_times_and_need_two_in_sync(cluster: tuple[Settings, list[KafkaServer]]) -> None:
    own, _ = cluster
    asyncio.run(ensure_topics(own, ["layout-events"], ["layout-dlq"]))
    for topic in ("layout-events", "layout-dlq"):
        assert asyncio.run(_topic_layout(own, topic)) == ({3}, "2")


async def _try_produce(who: Settings, topic: str, authenticate: bool = True) -> str:
    """'stored', or the error class that refused the event."""
    producer = AIOKafkaProducer(bootstrap_servers=who.kafka_bootstrap, acks="all", enable_idempotence=True,
                                request_timeout_ms=5_000, **(client_options(who) if authenticate else {}))
    try:
        await asyncio.wait_for(producer.start(), 15)
        await asyncio.wait_for(producer.send_and_wait(topic, b'{"v": 1, "events": []}', key=b"99999"), 15)
        return "stored"
    except Exception as exc:
        return type(exc).__name__
    finally:
        await producer.stop()


async def _try_consume(who: Settings, topic: str, group: str) -> str:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=who.kafka_bootstrap, group_id=group,
                                auto_offset_reset="earliest", **client_options(who))
    try:
        await asyncio.wait_for(consumer.start(), 15)
        records = await asyncio.wait_for(consumer.getmany(timeout_ms=3_000), 20)
        await consumer.commit()
        return f"read {sum(len(r) for r in records.values())}"
    except Exception as exc:
        return type(exc).__name__
    finally:
        await consumer.stop()


def test_only_the_principals_the_acls_name_reach_the_topics(cluster: tuple[Settings, list[KafkaServer]]) -> None:
    """SASL/SCRAM and ACLs on the cluster: a platform may write events and nothing else, a worker
    read them in its groups and write no event, and no one gets in without the right password."""
    own, _ = cluster
    asyncio.run(ensure_topics(own, [own.topic_ratings, own.topic_watches], [own.topic_dead_letter]))

    def as_(user: str, secret: str | None = None) -> Settings:
        return own.model_copy(update={"kafka_user": user, **({"kafka_password": SecretStr(secret)} if secret else {})})

    assert asyncio.run(_try_produce(as_("platform"), own.topic_ratings)) == "stored"
    assert asyncio.run(_try_produce(as_("api"), own.topic_watches)) == "stored"
    # refused: a platform writing anywhere else, a worker writing events, strangers
    assert asyncio.run(_try_produce(as_("platform"), own.topic_dead_letter)) == "TopicAuthorizationFailedError"
    assert asyncio.run(_try_produce(as_("worker"), own.topic_ratings)) == "TopicAuthorizationFailedError"
    assert asyncio.run(_try_produce(as_("platform", "guessed"), own.topic_ratings)) == "KafkaConnectionError"
    assert asyncio.run(_try_produce(own, own.topic_ratings, authenticate=False)) == "KafkaConnectionError"
    # consumers: a worker in its groups reads; a platform, or a worker in another group, is refused
    assert asyncio.run(_try_consume(as_("worker"), own.topic_ratings, f"{own.worker_group}-learn")) == "read 1"
    assert asyncio.run(_try_consume(as_("platform"), own.topic_ratings, f"{own.worker_group}-learn")) \
        == "GroupAuthorizationFailedError"
    assert asyncio.run(_try_consume(as_("worker"), own.topic_ratings, "someone-else")) \
        == "GroupAuthorizationFailedError"


def test_a_broker_killed_mid_stream_loses_no_event_and_stores_none_twice(
        cluster: tuple[Settings, list[KafkaServer]]) -> None:
    """SIGKILL the second node a third of the way in, start it again two thirds in: the idempotent
    producer (acks=all) fails over to the partitions' new leaders, and the topic holds every event
    once."""
    own, nodes = cluster
    asyncio.run(ensure_topics(own, ["killed-broker"], []))
    victim = nodes[1]
    asyncio.run(_produce(own, "killed-broker", 0, EVENTS // 3))
    pid = victim.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    asyncio.run(_produce(own, "killed-broker", EVENTS // 3, 2 * EVENTS // 3))
    assert not victim.healthy()
    assert victim.start() is True
    asyncio.run(_produce(own, "killed-broker", 2 * EVENTS // 3, EVENTS))
    seen = asyncio.run(_read_all(own, "killed-broker", EVENTS))
    assert len(seen) == EVENTS and sorted(seen) == list(range(EVENTS))


def test_a_short_soak_with_faults_loses_nothing_and_applies_nothing_twice(
        cluster: tuple[Settings, list[KafkaServer]], stack: Settings, built_catalogue: str, data_dir: Path,
        cluster_nodes: list[RedisClusterNode]) -> None:
    """``bench.soak`` in brief on the Kafka cluster and a Redis Cluster of three masters: 30,000
    ratings and 300 bad messages while a worker is killed every 5 s, a Redis master once, a Kafka
    node once and FerretDB once; then the same undisturbed."""
    own, nodes = cluster
    settings = stack.model_copy(update={"kafka_bootstrap": own.kafka_bootstrap, "kafka_replication": 3,
                                        "kafka_sasl": True, "stack_dir": own.stack_dir})  # its credentials
    servers = {s.name: s for s in local_stack.servers(stack) if s.name == "mongo-ferretdb"}
    servers |= {"redis": cluster_nodes[1], "kafka": nodes[1]}
    ratings = load_ratings(data_dir / "ml-latest-small" / "ratings.csv", limit=15_000)
    runs = {name: soak(settings, ratings, copies=2, bad_share=0.01, rate=1500, kill_every=every,
                       redis_db=soak_module.REDIS_DB, servers=servers if every else {},
                       redis_cluster_url=redis_cluster.url(cluster_nodes))
            for name, every in (("faults", 5.0), ("undisturbed", None))}
    faults = runs["faults"]
    happened = " ".join(faults["faults"])
    assert all(name in happened for name in ("redis-2", "kafka-2", "mongo-ferretdb")), happened
    assert "worker learn" in happened, happened  # at least one; how many more depends on restart times
    print(pd.DataFrame(runs).drop("faults").to_string())
    for figures in runs.values():
        assert (figures["valid"], figures["bad"]) == (30_000, 300)
        assert figures["events sent"] == 30_300
        assert figures["learned"] == 30_000 and figures["learned sum exact"] and figures["rated sets exact"]
        assert (figures["archived once"], figures["archived twice"], figures["lost"]) == (30_000, 0, 0)
        assert figures["dead-lettered"] == figures["dead letters with a reason"] == 300
    # each event is scored by a model that learned a slightly different interleaving of the partitions
    # (batches are cut where the timing falls): 0.2 % apart in most runs, 1.2 % in one CI run of 30,000
    assert abs(faults["rmse"] / runs["undisturbed"]["rmse"] - 1) < 0.02

"""Kafka administration shared by the stack, the API's health check and the stream jobs."""

from __future__ import annotations

import asyncio
import logging
from typing import TypedDict

from aiokafka.admin import AIOKafkaAdminClient

from core.kafka_auth import client_options
from core.settings import Settings


async def broker_count(settings: Settings, wait_s: float = 3.0, address: str | None = None) -> int:
    """Number of brokers the cluster reports (asking ``address``, default the bootstrap list): a full
    metadata round trip, not just an open port."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a down broker is an answer, not an error
    admin = AIOKafkaAdminClient(bootstrap_servers=address or settings.kafka_bootstrap,
                                request_timeout_ms=int(wait_s * 1000), **client_options(settings))
    try:
        await asyncio.wait_for(admin.start(), wait_s)
        cluster = await asyncio.wait_for(admin.describe_cluster(), wait_s)
        return len(cluster.get("brokers", []))
    finally:
        await admin.close()


async def ensure_topics(settings: Settings, names: list[str], single: list[str]) -> list[str]:
    """Create the topics that do not exist yet (``single``: one partition; the others
    ``settings.partitions``), each with ``topic_replication`` replicas of which ``topic_min_insync``
    must hold a write before it is acknowledged; returns those created."""
    from aiokafka.admin import NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        replicas, configs = settings.topic_replication, {"min.insync.replicas": str(settings.topic_min_insync)}
        wanted = [NewTopic(n, settings.partitions, replicas, topic_configs=configs) for n in names if n not in existing]
        wanted += [NewTopic(n, 1, replicas, topic_configs=configs) for n in single if n not in existing]
        if wanted:
            await admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def ensure_project_topics(settings: Settings) -> list[str]:
    """The deployment's topics: the events (``settings.partitions`` each), the dead letters and the
    catalogue's changes (one partition each: their order is the order they were sent)."""
    return await ensure_topics(settings, [settings.topic_ratings, settings.topic_watches, settings.topic_exposures],
                               [settings.topic_dead_letter, settings.topic_movies])


async def delete_topics(settings: Settings, names: list[str]) -> None:
    """Delete topics that exist (tests and benchmarks clean up the per-run topics they made)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


class GroupLag(TypedDict):
    """One consumer group on one topic, summed over its partitions."""

    group: str
    topic: str
    committed: int
    end: int
    lag: int


async def consumer_lag(settings: Settings, topics: list[str], wait_s: float = 5.0) -> list[GroupLag]:
    """Per consumer group reading ``topics``: its committed offsets, the topics' ends and the lag
    between them (events written but not yet processed), summed over partitions per topic."""
    from aiokafka import AIOKafkaConsumer

    auth, timeout_ms = client_options(settings), int(wait_s * 1000)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=timeout_ms, **auth)
    ends = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=timeout_ms, **auth)
    try:
        await asyncio.wait_for(asyncio.gather(admin.start(), ends.start()), wait_s)
        groups = sorted(group for group, _ in await admin.list_consumer_groups())
        committed = await asyncio.gather(*(admin.list_consumer_group_offsets(g) for g in groups))
        wanted = {tp for offsets in committed for tp in offsets if tp.topic in topics}
        end = await ends.end_offsets(list(wanted)) if wanted else {}
        rows: list[GroupLag] = []
        for group, offsets in zip(groups, committed, strict=True):
            for topic in sorted({tp.topic for tp in offsets if tp in wanted}):
                mine = [tp for tp in offsets if tp.topic == topic]
                done = sum(max(offsets[tp].offset, 0) for tp in mine)
                total = sum(end[tp] for tp in mine)
                rows.append({"group": group, "topic": topic, "committed": done, "end": total,
                             "lag": max(total - done, 0)})
        return rows
    finally:
        await admin.close()
        await ends.stop()

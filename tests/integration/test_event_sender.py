"""The API's sender packs concurrent requests' events per partition, on a real broker: fewer messages
than events, each user's events on the partition Kafka's partitioner gives them and in order, every
event stored once, and a failed send failing every request it carried."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from api.event_sender import EventSender
from contracts.partitions import partition_of
from core.settings import Settings
from streams.admin import delete_topics, ensure_topics
from streams.event_columns import EventColumns, parse_message


async def _read(bootstrap: str, topic: str, events: int) -> list[tuple[int, EventColumns]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    messages: list[tuple[int, EventColumns]] = []
    try:
        async with asyncio.timeout(30):
            while sum(len(m) for _, m in messages) < events:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        columns = parse_message(record.value)
                        assert isinstance(columns, EventColumns), columns
                        messages.append((record.partition, columns))
    finally:
        await consumer.stop()
    return messages


def _rating(user: int, seq: int) -> dict[str, Any]:
    return {"type": "rating", "event_id": f"{user}-{seq}", "user_id": user, "movie_id": 1 + seq,
            "rating": 4.0, "timestamp": 1_700_000_000.0 + seq, "source": "test"}


@pytest.fixture()
async def topic(stack: Settings) -> Any:
    name = f"test-sender-{uuid.uuid4().hex[:8]}"
    await ensure_topics(stack, [name], [])
    yield name
    await delete_topics(stack, [name])


async def test_concurrent_requests_share_envelopes_per_partition(stack: Settings, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sender = EventSender(producer)
        users = list(range(1, 201))
        # 200 people posting 5 events each, one request per event, all at once; then one batch of 1,000
        # interleaved people, as a platform's service key sends them
        singles = [sender.send(topic, [_rating(u, s)]) for s in range(5) for u in users]
        await asyncio.gather(*singles)
        single_messages = sender.messages
        await sender.send(topic, [_rating(1000 + i % 500, 5 + i // 500) for i in range(1000)])
        batch_messages = sender.messages - single_messages
    finally:
        await producer.stop()

    partitions = stack.partitions
    assert single_messages < 1000 / 5, "concurrent single events were not packed together"
    assert batch_messages <= partitions, "a batch of interleaved users made more than a message per partition"
    messages = await _read(stack.kafka_bootstrap, topic, 2000)
    seen: defaultdict[int, list[str]] = defaultdict(list)
    for partition, columns in messages:
        owners = partition_of(columns.users, partitions)
        assert set(owners.tolist()) == {partition}, "an event on another partition than its user's key gives"
        for user, event_id in zip(columns.users.tolist(), columns.event_ids, strict=True):
            seen[int(user)].append(str(event_id))
    assert sum(len(ids) for ids in seen.values()) == 2000, "an event lost or stored twice"
    for user in users:  # singles were sent in sequence order per person: the order holds
        assert seen[user] == [f"{user}-{s}" for s in range(5)]
    for user in range(1000, 1500):
        assert seen[user] == [f"{user}-5", f"{user}-6"]


class _FailingProducer:
    """A broker that accepts the first envelope and refuses the rest (unit-level: no Kafka needed)."""

    def __init__(self) -> None:
        self.sent = 0

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2, 3}

    async def send(self, topic: str, value: bytes, partition: int) -> asyncio.Future[None]:
        self.sent += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.sent == 1:
            future.set_result(None)
        else:
            future.set_exception(ConnectionError("broker gone"))
        return future


async def test_a_failed_send_fails_every_request_it_carried() -> None:
    sender = EventSender(_FailingProducer())  # type: ignore[arg-type]
    outcomes = await asyncio.gather(*(sender.send("t", [_rating(u, 0)]) for u in range(1, 50)),
                                    return_exceptions=True)
    users = np.arange(1, 50)
    stored = users[[o is None for o in outcomes]]
    refused = users[[isinstance(o, ConnectionError) for o in outcomes]]
    assert len(stored) + len(refused) == len(users), outcomes
    # the one envelope the broker took carried one partition's people, and every other request failed
    assert len(set(partition_of(stored, 4).tolist())) == 1 and len(refused) > 0
    assert not set(partition_of(refused, 4).tolist()) & set(partition_of(stored, 4).tolist())
    assert sender.messages == 1

"""The API's events leave for Kafka packed per partition, as the replay and the load generator pack them.

Faust pays its cost per Kafka message (about 16,000 messages/s a worker), so events sent one message
each — a platform posting single events, or a batch of interleaved users packed per user — would
pace the workers by message count rather than by events. Every event goes to the partition Kafka's
default partitioner gives its user id (``contracts.partitions``), so a person's events stay in order
with everything else keyed by them (an erasure). Per partition one send is in flight at a time, and
what arrives meanwhile leaves as one envelope when it returns: no delay added when traffic is light,
larger envelopes as it grows (natural batching, as in Kafka's own clients).

A request's events are acknowledged by the broker (the producer's ``acks="all"``) before ``send``
returns, so a 202 means stored; a failed send fails every request whose events it carried, and
those requests answer 503 with nothing partly accepted that the client cannot retry safely.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from typing import Any

import numpy as np
from aiokafka import AIOKafkaProducer

from contracts.events import encode_events
from contracts.partitions import partition_of

MAX_EVENTS = 1000  # per envelope (about 200 KB, under Kafka's 1 MB message limit); a request is never split

Events = list[dict[str, Any]]


class EventSender:
    """Packs concurrent requests' events into one envelope per partition."""

    def __init__(self, producer: AIOKafkaProducer, max_events: int = MAX_EVENTS) -> None:
        self._producer = producer
        self._max_events = max_events
        self._waiting: defaultdict[tuple[str, int], deque[tuple[Events, asyncio.Future[None]]]] = \
            defaultdict(deque)
        self._sending: dict[tuple[str, int], asyncio.Task[None]] = {}
        self.messages = 0  # envelopes sent, for tests and the bench: events per message

    async def send(self, topic: str, events: Events) -> None:
        """Return once Kafka holds every event (any users'); raise what the broker raised if not."""
        # asked every time (the producer's metadata, refreshed by it): partitions added to a topic
        # move keys, and an erasure keyed by its user must land where their events did
        partitions = len(await self._producer.partitions_for(topic))
        parts = partition_of(np.fromiter((e["user_id"] for e in events), np.int64, len(events)), partitions)
        own: defaultdict[int, Events] = defaultdict(list)
        for event, part in zip(events, parts.tolist(), strict=True):
            own[part].append(event)
        loop = asyncio.get_running_loop()
        futures = []
        for part, mine in own.items():
            future: asyncio.Future[None] = loop.create_future()
            self._waiting[(topic, part)].append((mine, future))
            futures.append(future)
            if (topic, part) not in self._sending:
                self._sending[(topic, part)] = asyncio.create_task(self._drain(topic, part))
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        if failed:
            raise failed[0]

    async def _drain(self, topic: str, part: int) -> None:
        """Send what waits for this partition, one envelope at a time, until nothing does."""
        waiting = self._waiting[(topic, part)]
        try:
            while waiting:
                taken = [waiting.popleft()]
                size = len(taken[0][0])
                while waiting and size + len(waiting[0][0]) <= self._max_events:
                    size += len(waiting[0][0])
                    taken.append(waiting.popleft())
                try:
                    delivery = await self._producer.send(
                        topic, encode_events([e for events, _ in taken for e in events]), partition=part)
                    await delivery
                    self.messages += 1
                except Exception as exc:  # every request in this envelope learns it failed
                    for _, future in taken:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for _, future in taken:
                        if not future.done():
                            future.set_result(None)
        finally:
            del self._sending[(topic, part)]

"""``take_events`` whose batch grows while Kafka holds a backlog and closes as soon as it does not.

faust's ``Stream.take_events(max_, within)`` waits ``within`` after each batch whatever the load:
a short window keeps a lone rating fresh but, under a backlog, makes many small batches whose
fixed costs (a Redis round trip, the numpy set-up) cap throughput; a long one does the
reverse. Here a batch closes ``idle_window`` after its last message unless the consumer's high
water shows at least ``busy_messages`` more messages on the partitions the stream reads (a
backlog: they are already on their way), in which case it keeps filling, for at most
``busy_window`` or ``max_`` messages. The batch follows the backlog itself, read from Kafka
with no clock shared between machines, so a rating arriving after a busy batch does not wait out
a window sized for that batch. The threshold is several messages, not one: under steady load a
newer message is nearly always in flight from the consumer thread.

The body follows faust 0.15's own ``take_events`` (the same stream hooks: a passive processor
fills the buffer, events are acked only after the agent has handled the batch) with the fixed
timeout made a variable; ``tests/integration/test_streaming.py`` covers it end to end, kill -9
included, and faust-streaming is pinned.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from mode.utils.futures import notify

from core.settings import Settings


def backlog(consumer: Any, last_offsets: Mapping[Any, int]) -> int:
    """Messages Kafka holds past the last offset read, over the assigned partitions read so far.

    >>> class Consumer:
    ...     def assignment(self): return {"p0", "p1"}
    ...     def highwater(self, tp): return {"p0": 10, "p1": 5}[tp]
    >>> backlog(Consumer(), {"p0": 9, "p1": 4}), backlog(Consumer(), {"p0": 6, "p1": 2}), backlog(Consumer(), {"p2": 0})
    (0, 5, 0)
    """
    assigned = consumer.assignment()
    total = 0
    for tp, offset in last_offsets.items():
        if tp in assigned:
            highwater = consumer.highwater(tp)  # the next offset to be written; None before a fetch
            if highwater is not None:
                total += max(highwater - offset - 1, 0)
    return total


async def take_adaptive(stream: Any, max_: int, idle_window: float, busy_window: float,
                        busy_messages: int, quiet_window: float = 0.0) -> AsyncIterator[Sequence[Any]]:
    """``quiet_window``: a batch that never saw a backlog is held this long from its first message,
    so a trickle is coalesced (the side models' row rewrites); one that saw a backlog closes once
    the backlog is read, so a burst is not made to wait out that window as well."""
    buffer: list[Any] = []
    events: list[Any] = []
    last_offsets: dict[Any, int] = {}
    buffer_started = asyncio.Event()  # the buffer holds a message: until then, no window runs
    buffer_full = asyncio.Event()
    buffer_consumed = asyncio.Event()
    consuming: asyncio.Future[Any] | None = None
    loop = asyncio.get_running_loop()
    first_at = 0.0
    behind = False  # this batch has seen a backlog
    consumer = stream.app.consumer
    enable_acks = stream.enable_acks

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming, first_at, behind
        if consuming is not None:
            try:
                await consuming  # the agent is handling the previous batch: do not grow it meanwhile
            finally:
                consuming = None
        event = stream.current_event
        if event is None:
            raise RuntimeError("take buffer found current_event is None")
        if not buffer:
            first_at = loop.time()
            buffer_started.set()
        buffer.append(value)
        events.append(event)
        last_offsets[event.message.tp] = event.message.offset
        if quiet_window and not behind:  # seen as it arrives: the buffer may hold all of a burst by the next look
            behind = backlog(consumer, last_offsets) >= busy_messages
        if len(buffer) >= max_:
            buffer_full.set()
            buffer_consumed.clear()
            await stream.wait(buffer_consumed)
        return value

    stream.enable_acks = False  # acked below, after the agent has handled the batch
    stream.add_processor(add_to_buffer)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            if not buffer:
                # A timed wait here would poll 2,000 times a second while the stream is idle: each
                # round creates tasks, and that polling was a fifth of the worker's main thread.
                await stream.wait_for_stopped(buffer_started)
            await stream.wait_for_stopped(buffer_full, timeout=idle_window)
            if not buffer:
                continue
            if not buffer_full.is_set():
                age, waiting = loop.time() - first_at, backlog(consumer, last_offsets)
                if age < busy_window and waiting >= busy_messages:
                    continue  # more is on its way: a bigger batch costs less per event
                if age < quiet_window and not behind:
                    continue  # a trickle: hold it for company
            behind = False
            consuming = loop.create_future()
            try:
                yield list(events)
            finally:
                buffer.clear()
                buffer_started.clear()  # before ``consuming`` lets the processor add again
                for event in events:
                    await stream.ack(event)
                events.clear()
                notify(consuming)
                buffer_full.clear()
                buffer_consumed.set()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)


def learning_batches(stream: Any, settings: Settings) -> AsyncIterator[Sequence[Any]]:
    """``take_adaptive`` with the learning agents' settings (``CINESTREAM_BATCH_*``)."""
    return take_adaptive(stream, settings.batch_max_messages, settings.batch_window_ms / 1000,
                         settings.batch_busy_window_ms / 1000, settings.batch_busy_messages)


def side_batches(stream: Any, settings: Settings, window_ms: float) -> AsyncIterator[Sequence[Any]]:
    """Batches of the side models (trending, similarity, recent): a trickle coalesced over ``window_ms`` (fewer
    rewrites of the same rows), a backlog taken as fast as it is read. faust's ``take_events`` held
    every batch for its whole window, so a replay of 100,836 ratings waited out the similarity
    agent's 5 s at its end, whatever the agent's own speed."""
    window = window_ms / 1000
    return take_adaptive(stream, settings.batch_max_messages, min(window / 10, 0.05), window,
                         settings.batch_busy_messages, quiet_window=window)

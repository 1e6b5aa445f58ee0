"""``take_events`` with a batch window that follows the load: short when idle, long under backlog.

faust's ``Stream.take_events(max_, within)`` waits ``within`` after each batch whatever the load:
a short window keeps a lone rating fresh but, under a backlog, makes many small batches whose
fixed costs (two Redis round trips, the numpy set-up) cap throughput; a long one does the
reverse. Here the window after a batch depends on that batch: one that came back with at least
``busy_messages`` messages means a backlog, so the next window is ``busy_window`` (big batches,
throughput); otherwise ``idle_window`` (a new event waits at most that long).

The body follows faust 0.15's own ``take_events`` (the same stream hooks: a passive processor
fills the buffer, events are acked only after the agent has handled the batch) with the fixed
timeout made a variable; ``tests/integration/test_streaming.py`` covers it end to end, kill -9
included, and faust-streaming is pinned.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from mode.utils.futures import notify

from cinestream.settings import Settings


async def take_adaptive(stream: Any, max_: int, idle_window: float, busy_window: float,
                        busy_messages: int) -> AsyncIterator[Sequence[Any]]:
    buffer: list[Any] = []
    events: list[Any] = []
    buffer_full = asyncio.Event()
    buffer_consumed = asyncio.Event()
    consuming: asyncio.Future[Any] | None = None
    window = idle_window
    enable_acks = stream.enable_acks

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming
        if consuming is not None:
            try:
                await consuming  # the agent is handling the previous batch: do not grow it meanwhile
            finally:
                consuming = None
        buffer.append(value)
        event = stream.current_event
        if event is None:
            raise RuntimeError("take buffer found current_event is None")
        events.append(event)
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
            await stream.wait_for_stopped(buffer_full, timeout=window)
            if not buffer:
                window = idle_window
                continue
            consuming = asyncio.get_running_loop().create_future()
            try:
                yield list(events)
            finally:
                window = busy_window if len(buffer) >= busy_messages else idle_window
                buffer.clear()
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

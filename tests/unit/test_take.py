"""``take_adaptive``'s windows, on a stand-in for faust's stream (the hooks it uses, nothing else):
a lone rating is not held for a busy window, a backlog fills a batch, a trickle is held for company,
and events are acked only once the agent has handled their batch."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from streams.take import take_adaptive

TP = "ratings-0"


class _Consumer:
    def __init__(self) -> None:
        self.highwater_at = 0

    def assignment(self) -> set[str]:
        return {TP}

    def highwater(self, tp: str) -> int:
        return self.highwater_at


class _Stream:
    """What ``take_adaptive`` touches of ``faust.Stream``: processors run on each message in turn."""

    def __init__(self) -> None:
        self.app = SimpleNamespace(consumer=_Consumer())
        self.enable_acks = True
        self.current_event: Any = None
        self._processors: list[Any] = []
        self.should_stop = False
        self.acked: list[int] = []
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        self.channel = self

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> int:
        return await self.queue.get()

    def add_processor(self, processor: Any) -> None:
        self._processors.append(processor)

    def _enable_passive(self, channel: Any) -> None:
        async def run() -> None:
            async for offset in channel:
                self.current_event = SimpleNamespace(message=SimpleNamespace(tp=TP, offset=offset))
                for processor in self._processors:
                    await processor(offset)
        self._task = asyncio.get_running_loop().create_task(run())

    async def wait_for_stopped(self, event: asyncio.Event, timeout: float | None = None) -> None:  # noqa: ASYNC109 faust's
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def wait(self, event: asyncio.Event) -> None:
        await event.wait()

    async def ack(self, event: Any) -> None:
        self.acked.append(event.message.offset)


async def _batches(stream: _Stream, count: int, **windows: float) -> list[tuple[list[int], float, list[int]]]:
    """The first ``count`` batches: their offsets, when each closed, and what was acked before the agent
    handled it."""
    loop = asyncio.get_running_loop()
    start, out = loop.time(), []
    batches = take_adaptive(stream, **windows)  # type: ignore[arg-type]
    async for events in batches:
        out.append(([e.message.offset for e in events], loop.time() - start, list(stream.acked)))
        if len(out) == count:
            break
    await batches.aclose()
    stream._task.cancel()
    return out


def _put(stream: _Stream, offsets: Sequence[int]) -> None:
    for offset in offsets:
        stream.queue.put_nowait(offset)


async def test_a_lone_message_closes_after_the_idle_window_not_the_busy_one() -> None:
    stream = _Stream()
    stream.app.consumer.highwater_at = 1  # nothing behind it
    _put(stream, [0])
    [(offsets, closed, acked_before)] = await _batches(stream, 1, max_=100, idle_window=0.02, busy_window=2.0,
                                                       busy_messages=5)
    assert offsets == [0] and closed < 0.5
    assert acked_before == [] and stream.acked == [0]  # acked after the agent had it, not before


async def test_a_backlog_keeps_the_batch_filling_until_it_is_read() -> None:
    stream = _Stream()
    stream.app.consumer.highwater_at = 1000  # Kafka holds much more than has arrived

    async def arrive() -> None:
        for first in range(0, 60, 10):
            _put(stream, range(first, first + 10))
            await asyncio.sleep(0.03)  # longer than the idle window: only the backlog holds the batch open
        stream.app.consumer.highwater_at = 60  # all read

    feeding = asyncio.ensure_future(arrive())
    [(offsets, _, _)] = await _batches(stream, 1, max_=1000, idle_window=0.01, busy_window=5.0, busy_messages=5)
    await feeding
    assert offsets == list(range(60))


async def test_a_full_batch_closes_at_max_and_the_rest_waits_for_the_next() -> None:
    stream = _Stream()
    stream.app.consumer.highwater_at = 1000
    _put(stream, range(25))
    batches = await _batches(stream, 2, max_=20, idle_window=0.01, busy_window=0.2, busy_messages=5)
    assert [b[0] for b in batches] == [list(range(20)), list(range(20, 25))]
    assert batches[1][2] == list(range(20))  # the first batch acked before the second was handed over


async def test_a_trickle_is_held_for_the_quiet_window() -> None:
    stream = _Stream()
    stream.app.consumer.highwater_at = 0

    async def trickle() -> None:
        for offset in range(3):
            stream.app.consumer.highwater_at = offset + 1
            _put(stream, [offset])
            await asyncio.sleep(0.05)

    feeding = asyncio.ensure_future(trickle())
    [(offsets, closed, _)] = await _batches(stream, 1, max_=100, idle_window=0.01, busy_window=0.3,
                                            busy_messages=5, quiet_window=0.3)
    await feeding
    assert offsets == [0, 1, 2] and closed >= 0.3

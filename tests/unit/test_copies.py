"""storage.copies: a key is read once, then served from its copy while a background read refreshes it."""

from __future__ import annotations

import asyncio

from storage.copies import Copies


class Source:
    def __init__(self) -> None:
        self.value, self.reads, self.fail = 1, 0, False

    async def fetch(self, keys: list[str]) -> list[int]:
        self.reads += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise ConnectionError("Redis is restarting")
        return [self.value] * len(keys)


async def test_a_young_copy_is_served_without_reading() -> None:
    source = Source()
    copies = Copies(source.fetch, max_age_s=60.0)
    assert await copies.get(["a", "b"]) == [1, 1] and source.reads == 1
    source.value = 2
    assert await copies.get(["a", "b", "a"]) == [1, 1, 1] and source.reads == 1


async def test_an_old_copy_is_answered_at_once_and_refreshed_behind_it() -> None:
    source = Source()
    copies = Copies(source.fetch, max_age_s=0.05)
    await copies.get(["a"])
    source.value = 2
    await asyncio.sleep(0.06)
    assert await copies.get(["a"]) == [1]  # the old copy, without waiting for the read
    await asyncio.sleep(0.03)
    assert await copies.get(["a"]) == [2] and source.reads == 2


async def test_a_failed_refresh_keeps_the_copy_and_the_next_request_tries_again() -> None:
    source = Source()
    copies = Copies(source.fetch, max_age_s=0.02)
    await copies.get(["a"])
    source.fail, source.value = True, 2
    await asyncio.sleep(0.03)
    assert await copies.get(["a"]) == [1]
    await asyncio.sleep(0.03)
    source.fail = False
    assert await copies.get(["a"]) == [1]  # still the copy; this request started a new read
    await asyncio.sleep(0.03)
    assert await copies.get(["a"]) == [2] and source.reads == 3


async def test_without_an_age_every_call_reads() -> None:
    source = Source()
    copies = Copies(source.fetch, max_age_s=0.0)
    await copies.get(["a"])
    await copies.get(["a"])
    assert source.reads == 2 and await copies.get([]) == [] and source.reads == 2


async def test_past_the_cap_the_copies_are_dropped() -> None:
    source = Source()
    copies = Copies(source.fetch, max_age_s=60.0, cap=2)
    await copies.get(["a", "b"])
    await copies.get(["c"])  # three keys: the copies start again from this read
    source.value = 2
    assert await copies.get(["a"]) == [2]

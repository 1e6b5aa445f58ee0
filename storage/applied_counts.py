"""How many events each stream agent has applied, kept by the agents themselves.

A consumer group's committed offsets arrive every 2.8 s (faust's commit interval), so they cannot
time a role that finishes a release in a few seconds, nor say whether an accepted event was applied
by every role. Each agent adds the events of a batch once that batch is stored; a batch redelivered
after a crash between the two is counted again, so a count is at least the events applied.

Redis: one hash, ``{stats}:applied-events``, a field per agent: fixed size whatever the dataset.
"""

from __future__ import annotations

from typing import Any

from storage.redis_store import text

KEY = "{stats}:applied-events"


async def add(redis: Any, agent: str, events: int) -> None:
    """Count ``events`` more applied by ``agent`` (one command)."""
    if events:
        await redis.hincrby(KEY, agent, events)


def read_sync(redis: Any) -> dict[str, int]:
    """Every agent's count so far, from a synchronous client (benches, tests)."""
    return {text(name): int(count) for name, count in redis.hgetall(KEY).items()}


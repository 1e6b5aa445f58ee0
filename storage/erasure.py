"""Forget a person in Redis: every key that holds their id (the item side keeps only aggregates).

What stays is what no longer identifies them: movie factors their ratings nudged, co-occurrence
counts between movies, trending scores and the model's global statistics.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from storage import experiment_store, live_model_store, model_keys, published_store, recent_history, similarity_store


def user_keys(user_id: int) -> list[str]:
    return [model_keys.user_key(user_id), model_keys.seen_key(user_id), model_keys.seen_version_key(user_id),
            model_keys.history_key(user_id),
            recent_history.history_key(user_id), similarity_store.recent_key(user_id),
            published_store.recs_key(user_id), live_model_store.genres_key(user_id), experiment_store.open_key(user_id)]


async def forget_users(redis: aioredis.Redis, users: Sequence[int]) -> int:
    """Delete these people's keys in one round trip; returns how many existed."""
    if not users:
        return 0
    return int(await redis.delete(*(key for user in users for key in user_keys(user))))

"""The stream-maintained models the API reads, built once per process over one Redis client."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from online_models.mf_spec import MF
from storage.experiment_store import RunningCopy
from storage.item_factors import ItemFactors
from storage.live_model_store import KeptVersions, LiveModelCopy
from storage.model_store import ModelStore
from storage.rating_watch import RatingWatch
from storage.similarity_store import SimilarityStore
from storage.trending_store import TrendingStore

COPIES_S = 1.0  # how old the co-occurrence rows and the trending list a request reads may be


@dataclass(frozen=True)
class Models:
    mf: ModelStore
    similarity: SimilarityStore
    trending: TrendingStore
    items: ItemFactors  # the MF's item rows in this process, for recommendations
    watch: RatingWatch  # wakes the live pages of people whose ratings were learned
    live: LiveModelCopy  # the published live ranker, which every list is ranked by once it exists
    kept: KeptVersions  # kept versions of it that an experiment serves as variants
    experiments: RunningCopy  # the running experiments, which decide who gets which list

    @classmethod
    def over(cls, redis: aioredis.Redis) -> Models:
        similarity = SimilarityStore(redis, read_cache_s=COPIES_S)
        trending = TrendingStore(redis, read_cache_s=COPIES_S)
        return cls(ModelStore(redis, MF.width), similarity, trending,
                   ItemFactors(redis, MF.width), RatingWatch(redis), LiveModelCopy(redis), KeptVersions(redis),
                   RunningCopy(redis))

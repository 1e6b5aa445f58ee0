"""A local Redis Cluster of three masters (deploy/local/redis_cluster.py): every slot served, keys
spread over the masters, a hash tag keeping a group of keys in one slot (the rule a multi-key script
must follow there), and the online MF's shards (storage/model_keys.py) learned on it exactly as on
one Redis."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from core.settings import Settings
from deploy.local import redis_cluster
from online_models.biased_mf import BiasedMF
from online_models.cooccurrence import CoOccurrence
from online_models.trending import Trending
from storage import erasure, model_versions, recent_history
from storage.model_keys import STATS, user_key
from storage.similarity_store import SimilarityStore
from storage.trending_store import TrendingStore
from streams.mf_learning import ExactlyOnceMF, RatingBatch
from streams.side_learning import learn_similarity, learn_trending
from tests.integration.people import PASSWORD, api_settings, register, running

pytestmark = pytest.mark.integration
REDIS_DB = 12
STAR_WARS = 260


@pytest.fixture(scope="module")
def masters(cluster_nodes: list[redis_cluster.RedisClusterNode]) -> list[redis_cluster.RedisClusterNode]:
    redis_cluster.form(cluster_nodes)  # formed already: nothing to do
    return cluster_nodes


def test_three_masters_serve_every_slot_and_spread_keys(masters: list[redis_cluster.RedisClusterNode]) -> None:
    for member in masters:
        info = redis_cluster.cluster_info(member)
        assert info["cluster_state"] == "ok" and info["cluster_known_nodes"] == "3"
        assert info["cluster_slots_assigned"] == str(redis_cluster.SLOTS)
    client = RedisCluster(host="127.0.0.1", port=masters[0].port)
    try:
        users = range(1, 301)
        client.mset_nonatomic({f"mf:u:{u}": b"row" for u in users})
        owners = {client.get_node_from_key(f"mf:u:{u}").port for u in users}
        assert owners == {m.port for m in masters}, "300 users' rows not spread over the three masters"
        # one partition's keys under one hash tag: one slot, so one script may touch them all
        tagged = [f"mf:{{p3}}:u:{u}" for u in users]
        assert len({client.keyslot(k) for k in tagged}) == 1
        assert client.eval("for i, k in ipairs(KEYS) do redis.call('SET', k, i) end return #KEYS",
                           len(tagged), *tagged) == len(tagged)
        assert client.get(tagged[-1]) == b"300"
    finally:
        client.close()


async def model_state(client: aioredis.Redis) -> dict[bytes, object]:
    """Every model key and its value (the learning curve and change log aside: per batch)."""
    state: dict[bytes, object] = {}
    async for key in client.scan_iter(match="*mf*"):
        if key.startswith((b"{mf}:curve", b"{mf}:item-", b"mf:seen-v:", b"mf:snap:", b"mf:version", b"mf:current")):
            continue
        kind = await client.type(key)
        state[key] = (await client.get(key) if kind == b"string" else await client.hgetall(key) if kind == b"hash"
                      else await client.smembers(key))
    return state


async def test_the_model_learned_on_the_cluster_is_the_model_learned_on_one_redis(
        masters: list[redis_cluster.RedisClusterNode], redis_db: aioredis.Redis, data_dir: Path) -> None:
    """The same batches on three masters and on one Redis leave the same keys and bytes; the shards
    spread over the masters; a batch delivered again is skipped on the cluster too."""
    df = pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv").sort_values("timestamp", kind="stable")[:8000]
    users, movies = df["userId"].to_numpy(), df["movieId"].to_numpy()
    partitions = users % 4
    offsets = pd.Series(partitions).groupby(partitions).cumcount().to_numpy()
    run = [RatingBatch("ratings", partitions[s:s + 1000], offsets[s:s + 1000], users[s:s + 1000],
                       movies[s:s + 1000], df["rating"].to_numpy(np.float32)[s:s + 1000]) for s in range(0, 8000, 1000)]
    cluster = AsyncRedisCluster(host="127.0.0.1", port=masters[0].port)
    try:
        await cluster.flushdb()
        on_cluster, on_one = (ExactlyOnceMF.over(client, BiasedMF(n_factors=8, seed=0))
                              for client in (cluster, redis_db))
        for batch in run:
            await on_cluster.apply(batch)
            await on_one.apply(batch)
        replay = await on_cluster.apply(run[3])
        assert (replay.applied, replay.skipped) == (0, 1000)
        assert float((await cluster.hgetall(STATS))[b"n"]) == 8000
        state = await model_state(cluster)
        assert state == await model_state(redis_db)
        owners = {cluster.get_node_from_key(user_key(int(u))).port for u in np.unique(users)}
        assert owners == {m.port for m in masters}, "the user shards are not spread over the three masters"
        # a version kept and rolled back to, across the masters
        version = await model_versions.snapshot(cluster, "8,000 ratings")
        await on_cluster.apply(dataclasses.replace(run[0], offsets=run[0].offsets + 10_000))
        assert await model_state(cluster) != state
        await model_versions.rollback(cluster, version)
        rows = {k: v for k, v in (await model_state(cluster)).items() if k.startswith((b"mf:u:", b"mf:i:"))}
        assert rows == {k: v for k, v in state.items() if k.startswith((b"mf:u:", b"mf:i:"))}
    finally:
        await cluster.flushdb()
        await cluster.aclose()


async def test_the_side_models_and_erasure_work_on_the_cluster_as_on_one_redis(
        masters: list[redis_cluster.RedisClusterNode], redis_db: aioredis.Redis, data_dir: Path) -> None:
    """Similarity rows and counts (a compare-and-set script a shard), trending (a transaction over
    two tagged keys), recent histories and a person's erasure, on three masters and on one Redis."""
    df = pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv").sort_values("timestamp", kind="stable")[:6000]
    model = CoOccurrence(history=20)
    cluster = AsyncRedisCluster(host="127.0.0.1", port=masters[0].port)
    try:
        await cluster.flushdb()
        answers = []
        for client in (cluster, redis_db):
            similarity, trending = SimilarityStore(client), TrendingStore(client)
            for start in range(0, len(df), 1000):
                part = df.iloc[start:start + 1000]
                users, movies = part["userId"].to_numpy(), part["movieId"].to_numpy()
                await learn_similarity(similarity, model, users, movies, model.rating_weight(part["rating"].to_numpy()))
                await learn_trending(trending, Trending(), movies, np.ones(len(part)),
                                     part["timestamp"].to_numpy(np.float64), now=2e9)
                await recent_history.add(client, part.rename(columns={"userId": "user_id", "movieId": "movie_id"})
                                         .assign(type="rating").to_dict("records"))
            user = int(df["userId"].iloc[0])
            anchors = await similarity.best_anchor([1196, 1210], [260, 1])
            answers.append((await similarity.similar(260), anchors, await trending.top(10),
                            await recent_history.latest(client, user, 5)))
            assert await erasure.forget_users(client, [user]) >= 2
            assert not await client.exists(*erasure.user_keys(user))
        on_cluster, on_one = answers
        assert on_cluster == on_one and on_cluster[0] and on_cluster[2]
    finally:
        await cluster.flushdb()
        await cluster.aclose()


async def test_the_api_serves_people_from_the_cluster(masters: list[redis_cluster.RedisClusterNode], stack: Settings,
                                                      built_catalogue: str, data_dir: Path) -> None:
    """The API over three masters: sign-up (rate limits: a transaction over two tagged keys), a
    person's recommendations and their reasons from the model and similarity learned on the
    cluster, their rating of a film, and the account's deletion wiping their keys on every master."""
    df = pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv").sort_values("timestamp", kind="stable")[:20000]
    cluster = AsyncRedisCluster(host="127.0.0.1", port=masters[0].port)
    await cluster.flushdb()
    try:
        own = api_settings(stack, 0).model_copy(update={"redis_url": redis_cluster.url(masters), "redis_cluster": True})
        async with running(own) as http:
            ada = await register(http)
            mine = pd.DataFrame({"userId": ada.user_id, "movieId": [STAR_WARS, 1, 296], "rating": [5.0, 4.0, 4.5],
                                 "timestamp": df["timestamp"].max() + np.arange(3)})
            everything = pd.concat([df, mine], ignore_index=True)
            users, movies = everything["userId"].to_numpy(), everything["movieId"].to_numpy()
            stars = everything["rating"].to_numpy(np.float32)
            await ExactlyOnceMF.over(cluster, BiasedMF(n_factors=32, seed=0)).apply(
                RatingBatch("ratings", users % 4, np.arange(len(users)), users, movies, stars))
            model = CoOccurrence()
            await learn_similarity(SimilarityStore(cluster), model, users, movies, model.rating_weight(stars))
            answer = await http.get("/api/me/recommendations", headers=ada.auth)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["model"] == "online biased MF" and len(body["items"]) == 10
            assert not {m["movieId"] for m in body["items"]} & {STAR_WARS, 1, 296}
            assert any(m["reason"].startswith("because you rated") for m in body["items"]), body["items"]
            assert (await http.get(f"/api/me/movies/{STAR_WARS}", headers=ada.auth)).json()["rating"] == 5.0
            gone = await http.request("DELETE", "/api/me", json={"password": PASSWORD}, headers=ada.auth)
            assert gone.status_code == 204, gone.text
            assert not await cluster.exists(*erasure.user_keys(ada.user_id))
    finally:
        await cluster.flushdb()
        await cluster.aclose()

"""The online model in the real Redis: exactly-once effect of micro-batches replayed after a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis.asyncio as aioredis

from online_models.biased_mf import BiasedMF
from online_models.residual_knn import ResidualKNN
from storage import model_store
from storage.item_factors import ItemFactors
from storage.model_keys import COMMIT_APPLIED, ITEM_SETS, STATS, history_key, item_key, user_key
from storage.model_store import RedisBehind
from storage.redis_store import run_scripts
from streams.mf_learning import ExactlyOnceMF, RatingBatch

pytestmark = pytest.mark.integration
REDIS_DB = 15


@pytest.fixture(scope="module")
def ratings(data_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv").sort_values("timestamp", kind="stable")
    return df.iloc[:6000].reset_index(drop=True)


def batches(df: pd.DataFrame, size: int) -> list[RatingBatch]:
    partitions = (df["userId"].to_numpy() % 4).astype(np.int64)
    offsets = df.groupby(partitions).cumcount().to_numpy().astype(np.int64)
    out = []
    for start in range(0, len(df), size):
        sl = slice(start, start + size)
        out.append(RatingBatch("ratings", partitions[sl], offsets[sl], df["userId"].to_numpy()[sl],
                               df["movieId"].to_numpy()[sl], df["rating"].to_numpy(np.float32)[sl]))
    return out


def online(redis: aioredis.Redis, model: BiasedMF | None = None, correction: ResidualKNN | None = None
           ) -> ExactlyOnceMF:
    """What a learning worker runs: the batch loop over its own store and cache."""
    return ExactlyOnceMF.over(redis, model or BiasedMF(n_factors=8, seed=0), correction)


async def snapshot(client: aioredis.Redis) -> dict[bytes, bytes | dict[bytes, bytes] | set[bytes]]:
    state: dict[bytes, bytes | dict[bytes, bytes] | set[bytes]] = {}
    for key in sorted(await client.keys("*mf*")):
        # one entry per batch, or numbered by batch: they depend on how the events were batched
        if key.startswith((b"{mf}:curve", b"{mf}:item-", b"mf:seen-v:")):
            continue
        kind = await client.type(key)
        if kind == b"string":
            state[key] = await client.get(key)
        elif kind == b"hash":  # the squared errors' sums are float32 sums per batch: rounded by batching
            state[key] = {k: v for k, v in (await client.hgetall(key)).items() if k not in (b"sse", b"sae")}
        else:
            state[key] = await client.smembers(key)
    return state


async def test_replayed_batches_after_a_crash_leave_the_same_state(redis_db: aioredis.Redis,
                                                                   ratings: pd.DataFrame) -> None:
    run = batches(ratings, 500)

    store = online(redis_db)
    for batch in run:
        await store.apply(batch)
    undisturbed = await snapshot(redis_db)
    await redis_db.flushdb()

    # The same events, but a worker "dies" after batch 5 before Kafka's offset commit: on restart
    # it replays batches 4-5 (already applied) and then a batch that straddles the applied mark.
    store = online(redis_db)
    for batch in run[:6]:
        await store.apply(batch)
    replay = await store.apply(run[4])
    assert replay.applied == 0 and replay.skipped == len(run[4].users)
    # a batch mixing replayed events of some partitions with fresh ones must not move the
    # replayed partitions' applied offsets backwards
    mixed = RatingBatch("ratings", *(np.concatenate([getattr(run[5], f), getattr(run[6], f)])
                                     for f in ("partitions", "offsets", "users", "movies", "ratings")))
    result = await store.apply(mixed)
    assert result.skipped == len(run[5].users) and result.applied == len(run[6].users)
    await store.apply(run[5])
    for batch in run[6:]:
        assert (await store.apply(batch)).applied == (0 if batch is run[6] else len(batch.users))
    assert await snapshot(redis_db) == undisturbed


async def test_recommendations_exclude_what_the_user_rated(redis_db: aioredis.Redis, ratings: pd.DataFrame) -> None:
    store = online(redis_db)
    for batch in batches(ratings, 1000):
        await store.apply(batch)
    user = int(ratings["userId"].iloc[0])
    rated = set(ratings.loc[ratings["userId"] == user, "movieId"])
    served = ItemFactors(redis_db, store.model.width)
    recs, seen, _ = await served.recommend(user, k=20)
    assert len(recs) == 20 and not rated & {m for m, _ in recs} and set(seen) == rated
    assert [s for _, s in recs] == sorted((s for _, s in recs), reverse=True)
    assert (await served.recommend(10**9, k=20))[0] == []
    preq = await store.store.prequential()
    assert preq["n"] == len(ratings) and 0.5 < preq["rmse"] < 1.5
    curve = await store.store.learning_curve()
    assert [p["n"] for p in curve] == list(range(1000, len(ratings) + 1, 1000))
    assert all(0 < p["mae"] <= p["rmse"] for p in curve)


async def test_the_largest_ids_the_api_takes_keep_their_own_keys_and_fields(redis_db: aioredis.Redis) -> None:
    """Lua reads ids as doubles and concatenates them with 15 digits: a person's id of 10^15 became the
    key ``…:1e+15`` and a film id past 2^53 a field of ``9.22e+18`` that broke every list of its rater."""
    from contracts.events import MAX_MOVIE_ID, MAX_USER_ID
    from storage.model_keys import seen_key

    store = online(redis_db)
    users = np.array([MAX_USER_ID, 10**15, 10**15 + 1], dtype=np.int64)
    movies = np.array([MAX_MOVIE_ID, 1, MAX_MOVIE_ID - 1], dtype=np.int64)
    await store.apply(RatingBatch("ratings", np.zeros(3, np.int64), np.arange(3, dtype=np.int64), users, movies,
                                  np.array([4.0, 3.5, 5.0], np.float32)))
    for user, movie in zip(users.tolist(), movies.tolist(), strict=True):
        assert await redis_db.hkeys(seen_key(user)) == [str(movie).encode()], user
        assert await redis_db.get(user_key(user)) is not None, user
    assert not await redis_db.keys("*e+*")
    served = ItemFactors(redis_db, store.model.width)
    assert set((await served.recommend(MAX_USER_ID, k=5))[1]) == {MAX_MOVIE_ID}


async def test_two_workers_writing_the_same_movies_lose_no_update(redis_db: aioredis.Redis,
                                                                  ratings: pd.DataFrame) -> None:
    """Two stores (as two workers would) apply batches of different partitions that rate the same
    movies; the second writes between the first one's read and write. The first one's writes to the
    shards the second changed must be refused and recomputed from the second's rows, so no row keeps
    only one batch's update, and every event counts once. (Shards the second left alone take the
    first's rows at once: across shards the result is not that of one serial order, see
    ``storage.model_store``.)"""
    run = batches(ratings, 3000)
    first = RatingBatch("ratings", *(getattr(run[0], f) for f in ("partitions", "offsets", "users", "movies",
                                                                    "ratings")))
    second = RatingBatch("other-topic", *(getattr(run[1], f) for f in ("partitions", "offsets", "users",
                                                                        "movies", "ratings")))
    assert set(first.movies) & set(second.movies)

    async def serial(order: list[RatingBatch]) -> dict[bytes, bytes | dict[bytes, bytes] | set[bytes]]:
        await redis_db.flushdb()
        store = online(redis_db)
        for batch in order:
            await store.apply(batch)
        return await snapshot(redis_db)

    first_alone, second_alone = await serial([first]), await serial([second])
    two_then_one = await serial([second, first])
    await redis_db.flushdb()
    a, b = online(redis_db), online(redis_db)
    write, b_done = a.store.write, []

    async def b_gets_in_first(*args: Any, **kwargs: Any) -> Any:
        if not b_done:
            b_done.append(await b.apply(second))  # between a's read and a's write
        return await write(*args, **kwargs)

    a.store.write = b_gets_in_first  # type: ignore[method-assign]
    await a.apply(first)
    concurrent = await snapshot(redis_db)
    assert (a.conflicts, b.conflicts) == (1, 0)  # a's stale write was refused, and a recomputed
    assert a.tracker.detector.width == 1  # its drift detector saw the batch once, not once per attempt
    shared = [item_key(m).encode() for m in set(first.movies.tolist()) & set(second.movies.tolist())]
    # a lost update would leave a shared film with one batch's row: the first's, written over the second's
    assert all(concurrent[k] != first_alone[k] and concurrent[k] != second_alone[k] for k in shared)
    stats, serial_stats = concurrent[STATS.encode()], two_then_one[STATS.encode()]
    assert isinstance(stats, dict) and stats == serial_stats  # every rating counted once: n and sum
    seen = {k: v for k, v in concurrent.items() if k.startswith((b"mf:seen:", b"mf:applied:", b"{mf}:applied"))}
    assert seen == {k: v for k, v in two_then_one.items() if k in seen} and len(seen) == sum(
        k.startswith((b"mf:seen:", b"mf:applied:", b"{mf}:applied")) for k in two_then_one)


async def test_a_batch_larger_than_luas_unpack_limit_is_applied(redis_db: aioredis.Redis, data_dir: Path) -> None:
    """Lua's ``unpack`` takes a few thousand values: the scripts slice their MGET/MSET calls."""
    everything = pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv")
    (big,) = batches(everything, len(everything))  # every rating at once: 9,724 movies
    assert len(np.unique(big.movies)) > 8000
    result = await online(redis_db).apply(big)
    assert result.applied == len(everything)
    assert sum([await redis_db.scard(key) for key in ITEM_SETS]) == len(np.unique(big.movies))


async def test_watches_move_the_factors_once_and_leave_stars_and_stats_alone(redis_db: aioredis.Redis,
                                                                          ratings: pd.DataFrame) -> None:
    store = online(redis_db)
    rated = batches(ratings, 3000)[0]
    await store.apply(rated)
    before = await snapshot(redis_db)
    watches = RatingBatch("watches", rated.partitions, rated.offsets, rated.users, rated.movies,
                          np.where(rated.ratings >= 4, 1.0, 0.1).astype(np.float32), watches=True)
    assert (await store.apply(watches)).applied == len(rated.users)
    after = await snapshot(redis_db)
    changed = {k for k in after if after[k] != before.get(k)}
    assert any(k.startswith(b"mf:u:") for k in changed) and any(k.startswith(b"mf:i:") for k in changed)
    assert not any(k.startswith((b"mf:seen:", STATS.encode())) for k in changed)
    commits = after[COMMIT_APPLIED.encode()]
    assert isinstance(commits, dict)
    assert {k for k in commits if k.startswith(b"watches:")} == {f"watches:{p}".encode()
                                                                 for p in np.unique(rated.partitions)}
    user = int(rated.users[0])
    row = np.frombuffer(after[user_key(user).encode()], dtype=np.float32)  # type: ignore[arg-type]
    old = np.frombuffer(before[user_key(user).encode()], dtype=np.float32)  # type: ignore[arg-type]
    assert np.array_equal(row[:2], old[:2])  # bias and AdaGrad sum: the ratings' business
    replay = await store.apply(watches)  # delivered again after a crash: skipped
    assert (replay.applied, replay.skipped) == (0, len(rated.users))
    assert await snapshot(redis_db) == after


async def test_the_content_correction_lowers_the_prequential_error(redis_db: aioredis.Redis, data_dir: Path) -> None:
    """The same 20,000 real ratings in time order, with and without the residual-kNN correction."""
    from evaluation.datasets import load_documents
    from recommenders.content import reduced
    from recommenders.production import content_vectors
    from storage import content_store

    df = pd.read_csv(data_dir / "ml-latest-small" / "ratings.csv").sort_values("timestamp", kind="stable")[:20000]
    documents = load_documents(data_dir, "ml-latest-small")
    ids = np.array(sorted(documents), dtype=np.int64)
    errors = {}
    for corrected in (False, True):
        await redis_db.flushdb()
        await content_store.install(redis_db, ids, reduced(content_vectors(ids, documents)))
        store = online(redis_db, BiasedMF(n_factors=8, lr=0.25, factor_lr=1.0, seed=0),
                       ResidualKNN() if corrected else None)
        sse = sum([(await store.apply(batch)).squared_error for batch in batches(df, 2000)])
        errors[corrected] = (sse / len(df)) ** 0.5
    assert errors[True] < errors[False] - 0.005, errors
    history = await redis_db.get(history_key(int(df['userId'].iloc[-1])))
    assert history and len(history) % 12 == 0 and len(history) <= 100 * 12  # (movie, error) records, capped


async def test_a_worker_starts_from_the_rows_it_wrote_and_catches_the_ones_changed_behind_it(
        redis_db: aioredis.Redis, ratings: pd.DataFrame) -> None:
    """The row cache (``storage.row_cache``): a batch on rows this store wrote, or on new users and
    films, needs no read round trip; a row another writer replaced meanwhile is caught by the
    compare-and-write; and a Redis reset behind the cache's back is not taken for events already
    applied. Each time the state must be what stores with nothing cached leave."""
    first = batches(ratings, 500)[0]

    def later(batch: RatingBatch, shift: int, topic: str = "ratings") -> RatingBatch:
        """The same users rating the same films again, further along the partitions."""
        return RatingBatch(topic, batch.partitions, batch.offsets + shift, batch.users, batch.movies,
                           (6.0 - batch.ratings).astype(np.float32))

    again, elsewhere, third = later(first, 10_000), later(first, 0, "other-topic"), later(first, 20_000)
    newcomers, others, more = (RatingBatch("ratings", first.partitions, first.offsets + shift,
                                           first.users + shift * 100, first.movies + shift * 100, first.ratings)
                               for shift in (30_000, 40_000, 45_000))
    fourth = later(first, 50_000)

    async def uncached(order: list[RatingBatch]) -> dict[bytes, bytes | dict[bytes, bytes] | set[bytes]]:
        await redis_db.flushdb()
        for batch in order:
            await online(redis_db).apply(batch)
        return await snapshot(redis_db)

    expected = [await uncached([first, again]), await uncached([first, again, elsewhere, third, newcomers]),
                await uncached([first, again, elsewhere, third, newcomers, others, more, fourth]),
                await uncached([first])]
    await redis_db.flushdb()
    store = online(redis_db)
    await store.apply(first)
    await store.apply(again)
    assert store.store.reads == 1  # the second batch touched only rows the first one wrote
    assert await snapshot(redis_db) == expected[0]

    await online(redis_db).apply(elsewhere)  # another writer
    assert (await store.apply(third)).applied == len(third.users)
    assert (store.conflicts, store.store.reads) == (1, 1)  # the stale write refused, answered with the fresh rows
    await store.apply(newcomers)
    assert (store.conflicts, store.store.reads) == (1, 1)  # new users and films are guessed absent, rightly
    assert await snapshot(redis_db) == expected[1]

    restarted = online(redis_db)
    await restarted.apply(others)  # nothing cached: a read, which finds the partitions' offsets
    await restarted.apply(more)  # new users and films only: the read finds nothing...
    await restarted.apply(fourth)  # ...so it guesses rows it never saw are new, wrongly this time
    assert (restarted.store.reads, restarted.conflicts, restarted.store.guess_absent) == (2, 1, False)
    assert await snapshot(redis_db) == expected[2]

    await redis_db.flushdb()  # Redis lost what this worker wrote: it must read those events again
    with pytest.raises(RedisBehind) as behind:
        await store.apply(first)
    assert behind.value.resume == {p: 0 for p in np.unique(first.partitions).tolist()}
    assert (await store.apply(first)).applied == len(first.users)  # read again: learned
    assert await snapshot(redis_db) == expected[3]


async def test_a_change_of_regime_is_flagged_on_the_learning_curve(redis_db: aioredis.Redis,
                                                                  ratings: pd.DataFrame) -> None:
    """Halfway, the ratings turn to noise (0.5 or 5 stars at random): the model's error jumps from
    ~0.7 to ~2.2, and the drift detector flags it, after the change only."""
    flipped = ratings.assign(rating=np.random.default_rng(0).choice([0.5, 5.0], len(ratings)))
    half = len(ratings) // 2
    store = online(redis_db)
    for batch in batches(pd.concat([ratings[:half], flipped[half:]]), 40):  # ADWIN looks every 32 points
        await store.apply(batch)
    curve = await store.store.learning_curve()
    assert len(curve) == len(ratings) // 40
    drifts = [p["n"] for p in curve if p["drift"]]
    assert drifts and all(n > half for n in drifts), drifts


async def test_a_batch_cut_between_its_shards_is_completed_once(redis_db: aioredis.Redis, ratings: pd.DataFrame,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker dies after its batch's user shards took their part and before the item shards and
    the commit did (on a Redis Cluster, scripts to different masters). Delivered again to a fresh
    worker, the batch moves only the item side and counts its ratings once."""
    run = batches(ratings, 500)[:4]
    for batch in run:
        await online(redis_db).apply(batch)
    undisturbed = await snapshot(redis_db)
    await redis_db.flushdb()
    learner = online(redis_db)
    for batch in run[:3]:
        await learner.apply(batch)
    before = await snapshot(redis_db)
    dying = online(redis_db)

    async def users_then_death(redis: aioredis.Redis, calls: list[Any]) -> list[Any]:
        await run_scripts(redis, [call for call in calls if call[0] is dying.store._user])
        raise ConnectionError("killed")

    with monkeypatch.context() as patched:
        patched.setattr(model_store, "run_scripts", users_then_death)
        with pytest.raises(ConnectionError):
            await dying.apply(run[3])
    assert (await online(redis_db).apply(run[3])).applied == len(run[3].users)
    after = await snapshot(redis_db)
    assert after.keys() == undisturbed.keys()
    assert {k: v for k, v in after.items() if not k.startswith(b"mf:i:")} == {
        k: v for k, v in undisturbed.items() if not k.startswith(b"mf:i:")}  # users, ratings, offsets, n, sum
    moved = [item_key(int(m)).encode() for m in np.unique(run[3].movies)]
    assert all(after[k] != before.get(k) for k in moved)  # the item side learned the batch, once


async def test_a_retried_batch_is_scored_by_the_predictions_made_before_it_was_learned(
        redis_db: aioredis.Redis, ratings: pd.DataFrame) -> None:
    """Every shard took the batch but its commit was refused: the retry finds the rows already
    learned, and must score each event by the prediction made before, not by those rows."""
    batch = batches(ratings, 2000)[0]
    undisturbed = await online(redis_db).apply(batch)
    await redis_db.flushdb()
    learner = online(redis_db)
    commit, refused = learner.store._commit, []

    async def refuse_once(keys: list[str], args: list[Any]) -> Any:
        if not refused:
            refused.append(await redis_db.hgetall(COMMIT_APPLIED))
            return [0, [b"-1"] * (len(args[1]) // 4), b"0", b"0"]  # nothing committed yet, as Redis says
        return await commit(keys=keys, args=args)

    learner.store._commit = refuse_once  # type: ignore[method-assign]
    retried = await learner.apply(batch)
    assert learner.conflicts == 1 and refused == [{}]
    assert (retried.applied, retried.skipped) == (undisturbed.applied, 0)
    assert retried.squared_error == pytest.approx(undisturbed.squared_error, rel=1e-6)

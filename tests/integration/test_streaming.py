"""End to end over the real servers: replay into Kafka, a faust worker learns into Redis,
a malformed message lands in the dead-letter topic with its reason."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from core.settings import Settings
from simulators.replay import load_ratings, replay
from storage import applied_counts
from storage.model_keys import ITEM_SETS, STATS, item_key, item_shard, seen_key, user_key
from streams.local_worker import start_worker, stop_worker
from tests.integration.helpers import cleanup, isolated, item_members, on_cluster, prepare, redis_client, wait_for_preq

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def topics(stack: Settings) -> dict[str, str]:
    return isolated(stack, 14, "stream")


@pytest.fixture(scope="module")
def worker(stack: Settings, topics: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
           built_catalogue: str) -> Iterator[None]:
    prepare(stack, topics)
    proc = start_worker(topics, tmp_path_factory.mktemp("worker"))
    yield
    stop_worker(proc)
    cleanup(stack, topics)


def test_replayed_ratings_are_learned_into_redis(stack: Settings, topics: dict[str, str], worker: None,
                                                 data_dir: Path) -> None:
    ratings = load_ratings(data_dir / "ml-latest-small" / "ratings.csv", limit=20000)
    summary = asyncio.run(replay(stack, topics["CINESTREAM_TOPIC_RATINGS"], ratings))
    assert summary.events == 20000
    preq = wait_for_preq(topics["CINESTREAM_REDIS_URL"], 20000)
    assert float(preq[b"n"]) == 20000  # every event once: none lost, none applied twice
    rmse = (float(preq[b"sse"]) / 20000) ** 0.5
    assert 0.6 < rmse < 1.2
    client = redis.Redis.from_url(topics["CINESTREAM_REDIS_URL"])
    assert len(item_members(client)) == ratings["movieId"].nunique()
    assert client.exists(user_key(int(ratings['userId'].iloc[0])))
    # every agent counts what it applied, so a bench times each role by its own work
    every = ("online_mf", "trending", "similarity", "recent", "history")
    deadline = time.monotonic() + 60
    while min((counts := applied_counts.read_sync(client)).get(a, 0) for a in every) < 20000:
        assert time.monotonic() < deadline, counts
        time.sleep(0.1)
    assert counts == dict.fromkeys(every, 20000)  # and no watches among the ratings


def test_a_malformed_message_goes_to_the_dead_letter_topic(stack: Settings, topics: dict[str, str],
                                                           worker: None) -> None:
    bad = b'{"v": 1, "events": [{"event_id": "x", "user_id": 1, "movie_id": 2, "rating": 9, "timestamp": 1}]}'

    async def roundtrip() -> dict[str, object]:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        await producer.send_and_wait(topics["CINESTREAM_TOPIC_RATINGS"], bad, key=b"1")
        await producer.stop()
        consumer = AIOKafkaConsumer(topics["CINESTREAM_TOPIC_DEAD_LETTER"], bootstrap_servers=stack.kafka_bootstrap,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), 60)
            return dict(json.loads(message.value or b"{}"))
        finally:
            await consumer.stop()

    record = asyncio.run(roundtrip())
    assert str(record["reason"]) == "Expected `float` <= 5.0 - at `$.events[0].rating`"
    assert base64.b64decode(str(record["original_b64"])) == bad
    assert record["topic"] == topics["CINESTREAM_TOPIC_RATINGS"] and isinstance(record["offset"], int)


def test_an_event_for_a_movie_outside_the_catalogue_is_dead_lettered_and_its_neighbours_learned(
        stack: Settings, topics: dict[str, str], worker: None) -> None:
    """Platforms write to Kafka directly: the stream refuses phantom movies itself."""
    user, phantom = 77_000_001, 2_023_243_501  # within the ids a film may have: refused by the catalogue
    events = [{"event_id": "known-1", "user_id": user, "movie_id": 1, "rating": 4.0, "timestamp": 1.6e9},
              {"event_id": "phantom-1", "user_id": user, "movie_id": phantom, "rating": 5.0, "timestamp": 1.6e9 + 1}]
    raw = json.dumps({"v": 1, "events": events}).encode()

    async def roundtrip() -> dict[str, object]:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        await producer.send_and_wait(topics["CINESTREAM_TOPIC_RATINGS"], raw, key=str(user).encode())
        await producer.stop()
        consumer = AIOKafkaConsumer(topics["CINESTREAM_TOPIC_DEAD_LETTER"], bootstrap_servers=stack.kafka_bootstrap,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            while True:
                message = await asyncio.wait_for(consumer.getone(), 60)
                record = dict(json.loads(message.value or b"{}"))
                if "catalogue" in str(record["reason"]):
                    return record
        finally:
            await consumer.stop()

    record = asyncio.run(roundtrip())
    assert record["reason"] == (f"not in the catalogue: movie_id {phantom} (event phantom-1); "
                                "1 of 2 events refused")
    assert base64.b64decode(str(record["original_b64"])) == raw
    client = redis.Redis.from_url(topics["CINESTREAM_REDIS_URL"])
    deadline = time.monotonic() + 30
    while not client.hexists(seen_key(user), 1):
        assert time.monotonic() < deadline, "the valid event of the message was not learned"
        time.sleep(0.1)
    assert not client.hexists(seen_key(user), phantom) and not client.exists(item_key(phantom))
    assert not client.sismember(ITEM_SETS[item_shard(phantom)], phantom)


def test_an_erasure_makes_every_agent_forget_the_person(stack: Settings, topics: dict[str, str],
                                                       worker: None) -> None:
    """What a deleted account sends through Kafka: after it, no worker state holds the person."""
    from pymongo import MongoClient

    from contracts.events import encode_erasure
    from storage.erasure import user_keys

    user = 77_000_002
    events = [{"event_id": f"erase-me-{j}", "user_id": user, "movie_id": movie, "rating": 4.5, "timestamp": 1.6e9 + j}
              for j, movie in enumerate((1, 260, 1196))]
    client = redis.Redis.from_url(topics["CINESTREAM_REDIS_URL"])
    mongo = MongoClient(stack.mongo_uri)[stack.mongo_db]

    async def send(payload: bytes, both: bool) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        for topic in ("CINESTREAM_TOPIC_RATINGS", "CINESTREAM_TOPIC_WATCHES")[:2 if both else 1]:
            await producer.send_and_wait(topics[topic], payload, key=str(user).encode())
        await producer.stop()

    def wait(condition: object, what: str) -> None:
        deadline = time.monotonic() + 30
        while not callable(condition) or not condition():
            assert time.monotonic() < deadline, what
            time.sleep(0.1)

    def stored() -> int:  # the message's document holds the person's three events as columns
        return sum(len(doc["user_id"]) for doc in mongo.events.find({"user_id": user}))

    asyncio.run(send(json.dumps({"v": 1, "events": events}).encode(), both=False))
    wait(lambda: client.exists(user_key(user), f"recent:{user}", f"sim:recent:{user}") == 3 and stored() == 3,
         "the person's events were not learned")
    asyncio.run(send(encode_erasure(user), both=True))
    wait(lambda: client.exists(*user_keys(user)) == 0, "a Redis key still holds the person")
    wait(lambda: stored() == 0, "MongoDB still holds the person's events")
    assert client.exists(item_key(260))  # the item side keeps its aggregates


@pytest.mark.parametrize("layout", ["one Redis", "Redis Cluster"])
def test_a_worker_killed_mid_stream_neither_loses_nor_doubles_an_event(
    stack: Settings, data_dir: Path, tmp_path: Path, layout: str, request: pytest.FixtureRequest
) -> None:
    """SIGKILL the worker while it learns, start another: every event is applied exactly once, on
    one Redis and on three masters (where the kill may fall between a batch's shard scripts).

    Batch boundaries depend on timing, so the learned floats differ from an undisturbed run's;
    what must match exactly is what each event contributes once: counts, rating sums, the set
    of movies and each user's rated movies, and the partitions' applied offsets.
    """
    overrides = {**isolated(stack, 11, "kill"), "CINESTREAM_AGENTS": "online_mf"}
    if layout == "Redis Cluster":
        nodes = request.getfixturevalue("cluster_nodes")
        overrides |= {"CINESTREAM_REDIS_URL": f"redis://127.0.0.1:{nodes[0].port}/0",
                      "CINESTREAM_REDIS_CLUSTER": "true"}
    prepare(stack, overrides)
    ratings = load_ratings(data_dir / "ml-latest-small" / "ratings.csv", limit=60000)
    client = redis_client(overrides["CINESTREAM_REDIS_URL"], on_cluster(overrides))
    first = start_worker(overrides, tmp_path)

    topic = overrides["CINESTREAM_TOPIC_RATINGS"]
    warm, head = 100, 15000  # the kill falls within the head; the rest is produced after it

    async def feed_and_kill() -> None:
        # "Worker ready" comes before the consumer has its partitions: a worker that then caught up with
        # a whole head already in Kafka learned it in one batch, and the kill fell after it
        await replay(stack, topic, ratings.iloc[:warm])
        deadline = time.monotonic() + 90
        while float(client.hget(STATS, "n") or 0) < warm:
            assert time.monotonic() < deadline, "the worker learned nothing"
            await asyncio.sleep(0.05)
        feeding = asyncio.create_task(replay(stack, topic, ratings.iloc[warm:head], rate=10000))
        try:
            while float(client.hget(STATS, "n") or 0) < 5000:  # noqa: ASYNC110 (state of another process)
                await asyncio.sleep(0.01)
        finally:
            stop_worker(first, signal.SIGKILL)  # mid-stream: the replay may still be producing
        await feeding
        await replay(stack, topic, ratings.iloc[head:], rate=20000)

    asyncio.run(feed_and_kill())
    killed_at = float(client.hget(STATS, "n") or 0)
    assert killed_at < head, "the worker was not killed while it learned: nothing was tested"
    second = start_worker(overrides, tmp_path, timeout=90)
    try:
        preq = wait_for_preq(overrides["CINESTREAM_REDIS_URL"], len(ratings), timeout=90, cluster=on_cluster(overrides))
        time.sleep(2)  # anything applied twice would show up now
    finally:
        stop_worker(second)
    stats = client.hgetall(STATS)
    assert float(client.hget(STATS, "n") or 0) == float(preq[b"n"]) == len(ratings)
    assert float(stats[b"n"]) == len(ratings)
    assert float(stats[b"sum"]) == pytest.approx(float(ratings["rating"].sum()), abs=1e-6)
    assert set(item_members(client)) == set(ratings["movieId"])
    for user, movies in ratings.groupby("userId")["movieId"]:
        assert {int(m) for m in client.hkeys(seen_key(user))} == set(movies), user
    cleanup(stack, overrides)


def test_a_redis_restart_mid_stream_loses_no_event(stack: Settings, data_dir: Path, tmp_path: Path) -> None:
    """Redis goes away while the worker learns: the agent retries its batch instead of dropping it."""
    from deploy.local import stack as local_stack

    redis_server = next(s for s in local_stack.servers(stack) if s.name == "redis")
    overrides = {**isolated(stack, 5, "redis-restart"), "CINESTREAM_AGENTS": "online_mf"}
    prepare(stack, overrides)
    ratings = load_ratings(data_dir / "ml-latest-small" / "ratings.csv", limit=40000)
    client = redis.Redis.from_url(overrides["CINESTREAM_REDIS_URL"])
    worker = start_worker(overrides, tmp_path)
    try:
        async def feed_and_restart() -> None:
            feeding = asyncio.create_task(replay(stack, overrides["CINESTREAM_TOPIC_RATINGS"],
                                                 ratings, rate=10000))
            while float(client.hget(STATS, "n") or 0) < 8000:  # noqa: ASYNC110 (state of another process)
                await asyncio.sleep(0.02)
            assert redis_server.stop()  # SIGTERM: Redis writes its AOF and exits
            await asyncio.sleep(1.0)
            assert redis_server.start()
            await feeding

        asyncio.run(feed_and_restart())
        preq = wait_for_preq(overrides["CINESTREAM_REDIS_URL"], len(ratings), timeout=90)
        time.sleep(1)
    finally:
        stop_worker(worker)
    assert float(preq[b"n"]) == float(client.hget(STATS, "n") or 0) == len(ratings)
    assert float(client.hget(STATS, "sum") or 0) == pytest.approx(float(ratings["rating"].sum()), abs=1e-6)
    cleanup(stack, overrides)


def _snapshot(client: redis.Redis) -> dict[Any, tuple[Any, Any]]:
    """Every key of the database as ``DUMP`` gives it, with its time to live."""
    return {key: (client.dump(key), client.pttl(key)) for key in client.scan_iter()}


def _restore(client: redis.Redis, snapshot: dict[Any, tuple[Any, Any]]) -> None:
    """The database as it was at ``snapshot``: what a Redis that lost its later writes comes back with."""
    client.flushdb()
    for key, (blob, ttl) in snapshot.items():
        client.restore(key, max(ttl, 0), blob)


def _learned_once(client: redis.Redis, preq: dict[bytes, bytes], ratings: pd.DataFrame) -> None:
    """Every rating learned exactly once: the count, the sum and each person's rated set."""
    assert float(preq[b"n"]) == float(client.hget(STATS, "n") or 0) == len(ratings)
    assert float(client.hget(STATS, "sum") or 0) == pytest.approx(float(ratings["rating"].sum()), abs=1e-6)
    for user, movies in ratings.groupby("userId")["movieId"]:
        assert {int(m) for m in client.hkeys(seen_key(user))} == set(movies), user


def _mf_only(stack: Settings, name: str, data_dir: Path, limit: int
             ) -> tuple[dict[str, str], pd.DataFrame, redis.Redis, str]:
    """Topics and Redis database 6 of their own for a worker learning the MF alone, and the first ``limit``
    ratings of ml-latest-small."""
    overrides = {**isolated(stack, 6, name), "CINESTREAM_AGENTS": "online_mf"}
    prepare(stack, overrides)
    ratings = load_ratings(data_dir / "ml-latest-small" / "ratings.csv", limit=limit)
    client = redis.Redis.from_url(overrides["CINESTREAM_REDIS_URL"])
    return overrides, ratings, client, overrides["CINESTREAM_TOPIC_RATINGS"]


def _first_6000_learned(stack: Settings, overrides: dict[str, str], ratings: pd.DataFrame,
                        client: redis.Redis) -> dict[Any, tuple[Any, Any]]:
    """Replays the first 6,000 ratings, waits until they are learned, and answers Redis' state then."""
    asyncio.run(replay(stack, overrides["CINESTREAM_TOPIC_RATINGS"], ratings.iloc[:6000]))
    wait_for_preq(overrides["CINESTREAM_REDIS_URL"], 6000)
    return _snapshot(client)


def test_redis_losing_its_last_writes_is_repaired_from_kafka(stack: Settings, data_dir: Path, tmp_path: Path) -> None:
    """A machine crash loses up to a second of Redis writes (fsync every second) whose offsets Kafka
    has committed: the restarted worker must learn those events again, from Redis' applied offsets."""
    overrides, ratings, client, topic = _mf_only(stack, "lost", data_dir, 12000)
    worker = start_worker(overrides, tmp_path)
    try:
        on_disk = _first_6000_learned(stack, overrides, ratings, client)  # what fsync kept
        asyncio.run(replay(stack, topic, ratings.iloc[6000:]))
        wait_for_preq(overrides["CINESTREAM_REDIS_URL"], 12000)
    finally:
        stop_worker(worker)  # a clean stop: Kafka's committed offsets now cover all 12,000 events
    _restore(client, on_disk)  # the machine crashed: Redis comes back with its last fsynced state
    assert float(client.hget(STATS, "n") or 0) == 6000
    worker = start_worker(overrides, tmp_path)
    try:
        preq = wait_for_preq(overrides["CINESTREAM_REDIS_URL"], 12000, timeout=90)
        time.sleep(2)  # anything applied twice would show up now
    finally:
        stop_worker(worker)
    _learned_once(client, preq, ratings)
    cleanup(stack, overrides)


def test_redis_losing_writes_under_a_running_worker_is_repaired_from_kafka(stack: Settings, data_dir: Path,
                                                                          tmp_path: Path) -> None:
    """The same loss while the worker keeps running, so no rebalance comes to move it back: its next
    batch finds Redis behind what it wrote itself, and it reads the lost events again from Kafka
    (``storage.model_store.RedisBehind``, ``streams.resume``). Each event once, none lost."""
    overrides, ratings, client, topic = _mf_only(stack, "lost-live", data_dir, 18000)
    worker = start_worker(overrides, tmp_path)
    try:
        on_disk = _first_6000_learned(stack, overrides, ratings, client)
        asyncio.run(replay(stack, topic, ratings.iloc[6000:12000]))
        wait_for_preq(overrides["CINESTREAM_REDIS_URL"], 12000)
        _restore(client, on_disk)  # Redis restarted and came back with an older state; the worker never stopped
        assert float(client.hget(STATS, "n") or 0) == 6000
        asyncio.run(replay(stack, topic, ratings.iloc[12000:]))
        preq = wait_for_preq(overrides["CINESTREAM_REDIS_URL"], 18000, timeout=90)
        time.sleep(2)  # anything applied twice would show up now
        log = "".join(p.read_text(errors="replace") for p in tmp_path.glob("worker-*.log"))
    finally:
        stop_worker(worker)
    assert "partitions sought back to" in log
    _learned_once(client, preq, ratings)
    cleanup(stack, overrides)

"""End to end over the real servers: replay into Kafka, a faust worker learns into Redis,
a malformed message lands in the dead-letter topic with its reason."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from cinestream.settings import Settings
from simulators.replay import load_ratings, replay
from streams.admin import ensure_topics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def topics(stack: Settings) -> dict[str, str]:
    """Topics, Redis database and consumer group of this test run alone."""
    run = uuid.uuid4().hex[:8]
    return {"CINESTREAM_TOPIC_RATINGS": f"ratings-{run}", "CINESTREAM_TOPIC_DEAD_LETTER": f"dead-letter-{run}",
            "CINESTREAM_TOPIC_WATCHES": f"watches-{run}",
            "CINESTREAM_REDIS_URL": stack.redis_url.rsplit("/", 1)[0] + "/14"}


@pytest.fixture(scope="module")
def worker(stack: Settings, topics: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    redis.Redis.from_url(topics["CINESTREAM_REDIS_URL"]).flushdb()
    asyncio.run(ensure_topics(stack.kafka_bootstrap, stack.partitions,
                              [topics["CINESTREAM_TOPIC_RATINGS"]], [topics["CINESTREAM_TOPIC_DEAD_LETTER"]]))
    workdir = tmp_path_factory.mktemp("worker")
    log = workdir / "worker.log"
    env = {**os.environ, **topics}
    proc = subprocess.Popen(
        [sys.executable, "-m", "faust", "-A", "streams.worker", "--datadir", str(workdir), "worker", "-l", "info"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while b"Worker ready" not in log.read_bytes():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
        time.sleep(0.2)
    yield log
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(30)
    redis.Redis.from_url(topics["CINESTREAM_REDIS_URL"]).flushdb()


def wait_for_preq(url: str, n: int, timeout: float = 60) -> dict[bytes, bytes]:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        preq = client.hgetall("mf:preq")
        if float(preq.get(b"n", 0)) >= n:
            return preq
        time.sleep(0.2)
    raise AssertionError(f"only {client.hgetall('mf:preq')} of {n} events applied")


def test_replayed_ratings_are_learned_into_redis(stack: Settings, topics: dict[str, str], worker: Path,
                                                 data_dir: Path) -> None:
    ratings = load_ratings(data_dir / "ml-latest-small" / "ratings.csv", limit=20000)
    summary = asyncio.run(replay(stack.kafka_bootstrap, topics["CINESTREAM_TOPIC_RATINGS"], ratings))
    assert summary.events == 20000
    preq = wait_for_preq(topics["CINESTREAM_REDIS_URL"], 20000)
    assert float(preq[b"n"]) == 20000  # every event once: none lost, none applied twice
    rmse = (float(preq[b"sse"]) / 20000) ** 0.5
    assert 0.6 < rmse < 1.2
    client = redis.Redis.from_url(topics["CINESTREAM_REDIS_URL"])
    assert client.scard("mf:items") == ratings["movieId"].nunique()
    assert client.exists(f"mf:u:{int(ratings['userId'].iloc[0])}")


def test_a_malformed_message_goes_to_the_dead_letter_topic(stack: Settings, topics: dict[str, str],
                                                           worker: Path) -> None:
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
    assert "rating 9.0 is not in 0.5..5.0" in str(record["reason"])
    assert base64.b64decode(str(record["original_b64"])) == bad
    assert record["topic"] == topics["CINESTREAM_TOPIC_RATINGS"] and isinstance(record["offset"], int)

"""A soak with faults: a stream of real ratings learned while workers, Redis, a Kafka broker and
FerretDB fail, compared with the same events learned undisturbed.

The events: ml-latest-small replayed ``--copies`` times (each copy's users shifted by ``USER_SHIFT``,
its times after the previous copy's, all within the years the stream accepts), and ``--bad-share`` of
that count in bad messages of one event each: half name a movie outside the catalogue, half an
impossible rating (9 stars). Two learning workers (one consumer group), a side worker and an archive
worker run as in the main job, in topics, consumer groups, a Redis database and a MongoDB database of
their own (``SOAK_DB``, where the catalogue is built first: its check of the archive reads every
archived event of the run, which on the main database would scan everything the main job archived). Meanwhile
a worker is killed with SIGKILL every ``--kill-every`` seconds (in turn) and started again; Redis is
killed with SIGKILL once and started again (AOF, fsync every second: it may lose its last second,
which the learning workers repair from Kafka), a Kafka node once (on a cluster: ``stack up --brokers
3``) and FerretDB once.

At the end, against the undisturbed run: the model's count and sum of ratings (exact), every user's
rated set (exact), the history in MongoDB (every valid event once), the dead-letter topic (every bad
message, by its coordinates, with a reason), what the producers had acknowledged (all), and the
prequential RMSE (within 1 % on the full soak, 2 % on the tests' short one: batches are cut where
the timing falls, so each event is scored by a model that has learned a slightly different
interleaving of the partitions).

Usage: ``python -m bench.soak`` (the local stack; three Kafka nodes if ``CINESTREAM_KAFKA_BROKERS=3``;
``--redis-cluster``: the workers on a Redis Cluster of three masters, one of which is the Redis killed).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import MongoClient
from redis.cluster import RedisCluster
from rich.console import Console
from rich.progress import Progress

from bench import record
from contracts.events import EARLIEST
from core.kafka_auth import client_options, password
from core.settings import Settings, get_settings
from deploy.local import redis_cluster
from deploy.local import stack as local_stack
from deploy.local.server import LocalServer
from jobs.catalogue import run_build
from simulators.replay import load_ratings, replay
from storage.model_keys import COMMIT_APPLIED, STATS, seen_key
from streams import acls
from streams.admin import delete_topics, ensure_topics
from streams.local_worker import start_worker, stop_strays, stop_worker

USER_SHIFT = 1_000_000
REDIS_DB = 1  # the main job uses 0; the tests 2-15
SOAK_DB = "cinestream_soak"
CLUSTER_PORT_OFFSET = 2000  # --redis-cluster: masters on the stack's Redis port + 2000, + 2100, + 2200
UNKNOWN_MOVIE = 999_999_999
ROLES = {"learn": "online_mf,online_mf_watches", "side": "trending,similarity,recent", "archive": "history,catalogue"}
console = Console(stderr=True)


@dataclass
class Run:
    """One run's topics, groups, Redis database and workers."""

    settings: Settings
    redis_db: int
    workdir: Path
    cluster_url: str | None = None  # a Redis Cluster instead of the stack's Redis (its database 0)
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def topics(self) -> dict[str, str]:
        return {"ratings": f"soak-{self.name}-ratings", "watches": f"soak-{self.name}-watches",
                "dlq": f"soak-{self.name}-dlq", "movies": f"soak-{self.name}-movies"}

    @property
    def own_settings(self) -> Settings:
        """The settings naming this run's topics and groups (what its ACLs are granted on)."""
        return self.settings.model_copy(update={"topic_ratings": self.topics["ratings"],
                                                "topic_watches": self.topics["watches"],
                                                "topic_dead_letter": self.topics["dlq"],
                                                "topic_movies": self.topics["movies"], "worker_group": self.group})

    @property
    def group(self) -> str:
        return f"soak-{self.name}"

    def as_user(self, user: str) -> Settings:
        return self.own_settings.model_copy(update={"kafka_user": user})

    @property
    def redis_url(self) -> str:
        return self.cluster_url or self.settings.redis_url.rsplit("/", 1)[0] + f"/{self.redis_db}"

    def redis(self) -> redis.Redis:
        if self.cluster_url:
            return RedisCluster.from_url(self.cluster_url)  # type: ignore[return-value]
        return redis.Redis.from_url(self.redis_url)

    def env(self, role: str) -> dict[str, str]:
        return {"CINESTREAM_TOPIC_RATINGS": self.topics["ratings"], "CINESTREAM_TOPIC_WATCHES": self.topics["watches"],
                "CINESTREAM_TOPIC_DEAD_LETTER": self.topics["dlq"], "CINESTREAM_REDIS_URL": self.redis_url,
                "CINESTREAM_MONGO_DB": self.settings.mongo_db,
                # title changes of its own: the main topic's (other runs', tests') would change the
                # catalogue the run's events are checked against while it runs
                "CINESTREAM_TOPIC_MOVIES": self.topics["movies"],
                "CINESTREAM_REDIS_CLUSTER": str(self.cluster_url is not None).lower(),
                "CINESTREAM_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
                "CINESTREAM_KAFKA_REPLICATION": str(self.settings.topic_replication),
                "CINESTREAM_AGENTS": ROLES[role.split("-")[0]],
                "CINESTREAM_WORKER_GROUP": f"{self.group}-{role.split('-')[0]}",
                # on a SASL cluster the workers speak as the worker principal, with what its ACLs allow
                "CINESTREAM_KAFKA_SASL": str(bool(self.settings.kafka_sasl)).lower(),
                **({"CINESTREAM_KAFKA_USER": "worker", "CINESTREAM_KAFKA_PASSWORD": password(self.settings, "worker")}
                   if self.settings.kafka_sasl else {})}

    def start(self, role: str) -> None:
        folder = self.workdir / role
        folder.mkdir(parents=True, exist_ok=True)
        self.workers[role] = start_worker(self.env(role), folder, timeout=120)

    def stop_all(self) -> None:
        for proc in self.workers.values():
            stop_worker(proc)
        if stray := stop_strays(self.workdir):
            print(f"soak: {len(stray)} worker(s) outlived their stop and were killed: pids {stray}", file=sys.stderr)


def events(ratings: pd.DataFrame, copies: int, bad_share: float, seed: int = 0
           ) -> tuple[pd.DataFrame, list[tuple[int, bytes]]]:
    """The valid ratings (``copies`` of ``ratings``, users shifted) and the bad messages as
    (user, payload): half for a movie outside the catalogue, half with an impossible rating."""
    # Each copy's times squeezed, in order, into its share of the years the stream accepts (from 1995 to
    # an hour ago): ml-latest-small spans 22 years, and a copy placed after another would be in the future.
    first, last = float(ratings["timestamp"].min()), float(ratings["timestamp"].max())
    share = (time.time() - 3600.0 - EARLIEST) / copies
    scale = share / (last - first + 1.0)
    parts = []
    for copy in range(copies):
        part = ratings.copy()
        part["userId"] += copy * USER_SHIFT
        part["timestamp"] = EARLIEST + copy * share + (part["timestamp"] - first) * scale
        parts.append(part)
    valid = pd.concat(parts, ignore_index=True)
    rng = np.random.default_rng(seed)
    bad = []
    for j in range(int(len(valid) * bad_share)):
        user = int(rng.choice(valid["userId"].to_numpy()))
        movie, stars = (UNKNOWN_MOVIE, 4.0) if j % 2 == 0 else (int(rng.choice(valid["movieId"].to_numpy())), 9.0)
        event = {"event_id": f"soak-bad-{j}", "user_id": user, "movie_id": movie, "rating": stars,
                 "timestamp": 1.6e9 + j}
        bad.append((user, json.dumps({"v": 1, "events": [event]}).encode()))
    return valid, bad


async def _send_bad(settings: Settings, topic: str, bad: list[tuple[int, bytes]], seconds: float) -> int:
    """The bad messages spread over ``seconds``, each acknowledged (acks=all, idempotent)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
                                request_timeout_ms=60_000, **client_options(settings))
    await producer.start()
    try:
        deliveries = []
        for j, (user, payload) in enumerate(bad):
            deliveries.append(await producer.send(topic, payload, key=str(user).encode()))
            await asyncio.sleep(seconds / max(len(bad), 1) if j % 10 == 9 else 0)
        await asyncio.gather(*deliveries)
        return len(deliveries)
    finally:
        await producer.stop()


def _kill_and_start(server: LocalServer, down_s: float = 1.0) -> None:
    pid = server.pid()
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        while server.pid() is not None:
            time.sleep(0.05)
    time.sleep(down_s)
    server.start()


async def _faults(run: Run, seconds: float, kill_every: float, servers: dict[str, LocalServer],
                  log: list[str]) -> None:
    """A worker killed every ``kill_every`` s, in turn (learning workers first, so the one after a
    Redis restart rebalances the group: that is when a worker repairs what Redis lost); Redis, a
    Kafka node and FerretDB, those of ``servers``, once each at a quarter, half and three quarters
    of ``seconds``."""
    started = time.monotonic()
    once = {seconds / 4: "redis", seconds / 2: "kafka", 3 * seconds / 4: "mongo-ferretdb"}
    roles = list(run.workers)
    turn = 0
    next_kill = kill_every
    while (elapsed := time.monotonic() - started) < seconds or once:  # each fault once, however late
        for at, name in list(once.items()):
            if elapsed >= at:
                del once[at]
                server = servers.get(name)
                if server is not None:
                    await asyncio.to_thread(_kill_and_start, server, 5.0 if name == "kafka" else 1.0)
                    log.append(f"{elapsed:5.1f} s: {server.name} killed and started again")
        if next_kill <= elapsed < seconds:
            role = roles[turn % len(roles)]
            turn += 1
            next_kill += kill_every
            os.killpg(run.workers[role].pid, signal.SIGKILL)
            run.workers[role].wait()
            await asyncio.to_thread(run.start, role)
            log.append(f"{elapsed:5.1f} s: worker {role} killed (SIGKILL) and started again")
        await asyncio.sleep(0.2)


async def _dead_letters(settings: Settings, topic: str, expected: int, wait_s: float) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, **client_options(settings))
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            found += [json.loads(r.value or b"{}") for records in batches.values() for r in records]
            if len({(d["topic"], d["partition"], d["offset"]) for d in found}) >= expected:
                await asyncio.sleep(2)  # a record sent twice would arrive now
                batches = await consumer.getmany(timeout_ms=1000)
                found += [json.loads(r.value or b"{}") for records in batches.values() for r in records]
                break
    finally:
        await consumer.stop()
    return found


def _wait(condition: Any, timeout: float, what: str, every: float = 0.5,
          why: Callable[[], str] = lambda: "") -> float:
    """Seconds until ``condition`` holds; a stall raises with ``why()``: what the run can tell of it."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the soak stalled: {what}\n{why()}")
        time.sleep(every)
    return time.monotonic() - started


def _stall_report(run: Run, client: Any, expected: int) -> str:
    """What a stalled model shows: its count, where each partition resumes, and the workers' logs'
    warnings and errors (the logs are deleted with the run)."""
    lines = [f"learned {client.hget(STATS, 'n')!r} of {expected}",
             f"applied offsets: {client.hgetall(COMMIT_APPLIED)!r}"]
    for log in sorted(run.workdir.glob("*/worker-*.log")):
        text = log.read_text(errors="replace").splitlines()
        notable = [line for line in text if any(w in line for w in ("WARN", "ERROR", "Traceback", "Error"))]
        lines += [f"--- {log.parent.name}/{log.name}: {len(text)} lines; last warnings and errors:", *notable[-12:],
                  "last lines:", *text[-4:]]
    return "\n".join(lines)


def _archived(settings: Settings, source: str) -> Counter[str]:
    """Event id -> how many times the history holds it, for this run's events."""
    with MongoClient[dict[str, Any]](settings.mongo_uri) as client:
        docs = client[settings.mongo_db].events.find({"source": source}, {"event_id": 1})
        return Counter(event for doc in docs for event in doc["event_id"])


def soak(settings: Settings, ratings: pd.DataFrame, *, copies: int, bad_share: float, rate: float,
         kill_every: float | None, redis_db: int, servers: dict[str, LocalServer],
         learners: int = 2, timeout: float = 600, progress: Callable[[int], None] | None = None,
         redis_cluster_url: str | None = None) -> dict[str, Any]:
    """One run (faults when ``kill_every`` is set, else undisturbed); its figures. ``servers``: the
    ones to kill, by name (``redis``: the Redis, or one master of ``redis_cluster_url``'s cluster;
    ``mongo-ferretdb``; ``kafka``: one node of a cluster); ``progress`` is told how many valid events
    each message sent."""
    valid, bad = events(ratings, copies, bad_share)
    workdir = Path(tempfile.mkdtemp(prefix="cinestream-soak-"))
    run = Run(settings, redis_db, workdir, redis_cluster_url)
    client = run.redis()
    client.flushdb()
    asyncio.run(ensure_topics(settings, [run.topics["ratings"], run.topics["watches"]],
                              [run.topics["dlq"], run.topics["movies"]]))
    if settings.kafka_sasl:
        asyncio.run(acls.grant(run.own_settings, run.group))
    source = f"soak{run.name}"
    log: list[str] = []
    started = time.monotonic()
    try:
        for role in [f"learn-{j}" for j in range(learners)] + ["side", "archive"]:
            run.start(role)
        seconds = len(valid) / rate

        async def produce() -> tuple[int, int]:
            sending = asyncio.gather(
                replay(run.as_user("platform"), run.topics["ratings"], valid, rate=rate, source=source,
                       progress=progress),
                _send_bad(run.as_user("platform"), run.topics["ratings"], bad, seconds))
            if kill_every:
                await _faults(run, seconds, kill_every, servers, log)
            summary, sent_bad = await sending
            return summary.events, sent_bad

        sent_valid, sent_bad = asyncio.run(produce())
        produced_s = time.monotonic() - started
        model_s = _wait(lambda: float(client.hget(STATS, "n") or 0) >= len(valid), timeout, "the model",
                        why=lambda: _stall_report(run, client, len(valid)))
        history_s = _wait(lambda: sum(_archived(settings, source).values()) >= len(valid), timeout, "the history",
                          every=3.0)
        letters_started = time.monotonic()
        letters = asyncio.run(_dead_letters(settings, run.topics["dlq"], len(bad), timeout))
        letters_s = time.monotonic() - letters_started
        time.sleep(3)  # anything applied twice shows now
        wall = time.monotonic() - started
        stats = preq = client.hgetall(STATS)
        archived = _archived(settings, source)
        with client.pipeline(transaction=False) as pipe:
            users = sorted(valid["userId"].unique().tolist())
            for user in users:
                pipe.hkeys(seen_key(user))
            rated = dict(zip(users, ({int(m) for m in keys} for keys in pipe.execute()), strict=True))
        expected_rated = {int(u): set(ms.tolist()) for u, ms in valid.groupby("userId")["movieId"]}
        coordinates = Counter((d["topic"], d["partition"], d["offset"]) for d in letters)
        return {
            # sent: acknowledged by the in-sync replicas (a failed delivery raises in the producers)
            "events sent": sent_valid + sent_bad, "valid": len(valid), "bad": len(bad),
            "learned": int(float(preq.get(b"n", 0))),
            "learned sum exact": abs(float(stats.get(b"sum", 0)) - float(valid["rating"].sum())) < 1e-6,
            "rated sets exact": rated == expected_rated,
            "archived once": sum(1 for n in archived.values() if n == 1),
            "archived twice": sum(1 for n in archived.values() if n > 1),
            "lost": len(valid) - len(archived) if len(archived) < len(valid) else 0,
            "dead-lettered": len(coordinates),
            "dead letters with a reason": len({(d["topic"], d["partition"], d["offset"])
                                               for d in letters if d["reason"]}),
            # a learning worker killed after sending a batch's dead letters but before committing
            # its offsets sends them again: the same coordinates, told apart by them
            "dead letters repeated": sum(n - 1 for n in coordinates.values()),
            "rmse": float(np.sqrt(float(preq[b"sse"]) / float(preq[b"n"]))),
            "seconds": round(wall, 1), "produced in s": round(produced_s, 1),
            # where the rest of the wall time went: each waited for after the one before
            "model caught up in s": round(model_s, 1), "history caught up in s": round(history_s, 1),
            "dead letters read in s": round(letters_s, 1),
            "faults": log,
        }
    finally:
        run.stop_all()
        client.flushdb()
        asyncio.run(delete_topics(settings, list(run.topics.values())))
        with MongoClient[dict[str, Any]](settings.mongo_uri) as mongo:
            mongo[settings.mongo_db].events.delete_many({"source": source})
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--bad-share", type=float, default=0.01)
    parser.add_argument("--rate", type=float, default=2500.0, help="valid events/s produced")
    parser.add_argument("--kill-every", type=float, default=20.0)
    parser.add_argument("--redis-cluster", action="store_true",
                        help="the workers on a Redis Cluster of three masters of its own (one is the Redis killed)")
    record.add_option(parser)
    args = parser.parse_args()
    settings = get_settings().model_copy(update={"mongo_db": SOAK_DB})
    with console.status(f"building the catalogue in MongoDB's {SOAK_DB!r} (a no-op once built)…"):
        asyncio.run(run_build(settings, Console(quiet=True)))
    ratings = load_ratings(settings.data_dir / "ml-latest-small" / "ratings.csv")
    with MongoClient[dict[str, Any]](settings.mongo_uri) as mongo:  # the workers check events against it
        db = mongo[settings.mongo_db]
        known = {d["movieId"] for d in db.movies.find({}, {"movieId": 1, "_id": 0})}
        known -= {d["movieId"] for d in db.retired_titles.find({}, {"movieId": 1, "_id": 0})}
    outside = sorted(set(ratings["movieId"].tolist()) - known)
    if outside:  # the valid events would be refused, and the bad ones (films outside it) learned with no catalogue
        raise SystemExit(f"{len(outside)} films of ml-latest-small are not in the catalogue of MongoDB's "
                         f"{settings.mongo_db!r} (retired or never built), for example {outside[:5]}: build it "
                         "(cinestream catalogue build) or bring them back")
    servers = {s.name: s for s in local_stack.servers(settings) if not s.name.startswith("kafka")}
    nodes = [s for s in local_stack.servers(settings) if s.name.startswith("kafka-")]
    if len(nodes) >= 3:  # a single broker is not killed: nothing could take its partitions over
        servers["kafka"] = nodes[1]
    figures = {}
    with ExitStack() as stack:
        cluster_url = None
        if args.redis_cluster:
            masters = stack.enter_context(redis_cluster.running(settings.redis_port + CLUSTER_PORT_OFFSET))
            servers["redis"], cluster_url = masters[1], redis_cluster.url(masters)
        for name, kill_every in (("undisturbed", None), ("with faults", args.kill_every)):
            with Progress(console=console) as bar:
                task = bar.add_task(f"{name}: {args.copies} × ml-latest-small at {args.rate:g} events/s",
                                    total=args.copies * len(ratings))
                figures[name] = soak(settings, ratings, copies=args.copies, bad_share=args.bad_share, rate=args.rate,
                                     kill_every=kill_every, redis_db=REDIS_DB, servers=servers,
                                     progress=functools.partial(bar.advance, task), redis_cluster_url=cluster_url)
    for line in figures["with faults"].pop("faults"):
        console.print(line)
    figures["undisturbed"].pop("faults")
    table = pd.DataFrame(figures)
    print(table.to_string())
    ratio = figures["with faults"]["rmse"] / figures["undisturbed"]["rmse"]
    print(f"RMSE with faults / undisturbed: {ratio:.4f}; Kafka: {settings.kafka_brokers} node(s), "
          f"{settings.topic_replication} replicas a topic; Redis: "
          f"{'a cluster of three masters' if args.redis_cluster else 'one node'}")
    if args.record:
        faulty = figures["with faults"]
        record.write("soak" + ("-cluster" if args.redis_cluster else ""),
                     f"{args.copies} × ml-latest-small at {args.rate:g} events/s while workers, Redis, a Kafka broker "
                     f"and FerretDB are killed every {args.kill_every:g} s, against the same events undisturbed",
                     {"RMSE with faults / undisturbed": ratio}
                     | {k: v for k, v in faulty.items() if isinstance(v, int | float) and not isinstance(v, bool)},
                     f"Kafka {settings.kafka_brokers} node(s), {settings.topic_replication} replicas a topic",
                     {name: {k: v for k, v in row.items() if isinstance(v, int | float)}
                      for name, row in figures.items()})


if __name__ == "__main__":
    main()

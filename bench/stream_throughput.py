"""End-to-end streaming throughput: MovieLens ratings through Kafka and a faust worker into Redis.

Prints events/s from the first event produced to the last one applied in Redis, next to river's
``BiasedMF.learn_one`` over the same events in-process (no I/O at all: the ceiling), and the ratio.
Needs the local stack (``cinestream stack up``). Usage: ``python -m bench.stream_throughput
[--workers N] [--redis-cluster]`` (the latter: a Redis Cluster of three masters of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import redis
from pymongo import MongoClient
from redis.cluster import RedisCluster
from river import reco

from bench import record
from bench.tools import wait_until_learned
from core.settings import Settings, get_settings
from deploy.local import redis_cluster
from evaluation.datasets import load_documents
from recommenders.content import reduced
from recommenders.production import content_vectors, text_content_vectors
from simulators.replay import release_ratings, replay
from storage import content_store
from storage.model_keys import CURVE, STATS
from storage.redis_store import connect
from streams.admin import delete_topics, ensure_topics
from streams.local_worker import rss_mib, start_worker, stop_worker

STALL_S = 60.0


async def install_content(url: str, data_dir: Path, dataset: str, cache_dir: Path, cluster: bool = False) -> None:
    """The content vectors ``model publish`` would install, computed from the dataset's files."""
    documents = load_documents(data_dir, dataset)
    ids = np.array(sorted(documents), dtype=np.int64)
    with_text = text_content_vectors(ids, documents, cache_dir)
    vectors = content_vectors(ids, documents) if with_text is None else with_text
    client = connect(Settings(redis_url=url, redis_cluster=cluster))
    try:
        await content_store.install(client, ids, reduced(vectors))
    finally:
        await client.aclose()


def river_reference(ratings: list[tuple[int, int, float]], repeats: int = 2) -> tuple[float, float, float]:
    """river's BiasedMF over the same events in-process, best of ``repeats`` fresh models each:
    ``learn_one`` alone (the ceiling: no I/O, no prediction), events/s; then test-then-train
    (``predict_one`` first, as ours), events/s and RMSE. The best run, since the first pass over a
    fresh process is slowed by allocation and by the stack settling after the workers stopped."""
    learn_rate = preq_rate = 0.0
    rmse = float("nan")
    for _ in range(repeats):
        model = reco.BiasedMF(n_factors=10, seed=0)
        started = time.perf_counter()
        for user, movie, rating in ratings:
            model.learn_one(user, movie, rating)
        learn_rate = max(learn_rate, len(ratings) / (time.perf_counter() - started))
        model = reco.BiasedMF(n_factors=10, seed=0)
        started = time.perf_counter()
        sse = 0.0
        for user, movie, rating in ratings:
            sse += (rating - model.predict_one(user, movie)) ** 2
            model.learn_one(user, movie, rating)
        preq_rate = max(preq_rate, len(ratings) / (time.perf_counter() - started))
        rmse = (sse / len(ratings)) ** 0.5
    return learn_rate, preq_rate, rmse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="ml-latest-small", help="any release (shared, fetched or generated)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1, help="worker processes in the consumer group")
    parser.add_argument("--agents", default="online_mf",
                        help="agents in the measured worker (the learning path by default; see CINESTREAM_AGENTS)")
    parser.add_argument("--redis-cluster", action="store_true",
                        help="the workers on a Redis Cluster of three masters of its own instead of the stack's Redis")
    record.add_option(parser)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = get_settings().redis_url.rsplit("/", 1)[0] + "/13"
        if args.redis_cluster:  # masters on the stack's Redis port + 3000, + 3100, + 3200
            url = redis_cluster.url(stack.enter_context(redis_cluster.running(get_settings().redis_port + 3000)))
        measure(args, url, args.redis_cluster)


def measure(args: argparse.Namespace, redis_url: str, cluster: bool) -> None:
    settings = get_settings()
    ratings = release_ratings(settings, args.dataset, args.limit)
    n = len(ratings)
    run = uuid.uuid4().hex[:8]
    env = {"CINESTREAM_TOPIC_RATINGS": f"bench-ratings-{run}", "CINESTREAM_TOPIC_DEAD_LETTER": f"bench-dlq-{run}",
           "CINESTREAM_REDIS_URL": redis_url, "CINESTREAM_REDIS_CLUSTER": str(cluster).lower(),
           "CINESTREAM_AGENTS": args.agents,
           "CINESTREAM_MONGO_DB": f"cinestream_bench_{run}"}  # no catalogue there: every movie is let through
    client = RedisCluster.from_url(redis_url) if cluster else redis.Redis.from_url(redis_url)
    client.flushdb()
    asyncio.run(ensure_topics(settings,
                              [env["CINESTREAM_TOPIC_RATINGS"]], [env["CINESTREAM_TOPIC_DEAD_LETTER"]]))
    workdirs = [Path(tempfile.mkdtemp(prefix="cinestream-bench-")) for _ in range(args.workers)]
    if (settings.data_dir / args.dataset).is_dir():  # a shared release with its metadata; not a generated one
        asyncio.run(install_content(redis_url, settings.data_dir, args.dataset, settings.cache_dir, cluster))
    procs = [start_worker(env, workdir) for workdir in workdirs]
    try:
        summary = asyncio.run(replay(settings, env["CINESTREAM_TOPIC_RATINGS"], ratings))
        wait_until_learned(client, n, STALL_S, f"see the worker log in {workdirs[0]}")
        elapsed = time.perf_counter() - summary.started  # the payloads are built before the clock starts
        rss = sum(rss_mib(proc) for proc in procs)
    finally:
        for proc in procs:
            stop_worker(proc)
    for workdir in workdirs:  # kept only when the run failed, for its worker logs
        shutil.rmtree(workdir, ignore_errors=True)

    batches = int(client.llen(CURVE))
    preq = {str(k, "utf-8") if isinstance(k, bytes) else k: float(v) for k, v in client.hgetall(STATS).items()}
    users = client.keys("mf:u:*")[:200]
    items = client.keys("mf:i:*")[:200]
    per_user = sum(client.memory_usage(k) or 0 for k in users) / max(len(users), 1)
    per_item = sum(client.memory_usage(k) or 0 for k in items) / max(len(items), 1)
    triples = list(zip(ratings["userId"].tolist(), ratings["movieId"].tolist(), ratings["rating"].tolist(),
                       strict=True))
    river_rate, river_preq_rate, river_rmse = river_reference(triples)
    client.flushdb()
    asyncio.run(delete_topics(settings, [env["CINESTREAM_TOPIC_RATINGS"],
                                                         env["CINESTREAM_TOPIC_DEAD_LETTER"]]))
    MongoClient(settings.mongo_uri).drop_database(env["CINESTREAM_MONGO_DB"])

    ours = n / elapsed
    print(f"workers: {args.workers}, agents: {args.agents}, Redis: "
          f"{'a cluster of three masters' if cluster else 'one node'}")
    print(f"events: {n:,} in {summary.messages:,} messages (producer alone: {n / summary.seconds:,.0f} events/s)")
    print(f"end-to-end (first produced -> last applied in Redis): {elapsed:.2f}s = {ours:,.0f} events/s "
          f"in {batches:,} micro-batches ({n / max(batches, 1):,.0f} events each on average)")
    print(f"river BiasedMF.learn_one in-process (same events, same run): {river_rate:,.0f} events/s; "
          f"predict_one then learn_one (what ours does): {river_preq_rate:,.0f} events/s")
    print(f"ratio ours / river learn_one: {ours / river_rate:.2f}; ours / river predict+learn: "
          f"{ours / river_preq_rate:.2f}")
    print(f"prequential RMSE: ours {(preq['sse'] / preq['n']) ** 0.5:.4f}  river {river_rmse:.4f}")
    print(f"worker RSS: {rss:.0f} MiB; Redis bytes per user {per_user:.0f}, per movie {per_item:.0f}")
    if args.record:
        ours_rmse = (preq["sse"] / preq["n"]) ** 0.5
        record.write(f"stream-throughput-{args.workers}w" + ("-cluster" if cluster else ""),
                     f"end-to-end learning, {args.dataset} ({n:,} ratings), first event produced → last applied "
                     f"in Redis, {args.workers} worker(s), Redis {'Cluster' if cluster else 'one node'}",
                     {"events/s": ours, "river learn_one events/s": river_rate, "ratio to river": ours / river_rate,
                      "prequential RMSE": ours_rmse, "river RMSE": river_rmse, "RMSE ratio": ours_rmse / river_rmse},
                     "river: BiasedMF.learn_one over the same events in-process, no I/O, in the same run")


if __name__ == "__main__":
    main()

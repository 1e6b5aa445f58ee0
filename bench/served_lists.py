"""The lists the API serves, measured end to end as a platform would meet them.

A release's people are split: a fifth are **new** (held out of everything the system is trained on),
the rest train it. The run has its own Kafka topics, Redis database and MongoDB database: the
catalogue is built there, the training ratings are replayed through Kafka into a learning worker
(the rated sets the API folds in) and a worker keeping similarity and each person's recent history
(the order the rated set is folded in), the live ranker is fitted on them and
published as ``cinestream model publish`` does (``publish_live``), and a real API serves.

- **New people**: for R in 1, 5, 20, each new person (a fresh id per R) posts their first R events in
  time order through ``POST /api/events/batch`` with a service key; 1 s after the last post their
  list comes from ``GET /api/users/{id}/recommendations?k=10``, scored against the films they rated
  ≥ 4 afterwards.
- **Returning people**: some trained people's last ``steps`` events are held back (the time cut);
  they are then posted one at a time, and the list fetched before each is scored against the events
  that follow it (recall@10 and NDCG@10 of what they liked next).

Beside the API in the same run: most-popular (most-rated in training, unrated), similar-of-rated
(the API's own ``/movies/{id}/similar`` for the films rated, merged by summed similarity), and the
offline hybrid (``evaluation.lineup.hybrid``, content by metadata) fitted on the training data plus,
for new people, the R events they posted. Coverage, novelty and intra-list genre diversity are the
evaluation suite's (``online_models.metrics``).

Usage: ``python -m bench.served_lists --dataset ml-latest-small`` (needs the local stack).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis
from pymongo import MongoClient
from rich.console import Console
from rich.table import Table

from api.services.accounts import create_service_key
from bench import record
from bench.tools import free_port, wait_until_learned
from bench.whole_system import service_events, wait_for_api
from cinestream_client import Client
from core.settings import ONE_BLAS_THREAD, Settings, get_settings
from evaluation.datasets import load_documents
from jobs.catalogue import run_build
from jobs.publish import catalogue_ratings, publish_live
from online_models import metrics
from recommenders.base import top_k
from recommenders.content import ContentBased
from recommenders.data import Ratings
from recommenders.production import content_vectors, genre_vectors
from recommenders.production import hybrid as ranking_hybrid
from simulators.replay import release_ratings, replay
from storage.model_keys import STATS
from storage.mongo import connect, database
from storage.redis_store import connect as connect_redis
from streams.admin import delete_topics, ensure_topics
from streams.local_worker import start_worker, stop_worker

REDIS_DB = 12
K = 10
NEW_SHARE = 0.2
LIKED = 4.0
R_VALUES = (1, 5, 20)
SETTLE_S = 1.0  # a list is fetched this long after the person's last event was posted
STALL_S = 90.0
REFERENCES = ("most-popular", "similar-of-rated", "offline hybrid")


@dataclass
class Scored:
    """Lists of one source under one protocol, with what each person went on to like."""

    lists: list[list[int]] = field(default_factory=list)
    wanted: list[set[int]] = field(default_factory=list)

    def add(self, ranked: list[int], wanted: set[int]) -> None:
        self.lists.append((list(ranked) + [-1] * K)[:K])
        self.wanted.append(wanted)

    def measures(self, codes: dict[int, int], popularity: np.ndarray, n_users: int, genres: np.ndarray
                 ) -> dict[str, float]:
        top = np.array([[codes.get(m, -1) for m in ranked] for ranked in self.lists], dtype=np.int64)
        wanted = [{codes[m] for m in w if m in codes} for w in self.wanted]
        hits = metrics.hit_matrix(top, wanted)
        n_rel = [len(w) for w in wanted]
        valid = np.where(top >= 0, top, 0)
        return {"P@10": metrics.precision_at(hits, K), "R@10": metrics.recall_at(hits, n_rel, K),
                "NDCG@10": metrics.ndcg_at(hits, n_rel, K), "coverage": metrics.coverage(valid, len(popularity), K),
                "novelty": metrics.novelty(valid, popularity, n_users, K),
                "diversity": metrics.diversity(valid, genres, K), "people": float(len(self.lists))}


@dataclass
class Split:
    train: pd.DataFrame  # what the system is trained on (replayed, fitted)
    new: dict[int, pd.DataFrame]  # held-out person -> their events in time order
    returning: dict[int, pd.DataFrame]  # trained person -> their held-back last events


def split(ratings: pd.DataFrame, people: int, returning: int, steps: int, seed: int = 0) -> Split:
    """A fifth of the people held out whole; ``returning`` others lose their last ``steps`` events."""
    rng = np.random.default_rng(seed)
    users = np.unique(ratings["userId"].to_numpy())
    held = rng.choice(users, int(len(users) * NEW_SHARE), replace=False)
    by_user = dict(iter(ratings.groupby("userId", sort=False)))
    enough = [u for u in held.tolist() if len(by_user[u]) > max(R_VALUES)]
    new = {u: by_user[u] for u in rng.permutation(enough)[:people].tolist()}
    trained = np.setdiff1d(users, held)
    heavy = [u for u in trained.tolist() if len(by_user[u]) >= 3 * steps]
    back = {u: by_user[u].iloc[-steps:] for u in rng.permutation(heavy)[:returning].tolist()}
    dropped = np.isin(ratings["userId"].to_numpy(), held)
    for frame in back.values():
        dropped[ratings.index.get_indexer(frame.index)] = True
    return Split(ratings[~dropped], new, back)


def events(frame: pd.DataFrame, user: int, run: str) -> list[dict[str, Any]]:
    """``frame``'s ratings as the batch endpoint takes them, posted as ``user``."""
    return service_events(frame.assign(userId=user), f"{run}-{user}")


class Served:
    """The running API, as a platform calls it, and the premise every list rests on: what was posted
    had been learned when the list was fetched (the learning worker's count in Redis)."""

    def __init__(self, api: Client, learned: Callable[[], float], trained: int) -> None:
        self.api = api
        self.learned, self.trained = learned, trained
        self.posted = self.rounds = self.late = 0
        self.similar_cache: dict[int, list[tuple[int, float]]] = {}

    async def post(self, evts: list[dict[str, Any]]) -> None:
        answer = await self.api.post_events(evts)
        if answer["rejected"]:
            raise SystemExit(f"the API refused events: {answer}")
        self.posted += len(evts)

    async def settle(self) -> None:
        """Wait ``SETTLE_S`` after a round of posts; count the round late if the worker had not learned
        every event posted so far by then."""
        await asyncio.sleep(SETTLE_S)
        self.rounds += 1
        self.late += self.learned() < self.trained + self.posted

    async def list_of(self, user: int) -> list[int]:
        return [item["movieId"] for item in (await self.api.recommendations(user, K))["items"]]

    async def similar_of_rated(self, rated: list[int]) -> list[int]:
        merged: dict[int, float] = {}
        for movie in rated:
            if movie not in self.similar_cache:
                answer = await self.api.similar(movie, K)
                self.similar_cache[movie] = [(i["movieId"], i["similarity"]) for i in answer["items"]]
            for other, sim in self.similar_cache[movie]:
                merged[other] = merged.get(other, 0.0) + sim
        return [m for m, _ in sorted(merged.items(), key=lambda kv: -kv[1]) if m not in set(rated)][:K]


async def _gather(calls: list[Any], at_once: int = 16) -> list[Any]:
    gate = asyncio.Semaphore(at_once)

    async def one(call: Any) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


class Offline:
    """The references fitted in this process: most-popular and the offline hybrid."""

    def __init__(self, train: pd.DataFrame, movies: np.ndarray, documents: dict[int, dict[str, Any]]) -> None:
        self.movies = movies
        self.codes = {int(m): j for j, m in enumerate(movies.tolist())}
        self.vectors = content_vectors(movies, documents)
        counts = np.bincount(np.searchsorted(movies, train["movieId"].to_numpy()), minlength=len(movies))
        self.popular = movies[np.argsort(-counts, kind="stable")[:500]].tolist()
        self.counts = counts.astype(np.float64)

    def most_popular(self, rated: set[int]) -> list[int]:
        return [m for m in self.popular if m not in rated][:K]

    def hybrid_lists(self, frame: pd.DataFrame, people: dict[int, set[int]], depth: int = K) -> dict[int, list[int]]:
        """The ranking hybrid fitted on ``frame``; each person's top ``depth`` without what they rated."""
        users, u = np.unique(frame["userId"].to_numpy(), return_inverse=True)
        data = Ratings(u.astype(np.int64), np.searchsorted(self.movies, frame["movieId"].to_numpy()),
                       frame["rating"].to_numpy(np.float64), frame["timestamp"].to_numpy(np.int64), len(users),
                       len(self.movies))
        model = ranking_hybrid(lambda: ContentBased(self.vectors), rate=False).fit(data)
        ids = list(people)
        scores = np.array(model.score(np.searchsorted(users, ids)), dtype=np.float64)
        for row, person in enumerate(ids):
            scores[row, [self.codes[m] for m in people[person] if m in self.codes]] = -np.inf
        return {person: self.movies[top].tolist() for person, top in zip(ids, top_k(scores, depth), strict=True)}


@contextmanager
def environment(settings: Settings, dataset: str, console: Console) -> Iterator[tuple[Settings, dict[str, str], Path]]:
    """The run's own topics, Redis database and MongoDB database (catalogue built there), removed after."""
    run = uuid.uuid4().hex[:8]
    url = settings.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    env = {"CINESTREAM_TOPIC_RATINGS": f"served-ratings-{run}", "CINESTREAM_TOPIC_WATCHES": f"served-watches-{run}",
           "CINESTREAM_TOPIC_DEAD_LETTER": f"served-dlq-{run}", "CINESTREAM_REDIS_URL": url,
           "CINESTREAM_MONGO_DB": f"cinestream_served_{run}", "CINESTREAM_DATASET": dataset}
    mine = settings.model_copy(update={"topic_ratings": env["CINESTREAM_TOPIC_RATINGS"],
                                       "topic_watches": env["CINESTREAM_TOPIC_WATCHES"],
                                       "topic_dead_letter": env["CINESTREAM_TOPIC_DEAD_LETTER"],
                                       "redis_url": url, "mongo_db": env["CINESTREAM_MONGO_DB"], "dataset": dataset})
    client = redis.Redis.from_url(url)
    client.flushdb()
    topics = [env["CINESTREAM_TOPIC_RATINGS"], env["CINESTREAM_TOPIC_WATCHES"]]
    asyncio.run(ensure_topics(settings, topics, [env["CINESTREAM_TOPIC_DEAD_LETTER"]]))
    workdir = Path(tempfile.mkdtemp(prefix="cinestream-served-"))
    try:
        with console.status(f"building the {dataset} catalogue in the run's database…"):
            asyncio.run(run_build(mine, Console(quiet=True), force=True))
        yield mine, env, workdir
    finally:
        client.flushdb()
        asyncio.run(delete_topics(settings, [*topics, env["CINESTREAM_TOPIC_DEAD_LETTER"]]))
        MongoClient(settings.mongo_uri).drop_database(env["CINESTREAM_MONGO_DB"])
        shutil.rmtree(workdir, ignore_errors=True)


def _train_and_serve(mine: Settings, env: dict[str, str], workdir: Path, train: pd.DataFrame,
                     documents: dict[int, dict[str, Any]], console: Console) -> list[subprocess.Popen[bytes]]:
    """Workers learning the training ratings from Kafka, the live ranker published, the API started."""
    group = env["CINESTREAM_MONGO_DB"]
    procs = [start_worker({**env, "CINESTREAM_AGENTS": agents, "CINESTREAM_WORKER_GROUP": f"{group}-{role}"},
                          workdir / role) for role, agents in (("learn", "online_mf"), ("side", "similarity,recent"))]
    summary = asyncio.run(replay(mine, mine.topic_ratings, train))
    client = redis.Redis.from_url(mine.redis_url)
    with console.status(f"the worker learning {summary.events:,} training ratings…"):
        wait_until_learned(client, summary.events, STALL_S, f"logs in {workdir}", poll_s=0.1)
    with console.status("fitting and publishing the live ranker…"):
        asyncio.run(_publish(mine, train, documents))
    port = free_port()
    api = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--port", str(port),
                            "--log-level", "warning"], env={**os.environ, **ONE_BLAS_THREAD, **env},
                           stdout=subprocess.DEVNULL, stderr=(workdir / "api.log").open("wb"), start_new_session=True)
    procs.append(api)
    wait_for_api(port, api)
    env["port"] = str(port)
    return procs


async def _publish(mine: Settings, train: pd.DataFrame, documents: dict[int, dict[str, Any]]) -> None:
    redis_client = connect_redis(mine)
    try:
        data, catalogue, _ = catalogue_ratings(train, documents)
        await publish_live(redis_client, data, catalogue, documents)
    finally:
        await redis_client.aclose()


async def _key(mine: Settings) -> str:
    client = connect(mine)
    try:
        made = await create_service_key(database(client, mine), "bench-served",
                                        ["events:write", "recommendations:read"], "bench.served_lists")
        return str(made["key"])
    finally:
        client.close()


async def new_people(served: Served, offline: Offline, spl: Split, train: pd.DataFrame, run: str,
                     console: Console) -> dict[int, dict[str, Scored]]:
    """Per R: the API's lists and the references' for the new people."""
    out: dict[int, dict[str, Scored]] = {}
    first_id = int(max(train["userId"].max(), max(spl.new, default=0))) + 1
    for r in R_VALUES:
        ids = {person: first_id + r * 1_000_000 + j for j, person in enumerate(spl.new)}
        firsts = {person: frame.iloc[:r] for person, frame in spl.new.items()}
        with console.status(f"new people, R = {r}: posting their first events, then fetching their lists…"):
            await _gather([served.post(events(firsts[p], ids[p], run)) for p in spl.new])
            await served.settle()
            lists = await _gather([served.list_of(ids[p]) for p in spl.new])
            similar = await _gather([served.similar_of_rated(firsts[p]["movieId"].tolist()) for p in spl.new])
        with console.status(f"new people, R = {r}: fitting the offline hybrid with their events…"):
            extra = pd.concat([firsts[p].assign(userId=ids[p]) for p in spl.new])
            rated = {ids[p]: set(firsts[p]["movieId"].tolist()) for p in spl.new}
            hybrid = offline.hybrid_lists(pd.concat([train, extra]), rated)
        scored = {name: Scored() for name in ("API", *REFERENCES)}
        for j, person in enumerate(spl.new):
            later = spl.new[person].iloc[r:]
            wanted = set(later["movieId"][later["rating"] >= LIKED].tolist())
            if not wanted:
                continue
            scored["API"].add(lists[j], wanted)
            scored["most-popular"].add(offline.most_popular(rated[ids[person]]), wanted)
            scored["similar-of-rated"].add(similar[j], wanted)
            scored["offline hybrid"].add(hybrid[ids[person]], wanted)
        out[r] = scored
    return out


async def returning_people(served: Served, offline: Offline, spl: Split, train: pd.DataFrame, run: str,
                           console: Console) -> dict[str, Scored]:
    """Each returning person's held-back events posted one at a time, the list before each scored."""
    people = list(spl.returning)
    past = {p: set(train["movieId"][train["userId"] == p].tolist()) for p in people}
    steps = min(len(f) for f in spl.returning.values())
    with console.status("returning people: fitting the offline hybrid on the cut…"):
        hybrid = offline.hybrid_lists(train, past, K + steps)
    scored = {name: Scored() for name in ("API", *REFERENCES)}
    with console.status("returning people: posting their next events one at a time…") as status:
        for step in range(steps):
            status.update(f"returning people: step {step + 1}/{steps}")
            lists = await _gather([served.list_of(p) for p in people])
            for j, person in enumerate(people):
                frame = spl.returning[person]
                later = frame.iloc[step:]
                wanted = set(later["movieId"][later["rating"] >= LIKED].tolist())
                seen = past[person] | set(frame["movieId"].iloc[:step].tolist())
                if wanted:
                    scored["API"].add(lists[j], wanted)
                    scored["most-popular"].add(offline.most_popular(seen), wanted)
                    scored["offline hybrid"].add([m for m in hybrid[person] if m not in seen][:K], wanted)
            await _gather([served.post(events(spl.returning[p].iloc[step:step + 1], p, f"{run}-{step}"))
                           for p in people])
            await served.settle()
    del scored["similar-of-rated"]
    return scored


@dataclass
class Report:
    dataset: str
    new: dict[int, dict[str, dict[str, float]]]  # R -> source -> measures
    returning: dict[str, dict[str, float]]
    posted: int  # events the API accepted from the run
    rounds: int  # rounds of posts, each followed by fetching lists
    late: int  # rounds whose lists were fetched before the worker had learned every posted event


def run(settings: Settings, dataset: str, people: int, returning: int, steps: int, console: Console,
        seed: int = 0) -> Report:
    ratings = release_ratings(settings, dataset)
    documents = load_documents(settings.release_dir(dataset).parent, dataset)  # shared, fetched or generated
    spl = split(ratings, people, returning, steps, seed)
    movies = np.union1d(np.array(sorted(documents), dtype=np.int64), ratings["movieId"].to_numpy())
    offline = Offline(spl.train, movies, documents)
    genres = genre_vectors(movies, documents)
    run_id = uuid.uuid4().hex[:8]
    with environment(settings, dataset, console) as (mine, env, workdir):
        procs = _train_and_serve(mine, env, workdir, spl.train, documents, console)
        try:
            key = asyncio.run(_key(mine))
            client = redis.Redis.from_url(mine.redis_url)

            async def both() -> tuple[dict[int, dict[str, Scored]], dict[str, Scored], Served]:
                async with Client(f"http://127.0.0.1:{env['port']}", key=key, timeout=60) as api:
                    served = Served(api, lambda: float(client.hget(STATS, "n") or 0), len(spl.train))
                    fresh = await new_people(served, offline, spl, spl.train, run_id, console)
                    back = await returning_people(served, offline, spl, spl.train, run_id, console)
                    return fresh, back, served

            fresh, back, served = asyncio.run(both())
            # every event the API accepted reached the model: the lists were scored on what really happened
            wait_until_learned(client, served.trained + served.posted, STALL_S, f"logs in {workdir}", poll_s=0.1)
            counts = (served.posted, served.rounds, served.late)
        finally:
            for proc in procs:
                stop_worker(proc)
    n_users = int(spl.train["userId"].nunique())

    def measured(scored: dict[str, Scored]) -> dict[str, dict[str, float]]:
        return {name: s.measures(offline.codes, offline.counts, n_users, genres) for name, s in scored.items()}

    return Report(dataset, {r: measured(s) for r, s in fresh.items()}, measured(back), *counts)


COLUMNS = ("P@10", "R@10", "NDCG@10", "coverage", "novelty", "diversity")


def table(title: str, rows: dict[str, dict[str, float]]) -> Table:
    out = Table(title=title)
    out.add_column("list")
    for column in (*COLUMNS, "people"):
        out.add_column(column, justify="right")
    for name, m in rows.items():
        out.add_row(name, *(f"{m[c]:.4f}" for c in COLUMNS), f"{m['people']:.0f}")
    return out


def ratios(report: Report) -> dict[str, float]:
    """The figures issue 26 asks for, as ratios of the API to its references."""
    out = {}
    for r, rows in report.new.items():
        out[f"new R={r}: API / most-popular P@10"] = rows["API"]["P@10"] / max(rows["most-popular"]["P@10"], 1e-9)
        out[f"new R={r}: API / similar-of-rated P@10"] = (rows["API"]["P@10"]
                                                          / max(rows["similar-of-rated"]["P@10"], 1e-9))
        out[f"new R={r}: API / offline hybrid P@10"] = rows["API"]["P@10"] / max(rows["offline hybrid"]["P@10"], 1e-9)
    rows = report.returning
    out["returning: API / offline hybrid NDCG@10"] = rows["API"]["NDCG@10"] / max(rows["offline hybrid"]["NDCG@10"],
                                                                                   1e-9)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="ml-latest-small", help="any release (shared, fetched or generated)")
    parser.add_argument("--people", type=int, default=150, help="new people per history size")
    parser.add_argument("--returning", type=int, default=100, help="returning people")
    parser.add_argument("--steps", type=int, default=10, help="held-back events per returning person")
    parser.add_argument("--record", action="store_true",
                        help=f"also write the figures to {record.RECORDS}/served-lists-<dataset>.json, which the "
                             "documentation site's tables are made from")
    args = parser.parse_args()
    console = Console()
    report = run(get_settings(), args.dataset, args.people, args.returning, args.steps, console)
    for r, rows in report.new.items():
        console.print(table(f"{report.dataset}: new people, their first {r} event(s) posted, list 1 s later", rows))
    console.print(table(f"{report.dataset}: returning people, the list before each of their next events",
                        report.returning))
    for name, value in ratios(report).items():
        console.print(f"{name}: {value:.3f}")
    console.print(f"events posted through the API and accepted: {report.posted:,}; lists fetched 1 s after a round "
                  f"of posts before the worker had learned all of them: {report.late} of {report.rounds} rounds")
    if args.record:
        target = record.RECORDS / f"served-lists-{report.dataset}.json"
        target.write_text(json.dumps({
            "command": f"python -m bench.served_lists --dataset {args.dataset} --people {args.people} "
                       f"--returning {args.returning} --steps {args.steps}",
            "measured": time.strftime("%Y-%m-%d"), "commit": record.commit(), **dataclasses.asdict(report),
            "ratios": ratios(report)}, indent=1) + "\n")
        console.print(f"recorded in {target}")


if __name__ == "__main__":
    main()

"""API latency at a fixed request rate, measured by vegeta, against the running main job.

vegeta (``github.com/tsenart/vegeta``, built with Go on first use into the tool cache) sends
requests open-loop: on schedule, whatever the answers' latency, so queueing shows in the figures
instead of slowing the load down (hey's workers wait for each answer, which hides it). Each route
is driven for ``--seconds`` at ``--rate`` requests/s over a rotating list of targets (random
users, popular movies), authenticated with a service key, while ``cinestream load`` writes
``--background-rate`` events/s into Kafka. The floor is ``/health``, which answers from a
one-second cache without I/O: what the framework, the middleware and the loopback cost in the
same run, on the same loaded machine. After each route, the worst consumer group's lag on the
ratings topic: the stream kept up meanwhile when it stays near a batch; and the API process's CPU
over the route's run divided by its requests (the process found by the port it listens on).

``--experiment ab`` (or ``interleave``) adds a run of the recommendations route with an experiment
running (both arms the live path, so what differs is the experiment's own cost: the assignment, the
exposure handed to Kafka and, interleaving, a second list and the team draft), right after the run
without: the p99s side by side, measured in the same run. The experiment is stopped when its run ends.

``--during-refit`` runs ``cinestream ranker refit`` back to back beside the measured routes, at the
scheduler's background priority, as the scheduler would: each fits two candidates, judges them and makes
one live, so the lists also switch versions mid-run. The bench stops if a refit fails or none is running
when a route's run ends, and prints how many ran.

Usage (with ``bash scripts/main.sh`` running): ``python -m bench.api_latency [--seconds 60 --rate 500]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis
from rich.console import Console
from rich.progress import Progress

from api.services import accounts
from bench import record
from bench.tools import cpu_seconds, listening_pid, still_running, vegeta
from cinestream_client import Client
from core.settings import Settings, get_settings
from deploy.local.background import send_to_background
from online_models.experiments import Experiment
from storage import experiment_store
from storage.live_model_store import VERSION as RANKER_VERSION
from storage.mongo import connect, database
from storage.redis_store import connect as connect_redis
from streams.admin import consumer_lag

PEOPLE = 610  # the main job's replayed release (ml-latest-small): user ids 1..610
POPULAR = [1, 2, 32, 47, 50, 110, 150, 260, 296, 318, 356, 480, 527, 589, 593, 780, 1196, 1198, 1210, 2571, 2858,
           2959, 4993, 5952, 7153, 58559, 79132]  # films most of its people rated
WARM_RATE = 200  # requests/s of the warm-up: lists ranked afresh (about 2.7 ms each) take half a core
console = Console()

SEARCH_WORDS = ["star", "love", "man", "war", "matrix", "night", "day", "king", "life", "dead", "lord", "girl"]


def service_key(scopes: list[str]) -> str:
    """A service key of the running deployment for a bench's requests."""
    settings = get_settings()

    async def make() -> str:
        client = connect(settings)
        try:
            made = await accounts.create_service_key(database(client, settings), "bench", scopes, "bench")
            return str(made["key"])
        finally:
            client.close()

    return asyncio.run(make())


def _stream_lag(settings: Settings) -> float:
    """The worst consumer group's events not yet processed: the stream keeps up beside the
    requests when it stays near a batch, and starves when it grows by the background rate."""
    rows = asyncio.run(consumer_lag(settings, [settings.topic_ratings]))
    return float(max((row["lag"] for row in rows), default=0))


def _ranker_version(settings: Settings) -> bytes | None:
    """The live ranker's version: a refit promoted during a route (the scheduler's, after enough of the
    background's own events) re-ranks every kept list, and its figures are not a quiet run's."""
    with redis.Redis.from_url(settings.redis_url) as client:
        found = client.get(RANKER_VERSION)
        return found if isinstance(found, bytes) else None


@contextmanager
def _experiment(settings: Settings, mode: str) -> Iterator[None]:
    """An experiment running (both arms the live path) until leaving; the API's copy sees it within
    ``REFRESH_S``, waited for before the run."""
    name = f"bench-{mode}-{uuid.uuid4().hex[:8]}"

    async def define() -> None:
        client = connect_redis(settings)
        try:
            running = [e for e in (await experiment_store.experiments(client)).values() if e.status == "running"]
            if running:
                raise SystemExit(f"experiment {running[0].name} is running: stop it first")
            await experiment_store.define(client, Experiment(name, ("live", "live"), mode, started=time.time()))
        finally:
            await client.aclose()

    async def stop() -> None:
        client = connect_redis(settings)
        try:
            await experiment_store.stop(client, name, "the bench's run ended")
        finally:
            await client.aclose()

    asyncio.run(define())
    time.sleep(experiment_store.REFRESH_S + 0.5)
    try:
        yield
    finally:
        asyncio.run(stop())


LAG_LIMIT_S = 5.0  # the stream this many seconds of background behind: it is not being learned


def learning(lag: float, rate: float) -> None:
    """The figures mean nothing if no worker learns the background (a main job without its workers, or
    workers starved): stop when the lag has grown past ``LAG_LIMIT_S`` seconds of it."""
    if rate > 0 and lag > rate * LAG_LIMIT_S:
        raise SystemExit(f"the stream is {lag:,.0f} events behind ({lag / rate:.1f} s of the background): "
                         "no worker is learning it, or they cannot keep up; is the main job running?")


def attack(tool: Path, urls: list[str], seconds: int, rate: float, key: str) -> dict[str, float]:
    """One vegeta run over ``urls`` (round robin): achieved rate, p50, p99, max (ms) and errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".targets", delete=False) as targets:
        targets.write("\n".join(f"GET {u}" for u in urls) + "\n")
    try:
        attacked = subprocess.run([str(tool), "attack", f"-targets={targets.name}", f"-rate={rate:g}/s",
                                   f"-duration={seconds}s", "-timeout=10s", "-keepalive=true",
                                   f"-header=Authorization: Bearer {key}"], capture_output=True, check=True)
    finally:
        Path(targets.name).unlink()
    report = subprocess.run([str(tool), "report", "-type=json"], input=attacked.stdout, capture_output=True,
                            check=True)
    figures: dict[str, Any] = json.loads(report.stdout)
    ms = {q: figures["latencies"][q] / 1e6 for q in ("50th", "99th", "max")}
    codes = {int(c): n for c, n in figures["status_codes"].items()}
    # 503: refused past capacity (api/admission.py); 0: no answer within vegeta's timeout
    return {"requests/s": figures["rate"], "p50 ms": ms["50th"], "p99 ms": ms["99th"], "max ms": ms["max"],
            "503": codes.get(503, 0), "timeouts": codes.get(0, 0),
            "errors": sum(n for c, n in codes.items() if not 200 <= c < 400 and c not in (0, 503))}


class Refits:
    """``cinestream ranker refit`` back to back in the background, until stopped."""

    def __init__(self, errors: Any) -> None:
        self.done: list[int] = []
        self._stopping = False
        self._errors = errors  # a file for the refits' own words, should one fail
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping:
            self._proc = subprocess.Popen([sys.executable, "-m", "cli.main", "ranker", "refit"],
                                          stdout=subprocess.DEVNULL, stderr=self._errors)
            send_to_background(self._proc.pid)
            self.done.append(self._proc.wait())
            if self.done[-1] != 0:
                return

    def running(self) -> None:
        """Stop the bench unless a refit is running now and none failed."""
        if any(code != 0 for code in self.done) or not self._thread.is_alive():
            self._errors.seek(0)
            raise SystemExit(f"a background refit failed: {self._errors.read().decode(errors='replace')[-500:]}")
        if self._proc is None or self._proc.poll() is not None:
            raise SystemExit("no refit was running when the route's run ended")

    def stop(self) -> None:
        self._stopping = True
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--background-rate", type=float, default=2000.0)
    parser.add_argument("--cold", action="store_true",
                        help="no warm-up: the measured runs include each person's first list since the API started")
    parser.add_argument("--routes", default="floor,recommendations,similar,trending,movie,search",
                        help="which routes, comma-separated")
    parser.add_argument("--experiment", choices=["ab", "interleave"], default=None,
                        help="also the recommendations with an experiment running (live against live)")
    parser.add_argument("--during-refit", action="store_true",
                        help="refits of the ranker back to back beside the measured routes")
    record.add_option(parser)
    args = parser.parse_args()
    tool = vegeta()
    settings = get_settings()
    client = Client(f"http://{settings.api_host}:{settings.api_port}")  # the routes' URLs; vegeta sends the requests
    key = service_key(["recommendations:read", "history:read"])
    rng = np.random.default_rng(0)
    users = rng.integers(1, PEOPLE + 1, 5000).tolist()
    movies = rng.choice(POPULAR, 5000).tolist()
    routes = {
        "floor": ("/health (floor)", [client.url("health")]),
        "recommendations": ("recommendations", [client.url("recommendations", {"k": 10}, user_id=u) for u in users]),
        "similar": ("similar", [client.url("similar", {"k": 10}, movie_id=m) for m in movies]),
        "trending": ("trending", [client.url("trending", {"k": 10})]),
        "movie": ("movie card", [client.url("movie", movie_id=m) for m in movies]),
        "search": ("search", [client.url("search", {"q": w}) for w in SEARCH_WORDS]),
    }
    chosen = [routes[name] for name in args.routes.split(",")]
    if args.experiment:
        at = next(j for j, (name, _) in enumerate(chosen) if name == "recommendations") + 1
        chosen.insert(at, (f"recommendations, {args.experiment} experiment", routes["recommendations"][1]))
    api = listening_pid(settings.api_port)  # None: not this user's process, and its CPU goes unmeasured
    total = args.seconds * len(chosen) + 30
    # under SCHED_IDLE: it stands for the platforms, which run on machines of their own; 0: an idle stream
    refits: Refits | None = None
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as refit_errors:  # their own words
        load = subprocess.Popen([sys.executable, "-m", "cli.main", "load", "--rate",
                                 f"{args.background_rate:g}", "--duration", str(total)],
                                stdout=subprocess.DEVNULL, stderr=errors) if args.background_rate > 0 else None
        if load is not None:
            send_to_background(load.pid)

        def load_running() -> None:
            if load is not None:
                still_running(load, errors, "the background load")

        results: dict[str, dict[str, float]] = {}
        try:
            time.sleep(3)  # the load generator's start-up
            load_running()
            # every distinct target once, at a low rate, before the measured runs: a process's first requests
            # load the catalogue and the item factors, and a person's first list is ranked afresh (the
            # process keeps it until their next event or a new model); --cold measures without this
            if not args.cold:
                distinct = list(dict.fromkeys(u for _, urls in chosen for u in urls))
                console.print(f"warm-up: {len(distinct):,} distinct targets once each at {WARM_RATE} requests/s")
                attack(tool, distinct, math.ceil(len(distinct) / WARM_RATE) + 1, WARM_RATE, key)
            refits = Refits(refit_errors) if args.during_refit else None
            if refits:
                time.sleep(5)  # past the refit's reading of the history: into its fits
            with Progress() as progress:
                task = progress.add_task("routes", total=len(chosen))
                for name, urls in chosen:
                    progress.update(task, description=name)
                    used = cpu_seconds(api) if api else 0.0
                    version = _ranker_version(settings)
                    with _experiment(settings, args.experiment) if "experiment" in name else nullcontext():
                        results[name] = attack(tool, urls, args.seconds, args.rate, key)
                    results[name]["ranker promoted"] = float(_ranker_version(settings) != version)
                    if api:  # the API's own CPU over the run, a request's share of it
                        results[name]["API CPU ms/request"] = ((cpu_seconds(api) - used) * 1e3
                                                               / (results[name]["requests/s"] * args.seconds))
                    results[name]["stream lag"] = _stream_lag(settings)
                    load_running()
                    if refits:
                        refits.running()
                        results[name]["refits finished"] = sum(code == 0 for code in refits.done)
                    learning(results[name]["stream lag"], args.background_rate)
                    progress.advance(task)
        finally:
            if load is not None:
                load.terminate()
            if refits is not None:
                refits.stop()
    table = pd.DataFrame(results).T
    if "/health (floor)" in table.index:
        table["p99 / floor"] = table["p99 ms"] / table.loc["/health (floor)", "p99 ms"]
    print(f"vegeta open-loop at {args.rate:g} requests/s for {args.seconds} s per route, "
          f"{args.background_rate:g} events/s in the background" + (" (the load ran throughout)" if load else "")
          + (", ranker refits back to back (one running at the end of every route)" if args.during_refit else ""))
    print(table.round(2).to_string())
    swapped = [str(route) for route, row in table.iterrows() if row["ranker promoted"]]
    if swapped:
        print(f"a refit was promoted during {', '.join(swapped)}: every kept list was ranked again by the new "
              "version meanwhile, so these routes' figures are not a quiet run's")
    if args.record:
        rows = record.rows_of(table)
        mine: dict[str, float | str] = {"p99 / floor": "not run", **rows.get("recommendations", {})}
        record.write("api-latency" + ("-during-refit" if args.during_refit else ""),
                     f"API latency, vegeta open-loop at {args.rate:g} requests/s for {args.seconds} s per route, "
                     f"{args.background_rate:g} events/s learned in the background"
                     + (", ranker refits back to back" if args.during_refit else ""),
                     {f"{route}: {column}": rows[route][column] for route in rows
                      for column in ("p99 ms",) if column in rows[route]}
                     | {"recommendations p99 / floor": mine["p99 / floor"],
                        "routes during which a refit was promoted": ", ".join(swapped) or "none",
                        "errors": float(table["errors"].sum()),
                        "stream lag at the end, events": float(table["stream lag"].max())},
                     "floor: /health on the same server; warm-up over every target first" if not args.cold
                     else "floor: /health on the same server; cold: no warm-up", rows)


if __name__ == "__main__":
    main()

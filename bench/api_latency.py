"""API latency at a fixed request rate, measured by hey (Debian), against the running main job.

Each route is driven for ``--seconds`` at ``--rate`` requests/s in total, split over ``--users``
hey processes (one URL each: hey cannot vary the URL) of ``--workers`` workers each (``-q`` is a
per-worker rate). A hey worker waits for each answer, so the rate holds only while the latency stays
under workers × users / rate (160 ms by default); the achieved rate is printed beside the figures.
Meanwhile ``cinestream load`` writes ``--background-rate`` events/s into Kafka. Every request's
latency and status come from hey's CSV output. The floor is ``/health``, which answers from a
one-second cache without I/O: what the framework, the middleware and the loopback cost.

Usage (with ``bash scripts/main.sh`` running): ``python -m bench.api_latency [--seconds 60 --rate 500]``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from cinestream import accounts
from cinestream.settings import get_settings
from storage.mongo import connect, database


def _service_key() -> str:
    settings = get_settings()

    async def make() -> str:
        client = connect(settings)
        try:
            made = await accounts.create_service_key(database(client, settings), "bench-api-latency",
                                                     ["recommendations:read", "history:read"], "bench")
            return str(made["key"])
        finally:
            client.close()

    return asyncio.run(make())


def _hey(url: str, seconds: int, rate: float, workers: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(latencies in ms, status codes) of one hey process: ``workers`` workers, ``rate`` requests/s in all."""
    done = subprocess.run(["hey", "-z", f"{seconds}s", "-c", str(workers), "-q", f"{rate / workers:g}", "-o", "csv",
                           "-H", f"Authorization: Bearer {key}", url], capture_output=True, text=True, check=True)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    return (np.array([float(r["response-time"]) * 1000 for r in rows]),
            np.array([int(r["status-code"]) for r in rows]))


def drive(urls: list[str], seconds: int, rate: float, workers: int, key: str) -> dict[str, float]:
    with ThreadPoolExecutor(len(urls)) as pool:
        parts = list(pool.map(lambda u: _hey(u, seconds, rate / len(urls), workers, key), urls))
    ms, codes = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return {"requests/s": len(ms) / seconds, "p50 ms": float(np.percentile(ms, 50)),
            "p99 ms": float(np.percentile(ms, 99)), "max ms": float(ms.max()),
            "errors": int((codes >= 400).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--users", type=int, default=10, help="distinct users (one hey process each)")
    parser.add_argument("--workers", type=int, default=8, help="hey workers per process")
    parser.add_argument("--background-rate", type=float, default=2000.0)
    args = parser.parse_args()
    if shutil.which("hey") is None:
        sys.exit("error: hey not found: apt-get install -y hey")
    settings = get_settings()
    base = f"http://{settings.api_host}:{settings.api_port}"
    key = _service_key()
    users = np.random.default_rng(0).choice(np.arange(1, 611), args.users, replace=False).tolist()
    movies = [1, 260, 318, 356, 480, 589, 593, 1196, 2571, 2959][: args.users]
    routes = {
        "/health (floor)": [f"{base}/health"] * args.users,
        "recommendations": [f"{base}/api/users/{u}/recommendations?k=10" for u in users],
        "similar": [f"{base}/api/movies/{m}/similar?k=10" for m in movies],
        "trending": [f"{base}/api/trending?k=10"] * args.users,
        "movie card": [f"{base}/api/movies/{m}" for m in movies],
    }
    total = args.seconds * (len(routes) + 1)
    load = subprocess.Popen([sys.executable, "-m", "cinestream.cli", "load", "--rate", f"{args.background_rate:g}",
                             "--duration", str(total)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        results = {name: drive(urls, args.seconds, args.rate, args.workers, key) for name, urls in routes.items()}
    finally:
        load.terminate()
    table = pd.DataFrame(results).T
    table["p99 / floor"] = table["p99 ms"] / table.loc["/health (floor)", "p99 ms"]
    print(f"{args.rate:g} requests/s for {args.seconds} s per route, {args.background_rate:g} events/s in the "
          f"background, {args.users} hey processes × {args.workers} workers")
    print(table.round(2).to_string())


if __name__ == "__main__":
    main()

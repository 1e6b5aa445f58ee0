"""ALS on a 25-million-rating synthetic matrix shaped like MovieLens 25M: memory and time.

    python -m bench.als_memory [--ratings 25000000] [--iterations 5]

The matrix has ml-25m's shape (162,541 users × 59,047 movies, 0.26% dense) and its skew:
movie popularity follows a Zipf law and user activity a log-normal, so a few blockbusters and
heavy raters dominate as in the real data. Prints the peak RSS after generating the ratings and
after fitting (goal: under 4 GB), and the time per ALS iteration.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from rich.console import Console

from bench import record
from recommenders.als import ImplicitALS
from recommenders.data import Ratings

USERS, MOVIES = 162_541, 59_047


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is KiB on Linux


def synthetic(n: int, seed: int = 0) -> Ratings:
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(mean=0.0, sigma=1.2, size=USERS)
    draws = int(n * 1.35)  # popular (user, movie) pairs repeat: draw more, keep distinct pairs, trim to n
    per_user = np.maximum(np.round(activity / activity.sum() * draws), 1).astype(np.int64)
    users = np.repeat(np.arange(USERS, dtype=np.int64), per_user)
    cdf = np.cumsum(1.0 / np.arange(1, MOVIES + 1) ** 0.9)
    items = np.searchsorted(cdf, rng.random(len(users)) * cdf[-1]).astype(np.int64)
    keys = np.unique(users * MOVIES + items)  # one rating per (user, movie), as in MovieLens
    del users, items
    if len(keys) > n:
        keys = np.sort(rng.choice(keys, size=n, replace=False))
    ratings = rng.integers(1, 11, size=len(keys)).astype(np.float32) / 2
    return Ratings(keys // MOVIES, keys % MOVIES, ratings, np.zeros(0, np.int64), USERS, MOVIES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=25_000_000)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=5)
    record.add_option(parser)
    args = parser.parse_args()
    console = Console()
    started = time.perf_counter()
    with console.status(f"generating {args.ratings:,} ratings…"):
        data = synthetic(args.ratings)
    console.print(f"synthetic matrix: {len(data):,} ratings, {USERS:,} users × {MOVIES:,} movies "
                  f"({len(data) / USERS / MOVIES:.2%} dense) in {time.perf_counter() - started:.1f}s; "
                  f"peak RSS {peak_rss_gib():.2f} GiB")
    ImplicitALS(factors=2, iterations=1).fit(Ratings.from_ids([1, 2], [1, 1], [4.0, 3.0])[0])  # load the kernel
    model = ImplicitALS(factors=args.factors, iterations=args.iterations)
    started = time.perf_counter()
    with console.status(f"fitting implicit ALS, {args.factors} factors, {args.iterations} iterations…"):
        model.fit(data)
    seconds = time.perf_counter() - started
    peak = peak_rss_gib()
    console.print(f"ALS fit: {seconds:.1f}s ({seconds / args.iterations:.1f}s per iteration); "
                  f"peak RSS {peak:.2f} GiB (goal < 4 GiB: {'met' if peak < 4 else 'NOT met'})")
    if args.record:
        record.write("als-memory", f"implicit ALS on a synthetic {len(data):,}-rating matrix shaped like MovieLens "
                                   f"25M, {args.factors} factors, {args.iterations} iterations",
                     {"fit s": seconds, "s an iteration": seconds / args.iterations, "peak RSS GiB": peak},
                     "peak RSS includes the generated matrix")


if __name__ == "__main__":
    main()

"""``cinestream simulate``: simulated people (``simulators.people``) using the running API for a while,
then what they did and what the system made of it.

The run has a platform's service key of its own (``events:write``, ``recommendations:read``), revoked
when it ends. The people keep their ids from run to run (``first_user`` onward, the same seed gives
the same people), so a second run meets people the system already knows.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.services.accounts import create_service_key, revoke_service_key
from catalogue.layouts import find_layout, read_movies
from catalogue.readers import Rejections
from catalogue.titles import parse_title
from cinestream_client import Client
from core.settings import Settings
from simulators.people import Population, Simulation, Tally, population
from simulators.replay import release_ratings
from storage.mongo import connect, database

ACTIONS = ("list", "browse", "search")


def release_people(settings: Settings, dataset: str, people: int, seed: int) -> tuple[Population, dict[int, str]]:
    """The hidden tastes from the release's ratings, and its titles (for the words people search)."""
    ratings = release_ratings(settings, dataset)
    titles: dict[int, str] = {}
    genres: dict[int, list[str]] = {}
    for _, movie, raw, kinds in read_movies(find_layout(settings.release_dir(dataset)), Rejections()):
        titles[movie] = parse_title(raw).title
        genres[movie] = [g for g in kinds if g and g != "(no genres listed)"]
    return population(ratings, people, np.random.default_rng(seed), genres=genres), titles


async def _new_key(settings: Settings) -> tuple[str, str]:
    """A service key for the run: (its id, its secret)."""
    client = connect(settings)
    try:
        made = await create_service_key(database(client, settings), "simulated people",
                                        ["events:write", "recommendations:read"], "cinestream simulate")
        return str(made["key_id"]), str(made["key"])
    finally:
        client.close()


async def _revoke(settings: Settings, key_id: str) -> None:
    client = connect(settings)
    try:
        await revoke_service_key(database(client, settings), key_id, "cinestream simulate")
    finally:
        client.close()


async def simulate(settings: Settings, base_url: str, people: Population, titles: dict[int, str], duration_s: float,
                   rate: float, think_s: float, first_user: int, seed: int, console: Console
                   ) -> tuple[Tally, list[int]]:
    """Run the people against the API at ``base_url`` for ``duration_s``; return what they did and the
    trending list at the end."""
    key_id, key = await _new_key(settings)
    try:
        async with Client(base_url, key=key) as client:
            await client.call("health")
            sim = Simulation(client, people, first_user, seed=seed, think_s=think_s, titles=titles)
            columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
                       TimeRemainingColumn())
            with Progress(*columns, console=console) as bar:
                task = bar.add_task(f"{rate:g} sessions/s", total=duration_s, status="")

                def progress(elapsed: float, tally: Tally) -> None:
                    bar.update(task, completed=elapsed,
                               status=f"{tally.sessions:,} sessions, {tally.events['accepted']:,} events")

                tally = await sim.run_for(duration_s, rate, progress)
            await asyncio.sleep(1.0)  # the last events through the stream before trending is read
            trending = [int(item["movieId"]) for item in (await client.trending(10))["items"]]
    finally:
        await _revoke(settings, key_id)
    return tally, trending


def report(tally: Tally, trending: list[int], people: Population, titles: dict[int, str], console: Console) -> int:
    """What the people did, per action, and how trending compares with the release's most rated 50;
    returns that overlap."""
    table = Table(title=f"{tally.sessions:,} sessions ({tally.late_sessions:,} started over a second late)")
    for column in ("action", "films shown", "taken", "take rate", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    for action in (*ACTIONS, "post"):
        table.add_row(action, f"{tally.shown[action]:,}", f"{tally.taken[action]:,}",
                      f"{tally.take_rate(action):.3f}" if action != "post" else "",
                      f"{tally.percentile_ms(action, 50):.1f}", f"{tally.percentile_ms(action, 99):.1f}")
    console.print(table)
    def listed(counts: Counter[str]) -> str:
        return ", ".join(f"{name} ×{n:,}" for name, n in counts.items()) or "none"

    console.print(f"events: {listed(tally.events)}; asked again after Retry-After: {listed(tally.retries)}; "
                  f"given up: {listed(tally.errors)}")
    most_rated = set(people.movies[np.argsort(-people.popularity)[:50]].tolist())
    overlap = sum(m in most_rated for m in trending)
    console.print(f"trending now: {', '.join(titles.get(m, str(m)) for m in trending)}")
    console.print(f"trending's top 10 in the release's 50 most rated: {overlap} of {len(trending)}")
    return overlap

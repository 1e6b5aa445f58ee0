"""One evaluation run: read a dataset, split it, fit and score a line-up of models with progress.

Shared by ``cinestream evaluate`` (our models) and ``bench/accuracy.py`` (ours and the
references), so both score on exactly the same protocol.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import scipy.sparse as sp
from rich.console import Console
from rich.progress import Progress

from evaluation.datasets import load_documents, load_ratings
from evaluation.splits import random_split, temporal_split
from evaluation.suite import RankingTask, Result, evaluate
from recommenders.base import Recommender
from recommenders.content import TEXT_WEIGHT
from recommenders.data import FloatArray, IntArray, Ratings
from recommenders.production import content_vectors, genre_vectors, text_content_vectors, warm_up

RANKED_USERS = 10_000  # ranking measures over at most this many test users (all of them up to ml-1m)


@dataclass(frozen=True)
class Prepared:
    dataset: str
    split: str
    train: Ratings
    test: Ratings
    item_ids: IntArray
    vectors: sp.csr_matrix  # content vectors (``recommenders.content``)
    genres: FloatArray  # one-hot genres: what diversity is measured over
    with_text: sp.csr_matrix | None = None  # content vectors with the overview embeddings (``embed=True``)

    def describe(self) -> str:
        n = len(self.train) + len(self.test)
        return (f"{self.dataset}: {n:,} ratings, {self.train.n_users:,} users, {self.train.n_items:,} movies; "
                f"{self.split}: train {len(self.train):,}, test {len(self.test):,}")


def prepare(data_dir: Path, dataset: str, split: Literal["random", "temporal"] = "random", test_share: float = 0.2,
            last: int = 5, seed: int = 0, embed: bool = False, cache_dir: Path | None = None,
            text_weight: float = TEXT_WEIGHT, last_share: float | None = None, releases: Path | None = None
            ) -> Prepared:
    """The split and the content vectors of release ``dataset``, found under ``releases`` (default
    ``data_dir``, where TMDB and ml-100k's knowledge graph are too)."""
    frame = load_ratings(releases or data_dir, dataset)
    documents = load_documents(data_dir, dataset, releases)
    data, _, item_ids = Ratings.from_ids(frame.userId, frame.movieId, frame.rating, frame.timestamp)
    if split == "random":
        train, test = random_split(data, test_share, seed)
        label = f"random split, {test_share:.0%} held out, seed {seed}"
    else:
        train, test = temporal_split(data, last, share=last_share)
        label = (f"temporal split, each user's last {last} held out" if last_share is None
                 else f"temporal split, each user's last {last_share:.0%} held out")
    with_text = text_content_vectors(item_ids, documents, cache_dir, text_weight) if embed and cache_dir else None
    return Prepared(dataset, label, train, test, item_ids, content_vectors(item_ids, documents),
                    genre_vectors(item_ids, documents), with_text)


def available_memory() -> int:
    """Bytes the kernel says a new allocation can take (``MemAvailable``)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 1 << 62


def too_big(model: Recommender, train: Ratings) -> str | None:
    """Why ``model`` cannot be fitted on ``train`` here (its fit would need more than 80 % of the memory
    the machine has left), or None when it can."""
    needed, free = model.memory_needed(train), available_memory()
    if needed <= 0.8 * free:
        return None
    return f"its fit needs {needed / 2**30:,.1f} GiB here (dense similarity matrix), {free / 2**30:,.1f} GiB available"


def run(factories: Mapping[str, Callable[[], Recommender]], prepared: Prepared, console: Console,
        ranked_users: int = RANKED_USERS) -> tuple[list[Result], dict[str, Recommender]]:
    """Fit and score each model; a model whose fit would need more memory than the machine has left is
    skipped with its reason (a dense similarity matrix at ml-25m's size), not left to the OOM killer."""
    warm_up()
    everyone = RankingTask.from_split(prepared.train, prepared.test)
    task = everyone.sample(ranked_users)
    if task is not everyone:
        console.print(f"ranking measured over {ranked_users:,} test users drawn at random")
    results: list[Result] = []
    fitted: dict[str, Recommender] = {}
    with Progress(console=console, transient=True) as bar:
        job = bar.add_task("evaluating", total=len(factories))
        for name, make in factories.items():
            bar.update(job, description=f"fitting and scoring {name}")
            model = make()
            reason = too_big(model, prepared.train)
            if reason:
                console.print(f"skipped {name}: {reason}")
                bar.advance(job)
                continue
            started = time.perf_counter()
            model.fit(prepared.train)
            seconds = time.perf_counter() - started
            result = evaluate(model, prepared.train, prepared.test, item_vectors=prepared.genres, fitted=True,
                              fit_seconds=seconds, task=task)
            result.name = name
            results.append(result)
            fitted[name] = model
            bar.advance(job)
    return results, fitted


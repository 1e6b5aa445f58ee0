"""Our models with the settings we ship, built for one dataset (what ``evaluate`` and the bench run)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from rich.console import Console

from evaluation.embeddings import overview_embeddings
from recommenders.als import ExplicitALS, ImplicitALS
from recommenders.base import Recommender
from recommenders.baseline import Baseline, Popularity
from recommenders.content import TEXT_WEIGHT, ContentBased, combine, metadata_vectors
from recommenders.data import FloatArray, IntArray
from recommenders.ease import EASE
from recommenders.hybrid import Hybrid
from recommenders.knn import ItemKNN, UserKNN
from recommenders.rp3beta import RP3beta
from recommenders.sequence import Sequence
from recommenders.sequence_ease import SequenceEASE
from recommenders.svd import SVD

Factory = Callable[[], Recommender]


def content_vectors(item_ids: IntArray, documents: Mapping[int, Mapping[str, Any]]) -> sp.csr_matrix:
    return metadata_vectors([documents.get(int(m), {}) for m in item_ids])


def text_content_vectors(item_ids: IntArray, documents: Mapping[int, Mapping[str, Any]], cache_dir: Path,
                         weight: float = TEXT_WEIGHT, console: Console | None = None) -> sp.csr_matrix | None:
    """Metadata TF-IDF beside the overview embeddings (cached under ``cache_dir``); None when the
    dataset has no overviews (MovieLens releases without TMDB)."""
    if not any(d.get("overview") for d in documents.values()):
        return None
    return combine(content_vectors(item_ids, documents), overview_embeddings(item_ids, documents, cache_dir, console),
                   weight)


def genre_names(documents: Mapping[int, Mapping[str, Any]]) -> list[str]:
    """Every genre of the catalogue: the columns of ``genre_vectors``."""
    return sorted({g for d in documents.values() for g in d.get("genres", [])})


def genre_vectors(item_ids: IntArray, documents: Mapping[int, Mapping[str, Any]]) -> FloatArray:
    """One-hot genres per item: what intra-list diversity is measured over."""
    genres = genre_names(documents)
    column = {g: j for j, g in enumerate(genres)}
    out = np.zeros((len(item_ids), max(len(genres), 1)), dtype=np.float32)
    for row, movie in enumerate(item_ids.tolist()):
        for g in documents.get(movie, {}).get("genres", []):
            out[row, column[g]] = 1.0
    return out


def our_models(vectors: sp.csr_matrix, seed: int = 0, with_text: sp.csr_matrix | None = None) -> dict[str, Factory]:
    """Our line-up; ``with_text``: content vectors that include overview embeddings, run as one more model."""

    def content() -> Recommender:
        return ContentBased(vectors)

    def best_content() -> Recommender:  # overview embeddings measured to help (bench/accuracy.py): use them
        return ContentBased(with_text, name="content + overview") if with_text is not None else content()

    extra: dict[str, Factory] = {}
    if with_text is not None:
        extra["content + overview"] = lambda: ContentBased(with_text, name="content + overview")
    return {
        "popularity": Popularity, "baseline": Baseline, "SVD (SGD)": lambda: SVD(seed=seed),
        "ALS": lambda: ExplicitALS(seed=seed), "implicit ALS": lambda: ImplicitALS(seed=seed),
        "item-kNN": ItemKNN, "user-kNN": UserKNN, "EASE": EASE, "RP3beta": RP3beta, "sequence": Sequence,
        "sequence + EASE": lambda: SequenceEASE(seed=seed),
        "content": content, **extra,
        "hybrid": lambda: hybrid(best_content, seed, rating_blend="boosted"),
    }


def hybrid(content: Factory, seed: int = 0, rate: bool = True, rating_blend: str = "ridge") -> Hybrid:
    """Our hybrid with ``content`` as its content member; ``rate=False``: its ranking half alone, the same
    lists without the rating blend (publishing needs no more: ``Hybrid``'s docstring)."""
    raters: list[Factory] = [lambda: SVD(seed=seed), lambda: ExplicitALS(seed=seed), ItemKNN, content] if rate else []
    return Hybrid(raters=raters, rankers=[lambda: ImplicitALS(seed=seed), Popularity, content], content=content,
                  popularity=Popularity, seed=seed, rating_blend=rating_blend)

"""The hybrid we ship and the catalogue features it reads: what the publish and refit jobs fit, and what
the offline line-up evaluates under the name "hybrid" (``evaluation.lineup``), so that both are the
same model by construction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from rich.console import Console

from recommenders.als import ExplicitALS, ImplicitALS
from recommenders.base import Recommender
from recommenders.baseline import Popularity
from recommenders.content import TEXT_WEIGHT, combine, metadata_vectors
from recommenders.data import FloatArray, IntArray, Ratings
from recommenders.hybrid import Hybrid
from recommenders.knn import ItemKNN
from recommenders.overview_embeddings import overview_embeddings
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


def hybrid(content: Factory, seed: int = 0, rate: bool = True, rating_blend: str = "ridge") -> Hybrid:
    """Our hybrid with ``content`` as its content member; ``rate=False``: its ranking half alone, the same
    lists without the rating blend (publishing needs no more: ``Hybrid``'s docstring)."""
    raters: list[Factory] = [lambda: SVD(seed=seed), lambda: ExplicitALS(seed=seed), ItemKNN, content] if rate else []
    return Hybrid(raters=raters, rankers=[lambda: ImplicitALS(seed=seed), Popularity, content], content=content,
                  popularity=Popularity, seed=seed, rating_blend=rating_blend)


def warm_up() -> None:
    """Load numba's compiled ALS kernel (cached on disk after the first run) before anything is timed."""
    tiny, _, _ = Ratings.from_ids([1, 1, 2], [1, 2, 1], [4.0, 3.0, 5.0])
    ImplicitALS(factors=2, iterations=1).fit(tiny)

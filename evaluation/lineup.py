"""Our models with the settings we ship, built for one dataset (what ``evaluate`` and the bench run)."""

from __future__ import annotations

import scipy.sparse as sp

from recommenders.als import ExplicitALS, ImplicitALS
from recommenders.base import Recommender
from recommenders.baseline import Baseline, Popularity
from recommenders.content import ContentBased
from recommenders.ease import EASE
from recommenders.knn import ItemKNN, UserKNN
from recommenders.production import Factory, hybrid
from recommenders.rp3beta import RP3beta
from recommenders.sequence import Sequence
from recommenders.sequence_ease import SequenceEASE
from recommenders.svd import SVD


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

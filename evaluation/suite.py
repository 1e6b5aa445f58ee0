"""Score any ``Recommender`` on a train/test split: rating accuracy and top-k ranking quality.

The protocol, the same for every model (as Surprise keeps evaluation apart from algorithms):

- rating measures (RMSE, MAE) over every test rating, predictions clipped to the rating scale;
  models that do not predict ratings (popularity, implicit ALS) get none;
- ranking measures over the users with at least one *relevant* test item (rated ≥ 4): each
  ranks the whole catalogue minus what it rated in training; P@k, R@k, NDCG@k, MAP@k, hit
  rate, catalogue coverage, novelty (self-information of what is recommended) and
  intra-list diversity (over the item vectors given, e.g. content vectors); the lists go
  ``depth`` deep so the precision–recall curve has one point per cut-off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp

from online_models import metrics
from recommenders.base import Recommender, top_k
from recommenders.data import FloatArray, IntArray, Ratings

RELEVANT = 4.0
USERS_PER_BLOCK = 256  # bounds the users × items score block in memory


@dataclass
class Result:
    name: str
    fit_seconds: float
    rmse: float | None = None
    mae: float | None = None
    ranking: dict[str, float] = field(default_factory=dict)
    curve_precision: list[float] = field(default_factory=list)
    curve_recall: list[float] = field(default_factory=list)
    predict_seconds: float = 0.0
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class RankingTask:
    """Who is ranked, what counts as a hit, and what each user may not be shown again."""

    users: IntArray
    relevant: list[set[int]]
    seen: sp.csr_matrix  # users × items, the training ratings

    @classmethod
    def from_split(cls, train: Ratings, test: Ratings, threshold: float = RELEVANT) -> RankingTask:
        liked = test.subset(test.ratings >= threshold)
        users, relevant = metrics.relevant_sets(liked.users, liked.items)
        return cls(users, relevant, train.matrix(np.ones(len(train))))

    def sample(self, n: int, seed: int = 0) -> RankingTask:
        """At most ``n`` of the users, drawn at random: every model scores the whole catalogue for each,
        which at ml-25m's size (162,541 × 59,047) is hours for the slower ones."""
        if len(self.users) <= n:
            return self
        pick = np.sort(np.random.default_rng(seed).choice(len(self.users), n, replace=False))
        return RankingTask(self.users[pick], [self.relevant[j] for j in pick], self.seen)


def rank(scores_of: Callable[[IntArray], FloatArray], task: RankingTask, depth: int) -> IntArray:
    """Top-``depth`` unseen items of each task user, in blocks of users."""
    lists = []
    for start in range(0, len(task.users), USERS_PER_BLOCK):
        block = task.users[start:start + USERS_PER_BLOCK]
        scores = np.array(scores_of(block), dtype=np.float64)
        seen = task.seen[block].tocoo()
        scores[seen.row, seen.col] = -np.inf
        lists.append(top_k(scores, depth))
    return np.vstack(lists)


def ranking_measures(top: IntArray, task: RankingTask, popularity: FloatArray, n_users: int,
                     item_vectors: FloatArray | None, k: int) -> tuple[dict[str, float], FloatArray, FloatArray]:
    hits = metrics.hit_matrix(top, task.relevant)
    n_relevant = [len(r) for r in task.relevant]
    measures = {
        f"P@{k}": metrics.precision_at(hits, k), f"R@{k}": metrics.recall_at(hits, n_relevant, k),
        f"NDCG@{k}": metrics.ndcg_at(hits, n_relevant, k), f"MAP@{k}": metrics.map_at(hits, n_relevant, k),
        f"HR@{k}": metrics.hit_rate_at(hits, k), "coverage": metrics.coverage(top, len(popularity), k),
        "novelty": metrics.novelty(top, popularity, n_users, k),
    }
    if item_vectors is not None:
        measures["diversity"] = metrics.diversity(top, item_vectors, k)
    precision, recall = metrics.pr_curve(hits, n_relevant)
    return measures, precision, recall


def evaluate(model: Recommender, train: Ratings, test: Ratings, k: int = 10, depth: int = 50,
             item_vectors: FloatArray | None = None, fitted: bool = False, fit_seconds: float = 0.0,
             task: RankingTask | None = None) -> Result:
    """Fit (unless ``fitted``) and score ``model``; ``fit_seconds`` is wall time of the fit."""
    if not fitted:
        started = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - started
    result = Result(model.name, fit_seconds)
    started = time.perf_counter()
    if model.rates:
        errors = test.ratings - np.clip(model.predict_at(test.users, test.items, test.timestamps), 0.5, 5.0)
        result.rmse, result.mae = metrics.rmse(errors), metrics.mae(errors)
    task = task or RankingTask.from_split(train, test)
    top = rank(model.score, task, depth)
    measures, precision, recall = ranking_measures(top, task, train.item_counts().astype(np.float64), train.n_users,
                                                   item_vectors, k)
    result.ranking, result.curve_precision, result.curve_recall = measures, precision.tolist(), recall.tolist()
    result.predict_seconds = time.perf_counter() - started
    return result


def evaluate_all(models: Sequence[Recommender], train: Ratings, test: Ratings, k: int = 10, depth: int = 50,
                 item_vectors: FloatArray | None = None,
                 progress: Callable[[str], None] | None = None) -> list[Result]:
    task = RankingTask.from_split(train, test)
    results = []
    for model in models:
        if progress:
            progress(model.name)
        results.append(evaluate(model, train, test, k, depth, item_vectors, task=task))
    return results

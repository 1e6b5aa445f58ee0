"""The hybrid: blends what each model knows, learned on a validation split, and switches for cold start.

Ratings: ``r̂ = w₀ + Σ_m w_m r̂_m`` with weights fitted by ridge least squares on a validation
share held out of the training data (members fitted on the rest), then members refitted on
all of it — feature-weighted blending in its simplest, honest form (Sill et al. 2009).

Ranking: each member's scores are standardised per user and summed with weights chosen on the
same validation split to maximise NDCG@10 (a small grid: a handful of members, so an exhaustive
search is cheap and cannot overfit much).

Switching, where a blend has nothing to blend:

- a new movie (no rating in training) gets the content model's estimate and rank;
- a user with fewer than ``cold_user`` ratings is ranked by popularity and content (the
  onboarding picks are those ratings), not by factors learned from almost nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Self

import numpy as np

from online_models import metrics
from recommenders.base import Recommender, top_k
from recommenders.data import FloatArray, IntArray, Ratings

Factory = Callable[[], Recommender]
GRID = (0.0, 0.25, 0.5, 1.0, 2.0)


def _standardised(scores: FloatArray) -> FloatArray:
    finite = np.where(np.isfinite(scores), scores, np.nan)
    mean, std = np.nanmean(finite, axis=1, keepdims=True), np.nanstd(finite, axis=1, keepdims=True)
    return np.nan_to_num((finite - mean) / np.where(std > 0, std, 1), nan=-1e9)


class Hybrid(Recommender):
    name = "hybrid"

    def __init__(self, raters: Sequence[Factory], rankers: Sequence[Factory], content: Factory | None = None,
                 popularity: Factory | None = None, validation_share: float = 0.1, ridge: float = 1.0,
                 cold_user: int = 5, seed: int = 0) -> None:
        self.raters, self.rankers = list(raters), list(rankers)
        self.content_factory, self.popularity_factory = content, popularity
        self.validation_share, self.ridge, self.cold_user, self.seed = validation_share, ridge, cold_user, seed

    def _members(self) -> tuple[list[Recommender], list[Recommender]]:
        raters = [make() for make in self.raters]
        rankers = [make() for make in self.rankers]
        return raters, rankers

    def fit(self, train: Ratings) -> Self:
        held = np.random.default_rng(self.seed).random(len(train)) < self.validation_share
        inner, valid = train.subset(~held), train.subset(held)
        raters, rankers = self._members()
        for model in (*raters, *rankers):
            model.fit(inner)
        self._learn_rating_weights(raters, valid)
        self._learn_ranking_weights(rankers, inner, valid)
        self.members, self.ranking_members = self._members()
        for model in (*self.members, *self.ranking_members):
            model.fit(train)
        self.content = self.content_factory().fit(train) if self.content_factory else None
        self.popularity = self.popularity_factory().fit(train) if self.popularity_factory else None
        self.item_counts, self.user_counts = train.item_counts(), train.user_counts()
        return self

    def _learn_rating_weights(self, raters: list[Recommender], valid: Ratings) -> None:
        x = np.column_stack([np.ones(len(valid))] + [np.clip(m.predict(valid.users, valid.items), 0.5, 5.0)
                                                     for m in raters])
        penalty = self.ridge * np.eye(x.shape[1])
        penalty[0, 0] = 0.0  # the intercept is not shrunk
        self.rating_weights = np.linalg.solve(x.T @ x + penalty, x.T @ valid.ratings)

    def _learn_ranking_weights(self, rankers: list[Recommender], inner: Ratings, valid: Ratings) -> None:
        liked = valid.subset(valid.ratings >= 4.0)
        users, relevant = metrics.relevant_sets(liked.users, liked.items)
        seen = inner.matrix(np.ones(len(inner)))[users].tocoo()
        parts = []
        for model in rankers:
            scores = np.array(model.score(users), dtype=np.float64)
            scores[seen.row, seen.col] = -np.inf
            parts.append(_standardised(scores))
        n_relevant = [len(r) for r in relevant]
        best, best_ndcg = (1.0,) * len(parts), -1.0
        for weights in itertools.product(GRID, repeat=len(parts)):
            if not any(weights) or (max(weights) != 1.0):  # scale-free: one weight is always 1
                continue
            blended = sum(w * p for w, p in zip(weights, parts, strict=True))
            ndcg = metrics.ndcg_at(metrics.hit_matrix(top_k(np.asarray(blended), 10), relevant), n_relevant, 10)
            if ndcg > best_ndcg:
                best, best_ndcg = weights, ndcg
        self.ranking_weights, self.validation_ndcg = best, best_ndcg

    def predict(self, users: IntArray, items: IntArray) -> FloatArray:
        x = np.column_stack([np.ones(len(users))] + [np.clip(m.predict(users, items), 0.5, 5.0)
                                                     for m in self.members])
        estimate = x @ self.rating_weights
        new_items = self.item_counts[items] == 0
        if self.content is not None and new_items.any():
            estimate[new_items] = self.content.predict(users[new_items], items[new_items])
        return estimate

    def score(self, users: IntArray) -> FloatArray:
        blended = sum(w * _standardised(np.asarray(m.score(users), dtype=np.float64))
                      for w, m in zip(self.ranking_weights, self.ranking_members, strict=True) if w)
        scores = np.asarray(blended, dtype=np.float64)
        cold = self.user_counts[users] < self.cold_user
        if cold.any() and self.popularity is not None:
            fallback = _standardised(self.popularity.score(users[cold]))
            if self.content is not None:
                fallback = fallback + 0.5 * _standardised(self.content.score(users[cold]))
            scores[cold] = fallback
        return scores

"""The hybrid: blends what each model knows, learned on a validation split, and switches for cold start.

Ratings: ``r̂ = w₀ + Σ_m w_m r̂_m`` with weights fitted by ridge least squares on a validation
share held out of the training data (members fitted on the rest), then members refitted on
all of it — feature-weighted blending in its simplest, honest form (Sill et al. 2009); or, with
``rating_blend="boosted"``, gradient-boosted trees over the members' out-of-fold estimates and their
support (``recommenders.boosted_blend``).

Ranking: each member's scores are standardised per user and summed with weights chosen on the
same validation split to maximise NDCG@10 (a small grid: a handful of members, so an exhaustive
search is cheap and cannot overfit much), over at most ``validation_users`` people drawn at random:
each needs a score for every movie of every member, which at ml-25m's size (162,541 people ×
59,047 movies) would be 77 GB a member.

A hybrid without raters (``raters=[]``) ranks exactly as one with them: the ranking half never
reads the rating blend. Publishing lists uses it, which spares fitting item-kNN, whose dense
matrices would need about 185 GiB at ml-25m's size (``ItemKNN.memory_needed``).

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
from recommenders.boosted_blend import BoostedBlend, Support
from recommenders.data import FloatArray, IntArray, Ratings

Factory = Callable[[], Recommender]
GRID = (0.0, 0.25, 0.5, 1.0, 2.0)
VALIDATION_BLOCK = 1000


def standardised_rows(scores: FloatArray) -> FloatArray:
    """Each row as (score − mean) / std over its finite scores; a non-finite one (a seen movie's −inf)
    becomes −1e9. Rows without one take numpy's plain mean and std: the same numbers, 10× faster than
    the nan-aware pair, which took 65 % of publishing at ml-25m's size."""
    if np.isfinite(scores).all():
        mean, std = scores.mean(axis=1, keepdims=True), scores.std(axis=1, keepdims=True)
        return (scores - mean) / np.where(std > 0, std, 1)
    finite = np.where(np.isfinite(scores), scores, np.nan)
    mean, std = np.nanmean(finite, axis=1, keepdims=True), np.nanstd(finite, axis=1, keepdims=True)
    return np.nan_to_num((finite - mean) / np.where(std > 0, std, 1), nan=-1e9)


class Hybrid(Recommender):
    name = "hybrid"

    def __init__(self, raters: Sequence[Factory], rankers: Sequence[Factory], content: Factory | None = None,
                 popularity: Factory | None = None, validation_share: float = 0.1, ridge: float = 1.0,
                 cold_user: int = 5, validation_users: int = 5000, seed: int = 0,
                 rating_blend: str = "ridge") -> None:
        if rating_blend not in ("ridge", "boosted"):
            raise ValueError(f"rating_blend must be 'ridge' or 'boosted', not {rating_blend!r}")
        self.raters, self.rankers = list(raters), list(rankers)
        self.rating_blend = rating_blend
        self.validation_users = validation_users
        self.content_factory, self.popularity_factory = content, popularity
        self.validation_share, self.ridge, self.cold_user, self.seed = validation_share, ridge, cold_user, seed

    def _members(self) -> tuple[list[Recommender], list[Recommender]]:
        raters = [make() for make in self.raters]
        rankers = [make() for make in self.rankers]
        return raters, rankers

    def memory_needed(self, train: Ratings) -> int:
        raters, rankers = self._members()
        return max((m.memory_needed(train) for m in (*raters, *rankers)), default=0)

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
        self.support = Support(train) if self.raters else None  # publishing fits no raters: nothing to support
        self.boosted = (BoostedBlend(seed=self.seed).fit(self.raters, train)
                        if self.rating_blend == "boosted" and self.raters else None)
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
        if len(users) > self.validation_users:  # enough to choose among a few dozen weightings
            pick = np.sort(np.random.default_rng(self.seed).choice(len(users), self.validation_users, replace=False))
            users, relevant = users[pick], [relevant[j] for j in pick]
        grid = [w for w in itertools.product(GRID, repeat=len(rankers)) if any(w) and max(w) == 1.0]  # scale-free
        seen = inner.matrix(np.ones(len(inner)))
        ndcg = np.zeros(len(grid))
        for start in range(0, len(users), VALIDATION_BLOCK):  # n_items scores per user: bounded memory
            block, wanted = users[start:start + VALIDATION_BLOCK], relevant[start:start + VALIDATION_BLOCK]
            mine = seen[block].tocoo()
            parts = []
            for model in rankers:
                scores = np.array(model.score(block), dtype=np.float64)
                scores[mine.row, mine.col] = -np.inf
                parts.append(standardised_rows(scores))
            n_relevant = [len(r) for r in wanted]
            for g, weights in enumerate(grid):
                blended = sum(w * p for w, p in zip(weights, parts, strict=True) if w)
                hits = metrics.hit_matrix(top_k(np.asarray(blended), 10), wanted)
                ndcg[g] += metrics.ndcg_at(hits, n_relevant, 10) * len(block)
        best = int(np.argmax(ndcg))
        self.ranking_weights, self.validation_ndcg = grid[best], float(ndcg[best] / len(users))

    def predict(self, users: IntArray, items: IntArray) -> FloatArray:
        """Estimates as of each person's latest training rating."""
        latest = self.support.user_last[users] if self.support is not None else np.zeros(len(users), np.int64)
        return self.predict_at(users, items, latest)

    def predict_at(self, users: IntArray, items: IntArray, timestamps: IntArray) -> FloatArray:
        if self.boosted is not None and self.support is not None:
            estimate = self.boosted.predict_at(self.members, self.support, users, items, timestamps)
        else:
            x = np.column_stack([np.ones(len(users))] + [np.clip(m.predict(users, items), 0.5, 5.0)
                                                         for m in self.members])
            estimate = x @ self.rating_weights
        new_items = self.item_counts[items] == 0
        if self.content is not None and new_items.any():
            estimate[new_items] = self.content.predict(users[new_items], items[new_items])
        return estimate

    def score(self, users: IntArray) -> FloatArray:
        blended = sum(w * standardised_rows(np.asarray(m.score(users), dtype=np.float64))
                      for w, m in zip(self.ranking_weights, self.ranking_members, strict=True) if w)
        scores = np.asarray(blended, dtype=np.float64)
        cold = self.user_counts[users] < self.cold_user
        if cold.any() and self.popularity is not None:
            fallback = standardised_rows(self.popularity.score(users[cold]))
            if self.content is not None:
                fallback = fallback + 0.5 * standardised_rows(self.content.score(users[cold]))
            scores[cold] = fallback
        return scores

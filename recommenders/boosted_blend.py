"""The hybrid's rating half as gradient-boosted trees (LightGBM) over what its members predict and what
supports each prediction, the feature-weighted blending of the Netflix Prize (Sill et al. 2009) with
trees in place of the linear weights.

A linear blend gives each member one weight for everyone. Trees let the weight depend on the
support: item-kNN where a film has many ratings, the content model where it has few, the factors
for a person with a long history; and the rating's time, as timeSVD++'s drifting biases (Koren
2009) do: how long the person and the film had been rating and rated when the rating was made.

Trained on out-of-fold predictions: each member fitted ``folds`` times on the other folds predicts
the held one, so every training rating is a row for the trees (a validation share gives them a tenth
of the data, too little for trees), then the members are fitted once more on everything for
prediction. Cost: ``folds + 1`` fits of each member, and trees over one row per
training rating.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from recommenders.base import Recommender
from recommenders.data import FloatArray, IntArray, Ratings

DAY = 86_400.0
PRIOR_COUNT, PRIOR_MEAN = 5.0, 3.5  # means shrunk toward 3.5 as if each had 5 more ratings of it
TREES: dict[str, Any] = {"n_estimators": 500, "learning_rate": 0.03, "num_leaves": 31, "min_child_samples": 50,
         "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 1.0}


class Support:
    """What ``train`` says about each person and film: counts, shrunk means, the person's spread and
    when each started rating or being rated."""

    def __init__(self, train: Ratings) -> None:
        self.user_count, self.item_count = train.user_counts(), train.item_counts()
        user_sum = np.bincount(train.users, weights=train.ratings, minlength=train.n_users)
        user_square = np.bincount(train.users, weights=train.ratings ** 2, minlength=train.n_users)
        item_sum = np.bincount(train.items, weights=train.ratings, minlength=train.n_items)
        self.user_mean = (user_sum + PRIOR_COUNT * PRIOR_MEAN) / (self.user_count + PRIOR_COUNT)
        self.item_mean = (item_sum + PRIOR_COUNT * PRIOR_MEAN) / (self.item_count + PRIOR_COUNT)
        raw_mean = user_sum / np.maximum(self.user_count, 1)
        self.user_spread = np.sqrt(np.maximum(user_square / np.maximum(self.user_count, 1) - raw_mean ** 2, 0.0))
        never = np.iinfo(np.int64).max
        self.user_first = np.full(train.n_users, never)
        self.item_first = np.full(train.n_items, never)
        self.user_last = np.zeros(train.n_users, dtype=np.int64)
        np.minimum.at(self.user_first, train.users, train.timestamps)
        np.minimum.at(self.item_first, train.items, train.timestamps)
        np.maximum.at(self.user_last, train.users, train.timestamps)

    def features(self, users: IntArray, items: IntArray, timestamps: IntArray) -> FloatArray:
        """``(len(users), 7)``: log counts, shrunk means, the person's spread, and the days since the
        person's and the film's first rating (0 for one not seen before)."""
        since_user = np.maximum(timestamps - np.minimum(self.user_first[users], timestamps), 0) / DAY
        since_item = np.maximum(timestamps - np.minimum(self.item_first[items], timestamps), 0) / DAY
        return np.column_stack([np.log1p(self.user_count[users]), np.log1p(self.item_count[items]),
                                self.user_mean[users], self.item_mean[items], self.user_spread[users],
                                np.log1p(since_user), np.log1p(since_item)])


def member_columns(members: Sequence[Recommender], users: IntArray, items: IntArray) -> FloatArray:
    """Each member's estimate, clipped to the star scale."""
    return np.column_stack([np.clip(m.predict(users, items), 0.5, 5.0) for m in members])


class BoostedBlend:
    """Trees over the members' out-of-fold estimates and ``Support``; ``predict_at`` needs the members
    fitted on all of ``train`` and that data's ``Support``."""

    def __init__(self, folds: int = 5, seed: int = 0) -> None:
        self.folds, self.seed = folds, seed

    def fit(self, make_members: Sequence[Callable[[], Recommender]], train: Ratings) -> BoostedBlend:
        """``make_members``: factories of the rating members (each called once per fold)."""
        import lightgbm

        fold = np.random.default_rng(self.seed).integers(0, self.folds, len(train))
        rows = np.zeros((len(train), len(make_members) + 7))
        for k in range(self.folds):
            inner, held = train.subset(fold != k), train.subset(fold == k)
            members = [make().fit(inner) for make in make_members]
            rows[fold == k] = np.column_stack([member_columns(members, held.users, held.items),
                                               Support(inner).features(held.users, held.items, held.timestamps)])
        self.trees = lightgbm.LGBMRegressor(**TREES, random_state=self.seed, verbose=-1, n_jobs=2)
        self.trees.fit(rows, train.ratings)
        return self

    def predict_at(self, members: Sequence[Recommender], support: Support, users: IntArray, items: IntArray,
                   timestamps: IntArray) -> FloatArray:
        rows = np.column_stack([member_columns(members, users, items), support.features(users, items, timestamps)])
        return np.asarray(self.trees.predict(rows), dtype=np.float64)

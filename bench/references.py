"""The libraries a practitioner would otherwise pick, behind our ``Recommender`` interface.

Each adapter fits the library's own model on the same training ratings. Ratings of the test
pairs come from the library's own predict call. Ranking needs a score for every (user, movie)
pair, which Surprise and river only give one Python call at a time (6 million calls on
ml-latest-small), so their fitted parameters are read and scored in bulk with the same formula
as their ``estimate``: for SVD ``μ + b_u + b_i + p_u·q_i`` (SVD++ adds its implicit term); for
KNNBaseline our item-kNN scoring over Surprise's own similarity matrix and baselines.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Self

import numpy as np
import pandas as pd
from river import optim, reco
from threadpoolctl import threadpool_limits

from recommenders.base import Recommender
from recommenders.baseline import Baseline
from recommenders.data import FloatArray, IntArray, Ratings
from recommenders.knn import ItemKNN


def _surprise_trainset(train: Ratings) -> Any:
    import surprise

    frame = pd.DataFrame({"u": train.users, "i": train.items, "r": train.ratings})
    reader = surprise.Reader(rating_scale=(float(train.ratings.min()), float(train.ratings.max())))
    return surprise.Dataset.load_from_df(frame, reader).build_full_trainset()


def _inner(trainset: Any, codes: IntArray, users: bool) -> IntArray:
    """Our codes → Surprise inner ids (-1 where Surprise never saw the code)."""
    table = trainset._raw2inner_id_users if users else trainset._raw2inner_id_items
    return np.array([table.get(int(c), -1) for c in codes], dtype=np.int64)


class _Surprise(Recommender):
    algo: Any

    def _make(self) -> Any:
        raise NotImplementedError

    def fit(self, train: Ratings) -> Self:
        self.trainset = _surprise_trainset(train)
        self.algo = self._make()
        self.algo.fit(self.trainset)
        self.n_items = train.n_items
        return self

    def predict(self, users: IntArray, items: IntArray) -> FloatArray:
        return np.array([self.algo.predict(int(u), int(i), clip=False).est
                         for u, i in zip(users.tolist(), items.tolist(), strict=True)])


class SurpriseSVD(_Surprise):
    name = "Surprise SVD"

    def _make(self) -> Any:
        import surprise

        return surprise.SVD(random_state=0)

    def fit(self, train: Ratings) -> Self:
        super().fit(train)
        a, ts = self.algo, self.trainset
        users, items = _inner(ts, np.arange(train.n_users), True), _inner(ts, np.arange(train.n_items), False)
        known_u, known_i = users >= 0, items >= 0
        self.bu, self.bi = np.zeros(train.n_users), np.zeros(train.n_items)
        self.pu, self.qi = np.zeros((train.n_users, a.n_factors)), np.zeros((train.n_items, a.n_factors))
        self.bu[known_u], self.pu[known_u] = a.bu[users[known_u]], a.pu[users[known_u]]
        self.bi[known_i], self.qi[known_i] = a.bi[items[known_i]], a.qi[items[known_i]]
        return self

    def score(self, users: IntArray) -> FloatArray:
        return (self.trainset.global_mean + self.bu[users][:, None] + self.bi[None, :]
                + self.pu[users] @ self.qi.T)


class SurpriseSVDpp(_Surprise):
    """Surprise's SVD++ (Koren 2008) with its defaults: the rating model published tables compare
    against. Scored in bulk as its ``estimate``: ``μ + b_u + b_i + q_i·(p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j)``,
    ``N(u)`` the films the person rated in training."""

    name = "Surprise SVD++"

    def _make(self) -> Any:
        import surprise

        return surprise.SVDpp(random_state=0, cache_ratings=True)

    def fit(self, train: Ratings) -> Self:
        super().fit(train)
        a, ts = self.algo, self.trainset
        users, items = _inner(ts, np.arange(train.n_users), True), _inner(ts, np.arange(train.n_items), False)
        known_u, known_i = users >= 0, items >= 0
        y = np.zeros((train.n_items, a.n_factors))
        y[known_i] = a.yj[items[known_i]]
        rated = train.matrix(np.ones(len(train)))
        rated.data = np.ones_like(rated.data)  # a film rated twice is one member of N(u)
        size = np.asarray(rated.sum(axis=1)).ravel()
        implicit = (rated @ y) / np.sqrt(np.maximum(size, 1.0))[:, None]
        self.bu, self.bi = np.zeros(train.n_users), np.zeros(train.n_items)
        self.zu, self.qi = np.zeros((train.n_users, a.n_factors)), np.zeros((train.n_items, a.n_factors))
        self.bu[known_u], self.bi[known_i] = a.bu[users[known_u]], a.bi[items[known_i]]
        self.zu[known_u] = a.pu[users[known_u]] + implicit[known_u]
        self.qi[known_i] = a.qi[items[known_i]]
        return self

    def score(self, users: IntArray) -> FloatArray:
        return (self.trainset.global_mean + self.bu[users][:, None] + self.bi[None, :]
                + self.zu[users] @ self.qi.T)


class SurpriseKNNBaseline(_Surprise):
    name = "Surprise KNNBaseline"

    def _make(self) -> Any:
        import surprise

        return surprise.KNNBaseline(k=40, sim_options={"name": "pearson_baseline", "user_based": False},
                                    verbose=False)

    def fit(self, train: Ratings) -> Self:
        super().fit(train)
        ts = self.trainset
        items = _inner(ts, np.arange(train.n_items), False)
        scorer = ItemKNN(k=self.algo.k, shrinkage=0)
        scorer.baseline = Baseline()
        bu, bi = self.algo.compute_baselines()
        users = _inner(ts, np.arange(train.n_users), True)
        scorer.baseline.mean = ts.global_mean
        scorer.baseline.user_bias = np.where(users >= 0, bu[np.maximum(users, 0)], 0.0)
        scorer.baseline.item_bias = np.where(items >= 0, bi[np.maximum(items, 0)], 0.0)
        known = np.flatnonzero(items >= 0)
        scorer.slot = np.full(train.n_items, ts.n_items, dtype=np.int64)
        scorer.slot[known] = items[known]
        scorer.sim = np.zeros((ts.n_items + 1, ts.n_items + 1), dtype=np.float32)
        scorer.sim[:-1, :-1] = self.algo.sim
        scorer.by_user = train.matrix(train.ratings - scorer.baseline.predict(train.users, train.items))
        scorer.n_items = train.n_items
        self.scorer = scorer
        return self

    def score(self, users: IntArray) -> FloatArray:
        return self.scorer.score(users)


class RiverBiasedMF(Recommender):
    """river's online biased MF, one ``learn_one`` per training rating (``epochs`` passes)."""

    name = "river BiasedMF"

    def __init__(self, epochs: int = 3, seed: int = 0) -> None:
        self.epochs, self.seed = epochs, seed

    def fit(self, train: Ratings) -> Self:
        # The configuration of river's own BiasedMF example.
        self.model = reco.BiasedMF(n_factors=10, bias_optimizer=optim.SGD(0.025),
                                   latent_optimizer=optim.SGD(0.05),
                                   latent_initializer=optim.initializers.Normal(mu=0.0, sigma=0.1, seed=71),
                                   l2_bias=0.0, l2_latent=0.0, seed=self.seed)
        order = np.random.default_rng(self.seed).permutation(len(train))
        triples = list(zip(train.users[order].tolist(), train.items[order].tolist(), train.ratings[order].tolist(),
                           strict=True))
        for _ in range(self.epochs):
            for user, item, rating in triples:
                self.model.learn_one(user, item, rating)
        self.n_items = train.n_items
        return self

    def predict(self, users: IntArray, items: IntArray) -> FloatArray:
        return np.array([self.model.predict_one(u, i) for u, i in zip(users.tolist(), items.tolist(), strict=True)])

    def score(self, users: IntArray) -> FloatArray:
        m = self.model
        k = m.n_factors
        mean = m.global_mean.get()
        bu = np.array([m.u_biases.get(int(u), 0.0) for u in users])
        zero = np.zeros(k)
        pu = np.array([m.u_latents.get(int(u), zero) for u in users])
        bi = np.array([m.i_biases.get(i, 0.0) for i in range(self.n_items)])
        qi = np.array([m.i_latents.get(i, zero) for i in range(self.n_items)])
        return mean + bu[:, None] + bi[None, :] + pu @ qi.T


class ImplicitLibraryALS(Recommender):
    """``implicit``'s ALS with its defaults and its advice to keep BLAS single-threaded."""

    name = "implicit ALS (library)"
    rates = False

    def __init__(self, factors: int = 64, iterations: int = 15, seed: int = 0) -> None:
        self.factors, self.iterations, self.seed = factors, iterations, seed

    def fit(self, train: Ratings) -> Self:
        from implicit.als import AlternatingLeastSquares

        matrix = train.matrix(np.ones(len(train)), dtype=np.float32)
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # implicit's BLAS check, which the limit answers
            self.model = AlternatingLeastSquares(factors=self.factors, iterations=self.iterations,
                                                 random_state=self.seed)
            started = time.perf_counter()
            self.model.fit(matrix, show_progress=False)
            self.seconds = time.perf_counter() - started
        return self

    def score(self, users: IntArray) -> FloatArray:
        return np.asarray(self.model.user_factors[users] @ self.model.item_factors.T)


class CornacEASE(Recommender):
    """Cornac's EASE (``cornac.models.EASE``) with its defaults (λ 500, negative weights dropped), on the
    matrix ours is fitted on: a 1 for each film a person rated."""

    name = "Cornac EASE"
    rates = False

    def memory_needed(self, train: Ratings) -> int:
        return 3 * 8 * train.n_items**2  # its Gram matrix, the inverse and B, dense

    def fit(self, train: Ratings) -> Self:
        import cornac

        data = cornac.data.Dataset.from_uir(zip(train.users.tolist(), train.items.tolist(), [1.0] * len(train),
                                                strict=True), seed=0)
        self.model = cornac.models.EASE(verbose=False, seed=0).fit(data)
        self.rows = np.array([data.uid_map.get(u, -1) for u in range(train.n_users)])
        self.columns = np.array([data.iid_map.get(i, -1) for i in range(train.n_items)])
        return self

    def score(self, users: IntArray) -> FloatArray:
        out = np.zeros((len(users), len(self.columns)))
        known, has = self.rows[users] >= 0, self.columns >= 0
        scores = np.asarray(self.model.U[self.rows[users[known]]] @ self.model.B)
        out[np.ix_(np.flatnonzero(known), np.flatnonzero(has))] = scores[:, self.columns[has]]
        return out

"""The one online MF every process shares: what its Redis rows are and how each stream learns them.

The stream's two learners (ratings, watches) write the same user and item rows; the API scores with
them and the bootstrap job refits them. A row written with one shape and read with another is
garbage, so the shape, the seed and each learner's rates are named here once.

Ratings take bold factor steps on settled biases (``lr`` 0.25 for biases, 1.0 for factors, the rates
``bench.stream_throughput``'s prequential run was tuned with). Watches were never tuned apart: they
keep ``BiasedMF``'s default rates, and each watch moves a row by ``watch_weight`` of a rating's step.

>>> MF.width
34
>>> learner = MF.ratings_learner()
>>> (learner.n_factors, learner.lr, learner.factor_lr, MF.watches_learner().lr)
(32, 0.25, 1.0, 0.3)
"""

from __future__ import annotations

from dataclasses import dataclass

from online_models.biased_mf import BiasedMF
from online_models.mf_rows import row_width


@dataclass(frozen=True)
class MFSpec:
    n_factors: int = 32
    seed: int = 0
    ratings_lr: float = 0.25
    ratings_factor_lr: float = 1.0

    @property
    def width(self) -> int:
        return row_width(self.n_factors)

    def ratings_learner(self) -> BiasedMF:
        return BiasedMF(n_factors=self.n_factors, lr=self.ratings_lr, factor_lr=self.ratings_factor_lr, seed=self.seed)

    def watches_learner(self) -> BiasedMF:
        return BiasedMF(n_factors=self.n_factors, seed=self.seed)

    def refit(self, lr: float) -> BiasedMF:
        """The shape the stream learns, at a batch fit's own rate (``cinestream model bootstrap``)."""
        return BiasedMF(n_factors=self.n_factors, lr=lr, seed=self.seed)


MF = MFSpec()

"""Online experiments between rankers: who sees which, interleaved lists, and a test that may be read
at any moment.

- **Assignment** is a hash of the person and the experiment's name (splitmix64), so a person is always in
  the same arm of an experiment, independently across experiments, with nothing stored per person.
- **Team-draft interleaving** (Radlinski, Kurup and Joachims 2008) merges two rankers' lists into one:
  the teams take turns (a coin decides who picks first whenever they are level), each picking its best
  film not already shown; a film taken credits the team that put it there. Each person compares both
  rankers on the same visit, so between-person variance drops out: Chapelle et al. (2012) measured
  interleaving needing one to two orders of magnitude less traffic than A/B on the same question.
- **The mixture sequential probability ratio test** (mSPRT; Johari, Pekelis and Walsh 2017) over a
  normal estimate θ̂ ~ N(θ, V) with the mixing prior θ ~ N(0, τ²):
  Λ = √(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²))). Its p-value ``min(1, 1/Λ)``, kept as a running
  minimum, stays valid however often it is looked at: the experiment may be stopped the moment it
  drops under α, which a t-test read every day would turn into a false positive most of the time.
- **CUPED** (Deng et al. 2013) removes from each person's metric the part a pre-period covariate
  predicts, which narrows the interval without moving its centre.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# the test plugs in the sample variance, which a few hundred observations of a rare or heavy-tailed
# outcome (films taken, an interleaving won) can badly understate: nothing is concluded before this many
# observations in all (every arm together, so that A/B and interleaving start deciding at the same count)
BURN_IN = 1000

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):  # the arithmetic is modulo 2**64 on purpose
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def arm_of(people: npt.ArrayLike, experiment: str, weights: Sequence[float] = (0.5, 0.5)) -> IntArray:
    """Each person's arm (0, 1, …) in ``experiment``, in proportion to ``weights``: the same answer
    every time and in every process, and unrelated to their arm in any other experiment."""
    salt = np.uint64(int.from_bytes(hashlib.blake2b(experiment.encode(), digest_size=8).digest(), "little"))
    hashed = _splitmix64(np.asarray(people, dtype=np.int64).astype(np.uint64) ^ salt)
    uniform = (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)
    bounds = np.cumsum(weights, dtype=np.float64)
    return np.searchsorted(bounds / bounds[-1], uniform, side="right").astype(np.int64)


def team_draft(first: Sequence[int], second: Sequence[int], k: int,
               rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Interleave two ranked lists into ``k`` films: ``(films, team)`` where ``team[i]`` is 0 when the
    first list put ``films[i]`` there and 1 for the second."""
    lists, cursor, picked = (list(first), list(second)), [0, 0], [0, 0]
    films: list[int] = []
    team: list[int] = []
    shown: set[int] = set()
    while len(films) < k:
        turn = 0 if picked[0] < picked[1] else 1 if picked[1] < picked[0] else int(rng.random() < 0.5)
        for who in (turn, 1 - turn):  # a list with nothing left unshown passes its turn
            own = lists[who]
            while cursor[who] < len(own) and own[cursor[who]] in shown:
                cursor[who] += 1
            if cursor[who] < len(own):
                break
        else:
            break
        film = lists[who][cursor[who]]
        films.append(film)
        team.append(who)
        shown.add(film)
        picked[who] += 1
    return films, team


def preference(team: Sequence[int], taken: Sequence[bool]) -> int:
    """One interleaved list's verdict: +1 when more of the films taken came from the first list, −1 when
    more came from the second, 0 on a tie (nothing taken included)."""
    own = np.asarray(team)[np.asarray(taken, dtype=bool)]
    return int(np.sign((own == 0).sum() - (own == 1).sum()))


def msprt_p(estimate: float, variance: float, tau2: float) -> float:
    """1/Λ of the mixture SPRT for θ = 0, capped at 1 (see the module's docstring); keep its running
    minimum to have the always-valid p-value."""
    if variance <= 0:
        return 1.0
    log_lambda = 0.5 * np.log(variance / (variance + tau2)) + tau2 * estimate**2 / (2 * variance * (variance + tau2))
    return float(min(1.0, np.exp(-log_lambda)))


def cuped(metric: FloatArray, covariate: FloatArray) -> FloatArray:
    """The metric less what the pre-period covariate predicts of it (same mean, smaller variance)."""
    spread = covariate.var()
    if spread == 0:
        return metric.copy()
    theta = np.cov(metric, covariate, ddof=0)[0, 1] / spread
    return metric - theta * (covariate - covariate.mean())


@dataclass
class Running:
    """Count, mean and sum of squared deviations of a stream of numbers (Welford), for one arm."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: npt.ArrayLike) -> None:
        """Merge a batch (Chan et al.'s parallel form: one numpy pass, not a loop per value)."""
        batch = np.asarray(values, dtype=np.float64).ravel()
        if not len(batch):
            return
        n, mean, m2 = len(batch), float(batch.mean()), float(((batch - batch.mean()) ** 2).sum())
        total = self.n + n
        delta = mean - self.mean
        self.m2 += m2 + delta**2 * self.n * n / total
        self.mean += delta * n / total
        self.n = total

    @property
    def variance(self) -> float:
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0


@dataclass
class SequentialTest:
    """An always-valid test of ``arms[0]`` against ``arms[1]`` (two-sample: A/B), or of one stream's mean
    against zero (one arm: interleaving's preferences). ``effect`` is the size of difference worth
    finding, in the metric's standard deviations: the mixing prior's τ. No p-value under ``burn_in``
    observations in all (see ``BURN_IN``)."""

    arms: tuple[Running, ...]
    effect: float = 0.1
    burn_in: int = BURN_IN
    p: float = 1.0

    @classmethod
    def two_sample(cls, effect: float = 0.1, burn_in: int = BURN_IN) -> SequentialTest:
        return cls((Running(), Running()), effect, burn_in)

    @classmethod
    def one_sample(cls, effect: float = 0.1, burn_in: int = BURN_IN) -> SequentialTest:
        return cls((Running(),), effect, burn_in)

    def estimate(self) -> tuple[float, float, float]:
        """(θ̂, its variance V, the metric's standard deviation)."""
        if len(self.arms) == 1:
            only = self.arms[0]
            return only.mean, only.variance / max(only.n, 1), float(np.sqrt(only.variance))
        a, b = self.arms
        pooled = float(np.sqrt((a.variance + b.variance) / 2))
        return a.mean - b.mean, a.variance / max(a.n, 1) + b.variance / max(b.n, 1), pooled

    def look(self) -> float:
        """Update and return the always-valid p-value; any moment is a fair moment to look."""
        if min(arm.n for arm in self.arms) < 2 or sum(arm.n for arm in self.arms) < self.burn_in:
            return self.p
        estimate, variance, spread = self.estimate()
        self.p = min(self.p, msprt_p(estimate, variance, (self.effect * spread) ** 2))
        return self.p

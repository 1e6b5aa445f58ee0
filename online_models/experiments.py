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
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


MODES = ("ab", "interleave")
RANKER = "ranker:"  # a variant ``ranker:<version>``: a kept version of the live ranker (the scheduler's refits)
VARIANT_PATTERN = r"^(live|popular|ranker:[1-9][0-9]{0,9})$"


def ranker_version(variant: str) -> int | None:
    """The ranker version a variant names, or None (``live``, ``popular``).

    >>> ranker_version("ranker:12"), ranker_version("live")
    (12, None)
    """
    return int(variant[len(RANKER):]) if variant.startswith(RANKER) else None


@dataclass(frozen=True)
class Experiment:
    """Two variants served to people, by arm (``ab``) or merged by team draft (``interleave``)."""

    name: str
    variants: tuple[str, str]
    mode: str = "ab"
    weights: tuple[float, float] = (0.5, 0.5)
    window_s: float = 1800.0  # an outcome counts for a list shown at most this long before it
    effect: float = 0.1  # the smallest difference worth finding, in standard deviations (the mSPRT's τ)
    alpha: float = 0.05
    status: str = "running"  # or "stopped"
    started: float = 0.0
    reason: str = ""  # why it stopped
    # guardrails: an arm past one stops the experiment (``look``)
    max_p99_ms: float = 250.0  # the list's 99th percentile latency, in each arm
    max_error_rate: float = 0.01  # lists that failed to build, a share of each arm's
    min_coverage: float = 0.0  # each arm's distinct films shown, a share of the other's (0: reported only)
    promote: bool = False  # when decided, ask the scheduler's gate to make a winning ranker version live


@dataclass
class Shown:
    """One list a person was shown under an experiment: its arm (or ``-1``, interleaved, with each
    film's team), when, and which of its films they have taken since."""

    experiment: str
    request_id: str
    arm: int
    items: list[int]
    teams: list[int]
    at: float
    taken: list[bool]
    served_ms: float = 0.0  # how long the list took to build
    failed: bool = False  # it could not be built (``items`` is then empty)

    def takes(self) -> int:
        return sum(self.taken)


@dataclass
class Person:
    """One person in one experiment: their arm (``-1``: interleaved) and their takes so far (A/B: films
    taken from lists shown; interleaving: films taken from the first arm's picks less the second's)."""

    arm: int
    takes: int = 0


def take(lists: Sequence[Shown], movie: int, at: float, window_s: float) -> tuple[Shown, int] | None:
    """The latest list of one experiment that showed ``movie`` within ``window_s`` before ``at``, and
    where, now marked taken; None when there is none or it was credited with the film already (last
    touch: a film counts once however often it was shown or taken)."""
    best: tuple[Shown, int] | None = None
    for shown in lists:
        if shown.at <= at <= shown.at + window_s and (best is None or shown.at >= best[0].at) and movie in shown.items:
            best = (shown, shown.items.index(movie))
    if best is None or best[0].taken[best[1]]:
        return None
    best[0].taken[best[1]] = True
    return best


def sequential_test(experiment: Experiment, sums: dict[str, float]) -> SequentialTest:
    """The experiment's sequential test from its sums (two arms under A/B, one under interleaving)."""
    def arm(suffix: str) -> Running:
        n, s, q = (sums.get(f"{name}{suffix}", 0.0) for name in ("n", "s", "q"))
        return Running(int(n), s / n if n else 0.0, max(q - s * s / n, 0.0) if n else 0.0)

    test = (SequentialTest((arm(""),), experiment.effect) if experiment.mode == "interleave"
            else SequentialTest((arm(":0"), arm(":1")), experiment.effect))
    test.p = sums.get("p", 1.0)
    return test


def sample_ratio_p(counts: Sequence[float], weights: Sequence[float]) -> float:
    """The chi-square test's p-value (one degree of freedom: two arms) of the exposures per arm against
    the weights: a tiny one means assignment or logging is broken (a sample-ratio mismatch), whatever
    the metric says.

    >>> round(sample_ratio_p([5000, 5000], [0.5, 0.5]), 3), sample_ratio_p([5300, 4700], [0.5, 0.5]) < 1e-6
    (1.0, True)
    """
    total = float(sum(counts))
    if total <= 0:
        return 1.0
    expected = np.asarray(weights, dtype=np.float64) / float(sum(weights)) * total
    statistic = float((((np.asarray(counts, dtype=np.float64) - expected) ** 2) / expected).sum())
    return math.erfc(math.sqrt(statistic / 2))


def join(lists: dict[int, list[Shown]], people: dict[tuple[str, int], Person], exposures: Sequence[tuple[int, Shown]],
         outcomes: Sequence[tuple[int, int, float]], windows: dict[str, float],
         now: float) -> dict[str, dict[str, float]]:
    """A batch's exposures ``(person, list)`` added to the people's open ``lists`` (a request id seen
    before is the same exposure delivered again: ignored), then its outcomes ``(person, film, when)``
    credited to them (``take``) in each experiment of ``windows`` (name -> window): the increments to
    each experiment's sums. ``lists`` and ``people`` ((experiment, person) -> ``Person``) are updated in
    place, and lists whose window closed by ``now`` (the clock, not an event's time: platforms send
    their own) are dropped.

    The sums are over people, the unit that is assigned (their lists are not independent of each
    other): per arm (``:<arm>``; no suffix under interleaving) ``n`` people, and ``s`` and ``q``, the
    sum and the sum of squares of their takes. Beside them ``lists`` and ``shown`` (lists and films
    served) and, under interleaving, ``takes:<team>``; for the guardrails, ``ms<arm>:<bucket>``, a
    histogram of how long the lists took (``latency_bucket``), and ``errors<arm>``, lists that failed.

    A loop per exposure and per outcome: a batch holds few of either for a person, and only the films
    people took (a rating of 4 or more, a completed watch) are outcomes.

    >>> lists, people = {}, {}
    >>> shown = Shown("e", "r1", 0, [10, 20], [], 100.0, [False, False])
    >>> join(lists, people, [(7, shown)], [(7, 20, 150.0), (7, 20, 160.0), (7, 30, 150.0)], {"e": 600.0}, 160.0)
    {'e': {'n:0': 1.0, 'lists:0': 1.0, 'shown:0': 2.0, 'ms:0:0': 1.0, 's:0': 1.0, 'q:0': 1.0}}
    >>> join(lists, people, [(7, shown)], [(7, 10, 800.0)], {"e": 600.0}, 800.0)  # delivered again; too late
    {}
    >>> lists
    {7: []}
    """
    increments: dict[str, dict[str, float]] = {}

    def add(name: str, fields: dict[str, float]) -> None:
        sums = increments.setdefault(name, {})
        for field, delta in fields.items():
            sums[field] = sums.get(field, 0.0) + delta

    for user, shown in exposures:
        if shown.experiment not in windows:
            continue
        own = lists.setdefault(user, [])
        if any(s.request_id == shown.request_id and s.experiment == shown.experiment for s in own):
            continue
        own.append(shown)
        arm = "" if shown.arm < 0 else f":{shown.arm}"
        if (shown.experiment, user) not in people:
            people[(shown.experiment, user)] = Person(shown.arm)
            add(shown.experiment, {f"n{arm}": 1.0})
        add(shown.experiment, {f"lists{arm}": 1.0, f"shown{arm}": float(len(shown.items)),
                               f"ms{arm}:{latency_bucket(shown.served_ms)}": 1.0,
                               **({f"errors{arm}": 1.0} if shown.failed else {})})
    for user, movie, at in outcomes:
        own = lists.get(user, [])
        for name, window in windows.items():
            credited = take([s for s in own if s.experiment == name], movie, at, window)
            if credited is None:
                continue
            shown, j = credited
            person = people.setdefault((name, user), Person(shown.arm))
            before = person.takes
            if shown.arm >= 0:
                person.takes += 1
                arm, extra = f":{shown.arm}", {}
            else:
                person.takes += 1 if shown.teams[j] == 0 else -1
                arm, extra = "", {f"takes:{shown.teams[j]}": 1.0}
            add(name, {f"s{arm}": float(person.takes - before), f"q{arm}": float(person.takes**2 - before**2), **extra})
    for user, own in lists.items():
        lists[user] = [s for s in own if s.at + windows.get(s.experiment, 0.0) >= now]
    return increments


# Latency as a histogram of quarter-octave buckets from 1/8 ms: a bounded number of fields whatever
# the traffic, and any percentile within 19 % (one bucket's width).
_BUCKETS_PER_OCTAVE, _FLOOR_MS, _TOP_BUCKET = 4, 0.125, 99


def latency_bucket(ms: float) -> int:
    """The histogram bucket of a latency.

    >>> latency_bucket(0.0), latency_bucket(1.0), latency_bucket(20.0), latency_bucket(1e9)
    (0, 12, 29, 99)
    """
    if ms <= _FLOOR_MS:
        return 0
    return min(int(_BUCKETS_PER_OCTAVE * math.log2(ms / _FLOOR_MS)), _TOP_BUCKET)


def latency_quantile(sums: dict[str, float], arm: str, q: float) -> float:
    """The ``q`` quantile of an arm's list latency in ms (the upper edge of its bucket; nan: no lists).

    >>> latency_quantile({"ms:0:12": 98.0, "ms:0:29": 2.0}, ":0", 0.99)
    22.6...
    """
    prefix = f"ms{arm}:"
    counts = np.zeros(_TOP_BUCKET + 1)
    for field, n in sums.items():
        if field.startswith(prefix):
            counts[int(field[len(prefix):])] += n
    if counts.sum() <= 0:
        return float("nan")
    bucket = int(np.searchsorted(np.cumsum(counts), q * counts.sum()))
    return float(_FLOOR_MS * 2 ** ((bucket + 1) / _BUCKETS_PER_OCTAVE))


SRM_ALPHA = 1e-4  # strict: the test is repeated at every look
SRM_PEOPLE = 1000  # people in all before a sample-ratio mismatch stops anything
GUARD_LISTS = 200  # lists in an arm before its latency and errors can stop anything
COVER_LISTS = 1000  # lists in an arm before its coverage can


def arms_of(experiment: Experiment) -> tuple[str, ...]:
    """The sums' arm suffixes: one (interleaving's merged list) or one an arm."""
    return ("",) if experiment.mode == "interleave" else (":0", ":1")


def look(experiment: Experiment, sums: dict[str, float], coverage: dict[str, int],
         now: float) -> tuple[float, dict[str, Any], str]:
    """One look at a running experiment: the always-valid p-value's running minimum, the curve's point
    (with each arm's guardrail figures) and, when a guardrail broke, why (else "").

    The guardrails: a sample-ratio mismatch (A/B: people per arm against the weights), an arm's list
    p99 over ``max_p99_ms`` or error share over ``max_error_rate``, and an arm's films shown (distinct:
    ``coverage``, by arm suffix) under ``min_coverage`` of the other's.

    >>> e = Experiment("e", ("live", "popular"), max_p99_ms=100.0)
    >>> sums = {"n:0": 600.0, "n:1": 600.0, "lists:0": 900.0, "lists:1": 900.0, "ms:0:12": 900.0,
    ...         "ms:1:40": 900.0, "errors:1": 3.0}
    >>> p, point, reason = look(e, sums, {":0": 500, ":1": 20}, 0.0)
    >>> reason
    'latency: arm 1 (popular) p99 152 ms over 100 ms'
    >>> point["arms"][1]["error_rate"], point["arms"][1]["films"]
    (0.0033333333333333335, 20)
    """
    test = sequential_test(experiment, sums)
    p = test.look()
    estimate, variance, _ = test.estimate()
    half = 1.96 * math.sqrt(variance) if variance > 0 else 0.0
    suffixes = arms_of(experiment)
    lists = [sums.get(f"lists{suffix}", 0.0) for suffix in suffixes]
    p99 = [latency_quantile(sums, suffix, 0.99) for suffix in suffixes]
    errors = [sums.get(f"errors{suffix}", 0.0) / n if n else 0.0 for suffix, n in zip(suffixes, lists, strict=True)]
    films = [coverage.get(suffix, 0) for suffix in suffixes]
    arms = [{"lists": n, "p99_ms": None if math.isnan(ms) else ms, "error_rate": e, "films": f}  # JSON has no NaN
            for n, ms, e, f in zip(lists, p99, errors, films, strict=True)]
    point: dict[str, Any] = {"t": now, "people": int(sum(arm.n for arm in test.arms)), "effect": estimate,
                             "low": estimate - half, "high": estimate + half, "p": p, "arms": arms}
    broken = []
    if experiment.mode == "ab":  # people, the unit assigned: their lists differ in number by their activity
        counts = [sums.get("n:0", 0.0), sums.get("n:1", 0.0)]
        srm = sample_ratio_p(counts, experiment.weights)
        point["srm_p"] = srm
        if sum(counts) >= SRM_PEOPLE and srm < SRM_ALPHA:
            broken.append(f"sample-ratio mismatch: {counts[0]:.0f} and {counts[1]:.0f} people (p {srm:.1e})")
    for j in range(len(suffixes)):
        name = f"arm {j} ({experiment.variants[j]})" if len(suffixes) > 1 else "the interleaved list"
        if lists[j] >= GUARD_LISTS and p99[j] > experiment.max_p99_ms:
            broken.append(f"latency: {name} p99 {p99[j]:.0f} ms over {experiment.max_p99_ms:g} ms")
        if lists[j] >= GUARD_LISTS and errors[j] > experiment.max_error_rate:
            broken.append(f"errors: {name} failed {errors[j]:.1%} of its lists, over {experiment.max_error_rate:.1%}")
    if len(suffixes) == 2 and experiment.min_coverage > 0 and min(lists) >= COVER_LISTS:
        for j in (0, 1):
            if films[j] < experiment.min_coverage * films[1 - j]:
                broken.append(f"coverage: arm {j} ({experiment.variants[j]}) showed {films[j]} films, under "
                              f"{experiment.min_coverage:.0%} of the other's {films[1 - j]}")
    return p, point, "; ".join(broken)


def winner(experiment: Experiment, sums: dict[str, float]) -> str | None:
    """The variant found better, once the running p-value is under α (None before, or on a tie).

    >>> e = Experiment("e", ("live", "popular"))
    >>> winner(e, {"p": 0.01, "n:0": 5.0, "s:0": 50.0, "n:1": 5.0, "s:1": 20.0})
    'live'
    >>> winner(e, {"p": 0.2, "n:0": 5.0, "s:0": 50.0, "n:1": 5.0, "s:1": 20.0}) is None
    True
    """
    if sums.get("p", 1.0) >= experiment.alpha:
        return None
    estimate = sequential_test(experiment, sums).estimate()[0]
    return experiment.variants[0] if estimate > 0 else experiment.variants[1] if estimate < 0 else None

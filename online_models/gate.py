"""The gate before a ranker goes live: a candidate and the live version ranked on the newest events.

The lists people get are what matters, so both are scored as the API serves them
(``online_models.live_ranker``): each person's history before a cut-off is folded in, the top ``k``
films they had not rated are taken, and those are compared with what the person rated 4★ or more
after it — the newest ``holdout`` share of events, which the candidate was never fitted on. The live
version may have been fitted on some of them (it is older than the cut-off or not): that favours it,
so the gate errs towards keeping what serves now.

A candidate goes live when its NDCG@10 is not below the live version's by more than ``margin`` (a
share of the live figure); otherwise it is kept, refused, with the figures that refused it.

>>> decide({"ndcg@10": 0.20, "people": 300}, {"ndcg@10": 0.21, "people": 300}, margin=0.05)
(True, 'NDCG@10 0.2000 against the live 0.2100: within the 5% margin')
>>> decide({"ndcg@10": 0.05, "people": 300}, {"ndcg@10": 0.21, "people": 300}, margin=0.05)[0]
False
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from online_models.live_ranker import LiveModel, fold, top

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.floating]
LIKED = 4.0


@dataclass(frozen=True)
class Split:
    """Events before the cut-off (what a candidate is fitted on) and after it (what it is judged on)."""

    cutoff: float
    train: npt.NDArray[np.bool_]  # a mask over the events


def temporal_split(timestamps: FloatArray, holdout: float = 0.1) -> Split:
    """The newest ``holdout`` share of events held out (ties at the cut-off fall on the training side)."""
    cutoff = float(np.quantile(np.asarray(timestamps, dtype=np.float64), 1.0 - holdout)) if len(timestamps) else 0.0
    return Split(cutoff, np.asarray(timestamps) <= cutoff)


def served_quality(model: LiveModel, users: IntArray, movies: IntArray, stars: FloatArray, split: Split,
                   k: int = 10, people: int = 300, seed: int = 0) -> dict[str, float]:
    """NDCG@k and P@k of the lists ``model`` serves people with events on both sides of the cut-off
    (a seeded sample of ``people``), judged on what they liked after it.

    One fold per person: a Python loop over at most ``people`` (about 3 ms each at 9,742 films), in
    a refit's background job, not on a request's path."""
    users, movies, stars = np.asarray(users), np.asarray(movies), np.asarray(stars, dtype=np.float64)
    later = ~split.train & (stars >= LIKED)
    judged = np.intersect1d(np.unique(users[split.train]), np.unique(users[later]))
    if len(judged) > people:
        judged = np.sort(np.random.default_rng(seed).choice(judged, people, replace=False))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ndcg, precision = [], []
    for person in judged.tolist():
        mine = users == person
        before = mine & split.train
        at = model.positions(movies[before])
        known = at >= 0
        if not known.any():
            continue
        folded = fold(model, at[known], stars[before][known], [])
        picked = model.ids[top(folded.score, k)]
        relevant = np.setdiff1d(movies[mine & later], movies[before])
        if not len(relevant):
            continue
        hits = np.isin(picked, relevant)
        ideal = discounts[: min(len(relevant), k)].sum()
        ndcg.append(float((hits * discounts[: len(hits)]).sum() / ideal))
        precision.append(float(hits.sum() / k))
    return {f"ndcg@{k}": float(np.mean(ndcg)) if ndcg else 0.0,
            f"p@{k}": float(np.mean(precision)) if precision else 0.0, "people": float(len(ndcg))}


def decide(candidate: dict[str, float], live: dict[str, float] | None, margin: float,
           metric: str = "ndcg@10") -> tuple[bool, str]:
    """Whether the candidate may go live, and why."""
    if live is None:
        return True, "nothing to compare with"
    if not candidate.get("people"):
        return False, "no one to judge the candidate on: too few events after the cut-off"
    floor = live[metric] * (1.0 - margin)
    name = metric.replace("ndcg", "NDCG").replace("p@", "P@")
    verdict = f"{name} {candidate[metric]:.4f} against the live {live[metric]:.4f}"
    if candidate[metric] >= floor:
        return True, f"{verdict}: within the {margin:.0%} margin"
    return False, f"{verdict}: more than {margin:.0%} worse"

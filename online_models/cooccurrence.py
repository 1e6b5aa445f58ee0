"""Incremental item–item similarity from co-occurrence in users' recent histories.

Each new positive event (u, i, w) pairs item i with the items in u's recent history H(u)
(the last ``history`` items, oldest dropped first) and adds w to the co-occurrence C(i, j)
and C(j, i); the item's own count N(i) grows by w. Similarity is the cosine of the implicit
vectors, ``C(i, j) / sqrt(N(i) N(j))``, computed when neighbours are read, so an update
never rewrites a whole row. Ratings count as positive from 3.5★ up, watches by completion.

Example
-------
>>> model = CoOccurrence(history=3)
>>> pairs = model.pairs(np.array([1, 2]), [[10, 11], [10]], np.array([1.0, 0.5]))
>>> sorted(zip(pairs.a.tolist(), pairs.b.tolist(), pairs.w.tolist()))
[(1, 10, 1.0), (1, 11, 1.0), (2, 10, 0.5), (10, 1, 1.0), (10, 2, 0.5), (11, 1, 1.0)]
>>> model.cosine(np.array([4.0]), 2.0, np.array([8.0])).round(3).tolist()
[1.0]

A batch against its people's stored recent films is one update; a person's earlier events in the
batch are part of the history of their later ones:

>>> update = model.update(np.array([5, 5]), np.array([1, 2]), np.array([1.0, 1.0]), {5: [10]})
>>> update.recent, update.counted.tolist(), update.counts.tolist()
({5: [2, 1, 10]}, [1, 2], [1.0, 1.0])
>>> sorted(zip(update.pairs.a.tolist(), update.pairs.b.tolist()))
[(1, 2), (1, 10), (2, 1), (2, 10), (10, 1), (10, 2)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from online_models.runs import rank_in_runs, run_starts


@dataclass(frozen=True)
class Pairs:
    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]
    w: npt.NDArray[np.float64]


@dataclass(frozen=True)
class CoOccurrenceUpdate:
    """What one batch changes: the pairs' co-occurrence increments, each counted movie's N(i) increment,
    and each person's recent positive films afterwards (newest first, at most ``history``)."""

    pairs: Pairs
    counted: npt.NDArray[np.int64]
    counts: npt.NDArray[np.float64]
    recent: dict[int, list[int]]


class CoOccurrence:
    def __init__(self, history: int = 20, min_rating: float = 3.5, neighbours: int = 20) -> None:
        self.history = history
        self.min_rating = min_rating
        self.neighbours = neighbours

    def rating_weight(self, ratings: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return (ratings >= self.min_rating).astype(np.float64)

    def event_weights(self, watches: npt.NDArray[np.bool_], confidence: npt.NDArray[np.float64],
                      ratings: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """A watch of at least half the film or a liked rating counts as a positive (weight 1)."""
        return np.where(watches, (confidence >= 0.5).astype(np.float64), self.rating_weight(np.nan_to_num(ratings)))

    def pairs(self, items: npt.NDArray[np.int64], histories: list[list[int]],
              weights: npt.NDArray[np.float64]) -> Pairs:
        """Symmetric co-occurrence increments of new items with their users' histories."""
        lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
        others = np.fromiter((j for h in histories for j in h), dtype=np.int64, count=int(lengths.sum()))
        mine = np.repeat(items, lengths)
        w = np.repeat(weights, lengths)
        keep = (mine != others) & (w > 0)
        mine, others, w = mine[keep], others[keep], w[keep]
        return Pairs(np.r_[mine, others], np.r_[others, mine], np.r_[w, w])

    def update(self, users: npt.NDArray[np.int64], movies: npt.NDArray[np.int64], weights: npt.NDArray[np.float64],
               recent: Mapping[int, list[int]]) -> CoOccurrenceUpdate:
        """The batch's positive events (weight > 0) against ``recent``: each person's stored recent films,
        newest first (a person absent from it has none). A loop over the events: each one's history is
        the person's recent films as the events before it in the batch left them."""
        keep = weights > 0
        users, movies, weights = users[keep], movies[keep], weights[keep]
        after = {int(u): list(recent.get(int(u), [])) for u in np.unique(users).tolist()}
        histories: list[list[int]] = []
        for user, movie in zip(users.tolist(), movies.tolist(), strict=True):
            histories.append(after[user][: self.history])
            after[user].insert(0, movie)
        counted, count_index = np.unique(movies, return_inverse=True)
        counts = np.bincount(count_index, weights=weights, minlength=len(counted)).astype(np.float64)
        return CoOccurrenceUpdate(self.pairs(movies, histories, weights), counted, counts,
                                  {u: films[: self.history] for u, films in after.items()})

    @staticmethod
    def cosine(cooc: npt.NDArray[np.float64], count_i: float | npt.NDArray[np.float64],
               counts_j: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        denom = np.sqrt(count_i * counts_j)
        return np.divide(cooc, denom, out=np.zeros_like(cooc), where=denom > 0)


def _keys(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return (a.astype(np.int64) << 32) | b.astype(np.int64)


def merge_rows(stored: Pairs, increments: Pairs, keep: int, prune_at: int) -> Pairs:
    """Movies' stored neighbour weights plus a batch's increments, summed per pair, sorted by
    ``(a, b)``; a movie's row that reached ``prune_at`` neighbours keeps its ``keep`` heaviest
    (ties: the lower id), the heavy-hitters compromise that bounds a row whatever the traffic.

    ``stored`` is what ``merge_rows`` answered before (sorted by ``(a, b)``, each pair once), so only
    the increments are sorted and summed, then placed by binary search, and only the rows that
    reached the cap are ranked. Sorting and ranking every stored entry as well (about 110 a touched
    row) took most of the side worker's CPU: ``np.unique`` and ``lexsort`` over half a million
    entries for a second's batch at 2,000 events/s."""
    keys = _keys(stored.a, stored.b)
    weights = np.asarray(stored.w, dtype=np.float64)
    if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):  # not from merge_rows: sum it first
        keys, index = np.unique(keys, return_inverse=True)
        weights = np.asarray(np.bincount(index.ravel(), weights=weights, minlength=len(keys)), dtype=np.float64)
    added, index = np.unique(_keys(increments.a, increments.b), return_inverse=True)
    sums = np.bincount(index.ravel(), weights=np.asarray(increments.w, dtype=np.float64), minlength=len(added))
    at = np.searchsorted(keys, added)
    known = at < len(keys)
    known[known] = keys[at[known]] == added[known]
    weights = weights.copy()
    weights[at[known]] += sums[known]
    keys = np.insert(keys, at[~known], added[~known])
    weights = np.insert(weights, at[~known], sums[~known])
    a, b = keys >> 32, keys & 0xFFFFFFFF
    sizes = np.diff(np.r_[run_starts(a), len(a)])
    full = np.repeat(sizes >= prune_at, sizes)
    if full.any():
        over = np.flatnonzero(full)  # the entries of the rows at the cap, still grouped by movie
        # heaviest first within each movie, ties to the lower id: two stable sorts (a three-key
        # lexsort took 2.6x as long, and most rows reach the cap in a replay's batches)
        by_weight = np.argsort(-weights[over], kind="stable")
        heaviest_first = over[by_weight[np.argsort(a[over][by_weight], kind="stable")]]
        full[heaviest_first[rank_in_runs(a[over]) < keep]] = False  # what is left marked full is pruned
        a, b, weights = a[~full], b[~full], weights[~full]
    return Pairs(a, b, weights)

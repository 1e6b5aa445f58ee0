"""The ranker behind every served list: a person's whole history folded into published item models
at request time, so a list reflects the last event the stream learned, for people no batch job saw.

Four parts, each standardised over the catalogue, blended with weights that depend on how many
events the person has (``BUCKETS``) and were learned on the served-list protocol
(``recommenders.live_fit``), not set by hand:

- **implicit ALS, folded in** (Hu, Koren & Volinsky 2008): the person's vector is the closed-form
  user step against the published item factors ``Y``,
  ``x = (YᵀY + Yᵣᵀ C Yᵣ + λI)⁻¹ Yᵣᵀ (1 + C) 1``, ``C = α·conf(stars)`` — one k×k solve (k = 64);
- **EASE** (Steck 2019), over the most-rated films: ``s = Σ_j conf_j B[j]``, each row of ``B`` cut to
  its ``K`` largest weights, so a request adds ``K`` numbers per rated film;
- a **prior**: how many people liked (≥ 4★) each film — what serves someone with no events;
- **genres** the person chose at sign-up: 1 for a film of one of them.

The prior's and the genres' weights fall as the history grows because the learned weights say so.

Reasons come from the same sums: a film's collaborative score is exactly a sum over the rated films
(ALS: ``(1 + c_j) y_iᵀ A⁻¹ y_j``, the explanation of Hu et al. §5; EASE: ``conf_j B[j, i]``), so the
rated film with the largest share is named; when the prior and genres gave more than all the rated
films together, the reason says so instead.

Size: per film ``4k`` bytes of factors, ``8K`` of EASE weights (kept films only) and one byte a genre:
fixed per film whatever the number of people or ratings (in each API process also ``8k`` of float64
factors, so a request multiplies without converting).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.int64]

PARTS = ("als", "ease", "prior", "genres")
BUCKETS = (1, 3, 10, 30)  # history sizes where the blend changes: 0, 1–2, 3–9, 10–29, 30+ events


def bucket(n_events: int) -> int:
    """The blend row for a person with ``n_events`` events."""
    return int(np.searchsorted(BUCKETS, n_events, side="right"))


def confidence(stars: FloatArray) -> FloatArray:
    """How much a rating says the person liked the film: 5★ three times a 3★, a 1★ close to nothing
    (measured: better lists than counting every rating alike)."""
    return np.clip(np.asarray(stars, dtype=np.float64) - 2.0, 0.25, 3.0)


def standardised(scores: FloatArray) -> tuple[FloatArray, float]:
    """``(scores − mean) / std`` and the std (a constant row stays 0)."""
    std = float(scores.std())
    return (scores - scores.mean()) / (std if std > 0 else 1.0), (std if std > 0 else 1.0)


@dataclass
class LiveModel:
    """Everything a request needs, over the catalogue's films sorted by id (``ids``)."""

    ids: IntArray  # (n,) film ids, sorted
    factors: FloatArray  # (n, k) implicit ALS item factors; zeros for a film nobody had rated
    reg: float
    alpha: float
    kept: IntArray  # (m,) positions of the films EASE covers
    neighbours: npt.NDArray[np.int32]  # (m, K) positions in ``ids`` of each kept film's strongest links
    links: npt.NDArray[np.float32]  # (m, K) their weights
    prior: FloatArray  # (n,) standardised liked-count
    genres: npt.NDArray[np.uint8]  # (n, G) one-hot
    genre_names: list[str]
    blend: FloatArray  # (len(BUCKETS) + 1, len(PARTS)) learned weights
    gram: FloatArray = field(init=False)
    exact: FloatArray = field(init=False)  # the factors in float64: a request's products without a conversion
    row_of_kept: IntArray = field(init=False)

    def __post_init__(self) -> None:
        self.exact = self.factors.astype(np.float64)
        self.gram = self.exact.T @ self.exact
        self.row_of_kept = np.full(len(self.ids), -1, dtype=np.int64)
        self.row_of_kept[self.kept] = np.arange(len(self.kept))

    def positions(self, movies: IntArray) -> IntArray:
        """Where each film is (-1: not in the model)."""
        movies = np.asarray(movies, dtype=np.int64)
        if not len(self.ids):
            return np.full(len(movies), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.ids, movies), len(self.ids) - 1)
        return np.where(self.ids[at] == movies, at, -1)

    def genre_mask(self, chosen: list[str]) -> FloatArray:
        """1 for a film of a chosen genre, else 0."""
        columns = [j for j, g in enumerate(self.genre_names) if g in set(chosen)]
        if not columns:
            return np.zeros(len(self.ids))
        return (self.genres[:, columns].sum(axis=1) > 0).astype(np.float64)


@dataclass
class Folded:
    """One person's parts, kept for explaining the films chosen."""

    positions: IntArray  # rated films' positions
    conf: FloatArray
    system: FloatArray | None  # A = YᵀY + Yᵣᵀ C Yᵣ + λI, whose inverse gives each rated film's share
    parts: FloatArray  # (len(PARTS), n) standardised; a part weighted 0 is left at 0
    stds: FloatArray  # (len(PARTS),)
    weights: FloatArray  # (len(PARTS),)
    score: FloatArray  # (n,) blended; rated films −inf


def fold(model: LiveModel, positions: IntArray, stars: FloatArray, chosen: list[str],
         weights: FloatArray | None = None) -> Folded:
    """The person's blended score for every film from their rated films (positions, stars). Only the
    parts the weights use are computed: a request pays for what ranks its list."""
    n, k = model.factors.shape
    positions = np.asarray(positions, dtype=np.int64)
    conf = confidence(stars) if len(positions) else np.zeros(0)
    w = model.blend[bucket(len(positions))] if weights is None else np.asarray(weights, dtype=np.float64)
    parts = np.zeros((len(PARTS), n))
    stds = np.ones(len(PARTS))
    system = None
    if len(positions) and w[0]:
        y = model.exact[positions]
        c = model.alpha * conf
        system = model.gram + (y.T * c) @ y + model.reg * np.eye(k)
        x = np.linalg.solve(system, y.T @ (1.0 + c))
        parts[0], stds[0] = standardised(model.exact @ x)
    rows = model.row_of_kept[positions]
    has = rows >= 0
    if w[1] and has.any():
        ease = np.bincount(model.neighbours[rows[has]].ravel(),
                           weights=(model.links[rows[has]] * conf[has, None]).ravel(), minlength=n)
        parts[1], stds[1] = standardised(ease.astype(np.float64))
    if w[2]:
        parts[2] = model.prior
    if w[3] and chosen:
        parts[3], stds[3] = standardised(model.genre_mask(chosen))
    score = w @ parts
    score[positions] = -np.inf
    return Folded(positions, conf, system, parts, stds, w, score)


def top(score: FloatArray, k: int) -> IntArray:
    """Positions of the ``k`` best finite scores, best first."""
    k = min(k, int(np.isfinite(score).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    best = np.argpartition(-score, k - 1)[:k]
    return best[np.argsort(-score[best], kind="stable")]


def anchors(model: LiveModel, folded: Folded, chosen_positions: IntArray) -> IntArray:
    """For each chosen film, the position of the rated film that gave it most, or −1 when the prior and
    genres gave it more than every rated film together (or no rated film gave anything)."""
    chosen_positions = np.asarray(chosen_positions, dtype=np.int64)
    r, t = len(folded.positions), len(chosen_positions)
    if not r or not t:
        return np.full(t, -1, dtype=np.int64)
    w, stds = folded.weights, folded.stds
    share = np.zeros((r, t))
    if w[0] and folded.system is not None:
        # (1 + c_j) y_jᵀ A⁻¹ y_i: one solve for the t chosen films, not one per rated film
        toward = np.linalg.solve(folded.system, model.exact[chosen_positions].T)  # (k, t)
        weight = (w[0] / stds[0]) * (1.0 + model.alpha * folded.conf)
        share += weight[:, None] * (model.exact[folded.positions] @ toward)
    rows = model.row_of_kept[folded.positions]
    if w[1] and (rows >= 0).any():
        column = np.full(len(model.ids), -1, dtype=np.int64)
        column[chosen_positions] = np.arange(t)
        rated = np.flatnonzero(rows >= 0)
        hit = column[model.neighbours[rows[rated]]]  # (r', K): which chosen film each link reaches
        at = np.nonzero(hit >= 0)
        np.add.at(share, (rated[at[0]], hit[at]), (w[1] / stds[1]) * folded.conf[rated[at[0]]]
                  * model.links[rows[rated]][at])
    best = share.argmax(axis=0)
    given = share[best, np.arange(t)]
    collaborative = share.clip(min=0).sum(axis=0)
    prior = w[2] * folded.parts[2, chosen_positions] + w[3] * folded.parts[3, chosen_positions]
    placed = (given > 0) & (collaborative >= prior)
    return np.where(placed, folded.positions[best], -1)

"""The ranker behind every served list: a person's whole history folded into published item models
at request time, so a list reflects the last event the stream learned, for people no batch job saw.

Eight parts, each standardised over the catalogue, blended with weights that depend on how many
events the person has (``BUCKETS``) and whether they chose genres, and were learned on the served-list protocol
(``recommenders.live_fit``), not set by hand:

- **implicit ALS, folded in** (Hu, Koren & Volinsky 2008): the person's vector is the closed-form
  user step against the published item factors ``Y``,
  ``x = (YᵀY + Yᵣᵀ C Yᵣ + λI)⁻¹ Yᵣᵀ (1 + C) 1``, ``C = α·conf(stars)`` — one k×k solve (k = 64);
- **EASE** (Steck 2019), over the most-rated films: ``s = Σ_j conf_j B[j]``, each row of ``B`` cut to
  its ``K`` largest weights, so a request adds ``K`` numbers per rated film;
- a **prior**: how many people liked (≥ 4★) each film — what serves someone with no events;
- **genres** the person chose at sign-up: 1 for a film of one of them;
- **what comes next**: the same sum as EASE's over links fitted another way, from what people had
  rated up to a moment (their first 1, 3, … 40 events, all but their last 10) to what they went on to
  like (``recommenders.live_fit.next_links``). EASE learns which films go together; this learns
  which come after, what a list is judged on (measured: P@10 at 20 events 0.99× most-popular on
  ml-100k without it);
- **similar films**: the same sum over each film's ``10`` nearest by cosine of who liked them (≥ 3.5★),
  re-ranked from its 40 strongest co-occurrences — what the movie page's "similar" shows, summed over the
  rated films (``recommenders.live_fit.similar_links``). EASE's weights are a regression's and spread over
  many films; these few, normalised by each film's own popularity, reach the niche a person rated (where
  taste follows genres, as in a generated release, the merged similar films alone outranked every part);
- **what comes next, and EASE, from the latest events**: the same two sums with each rated film's
  weight decayed by ``RECENCY`` per newer event, over the latest ``RECENT`` (the rated films come in
  time order, oldest first). What a person does next follows what they did last (the offline
  ``Sequence`` ranker's lesson); the unordered sums weigh a film rated years ago like one rated now.

The prior's and the genres' weights fall as the history grows because the learned weights say so.

Reasons come from the same sums: a film's collaborative score is exactly a sum over the rated films
(ALS: ``(1 + c_j) y_iᵀ A⁻¹ y_j``, the explanation of Hu et al. §5; EASE and what comes next:
``conf_j B[j, i]``), so the
rated film with the largest share is named; when the prior and genres gave more than all the rated
films together, the reason says so instead.

Size: per film ``4k`` bytes of factors, ``8K`` of EASE weights and ``8K`` of next weights (kept films
only), 80 of similar films and one byte a genre:
fixed per film whatever the number of people or ratings (in each API process also ``8k`` of float64
factors, so a request multiplies without converting).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.int64]

PARTS = ("als", "ease", "prior", "genres", "next", "next, recent", "ease, recent", "similar")  # a blend published with
# fewer columns gives the rest 0
BUCKETS = (1, 3, 10, 30)  # history sizes where the blend changes: 0, 1–2, 3–9, 10–29, 30+ events
GENRE_QUOTA_UNTIL = 10  # events: below this, a person who chose genres gets half a row of them
RECENT, RECENCY = 20, 0.8  # the recent parts: the latest 20 events, each newer one weighing 1/0.8 of the one before


def bucket(n_events: int) -> int:
    """The history bucket of a person with ``n_events`` events."""
    return int(np.searchsorted(BUCKETS, n_events, side="right"))


def blend_row(n_events: int, chose_genres: bool) -> int:
    """The blend row of a person: their bucket among the rows of people who chose no genres (arriving
    from a platform), or among those who did. One row for both let the genres' weight, learned on the
    people who chose them, set the other weights for everyone (measured: returning people's NDCG@10
    0.0744 → 0.0585 on ml-latest-small once a fifth part came in)."""
    return bucket(n_events) + (len(BUCKETS) + 1 if chose_genres else 0)


def confidence(stars: FloatArray) -> FloatArray:
    """How much a rating says the person liked the film: 5★ three times a 3★, a 1★ close to nothing
    (measured: better lists than counting every rating alike)."""
    return np.clip(np.asarray(stars, dtype=np.float64) - 2.0, 0.25, 3.0)


def recency(n_events: int) -> FloatArray:
    """Each of ``n_events`` events' weight in the recent parts, oldest first: 0 before the latest ``RECENT``."""
    age = np.arange(n_events)[::-1]
    return np.where(age < RECENT, RECENCY ** np.minimum(age, RECENT), 0.0)


def standardised(scores: FloatArray) -> tuple[FloatArray, float]:
    """``(scores − mean) / std`` and the std (a constant row stays 0)."""
    std = float(scores.std())
    return (scores - scores.mean()) / (std if std > 0 else 1.0), (std if std > 0 else 1.0)


@dataclass
class Links:
    """Item-to-item weights over some films (``kept``): a rated film adds ``conf · weights`` of its row to
    its ``neighbours``' scores."""

    kept: IntArray  # (m,) positions of the films with a row
    neighbours: npt.NDArray[np.int32]  # (m, K) positions of each one's strongest links
    weights: npt.NDArray[np.float32]  # (m, K)
    row_of_kept: IntArray  # (n,) each film's row, −1 for none

    @classmethod
    def over(cls, n: int, kept: IntArray, neighbours: npt.NDArray[np.int32], weights: npt.NDArray[np.float32]
             ) -> Links:
        rows = np.full(n, -1, dtype=np.int64)
        rows[kept] = np.arange(len(kept))
        return cls(kept, neighbours, weights, rows)

    def summed(self, positions: IntArray, conf: FloatArray, n: int) -> FloatArray | None:
        """``Σ_j conf_j B[j]`` over the rated films with a row (None: none has one)."""
        rows = self.row_of_kept[positions]
        has = rows >= 0
        if not has.any():
            return None
        weights = (self.weights[rows[has]] * conf[has, None]).ravel()
        return np.bincount(self.neighbours[rows[has]].ravel(), weights=weights, minlength=n).astype(np.float64)

    def shares(self, positions: IntArray, conf: FloatArray, chosen: IntArray, n: int) -> FloatArray:
        """``(r, t)``: what each rated film gave each chosen film through these links."""
        r, t = len(positions), len(chosen)
        rows = self.row_of_kept[positions]
        if not (rows >= 0).any():
            return np.zeros((r, t))
        column = np.full(n, -1, dtype=np.int64)
        column[chosen] = np.arange(t)
        rated = np.flatnonzero(rows >= 0)
        hit = column[self.neighbours[rows[rated]]]  # (r', K): which chosen film each link reaches
        j, link = np.nonzero(hit >= 0)
        given = conf[rated[j]] * self.weights[rows[rated[j]], link]
        shares = np.bincount(rated[j] * t + hit[j, link], weights=given, minlength=r * t)
        return shares.reshape(r, t).astype(np.float64)


def _no_links() -> npt.NDArray[np.float32]:
    return np.zeros((0, 0), np.float32)


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
    blend: FloatArray  # (2 (len(BUCKETS) + 1), len(PARTS)) learned weights, rows by ``blend_row``
    next_kept: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # what comes next, as ``kept``…
    next_neighbours: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    next_links: npt.NDArray[np.float32] = field(default_factory=_no_links)
    similar_kept: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))  # similar films, as ``kept``…
    similar_neighbours: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    similar_links: npt.NDArray[np.float32] = field(default_factory=_no_links)
    ease: Links = field(init=False)
    next: Links = field(init=False)
    similar: Links = field(init=False)
    gram: FloatArray = field(init=False)
    exact: FloatArray = field(init=False)  # the factors in float64: a request's products without a conversion
    factor_mean: FloatArray = field(init=False)  # (k,) so an ALS score's mean is one dot product
    factor_cov: FloatArray = field(init=False)  # (k, k) and its variance ``xᵀ Σ x``: no pass over the films
    genre_bits: npt.NDArray[np.uint64] = field(init=False)  # (n,) a bit per genre: a chosen set is one AND

    def __post_init__(self) -> None:
        self.exact = self.factors.astype(np.float64)
        self.gram = self.exact.T @ self.exact
        self.ease = Links.over(len(self.ids), self.kept, self.neighbours, self.links)
        self.next = Links.over(len(self.ids), self.next_kept, self.next_neighbours, self.next_links)
        self.similar = Links.over(len(self.ids), self.similar_kept, self.similar_neighbours, self.similar_links)
        if self.blend.shape[1] < len(PARTS):  # published before the later parts: they weigh nothing
            self.blend = np.pad(self.blend, ((0, 0), (0, len(PARTS) - self.blend.shape[1])))
        if len(self.blend) == len(BUCKETS) + 1:  # …and before genres had rows of their own: both alike
            self.blend = np.vstack([self.blend, self.blend])
        n = max(len(self.ids), 1)
        self.factor_mean = self.exact.sum(axis=0) / n
        self.factor_cov = self.gram / n - np.outer(self.factor_mean, self.factor_mean)
        if self.genres.shape[1] > 64:
            raise ValueError(f"{self.genres.shape[1]} genres: the live ranker keeps at most 64 as bits")
        shifts = np.arange(self.genres.shape[1], dtype=np.uint64)
        self.genre_bits = np.bitwise_or.reduce(self.genres.astype(np.uint64) << shifts, axis=1,
                                               initial=np.uint64(0))

    def positions(self, movies: IntArray) -> IntArray:
        """Where each film is (-1: not in the model)."""
        movies = np.asarray(movies, dtype=np.int64)
        if not len(self.ids):
            return np.full(len(movies), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.ids, movies), len(self.ids) - 1)
        return np.where(self.ids[at] == movies, at, -1)

    def genre_mask(self, chosen: list[str]) -> FloatArray:
        """1 for a film of a chosen genre, else 0."""
        wanted = np.uint64(sum(1 << j for j, g in enumerate(self.genre_names) if g in set(chosen)))
        return ((self.genre_bits & wanted) != 0).astype(np.float64)


def _link_parts(model: LiveModel, conf: FloatArray) -> list[tuple[int, Links, FloatArray]]:
    """(part, links, each rated film's weight) of the five parts that sum item links."""
    recent = conf * recency(len(conf))
    return [(1, model.ease, conf), (4, model.next, conf), (5, model.next, recent), (6, model.ease, recent),
            (7, model.similar, conf)]


def _als_user(model: LiveModel, positions: IntArray, conf: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The person's ALS vector and the system ``A`` it solves (kept: its inverse explains)."""
    y = model.exact[positions]
    c = model.alpha * conf
    system = model.gram + (y.T * c) @ y + model.reg * np.eye(model.exact.shape[1])
    return np.linalg.solve(system, y.T @ (1.0 + c)), system


def standardised_parts(model: LiveModel, positions: IntArray, stars: FloatArray, chosen: list[str]) -> FloatArray:
    """Every part for one person whose rated films (``positions``, oldest first) got ``stars``, each
    standardised over the catalogue, ``(len(PARTS), n)``: what the blend is learned on
    (``recommenders.live_fit``); ``fold`` ranks as their weighted sum does."""
    positions = np.asarray(positions, dtype=np.int64)
    conf = confidence(stars) if len(positions) else np.zeros(0)
    parts = np.zeros((len(PARTS), len(model.ids)))
    if len(positions):
        x, _ = _als_user(model, positions, conf)
        parts[0], _ = standardised(model.exact @ x)
        for p, links, weights in _link_parts(model, conf):
            summed = links.summed(positions, weights, len(model.ids))
            if summed is not None:
                parts[p], _ = standardised(summed)
    parts[2] = model.prior
    if chosen:
        parts[3], _ = standardised(model.genre_mask(chosen))
    return parts


@dataclass
class Folded:
    """One person's blended score, and what explaining the chosen films needs."""

    positions: IntArray  # rated films' positions
    conf: FloatArray
    system: FloatArray | None  # A = YᵀY + Yᵣᵀ C Yᵣ + λI, whose inverse gives each rated film's share
    scale: FloatArray  # (len(PARTS),) each part's weight over its std: the score is Σ scale_p · raw part_p
    genre_mask: FloatArray | None  # the chosen genres' films (None: no weight on them, or none chosen)
    genre_mean: float
    score: FloatArray  # (n,) blended; rated films −inf

    def placed(self, model: LiveModel, positions: IntArray) -> FloatArray:
        """What the prior and the chosen genres gave these films (standardised, as in the blend)."""
        given = self.scale[2] * model.prior[positions]
        if self.genre_mask is not None:
            given = given + self.scale[3] * (self.genre_mask[positions] - self.genre_mean)
        return np.asarray(given, dtype=np.float64)


def fold(model: LiveModel, positions: IntArray, stars: FloatArray, chosen: list[str],
         weights: FloatArray | None = None) -> Folded:
    """The person's blended score for every film from their rated films (positions, oldest first; stars): the same
    ranking as ``weights · standardised_parts`` (it differs by a constant), at the cost of one pass over
    the films per part used. A part's mean and spread come from small sums (the ALS score's from the
    factors' mean and covariance, k×k), and a part weighted 0 is never computed."""
    n = len(model.ids)
    positions = np.asarray(positions, dtype=np.int64)
    conf = confidence(stars) if len(positions) else np.zeros(0)
    w = model.blend[blend_row(len(positions), bool(chosen))] if weights is None else np.asarray(weights, np.float64)
    scale = np.zeros(len(PARTS))
    scale[2] = w[2]
    score = w[2] * model.prior if w[2] else np.zeros(n)
    system = None
    if len(positions) and w[0]:
        x, system = _als_user(model, positions, conf)
        spread = float(np.sqrt(max(float(x @ model.factor_cov @ x), 0.0)))
        if spread > 1e-12:
            scale[0] = w[0] / spread
            score += model.exact @ (scale[0] * x)
    for p, links, weights in _link_parts(model, conf):
        summed = links.summed(positions, weights, n) if len(positions) and w[p] else None
        if summed is not None:
            mean = summed.sum() / n
            spread = float(np.sqrt(max(summed @ summed / n - mean * mean, 0.0)))
            if spread > 1e-12:
                scale[p] = w[p] / spread
                score += scale[p] * summed
    mask, share = None, 0.0
    if w[3] and chosen:
        mask = model.genre_mask(chosen)
        share = float(mask.mean())
        if 0.0 < share < 1.0:
            scale[3] = w[3] / np.sqrt(share * (1.0 - share))
            score += scale[3] * mask
        else:
            mask = None
    score[positions] = -np.inf
    return Folded(positions, conf, system, scale, mask, share, score)


def top(score: FloatArray, k: int) -> IntArray:
    """Positions of the ``k`` best finite scores, best first."""
    k = min(k, int(np.isfinite(score).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    best = np.argpartition(-score, k - 1)[:k]
    return best[np.argsort(-score[best], kind="stable")]


def with_genre_quota(score: FloatArray, in_genres: FloatArray, k: int) -> IntArray:
    """The ``k`` best, at least half of them films of the chosen genres (``in_genres`` 1) when there
    are that many, best first. A person who has just named their genres sees them in their first row:
    the blend weighs a genre as one binary part against a heavy-tailed popularity prior, so with a few
    popular picks the blend alone can fill the row with famous films of other genres."""
    best = top(score, k)
    need = min((k + 1) // 2, int(np.isfinite(score[in_genres > 0]).sum()))
    if int(in_genres[best].sum()) >= need:
        return best
    of_genres = top(np.where(in_genres > 0, score, -np.inf), need)
    others = top(np.where(in_genres > 0, -np.inf, score), k - need)
    merged = np.concatenate([of_genres, others])
    return merged[np.argsort(-score[merged], kind="stable")]


def anchors(model: LiveModel, folded: Folded, chosen_positions: IntArray) -> IntArray:
    """For each chosen film, the position of the rated film that gave it most, or −1 when the prior and
    genres gave it more than every rated film together (or no rated film gave anything)."""
    chosen_positions = np.asarray(chosen_positions, dtype=np.int64)
    r, t = len(folded.positions), len(chosen_positions)
    if not r or not t:
        return np.full(t, -1, dtype=np.int64)
    scale = folded.scale
    share = np.zeros((r, t))
    if scale[0] and folded.system is not None:
        # (1 + c_j) y_jᵀ A⁻¹ y_i: one solve for the t chosen films, not one per rated film
        toward = np.linalg.solve(folded.system, model.exact[chosen_positions].T)  # (k, t)
        weight = scale[0] * (1.0 + model.alpha * folded.conf)
        share += weight[:, None] * (model.exact[folded.positions] @ toward)
    for p, links, weights in _link_parts(model, folded.conf):
        if scale[p]:
            share += scale[p] * links.shares(folded.positions, weights, chosen_positions, len(model.ids))
    best = share.argmax(axis=0)
    given_most = share[best, np.arange(t)]
    collaborative = share.clip(min=0).sum(axis=0)
    placed = (given_most > 0) & (collaborative >= folded.placed(model, chosen_positions))
    return np.where(placed, folded.positions[best], -1)


@dataclass(frozen=True)
class Ranked:
    """One person's list as a model ranked it: the films, the rated film each is owed to (None: the
    prior or genres), their scores, and the person's genres, most telling first."""

    ids: list[int]
    anchors: list[int | None]
    scores: list[float]
    taste: list[str]


def ranked_list(model: LiveModel, movies: IntArray, stars: FloatArray, chosen: list[str], excluded: IntArray,
                k: int) -> Ranked:
    """The ``k`` films ``model`` ranks first for a person who rated ``movies`` (oldest first) with ``stars`` and chose
    the genres ``chosen``, never one of ``excluded`` (retired titles), each with its anchor."""
    at = model.positions(np.asarray(movies, dtype=np.int64))
    known = at >= 0
    folded = fold(model, at[known], np.asarray(stars, dtype=np.float64)[known], chosen)
    if len(excluded):
        gone = model.positions(np.asarray(excluded, dtype=np.int64))
        folded.score[gone[gone >= 0]] = -np.inf
    best = (with_genre_quota(folded.score, model.genre_mask(chosen), k)
            if chosen and len(folded.positions) < GENRE_QUOTA_UNTIL else top(folded.score, k))
    why = anchors(model, folded, best)
    return Ranked(model.ids[best].tolist(), [int(model.ids[a]) if a >= 0 else None for a in why.tolist()],
                  folded.score[best].tolist(), taste(chosen, model, folded.positions))


def taste(chosen: list[str], model: LiveModel, rated_positions: IntArray) -> list[str]:
    """The person's genres, most telling first: those they chose, then those of the films they rated."""
    if not len(rated_positions) or not model.genre_names:
        return chosen
    counts = model.genres[rated_positions].sum(axis=0)
    by_count = [model.genre_names[j] for j in np.argsort(-counts, kind="stable") if counts[j] > 0]
    return chosen + [g for g in by_count if g not in chosen]

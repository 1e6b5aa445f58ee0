"""Fit what the live ranker (``online_models.live_ranker``) folds people into, and learn its blend on
the protocols people meet (``bench/served_lists.py`` measures the same two through the API).

The blend is learned, not set: people held out of the fit (``validation_share`` of them, at least a
few hundred from a small release, in up to ``FOLDS`` folds) are replayed offline through the very function the API calls
(``live_ranker.fold``). For each history bucket the cases are new people's first R events (R = 0, 1,
5, 20, 50) against the rest of their history, and people whose history without their last ``NEXT``
events falls in the bucket against those events (what they did next); relevant: rated ≥ 4. Each
bucket has two rows (``live_ranker.blend_row``), learned on the same people twice: arriving from a
platform with no genres, and stating the two most frequent among the films they liked (what a person
who states their taste honestly would pick at sign-up). Coordinate ascent finds the weighting whose
worse protocol gains most over equal weights, or below 30 events the new people's protocol while
returning people keep 97 % (``learn_blend``); among weightings within ``NEAR_BEST`` of it the
widest-covering wins. Then every part is fitted again on everyone.

Costs: implicit ALS as ``recommenders.als``; EASE inverts an m×m Gram matrix over the ``EASE_FILMS``
most-rated films (m³: about a second at m = 3,000, whatever the number of films or ratings), so at
ml-25m's 59,047 films the long tail is reached through ALS and the prior only; what comes next solves
one m×m system with m right-hand sides over the same films (a few seconds at m = 3,000) after one
sparse product per cut over the ratings; similar films count co-occurrences ``SIMILAR_BLOCK`` films at
a time over the 20,000 most-liked (one sparse product per block).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from threadpoolctl import threadpool_info, threadpool_limits

from online_models import metrics
from online_models.cooccurrence import CoOccurrence
from online_models.live_ranker import BUCKETS, PARTS, LiveModel, confidence, standardised, standardised_parts
from recommenders.als import ImplicitALS
from recommenders.base import top_k
from recommenders.data import FloatArray, IntArray, Ratings
from recommenders.ease import ease_weights

EASE_FILMS, EASE_LINKS, EASE_LAMBDA = 3000, 100, 300.0
ALS_FACTORS, ALS_REG, ALS_ALPHA, ALS_ITERATIONS = 64, 1.0, 3.0, 15
LIKED = 4.0
PROTOCOL_R = (0, 1, 5, 20, 50)  # one new-person history size per bucket of ``BUCKETS``
NEXT = 10  # returning people: judged on their last this many events
STEPS = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
ROUNDS = 2
NEAR_BEST = 0.02  # NDCG@10 this close to the best (relative) counts as as good
NEW_FIRST_BELOW = 30  # events: a bucket of shorter histories is learned for new people first…
RETURNING_FLOOR = 0.97  # …as long as its returning people keep this much of equal weights' NDCG@10
MIN_CASES = 30  # fewer held-out people than this: the bucket keeps equal weights
CASES_PER_BUCKET = 300  # per protocol, over all folds
FOLDS, VALIDATION_PEOPLE = 3, 600  # held out in up to this many folds, until this many people are
NEXT_CUTS = (1, 3, 5, 10, 20, 40)  # what comes next learns from each person's first this many events…
NEXT_LAMBDA_SHARE = 300.0  # its ridge, in units of the mean Gram diagonal (so it scales with the data)
SIMILAR_FILMS, SIMILAR_LINKS, SIMILAR_RAW = 20_000, 10, 40  # as the movie page's similar films…
SIMILAR_BLOCK = 500  # …whose co-occurrences are counted this many films at a time


def equal_blend() -> npt.NDArray[np.float64]:
    """Every part weighted alike in every row (``live_ranker.blend_row``): what a row keeps without
    enough people to learn on."""
    return np.ones((2 * (len(BUCKETS) + 1), len(PARTS)))


def ease_links(train: Ratings, films: int = EASE_FILMS, links: int = EASE_LINKS, lam: float = EASE_LAMBDA
               ) -> tuple[IntArray, npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """EASE's ``B`` over the most-rated films, each row cut to its ``links`` largest weights:
    (kept films' codes, their neighbours' codes, weights)."""
    counts = train.item_counts()
    kept = np.sort(np.argsort(-counts, kind="stable")[:min(films, int((counts > 0).sum()))])
    if len(kept) < 2:
        return kept, np.zeros((len(kept), 0), np.int32), np.zeros((len(kept), 0), np.float32)
    with _few_threads():
        weights = ease_weights(train.matrix(np.ones(len(train)))[:, kept], lam)
    return _strongest(kept, weights, links)


def next_links(train: Ratings, films: int = EASE_FILMS, links: int = EASE_LINKS, lambda_share: float = NEXT_LAMBDA_SHARE
               ) -> tuple[IntArray, npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """Links from what people had rated up to a moment to what they went on to like: ridge regression
    ``B = (XᵀX + λI)⁻¹ XᵀY`` over the ``films`` most-rated films, one row of ``X`` per person and cut
    (their first ``NEXT_CUTS`` events, and all but their last ``NEXT``), the events before it weighted
    by ``confidence``, and ``Y`` the films they rated ≥ 4 after it, each row scaled by 1/√(its count)
    so heavy raters do not outweigh everyone. EASE's ``B`` says which films go together, this one which
    come later: a list is judged on what a person does next. Same shape as ``ease_links``."""
    counts = train.item_counts()
    kept = np.sort(np.argsort(-counts, kind="stable")[:min(films, int((counts > 0).sum()))])
    if len(kept) < 2:
        return kept, np.zeros((len(kept), 0), np.int32), np.zeros((len(kept), 0), np.float32)
    column = np.full(train.n_items, -1, dtype=np.int64)
    column[kept] = np.arange(len(kept))
    order = np.lexsort((train.timestamps, train.users))
    users, items, stars = train.users[order], column[train.items[order]], train.ratings[order]
    rank = np.arange(len(users)) - np.searchsorted(users, users)  # each event's place in its person's history
    n = np.bincount(users, minlength=train.n_users)[users]
    conf, liked = confidence(stars), stars >= LIKED
    m = len(kept)
    gram, cross = np.zeros((m, m)), np.zeros((m, m))
    for cut in [np.full(len(users), c) for c in NEXT_CUTS] + [n - NEXT]:
        used = (cut > 0) & (cut < n) & (items >= 0)
        before, after = used & (rank < cut), used & (rank >= cut) & liked
        x = sp.csr_matrix((conf[before], (users[before], items[before])), shape=(train.n_users, m))
        scale = 1.0 / np.sqrt(np.maximum(np.bincount(users[after], minlength=train.n_users), 1.0))
        y = sp.csr_matrix((scale[users[after]], (users[after], items[after])), shape=(train.n_users, m))
        gram += (x.T @ x).toarray()
        cross += (x.T @ y).toarray()
    gram[np.diag_indices_from(gram)] += lambda_share * max(float(np.mean(np.diag(gram))), 1e-9)
    with _few_threads():
        b = np.linalg.solve(gram, cross)
    return _strongest(kept, b, links)


def similar_links(train: Ratings, films: int = SIMILAR_FILMS, links: int = SIMILAR_LINKS, raw: int = SIMILAR_RAW
                  ) -> tuple[IntArray, npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """Each of the ``films`` most-liked films' ``links`` nearest by cosine of who liked them
    (``online_models.cooccurrence``: ≥ 3.5★, ``C(i, j) / √(N(i) N(j))``), re-ranked from its ``raw``
    strongest co-occurrences as the movie page's similar films are. Counted ``SIMILAR_BLOCK`` films at a
    time: at 20,000 films the whole co-occurrence matrix would be 3.2 GB, a block is 80 MB. Same shape
    as ``ease_links``."""
    liked = train.ratings >= CoOccurrence().min_rating
    counts = np.bincount(train.items[liked], minlength=train.n_items)
    kept = np.sort(np.argsort(-counts, kind="stable")[:min(films, int((counts > 0).sum()))])
    m = len(kept)
    if m < 2:
        return kept, np.zeros((m, 0), np.int32), np.zeros((m, 0), np.float32)
    column = np.full(train.n_items, -1, dtype=np.int64)
    column[kept] = np.arange(m)
    used = liked & (column[train.items] >= 0)
    who = sp.csr_matrix((np.ones(int(used.sum())), (train.users[used], column[train.items[used]])),
                        shape=(train.n_users, m))
    by_film = who.T.tocsr()
    own = counts[kept].astype(np.float64)
    depth, width = min(raw, m - 1), min(links, m - 1)
    neighbours, weights = np.zeros((m, width), np.int32), np.zeros((m, width), np.float32)
    for start in range(0, m, SIMILAR_BLOCK):
        stop = min(start + SIMILAR_BLOCK, m)
        together = (by_film[start:stop] @ who).toarray()
        together[np.arange(stop - start), np.arange(start, stop)] = -1.0  # a film is not its own neighbour
        strongest = np.argpartition(-together, depth - 1, axis=1)[:, :depth]
        shared = np.maximum(np.take_along_axis(together, strongest, axis=1), 0.0)
        cosine = CoOccurrence.cosine(shared, own[start:stop, None], own[strongest])
        best = np.argpartition(-cosine, width - 1, axis=1)[:, :width]
        neighbours[start:stop] = kept[np.take_along_axis(strongest, best, axis=1)]
        weights[start:stop] = np.take_along_axis(cosine, best, axis=1)
    return kept, neighbours, weights


def _few_threads() -> threadpool_limits:
    """Two BLAS threads for the m×m solves, never more than the process was given: a refit beside the
    API asks for one (``cli.common.one_compute_thread``), which a fixed two here overrode."""
    given = min((int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas"), default=1)
    return threadpool_limits(min(2, given), "blas")


def _strongest(kept: IntArray, b: FloatArray, links: int
               ) -> tuple[IntArray, npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """Each row of ``b`` (over ``kept``) cut to its ``links`` largest weights, a film never its own link."""
    np.fill_diagonal(b, -np.inf)
    width = min(links, len(kept) - 1)
    best = np.argpartition(-b, width - 1, axis=1)[:, :width]
    weights = np.take_along_axis(b, best, axis=1)
    return kept, kept[best].astype(np.int32), np.maximum(weights, 0).astype(np.float32)


def fit_parts(train: Ratings, item_ids: IntArray, genres: npt.NDArray[np.uint8], genre_names: list[str],
              blend: npt.NDArray[np.float64] | None = None, seed: int = 0) -> LiveModel:
    """The published parts fitted on ``train`` (codes = positions in ``item_ids``)."""
    als = ImplicitALS(factors=ALS_FACTORS, reg=ALS_REG, alpha=ALS_ALPHA, iterations=ALS_ITERATIONS, seed=seed,
                      signal=confidence(train.ratings).astype(np.float32)).fit(train)
    kept, neighbours, links = ease_links(train)
    next_kept, next_neighbours, next_weights = next_links(train)
    similar = similar_links(train)
    liked = np.bincount(train.items[train.ratings >= LIKED], minlength=train.n_items).astype(np.float64)
    prior, _ = standardised(liked)
    return LiveModel(np.asarray(item_ids, dtype=np.int64), als.item_factors, ALS_REG, ALS_ALPHA, kept, neighbours,
                     links, prior, genres, genre_names, equal_blend() if blend is None else blend,
                     next_kept, next_neighbours, next_weights, *similar)


def _stated_genres(model: LiveModel, positions: IntArray, stars: FloatArray) -> list[str]:
    """The two genres a person would pick at sign-up: those most over-represented among the films they
    liked against the catalogue, of at least two liked films each. A fan of science fiction who also
    rates many dramas picks Sci-Fi; the most frequent genres (Drama, Comedy for nearly everyone) told
    the blend nothing, and it learned to ignore genres people state (measured: a first row of popular
    films with none of the genres chosen at onboarding)."""
    liked = positions[stars >= LIKED]
    if not len(liked) or not model.genre_names:
        return []
    counts = model.genres[liked].sum(axis=0).astype(np.float64)
    share = np.maximum(model.genres.mean(axis=0), 1e-9)
    lift = np.where(counts >= 2, counts / (len(liked) * share), 0.0)
    return [model.genre_names[j] for j in np.argsort(-lift, kind="stable")[:2] if lift[j] > 0]


@dataclass(frozen=True)
class Case:
    """One held-out person at one history size."""

    first: IntArray  # their first ``r`` films, in time order
    stars: FloatArray
    liked_later: set[int]  # films they rated ≥ 4 afterwards
    stated: list[str]  # the genres they would pick at sign-up (used only for the rows of people who do)
    returning: bool = False  # judged on what they did next (else: a new person, on the rest of their history)


def protocol_cases(model: LiveModel, data: Ratings, users: IntArray, cut: Callable[[int], int | None], limit: int,
                   seed: int = 0, returning: bool = False) -> list[Case]:
    """People of ``users`` seen after their first ``cut(n)`` events (n: how many they have; None: not
    this person) with a liked film after them, at most ``limit``."""
    order = np.lexsort((data.timestamps, data.users))
    users_sorted = data.users[order]
    starts = np.searchsorted(users_sorted, users)
    ends = np.searchsorted(users_sorted, users, side="right")
    cases: list[Case] = []
    for u in np.random.default_rng(seed).permutation(len(users)):
        rows = order[starts[u]:ends[u]]
        r = cut(len(rows))
        if r is None:
            continue
        later = rows[r:]
        liked = set(data.items[later[data.ratings[later] >= LIKED]].tolist())
        if liked:
            stated = _stated_genres(model, data.items[rows], data.ratings[rows])
            cases.append(Case(data.items[rows[:r]], data.ratings[rows[:r]], liked, stated, returning))
        if len(cases) == limit:
            break
    return cases


def bucket_cases(model: LiveModel, data: Ratings, users: IntArray, b: int, seed: int = 0,
                 limit: int = CASES_PER_BUCKET) -> list[Case]:
    """The two protocols lists are judged by, for history bucket ``b``: new people's first
    ``PROTOCOL_R[b]`` events against the rest of theirs, and returning people whose history without
    their last ``NEXT`` events falls in the bucket, against those last events (what they did next)."""
    low, high = ((0, *BUCKETS)[b], (*BUCKETS, np.inf)[b])
    r = PROTOCOL_R[b]
    fresh = protocol_cases(model, data, users, lambda n: r if n > r else None, limit, seed)
    returning = protocol_cases(model, data, users, lambda n: n - NEXT if low <= n - NEXT < high else None,
                               limit, seed, returning=True) if b else []  # nobody returns with no events
    return fresh + returning


def learn_blend(folds: list[tuple[LiveModel, list[Case]]], with_genres: bool, new_first: bool = False
                ) -> tuple[tuple[float, ...], float]:
    """The weighting for the cases of every fold (each ranked by the parts fitted without its people;
    stating their genres or not) whose worse protocol gains most, and that gain: each protocol's NDCG@10
    over what equal weights give it, the smaller of the two, so neither gains at the other's expense
    (pooled, what people do next, scoring about a fifth of the rest of a history, hardly counted;
    averaged, new people at 20 events lost what returning people gained). With ``new_first`` (histories
    shorter than ``NEW_FIRST_BELOW``: mostly people who have just arrived) new people's gain decides
    while returning people keep ``RETURNING_FLOOR`` of theirs: the worse protocol there was returning
    people's, and new people at 20 events gave up what returning people gained. From 30 events it is the
    worse protocol again: new people first there took returning people's lists below the offline hybrid's.
    Found by coordinate ascent from equal weights, each part's weight tried at every value of ``STEPS``
    in turn, ``ROUNDS`` times (an exhaustive grid of that many ratios would cost 8⁵ evaluations a row
    instead of 80). Among the weightings tried within ``NEAR_BEST`` of the best, the one whose lists
    cover most films wins: the same accuracy spread over more of the catalogue."""
    parts = np.stack([standardised_parts(model, c.first, c.stars, c.stated if with_genres else []
                                         ).astype(np.float32) for model, cases in folds for c in cases])
    cases = [c for _, fold in folds for c in fold]  # in the order of ``parts``: (cases, parts, films)
    wanted = [c.liked_later for c in cases]
    n_relevant = [len(w) for w in wanted]
    rows = np.concatenate([np.full(len(c.first), j) for j, c in enumerate(cases)]).astype(np.int64)
    cols = np.concatenate([c.first for c in cases]).astype(np.int64)
    tried: dict[tuple[float, ...], tuple[float, float]] = {}  # weights -> (NDCG@10, coverage)
    groups = [g for g in (np.array([not c.returning for c in cases]), np.array([c.returning for c in cases]))
              if g.any()]
    best = (1.0,) * len(PARTS)
    reference: list[float] = []

    def ndcg(weights: tuple[float, ...]) -> float:
        if weights not in tried:
            scores = np.einsum("p,cpn->cn", np.asarray(weights, np.float32), parts)
            scores[rows, cols] = -np.inf
            top = top_k(scores, 10)
            hits = metrics.hit_matrix(top, wanted)
            each = [metrics.ndcg_at(hits[g], [n for n, x in zip(n_relevant, g, strict=True) if x], 10) for g in groups]
            reference.extend(each[len(reference):])  # set by the first call
            gains = [v / max(r, 1e-9) for v, r in zip(each, reference, strict=True)]
            # groups: [new, returning] when both are there
            value = gains[0] if new_first and len(gains) == 2 and gains[1] >= RETURNING_FLOOR else min(gains)
            tried[weights] = (float(value), metrics.coverage(top, parts.shape[2], 10))
        return tried[weights][0]

    ndcg(best)  # equal weights first: the reference each protocol's NDCG is relative to
    for _ in range(ROUNDS):
        for p in range(len(PARTS)):
            for value in STEPS:
                trial = (*best[:p], value, *best[p + 1:])
                if any(trial) and ndcg(trial) > ndcg(best) + 1e-9:
                    best = trial
    near = [w for w, (found, _) in tried.items() if found >= (1 - NEAR_BEST) * tried[best][0]]
    chosen = max(near, key=lambda w: tried[w][1])
    return chosen, tried[chosen][0]


def fit_live(train: Ratings, item_ids: IntArray, genres: npt.NDArray[np.uint8], genre_names: list[str],
             validation_share: float = 0.1, max_validation: int = 2000, seed: int = 0
             ) -> tuple[LiveModel, dict[str, object]]:
    """The live model fitted on everyone, with the blend learned on held-out people; and what was
    learned (weights and their validation gain per row).

    A small release is held out in up to ``FOLDS`` disjoint folds, each ranked by parts fitted without
    it, until ``VALIDATION_PEOPLE`` people are held out: one fold of ml-latest-small holds 146 people,
    about 120 with more than 20 events, too few to tell weightings a few per cent apart. A large one
    needs a single fold, so its refits cost two fits, not four."""
    rng = np.random.default_rng(seed)
    people = rng.permutation(np.unique(train.users))
    # enough people to choose weights on, even from a small release
    share = min(max_validation, max(int(len(people) * validation_share), min(int(len(people) * 0.3), 300)))
    n_folds = max(1, min(FOLDS, -(-VALIDATION_PEOPLE // max(share, 1)), len(people) // max(share, 1)))
    blend = equal_blend()
    learned: dict[str, object] = {}
    if share >= 10:
        inner: list[tuple[LiveModel, Ratings, IntArray]] = []
        for fold in range(n_folds):
            held = people[fold * share:(fold + 1) * share]
            out = np.isin(train.users, held)
            inner.append((fit_parts(train.subset(~out), item_ids, genres, genre_names, seed=seed),
                          train.subset(out), held))
        for b in range(len(PROTOCOL_R)):
            folds = [(model, bucket_cases(model, valid, held, b, seed, CASES_PER_BUCKET // n_folds))
                     for model, valid, held in inner]
            n_cases = sum(len(cases) for _, cases in folds)
            if n_cases < MIN_CASES:
                continue
            for with_genres in (False, True):
                weights, gain = learn_blend(folds, with_genres, new_first=PROTOCOL_R[b] < NEW_FIRST_BELOW)
                blend[b + (len(BUCKETS) + 1 if with_genres else 0)] = weights
                learned[f"bucket {b}{', genres chosen' if with_genres else ''}"] = {
                    "weights": dict(zip(PARTS, weights, strict=True)), "gain (worse protocol)": round(gain, 4),
                    "cases": n_cases, "folds": n_folds}
    return fit_parts(train, item_ids, genres, genre_names, blend, seed), learned

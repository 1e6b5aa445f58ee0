"""The lists people get, each film with its reason: recommendations, history, and the cards they show.

With a live ranker published, a person's whole history is folded into it on each request (what they
rated a moment ago counts); before one exists, the hybrid's published list is fused with the online
MF's. Routes for a user id and for "me" both call these.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Hashable
from typing import Any

import numpy as np

from api.search import TitleIndex
from online_models.live_ranker import LiveModel
from storage import live_model_store, published_store, recent_history
from storage.live_model_store import Asked, KeptVersions, LiveModelCopy

Cards = tuple[TitleIndex, Any]  # the in-memory catalogue and the database it refreshes from


async def titled(cards: Cards, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The movies' cards, from the API's memory (the catalogue is re-read only when it changed)."""
    index, db = cards
    await index.ensure_fresh(db)
    return {m: index.card(m) for m in ids}


def spare(index: TitleIndex) -> int:
    """How many more films to ask a model for, so that ``k`` remain once retired titles are dropped."""
    return min(len(index.retired), 50)


def current(index: TitleIndex, ranked: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    """The first ``k`` films of ``ranked`` still in the catalogue (models learned of retired titles too)."""
    return [pair for pair in ranked if pair[0] not in index.retired][:k] if index.retired else ranked[:k]


RRF_K = 60  # reciprocal rank fusion's damping: the standard value (Cormack et al. 2009)


def fuse(batch: list[int], online: list[int], exclude: Collection[int]) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of the hybrid's list and the online model's: a movie high in either
    ranks high, and one both agree on ranks first; scores on different scales need no calibration."""
    scores: dict[int, float] = {}
    for ranked in (batch, online):
        for rank, movie in enumerate(m for m in ranked if m not in exclude):
            scores[movie] = scores.get(movie, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


async def recommendations_for(user_id: int, cards: Cards, models: Any, redis: Any, k: int) -> dict[str, Any]:
    # with a live ranker in hand the MF's own list is not needed (0.15 ms of a request's CPU)
    online, rated, (recs_blob, live_version, genres) = await models.items.recommend(
        user_id, 0 if models.live.model is not None else max(k, 50),
        [published_store.recs_key(user_id), live_model_store.VERSION, live_model_store.genres_key(user_id)])
    live = await models.live.at(live_version)
    if live is not None:
        key = (user_id, models.items.rated_version(user_id), genres, k, cards[0].version)
        chosen_genres = live_model_store.chosen(genres)
        served = await _live_list(user_id, live, models.live, key, rated, chosen_genres, cards, k)
        return with_new_title(served, cards[0], rated, chosen_genres, k)
    published = published_store.unpack(recs_blob, 3)
    if not online and not len(published):
        trending = current(cards[0], await models.trending.top(k + spare(cards[0])), k)
        movies = await titled(cards, [m for m, _ in trending])
        return {"userId": user_id, "model": "trending (cold start)",
                "items": [{**movies[m], "score": s, "reason": "trending now"} for m, s in trending]}
    explained = published[:, 2] >= 0
    batch_anchor = dict(zip(published[explained, 0].astype(np.int64).tolist(),
                            published[explained, 2].astype(np.int64).tolist(), strict=True))
    ranked = fuse(published[:, 0].astype(np.int64).tolist(), [m for m, _ in online],
                  rated.keys() | cards[0].retired)[:k]
    liked = heapq.nlargest(20, rated, key=rated.__getitem__)  # the best rated, ties in rating order
    fresh = await models.similarity.best_anchor([m for m, _ in ranked if m not in batch_anchor], liked)
    chosen = {m: batch_anchor.get(m, fresh.get(m)) for m, _ in ranked}
    movies = await titled(cards, [m for m, _ in ranked] + [a for a in chosen.values() if a is not None])
    items = []
    for movie_id, score in ranked:
        anchor = chosen[movie_id]
        if anchor is not None:
            stars = f" {rated[anchor]:g}★" if anchor in rated else ""
            reason = f"because you rated {movies.get(anchor, {}).get('title', anchor)}{stars}"
        else:
            reason = "matches the taste your ratings show"
        items.append({**movies[movie_id], "score": score, "reason": reason})
    model = "hybrid (offline) fused with online biased MF" if len(published) else "online biased MF"
    return with_new_title({"userId": user_id, "model": model, "items": items}, cards[0], rated, [], k)


LIVE_MODEL = ("live ranker: implicit ALS folded in, EASE, what comes next, both from the latest films, similar "
              "films, liked-count prior, chosen genres")


async def kept_version_list(version: int, user_id: int, cards: Cards, models: Any, k: int) -> dict[str, Any]:
    """The person's list ranked by a kept version of the live ranker (an experiment's variant), as the
    live path ranks it; KeyError when that version is no longer kept."""
    _, rated, (genres,) = await models.items.recommend(user_id, 0, [live_model_store.genres_key(user_id)])
    model = await models.kept.at(version)
    chosen_genres = live_model_store.chosen(genres)
    key = (version, user_id, models.items.rated_version(user_id), genres, k, cards[0].version)
    served = await _live_list(user_id, model, models.kept, key, rated, chosen_genres, cards, k)
    served = with_new_title(served, cards[0], rated, chosen_genres, k)
    return {**served, "model": f"ranker version {version}: {served['model']}"}


async def _live_list(user_id: int, live: LiveModel, copy: LiveModelCopy | KeptVersions, key: Hashable,
                     rated: dict[int, float], genres: list[str], cards: Cards, k: int) -> dict[str, Any]:
    """The person's whole history folded into the published live model (``online_models.live_ranker``):
    what they rated a moment ago counts, whether or not a batch job has ever seen them. The ranking is
    kept under ``key`` (model, ratings' version, genres, length) until one of those changes."""
    ranked = copy.recall(key)
    if ranked is None:
        asked = Asked(np.fromiter(rated, dtype=np.int64, count=len(rated)),
                      np.fromiter(rated.values(), dtype=np.float32, count=len(rated)), genres,
                      # titles retired since the model was fitted are in no list
                      np.fromiter(cards[0].retired, dtype=np.int64, count=len(cards[0].retired)), k)
        ranked = asked.rank(live)
        copy.keep(key, ranked, asked)
    chosen_ids, anchor_ids, scores, taste = ranked.ids, ranked.anchors, ranked.scores, ranked.taste
    cards_of = await titled(cards, chosen_ids + [a for a in anchor_ids if a is not None])
    items = []
    for movie_id, anchor, score in zip(chosen_ids, anchor_ids, scores, strict=True):
        card = cards_of[movie_id]
        if anchor is not None:
            reason = f"because you rated {cards_of[anchor].get('title') or anchor} {rated[anchor]:g}★"
        else:
            liked = next((g for g in taste if g in (card.get("genres") or [])), None)
            reason = f"popular with people who like {liked}" if liked else "popular with people here"
        items.append({**card, "score": score, "reason": reason})
    return {"userId": user_id, "model": LIVE_MODEL, "items": items}


NEW_SLOT = 2  # where a new title goes in a list: seen without displacing the two best picks
NEW_CANDIDATES = 200  # the most recently added titles considered for it


def with_new_title(served: dict[str, Any], index: TitleIndex, rated: dict[int, float], genres: list[str],
                   k: int) -> dict[str, Any]:
    """The list with one slot, labelled ``"slot": "new"``, for the new title that matches the person
    best: the one whose content neighbours (``storage.catalogue_changes``) hold a film they rated 4★ or
    more, the closest such neighbour first; failing that, one in a genre they chose. No model has
    ratings for a new title, so without this slot it would reach nobody's list until it had some.
    Nothing is added when no new title matches."""
    candidates = [m for m in list(index.new)[-NEW_CANDIDATES:] if m not in rated]
    if not candidates or k < 1:
        return served
    liked = {m for m, stars in rated.items() if stars >= 4}
    best: tuple[float, int, int | None] | None = None  # (closeness, movie, anchor)
    liked_ids = np.fromiter(liked, dtype=np.int64, count=len(liked))
    for movie in candidates:
        near = index.new[movie]
        hits = np.flatnonzero(np.isin(near[:, 0].astype(np.int64), liked_ids))
        found: tuple[float, int, int | None]
        if len(hits):
            found = (float(near[hits[0], 1]), movie, int(near[hits[0], 0]))
        elif set(genres) & set(index.card(movie)["genres"]):
            found = (0.0, movie, None)
        else:
            continue
        if best is None or found[0] > best[0]:
            best = found
    if best is None:
        return served
    closeness, movie, anchor = best
    if anchor is not None:
        reason = f"new: like {index.card(anchor).get('title') or anchor} you rated {rated[anchor]:g}★"
    else:
        reason = f"new in {next(g for g in genres if g in index.card(movie)['genres'])}"
    items = [item for item in served["items"] if item["movieId"] != movie]
    items.insert(min(NEW_SLOT, len(items)), {**index.card(movie), "score": closeness, "reason": reason, "slot": "new"})
    return {**served, "items": items[:k]}


async def history_of(user_id: int, cards: Cards, redis: Any, limit: int) -> dict[str, Any]:
    events = await recent_history.latest(redis, user_id, limit)
    movies = await titled(cards, [e["movie_id"] for e in events])
    return {"userId": user_id, "items": [
        {**movies[e["movie_id"]], **{k: e.get(k) for k in ("type", "rating", "seconds_watched", "completed",
                                                                  "timestamp")}} for e in events]}

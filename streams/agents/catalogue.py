"""Agent: the catalogue's changes (``contracts.catalogue``) applied as they arrive.

A title added, changed or retired through the API (or by any producer of the ``movies`` topic) is
written to MongoDB, given its content neighbours there and then (``recommenders.content``: its
metadata's TF-IDF and, when ``model publish`` installed the catalogue's, its overview's MiniLM
embedding, computed here in a few tens of milliseconds), and
announced on ``storage.catalogue_changes``, which every API process and worker follows: within a
second it is searchable, has a page and "similar films", and may be offered to people whose taste
it matches. A retired title leaves search, pages and lists; histories keep it.

Runs in the archive role (MongoDB's writer). A message that does not decode, or that retires a
title the catalogue never held, goes to the dead-letter topic with its reason; its other titles are
applied. Applying a change twice stores the same document, so a batch retried after a crash is
harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np

from cinestream.catalogue.changes import title_document
from contracts.catalogue import Title, decode_titles, record
from contracts.events import Invalid
from recommenders.content import ContentNeighbours
from recommenders.text_embedding import MiniLM, overview_text
from storage import batch_store, catalogue_changes, catalogue_store, content_store
from storage.catalogue_changes import Change
from storage.redis_store import connect
from streams.app import app, catalogue_db, dead_letter_topic, movies_topic, settings
from streams.dead_letter import dead_letter_record
from streams.retry import until_stored

redis = connect(settings)
log = logging.getLogger(__name__)
_neighbours: list[tuple[int, ContentNeighbours]] = []  # with the embeddings' installation they were fitted with
_encoder: list[MiniLM] = []  # loaded with them when the catalogue has overview embeddings
_fitting = asyncio.Lock()


FOLLOW_S = 5.0  # how often the agent asks whether ``model publish`` installed new overview embeddings


@app.task
async def fit_content() -> None:
    """Fitted at start, so the first title added does not wait a second for it."""
    async with _fitting:
        await _content()


@app.timer(interval=FOLLOW_S)
async def follow_content() -> None:
    """Fitted again, beside the agent, once ``model publish`` installed new overview embeddings: the
    main job starts its workers minutes before it publishes, and a title should not wait for the refit."""
    async with _fitting:
        await _content()


@app.agent(movies_topic)
async def catalogue(stream: Any) -> None:
    async for events in stream.take_events(100, within=0.02):
        changes: list[tuple[Title, Any]] = []
        for event in events:
            titles = decode_titles(event.value)
            if isinstance(titles, Invalid):
                await _refuse(event, titles.reason)
            else:
                changes += [(title, event) for title in titles]
        if changes:
            await apply(changes)


async def apply(changes: list[tuple[Title, Any]]) -> None:
    """Store the batch's changes (the last per title wins: one partition keeps them in order)."""
    async with _fitting:  # never beside a refit, which could read the catalogue before these titles
        await _apply(changes)


async def _apply(changes: list[tuple[Title, Any]]) -> None:
    last = {title.movieId: (title, event) for title, event in changes}
    neighbours = await _content()  # it knows every stored id: MongoDB scans for one it does not hold
    for movie, (title, event) in list(last.items()):
        if title.op == "retire" and movie not in neighbours.row:
            await _refuse(event, f"retire: movie {movie} is not in the catalogue")
            del last[movie]
    upserts = [t for t, _ in last.values() if t.op == "upsert"]
    retired = [m for m, (t, _) in last.items() if t.op == "retire" and neighbours.is_active(m)]
    restored = [t.movieId for t in upserts if t.movieId in neighbours.row and not neighbours.is_active(t.movieId)]
    stored = await until_stored("read titles", catalogue_store.titles, catalogue_db,
                                [t.movieId for t in upserts if t.movieId in neighbours.row])
    now = datetime.now(UTC)
    added = [title_document(record(t), stored.get(t.movieId), now) for t in upserts]
    await until_stored("titles", catalogue_store.write_titles, catalogue_db, added, stored.keys())
    await until_stored("restored titles", catalogue_store.restore_titles, catalogue_db, restored)
    await until_stored("retired titles", catalogue_store.retire_titles, catalogue_db, retired, now)
    embedded = await _embeddings(neighbours, added)
    near = {d["movieId"]: neighbours.add(d["movieId"], d, embedded.get(d["movieId"])) for d in added}
    for movie in retired:
        neighbours.retire(movie)
    await until_stored("content neighbours", batch_store.write_similar, redis, near)
    if embedded:
        await until_stored("overview embeddings", content_store.set_overviews, redis, embedded)
    published = [Change("upsert", d["movieId"], {k: v for k, v in d.items() if k != "_id"}, near[d["movieId"]])
                 for d in added] + [Change("retire", m) for m in retired]
    await until_stored("catalogue changes", catalogue_changes.append, redis, published)
    log.info("catalogue: %d titles added or changed, %d retired", len(added), len(retired))


async def _content() -> ContentNeighbours:
    """The catalogue's content vectors, fitted again when ``model publish`` installed new overview
    embeddings since they were."""
    installed = await until_stored("overview version", content_store.overviews_version, redis)
    if not _neighbours or _neighbours[0][0] != installed:
        docs = await until_stored("content documents", catalogue_store.content_documents, catalogue_db)
        version, overviews = await until_stored("overview embeddings", content_store.overviews, redis)
        near = await asyncio.to_thread(ContentNeighbours, docs, overviews)  # a second of CPU, off the loop
        if near.embeds and not _encoder:
            _encoder.append(await asyncio.to_thread(MiniLM.load))
        _neighbours[:] = [(version, near)]
        await until_stored("overviews in use", content_store.use_overviews, redis, version)
        log.info("catalogue: content vectors of %d titles, %d with overview embeddings (installation %d)",
                 len(docs), len(overviews), version)
    return _neighbours[0][1]


async def _embeddings(neighbours: ContentNeighbours, docs: list[dict[str, Any]]) -> dict[int, Any]:
    """The overview embedding of each title (None: it has no overview), or nothing when the catalogue
    has none to compare them with."""
    if not neighbours.embeds or not docs:
        return {}
    texts = {d["movieId"]: overview_text(d) for d in docs}
    written = [m for m, text in texts.items() if text]
    vectors = await asyncio.to_thread(_encoder[0].encode, [texts[m] for m in written]) if written else np.zeros((0, 0))
    return {**dict.fromkeys(texts), **dict(zip(written, vectors, strict=True))}


async def _refuse(event: Any, reason: str) -> None:
    message = event.message
    await dead_letter_topic.send(value=dead_letter_record(event.value, message.topic, message.partition,
                                                          message.offset, reason))

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

from contracts.catalogue import Title, decode_titles, record
from contracts.events import Invalid
from recommenders.content import ContentNeighbours
from recommenders.text_embedding import MiniLM, overview_text
from storage import catalogue_changes, catalogue_store, content_store, published_store
from storage.catalogue_changes import Change
from storage.title_documents import title_document
from streams.app import Worker
from streams.dead_letter import dead_letter_record
from streams.retry import until_stored

log = logging.getLogger(__name__)

FOLLOW_S = 5.0  # how often the agent asks whether ``model publish`` installed new overview embeddings


class CatalogueAgent:
    """The titles' documents, their content neighbours and the changes announced, for one worker."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.redis = worker.redis()
        self.db = worker.catalogue_db
        # with the embeddings' installation they were fitted with
        self._neighbours: list[tuple[int, ContentNeighbours]] = []
        self._encoder: list[MiniLM] = []  # loaded with them when the catalogue has overview embeddings
        self._fitting = asyncio.Lock()

    async def fit_content(self) -> None:
        """Fitted at start, so the first title added does not wait a second for it; and again, beside the
        agent, once ``model publish`` installed new overview embeddings: the main job starts its workers
        minutes before it publishes, and a title should not wait for the refit."""
        async with self._fitting:
            await self._content()

    async def consume(self, stream: Any) -> None:
        async for events in stream.take_events(100, within=0.02):
            changes: list[tuple[Title, Any]] = []
            for event in events:
                titles = decode_titles(event.value)
                if isinstance(titles, Invalid):
                    await self._refuse(event, titles.reason)
                else:
                    changes += [(title, event) for title in titles]
            if changes:
                await self.apply(changes)

    async def apply(self, changes: list[tuple[Title, Any]]) -> None:
        """Store the batch's changes (the last per title wins: one partition keeps them in order)."""
        async with self._fitting:  # never beside a refit, which could read the catalogue before these titles
            await self._apply(changes)

    async def _apply(self, changes: list[tuple[Title, Any]]) -> None:
        db, redis = self.db, self.redis
        last = {title.movieId: (title, event) for title, event in changes}
        neighbours = await self._content()  # it knows every stored id: MongoDB scans for one it does not hold
        for movie, (title, event) in list(last.items()):
            if title.op == "retire" and movie not in neighbours.row:
                await self._refuse(event, f"retire: movie {movie} is not in the catalogue")
                del last[movie]
        upserts = [t for t, _ in last.values() if t.op == "upsert"]
        retired = [m for m, (t, _) in last.items() if t.op == "retire" and neighbours.is_active(m)]
        restored = [t.movieId for t in upserts if t.movieId in neighbours.row and not neighbours.is_active(t.movieId)]
        stored = await until_stored("read titles", catalogue_store.titles, db,
                                    [t.movieId for t in upserts if t.movieId in neighbours.row])
        now = datetime.now(UTC)
        added = [title_document(record(t), stored.get(t.movieId), now) for t in upserts]
        await until_stored("titles", catalogue_store.write_titles, db, added, stored.keys())
        await until_stored("restored titles", catalogue_store.restore_titles, db, restored)
        await until_stored("retired titles", catalogue_store.retire_titles, db, retired, now)
        embedded = await self._embeddings(neighbours, added)
        near = {d["movieId"]: neighbours.add(d["movieId"], d, embedded.get(d["movieId"])) for d in added}
        for movie in retired:
            neighbours.retire(movie)
        await until_stored("content neighbours", published_store.write_similar, redis, near)
        if embedded:
            await until_stored("overview embeddings", content_store.set_overviews, redis, embedded)
        published = [Change("upsert", d["movieId"], {k: v for k, v in d.items() if k != "_id"}, near[d["movieId"]])
                     for d in added] + [Change("retire", m) for m in retired]
        await until_stored("catalogue changes", catalogue_changes.append, redis, published)
        log.info("catalogue: %d titles added or changed, %d retired", len(added), len(retired))

    async def _content(self) -> ContentNeighbours:
        """The catalogue's content vectors, fitted again when ``model publish`` installed new overview
        embeddings since they were."""
        redis = self.redis
        installed = await until_stored("overview version", content_store.overviews_version, redis)
        if not self._neighbours or self._neighbours[0][0] != installed:
            docs = await until_stored("content documents", catalogue_store.content_documents, self.db)
            version, overviews = await until_stored("overview embeddings", content_store.overviews, redis)
            near = await asyncio.to_thread(ContentNeighbours, docs, overviews)  # a second of CPU, off the loop
            if near.embeds and not self._encoder:
                self._encoder.append(await asyncio.to_thread(MiniLM.load))
            self._neighbours[:] = [(version, near)]
            await until_stored("overviews in use", content_store.use_overviews, redis, version)
            log.info("catalogue: content vectors of %d titles, %d with overview embeddings (installation %d)",
                     len(docs), len(overviews), version)
        return self._neighbours[0][1]

    async def _embeddings(self, neighbours: ContentNeighbours, docs: list[dict[str, Any]]) -> dict[int, Any]:
        """The overview embedding of each title (None: it has no overview), or nothing when the catalogue
        has none to compare them with."""
        if not neighbours.embeds or not docs:
            return {}
        texts = {d["movieId"]: overview_text(d) for d in docs}
        written = [m for m, text in texts.items() if text]
        vectors = (await asyncio.to_thread(self._encoder[0].encode, [texts[m] for m in written]) if written
                   else np.zeros((0, 0)))
        return {**dict.fromkeys(texts), **dict(zip(written, vectors, strict=True))}

    async def _refuse(self, event: Any, reason: str) -> None:
        message = event.message
        await self.worker.dead_letter_topic.send(value=dead_letter_record(
            event.value, message.topic, message.partition, message.offset, reason))


def register(worker: Worker) -> None:
    agent = CatalogueAgent(worker)
    worker.app.task(agent.fit_content)
    worker.app.timer(interval=FOLLOW_S)(agent.fit_content)
    worker.app.agent(worker.movies_topic, name=f"{__name__}.catalogue")(agent.consume)

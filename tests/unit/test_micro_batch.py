"""``collect``: a micro-batch's valid events as columns, each with its Kafka coordinates; erasures set
apart; what cannot be learned dead-lettered with its reason, once, by the topic's owner."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

from contracts.events import encode_erasure, encode_events
from streams.known_movies import KnownMovies
from streams.micro_batch import collect


@dataclass
class _Topic:
    sent: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, value: bytes) -> None:
        self.sent.append(json.loads(value))


def _worker(catalogue: list[int]) -> Any:
    known = KnownMovies()
    known.ids = np.array(sorted(catalogue), dtype=np.int64)
    return SimpleNamespace(known_movies=known, catalogue_db=None, dead_letter_topic=_Topic())


def _event(raw: bytes, partition: int, offset: int, topic: str = "ratings") -> Any:
    return SimpleNamespace(value=raw, message=SimpleNamespace(topic=topic, partition=partition, offset=offset))


def _rating(event_id: str, user: int, movie: int, stars: float = 4.0) -> dict[str, Any]:
    return {"type": "rating", "event_id": event_id, "user_id": user, "movie_id": movie, "rating": stars,
            "timestamp": 1_700_000_000.0, "source": "test"}


async def test_events_keep_their_coordinates_and_erasures_are_set_apart() -> None:
    worker = _worker([10, 20])
    batch = await collect(worker, [
        _event(encode_events([_rating("a", 1, 10), _rating("b", 2, 20)]), partition=0, offset=5),
        _event(encode_erasure(3), partition=1, offset=7),
        _event(encode_events([_rating("c", 4, 20, 2.5)]), partition=1, offset=8),
    ], dead_letter=frozenset({"ratings"}))
    assert len(batch) == 3
    assert batch.events.users.tolist() == [1, 2, 4]
    assert batch.partitions.tolist() == [0, 0, 1] and batch.offsets.tolist() == [5, 5, 8]
    assert batch.erasures == (3,)
    assert worker.dead_letter_topic.sent == []


async def test_an_unknown_film_is_dead_lettered_with_its_reason_and_its_neighbours_are_learned() -> None:
    worker = _worker([10])
    raw = encode_events([_rating("ok", 1, 10), _rating("phantom", 1, 999)])
    batch = await collect(worker, [_event(raw, partition=2, offset=11)], dead_letter=frozenset({"ratings"}))
    assert batch.events.movies.tolist() == [10] and batch.offsets.tolist() == [11]
    [letter] = worker.dead_letter_topic.sent
    assert (letter["topic"], letter["partition"], letter["offset"]) == ("ratings", 2, 11)
    assert "not in the catalogue: movie_id 999 (event phantom)" in letter["reason"]
    assert "1 of 2 events refused" in letter["reason"]


async def test_a_malformed_message_is_dead_lettered_only_by_the_topics_owner() -> None:
    owner, other = _worker([10]), _worker([10])
    events = [_event(b"{not json", partition=0, offset=1), _event(encode_events([_rating("a", 1, 10)]), 0, 2)]
    for worker, owned in ((owner, frozenset({"ratings"})), (other, frozenset())):
        batch = await collect(worker, events, dead_letter=owned)
        assert batch.offsets.tolist() == [2]
    assert [letter["offset"] for letter in owner.dead_letter_topic.sent] == [1]
    assert owner.dead_letter_topic.sent[0]["reason"]
    assert other.dead_letter_topic.sent == []

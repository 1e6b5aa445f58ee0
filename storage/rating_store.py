"""A release's imported ratings in MongoDB: one document per person (and part), the ratings as columns.

The ratings are the bulk of a release (25 M at ml-25m), and FerretDB spends about 35 µs of CPU per
document whatever its size (``storage/README.md``): one document per rating would take a quarter of an
hour and ~9 GB at ml-25m, and reading them back as 25 M Python dicts would not fit in memory. A
person's ratings as columns (``movieId``, ``rating``, ``timestamp``, ``centred``, ``z``), oldest
first, cost one document per person; a person with more than ``PART`` ratings gets several, so a
document stays far below MongoDB's 16 MB. Each column is one binary value of little-endian numbers
(``DTYPES``), not an array: FerretDB spends about 10 µs per array element reading it back (25 M
ratings: 260 s, measured), and a binary column costs it one value.

``_id`` is ``"<source>:<userId>:<part>"`` and each document carries a digest of its columns: a load
writes only documents that are missing or differ, so it is repeatable and resumes where an interrupted
one stopped. A rating of the same person, movie and time twice in a release is kept once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from bson import Binary
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel

from online_models.runs import rank_in_runs, run_starts

PART = 5000
INSERT_CHUNK = 100_000  # ratings per insert_many (pymongo splits it into messages of 48 MB)
DTYPES = {"movieId": "<i4", "rating": "<f4", "timestamp": "<i8", "centred": "<f4", "z": "<f4"}
INDEXES = [IndexModel([("userId", ASCENDING), ("part", ASCENDING)], unique=True, name="user_part_unique")]
# The indexes of earlier versions, which stored one document per rating.
REPLACED_INDEXES = ("user_movie_time_unique", "movieId")
Progress = Callable[[int], None]


async def ensure_indexes(db: AsyncIOMotorDatabase) -> None:
    existing = await db.ratings.index_information()
    if any(name in existing for name in REPLACED_INDEXES):
        await db.ratings.drop()  # all one-rating documents of an earlier version: the load writes them anew
    for model in INDEXES:
        await db.ratings.create_indexes([model])


@dataclass(frozen=True)
class _Plan:
    """The documents a release's ratings make: ``columns`` sorted by person then time, document ``j``
    holding rows ``starts[j]:starts[j + 1]`` of person ``users[j]``, part ``parts[j]``."""

    columns: dict[str, np.ndarray]
    starts: np.ndarray
    users: np.ndarray
    parts: np.ndarray
    ids: list[str]

    def packed(self, j: int) -> dict[str, bytes]:
        rows = slice(self.starts[j], self.starts[j + 1])
        return {name: self.columns[name][rows].astype(dtype).tobytes() for name, dtype in DTYPES.items()}

    def document(self, j: int, source: str, packed: dict[str, bytes], digest: str) -> dict[str, Any]:
        return {"_id": self.ids[j], "userId": int(self.users[j]), "part": int(self.parts[j]), "n": self.size(j),
                "source": source, "digest": digest, **{name: Binary(value) for name, value in packed.items()}}

    def size(self, j: int) -> int:
        return int(self.starts[j + 1] - self.starts[j])


def _plan(ratings: pd.DataFrame, source: str) -> _Plan:
    frame = ratings.drop_duplicates(["userId", "movieId", "timestamp"]).sort_values(
        ["userId", "timestamp", "movieId"], kind="stable")
    users = frame["userId"].to_numpy(np.int64)
    columns = {name: frame[name].to_numpy() for name in DTYPES}
    part = rank_in_runs(users) // PART
    first = run_starts(users, part)
    ids = [f"{source}:{u}:{p}" for u, p in zip(users[first].tolist(), part[first].tolist(), strict=True)]
    return _Plan(columns, np.r_[first, len(users)], users[first], part[first], ids)


async def load(db: AsyncIOMotorDatabase, ratings: pd.DataFrame, source: str,
               progress: Progress | None = None) -> dict[str, int]:
    """Make ``ratings`` hold exactly the release's ratings of ``source``: insert what is missing,
    rewrite what differs, delete what the release no longer has."""
    await ensure_indexes(db)
    plan = _plan(ratings, source)
    stored = {d["_id"]: d.get("digest") async for d in db.ratings.find({"source": source}, {"digest": 1})}
    wanted = set(plan.ids)
    gone = [i for i in stored if i not in wanted]
    digests = [_digest(plan.packed(j)) for j in range(len(plan.ids))]
    write = [j for j, i in enumerate(plan.ids) if stored.get(i, "") != digests[j]]
    changed = [plan.ids[j] for j in write if plan.ids[j] in stored]
    if progress:
        progress(len(plan.columns["movieId"]) - sum(plan.size(j) for j in write))
    for doomed in _chunks(gone + changed, 10_000):
        await db.ratings.delete_many({"_id": {"$in": doomed}})
    for chunk in _insert_chunks(plan, write):
        await db.ratings.insert_many([plan.document(j, source, plan.packed(j), digests[j]) for j in chunk],
                                     ordered=False)
        if progress:
            progress(sum(plan.size(j) for j in chunk))
    return {"ratings": len(plan.columns["movieId"]), "documents": len(plan.ids),
            "written": len(write), "rewritten": len(changed), "deleted": len(gone)}


def _digest(packed: dict[str, bytes]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for value in packed.values():
        h.update(value)
    return h.hexdigest()


def columns(doc: dict[str, Any]) -> dict[str, np.ndarray]:
    """A stored document's columns as numpy arrays (those it was read with)."""
    return {name: np.frombuffer(doc[name], dtype=dtype) for name, dtype in DTYPES.items() if name in doc}


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _insert_chunks(plan: _Plan, write: list[int]) -> Iterator[list[int]]:
    """Documents to write, in runs of about ``INSERT_CHUNK`` ratings."""
    chunk: list[int] = []
    held = 0
    for j in write:
        chunk.append(j)
        held += plan.size(j)
        if held >= INSERT_CHUNK:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


async def all_ratings(db: AsyncIOMotorDatabase) -> pd.DataFrame:
    """Every stored rating as columns (userId, movieId, rating, timestamp), for batch training."""
    names = ("movieId", "rating", "timestamp")
    parts: dict[str, list[np.ndarray]] = {"userId": [], **{name: [] for name in names}}
    async for doc in db.ratings.find({}, {"_id": 0, "userId": 1, **dict.fromkeys(names, 1)}, batch_size=1000):
        held = columns(doc)
        parts["userId"].append(np.full(len(held["movieId"]), doc["userId"], dtype=np.int64))
        for name in names:
            parts[name].append(held[name])
    return pd.DataFrame({"userId": _joined(parts["userId"], np.int64),
                         "movieId": _joined(parts["movieId"], np.int64),
                         "rating": _joined(parts["rating"], np.float64),
                         "timestamp": _joined(parts["timestamp"], np.int64)})


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


async def of_user(db: AsyncIOMotorDatabase, user_id: int) -> list[dict[str, Any]]:
    """One person's imported ratings, oldest first: ``movieId``, ``rating``, ``timestamp``."""
    projection = {"_id": 0, "part": 1, "movieId": 1, "rating": 1, "timestamp": 1}
    docs = sorted(await db.ratings.find({"userId": user_id}, projection).to_list(None), key=lambda d: d["part"])
    out: list[dict[str, Any]] = []
    for doc in docs:
        held = columns(doc)
        out += [{"movieId": m, "rating": r, "timestamp": t} for m, r, t in zip(
            held["movieId"].tolist(), held["rating"].tolist(), held["timestamp"].tolist(), strict=True)]
    return out


async def forget(db: AsyncIOMotorDatabase, user_id: int) -> None:
    await db.ratings.delete_many({"userId": user_id})

"""A title that arrives while the system runs is compared as ``model publish`` compares the catalogue:
its metadata's TF-IDF beside its overview's embedding (``recommenders.content.combine``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.datasets import load_documents
from recommenders.content import ContentNeighbours, combine, metadata_vectors
from recommenders.text_embedding import MiniLM, overview_text

ALIEN = 1214


@pytest.fixture(scope="module")
def documents(data_dir: Path) -> dict[int, dict]:
    """ml-latest-small's catalogue joined with TMDB: the films with an overview, Alien among them."""
    docs = load_documents(data_dir, "ml-latest-small")
    return {m: d for m, d in docs.items() if overview_text(d)}


def test_a_title_added_has_the_cosines_the_published_vectors_give(documents: dict[int, dict]) -> None:
    rng = np.random.default_rng(0)
    ids = sorted(documents)[:400]
    docs = {m: documents[m] for m in ids}
    embeddings = rng.normal(size=(len(ids), 384)).astype(np.float32)
    embeddings[::7] = 0.0  # films without an overview: TF-IDF alone
    published = combine(metadata_vectors(list(docs.values())), embeddings)
    expected = np.asarray((published @ published[0].T).todense()).ravel()

    near = ContentNeighbours(docs, dict(zip(ids, embeddings, strict=True)))
    rows = near.add(ids[0], docs[ids[0]], embeddings[0] * 3.0, k=len(ids))  # any length: only its direction counts
    got = dict(zip(rows[:, 0].astype(int).tolist(), rows[:, 1].tolist(), strict=True))
    for row, movie in enumerate(ids[1:], start=1):
        assert got.get(movie, 0.0) == pytest.approx(max(expected[row], 0.0), abs=1e-5)
    assert near.norms[0] == pytest.approx(1.0, abs=1e-5)  # a unit vector, as the published rows are


def test_a_new_title_telling_a_stored_films_story_is_its_neighbour_through_its_overview(
        documents: dict[int, dict]) -> None:
    """No genre, name or decade (none of its own): TF-IDF alone finds nothing; with the overviews'
    embeddings, Alien is among its closest films."""
    ids = [ALIEN, *[m for m in sorted(documents) if m != ALIEN][:150]]
    docs = {m: documents[m] for m in ids}
    encoder = MiniLM.load()
    embedded = dict(zip(ids, encoder.encode([overview_text(docs[m]) for m in ids]), strict=True))
    title = {"title": "Zyxqr", "year": 2031,
             "overview": "The crew of a commercial towing spaceship answers a distress call on a distant moon "
                         "and brings back an alien creature that hunts them one by one aboard the ship."}

    without = ContentNeighbours(docs).add(10**9, title)
    assert ALIEN not in without[:, 0].astype(int).tolist()

    near = ContentNeighbours(docs, embedded)
    assert near.embeds
    found = near.add(10**9, title, encoder.encode([overview_text(title)])[0], k=5)
    assert ALIEN in found[:, 0].astype(int).tolist(), found

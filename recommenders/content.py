"""Content-based filtering: movies described by their metadata, compared by cosine.

An item vector is the TF-IDF of its metadata tokens — genres, tags, directors, writers, top
cast, keywords, decade, each field its own vocabulary (``director:john_lasseter`` never
matches ``cast:john_lasseter``) — optionally concatenated with a weighted sentence embedding
of its overview (``recommenders.text_embedding``), then L2-normalised.

- similar movies: cosine of item vectors — works for a movie nobody has rated yet;
- ranking for a user: cosine with the user's profile, the mean of the vectors of what they
  rated weighted by how far each rating is from their own mean (a 1★ pushes away);
- rating estimates: the item-kNN formula (``recommenders.knn.ItemKNN``) with content
  similarities in place of rating correlations — which is how a new movie gets a rating.

Example
-------
>>> import numpy as np
>>> docs = [{"genres": ["Sci-Fi", "Horror"], "directors": ["Ridley Scott"]},
...         {"genres": ["Sci-Fi", "Horror"], "directors": ["James Cameron"]},
...         {"genres": ["Comedy"], "directors": ["Nora Ephron"]}]
>>> v = metadata_vectors(docs)
>>> sims = (v @ v.T).toarray()
>>> bool(sims[0, 1] > sims[0, 2])
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from recommenders.baseline import Baseline
from recommenders.data import FloatArray, IntArray, Ratings
from recommenders.knn import ItemKNN

TEXT_WEIGHT = 0.5  # the overview embedding's share beside the metadata TF-IDF (both unit vectors)
FIELDS: dict[str, int] = {"genres": 0, "tags": 15, "directors": 0, "writers": 0, "cast": 5, "keywords": 15}


def _slug(value: str) -> str:
    return re.sub(r"\W+", "_", value.strip().lower()).strip("_")


def metadata_tokens(doc: Mapping[str, Any]) -> list[str]:
    """``field:value`` tokens of one movie (at most the first N of the long lists)."""
    tokens = []
    for field, limit in FIELDS.items():
        values: Iterable[str] = doc.get(field) or []
        tokens += [f"{field}:{_slug(v)}" for v in list(values)[: limit or None] if _slug(v)]
    if doc.get("year"):
        tokens.append(f"decade:{int(doc['year']) // 10 * 10}")
    return tokens


def metadata_vectors(docs: Sequence[Mapping[str, Any]]) -> sp.csr_matrix:
    vectoriser = TfidfVectorizer(analyzer=metadata_tokens, sublinear_tf=True, min_df=1)
    return normalize(vectoriser.fit_transform(docs).astype(np.float32)).tocsr()


def combine(metadata: sp.csr_matrix, embeddings: FloatArray | None, weight: float = TEXT_WEIGHT) -> sp.csr_matrix:
    """Metadata TF-IDF beside ``weight`` × the overview embedding, renormalised."""
    if embeddings is None or weight == 0:
        return metadata
    dense = sp.csr_matrix(normalize(embeddings.astype(np.float32)) * weight)
    return normalize(sp.hstack([metadata, dense]).tocsr())


def reduced(vectors: sp.csr_matrix, dims: int = 128, seed: int = 0) -> FloatArray:
    """Unit vectors of ``dims`` dimensions (truncated SVD) with about the same cosines: what a stream
    worker keeps in memory for every film (``online_models.residual_knn``)."""
    from sklearn.decomposition import TruncatedSVD

    dims = min(dims, vectors.shape[1] - 1)
    return normalize(TruncatedSVD(dims, random_state=seed).fit_transform(vectors)).astype(np.float32)


class ContentBased(ItemKNN):
    name = "content"

    def __init__(self, vectors: sp.csr_matrix, k: int = 40, shrinkage: float = 0.0, name: str = "content") -> None:
        super().__init__(k=k, shrinkage=shrinkage)
        self.vectors = vectors  # rows aligned with item codes
        self.name = name

    def memory_needed(self, train: Ratings) -> int:
        return 0  # content vectors, not a learned similarity matrix

    def fit(self, train: Ratings) -> Self:
        self.baseline = Baseline().fit(train)
        residual = train.ratings - self.baseline.predict(train.users, train.items)
        self.by_user = train.matrix(residual)
        self.n_items = train.n_items
        user_mean = np.bincount(train.users, weights=train.ratings, minlength=train.n_users) / np.maximum(
            train.user_counts(), 1)
        weight = train.ratings - user_mean[train.users]
        weight = np.where(weight == 0, 1e-3, weight)  # an exactly average rating still says "watched"
        self.profiles = normalize(train.matrix(weight) @ self.vectors)
        return self

    def _similarities(self, items: IntArray, rated: IntArray) -> FloatArray:
        return np.asarray((self.vectors[items] @ self.vectors[rated].T).todense(), dtype=np.float32)

    def score(self, users: IntArray) -> FloatArray:
        return np.asarray((self.profiles[users] @ self.vectors.T).todense())

    def similar(self, item: int, k: int = 10) -> IntArray:
        """The ``k`` movies closest to ``item`` in content (rated or not)."""
        row = np.asarray((self.vectors[item] @ self.vectors.T).todense()).ravel()
        row[item] = -np.inf
        return np.argsort(-row, kind="stable")[:k]


class ContentNeighbours:
    """Content neighbours of titles that arrive while the system runs, one at a time.

    The vocabulary and IDF weights are fitted once on the catalogue as loaded; a new title is
    described with them (a name no stored title carries matches nothing yet, so it adds nothing to
    a cosine) and compared with every title in one sparse product, about a millisecond over
    ml-latest-small's 9,742 — what lets its "similar films" exist the moment it is added. The next
    ``cinestream model publish`` refits everything, new titles included.

    Given the catalogue's overview embeddings (``overviews``, as ``model publish`` installs them), a
    title is its TF-IDF beside ``text_weight`` × its embedding, as ``combine`` builds the published
    vectors, so a new title whose overview tells the story of a stored one is its neighbour even when
    they share no name or genre. The two halves are kept apart (a sparse and a dense matrix) and the
    cosine is taken from both: no 384 dense columns in a sparse matrix rebuilt at every title.

    >>> near = ContentNeighbours({1: {"genres": ["Sci-Fi"], "cast": ["Sigourney Weaver"]},
    ...                           2: {"genres": ["Comedy"], "cast": ["Bill Murray"]}})
    >>> near.add(3, {"genres": ["Sci-Fi"], "cast": ["Sigourney Weaver", "Bill Murray"]})[:, 0].tolist()
    [1.0, 2.0]
    """

    def __init__(self, docs: Mapping[int, Mapping[str, Any]], overviews: Mapping[int, FloatArray] | None = None,
                 text_weight: float = TEXT_WEIGHT) -> None:
        self.ids = np.fromiter(docs, dtype=np.int64, count=len(docs))
        self.active = np.array([not doc.get("retired") for doc in docs.values()], dtype=bool)
        self.vectoriser = TfidfVectorizer(analyzer=metadata_tokens, sublinear_tf=True, min_df=1)
        # an empty catalogue has no vocabulary yet: the first title added brings one
        self.vectors = normalize(self.vectoriser.fit_transform(list(docs.values()) or [{"genres": ["(none)"]}])
                                 .astype(np.float32)).tocsr()[: len(docs)]
        self.row = {int(m): r for r, m in enumerate(self.ids.tolist())}
        self.text_weight = text_weight
        held = [m for m in (overviews or {}) if m in self.row]
        width = len(next(iter(overviews.values()))) if overviews else 0
        self.overviews = np.zeros((len(docs), width), dtype=np.float32)  # unit rows; zeros: no overview
        if held and overviews:
            self.overviews[[self.row[m] for m in held]] = normalize(np.stack([overviews[m] for m in held]))
        self.norms = self._norms(self.vectors, self.overviews)

    @property
    def embeds(self) -> bool:
        """Whether titles carry overview embeddings (the catalogue's were installed)."""
        return self.overviews.shape[1] > 0

    def _norms(self, vectors: sp.csr_matrix, overviews: FloatArray) -> FloatArray:
        """Each title's length once its embedding stands beside its TF-IDF (both halves unit or empty)."""
        tfidf = np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel()
        text = (overviews * overviews).sum(axis=1) * self.text_weight ** 2
        return np.sqrt(tfidf + text).astype(np.float32)

    def add(self, movie_id: int, doc: Mapping[str, Any], overview: FloatArray | None = None, k: int = 50
            ) -> FloatArray:
        """Store (or replace) the title's vector, with its overview's embedding when the catalogue has
        them; its ``k`` nearest active titles as ``(movie, cosine)`` rows."""
        vector = normalize(self.vectoriser.transform([doc]).astype(np.float32)).tocsr()
        text = np.zeros((1, self.overviews.shape[1]), dtype=np.float32)
        if overview is not None and self.embeds:
            text = normalize(np.asarray(overview, dtype=np.float32)[None])  # any length: only its direction counts
        if movie_id in self.row:
            at = self.row[movie_id]
            self.vectors = sp.vstack([self.vectors[:at], vector, self.vectors[at + 1:]]).tocsr()
            self.active[at] = True
        else:
            at = self.row[movie_id] = len(self.ids)
            self.ids = np.append(self.ids, movie_id)
            self.active = np.append(self.active, True)
            self.vectors = sp.vstack([self.vectors, vector]).tocsr()
            self.overviews = np.vstack([self.overviews, text])
            self.norms = np.append(self.norms, 0.0).astype(np.float32)
        self.overviews[at] = text[0]
        self.norms[at] = self._norms(vector, text)[0]
        dots = np.asarray((self.vectors @ vector.T).todense()).ravel()
        if self.embeds:
            dots = dots + self.text_weight ** 2 * (self.overviews @ text[0])
        sims = dots / np.maximum(self.norms * self.norms[at], 1e-12)
        sims[~self.active | (self.ids == movie_id)] = 0.0
        best = np.argsort(-sims, kind="stable")[:k]
        best = best[sims[best] > 0]
        return np.column_stack([self.ids[best], sims[best]]).astype(np.float32)

    def is_active(self, movie_id: int) -> bool:
        """Stored and not retired."""
        return movie_id in self.row and bool(self.active[self.row[movie_id]])

    def retire(self, movie_id: int) -> None:
        """The title is nobody's neighbour from now on."""
        if movie_id in self.row:
            self.active[self.row[movie_id]] = False


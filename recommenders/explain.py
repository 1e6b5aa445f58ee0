"""Why a movie is recommended: the movie the user rated highly that is most like it.

"Because you rated Alien 5★": among the user's ratings at or above their own mean, the one
whose content vector is closest to the recommended movie. Content similarity, not the model's
internals, so the reason reads right whichever model chose the movie.

Example
-------
>>> import numpy as np, scipy.sparse as sp
>>> from recommenders.data import Ratings
>>> vectors = sp.csr_matrix(np.array([[1.0, 0], [0, 1.0], [0.9, 0.1], [0.1, 0.9]]))
>>> seen, _, _ = Ratings.from_ids([7, 7, 7], [0, 1, 2], [5.0, 5.0, 1.0])
>>> seen = Ratings(seen.users, seen.items, seen.ratings, seen.timestamps, 1, 4)
>>> anchors(seen, vectors, 0, np.array([2, 3])).tolist()   # 2 is like 0, 3 like 1 (2 was disliked)
[0, 1]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommenders.data import IntArray, Ratings


def anchors(train: Ratings, vectors: sp.csr_matrix, user: int, items: IntArray) -> IntArray:
    """For each of ``items``, the item code that explains it (−1 when the user liked nothing)."""
    mine = train.users == user
    rated, ratings = train.items[mine], train.ratings[mine]
    liked = rated[ratings >= ratings.mean()] if len(ratings) else rated
    if not len(liked) or not len(items):
        return np.full(len(items), -1, dtype=np.int64)
    sims = np.asarray((vectors[items] @ vectors[liked].T).todense())
    return liked[np.argmax(sims, axis=1)].astype(np.int64)

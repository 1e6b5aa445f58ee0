"""Why a movie is recommended: the movie the user rated highly that is most like it.

"Because you rated Alien 5★": among the user's ratings at or above their own mean, the one
whose content vector is closest to the recommended movie. Content similarity, not the model's
internals, so the reason reads right whichever model chose the movie.

Example
-------
>>> import numpy as np, scipy.sparse as sp
>>> vectors = sp.csr_matrix(np.array([[1.0, 0], [0, 1.0], [0.9, 0.1], [0.1, 0.9]]))
>>> anchors(np.array([0, 1, 2]), np.array([5.0, 5.0, 1.0]), vectors, np.array([2, 3])).tolist()  # 2 disliked
[0, 1]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommenders.data import FloatArray, IntArray


def anchors(rated: IntArray, ratings: FloatArray, vectors: sp.csr_matrix, items: IntArray) -> IntArray:
    """For each of ``items``, the item code among the user's ``rated`` that explains it (−1 when the user
    liked nothing)."""
    liked = rated[ratings >= ratings.mean()] if len(ratings) else rated
    if not len(liked) or not len(items):
        return np.full(len(items), -1, dtype=np.int64)
    sims = np.asarray((vectors[items] @ vectors[liked].T).todense())
    return liked[np.argmax(sims, axis=1)].astype(np.int64)

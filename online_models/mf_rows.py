"""The layout of an MF row, shared by users and items: ``[bias, accumulated squared gradient, f_1 … f_k]``.

Its own module so the learner (``biased_mf``) and the scorer (``item_matrix``) both build on it
without importing each other.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

BIAS, ACC, FACTORS = 0, 1, 2


def row_width(n_factors: int) -> int:
    """Floats in a row of ``n_factors`` factors: the bias and its bookkeeping, then the factors."""
    return FACTORS + n_factors

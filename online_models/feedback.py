"""How much an event says about a person's taste: one definition for every model and job.

>>> import numpy as np
>>> confidence(np.array([False, True, True]), np.array([False, True, False]), np.array([np.nan, 60.0, 2700.0]))
array([1. , 1. , 0.5])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FULL_VIEW_S = 90 * 60.0  # a watch of 90 minutes counts as complete when the event does not say so


def confidence(watches: npt.NDArray[np.bool_], completed: npt.NDArray[np.bool_],
               seconds: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ratings: 1; watches: the completion ratio (1 when completed)."""
    return np.where(watches, np.where(completed, 1.0, np.minimum(np.nan_to_num(seconds) / FULL_VIEW_S, 1.0)), 1.0)

"""Test-then-train bookkeeping for a streaming model: error per micro-batch and drift.

Each batch's errors (made before the model learned the batch) give one point of the learning
curve. ADWIN (river) watches the batch mean absolute error and flags a drift when the recent
window's mean differs significantly from the older one — when the model's error changes
regime, e.g. after a change in what people watch. One observation per batch keeps the
detector's cost out of the per-event path. Scoring and observing are separate steps so that a
batch is shown to the detector only once it is stored: a batch whose write was refused is
scored again and would otherwise be seen twice (undoing an observation meant copying the
detector before every batch, 3 % of a worker's time).

Example
-------
>>> import numpy as np
>>> tracker = Prequential()
>>> point = tracker.score(np.array([0.5, -0.5]), n_before=0)
>>> (point.n, round(point.rmse, 3), round(point.mae, 3))
(2, 0.5, 0.5)
>>> tracker.observe(point), tracker.detector.width
(False, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from river import drift


@dataclass(frozen=True)
class CurvePoint:
    n: int  # events learned so far, this batch included
    rmse: float  # of this batch
    mae: float

    def as_dict(self) -> dict[str, float | int | bool]:
        return {"n": self.n, "rmse": self.rmse, "mae": self.mae}  # asdict deep-copies: slower


class Prequential:
    def __init__(self, delta: float = 0.002) -> None:
        self.detector = drift.ADWIN(delta=delta)

    def score(self, errors: npt.NDArray[np.floating], n_before: int) -> CurvePoint:
        """The batch's point of the learning curve (errors made before learning it)."""
        return CurvePoint(n=n_before + len(errors), rmse=float(np.sqrt(np.square(errors).mean())),
                          mae=float(np.abs(errors).mean()))

    def observe(self, point: CurvePoint) -> bool:
        """Show a stored batch to the drift detector; whether it flags a drift there."""
        self.detector.update(point.mae)
        return bool(self.detector.drift_detected)

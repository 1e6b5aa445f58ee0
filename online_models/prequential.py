"""Test-then-train bookkeeping for a streaming model: error per micro-batch and drift.

Each batch's errors (made before the model learned the batch) give one point of the learning
curve. ADWIN (river) watches the batch mean absolute error and flags a drift when the recent
window's mean differs significantly from the older one — when the model's error changes
regime, e.g. after a change in what people watch. One update per batch keeps the detector's
cost out of the per-event path.

Example
-------
>>> import numpy as np
>>> tracker = Prequential()
>>> point = tracker.update(np.array([0.5, -0.5]), n_before=0)
>>> (point.n, round(point.rmse, 3), round(point.mae, 3), point.drift)
(2, 0.5, 0.5, False)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from river import drift


@dataclass(frozen=True)
class CurvePoint:
    n: int  # events learned so far, this batch included
    rmse: float  # of this batch
    mae: float
    drift: bool

    def as_dict(self) -> dict[str, float | int | bool]:
        return {"n": self.n, "rmse": self.rmse, "mae": self.mae, "drift": self.drift}  # asdict deep-copies: slower


class Prequential:
    def __init__(self, delta: float = 0.002) -> None:
        self.detector = drift.ADWIN(delta=delta)
        self._before: drift.ADWIN | None = None

    def undo(self) -> None:
        """Forget the last update: its batch was not applied (another writer came first) and will
        be scored again, so counting it now would show the detector that batch twice."""
        if self._before is not None:
            self.detector, self._before = self._before, None

    def update(self, errors: npt.NDArray[np.floating], n_before: int) -> CurvePoint:
        mae = float(np.abs(errors).mean())
        self._before = copy.deepcopy(self.detector)  # ~16 µs: what ``undo`` needs
        self.detector.update(mae)
        return CurvePoint(n=n_before + len(errors), rmse=float(np.sqrt(np.square(errors).mean())), mae=mae,
                          drift=bool(self.detector.drift_detected))

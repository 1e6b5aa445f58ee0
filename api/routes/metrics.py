"""What the streaming models are doing: prequential error, learning curve, applied offsets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import ModelsDep
from api.security.policy import PUBLIC, Principal
from figures.plots import learning_curve_png

router = APIRouter(prefix="/api/metrics", tags=["metrics"])


@router.get("/prequential")
async def prequential(models: ModelsDep, who: Annotated[Principal, Depends(PUBLIC)]) -> dict[str, Any]:
    """Aggregate model figures (no one's data): public, as the dashboard shows them."""
    curve = await models.mf.learning_curve()
    return {**await models.mf.prequential(), "batches": len(curve),
            "drifts": sum(1 for p in curve if p["drift"]), "recent": curve[-20:],
            "applied_offsets": await models.mf.applied_offsets()}


@router.get("/learning-curve.png", response_class=Response)
async def learning_curve(models: ModelsDep, who: Annotated[Principal, Depends(PUBLIC)]) -> Response:
    points = await models.mf.learning_curve()
    png = await run_in_threadpool(learning_curve_png, points)  # matplotlib is CPU work: off the loop
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

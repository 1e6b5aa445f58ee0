"""``/metrics``: Prometheus exposition of the API's request counts and latencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.security.policy import PUBLIC, Principal

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(who: Annotated[Principal, Depends(PUBLIC)]) -> Response:
    """Scraped by Prometheus inside the deployment (aggregate counts, nobody's data)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

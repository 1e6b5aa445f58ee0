"""Offline evaluation results (``cinestream evaluate``, ``bench/accuracy.py``) for the dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import SettingsDep
from api.errors import documented
from api.security.policy import PUBLIC, Principal
from figures.plots import precision_recall_png

router = APIRouter(prefix="/api/evaluation", tags=["evaluation"])
RUN_NAME = re.compile(r"^(accuracy|evaluation)-[\w.-]+$")


def _runs(folder: Path) -> list[dict[str, Any]]:
    runs = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        if RUN_NAME.match(path.stem):
            body = json.loads(path.read_text())
            runs.append({"run": path.stem, "dataset": body.get("dataset"), "split": body.get("split"),
                         "ratios": body.get("ratios", {}),
                         "results": [{k: v for k, v in r.items() if not k.startswith("curve_")}
                                     for r in body["results"]]})
    return runs


def _load(folder: Path, run: str) -> dict[str, Any]:
    path = folder / f"{run}.json"
    if not RUN_NAME.match(run) or not path.is_file():
        raise HTTPException(404, f"no evaluation run {run!r}: run `cinestream evaluate` or `python -m bench.accuracy`")
    return json.loads(path.read_text())


@router.get("")
async def runs(settings: SettingsDep, who: Annotated[Principal, Depends(PUBLIC)]) -> dict[str, Any]:
    """Every saved run, newest first, without the curves."""
    return {"runs": await run_in_threadpool(_runs, settings.reports_dir)}


@router.get("/{run}/precision-recall.png", response_class=Response, responses=documented(404, 422))
async def precision_recall(run: Annotated[str, PathParam(max_length=120)], settings: SettingsDep,
                           who: Annotated[Principal, Depends(PUBLIC)]) -> Response:
    body = await run_in_threadpool(_load, settings.reports_dir, run)
    curves = [{"name": r["name"], "precision": r["curve_precision"], "recall": r["curve_recall"]}
              for r in body["results"]]
    png = await run_in_threadpool(precision_recall_png, curves, f"Precision–recall: {body.get('dataset', run)}")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

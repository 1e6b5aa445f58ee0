"""Online experiments: started, listed, read (sums, always-valid p-value, curve) and stopped. Admins only.

While one runs, the lists people get are its arms' (``api.services.experiments``) and the join agent
keeps its sums (``streams.agents.experiments``), which these routes read back as figures.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import Field

from api.deps import RedisDep
from api.errors import documented
from api.fields import Body
from api.security.policy import ADMIN, Principal
from contracts.exposures import NAME_MAX, NAME_PATTERN
from online_models.experiments import VARIANT_PATTERN, Experiment, look, ranker_version, sequential_test, winner
from storage import experiment_store, live_model_store, refit_log

router = APIRouter(prefix="/api/admin/experiments", tags=["admin"])

ExperimentName = Annotated[str, Path(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)]


Variant = Annotated[str, Field(pattern=VARIANT_PATTERN, max_length=20)]


class ExperimentIn(Body):
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN,
                      description="lower-case letters, digits and dashes; never reused")
    variants: list[Variant] = Field(min_length=2, max_length=2,
                                    description="two of: `live` (the live path), `popular` (the most popular films "
                                                "now that the person has not rated), `ranker:<version>` (a kept "
                                                "version of the live ranker, GET /api/admin/rankers)")
    mode: Literal["ab", "interleave"] = Field("ab", description="an arm each, or both lists merged by team draft")
    weights: list[Annotated[float, Field(gt=0, le=1)]] = Field([0.5, 0.5], min_length=2, max_length=2,
                                                               description="the arms' shares of people (A/B)")
    window_s: float = Field(1800.0, ge=60, le=7 * 86_400, description="how long after a list a take counts for it")
    effect: float = Field(0.1, gt=0, le=2, description="the smallest difference worth finding, in standard deviations")
    alpha: float = Field(0.05, gt=0, lt=0.5)
    max_p99_ms: float = Field(250.0, gt=0, le=60_000, description="guardrail: an arm's list p99 over this stops it")
    max_error_rate: float = Field(0.01, ge=0, le=1, description="guardrail: an arm's share of failed lists")
    min_coverage: float = Field(0.0, ge=0, le=1, description="guardrail: an arm's distinct films shown, as a share "
                                                              "of the other's (0: reported, never stops)")
    promote: bool = Field(False, description="when decided, send a winning ranker version to the scheduler's gate")


def _summary(experiment: Experiment, sums: dict[str, float], covered: dict[str, int]) -> dict[str, Any]:
    test = sequential_test(experiment, sums)
    estimate, variance, _ = test.estimate()
    arms = [{"people": arm.n, "takes_per_person": arm.mean} for arm in test.arms]
    guardrails = look(experiment, sums, covered, time.time())[1]["arms"]
    return {**dataclasses.asdict(experiment), "arms": arms, "guardrails": guardrails, "effect_estimate": estimate,
            "interval": [estimate - 1.96 * variance**0.5, estimate + 1.96 * variance**0.5], "p": sums.get("p", 1.0),
            "significant": sums.get("p", 1.0) < experiment.alpha,
            "lists": {k: v for k, v in sums.items() if k.startswith("lists")},
            "films_shown": {k: v for k, v in sums.items() if k.startswith("shown")},
            "takes_by_team": {k: v for k, v in sums.items() if k.startswith("takes")}}


@router.post("", status_code=201, responses=documented(404, 409, 422))
async def start(body: ExperimentIn, redis: RedisDep, who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    """Start an experiment; 409 while another runs (one decides the lists at a time) or if the name was used."""
    running = [e for e in (await experiment_store.experiments(redis)).values() if e.status == "running"]
    if running:
        raise HTTPException(409, f"experiment {running[0].name} is running: stop it first")
    first, second = body.variants
    for variant in body.variants:
        version = ranker_version(variant)
        if version is not None and not await live_model_store.is_kept(redis, version):
            raise HTTPException(404, f"no ranker version {version} is kept (GET /api/admin/rankers)")
    experiment = Experiment(body.name, (first, second), body.mode, (body.weights[0], body.weights[1]), body.window_s,
                            body.effect, body.alpha, started=time.time(), max_p99_ms=body.max_p99_ms,
                            max_error_rate=body.max_error_rate, min_coverage=body.min_coverage, promote=body.promote)
    if not await experiment_store.define(redis, experiment):
        raise HTTPException(409, f"an experiment named {body.name} exists: names are not reused")
    return dataclasses.asdict(experiment)


@router.get("")
async def list_experiments(redis: RedisDep, who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    found = sorted((await experiment_store.experiments(redis)).values(), key=lambda e: e.started)
    sums = await experiment_store.sums(redis, [e.name for e in found])
    covered = await experiment_store.coverage(redis, found)
    return {"experiments": [_summary(e, sums[e.name], covered[e.name]) for e in found]}


@router.get("/{name}", responses=documented(404, 422))
async def read(name: ExperimentName, redis: RedisDep, who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    """Its figures and curve: people and films taken a person per arm (under interleaving, one arm: the
    first arm's takes less the second's), the effect with a 95 % interval, and the running
    minimum of the always-valid p-value (mSPRT), which may be read at any moment."""
    found = (await experiment_store.experiments(redis)).get(name)
    if found is None:
        raise HTTPException(404, f"no experiment {name}")
    sums = (await experiment_store.sums(redis, [name]))[name]
    covered = (await experiment_store.coverage(redis, [found]))[name]
    return {**_summary(found, sums, covered), "curve": await experiment_store.curve(redis, name)}


@router.post("/{name}/stop", responses=documented(404, 422))
async def stop(name: ExperimentName, redis: RedisDep, who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    stopped = await experiment_store.stop(redis, name, f"stopped by {who.actor}")
    if stopped is None:
        raise HTTPException(404, f"no experiment {name}")
    return dataclasses.asdict(stopped)


@router.post("/{name}/promote", status_code=202, responses=documented(404, 409, 422))
async def promote(name: ExperimentName, redis: RedisDep, who: Annotated[Principal, Depends(ADMIN)]) -> dict[str, Any]:
    """Send the winner, a kept ranker version, to the scheduler's gate, which judges it against the live
    version on the newest ratings as it judges every refit (``GET /api/admin/rankers`` shows the
    decision). 409 until the experiment has decided, or when the winner is not a ranker version."""
    found = (await experiment_store.experiments(redis)).get(name)
    if found is None:
        raise HTTPException(404, f"no experiment {name}")
    best = winner(found, (await experiment_store.sums(redis, [name]))[name])
    if best is None:
        raise HTTPException(409, f"experiment {name} has not decided: its p-value is not under {found.alpha:g}")
    version = ranker_version(best)
    if version is None:
        raise HTTPException(409, f"the winner, {best}, is not a ranker version: nothing to promote")
    await refit_log.ask_promotion(redis, version, f"{who.actor} (experiment {name})", False)
    return {"experiment": name, "winner": best, "version": version,
            "status": "asked: the scheduler judges it at its next check"}

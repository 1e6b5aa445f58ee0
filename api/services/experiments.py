"""The list a person gets while an experiment runs: their arm's (A/B) or both arms' merged by team
draft (interleaving), and the exposure logged to Kafka for the join agent (``streams.agents.experiments``).

One experiment decides the lists at a time, the oldest running (``POST /api/admin/experiments``
refuses a second). Assignment is ``online_models.experiments.arm_of``: a hash of person and experiment,
nothing stored. The exposure is sent by a task of its own, not waited for: a list is served whether
or not Kafka is there, and a lost exposure only makes the experiment's sample smaller. It says how
long the list took, or that it failed (the person then gets the live path's list): the experiment's
guardrails on latency and errors.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import numpy as np
from aiokafka import AIOKafkaProducer

from api.services.lists import Cards, current, kept_version_list, recommendations_for, titled
from contracts.exposures import INTERLEAVED, Exposure, encode_exposure
from core.settings import Settings
from online_models.experiments import arm_of, ranker_version, team_draft

log = logging.getLogger(__name__)

MAX_SENDING = 10_000  # exposures on their way to Kafka at once; past it they are dropped (Kafka is not keeping up)
_sending: set[asyncio.Task[None]] = set()


async def served_list(user_id: int, cards: Cards, models: Any, redis: Any, producer: AIOKafkaProducer,
                      settings: Settings, k: int) -> dict[str, Any]:
    """The person's list, under the running experiment if there is one."""
    running = await models.experiments.running()
    if not running:
        return await recommendations_for(user_id, cards, models, redis, k)
    experiment = running[0]
    request_id = uuid.uuid4().hex
    teams: list[int] = []
    arm = INTERLEAVED if experiment.mode == "interleave" else int(arm_of([user_id], experiment.name,
                                                                          experiment.weights)[0])
    served: dict[str, Any]
    started = time.perf_counter()
    try:
        if arm == INTERLEAVED:
            first, second = [await variant_list(v, user_id, cards, models, redis, k) for v in experiment.variants]
            rng = np.random.default_rng(int(request_id[:16], 16))
            ids, teams = team_draft([i["movieId"] for i in first["items"]], [i["movieId"] for i in second["items"]],
                                    k, rng)
            items = {i["movieId"]: i for i in second["items"]} | {i["movieId"]: i for i in first["items"]}
            served = {"userId": user_id, "model": f"interleaved: {first['model']} | {second['model']}",
                      "items": [items[m] for m in ids]}
        else:
            served = await variant_list(experiment.variants[arm], user_id, cards, models, redis, k)
    except Exception as exc:  # counted against the arm; the person gets the live path's list
        log.warning("experiment %s, arm %d: the list failed: %r", experiment.name, arm, exc)
        _log(producer, settings, Exposure(experiment.name, user_id, arm, [], [], request_id, time.time(),
                                          _ms_since(started), f"{type(exc).__name__}: {exc}"[:200]))
        return await recommendations_for(user_id, cards, models, redis, k)
    if served["items"]:  # an empty list (a new deployment with nothing trending yet) shows nothing to take
        _log(producer, settings, Exposure(experiment.name, user_id, arm, [i["movieId"] for i in served["items"]], teams,
                                          request_id, time.time(), _ms_since(started)))
    return {**served, "experiment": {"name": experiment.name, "arm": arm, "request_id": request_id}}


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def variant_list(variant: str, user_id: int, cards: Cards, models: Any, redis: Any, k: int) -> dict[str, Any]:
    if variant == "live":
        return await recommendations_for(user_id, cards, models, redis, k)
    version = ranker_version(variant)
    if version is not None:
        return await kept_version_list(version, user_id, cards, models, k)
    _, rated, _ = await models.items.recommend(user_id, 0)
    top = [pair for pair in await models.trending.top(k + len(rated) + 50) if pair[0] not in rated]
    popular = current(cards[0], top, k)
    movies = await titled(cards, [m for m, _ in popular])
    return {"userId": user_id, "model": "popular now",
            "items": [{**movies[m], "score": s, "reason": "popular now"} for m, s in popular]}


def _log(producer: AIOKafkaProducer, settings: Settings, exposure: Exposure) -> None:
    """Hand the exposure to a task of its own: a request never waits for Kafka (not even for the
    topic's metadata, which a producer fetches on its first send to it)."""
    if len(_sending) >= MAX_SENDING:
        log.warning("exposure of %s dropped: %d still being sent", exposure.experiment, len(_sending))
        return
    task = asyncio.create_task(_send(producer, settings.topic_exposures, exposure))
    _sending.add(task)
    task.add_done_callback(_sending.discard)


async def _send(producer: AIOKafkaProducer, topic: str, exposure: Exposure) -> None:
    try:
        await producer.send_and_wait(topic, encode_exposure(exposure), key=str(exposure.user_id).encode())
    except Exception as exc:  # Kafka down: the list was served all the same
        log.warning("exposure of %s not logged: %s", exposure.experiment, exc)

"""Agent: joins the lists served under an experiment (the exposures topic) to what people then took
(a rating of 4 or more, a completed watch), and keeps each experiment's sums, p-value and curve in
Redis (``storage.experiment_store``); owns the exposures topic's dead letters.

It reads the exposures with the ratings and watches as one co-partitioned stream: all three are keyed
by the person, so one worker sees a person's lists and outcomes and no two write their open lists.
After each batch it looks at the experiments it changed (at most once a second each): the running
minimum of the always-valid p-value, a point of the curve, and the guardrails. A sample-ratio
mismatch (p under ``SRM_ALPHA``) stops the experiment: the arms no longer compare like with like.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from contracts.events import Invalid
from contracts.exposures import Exposure, decode_exposure
from online_models.experiments import Experiment, Shown, join, sample_ratio_p, sequential_test
from storage import experiment_store
from streams.app import Worker
from streams.dead_letter import dead_letter_record
from streams.micro_batch import collect
from streams.retry import until_stored
from streams.take import side_batches

LOOK_S = 1.0
SRM_ALPHA = 1e-4  # strict: the test is repeated at every look
LIKED = 4.0


def shown_of(exposure: Exposure) -> Shown:
    return Shown(exposure.experiment, exposure.request_id, exposure.arm, list(exposure.items), list(exposure.teams),
                 exposure.timestamp, [False] * len(exposure.items))


def look(experiment: Experiment, sums: dict[str, float], now: float) -> tuple[float, dict[str, Any], str]:
    """The running p-value, the curve's point and, when a guardrail broke, why (else "")."""
    test = sequential_test(experiment, sums)
    p = test.look()
    estimate, variance, _ = test.estimate()
    half = 1.96 * math.sqrt(variance) if variance > 0 else 0.0
    point = {"t": now, "people": int(sum(arm.n for arm in test.arms)), "effect": estimate,
             "low": estimate - half, "high": estimate + half, "p": p}
    reason = ""
    if experiment.mode == "ab":  # people, the unit assigned: their lists differ in number by their activity
        counts = [sums.get("n:0", 0.0), sums.get("n:1", 0.0)]
        srm = sample_ratio_p(counts, experiment.weights)
        point["srm_p"] = srm
        if sum(counts) >= 1000 and srm < SRM_ALPHA:
            reason = f"sample-ratio mismatch: {counts[0]:.0f} and {counts[1]:.0f} people (p {srm:.1e})"
    return p, point, reason


def register(worker: Worker) -> None:
    settings = worker.settings
    redis = worker.redis()
    topic = worker.app.topic(settings.topic_ratings, settings.topic_watches, settings.topic_exposures,
                             value_serializer="raw")
    looked: dict[str, float] = {}

    @worker.app.agent(topic, name=f"{__name__}.experiments")
    async def experiments(stream: Any) -> None:
        async for events in side_batches(stream, settings, settings.side_window_ms):
            running = await until_stored("experiments", experiment_store.experiments, redis)
            windows = {name: e.window_s for name, e in running.items() if e.status == "running"}
            exposures: list[tuple[int, Shown]] = []
            outcomes: list[Any] = []
            for event in events:
                if event.message.topic != settings.topic_exposures:
                    outcomes.append(event)
                    continue
                parsed = decode_exposure(event.value)
                if isinstance(parsed, Invalid):
                    message = event.message
                    await worker.dead_letter_topic.send(value=dead_letter_record(
                        event.value, message.topic, message.partition, message.offset, parsed.reason))
                else:
                    exposures.append((parsed.user_id, shown_of(parsed)))
            if not windows:
                continue
            batch = await collect(worker, outcomes)  # ratings' and watches' dead letters are other agents'
            e = batch.events
            took = np.where(e.kinds, e.completed, e.ratings >= LIKED)
            taken = list(zip(e.users[took].tolist(), e.movies[took].tolist(), e.timestamps[took].tolist(),
                             strict=True))
            users = sorted({user for user, _ in exposures} | {user for user, _, _ in taken})
            if not users:
                continue
            lists, people = await until_stored("experiment state", experiment_store.state, redis, users,
                                               list(windows))
            increments = join(lists, people, exposures, taken, windows, time.time())
            await until_stored("experiment sums", experiment_store.write, redis, lists, people, increments,
                               max(windows.values()))
            now = time.time()
            due = [name for name in increments if now - looked.get(name, 0.0) >= LOOK_S]
            if due:
                current = await until_stored("experiment sums", experiment_store.sums, redis, due)
                for name in due:
                    looked[name] = now
                    p, point, broken = look(running[name], current[name], now)
                    await until_stored("look", experiment_store.look, redis, name, p, point)
                    if broken:
                        await until_stored("stop", experiment_store.stop, redis, name, broken)

"""Agent: joins the lists served under an experiment (the exposures topic) to what people then took
(a rating of 4 or more, a completed watch), and keeps each experiment's sums, p-value and curve in
Redis (``storage.experiment_store``); owns the exposures topic's dead letters.

It reads the exposures with the ratings and watches as one co-partitioned stream: all three are keyed
by the person, so one worker sees a person's lists and outcomes and no two write their open lists.
After each batch it looks at the experiments it changed (at most once a second each,
``online_models.experiments.look``): the running minimum of the always-valid p-value, a point of the
curve, and the guardrails. A broken guardrail (a sample-ratio mismatch, an arm's latency, errors or
coverage) stops the experiment; so does a decision (the p-value under α), which for an experiment
with ``promote`` asks the scheduler to judge the winning ranker version through its gate, as an
admin's promotion is judged.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from contracts.events import Invalid
from contracts.exposures import Exposure, decode_exposure
from online_models.experiments import Experiment, Shown, join, look, ranker_version, winner
from storage import experiment_store, refit_log
from streams.app import Worker
from streams.dead_letter import dead_letter_record
from streams.micro_batch import collect
from streams.retry import until_stored
from streams.take import side_batches

LOOK_S = 1.0
LIKED = 4.0


def shown_of(exposure: Exposure) -> Shown:
    return Shown(exposure.experiment, exposure.request_id, exposure.arm, list(exposure.items), list(exposure.teams),
                 exposure.timestamp, [False] * len(exposure.items), exposure.served_ms, bool(exposure.error))


def films_shown(exposures: list[tuple[int, Shown]], windows: dict[str, float]) -> dict[tuple[str, str], set[int]]:
    """The films each arm showed (under interleaving, each team: ``:0`` and ``:1``), for coverage."""
    out: dict[tuple[str, str], set[int]] = {}
    for _, shown in exposures:
        if shown.experiment not in windows:
            continue
        teams = shown.teams if shown.arm < 0 else [shown.arm] * len(shown.items)
        for film, team in zip(shown.items, teams, strict=True):
            out.setdefault((shown.experiment, f":{team}"), set()).add(film)
    return out


async def _look(redis: Any, experiment: Experiment, sums: dict[str, float], now: float) -> None:
    """Record a look; stop the experiment on a broken guardrail or a decision (and ask for the winner's
    promotion when the experiment says so)."""
    covered = await until_stored("coverage", experiment_store.coverage, redis, [experiment])
    p, point, broken = look(experiment, sums, covered[experiment.name], now)
    await until_stored("look", experiment_store.look, redis, experiment.name, p, point)
    if broken:
        await until_stored("stop", experiment_store.stop, redis, experiment.name, f"guardrail: {broken}")
        return
    best = winner(experiment, {**sums, "p": p})
    if best is None:
        return
    reason = f"decided: {best} is better (always-valid p {p:.2g} under α {experiment.alpha:g})"
    version = ranker_version(best)
    if experiment.promote and version is not None:
        await until_stored("promotion", refit_log.ask_promotion, redis, version, f"experiment {experiment.name}",
                           False)
        reason += f"; ranker {version} sent to the scheduler's gate"
    await until_stored("stop", experiment_store.stop, redis, experiment.name, reason)


def register(worker: Worker) -> None:
    settings = worker.settings
    redis = worker.redis()
    topic = worker.app.topic(settings.topic_ratings, settings.topic_watches, settings.topic_exposures,
                             value_serializer="raw")
    looked: dict[str, float] = {}
    changed: set[str] = set()  # experiments whose sums this worker changed since its last look at them

    async def look_due(experiments: dict[str, Experiment]) -> None:
        """Look at the experiments this worker changed, each at most once every ``LOOK_S``."""
        now = time.time()
        changed.intersection_update(name for name, e in experiments.items() if e.status == "running")
        due = [name for name in changed if now - looked.get(name, 0.0) >= LOOK_S]
        if not due:
            return
        for name in due:  # before any await: the timer and the agent may both get here
            looked[name] = now
            changed.discard(name)
        current = await until_stored("experiment sums", experiment_store.sums, redis, due)
        for name in due:
            await _look(redis, experiments[name], current[name], now)

    @worker.app.timer(interval=LOOK_S)
    async def look_after_the_last_batch() -> None:
        """The look a quiet spell would otherwise leave out: the sums of the last batch before it."""
        if changed:
            await look_due(await until_stored("experiments", experiment_store.experiments, redis))

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
                               max(windows.values()), films_shown(exposures, windows))
            changed.update(increments)
            await look_due(running)

"""Online experiments in Redis: their definitions, each person's open exposures, and each
experiment's sums, p-value and curve.

- ``{exp}:defs``: hash name -> the experiment as JSON (``online_models.experiments.Experiment``);
- ``exp:open:<user>``: the person's open exposures as JSON (``Shown``), the newest ``OPEN_CAP`` of
  them and none older than its experiment's window: what an outcome is credited to. It expires a
  window after its last write, so a person who leaves leaves nothing;
- ``{exp}:people:<name>``: hash person -> ``<arm>,<takes>`` (``online_models.experiments.Person``);
- ``{exp}:sums:<name>``: the experiment's sums over people (``online_models.experiments.join``), the
  running minimum of its always-valid p-value (``p``) and the time of its last look;
- ``{exp}:curve:<name>``: its looks (people, effect, interval, p-value, guardrails), the latest
  ``CURVE_CAP``;
- ``{exp}:cover:<name><arm>``: a HyperLogLog of the films each arm showed (coverage, 12 KB at most).

Bounds: per person ``OPEN_CAP`` lists of at most 100 films, and a field in each experiment they were
in; per experiment a hash of a few fields an arm and ``CURVE_CAP`` points. Only the join agent writes
people and sums (one worker sees a person's exposures and outcomes: they are keyed alike), the admin
routes write definitions.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import redis.asyncio as aioredis

from online_models.experiments import Experiment, Person, Shown
from storage.redis_store import round_trip, text

DEFS = "{exp}:defs"
OPEN = "exp:open:"
OPEN_CAP = 20
CURVE_CAP = 2000


def open_key(user: int) -> str:
    return f"{OPEN}{user}"


def people_key(name: str) -> str:
    return f"{{exp}}:people:{name}"


def sums_key(name: str) -> str:
    return f"{{exp}}:sums:{name}"


def curve_key(name: str) -> str:
    return f"{{exp}}:curve:{name}"


def cover_key(name: str, arm: str) -> str:
    return f"{{exp}}:cover:{name}{arm}"


def experiment_of(raw: bytes | str) -> Experiment:
    fields = json.loads(raw)
    return Experiment(**{**fields, "variants": tuple(fields["variants"]), "weights": tuple(fields["weights"])})


async def define(redis: aioredis.Redis, experiment: Experiment) -> bool:
    """Start ``experiment``; False when one of that name exists (names are never reused: its sums stay)."""
    return bool(await redis.hsetnx(DEFS, experiment.name, json.dumps(dataclasses.asdict(experiment))))


async def experiments(redis: aioredis.Redis) -> dict[str, Experiment]:
    return {text(name): experiment_of(raw) for name, raw in (await redis.hgetall(DEFS)).items()}


async def stop(redis: aioredis.Redis, name: str, reason: str) -> Experiment | None:
    """Stop serving the experiment (its sums and curve stay); None when there is no such experiment."""
    raw = await redis.hget(DEFS, name)
    if raw is None:
        return None
    stopped = dataclasses.replace(experiment_of(raw), status="stopped", reason=reason)
    await redis.hset(DEFS, name, json.dumps(dataclasses.asdict(stopped)))
    return stopped


async def state(redis: aioredis.Redis, users: list[int], names: list[str]
                ) -> tuple[dict[int, list[Shown]], dict[tuple[str, int], Person]]:
    """The people's open exposures, and who of them is in which experiment with what takes, in one
    round trip."""
    replies = await round_trip(redis, [("get", (open_key(user),)) for user in users]
                               + [("hmget", (people_key(name), [str(user) for user in users])) for name in names])
    lists = {user: [Shown(**record) for record in json.loads(blob)] if blob else []
             for user, blob in zip(users, replies[:len(users)], strict=True)}
    people = {}
    for name, values in zip(names, replies[len(users):], strict=True):
        for user, value in zip(users, values, strict=True):
            if value is not None:
                arm, takes = text(value).split(",")
                people[(name, user)] = Person(int(arm), int(takes))
    return lists, people


async def write(redis: aioredis.Redis, lists: dict[int, list[Shown]], people: dict[tuple[str, int], Person],
                increments: dict[str, dict[str, float]], keep_s: float,
                films: dict[tuple[str, str], set[int]] | None = None) -> None:
    """The people's open exposures (the newest ``OPEN_CAP``, kept ``keep_s``), their places in the
    experiments, the experiments' increments and the films each arm showed (``(name, arm suffix)`` ->
    films), in one round trip."""
    commands: list[tuple[str, tuple[Any, ...]]] = []
    for user, shown in lists.items():
        newest = sorted(shown, key=lambda s: s.at)[-OPEN_CAP:]
        if newest:
            commands.append(("set", (open_key(user), json.dumps([dataclasses.asdict(s) for s in newest]),
                                     max(int(keep_s), 1))))
        else:  # a rater outside every experiment, or whose lists all closed: no key
            commands.append(("delete", (open_key(user),)))
    commands += [("hset", (people_key(name), str(user), f"{person.arm},{person.takes}"))
                 for (name, user), person in people.items()]
    commands += [("hincrbyfloat", (sums_key(name), field, delta))
                 for name, fields in increments.items() for field, delta in fields.items() if delta]
    commands += [("pfadd", (cover_key(name, arm), *shown)) for (name, arm), shown in (films or {}).items() if shown]
    await round_trip(redis, commands)


async def coverage(redis: aioredis.Redis, experiments: list[Experiment]) -> dict[str, dict[str, int]]:
    """How many distinct films each arm of each experiment showed (HyperLogLog: within about 1 %), by
    arm suffix; under interleaving each team's, and their sum for the merged list (``""``). One round
    trip for them all."""
    arms = (":0", ":1")
    commands = [("pfcount", (cover_key(e.name, arm),)) for e in experiments for arm in arms]
    counts = iter(await round_trip(redis, commands) if commands else [])
    out = {}
    for experiment in experiments:
        covered = {arm: int(next(counts)) for arm in arms}
        out[experiment.name] = {**covered, "": sum(covered.values())} if experiment.mode == "interleave" else covered
    return out


async def sums(redis: aioredis.Redis, names: list[str]) -> dict[str, dict[str, float]]:
    replies = await round_trip(redis, [("hgetall", (sums_key(name),)) for name in names])
    return {name: {text(k): float(v) for k, v in reply.items()} for name, reply in zip(names, replies, strict=True)}


async def look(redis: aioredis.Redis, name: str, p: float, point: dict[str, Any]) -> None:
    """Keep the running minimum p-value and a point of the curve."""
    async with redis.pipeline(transaction=False) as pipe:  # in order: the trim after the push (one slot, {exp})
        pipe.hset(sums_key(name), mapping={"p": p, "looked": time.time()})
        pipe.rpush(curve_key(name), json.dumps(point))
        pipe.ltrim(curve_key(name), -CURVE_CAP, -1)
        await pipe.execute()


async def curve(redis: aioredis.Redis, name: str) -> list[dict[str, Any]]:
    return [json.loads(point) for point in await redis.lrange(curve_key(name), 0, -1)]


REFRESH_S = 1.0


class RunningCopy:
    """This process's copy of the running experiments, read again at most every ``REFRESH_S``: a
    request reads memory, and an experiment started or stopped reaches every API process within it."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._read_at = float("-inf")
        self._running: list[Experiment] = []

    async def running(self) -> list[Experiment]:
        """Oldest first."""
        now = time.monotonic()
        if now - self._read_at >= REFRESH_S:
            self._read_at = now  # before the read: the requests meanwhile serve the copy in hand
            found = await experiments(self.redis)
            self._running = sorted((e for e in found.values() if e.status == "running"), key=lambda e: e.started)
        return self._running

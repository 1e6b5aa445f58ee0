"""Experiments in the serving path, against the real stack: the API assigns and logs, Kafka carries
the exposures, the join agent credits what people took. A person is always in one arm, an outcome is
counted once, a late one not at all, and interleaving credits the team that showed the film."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from api.services import accounts
from contracts.partitions import partition_of
from core.settings import Settings
from online_models.experiments import GUARD_LISTS, arm_of
from online_models.live_ranker import LiveModel
from storage import experiment_store, live_model_store
from tests.integration.helpers import isolated, learned_worker
from tests.integration.people import make_admin, running

pytestmark = pytest.mark.integration

REDIS_DB = 14
PEOPLE = range(1, 61)  # ml-latest-small's first raters


@pytest.fixture(scope="module")
def overrides(stack: Settings) -> dict[str, str]:
    return {**isolated(stack, REDIS_DB, "exp"), "CINESTREAM_AGENTS": "online_mf,trending,experiments"}


@pytest.fixture(scope="module")
def live(stack: Settings, overrides: dict[str, str], data_dir: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with learned_worker(stack, overrides, data_dir, tmp_path_factory.mktemp("exp-worker"), limit=5000) as ratings:
        yield len(ratings)


@pytest.fixture()
async def api(stack: Settings, overrides: dict[str, str], live: int,
              built_catalogue: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The API as a platform reads and writes it (a service key), and an admin's header."""
    settings = Settings(**{name.removeprefix("CINESTREAM_").lower(): value for name, value in overrides.items()
                           if name.startswith("CINESTREAM_TOPIC_")},
                        redis_url=overrides["CINESTREAM_REDIS_URL"], mongo_db="cinestream_test")
    async with running(settings) as http:
        key = await accounts.create_service_key(http.app.state.db, "platform",  # type: ignore[attr-defined]
                                                ["recommendations:read", "events:write"], "test")
        admin = await make_admin(http)
        http.headers["Authorization"] = f"Bearer {key['key']}"
        yield http, admin.auth


async def _sums(http: httpx.AsyncClient, name: str, field: str, at_least: float) -> dict[str, Any]:
    """The experiment's figures once ``field`` of its sums reaches ``at_least`` (within 30 s)."""
    redis = http.app.state.redis  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while (sums := (await experiment_store.sums(redis, [name]))[name]).get(field, 0.0) < at_least:
        assert time.monotonic() < deadline, f"{field} of {name} stayed at {sums.get(field)}: {sums}"
        await asyncio.sleep(0.1)
    return sums


async def _take(http: httpx.AsyncClient, user: int, movie: int, ahead_s: float = 0.0) -> None:
    event = {"event_id": f"take-{uuid.uuid4().hex}", "type": "rating", "user_id": user, "movie_id": movie,
             "rating": 5.0, "timestamp": time.time() + ahead_s}
    response = await http.post("/api/events/batch", json={"events": [event]})
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text


async def test_ab_assigns_stably_logs_every_list_and_counts_an_outcome_once(
        api: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    http, admin = api
    name = f"ab-{uuid.uuid4().hex[:8]}"
    started = await http.post("/api/admin/experiments", headers=admin,
                              json={"name": name, "variants": ["live", "popular"], "window_s": 60})
    assert started.status_code == 201, started.text
    second = await http.post("/api/admin/experiments", headers=admin,
                             json={"name": "other", "variants": ["live", "live"]})
    assert second.status_code == 409  # one experiment decides the lists at a time
    await asyncio.sleep(experiment_store.REFRESH_S)  # the API's copy of the running experiments

    lists = {}
    for _ in range(2):
        for user in PEOPLE:
            body = (await http.get(f"/api/users/{user}/recommendations")).json()
            assert body["experiment"]["name"] == name
            arm = body["experiment"]["arm"]
            assert arm == arm_of([user], name)[0]  # the same arm every time: a hash, nothing stored
            assert (body["model"] == "popular now") == (arm == 1) and len(body["items"]) == 10
            lists[user] = (arm, [item["movieId"] for item in body["items"]])
    arms = [arm for arm, _ in lists.values()]
    assert 0 < sum(arms) < len(arms)
    sums = await _sums(http, name, "lists:1", sum(arms) * 2)
    assert sums["lists:0"] + sums["lists:1"] == 2 * len(PEOPLE)  # every list served is an exposure, once
    assert (sums["n:0"], sums["n:1"]) == (len(arms) - sum(arms), sum(arms))  # people, each once

    user, (arm, shown) = next(iter(lists.items()))
    candidates = np.arange(100_000, 100_100)  # someone who rates with no list shown, on the person's partition
    partitions = Settings().partitions
    outsider = int(candidates[partition_of(candidates, partitions) == partition_of(np.array([user]), partitions)[0]][0])
    await _take(http, outsider, shown[0])
    await _take(http, user, shown[0])
    await _take(http, user, shown[0])  # the same film again: counted once
    await _take(http, user, shown[1], ahead_s=120)  # past the 60 s window: not counted
    await _take(http, user, shown[2])  # a canary on the same partition: once it counts, the others were seen
    sums = await _sums(http, name, f"s:{arm}", 2)
    assert sums[f"s:{arm}"] == 2 and sums[f"q:{arm}"] == 4  # one person, two films: 2²
    assert sums.get(f"s:{1 - arm}", 0) == 0
    redis = http.app.state.redis  # type: ignore[attr-defined]
    assert not await redis.exists(experiment_store.open_key(outsider))  # no key for someone outside it
    read = (await http.get(f"/api/admin/experiments/{name}", headers=admin)).json()
    assert [a["people"] for a in read["arms"]] == [sums["n:0"], sums["n:1"]] and read["curve"]
    assert [a["lists"] for a in read["guardrails"]] == [sums["lists:0"], sums["lists:1"]]
    assert read["guardrails"][1]["films"] >= 10 and read["guardrails"][0]["p99_ms"] > 0  # coverage, latency

    stopped = await http.post(f"/api/admin/experiments/{name}/stop", headers=admin)
    assert stopped.json()["status"] == "stopped"
    await asyncio.sleep(experiment_store.REFRESH_S)
    assert "experiment" not in (await http.get(f"/api/users/{user}/recommendations")).json()


async def test_interleaving_credits_the_team_that_showed_the_film(
        api: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    http, admin = api
    await _stop_running(http, admin)
    name = f"il-{uuid.uuid4().hex[:8]}"
    started = await http.post("/api/admin/experiments", headers=admin,
                              json={"name": name, "variants": ["live", "popular"], "mode": "interleave"})
    assert started.status_code == 201, started.text
    await asyncio.sleep(experiment_store.REFRESH_S)
    body = (await http.get("/api/users/1/recommendations")).json()
    assert body["experiment"]["arm"] == -1 and body["model"].startswith("interleaved: ")
    await _sums(http, name, "n", 1)
    opened = (await experiment_store.state(http.app.state.redis, [1], [name]))[0][1]  # type: ignore[attr-defined]
    [exposure] = [shown for shown in opened if shown.experiment == name]
    assert exposure.items == [item["movieId"] for item in body["items"]] and len(exposure.teams) == len(exposure.items)
    team = exposure.teams[0]
    await _take(http, 1, exposure.items[0])
    sums = await _sums(http, name, f"takes:{team}", 1)
    assert f"takes:{1 - team}" not in sums and sums["s"] == (1 if team == 0 else -1) and sums["q"] == 1
    await http.post(f"/api/admin/experiments/{name}/stop", headers=admin)


async def _stop_running(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for running_one in (await http.get("/api/admin/experiments", headers=admin)).json()["experiments"]:
        if running_one["status"] == "running":
            await http.post(f"/api/admin/experiments/{running_one['name']}/stop", headers=admin)


async def test_a_broken_guardrail_stops_the_experiment_by_itself(api: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    http, admin = api
    await _stop_running(http, admin)
    name = f"slow-{uuid.uuid4().hex[:8]}"
    started = await http.post("/api/admin/experiments", headers=admin,  # no list is built in a microsecond
                              json={"name": name, "variants": ["live", "popular"], "max_p99_ms": 0.001})
    assert started.status_code == 201, started.text
    await asyncio.sleep(experiment_store.REFRESH_S)
    arms = arm_of(list(PEOPLE), name)
    rounds = GUARD_LISTS // min(int(arms.sum()), len(arms) - int(arms.sum())) + 1  # past GUARD_LISTS in each arm
    for _ in range(rounds):
        for user in PEOPLE:
            await http.get(f"/api/users/{user}/recommendations")
    deadline = time.monotonic() + 30
    while (read := (await http.get(f"/api/admin/experiments/{name}", headers=admin)).json())["status"] == "running":
        assert time.monotonic() < deadline, (read["guardrails"], read["curve"][-1:])
        await asyncio.sleep(0.2)
    assert read["reason"].startswith("guardrail: latency: arm "), read["reason"]
    for arm in read["guardrails"]:
        assert arm["lists"] >= 200 and arm["p99_ms"] > 0.001 and arm["error_rate"] == 0 and arm["films"] >= 10, arm
    assert read["curve"][-1]["arms"][0]["p99_ms"] > 0.001  # the look that stopped it, drawn on the admin page
    await asyncio.sleep(experiment_store.REFRESH_S)
    assert "experiment" not in (await http.get("/api/users/1/recommendations")).json()


async def test_a_kept_ranker_version_is_a_variant_and_only_a_decided_winner_is_promoted(
        api: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    http, admin = api
    await _stop_running(http, admin)
    redis, db = http.app.state.redis, http.app.state.db  # type: ignore[attr-defined]
    films = np.array(sorted([doc["_id"] async for doc in db.movies.find({}, {"_id": 1}).limit(400)]), dtype=np.int64)
    rng = np.random.default_rng(5)
    model = LiveModel(films, rng.standard_normal((len(films), 8)).astype(np.float32), reg=0.5, alpha=3.0,
                      kept=np.zeros(0, np.int64), neighbours=np.zeros((0, 0), np.int32),
                      links=np.zeros((0, 0), np.float32), prior=rng.standard_normal(len(films)),
                      genres=np.zeros((len(films), 1), np.uint8), genre_names=["Drama"],
                      blend=np.tile([1.0, 0.0, 0.5, 0.2], (5, 1)))
    version = await live_model_store.save(redis, model, {"status": "candidate"})
    gone = await http.post("/api/admin/experiments", headers=admin,
                           json={"name": f"gone-{uuid.uuid4().hex[:8]}", "variants": ["live", "ranker:999999"]})
    assert gone.status_code == 404
    name = f"kept-{uuid.uuid4().hex[:8]}"
    started = await http.post("/api/admin/experiments", headers=admin,
                              json={"name": name, "variants": [f"ranker:{version}", "live"], "mode": "interleave"})
    assert started.status_code == 201, started.text
    await asyncio.sleep(experiment_store.REFRESH_S)
    body = (await http.get("/api/users/1/recommendations")).json()
    assert body["model"].startswith(f"interleaved: ranker version {version}: "), body["model"]
    await _sums(http, name, "n", 1)
    opened = (await experiment_store.state(redis, [1], [name]))[0][1]
    [exposure] = [shown for shown in opened if shown.experiment == name]
    assert 0 in exposure.teams and set(exposure.items) & set(films.tolist())  # the kept version placed films
    refused = await http.post(f"/api/admin/experiments/{name}/promote", headers=admin)
    assert refused.status_code == 409 and "has not decided" in refused.text  # nothing is promoted on no evidence
    await http.post(f"/api/admin/experiments/{name}/stop", headers=admin)

"""``cinestream evaluate`` writes a run; the API lists it and draws its precision–recall curves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from typer.testing import CliRunner

from api.main import create_app
from cli.main import app as cli
from core.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def evaluated(stack: Settings, data_dir: object) -> dict:
    result = CliRunner().invoke(cli, ["evaluate", "--dataset", "ml-100k", "--model", "popularity",
                                      "--model", "implicit ALS", "--model", "baseline"])
    assert result.exit_code == 0, result.output
    assert "NDCG@10" in result.output
    return json.loads((stack.reports_dir / "evaluation-ml-100k-random.json").read_text())


@pytest.fixture(scope="module")
async def client(stack: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(stack)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        yield http


def test_the_run_scores_every_model_it_was_asked_for(evaluated: dict) -> None:
    by_name = {r["name"]: r for r in evaluated["results"]}
    assert set(by_name) == {"popularity", "implicit ALS", "baseline"}
    assert by_name["popularity"]["rmse"] is None  # popularity ranks, it does not predict ratings
    assert 0.9 < by_name["baseline"]["rmse"] < 0.96  # ml-100k biases: ≈0.94 (Surprise BaselineOnly)
    assert by_name["implicit ALS"]["ranking"]["NDCG@10"] > by_name["popularity"]["ranking"]["NDCG@10"]
    assert len(by_name["implicit ALS"]["curve_precision"]) == 50


async def test_the_api_lists_the_run_and_draws_its_curves(evaluated: dict, client: httpx.AsyncClient) -> None:
    runs = (await client.get("/api/evaluation")).json()["runs"]
    run = next(r for r in runs if r["run"] == "evaluation-ml-100k-random")
    assert {r["name"] for r in run["results"]} == {"popularity", "implicit ALS", "baseline"}
    png = await client.get("/api/evaluation/evaluation-ml-100k-random/precision-recall.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


async def test_an_unknown_run_is_a_404_that_says_how_to_make_one(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/evaluation/evaluation-nothing/precision-recall.png")
    assert response.status_code == 404
    assert "cinestream evaluate" in response.json()["error"]["message"]


def test_a_bad_split_or_model_is_refused_with_the_choices() -> None:
    result = CliRunner().invoke(cli, ["evaluate", "--model", "magic"])
    assert result.exit_code == 1
    assert "unknown model(s) magic" in result.output and "implicit ALS" in result.output

"""The integration guide (``docs/integrate.md``) run as written against the real stack: its Python blocks,
in order, as one script in a process of its own, speaking HTTP to an API on a port of its own while a
worker with every agent learns what it posts. A guide whose example stops working fails here."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from motor.motor_asyncio import AsyncIOMotorDatabase

from api.services import accounts
from core.settings import Settings
from tests.integration.helpers import isolated, learned_worker

pytestmark = pytest.mark.integration

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "integrate.md"
SCOPES = ["events:write", "recommendations:read", "history:read", "catalogue:write"]
GUIDE_TITLES = {"$gte": 987_000_000, "$lt": 988_000_000}  # the ids the guide's example title is given


def guide_script() -> str:
    """Every ```python block of the guide, in order: what a reader pastes into one session."""
    blocks = re.findall(r"^```python\n(.*?)^```$", GUIDE.read_text(), flags=re.S | re.M)
    assert len(blocks) >= 8, "the guide lost its examples"
    return "\n\n".join(blocks)


@pytest.fixture(scope="module")
def overrides(stack: Settings) -> dict[str, str]:
    return isolated(stack, 1, "guide")


@pytest.fixture(scope="module")
def api_url(stack: Settings, overrides: dict[str, str], data_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A worker fed 20,000 real ratings (so there is something to recommend), and the API as a process."""
    workdir = tmp_path_factory.mktemp("guide")
    with learned_worker(stack, overrides, data_dir, workdir), serving_api(overrides, workdir) as url:
        yield url


@contextmanager
def serving_api(overrides: dict[str, str], workdir: Path) -> Iterator[str]:
    """The API as a process of its own, on a free port, until leaving."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    api = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--port", str(port),
                            "--log-level", "warning"], env={**os.environ, **overrides},
                           stdout=subprocess.DEVNULL, stderr=(workdir / "api.log").open("wb"), start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert api.poll() is None and time.monotonic() < deadline, (workdir / "api.log").read_text()[-2000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/movies", params={"q": "alien", "limit": 1},
                             timeout=60).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        api.terminate()
        api.wait(10)


async def test_the_integration_guide_runs_as_written(built_catalogue: str, db: AsyncIOMotorDatabase,
                                                     api_url: str, tmp_path: Path) -> None:
    key = await accounts.create_service_key(db, "guide", SCOPES, "test")
    script = tmp_path / "guide.py"
    script.write_text(guide_script())
    try:
        ran = await asyncio.create_subprocess_exec(
            sys.executable, str(script), env={**os.environ, "CINESTREAM_API": api_url, "CINESTREAM_KEY": key["key"]},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output = (await asyncio.wait_for(ran.communicate(), 120))[0].decode()
    finally:  # the shared test catalogue holds only the release's titles (test_catalogue_mongo counts them)
        await db.movies.delete_many({"movieId": GUIDE_TITLES})
        await db.retired_titles.delete_many({"movieId": GUIDE_TITLES})
    print(output)
    assert ran.returncode == 0, output[-3000:]
    assert "['accepted', 'accepted', 'accepted']" in output  # an event posted
    assert "is not in the catalogue" in output  # a bad one refused with its reason
    assert "list pushed again after" in output  # a live update received
    assert "accepted through the client" in output and "pushed through the client" in output  # the client too
    assert output.rstrip().endswith("erased")  # a person erased

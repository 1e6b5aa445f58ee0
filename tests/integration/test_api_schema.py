"""schemathesis (``--checks all``) against the real app: once as a person, once with a service key.

Every generated request must get an answer the OpenAPI documents, in the documented error shape;
valid requests must be accepted, invalid ones refused, and nothing may answer 5xx.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from api.services import accounts
from core.settings import Settings
from storage.mongo import connect, database
from tests.integration.people import api_settings
from tests.serving import serving

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
REDIS_DB = 2


@pytest.fixture(scope="module")
def served(stack: Settings, built_catalogue: str) -> Iterator[tuple[str, Settings]]:
    settings = api_settings(stack, REDIS_DB)
    redis.Redis.from_url(settings.redis_url).flushdb()  # rate-limit counters of an earlier run
    with serving(settings) as url:
        yield url, settings


def _credential(base: str, settings: Settings, who: str) -> str:
    import httpx

    if who == "service":
        async def key() -> str:
            client = connect(settings)
            try:
                made = await accounts.create_service_key(database(client, settings), "schemathesis",
                                                         ["events:write", "recommendations:read", "history:read"],
                                                         "test")
                return str(made["key"])
            finally:
                client.close()

        return asyncio.run(key())
    email = f"schema-{time.monotonic_ns()}@example.org"
    body = httpx.post(f"{base}/api/auth/register",
                      json={"email": email, "password": "long enough password", "display_name": "Schema"}).json()
    return str(body["access_token"])


@pytest.mark.parametrize("who", ["person", "service"])
def test_schemathesis_finds_nothing(served: tuple[str, Settings], who: str) -> None:
    base, settings = served
    argv = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{base}/openapi.json", "--checks", "all",
            "--max-examples", "25", "--request-timeout", "30", "--seed", "1",
            "-H", f"Authorization: Bearer {_credential(base, settings, who)}", "--exclude-path", "/api/auth/logout",
            "--exclude-path", "/api/me/live"]  # an event stream: it answers until the client leaves
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    summary = "\n".join(done.stdout.splitlines()[-25:])
    print(f"schemathesis as {who}:\n{summary}")
    assert done.returncode == 0, done.stdout[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert counts is not None and counts[1] == counts[2] and int(counts[1]) > 1000, summary

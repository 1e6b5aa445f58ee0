"""The README's first command, on an empty stack folder: stack, catalogue, both worker roles, replay, API.

Its servers get ports and a stack folder of their own, so the suite's stack is left alone; the Kafka
and FerretDB builds in the cache are reused, so it costs the start-up, not the builds. A fresh
machine's first run failed here once (faust makes its data folder but not the one above it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
PORTS = ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "MONGO_PORT", "FERRETDB_DEBUG_PORT", "REDIS_PORT", "API_PORT")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _stop_group(pgid: int) -> None:
    """SIGTERM the job's process group (workers included), then SIGKILL whatever outlives 20 s."""
    deadline = time.monotonic() + 20
    try:
        os.killpg(pgid, signal.SIGTERM)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            os.killpg(pgid, 0)
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return


@pytest.fixture(scope="module")
def main_job(tmp_path_factory: pytest.TempPathFactory,
             data_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """``bash scripts/main.sh`` running until the test is done; its servers stopped after."""
    root = tmp_path_factory.mktemp("main-job")
    stack_dir = root / "not" / "yet" / "there"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CINESTREAM_") or k in ("CINESTREAM_CACHE_DIR", "CINESTREAM_DATA_DIR")}
    env |= {f"CINESTREAM_{name}": str(_free_port()) for name in PORTS}
    env |= {"CINESTREAM_STACK_DIR": str(stack_dir), "CINESTREAM_DATA_DIR": str(data_dir)}
    log = root / "main.log"
    job = subprocess.Popen(["bash", "scripts/main.sh"], cwd=ROOT, env=env, stdout=log.open("wb"),
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield job, f"http://127.0.0.1:{env['CINESTREAM_API_PORT']}", log
    finally:
        _stop_group(job.pid)
        subprocess.run([str(ROOT / ".venv/bin/cinestream"), "stack", "down"], env=env, cwd=ROOT,
                       capture_output=True, timeout=120)


def test_the_main_job_serves_the_replayed_dataset_from_an_empty_stack_folder(
        main_job: tuple[subprocess.Popen[bytes], str, Path]) -> None:
    job, base, log = main_job
    deadline = time.monotonic() + 600
    while _get(f"{base}/health")[0] != 200:
        assert job.poll() is None, f"the main job exited ({job.returncode}):\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"nothing served after 600 s:\n{log.read_text()[-3000:]}"
        time.sleep(1)
    said = log.read_text()
    assert "replayed 100836 events" in said, said[-3000:]
    assert "Traceback" not in said, said[-3000:]

    status, home = _get(f"{base}/")
    assert status == 200 and b"CineStream" in home
    # The side role learned the replay too: trending ranks real catalogue movies.
    deadline = time.monotonic() + 120
    while True:
        status, body = _get(f"{base}/api/trending?k=10")
        items = json.loads(body).get("items", []) if status == 200 else []
        if len(items) == 10:
            break
        assert time.monotonic() < deadline, f"trending stayed empty: {status} {body[:300]!r}"
        time.sleep(1)
    assert all(item.get("title") for item in items), items

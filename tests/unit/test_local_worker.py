"""``stop_strays`` finds the workers a run left behind by their data directory, and only those."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from streams.local_worker import stop_strays

SLEEPER = "import time; time.sleep(120)"


def _sleeper(datadir: Path) -> subprocess.Popen[bytes]:
    # python -c passes what follows as the script's own arguments, so the command line carries --datadir
    return subprocess.Popen([sys.executable, "-c", SLEEPER, "--datadir", str(datadir), "worker"])


def test_a_worker_under_the_run_folder_is_killed_and_one_elsewhere_is_left(tmp_path: Path) -> None:
    run, other = tmp_path / "run", tmp_path / "other-run"
    stray, neighbour = _sleeper(run / "learn-0"), _sleeper(other / "learn-0")
    try:
        assert stop_strays(run) == [stray.pid]
        assert stray.wait(10) == -9  # SIGKILL
        assert neighbour.poll() is None
        assert stop_strays(run) == []
    finally:
        for proc in (stray, neighbour):
            proc.kill()
            proc.wait(10)

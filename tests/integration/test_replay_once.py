"""The main job run twice replays its dataset once: a second replay would teach every rating twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from tests.integration.helpers import cleanup, isolated, prepare

pytestmark = pytest.mark.integration


def test_replay_once_skips_a_dataset_already_replayed_into_this_redis(stack: Settings, data_dir: Path) -> None:
    overrides = isolated(stack, 11, "once")
    prepare(stack, overrides)
    cli = [str(Path(sys.executable).with_name("cinestream")), "replay", "--limit", "50", "--once"]
    env = {**os.environ, **overrides, "CINESTREAM_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    try:
        first = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0 and "replayed 50 events" in first.stdout, first.stdout + first.stderr
        second = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert "was replayed into this stack already (50 events): not again" in second.stdout, second.stdout
        # another slice of the dataset is another replay
        third = subprocess.run([*cli[:2], "--limit", "60", "--once"], env=env, capture_output=True, text=True,
                               timeout=120)
        assert "replayed 60 events" in third.stdout, third.stdout + third.stderr
    finally:
        cleanup(stack, overrides)

"""Shared fixtures. Integration tests use the real local stack (started here if it is not up)
and a database of their own, so they never touch the main job's data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("CINESTREAM_MONGO_DB", "cinestream_test")

from cinestream.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def data_dir(settings: Settings) -> Path:
    if not (settings.data_dir / "ml-latest-small" / "ratings.csv").exists():
        pytest.fail(f"no datasets under {settings.data_dir}: set CINESTREAM_DATA_DIR (see README)")
    return settings.data_dir


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    from deploy.local import stack as local_stack

    local_stack.up(settings)
    return settings

"""Every ``cinestream`` command, run as a newcomer would meet it: servers down, input missing.

Each must end in one line on stderr naming the cause and the fix, with no traceback. The command
table is checked against the CLI itself, so a new command without a case here fails the test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import typer.main

from cli.main import app

# command -> (arguments after it, expected exit code, words the one-line error must hold)
CASES: dict[str, tuple[list[str], int, list[str]]] = {
    "stack up": ([], 1, ["does not answer", "start it"]),
    "stack down": ([], 0, []),
    "client generate": ([], 0, []),  # needs no server: the schema comes from the app's code
    "stack status": ([], 1, []),
    "data fetch": (["ml-1m"], 1, ["cannot reach 127.0.0.1", "ml-1m.zip", "CINESTREAM_DATA_DIR",
                                  "CINESTREAM_DATASET_BASE_URL"]),
    "data generate": (["ml-1m-synthetic"], 1, ["movies.csv not found", "cinestream data fetch ml-latest-small"]),
    "catalogue build": ([], 1, ["cannot reach MongoDB", "CINESTREAM_MONGO_URI"]),
    "catalogue report": ([], 1, ["cannot reach MongoDB"]),
    "catalogue show": (["toy story"], 1, ["cannot reach MongoDB"]),
    "api": ([], 1, ["cannot reach MongoDB"]),
    "worker": ([], 1, ["cannot reach Kafka", "CINESTREAM_KAFKA_BOOTSTRAP"]),
    "replay": ([], 1, ["no ratings file for 'ml-latest-small'", "movies.csv", "cinestream data fetch ml-latest-small"]),
    "load": (["--duration", "1"], 1, ["cannot reach Kafka"]),
    "simulate": (["--duration", "1"], 1, ["cannot reach MongoDB"]),
    "evaluate": ([], 1, ["no ratings file", "cinestream data fetch ml-latest-small"]),
    "model bootstrap": ([], 1, ["cannot reach"]),
    "model publish": ([], 1, ["cannot reach"]),
    "model repair": ([], 1, ["cannot reach"]),
    "model versions": ([], 1, ["cannot reach Redis", "CINESTREAM_REDIS_URL"]),
    "model snapshot": ([], 1, ["cannot reach Redis"]),
    "model rollback": (["1"], 1, ["cannot reach Redis"]),
    "scheduler": ([], 1, ["cannot reach MongoDB"]),
    "ranker refit": ([], 1, ["cannot reach MongoDB"]),
    "ranker promote": (["1"], 1, ["cannot reach MongoDB"]),
    "ranker versions": ([], 1, ["cannot reach Redis"]),
    "plot learning-curve": ([], 1, ["cannot reach Redis"]),
    "users demo": ([], 1, ["cannot reach MongoDB"]),
    "users roles": (["1", "--admin"], 1, ["cannot reach MongoDB"]),
    "keys create": (["platform"], 1, ["cannot reach MongoDB"]),
    "keys list": ([], 1, ["cannot reach MongoDB"]),
    "kafka init": ([], 1, ["Kafka SASL is off", "CINESTREAM_KAFKA_SASL"]),
    "keys revoke": (["abc"], 1, ["cannot reach MongoDB"]),
    "secrets new-key": ([], 0, []),
    "secrets rotate": ([], 1, ["cannot reach MongoDB"]),
}


def _commands(group: Any, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer ships its own click, so no isinstance)
            names += _commands(command, f"{prefix}{name} ")
        else:
            names.append(f"{prefix}{name}")
    return names


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def nothing_there(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose servers are all down and whose data folder is empty."""
    root = tmp_path_factory.mktemp("newcomer")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINESTREAM_")}
    return {**env, "CINESTREAM_KAFKA_BOOTSTRAP": f"127.0.0.1:{_closed_port()}",
            "CINESTREAM_MONGO_URI": f"mongodb://127.0.0.1:{_closed_port()}",
            "CINESTREAM_REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0",
            "CINESTREAM_DATASET_BASE_URL": f"http://127.0.0.1:{_closed_port()}/",
            "CINESTREAM_DATA_DIR": str(root / "data"), "CINESTREAM_CACHE_DIR": str(root / "cache"),
            "CINESTREAM_STACK_DIR": str(root / "stack" / "deep")}


def test_every_command_has_a_case() -> None:
    assert sorted(_commands(typer.main.get_command(app))) == sorted(CASES)


def test_every_command_fails_in_one_line_with_its_fix(nothing_there: dict[str, str]) -> None:
    def run(command: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        argv = [sys.executable, "-m", "cli.main", *command.split(), *CASES[command][0]]
        return command, subprocess.run(argv, env=nothing_there, capture_output=True, text=True, timeout=60,
                                       cwd=Path(__file__).parents[2])

    with ThreadPoolExecutor(4) as pool:
        results = dict(pool.map(run, CASES))
    for command, done in results.items():
        _, code, words = CASES[command]
        said = done.stdout + done.stderr
        assert done.returncode == code, f"{command}: exit {done.returncode}\n{said}"
        assert "Traceback" not in said, f"{command} printed a traceback:\n{said}"
        if code and words:
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), f"{command}: not one error line:\n{said}"
            for word in words:
                assert word in lines[0], f"{command}: {word!r} missing from {lines[0]!r}"

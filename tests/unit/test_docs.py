"""The documentation site builds with no warning (a broken link, a page outside the navigation, a
reference the code no longer matches), and its generated references cover the code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer.main

from api.main import create_app
from cli.main import app
from cli.reference import api_reference, cli_reference
from contracts.events import MAX_ID

ROOT = Path(__file__).resolve().parents[2]


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stderr[-3000:]
    pages = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("index.html") if "assets" not in p.parts)
    print(f"{len(pages)} pages")
    wanted = {Path("integrate/index.html"), Path("reference/api/index.html"), Path("reference/cli/index.html")}
    assert wanted <= set(pages)
    models = (tmp_path / "models" / "index.html").read_text()
    assert "measured: served-lists" not in models and "new, R = 20" in models  # the bench's records, as tables
    benchmarks = (tmp_path / "benchmarks" / "index.html").read_text()
    assert "measured: benchmarks" not in benchmarks
    assert "python -m bench.stream_throughput" in benchmarks and "python -m bench.freshness" in benchmarks
    architecture = (tmp_path / "architecture" / "index.html").read_text()
    assert "the client speaks HTTP only" in architecture  # the import contracts, from pyproject.toml


def test_the_api_reference_has_every_route_and_who_may_call_it() -> None:
    spec = create_app().openapi()
    page = api_reference(create_app())
    for path, operations in spec["paths"].items():
        for method in operations:
            assert f"### {method.upper()} `{path}`" in page
    assert page.count("**Who may call:**") == sum(len(ops) for ops in spec["paths"].values())
    assert "services with events:write" in page  # the batch endpoint's policy, from the route itself


def test_the_cli_reference_has_every_command() -> None:
    page = cli_reference(typer.main.get_command(app))
    for command in ("cinestream keys create", "cinestream model publish", "cinestream stack up", "cinestream replay"):
        assert f"## `{command}`" in page
    assert "--scope" in page


def test_every_integer_bound_in_the_served_schema_is_the_integer_the_route_checks() -> None:
    """FastAPI serves bounds as floats, and float(2^63 - 1) is 2^63: a generator would send 2^63 + 191
    as a valid id. Every id route and body field must say 2^63 - 1, exactly."""
    found: list[object] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer":
                found.extend(node[k] for k in ("minimum", "maximum") if k in node)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(create_app().openapi())
    assert found and all(type(bound) is int for bound in found), [b for b in found if type(b) is not int][:5]
    assert MAX_ID in found and float(MAX_ID) not in [b for b in found if type(b) is float]

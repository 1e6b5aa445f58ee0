"""A bench's figures, kept as the file the documentation site's tables are made from.

Every bench takes ``--record``: its headline figures, the exact command that printed them, the day and
the commit go to ``docs/measured/bench-<name>.json`` (committed), and the site's Benchmarks page renders
whatever is there (``cli.reference.bench_tables``). A figure typed into a page goes stale the day
the code changes; a file the bench wrote says when and at which commit it was true.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

RECORDS = Path(__file__).resolve().parents[1] / "docs" / "measured"


def add_option(parser: argparse.ArgumentParser) -> None:
    """``--record``, with the same meaning in every bench."""
    parser.add_argument("--record", action="store_true",
                        help=f"also write the headline figures to {RECORDS.name}/ (the documentation site's "
                             "tables are made from those files)")


def commit() -> str:
    """The checkout's short commit, with ``+`` when it has changes not committed."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, check=False)
    return (head.stdout.strip() or "unknown") + ("+" if dirty.stdout.strip() else "")


def command() -> str:
    """How this process was started, as one would type it again to measure (``--record`` left out)."""
    module = Path(sys.argv[0]).with_suffix("").name
    return shlex.join(["python", "-m", f"bench.{module}", *(a for a in sys.argv[1:] if a != "--record")])


Figures = Mapping[str, float | str]


def rows_of(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """A bench's printed table as ``write``'s ``rows``: row → column → figure, the empty cells left out."""
    return {str(name): {str(column): float(value) for column, value in row.items() if pd.notna(value)}
            for name, row in table.iterrows()}


def write(name: str, what: str, figures: Figures, notes: str = "", rows: Mapping[str, Figures] | None = None) -> Path:
    """Record one run: ``what`` it measured (a table's first column), its headline ``figures`` in the
    order to show them (numbers stay numbers in the file; the page formats them), ``notes`` a reader needs
    to read them right (the reference's meaning), and optionally the full table as ``rows`` (row → column
    → figure), which the page shows below the headline table."""
    RECORDS.mkdir(parents=True, exist_ok=True)
    target = RECORDS / f"bench-{name}.json"
    target.write_text(json.dumps({"bench": name, "what": what, "command": command(),
                                  "measured": time.strftime("%Y-%m-%d"), "commit": commit(),
                                  "figures": dict(figures), "notes": notes,
                                  "rows": {k: dict(v) for k, v in (rows or {}).items()}}, indent=1) + "\n")
    print(f"recorded in {target}")
    return target

"""What the API serves ranks at least as well as its references, end to end (``bench.served_lists``,
short: fewer people than the bench's defaults, the same protocols and the same real servers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from bench.served_lists import ratios, run
from core.settings import Settings

pytestmark = pytest.mark.integration


def test_new_and_returning_people_get_lists_at_least_as_good_as_the_references(stack: Settings,
                                                                                 data_dir: Path) -> None:
    report = run(stack, "ml-latest-small", people=80, returning=40, steps=5, console=Console(quiet=True))
    got = ratios(report)
    print(got)
    assert got["new R=5: API / most-popular P@10"] >= 1.0, got
    assert got["new R=20: API / most-popular P@10"] >= 1.1, got
    assert got["new R=20: API / similar-of-rated P@10"] >= 1.0, got
    assert got["returning: API / offline hybrid NDCG@10"] >= 1.0, got
    for r in (5, 20):
        rows = report.new[r]
        assert rows["API"]["diversity"] >= 0.95 * rows["offline hybrid"]["diversity"], rows
    assert report.posted == 80 * (1 + 5 + 20) + 40 * 5
    assert report.rounds == 3 + 5 and report.late == 0  # every list was fetched after its events were learned

"""The evaluation table on the terminal, and the same results as JSON and PNG for the dashboard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from evaluation.suite import Result
from figures.plots import precision_recall_png

RANKING_COLUMNS = ("P@10", "R@10", "NDCG@10", "MAP@10", "HR@10", "coverage", "novelty", "diversity")


def _cell(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(results: Sequence[Result], title: str) -> Table:
    out = Table(title=title)
    for column in ("model", "RMSE", "MAE", *RANKING_COLUMNS, "fit s"):
        out.add_column(column, justify="left" if column == "model" else "right")
    for r in results:
        out.add_row(r.name, _cell(r.rmse), _cell(r.mae), *(_cell(r.ranking.get(c)) for c in RANKING_COLUMNS),
                    f"{r.fit_seconds:.2f}")
    return out


def save(results: Sequence[Result], folder: Path, stem: str, meta: dict[str, object]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{stem}.json"
    data.write_text(json.dumps({**meta, "results": [r.as_dict() for r in results]}, indent=1))
    png = folder / f"{stem}-pr.png"
    png.write_bytes(precision_recall_png([{"name": r.name, "precision": r.curve_precision, "recall": r.curve_recall}
                                          for r in results], title=f"Precision–recall: {meta.get('dataset', '')}"))
    return data, png

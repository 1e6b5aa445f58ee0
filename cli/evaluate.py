"""``cinestream evaluate``: the offline line-up on one release and split."""

from __future__ import annotations

import typer

from cli.common import console, fail
from core.settings import get_settings


def evaluate_cmd(
    dataset: str = typer.Option("ml-latest-small", help="Any MovieLens release under CINESTREAM_DATA_DIR."),
    split: str = typer.Option("random", help="'random' (seeded share held out) or 'temporal' (each user's last N)."),
    test_share: float = typer.Option(0.2, help="random split: share of ratings held out"),
    last: int = typer.Option(5, help="temporal split: each user's last N ratings held out"),
    seed: int = typer.Option(0),
    models: list[str] = typer.Option([], "--model", help="Only these models (repeatable); all by default."),
) -> None:
    """Score our recommenders offline: RMSE, MAE, P/R/NDCG/MAP/HR@10, coverage, novelty, diversity."""
    from evaluation.lineup import our_models
    from evaluation.report import save, table
    from evaluation.run import prepare, run

    if split not in ("random", "temporal"):
        fail(f"--split must be 'random' or 'temporal', not {split!r}")
    settings = get_settings()
    try:
        prepared = prepare(settings.release_dir(dataset).parent, dataset,
                           "random" if split == "random" else "temporal", test_share, last, seed)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    lineup = our_models(prepared.vectors, seed)
    unknown = sorted(set(models) - set(lineup))
    if unknown:
        fail(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(lineup)}")
    console.print(prepared.describe())
    results, _ = run({n: f for n, f in lineup.items() if not models or n in models}, prepared, console)
    console.print(table(results, f"{prepared.describe()}; relevant = rated ≥ 4"))
    written = save(results, settings.reports_dir, f"evaluation-{dataset}-{split}",
                   {"dataset": dataset, "split": prepared.split})
    console.print(f"wrote {written[0]} and {written[1]}")

"""``cinestream plot``: figures as PNG files."""

from __future__ import annotations

import typer

from cli.common import console, require
from core.settings import get_settings

app = typer.Typer(help="Figures as PNG files.", no_args_is_help=True)


@app.command("learning-curve")


def plot_learning_curve(out: str = typer.Option("learning-curve.png")) -> None:
    """The streaming model's prequential learning curve, with ADWIN's drift marks."""
    require("redis")
    import asyncio
    from pathlib import Path

    from figures.plots import learning_curve_png
    from storage.models import Models
    from storage.redis_store import connect

    async def points() -> list[dict[str, float]]:
        redis = connect(get_settings())
        try:
            return await Models.over(redis).mf.learning_curve()
        finally:
            await redis.aclose()

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(learning_curve_png(asyncio.run(points())))
    console.print(f"wrote {out}")

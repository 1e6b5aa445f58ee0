"""``cinestream model``: the online MF's warm start, published lists, repairs and versions."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.common import console, fail, require
from core.settings import get_settings

app = typer.Typer(help="The online model: warm start and versions.", no_args_is_help=True)


@app.command("bootstrap")


def model_bootstrap(epochs: int = typer.Option(15, help="SGD epochs, or ALS iterations"),
                    lr: float = typer.Option(0.1, help="the online model's base learning rate"),
                    method: str = typer.Option("sgd", help="'sgd' (the stream's update) or 'als'")) -> None:
    """Fit the MF model on the stored rating history and make it live as a new version."""
    require("mongo", "redis")
    import asyncio

    from jobs.model import bootstrap

    if method not in ("sgd", "als"):
        fail(f"--method must be 'sgd' or 'als', not {method!r}")
    console.print(asyncio.run(bootstrap(get_settings(), console, epochs, lr, method)))


@app.command("publish")


def model_publish(k: int = typer.Option(50, help="list length per user"),
                  text: bool = typer.Option(True, help="content vectors include overview embeddings")) -> None:
    """Fit the hybrid on the stored history and publish every user's list (with reasons) to Redis."""
    require("mongo", "redis")
    import asyncio

    from jobs.publish import publish

    console.print(asyncio.run(publish(get_settings(), console, k, text)))


@app.command("repair")


def model_repair() -> None:
    """Rebuild trending and similarity from the stored history, dropping movies outside the catalogue."""
    require("mongo", "redis")
    import asyncio

    from jobs.repair import repair

    try:
        console.print(asyncio.run(repair(get_settings(), console)))
    except RuntimeError as exc:
        fail(str(exc))


@app.command("versions")


def model_versions_cmd() -> None:
    """List the model versions kept in Redis."""
    require("redis")
    import asyncio
    import datetime

    from jobs.model import list_versions

    table = Table("version", "live", "created", "users", "movies", "note")
    for v in asyncio.run(list_versions(get_settings())):
        created = datetime.datetime.fromtimestamp(v["created"]).isoformat(timespec="seconds")
        table.add_row(str(v["version"]), "*" if v["current"] else "", created, str(v["users"]), str(v["items"]),
                      v["note"])
    console.print(table)


@app.command("snapshot")


def model_snapshot(note: str = typer.Option("manual snapshot")) -> None:
    """Keep what the stream has learned so far as a new version."""
    require("redis")
    import asyncio

    from jobs.model import snapshot

    console.print(f"saved as version {asyncio.run(snapshot(get_settings(), note))}")


@app.command("rollback")


def model_rollback(version: int) -> None:
    """Make a kept version live again (the stream keeps learning from there)."""
    require("redis")
    import asyncio

    from jobs.model import rollback

    try:
        meta = asyncio.run(rollback(get_settings(), version))
    except KeyError as exc:
        fail(str(exc.args[0]))
        return
    console.print(f"version {version} is live again ({meta['note']})")

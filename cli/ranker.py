"""``cinestream ranker``: the live ranker's refits, its gate and versions."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cli.common import console, one_compute_thread, require
from core.settings import get_settings

app = typer.Typer(help="The ranker every list is served by: refits, its gate, versions.", no_args_is_help=True)


@app.command("refit")


def ranker_refit(force: bool = typer.Option(False, help="make it live even if the gate refuses it")) -> None:
    """Fit a candidate now, judge it against the live version on the newest ratings, promote it if it passes."""
    require("mongo", "redis")
    import asyncio

    one_compute_thread()
    from jobs.refit import refit

    with console.status("fitting and judging a candidate…"):
        run = asyncio.run(refit(get_settings(), "by hand (cinestream ranker refit)", force=force))
    console.print(f"{run['decision']}: version {run.get('version')} in {run['seconds']} s: {run['reason']}")


@app.command("promote")


def ranker_promote(version: int, force: bool = typer.Option(False, help="past the gate (recorded as forced)")) -> None:
    """Make a kept version live if the gate allows it."""
    require("mongo", "redis")
    import asyncio

    one_compute_thread()
    from jobs.refit import promote

    with console.status(f"judging version {version} against the live one…"):
        run = asyncio.run(promote(get_settings(), version, "the command line", force))
    console.print(f"{run['decision']}: version {version}: {run['reason']}")
    if run["decision"] == "refused":
        raise typer.Exit(code=1)


@app.command("versions")


def ranker_versions() -> None:
    """The kept versions of the ranker and the scheduler's last runs."""
    require("redis")
    import asyncio
    import datetime

    from storage import live_model_store, refit_log
    from storage.redis_store import connect

    async def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        redis = connect(get_settings())
        try:
            return await live_model_store.versions(redis), await refit_log.runs(redis, 10)
        finally:
            await redis.aclose()

    versions, runs = asyncio.run(read())
    table = Table("version", "live", "created", "status", "trigger", "reason")
    for v in versions:
        created = datetime.datetime.fromtimestamp(v["created"]).isoformat(timespec="seconds")
        table.add_row(str(v["version"]), "*" if v["live"] else "", created, v.get("status", ""),
                      v.get("trigger", ""), v.get("reason", ""))
    console.print(table)
    table = Table("started", "trigger", "decision", "version", "seconds", "reason")
    for r in runs:
        started = datetime.datetime.fromtimestamp(r["started"]).isoformat(timespec="seconds")
        table.add_row(started, r["trigger"], r["decision"], str(r.get("version", "")), str(r["seconds"]), r["reason"])
    console.print(table)

"""``cinestream stack``: the local servers a development machine and the tests run."""

from __future__ import annotations

import os

import typer
from rich.table import Table

from cli.common import console, fail
from core.settings import get_settings

app = typer.Typer(help="The local servers (Kafka, FerretDB, Redis).", no_args_is_help=True)


@app.command("up")


def stack_up(brokers: int | None = typer.Option(
        None, min=1, max=9, help="Kafka nodes: 1, or a cluster of 3 (the same as CINESTREAM_KAFKA_BROKERS, "
                                 "which every other command then needs too).")) -> None:
    """Install (cached) and start every server that is not already running or external."""
    from deploy.local import stack
    from deploy.local.process import StackError

    if brokers is not None:
        os.environ["CINESTREAM_KAFKA_BROKERS"] = str(brokers)
        get_settings.cache_clear()
    settings = get_settings()
    try:
        with console.status("starting the local stack (first run builds Kafka and FerretDB)…"):
            started = stack.up(settings)
    except StackError as exc:
        fail(str(exc))
    for name, was_started in started:
        console.print(f"{name}: {'started' if was_started else 'already running'}")
    _print_status()
    if brokers is not None and brokers > 1:
        console.print(f"the other commands reach this cluster with CINESTREAM_KAFKA_BROKERS={brokers} "
                      f"(bootstrap {settings.kafka_bootstrap}, {settings.topic_replication} replicas a topic)")


@app.command("down")


def stack_down() -> None:
    """Stop the servers this stack started (never a process it did not start)."""
    from deploy.local import stack

    for name, stopped in stack.down(get_settings()):
        console.print(f"{name}: {'stopped' if stopped else 'not running (nothing to stop)'}")


@app.command("status")


def stack_status() -> None:
    """Each server, its version, address and health; exit code 1 if any is down."""
    if not _print_status():
        raise typer.Exit(code=1)


def _print_status() -> bool:
    from deploy.local import stack

    table = Table("server", "version", "address", "health", "pid")
    statuses = stack.status(get_settings())
    for s in statuses:
        health = "[green]up[/]" if s.healthy else "[red]down[/]"
        pid = "external" if s.external else (str(s.pid) if s.pid else "-")
        table.add_row(s.name, s.version, s.address, health, pid)
    console.print(table)
    return all(s.healthy for s in statuses)

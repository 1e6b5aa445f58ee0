"""The ``cinestream`` command: one subcommand per process or job, as in Gorse's roles."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from cinestream.settings import get_settings

app = typer.Typer(help="CineStream: a real-time, event-driven movie recommender.", no_args_is_help=True)
stack_app = typer.Typer(help="The local servers (Kafka, FerretDB, Redis).", no_args_is_help=True)
data_app = typer.Typer(help="Datasets: download and locate.", no_args_is_help=True)
catalogue_app = typer.Typer(help="The movie catalogue in MongoDB.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(data_app, name="data")
app.add_typer(catalogue_app, name="catalogue")

console = Console(width=None if sys.stdout.isatty() else 120)


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=1)


@stack_app.command("up")
def stack_up() -> None:
    """Install (cached) and start every server that is not already running or external."""
    from deploy.local import stack
    from deploy.local.process import StackError

    settings = get_settings()
    try:
        with console.status("starting the local stack (first run builds Kafka and FerretDB)…"):
            started = stack.up(settings)
    except StackError as exc:
        _fail(str(exc))
    for name, was_started in started:
        console.print(f"{name}: {'started' if was_started else 'already running'}")
    _print_status()


@stack_app.command("down")
def stack_down() -> None:
    """Stop the servers this stack started (never a process it did not start)."""
    from deploy.local import stack

    for name, stopped in stack.down(get_settings()):
        console.print(f"{name}: {'stopped' if stopped else 'not running (nothing to stop)'}")


@stack_app.command("status")
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


def main() -> None:
    app(sys.argv[1:])


if __name__ == "__main__":
    main()

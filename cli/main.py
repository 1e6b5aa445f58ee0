"""The ``cinestream`` command: one subcommand per process or job, as in Gorse's roles; one module per
sub-app (``cli/<name>.py``), each command parsing its options, calling one job and printing."""

from __future__ import annotations

import sys

import typer

from cli import (
    catalogue,
    client,
    data,
    evaluate,
    events,
    kafka,
    keys,
    model,
    plot,
    ranker,
    roles,
    secrets,
    stack,
    users,
)
from cli.common import say_error
from core.settings import get_settings

app = typer.Typer(help="CineStream: a real-time, event-driven movie recommender.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
for sub in (stack, data, catalogue, model, ranker, plot, users, keys, kafka, secrets, client):
    app.add_typer(sub.app, name=sub.__name__.rpartition(".")[2])
app.command("api")(roles.api_serve)
app.command("worker")(roles.worker)
app.command("scheduler")(roles.scheduler)
app.command("replay")(events.replay_cmd)
app.command("load")(events.load_cmd)
app.command("simulate")(events.simulate_cmd)
app.command("evaluate")(evaluate.evaluate_cmd)


def main() -> None:
    """The console entry point: any failure ends in one line with its cause and, where known, the fix.

    A traceback helps whoever develops CineStream, not whoever runs it: ``CINESTREAM_DEBUG=1`` shows it.
    """
    from cli.preflight import explain

    try:
        app(sys.argv[1:])
    except Exception as exc:
        settings = get_settings()
        if settings.debug:
            raise
        advice = explain(exc, settings)
        say_error(advice or f"{type(exc).__name__}: {exc} (unexpected; run again with CINESTREAM_DEBUG=1 "
                              "for the traceback, and report it)")
        sys.exit(1)



if __name__ == "__main__":
    main()

"""``cinestream client``: the typed Python client's generated schema."""

from __future__ import annotations

import typer

from cli.common import console

app = typer.Typer(help="The typed Python client (clients/python).", no_args_is_help=True)


@app.command("generate")


def client_generate() -> None:
    """Write the client's schema module from the API's own OpenAPI schema (after changing a route or a model)."""
    from api.main import create_app
    from cli.client_codegen import SCHEMA_MODULE, generate

    changed = generate(create_app())
    console.print(f"{SCHEMA_MODULE}: {'written' if changed else 'already up to date'}")

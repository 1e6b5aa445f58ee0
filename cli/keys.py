"""``cinestream keys``: service keys for streaming platforms."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.common import console, fail, require, with_db

app = typer.Typer(help="Service API keys for streaming platforms.", no_args_is_help=True)


@app.command("create")


def keys_create(name: str, scopes: list[str] = typer.Option(["events:write"], "--scope",
                                                           help="events:write, recommendations:read, history:read"),
                events_per_second: int | None = typer.Option(
                    None, help="the key's event quota (default: CINESTREAM_SERVICE_EVENTS_PER_SECOND)")) -> None:
    """Create a service key; it is printed this once and stored only as a digest."""
    require("mongo")
    from api.services.accounts import AccountError, create_service_key

    try:
        made = with_db(lambda db, cipher: create_service_key(db, name, scopes, "cli", events_per_second))
    except AccountError as exc:
        fail(str(exc))
    quota = f"{events_per_second:,} events/s" if events_per_second else "the deployment's event quota"
    console.print(f"key {made['key_id']} ({', '.join(made['scopes'])}; {quota}): {made['key']}")
    console.print("store it now: it cannot be shown again")


@app.command("list")


def keys_list() -> None:
    """Every service key: id, name, scopes, event quota, created, revoked."""
    require("mongo")
    from storage.user_store import list_keys

    table = Table("key id", "name", "scopes", "events/s", "created", "revoked")
    for k in with_db(lambda db, cipher: list_keys(db)):
        quota = f"{k['events_per_second']:,}" if k.get("events_per_second") else "default"
        table.add_row(k["_id"], k["name"], ", ".join(k["scopes"]), quota, str(k["created"])[:19],
                      str(k["revoked"] or "")[:19])
    console.print(table)


@app.command("revoke")


def keys_revoke(key_id: str) -> None:
    """Revoke a service key (API processes stop accepting it within 10 s)."""
    require("mongo")
    from api.services.accounts import revoke_service_key

    if not with_db(lambda db, cipher: revoke_service_key(db, key_id, "cli")):
        fail(f"no active key {key_id}: `cinestream keys list` shows them")
    console.print(f"key {key_id} revoked")

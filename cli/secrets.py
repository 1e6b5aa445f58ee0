"""``cinestream secrets``: the encryption keys of personal data."""

from __future__ import annotations

import typer

from cli.common import console, fail, require, with_db
from core.settings import get_settings

app = typer.Typer(help="Encryption keys of personal data.", no_args_is_help=True)


@app.command("new-key")


def secrets_new_key() -> None:
    """Print a new data key entry to put first in CINESTREAM_DATA_KEYS (then run `secrets rotate`)."""
    from core.secrets import new_data_key

    console.print(new_data_key())


@app.command("rotate")


def secrets_rotate() -> None:
    """Re-encrypt every personal field under the current data key (development: makes a new key first)."""
    require("mongo")
    from core.secrets import MissingSecret, rotate_development_key
    from storage.user_store import rotate_keys

    settings = get_settings()
    if settings.environment == "development" and settings.data_keys is None:
        try:
            console.print(f"new development key {rotate_development_key(settings)}")
        except MissingSecret as exc:
            fail(str(exc))
    seen, rewritten = with_db(lambda db, cipher: rotate_keys(db, cipher))
    console.print(f"{seen} accounts, {rewritten} re-encrypted under the current key")

"""The secrets the API needs, from settings; in development, generated once and kept on disk.

A developer should not have to invent keys to try CineStream, and a production deployment must
never run on keys nobody chose: outside ``development`` a missing secret stops start-up with the
name of the setting to set. Development keys live in ``<stack_dir>/secrets.json``, mode 0600.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings


class MissingSecret(RuntimeError):
    """A secret required outside development is not set; the message names the setting."""


@dataclass(frozen=True)
class Secrets:
    jwt_secret: bytes
    #: key id -> 32-byte AES key; ``current`` encrypts, every one decrypts
    data_keys: dict[str, bytes]
    current_key: str
    blind_index_key: bytes


def parse_data_keys(text: str) -> tuple[dict[str, bytes], str]:
    """``"kid:base64key,kid2:…"`` -> keys and the first (current) key id."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kid, _, encoded = part.partition(":")
        key = base64.b64decode(encoded)
        if not kid or len(key) != 32:
            raise MissingSecret(f"CINESTREAM_DATA_KEYS: {kid or '?'!r} is not 'kid:<base64 of 32 bytes>'")
        keys[kid] = key
    if not keys:
        raise MissingSecret("CINESTREAM_DATA_KEYS holds no key")
    return keys, next(iter(keys))


def new_data_key() -> str:
    """A fresh ``kid:base64key`` entry (for rotation: put it first in CINESTREAM_DATA_KEYS)."""
    return f"k{secrets.token_hex(4)}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def _development_file(settings: Settings) -> dict[str, str]:
    path: Path = settings.stack_dir / "secrets.json"
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        pass
    made = {"jwt_secret": secrets.token_urlsafe(48), "data_keys": new_data_key(),
            "blind_index_key": secrets.token_urlsafe(48)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(made, out)
    return made


def load_secrets(settings: Settings) -> Secrets:
    given = {name: getattr(settings, name) for name in ("jwt_secret", "data_keys", "blind_index_key")}
    missing = [name for name, value in given.items() if value is None]
    values = {name: value.get_secret_value() for name, value in given.items() if value is not None}
    if missing:
        if settings.environment != "development":
            names = ", ".join(f"CINESTREAM_{m.upper()}" for m in missing)
            raise MissingSecret(f"set {names}: required when CINESTREAM_ENVIRONMENT={settings.environment}")
        stored = _development_file(settings)
        values |= {m: stored[m] for m in missing}
    keys, current = parse_data_keys(values["data_keys"])
    return Secrets(values["jwt_secret"].encode(), keys, current, values["blind_index_key"].encode())


def rotate_development_key(settings: Settings) -> str:
    """Development only: put a new data key first in ``secrets.json`` (older ones still decrypt)."""
    if settings.data_keys is not None:
        raise MissingSecret("CINESTREAM_DATA_KEYS is set: put a new key first in it (cinestream secrets new-key)")
    path = settings.stack_dir / "secrets.json"
    stored = _development_file(settings)
    stored["data_keys"] = f"{new_data_key()},{stored['data_keys']}"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(stored, out)
    tmp.replace(path)
    return stored["data_keys"].split(":", 1)[0]

"""Development credentials of the local stack's servers (Kafka's SASL users, Redis' ACL users).

Generated once per principal and kept in the stack folder, mode 0600, like the development secrets
(``core/secrets.py``): a developer should not invent passwords to try a secured stack, and local
processes find theirs here when no password is set. Production passes each process its own password
through the settings (``CINESTREAM_KAFKA_PASSWORD``, ``CINESTREAM_REDIS_PASSWORD``).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


def path(stack_dir: Path, server: str) -> Path:
    return stack_dir / f"{server}-users.json"


def passwords(stack_dir: Path, server: str, principals: tuple[str, ...]) -> dict[str, str]:
    """Every principal's password for ``server``, generated on first use."""
    file = path(stack_dir, server)
    if file.exists():
        return dict(json.loads(file.read_text()))
    file.parent.mkdir(parents=True, exist_ok=True)
    generated = {name: secrets.token_urlsafe(18) for name in principals}
    draft = file.with_name(f".{file.name}.{os.getpid()}")
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        json.dump(generated, out)
    try:
        os.link(draft, file)  # complete or absent, and the first process to get there wins
    except FileExistsError:
        generated = dict(json.loads(file.read_text()))
    finally:
        draft.unlink()
    return generated


def known(stack_dir: Path, server: str) -> dict[str, str]:
    """The passwords generated so far (none before the server was first prepared)."""
    file = path(stack_dir, server)
    return dict(json.loads(file.read_text())) if file.exists() else {}

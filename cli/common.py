"""What every command shares: the console, one-line errors, the check that a server answers, and one
connection to Redis or MongoDB for the length of a command."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from core.settings import get_settings

console = Console(width=None if sys.stdout.isatty() else 120)
# Errors: one line on stderr, never wrapped, so a script or a newcomer reads cause and fix together.
errors = Console(stderr=True, soft_wrap=True, highlight=False)


def say_error(message: str) -> None:
    errors.print(Text.assemble(("error: ", "bold red"), message))


def fail(message: str) -> NoReturn:
    say_error(message)
    raise typer.Exit(code=1)


def require(*servers: str) -> None:
    """Fail in one line, before any work, when a server this command needs does not answer."""
    from cli import preflight

    try:
        preflight.require(get_settings(), *servers)
    except preflight.ServerDown as exc:
        fail(str(exc))


def with_redis(job: Any) -> Any:
    """Run ``job(redis)`` against the configured Redis (``with_db``'s twin for Redis)."""
    import asyncio

    from storage import redis_store

    async def run() -> Any:
        redis = redis_store.connect(get_settings())
        try:
            return await job(redis)
        finally:
            await redis.aclose()

    return asyncio.run(run())


def with_db(job: Any) -> Any:
    """Run ``job(db, cipher)`` against the configured MongoDB, with the secrets the API uses."""
    import asyncio

    from core.secrets import MissingSecret, load_secrets
    from storage import field_crypto
    from storage.mongo import connect, database

    settings = get_settings()
    try:
        found = load_secrets(settings)
    except MissingSecret as exc:
        fail(str(exc))

    async def run() -> Any:
        client = connect(settings)
        try:
            return await job(database(client, settings), field_crypto.cipher_of(found))
        finally:
            client.close()

    return asyncio.run(run())


def one_blas_thread() -> None:
    """One BLAS thread in this process and the worker processes it spawns (``settings.ONE_BLAS_THREAD``)."""
    from threadpoolctl import threadpool_limits

    from core.settings import ONE_BLAS_THREAD

    os.environ.update(ONE_BLAS_THREAD)
    threadpool_limits(1)


def one_compute_thread() -> None:
    """A refit fits on one core, leaving the other to the API: with its BLAS and numba threads on both
    cores, recommendations' p99 at 500 requests/s went from 36 to 66 ms (vegeta, idle priority both ways)."""
    os.environ["NUMBA_NUM_THREADS"] = "1"  # read when numba is first imported, below
    one_blas_thread()

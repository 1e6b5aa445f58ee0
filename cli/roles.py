"""The long-running roles, as in Gorse: ``cinestream api``, ``worker`` and ``scheduler``."""

from __future__ import annotations

import os

import typer

from cli.common import console, fail, one_blas_thread, one_compute_thread, require
from core.settings import get_settings


def api_serve(reload: bool = typer.Option(False, help="Reload on code changes (development).")) -> None:
    """Serve the REST API and the web app with uvicorn."""
    require("mongo", "redis")
    import uvicorn

    from core.secrets import MissingSecret, load_secrets

    settings = get_settings()
    try:
        load_secrets(settings)
    except MissingSecret as exc:
        fail(str(exc))
    console.print(f"CineStream API on http://{settings.api_host}:{settings.api_port}  (OpenAPI at /openapi.json)")
    workers = 1 if reload else settings.api_workers or min(os.cpu_count() or 1, 4)
    one_blas_thread()
    uvicorn.run("api.main:app", host=settings.api_host, port=settings.api_port, reload=reload, workers=workers,
                log_level="info", loop="uvloop", http="httptools", access_log=False)  # /metrics counts requests


def worker(loglevel: str = typer.Option("warn", help="crit, error, warn, info or debug")) -> None:
    """Run a stream worker (faust); start several to share the partitions."""
    require("kafka", "mongo", "redis")
    import asyncio

    from streams.admin import ensure_project_topics
    from streams.local_worker import worker_argv

    settings = get_settings()
    asyncio.run(ensure_project_topics(settings))
    argv = worker_argv(loglevel, settings.stack_dir / "faust" / settings.worker_group)
    if settings.background_idle:
        from deploy.local.background import send_to_background

        send_to_background(os.getpid())  # the worker's threads inherit it
    else:
        os.nice(settings.worker_nice)
    os.execv(argv[0], argv)


def scheduler() -> None:
    """Refit the ranker on a schedule, after enough new events, or on drift, each through the gate."""
    require("mongo", "redis")
    import asyncio
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    one_compute_thread()
    from jobs.scheduler import run_forever

    settings = get_settings()
    if settings.background_idle:
        from deploy.local.background import send_to_background

        send_to_background(os.getpid())  # the API keeps the cores while it fits
    asyncio.run(run_forever(settings))

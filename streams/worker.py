"""Entry point of a stream worker: the faust app with the agents named in ``CINESTREAM_AGENTS``.

Run several (``cinestream worker`` on each machine): they form one consumer group and Kafka
spreads the partitions among them. faust loads this module (``faust -A streams.worker``) and runs
its ``app``: the app is built here, where the worker starts.
"""

from __future__ import annotations

import importlib

from core.settings import get_settings
from streams.app import build_worker

worker = build_worker(get_settings())
AGENTS = [name.strip() for name in worker.settings.agents.split(",") if name.strip()]
for _name in AGENTS:
    importlib.import_module(f"streams.agents.{_name}").register(worker)
app = worker.app

__all__ = ["app"]

"""Entry point of a stream worker: the faust app with the agents named in ``CINESTREAM_AGENTS``.

Run several (``cinestream worker`` on each machine): they form one consumer group and Kafka
spreads the partitions among them.
"""

from __future__ import annotations

import importlib

from streams.app import app, settings

AGENTS = [name.strip() for name in settings.agents.split(",") if name.strip()]
for _name in AGENTS:
    importlib.import_module(f"streams.agents.{_name}")

__all__ = ["app"]

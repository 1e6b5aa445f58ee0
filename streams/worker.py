"""Entry point of a stream worker: the faust app with every agent registered.

Run several (``cinestream worker`` on each machine): they form one consumer group and Kafka
spreads the partitions among them.
"""

from __future__ import annotations

from streams.agents import online_mf  # noqa: F401  (registers the agent)
from streams.app import app

__all__ = ["app"]

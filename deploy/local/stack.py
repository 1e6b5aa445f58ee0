"""The local stack as a whole: Kafka, FerretDB and Redis, started and stopped together."""

from __future__ import annotations

import asyncio

from core.settings import Settings
from deploy.local.ferretdb_server import FerretDBServer
from deploy.local.kafka_server import KafkaServer, kafka_nodes
from deploy.local.redis_server import RedisServer
from deploy.local.server import LocalServer, ServerStatus
from streams import acls


def servers(settings: Settings) -> list[LocalServer]:
    return [RedisServer(settings), FerretDBServer(settings), *kafka_nodes(settings)]


def up(settings: Settings) -> list[tuple[str, bool]]:
    """Launch every server, then wait for each: a Kafka cluster's nodes need each other to answer."""
    everything = servers(settings)
    launched = [(server.name, server.launch()) for server in everything]
    for server in everything:
        server.ready()
    if settings.kafka_sasl and not settings.is_external("kafka"):
        asyncio.run(acls.prepare(settings))  # topics and ACLs: the cluster refuses everything no ACL allows
    return launched


def down(settings: Settings) -> list[tuple[str, bool]]:
    """Stop this stack's servers, and the nodes of a Kafka cluster it ran (``stack up --brokers``),
    found by their pid files, also when the settings now say one broker."""
    everything = servers(settings)
    named = {server.name for server in everything}
    for pid_file in sorted((settings.stack_dir / "run").glob("kafka-*.pid")):
        node = KafkaServer(settings, int(pid_file.stem.split("-")[1]))
        if node.name not in named:
            everything.append(node)
    return [(server.name, server.stop()) for server in reversed(everything)]


def status(settings: Settings) -> list[ServerStatus]:
    return [server.status() for server in servers(settings)]

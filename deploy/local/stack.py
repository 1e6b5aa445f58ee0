"""The local stack as a whole: Kafka, FerretDB and Redis, started and stopped together."""

from __future__ import annotations

from cinestream.settings import Settings
from deploy.local.ferretdb_server import FerretDBServer
from deploy.local.kafka_server import KafkaServer
from deploy.local.redis_server import RedisServer
from deploy.local.server import LocalServer, ServerStatus


def servers(settings: Settings) -> list[LocalServer]:
    return [RedisServer(settings), FerretDBServer(settings), KafkaServer(settings)]


def up(settings: Settings) -> list[tuple[str, bool]]:
    return [(server.name, server.start()) for server in servers(settings)]


def down(settings: Settings) -> list[tuple[str, bool]]:
    return [(server.name, server.stop()) for server in reversed(servers(settings))]


def status(settings: Settings) -> list[ServerStatus]:
    return [server.status() for server in servers(settings)]

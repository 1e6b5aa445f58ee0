"""``cinestream kafka``: Kafka's principals and what each may do."""

from __future__ import annotations

import typer

from cli.common import console, fail, require
from core.settings import get_settings

app = typer.Typer(help="Kafka's principals: what each may do (ACLs).", no_args_is_help=True)


@app.callback()


def kafka_group() -> None:
    """Kafka's principals: what each may do (ACLs)."""  # a group, though it has one command so far


@app.command("init")


def kafka_init(group_prefix: str = typer.Option(None, help="consumer groups the workers may join "
                                                                 "(default: CINESTREAM_WORKER_GROUP)")) -> None:
    """Create the topics and grant each Kafka principal what it needs and nothing else, as the admin
    principal (the local cluster's `stack up` does it itself). See streams/acls.py."""
    import asyncio

    from streams import acls

    settings = get_settings()
    if not settings.kafka_sasl:
        fail("Kafka SASL is off (CINESTREAM_KAFKA_SASL): without authentication there are no principals to grant")
    require("kafka")
    count = asyncio.run(acls.prepare(settings, group_prefix))
    topics = ", ".join([settings.topic_ratings, settings.topic_watches, settings.topic_exposures,
                        settings.topic_dead_letter, settings.topic_movies])
    console.print(f"{count} ACLs in place for topics {topics} and groups {group_prefix or settings.worker_group}*")

"""Least privilege on Kafka: the ACLs each principal of ``core.kafka_auth`` gets, created by the admin.

Resources are the settings' topics and a consumer-group prefix, so a run with topics of its own
(the soak, the tests) grants exactly those. Everything not granted is refused: the brokers run with
``allow.everyone.if.no.acl.found=false``. Created through the CreateAcls request (aiokafka's admin
client has no ACL method; the protocol class is aiokafka's own); creating an ACL that exists is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest

from core.kafka_auth import client_options
from core.settings import Settings
from streams.admin import ensure_project_topics

# Kafka's wire codes (org.apache.kafka.common.acl / resource)
TOPIC, GROUP, CLUSTER = 2, 3, 4
READ, WRITE, CREATE, DESCRIBE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE, ALL = 3, 4, 5, 8, 10, 12, 2
LITERAL, PREFIXED = 3, 4
ALLOW = 3


@dataclass(frozen=True)
class Acl:
    principal: str
    resource_type: int
    name: str
    pattern: int
    operation: int


def acls(settings: Settings, group_prefix: str) -> list[Acl]:
    """Every ACL of the deployment whose topics the settings name and whose groups start with the prefix."""
    events = [settings.topic_ratings, settings.topic_watches]
    granted = [Acl(f"User:{who}", TOPIC, topic, LITERAL, op)
               for who in ("platform", "api") for topic in events for op in (WRITE, DESCRIBE)]
    # titles: the API's admin routes and platforms' catalogue keys go through the API; the worker applies them
    granted += [Acl("User:api", TOPIC, settings.topic_movies, LITERAL, op) for op in (WRITE, DESCRIBE)]
    granted += [Acl("User:worker", TOPIC, settings.topic_movies, LITERAL, op) for op in (READ, DESCRIBE)]
    # lists served under an experiment: the API logs them, the join agent reads them with the outcomes
    granted += [Acl("User:api", TOPIC, settings.topic_exposures, LITERAL, op) for op in (WRITE, DESCRIBE)]
    granted += [Acl("User:worker", TOPIC, settings.topic_exposures, LITERAL, op) for op in (READ, DESCRIBE)]
    granted += [Acl(f"User:{who}", CLUSTER, "kafka-cluster", LITERAL, IDEMPOTENT_WRITE)
                for who in ("platform", "api", "worker")]
    # the admin page's consumer lag: the groups' committed offsets against the topics' ends
    granted += [Acl("User:api", GROUP, group_prefix, PREFIXED, DESCRIBE)]
    granted += [Acl("User:worker", TOPIC, topic, LITERAL, op) for topic in events for op in (READ, DESCRIBE)]
    granted += [Acl("User:worker", TOPIC, settings.topic_dead_letter, LITERAL, op) for op in (WRITE, DESCRIBE)]
    # faust names its own topics (leader election, changelogs) after the app id, the worker's group
    granted += [Acl("User:worker", TOPIC, group_prefix, PREFIXED, ALL),
                Acl("User:worker", GROUP, group_prefix, PREFIXED, READ),
                Acl("User:worker", GROUP, group_prefix, PREFIXED, DESCRIBE)]
    return granted


async def grant(settings: Settings, group_prefix: str | None = None) -> int:
    """Create the ACLs (as the admin principal); answers how many were asked for."""
    wanted = acls(settings, group_prefix or settings.worker_group)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **client_options(settings))
    await admin.start()
    try:
        for acl in wanted:
            request = CreateAclsRequest(acl.resource_type, acl.name, acl.pattern, acl.principal, "*",
                                        acl.operation, ALLOW)
            response = await admin._send_request(request)  # private: no public ACL method
            for error_code, message in response.creation_responses:
                if error_code:
                    raise RuntimeError(f"Kafka refused ACL {acl}: error {error_code} {message}")
    finally:
        await admin.close()
    return len(wanted)


async def prepare(settings: Settings, group_prefix: str | None = None) -> int:
    """The event topics created and every ACL granted (as the admin: no other principal may do either)."""
    await ensure_project_topics(settings)
    return await grant(settings, group_prefix)

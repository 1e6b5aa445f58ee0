"""Who a process is to Kafka: SASL/SCRAM-SHA-256 credentials from the settings, for aiokafka and
for the workers' faust app (``streams.app``).

Any process that reaches an open broker can write any user's events, so the local cluster (``stack
up --brokers 3``) and production authenticate every client and authorise it by ACLs
(``streams.acls``). A process speaks as one principal, ``CINESTREAM_KAFKA_USER``:

- ``platform``: produces events to the rating and watch topics, nothing else;
- ``api``: the same, and reads the consumer groups' offsets for the admin page;
- ``worker``: consumes the event topics in its groups, writes dead letters and faust's own topics;
- ``admin``: the super user that creates topics and ACLs (the stack, benches, tests).

The password is ``CINESTREAM_KAFKA_PASSWORD``; in development, unset, the local stack's generated one
for that principal (``<stack_dir>/kafka-users.json``, mode 0600, written before the cluster's storage
is formatted with those SCRAM users). Production adds TLS (``SASL_SSL``) in front of the same users.
"""

from __future__ import annotations

from typing import Any

from core import local_credentials
from core.settings import Settings

MECHANISM = "SCRAM-SHA-256"
PRINCIPALS = ("admin", "worker", "api", "platform")


class KafkaCredentialsMissing(RuntimeError):
    """SASL is on and no password is known for this process' principal; the message says which setting."""


def local_passwords(settings: Settings) -> dict[str, str]:
    """The local stack's SCRAM passwords, one per principal, generated on first use."""
    return local_credentials.passwords(settings.stack_dir, "kafka", PRINCIPALS)


def password(settings: Settings, user: str | None = None) -> str:
    """The password of ``user`` (default: this process' principal)."""
    user = user or settings.kafka_user
    if settings.kafka_password is not None and user == settings.kafka_user:
        return settings.kafka_password.get_secret_value()
    known = local_credentials.known(settings.stack_dir, "kafka")
    if user not in known:
        raise KafkaCredentialsMissing(f"Kafka SASL is on and no password is known for {user!r}: set "
                                      "CINESTREAM_KAFKA_PASSWORD (or start the local cluster: `stack up --brokers 3`)")
    return known[user]


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of aiokafka's clients for this process' principal; none without SASL."""
    if not settings.kafka_sasl:
        return {}
    return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": MECHANISM,
            "sasl_plain_username": settings.kafka_user, "sasl_plain_password": password(settings)}

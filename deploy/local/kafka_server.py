"""Apache Kafka (KRaft) from Maven Central jars: one node, or a cluster of ``kafka_brokers``.

Maven resolves ``assets/kafka-pom.xml`` into one folder of jars (cached per version); the
broker is ``kafka.Kafka`` and the one-off storage format is ``kafka.tools.StorageTool``, both
run with the machine's Java 17. Every node is broker and controller. A single node (``kafka``)
forms its quorum alone (``--standalone``). In a cluster, nodes ``kafka-1`` … ``kafka-N`` share one
cluster id and a static quorum of all of them; topics get three replicas and need two in sync
(``min.insync.replicas=2``), so any one node can die without losing an acknowledged event or
stopping the producers (acks=all, idempotent: simulators, the API). A node starts only when a
majority of the controllers runs, which is why the stack launches them all before waiting.

With ``kafka_sasl`` (a cluster's default) clients authenticate with SCRAM-SHA-256 as the principals of
``core.kafka_auth`` (their credentials written into the storage when it is formatted) and are
authorised by ACLs only (``StandardAuthorizer``, nothing allowed without one: ``streams.acls``, which
the stack grants once the nodes answer). The controllers' own listener takes SASL/PLAIN for the admin
principal, as the quorum must authenticate before any SCRAM credential is readable.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import uuid
from pathlib import Path

from aiokafka.errors import KafkaError

from core.kafka_auth import MECHANISM, local_passwords
from core.settings import Settings
from deploy.local.process import StackError
from deploy.local.server import LocalServer, cached, mark_cached, require_tool
from streams.admin import broker_count

ASSETS = Path(__file__).with_name("assets")


def new_cluster_id() -> str:
    """Kafka's cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def kafka_nodes(settings: Settings) -> list[KafkaServer]:
    """The local stack's Kafka: one node, or ``kafka_brokers`` of them."""
    if settings.kafka_brokers == 1:
        return [KafkaServer(settings)]
    return [KafkaServer(settings, node) for node in range(1, settings.kafka_brokers + 1)]


class KafkaServer(LocalServer):
    name = "kafka"
    port_setting = "CINESTREAM_KAFKA_PORT"
    start_timeout = 90.0

    def __init__(self, settings: Settings, node: int = 0) -> None:
        """``node`` 0: the single node of a one-broker stack; 1 … N: a cluster's nodes."""
        self.node = node
        if node:
            self.name = f"kafka-{node}"
        super().__init__(settings)

    @property
    def port(self) -> int:
        return self.settings.kafka_node_ports[max(self.node - 1, 0)][0]

    @property
    def controller_port(self) -> int:
        return self.settings.kafka_node_ports[max(self.node - 1, 0)][1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}" if self.node else self.settings.kafka_bootstrap

    @property
    def marker(self) -> str:
        return str(self.data_dir / "server.properties")

    @property
    def libs(self) -> Path:
        return self.settings.cache_dir / f"kafka-{self.settings.kafka_version}" / "libs"

    def install(self) -> None:
        if cached(self.libs):
            return
        mvn = require_tool("mvn", "install Maven (apt-get install -y maven) or set CINESTREAM_KAFKA_BOOTSTRAP")
        require_tool("java", "install Java 17 (apt-get install -y openjdk-17-jre-headless)")
        self.libs.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [mvn, "-q", "-B", "-f", str(ASSETS / "kafka-pom.xml"), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-Dkafka.version={self.settings.kafka_version}",
             f"-DoutputDirectory={self.libs}"],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise StackError(f"Kafka {self.settings.kafka_version}: Maven failed: {result.stdout.strip()[-500:]}")
        mark_cached(self.libs)

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    def _java(self, main: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            require_tool("java", "install Java 17 (apt-get install -y openjdk-17-jre-headless)"),
            f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={ASSETS / 'kafka-log4j2.properties'}",
            "-cp", f"{self.libs}/*", main, *args,
        ]

    def _properties(self) -> list[str]:
        s = self.settings
        node = max(self.node, 1)
        replicas, in_sync = s.topic_replication, s.topic_min_insync  # also for Kafka's own topics
        if self.node:
            quorum = ",".join(f"{i}@127.0.0.1:{controller}"
                              for i, (_, controller) in enumerate(s.kafka_node_ports, start=1))
            voters = f"controller.quorum.voters={quorum}"
        else:
            voters = f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}"
        client = "SASL_PLAINTEXT" if s.kafka_sasl else "PLAINTEXT"
        return [
            "process.roles=broker,controller",
            f"node.id={node}",
            voters,
            f"listeners={client}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners={client}://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            f"inter.broker.listener.name={client}",
            f"listener.security.protocol.map={client}:{client},CONTROLLER:{client}",
            *self._security(),
            f"log.dirs={self.data_dir / 'logs'}",
            f"num.partitions={s.partitions}",
            f"default.replication.factor={replicas}",
            f"min.insync.replicas={in_sync}",
            f"offsets.topic.replication.factor={replicas}",
            "offsets.topic.num.partitions=8",
            f"transaction.state.log.replication.factor={replicas}",
            f"transaction.state.log.min.isr={in_sync}",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "",
        ]

    def _security(self) -> list[str]:
        """SASL and ACL settings of the broker, none without ``kafka_sasl``."""
        if not self.settings.kafka_sasl:
            return []
        admin = local_passwords(self.settings)["admin"]
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        return [
            f"sasl.enabled.mechanisms={MECHANISM}",
            f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
            f'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config={scram} required '
            f'username="admin" password="{admin}";',
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            f'listener.name.controller.plain.sasl.jaas.config={plain} required '
            f'username="admin" password="{admin}" user_admin="{admin}";',
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            "super.users=User:admin",
        ]

    def _scram_users(self) -> list[str]:
        """The storage format's SCRAM credentials, one per principal."""
        if not self.settings.kafka_sasl:
            return []
        return [arg for user, secret in local_passwords(self.settings).items()
                for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={secret}]")]

    def _cluster_id(self) -> str:
        """A cluster's nodes share one id (kept beside their folders); a single node has its own."""
        if not self.node:
            return new_cluster_id()
        shared = self.settings.stack_dir / "kafka-cluster.id"
        if not shared.exists():
            shared.parent.mkdir(parents=True, exist_ok=True)
            shared.write_text(new_cluster_id())
        return shared.read_text().strip()

    def prepare(self) -> None:
        super().prepare()
        self.config_file.write_text("\n".join(self._properties()))
        if not (self.data_dir / "logs" / "meta.properties").exists():
            quorum = [] if self.node else ["--standalone"]
            result = subprocess.run(
                self._java("kafka.tools.StorageTool", "format", "-t", self._cluster_id(),
                           "-c", str(self.config_file), *quorum, *self._scram_users()),
                capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise StackError(f"Kafka storage format failed: {(result.stdout + result.stderr).strip()[-500:]}")

    def argv(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.config_file), heap=self.settings.kafka_heap)

    def healthy(self) -> bool:
        try:
            return asyncio.run(broker_count(self.settings, address=self.address)) > 0
        except (TimeoutError, KafkaError, OSError):
            return False

    def version(self) -> str:
        return f"Apache Kafka {self.settings.kafka_version} (KRaft)" if not self.external else "Apache Kafka"


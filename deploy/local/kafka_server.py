"""Apache Kafka (KRaft, one combined broker+controller node) from Maven Central jars.

Maven resolves ``assets/kafka-pom.xml`` into one folder of jars (cached per version); the
broker is ``kafka.Kafka`` and the one-off storage format is ``kafka.tools.StorageTool``, both
run with the machine's Java 17.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import uuid
from pathlib import Path

from aiokafka.errors import KafkaError

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


class KafkaServer(LocalServer):
    name = "kafka"
    background = True
    port_setting = "CINESTREAM_KAFKA_PORT"
    start_timeout = 90.0

    @property
    def port(self) -> int:
        return self.settings.kafka_port

    @property
    def address(self) -> str:
        return self.settings.kafka_bootstrap

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

    def prepare(self) -> None:
        super().prepare()
        logs = self.data_dir / "logs"
        s = self.settings
        self.config_file.write_text(
            "\n".join([
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{s.kafka_controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={logs}",
                f"num.partitions={s.partitions}",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=8",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "",
            ])
        )
        if not (logs / "meta.properties").exists():
            result = subprocess.run(
                self._java("kafka.tools.StorageTool", "format", "-t", new_cluster_id(),
                           "-c", str(self.config_file), "--standalone"),
                capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise StackError(f"Kafka storage format failed: {(result.stdout + result.stderr).strip()[-500:]}")

    def argv(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.config_file), heap=self.settings.kafka_heap)

    def healthy(self) -> bool:
        try:
            return asyncio.run(broker_count(self.address)) > 0
        except (TimeoutError, KafkaError, OSError):
            return False

    def version(self) -> str:
        return f"Apache Kafka {self.settings.kafka_version} (KRaft)" if not self.external else "Apache Kafka"


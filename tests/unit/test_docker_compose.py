"""docker-compose.yml describes production; no Docker engine here, so it is checked by parsing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.kafka_auth import MECHANISM, PRINCIPALS
from core.settings import Settings
from storage import mongo, redis_acl

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_has_an_image_or_a_build_that_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name


def test_the_stack_has_kafka_mongodb_redis_and_cinestream_roles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for node in ("kafka-1", "kafka-2", "kafka-3"):
        assert services[node]["image"].startswith("apache/kafka:4")
        assert services[node]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["mongo"]["image"] == "mongo:7"
    for node in ("redis-1", "redis-2", "redis-3"):  # a Redis Cluster of three masters, AOF each
        assert services[node]["image"] == "redis:7"
        assert {"--appendonly", "--cluster-enabled"} <= set(services[node]["command"])
        assert services[node]["command"] == services["redis-1"]["command"]
    formed = services["redis-cluster"]
    assert formed["restart"] == "no" and "--cluster create" in formed["command"][-1]
    assert all(f"getent hosts {node}" in formed["command"][-1] for node in ("redis-1", "redis-2", "redis-3"))
    assert {"api", "worker-learn", "worker-side", "worker-archive", "import"} <= services.keys()
    assert services["import"]["restart"] == "no"


def test_environment_names_are_settings_and_addresses_match_ports(compose: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    for name in ("api", "worker-learn", "worker-side", "worker-archive", "import"):
        env = compose["services"][name]["environment"]
        for key in env:
            assert key.startswith("CINESTREAM_"), key
            assert key.removeprefix("CINESTREAM_").lower() in fields, f"{name}: {key} is no setting"
        assert env["CINESTREAM_KAFKA_BOOTSTRAP"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
        assert env["CINESTREAM_REDIS_URL"].split("@")[-1].startswith("redis-1:6379/")
        assert env["CINESTREAM_REDIS_CLUSTER"] == "true"
        formed = compose["services"][name]["depends_on"]["redis-cluster"]
        assert formed == {"condition": "service_completed_successfully"}, name
        assert env["CINESTREAM_MONGO_URI"].split("@")[-1].startswith("mongo:27017/")
    published = {name: [p.split(":")[-1] for p in s.get("ports", [])] for name, s in compose["services"].items()}
    assert published["kafka-1"] == ["9092"] and published["mongo"] == ["27017"] and published["redis-1"] == ["6379"]
    assert published["api"] == [compose["services"]["api"]["environment"]["CINESTREAM_API_PORT"]]


def test_every_agent_is_run_by_exactly_one_worker_role(compose: dict[str, Any]) -> None:
    agents = Path(ROOT / "streams" / "agents")
    available = {p.stem for p in agents.glob("*.py") if p.stem != "__init__"}
    roles = [s["environment"]["CINESTREAM_AGENTS"].split(",") for n, s in compose["services"].items()
             if n.startswith("worker")]
    assigned = [agent for role in roles for agent in role]
    assert sorted(assigned) == sorted(available)


def test_each_worker_role_has_a_consumer_group_of_its_own(compose: dict[str, Any]) -> None:
    """Two roles in one group would split the partitions: each would see only part of the stream."""
    groups = [s["environment"].get("CINESTREAM_WORKER_GROUP", "cinestream") for n, s in compose["services"].items()
              if n.startswith("worker")]
    assert len(groups) > 1 and len(set(groups)) == len(groups)


def test_every_cinestream_command_in_compose_exists() -> None:
    from typer.main import get_command

    from cli.main import app

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    for name, service in compose["services"].items():
        command = service.get("command", [])
        if command[:1] == ["cinestream"]:
            assert command[1] in commands, name


def test_production_sets_no_secret_and_requires_every_one(compose: dict[str, Any]) -> None:
    """compose runs in production mode, where a missing secret stops start-up: each must be given."""
    api = compose["services"]["api"]["environment"]
    assert api["CINESTREAM_ENVIRONMENT"] == "production"
    for name in ("CINESTREAM_JWT_SECRET", "CINESTREAM_DATA_KEYS", "CINESTREAM_BLIND_INDEX_KEY"):
        assert api[name].startswith("${" + name + ":?"), f"{name} must come from the environment, required"


def test_every_agent_runs_in_exactly_one_worker_role(compose: dict[str, Any]) -> None:
    """The roles split the agents between consumer groups: an agent left out would never run, one
    listed twice would apply every event twice (main.sh's roles are the same, see its loop)."""
    roles = [service["environment"]["CINESTREAM_AGENTS"].split(",") for name, service in compose["services"].items()
             if name.startswith("worker-")]
    listed = [agent for agents in roles for agent in agents]
    modules = {path.stem for path in (Path(__file__).parents[2] / "streams" / "agents").glob("*.py")} - {"__init__"}
    assert sorted(listed) == sorted(set(listed)) and set(listed) == modules
    script = (Path(__file__).parents[2] / "scripts" / "main.sh").read_text()
    for agents in roles:
        assert f':{",".join(agents)}"' in script, agents


def test_production_mongodb_writes_reach_a_majority_and_are_retried_once(compose: dict[str, Any]) -> None:
    env = {name: str(value) for name, value in compose["x-cinestream-env"].items()}
    assert "replicaSet=" in env["CINESTREAM_MONGO_URI"]
    settings = Settings(**{name.removeprefix("CINESTREAM_").lower(): value for name, value in env.items()
                           if name.startswith("CINESTREAM_MONGO_")})
    client = mongo.connect(settings)  # connects lazily: no server needed to read its options
    try:
        assert client.write_concern.document == {"w": "majority"}
        assert client.options.retry_writes is True
        assert client.read_preference.mongos_mode == "primaryPreferred"
    finally:
        client.close()
    local = mongo.connect(Settings())
    try:  # FerretDB 1.x: no sessions, so no retryable writes
        assert local.options.retry_writes is False and local.write_concern.document == {"w": 1}
    finally:
        local.close()


def test_kafka_is_three_nodes_that_survive_the_loss_of_one(compose: dict[str, Any]) -> None:
    """Three voters, every topic three times replicated and two replicas in sync for a write; the
    project creates its topics the same way (the settings' replication)."""
    services = compose["services"]
    nodes = _kafka_nodes(compose)
    assert sorted(env["KAFKA_NODE_ID"] for env in nodes.values()) == ["1", "2", "3"]
    for name, env in nodes.items():
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"SASL_PLAINTEXT://{name}:9092,BROKER://{name}:9094"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
    assert len({env["CLUSTER_ID"] for env in nodes.values()}) == 1
    settings = Settings(kafka_replication=int(services["api"]["environment"]["CINESTREAM_KAFKA_REPLICATION"]))
    assert (settings.topic_replication, settings.topic_min_insync) == (3, 2)
    assert set(nodes) <= services["kafka-users"]["depends_on"].keys()
    assert services["kafka-acls"]["depends_on"]["kafka-users"]["condition"] == "service_completed_successfully"
    for role in ("api", "worker-learn", "worker-side", "worker-archive"):
        assert services[role]["depends_on"]["kafka-acls"]["condition"] == "service_completed_successfully", role


def _kafka_nodes(compose: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {name: s["environment"] for name, s in compose["services"].items() if re.fullmatch(r"kafka-\d", name)}


def test_kafka_clients_authenticate_and_only_acls_authorise(compose: dict[str, Any]) -> None:
    """No listener without SASL, nothing allowed without an ACL, the admin the only super user; every
    CineStream service speaks as its own principal with a password it must be given; every principal
    gets its SCRAM credentials."""
    for name, env in _kafka_nodes(compose).items():
        protocols = dict(pair.split(":") for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
        assert set(protocols.values()) == {"SASL_PLAINTEXT"}, name
        assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false" and env["KAFKA_SUPER_USERS"] == "User:admin"
        assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == MECHANISM
    services = compose["services"]
    expected = {"api": "api", "worker-learn": "worker", "worker-side": "worker", "worker-archive": "worker",
                "kafka-acls": "admin"}
    for name, user in expected.items():
        env = services[name]["environment"]
        assert env["CINESTREAM_KAFKA_SASL"] == "true", name
        assert env["CINESTREAM_KAFKA_USER"] == user, name
        variable = f"CINESTREAM_KAFKA_{user.upper()}_PASSWORD"
        assert env["CINESTREAM_KAFKA_PASSWORD"].startswith("${" + variable + ":?"), name
    script = services["kafka-users"]["command"][0]
    assert re.search(r"for user in (.*); do", script).group(1).split() == list(PRINCIPALS)  # type: ignore[union-attr]
    assert set(services["kafka-users"]["environment"]) == {p.upper() for p in PRINCIPALS}


def test_each_service_reaches_mongodb_and_redis_as_a_user_of_its_own(compose: dict[str, Any]) -> None:
    """Redis runs the ACL users of storage/redis_acl.py with the default user off; MongoDB runs with
    access control (a replica-set key file) and the users deploy/mongo/users.js creates; each service
    connects as its role's user with a password it must be given."""
    services = compose["services"]
    command = services["redis-1"]["command"]
    tokens = command[command.index("--user"):]
    required = {f">secret-of-{user}": f">${{CINESTREAM_REDIS_{user.upper()}_PASSWORD:?set CINESTREAM_REDIS_"
                                         f"{user.upper()}_PASSWORD}}" for user in redis_acl.PRINCIPALS}
    rules = redis_acl.rules({user: f"secret-of-{user}" for user in redis_acl.PRINCIPALS})
    expected = [required.get(token, token) for rule in rules for token in ["--user", *rule.split()[1:]]]
    assert tokens == expected
    mongo_users = (ROOT / "deploy" / "mongo" / "users.js").read_text()
    assert "--keyFile" in services["mongo"]["command"][0]
    assert services["mongo"]["volumes"][1].endswith("/docker-entrypoint-initdb.d/users.js:ro")
    roles = {"api": ("api", "api"), "worker-learn": ("worker", "worker"), "worker-side": ("worker", "worker"),
             "worker-archive": ("worker", "worker"), "scheduler": ("worker", "worker"), "import": ("import", "admin")}
    for name, (mongo_user, redis_user) in roles.items():
        env = services[name]["environment"]
        assert env["CINESTREAM_MONGO_URI"].startswith(
            f"mongodb://cinestream-{mongo_user}:${{CINESTREAM_MONGO_{mongo_user.upper()}_PASSWORD:?"), name
        assert env["CINESTREAM_MONGO_URI"].endswith("authSource=cinestream"), name
        assert f'"cinestream-{mongo_user}", "CINESTREAM_MONGO_{mongo_user.upper()}_PASSWORD"' in mongo_users
        assert f"CINESTREAM_MONGO_{mongo_user.upper()}_PASSWORD" in services["mongo"]["environment"]
        assert env["CINESTREAM_REDIS_URL"].startswith(f"redis://{redis_user}:${{CINESTREAM_REDIS_"
                                                      f"{redis_user.upper()}_PASSWORD:?"), name


def test_the_image_copies_every_package_the_project_installs() -> None:
    """`pip install .` in the image finds only what was copied: a package left out installs without error
    and fails at the first import (contracts, recommenders and evaluation once were)."""
    import tomllib

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    installed = {name.rstrip("*") for name in found["include"]}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "deploy" / "Dockerfile").read_text(), re.MULTILINE))
    assert installed <= copied, installed - copied

"""Kill each server with SIGKILL: status reports it down, `stack up` brings it back, data survives."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import MongoClient

from core.settings import Settings
from deploy.local import background
from deploy.local import stack as local_stack
from deploy.local.server import LocalServer
from tests.integration.people import api_settings, running

pytestmark = pytest.mark.integration

REDIS_DB = 10


def server(settings: Settings, name: str) -> LocalServer:
    return next(s for s in local_stack.servers(settings) if s.name == name)


def kill_and_restart(srv: LocalServer) -> None:
    pid = srv.pid()
    assert pid is not None, f"{srv.name} was not started by the stack"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while srv.healthy() and time.monotonic() < deadline:
        time.sleep(0.1)
    status = srv.status()
    assert not status.healthy and status.pid is None
    assert srv.start() is True
    assert srv.status().healthy


def test_redis_comes_back_with_its_data(stack: Settings) -> None:
    srv = server(stack, "redis")
    key, value = f"test:{uuid.uuid4()}", "survives"
    with redis.Redis.from_url(stack.redis_url) as client:
        client.set(key, value)
        time.sleep(1.2)  # appendfsync everysec: what was acknowledged a second ago is on disk
    kill_and_restart(srv)
    with redis.Redis.from_url(stack.redis_url) as client:
        assert client.get(key) == value.encode()
        client.delete(key)


async def test_a_redis_restart_while_requests_flow_costs_no_500(stack: Settings, built_catalogue: str) -> None:
    """Requests in flight while Redis is killed get 503 with Retry-After (or wait for it and succeed),
    never 500, and every request once it is back is served."""
    srv = server(stack, "redis")
    answers: list[tuple[float, int, str | None]] = []
    async with running(api_settings(stack, REDIS_DB)) as http:
        stop = asyncio.Event()

        async def ask() -> None:
            while not stop.is_set():
                response = await http.get("/api/trending?k=5")
                answers.append((time.monotonic(), response.status_code, response.headers.get("Retry-After")))
                await asyncio.sleep(0.02)

        assert (await http.get("/api/trending?k=5")).status_code == 200  # the catalogue loaded: requests are quick
        asking = asyncio.create_task(ask())
        await asyncio.sleep(1.0)
        killed = time.monotonic()
        await asyncio.to_thread(kill_and_restart, srv)
        back = time.monotonic()
        await asyncio.sleep(4.0)
        stop.set()
        await asking
    codes = [code for _, code, _ in answers]
    assert set(codes) <= {200, 503}, codes
    assert all(after for _, code, after in answers if code == 503)
    assert any(killed <= t <= back for t, _, _ in answers), "no request was answered while Redis was down"
    late = [code for t, code, _ in answers if t > back + 1.0]
    assert late and set(late) == {200}, late


def test_ferretdb_comes_back_with_its_data(stack: Settings) -> None:
    srv = server(stack, "mongo-ferretdb")
    marker = str(uuid.uuid4())
    with MongoClient(stack.mongo_uri) as client:
        client[stack.mongo_db].recovery.insert_one({"_id": marker})
    kill_and_restart(srv)
    with MongoClient(stack.mongo_uri) as client:
        assert client[stack.mongo_db].recovery.find_one({"_id": marker}) == {"_id": marker}
        client[stack.mongo_db].recovery.delete_one({"_id": marker})


def test_kafka_comes_back_with_its_messages(stack: Settings) -> None:
    srv = server(stack, "kafka")
    topic, payload = f"recovery-{uuid.uuid4().hex[:8]}", uuid.uuid4().bytes

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, payload)
        finally:
            await producer.stop()

    async def consume() -> bytes:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.kafka_bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), 30)
            return bytes(message.value or b"")
        finally:
            await consumer.stop()

    asyncio.run(produce())
    time.sleep(1.5)  # the broker flushes its log lazily; let the OS page cache take the write
    kill_and_restart(srv)
    assert asyncio.run(consume()) == payload


def test_status_names_every_server_with_version_and_address(stack: Settings) -> None:
    statuses = {s.name: s for s in local_stack.status(stack)}
    assert set(statuses) == {"redis", "mongo-ferretdb", "kafka"}
    assert statuses["mongo-ferretdb"].version.startswith("FerretDB v1.24")
    assert statuses["kafka"].version.startswith("Apache Kafka 4.")
    assert "aof yes" in statuses["redis"].version
    assert all(s.healthy for s in statuses.values())


def test_a_taken_port_is_a_clear_error(stack: Settings, tmp_path: os.PathLike[str]) -> None:
    from deploy.local.process import StackError

    other = Settings(stack_dir=tmp_path, redis_port=stack.mongo_port)  # FerretDB holds that port
    with pytest.raises(StackError, match=r"port \d+ is taken .* set CINESTREAM_REDIS_PORT"):
        server(other, "redis").start()


def policies(pid: int) -> set[int]:
    """The scheduling policies of the process' threads (a thread that ends meanwhile is left out)."""
    found = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            found.add(os.sched_getscheduler(int(task)))
    return found


def test_background_servers_yield_the_cpu_when_asked(stack: Settings) -> None:
    """``stack up`` under ``CINESTREAM_BACKGROUND_IDLE`` puts every thread of FerretDB, also ones already
    running, under SCHED_IDLE and into the idle CPU group, and Redis and Kafka (on a request's path) not;
    without it, FerretDB is back under the default policy and out of the group."""
    try:
        local_stack.up(stack.model_copy(update={"background_idle": True}))
        for srv in local_stack.servers(stack):
            pid = srv.pid()
            assert pid is not None
            assert policies(pid) == ({os.SCHED_IDLE} if srv.background else {os.SCHED_OTHER}), srv.name
            if not isinstance(background.idle_group(), str):  # the policy alone loses to other autogroups
                assert background.in_idle_group(pid) == srv.background, srv.name
        assert {s.name for s in local_stack.servers(stack) if s.background} == {"mongo-ferretdb"}
    finally:
        local_stack.up(stack)
    for srv in local_stack.servers(stack):
        assert policies(srv.pid() or 0) == {os.SCHED_OTHER}, srv.name
        assert not background.in_idle_group(srv.pid() or 0), srv.name

"""The FastAPI application: connections opened once per process, routers per resource."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from motor.motor_asyncio import AsyncIOMotorDatabase
from starlette.types import Receive, Scope, Send

from api import errors, openapi
from api.admission import Admission, LoopLag
from api.event_sender import EventSender
from api.middleware import SecureAndMeasured
from api.routes import (
    admin,
    auth,
    catalogue,
    evaluation,
    events,
    experiments,
    health,
    me,
    metrics,
    metrics_prometheus,
    movies,
    recommendations,
    web,
)
from api.search import TitleIndex
from api.security.policy import document_policies
from core.kafka_auth import client_options
from core.secrets import load_secrets
from core.settings import Settings, get_settings
from storage import field_crypto, mongo, redis_store
from storage.models import Models


async def _warm(index: TitleIndex, db: AsyncIOMotorDatabase, models: Models) -> None:
    """Load the title index, the item rows and the live ranker in the background so the first requests
    do not wait for them, then freeze what start-up allocated out of the garbage collector's reach.

    Why freeze: the process holds about 300,000 objects after its imports (functions, types,
    pydantic's schemas, the catalogue's cards), none of them garbage, and every full collection
    walked them all: 180-460 ms with the event loop stopped, once or twice a minute under load,
    which was the whole of the p99 at 500 requests/s (``bench.api_latency``). Frozen objects are
    never scanned again; what the process allocates afterwards is collected as usual."""
    try:
        await index.ensure_fresh(db)
        await models.items.refresh()
        await models.live.load()
    except Exception:  # MongoDB or Redis down or empty: the first requests will try again
        logging.getLogger(__name__).warning("title index or item rows not loaded at start-up", exc_info=True)
    gc.collect()
    gc.freeze()
    _report_slow_collections()


SLOW_GC_S = 0.02


def _report_slow_collections() -> None:
    """Log every garbage collection that stopped the event loop for ``SLOW_GC_S`` or more: with the
    start-up objects frozen they should be rare, and when one is not, the log says which generation."""
    started: list[float] = []
    log = logging.getLogger("uvicorn.error")

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started and (took := time.perf_counter() - started[0]) >= SLOW_GC_S:
            log.warning("garbage collection of generation %d stopped the event loop for %.0f ms (%d collected)",
                        info["generation"], took * 1e3, info["collected"])

    gc.callbacks.append(timed)


PRODUCER_STOP_S = 10.0  # every accepted event was acknowledged before its 202: nothing waits to be flushed


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    lag = LoopLag(settings.api_shed_lag_ms / 1000)  # how far behind the event loop is: past capacity, 503

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        secrets = load_secrets(settings)  # outside development, a missing secret stops start-up here
        app.state.secrets = secrets
        app.state.cipher = field_crypto.cipher_of(secrets)
        app.state.key_cache = {}
        app.state.key_loads = {}
        client = mongo.connect(settings)
        app.state.settings = settings
        app.state.db = mongo.database(client, settings)
        app.state.redis = redis_store.connect(settings)
        app.state.models = Models.over(app.state.redis)
        app.state.search = TitleIndex()
        warmup = asyncio.create_task(_warm(app.state.search, app.state.db, app.state.models))
        following = asyncio.create_task(app.state.models.items.follow())
        titles = asyncio.create_task(app.state.search.follow(app.state.db, app.state.redis))
        watching = asyncio.create_task(app.state.models.watch.run())
        lagging = asyncio.create_task(lag.run())
        # Started lazily by aiokafka on first send would hide a dead broker until then; start now,
        # but let the API serve reads (and /health say "degraded") when Kafka is down.
        # acks from every in-sync replica, and a retried send never stored twice (idempotence)
        app.state.producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=1, acks="all",
                                              enable_idempotence=True, **client_options(settings))
        app.state.producer_started = False
        app.state.sender = EventSender(app.state.producer)
        try:
            await asyncio.wait_for(app.state.producer.start(), 5)
            app.state.producer_started = True
        except Exception:
            logging.getLogger(__name__).warning("Kafka unavailable at start-up: events will be refused (503)")
        try:
            yield
        finally:
            warmup.cancel()
            following.cancel()
            titles.cancel()
            watching.cancel()
            lagging.cancel()
            try:  # a producer whose broker went away can wait for it forever (aiokafka#1101)
                await asyncio.wait_for(app.state.producer.stop(), PRODUCER_STOP_S)
            except TimeoutError:
                logging.getLogger(__name__).warning("Kafka producer not stopped within %s s: left behind",
                                                    PRODUCER_STOP_S)
            await app.state.redis.aclose()
            client.close()

    # No /docs or /redoc: FastAPI's pages load Swagger UI and ReDoc from a CDN with inline scripts, which
    # the CSP refuses and the project does not do; the OpenAPI itself is at /openapi.json.
    app = AdmittedAPI(title="CineStream", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                      description="Real-time movie recommendations from live rating and watch events.")
    # Starlette tries routes in order, and matching cost 0.18 ms a request when recommendations came after
    # 28 others (cProfile in-process): the routes platforms call most come first. No two paths overlap.
    for module in (recommendations, movies, health, events, metrics_prometheus, auth, me, admin, experiments,
                   catalogue, metrics, evaluation, web):
        app.include_router(errors.document_outages(document_policies(module.router)))
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    errors.install(app)
    openapi.install(app)
    app.add_middleware(SecureAndMeasured)
    app.admission = Admission(app.framework, lag=lag, max_in_flight=settings.api_max_in_flight)
    return app


class AdmittedAPI(FastAPI):
    """The application behind its admission (``api.admission``): past capacity a costly request is
    refused before the framework, its middleware and its routing cost anything."""

    admission: Admission | None = None

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.admission is None:
            await super().__call__(scope, receive, send)
        else:
            await self.admission(scope, receive, send)


app = create_app()

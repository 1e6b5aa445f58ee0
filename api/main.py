"""The FastAPI application: connections opened once per process, routers per resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.routes import health, movies
from cinestream.settings import Settings, get_settings
from storage import mongo, redis_store


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = mongo.connect(settings)
        app.state.settings = settings
        app.state.db = mongo.database(client, settings)
        app.state.redis = redis_store.connect(settings)
        try:
            yield
        finally:
            await app.state.redis.aclose()
            client.close()

    app = FastAPI(title="CineStream", version="0.1.0", lifespan=lifespan,
                  description="Real-time movie recommendations from live rating and watch events.")
    app.include_router(health.router)
    app.include_router(movies.router)
    return app


app = create_app()

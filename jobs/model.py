"""``cinestream model …``: warm-start the online model from the stored history, and its versions."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import Progress

from core.settings import Settings
from online_models.batch_fit import fit
from online_models.mf_spec import MF
from recommenders.als import ExplicitALS, as_online_rows
from recommenders.data import Ratings
from storage import model_versions, rating_store
from storage.mongo import connect, database
from storage.redis_store import connect as connect_redis


async def bootstrap(settings: Settings, console: Console, epochs: int, lr: float, method: str = "sgd") -> str:
    """Fit the online model's rows on the stored history (SGD epochs, or biased ALS) and make them live."""
    client = connect(settings)
    try:
        with console.status("reading the rating history from MongoDB…"):
            ratings = await rating_store.all_ratings(database(client, settings))
    finally:
        client.close()
    if ratings.empty:
        return "no ratings stored: run `cinestream catalogue build` first"
    model = MF.refit(lr)
    started = time.monotonic()
    if method == "als":
        data, user_ids, item_ids = Ratings.from_ids(ratings["userId"], ratings["movieId"], ratings["rating"])
        with console.status(f"fitting biased ALS on {len(data):,} ratings, {epochs} iterations…"):
            als = ExplicitALS(factors=model.n_factors, iterations=epochs).fit(data)
            fitted = as_online_rows(als, data, user_ids, item_ids, model)
        label = f"bootstrap: ALS, {epochs} iterations"
    else:
        with Progress(console=console) as bar:
            task = bar.add_task(f"fitting on {len(ratings):,} ratings", total=epochs)

            def advance(epoch: int, rmse: float) -> None:
                bar.update(task, advance=1, description=f"epoch {epoch + 1}/{epochs}: train RMSE {rmse:.4f}")

            fitted = fit(model, ratings["userId"].to_numpy(), ratings["movieId"].to_numpy(),
                         ratings["rating"].to_numpy(), epochs=epochs, progress=advance)
        label = f"bootstrap: {epochs} epochs, lr {lr}"
    redis = connect_redis(settings)
    try:
        previous, version = await model_versions.install(redis, fitted, label)
    finally:
        await redis.aclose()
    return (f"model version {version} is live ({len(fitted.user_ids)} users, {len(fitted.item_ids)} movies, "
            f"train RMSE {fitted.rmse[-1]:.4f}, {time.monotonic() - started:.1f}s); "
            f"the state before it is version {previous}")


async def list_versions(settings: Settings) -> list[dict[str, Any]]:
    redis = connect_redis(settings)
    try:
        return await model_versions.versions(redis)
    finally:
        await redis.aclose()


async def rollback(settings: Settings, version: int) -> dict[str, Any]:
    redis = connect_redis(settings)
    try:
        return await model_versions.rollback(redis, version)
    finally:
        await redis.aclose()


async def snapshot(settings: Settings, note: str) -> int:
    redis = connect_redis(settings)
    try:
        return await model_versions.snapshot(redis, note)
    finally:
        await redis.aclose()

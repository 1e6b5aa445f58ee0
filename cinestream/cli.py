"""The ``cinestream`` command: one subcommand per process or job, as in Gorse's roles."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cinestream.settings import get_settings

app = typer.Typer(help="CineStream: a real-time, event-driven movie recommender.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
stack_app = typer.Typer(help="The local servers (Kafka, FerretDB, Redis).", no_args_is_help=True)
data_app = typer.Typer(help="Datasets: download and locate.", no_args_is_help=True)
catalogue_app = typer.Typer(help="The movie catalogue in MongoDB.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(data_app, name="data")
app.add_typer(catalogue_app, name="catalogue")
model_app = typer.Typer(help="The online model: warm start and versions.", no_args_is_help=True)
app.add_typer(model_app, name="model")
ranker_app = typer.Typer(help="The ranker every list is served by: refits, its gate, versions.", no_args_is_help=True)
app.add_typer(ranker_app, name="ranker")
plot_app = typer.Typer(help="Figures as PNG files.", no_args_is_help=True)
app.add_typer(plot_app, name="plot")
users_app = typer.Typer(help="Accounts: demo logins and roles.", no_args_is_help=True)
app.add_typer(users_app, name="users")
keys_app = typer.Typer(help="Service API keys for streaming platforms.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
kafka_app = typer.Typer(help="Kafka's principals: what each may do (ACLs).", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
secrets_app = typer.Typer(help="Encryption keys of personal data.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
client_app = typer.Typer(help="The typed Python client (clients/python).", no_args_is_help=True)
app.add_typer(client_app, name="client")

console = Console(width=None if sys.stdout.isatty() else 120)
# Errors: one line on stderr, never wrapped, so a script or a newcomer reads cause and fix together.
errors = Console(stderr=True, soft_wrap=True, highlight=False)


def _say_error(message: str) -> None:
    errors.print(Text.assemble(("error: ", "bold red"), message))


def _fail(message: str) -> NoReturn:
    _say_error(message)
    raise typer.Exit(code=1)


def _require(*servers: str) -> None:
    """Fail in one line, before any work, when a server this command needs does not answer."""
    from cinestream.preflight import ServerDown, require

    try:
        require(get_settings(), *servers)
    except ServerDown as exc:
        _fail(str(exc))


@stack_app.command("up")
def stack_up(brokers: int | None = typer.Option(
        None, min=1, max=9, help="Kafka nodes: 1, or a cluster of 3 (the same as CINESTREAM_KAFKA_BROKERS, "
                                 "which every other command then needs too).")) -> None:
    """Install (cached) and start every server that is not already running or external."""
    from deploy.local import stack
    from deploy.local.process import StackError

    if brokers is not None:
        os.environ["CINESTREAM_KAFKA_BROKERS"] = str(brokers)
        get_settings.cache_clear()
    settings = get_settings()
    try:
        with console.status("starting the local stack (first run builds Kafka and FerretDB)…"):
            started = stack.up(settings)
    except StackError as exc:
        _fail(str(exc))
    for name, was_started in started:
        console.print(f"{name}: {'started' if was_started else 'already running'}")
    _print_status()
    if brokers is not None and brokers > 1:
        console.print(f"the other commands reach this cluster with CINESTREAM_KAFKA_BROKERS={brokers} "
                      f"(bootstrap {settings.kafka_bootstrap}, {settings.topic_replication} replicas a topic)")


@stack_app.command("down")
def stack_down() -> None:
    """Stop the servers this stack started (never a process it did not start)."""
    from deploy.local import stack

    for name, stopped in stack.down(get_settings()):
        console.print(f"{name}: {'stopped' if stopped else 'not running (nothing to stop)'}")


@stack_app.command("status")
def stack_status() -> None:
    """Each server, its version, address and health; exit code 1 if any is down."""
    if not _print_status():
        raise typer.Exit(code=1)


def _print_status() -> bool:
    from deploy.local import stack

    table = Table("server", "version", "address", "health", "pid")
    statuses = stack.status(get_settings())
    for s in statuses:
        health = "[green]up[/]" if s.healthy else "[red]down[/]"
        pid = "external" if s.external else (str(s.pid) if s.pid else "-")
        table.add_row(s.name, s.version, s.address, health, pid)
    console.print(table)
    return all(s.healthy for s in statuses)


@data_app.command("fetch")
def data_fetch(
    name: str = typer.Argument("ml-latest-small", help="ml-latest-small, ml-100k, ml-1m, ml-25m, ml-32m …"),
) -> None:
    """Download a MovieLens archive (checksummed, cached, resumable) into CINESTREAM_DATA_DIR."""
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    from cinestream.data.fetch import FetchError, fetch

    settings = get_settings()
    with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(f"fetching {name}", total=None)

        def advance(received: int, total: int | None) -> None:
            bar.update(task, advance=received, total=total)

        try:
            folder = fetch(name, settings.dataset_base_url, settings.cache_dir, settings.release_dir(name).parent,
                           advance)  # a generated release counts as fetched
        except (FetchError, OSError) as exc:
            _fail(str(exc))
    console.print(f"{name}: ready in {folder}")


@data_app.command("generate")
def data_generate(
    name: str = typer.Argument(..., help="the release's name, e.g. ml-1m-synthetic (then CINESTREAM_DATASET=it)"),
    like: str = typer.Option("ml-1m", help="imitate this release's users, movies, ratings and layout: "
                                           "ml-100k, ml-1m, ml-10m or ml-25m"),
    scale: float = typer.Option(1.0, help="multiply users and ratings (movies stay)"),
    layout: str | None = typer.Option(None, help="'csv' or 'dat' (default: the imitated release's)"),
    seed: int = typer.Option(0),
) -> None:
    """Write a synthetic MovieLens release (Zipf popularity, MovieLens-shaped users and timestamps, real
    titles reused) into the cache's generated folder, for sizes this machine cannot download."""
    from rich.progress import Progress

    from cinestream.data.synthetic import LIKE, generate

    if like not in LIKE:
        _fail(f"--like must be one of {', '.join(LIKE)}, not {like!r}")
    settings = get_settings()
    template = settings.data_dir / "ml-latest-small" / "movies.csv"
    if not template.is_file():
        _fail(f"{template} not found: the generator reuses ml-latest-small's titles; run "
              "`cinestream data fetch ml-latest-small` or set CINESTREAM_DATA_DIR")
    if (settings.data_dir / name).exists():
        _fail(f"{settings.data_dir / name} exists: a generated release must not shadow a real one; pick another name")
    import pandas as pd

    users, movies, ratings, shipped = LIKE[like]
    users, ratings = max(1, round(users * scale)), max(1, round(ratings * scale))
    with Progress(console=console) as bar:
        task = bar.add_task(f"generating {name} ({ratings:,} ratings)", total=ratings)
        made = generate(settings.generated_dir / name, users, movies, ratings, layout or shipped,
                        pd.read_csv(template), seed, progress=lambda n: bar.advance(task, n))
    console.print(f"{name}: {made.ratings:,} ratings of {made.users:,} users on {made.movies:,} movies in "
                  f"{made.folder} (use it with CINESTREAM_DATASET={name})")


@catalogue_app.command("build")
def catalogue_build(force: bool = typer.Option(False, help="Rebuild even if the inputs are unchanged.")) -> None:
    """Merge MovieLens + TMDB 5000 + ml-100k KG, clean it, and load it into MongoDB (idempotent; on a
    rebuild, the titles added, changed and dropped go to the movies topic as catalogue events)."""
    _require("mongo")
    import asyncio

    from cinestream.catalogue.job import CatalogueJobError, run_build

    try:
        outcome = asyncio.run(run_build(get_settings(), console, force=force))
    except CatalogueJobError as exc:
        _fail(str(exc))
    console.print(outcome)


@catalogue_app.command("report")
def catalogue_report_cmd() -> None:
    """Print the preprocessing report of the last build (from MongoDB)."""
    _require("mongo")
    import asyncio

    from cinestream.catalogue.job import print_report, stored_report

    report = asyncio.run(stored_report(get_settings()))
    if report is None:
        _fail("no catalogue built yet: run `cinestream catalogue build`")
        return
    print_report(report, console)


@catalogue_app.command("show")
def catalogue_show(title: str, year: int | None = typer.Option(None)) -> None:
    """Look a movie up by title (and year): director, cast, genres, rating statistics."""
    _require("mongo")
    import asyncio
    import json

    from cinestream.catalogue.job import find_movies

    movies = asyncio.run(find_movies(get_settings(), title, year))
    if not movies:
        _fail(f"no movie titled {title!r}")
    for movie in movies:
        keep = ("movieId", "title", "year", "genres", "directors", "cast", "writers", "stats", "missing")
        console.print_json(json.dumps({k: movie.get(k) for k in keep}, default=str))


def one_blas_thread() -> None:
    """One BLAS thread in this process and the worker processes it spawns (``settings.ONE_BLAS_THREAD``)."""
    from threadpoolctl import threadpool_limits

    from cinestream.settings import ONE_BLAS_THREAD

    os.environ.update(ONE_BLAS_THREAD)
    threadpool_limits(1)


def one_compute_thread() -> None:
    """A refit fits on one core, leaving the other to the API: with its BLAS and numba threads on both
    cores, recommendations' p99 at 500 requests/s went from 36 to 66 ms (vegeta, idle priority both ways)."""
    os.environ["NUMBA_NUM_THREADS"] = "1"  # read when numba is first imported, below
    one_blas_thread()


@app.command("api")
def api_serve(reload: bool = typer.Option(False, help="Reload on code changes (development).")) -> None:
    """Serve the REST API and the web app with uvicorn."""
    _require("mongo", "redis")
    import uvicorn

    from cinestream.secrets import MissingSecret, load_secrets

    settings = get_settings()
    try:
        load_secrets(settings)
    except MissingSecret as exc:
        _fail(str(exc))
    console.print(f"CineStream API on http://{settings.api_host}:{settings.api_port}  (OpenAPI at /openapi.json)")
    workers = 1 if reload else settings.api_workers or min(os.cpu_count() or 1, 4)
    one_blas_thread()
    uvicorn.run("api.main:app", host=settings.api_host, port=settings.api_port, reload=reload, workers=workers,
                log_level="info", loop="uvloop", http="httptools", access_log=False)  # /metrics counts requests


@app.command("worker")
def worker(loglevel: str = typer.Option("warn", help="crit, error, warn, info or debug")) -> None:
    """Run a stream worker (faust); start several to share the partitions."""
    _require("kafka", "mongo", "redis")
    import asyncio

    from streams.admin import ensure_project_topics
    from streams.local_worker import worker_argv

    settings = get_settings()
    asyncio.run(ensure_project_topics(settings))
    argv = worker_argv(loglevel, settings.stack_dir / "faust" / settings.worker_group)
    if settings.background_idle:
        from deploy.local.background import send_to_background

        send_to_background(os.getpid())  # the worker's threads inherit it
    else:
        os.nice(settings.worker_nice)
    os.execv(argv[0], argv)


@app.command("replay")
def replay_cmd(
    dataset: str = typer.Option("ml-latest-small"),
    speed: str = typer.Option("max", help="'max' or events per second, e.g. 5000"),
    limit: int | None = typer.Option(None, help="Only the first N ratings (in time order)."),
    once: bool = typer.Option(False, help="Skip it if this dataset was already replayed into this stack's Redis."),
) -> None:
    """Replay a MovieLens dataset (any release's layout) into the ratings topic in timestamp order."""
    import asyncio

    from rich.progress import Progress

    from cinestream.catalogue.readers import BadFileError, Rejections
    from cinestream.catalogue.sources import read_ratings
    from evaluation.datasets import layout_of
    from simulators.replay import in_replay_order, replay
    from storage import key_migration, replays

    settings = get_settings()
    mark = f"{dataset}:{limit or 'all'}"
    try:
        layout = layout_of(settings.release_dir(dataset).parent, dataset)
    except FileNotFoundError as exc:  # its advice names the fetch command and the setting
        _fail(str(exc))
    _require("kafka")
    if once:
        _require("redis")
        if moved := _with_redis(key_migration.migrate):  # a stack from before the keys were sharded
            console.print(f"moved {moved:,} Redis keys to the sharded layout (storage/key_migration.py)")
        if (before := _with_redis(lambda redis: replays.done(redis, mark))) is not None:
            console.print(f"{dataset} was replayed into this stack already ({before['events']:,.0f} events): "
                          "not again (--no-once replays it anyway)")
            return
    rejections = Rejections()
    try:
        frame = read_ratings(layout, rejections)
    except BadFileError as exc:
        _fail(str(exc))
    if rejections.rows:  # the catalogue build rejected the same rows: replay what it kept
        first = rejections.rows[0]
        console.print(f"skipping {len(rejections.rows)} rejected row(s), first {first.file}:{first.line}: "
                      f"{first.reason}")
    ratings = in_replay_order(frame, limit)
    rate = None if speed == "max" else float(speed)
    with Progress(console=console) as bar:
        task = bar.add_task(f"replaying {dataset}", total=len(ratings))
        summary = asyncio.run(replay(settings, settings.topic_ratings, ratings, rate,
                                     progress=lambda n: bar.advance(task, n)))
    _with_redis(lambda redis: replays.mark(redis, mark, summary.events))
    console.print(f"replayed {summary.events} events in {summary.messages} messages in {summary.seconds:.1f}s "
                  f"({summary.events / summary.seconds:,.0f} events/s)")


@app.command("evaluate")
def evaluate_cmd(
    dataset: str = typer.Option("ml-latest-small", help="Any MovieLens release under CINESTREAM_DATA_DIR."),
    split: str = typer.Option("random", help="'random' (seeded share held out) or 'temporal' (each user's last N)."),
    test_share: float = typer.Option(0.2, help="random split: share of ratings held out"),
    last: int = typer.Option(5, help="temporal split: each user's last N ratings held out"),
    seed: int = typer.Option(0),
    models: list[str] = typer.Option([], "--model", help="Only these models (repeatable); all by default."),
) -> None:
    """Score our recommenders offline: RMSE, MAE, P/R/NDCG/MAP/HR@10, coverage, novelty, diversity."""
    from evaluation.lineup import our_models
    from evaluation.report import save, table
    from evaluation.run import prepare, run

    if split not in ("random", "temporal"):
        _fail(f"--split must be 'random' or 'temporal', not {split!r}")
    settings = get_settings()
    try:
        prepared = prepare(settings.release_dir(dataset).parent, dataset,
                           "random" if split == "random" else "temporal", test_share, last, seed)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    lineup = our_models(prepared.vectors, seed)
    unknown = sorted(set(models) - set(lineup))
    if unknown:
        _fail(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(lineup)}")
    console.print(prepared.describe())
    results, _ = run({n: f for n, f in lineup.items() if not models or n in models}, prepared, console)
    console.print(table(results, f"{prepared.describe()}; relevant = rated ≥ 4"))
    written = save(results, settings.reports_dir, f"evaluation-{dataset}-{split}",
                   {"dataset": dataset, "split": prepared.split})
    console.print(f"wrote {written[0]} and {written[1]}")


@model_app.command("bootstrap")
def model_bootstrap(epochs: int = typer.Option(15, help="SGD epochs, or ALS iterations"),
                    lr: float = typer.Option(0.1, help="the online model's base learning rate"),
                    method: str = typer.Option("sgd", help="'sgd' (the stream's update) or 'als'")) -> None:
    """Fit the MF model on the stored rating history and make it live as a new version."""
    _require("mongo", "redis")
    import asyncio

    from cinestream.model_job import bootstrap

    if method not in ("sgd", "als"):
        _fail(f"--method must be 'sgd' or 'als', not {method!r}")
    console.print(asyncio.run(bootstrap(get_settings(), console, epochs, lr, method)))


@model_app.command("publish")
def model_publish(k: int = typer.Option(50, help="list length per user"),
                  text: bool = typer.Option(True, help="content vectors include overview embeddings")) -> None:
    """Fit the hybrid on the stored history and publish every user's list (with reasons) to Redis."""
    _require("mongo", "redis")
    import asyncio

    from cinestream.publish_job import publish

    console.print(asyncio.run(publish(get_settings(), console, k, text)))


@model_app.command("repair")
def model_repair() -> None:
    """Rebuild trending and similarity from the stored history, dropping movies outside the catalogue."""
    _require("mongo", "redis")
    import asyncio

    from cinestream.repair_job import repair

    try:
        console.print(asyncio.run(repair(get_settings(), console)))
    except RuntimeError as exc:
        _fail(str(exc))


@model_app.command("versions")
def model_versions_cmd() -> None:
    """List the model versions kept in Redis."""
    _require("redis")
    import asyncio
    import datetime

    from cinestream.model_job import list_versions

    table = Table("version", "live", "created", "users", "movies", "note")
    for v in asyncio.run(list_versions(get_settings())):
        created = datetime.datetime.fromtimestamp(v["created"]).isoformat(timespec="seconds")
        table.add_row(str(v["version"]), "*" if v["current"] else "", created, str(v["users"]), str(v["items"]),
                      v["note"])
    console.print(table)


@model_app.command("snapshot")
def model_snapshot(note: str = typer.Option("manual snapshot")) -> None:
    """Keep what the stream has learned so far as a new version."""
    _require("redis")
    import asyncio

    from cinestream.model_job import snapshot

    console.print(f"saved as version {asyncio.run(snapshot(get_settings(), note))}")


@model_app.command("rollback")
def model_rollback(version: int) -> None:
    """Make a kept version live again (the stream keeps learning from there)."""
    _require("redis")
    import asyncio

    from cinestream.model_job import rollback

    try:
        meta = asyncio.run(rollback(get_settings(), version))
    except KeyError as exc:
        _fail(str(exc.args[0]))
        return
    console.print(f"version {version} is live again ({meta['note']})")


@app.command("scheduler")
def scheduler() -> None:
    """Refit the ranker on a schedule, after enough new events, or on drift, each through the gate."""
    _require("mongo", "redis")
    import asyncio
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    one_compute_thread()
    from cinestream.scheduler import run_forever

    settings = get_settings()
    if settings.background_idle:
        from deploy.local.background import send_to_background

        send_to_background(os.getpid())  # the API keeps the cores while it fits
    asyncio.run(run_forever(settings))


@ranker_app.command("refit")
def ranker_refit(force: bool = typer.Option(False, help="make it live even if the gate refuses it")) -> None:
    """Fit a candidate now, judge it against the live version on the newest ratings, promote it if it passes."""
    _require("mongo", "redis")
    import asyncio

    one_compute_thread()
    from cinestream.refit_job import refit

    with console.status("fitting and judging a candidate…"):
        run = asyncio.run(refit(get_settings(), "by hand (cinestream ranker refit)", force=force))
    console.print(f"{run['decision']}: version {run.get('version')} in {run['seconds']} s: {run['reason']}")


@ranker_app.command("promote")
def ranker_promote(version: int, force: bool = typer.Option(False, help="past the gate (recorded as forced)")) -> None:
    """Make a kept version live if the gate allows it."""
    _require("mongo", "redis")
    import asyncio

    one_compute_thread()
    from cinestream.refit_job import promote

    with console.status(f"judging version {version} against the live one…"):
        run = asyncio.run(promote(get_settings(), version, "the command line", force))
    console.print(f"{run['decision']}: version {version}: {run['reason']}")
    if run["decision"] == "refused":
        raise typer.Exit(code=1)


@ranker_app.command("versions")
def ranker_versions() -> None:
    """The kept versions of the ranker and the scheduler's last runs."""
    _require("redis")
    import asyncio
    import datetime

    from storage import live_model_store, refit_log
    from storage.redis_store import connect

    async def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        redis = connect(get_settings())
        try:
            return await live_model_store.versions(redis), await refit_log.runs(redis, 10)
        finally:
            await redis.aclose()

    versions, runs = asyncio.run(read())
    table = Table("version", "live", "created", "status", "trigger", "reason")
    for v in versions:
        created = datetime.datetime.fromtimestamp(v["created"]).isoformat(timespec="seconds")
        table.add_row(str(v["version"]), "*" if v["live"] else "", created, v.get("status", ""),
                      v.get("trigger", ""), v.get("reason", ""))
    console.print(table)
    table = Table("started", "trigger", "decision", "version", "seconds", "reason")
    for r in runs:
        started = datetime.datetime.fromtimestamp(r["started"]).isoformat(timespec="seconds")
        table.add_row(started, r["trigger"], r["decision"], str(r.get("version", "")), str(r["seconds"]), r["reason"])
    console.print(table)


@plot_app.command("learning-curve")
def plot_learning_curve(out: str = typer.Option("learning-curve.png")) -> None:
    """The streaming model's prequential learning curve, with ADWIN's drift marks."""
    _require("redis")
    import asyncio
    from pathlib import Path

    from cinestream.plots import learning_curve_png
    from storage.models import Models
    from storage.redis_store import connect

    async def points() -> list[dict[str, float]]:
        redis = connect(get_settings())
        try:
            return await Models.over(redis).mf.learning_curve()
        finally:
            await redis.aclose()

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(learning_curve_png(asyncio.run(points())))
    console.print(f"wrote {out}")


@app.command("simulate")
def simulate_cmd(dataset: str = typer.Option("ml-latest-small", help="the release whose people are simulated"),
                 people: int = typer.Option(1000, min=1, help="people, each a rater's taste with noise"),
                 duration: float = typer.Option(60.0, min=1, help="seconds of new sessions"),
                 rate: float = typer.Option(5.0, min=0.01, help="sessions started a second (open-loop)"),
                 think: float = typer.Option(1.0, min=0, help="mean seconds between a person's actions"),
                 first_user: int = typer.Option(5_000_000, min=1, help="the first simulated person's user id"),
                 seed: int = typer.Option(0)) -> None:
    """Simulated people fetch their lists through the running API and rate or watch what they are shown,
    as their hidden taste (fitted from DATASET) makes them choose; prints what they took from each kind
    of list and the trending list at the end."""
    _require("mongo")
    import asyncio

    import httpx

    from cinestream.catalogue.readers import BadFileError
    from cinestream.simulate_job import release_people, report, simulate

    settings = get_settings()
    try:
        with console.status(f"fitting {people:,} people's hidden tastes from {dataset}…"):
            population, titles = release_people(settings, dataset, people, seed)
    except (BadFileError, FileNotFoundError) as exc:  # no such release here, or a bad file in it
        _fail(str(exc))
    try:
        tally, trending = asyncio.run(simulate(settings, f"http://{settings.api_host}:{settings.api_port}", population,
                                               titles, duration, rate, think, first_user, seed, console))
    except httpx.TransportError as exc:
        _fail(f"the API at {settings.api_host}:{settings.api_port} does not answer ({exc!r}): start the main job "
              "(scripts/main.sh) or `cinestream api`")
    report(tally, trending, population, titles, console)


@app.command("load")
def load_cmd(users: int = typer.Option(1000), rate: float = typer.Option(1000.0, help="events per second"),
             duration: float = typer.Option(10.0, help="seconds")) -> None:
    """Generate synthetic users' ratings and watches into the topics (bounded, stops by itself)."""
    _require("kafka")
    import asyncio

    import numpy as np

    from cinestream.catalogue.layouts import find_layout, read_movies
    from cinestream.catalogue.readers import BadFileError, Rejections
    from simulators.load import generate
    from simulators.replay import release_ratings

    settings = get_settings()
    try:  # the load draws movies from the catalogue's release (the stream refuses others), as often as rated
        layout = find_layout(settings.release_dir(settings.dataset))
        movies = np.array([m for _, m, _, _ in read_movies(layout, Rejections()) if m >= 0])
        counts = release_ratings(settings, settings.dataset)["movieId"].value_counts()
    except BadFileError as exc:
        _fail(str(exc))
    weights = counts.reindex(movies, fill_value=0).to_numpy(dtype=np.float64) + 0.1  # the unrated now and then
    with console.status(f"{rate:,.0f} events/s for {duration:.0f}s…"):
        summary = asyncio.run(generate(settings, settings.topic_ratings, settings.topic_watches,
                                       users=users, movies=movies, rate=rate, duration_s=duration,
                                       popularity=weights / weights.sum()))
    console.print(f"sent {summary.ratings} ratings and {summary.watches} watches in {summary.seconds:.1f}s")


def _with_redis(job: Any) -> Any:
    """Run ``job(redis)`` against the configured Redis (``_with_db``'s twin for Redis)."""
    import asyncio

    from storage import redis_store

    async def run() -> Any:
        redis = redis_store.connect(get_settings())
        try:
            return await job(redis)
        finally:
            await redis.aclose()

    return asyncio.run(run())


def _with_db(job: Any) -> Any:
    """Run ``job(db, cipher)`` against the configured MongoDB, with the secrets the API uses."""
    import asyncio

    from cinestream.secrets import MissingSecret, load_secrets
    from storage.mongo import connect, database

    settings = get_settings()
    try:
        found = load_secrets(settings)
    except MissingSecret as exc:
        _fail(str(exc))

    async def run() -> Any:
        client = connect(settings)
        try:
            return await job(database(client, settings), found.cipher())
        finally:
            client.close()

    return asyncio.run(run())


@users_app.command("demo")
def users_demo(user_id: int = typer.Option(1, help="a MovieLens user id from the replayed dataset"),
               admin: bool = typer.Option(False, help="also give the account the admin role")) -> None:
    """Give an imported dataset user a login (a new password each time), for demos."""
    _require("mongo")
    from cinestream.accounts import demo_login

    roles = ["user", "admin"] if admin else None
    email, password = _with_db(lambda db, cipher: demo_login(db, cipher, user_id, roles))
    console.print(f"demo account (MovieLens user {user_id}{', admin' if admin else ''}): {email}  password: {password}")


@users_app.command("roles")
def users_roles(user_id: int, admin: bool = typer.Option(..., "--admin/--no-admin")) -> None:
    """Grant or take away the admin role."""
    _require("mongo")
    from cinestream.accounts import AccountError, set_roles

    try:
        _with_db(lambda db, cipher: set_roles(db, user_id, ["user", "admin"] if admin else ["user"], "cli"))
    except AccountError as exc:
        _fail(str(exc))
    console.print(f"user {user_id}: {'admin' if admin else 'user'}")


@keys_app.command("create")
def keys_create(name: str, scopes: list[str] = typer.Option(["events:write"], "--scope",
                                                           help="events:write, recommendations:read, history:read"),
                events_per_second: int | None = typer.Option(
                    None, help="the key's event quota (default: CINESTREAM_SERVICE_EVENTS_PER_SECOND)")) -> None:
    """Create a service key; it is printed this once and stored only as a digest."""
    _require("mongo")
    from cinestream.accounts import AccountError, create_service_key

    try:
        made = _with_db(lambda db, cipher: create_service_key(db, name, scopes, "cli", events_per_second))
    except AccountError as exc:
        _fail(str(exc))
    quota = f"{events_per_second:,} events/s" if events_per_second else "the deployment's event quota"
    console.print(f"key {made['key_id']} ({', '.join(made['scopes'])}; {quota}): {made['key']}")
    console.print("store it now: it cannot be shown again")


@keys_app.command("list")
def keys_list() -> None:
    """Every service key: id, name, scopes, event quota, created, revoked."""
    _require("mongo")
    from storage.user_store import list_keys

    table = Table("key id", "name", "scopes", "events/s", "created", "revoked")
    for k in _with_db(lambda db, cipher: list_keys(db)):
        quota = f"{k['events_per_second']:,}" if k.get("events_per_second") else "default"
        table.add_row(k["_id"], k["name"], ", ".join(k["scopes"]), quota, str(k["created"])[:19],
                      str(k["revoked"] or "")[:19])
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a service key (API processes stop accepting it within 10 s)."""
    _require("mongo")
    from cinestream.accounts import revoke_service_key

    if not _with_db(lambda db, cipher: revoke_service_key(db, key_id, "cli")):
        _fail(f"no active key {key_id}: `cinestream keys list` shows them")
    console.print(f"key {key_id} revoked")


@secrets_app.command("new-key")
def secrets_new_key() -> None:
    """Print a new data key entry to put first in CINESTREAM_DATA_KEYS (then run `secrets rotate`)."""
    from cinestream.secrets import new_data_key

    console.print(new_data_key())


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every personal field under the current data key (development: makes a new key first)."""
    _require("mongo")
    from cinestream.secrets import MissingSecret, rotate_development_key
    from storage.user_store import rotate_keys

    settings = get_settings()
    if settings.environment == "development" and settings.data_keys is None:
        try:
            console.print(f"new development key {rotate_development_key(settings)}")
        except MissingSecret as exc:
            _fail(str(exc))
    seen, rewritten = _with_db(lambda db, cipher: rotate_keys(db, cipher))
    console.print(f"{seen} accounts, {rewritten} re-encrypted under the current key")


@kafka_app.callback()
def kafka_group() -> None:
    """Kafka's principals: what each may do (ACLs)."""  # a group, though it has one command so far


@kafka_app.command("init")
def kafka_init(group_prefix: str = typer.Option(None, help="consumer groups the workers may join "
                                                                 "(default: CINESTREAM_WORKER_GROUP)")) -> None:
    """Create the topics and grant each Kafka principal what it needs and nothing else, as the admin
    principal (the local cluster's `stack up` does it itself). See streams/acls.py."""
    import asyncio

    from streams import acls

    settings = get_settings()
    if not settings.kafka_sasl:
        _fail("Kafka SASL is off (CINESTREAM_KAFKA_SASL): without authentication there are no principals to grant")
    _require("kafka")
    count = asyncio.run(acls.prepare(settings, group_prefix))
    topics = ", ".join([settings.topic_ratings, settings.topic_watches, settings.topic_dead_letter,
                        settings.topic_movies])
    console.print(f"{count} ACLs in place for topics {topics} and groups {group_prefix or settings.worker_group}*")


@client_app.command("generate")
def client_generate() -> None:
    """Write the client's schema module from the API's own OpenAPI schema (after changing a route or a model)."""
    from api.main import create_app
    from cinestream.client_codegen import SCHEMA_MODULE, generate

    changed = generate(create_app())
    console.print(f"{SCHEMA_MODULE}: {'written' if changed else 'already up to date'}")


def main() -> None:
    """The console entry point: any failure ends in one line with its cause and, where known, the fix.

    A traceback helps whoever develops CineStream, not whoever runs it: ``CINESTREAM_DEBUG=1`` shows it.
    """
    from cinestream.preflight import explain

    try:
        app(sys.argv[1:])
    except Exception as exc:
        settings = get_settings()
        if settings.debug:
            raise
        advice = explain(exc, settings)
        _say_error(advice or f"{type(exc).__name__}: {exc} (unexpected; run again with CINESTREAM_DEBUG=1 "
                              "for the traceback, and report it)")
        sys.exit(1)


if __name__ == "__main__":
    main()


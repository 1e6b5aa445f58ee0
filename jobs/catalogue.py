"""The ``catalogue build`` job: locate the data, build the catalogue, load it, report."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from catalogue import title_changes
from catalogue.build import build_catalogue, fingerprint, input_files
from catalogue.layouts import find_layout
from catalogue.readers import BadFileError
from catalogue.titles import title_key
from contracts.catalogue import encode_titles
from core.kafka_auth import client_options
from core.secrets import load_secrets
from core.settings import Settings
from storage import catalogue_store, field_crypto, user_store
from storage.mongo import connect, database


class CatalogueJobError(RuntimeError):
    pass


def dataset_folders(settings: Settings) -> tuple[Path, Path | None, Path | None]:
    movielens = settings.release_dir(settings.dataset)
    try:
        find_layout(movielens)
    except BadFileError as exc:  # the advice names every layout and what the folder holds
        raise CatalogueJobError(str(exc)) from None
    tmdb = settings.data_dir / "tmdb-5000"
    kg = settings.data_dir / "ml-100k"
    return movielens, tmdb if tmdb.is_dir() else None, kg if (kg / "ml-100k.kg").exists() else None


async def run_build(settings: Settings, console: Console, force: bool = False) -> str:
    started = time.monotonic()
    movielens, tmdb, kg = dataset_folders(settings)
    print_ = console.print
    stamp = fingerprint(input_files(movielens, tmdb, kg))
    client = connect(settings)
    try:
        db = database(client, settings)
        await catalogue_store.ensure_indexes(db)
        if not force and await catalogue_store.recorded_fingerprint(db) == stamp:
            count = await db.movies.count_documents({})
            return f"catalogue up to date ({count} movies, inputs unchanged) in {time.monotonic() - started:.1f}s"
        with console.status("reading and merging MovieLens, TMDB 5000 and the ml-100k knowledge graph…"):
            try:
                catalogue = build_catalogue(movielens, tmdb, kg, settings.shrinkage_ratings)
            except BadFileError as exc:
                raise CatalogueJobError(str(exc)) from None
        print_report(catalogue.report, console)
        built = {m["movieId"]: m for m in catalogue.movies}
        events: list[dict[str, Any]] = []
        added: list[int] = []
        left: set[int] = set()  # the stream's titles and the new ones it inserts: not the bulk load's
        if await catalogue_store.recorded_fingerprint(db) is not None:  # a rebuild: its changes go as events
            found = title_changes.changes(await catalogue_store.stored_movies(db), built,
                                          await catalogue_store.retired_ids(db))
            events = title_changes.valid(found.events(built))
            sent = {e["movieId"] for e in events}
            added = [m for m in found.added if m in sent]  # the stream inserts these, "new" from then on
            left = {*added, *found.streamed}
        bulk = [m for m in catalogue.movies if m["movieId"] not in left]
        settings.reports_dir.mkdir(parents=True, exist_ok=True)
        report_file = settings.reports_dir / "catalogue-report.json"
        report_file.write_text(json.dumps(catalogue.report, indent=2))
        total = len(catalogue.movies) + len(catalogue.ratings)
        with Progress(console=console) as bar:
            task = bar.add_task("loading into MongoDB", total=total)
            result = await catalogue_store.load_catalogue(
                db, bulk, catalogue.ratings, catalogue.users, catalogue.report, stamp,
                progress=lambda n: bar.advance(task, n),
            )
        if len(catalogue.demographics):
            cipher = field_crypto.cipher_of(load_secrets(settings))
            imported = await user_store.import_demographics(db, cipher, catalogue.demographics.to_dict("records"))
            result["demographics"] = {"users": imported}
        if events:
            result["stream"] = await _send_changes(settings, db, events, [built[m] for m in added], console)
        print_(f"report saved to {report_file}")
        return f"catalogue loaded: {json.dumps(result)} in {time.monotonic() - started:.1f}s"
    finally:
        client.close()


CHANGES_PER_MESSAGE = 100  # titles a message: well under Kafka's 1 MB with long overviews


async def _send_changes(settings: Settings, db: Any, events: list[dict[str, Any]], held_back: list[dict[str, Any]],
                        console: Console) -> dict[str, int]:
    """Send a rebuild's title changes to the ``movies`` topic, acknowledged by every in-sync replica;
    when Kafka cannot take them, write them here instead (``held_back``: the new titles the bulk load
    left to the stream), so the catalogue is complete either way and says which way it went."""
    retire = [e["movieId"] for e in events if e["op"] == "retire"]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
                                request_timeout_ms=15_000, **client_options(settings))
    try:
        await producer.start()
        try:
            for start in range(0, len(events), CHANGES_PER_MESSAGE):
                chunk = events[start:start + CHANGES_PER_MESSAGE]
                key = str(chunk[0]["movieId"]).encode() if len(chunk) == 1 else None
                await producer.send_and_wait(settings.topic_movies, encode_titles(chunk), key=key)
        finally:
            await producer.stop()
    except Exception as exc:
        console.print(f"[yellow]Kafka did not take the {len(events)} title changes ({type(exc).__name__}): "
                      "written directly; running API processes and workers see them when they restart[/]")
        await catalogue_store.sync_movies(db, held_back)
        await catalogue_store.retire_titles(db, retire, datetime.now(UTC))
        return {"sent": 0, "written directly": len(events)}
    console.print(f"{len(events)} title changes sent to the {settings.topic_movies!r} topic: the catalogue agent "
                  "applies them as it applies any producer's")
    return {"sent": len(events), "written directly": 0}


async def stored_report(settings: Settings) -> dict[str, Any] | None:
    client = connect(settings)
    try:
        return await catalogue_store.catalogue_report(database(client, settings))
    finally:
        client.close()


async def find_movies(settings: Settings, title: str, year: int | None) -> list[dict[str, Any]]:
    client = connect(settings)
    try:
        key = title_key(title, None).split("|")[0]
        return await catalogue_store.find_movies_by_title(database(client, settings), key, year)
    finally:
        client.close()


def print_report(report: dict[str, Any], console: Console) -> None:
    movies = report["movies"]
    table = Table("preprocessing", "count", "share", title="catalogue preprocessing report")
    table.add_row("movies", str(movies), "100%")
    for row in report["rows_read"]:
        table.add_row(f"rows read: {row['file']}", str(row["rows"]), "")
    for name, count in report["merged"].items():
        table.add_row(f"merged with {name}", str(count), f"{count / movies:.1%}")
    for name, count in report["have"].items():
        table.add_row(f"with {name}", str(count), f"{count / movies:.1%}")
    if report.get("tmdb_by_title") is not None:
        table.add_row(f"TMDB joined by title and year ({report['layout']} layout: no links file)",
                      str(report["tmdb_by_title"]), f"{report['tmdb_by_title'] / movies:.1%}")
    table.add_row("titles fixed (article/alt title)", str(report["fixed_titles"]), "")
    table.add_row("duplicate titles (kept, distinct ids)", str(len(report["duplicate_titles"])), "")
    table.add_row("ratings / users", f"{report['ratings']} / {report['users']}", "")
    table.add_row("rejected rows", str(len(report["rejected"])), "")
    console.print(table)
    for row in report["rejected"][:20]:
        console.print(f"  rejected {row['file']}:{row['line']}: {row['reason']}")

"""Readers for each raw source: MovieLens, TMDB 5000 and ml-100k's knowledge graph.

Each returns plain Python/pandas structures keyed the way the merge needs them and records
the rows it rejects; none of them knows about MongoDB.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from catalogue.layouts import (
    RATING_COLUMNS,
    Layout,
    find_layout,
    genre_list,
    read_movies,
    read_ratings_file,
    read_tags,
    read_users,
)
from catalogue.readers import Rejections, read_rows
from catalogue.titles import clean_text, parse_title, title_key

RATING_STEPS = np.arange(0.5, 5.01, 0.5)


@dataclass
class MovieLens:
    movies: list[dict]
    links: dict[int, tuple[str | None, int | None]]  # movieId -> (imdbId, tmdbId); empty without a links file
    tags: dict[int, list[str]]
    ratings: pd.DataFrame  # userId, movieId, rating, timestamp
    users: pd.DataFrame  # userId, gender, age, occupation, zip: the release's demographics (may be empty)
    rows_read: dict[str, int]
    layout: str


def read_movielens(folder: Path, rejections: Rejections) -> MovieLens:
    """Any MovieLens release (``catalogue.layouts``): movies, links, tags, ratings, users."""
    layout = find_layout(folder)
    rows_read: dict[str, int] = {}

    def count(path: Path) -> None:
        rows_read[path.name] = rows_read.get(path.name, 0) + 1

    movies: list[dict] = []
    seen: set[int] = set()
    path = layout.movies
    for line, movie_id, title, genres in read_movies(layout, rejections):
        count(path)
        if movie_id < 0:
            rejections.add(path, line, "the movie id is not an integer")
            continue
        if movie_id in seen:
            rejections.add(path, line, f"duplicate movieId {movie_id}")
            continue
        if not title.strip():
            rejections.add(path, line, "empty title")
            continue
        seen.add(movie_id)
        movies.append({"movieId": movie_id, "raw_title": title, "genres": genre_list(genres)})

    links: dict[int, tuple[str | None, int | None]] = {}
    if layout.links is not None:
        for line, row in read_rows(layout.links, ("movieId", "imdbId", "tmdbId")):
            count(layout.links)
            try:
                links[int(row["movieId"])] = (row["imdbId"] or None, int(row["tmdbId"]) if row["tmdbId"] else None)
            except ValueError:
                rejections.add(layout.links, line, f"non-integer movieId/tmdbId {row['movieId']!r}/{row['tmdbId']!r}")

    tags: dict[int, dict[str, int]] = defaultdict(dict)
    for line, movie_id, raw_tag in read_tags(layout, rejections):
        count(layout.tags)  # type: ignore[arg-type]  # read_tags yields only when the layout has tags
        tag = clean_text(raw_tag).lower()
        if not tag or movie_id < 0:
            rejections.add(layout.tags, line, "empty tag or bad movieId")  # type: ignore[arg-type]
            continue
        counts = tags[movie_id]
        counts[tag] = counts.get(tag, 0) + 1

    ratings = read_ratings(layout, rejections)
    rows_read[layout.ratings.name] = int(ratings.attrs["rows_read"])
    users = read_users(layout, rejections)
    if layout.users is not None:
        rows_read[layout.users.name] = len(users)
    ranked = {m: sorted(c, key=lambda t: (-c[t], t)) for m, c in tags.items()}
    return MovieLens(movies, links, ranked, ratings, users, rows_read, layout.kind)


def read_ratings(layout: Layout, rejections: Rejections) -> pd.DataFrame:
    """Ratings of any layout, validated in bulk (pandas' C parser); each bad row is rejected with its line."""
    raw, first_line = read_ratings_file(layout)
    path = layout.ratings
    frame = pd.DataFrame({c: pd.to_numeric(raw[c], errors="coerce") for c in RATING_COLUMNS})
    bad_number = frame.isna().any(axis=1)
    on_scale = np.isin(frame["rating"].to_numpy(), RATING_STEPS)
    bad = bad_number | ~on_scale
    for index in np.flatnonzero(bad.to_numpy()):
        rating = raw["rating"].iloc[index]
        reason = "non-numeric field" if bad_number.iloc[index] else f"rating {rating} not in 0.5..5.0 step 0.5"
        rejections.add(path, int(index) + first_line, reason)
    good = frame[~bad].astype({"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"})
    dupes = good.duplicated(["userId", "movieId", "timestamp"], keep="first")
    for index in np.flatnonzero(dupes.to_numpy()):
        rejections.add(path, int(good.index[index]) + first_line, "duplicate (userId, movieId, timestamp)")
    good = good[~dupes].reset_index(drop=True)
    good.attrs["rows_read"] = len(raw)
    return good


def read_tmdb(folder: Path, rejections: Rejections) -> tuple[dict[int, dict], int]:
    """TMDB movies joined with their credits, keyed by TMDB id."""
    def names(cell: str) -> list[str]:
        return [clean_text(item["name"]) for item in json.loads(cell or "[]")]

    movies: dict[int, dict] = {}
    path = folder / "tmdb_5000_movies.csv"
    count = 0
    for line, row in read_rows(path, ("id", "overview", "release_date", "runtime", "popularity",
                                      "vote_average", "vote_count", "keywords", "tagline", "title")):
        count += 1
        try:
            movies[int(row["id"])] = {
                "overview": clean_text(row["overview"]) or None,
                "tagline": clean_text(row["tagline"]) or None,
                "release_date": row["release_date"] or None,
                "runtime": float(row["runtime"]) if row["runtime"] else None,
                "popularity": float(row["popularity"]),
                "vote_average": float(row["vote_average"]),
                "vote_count": int(row["vote_count"]),
                "keywords": names(row["keywords"]),
                "tmdb_title": clean_text(row["title"]),
            }
        except (ValueError, json.JSONDecodeError, KeyError) as exc:
            rejections.add(path, line, f"unparseable field: {exc}")
    path = folder / "tmdb_5000_credits.csv"
    for line, row in read_rows(path, ("movie_id", "cast", "crew")):
        try:
            movie = movies.get(int(row["movie_id"]))
            if movie is None:
                continue
            cast = sorted(json.loads(row["cast"]), key=lambda c: c.get("order", 1 << 30))
            crew = json.loads(row["crew"])
        except (ValueError, json.JSONDecodeError) as exc:
            rejections.add(path, line, f"unparseable cast/crew JSON: {exc}")
            continue
        movie["cast"] = list(dict.fromkeys(clean_text(c["name"]) for c in cast[:10]))
        movie["directors"] = list(dict.fromkeys(clean_text(c["name"]) for c in crew if c.get("job") == "Director"))
        movie["writers"] = list(dict.fromkeys(
            clean_text(c["name"]) for c in crew if c.get("department") == "Writing"
            and c.get("job") in {"Screenplay", "Writer", "Story", "Novel", "Author"}
        ))
    return movies, count


KG_RELATIONS = {"film.film.directed_by": "directors", "film.film.actor": "actors", "film.film.written_by": "writers"}


def read_kg(folder: Path) -> dict[str, dict[str, list[str]]]:
    """ml-100k knowledge-graph entities (Freebase ids) per movie, keyed by ``title_key``.

    The graph names no people, only entity ids, so these link movies that share a director
    or actor even where TMDB has no credits for them.
    """
    items: dict[str, str] = {}
    for _, row in read_rows(folder / "ml-100k.item", ("item_id", "movie_title", "release_year"),
                            delimiter="\t", recbole=True):
        parsed = parse_title(row["movie_title"])
        year = int(row["release_year"]) if row["release_year"].isdigit() else None
        items[row["item_id"]] = title_key(parsed.title, year)
    entity_to_key: dict[str, str] = {}
    for _, row in read_rows(folder / "ml-100k.link", ("item_id", "entity_id"), delimiter="\t", recbole=True):
        if row["item_id"] in items:
            entity_to_key[row["entity_id"]] = items[row["item_id"]]
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for _, row in read_rows(folder / "ml-100k.kg", ("head_id", "relation_id", "tail_id"),
                            delimiter="\t", recbole=True):
        field = KG_RELATIONS.get(row["relation_id"])
        key = entity_to_key.get(row["head_id"])
        if field and key:
            graph[key][field].append(row["tail_id"])
    return {k: {f: sorted(set(v)) for f, v in fields.items()} for k, fields in graph.items()}

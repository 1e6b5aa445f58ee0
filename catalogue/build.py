"""Merge MovieLens, TMDB 5000 and ml-100k's knowledge graph into one clean catalogue.

Pure data work: the result (movie documents, normalised ratings, user statistics and the
preprocessing report) is handed to ``storage.catalogue_store`` to load. A field no source
provides stays ``None``/empty and is listed in the movie's ``missing``: never invented.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from catalogue.layouts import find_layout
from catalogue.readers import Rejections
from catalogue.sources import read_kg, read_movielens, read_tmdb
from catalogue.stats import movie_stats, normalise, user_stats
from catalogue.titles import parse_title, title_key

BUILD_VERSION = 3  # bump when the document shape or the cleaning rules change
TRACKED_FIELDS = ("year", "overview", "directors", "cast", "writers", "keywords", "tmdbId", "genres")


@dataclass
class Catalogue:
    movies: list[dict[str, Any]]
    ratings: pd.DataFrame
    users: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)
    #: userId, gender, age, occupation, zip of the release's users (ml-1m, ml-100k); empty for others
    demographics: pd.DataFrame = field(default_factory=pd.DataFrame)


def search_key(title: str, alt_title: str | None) -> str:
    """Both titles, normalised, so a word search matches either."""
    return " ".join(title_key(t, None).rstrip("|") for t in (title, alt_title) if t)


def fingerprint(paths: list[Path]) -> str:
    """Identity of the inputs (sizes and content) plus the build rules, to skip a no-op rebuild."""
    digest = hashlib.sha256(f"v{BUILD_VERSION}".encode())
    for path in sorted(p for p in paths if p.exists()):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def input_files(movielens: Path, tmdb: Path | None, kg: Path | None) -> list[Path]:
    files = find_layout(movielens).files()
    if tmdb:
        files += [tmdb / "tmdb_5000_movies.csv", tmdb / "tmdb_5000_credits.csv"]
    if kg:
        files += [kg / "ml-100k.item", kg / "ml-100k.link", kg / "ml-100k.kg"]
    return files


def build_catalogue(movielens: Path, tmdb: Path | None, kg: Path | None, prior_weight: float) -> Catalogue:
    rejections = Rejections()
    ml = read_movielens(movielens, rejections)
    tmdb_movies, tmdb_rows = read_tmdb(tmdb, rejections) if tmdb else ({}, 0)
    graph = read_kg(kg) if kg else {}

    known = {m["movieId"] for m in ml.movies}
    orphan = ~ml.ratings["movieId"].isin(known)
    ratings = ml.ratings[~orphan]
    users = user_stats(ratings)
    ratings = normalise(ratings, users)
    stats = movie_stats(ratings, prior_weight)
    # without a links file (ml-1m, ml-10m, ml-100k), TMDB is joined by normalised title and year
    by_title = {title_key(m["tmdb_title"], int(m["release_date"][:4]) if m["release_date"] else None): tid
                for tid, m in tmdb_movies.items()} if not ml.links else {}

    fixed_titles = merged_tmdb = merged_kg = year_from_tmdb = tmdb_by_title = 0
    by_key: dict[str, list[int]] = {}
    movies: list[dict[str, Any]] = []
    for base in ml.movies:
        parsed = parse_title(base["raw_title"])
        fixed_titles += parsed.fixed
        imdb_id, tmdb_id = ml.links.get(base["movieId"], (None, None))
        if by_title and (tmdb_id := by_title.get(title_key(parsed.title, parsed.year))) is not None:
            tmdb_by_title += 1
        extra = tmdb_movies.get(tmdb_id) if tmdb_id is not None else None
        year = parsed.year
        if year is None and extra and extra["release_date"]:
            year, year_from_tmdb = int(extra["release_date"][:4]), year_from_tmdb + 1
        key = title_key(parsed.title, year)
        by_key.setdefault(key, []).append(base["movieId"])
        kg_entities = graph.get(key) or (graph.get(title_key(parsed.alt_title, year)) if parsed.alt_title else None)
        movie: dict[str, Any] = {
            "movieId": base["movieId"], "title": parsed.title,
            "alt_title": parsed.alt_title, "raw_title": base["raw_title"], "year": year,
            "genres": base["genres"], "imdbId": imdb_id, "tmdbId": tmdb_id,
            "tags": ml.tags.get(base["movieId"], [])[:30],
            "search_key": search_key(parsed.title, parsed.alt_title),
            "overview": None, "tagline": None, "release_date": None, "runtime": None, "popularity": None,
            "vote_average": None, "vote_count": None, "keywords": [], "cast": [], "directors": [], "writers": [],
            "kg": kg_entities or {},
            "sources": ["movielens"],
        }
        if extra:
            merged_tmdb += 1
            movie.update({k: v for k, v in extra.items() if k != "tmdb_title"})
            movie.setdefault("cast", [])
            movie["sources"].append("tmdb")
        if kg_entities:
            merged_kg += 1
            movie["sources"].append("ml-100k-kg")
        row = stats.loc[base["movieId"]] if base["movieId"] in stats.index else None
        movie["stats"] = {
            "count": int(row["count"]) if row is not None else 0,
            "mean": round(float(row["mean"]), 4) if row is not None else None,
            "bayes_mean": round(float(row["bayes_mean"]), 4) if row is not None else None,
        }
        movie["missing"] = [f for f in TRACKED_FIELDS if movie.get(f) in (None, [], "")]
        movies.append(movie)

    def has(field_name: str) -> int:
        return sum(1 for m in movies if m.get(field_name) not in (None, [], ""))

    report: dict[str, Any] = {
        "build_version": BUILD_VERSION,
        "layout": ml.layout,
        "tmdb_by_title": tmdb_by_title if by_title else None,
        # a list, not a dict: MongoDB keys may not contain the '.' of a file name
        "rows_read": [{"file": f, "rows": n} for f, n in {**ml.rows_read, "tmdb_5000_movies.csv": tmdb_rows}.items()],
        "movies": len(movies),
        "merged": {"tmdb": merged_tmdb, "ml-100k-kg": merged_kg},
        "have": {f: has(f) for f in ("year", "directors", "cast", "overview", "writers", "keywords", "tmdbId")},
        "missing": {f: len(movies) - has(f) for f in ("year", "directors", "cast", "overview")},
        "fixed_titles": fixed_titles,
        "year_from_tmdb": year_from_tmdb,
        # objects, not nested arrays: FerretDB 1.x refuses arrays of arrays
        "duplicate_titles": [{"title": key, "movieIds": ids} for key, ids in sorted(by_key.items()) if len(ids) > 1],
        "ratings": len(ratings),
        "ratings_orphan_movie": int(orphan.sum()),
        "users": len(users),
        "users_with_demographics": len(ml.users),
        "rejected": [{"file": r.file, "line": r.line, "reason": r.reason} for r in rejections.rows],
    }
    return Catalogue(movies=movies, ratings=ratings.reset_index(drop=True), users=users, report=report,
                     demographics=ml.users)

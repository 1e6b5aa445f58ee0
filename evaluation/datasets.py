"""Read any MovieLens release's ratings and movies for offline evaluation, with line-numbered errors.

The layouts (``ratings.csv``, ``ratings.dat`` with ``::``, GroupLens' ``u.data`` and RecBole's atomic
``<name>.inter``) are the catalogue's (``catalogue.layouts``). Archives fetched by
``cinestream data fetch`` unpack to ``<data dir>/<name>/``, possibly one folder deeper; both are looked in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from catalogue.build import build_catalogue
from catalogue.layouts import Layout, find_layout
from catalogue.readers import BadFileError, Rejections
from catalogue.sources import read_ratings


def layout_of(data_dir: Path, name: str) -> Layout:
    try:
        return find_layout(data_dir / name)
    except BadFileError as exc:
        raise FileNotFoundError(f"no ratings file for {name!r}: {exc.reason}") from None


def load_ratings(data_dir: Path, name: str) -> pd.DataFrame:
    """``userId, movieId, rating, timestamp`` of dataset ``name``; a bad row stops the evaluation."""
    layout = layout_of(data_dir, name)
    rejections = Rejections()
    frame = read_ratings(layout, rejections)
    if rejections.rows:
        first = rejections.rows[0]
        raise BadFileError(layout.ratings, first.line, f"{first.reason} ({len(rejections.rows)} rejected row(s))")
    return frame


def load_documents(data_dir: Path, name: str, releases: Path | None = None) -> dict[int, dict[str, Any]]:
    """Movie metadata by movieId, as the catalogue build makes it: the release's own titles, years,
    genres and tags, joined with TMDB 5000 (directors, cast, writers, keywords, overview) and
    ml-100k's knowledge graph when they are under ``data_dir``. The release itself is under
    ``releases`` (default ``data_dir``: a generated one is elsewhere)."""
    folder = layout_of(releases or data_dir, name).folder
    tmdb, kg = data_dir / "tmdb-5000", data_dir / "ml-100k"
    catalogue = build_catalogue(folder, tmdb if tmdb.is_dir() else None,
                                kg if (kg / "ml-100k.kg").exists() else None, prior_weight=10.0)
    return {m["movieId"]: m for m in catalogue.movies}

"""Read a MovieLens ratings file in whichever layout its release uses, with line-numbered errors.

Layouts: ``ratings.csv`` (ml-latest-small, ml-20m/25m/32m), ``ratings.dat`` with ``::``
(ml-1m, ml-10m), ``u.data`` tab-separated (ml-100k from GroupLens) and RecBole's atomic
``ml-100k.inter`` (the shared copy). Archives fetched by ``cinestream data fetch`` unpack to
``<data dir>/<name>/`` possibly with one more folder level; both are looked in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cinestream.catalogue.build import build_catalogue
from cinestream.catalogue.readers import BadFileError, Rejections
from cinestream.catalogue.sources import read_ratings

COLUMNS = ["userId", "movieId", "rating", "timestamp"]
LAYOUTS = ("ratings.csv", "ratings.dat", "u.data", "{name}.inter")


def ratings_path(data_dir: Path, name: str) -> Path:
    folder = data_dir / name
    for layout in LAYOUTS:
        filename = layout.format(name=name)
        for candidate in (folder / filename, *folder.glob(f"*/{filename}")):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"no ratings file for {name!r} under {folder} "
                            f"(looked for {', '.join(layout.format(name=name) for layout in LAYOUTS)}); "
                            f"run `cinestream data fetch {name}` or set CINESTREAM_DATA_DIR")


def _read_delimited(path: Path, sep: str, header: bool) -> pd.DataFrame:
    frame = pd.read_csv(path, sep=sep, header=0 if header else None, names=COLUMNS, engine="python" if len(sep) > 1
                        else "c", quoting=3, dtype=str, keep_default_na=False)
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna().any(axis=1).to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise BadFileError(path, first + 1 + int(header), f"non-numeric field in {frame.iloc[first].tolist()}")
    return numeric.astype({"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"})


def load_ratings(data_dir: Path, name: str) -> pd.DataFrame:
    """``userId, movieId, rating, timestamp`` of dataset ``name``."""
    path = ratings_path(data_dir, name)
    if path.name == "ratings.csv":
        rejections = Rejections()
        frame = read_ratings(path, rejections)
        if rejections.rows:
            first = rejections.rows[0]
            raise BadFileError(path, first.line, f"{first.reason} ({len(rejections.rows)} rejected row(s))")
        return frame
    if path.name == "ratings.dat":
        return _read_delimited(path, "::", header=False)
    return _read_delimited(path, "\t", header=path.suffix == ".inter")


def _genre_docs(path: Path, sep: str, header: bool, id_col: int, title_col: int, genre_col: int,
                genre_sep: str, year_col: int | None) -> dict[int, dict[str, Any]]:
    frame = pd.read_csv(path, sep=sep, header=0 if header else None, engine="python" if len(sep) > 1 else "c",
                        quoting=3, dtype=str, keep_default_na=False, encoding="latin-1")
    docs: dict[int, dict[str, Any]] = {}
    for row in frame.itertuples(index=False):
        title = str(row[title_col])
        year = str(row[year_col]) if year_col is not None else title[-5:-1]
        docs[int(row[id_col])] = {"title": title, "genres": [g for g in str(row[genre_col]).split(genre_sep) if g],
                                  "year": int(year) if year.isdigit() else None}
    return docs


def load_documents(data_dir: Path, name: str) -> dict[int, dict[str, Any]]:
    """Movie metadata by movieId, as rich as the dataset allows.

    ml-latest-small is joined with TMDB 5000 (directors, cast, writers, keywords, overview)
    and its own tags by the catalogue build; other releases give title, year and genres.
    """
    folder = ratings_path(data_dir, name).parent
    if (folder / "movies.csv").exists():
        tmdb, kg = data_dir / "tmdb-5000", data_dir / "ml-100k"
        catalogue = build_catalogue(folder, tmdb if tmdb.is_dir() else None,
                                    kg if (kg / "ml-100k.kg").exists() else None, prior_weight=10.0)
        return {m["movieId"]: m for m in catalogue.movies}
    if (folder / "movies.dat").exists():
        return _genre_docs(folder / "movies.dat", "::", False, 0, 1, 2, "|", None)
    if (folder / f"{name}.item").exists():
        return _genre_docs(folder / f"{name}.item", "\t", True, 0, 1, 3, " ", 2)
    return {}

"""Where each MovieLens release keeps its files, and how to read their movies, users and tags.

GroupLens has shipped four layouts, and each reader here returns the same shapes so the merge
(``catalogue.build``) does not care which one it met:

- ``csv``: ``movies.csv``, ``ratings.csv``, ``links.csv``, ``tags.csv`` (ml-latest, ml-20m, ml-25m, ml-32m);
- ``dat``: ``movies.dat``, ``ratings.dat``, ``users.dat``, ``tags.dat``, fields split by ``::`` (ml-1m in
  latin-1, ml-10m);
- ``grouplens-100k``: ``u.item`` (``|``), ``u.data`` (tab), ``u.user`` (``|``), latin-1 (ml-100k's zip);
- ``recbole``: RecBole's atomic files ``<name>.item``, ``<name>.inter``, ``<name>.user`` (the shared ml-100k).

A file is decoded as UTF-8 when it is valid UTF-8 and as latin-1 otherwise (ml-1m's titles hold
latin-1 accents). Rows keep their line numbers: a bad row is rejected with ``file:line: reason``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from catalogue.readers import BadFileError, Rejections, read_rows
from catalogue.titles import clean_text

#: ml-100k's genre flags, in u.item's column order (its u.genre file lists the same)
GROUPLENS_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                    "War", "Western")
#: the older releases' genre names, as the newer ones spell them
GENRE_NAMES = {"Children's": "Children", "unknown": None, "(no genres listed)": None}
RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")


@dataclass(frozen=True)
class Layout:
    kind: str
    folder: Path
    movies: Path
    ratings: Path
    links: Path | None = None
    tags: Path | None = None
    users: Path | None = None

    def files(self) -> list[Path]:
        return [p for p in (self.movies, self.ratings, self.links, self.tags, self.users) if p is not None]


def _optional(path: Path) -> Path | None:
    return path if path.is_file() else None


def find_layout(folder: Path) -> Layout:
    """The release's layout, from the files in ``folder`` (or one folder below, as zips unpack)."""
    for where in (folder, *sorted(p for p in folder.glob("*") if p.is_dir())):
        if (where / "movies.csv").is_file():
            return Layout("csv", where, where / "movies.csv", where / "ratings.csv", _optional(where / "links.csv"),
                          _optional(where / "tags.csv"))
        if (where / "movies.dat").is_file():
            return Layout("dat", where, where / "movies.dat", where / "ratings.dat", None,
                          _optional(where / "tags.dat"), _optional(where / "users.dat"))
        if (where / "u.item").is_file():
            return Layout("grouplens-100k", where, where / "u.item", where / "u.data",
                          users=_optional(where / "u.user"))
        atomic = sorted(where.glob("*.item"))
        if atomic and atomic[0].with_suffix(".inter").is_file():
            item = atomic[0]
            return Layout("recbole", where, item, item.with_suffix(".inter"),
                          users=_optional(item.with_suffix(".user")))
    held = ", ".join(sorted(p.name for p in folder.glob("*"))[:12]) if folder.is_dir() else "nothing: no such folder"
    raise BadFileError(folder, 0, "no MovieLens movies file: expected movies.csv (ml-latest, ml-20m/25m/32m), "
                                  "movies.dat (ml-1m, ml-10m), u.item (ml-100k) or RecBole's <name>.item and "
                                  f"<name>.inter; the folder holds {held}. Fetch the release with "
                                  f"`cinestream data fetch {folder.name}`, or set CINESTREAM_DATA_DIR to the folder "
                                  f"holding {folder.name}/")


def _encoding(path: Path) -> str:
    with path.open("rb") as handle:
        try:
            handle.read().decode("utf-8")
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def _split_lines(path: Path, sep: str, fields: int) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of a headerless file split by ``sep`` into at most ``fields`` parts (0: all),
    so a last field may hold the separator (never seen in GroupLens' files, but not then misread)."""
    if not path.is_file():
        raise BadFileError(path, 0, "file not found")
    with path.open(encoding=_encoding(path), newline="") as handle:
        for line, text in enumerate(handle, start=1):
            text = text.rstrip("\r\n")
            if text:
                yield line, text.split(sep, fields - 1) if fields else text.split(sep)


def genre_list(names: list[str]) -> list[str]:
    cleaned = (GENRE_NAMES.get(n, n) for n in (clean_text(g) for g in names) if n)
    return list(dict.fromkeys(g for g in cleaned if g))


def read_movies(layout: Layout, rejections: Rejections) -> Iterator[tuple[int, int, str, list[str]]]:
    """``(line, movieId, raw title with its year, genres)`` of every movie row."""
    path = layout.movies
    if layout.kind == "csv":
        for line, row in read_rows(path, ("movieId", "title", "genres")):
            yield line, _int(row["movieId"]), row["title"], row["genres"].split("|")
    elif layout.kind == "dat":
        for line, fields in _split_lines(path, "::", 3):
            if len(fields) != 3:
                rejections.add(path, line, f"expected 3 fields split by '::', found {len(fields)}")
                continue
            yield line, _int(fields[0]), fields[1], fields[2].split("|")
    elif layout.kind == "grouplens-100k":
        for line, fields in _split_lines(path, "|", 0):
            if len(fields) != 5 + len(GROUPLENS_GENRES):
                rejections.add(path, line, f"expected {5 + len(GROUPLENS_GENRES)} fields split by '|', found "
                                           f"{len(fields)}")
                continue
            genres = [g for g, flag in zip(GROUPLENS_GENRES, fields[5:], strict=True) if flag == "1"]
            yield line, _int(fields[0]), fields[1], genres
    else:
        for line, row in read_rows(path, ("item_id", "movie_title", "release_year", "class"), delimiter="\t",
                                   recbole=True):
            year = row["release_year"].strip()
            yield line, _int(row["item_id"]), f"{row['movie_title']} ({year})" if year else row["movie_title"], \
                row["class"].split()


def _int(text: str) -> int:
    """An id; -1 for one that is not an integer (the caller rejects it with its line)."""
    text = text.strip()
    return int(text) if text.isdigit() else -1


def read_tags(layout: Layout, rejections: Rejections) -> Iterator[tuple[int, int, str]]:
    """``(line, movieId, tag)`` of every tag row (csv and dat layouts have tags)."""
    if layout.tags is None:
        return
    if layout.kind == "csv":
        for line, row in read_rows(layout.tags, ("userId", "movieId", "tag")):
            yield line, _int(row["movieId"]), row["tag"]
    else:
        for line, fields in _split_lines(layout.tags, "::", 4):
            if len(fields) != 4:
                rejections.add(layout.tags, line, f"expected 4 fields split by '::', found {len(fields)}")
                continue
            yield line, _int(fields[1]), fields[2]


def read_users(layout: Layout, rejections: Rejections) -> pd.DataFrame:
    """Demographics of the release's users: ``userId, gender, age, occupation, zip`` (strings as
    shipped; ml-1m codes age and occupation as numbers, ml-100k spells them out). Empty when the
    release has none (the csv layout, ml-10m)."""
    rows: list[tuple[int, str, str, str, str]] = []
    path = layout.users
    if path is None:
        return pd.DataFrame(columns=["userId", "gender", "age", "occupation", "zip"])
    if layout.kind == "recbole":
        for _, row in read_rows(path, ("user_id", "age", "gender", "occupation", "zip_code"), delimiter="\t",
                                recbole=True):
            rows.append((_int(row["user_id"]), row["gender"], row["age"], row["occupation"], row["zip_code"]))
    else:
        sep, order = ("::", (0, 1, 2, 3, 4)) if layout.kind == "dat" else ("|", (0, 2, 1, 3, 4))
        for line, fields in _split_lines(path, sep, 0):
            if len(fields) != 5 or _int(fields[0]) < 0:
                rejections.add(path, line, f"expected a user id and 4 fields split by {sep!r}")
                continue
            uid, gender, age, occupation, zipcode = (fields[i] for i in order)
            rows.append((_int(uid), gender, age, occupation, zipcode))
    return pd.DataFrame(rows, columns=["userId", "gender", "age", "occupation", "zip"])


def read_ratings_file(layout: Layout) -> tuple[pd.DataFrame, int]:
    """The raw rating rows as strings (``RATING_COLUMNS``) and the line of the first data row;
    one vectorised parse (pandas' C parser) for every layout: 25 M rows in seconds."""
    path = layout.ratings
    if not path.is_file():
        raise BadFileError(path, 0, f"file not found: the {layout.kind} layout keeps its ratings in {path.name}")
    try:
        if layout.kind == "csv":
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
            missing = set(RATING_COLUMNS) - set(raw.columns)
            if missing:
                raise BadFileError(path, 1, f"header lacks column(s) {', '.join(sorted(missing))}")
            return raw[list(RATING_COLUMNS)], 2
        if layout.kind == "dat":
            # '::' read as ':' by the C parser: the fields land in columns 0, 2, 4 and 6
            raw = pd.read_csv(path, sep=":", header=None, dtype=str, keep_default_na=False, quoting=3)
            if raw.shape[1] != 7:
                raise BadFileError(path, 1, f"expected UserID::MovieID::Rating::Timestamp, found {raw.shape[1]} "
                                            "':'-separated fields")
            raw = raw[[0, 2, 4, 6]]
            raw.columns = list(RATING_COLUMNS)
            return raw, 1
        header = layout.kind == "recbole"
        raw = pd.read_csv(path, sep="\t", header=0 if header else None, dtype=str, keep_default_na=False, quoting=3)
        if raw.shape[1] != 4:
            raise BadFileError(path, 1, f"expected 4 tab-separated fields (user, item, rating, timestamp), found "
                                        f"{raw.shape[1]}")
        raw.columns = list(RATING_COLUMNS)
        return raw, 2 if header else 1
    except pd.errors.ParserError as exc:
        raise BadFileError(path, 0, str(exc)) from None



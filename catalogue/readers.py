"""Read the raw dataset files row by row, keeping the line number of every row.

A bad file stops the build with ``file:line: reason``; a bad row in a good file is rejected,
recorded (file, line, reason) in the preprocessing report, and the build goes on.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

csv.field_size_limit(10**8)  # TMDB crew cells exceed the 131072-byte default


class BadFileError(ValueError):
    """The file as a whole cannot be read (missing, wrong header, not CSV)."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


@dataclass(frozen=True)
class Rejected:
    file: str
    line: int
    reason: str


@dataclass
class Rejections:
    rows: list[Rejected] = field(default_factory=list)

    def add(self, path: Path, line: int, reason: str) -> None:
        self.rows.append(Rejected(path.name, line, reason))


def read_rows(
    path: Path, columns: tuple[str, ...], *, delimiter: str = ",", recbole: bool = False
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` for each data row; the header must hold ``columns``.

    ``recbole``: RecBole atomic files are tab-separated with ``name:type`` headers and
    unquoted titles that contain quote characters.
    """
    if not path.is_file():
        raise BadFileError(path, 0, "file not found (check CINESTREAM_DATA_DIR or run `cinestream data fetch`)")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE if recbole else csv.QUOTE_MINIMAL)
        try:
            header = next(reader)
        except StopIteration:
            raise BadFileError(path, 1, "empty file, expected a header line") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BadFileError(path, 1, f"unreadable header: {exc}") from None
        names = [h.split(":")[0] if recbole else h.strip().lstrip("\ufeff") for h in header]
        missing = [c for c in columns if c not in names]
        if missing:
            raise BadFileError(path, 1, f"header lacks column(s) {', '.join(missing)}; found {', '.join(names)}")
        index = [names.index(c) for c in columns]
        start = reader.line_num
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != len(names):
                    raise BadFileError(path, start + 1, f"expected {len(names)} fields, found {len(row)}")
                yield start + 1, {c: row[i] for c, i in zip(columns, index, strict=True)}
                start = reader.line_num
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BadFileError(path, reader.line_num, str(exc)) from None

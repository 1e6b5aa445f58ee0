"""The MovieLens archives CineStream knows how to fetch, with the checksums GroupLens publishes.

GroupLens publishes an MD5 beside each archive (``<name>.zip.md5``); where a SHA-256 is known
it is checked too. For an archive with neither, the SHA-256 of the first complete download
is pinned in the cache (``checksums.json``) and every later download must match it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Archive:
    name: str
    md5: str | None = None
    sha256: str | None = None
    ratings_file: str = "ratings.csv"

    def filename(self) -> str:
        return f"{self.name}.zip"


ARCHIVES: dict[str, Archive] = {
    a.name: a
    for a in (
        Archive("ml-latest-small"),
        Archive("ml-100k", md5="0e33842e24a9c977be4e0107933c0723", ratings_file="u.data"),
        Archive("ml-1m", md5="c4d9eecfca2ab87c1945afe126590906", ratings_file="ratings.dat"),
        Archive("ml-10m", md5="ce571fd55effeba0271552578f2648bd", ratings_file="ratings.dat"),
        Archive("ml-20m", md5="cd245b17a1ae2cc31bb14903e1204af3"),
        Archive("ml-25m", md5="6b51fb2759a8657d3bfcbfc42b592ada"),
        Archive("ml-32m"),
    )
}

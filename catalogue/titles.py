"""MovieLens titles as people write them: "Matrix, The (1999)" is *The Matrix*, 1999.

MovieLens moves leading articles to the end (in several languages) and appends the year;
foreign films often carry an alternative title in parentheses, "Cité des enfants perdus,
La (City of Lost Children, The) (1995)". We keep the display title, the alternative title
and the year apart so search matches any of them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ARTICLES = (
    "The", "A", "An", "Les", "La", "Le", "L'", "Il", "I", "Der", "Die", "Das", "El", "Los", "Las",
    "Lo", "Un", "Une", "Det", "Den", "De", "Het", "O", "Os", "As", "Gli", "Ein", "Eine",
)
_ARTICLE_RE = re.compile(r"^(?P<body>.*?),\s*(?P<article>" + "|".join(re.escape(a) for a in ARTICLES) + r")$")
_YEAR_RE = re.compile(r"\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")
_AKA_RE = re.compile(r"^(?P<main>.+?)\s+\((?:a\.k\.a\.\s*)?(?P<aka>[^()]+)\)$")


@dataclass(frozen=True)
class ParsedTitle:
    title: str
    year: int | None
    alt_title: str | None
    fixed: bool  # the display title differs from the raw one beyond the year suffix


def clean_text(text: str) -> str:
    """NFC-normalise and collapse all runs of white space (incl. non-breaking) to one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def move_article(title: str) -> str:
    """'Matrix, The' -> 'The Matrix'; "Homme, L'" -> "L'Homme"."""
    match = _ARTICLE_RE.match(title)
    if not match:
        return title
    article = match["article"]
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match['body']}"


def parse_title(raw: str) -> ParsedTitle:
    text = clean_text(raw)
    year: int | None = None
    if match := _YEAR_RE.search(text):
        year = int(match["year"])
        text = text[: match.start()].strip()
    alt: str | None = None
    if match := _AKA_RE.match(text):
        text, alt = match["main"].strip(), move_article(match["aka"].strip())
    title = move_article(text)
    return ParsedTitle(title=title, year=year, alt_title=alt, fixed=title != text or alt is not None)


def title_key(title: str, year: int | None) -> str:
    """A join key that survives case, accents and punctuation differences between sources."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", ascii_title.lower()).strip() + f"|{year or ''}"

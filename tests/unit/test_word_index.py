"""The search's word index finds the same lines as the text scan it replaced, on real titles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from api.search import WordIndex, _lines_with, _starts
from catalogue.titles import title_key


def test_word_index_matches_the_text_scan_on_every_real_title_prefix(data_dir: Path) -> None:
    titles = pd.read_csv(data_dir / "ml-latest-small" / "movies.csv")["title"]
    keys = [title_key(t, None).split("|")[0] for t in titles]
    index, text, starts = WordIndex(keys), "\n" + "\n".join(keys), _starts(keys)
    words = sorted({w for k in keys for w in k.split(" ") if w})
    prefixes = {w[:n] for w in words[::7] for n in (1, 2, 3, len(w))} | {"zzzz", "matri"}
    for prefix in prefixes:
        assert np.array_equal(index.rows_with(prefix), _lines_with(text, starts, prefix)), prefix
    assert len(index.rows_with("man")) > 50

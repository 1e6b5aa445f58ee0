"""Overview embeddings for a catalogue, computed once and cached on disk (a few minutes on 2 cores).

The cache key is the hash of the texts themselves, so a changed overview or a different
dataset never reuses stale vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from recommenders.data import FloatArray, IntArray
from recommenders.text_embedding import overview_text


def overview_texts(item_ids: IntArray, documents: Mapping[int, Mapping[str, Any]]) -> list[str]:
    """Each film's ``overview_text`` ('' for a film the documents do not hold)."""
    return [overview_text(documents.get(movie, {})) for movie in item_ids.tolist()]


def overview_embeddings(item_ids: IntArray, documents: Mapping[int, Mapping[str, Any]], cache_dir: Path,
                        console: Console | None = None) -> FloatArray:
    """One 384-d unit vector per item; zeros for items without an overview.

    Computed (and cached) for the whole catalogue, so any subset of it reuses the same file.
    """
    catalogue = np.array(sorted(documents), dtype=np.int64)
    vectors = _catalogue_embeddings(catalogue, documents, cache_dir, console)
    rows = np.searchsorted(catalogue, item_ids)
    known = (rows < len(catalogue)) & (catalogue[np.minimum(rows, len(catalogue) - 1)] == item_ids)
    out = np.zeros((len(item_ids), vectors.shape[1]), dtype=np.float32)
    out[known] = vectors[rows[known]]
    return out


def _catalogue_embeddings(item_ids: IntArray, documents: Mapping[int, Mapping[str, Any]], cache_dir: Path,
                          console: Console | None) -> FloatArray:
    texts = overview_texts(item_ids, documents)
    key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:24]
    path = cache_dir / "embeddings" / f"minilm-{key}.npy"
    if path.exists():
        return np.load(path)
    from recommenders.text_embedding import MiniLM

    model = MiniLM.load()
    # Each distinct text once: a release joined to TMDB by title may give many films the same overview.
    distinct, slot = np.unique(np.array(texts, dtype=object), return_inverse=True)
    present = [j for j, t in enumerate(distinct.tolist()) if t]
    encoded = np.zeros((len(distinct), 384), dtype=np.float32)
    with Progress(console=console or Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"embedding {len(present):,} overviews (once; cached)", total=len(present))
        encoded[present] = model.encode([distinct[j] for j in present], progress=lambda n: bar.advance(task, n))
    out = encoded[slot]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out

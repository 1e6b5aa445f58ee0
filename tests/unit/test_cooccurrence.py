"""Merging a batch's co-occurrence increments into capped per-movie rows (pure numpy)."""

from __future__ import annotations

import numpy as np

from online_models.cooccurrence import CoOccurrence, Pairs, merge_rows

EMPTY = Pairs(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))


def test_increments_add_to_stored_weights_and_new_pairs_join() -> None:
    stored = Pairs(np.array([1, 1, 2]), np.array([5, 6, 5]), np.array([1.0, 2.0, 3.0]))
    batch = Pairs(np.array([1, 3, 1]), np.array([5, 1, 5]), np.array([0.5, 1.0, 0.25]))
    merged = merge_rows(stored, batch, keep=10, prune_at=20)
    assert list(zip(merged.a.tolist(), merged.b.tolist(), merged.w.tolist(), strict=True)) == [
        (1, 5, 1.75), (1, 6, 2.0), (2, 5, 3.0), (3, 1, 1.0)]


def test_a_row_that_reaches_the_cap_keeps_its_heaviest_and_others_are_untouched() -> None:
    batch = Pairs(np.r_[np.full(6, 7), [8, 8]], np.r_[np.arange(10, 16), [1, 2]],
                  np.r_[[5.0, 1.0, 4.0, 1.0, 3.0, 2.0], [1.0, 1.0]])
    merged = merge_rows(EMPTY, batch, keep=3, prune_at=5)
    assert merged.b[merged.a == 7].tolist() == [10, 12, 14]  # weights 5, 4, 3, sorted by id
    assert merged.b[merged.a == 8].tolist() == [1, 2]
    # ties at the cut go to the lower id, so every worker prunes a row the same way
    tied = merge_rows(EMPTY, Pairs(np.full(4, 1), np.array([4, 3, 2, 1]), np.ones(4)), keep=2, prune_at=3)
    assert tied.b.tolist() == [1, 2]


def test_merging_batch_by_batch_equals_merging_everything_at_once_below_the_cap() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 30, 2000), rng.integers(0, 30, 2000)
    w = rng.random(2000)
    at_once = merge_rows(EMPTY, Pairs(a, b, w), keep=100, prune_at=128)
    stepwise = EMPTY
    for part in np.array_split(np.arange(2000), 7):
        stepwise = merge_rows(stepwise, Pairs(a[part], b[part], w[part]), keep=100, prune_at=128)
    assert np.array_equal(stepwise.a, at_once.a) and np.array_equal(stepwise.b, at_once.b)
    assert np.allclose(stepwise.w, at_once.w)


def _reference(rows: dict[int, dict[int, float]], batch: Pairs, keep: int, prune_at: int) -> None:
    """The definition, one pair at a time: sum, then cut each row at the cap to its heaviest."""
    for a, b, w in zip(batch.a.tolist(), batch.b.tolist(), batch.w.tolist(), strict=True):
        rows.setdefault(a, {})[b] = rows.get(a, {}).get(b, 0.0) + w
    for a, row in rows.items():
        if len(row) >= prune_at:
            rows[a] = dict(sorted(row.items(), key=lambda bw: (-bw[1], bw[0]))[:keep])


def test_batches_merged_into_capped_rows_match_the_definition() -> None:
    rng = np.random.default_rng(1)
    merged, rows = EMPTY, {}
    for _ in range(12):  # Zipf-popular neighbours, so rows reach the cap and are cut again and again
        batch = Pairs(rng.integers(0, 20, 3000), rng.zipf(1.5, 3000) % 300, rng.integers(1, 3, 3000).astype(float))
        merged = merge_rows(merged, batch, keep=40, prune_at=50)
        _reference(rows, batch, keep=40, prune_at=50)
    expected = sorted((a, b, w) for a, row in rows.items() for b, w in row.items())
    assert list(zip(merged.a.tolist(), merged.b.tolist(), strict=True)) == [(a, b) for a, b, _ in expected]
    assert np.allclose(merged.w, [w for _, _, w in expected])
    assert set(np.bincount(merged.a).tolist()) == {40}  # every row grew past the cap and was cut: pruning ran


def test_an_update_pairs_each_positive_event_with_the_films_before_it_as_the_definition_does() -> None:
    """``CoOccurrence.update`` against the definition, one event at a time: each positive event pairs its
    film with the person's latest ``history`` films, counting the batch's earlier events, both ways."""
    rng = np.random.default_rng(2)
    users, movies = rng.integers(0, 6, 400), rng.integers(0, 40, 400)
    weights = rng.choice([0.0, 1.0, 0.5], 400)
    stored = {0: [3, 2, 1], 4: [7]}
    model = CoOccurrence(history=5)
    update = model.update(users, movies, weights, stored)
    recent = {u: list(films) for u, films in stored.items()}
    pairs: dict[tuple[int, int], float] = {}
    counts: dict[int, float] = {}
    for user, movie, w in zip(users.tolist(), movies.tolist(), weights.tolist(), strict=True):
        if w <= 0:
            continue
        for other in recent.get(user, [])[:5]:
            if other != movie:
                pairs[(movie, other)] = pairs.get((movie, other), 0.0) + w
                pairs[(other, movie)] = pairs.get((other, movie), 0.0) + w
        recent[user] = [movie, *recent.get(user, [])]
        counts[movie] = counts.get(movie, 0.0) + w
    summed: dict[tuple[int, int], float] = {}
    for a, b, w in zip(update.pairs.a.tolist(), update.pairs.b.tolist(), update.pairs.w.tolist(), strict=True):
        summed[(a, b)] = summed.get((a, b), 0.0) + w
    assert summed.keys() == pairs.keys() and all(np.isclose(summed[k], pairs[k]) for k in pairs)
    assert dict(zip(update.counted.tolist(), update.counts.tolist(), strict=True)) == counts
    positive = {u for u, w in zip(users.tolist(), weights.tolist(), strict=True) if w > 0}
    assert update.recent == {u: recent[u][:5] for u in positive}

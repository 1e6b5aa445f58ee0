"""The learning worker's row cache: what it answers for rows it holds, lacks or was told are absent."""

from __future__ import annotations

from storage.row_cache import RowCache


def test_rows_are_kept_by_kind_and_absent_ones_read_as_empty() -> None:
    cache = RowCache()
    cache.put("u", [1, 2], [b"row1", b""])  # user 2 known to have no row
    cache.put("i", [1], [b"movie1"])
    assert cache.missing("u", [1, 2, 3]) == [3]
    assert cache.get("u", [1, 2, 3]) == [b"row1", b"", b""]
    assert cache.get("i", [1]) == [b"movie1"]  # the same id as a user, another row


def test_erased_people_leave_the_cache_and_their_films_stay() -> None:
    cache = RowCache()
    cache.put("u", [7, 8], [b"seven", b"eight"])
    cache.put("i", [7], [b"film"])
    cache.forget_users([7])
    assert cache.missing("u", [7, 8]) == [7]
    assert cache.get("i", [7]) == [b"film"]


def test_past_its_limit_the_cache_empties_its_rows_between_batches_and_keeps_offsets() -> None:
    cache = RowCache(limit=3)
    cache.applied[(0, "ratings", 0)] = 41
    cache.put("u", [1, 2, 3], [b"a", b"b", b"c"])
    cache.trim()
    assert cache.missing("u", [1, 2, 3]) == []  # at the limit: kept
    cache.put("u", [4], [b"d"])
    assert cache.missing("u", [1, 2, 3, 4]) == []  # put does not trim: a batch never loses its own rows
    assert cache.get("u", [4]) == [b"d"]
    cache.trim()
    assert cache.missing("u", [1, 2, 3, 4]) == [1, 2, 3, 4]
    assert cache.applied == {(0, "ratings", 0): 41}


def test_clear_forgets_rows_offsets_and_statistics() -> None:
    cache = RowCache()
    cache.put("u", [1], [b"a"])
    cache.applied[(0, "ratings", 0)] = 5
    cache.stats = (3.5, 10)
    cache.clear()
    assert cache.missing("u", [1]) == [1] and cache.applied == {} and cache.stats is None

"""The live ranker: the fold-in is implicit ALS's own user step, and reasons name the film that gave most."""

from __future__ import annotations

import numpy as np

from online_models.live_ranker import (
    BUCKETS,
    PARTS,
    LiveModel,
    anchors,
    blend_row,
    bucket,
    confidence,
    fold,
    standardised_parts,
    top,
)
from storage.live_model_store import dumps, loads


def model(factors: np.ndarray, genres: np.ndarray | None = None, prior: np.ndarray | None = None) -> LiveModel:
    n = len(factors)
    return LiveModel(np.arange(10, 10 + n, dtype=np.int64), factors.astype(np.float32), reg=0.5, alpha=3.0,
                     kept=np.zeros(0, np.int64), neighbours=np.zeros((0, 0), np.int32),
                     links=np.zeros((0, 0), np.float32), prior=np.zeros(n) if prior is None else prior,
                     genres=np.zeros((n, 1), np.uint8) if genres is None else genres, genre_names=["Animation"],
                     blend=np.tile([1.0, 0.0, 0.0, 0.0], (5, 1)))


def test_the_fold_in_minimises_the_implicit_als_loss_over_every_film() -> None:
    rng = np.random.default_rng(0)
    live = model(rng.standard_normal((40, 6)))
    rated, stars = np.array([3, 17, 25]), np.array([5.0, 4.0, 1.0])
    parts = standardised_parts(live, rated, stars, [])
    folded = fold(live, rated, stars, [])
    # the loss written out over every film: Σ c_i (p_i − x·y_i)² + λ|x|², c = 1 + α·conf on rated films
    y = live.factors.astype(np.float64)
    c, p = np.ones(40), np.zeros(40)
    c[rated], p[rated] = 1 + live.alpha * confidence(stars), 1.0
    x = np.linalg.solve((y.T * c) @ y + live.reg * np.eye(6), y.T @ (c * p))
    expected = y @ x
    expected = (expected - expected.mean()) / expected.std()
    assert np.allclose(parts[0], expected)
    assert np.isneginf(folded.score[rated]).all() and np.isfinite(np.delete(folded.score, rated)).all()


def test_a_request_ranks_as_the_weighted_standardised_parts_the_blend_was_learned_on() -> None:
    rng = np.random.default_rng(2)
    n = 60
    genres = (rng.random((n, 3)) < 0.3).astype(np.uint8)
    live = LiveModel(np.arange(n, dtype=np.int64), rng.standard_normal((n, 5)).astype(np.float32), reg=0.5,
                     alpha=3.0, kept=np.arange(0, n, 2), neighbours=rng.integers(0, n, (n // 2, 7)).astype(np.int32),
                     links=rng.random((n // 2, 7)).astype(np.float32), prior=rng.standard_normal(n), genres=genres,
                     genre_names=["Animation", "Drama", "Sci-Fi"],
                     blend=np.tile([1.0, 2.0, 0.5, 3.0, 1.5, 2.5, 0.7], (5, 1)))
    rated, stars = np.array([4, 9, 30, 31]), np.array([5.0, 2.0, 4.0, 3.5])
    for chosen in ([], ["Drama", "Sci-Fi"]):
        reference = live.blend[bucket(4)] @ standardised_parts(live, rated, stars, chosen)
        served = fold(live, rated, stars, chosen).score
        unrated = np.delete(np.arange(n), rated)
        shift = served[unrated] - reference[unrated]
        assert np.allclose(shift, shift[0])  # a constant apart: the same ranking
        assert np.isneginf(served[rated]).all()


def test_each_film_is_explained_by_the_rated_film_it_resembles() -> None:
    # films 0–4 lie along one direction, 5–9 along another: a film of each group is explained by
    # the rated film of its own group
    factors = np.zeros((10, 2))
    factors[:5, 0], factors[5:, 1] = np.linspace(1.0, 2.0, 5), np.linspace(1.0, 2.0, 5)
    live = model(factors)
    folded = fold(live, np.array([0, 5]), np.array([5.0, 5.0]), [])
    best = top(folded.score, 4)
    why = anchors(live, folded, best)
    assert set(best.tolist()) <= set(range(1, 5)) | set(range(6, 10))
    assert all((b < 5) == (w == 0) and (b >= 5) == (w == 5) for b, w in zip(best.tolist(), why.tolist(),
                                                                            strict=True))


def test_without_events_the_prior_and_chosen_genres_place_the_list_and_no_film_is_named() -> None:
    genres = np.zeros((10, 1), np.uint8)
    genres[[2, 7]] = 1
    live = model(np.zeros((10, 2)), genres, prior=np.linspace(1.0, 0.0, 10))
    live.blend[blend_row(0, True)] = 0.0
    live.blend[blend_row(0, True), [2, 3]] = [0.1, 1.0]  # genres weigh more than the prior
    folded = fold(live, np.zeros(0, np.int64), np.zeros(0), ["Animation"])
    best = top(folded.score, 3)
    assert best.tolist() == [2, 7, 0]
    assert (anchors(live, folded, best) == -1).all()
    assert top(fold(live, np.zeros(0, np.int64), np.zeros(0), []).score, 1).tolist() == [0]


def test_the_recent_parts_follow_the_latest_film_and_the_rest_ignore_the_order() -> None:
    # EASE links: film 0 leads to film 10, film 1 to film 11; the person rated both, in either order
    n = 12
    links = LiveModel(np.arange(n, dtype=np.int64), np.zeros((n, 2), np.float32), reg=0.5, alpha=3.0,
                      kept=np.array([0, 1]), neighbours=np.array([[10], [11]], np.int32),
                      links=np.ones((2, 1), np.float32), prior=np.zeros(n), genres=np.zeros((n, 1), np.uint8),
                      genre_names=["Drama"], blend=np.zeros((2 * (len(BUCKETS) + 1), len(PARTS))))
    stars = np.array([5.0, 5.0])
    links.blend[:, PARTS.index("ease, recent")] = 1.0
    assert top(fold(links, np.array([0, 1]), stars, []).score, 1).tolist() == [11]  # 1 was rated last
    assert top(fold(links, np.array([1, 0]), stars, []).score, 1).tolist() == [10]
    folded = fold(links, np.array([1, 0]), stars, [])
    assert anchors(links, folded, np.array([10, 11])).tolist() == [0, 1]
    links.blend[:, :] = 0.0
    links.blend[:, PARTS.index("ease")] = 1.0
    assert np.array_equal(fold(links, np.array([0, 1]), stars, []).score, fold(links, np.array([1, 0]), stars,
                                                                                  []).score)


def test_the_blend_changes_with_the_history_size() -> None:
    assert [bucket(n) for n in (0, 1, 2, 3, 9, 10, 29, 30, 1000)] == [0, 1, 1, 2, 2, 3, 3, 4, 4]
    # people who chose genres have rows of their own, after those of people who did not
    assert [blend_row(n, True) - blend_row(n, False) for n in (0, 5, 100)] == [len(BUCKETS) + 1] * 3
    assert len(PARTS) == 8


def test_a_version_published_before_the_next_links_ranks_as_it_did() -> None:
    # four parts, one blend row per bucket: the fifth part weighs nothing, both genre rows are the old row
    rng = np.random.default_rng(3)
    old = model(rng.standard_normal((20, 3)))
    old.blend = np.tile([1.0, 0.0, 0.5, 0.0], (len(BUCKETS) + 1, 1))
    again = LiveModel(old.ids, old.factors, old.reg, old.alpha, old.kept, old.neighbours, old.links, old.prior,
                      old.genres, old.genre_names, old.blend)
    assert again.blend.shape == (2 * (len(BUCKETS) + 1), len(PARTS)) and not again.blend[:, 4].any()
    rated, stars = np.array([2, 7]), np.array([5.0, 3.0])
    assert np.array_equal(fold(again, rated, stars, ["Animation"]).score, fold(again, rated, stars, []).score)


def test_the_next_links_learn_what_comes_after_where_ease_learns_what_goes_together() -> None:
    from recommenders.data import Ratings
    from recommenders.live_fit import ease_links, next_links

    # 60 people each rate film 0 first, film 1 next (5★ each), then four of ten other films
    rng = np.random.default_rng(0)
    users, items, times = [], [], []
    for u in range(60):
        for t, film in enumerate([0, 1, *rng.choice(np.arange(2, 12), 4, replace=False)]):
            users.append(u)
            items.append(film)
            times.append(t)
    n = len(users)
    data = Ratings(np.array(users), np.array(items), np.full(n, 5.0), np.array(times, dtype=np.int64), 60, 12)

    def links_of(fitted: tuple[np.ndarray, np.ndarray, np.ndarray], film: int) -> dict[int, float]:
        kept, neighbours, weights = fitted
        j = int(np.flatnonzero(kept == film)[0])
        return {int(f): float(w) for f, w in zip(neighbours[j], weights[j], strict=True) if w > 0}

    after = next_links(data, links=11)
    assert links_of(after, 0).get(1, 0.0) > 0 and 0 not in links_of(after, 1)  # 0 leads to 1, never back
    together = ease_links(data, links=11)
    assert links_of(together, 1).get(0, 0.0) > 0  # EASE: 0 goes with 1 either way


def test_similar_links_are_each_films_nearest_by_cosine_of_who_liked_it() -> None:
    from online_models.cooccurrence import CoOccurrence
    from recommenders.data import Ratings
    from recommenders.live_fit import similar_links

    rng = np.random.default_rng(3)
    liked = rng.random((80, 30)) < np.linspace(0.05, 0.6, 30)  # films liked by few to many
    users, items = np.nonzero(liked)
    stars = np.where(rng.random(len(users)) < 0.8, 5.0, 2.0)  # a 2★ is not liked: it counts for nothing
    data = Ratings(users, items, stars, np.zeros(len(users), np.int64), 80, 30)
    kept, neighbours, weights = similar_links(data, links=4, raw=29)  # raw = every film: cosine decides alone
    who = np.zeros((80, 30))
    who[users[stars >= 3.5], items[stars >= 3.5]] = 1.0
    together, own = who.T @ who, who.sum(axis=0)
    for j, film in enumerate(kept.tolist()):
        cosine = CoOccurrence.cosine(together[film], float(own[film]), own)
        cosine[film] = -1.0
        assert film not in neighbours[j]
        assert np.allclose(weights[j], cosine[neighbours[j]])  # each link weighs its cosine…
        assert np.allclose(np.sort(weights[j]), np.sort(cosine)[-4:])  # …and they are the 4 largest (ties either way)
    # re-ranked from the strongest co-occurrences only, as the movie page is. Film 0's 40 fans: 30 also
    # like film 1 (130 fans), 20 film 3 (220 fans), 10 film 2 (those 10 only). By cosine film 2 is
    # nearest (10/√(40·10) = 0.5 against 30/√(40·130) = 0.42), but it shares the fewest
    fans = {0: range(40), 1: [*range(30), *range(40, 140)], 2: range(10), 3: [*range(20), *range(140, 340)]}
    users = np.concatenate([np.fromiter(f, np.int64) for f in fans.values()])
    items = np.repeat(list(fans), [len(f) for f in fans.values()])
    four = Ratings(users, items, np.full(len(users), 5.0), np.zeros(len(users), np.int64), 340, 4)
    assert similar_links(four, links=1, raw=3)[1][0, 0] == 2
    assert similar_links(four, links=1, raw=2)[1][0, 0] == 1  # film 2 is not among film 0's 2 most shared


def test_a_published_model_reads_back_the_same() -> None:
    rng = np.random.default_rng(1)
    live = model(rng.standard_normal((12, 3)))
    again, meta = loads(dumps(live, {"ratings": 7}))
    assert meta == {"ratings": 7} and again.genre_names == live.genre_names
    rated, stars = np.array([1, 4]), np.array([4.0, 5.0])
    assert np.array_equal(fold(again, rated, stars, []).score, fold(live, rated, stars, []).score)


def test_each_bucket_is_learned_on_new_people_and_on_returning_people_of_its_size() -> None:
    from recommenders.data import Ratings
    from recommenders.live_fit import NEXT, bucket_cases

    # person 0 has 25 events, person 1 has 45; every one rated 5, in time order of the film's number
    users = np.repeat([0, 1], [25, 45])
    items = np.concatenate([np.arange(25), np.arange(45)])
    data = Ratings(users, items, np.full(70, 5.0), items.astype(np.int64), 2, 45)
    live = model(np.ones((45, 2)))
    third = bucket_cases(live, data, np.array([0, 1]), 3)  # 10–29 events: new people at 20, returning 10–29
    assert sorted(len(c.first) for c in third) == sorted([20, 20, 25 - NEXT])
    fourth = bucket_cases(live, data, np.array([0, 1]), 4)  # 30+: new people at 50 (none), returning 30+
    assert [len(c.first) for c in fourth] == [45 - NEXT]
    assert fourth[0].liked_later == set(range(45 - NEXT, 45))
    assert not bucket_cases(live, data, np.array([0, 1]), 0)[0].first.size  # no events: the prior alone


def test_a_person_who_named_genres_gets_half_a_row_of_them_until_their_history_speaks() -> None:
    from online_models.live_ranker import GENRE_QUOTA_UNTIL, with_genre_quota

    score = np.arange(20, 0, -1).astype(float)  # film 0 best
    in_genres = np.zeros(20)
    in_genres[[12, 15, 17, 18, 19]] = 1.0  # the chosen genres' films all rank low
    row = with_genre_quota(score, in_genres, 10)
    assert row.tolist() == [0, 1, 2, 3, 4, 12, 15, 17, 18, 19]  # half of them, in score order
    assert with_genre_quota(score, np.ones(20), 10).tolist() == list(range(10))  # already enough
    assert int(in_genres[with_genre_quota(score, in_genres, 4)].sum()) == 2
    assert GENRE_QUOTA_UNTIL > 5  # the onboarding's five picks are within it

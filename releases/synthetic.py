"""A synthetic MovieLens release of any size, in the csv or dat layout, for measuring at sizes this
machine cannot download (ml-25m, ml-1m: no internet here beyond the package registries).

Shaped like the real files where it matters to the pipeline:

- movie popularity is Zipf-like (weight ``1 / (rank + 10) ** 1.1``: in ml-latest-small the top 1 % of
  movies hold about 20 % of the ratings), over ids shuffled so popular films are not all low ids;
- which films a person rates follows their taste as well as popularity: each film belongs to a taste
  group, one of ``SUBGROUPS`` within one of the genres it lists; each person has a share of interest
  in each genre (Dirichlet, sparse: most people care for a few) and in each group within it, and
  ``TASTE_SHARE`` of their films are drawn from a group picked by that share, by popularity within it.
  As on real releases, where what people watch says who they are: drawn by
  popularity alone, every person's films come from one distribution and no ranker can beat
  most-popular at guessing them;
- ratings per user are log-normal with a floor of 20 (GroupLens keeps users with at least 20);
- a rating is ``3.5 + user bias + movie bias + a rank-8 taste + genre affinity + noise``, rounded to
  the release's scale (half stars for csv, whole stars for dat as in ml-1m), so collaborative filtering has something to
  learn and the mean and spread are MovieLens' (3.5, about 1.0);
- each user rates within an activity window somewhere in the release's span, timestamps in order.

Titles and genres are those of a real release (``template``) reused in turn ("Alien (1979)", then
"Alien: Part 2 (1979)" …), so search, the TMDB join and the app look like the real thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: (users, movies, ratings, layout) of the releases a synthetic one can imitate
LIKE = {"ml-100k": (943, 1682, 100_000, "dat"), "ml-1m": (6040, 3706, 1_000_209, "dat"),
        "ml-10m": (69_878, 10_677, 10_000_054, "dat"), "ml-25m": (162_541, 59_047, 25_000_095, "csv")}
SPAN = (789_652_009, 1_574_327_703)  # ml-25m's first and last timestamps (1995-01-09, 2019-11-21)
CHUNK = 2_000_000
TASTE_SHARE = 0.9  # of a person's films, those chosen by taste (the rest by popularity alone)
DRAW_ROUNDS = 6
SUBGROUPS = 4  # taste groups per genre: two fans of a genre need not like the same films
TASTE_CONCENTRATION = 0.3  # Dirichlet α per genre, times the genre's share of films × genres: small = few genres each
AFFINITY = 0.35  # stars added for a genre the person favours (log-ratio of their share to the catalogue's, clipped)
GENDERS, AGES, OCCUPATIONS = np.array(["F", "M"]), np.array([1, 18, 25, 35, 45, 50, 56]), 21


@dataclass(frozen=True)
class Generated:
    folder: Path
    users: int
    movies: int
    ratings: int


def _titles(template: pd.DataFrame, movies: int) -> tuple[list[str], list[str]]:
    """``movies`` titles with years and genre strings, the template's reused in turn."""
    raw = template["title"].tolist()
    genres = template["genres"].tolist()
    titles, kinds = [], []
    for i in range(movies):
        base, cycle = raw[i % len(raw)], i // len(raw)
        if cycle:
            name, _, year = base.rpartition(" (")
            base = f"{name}: Part {cycle + 1} ({year}" if year.endswith(")") else f"{base}: Part {cycle + 1}"
        titles.append(base)
        kinds.append(genres[i % len(genres)])
    return titles, kinds


def _taste_genres(rng: np.random.Generator, kinds: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each film's genre for taste (one of those it lists, at random) and each genre's share of films."""
    lists = [kind.split("|") for kind in kinds]
    names = sorted({g for listed in lists for g in listed})
    index = {g: j for j, g in enumerate(names)}
    picks = rng.random(len(lists))
    genre = np.array([index[listed[int(x * len(listed))]] for listed, x in zip(lists, picks, strict=True)])
    return genre, np.bincount(genre, minlength=len(names)) / len(genre)


def _by_taste(rng: np.random.Generator, users: np.ndarray, taste: np.ndarray, group: np.ndarray, p: np.ndarray
              ) -> np.ndarray:
    """A film for each of ``users``: a taste group drawn from the person's ``taste``, then a film of that
    group by popularity ``p``."""
    width = taste.shape[1]
    # every person's cumulative shares in one increasing array (person u's within [u, u + 1]): one
    # search per draw, no (draws × groups) matrix
    stacked = (np.cumsum(taste, axis=1) + np.arange(len(taste))[:, None]).ravel()
    at = np.searchsorted(stacked, users + rng.random(len(users)), side="right")
    picked = np.clip(at - users * width, 0, width - 1)
    films = np.empty(len(users), dtype=np.int64)
    for g in np.unique(picked):
        members = np.flatnonzero(group == g)
        cdf = np.cumsum(p[members])
        at = np.flatnonzero(picked == g)
        films[at] = members[np.minimum(np.searchsorted(cdf, rng.random(len(at)) * cdf[-1]), len(members) - 1)]
    return films


def _distinct_films(rng: np.random.Generator, first: int, wanted: np.ndarray, p: np.ndarray,
                    group_interest: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(user, film) pairs: users ``first, first + 1, …`` each get ``wanted`` distinct films, drawn one
    after another (``TASTE_SHARE`` by taste, the rest by popularity) and kept in the order first drawn,
    so a film's chance is its draw probability, not flattened by duplicates. Users still short after a
    round draw again (at most ``DRAW_ROUNDS``: a heavy user of a narrow taste may end a few short)."""
    movies, people = len(p), np.arange(first, first + len(wanted))
    keys, need = np.zeros(0, np.int64), wanted
    for _ in range(DRAW_ROUNDS):
        block = np.repeat(people, 2 * need)
        chosen = rng.choice(movies, size=len(block), p=p)
        tasteful = rng.random(len(block)) < TASTE_SHARE
        chosen[tasteful] = _by_taste(rng, block[tasteful], group_interest, group, p)
        keys = np.concatenate([keys, block.astype(np.int64) * movies + chosen])
        have = np.bincount(np.unique(keys) // movies - first, minlength=len(wanted))
        need = np.maximum(wanted - have, 0)
        if not need.any():
            break
    distinct, drawn_at = np.unique(keys, return_index=True)
    distinct = distinct[np.lexsort((drawn_at, distinct // movies))]  # each user's films in the order first drawn
    u = distinct // movies
    rank = np.arange(len(u)) - np.searchsorted(u, u)
    keep = rank < wanted[u - first]
    return u[keep], distinct[keep] % movies


def _counts(rng: np.random.Generator, users: int, movies: int, ratings: int) -> np.ndarray:
    raw = rng.lognormal(0.0, 1.1, users)
    counts = np.maximum(20, np.round(raw / raw.sum() * ratings)).astype(np.int64)
    return np.minimum(counts, movies // 2)  # the floor of 20 adds a little over ``ratings``: ml-1m's shape too


def generate(folder: Path, users: int, movies: int, ratings: int, layout: str, template: pd.DataFrame,
             seed: int = 0, progress: Callable[[int], None] | None = None) -> Generated:
    """Write the release into ``folder``; returns what it holds (duplicate pairs are dropped, so a
    few fewer ratings than asked)."""
    if layout not in ("csv", "dat"):
        raise ValueError(f"layout must be 'csv' or 'dat', not {layout!r}")
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.arange(1, movies + 1)
    titles, kinds = _titles(template, movies)
    weight = 1.0 / (np.arange(movies) + 10.0) ** 1.1
    popularity = rng.permutation(movies)  # movie index -> popularity rank
    # a fifth of the draws uniform: a heavy user (up to half the catalogue) still finds enough films
    p = 0.8 * weight[popularity] / weight.sum() + 0.2 / movies
    genre, genre_share = _taste_genres(rng, kinds)
    group = genre * SUBGROUPS + rng.integers(0, SUBGROUPS, movies)
    interest = rng.dirichlet(TASTE_CONCENTRATION * genre_share * len(genre_share) + 1e-3, users)  # (users, genres)
    within = rng.dirichlet(np.full(SUBGROUPS, 0.5), (users, len(genre_share)))  # (users, genres, groups)
    group_interest = (interest[:, :, None] * within).reshape(users, -1) + 1e-12
    group_interest[:, np.bincount(group, minlength=group_interest.shape[1]) == 0] = 0.0  # groups with no film
    group_interest /= group_interest.sum(axis=1, keepdims=True)
    taste_u = rng.normal(0, 0.35, (users, 8)).astype(np.float32)
    taste_m = rng.normal(0, 0.35, (movies, 8)).astype(np.float32)
    bias_u, bias_m = rng.normal(0, 0.45, users), rng.normal(0, 0.5, movies) - 0.3 * (popularity > movies / 2)
    counts = _counts(rng, users, movies, ratings)
    span = SPAN[1] - SPAN[0]
    starts = rng.integers(SPAN[0], SPAN[1] - span // 20, users)
    lengths = np.minimum(rng.lognormal(16.0, 1.5, users), SPAN[1] - starts)  # seconds each user stays active

    rating_file = folder / ("ratings.csv" if layout == "csv" else "ratings.dat")
    written = 0
    with rating_file.open("w") as out:
        if layout == "csv":
            out.write("userId,movieId,rating,timestamp\n")
        first = 0
        while first < users:  # a block of users at a time: a user's ratings stay together, in time order
            last = min(users, first + max(1, int(CHUNK / max(1, counts[first:].mean()))))
            wanted = counts[first:last]
            u, m = _distinct_films(rng, first, wanted, p, group_interest, group)
            affinity = AFFINITY * np.clip(np.log(interest[u, genre[m]] / genre_share[genre[m]] + 1e-9), -1.0, 1.0)
            score = 3.5 + bias_u[u] + bias_m[m] + np.einsum("ij,ij->i", taste_u[u], taste_m[m]) + affinity + \
                rng.normal(0, 0.6, len(u))
            stars = np.clip(np.round(score * 2) / 2, 0.5, 5.0) if layout == "csv" else np.clip(np.round(score), 1, 5)
            times = (starts[u] + rng.random(len(u)) * lengths[u]).astype(np.int64)
            order = np.lexsort((times, u))
            frame = pd.DataFrame({"userId": u[order] + 1, "movieId": ids[m[order]], "rating": stars[order],
                                  "timestamp": times[order]})
            if layout == "csv":
                frame.to_csv(out, header=False, index=False, float_format="%.1f")
            else:
                frame["rating"] = frame["rating"].astype(np.int64)
                out.write("\n".join("::".join(map(str, row)) for row in frame.itertuples(index=False)) + "\n")
            written += len(frame)
            if progress:
                progress(len(frame))
            first = last

    movie_frame = pd.DataFrame({"movieId": ids, "title": titles, "genres": kinds})
    if layout == "csv":
        movie_frame.to_csv(folder / "movies.csv", index=False)
    else:
        (folder / "movies.dat").write_text("".join(f"{i}::{t}::{g}\n" for i, t, g in movie_frame.itertuples(
            index=False)), encoding="latin-1", errors="replace")
        genders = rng.choice(GENDERS, users, p=[0.28, 0.72])
        ages, jobs = rng.choice(AGES, users), rng.integers(0, OCCUPATIONS, users)
        zips = rng.integers(1000, 99999, users)
        (folder / "users.dat").write_text("".join(f"{u + 1}::{g}::{a}::{j}::{z:05d}\n" for u, g, a, j, z in zip(
            range(users), genders, ages, jobs, zips, strict=True)))
    return Generated(folder, users, movies, written)

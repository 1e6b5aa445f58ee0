"""Simulated people who react to what they are shown, through the API as a platform's app would.

Each person has a hidden taste the system never sees, fitted from a real release: two truncated SVDs
of its rating matrix, one of who rated what (what a person would choose to watch: popularity and
taste together) and one of the stars about each rater's mean (how much they would like it). A person
is a real rater's taste plus noise, with that rater's activity (how often they come, and how readily
they take a film: people who rate a lot take more) and mean.

A session (lengths drawn from the release's own: a rater's ratings split where an hour passes without
one) is a few actions a think-time apart: fetch the list (``GET /api/users/{id}/recommendations``),
browse a genre's most rated (``GET /api/movies?genre=``), or search a popular title's word. The person
looks down what they were shown (each position less often than the one above) and takes a film with a
probability rising steeply with where it stands in their own hidden ranking of the catalogue; a taken
film is rated (stars from the hidden taste, never copied from the release) or watched. The events go
to ``POST /api/events/batch`` with the platform's service key. A better list is therefore taken more
often: the take rate per list shown is what an experiment between two rankers measures.

Sessions start open-loop (Poisson arrivals at ``rate`` a second) whatever the API's latency; a person
is picked in proportion to their rater's activity. Pure numpy for the people, ``cinestream_client`` for
the HTTP; the run is bounded by its duration.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import svds

from cinestream_client import ApiError, Client

SESSION_GAP_S = 3600  # a rater's ratings more than an hour apart belong to different sessions
LONGEST_SESSION = 40  # events; MovieLens raters enter hundreds in one sitting when they sign up
EXAMINE = 0.85  # the chance of looking at the next position of what was shown
TAKE_MAX = 0.5  # the chance of taking the film they would rank first of the whole catalogue
TAKE_SHARPNESS = 30.0  # the chance falls as (hidden percentile) ** this: 0.99 → 0.37, 0.95 → 0.11, 0.9 → 0.02
WATCH_SHARE = 1 / 3
RETRIES = 3  # a refused call asked again, as an app would, this many times


@dataclass(frozen=True)
class Population:
    """The hidden side of the simulated people, and the release's distributions they follow."""

    movies: np.ndarray  # the release's movie ids, the columns of the item tastes
    popularity: np.ndarray  # each movie's share of the release's ratings
    choice_items: np.ndarray  # (movies, k): who-rated-what factors
    star_items: np.ndarray  # (movies, k): stars-about-the-mean factors, scaled to the release's spread
    choice: np.ndarray  # (people, k)
    stars: np.ndarray  # (people, k)
    mean: np.ndarray  # (people,): their rater's mean stars
    activity: np.ndarray  # (people,): share of sessions, from their rater's number of ratings
    appetite: np.ndarray  # (people,): how readily they take a film, their rater's ratings over the median
    session_lengths: np.ndarray  # the release's sessions, in events
    genres: dict[str, float] = field(default_factory=dict)  # genre → share of ratings

    def percentiles(self, person: int) -> np.ndarray:
        """Where each movie stands in this person's hidden ranking of the catalogue (1: their first)."""
        scores = self.choice_items @ self.choice[person]
        order = np.argsort(scores)
        out = np.empty(len(scores))
        out[order] = np.arange(1, len(scores) + 1) / len(scores)
        return out

    def stars_for(self, person: int, columns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The stars this person gives these movies (half stars, 0.5–5), with a rater's day-to-day noise."""
        raw = self.mean[person] + self.star_items[columns] @ self.stars[person] + rng.normal(0, 0.4, len(columns))
        return np.clip(np.round(raw * 2) / 2, 0.5, 5.0)


def sessions_of(ratings: pd.DataFrame) -> np.ndarray:
    """The release's session lengths: each rater's ratings split where ``SESSION_GAP_S`` passes."""
    frame = ratings.sort_values(["userId", "timestamp"], kind="stable")
    users, times = frame["userId"].to_numpy(), frame["timestamp"].to_numpy()
    starts = np.r_[True, (users[1:] != users[:-1]) | (np.diff(times) > SESSION_GAP_S)]
    lengths = np.diff(np.r_[np.flatnonzero(starts), len(frame)])
    return np.minimum(lengths, LONGEST_SESSION)


def population(ratings: pd.DataFrame, people: int, rng: np.random.Generator, factors: int = 16,
               noise: float = 0.3, genres: dict[int, list[str]] | None = None) -> Population:
    """``people`` hidden tastes from ``ratings`` (columns userId, movieId, rating, timestamp): each a
    rater drawn at random, their factors moved by ``noise`` of the factors' spread."""
    users, user_rows = np.unique(ratings["userId"].to_numpy(), return_inverse=True)
    movies, movie_cols = np.unique(ratings["movieId"].to_numpy(), return_inverse=True)
    stars = ratings["rating"].to_numpy(dtype=np.float64)
    counts = np.bincount(user_rows, minlength=len(users))
    means = np.bincount(user_rows, weights=stars, minlength=len(users)) / counts
    shape = (len(users), len(movies))
    k = min(factors, min(shape) - 1)

    def factorised(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, s, vt = svds(csr_matrix((values, (user_rows, movie_cols)), shape=shape), k=k, random_state=0)
        root = np.sqrt(s)
        return u * root, vt.T * root

    choice_users, choice_items = factorised(np.ones(len(stars)))
    residual = stars - means[user_rows]
    star_users, star_items = factorised(residual)
    # a truncated SVD of a mostly empty matrix shrinks every prediction towards the mean: scaled so that
    # on the ratings given, the predicted spread about each rater's mean is the release's own
    fitted = np.einsum("ij,ij->i", star_users[user_rows], star_items[movie_cols])
    star_items = star_items * (residual.std() / max(fitted.std(), 1e-9))
    raters = rng.integers(0, len(users), people)

    def jittered(factors_: np.ndarray) -> np.ndarray:
        return factors_[raters] + rng.normal(0, noise * factors_.std(axis=0), (people, factors_.shape[1]))

    popularity = np.bincount(movie_cols, minlength=len(movies)) / len(stars)
    genre_share: Counter[str] = Counter()
    for movie, share in zip(movies.tolist(), popularity.tolist(), strict=True):
        for genre in (genres or {}).get(movie, []):
            genre_share[genre] += share
    return Population(movies=movies, popularity=popularity, choice_items=choice_items, star_items=star_items,
                      choice=jittered(choice_users), stars=jittered(star_users), mean=means[raters],
                      activity=counts[raters] / counts[raters].sum(),
                      appetite=np.clip(counts[raters] / np.median(counts), 0.1, 1 / TAKE_MAX),
                      session_lengths=sessions_of(ratings),
                      genres=dict(genre_share))


def taken(shown: np.ndarray, percentiles: np.ndarray, rng: np.random.Generator, appetite: float = 1.0
          ) -> np.ndarray:
    """Which of the shown columns (in the order shown) the person takes: they look at each position with
    ``EXAMINE`` times the chance of the one above, and take what they look at with a chance rising
    steeply with its hidden percentile, times their ``appetite`` (people who rate a lot take more)."""
    looked = rng.random(len(shown)) < EXAMINE ** np.arange(len(shown))
    take = rng.random(len(shown)) < appetite * TAKE_MAX * percentiles[shown] ** TAKE_SHARPNESS
    return shown[looked & take]


@dataclass
class Tally:
    """What the run did, by action: lists shown, films taken from them, answers and their latency."""

    sessions: int = 0
    late_sessions: int = 0  # started more than a second after their scheduled time: the driver fell behind
    shown: Counter[str] = field(default_factory=Counter)
    taken: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)  # accepted, duplicates, rejected
    retries: Counter[str] = field(default_factory=Counter)  # "list 503": asked again after Retry-After
    errors: Counter[str] = field(default_factory=Counter)  # "list 503 unavailable": given up
    latency_ms: dict[str, list[float]] = field(default_factory=dict)

    def take_rate(self, action: str) -> float:
        return self.taken[action] / max(self.shown[action], 1)

    def percentile_ms(self, action: str, q: float) -> float:
        values = self.latency_ms.get(action)
        return float(np.percentile(values, q)) if values else float("nan")


class Simulation:
    """The people of a ``Population`` using a running API, with a platform's service key."""

    def __init__(self, client: Client, people: Population, first_user: int, seed: int = 0,
                 think_s: float = 1.0, k: int = 10, titles: dict[int, str] | None = None) -> None:
        self.client, self.people, self.first_user, self.think_s, self.k = client, people, first_user, think_s, k
        self.rng = np.random.default_rng(seed)
        self.column = {int(m): i for i, m in enumerate(people.movies.tolist())}
        self.words = _search_words(people, titles or {})
        self.run = uuid.uuid4().hex[:8]
        self.tally = Tally()
        self._event = 0

    async def _timed(self, action: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """One call as an app makes it: refused with a ``Retry-After`` (the API past capacity, a quota),
        it waits that long and asks again, ``RETRIES`` times; the latency is the last attempt's."""
        for attempt in range(RETRIES + 1):
            started = time.perf_counter()
            try:
                answer = await call()
            except ApiError as error:
                if error.retry_after is not None and attempt < RETRIES:
                    self.tally.retries[f"{action} {error.status}"] += 1
                    await asyncio.sleep(error.retry_after * (1 + self.rng.random()))  # spread out, not in step
                    continue
                self.tally.errors[f"{action} {error.status} {error.code}"] += 1
                return None
            self.tally.latency_ms.setdefault(action, []).append((time.perf_counter() - started) * 1e3)
            return answer
        return None

    async def _shown(self, person: int, action: str) -> np.ndarray:
        """One action's films, as catalogue columns in the order shown."""
        user = self.first_user + person
        if action == "list":
            answer = await self._timed(action, lambda: self.client.recommendations(user, self.k))
            ids = [item["movieId"] for item in answer["items"]] if answer else []
        elif action == "browse":
            genre = self.rng.choice(list(self.people.genres), p=_shares(self.people.genres))
            answer = await self._timed(action, lambda: self.client.search(genre=genre, limit=self.k))
            ids = [page["movieId"] for page in answer or []]
        else:
            word = str(self.rng.choice(self.words))
            answer = await self._timed(action, lambda: self.client.search(word, limit=self.k))
            ids = [page["movieId"] for page in answer or []]
        return np.array([self.column[m] for m in ids if m in self.column], dtype=np.int64)

    def _events(self, person: int, columns: np.ndarray) -> list[dict[str, Any]]:
        user, now = self.first_user + person, time.time()
        stars = self.people.stars_for(person, columns, self.rng)
        watch = self.rng.random(len(columns)) < WATCH_SHARE
        out: list[dict[str, Any]] = []
        for column, rating, is_watch in zip(columns.tolist(), stars.tolist(), watch.tolist(), strict=True):
            self._event += 1
            base = {"event_id": f"sim-{self.run}-{self._event}", "user_id": user,
                    "movie_id": int(self.people.movies[column]), "timestamp": now}
            if is_watch:  # liked films are watched to the end; the rest abandoned part way
                completion = float(np.clip((rating - 0.5) / 4 + self.rng.normal(0, 0.1), 0.02, 1.0))
                out.append({**base, "type": "watch", "seconds_watched": round(completion * 6000, 1),
                            "completed": completion > 0.9})
            else:
                out.append({**base, "type": "rating", "rating": rating})
        return out

    async def session(self, person: int) -> None:
        """Actions a think-time apart until the session's events are spent (or a few actions gave none)."""
        self.tally.sessions += 1
        budget = int(self.rng.choice(self.people.session_lengths))
        percentiles = self.people.percentiles(person)
        seen: set[int] = set()
        for _ in range(budget + 3):
            action = str(self.rng.choice(["list", "browse", "search"], p=[0.7, 0.2, 0.1]))
            shown = np.array([c for c in (await self._shown(person, action)).tolist() if c not in seen],
                             dtype=np.int64)
            self.tally.shown[action] += len(shown)
            chosen = taken(shown, percentiles, self.rng, float(self.people.appetite[person]))[:budget]
            self.tally.taken[action] += len(chosen)
            if len(chosen):
                seen.update(chosen.tolist())
                events = self._events(person, chosen)  # the same ids when sent again: stored once
                answer = await self._timed("post", functools.partial(self.client.post_events, events))
                if answer:
                    self.tally.events.update(accepted=answer["accepted"], duplicates=answer["duplicates"],
                                             rejected=answer["rejected"])
                budget -= len(chosen)
            if budget <= 0:
                return
            await asyncio.sleep(self.rng.exponential(self.think_s))

    async def run_for(self, duration_s: float, rate: float,
                      progress: Callable[[float, Tally], None] | None = None) -> Tally:
        """Sessions started open-loop at ``rate`` a second for ``duration_s``; then the last ones finish."""
        started = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        due = 0.0
        while due < duration_s:
            wait = due - (time.perf_counter() - started)
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -1:
                self.tally.late_sessions += 1
            person = int(self.rng.choice(len(self.people.activity), p=self.people.activity))
            task = asyncio.create_task(self.session(person))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if progress:
                progress(min(time.perf_counter() - started, duration_s), self.tally)
            due += self.rng.exponential(1 / rate)
        if tasks:
            await asyncio.gather(*tasks)
        return self.tally


def _shares(weights: dict[str, float]) -> np.ndarray:
    values = np.array(list(weights.values()))
    return values / values.sum()


def _search_words(people: Population, titles: dict[int, str]) -> list[str]:
    """Words people would type: the first long word of the 200 most rated titles."""
    words = []
    for column in np.argsort(-people.popularity)[:200].tolist():
        title = titles.get(int(people.movies[column]), "")
        long = [w for w in title.replace(",", " ").split() if len(w) >= 4 and w.isalpha()]
        if long:
            words.append(long[0])
    return words or ["star", "love", "man"]

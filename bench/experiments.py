"""A/B against team-draft interleaving, with simulated people, in process: how often each finds a
difference that is not there (A/A), how often it finds one that is (A/B), and how many people it needs.

The people are ``simulators.people``'s, fitted from a real release (each arrival a different person, one
list each). The rankers are known: **personal**, each person's hidden ranking of the catalogue blurred by
noise (a model that knows them imperfectly), and **most rated**, the same ten films for everyone. Their
true take rates are measured first on a large sample, so "the better one" is a fact, not a guess. Each run
streams people until ``online_models.experiments.SequentialTest``'s always-valid p-value falls under α
(looked at every ``--look`` people) or ``--max-people`` have come: A/B shows each person their arm's list
(by ``arm_of``) and compares takes per person; interleaving shows each person the two lists merged by
team draft and tests their preference. Both read the same arrivals.

    python -m bench.experiments [--runs 20] [--dataset ml-latest-small]

This measures the statistics only: the serving path's assignment and exposure logging are not in it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from bench import record
from core.settings import get_settings
from online_models.experiments import SequentialTest, arm_of, preference, team_draft
from simulators.people import Population, population, taken
from simulators.replay import release_ratings

K = 10


@dataclass(frozen=True)
class Pool:
    """Precomputed people: for each, the films both rankers would show and where those films stand in
    the person's hidden ranking (all ``taken`` needs)."""

    personal: np.ndarray  # (people, K) catalogue columns, the personal ranker's list
    popular: np.ndarray  # (K,) the most rated
    films: np.ndarray  # (people, 2K) personal then popular columns
    percentiles: np.ndarray  # (people, 2K) their hidden percentiles
    appetite: np.ndarray  # (people,)


def pool(people: Population, noise: float, rng: np.random.Generator, chunk: int = 200) -> Pool:
    """Every person's two lists and the hidden percentiles of the films on them, in chunks (a person's
    percentile of a film is the share of the catalogue they score lower)."""
    n = len(people.choice)
    popular = np.argsort(-people.popularity)[:K]
    personal = np.empty((n, K), dtype=np.int64)
    percentiles = np.empty((n, 2 * K))
    for start in range(0, n, chunk):
        scores = people.choice[start:start + chunk] @ people.choice_items.T
        blurred = scores + rng.normal(0, noise * scores.std(axis=1, keepdims=True), scores.shape)
        top = np.argpartition(-blurred, K, axis=1)[:, :K]
        order = np.take_along_axis(blurred, top, axis=1).argsort(axis=1)[:, ::-1]
        personal[start:start + chunk] = np.take_along_axis(top, order, axis=1)
        films = np.hstack([personal[start:start + chunk], np.broadcast_to(popular, (len(scores), K))])
        own = np.take_along_axis(scores, films, axis=1)
        percentiles[start:start + chunk] = (scores[:, None, :] < own[:, :, None]).sum(axis=2) / scores.shape[1]
    films = np.hstack([personal, np.broadcast_to(popular, (n, K))])
    return Pool(personal, popular, films, percentiles, people.appetite)


def take_counts(p: Pool, person: int, shown: list[int], rng: np.random.Generator) -> list[bool]:
    """Which of ``shown`` (catalogue columns) this person takes."""
    where = {int(c): i for i, c in enumerate(p.films[person])}
    local = np.array([where[c] for c in shown], dtype=np.int64)
    chosen = set(taken(local, p.percentiles[person], rng, float(p.appetite[person])).tolist())
    return [i in chosen for i in local.tolist()]


@dataclass
class Outcome:
    decided: bool
    right: bool  # the decision named the truly better ranker (A/A: never right)
    people: int


def run(p: Pool, lists: tuple[Callable[[int], list[int]], Callable[[int], list[int]]], better: int | None,
        order: np.ndarray, name: str, rng: np.random.Generator, look: int, alpha: float, effect: float
        ) -> tuple[Outcome, Outcome]:
    """One experiment on the people in ``order``: (A/B's outcome, interleaving's)."""
    ab, inter = SequentialTest.two_sample(effect), SequentialTest.one_sample(effect)
    arms = arm_of(order, name)
    done: dict[str, Outcome] = {}
    for start in range(0, len(order), look):
        batch = order[start:start + look]
        takes: tuple[list[float], list[float]] = ([], [])
        verdicts = []
        for person, arm in zip(batch.tolist(), arms[start:start + look].tolist(), strict=True):
            takes[arm].append(sum(take_counts(p, person, lists[arm](person), rng)))
            films, team = team_draft(lists[0](person), lists[1](person), K, rng)
            verdicts.append(preference(team, take_counts(p, person, films, rng)))
        seen = start + len(batch)
        if "ab" not in done:
            ab.arms[0].add(takes[0])
            ab.arms[1].add(takes[1])
            if ab.look() < alpha:
                done["ab"] = Outcome(True, better is not None and (ab.estimate()[0] > 0) == (better == 0), seen)
        if "inter" not in done:
            inter.arms[0].add(verdicts)
            if inter.look() < alpha:
                done["inter"] = Outcome(True, better is not None and (inter.estimate()[0] > 0) == (better == 0),
                                        seen)
        if len(done) == 2:
            break
    missing = Outcome(False, False, len(order))
    return done.get("ab", missing), done.get("inter", missing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--runs", type=int, default=20, help="A/A runs, and as many A/B runs")
    parser.add_argument("--people", type=int, default=100_000, help="simulated people (each arrives once a run)")
    parser.add_argument("--max-people", type=int, default=100_000, help="a run ends undecided after this many")
    parser.add_argument("--look", type=int, default=100, help="people between two looks at the p-value")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--effect", type=float, default=0.1, help="the mixing prior's τ, in standard deviations")
    parser.add_argument("--noise", type=float, default=3.0, help="the personal ranker's blur, in score deviations")
    parser.add_argument("--seed", type=int, default=0)
    record.add_option(parser)
    args = parser.parse_args()
    console = Console()
    rng = np.random.default_rng(args.seed)
    with console.status(f"fitting {args.people:,} people from {args.dataset} and their lists…"):
        people = population(release_ratings(get_settings(), args.dataset), args.people, rng)
        p = pool(people, args.noise, rng)
    personal: Callable[[int], list[int]] = lambda person: p.personal[person].tolist()  # noqa: E731
    popular: Callable[[int], list[int]] = lambda person: p.popular.tolist()  # noqa: E731
    truth = {name: float(np.mean([sum(take_counts(p, q, ranker(q), rng)) for q in range(len(p.personal))]))
             for name, ranker in (("personal", personal), ("most rated", popular))}
    console.print("true films taken per list, every person once: "
                  + ", ".join(f"{name} {rate:.4f}" for name, rate in truth.items()))
    better = 0 if truth["personal"] > truth["most rated"] else 1
    results: dict[str, list[tuple[Outcome, Outcome]]] = {"A/A": [], "A/B": []}
    for kind, lists in (("A/A", (personal, personal)), ("A/B", (personal, popular))):
        for r in track(range(args.runs), description=f"{kind} runs", console=console):
            order = rng.permutation(len(p.personal))[:args.max_people]
            results[kind].append(run(p, lists, None if kind == "A/A" else better, order, f"{kind}-{r}", rng,
                                     args.look, args.alpha, args.effect))
    table = Table(title=f"{args.runs} runs each, α = {args.alpha}, looked at every {args.look} people, "
                        f"at most {args.max_people:,} people a run")
    for column in ("", "A/A: false positives", "A/B: found (right way)", "A/B: median people",
                   "A/B: people, 80th percentile"):
        table.add_column(column, justify="right")
    figures: dict[str, float | str] = {"true take rate, personal": truth["personal"],
                                       "true take rate, most rated": truth["most rated"]}
    medians = {}
    for i, method in enumerate(("A/B", "interleaving")):
        false = sum(o[i].decided for o in results["A/A"])
        found = [o[i] for o in results["A/B"]]
        needed = np.array([o.people for o in found])  # undecided runs count as the whole run
        medians[method] = float(np.median(needed))
        table.add_row(method, f"{false} of {args.runs}", f"{sum(o.right for o in found)} of {args.runs}",
                      f"{medians[method]:,.0f}", f"{np.percentile(needed, 80):,.0f}")
        figures |= {f"{method}: A/A false positives": false / args.runs,
                    f"{method}: A/B power": sum(o.right for o in found) / args.runs,
                    f"{method}: median people": medians[method]}
    console.print(table)
    ratio = medians["A/B"] / medians["interleaving"]
    console.print(f"A/B needed {ratio:.1f}× the people interleaving needed (medians)")
    if args.record:
        record.write(f"experiments-{args.dataset}", f"A/B against team-draft interleaving, simulated people of "
                                                    f"{args.dataset}, personal (blurred) against most rated",
                     figures | {"A/B people / interleaving people": ratio},
                     f"{args.runs} A/A and {args.runs} A/B runs; mSPRT always-valid p-value at α = {args.alpha}, "
                     "in process (not through the serving path)")


if __name__ == "__main__":
    main()

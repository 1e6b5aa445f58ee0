"""The experiment statistics (``online_models.experiments``): stable assignment, team-draft
interleaving, and a sequential test that stays valid however often it is read."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.events import Invalid
from contracts.exposures import INTERLEAVED, Exposure, decode_exposure, encode_exposure
from online_models.experiments import (
    Experiment,
    Person,
    Running,
    SequentialTest,
    Shown,
    arm_of,
    cuped,
    join,
    latency_quantile,
    look,
    msprt_p,
    preference,
    sample_ratio_p,
    sequential_test,
    team_draft,
    winner,
)


def test_a_person_is_always_in_the_same_arm_and_arms_split_as_weighted() -> None:
    people = np.arange(200_000)
    arms = arm_of(people, "ranker-v2")
    assert np.array_equal(arms, arm_of(people, "ranker-v2"))  # stable, with nothing stored
    assert abs(arms.mean() - 0.5) < 0.005
    other = arm_of(people, "another experiment")
    assert abs((arms == other).mean() - 0.5) < 0.005  # independent of the arm in another experiment
    three = arm_of(people, "three", (0.8, 0.1, 0.1))
    assert np.allclose(np.bincount(three) / len(people), (0.8, 0.1, 0.1), atol=0.005)
    assert arm_of([12345], "ranker-v2")[0] == arms[12345]  # one person alone gets their batch arm


def test_team_draft_takes_turns_and_credits_the_list_that_placed_a_film() -> None:
    rng = np.random.default_rng(0)
    first, second = [1, 2, 3, 4, 5, 6], [3, 7, 1, 8, 9, 10]
    films, team = team_draft(first, second, 6, rng)
    assert len(films) == len(set(films)) == 6
    assert abs(team.count(0) - team.count(1)) <= 1  # turns: never two picks ahead
    for film, who in zip(films, team, strict=True):
        assert film in (first if who == 0 else second)
    assert films[:2] in ([1, 3], [3, 1])  # each list's best first
    assert preference(team, [f == films[0] for f in films]) == (1 if team[0] == 0 else -1)
    assert preference(team, [False] * 6) == 0
    same, _ = team_draft(first, first, 4, rng)
    assert same == first[:4]  # identical lists interleave to the list itself
    short, _ = team_draft([1], [1, 2], 5, rng)
    assert short == [1, 2]  # lists run out: fewer films, no repeat


def test_the_always_valid_p_value_is_not_fooled_by_peeking() -> None:
    rng = np.random.default_rng(1)
    false = 0
    for _ in range(200):  # A/A: looked at after every batch of 50, up to 10,000 a side
        test = SequentialTest.two_sample(effect=0.1)
        for _ in range(200):
            test.arms[0].add(rng.normal(0, 1, 50))
            test.arms[1].add(rng.normal(0, 1, 50))
            if test.look() < 0.05:
                false += 1
                break
    assert false / 200 <= 0.05
    # the same peeking with a fixed-horizon z-test is wrong far more often
    naive = 0
    for _ in range(200):
        a, b = Running(), Running()
        for _ in range(200):
            a.add(rng.normal(0, 1, 50))
            b.add(rng.normal(0, 1, 50))
            if abs(a.mean - b.mean) / np.sqrt(a.variance / a.n + b.variance / b.n) > 1.96:
                naive += 1
                break
    assert naive / 200 > 0.2


def test_a_real_difference_is_found() -> None:
    rng = np.random.default_rng(2)
    test = SequentialTest.two_sample(effect=0.1)
    looks = 0
    while test.look() >= 0.05:
        test.arms[0].add(rng.normal(0.2, 1, 50))
        test.arms[1].add(rng.normal(0.0, 1, 50))
        looks += 1
    assert looks < 200 and test.estimate()[0] > 0
    one = SequentialTest.one_sample()
    one.arms[0].add(rng.choice([-1, 0, 1], 2000, p=[0.2, 0.5, 0.3]))
    assert one.look() < 0.05


def test_running_moments_match_numpy_and_msprt_grows_with_evidence() -> None:
    values = np.random.default_rng(3).normal(3, 2, 1000)
    running = Running()
    for chunk in np.array_split(values, 7):
        running.add(chunk)
    assert running.mean == pytest.approx(values.mean()) and running.variance == pytest.approx(values.var(ddof=1))
    assert msprt_p(0.0, 0.01, 0.01) == 1.0
    assert msprt_p(0.5, 0.01, 0.01) < msprt_p(0.3, 0.01, 0.01) < 1.0


def test_cuped_keeps_the_mean_and_narrows_the_spread() -> None:
    rng = np.random.default_rng(4)
    before = rng.normal(0, 1, 5000)
    after = 0.8 * before + rng.normal(0.3, 0.5, 5000)
    adjusted = cuped(after, before)
    assert adjusted.mean() == pytest.approx(after.mean())
    assert adjusted.var() < 0.4 * after.var()


def _shown(request: str, arm: int, items: list[int], at: float, teams: list[int] | None = None,
           experiment: str = "e") -> Shown:
    return Shown(experiment, request, arm, items, teams or [], at, [False] * len(items))


def test_a_take_is_credited_once_to_the_latest_list_that_showed_it_within_the_window() -> None:
    lists: dict[int, list[Shown]] = {}
    people: dict[tuple[str, int], Person] = {}
    first, later = _shown("r1", 0, [10, 20, 30], at=100.0), _shown("r2", 0, [20, 40], at=200.0)
    sums = join(lists, people, [(7, first), (7, later)], [], {"e": 600.0}, 0.0)
    assert sums == {"e": {"n:0": 1.0, "lists:0": 2.0, "shown:0": 5.0, "ms:0:0": 2.0}}  # one person, two lists
    sums = join(lists, people, [], [(7, 20, 250.0), (7, 20, 260.0)], {"e": 600.0}, 0.0)  # the same film twice
    assert later.taken == [True, False] and first.taken == [False, False, False]  # last touch
    assert sums == {"e": {"s:0": 1.0, "q:0": 1.0}}
    sums = join(lists, people, [], [(7, 10, 270.0)], {"e": 600.0}, 0.0)  # shown by r1 alone
    assert sums == {"e": {"s:0": 1.0, "q:0": 3.0}} and first.taken == [True, False, False]  # 2² − 1²
    assert people[("e", 7)] == Person(0, 2)
    assert join(lists, people, [], [(7, 30, 150.0 + 600.0 + 1)], {"e": 600.0}, 0.0) == {}  # past r1's window
    assert join(lists, people, [], [(8, 10, 150.0)], {"e": 600.0}, 0.0) == {}  # someone else took it
    join(lists, people, [], [], {"e": 600.0}, now=750.0)  # r1's window closed by the clock (700), r2's not (800)
    assert lists[7] == [later]


def test_a_redelivered_exposure_adds_nothing_and_a_person_counts_once_per_experiment() -> None:
    lists: dict[int, list[Shown]] = {}
    people: dict[tuple[str, int], Person] = {("e", 7): Person(1, 3)}  # known from an earlier batch
    join(lists, people, [(7, _shown("r1", 1, [10, 20], at=0.0))], [], {"e": 60.0}, 0.0)
    assert join(lists, people, [(7, _shown("r1", 1, [10, 20], at=0.0))], [], {"e": 60.0}, 0.0) == {}
    sums = join(lists, people, [(7, _shown("r2", 1, [30], at=1.0))], [(7, 30, 2.0)], {"e": 60.0}, 0.0)
    assert sums == {"e": {"lists:1": 1.0, "shown:1": 1.0, "ms:1:0": 1.0, "s:1": 1.0, "q:1": 7.0}}  # 4² − 3²


def test_interleaving_sums_each_persons_net_preference_and_the_teams_takes() -> None:
    lists: dict[int, list[Shown]] = {}
    people: dict[tuple[str, int], Person] = {}
    shown = _shown("r1", -1, [10, 20, 30], at=0.0, teams=[0, 1, 0])
    sums = join(lists, people, [(7, shown)], [(7, 20, 1.0)], {"e": 60.0}, 0.0)
    assert sums == {"e": {"n": 1.0, "lists": 1.0, "shown": 3.0, "ms:0": 1.0, "s": -1.0, "q": 1.0, "takes:1": 1.0}}
    sums = join(lists, people, [], [(7, 10, 2.0)], {"e": 60.0}, 0.0)  # one each: net 0
    assert sums == {"e": {"s": 1.0, "q": -1.0, "takes:0": 1.0}}
    sums = join(lists, people, [], [(7, 30, 3.0)], {"e": 60.0}, 0.0)
    assert sums == {"e": {"s": 1.0, "q": 1.0, "takes:0": 1.0}} and people[("e", 7)] == Person(-1, 1)


def test_the_test_from_sums_is_the_test_of_the_values_they_sum() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.poisson(0.3, 3000).astype(float), rng.poisson(0.4, 3000).astype(float)
    direct = SequentialTest.two_sample()
    direct.arms[0].add(a)
    direct.arms[1].add(b)
    sums = {"n:0": len(a), "s:0": a.sum(), "q:0": (a**2).sum(), "n:1": len(b), "s:1": b.sum(), "q:1": (b**2).sum()}
    from_sums = sequential_test(Experiment("e", ("live", "popular")), sums)
    assert np.allclose(from_sums.estimate(), direct.estimate())
    assert from_sums.look() == pytest.approx(direct.look())


def test_a_sample_ratio_mismatch_is_found_and_a_fair_split_is_not() -> None:
    rng = np.random.default_rng(1)
    fair = [sample_ratio_p(np.bincount(rng.integers(0, 2, 10_000), minlength=2), (0.5, 0.5)) for _ in range(200)]
    assert np.mean(np.array(fair) < 0.05) < 0.1
    assert sample_ratio_p([5300, 4700], (0.5, 0.5)) < 1e-6
    assert sample_ratio_p([8000, 2000], (0.8, 0.2)) > 0.5


def test_the_latency_histogram_gives_percentiles_within_a_bucket() -> None:
    rng = np.random.default_rng(4)
    latencies = rng.lognormal(1.5, 1, 5000)
    shown = [Shown("e", f"r{j}", 0, [1], [], 0.0, [False], float(ms)) for j, ms in enumerate(latencies)]
    sums = join({}, {}, [(j, s) for j, s in enumerate(shown)], [], {"e": 60.0}, 0.0)["e"]
    true_p99 = np.percentile(latencies, 99)
    assert true_p99 <= latency_quantile(sums, ":0", 0.99) <= true_p99 * 2 ** 0.25 * 1.01
    assert sums["lists:0"] == 5000


def _healthy_sums(people: float = 600.0, lists: float = 900.0) -> dict[str, float]:
    return {"n:0": people, "n:1": people, "lists:0": lists, "lists:1": lists, "ms:0:20": lists, "ms:1:20": lists}


def test_each_guardrail_stops_an_experiment_and_a_healthy_one_runs_on() -> None:
    e = Experiment("e", ("live", "ranker:3"), max_p99_ms=50.0, max_error_rate=0.01, min_coverage=0.5)
    covered = {":0": 900, ":1": 800}
    assert look(e, _healthy_sums(), covered, 0.0)[2] == ""
    slow = {**_healthy_sums(), "ms:1:20": 800.0, "ms:1:40": 100.0}  # 11 % of arm 1's lists took ~150 ms
    assert look(e, slow, covered, 0.0)[2].startswith("latency: arm 1 (ranker:3) p99")
    failing = {**_healthy_sums(), "errors:0": 18.0}
    assert look(e, failing, covered, 0.0)[2].startswith("errors: arm 0 (live) failed 2.0%")
    assert look(e, _healthy_sums(lists=1000.0), {":0": 900, ":1": 300}, 0.0)[2].startswith("coverage: arm 1")
    assert look(e, _healthy_sums(lists=999.0), {":0": 900, ":1": 300}, 0.0)[2] == ""  # too few lists to judge
    lopsided = {**_healthy_sums(), "n:0": 700.0, "n:1": 500.0}
    assert look(e, lopsided, covered, 0.0)[2].startswith("sample-ratio mismatch")
    few = {**failing, "lists:0": 100.0}  # under GUARD_LISTS lists nothing is judged
    assert look(e, few, covered, 0.0)[2] == ""


def test_the_winner_is_named_only_once_the_test_decides() -> None:
    e = Experiment("e", ("ranker:7", "live"), mode="interleave")
    rng = np.random.default_rng(2)
    net = rng.choice([-1, 0, 1], p=[0.2, 0.5, 0.3], size=3000).astype(float)
    sums = {"n": float(len(net)), "s": float(net.sum()), "q": float((net**2).sum())}
    assert winner(e, sums) is None  # no look yet: p is 1
    p = look(e, sums, {"": 100}, 0.0)[0]
    assert p < 0.01 and winner(e, {**sums, "p": p}) == "ranker:7"


def test_a_failed_list_is_an_exposure_without_films_and_a_malformed_one_is_refused() -> None:
    failed = Exposure("e", 7, 1, [], [], "r", 1.7e9, 3.0, "TimeoutError")
    assert decode_exposure(encode_exposure(failed)) == failed
    assert isinstance(decode_exposure(encode_exposure(Exposure("e", 7, INTERLEAVED, [], [], "r", 1.7e9, 3.0, "x"))),
                      Exposure)
    with_films = encode_exposure(Exposure("e", 7, 1, [5], [], "r", 1.7e9, 3.0, "x"))
    assert decode_exposure(with_films) == Invalid("a list that failed has no films")
    no_teams = encode_exposure(Exposure("e", 7, INTERLEAVED, [5, 6], [], "r", 1.7e9))
    assert isinstance(decode_exposure(no_teams), Invalid)
    teams_under_ab = encode_exposure(Exposure("e", 7, 0, [5, 6], [0, 1], "r", 1.7e9))
    assert isinstance(decode_exposure(teams_under_ab), Invalid)
    shown = Shown("e", "r", 1, [], [], 0.0, [], 3.0, True)
    assert join({}, {}, [(7, shown)], [], {"e": 60.0}, 0.0)["e"]["errors:1"] == 1.0

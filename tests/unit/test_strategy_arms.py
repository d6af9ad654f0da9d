"""Champion/challenger: stable assignment by hash, and each arm's results with intervals."""

from __future__ import annotations

import hashlib
import math
import statistics

import polars as pl
import pytest

from recoup.strategy import (
    Arm,
    ChallengerTest,
    arm_slot,
    arm_slots,
    assign_arm,
    assign_arms,
    compare_arms,
    difference_interval,
    poisson_interval,
    rate_difference_interval,
    wilson_interval,
)
from recoup.strategy.arms import arm_for_slot

TEST = ChallengerTest("m1-call-timing", ("m1",), (Arm("champion", 8000), Arm("challenger", 2000)))
IDS = pl.Series("account_id", [f"ACC{n:08d}" for n in range(100_000)])


def test_arms__the_slot_is_blake2b_of_test_and_account_so_it_never_changes() -> None:
    # Pinned: a different hash (Python's hash(), Polars' hash, another key) would move
    # accounts between arms from one run or release to the next.
    assert arm_slot("ACC000001", "m1-call-timing") == 8396
    assert arm_slot("ACC000002", "m1-call-timing") == 6529
    digest = hashlib.blake2b(b"m1-call-timing\x1fACC000001", digest_size=8).digest()
    assert int.from_bytes(digest, "big") % 10_000 == 8396


def test_arms__the_same_account_lands_in_the_same_arm_every_time() -> None:
    first = assign_arms(IDS[:5000], TEST)
    again = assign_arms(IDS[:5000], TEST)
    assert first.equals(again)
    assert [assign_arm(i, TEST).name for i in IDS[:300]] == first[:300].to_list()
    assert arm_slots(IDS[:300], TEST.id).to_list() == [arm_slot(i, TEST.id) for i in IDS[:300]]


def test_arms__100k_accounts_split_within_one_point_of_the_shares() -> None:
    three = ChallengerTest(
        "three", ("m1",), (Arm("champion", 7000), Arm("early", 2000), Arm("late", 1000))
    )
    for test, shares in (
        (TEST, {"champion": 80, "challenger": 20}),
        (three, {"champion": 70, "early": 20, "late": 10}),
    ):
        counts = assign_arms(IDS, test).value_counts()
        observed = {arm: 100 * n / IDS.len() for arm, n in counts.rows()}
        assert observed.keys() == shares.keys()
        for arm, share in shares.items():
            assert abs(observed[arm] - share) < 1, (test.id, observed)


def test_arms__two_tests_assign_independently() -> None:
    other = ChallengerTest("m2-letter", ("m2",), TEST.arms)
    both = (assign_arms(IDS, TEST) == "challenger") & (assign_arms(IDS, other) == "challenger")
    assert abs(100 * int(both.sum()) / IDS.len() - 4) < 0.5  # 20% x 20%


def test_arms__growing_the_challenger_only_moves_champions_into_it() -> None:
    wider = ChallengerTest(
        TEST.id, TEST.population, (Arm("champion", 7000), Arm("challenger", 3000))
    )
    before = assign_arms(IDS[:20_000], TEST)
    after = assign_arms(IDS[:20_000], wider)
    assert not ((before == "challenger") & (after == "champion")).any()
    assert ((before == "champion") & (after == "challenger")).any()


def test_arms__a_slot_outside_the_space_is_an_error() -> None:
    assert arm_for_slot(7999, TEST).name == "champion"
    assert arm_for_slot(8000, TEST).name == "challenger"
    with pytest.raises(ValueError, match="outside"):
        arm_for_slot(10_000, TEST)


# --- intervals ---------------------------------------------------------------------------------


def test_arms__wilson_interval_matches_the_hand_computed_value() -> None:
    # 5 of 10, z = 1.96: centre 0.5, half-width (1.96 / 1.38415) * sqrt(0.025 + 0.0096040)
    # = 1.41603 * 0.186021 = 0.26341.
    interval = wilson_interval(5, 10)
    assert interval.low == pytest.approx(0.23659, abs=1e-5)
    assert interval.high == pytest.approx(0.76341, abs=1e-5)
    # 0 of 10: [0, z^2 / (n + z^2)] = [0, 3.84146 / 13.84146].
    none = wilson_interval(0, 10)
    assert none.low == 0.0
    assert none.high == pytest.approx(3.841459 / 13.841459, abs=1e-6)
    assert wilson_interval(10, 10).high == 1.0


def test_arms__wilson_interval_narrows_with_more_trials_and_widens_with_confidence() -> None:
    small, large = wilson_interval(20, 100), wilson_interval(200, 1000)
    assert large.high - large.low < small.high - small.low
    wide = wilson_interval(20, 100, confidence=0.99)
    assert wide.low < small.low and wide.high > small.high


def test_arms__wilson_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_arms__difference_interval_matches_newcombes_published_examples() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10.
    interval = difference_interval((48, 80), (56, 70))
    assert [interval.low, interval.high] == pytest.approx([0.0524, 0.3339], abs=1e-4)
    interval = difference_interval((5, 56), (0, 29))
    assert [interval.low, interval.high] == pytest.approx([-0.1926, 0.0381], abs=1e-4)


# --- results -----------------------------------------------------------------------------------


def _outcomes() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "arm": ["champion"] * 4 + ["challenger"] * 2,
            "cured": [True, True, False, False, True, True],
            "recovered_cents": [1000, 2000, 0, 1, 500, 500],
            "action_cost_cents": [100, 100, 100, 100, 250, 250],
            "contacts": [1, 2, 3, 4, 5, 5],
            "complaints": [0, 1, None, None, None, None],
        },
        schema_overrides={"complaints": pl.Int64},
    )


def test_arms__results_per_arm_with_money_in_cents() -> None:
    test = ChallengerTest(
        "t", ("m1",), (Arm("champion", 6000), Arm("challenger", 2000), Arm("idle", 2000))
    )
    results = compare_arms(_outcomes(), test)
    champion, challenger, idle = results.arms
    assert (champion.arm, champion.cases, champion.cured, champion.cure_rate) == (
        "champion",
        4,
        2,
        0.5,
    )
    assert champion.cure_interval == wilson_interval(2, 4)
    assert (champion.recovered_cents, champion.recovered_mean_cents) == (3001, 750)
    half = 1.959964 * statistics.stdev([1000, 2000, 0, 1]) / math.sqrt(4)
    assert champion.recovered_mean_interval is not None
    assert champion.recovered_mean_interval.low_cents == round(750.25 - half)
    assert champion.recovered_mean_interval.high_cents == round(750.25 + half)
    assert (champion.cost_cents, champion.cost_per_case_cents, champion.contacts) == (400, 100, 10)
    assert champion.complaints == 1
    # Known for two of the four cases: the rate is per case whose count is known.
    assert (champion.complaints_known_cases, champion.complaints_per_1000_cases) == (2, 500.0)
    rate = poisson_interval(1, 2)
    assert champion.complaints_interval is not None
    assert (champion.complaints_interval.low, champion.complaints_interval.high) == (
        pytest.approx(1000 * rate.low),
        pytest.approx(1000 * rate.high),
    )
    assert challenger.complaints is None  # unknown for every case of the arm
    assert (challenger.complaints_per_1000_cases, challenger.complaints_interval) == (None, None)
    assert challenger.recovered_mean_interval is not None
    assert (
        challenger.recovered_mean_interval.low_cents,
        challenger.recovered_mean_interval.high_cents,
    ) == (500, 500)
    assert (idle.cases, idle.cure_rate, idle.cure_interval) == (0, None, None)

    versus, idle_versus = results.comparisons
    assert (versus.arm, versus.champion) == ("challenger", "champion")
    assert versus.cure_rate_difference == 0.5
    assert versus.cure_rate_interval == difference_interval((2, 4), (2, 2))
    assert versus.recovered_mean_difference_cents == -250  # 500 - 750.25
    assert idle_versus.cure_rate_difference is None and not idle_versus.cure_rate_significant
    # The challenger's complaints are unknown, so there is nothing to compare.
    assert versus.complaints_difference_per_1000 is None
    assert versus.complaints_difference_interval is None and not versus.complaints_significant


def test_arms__a_large_difference_is_significant_and_a_small_one_is_not() -> None:
    def outcomes(cured_champion: int, cured_challenger: int, n: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "arm": ["champion"] * n + ["challenger"] * n,
                "cured": [i < cured_champion for i in range(n)]
                + [i < cured_challenger for i in range(n)],
                "recovered_cents": [0] * (2 * n),
                "action_cost_cents": [0] * (2 * n),
                "contacts": [0] * (2 * n),
            }
        )

    assert compare_arms(outcomes(300, 360, 1000), TEST).comparisons[0].cure_rate_significant
    assert not compare_arms(outcomes(300, 310, 1000), TEST).comparisons[0].cure_rate_significant


def test_arms__the_poisson_score_interval_solves_its_defining_equation() -> None:
    z = 1.959964
    for events, exposure in ((0, 10), (1, 2), (3, 1000), (40, 2000)):
        interval = poisson_interval(events, exposure)
        for rate in (interval.low, interval.high):
            if rate > 0:  # (events - rate * exposure) ** 2 == z ** 2 * rate * exposure
                assert (events - rate * exposure) ** 2 == pytest.approx(
                    z * z * rate * exposure, rel=1e-6
                )
        assert interval.low <= events / exposure <= interval.high
    assert poisson_interval(0, 10).low == 0.0  # exactly, not rounding dust
    with pytest.raises(ValueError, match="positive exposure"):
        poisson_interval(1, 0)


def test_arms__complaints_are_compared_per_1000_cases_with_an_interval() -> None:
    def outcomes(champion_complaints: int, challenger_complaints: int, n: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "arm": ["champion"] * n + ["challenger"] * n,
                "cured": [False] * (2 * n),
                "recovered_cents": [0] * (2 * n),
                "action_cost_cents": [0] * (2 * n),
                "contacts": [3] * (2 * n),
                "complaints": [int(i < champion_complaints) for i in range(n)]
                + [int(i < challenger_complaints) for i in range(n)],
            }
        )

    results = compare_arms(outcomes(2, 12, 1000), TEST)
    champion, challenger = results.arms
    assert (champion.complaints, champion.complaints_per_1000_cases) == (2, 2.0)
    assert (challenger.complaints, challenger.complaints_per_1000_cases) == (12, 12.0)
    [versus] = results.comparisons
    assert versus.complaints_difference_per_1000 == pytest.approx(10.0)
    expected = rate_difference_interval((2, 1000), (12, 1000))
    assert versus.complaints_difference_interval is not None
    assert versus.complaints_difference_interval.low == pytest.approx(1000 * expected.low)
    assert versus.complaints_significant  # six times the champion's complaints
    assert not compare_arms(outcomes(2, 4, 1000), TEST).comparisons[0].complaints_significant
    # None received by either arm: zero each, a difference of zero, not significant.
    quiet = compare_arms(outcomes(0, 0, 1000), TEST)
    assert [arm.complaints for arm in quiet.arms] == [0, 0]
    assert quiet.comparisons[0].complaints_difference_per_1000 == 0.0
    assert not quiet.comparisons[0].complaints_significant


def test_arms__outcomes_naming_an_unknown_arm_are_refused() -> None:
    with pytest.raises(ValueError, match="'challenger' that test 'x' does not have"):
        compare_arms(_outcomes(), ChallengerTest("x", ("m1",), (Arm("champion", 10_000),)))
    with pytest.raises(ValueError, match="lack column"):
        compare_arms(_outcomes().drop("contacts"), TEST)

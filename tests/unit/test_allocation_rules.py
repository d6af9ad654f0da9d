"""Allocation (分案) rules on small hand-made portfolios: one rule per test, outcome asserted."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from recoup.allocation import (
    ALLOCATION_COLUMNS,
    AllocationInputError,
    allocate,
    summarise,
)
from tests.allocation_cases import (
    MONDAY,
    SATURDAY,
    agency,
    cases,
    collector,
    days_ago,
    teams,
    violations,
)


def _run(frame: pl.DataFrame, config: object, as_of: date = MONDAY) -> dict[int, dict[str, object]]:
    from recoup.allocation import TeamsConfig

    assert isinstance(config, TeamsConfig)
    result = allocate(frame, config, as_of).cases
    assert violations(frame, config, as_of, result) == []
    return {row["case_key"]: row for row in result.iter_rows(named=True)}


def _owners(rows: dict[int, dict[str, object]]) -> dict[object, int]:
    counts: dict[object, int] = {}
    for row in rows.values():
        counts[row["owner"]] = counts.get(row["owner"], 0) + 1
    return counts


# ---------------------------------------------------------------------- continuity and rotation


def test_allocation__keeps_a_case_with_its_collector_while_it_works() -> None:
    config = teams([collector("C1"), collector("C2")], rotate=30)
    rows = _run(
        cases(
            {
                "current_owner": "C1",
                "owned_since": days_ago(MONDAY, 20),
                "last_progress_on": days_ago(MONDAY, 3),
            }
        ),
        config,
    )
    assert rows[1]["owner"] == "C1"
    assert rows[1]["decision"] == "kept"
    assert rows[1]["reason"] == "kept with C1: continuity, progress 3 days ago"


def test_allocation__a_kept_case_without_progress_says_since_when() -> None:
    config = teams([collector("C1")], rotate=30)
    rows = _run(cases({"current_owner": "C1", "owned_since": days_ago(MONDAY, 12)}), config)
    assert (
        rows[1]["reason"] == "kept with C1: continuity, no progress in the 12 days since 2026-02-18"
    )


def test_allocation__rotates_a_case_to_another_collector_after_days_without_progress() -> None:
    config = teams([collector("C1"), collector("C2")], rotate=30)
    rows = _run(
        cases(
            {
                "current_owner": "C1",
                "owned_since": days_ago(MONDAY, 60),
                "last_progress_on": days_ago(MONDAY, 31),
            }
        ),
        config,
    )
    assert rows[1]["owner"] == "C2"
    assert rows[1]["decision"] == "rotated"
    assert rows[1]["reason"] == (
        "rotated from C1 after 31 days without progress; assigned to C2 (team T1, even_count)"
    )


def test_allocation__a_case_due_for_rotation_stays_when_no_other_collector_can_take_it() -> None:
    config = teams([collector("C1", languages=("ug", "zh")), collector("C2")], rotate=30)
    rows = _run(
        cases({"language": "ug", "current_owner": "C1", "owned_since": days_ago(MONDAY, 45)}),
        config,
    )
    assert rows[1]["owner"] == "C1"
    assert rows[1]["decision"] == "kept"
    assert rows[1]["reason"] == (
        "kept with C1: due for rotation after 45 days without progress, but no collector other "
        "than C1 has the skills for language ug, bucket M1 and product card"
    )


def test_allocation__without_continuity_in_house_cases_are_spread_again_each_run() -> None:
    config = teams([collector("C1"), collector("C2")], continuity=False)
    rows = _run(cases(*[{"current_owner": "C1"} for _ in range(4)]), config)
    assert _owners(rows) == {"C1": 2, "C2": 2}
    assert {r["decision"] for r in rows.values()} == {"assigned"}
    assert "continuity is off" in str(rows[1]["reason"])


def test_allocation__a_case_whose_owner_left_the_teams_file_is_reassigned() -> None:
    config = teams([collector("C1")])
    rows = _run(cases({"current_owner": "C99"}), config)
    assert rows[1]["owner"] == "C1"
    assert rows[1]["reason"] == (
        "assigned to C1 (team T1, even_count); previous owner C99 is not in the teams file"
    )


def test_allocation__an_owner_of_the_wrong_kind_counts_as_unknown() -> None:
    config = teams([collector("C1")])
    rows = _run(cases({"current_owner": "C1", "owner_kind": "agency"}), config)
    assert rows[1]["decision"] == "assigned"
    assert str(rows[1]["reason"]).endswith("previous owner C1 is not an agency in the teams file")


def test_allocation__a_case_that_rolled_out_of_its_collectors_buckets_moves_on() -> None:
    config = teams([collector("C1", buckets=("M1", "M1")), collector("C2", buckets=("M2", "M3"))])
    rows = _run(cases({"bucket": "M2", "current_owner": "C1"}), config)
    assert rows[1]["owner"] == "C2"
    assert rows[1]["decision"] == "assigned"
    assert str(rows[1]["reason"]).endswith("was with C1: C1 does not work bucket M2 (works M1)")


# ---------------------------------------------------------------------- skills and days


def test_allocation__a_case_goes_only_to_a_collector_who_speaks_its_language() -> None:
    config = teams([collector("C1"), collector("C2", languages=("zh", "ug"))])
    rows = _run(cases(*[{"language": "ug"} for _ in range(3)], {"language": None}), config)
    assert [rows[k]["owner"] for k in (1, 2, 3)] == ["C2", "C2", "C2"]
    assert rows[4]["owner"] == "C1"  # no language: anyone; C1 has the fewest cases


def test_allocation__bucket_range_and_products_limit_who_may_take_a_case() -> None:
    config = teams(
        [
            collector("EARLY", buckets=("M1", "M2"), products=["card"]),
            collector("LATE", buckets=("M3", "M3")),
        ]
    )
    rows = _run(
        cases(
            {"bucket": "M3"},
            {"bucket": "M1", "product_id": "card"},
            {"bucket": "M1", "product_id": "cash"},
        ),
        config,
    )
    assert rows[1]["owner"] == "LATE"
    assert rows[2]["owner"] == "EARLY"
    assert rows[3]["owner"] is None
    assert rows[3]["reason"] == (
        "unallocated: no collector has the skills for bucket M1 and product cash"
    )


def test_allocation__the_strategys_queue_naming_a_team_keeps_the_case_in_that_team() -> None:
    config = teams([collector("C1", team="T1"), collector("C2", team="T2")])
    rows = _run(cases(*[{"queue": "T2"} for _ in range(3)], {"queue": "no-such-queue"}), config)
    assert [rows[k]["owner"] for k in (1, 2, 3)] == ["C2", "C2", "C2"]
    assert rows[4]["owner"] == "C1"  # a queue that is not a team does not restrict
    assert rows[1]["team"] == "T2"


def test_allocation__collectors_get_new_cases_only_on_their_working_days() -> None:
    config = teams(
        [
            collector("WEEK", days=["mon", "tue", "wed", "thu", "fri"]),
            collector("WEEKEND", days=["sat", "sun"], daily=1),
        ]
    )
    frame = cases({"current_owner": "WEEK", "last_progress_on": days_ago(SATURDAY, 1)}, {}, {})
    rows = _run(frame, config, SATURDAY)
    assert rows[1]["owner"] == "WEEK"  # a day off does not take a collector's cases away
    assert rows[1]["decision"] == "kept"
    assert _owners(rows)["WEEKEND"] == 1
    unallocated = [r for r in rows.values() if r["owner"] is None]
    assert len(unallocated) == 1
    assert unallocated[0]["reason"] == (
        "unallocated: no collector with skill for bucket M1 and product card has capacity "
        "(1 of the 2 do not work on Saturday)"
    )
    assert _owners(_run(frame, config, MONDAY)) == {"WEEK": 3}


# ---------------------------------------------------------------------- capacity


def test_allocation__daily_capacity_is_never_exceeded_and_larger_balances_go_first() -> None:
    config = teams([collector("C1", daily=3), collector("C2", daily=4)])
    frame = cases(*[{"balance_cents": 1000 * (k + 1)} for k in range(10)])
    rows = _run(frame, config)
    assert _owners(rows) == {"C1": 3, "C2": 4, None: 3}
    assert sorted(k for k, r in rows.items() if r["owner"] is None) == [1, 2, 3]


def test_allocation__kept_cases_count_against_max_open_cases() -> None:
    config = teams([collector("C1", daily=10, max_open=5)])
    frame = cases(*[{"current_owner": "C1"} for _ in range(4)], *[{} for _ in range(3)])
    rows = _run(frame, config)
    assert _owners(rows) == {"C1": 5, None: 2}


def test_allocation__an_owner_over_its_limit_keeps_the_cases_with_the_latest_progress() -> None:
    config = teams([collector("C1", max_open=2), collector("C2")])
    frame = cases(
        *[
            {"current_owner": "C1", "last_progress_on": days_ago(MONDAY, days)}
            for days in (1, 9, 2, 8)
        ]
    )
    rows = _run(frame, config)
    assert {k for k, r in rows.items() if r["owner"] == "C1"} == {1, 3}
    assert rows[2]["owner"] == "C2"
    assert rows[2]["reason"] == (
        "assigned to C2 (team T1, even_count); was with C1: more than its max_open_cases of 2"
    )


# ---------------------------------------------------------------------- agencies


def test_allocation__cases_from_the_agency_bucket_are_placed_with_an_agency() -> None:
    config = teams([collector("C1", buckets=("M1", "M4"))], [agency("AG1", rate="0.18")])
    rows = _run(cases({"bucket": "M4"}, {"bucket": "M3"}), config)
    assert rows[1]["owner"] == "AG1"
    assert rows[1]["owner_kind"] == "agency"
    assert rows[1]["decision"] == "placed"
    assert rows[1]["commission_ppm"] == 180_000
    assert rows[1]["team"] is None
    assert rows[1]["reason"] == "placed with agency AG1 (bucket M4; commission 18%)"
    assert rows[2]["owner"] == "C1"
    assert rows[2]["commission_ppm"] is None


def test_allocation__a_collector_keeps_an_agency_bucket_case_when_no_agency_has_room() -> None:
    config = teams(
        [collector("C1", buckets=("M3", "M4"))], [agency("AG1", capacity=1, rate="0.18")]
    )
    frame = cases(
        {"bucket": "M4", "current_owner": "C1", "balance_cents": 900},
        {"bucket": "M4", "current_owner": "C1", "balance_cents": 500},
    )
    rows = _run(frame, config)
    assert rows[1]["owner"] == "AG1"
    assert rows[1]["reason"] == (
        "placed with agency AG1 (bucket M4; commission 18%); "
        "was with C1: bucket M4 goes to agencies"
    )
    assert rows[2]["owner"] == "C1"
    assert rows[2]["decision"] == "kept"
    assert rows[2]["reason"] == (
        "kept with C1: bucket M4 goes to agencies, "
        "but no agency for bucket M4 and product card has capacity"
    )


def test_allocation__the_strategy_can_ask_for_an_agency_before_the_agency_bucket() -> None:
    config = teams([collector("C1")], [agency("AG1", buckets=("M2", "M7+"))], agency_from="M4")
    rows = _run(cases({"bucket": "M2", "queue": "agency"}, {"bucket": "M2"}), config)
    assert rows[1]["owner"] == "AG1"
    assert rows[2]["owner"] == "C1"  # without the strategy's request, M2 stays in house
    rows = _run(cases({"bucket": "M1", "queue": "agency"}), config)
    assert rows[1]["owner"] == "C1"  # no agency takes M1: the case stays in house
    assert rows[1]["reason"] == "assigned to C1 (team T1, even_count)"


def test_allocation__an_agency_keeps_a_case_until_its_recall_period_without_progress() -> None:
    config = teams([collector("C1")], [agency("AG1"), agency("AG2")], recall=60)
    frame = cases(
        {
            "bucket": "M5",
            "current_owner": "AG1",
            "owned_since": days_ago(MONDAY, 100),
            "last_progress_on": days_ago(MONDAY, 10),
        }
    )
    rows = _run(frame, config)
    assert rows[1]["owner"] == "AG1"
    assert rows[1]["decision"] == "kept"
    assert rows[1]["reason"] == (
        "kept with agency AG1: progress 10 days ago; recall after 60 days without progress"
    )


def test_allocation__a_recalled_case_goes_to_another_agency() -> None:
    config = teams(
        [collector("C1")], [agency("AG1"), agency("AG2", rate="0.22", recall=90)], recall=60
    )
    frame = cases(
        {"bucket": "M5", "current_owner": "AG1", "owned_since": days_ago(MONDAY, 61)},
        {"bucket": "M5", "current_owner": "AG2", "owned_since": days_ago(MONDAY, 61)},
    )
    rows = _run(frame, config)
    assert rows[1]["owner"] == "AG2"
    assert rows[1]["decision"] == "recalled"
    assert rows[1]["reason"] == (
        "recalled from AG1 after 61 days without progress; "
        "placed with agency AG2 (bucket M5; commission 22%)"
    )
    assert rows[2]["decision"] == "kept"  # AG2's own recall period is 90 days


def test_allocation__a_recalled_case_with_no_other_agency_returns_to_the_in_house_pool() -> None:
    config = teams(
        [collector("C1", buckets=("M4", "M5"))],
        [agency("AG1"), agency("AG2", capacity=0)],
        recall=60,
    )
    frame = cases(
        {"bucket": "M5", "current_owner": "AG1", "owned_since": days_ago(MONDAY, 70)},
        {"bucket": "M6", "current_owner": "AG1", "owned_since": days_ago(MONDAY, 70)},
    )
    rows = _run(frame, config)
    assert rows[1]["owner"] == "C1"
    assert rows[1]["decision"] == "recalled"
    assert str(rows[1]["reason"]).endswith("; assigned to C1 (team T1, even_count)")
    assert rows[2]["owner"] is None
    assert rows[2]["decision"] == "recalled"
    assert rows[2]["reason"] == (
        "recalled from AG1 after 70 days without progress; unallocated: no agency other than "
        "AG1 for bucket M6 and product card has capacity, and no collector has the skills "
        "for bucket M6 and product card"
    )


def test_allocation__an_agency_case_that_cured_below_the_agency_bucket_is_recalled() -> None:
    config = teams([collector("C1")], [agency("AG1")])
    rows = _run(cases({"bucket": "M2", "current_owner": "AG1"}), config)
    assert rows[1]["owner"] == "C1"
    assert rows[1]["reason"] == (
        "recalled from AG1: bucket M2 is no longer placed with agencies (from M4); "
        "assigned to C1 (team T1, even_count)"
    )


def test_allocation__an_agency_over_its_capacity_gives_back_the_stalest_cases() -> None:
    config = teams([collector("C1")], [agency("AG1", capacity=1), agency("AG2")])
    frame = cases(
        *[
            {"bucket": "M5", "current_owner": "AG1", "last_progress_on": days_ago(MONDAY, d)}
            for d in (30, 5)
        ]
    )
    rows = _run(frame, config)
    assert rows[2]["owner"] == "AG1"
    assert rows[1]["owner"] == "AG2"
    assert rows[1]["reason"] == (
        "recalled from AG1: it holds more than its capacity of 1 open cases; "
        "placed with agency AG2 (bucket M5; commission 20%)"
    )


def test_allocation__agencies_fill_by_share_of_capacity_and_cheaper_takes_more() -> None:
    config = teams(
        [collector("C1")],
        [agency("BIG", capacity=100), agency("SMALL", capacity=10)],
    )
    rows = _run(cases(*[{"bucket": "M5"} for _ in range(22)]), config)
    assert _owners(rows) == {"BIG": 20, "SMALL": 2}
    config = teams(
        [collector("C1")],
        [agency("CHEAP", capacity=20, rate="0.15"), agency("DEAR", capacity=20, rate="0.25")],
    )
    owners = _owners(_run(cases(*[{"bucket": "M5"} for _ in range(10)]), config))
    assert owners["CHEAP"] > owners["DEAR"] > 0


# ---------------------------------------------------------------------- balancing methods


def test_allocation__even_count_levels_the_number_of_open_cases() -> None:
    config = teams([collector("C1"), collector("C2"), collector("C3")])
    frame = cases(
        *[{"current_owner": "C1"} for _ in range(10)],
        *[{"current_owner": "C2"} for _ in range(5)],
        *[{} for _ in range(15)],
    )
    assert _owners(_run(frame, config)) == {"C1": 10, "C2": 10, "C3": 10}


def test_allocation__even_balance_levels_the_total_balance() -> None:
    held = [
        {"current_owner": "C1", "balance_cents": 1_000_000},
        {"current_owner": "C2", "balance_cents": 10_000},
    ]
    new = [{"balance_cents": 250_000} for _ in range(4)]
    collectors = [collector("C1"), collector("C2")]

    def totals(method: str) -> dict[object, int]:
        frame = cases(*held, *new)
        rows = _run(frame, teams(collectors, method=method))
        balance = dict(zip(frame["case_key"], frame["balance_cents"], strict=True))
        result: dict[object, int] = {}
        for key, row in rows.items():
            result[row["owner"]] = result.get(row["owner"], 0) + balance[key]
        return result

    assert totals("even_count") == {"C1": 1_500_000, "C2": 510_000}
    assert totals("even_balance") == {"C1": 1_000_000, "C2": 1_010_000}


def test_allocation__even_balance_deals_large_and_small_cases_alternately() -> None:
    config = teams([collector("C1"), collector("C2")], method="even_balance")
    balances = [800, 700, 600, 500, 400, 300, 200, 100]
    frame = cases(*[{"balance_cents": b * 1000} for b in balances])
    rows = _run(frame, config)
    totals = {"C1": 0, "C2": 0}
    for key, row in rows.items():
        totals[str(row["owner"])] += balances[key - 1]
    assert totals == {"C1": 1800, "C2": 1800}


def test_allocation__skill_prefers_the_best_matching_collector() -> None:
    specialist = collector("SPEC", buckets=("M1", "M1"), products=["card"])
    generalist = collector("GEN", languages=("ug", "zh"), buckets=("M1", "M4"))
    frame = cases(*[{} for _ in range(4)])
    assert _owners(_run(frame, teams([specialist, generalist], method="skill"))) == {"SPEC": 4}
    assert _owners(_run(frame, teams([specialist, generalist]))) == {"SPEC": 2, "GEN": 2}
    reason = _run(frame, teams([specialist, generalist], method="skill"))[1]["reason"]
    assert reason == "assigned to SPEC (team T1, skill)"


def test_allocation__a_scarce_language_skill_is_kept_for_the_case_that_needs_it() -> None:
    # A greedy rule serving the largest case first would give it to the Uyghur speaker
    # (fewest cases, first in the file) and leave the Uyghur case without anyone.
    config = teams(
        [collector("UG", languages=("ug", "zh"), daily=1), collector("ZH", daily=1)],
    )
    frame = cases(
        {"current_owner": "ZH"},
        {"balance_cents": 900_000, "language": "zh"},
        {"balance_cents": 100, "language": "ug"},
    )
    rows = _run(frame, config)
    assert rows[2]["owner"] == "ZH"
    assert rows[3]["owner"] == "UG"


# ---------------------------------------------------------------------- input and output


def test_allocation__an_unknown_bucket_is_unallocated_with_its_reason() -> None:
    rows = _run(cases({"bucket": "M9"}), teams([collector("C1")]))
    assert rows[1]["reason"] == (
        "unallocated: bucket M9 is not one of the teams file's buckets "
        "(M0, M1, M2, M3, M4, M5, M6, M7+)"
    )


def test_allocation__the_result_follows_the_column_contract_and_ignores_row_order() -> None:
    config = teams([collector("C1"), collector("C2", languages=("zh", "en"))], [agency("AG1")])
    frame = cases(
        *[{"bucket": b, "language": lang} for b in ("M1", "M2", "M5") for lang in ("zh", "en")],
        *[{"current_owner": "C1"} for _ in range(3)],
    )
    first = allocate(frame, config, MONDAY)
    again = allocate(frame.sample(fraction=1.0, shuffle=True, seed=3), config, MONDAY)
    assert first.cases.schema == pl.Schema(ALLOCATION_COLUMNS)
    assert first.cases.equals(again.cases)
    assert first.cases["case_key"].to_list() == sorted(frame["case_key"].to_list())
    assert first.teams_digest == config.digest
    assert sum(first.counts().values()) == frame.height


def test_allocation__optional_columns_may_be_absent() -> None:
    frame = cases({}, {}).drop("language", "current_owner", "owner_kind", "queue")
    rows = _run(frame, teams([collector("C1")]))
    assert {r["decision"] for r in rows.values()} == {"assigned"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop("balance_cents"), "lacks column(s): balance_cents"),
        (
            lambda f: f.with_columns(pl.lit(None, pl.String).alias("bucket")),
            "column bucket has null values",
        ),
        (lambda f: pl.concat([f, f]), "a case_key appears more than once"),
    ],
)
def test_allocation__a_malformed_cases_frame_is_refused(change: object, message: str) -> None:
    assert callable(change)
    with pytest.raises(AllocationInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        allocate(change(cases({})), teams([collector("C1")]), MONDAY)


def test_allocation__summary_gives_each_owners_cases_balance_and_room() -> None:
    config = teams(
        [collector("C1", daily=2, max_open=10), collector("OFF", days=["sun"])],
        [agency("AG1", capacity=5)],
    )
    frame = cases(
        {"current_owner": "C1", "balance_cents": 500},
        {"balance_cents": 300},
        {"balance_cents": 200},
        {"balance_cents": 100},
        {"bucket": "M5", "balance_cents": 7000},
    )
    allocation = allocate(frame, config, MONDAY)
    summary = summarise(allocation, config)
    rows = {row["owner"]: row for row in summary.iter_rows(named=True)}
    assert rows["C1"]["open_cases"] == 3
    assert rows["C1"]["balance_cents"] == 1000
    assert rows["C1"]["new_cases"] == 2
    assert rows["C1"]["new_left"] == 0
    assert rows["C1"]["open_left"] == 7
    assert rows["OFF"]["open_cases"] == 0
    assert rows["OFF"]["new_left"] == 0
    assert rows["AG1"]["open_cases"] == 1
    assert rows["AG1"]["open_left"] == 4
    assert rows["AG1"]["new_left"] is None
    assert rows[None]["open_cases"] == 1
    assert rows[None]["balance_cents"] == 100

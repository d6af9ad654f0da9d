"""A team lead's reassignment of one case (改派), judged by the teams file: one rule per test,
and the property that matters most: the next allocation run keeps what the lead decided."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recoup.allocation import (
    CaseToMove,
    Decision,
    OwnerKind,
    ReassignmentRefused,
    UnknownOwner,
    allocate,
    judge_reassignment,
)
from tests.allocation_cases import MONDAY, agency, cases, collector, days_ago, teams

CONFIG = teams(
    [
        collector("C1", team="T1", buckets=("M1", "M2"), max_open=3),
        collector("C2", team="T1", buckets=("M1", "M3"), products=["loan"]),
        collector("C3", team="T2", buckets=("M2", "M4")),
    ],
    [
        agency("AG1", capacity=2, buckets=("M4", "M7+"), rate="0.18"),
        agency("AG2", buckets=("M5", "M7+"), products=["loan"]),
    ],
    agency_from="M4",
)


def _case(**fields: object) -> CaseToMove:
    body: dict[str, object] = {"case_key": 7, "bucket": "M1", "product_id": "card"}
    return CaseToMove(**(body | fields))  # type: ignore[arg-type]


def test_reassign__a_collector_with_the_skills_takes_the_case_into_their_team() -> None:
    moved = judge_reassignment(
        _case(owner="C3", owner_kind="collector", bucket="M2"), "C1", CONFIG, 0
    )
    assert (moved.owner, moved.owner_kind, moved.team) == ("C1", OwnerKind.COLLECTOR, "T1")
    assert moved.decision is Decision.ASSIGNED and moved.changed
    assert moved.reason == "assigned to C1 (team T1), was with C3"
    assert moved.note is None and moved.commission_ppm is None


@pytest.mark.parametrize(
    ("case", "to", "why"),
    [
        (_case(bucket="M3"), "C1", "C1 does not work bucket M3 (works M1–M2)"),
        (_case(), "C2", "C2 does not work product card"),
        (_case(language="ug"), "C1", "C1 does not speak ug"),
        (
            _case(queue="T2", bucket="M2"),
            "C1",
            "C1 is in team T1; the strategy routes the case to T2",
        ),
        (_case(bucket="M9"), "C1", "bucket M9 is not one of the teams file's buckets"),
    ],
)
def test_reassign__a_collector_without_the_skills_is_refused_with_the_reason(
    case: CaseToMove, to: str, why: str
) -> None:
    with pytest.raises(ReassignmentRefused, match="^" + re.escape(why)):
        judge_reassignment(case, to, CONFIG, 0)


def test_reassign__a_collector_takes_cases_up_to_max_open_cases_and_no_more() -> None:
    assert judge_reassignment(_case(), "C1", CONFIG, 2).changed  # the third of three
    with pytest.raises(ReassignmentRefused, match="C1 holds 3 open cases: its max_open_cases is 3"):
        judge_reassignment(_case(), "C1", CONFIG, 3)


def test_reassign__an_agency_takes_only_cases_the_rules_place_with_agencies() -> None:
    with pytest.raises(
        ReassignmentRefused, match=r"bucket M2 is not placed with agencies \(from M4\)"
    ):
        judge_reassignment(_case(bucket="M2"), "AG1", CONFIG, 0)
    with pytest.raises(ReassignmentRefused, match="AG2 does not take bucket M4"):
        judge_reassignment(_case(bucket="M4", product_id="loan"), "AG2", CONFIG, 0)
    with pytest.raises(ReassignmentRefused, match="AG2 does not take product card"):
        judge_reassignment(_case(bucket="M5"), "AG2", CONFIG, 0)
    with pytest.raises(ReassignmentRefused, match="the strategy routes the case to team T2"):
        judge_reassignment(_case(bucket="M5", queue="T2"), "AG1", CONFIG, 0)
    # the strategy's "agency" queue sends an earlier bucket to an agency that takes it
    early = teams([collector("C1")], [agency("AG1", buckets=("M2", "M7+"))], agency_from="M4")
    assert judge_reassignment(_case(bucket="M2", queue="agency"), "AG1", early, 0).changed
    with pytest.raises(ReassignmentRefused, match="not placed with agencies"):
        judge_reassignment(_case(bucket="M2"), "AG1", early, 0)


def test_reassign__a_placement_names_the_commission_and_respects_the_agency_capacity() -> None:
    placed = judge_reassignment(
        _case(bucket="M4", owner="C3", owner_kind="collector"), "AG1", CONFIG, 1
    )
    assert (placed.owner_kind, placed.team, placed.decision) == (
        OwnerKind.AGENCY,
        None,
        Decision.PLACED,
    )
    assert placed.commission_ppm == 180_000
    assert placed.reason == "placed with agency AG1 (bucket M4; commission 18%), was with C3"
    with pytest.raises(ReassignmentRefused, match="AG1 holds 2 open cases: its capacity is 2"):
        judge_reassignment(_case(bucket="M4"), "AG1", CONFIG, 2)


def test_reassign__a_case_taken_back_from_an_agency_is_recalled_and_may_be_placed_again() -> None:
    back = judge_reassignment(_case(bucket="M4", owner="AG1", owner_kind="agency"), "C3", CONFIG, 0)
    assert back.decision is Decision.RECALLED
    assert back.reason == "recalled from AG1 to C3 (team T2)"
    assert back.note is not None and "next allocation run places it with an agency" in back.note


def test_reassign__to_the_owner_it_has_changes_nothing_even_when_they_are_full() -> None:
    same = judge_reassignment(_case(owner="C1", owner_kind="collector"), "C1", CONFIG, 3)
    assert not same.changed and same.owner == "C1" and same.reason == "already with C1"


def test_reassign__an_owner_not_in_the_teams_file_is_unknown() -> None:
    with pytest.raises(UnknownOwner, match="'C9' is neither a collector nor an agency"):
        judge_reassignment(_case(), "C9", CONFIG, 0)


@pytest.mark.parametrize(
    ("bucket", "to", "queue"),
    [("M1", "C1", None), ("M2", "C3", "T2"), ("M4", "AG1", None), ("M2", "C1", None)],
)
def test_reassign__the_next_allocation_run_keeps_the_case_with_its_new_owner(
    bucket: str, to: str, queue: str | None
) -> None:
    moved = judge_reassignment(_case(bucket=bucket, queue=queue), to, CONFIG, 0)
    night = allocate(
        cases(
            {
                "bucket": bucket,
                "queue": queue,
                "current_owner": moved.owner,
                "owner_kind": moved.owner_kind.value,
                "owned_since": MONDAY,
                "last_progress_on": days_ago(MONDAY, 1),
            }
        ),
        CONFIG,
        MONDAY,
    ).cases.row(0, named=True)
    assert (night["owner"], night["decision"]) == (to, "kept"), night["reason"]


def test_teams_in_force__the_environment_names_the_operations_file_else_the_shipped_one(
    tmp_path: Path,
) -> None:
    from recoup.allocation import default_teams_path, teams_path_in_force

    ours = tmp_path / "teams.yaml"
    assert teams_path_in_force({"RECOUP_TEAMS": str(ours)}) == ours
    assert teams_path_in_force({}) == default_teams_path()
    assert teams_path_in_force({"RECOUP_TEAMS": ""}) == default_teams_path()

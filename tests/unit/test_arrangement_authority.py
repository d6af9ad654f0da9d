"""Who may grant what: every edge of the authority matrix is exact, every mistake in the file
is named by line and field, and the approval of a request follows its rules step by step."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recoup.arrangements import (
    ApprovalRefused,
    ArrangementKind,
    Ask,
    AuthorityMatrix,
    Granted,
    Request,
    RequestStatus,
    StepAction,
    approve,
    authority_for,
    default_authority,
    expire,
    parse_authority,
    reject,
    request_or_grant,
    who_can_approve,
)
from recoup.yamlfile import YamlFileError

WAIVER = ArrangementKind.WAIVER
SETTLEMENT = ArrangementKind.SETTLEMENT
PLAN = ArrangementKind.PLAN
PROMISE = ArrangementKind.PROMISE

MATRIX = """\
roles: [collector, senior_collector, team_lead, manager, head_of_collections]
approvers:
  team_lead: [collector, senior_collector]
  manager: [collector, senior_collector, team_lead]
  head_of_collections: [collector, senior_collector, team_lead, manager]
two_person_above: "50000.00"
limits:
  - {role: collector, kind: waiver, buckets: {from: M1, to: M3},
     max_amount: "200.00", max_share: "50%"}
  - {role: collector, kind: settlement, buckets: {from: M4, to: M7+}, max_discount: "20%"}
  - {role: collector, kind: plan, buckets: {from: M1, to: M7+}, max_term_months: 24}
  - {role: team_lead, kind: waiver, max_amount: "2000.00"}
  - {role: team_lead, kind: settlement, max_discount: "40%", max_amount: "20000.00"}
  - {role: team_lead, kind: plan, max_term_months: 36}
  - {role: team_lead, kind: promise, buckets: {from: M6, to: M7+}}
  - {role: manager, kind: waiver, max_amount: "100000.00"}
  - {role: manager, kind: settlement, max_discount: "60%", max_amount: "200000.00"}
  - {role: head_of_collections, kind: settlement, max_discount: "80.5%"}
"""

#: The same limits as plain data, for the oracle: (role, kind, first, last, dimensions).
BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")
ORACLE_LIMITS: list[tuple[str, str, str, str, dict[str, int]]] = [
    ("collector", "waiver", "M1", "M3", {"cents": 20_000, "share_bp": 5_000}),
    ("collector", "settlement", "M4", "M7+", {"discount_bp": 2_000}),
    ("collector", "plan", "M1", "M7+", {"months": 24}),
    ("team_lead", "waiver", "M0", "M7+", {"cents": 200_000}),
    ("team_lead", "settlement", "M0", "M7+", {"discount_bp": 4_000, "cents": 2_000_000}),
    ("team_lead", "plan", "M0", "M7+", {"months": 36}),
    ("team_lead", "promise", "M6", "M7+", {}),
    ("manager", "waiver", "M0", "M7+", {"cents": 10_000_000}),
    ("manager", "settlement", "M0", "M7+", {"discount_bp": 6_000, "cents": 20_000_000}),
    ("head_of_collections", "settlement", "M0", "M7+", {"discount_bp": 8_050}),
]

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def matrix() -> AuthorityMatrix:
    return parse_authority(MATRIX, "authority.yaml")


def waiver(cents: int, share: str = "0.5", bucket: str = "M2") -> Ask:
    return Ask(WAIVER, bucket, cents, balance_cents=1_000_000, share=Decimal(share))


def settlement(cents: int, balance: int = 1_000_000, bucket: str = "M5") -> Ask:
    return Ask(SETTLEMENT, bucket, cents, balance_cents=balance)


def plan(months: int, bucket: str = "M2") -> Ask:
    return Ask(PLAN, bucket, 0, balance_cents=500_000, term_months=months)


def pending(
    matrix: AuthorityMatrix, ask: Ask, by: str = "cora", role: str = "collector"
) -> Request:
    result = request_or_grant(matrix, by, role, ask, NOW, "R-1")
    assert isinstance(result, Request)
    assert result.status is RequestStatus.PENDING
    return result


# ---------------------------------------------------------------------------------- the file


def _error(old: str, new: str) -> tuple[str, int]:
    """The error of MATRIX with ``old`` replaced by ``new``, and the line ``new`` is on."""
    assert old in MATRIX, old
    text = MATRIX.replace(old, new, 1)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if new.strip() in row)
    with pytest.raises(YamlFileError) as caught:
        parse_authority(text, "authority.yaml")
    return str(caught.value), line


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (
            "{role: team_lead, kind: waiver,",
            "{role: team_leader, kind: waiver,",
            "limits[3].role",
            "unknown role 'team_leader'; roles: collector, senior_collector",
        ),
        (
            "buckets: {from: M1, to: M3}",
            "buckets: {from: M3, to: M1}",
            "limits[0].buckets.to",
            "M1 comes before M3",
        ),
        (
            "buckets: {from: M4, to: M7+}, max_discount",
            "buckets: {from: M4, to: M9}, max_discount",
            "limits[1].buckets.to",
            "unknown bucket 'M9'",
        ),
        ('max_share: "50%"', 'max_share: "100.01%"', "limits[0].max_share", "0% and 100%"),
        ('max_share: "50%"', 'max_share: "-1%"', "limits[0].max_share", "0% and 100%"),
        ('max_share: "50%"', 'max_share: "50.005%"', "limits[0].max_share", "basis point"),
        ('max_share: "50%"', "max_share: 0.5", "limits[0].max_share", 'such as "20%"'),
        ('max_amount: "200.00"', 'max_amount: "-0.01"', "limits[0].max_amount", "negative"),
        ('max_amount: "200.00"', "max_amount: 200.5", "limits[0].max_amount", "quoted text"),
        ('max_amount: "200.00"', 'max_amount: "200.001"', "limits[0].max_amount", "two decimals"),
        ('two_person_above: "50000.00"', 'two_person_above: "-5"', "two_person_above", "negative"),
        (
            "max_term_months: 24",
            "max_term_months: 61",
            "limits[2].max_term_months",
            "between 1 and 60",
        ),
        (
            "  team_lead: [collector, senior_collector]",
            "  team_lead: [collector, senior_colector]",
            "approvers.team_lead[1]",
            "unknown role 'senior_colector'",
        ),
        (
            "  team_lead: [collector, senior_collector]",
            "  supervisor: [collector, senior_collector]",
            "approvers.supervisor",
            "unknown role 'supervisor'",
        ),
        (
            "  team_lead: [collector, senior_collector]",
            "  team_lead: [collector, manager]",
            "approvers.team_lead[1]",
            "team_lead ranks below manager",
        ),
        (
            "{role: collector, kind: plan,",
            "{role: collector, kind: loan,",
            "limits[2].kind",
            "unknown kind 'loan'; kinds: promise, plan, settlement, waiver",
        ),
        (
            'max_discount: "20%"}',
            'max_discount: "20%", max_share: "5%"}',
            "limits[1].max_share",
            "unknown field",
        ),
        (
            '{role: team_lead, kind: waiver, max_amount: "2000.00"}',
            "{role: team_lead, kind: waiver}",
            "limits[3]",
            "must bound something: give max_amount or max_share",
        ),
        (
            "{role: team_lead, kind: plan, max_term_months: 36}",
            "{role: team_lead, kind: waiver, max_amount: '1.00'}",
            "limits[5].buckets",
            "team_lead's limits for waivers overlap: limits[3] already covers M0–M7+",
        ),
    ],
)
def test_file__a_mistake_is_named_by_line_and_field(
    old: str, new: str, field: str, words: str
) -> None:
    message, line = _error(old, new)
    assert message.startswith(f"authority.yaml, line {line}, {field}: "), message
    assert words in message


def test_file__a_missing_section_is_named() -> None:
    text = MATRIX.replace('two_person_above: "50000.00"\n', "")
    with pytest.raises(YamlFileError, match=r"authority.yaml, line 1, two_person_above: missing"):
        parse_authority(text, "authority.yaml")


def test_file__a_role_listed_twice_is_named() -> None:
    text = MATRIX.replace("roles: [collector, senior_collector,", "roles: [collector, collector,")
    with pytest.raises(YamlFileError, match=r"line 1, roles\[1\]: 'collector' is listed twice"):
        parse_authority(text, "authority.yaml")


def test_file__reads_limits_as_cents_and_decimal_shares(matrix: AuthorityMatrix) -> None:
    first = matrix.limits[0]
    assert (first.role, first.kind, str(first.buckets)) == ("collector", WAIVER, "M1–M3")
    assert first.max_amount_cents == 20_000
    assert first.max_share == Decimal("0.5")
    assert matrix.limits[-1].max_discount == Decimal("0.805")
    assert matrix.two_person_above_cents == 5_000_000
    assert matrix.approver_roles_for("collector") == ("team_lead", "manager", "head_of_collections")
    assert len(matrix.version) == 12


def test_default_file__loads_and_grants_every_role_promises() -> None:
    default = default_authority()
    assert default.roles[0] == "collector" and default.roles[-1] == "head_of_collections"
    promise = Ask(PROMISE, "M7+", 0, balance_cents=100_000)
    for role in default.roles:
        assert authority_for(default, role, promise).allowed, role
    assert authority_for(default, "collector", waiver(20_000)).allowed
    assert not authority_for(default, "collector", waiver(20_001)).allowed


# ---------------------------------------------------------------------------------- edges


def test_authority__allows_a_waiver_exactly_at_the_amount_limit(matrix: AuthorityMatrix) -> None:
    verdict = authority_for(matrix, "collector", waiver(20_000))
    assert verdict.allowed
    assert verdict.rule == "collector/waiver/M1-M3"
    assert "the waived amount 200.00 is within the limit of 200.00" in verdict.reason


def test_authority__refuses_a_waiver_one_cent_over_and_it_becomes_a_request(
    matrix: AuthorityMatrix,
) -> None:
    verdict = authority_for(matrix, "collector", waiver(20_001))
    assert not verdict.allowed
    assert verdict.reason == (
        "beyond collector's limit for waivers in M1–M3: "
        "the waived amount 200.01 is over the limit of 200.00"
    )
    request = pending(matrix, waiver(20_001))
    assert request.verdict == verdict
    assert request.approvals_needed == 1
    assert request.steps == ()


def test_authority__allows_the_waived_share_at_the_limit_and_refuses_one_basis_point_over(
    matrix: AuthorityMatrix,
) -> None:
    assert authority_for(matrix, "collector", waiver(100, share="0.5")).allowed
    over = authority_for(matrix, "collector", waiver(100, share="0.5001"))
    assert not over.allowed
    assert "the waived share 50.01% of the component is over the limit of 50%" in over.reason


def test_authority__names_every_dimension_that_is_over(matrix: AuthorityMatrix) -> None:
    verdict = authority_for(matrix, "collector", waiver(30_000, share="0.75"))
    assert "300.00 is over the limit of 200.00; the waived share 75%" in verdict.reason


def test_authority__allows_the_settlement_discount_at_the_limit_and_refuses_one_basis_point_over(
    matrix: AuthorityMatrix,
) -> None:
    at_limit = authority_for(matrix, "collector", settlement(200_000))
    assert at_limit.allowed
    assert "(20% of the balance 10000.00) is within the limit of 20%" in at_limit.reason
    over = authority_for(matrix, "collector", settlement(200_100))
    assert not over.allowed
    assert over.reason == (
        "beyond collector's limit for settlements in M4–M7+: the discount 2001.00 "
        "(20.01% of the balance 10000.00) is over the limit of 20%, which is 2000.00"
    )


def test_authority__refuses_a_settlement_discount_one_cent_over_its_share(
    matrix: AuthorityMatrix,
) -> None:
    assert not authority_for(matrix, "collector", settlement(200_001)).allowed
    # 20% of 333.33 is 66.666: 66.66 is within, 66.67 is over.
    assert authority_for(matrix, "collector", settlement(6_666, balance=33_333)).allowed
    over = authority_for(matrix, "collector", settlement(6_667, balance=33_333))
    assert not over.allowed
    assert "(about 20.0012% of the balance 333.33)" in over.reason
    assert "which is 66.66" in over.reason


def test_authority__a_settlement_share_given_must_match_its_discount() -> None:
    explicit = Ask(SETTLEMENT, "M5", 200_000, balance_cents=1_000_000, share=Decimal("0.2"))
    assert explicit.discount_share == Decimal("0.2")
    with pytest.raises(ValueError, match="leave share out"):
        Ask(SETTLEMENT, "M5", 200_000, balance_cents=1_000_000, share=Decimal("0.19"))


def test_authority__applies_both_the_share_and_the_amount_of_a_settlement_limit(
    matrix: AuthorityMatrix,
) -> None:
    # 40% of 100,000.00 is 40,000.00, but the team lead's amount cap is 20,000.00.
    assert authority_for(matrix, "team_lead", settlement(2_000_000, balance=10_000_000)).allowed
    verdict = authority_for(matrix, "team_lead", settlement(2_000_001, balance=10_000_000))
    assert not verdict.allowed
    assert "the discount 20000.01 is over the limit of 20000.00" in verdict.reason


def test_authority__allows_a_plan_at_the_term_limit_and_refuses_one_month_over(
    matrix: AuthorityMatrix,
) -> None:
    assert authority_for(matrix, "collector", plan(24)).allowed
    over = authority_for(matrix, "collector", plan(25))
    assert not over.allowed
    assert "the term of 25 months is over the limit of 24 months" in over.reason


def test_authority__refuses_a_bucket_outside_the_limits_range(matrix: AuthorityMatrix) -> None:
    verdict = authority_for(matrix, "collector", waiver(100, bucket="M4"))
    assert not verdict.allowed
    assert verdict.reason == "collector may grant waivers only in M1–M3; the account is in M4"
    assert not authority_for(matrix, "collector", settlement(100, bucket="M3")).allowed
    assert authority_for(matrix, "team_lead", Ask(PROMISE, "M6", 0, 100)).allowed
    assert not authority_for(matrix, "team_lead", Ask(PROMISE, "M5", 0, 100)).allowed


def test_authority__refuses_a_kind_the_role_has_no_limit_for(matrix: AuthorityMatrix) -> None:
    verdict = authority_for(matrix, "collector", Ask(PROMISE, "M1", 0, balance_cents=100))
    assert not verdict.allowed
    assert verdict.reason == (
        "collector may not grant promises to pay at all: the authority file gives collector "
        "no limit for them"
    )
    assert not authority_for(matrix, "senior_collector", waiver(1)).allowed


def test_authority__refuses_an_unknown_role_or_bucket(matrix: AuthorityMatrix) -> None:
    with pytest.raises(ValueError, match="unknown role 'intern'"):
        authority_for(matrix, "intern", waiver(1))
    with pytest.raises(ValueError, match="unknown bucket 'M9'"):
        authority_for(matrix, "collector", waiver(1, bucket="M9"))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"kind": WAIVER, "amount_cents": 1}, "needs the share"),
        ({"kind": PLAN, "amount_cents": 0}, "needs term_months"),
        ({"kind": PROMISE, "amount_cents": 5}, "gives nothing up"),
        ({"kind": PROMISE, "amount_cents": 0, "term_months": 3}, "term_months is for"),
        ({"kind": WAIVER, "amount_cents": 1, "share": Decimal("1.01")}, "between 0 and 1"),
        ({"kind": WAIVER, "amount_cents": 2_000, "share": Decimal(1)}, "more than the balance"),
        ({"kind": SETTLEMENT, "amount_cents": -1}, "never negative"),
    ],
)
def test_ask__refuses_values_that_do_not_fit_its_kind(
    kwargs: dict[str, object], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        Ask(bucket="M2", balance_cents=1_000, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- requests


def test_request__within_authority_is_granted_at_once_and_recorded(
    matrix: AuthorityMatrix,
) -> None:
    result = request_or_grant(matrix, "cora", "collector", waiver(20_000), NOW, "R-1")
    assert isinstance(result, Granted)
    record = result.request
    assert record.status is RequestStatus.GRANTED
    assert record.closed_at == NOW
    assert record.matrix_version == matrix.version
    (step,) = record.steps
    assert (step.actor, step.role, step.action, step.at) == ("cora", "collector", "grant", NOW)
    assert step.reason == result.verdict.reason


def test_request__beyond_authority_says_who_can_approve(matrix: AuthorityMatrix) -> None:
    assert who_can_approve(matrix, pending(matrix, waiver(20_001))) == [
        "team_lead",
        "manager",
    ]
    assert who_can_approve(matrix, pending(matrix, waiver(200_001))) == ["manager"]


def test_request__one_approval_within_the_approvers_authority_approves_it(
    matrix: AuthorityMatrix,
) -> None:
    request = pending(matrix, waiver(20_001))
    later = NOW + timedelta(hours=2)
    approved = approve(matrix, request, "tara", "team_lead", later, "long-standing customer")
    assert approved.status is RequestStatus.APPROVED
    assert approved.closed_at == later
    (step,) = approved.steps
    assert (step.actor, step.role, step.action) == ("tara", "team_lead", StepAction.APPROVE)
    assert step.reason == "long-standing customer"
    assert request.status is RequestStatus.PENDING  # the record given is not changed


def test_request__nobody_approves_or_rejects_their_own_request(matrix: AuthorityMatrix) -> None:
    request = pending(matrix, waiver(300_000), by="tara", role="team_lead")
    with pytest.raises(ApprovalRefused, match="nobody may approve their own request"):
        approve(matrix, request, "tara", "manager", NOW)
    with pytest.raises(ApprovalRefused, match="nobody may reject their own request"):
        reject(matrix, request, "tara", "manager", NOW, "changed my mind")


def test_request__an_approver_whose_role_may_not_approve_the_requesters_is_refused(
    matrix: AuthorityMatrix,
) -> None:
    request = pending(matrix, waiver(20_001))
    with pytest.raises(ApprovalRefused) as caught:
        approve(matrix, request, "sam", "senior_collector", NOW)
    assert str(caught.value) == (
        "a senior_collector may not approve requests of a collector (who could: team_lead, manager)"
    )
    by_lead = pending(matrix, waiver(200_001), by="tara", role="team_lead")
    with pytest.raises(
        ApprovalRefused, match="a team_lead may not approve requests of a team_lead"
    ):
        approve(matrix, by_lead, "tom", "team_lead", NOW)


def test_request__an_approver_whose_own_authority_is_too_small_is_refused(
    matrix: AuthorityMatrix,
) -> None:
    request = pending(matrix, waiver(200_001))
    with pytest.raises(ApprovalRefused) as caught:
        approve(matrix, request, "tara", "team_lead", NOW)
    message = str(caught.value)
    assert message.startswith("tara (team_lead) may not approve request R-1, which is beyond")
    assert "the waived amount 2000.01 is over the limit of 2000.00" in message
    assert message.endswith("(who could: manager)")
    assert approve(matrix, request, "mia", "manager", NOW).status is RequestStatus.APPROVED


def test_request__above_the_two_person_limit_needs_two_distinct_approvers(
    matrix: AuthorityMatrix,
) -> None:
    ask = settlement(5_000_001, balance=10_000_000)  # 50,000.01: one cent over the rule
    request = pending(matrix, ask)
    assert request.approvals_needed == 2
    assert who_can_approve(matrix, request) == ["manager", "head_of_collections"]
    first = approve(matrix, request, "mia", "manager", NOW, "recovery beats the agency's")
    assert first.status is RequestStatus.PENDING
    assert [s.actor for s in first.approvals] == ["mia"]
    with pytest.raises(ApprovalRefused, match="mia has already approved request R-1"):
        approve(matrix, first, "mia", "manager", NOW)
    second = approve(matrix, first, "hal", "head_of_collections", NOW + timedelta(hours=1))
    assert second.status is RequestStatus.APPROVED
    assert [(s.actor, s.role) for s in second.steps] == [
        ("mia", "manager"),
        ("hal", "head_of_collections"),
    ]


def test_request__exactly_at_the_two_person_limit_needs_one_approver(
    matrix: AuthorityMatrix,
) -> None:
    request = pending(matrix, settlement(5_000_000, balance=10_000_000))
    assert request.approvals_needed == 1
    assert approve(matrix, request, "mia", "manager", NOW).status is RequestStatus.APPROVED


def test_request__within_authority_but_above_the_two_person_limit_needs_one_approver(
    matrix: AuthorityMatrix,
) -> None:
    ask = settlement(6_000_000, balance=20_000_000)  # 30%, within the manager's 60%
    request = pending(matrix, ask, by="mia", role="manager")
    assert request.verdict.allowed
    assert request.approvals_needed == 1
    assert who_can_approve(matrix, request) == ["head_of_collections"]
    approved = approve(matrix, request, "hal", "head_of_collections", NOW)
    assert approved.status is RequestStatus.APPROVED


def test_request__that_no_role_could_approve_is_refused_at_once(matrix: AuthorityMatrix) -> None:
    ask = settlement(6_000_000, balance=20_000_000)
    with pytest.raises(ApprovalRefused, match="names no approver for a head_of_collections"):
        request_or_grant(matrix, "hal", "head_of_collections", ask, NOW, "R-2")
    with pytest.raises(ApprovalRefused, match="none has the authority"):
        request_or_grant(matrix, "cora", "collector", settlement(900_000), NOW, "R-3")


def test_request__the_heads_largest_asks_are_countersigned_in_the_default_file() -> None:
    default = default_authority()
    ask = settlement(6_000_000, balance=20_000_000)
    request = pending(default, ask, by="hal", role="head_of_collections")
    assert who_can_approve(default, request) == ["head_of_collections"]
    assert approve(default, request, "hope", "head_of_collections", NOW).status == "approved"


def test_request__rejection_needs_a_reason(matrix: AuthorityMatrix) -> None:
    request = pending(matrix, waiver(20_001))
    for blank in ("", "   "):
        with pytest.raises(ApprovalRefused, match="rejecting request R-1 needs a reason"):
            reject(matrix, request, "tara", "team_lead", NOW, blank)
    rejected = reject(matrix, request, "tara", "team_lead", NOW, " no hardship shown ")
    assert rejected.status is RequestStatus.REJECTED
    assert rejected.closed_at == NOW
    (step,) = rejected.steps
    assert (step.action, step.reason) == (StepAction.REJECT, "no hardship shown")


def test_request__a_rejection_after_a_first_approval_closes_it(matrix: AuthorityMatrix) -> None:
    request = pending(matrix, settlement(5_000_001, balance=10_000_000))
    first = approve(matrix, request, "mia", "manager", NOW)
    rejected = reject(matrix, first, "hal", "head_of_collections", NOW, "too deep a discount")
    assert rejected.status is RequestStatus.REJECTED
    assert [s.action for s in rejected.steps] == [StepAction.APPROVE, StepAction.REJECT]


def test_request__a_decided_request_cannot_be_decided_again(matrix: AuthorityMatrix) -> None:
    request = pending(matrix, waiver(20_001))
    rejected = reject(matrix, request, "tara", "team_lead", NOW, "no hardship shown")
    with pytest.raises(ApprovalRefused, match="R-1 is already rejected; only a pending request"):
        approve(matrix, rejected, "mia", "manager", NOW)
    approved = approve(matrix, request, "tara", "team_lead", NOW)
    with pytest.raises(ApprovalRefused, match="already approved; only a pending request can be"):
        approve(matrix, approved, "mia", "manager", NOW)
    with pytest.raises(ApprovalRefused, match="already approved"):
        reject(matrix, approved, "mia", "manager", NOW, "second thoughts")


def test_request__a_decision_before_the_request_was_made_is_refused(
    matrix: AuthorityMatrix,
) -> None:
    request = pending(matrix, waiver(20_001))
    with pytest.raises(ApprovalRefused, match="was made after"):
        approve(matrix, request, "tara", "team_lead", NOW - timedelta(minutes=1))


def test_expire__a_pending_request_expires_when_its_days_are_up(matrix: AuthorityMatrix) -> None:
    request = pending(matrix, waiver(20_001))
    deadline = NOW + timedelta(days=7)
    assert expire(request, deadline - timedelta(seconds=1), days=7) is request
    expired = expire(request, deadline + timedelta(hours=5), days=7)
    assert expired.status is RequestStatus.EXPIRED
    assert expired.closed_at == deadline
    with pytest.raises(ApprovalRefused, match="already expired"):
        approve(matrix, expired, "tara", "team_lead", deadline)


def test_expire__keeps_a_first_approval_and_leaves_decided_requests_alone(
    matrix: AuthorityMatrix,
) -> None:
    request = pending(matrix, settlement(5_000_001, balance=10_000_000))
    first = approve(matrix, request, "mia", "manager", NOW)
    expired = expire(first, NOW + timedelta(days=30), days=7)
    assert expired.status is RequestStatus.EXPIRED and expired.steps == first.steps
    approved = approve(matrix, pending(matrix, waiver(20_001)), "tara", "team_lead", NOW)
    assert expire(approved, NOW + timedelta(days=30), days=7) is approved
    granted = request_or_grant(matrix, "cora", "collector", waiver(1), NOW, "R-9")
    assert isinstance(granted, Granted)
    assert expire(granted.request, NOW + timedelta(days=30), days=7) is granted.request


# ---------------------------------------------------------------------------------- property


def _oracle(role: str, ask: Ask) -> bool:
    """The slow, obvious reading of the limits above."""
    position = BUCKETS.index(ask.bucket)
    for lim_role, kind, first, last, dims in ORACLE_LIMITS:
        if lim_role != role or kind != ask.kind.value:
            continue
        if not BUCKETS.index(first) <= position <= BUCKETS.index(last):
            continue
        ok = True
        if "cents" in dims:
            ok = ok and ask.amount_cents <= dims["cents"]
        if "share_bp" in dims:
            assert ask.share is not None
            ok = ok and Fraction(ask.share) <= Fraction(dims["share_bp"], 10_000)
        if "discount_bp" in dims:
            discount = Fraction(ask.amount_cents, ask.balance_cents)
            ok = ok and discount <= Fraction(dims["discount_bp"], 10_000)
        if "months" in dims:
            assert ask.term_months is not None
            ok = ok and ask.term_months <= dims["months"]
        return ok
    return False


#: Amounts close to every limit, so the edges come up often.
_EDGES = [
    cents + delta
    for cents in (20_000, 200_000, 2_000_000, 10_000_000, 20_000_000)
    for delta in (-1, 0, 1)
]


@st.composite
def asks(draw: st.DrawFn) -> Ask:
    kind = draw(st.sampled_from(list(ArrangementKind)))
    bucket = draw(st.sampled_from(BUCKETS))
    balance = draw(st.integers(1, 30_000_000))
    if kind is PROMISE:
        return Ask(kind, bucket, 0, balance)
    if kind is PLAN:
        return Ask(kind, bucket, 0, balance, term_months=draw(st.integers(1, 72)))
    if kind is SETTLEMENT:
        share_bp = draw(st.sampled_from([2_000, 4_000, 6_000, 8_050]))
        edge = share_bp * balance // 10_000 + draw(st.integers(-1, 1))
        amount = draw(st.one_of(st.integers(0, balance), st.just(max(0, min(edge, balance)))))
        return Ask(kind, bucket, amount, balance)
    amount = draw(st.one_of(st.integers(0, 30_000_000), st.sampled_from(_EDGES)))
    balance = max(balance, amount)
    share = draw(
        st.one_of(
            st.integers(0, 10_000).map(lambda bp: Decimal(bp) / 10_000),
            st.sampled_from(["0.4999", "0.5", "0.5001", "0.50001"]).map(Decimal),
        )
    )
    return Ask(kind, bucket, amount, balance, share=share)


_PARSED = parse_authority(MATRIX, "authority.yaml")


@settings(max_examples=400, deadline=None)
@given(role=st.sampled_from(_PARSED.roles), ask=asks())
def test_authority__allows_exactly_when_every_dimension_is_within_the_limit(
    role: str, ask: Ask
) -> None:
    verdict = authority_for(_PARSED, role, ask)
    assert verdict.allowed == _oracle(role, ask), verdict.reason
    assert verdict.reason.startswith(("within", "beyond", role))


def test_authority__reasons_read_as_prose_without_python_reprs() -> None:
    default = default_authority()
    verdict = authority_for(default, "collector", waiver(30_000, share="0.6"))
    assert not re.search(r"Decimal|ArrangementKind|<", verdict.reason)

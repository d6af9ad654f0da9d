"""A team lead's reassignment of one case (改派): to a collector, or placed with an agency.

The nightly allocation (:func:`recoup.allocation.allocate`) decides every open case's owner;
between two runs a team lead may move one case by hand. The move is judged against the same
teams file, so that the next run keeps it (continuity) instead of undoing it:

1. The new owner is a collector or an agency of the teams file (their ids share one
   namespace); anyone else is refused (:class:`UnknownOwner`).
2. A collector must be able to work the case, as the allocation says it (``Collector.
   can_take``): the case's bucket, its product, its language when known, and the team the
   strategy's queue names for it today, if any.
3. An agency must take the case's bucket and product (``Agency.can_take``), and the case must
   be one the rules place with agencies: from ``agency_from_bucket`` on, or queued
   ``agency`` by the strategy, and not routed to an in-house team.
4. Capacity, as the allocation counts it: a collector holds at most ``max_open_cases`` open
   cases and an agency at most ``capacity``, the moved case included. The daily ration of
   new cases (``daily_capacity``) and working days ration the nightly run's deals only; a
   lead's decision is not one of them.
5. Moving a case to the owner it has changes nothing (``changed`` is false), so repeating a
   reassignment is harmless.

A case the rules send to agencies may still be given to a collector (a recall for a reason
the lead knows); the result's ``note`` says that the next run may place it again. Whether the
borrower was told of an agency placement (CN-OUTSOURCE) is the compliance gate's question,
asked by the caller, who knows the messages sent. Pure: no store, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from recoup.allocation.allocate import Decision
from recoup.allocation.config import (
    AGENCY_QUEUE,
    Agency,
    Collector,
    OwnerKind,
    TeamsConfig,
    percent_text,
)
from recoup.money import rate_ppm


class ReassignmentRefused(ValueError):
    """A reassignment the teams file does not allow (the message says which rule and why)."""


class UnknownOwner(ReassignmentRefused):
    """The new owner is neither a collector nor an agency of the teams file."""


@dataclass(frozen=True, slots=True)
class CaseToMove:
    """What the allocation reads of one open case (:data:`recoup.allocation.CASE_COLUMNS`):
    its bucket and product, its language when known, the queue the strategy gave it today,
    and its owner now."""

    case_key: int
    bucket: str
    product_id: str
    owner: str | None = None
    owner_kind: str | None = None  # collector | agency
    queue: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Reassignment:
    """The case's new owner and why; ``changed`` is false when it already had that owner.
    ``team`` is the collector's team (null for an agency), ``commission_ppm`` the agency's
    rate for the case's bucket in parts per million."""

    case_key: int
    owner: str
    owner_kind: OwnerKind
    team: str | None
    decision: Decision  # assigned (to a collector), placed (with an agency), recalled
    changed: bool
    reason: str
    note: str | None = None
    commission_ppm: int | None = None


def judge_reassignment(
    case: CaseToMove, to: str, config: TeamsConfig, open_cases_of_new_owner: int
) -> Reassignment:
    """Move ``case`` to ``to``, a collector's or an agency's id in ``config``, who holds
    ``open_cases_of_new_owner`` open cases now (the case itself not counted, unless it is
    already theirs).

    Raises :class:`UnknownOwner` for an id the teams file does not declare, and
    :class:`ReassignmentRefused` naming the skill, bucket or capacity rule a move breaks.
    """
    collectors = {c.id: c for c in config.collectors}
    agencies = {a.id: a for a in config.agencies}
    if to not in collectors and to not in agencies:
        raise UnknownOwner(f"{to!r} is neither a collector nor an agency of the teams file")
    kind = OwnerKind.COLLECTOR if to in collectors else OwnerKind.AGENCY
    if case.owner == to and case.owner_kind in (None, kind.value):
        team = collectors[to].team if kind is OwnerKind.COLLECTOR else None
        return Reassignment(
            case.case_key, to, kind, team, _decision(case, kind), False, f"already with {to}"
        )
    position = config.bucket_position(case.bucket)
    if position is None:
        raise ReassignmentRefused(
            f"bucket {case.bucket} is not one of the teams file's buckets "
            f"({', '.join(config.buckets)})"
        )
    team_ids = {t.id for t in config.teams}
    routed_team = case.queue if case.queue in team_ids else None
    agency_bound = _agency_bound(config, position, case.queue, routed_team)
    was = f", was with {case.owner}" if case.owner else ""
    if kind is OwnerKind.COLLECTOR:
        collector = collectors[to]
        _check_collector(collector, case, position, routed_team, open_cases_of_new_owner)
        decision = _decision(case, kind)
        reason = (
            f"recalled from {case.owner} to {to} (team {collector.team})"
            if decision is Decision.RECALLED
            else f"assigned to {to} (team {collector.team}){was}"
        )
        note = (
            f"bucket {case.bucket} goes to agencies: the next allocation run places it with an "
            "agency that has room"
            if agency_bound
            else None
        )
        return Reassignment(
            case.case_key, to, kind, collector.team, decision, True, reason, note=note
        )
    agency = agencies[to]
    _check_agency(agency, config, case, position, routed_team, agency_bound)
    if open_cases_of_new_owner >= agency.capacity:
        raise ReassignmentRefused(
            f"{to} holds {open_cases_of_new_owner} open cases: its capacity is {agency.capacity}"
        )
    rate = agency.commission[case.bucket]
    return Reassignment(
        case.case_key,
        to,
        kind,
        None,
        Decision.PLACED,
        True,
        f"placed with agency {to} (bucket {case.bucket}; commission {percent_text(rate)}){was}",
        commission_ppm=rate_ppm(rate),
    )


def _decision(case: CaseToMove, kind: OwnerKind) -> Decision:
    if kind is OwnerKind.AGENCY:
        return Decision.PLACED
    if case.owner_kind == OwnerKind.AGENCY.value:
        return Decision.RECALLED
    return Decision.ASSIGNED


def _agency_bound(
    config: TeamsConfig, position: int, queue: str | None, routed_team: str | None
) -> bool:
    """Whether the allocation places the case with agencies (as ``allocate`` decides it)."""
    start = config.agency_from_position
    if not config.agencies or start is None or routed_team is not None:
        return False
    return position >= start or queue == AGENCY_QUEUE


def _check_collector(
    collector: Collector,
    case: CaseToMove,
    position: int,
    routed_team: str | None,
    open_cases: int,
) -> None:
    if not collector.can_take(position, case.product_id, case.language, routed_team):
        if not collector.buckets.covers(position):
            why = f"does not work bucket {case.bucket} (works {collector.buckets})"
        elif collector.products is not None and case.product_id not in collector.products:
            why = f"does not work product {case.product_id}"
        elif case.language is not None and case.language not in collector.languages:
            why = f"does not speak {case.language}"
        else:
            why = f"is in team {collector.team}; the strategy routes the case to {routed_team}"
        raise ReassignmentRefused(f"{collector.id} {why}")
    if open_cases >= collector.max_open_cases:
        raise ReassignmentRefused(
            f"{collector.id} holds {open_cases} open cases: its max_open_cases is "
            f"{collector.max_open_cases}"
        )


def _check_agency(
    agency: Agency,
    config: TeamsConfig,
    case: CaseToMove,
    position: int,
    routed_team: str | None,
    agency_bound: bool,
) -> None:
    if routed_team is not None:
        raise ReassignmentRefused(f"the strategy routes the case to team {routed_team}")
    if not agency_bound:
        start = config.rules.agency_from_bucket
        raise ReassignmentRefused(
            f"bucket {case.bucket} is not placed with agencies (from {start})"
            if start
            else "the teams file places no case with agencies"
        )
    if not agency.buckets.covers(position):
        raise ReassignmentRefused(
            f"{agency.id} does not take bucket {case.bucket} (takes {agency.buckets})"
        )
    if agency.products is not None and case.product_id not in agency.products:
        raise ReassignmentRefused(f"{agency.id} does not take product {case.product_id}")

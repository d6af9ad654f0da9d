"""A team lead's reassignment of one open case between allocation runs, against the store.

The rule is :func:`recoup.allocation.judge_reassignment` (the teams file's skills, buckets
and capacities). This module reads what the rule needs with the allocation's own reads (the
product of the oldest unpaid installment, :func:`~recoup.collection.case_book.oldest_unpaid`;
the queue the strategy gave the case on the last closed day,
:func:`~recoup.collection.allocation_run.day_queues`), asks whether the borrower was told of
an agency placement in time (CN-OUTSOURCE,
:func:`~recoup.collection.allocation_run.placements_without_notice`, as the nightly run
does), and writes the new owner on the case with a ``reassigned`` case event, in the
caller's transaction. The change is dated the ledger's open day (the day after the last
close), the day the new owner works the case.

The decision is recorded in the case's ownership history (``allocations``), as the nightly
run's are, with who decided it (``decided_by``, no ``run_id``) and the owner before it: a
payment made from its day on is credited to the new owner, and a re-run of the last closed
day's allocation does not undo it (:mod:`recoup.collection.allocation_run`). Its ``seq``
puts it after the case's other decisions of the day; the nightly run of the day, made after
the day's close, comes after it. The next run reads the new owner as the case's current
owner and keeps it by continuity; ``owned_since`` is the reassignment's day, so rotation
counts from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.allocation import (
    CaseToMove,
    OwnerKind,
    ReassignmentRefused,
    TeamsConfig,
    judge_reassignment,
)
from recoup.close import last_closed_day
from recoup.collection.allocation_run import day_queues, placements_without_notice
from recoup.collection.case_book import oldest_unpaid
from recoup.compliance import Profile
from recoup.store import tables as t

#: The case event a reassignment writes (not one of the nightly run's kinds, which a re-run
#: of its day deletes).
REASSIGNED = "reassigned"


class CaseNotFound(ReassignmentRefused):
    """There is no case with this key."""


class CaseNotOpen(ReassignmentRefused):
    """The case is closed: a closed case has no owner to change."""


class CaseMoved(ReassignmentRefused):
    """The case is no longer with the owner the caller saw (someone moved it since)."""


@dataclass(frozen=True, slots=True)
class Reassigned:
    """What a reassignment did (``changed`` false: the case already had that owner)."""

    case_key: int
    account_id: str
    on: date
    previous_owner: str | None
    previous_owner_kind: str | None
    previous_team: str | None
    owner: str
    owner_kind: str
    team: str | None
    decision: str
    changed: bool
    reason: str
    note: str | None
    why: str  # the words of whoever decided it

    def detail(self) -> dict[str, Any]:
        """The audit entry's detail."""
        return {
            "why": self.why,
            "case_key": self.case_key,
            "on": self.on.isoformat(),
            "from": self.previous_owner,
            "from_kind": self.previous_owner_kind,
            "to": self.owner,
            "to_kind": self.owner_kind,
            "team": self.team,
            "decision": self.decision,
            "reason": self.reason,
        }


def reassign_case(
    conn: Connection,
    case_key: int,
    to: str,
    config: TeamsConfig,
    *,
    by: str,
    why: str,
    now: datetime,
    policy: Profile,
    expected_owner: str | None = None,
) -> Reassigned:
    """Give the open case ``case_key`` to ``to`` (a collector or an agency of ``config``).

    ``by`` and ``why`` (who decided, and their words) go into the case event. With
    ``expected_owner``, the case must still be with that owner (else :class:`CaseMoved`), so
    that two leads moving the same case do not overwrite each other unseen. A case already
    with ``to`` is answered unchanged and nothing is written.

    Raises :class:`CaseNotFound`, :class:`CaseNotOpen`, :class:`CaseMoved`,
    :class:`recoup.allocation.UnknownOwner` and :class:`recoup.allocation.ReassignmentRefused`
    (the rule broken, or a placement without the outsourcing notice).
    """
    c, a = t.cases, t.accounts
    row = (
        conn.execute(
            sa.select(
                c.c.case_key,
                c.c.account_key,
                c.c.status,
                c.c.owner,
                c.c.owner_kind,
                c.c.team,
                c.c.owned_since,
                a.c.account_id,
                a.c.bucket,
            )
            .join(a, a.c.account_key == c.c.account_key)
            .where(c.c.case_key == case_key)
            .with_for_update(of=c)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise CaseNotFound(f"no case {case_key}")
    if row["status"] != "open":
        raise CaseNotOpen(f"case {case_key} is {row['status']}: only an open case has an owner")
    closed = last_closed_day(conn)
    if closed is None:
        raise ReassignmentRefused("no day has been closed yet: there is nothing to allocate")
    on = closed + timedelta(days=1)
    unpaid = oldest_unpaid(conn, [int(row["account_key"])])
    queues = day_queues(conn, closed, [case_key])
    case = CaseToMove(
        case_key=case_key,
        bucket=str(row["bucket"]),
        product_id=str(unpaid["product_id"][0]) if unpaid.height else "",
        owner=row["owner"],
        owner_kind=row["owner_kind"],
        queue=str(queues["queue"][0]) if queues.height else None,
    )
    already = row["owner"] == to
    if not already and expected_owner is not None and expected_owner != (row["owner"] or ""):
        raise CaseMoved(
            f"case {case_key} is now with {row['owner'] or 'nobody'}, not {expected_owner}"
        )
    holding = conn.execute(
        sa.select(sa.func.count()).where(
            c.c.status == "open", c.c.owner == to, c.c.case_key != case_key
        )
    ).scalar_one()
    moved = judge_reassignment(case, to, config, int(holding))
    if moved.changed and moved.owner_kind is OwnerKind.AGENCY:
        held = placements_without_notice(conn, [case_key], now, policy)
        if case_key in held:
            raise ReassignmentRefused(f"placement held: {held[case_key]}")
    result = Reassigned(
        case_key=case_key,
        account_id=str(row["account_id"]),
        on=on,
        previous_owner=row["owner"],
        previous_owner_kind=row["owner_kind"],
        previous_team=row["team"],
        owner=moved.owner,
        owner_kind=moved.owner_kind.value,
        team=moved.team,
        decision=moved.decision.value,
        changed=moved.changed,
        reason=moved.reason,
        note=moved.note,
        why=why.strip(),
    )
    if not moved.changed:
        return result
    conn.execute(
        c.update()
        .where(c.c.case_key == case_key)
        .values(
            owner=moved.owner, owner_kind=moved.owner_kind.value, team=moved.team, owned_since=on
        )
    )
    words = f": {result.why}" if result.why else ""
    al = t.allocations
    made = conn.execute(
        sa.select(sa.func.max(al.c.seq)).where(al.c.case_key == case_key, al.c.as_of == on)
    ).scalar_one()
    conn.execute(
        al.insert().values(
            case_key=case_key,
            as_of=on,
            seq=0 if made is None else int(made) + 1,
            owner=moved.owner,
            owner_kind=moved.owner_kind.value,
            team=moved.team,
            decision=moved.decision.value,
            reason=moved.reason + words,
            commission_ppm=moved.commission_ppm,
            previous_owner=row["owner"],
            previous_owner_kind=row["owner_kind"],
            previous_team=row["team"],
            previous_owned_since=row["owned_since"],
            run_id=None,
            decided_by=by,
        )
    )
    conn.execute(
        t.case_events.insert().values(
            case_key=case_key,
            happened_on=on,
            kind=REASSIGNED,
            detail=f"{moved.reason}, by {by}{words}",
        )
    )
    return result

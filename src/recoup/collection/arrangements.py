"""Arrangements against the store: what an account owes now, by component, and the approval
record of every ask for a concession (``arrangement_requests`` and ``arrangement_steps``).

The rules are pure (:mod:`recoup.arrangements`): the authority matrix decides, this module
reads and keeps. A request is written with every step it has; a decision appends one step and
moves the status, in the caller's transaction. Carrying out a granted or approved request
(posting a waiver, accepting a settlement, signing a plan) is :mod:`recoup.collection.postings`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.arrangements import (
    ApprovalRefused,
    ArrangementKind,
    Ask,
    AuthorityMatrix,
    Granted,
    Request,
    RequestStatus,
    Step,
    StepAction,
    Verdict,
    approve,
    reject,
    request_or_grant,
)
from recoup.arrangements.plans import Owed
from recoup.close import last_closed_day
from recoup.store import tables as t


class ArrangementRefused(ValueError):
    """An arrangement request that cannot be made or decided (the message says why)."""


@dataclass(frozen=True, slots=True)
class AccountOwed:
    account_key: int
    account_id: str
    bucket: str
    as_of: date
    owed: Owed


def owed_now(conn: Connection, account_id: str) -> AccountOwed:
    """What ``account_id`` owes at the end of the last closed day, by component: unpaid
    principal and fee of the installments due by then (overdue) and after (not due), and the
    unpaid late fees and penalty interest."""
    a, i, p = t.accounts, t.installments, t.plans
    row = conn.execute(
        sa.select(a.c.account_key, a.c.bucket).where(a.c.account_id == account_id)
    ).first()
    if row is None:
        raise ArrangementRefused(f"account {account_id!r} is not in the store")
    as_of = last_closed_day(conn)
    if as_of is None:
        raise ArrangementRefused("no day has been closed yet: the amounts owed are not known")
    due = i.c.due_date <= as_of
    unpaid_principal = i.c.principal_cents - i.c.paid_principal_cents - i.c.adjusted_principal_cents
    unpaid_fee = i.c.fee_cents - i.c.paid_fee_cents - i.c.adjusted_fee_cents

    def total(expr: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(expr), 0)

    sums = conn.execute(
        sa.select(
            total(sa.case((due, unpaid_principal), else_=0)),
            total(sa.case((due, 0), else_=unpaid_principal)),
            total(sa.case((due, unpaid_fee), else_=0)),
            total(sa.case((due, 0), else_=unpaid_fee)),
            total(i.c.late_fee_cents - i.c.paid_late_fee_cents - i.c.adjusted_late_fee_cents),
            total(i.c.penalty_cents - i.c.paid_penalty_cents - i.c.adjusted_penalty_cents),
        )
        .join(p, p.c.plan_key == i.c.plan_key)
        # A plan signed since (it starts on the open day) is not owed yet: the close of its
        # first day moves the old installments into it.
        .where(i.c.account_key == row[0], i.c.settled == 0, p.c.start_date <= as_of)
    ).one()
    owed = Owed(*(int(v) for v in sums))
    return AccountOwed(int(row[0]), account_id, str(row[1]), as_of, owed)


def open_request(
    conn: Connection,
    matrix: AuthorityMatrix,
    account: AccountOwed,
    ask: Ask,
    detail: dict[str, Any],
    requester: str,
    role: str,
    now: datetime,
) -> tuple[int, Granted | Request]:
    """Grant ``ask`` at once or open a request for it; either way it is recorded."""
    try:
        outcome = request_or_grant(matrix, requester, role, ask, now, request_id="(new)")
    except (ApprovalRefused, ValueError) as exc:
        raise ArrangementRefused(str(exc)) from None
    record = outcome.request if isinstance(outcome, Granted) else outcome
    r = t.arrangement_requests
    key = conn.execute(
        r.insert()
        .values(
            account_key=account.account_key,
            kind=ask.kind.value,
            bucket=ask.bucket,
            amount_cents=ask.amount_cents,
            balance_cents=ask.balance_cents,
            share=str(ask.share) if ask.share is not None else None,
            term_months=ask.term_months,
            detail=json.dumps(detail, default=str, ensure_ascii=False),
            requested_by=requester,
            requester_role=role,
            created_at=now.astimezone(UTC),
            status=record.status.value,
            approvals_needed=record.approvals_needed,
            matrix_version=record.matrix_version,
            verdict_allowed=int(record.verdict.allowed),
            verdict_rule=record.verdict.rule,
            verdict_reason=record.verdict.reason,
            closed_at=record.closed_at.astimezone(UTC) if record.closed_at else None,
        )
        .returning(r.c.request_key)
    ).scalar_one()
    _append_steps(conn, int(key), record.steps)
    return int(key), outcome


def decide(
    conn: Connection,
    matrix: AuthorityMatrix,
    request_key: int,
    actor: str,
    role: str,
    action: StepAction,
    reason: str,
    now: datetime,
) -> Request:
    """Approve or reject a stored request; the step is appended and the status moved."""
    request = load_request(conn, request_key)
    if request.matrix_version != matrix.version:
        raise ArrangementRefused(
            f"request R{request_key} was made under authority matrix {request.matrix_version}; "
            f"the matrix now is {matrix.version}: decide it under the matrix it was made under"
        )
    try:
        if action is StepAction.APPROVE:
            decided = approve(matrix, request, actor, role, now, reason)
        elif action is StepAction.REJECT:
            decided = reject(matrix, request, actor, role, now, reason)
        else:
            raise ArrangementRefused(f"a request is approved or rejected, not {action.value}")
    except ApprovalRefused as exc:
        raise ArrangementRefused(str(exc)) from None
    r = t.arrangement_requests
    conn.execute(
        r.update()
        .where(r.c.request_key == request_key)
        .values(
            status=decided.status.value,
            closed_at=decided.closed_at.astimezone(UTC) if decided.closed_at else None,
        )
    )
    _append_steps(conn, request_key, decided.steps[len(request.steps) :])
    return decided


def load_request(conn: Connection, request_key: int) -> Request:
    r, s = t.arrangement_requests, t.arrangement_steps
    row = conn.execute(sa.select(r).where(r.c.request_key == request_key)).mappings().first()
    if row is None:
        raise ArrangementRefused(f"no arrangement request R{request_key}")
    steps = tuple(
        Step(
            actor=step.actor,
            role=step.role,
            action=StepAction(step.action),
            at=_aware(step.at),
            reason=step.reason,
        )
        for step in conn.execute(
            sa.select(s).where(s.c.request_key == request_key).order_by(s.c.step_key)
        )
    )
    ask = Ask(
        kind=ArrangementKind(row["kind"]),
        bucket=row["bucket"],
        amount_cents=int(row["amount_cents"]),
        balance_cents=int(row["balance_cents"]),
        share=Decimal(row["share"]) if row["share"] is not None else None,
        term_months=row["term_months"],
    )
    return Request(
        request_id=f"R{request_key}",
        ask=ask,
        requested_by=row["requested_by"],
        requester_role=row["requester_role"],
        created_at=_aware(row["created_at"]),
        steps=steps,
        status=RequestStatus(row["status"]),
        verdict=Verdict(
            allowed=bool(row["verdict_allowed"]),
            rule=row["verdict_rule"],
            reason=row["verdict_reason"],
        ),
        approvals_needed=int(row["approvals_needed"]),
        matrix_version=row["matrix_version"],
        closed_at=_aware(row["closed_at"]) if row["closed_at"] else None,
    )


def list_requests(conn: Connection, status: str | None = None) -> list[dict[str, Any]]:
    r, a = t.arrangement_requests, t.accounts
    query = (
        sa.select(r, a.c.account_id)
        .join(a, a.c.account_key == r.c.account_key)
        .order_by(r.c.request_key)
    )
    if status is not None:
        query = query.where(r.c.status == status)
    return [dict(row) for row in conn.execute(query).mappings()]


def _append_steps(conn: Connection, request_key: int, steps: tuple[Step, ...]) -> None:
    s = t.arrangement_steps
    for step in steps:
        conn.execute(
            s.insert().values(
                request_key=request_key,
                actor=step.actor,
                role=step.role,
                action=step.action.value,
                at=step.at.astimezone(UTC),
                reason=step.reason,
            )
        )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

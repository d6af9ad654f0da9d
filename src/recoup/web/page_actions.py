"""What the web app's forms change, through the same services the command line uses.

Each function runs in the caller's transaction and appends its audit entry there, so the
change and its record are written together or not at all. A refused change raises
:class:`ActionRefused` with the service's own message. Concessions go through the authority
matrix with the workbench role mapped onto the matrix's roles (:data:`AUTHORITY_ROLE`); a
role with no place in the matrix may not ask or decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.compliance import Channel, Outcome, Party, Profile
from recoup.contact.book import POINT_KIND
from recoup.money import MoneyError, format_cents, parse_cents
from recoup.store import tables as t
from recoup.web import audit
from recoup.web.security import Role
from recoup.web.users import User

if TYPE_CHECKING:
    from recoup.allocation import TeamsConfig
    from recoup.collection.reassignment import Reassigned

#: The authority matrix's role for each workbench role that may ask for or decide concessions.
AUTHORITY_ROLE: dict[Role, str] = {
    Role.COLLECTOR: "collector",
    Role.AGENCY_COLLECTOR: "collector",
    Role.TEAM_LEAD: "team_lead",
    Role.ADMIN: "head_of_collections",
}

#: Channels a collector logs by hand, and outcomes they may log.
LOGGED_CHANNELS: tuple[Channel, ...] = (Channel.CALL, Channel.SMS, Channel.VOICEMAIL, Channel.EMAIL)
LOGGED_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.NO_ANSWER,
    Outcome.BUSY,
    Outcome.RIGHT_PARTY_CONTACT,
    Outcome.REFUSAL,
    Outcome.DISPUTE,
    Outcome.WRONG_NUMBER,
    Outcome.THIRD_PARTY_REACHED,
    Outcome.UNREACHABLE,
)


class ActionRefused(ValueError):
    """A form whose change cannot be made (the message says why)."""


def authority_role(user: User) -> str:
    role = AUTHORITY_ROLE.get(user.role)
    if role is None:
        raise ActionRefused(f"a {user.role.value} may not ask for or decide concessions")
    return role


def cents(text: str, field: str) -> int:
    try:
        return parse_cents(text.strip())
    except MoneyError as exc:
        raise ActionRefused(f"{field}: {exc}") from None


def share(text: str, field: str) -> Decimal:
    raw = text.strip()
    try:
        value = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise ActionRefused(f"{field}: not a share such as 50% or 0.5: {text!r}") from None
    if not Decimal(0) <= value <= Decimal(1):
        raise ActionRefused(f"{field}: a share is between 0% and 100%, got {text}")
    return value


def _point_value(conn: Connection, account_id: str, point_key: int, channel: Channel) -> str:
    """The recipient of a contact on ``channel`` to the account's contact point
    ``point_key``: the form names the point by key, so the number never reaches the page."""
    if channel is Channel.APP_PUSH:
        return f"app:{account_id}"
    cp, a = t.contact_points, t.accounts
    row = conn.execute(
        sa.select(cp.c.kind, cp.c.value)
        .join(a, a.c.borrower_key == cp.c.borrower_key)
        .where(a.c.account_id == account_id, cp.c.contact_point_key == point_key)
    ).first()
    if row is None:
        raise ActionRefused(f"contact point {point_key} is not one of account {account_id}'s")
    if POINT_KIND[channel] != row.kind:
        raise ActionRefused(f"contact point {point_key} is a {row.kind}, not for {channel.value}")
    return str(row.value)


def log_outcome(
    conn: Connection,
    user: User,
    account_id: str,
    *,
    channel: Channel,
    point_key: int,
    outcome: Outcome,
    note: str,
    profile: Profile,
    now: datetime,
    promise: tuple[int, date] | None = None,
) -> None:
    """Record one attempt and its outcome (with a promise to pay when ``promise`` gives its
    amount and date), through :func:`recoup.contact.outcomes.record_outcomes`."""
    from recoup.contact.outcomes import OutcomeRefused, OutcomeReport, record_outcomes

    to = _point_value(conn, account_id, point_key, channel)
    report = OutcomeReport(
        account_id=account_id,
        channel=channel,
        to=to,
        at=now,
        outcome=Outcome.PROMISE_TO_PAY if promise else outcome,
        party=Party.SELF,
        collector=user.owner_id or user.username,
        note=note.strip() or None,
        promise_cents=promise[0] if promise else None,
        promise_date=promise[1] if promise else None,
    )
    try:
        summary = record_outcomes(conn, [report], profile, now)
    except (OutcomeRefused, ValueError) as exc:
        raise ActionRefused(str(exc)) from None
    detail: dict[str, Any] = {"channel": channel.value, "outcome": report.outcome.value}
    if promise:
        detail |= {"amount": format_cents(promise[0]), "promised_for": promise[1].isoformat()}
    action = "promise.record" if promise else "contact.outcome"
    if summary.recorded:
        audit.append(conn, user.username, action, f"account:{account_id}", detail, now)


@dataclass(frozen=True, slots=True)
class Asked:
    """A concession asked for: granted at once (and posted) or waiting for approvers."""

    request_key: int
    granted: bool
    approvers: tuple[str, ...]
    reason: str


def ask_waiver(
    conn: Connection,
    user: User,
    account_id: str,
    *,
    component: str,
    amount: str,
    reason: str,
    now: datetime,
) -> Asked:
    """Ask for a waiver of ``amount`` (money, or a share ending in ``%``) of a component."""
    from recoup.arrangements import (
        ArrangementKind,
        Ask,
        Granted,
        default_authority,
        who_can_approve,
    )
    from recoup.arrangements.settlements import (
        WaiverComponent,
        WaiverRefused,
        owed_on,
        waiver_of,
    )
    from recoup.collection.arrangements import ArrangementRefused, open_request, owed_now
    from recoup.collection.postings import post_waiver

    role = authority_role(user)
    matrix = default_authority()
    try:
        kind = WaiverComponent(component)
    except ValueError:
        raise ActionRefused(f"unknown component {component!r}") from None
    given: int | Decimal = (
        share(amount, "share") if amount.strip().endswith("%") else cents(amount, "amount")
    )
    try:
        account = owed_now(conn, account_id)
        expires = account.as_of + timedelta(days=14)
        waiver = waiver_of(account.owed, kind, given, expires_on=expires, reason=reason)
        ask = Ask(
            ArrangementKind.WAIVER,
            account.bucket,
            waiver.amount_cents,
            account.owed.total,
            share=Decimal(waiver.amount_cents) / Decimal(owed_on(account.owed, kind)),
        )
        detail = {
            "component": kind.value,
            "amount": format_cents(waiver.amount_cents),
            "expires_on": expires.isoformat(),
            "reason": reason,
        }
        key, outcome = open_request(conn, matrix, account, ask, detail, user.username, role, now)
        granted = isinstance(outcome, Granted)
        if granted:
            post_waiver(conn, key, user.username, now)
    except (WaiverRefused, ArrangementRefused, ValueError) as exc:
        raise ActionRefused(str(exc)) from None
    record = outcome.request if isinstance(outcome, Granted) else outcome
    audit.append(
        conn,
        user.username,
        "waiver.request",
        f"account:{account_id}",
        detail | {"request": f"R{key}", "status": record.status.value},
        now,
    )
    approvers = () if granted else tuple(who_can_approve(matrix, record))
    return Asked(key, granted, approvers, record.verdict.reason)


@dataclass(frozen=True, slots=True)
class PlanPreview:
    term_months: int
    down_payment: str
    waived: str
    total_payable: str
    installments: tuple[tuple[str, str], ...]  # (due date, amount)


def _proposal(conn: Connection, account_id: str, term: int, down: str) -> tuple[Any, Any]:
    """What the account owes now and the plan of ``term`` months with ``down`` paid at
    signing, interest free, first due in 30 days, through the one plan-proposal service."""
    from recoup.arrangements.plans import PlanAsk, PlanRefused, proposal_for
    from recoup.collection.arrangements import ArrangementRefused, owed_now

    try:
        account = owed_now(conn, account_id)
        ask = PlanAsk(term_months=term, down_payment_cents=cents(down or "0", "down payment"))
        return account, proposal_for(account.owed, account.as_of, ask)
    except (PlanRefused, ArrangementRefused, ValueError) as exc:
        raise ActionRefused(str(exc)) from None


def preview_plan(conn: Connection, account_id: str, term: int, down: str) -> PlanPreview:
    """The plan ``term`` months with ``down`` paid on signing would give: nothing is kept."""
    _, proposal = _proposal(conn, account_id, term, down)
    return PlanPreview(
        term_months=proposal.term_months,
        down_payment=format_cents(proposal.down_payment_cents),
        waived=format_cents(proposal.waived_cents),
        total_payable=format_cents(proposal.total_payable_cents),
        installments=tuple(
            (i.due_date.isoformat(), format_cents(amount))
            for i, amount in zip(proposal.schedule, proposal.installment_amounts, strict=True)
        ),
    )


def sign_plan(
    conn: Connection, user: User, account_id: str, term: int, down: str, now: datetime
) -> Asked:
    """Sign the plan: within the user's authority it is posted at once, beyond it it becomes
    a request for approval (signed later, as ``recoup plan sign --request``)."""
    from recoup.arrangements import (
        ArrangementKind,
        Ask,
        Granted,
        default_authority,
        who_can_approve,
    )
    from recoup.collection.arrangements import ArrangementRefused, open_request
    from recoup.collection.postings import sign_plan as post_plan

    role = authority_role(user)
    matrix = default_authority()
    account, proposal = _proposal(conn, account_id, term, down)
    ask = Ask(
        ArrangementKind.PLAN,
        account.bucket,
        proposal.waived_cents,
        account.owed.total,
        term_months=proposal.term_months,
    )
    detail = {
        "term_months": proposal.term_months,
        "down_payment": format_cents(proposal.down_payment_cents),
        "total_payable": format_cents(proposal.total_payable_cents),
    }
    try:
        key, outcome = open_request(conn, matrix, account, ask, detail, user.username, role, now)
        granted = isinstance(outcome, Granted)
        if granted:
            post_plan(conn, account, proposal, by=user.username, now=now, request_key=key)
    except ArrangementRefused as exc:
        raise ActionRefused(str(exc)) from None
    record = outcome.request if isinstance(outcome, Granted) else outcome
    audit.append(
        conn,
        user.username,
        "plan.sign" if granted else "plan.request",
        f"account:{account_id}",
        detail | {"request": f"R{key}", "status": record.status.value},
        now,
    )
    approvers = () if granted else tuple(who_can_approve(matrix, record))
    return Asked(key, granted, approvers, record.verdict.reason)


def decide_request(
    conn: Connection, user: User, request_key: int, approve: bool, reason: str, now: datetime
) -> str:
    """Approve or reject a pending request; an approved waiver is posted at once. Returns
    the request's status after the decision."""
    from recoup.arrangements import ArrangementKind, RequestStatus, StepAction, default_authority
    from recoup.collection.arrangements import ArrangementRefused, decide
    from recoup.collection.postings import post_waiver

    role = authority_role(user)
    action = StepAction.APPROVE if approve else StepAction.REJECT
    if not approve and not reason.strip():
        raise ActionRefused("a rejection needs a reason")
    try:
        request = decide(
            conn, default_authority(), request_key, user.username, role, action, reason, now
        )
        if request.status is RequestStatus.APPROVED and request.ask.kind is ArrangementKind.WAIVER:
            post_waiver(conn, request_key, user.username, now)
    except ArrangementRefused as exc:
        raise ActionRefused(str(exc)) from None
    r, a = t.arrangement_requests, t.accounts
    account_id = conn.execute(
        sa.select(a.c.account_id)
        .join(r, r.c.account_key == a.c.account_key)
        .where(r.c.request_key == request_key)
    ).scalar_one()
    audit.append(
        conn,
        user.username,
        f"request.{action.value}",
        f"account:{account_id}",
        {"request": f"R{request_key}", "status": request.status.value, "reason": reason},
        now,
    )
    return request.status.value


def reassign_case(
    conn: Connection,
    user: User,
    account_id: str,
    owner: str,
    reason: str,
    *,
    config: TeamsConfig,
    profile: Profile,
    now: datetime,
) -> Reassigned:
    """Give the open case of ``account_id`` to ``owner`` (a collector or an agency of the
    teams file), through the service the API's ``POST /cases/{id}/assignment`` calls;
    audited as ``case.reassign`` when it changed anything."""
    from recoup.allocation import ReassignmentRefused
    from recoup.collection.reassignment import reassign_case as reassign

    c, a = t.cases, t.accounts
    case_key = conn.execute(
        sa.select(c.c.case_key)
        .join(a, a.c.account_key == c.c.account_key)
        .where(a.c.account_id == account_id.strip(), c.c.status == "open")
    ).scalar()
    if case_key is None:
        raise ActionRefused(f"account {account_id.strip()!r} has no open case")
    try:
        done = reassign(
            conn,
            int(case_key),
            owner.strip(),
            config,
            by=user.username,
            why=reason,
            now=now,
            policy=profile,
        )
    except ReassignmentRefused as exc:
        raise ActionRefused(str(exc)) from None
    if done.changed:
        audit.append(
            conn, user.username, "case.reassign", f"account:{done.account_id}", done.detail(), now
        )
    return done


def utc_now() -> datetime:
    return datetime.now(UTC)

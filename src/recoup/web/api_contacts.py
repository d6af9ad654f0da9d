"""Contacts, outcomes and promises through the API, always through the compliance gate.

- ``POST .../contact-check`` asks the gate whether a contact may happen at a time (default
  now). The answer is a stored decision; a blocked contact is a normal answer, **200** with
  ``allowed: false``, its violations and when it would be allowed.
- ``POST .../contacts`` logs an attempt and its outcome (:func:`record_outcomes`). The attempt
  is first judged by the gate at its time: a blocked attempt is not recorded and answers
  **409** with code ``contact_blocked``, the violations and ``next_allowed_at`` in the error.
  The ``key`` makes a repeat harmless (200 with ``recorded: false``).
- ``POST .../promises`` records a promise to pay, one amount or installments
  (:func:`record_promise`), made on the ledger's open day, on the account's open case.

Recipients are answered masked; the gate and the store see them whole.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from recoup.compliance import Channel, Outcome, Party
from recoup.store import tables as t
from recoup.web import audit
from recoup.web.access import readable_account
from recoup.web.api_common import (
    ERROR_RESPONSES,
    AccountId,
    Amount,
    Contactor,
    Day,
    Instant,
    Stamp,
    Text,
    acting_collector,
    cents,
    money,
    now,
    open_case,
    open_day,
    policy_profile,
)
from recoup.web.app import ApiError, engine_of
from recoup.web.auth import CurrentUser
from recoup.web.security import mask

router = APIRouter(prefix="/api/v1", tags=["contacts"], responses=ERROR_RESPONSES)

Recipient = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"),
]


class ViolationOut(BaseModel):
    rule: str
    message: str


class ContactCheck(BaseModel):
    channel: Channel
    party: Party = Party.SELF
    to: Recipient | None = Field(
        default=None, description="needed for a guarantor or third party; default the best point"
    )
    at: Instant | None = Field(default=None, description="default: now")


class DecisionOut(BaseModel):
    allowed: bool
    violations: list[ViolationOut]
    next_allowed_at: Stamp | None
    to: str = Field(description="the recipient, masked")
    decision_key: int


class ContactCreate(BaseModel):
    channel: Channel
    party: Party = Party.SELF
    to: Recipient | None = None
    at: Instant = Field(description="when the attempt was made, with its UTC offset")
    outcome: Outcome
    note: Text | None = None
    promise_amount: Amount | None = Field(default=None, description="with promise_to_pay")
    promise_date: Day | None = None
    key: (
        Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")] | None
    ) = Field(default=None, description="an idempotency key; default one made from the attempt")


class ContactRecorded(BaseModel):
    recorded: bool = Field(description="false: the key was recorded before; nothing changed")
    decision: DecisionOut | None
    promises: int
    now_unreachable: list[str]


class BlockedDetail(BaseModel):
    code: str
    message: str
    violations: list[ViolationOut]
    next_allowed_at: Stamp | None


class BlockedOut(BaseModel):
    error: BlockedDetail


class AttemptOut(BaseModel):
    at: Stamp
    channel: str
    party: str
    to: str
    outcome: str
    collector: str | None
    note: str | None


class StoredDecisionOut(BaseModel):
    decision_key: int
    contact_at: Stamp
    source: str
    channel: str
    allowed: bool
    violations: list[ViolationOut]
    next_allowed_at: Stamp | None


class ContactHistory(BaseModel):
    account_id: str
    attempts: list[AttemptOut]
    decisions: list[StoredDecisionOut]


class PromiseInstallment(BaseModel):
    due_on: Day
    amount: Amount


class PromiseCreate(BaseModel):
    amount: Amount | None = Field(default=None, description="a single-amount promise, with date")
    promised_for: Day | None = None
    installments: list[PromiseInstallment] | None = Field(
        default=None, max_length=12, description="or installments, dates increasing"
    )
    channel: Annotated[str, Field(pattern=r"^(call|sms|email|letter|visit|app|other)$")] = "call"
    grace_days: Annotated[int, Field(ge=0, le=60)] = 1


class PromiseInstallmentOut(BaseModel):
    number: int
    due_on: date
    amount: str
    paid: str
    status: str


class PromiseOut(BaseModel):
    promise_key: int
    made_on: date
    promised_for: date
    amount: str
    paid: str
    status: str
    made_by: str | None
    channel: str | None
    installments: list[PromiseInstallmentOut]


class PromisesOut(BaseModel):
    account_id: str
    promises: list[PromiseOut]


def _decision_out(document: dict[str, Any], channel: Channel) -> DecisionOut:
    return DecisionOut(
        allowed=bool(document["allowed"]),
        violations=[ViolationOut(**v) for v in document["violations"]],
        next_allowed_at=document["next_allowed_at"],
        to=mask(channel.value, str(document["to"])),
        decision_key=int(document["decision_key"]),
    )


def _judge(
    conn: sa.Connection,
    account_id: str,
    channel: Channel,
    party: Party,
    to: str | None,
    at: datetime,
) -> dict[str, Any]:
    from recoup.contact.gatekeeping import GateRefused, judge_manual_contact

    try:
        return judge_manual_contact(
            conn, account_id, channel, party, to, at, policy_profile(), now(), source="manual"
        )
    except GateRefused as exc:
        raise ApiError(409, "conflict", str(exc)) from None


@router.post("/accounts/{account_id}/contact-check", response_model=DecisionOut)
def check_contact(
    account_id: AccountId, body: ContactCheck, request: Request, user: Contactor
) -> DecisionOut:
    """May this contact happen now (or at ``at``)? A blocked contact answers 200 with
    ``allowed: false``, the rules that block it and when it would be allowed."""
    engine = engine_of(request)
    at = body.at or now()
    with engine.begin() as conn:
        readable_account(engine, conn, user, account_id)
        document = _judge(conn, account_id, body.channel, body.party, body.to, at)
        decision = _decision_out(document, body.channel)
        audit.append(
            conn,
            user.username,
            "contact.check",
            f"account:{account_id}",
            {
                "channel": body.channel.value,
                "allowed": decision.allowed,
                "decision_key": decision.decision_key,
            },
        )
    request.app.state.metrics.contacts.labels(
        str(decision.allowed).lower(),
        ",".join(v.rule for v in decision.violations) or "none",
    ).inc()
    return decision


@router.post(
    "/accounts/{account_id}/contacts",
    response_model=ContactRecorded,
    status_code=201,
    responses={
        200: {"model": ContactRecorded, "description": "already recorded under this key"},
        409: {"model": BlockedOut, "description": "the gate blocks the contact (contact_blocked)"},
    },
)
def record_contact(
    account_id: AccountId, body: ContactCreate, request: Request, user: Contactor
) -> Any:
    """Log a contact attempt and its outcome, judged by the compliance gate at its time."""
    from recoup.contact.outcomes import OutcomeRefused, OutcomeReport, record_outcomes

    engine = engine_of(request)
    promise_cents = (
        None if body.promise_amount is None else cents(body.promise_amount, "promise_amount")
    )
    with engine.begin() as conn:
        readable_account(engine, conn, user, account_id)
        if body.key is not None:
            ca = t.contact_attempts
            seen = conn.execute(
                sa.select(ca.c.attempt_key).where(ca.c.idempotency_key == body.key)
            ).scalar()
            if seen is not None:
                return JSONResponse(
                    ContactRecorded(
                        recorded=False, decision=None, promises=0, now_unreachable=[]
                    ).model_dump(mode="json"),
                    status_code=200,
                )
        document = _judge(conn, account_id, body.channel, body.party, body.to, body.at)
        decision = _decision_out(document, body.channel)
        if not decision.allowed:
            blocked = True
            audit.append(
                conn,
                user.username,
                "contact.blocked",
                f"account:{account_id}",
                {
                    "channel": body.channel.value,
                    "at": body.at.isoformat(),
                    "decision_key": decision.decision_key,
                    "rules": [v.rule for v in decision.violations],
                },
            )
        else:
            blocked = False
            report = OutcomeReport(
                account_id=account_id,
                channel=body.channel,
                to=str(document["to"]),
                at=body.at,
                outcome=body.outcome,
                party=body.party,
                collector=acting_collector(user),
                note=body.note,
                promise_cents=promise_cents,
                promise_date=body.promise_date,
                key=body.key,
                decision_key=decision.decision_key,
            )
            try:
                summary = record_outcomes(conn, [report], policy_profile(), now())
            except (OutcomeRefused, ValueError) as exc:
                raise ApiError(422, "invalid_request", str(exc)) from None
            audit.append(
                conn,
                user.username,
                "contact.record",
                f"account:{account_id}",
                {
                    "channel": body.channel.value,
                    "outcome": body.outcome.value,
                    "at": body.at.isoformat(),
                    "recorded": summary.recorded,
                    "promises": summary.promises,
                },
            )
    metrics = request.app.state.metrics.contacts
    metrics.labels(
        str(decision.allowed).lower(), ",".join(v.rule for v in decision.violations) or "none"
    ).inc()
    if blocked:  # the decision is stored (committed above); nothing else is
        detail = BlockedDetail(
            code="contact_blocked",
            message="the compliance gate blocks this contact: "
            + "; ".join(f"{v.rule}: {v.message}" for v in decision.violations),
            violations=decision.violations,
            next_allowed_at=decision.next_allowed_at,
        )
        return JSONResponse(BlockedOut(error=detail).model_dump(mode="json"), status_code=409)
    return ContactRecorded(
        recorded=summary.recorded > 0,
        decision=decision,
        promises=summary.promises,
        now_unreachable=list(summary.now_unreachable),
    )


def latest_attempts(
    conn: sa.Connection, which: sa.ColumnElement[bool], limit: int = 200
) -> list[AttemptOut]:
    """The contact attempts ``which`` selects, the latest ``limit`` first, recipients masked."""
    ca = t.contact_attempts
    return [
        AttemptOut(
            at=r.at,
            channel=r.channel,
            party=r.party,
            to=mask(r.channel, r.to_value),
            outcome=r.outcome,
            collector=r.collector,
            note=r.note,
        )
        for r in conn.execute(
            sa.select(ca)
            .where(which)
            .order_by(ca.c.at.desc(), ca.c.attempt_key.desc())
            .limit(limit)
        )
    ]


@router.get("/accounts/{account_id}/contacts", response_model=ContactHistory)
def contact_history(account_id: AccountId, request: Request, user: CurrentUser) -> ContactHistory:
    """The account's contact attempts and the gate's decisions, latest first (recipients
    masked)."""
    import json

    engine = engine_of(request)
    ca, d = t.contact_attempts, t.contact_decisions
    with engine.connect() as conn:
        key = readable_account(engine, conn, user, account_id)
        attempts = latest_attempts(conn, ca.c.account_key == key)
        decisions = [
            StoredDecisionOut(
                decision_key=r.decision_key,
                contact_at=r.contact_at,
                source=r.source,
                channel=r.channel,
                allowed=bool(r.allowed),
                violations=[ViolationOut(**v) for v in json.loads(r.violations)],
                next_allowed_at=r.next_allowed_at,
            )
            for r in conn.execute(
                sa.select(d)
                .where(d.c.account_key == key)
                .order_by(d.c.decision_key.desc())
                .limit(200)
            )
        ]
    return ContactHistory(account_id=account_id, attempts=attempts, decisions=decisions)


# --------------------------------------------------------------------------- promises


def _promises(conn: sa.Connection, account_key: int) -> list[PromiseOut]:
    pr, pi = t.promises, t.promise_installments
    rows = conn.execute(
        sa.select(pr).where(pr.c.account_key == account_key).order_by(pr.c.promise_key)
    ).all()
    parts: dict[int, list[PromiseInstallmentOut]] = {}
    for p in conn.execute(
        sa.select(pi)
        .where(pi.c.promise_key.in_([r.promise_key for r in rows]))
        .order_by(pi.c.promise_key, pi.c.number)
    ):
        parts.setdefault(int(p.promise_key), []).append(
            PromiseInstallmentOut(
                number=p.number,
                due_on=p.due_on,
                amount=money(p.amount_cents),
                paid=money(p.paid_cents),
                status=p.status,
            )
        )
    return [
        PromiseOut(
            promise_key=r.promise_key,
            made_on=r.made_on,
            promised_for=r.promised_for,
            amount=money(r.amount_cents),
            paid=money(r.paid_cents),
            status=r.status,
            made_by=r.made_by,
            channel=r.channel,
            installments=parts.get(int(r.promise_key), []),
        )
        for r in rows
    ]


@router.get("/accounts/{account_id}/promises", response_model=PromisesOut, tags=["promises"])
def list_promises(account_id: AccountId, request: Request, user: CurrentUser) -> PromisesOut:
    """The account's promises to pay with their installments."""
    engine = engine_of(request)
    with engine.connect() as conn:
        key = readable_account(engine, conn, user, account_id)
        return PromisesOut(account_id=account_id, promises=_promises(conn, key))


@router.post(
    "/accounts/{account_id}/promises",
    response_model=PromiseOut,
    status_code=201,
    tags=["promises"],
)
def create_promise(
    account_id: AccountId, body: PromiseCreate, request: Request, user: Contactor
) -> PromiseOut:
    """Record a promise to pay on the account's open case, made on the ledger's open day."""
    from recoup.collection.promises import record_promise

    single = (body.amount, body.promised_for)
    if body.installments is None and None in single:
        raise ApiError(422, "invalid_request", "give amount and promised_for, or installments")
    installments = (
        None
        if body.installments is None
        else [(i.due_on, cents(i.amount, "installments.amount")) for i in body.installments]
    )
    engine = engine_of(request)
    with engine.begin() as conn:
        key = readable_account(engine, conn, user, account_id)
        case_key = open_case(conn, key)
        if case_key is None:
            raise ApiError(409, "conflict", f"account {account_id} has no open case")
        made_on = open_day(conn)
        try:
            promise_key = record_promise(
                conn,
                case_key,
                made_on,
                body.promised_for,
                None if body.amount is None else cents(body.amount, "amount"),
                grace_days=body.grace_days,
                made_by=acting_collector(user),
                installments=installments,
                channel=body.channel,
            )
        except ValueError as exc:
            raise ApiError(422, "invalid_request", str(exc)) from None
        audit.append(
            conn,
            user.username,
            "promise.record",
            f"account:{account_id}",
            {"promise_key": promise_key, **body.model_dump(mode="json")},
        )
        [promise] = [p for p in _promises(conn, key) if p.promise_key == promise_key]
    return promise

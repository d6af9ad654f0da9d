"""Arrangements and approvals through the API: what an account owes, plan proposals, plans,
waivers and settlements asked for and granted or sent for approval, and their decisions.

The rules are the services' (:mod:`recoup.collection.arrangements`,
:mod:`recoup.collection.postings`, the authority matrix shipped in
``recoup/arrangements/default_authority.yaml``); this module maps a workbench role onto the
matrix's roles (:data:`AUTHORITY_ROLES`), calls them as ``recoup plan | waive | settle`` do,
and appends an audit entry in the same transaction. An ask within the asker's authority is
granted at once (a waiver is posted, a plan signed); beyond it, it is a pending request that
an approver decides. A refusal by the rules (no authority at all, deciding one's own request,
an expired offer) is 409 with code ``refused``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from recoup.arrangements import AuthorityMatrix
from recoup.arrangements.plans import ChargeTreatment, FutureFees
from recoup.arrangements.settlements import WaiverComponent
from recoup.store import tables as t
from recoup.web import audit
from recoup.web.access import readable_account
from recoup.web.api_common import (
    ERROR_RESPONSES,
    AccountId,
    Amount,
    Approver,
    Contactor,
    Day,
    Share,
    Stamp,
    Text,
    acting_collector,
    cents,
    money,
    now,
    share,
)
from recoup.web.app import ApiError, engine_of
from recoup.web.auth import CurrentUser
from recoup.web.security import Role
from recoup.web.users import User

router = APIRouter(prefix="/api/v1", tags=["arrangements"], responses=ERROR_RESPONSES)

#: The workbench role -> the authority matrix's role it asks and approves as. Roles not named
#: here (strategy manager, risk analyst, compliance officer) may neither ask nor approve.
AUTHORITY_ROLES: dict[Role, str] = {
    Role.COLLECTOR: "collector",
    Role.AGENCY_COLLECTOR: "collector",
    Role.TEAM_LEAD: "team_lead",
    Role.ADMIN: "head_of_collections",
}

RequestKey = Annotated[int, Path(ge=1, le=2_147_483_647, description="R12 is 12")]


@lru_cache(maxsize=1)
def authority() -> AuthorityMatrix:
    from recoup.arrangements import default_authority

    return default_authority()


def _authority_role(user: User) -> str:
    role = AUTHORITY_ROLES.get(user.role)
    if role is None:
        raise ApiError(
            403, "forbidden", f"a {user.role.value} may not ask for or decide arrangements"
        )
    return role


def _refused(exc: Exception) -> ApiError:
    return ApiError(409, "refused", str(exc))


# --------------------------------------------------------------------------- models


class OwedOut(BaseModel):
    principal_overdue: str
    principal_not_due: str
    fee_overdue: str
    fee_not_due: str
    late_fee: str
    penalty: str
    total: str


class AccountOwedOut(BaseModel):
    account_id: str
    bucket: str
    as_of: date
    owed: OwedOut


class PlanTermsIn(BaseModel):
    term_months: Annotated[int, Field(ge=1, le=60)] = 12
    start: Day | None = Field(default=None, description="first due date; default as_of + 30")
    monthly_rate: Share = "0"
    down_payment: Amount = "0"
    penalty: ChargeTreatment = ChargeTreatment.CAPITALISE
    late_fee: ChargeTreatment = ChargeTreatment.CAPITALISE
    future_fees: FutureFees = FutureFees.KEEP
    re_age_after: Annotated[int, Field(ge=1, le=60)] | None = Field(
        default=None, description="re-age after N on-time payments (default: at signing)"
    )
    income: Amount | None = Field(default=None, description="propose the shortest affordable term")
    spending: Amount | None = None
    debts: Amount | None = None


class PlanSign(PlanTermsIn):
    request_key: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = Field(
        default=None, description="an approved plan request this plan carries out"
    )
    on_break: Literal["resume", "revert"] | None = None
    grace_days: Annotated[int, Field(ge=0, le=60)] = 5


class InstallmentOut(BaseModel):
    due_date: date
    amount: str


class ProposalOut(BaseModel):
    account_id: str
    as_of: date
    owed: OwedOut
    term_months: int
    down_payment: str
    restructured: str
    waived: str
    frozen: str
    apr: str
    installments: list[InstallmentOut]
    total_payable: str
    re_age_from: str = Field(description="a date, or `signing`")


class WaiverCreate(BaseModel):
    component: WaiverComponent
    amount: Amount | None = Field(default=None, description="give amount or share")
    share: Share | None = Field(default=None, description="of the component, e.g. `50%`")
    expires_on: Day | None = Field(default=None, description="default as_of + 14")
    reason: Text = ""


class SettlementCreate(BaseModel):
    discount: Share = Field(description="share of the balance given up, e.g. `20%`")
    installments: Annotated[int, Field(ge=1, le=6)] = 1
    expires_on: Day | None = Field(default=None, description="default as_of + 14")


class StepOut(BaseModel):
    actor: str
    role: str
    action: str
    at: Stamp
    reason: str


class RequestOut(BaseModel):
    request_key: int
    account_id: str
    kind: str
    status: str = Field(description="granted, pending, approved, rejected or expired")
    amount: str = Field(description="what the ask gives up")
    requested_by: str
    requester_role: str
    approvals_needed: int
    approvals: int
    approvers: list[str] = Field(description="matrix roles that may approve it, when pending")
    reason: str = Field(description="what the requester's authority said")
    detail: dict[str, Any]
    steps: list[StepOut]
    arrangement_key: int | None = Field(description="the posted arrangement, when carried out")


class PlanSignedOut(BaseModel):
    request: RequestOut
    signed: bool
    plan_id: str | None
    effective_on: date | None


class DecisionIn(BaseModel):
    decision: Literal["approve", "reject"]
    reason: Text = ""


class ArrangementOut(BaseModel):
    arrangement_key: int
    kind: str
    status: str
    request_key: int | None
    effective_on: date
    expires_on: date | None
    amount: str
    status_on: date | None
    status_reason: str | None
    terms: dict[str, Any]


class AccountArrangementsOut(BaseModel):
    account_id: str
    arrangements: list[ArrangementOut]
    requests: list[RequestOut]


class RequestsOut(BaseModel):
    requests: list[RequestOut]


# --------------------------------------------------------------------------- helpers


def _owed_out(owed: Any) -> OwedOut:
    names = ("principal_overdue", "principal_not_due", "fee_overdue", "fee_not_due")
    return OwedOut(
        **{name: money(getattr(owed, name)) for name in names},
        late_fee=money(owed.late_fee),
        penalty=money(owed.penalty),
        total=money(owed.total),
    )


def _owed(conn: sa.Connection, account_id: str) -> Any:
    from recoup.collection.arrangements import ArrangementRefused, owed_now

    try:
        return owed_now(conn, account_id)
    except ArrangementRefused as exc:
        raise ApiError(409, "conflict", str(exc)) from None


def _proposal(terms: PlanTermsIn, account: Any) -> Any:
    from recoup.arrangements.plans import NoAffordablePlan, PlanAsk, PlanRefused, proposal_for

    income = terms.income is not None  # spending and debts count only with an income
    ask = PlanAsk(
        term_months=terms.term_months,
        start=terms.start,
        monthly_rate=share(terms.monthly_rate, "monthly_rate"),
        down_payment_cents=cents(terms.down_payment, "down_payment", positive=False),
        penalty=terms.penalty,
        late_fee=terms.late_fee,
        fees_not_due=terms.future_fees,
        re_age_after=terms.re_age_after,
        income_cents=cents(str(terms.income), "income", positive=False) if income else None,
        spending_cents=cents(terms.spending or "0", "spending", positive=False) if income else 0,
        debts_cents=cents(terms.debts or "0", "debts", positive=False) if income else 0,
    )
    try:
        return proposal_for(account.owed, account.as_of, ask)
    except NoAffordablePlan as exc:
        raise ApiError(409, "refused", str(exc)) from None
    except (PlanRefused, ValueError, ArithmeticError) as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


def _proposal_out(account: Any, proposal: Any) -> ProposalOut:
    return ProposalOut(
        account_id=account.account_id,
        as_of=account.as_of,
        owed=_owed_out(account.owed),
        term_months=proposal.term_months,
        down_payment=money(proposal.down_payment_cents),
        restructured=money(proposal.restructured_cents),
        waived=money(proposal.waived_cents),
        frozen=money(proposal.frozen_cents),
        apr=str(proposal.apr),
        installments=[
            InstallmentOut(due_date=i.due_date, amount=money(amount))
            for i, amount in zip(proposal.schedule, proposal.installment_amounts, strict=True)
        ],
        total_payable=money(proposal.total_payable_cents),
        re_age_from=proposal.re_age_from.isoformat() if proposal.re_age_from else "signing",
    )


def _request_out(conn: sa.Connection, request_key: int) -> RequestOut:
    from recoup.arrangements import RequestStatus, who_can_approve
    from recoup.collection.arrangements import ArrangementRefused, load_request

    try:
        request = load_request(conn, request_key)
    except ArrangementRefused as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    r, a, ar = t.arrangement_requests, t.accounts, t.arrangements
    row = conn.execute(
        sa.select(a.c.account_id, r.c.detail)
        .join(a, a.c.account_key == r.c.account_key)
        .where(r.c.request_key == request_key)
    ).one()
    posted = conn.execute(
        sa.select(ar.c.arrangement_key).where(ar.c.request_key == request_key)
    ).scalar()
    pending = request.status is RequestStatus.PENDING
    approvers = who_can_approve(authority(), request) if pending else []
    return RequestOut(
        request_key=request_key,
        account_id=row.account_id,
        kind=request.ask.kind.value,
        status=request.status.value,
        amount=money(request.ask.amount_cents),
        requested_by=request.requested_by,
        requester_role=request.requester_role,
        approvals_needed=request.approvals_needed,
        approvals=len(request.approvals),
        approvers=approvers,
        reason=request.verdict.reason,
        detail=json.loads(row.detail),
        steps=[
            StepOut(
                actor=s.actor, role=s.role, action=s.action.value, at=s.at, reason=s.reason or ""
            )
            for s in request.steps
        ],
        arrangement_key=None if posted is None else int(posted),
    )


def _readable_request(request: Request, conn: sa.Connection, user: User, key: int) -> str:
    r, a = t.arrangement_requests, t.accounts
    account_id = conn.execute(
        sa.select(a.c.account_id)
        .join(r, r.c.account_key == a.c.account_key)
        .where(r.c.request_key == key)
    ).scalar()
    if account_id is None:
        raise ApiError(404, "not_found", f"no arrangement request R{key}")
    readable_account(engine_of(request), conn, user, account_id)
    return str(account_id)


# --------------------------------------------------------------------------- endpoints


@router.get("/accounts/{account_id}/owed", response_model=AccountOwedOut)
def owed(account_id: AccountId, request: Request, user: CurrentUser) -> AccountOwedOut:
    """What the account owes at the end of the last closed day, by component."""
    engine = engine_of(request)
    with engine.connect() as conn:
        readable_account(engine, conn, user, account_id)
        account = _owed(conn, account_id)
    return AccountOwedOut(
        account_id=account_id,
        bucket=account.bucket,
        as_of=account.as_of,
        owed=_owed_out(account.owed),
    )


@router.post("/accounts/{account_id}/plan-proposals", response_model=ProposalOut)
def propose(
    account_id: AccountId, body: PlanTermsIn, request: Request, user: Contactor
) -> ProposalOut:
    """The plan these terms would give for what the account owes (nothing is stored)."""
    engine = engine_of(request)
    with engine.connect() as conn:
        readable_account(engine, conn, user, account_id)
        account = _owed(conn, account_id)
    return _proposal_out(account, _proposal(body, account))


@router.post("/accounts/{account_id}/plans", response_model=PlanSignedOut, status_code=201)
def sign(account_id: AccountId, body: PlanSign, request: Request, user: Contactor) -> PlanSignedOut:
    """Sign a plan: within the signer's authority (or under an approved plan request) it is
    posted at once; beyond it, it becomes a pending request (``signed: false``)."""
    from recoup.arrangements import ArrangementKind, Ask, Granted
    from recoup.collection.arrangements import ArrangementRefused, load_request, open_request
    from recoup.collection.postings import sign_plan

    role = _authority_role(user)
    engine = engine_of(request)
    at = now()
    with engine.begin() as conn:
        readable_account(engine, conn, user, account_id)
        account = _owed(conn, account_id)
        proposal = _proposal(body, account)
        ask = Ask(
            ArrangementKind.PLAN,
            account.bucket,
            proposal.waived_cents,
            account.owed.total,
            term_months=proposal.term_months,
        )
        try:
            if body.request_key is not None:
                request_key = body.request_key
                approved = load_request(conn, request_key)
                _covers(conn, approved, ask, request_key, account.account_key)
            else:
                detail = _proposal_out(account, proposal).model_dump(mode="json")
                request_key, outcome = open_request(
                    conn, authority(), account, ask, detail, acting_collector(user), role, at
                )
                if not isinstance(outcome, Granted):
                    audit.append(
                        conn,
                        user.username,
                        "plan.request",
                        f"account:{account_id}",
                        {"request_key": request_key, "term_months": proposal.term_months},
                    )
                    return PlanSignedOut(
                        request=_request_out(conn, request_key),
                        signed=False,
                        plan_id=None,
                        effective_on=None,
                    )
            signed = sign_plan(
                conn,
                account,
                proposal,
                by=acting_collector(user),
                now=at,
                on_break=body.on_break,
                grace_days=body.grace_days,
                request_key=request_key,
            )
        except ArrangementRefused as exc:
            raise _refused(exc) from None
        audit.append(
            conn,
            user.username,
            "plan.sign",
            f"account:{account_id}",
            {
                "request_key": request_key,
                "arrangement_key": signed.arrangement_key,
                "plan_id": signed.plan_id,
            },
        )
        return PlanSignedOut(
            request=_request_out(conn, request_key),
            signed=True,
            plan_id=signed.plan_id,
            effective_on=signed.effective_on,
        )


def _covers(
    conn: sa.Connection, request: Any, ask: Any, request_key: int, account_key: int
) -> None:
    """An approved plan request covers this plan: same account and kind, a term no longer and
    a concession no larger than approved."""
    from recoup.arrangements import ArrangementKind, RequestStatus

    r = t.arrangement_requests
    on = conn.execute(sa.select(r.c.account_key).where(r.c.request_key == request_key)).scalar()
    if on != account_key:
        raise ApiError(409, "refused", f"R{request_key} is not a request on this account")
    if request.ask.kind is not ArrangementKind.PLAN:
        raise ApiError(409, "refused", f"R{request_key} is a {request.ask.kind.value} request")
    if request.status is not RequestStatus.APPROVED:
        raise ApiError(409, "refused", f"R{request_key} is {request.status.value}, not approved")
    if (ask.term_months or 0) > (request.ask.term_months or 0) or (
        ask.amount_cents > request.ask.amount_cents
    ):
        raise ApiError(409, "refused", f"this plan goes beyond what R{request_key} approved")


def _ask(request: Request, user: User, account_id: str, kind: str, build: Any) -> RequestOut:
    """Open (or grant) the ask ``build(account)`` makes; a granted waiver is posted."""
    from recoup.arrangements import Granted
    from recoup.arrangements.settlements import WaiverRefused
    from recoup.collection.arrangements import ArrangementRefused, open_request
    from recoup.collection.postings import post_waiver

    role = _authority_role(user)
    engine = engine_of(request)
    at = now()
    with engine.begin() as conn:
        readable_account(engine, conn, user, account_id)
        account = _owed(conn, account_id)
        try:
            ask, detail = build(account)
        except (WaiverRefused, ValueError, ArithmeticError) as exc:
            raise ApiError(422, "invalid_request", str(exc)) from None
        try:
            key, outcome = open_request(
                conn, authority(), account, ask, detail, acting_collector(user), role, at
            )
            posted = (
                post_waiver(conn, key, acting_collector(user), at)
                if kind == "waiver" and isinstance(outcome, Granted)
                else None
            )
        except ArrangementRefused as exc:
            raise _refused(exc) from None
        audit.append(
            conn,
            user.username,
            f"{kind}.request",
            f"account:{account_id}",
            {
                "request_key": key,
                "granted": isinstance(outcome, Granted),
                "posted": posted,
                **detail,
            },
        )
        return _request_out(conn, key)


@router.post("/accounts/{account_id}/waivers", response_model=RequestOut, status_code=201)
def waive(
    account_id: AccountId, body: WaiverCreate, request: Request, user: Contactor
) -> RequestOut:
    """Ask for a waiver of penalty interest, late fees or fees: granted and posted at once
    within the asker's authority, else a pending request."""
    from recoup.arrangements import ArrangementKind, Ask
    from recoup.arrangements.settlements import owed_on, waiver_of

    if (body.amount is None) == (body.share is None):
        raise ApiError(422, "invalid_request", "give amount or share (one of them)")

    def build(account: Any) -> tuple[Any, dict[str, Any]]:
        expires = body.expires_on or account.as_of + timedelta(days=14)
        amount: int | Decimal = (
            share(body.share, "share")
            if body.share is not None
            else cents(str(body.amount), "amount")
        )
        waiver = waiver_of(
            account.owed, body.component, amount, expires_on=expires, reason=body.reason
        )
        on_component = owed_on(account.owed, body.component)
        if on_component <= 0:
            raise ValueError(f"nothing is owed on {body.component.value}")
        ask = Ask(
            ArrangementKind.WAIVER,
            account.bucket,
            waiver.amount_cents,
            account.owed.total,
            share=Decimal(waiver.amount_cents) / Decimal(on_component),
        )
        return ask, {
            "component": body.component.value,
            "amount": money(waiver.amount_cents),
            "expires_on": expires.isoformat(),
            "reason": body.reason,
        }

    return _ask(request, user, account_id, "waiver", build)


@router.post("/accounts/{account_id}/settlements", response_model=RequestOut, status_code=201)
def settle(
    account_id: AccountId, body: SettlementCreate, request: Request, user: Contactor
) -> RequestOut:
    """Offer a settlement (a discounted lump sum or a few payments): granted within the
    asker's authority, else a pending request; the borrower then accepts it."""
    from recoup.arrangements import ArrangementKind, Ask
    from recoup.arrangements.settlements import settlement_offer

    def build(account: Any) -> tuple[Any, dict[str, Any]]:
        expires = body.expires_on or account.as_of + timedelta(days=14)
        offer = settlement_offer(
            account.owed.total,
            share(body.discount, "discount"),
            expires,
            installments=body.installments,
        )
        ask = Ask(
            ArrangementKind.SETTLEMENT, account.bucket, offer.discount_cents, account.owed.total
        )
        return ask, {
            "pay": money(offer.amount_cents),
            "discount": money(offer.discount_cents),
            "payments": [
                {"due_date": p.due_date.isoformat(), "amount": money(p.amount_cents)}
                for p in offer.payments
            ],
            "expires_on": expires.isoformat(),
        }

    return _ask(request, user, account_id, "settlement", build)


@router.get("/accounts/{account_id}/arrangements", response_model=AccountArrangementsOut)
def account_arrangements(
    account_id: AccountId, request: Request, user: CurrentUser
) -> AccountArrangementsOut:
    """The account's arrangements (waivers, settlements, plans) and every ask made on it."""
    from recoup.collection.postings import arrangements_of

    engine = engine_of(request)
    r = t.arrangement_requests
    with engine.connect() as conn:
        key = readable_account(engine, conn, user, account_id)
        found = arrangements_of(conn, key)
        keys = conn.execute(
            sa.select(r.c.request_key).where(r.c.account_key == key).order_by(r.c.request_key)
        ).scalars()
        requests = [_request_out(conn, int(k)) for k in keys]
    return AccountArrangementsOut(
        account_id=account_id,
        arrangements=[
            ArrangementOut(
                arrangement_key=a["arrangement_key"],
                kind=a["kind"],
                status=a["status"],
                request_key=a["request_key"],
                effective_on=a["effective_on"],
                expires_on=a["expires_on"],
                amount=money(a["amount_cents"]),
                status_on=a["status_on"],
                status_reason=a["status_reason"],
                terms=json.loads(a["terms"]),
            )
            for a in found
        ],
        requests=requests,
    )


@router.get("/arrangement-requests", response_model=RequestsOut, tags=["approvals"])
def requests(
    request: Request,
    user: Approver,
    status: Annotated[
        Literal["pending", "approved", "rejected", "granted", "expired"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RequestsOut:
    """Asks for concessions, oldest first: the approvals waiting (``status=pending``)."""
    r = t.arrangement_requests
    query = sa.select(r.c.request_key).order_by(r.c.request_key).limit(limit)
    if status is not None:
        query = query.where(r.c.status == status)
    with engine_of(request).connect() as conn:
        keys = conn.execute(query).scalars().all()
        return RequestsOut(requests=[_request_out(conn, int(k)) for k in keys])


@router.get("/arrangement-requests/{request_key}", response_model=RequestOut, tags=["approvals"])
def one_request(request_key: RequestKey, request: Request, user: CurrentUser) -> RequestOut:
    """One ask and its record of steps."""
    with engine_of(request).connect() as conn:
        _readable_request(request, conn, user, request_key)
        return _request_out(conn, request_key)


@router.post(
    "/arrangement-requests/{request_key}/decision", response_model=RequestOut, tags=["approvals"]
)
def decide_request(
    request_key: RequestKey, body: DecisionIn, request: Request, user: Approver
) -> RequestOut:
    """Approve or reject a pending request under the authority matrix; an approved waiver is
    posted at once. Nobody decides their own request."""
    from recoup.arrangements import ArrangementKind, RequestStatus, StepAction
    from recoup.collection.arrangements import ArrangementRefused, decide
    from recoup.collection.postings import post_waiver

    role = _authority_role(user)
    if body.decision == "reject" and not body.reason.strip():
        raise ApiError(422, "invalid_request", "reason: a rejection says why")
    action = StepAction.APPROVE if body.decision == "approve" else StepAction.REJECT
    at = now()
    with engine_of(request).begin() as conn:
        account_id = _readable_request(request, conn, user, request_key)
        try:
            decided = decide(
                conn,
                authority(),
                request_key,
                acting_collector(user),
                role,
                action,
                body.reason,
                at,
            )
            posted = None
            if (
                decided.status is RequestStatus.APPROVED
                and decided.ask.kind is ArrangementKind.WAIVER
            ):
                posted = post_waiver(conn, request_key, acting_collector(user), at)
        except ArrangementRefused as exc:
            raise _refused(exc) from None
        audit.append(
            conn,
            user.username,
            f"request.{body.decision}",
            f"account:{account_id}",
            {"request_key": request_key, "status": decided.status.value, "posted": posted},
        )
        return _request_out(conn, request_key)


@router.post(
    "/arrangement-requests/{request_key}/acceptance",
    response_model=RequestOut,
    tags=["approvals"],
)
def accept(request_key: RequestKey, request: Request, user: Contactor) -> RequestOut:
    """The borrower accepts a granted or approved settlement offer: it is in force from the
    open day until its last payment's due date."""
    from recoup.collection.arrangements import ArrangementRefused
    from recoup.collection.postings import accept_settlement

    with engine_of(request).begin() as conn:
        account_id = _readable_request(request, conn, user, request_key)
        try:
            key = accept_settlement(conn, request_key, acting_collector(user), now())
        except ArrangementRefused as exc:
            raise _refused(exc) from None
        audit.append(
            conn,
            user.username,
            "settlement.accept",
            f"account:{account_id}",
            {"request_key": request_key, "arrangement_key": key},
        )
        return _request_out(conn, request_key)

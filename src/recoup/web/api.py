"""The REST API, version 1 (mounted at ``/api/v1``): the services the command line uses,
behind authentication, roles and row-level access. Personal data comes masked; revealing it
is its own request, allowed to some roles and written to the audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from recoup.money import format_cents
from recoup.store import tables as t
from recoup.web import audit
from recoup.web.access import own_cases, readable_account
from recoup.web.app import ApiError, engine_of
from recoup.web.auth import CurrentUser, requires
from recoup.web.security import Permission, mask
from recoup.web.users import User, UserRefused, authenticate, issue_token, revoke_token

router = APIRouter(prefix="/api/v1")


# --------------------------------------------------------------------------- auth


class TokenOut(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    expires_at: datetime
    role: str


@router.post("/auth/token", response_model=TokenOut, tags=["auth"])
def login(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
) -> TokenOut:
    """A bearer token for the API. Five wrong passwords in a row lock the user for 15 minutes."""
    now = datetime.now(UTC)
    with engine_of(request).begin() as conn:
        try:
            user = authenticate(conn, username, password, now)
        except UserRefused as exc:
            refused = str(exc)  # the failure count and its audit entry are committed
        else:
            issued = issue_token(conn, user, "api", now)
            return TokenOut(token=issued.token, expires_at=issued.expires_at, role=user.role.value)
    raise ApiError(401, "unauthorised", refused)


@router.post("/auth/logout", status_code=204, tags=["auth"])
def logout(request: Request, user: CurrentUser) -> None:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    token = token or request.cookies.get("recoup_session")
    if token:
        with engine_of(request).begin() as conn:
            revoke_token(conn, token, datetime.now(UTC))
            audit.append(conn, user.username, "logout", f"user:{user.username}", {})


class MeOut(BaseModel):
    username: str
    display_name: str
    role: str
    owner_id: str | None
    permissions: list[str]


@router.get("/me", response_model=MeOut, tags=["auth"])
def me(user: CurrentUser) -> MeOut:
    from recoup.web.security import PERMISSIONS

    return MeOut(
        username=user.username,
        display_name=user.display_name,
        role=user.role.value,
        owner_id=user.owner_id,
        permissions=sorted(p.value for p in PERMISSIONS[user.role]),
    )


# --------------------------------------------------------------------------- accounts

# The account, reveal and queue answers are a stable interface (the workbench's pages and
# other systems read them): these models describe the JSON they have always given, field for
# field. The account's first fields are :meth:`recoup.ledger.account_view.AccountView.to_json`
# (as ``recoup account show ID --json``). The functions return plain dicts, which the pages
# (recoup.web.pages) render too; FastAPI validates the dict against ``response_model`` once,
# in pydantic-core, and writes the JSON from it (no Python object per row). A key the model
# does not know is refused, not dropped: a field added to an answer without its model fails
# the tests instead of silently vanishing from the interface.

#: An amount in an answer: currency units as text, as :func:`recoup.money.format_cents` gives.
Money = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]+\.[0-9]{2}$",
        description="currency units as text with two decimals, e.g. `1200.00`",
    ),
]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OverdueOut(_Answer):
    principal: Money
    fee: Money
    late_fee: Money
    penalty_interest: Money
    total: Money = Field(description="the whole amount overdue, as the close stored it")


class ScheduleRowOut(_Answer):
    period: int
    plan_id: str
    due_date: date
    principal: Money
    fee: Money
    late_fee: Money
    penalty_interest: Money
    paid: Money = Field(description="paid on the installment, every component")
    adjusted: Money = Field(description="taken off by adjustments (waivers, discounts)")
    status: str = Field(description="paid, scheduled, due or overdue")


class ContactPointOut(_Answer):
    kind: str = Field(description="phone, email or address")
    value: str = Field(description="masked unless revealed")
    masked: bool
    party: str = Field(description="self, guarantor or third_party")
    status: str = Field(description="unverified, verified, wrong_number, disconnected, opted_out")


class BorrowerOut(_Answer):
    borrower_id: str
    name: str
    region: str | None
    timezone: str | None
    holds: list[str] = Field(description="the borrower's flags in force (dispute, ...)")
    contact_points: list[ContactPointOut] = Field(description="masked")


class BucketMoveOut(_Answer):
    moved_on: date
    from_: str = Field(alias="from", description="the bucket it left")
    to: str
    dpd: int


class AccountCaseOut(_Answer):
    case_key: int
    opened_on: date
    segment: str | None
    path: str | None = Field(description="the treatment path in force (an event's, if any)")
    owner: str | None = Field(description="the collector's or agency's id; null: unallocated")
    owner_kind: str | None = Field(description="collector or agency")
    team: str | None


class AccountPromiseOut(_Answer):
    promise_key: int
    made_on: date
    promised_for: date
    amount: Money
    paid: Money
    status: str = Field(description="open, kept, partly_kept or broken")
    made_by: str | None


class AccountArrangementOut(_Answer):
    arrangement: str = Field(description="`A` and the arrangement's key, e.g. `A12`")
    kind: str = Field(description="waiver, settlement or plan")
    status: str
    effective_on: date
    amount: Money = Field(description="to pay (settlement, plan) or waived")


class AccountOut(_Answer):
    account_id: str
    currency: str
    as_of: date = Field(description="the last closed day")
    dpd: int
    bucket: str
    overdue: OverdueOut
    outstanding_principal: Money
    credit_balance: Money
    next_due_date: date | None = Field(
        description="the first due date after `as_of` of an unsettled installment, if any"
    )
    installments: list[ScheduleRowOut] = Field(
        description="the schedules of the plans started by `as_of`, by due date"
    )
    borrower: BorrowerOut
    moves: list[BucketMoveOut] = Field(description="bucket moves, oldest first")
    case: AccountCaseOut | None = Field(description="the open case, if any")
    promises: list[AccountPromiseOut]
    arrangements: list[AccountArrangementOut]


class RevealOut(_Answer):
    account_id: str
    contact_points: list[ContactPointOut] = Field(description="unmasked")


def _last_closed(conn: sa.Connection) -> date:
    from recoup.close import last_closed_day

    closed = last_closed_day(conn)
    if closed is None:
        raise ApiError(409, "conflict", "no day has been closed yet: the ledger is empty")
    return closed


def _contact_points(conn: sa.Connection, account_key: int, reveal: bool) -> list[dict[str, Any]]:
    cp, a = t.contact_points, t.accounts
    rows = conn.execute(
        sa.select(cp.c.kind, cp.c.value, cp.c.party, cp.c.status)
        .join(a, a.c.borrower_key == cp.c.borrower_key)
        .where(a.c.account_key == account_key)
        .order_by(cp.c.contact_point_key)
    )
    return [
        {
            "kind": row.kind,
            "value": row.value if reveal else mask(row.kind, row.value),
            "masked": not reveal,
            "party": row.party,
            "status": row.status,
        }
        for row in rows
    ]


@router.get("/accounts/{account_id}", response_model=AccountOut, tags=["accounts"])
def account(account_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
    """The account as of the last closed day: state, schedule (paid and adjusted per
    installment), bucket moves, borrower with masked contact points and holds, its open case,
    promises and arrangements."""
    from recoup.store.account_reads import load_moves, stored_account_view

    engine = engine_of(request)
    with engine.connect() as conn:
        key = readable_account(engine, conn, user, account_id)
        as_of = _last_closed(conn)
        # What the close stored for the last closed day: the same figures as a replay
        # (tests/integration/test_postings.py checks both), for a few indexed reads.
        view = stored_account_view(conn, account_id, as_of)
        moves = load_moves(conn, account_id)
        document = view.to_json()
        b, a, f = t.borrowers, t.accounts, t.borrower_flags
        borrower = conn.execute(
            sa.select(b.c.borrower_id, b.c.name, b.c.region, b.c.timezone)
            .join(a, a.c.borrower_key == b.c.borrower_key)
            .where(a.c.account_key == key)
        ).one()
        flags = conn.execute(
            sa.select(f.c.flag)
            .join(a, a.c.borrower_key == f.c.borrower_key)
            .where(a.c.account_key == key, f.c.cleared_at.is_(None))
        ).scalars()
        document["borrower"] = {
            "borrower_id": borrower.borrower_id,
            "name": borrower.name,
            "region": borrower.region,
            "timezone": borrower.timezone,
            "holds": sorted(flags),
            "contact_points": _contact_points(conn, key, reveal=False),
        }
        document["moves"] = [
            {
                "moved_on": m["moved_on"].isoformat(),
                "from": m["from_bucket"],
                "to": m["to_bucket"],
                "dpd": m["dpd"],
            }
            for m in moves.iter_rows(named=True)
        ]
        c = t.cases
        case = (
            conn.execute(sa.select(c).where(c.c.account_key == key, c.c.status == "open"))
            .mappings()
            .first()
        )
        document["case"] = (
            None
            if case is None
            else {
                "case_key": case["case_key"],
                "opened_on": case["opened_on"].isoformat(),
                "segment": case["segment"],
                "path": case["path_override"] or case["path"],
                "owner": case["owner"],
                "owner_kind": case["owner_kind"],
                "team": case["team"],
            }
        )
        pr = t.promises
        document["promises"] = [
            {
                "promise_key": row.promise_key,
                "made_on": row.made_on.isoformat(),
                "promised_for": row.promised_for.isoformat(),
                "amount": format_cents(row.amount_cents),
                "paid": format_cents(row.paid_cents),
                "status": row.status,
                "made_by": row.made_by,
            }
            for row in conn.execute(
                sa.select(pr).where(pr.c.account_key == key).order_by(pr.c.promise_key)
            )
        ]
        ar = t.arrangements
        document["arrangements"] = [
            {
                "arrangement": f"A{row.arrangement_key}",
                "kind": row.kind,
                "status": row.status,
                "effective_on": row.effective_on.isoformat(),
                "amount": format_cents(row.amount_cents),
            }
            for row in conn.execute(
                sa.select(ar).where(ar.c.account_key == key).order_by(ar.c.arrangement_key)
            )
        ]
    return document


@router.post("/accounts/{account_id}/reveal", response_model=RevealOut, tags=["accounts"])
def reveal(
    account_id: str,
    request: Request,
    user: Annotated[User, Depends(requires(Permission.REVEAL_PERSONAL_DATA))],
) -> dict[str, Any]:
    """The account's contact points unmasked; the reveal is written to the audit log."""
    engine = engine_of(request)
    with engine.begin() as conn:
        key = readable_account(engine, conn, user, account_id)
        points = _contact_points(conn, key, reveal=True)
        audit.append(
            conn,
            user.username,
            "personal_data.reveal",
            f"account:{account_id}",
            {"fields": sorted({p["kind"] for p in points})},
        )
    return {"account_id": account_id, "contact_points": points}


# --------------------------------------------------------------------------- queue


class QueueActionOut(_Answer):
    on: date
    step: str
    channel: str


class QueueCaseOut(_Answer):
    case_key: int
    account_id: str
    bucket: str = Field(description="the account's bucket at the last close")
    dpd: int
    overdue: Money
    owner: str | None = Field(description="the collector's or agency's id; null: unallocated")
    segment: str | None
    path: str | None
    next_action: QueueActionOut | None = Field(
        description="the first action planned from the last closed day on, if any"
    )


class QueueOut(_Answer):
    as_of: date = Field(description="the last closed day")
    cases: list[QueueCaseOut] = Field(description="in priority order")


@router.get("/queue", response_model=QueueOut, tags=["cases"])
def queue(
    request: Request,
    user: CurrentUser,
    owner: Annotated[str | None, Query(max_length=64, description="one owner's cases")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Today's open cases for the user, in priority order: those with an action planned for
    the day after the last close first, then by amount overdue. A collector gets the cases
    allocated to them; a role that reads the whole book gets every open case (or one
    owner's)."""
    from recoup.web.security import allowed

    engine = engine_of(request)
    c, a, ac = t.cases, t.accounts, t.actions
    with engine.connect() as conn:
        as_of = _last_closed(conn)
        if allowed(user.role, Permission.READ_ALL_ACCOUNTS):
            scope = [c.c.status == "open"] + ([c.c.owner == owner] if owner else [])
        elif allowed(user.role, Permission.READ_OWN_CASES) and user.owner_id:
            scope = [own_cases(user)]
        else:
            raise ApiError(403, "forbidden", f"a {user.role.value} has no case queue")
        # Each case's next action, looked up on its own actions (an index probe), not by
        # grouping every planned action of the book for one collector's few thousand cases.
        next_action = (
            sa.select(sa.func.min(ac.c.planned_for))
            .where(ac.c.case_key == c.c.case_key, ac.c.planned_for >= as_of)
            .correlate(c)
            .scalar_subquery()
            .label("planned_for")
        )
        cases = (
            sa.select(
                c.c.case_key,
                a.c.account_id,
                a.c.bucket,
                a.c.dpd,
                a.c.overdue_cents,
                c.c.owner,
                c.c.segment,
                c.c.path,
                next_action,
            )
            .join(a, a.c.account_key == c.c.account_key)
            .where(*scope)
            .subquery()
        )
        rows = conn.execute(
            sa.select(cases)
            .order_by(cases.c.planned_for.is_(None), cases.c.overdue_cents.desc(), cases.c.case_key)
            .limit(limit)
        ).all()
        steps = {
            (r.case_key, r.planned_for): r
            for r in conn.execute(
                sa.select(ac.c.case_key, ac.c.planned_for, ac.c.step, ac.c.channel).where(
                    ac.c.case_key.in_([row.case_key for row in rows]),
                    ac.c.planned_for >= as_of,
                )
            )
        }
    return {
        "as_of": as_of.isoformat(),
        "cases": [
            {
                "case_key": row.case_key,
                "account_id": row.account_id,
                "bucket": row.bucket,
                "dpd": row.dpd,
                "overdue": format_cents(row.overdue_cents),
                "owner": row.owner,
                "segment": row.segment,
                "path": row.path,
                "next_action": None
                if row.planned_for is None
                else {
                    "on": row.planned_for.isoformat(),
                    "step": steps[(row.case_key, row.planned_for)].step,
                    "channel": steps[(row.case_key, row.planned_for)].channel,
                },
            }
            for row in rows
        ],
    }

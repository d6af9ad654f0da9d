"""Arrangements posted to the ledger: waivers, settlements and personalised repayment plans.

Nothing here edits an installment. Each concession becomes *adjustments* (non-cash entries,
``docs/ledger-rules.md``, "Adjustments") that the next close applies at the start of the
**open day** (the day after the last closed day), and an ``arrangements`` row that says what
was agreed and where it stands:

- a granted or approved **waiver** is posted at once: one ``waiver`` entry of its component;
- an approved **settlement** is *accepted* by the borrower; once the payments made since reach
  the amount, the close's next day writes off everything still owed (``settlement`` entries);
  a settlement not paid by its last day lapses;
- a **plan** is *signed*: waived charges are ``waiver`` entries, everything else the account
  owes moves out of its old installments (``restructure`` entries, one per old plan and
  component) into a new plan of the same account whose schedule carries it (a down payment
  due on the open day, the plan's installments, the frozen charges with the last one). The
  borrower's ``repayment_plan`` flag holds collection while the plan is honoured; an
  installment unpaid beyond the plan's grace breaks it, and the plan's ``on_break`` rule says
  what follows: ``resume`` (collection resumes on the plan's arrears) or ``revert`` (the
  plan's unpaid remainder, without its unearned interest, moves back to the old installments).

The functions take the caller's connection and write in its transaction; the command line
calls them now and the workbench later.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.arrangements.plans import PlanProposal
from recoup.close import last_closed_day
from recoup.collection.arrangements import AccountOwed, ArrangementRefused
from recoup.ledger.kernel import STATE_COLUMNS
from recoup.money import format_cents, parse_cents
from recoup.store import tables as t
from recoup.store.bulk import insert_frame, read_frame
from recoup.store.repository import load_catalog_from_store

#: The waiver components of :mod:`recoup.arrangements.settlements`, as ledger components.
WAIVER_COMPONENTS = {"penalty": "penalty_interest", "late_fee": "late_fee", "fee": "fee"}
#: Ledger components, in the order a restructure moves them (charges first, as paid).
COMPONENTS = ("penalty_interest", "late_fee", "fee", "principal")
#: What a plan does when broken.
ON_BREAK = ("resume", "revert")
#: The flag that holds collection while a plan is honoured (compliance rule CN-PLAN and
#: its UK and US counterparts).
PLAN_FLAG = "repayment_plan"


class PostingRefused(ArrangementRefused):
    """An arrangement that cannot be posted, accepted or signed (the message says why)."""


def open_day(conn: Connection) -> date:
    """The first day no close has covered: postings take effect at its start."""
    closed = last_closed_day(conn)
    if closed is None:
        raise PostingRefused("no day has been closed yet: the ledger has no open day")
    return closed + timedelta(days=1)


# --------------------------------------------------------------------------- reads


def unpaid_by_plan(conn: Connection, account_key: int) -> pl.DataFrame:
    """Each plan of the account with something unpaid, oldest first (by its first due
    date), with its unpaid amount of every component at the end of the last closed day."""
    i, p = t.installments, t.plans
    frame = read_frame(
        conn,
        sa.select(
            i.c.plan_key,
            p.c.plan_id,
            p.c.product_id,
            sa.func.min(i.c.due_date).label("first_due"),
            sa.func.sum(
                i.c.principal_cents - i.c.paid_principal_cents - i.c.adjusted_principal_cents
            ).label("principal"),
            sa.func.sum(i.c.fee_cents - i.c.paid_fee_cents - i.c.adjusted_fee_cents).label("fee"),
            sa.func.sum(
                i.c.late_fee_cents - i.c.paid_late_fee_cents - i.c.adjusted_late_fee_cents
            ).label("late_fee"),
            sa.func.sum(
                i.c.penalty_cents - i.c.paid_penalty_cents - i.c.adjusted_penalty_cents
            ).label("penalty_interest"),
        )
        .join(p, p.c.plan_key == i.c.plan_key)
        .where(i.c.account_key == account_key, i.c.settled == 0)
        .group_by(i.c.plan_key, p.c.plan_id, p.c.product_id),
        {
            "plan_key": pl.Int64,
            "plan_id": pl.String,
            "product_id": pl.String,
            "first_due": pl.Date,
            "principal": pl.Int64,
            "fee": pl.Int64,
            "late_fee": pl.Int64,
            "penalty_interest": pl.Int64,
        },
    )
    return frame.sort("first_due", "plan_id")


def _request_row(conn: Connection, request_key: int, kind: str) -> dict[str, Any]:
    r, a = t.arrangement_requests, t.accounts
    row = (
        conn.execute(
            sa.select(r, a.c.account_id)
            .join(a, a.c.account_key == r.c.account_key)
            .where(r.c.request_key == request_key)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise PostingRefused(f"no arrangement request R{request_key}")
    if row["kind"] != kind:
        raise PostingRefused(f"R{request_key} is a {row['kind']} request, not a {kind}")
    if row["status"] not in ("granted", "approved"):
        raise PostingRefused(
            f"R{request_key} is {row['status']}: only a granted or approved {kind} is carried out"
        )
    existing = conn.execute(
        sa.select(t.arrangements.c.arrangement_key).where(
            t.arrangements.c.request_key == request_key
        )
    ).scalar()
    if existing is not None:
        raise PostingRefused(f"R{request_key} was already carried out (arrangement A{existing})")
    return dict(row)


def _expired(request_key: int, detail: dict[str, Any], day: date) -> None:
    expires = detail.get("expires_on")
    if expires and date.fromisoformat(str(expires)) < day:
        raise PostingRefused(
            f"R{request_key} expired on {expires}; the ledger's open day is {day}: "
            "ask again with a new expiry"
        )


def _insert_arrangement(conn: Connection, **values: Any) -> int:
    key = conn.execute(
        t.arrangements.insert().values(**values).returning(t.arrangements.c.arrangement_key)
    ).scalar_one()
    return int(key)


def _insert_adjustments(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Adjustments in the order given: their keys, and so the order the close applies them
    in, follow it."""
    for row in rows:
        conn.execute(t.adjustments.insert().values(**row))


# --------------------------------------------------------------------------- waivers


def post_waiver(conn: Connection, request_key: int, by: str, now: datetime) -> int:
    """Post a granted or approved waiver: one ``waiver`` adjustment at the start of the open
    day. Returns the arrangement's key. Refused when expired or already posted."""
    row = _request_row(conn, request_key, "waiver")
    detail = json.loads(row["detail"])
    day = open_day(conn)
    _expired(request_key, detail, day)
    component = WAIVER_COMPONENTS[str(detail["component"])]
    amount = parse_cents(str(detail["amount"]))
    key = _insert_arrangement(
        conn,
        account_key=row["account_key"],
        kind="waiver",
        status="posted",
        request_key=request_key,
        effective_on=day,
        amount_cents=amount,
        terms=row["detail"],
        created_by=by,
        created_at=now.astimezone(UTC),
        status_on=day,
    )
    _insert_adjustments(
        conn,
        [
            {
                "account_key": row["account_key"],
                "effective_on": day,
                "component": component,
                "amount_cents": amount,
                "kind": "waiver",
                "arrangement_key": key,
                "created_at": now.astimezone(UTC),
            }
        ],
    )
    return key


# --------------------------------------------------------------------------- settlements


def accept_settlement(conn: Connection, request_key: int, by: str, now: datetime) -> int:
    """The borrower accepts a granted or approved settlement offer: it is in force from the
    open day until its last payment's due date. Returns the arrangement's key."""
    row = _request_row(conn, request_key, "settlement")
    detail = json.loads(row["detail"])
    day = open_day(conn)
    _expired(request_key, detail, day)
    payments = detail.get("payments") or []
    last_due = max(
        (date.fromisoformat(p["due_date"]) for p in payments),
        default=date.fromisoformat(str(detail["expires_on"])),
    )
    return _insert_arrangement(
        conn,
        account_key=row["account_key"],
        kind="settlement",
        status="accepted",
        request_key=request_key,
        effective_on=day,
        expires_on=max(last_due, day),
        amount_cents=parse_cents(str(detail["pay"])),
        terms=row["detail"],
        created_by=by,
        created_at=now.astimezone(UTC),
        status_on=day,
    )


@dataclass(frozen=True, slots=True)
class Judged:
    """What :func:`judge_arrangements` found on a closed day."""

    settlements_completed: int = 0
    settlements_lapsed: int = 0
    plans_completed: int = 0
    plans_broken: int = 0
    plans_reverted: int = 0

    def describe(self) -> str:
        return (
            f"settlements: {self.settlements_completed} paid in full, "
            f"{self.settlements_lapsed} lapsed; plans: {self.plans_completed} completed, "
            f"{self.plans_broken} broken ({self.plans_reverted} reverted)"
        )


def _settlement_payments(conn: Connection, as_of: date) -> pl.DataFrame:
    """The payments that count as of ``as_of`` on accounts with an accepted settlement, made
    from its first day on (a reversal dated by ``as_of`` removes its payment)."""
    ar, pay = t.arrangements, t.payments
    return read_frame(
        conn,
        sa.select(ar.c.arrangement_key, pay.c.paid_on, pay.c.amount_cents)
        .join(pay, pay.c.account_key == ar.c.account_key)
        .where(
            ar.c.kind == "settlement",
            ar.c.status == "accepted",
            pay.c.paid_on >= ar.c.effective_on,
            pay.c.paid_on <= as_of,
            pay.c.reverses_payment_id.is_(None),
            sa.or_(pay.c.reversed_on.is_(None), pay.c.reversed_on > as_of),
        ),
        {"arrangement_key": pl.Int64, "paid_on": pl.Date, "amount_cents": pl.Int64},
    )


def _judge_settlements(conn: Connection, as_of: date, now: datetime) -> tuple[int, int]:
    """A settlement is paid in full once the payments since it was accepted reach its amount;
    it lapses when, after one of its due dates, less than the amount due by then was paid."""
    ar = t.arrangements
    accepted = read_frame(
        conn,
        sa.select(ar.c.arrangement_key, ar.c.account_key, ar.c.amount_cents, ar.c.terms).where(
            ar.c.kind == "settlement", ar.c.status == "accepted", ar.c.effective_on <= as_of
        ),
        {
            "arrangement_key": pl.Int64,
            "account_key": pl.Int64,
            "amount_cents": pl.Int64,
            "terms": pl.String,
        },
    )
    payments = _settlement_payments(conn, as_of)
    paid = payments.group_by("arrangement_key").agg(pl.col("amount_cents").sum().alias("paid"))
    accepted = accepted.join(paid, on="arrangement_key", how="left").with_columns(
        pl.col("paid").fill_null(0)
    )
    completed = accepted.filter(pl.col("paid") >= pl.col("amount_cents"))
    # Each scheduled payment, with what was due by its date (cumulative).
    schedule = pl.DataFrame(
        [
            {
                "arrangement_key": row["arrangement_key"],
                "due_date": date.fromisoformat(p["due_date"]),
                "due": parse_cents(str(p["amount"])),
            }
            for row in accepted.filter(pl.col("paid") < pl.col("amount_cents")).iter_rows(
                named=True
            )
            for p in json.loads(row["terms"]).get("payments") or []
        ],
        schema={"arrangement_key": pl.Int64, "due_date": pl.Date, "due": pl.Int64},
    ).with_columns(pl.col("due").cum_sum().over("arrangement_key", order_by="due_date"))
    missed = (
        schedule.filter(pl.col("due_date") < as_of)
        .join(payments, on="arrangement_key", how="left")
        .with_columns(
            pl.when(pl.col("paid_on") <= pl.col("due_date"))
            .then(pl.col("amount_cents"))
            .otherwise(0)
            .fill_null(0)
            .alias("in_time")
        )
        .group_by("arrangement_key", "due_date", "due")
        .agg(pl.col("in_time").sum())
        .filter(pl.col("in_time") < pl.col("due"))
        .group_by("arrangement_key")
        .agg(pl.col("due_date").min())
    )
    next_day = as_of + timedelta(days=1)
    entries = [
        {
            "account_key": row["account_key"],
            "effective_on": next_day,
            "component": component,
            "amount_cents": None,  # all of it
            "kind": "settlement",
            "arrangement_key": row["arrangement_key"],
            "created_at": now.astimezone(UTC),
        }
        for row in completed.iter_rows(named=True)
        for component in COMPONENTS
    ]
    _insert_adjustments(conn, entries)
    _set_status(conn, completed["arrangement_key"], "completed", as_of, "paid in full")
    for row in missed.iter_rows(named=True):
        _set_status(
            conn,
            pl.Series([row["arrangement_key"]]),
            "lapsed",
            as_of,
            f"less than was due by {row['due_date']} was paid by then",
        )
    return completed.height, missed.height


def _set_status(conn: Connection, keys: pl.Series, status: str, day: date, reason: str) -> None:
    if keys.len():
        ar = t.arrangements
        conn.execute(
            ar.update()
            .where(ar.c.arrangement_key.in_(keys.to_list()))
            .values(status=status, status_on=day, status_reason=reason)
        )


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class SignedPlan:
    arrangement_key: int
    plan_id: str
    effective_on: date
    installments: int
    moved_cents: int
    waived_cents: int


def sign_plan(
    conn: Connection,
    account: AccountOwed,
    proposal: PlanProposal,
    *,
    by: str,
    now: datetime,
    on_break: str | None = None,
    grace_days: int = 5,
    request_key: int | None = None,
) -> SignedPlan:
    """Sign ``proposal`` (worked out from ``account``'s amounts at the last closed day) and
    post it: waivers, the restructure of every old plan, the new plan and its schedule, the
    hold flag. The authority check is the caller's (the proposal is granted or approved).
    ``on_break`` overrides the rule of the new plan's product (``plan_break``)."""
    plans = unpaid_by_plan(conn, account.account_key)
    if on_break is None and not plans.is_empty():
        # The product of the old plan with the most principal left is the new plan's.
        product_id = str(plans.sort("principal", descending=True)["product_id"][0])
        on_break = load_catalog_from_store(conn).get(product_id).plan_break
    if on_break not in ON_BREAK:
        raise PostingRefused(f"on_break is one of {', '.join(ON_BREAK)}, not {on_break!r}")
    if grace_days < 0:
        raise PostingRefused(f"a plan's grace is a number of days >= 0, not {grace_days}")
    day = open_day(conn)
    if account.as_of != day - timedelta(days=1):
        raise PostingRefused(
            f"the plan was worked out on {account.as_of} but the last closed day is "
            f"{day - timedelta(days=1)}: propose it again"
        )
    first_due = proposal.schedule[0].due_date
    if first_due <= day:
        raise PostingRefused(
            f"the plan's first installment is due {first_due}: it must fall after the open "
            f"day {day} (the down payment is what is due on signing)"
        )
    active = conn.execute(
        sa.select(t.arrangements.c.arrangement_key).where(
            t.arrangements.c.account_key == account.account_key,
            t.arrangements.c.kind == "plan",
            t.arrangements.c.status == "active",
        )
    ).scalar()
    if active is not None:
        raise PostingRefused(
            f"account {account.account_id} already has an active plan (A{active}): a new plan "
            "restructures only after it is completed or broken"
        )
    if plans.is_empty():
        raise PostingRefused(f"account {account.account_id} owes nothing to restructure")
    totals = {c: int(plans[c].sum()) for c in COMPONENTS}
    owed = proposal.owed
    expected = {
        "principal": owed.principal,
        "fee": owed.fee,
        "late_fee": owed.late_fee,
        "penalty_interest": owed.penalty,
    }
    if totals != expected:
        raise PostingRefused(
            f"the account's amounts changed since the plan was worked out ({totals} against "
            f"{expected}): propose it again"
        )
    waived = {
        "penalty_interest": proposal.waived.penalty,
        "late_fee": proposal.waived.late_fee,
        "fee": proposal.waived.fee,
        "principal": 0,
    }
    created = now.astimezone(UTC)
    terms = _plan_terms(proposal, on_break, grace_days)
    # A plan that re-ages after payments keeps the account's DPD counting from where it
    # counts now (the old oldest unpaid due date) until they are paid.
    dpd = int(
        conn.execute(
            sa.select(t.accounts.c.dpd).where(t.accounts.c.account_key == account.account_key)
        ).scalar_one()
    )
    aged_from = account.as_of - timedelta(days=dpd) if proposal.re_age_from and dpd else None
    key = _insert_arrangement(
        conn,
        account_key=account.account_key,
        kind="plan",
        status="active",
        request_key=request_key,
        effective_on=day,
        amount_cents=proposal.total_payable_cents,
        aged_from=aged_from,
        re_age_through=proposal.re_age_from if aged_from else None,
        terms=json.dumps(terms, ensure_ascii=False),
        created_by=by,
        created_at=created,
        status_on=day,
    )
    # The waivers first (the entries apply in key order), then the moves: per old plan and
    # component, what it owes less its share of the waiver (oldest plans waived first).
    entries: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    for component in COMPONENTS:
        to_waive = waived[component]
        for plan in plans.iter_rows(named=True):
            unpaid = int(plan[component])
            share = min(to_waive, unpaid)
            to_waive -= share
            base = {
                "account_key": account.account_key,
                "effective_on": day,
                "plan_key": plan["plan_key"],
                "component": component,
                "arrangement_key": key,
                "created_at": created,
            }
            if share:
                entries.append(base | {"amount_cents": share, "kind": "waiver"})
            if unpaid - share:
                moves.append(base | {"amount_cents": unpaid - share, "kind": "restructure"})
    moved = sum(int(m["amount_cents"]) for m in moves)
    if moved != proposal.owed.total - proposal.waived_cents:
        raise AssertionError(f"a restructure would move {moved} of {proposal.owed.total}")
    plan_key, plan_id, rows = _new_plan(conn, account, proposal, plans, key, day)
    _insert_adjustments(conn, entries + moves)
    insert_frame(conn, t.installments, rows)
    conn.execute(
        t.arrangements.update()
        .where(t.arrangements.c.arrangement_key == key)
        .values(plan_key=plan_key)
    )
    _set_plan_flag(conn, account.account_key, by, created, f"plan A{key} signed", set_it=True)
    return SignedPlan(key, plan_id, day, rows.height, moved, proposal.waived_cents)


def _plan_terms(proposal: PlanProposal, on_break: str, grace_days: int) -> dict[str, Any]:
    terms = proposal.terms
    return {
        "term_months": proposal.term_months,
        "monthly_rate": str(terms.monthly_rate),
        "down_payment": format_cents(proposal.down_payment_cents),
        "restructured": format_cents(proposal.restructured_cents),
        "interest": format_cents(proposal.total_fee_cents),
        "waived": {
            "penalty": format_cents(proposal.waived.penalty),
            "late_fee": format_cents(proposal.waived.late_fee),
            "fee": format_cents(proposal.waived.fee),
        },
        "frozen": {
            "penalty": format_cents(proposal.frozen.penalty),
            "late_fee": format_cents(proposal.frozen.late_fee),
        },
        "penalty": terms.penalty.value,
        "late_fee": terms.late_fee.value,
        "future_fees": terms.fees_not_due.value,
        "apr": str(proposal.apr),
        "re_age": terms.re_age.kind.value,
        "re_age_after_payments": terms.re_age.payments,
        "re_age_from": proposal.re_age_from.isoformat() if proposal.re_age_from else None,
        "on_break": on_break,
        "grace_days": grace_days,
        "total_payable": format_cents(proposal.total_payable_cents),
    }


def _new_plan(
    conn: Connection,
    account: AccountOwed,
    proposal: PlanProposal,
    old_plans: pl.DataFrame,
    arrangement_key: int,
    day: date,
) -> tuple[int, str, pl.DataFrame]:
    """Insert the plan row; return its key, id and installment rows (not yet inserted)."""
    # The product of the old plan with the most principal left gives the new plan's grace,
    # charges and allocation order.
    product_id = str(old_plans.sort("principal", descending=True)["product_id"][0])
    plan_key = (
        int(
            conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(t.plans.c.plan_key), 0))
            ).scalar_one()
        )
        + 1
    )
    plan_id = f"{account.account_id}-A{arrangement_key}"
    schedule: list[tuple[date, int, int]] = []
    if proposal.down_payment_cents:
        schedule.append((day, proposal.down_payment_cents, 0))
    for n, installment in enumerate(proposal.schedule, start=1):
        fee = installment.fee_cents
        if n == len(proposal.schedule):
            fee += proposal.frozen_cents  # frozen charges: with the last installment, no accrual
        schedule.append((installment.due_date, installment.principal_cents, fee))
    conn.execute(
        t.plans.insert().values(
            plan_key=plan_key,
            plan_id=plan_id,
            account_key=account.account_key,
            product_id=product_id,
            principal_cents=sum(principal for _, principal, _ in schedule),
            term=len(schedule),
            start_date=day,
        )
    )
    zero = [0] * len(schedule)
    rows = pl.DataFrame(
        {
            "plan_key": [plan_key] * len(schedule),
            "period": list(range(1, len(schedule) + 1)),
            "account_key": [account.account_key] * len(schedule),
            "due_date": [due for due, _, _ in schedule],
            "principal_cents": [principal for _, principal, _ in schedule],
            "fee_cents": [fee for _, _, fee in schedule],
            **{name: zero for name in (*STATE_COLUMNS, "settled")},
        },
        schema_overrides={"due_date": pl.Date},
    )
    return plan_key, plan_id, rows


def _set_plan_flag(
    conn: Connection, account_key: int, by: str, at: datetime, note: str, *, set_it: bool
) -> None:
    """Set or clear the borrower's ``repayment_plan`` hold (a borrower with another active
    plan keeps it)."""
    f, a, ar = t.borrower_flags, t.accounts, t.arrangements
    borrower = conn.execute(
        sa.select(a.c.borrower_key).where(a.c.account_key == account_key)
    ).scalar_one()
    active = conn.execute(
        sa.select(f.c.flag_key).where(
            f.c.borrower_key == borrower, f.c.flag == PLAN_FLAG, f.c.cleared_at.is_(None)
        )
    ).first()
    if set_it:
        if active is None:
            conn.execute(
                f.insert().values(
                    borrower_key=borrower, flag=PLAN_FLAG, set_at=at, set_by=by, note=note
                )
            )
        return
    others = conn.execute(
        sa.select(ar.c.arrangement_key)
        .join(a, a.c.account_key == ar.c.account_key)
        .where(a.c.borrower_key == borrower, ar.c.kind == "plan", ar.c.status == "active")
    ).first()
    if active is not None and others is None:
        conn.execute(
            f.update()
            .where(f.c.borrower_key == borrower, f.c.flag == PLAN_FLAG, f.c.cleared_at.is_(None))
            .values(cleared_at=at, cleared_by=by)
        )


def _plan_state(conn: Connection, as_of: date) -> pl.DataFrame:
    """Every active plan with its new plan's unpaid amounts, and the oldest due date among
    its installments with principal or fee unpaid."""
    ar, i = t.arrangements, t.installments
    unpaid_pf = (
        i.c.principal_cents
        - i.c.paid_principal_cents
        - i.c.adjusted_principal_cents
        + i.c.fee_cents
        - i.c.paid_fee_cents
        - i.c.adjusted_fee_cents
    )
    return read_frame(
        conn,
        sa.select(
            ar.c.arrangement_key,
            ar.c.account_key,
            ar.c.plan_key,
            ar.c.terms,
            sa.func.count(i.c.period).filter(i.c.settled == 0).label("open_rows"),
            sa.func.min(i.c.due_date).filter(unpaid_pf > 0).label("oldest_unpaid"),
        )
        .join(i, i.c.plan_key == ar.c.plan_key)
        .where(ar.c.kind == "plan", ar.c.status == "active", ar.c.effective_on <= as_of)
        .group_by(ar.c.arrangement_key, ar.c.account_key, ar.c.plan_key, ar.c.terms),
        {
            "arrangement_key": pl.Int64,
            "account_key": pl.Int64,
            "plan_key": pl.Int64,
            "terms": pl.String,
            "open_rows": pl.Int64,
            "oldest_unpaid": pl.Date,
        },
    )


def _judge_plans(conn: Connection, as_of: date, now: datetime) -> tuple[int, int, int]:
    plans = _plan_state(conn, as_of)
    at = now.astimezone(UTC)
    completed = broken = reverted = 0
    for row in plans.iter_rows(named=True):
        terms = json.loads(row["terms"])
        key = int(row["arrangement_key"])
        if row["open_rows"] == 0:
            _set_status(conn, pl.Series([key]), "completed", as_of, "every installment paid")
            _set_plan_flag(conn, row["account_key"], "recoup", at, "plan completed", set_it=False)
            completed += 1
            continue
        oldest = row["oldest_unpaid"]
        if oldest is None or (as_of - oldest).days <= int(terms["grace_days"]):
            continue
        reason = (
            f"the installment due {oldest} is unpaid {(as_of - oldest).days} days later "
            f"(grace {terms['grace_days']} days)"
        )
        if terms["on_break"] == "revert":
            _revert(conn, key, row["account_key"], row["plan_key"], as_of, at)
            _set_status(conn, pl.Series([key]), "reverted", as_of, reason)
            reverted += 1
        else:
            _set_status(conn, pl.Series([key]), "broken", as_of, reason)
        _set_plan_flag(conn, row["account_key"], "recoup", at, "plan broken", set_it=False)
        broken += 1
    return completed, broken, reverted


def _revert(
    conn: Connection, key: int, account_key: int, plan_key: int, as_of: date, at: datetime
) -> None:
    """A broken plan goes back to the old terms from the next day: everything the plan still
    owes leaves it (its interest with it: unearned once the plan is gone), and the old debt
    less what the borrower paid under the plan returns to the old installments, principal
    first (the payments count as having paid the old charges first, as the allocation order
    would have)."""
    adj, i = t.adjustments, t.installments
    old_moves = conn.execute(
        sa.select(adj.c.plan_key, adj.c.component, adj.c.amount_cents)
        .where(adj.c.arrangement_key == key, adj.c.kind == "restructure")
        .order_by(adj.c.adjustment_key.desc())
    ).all()
    paid = conn.execute(
        sa.select(
            sa.func.coalesce(
                sa.func.sum(
                    i.c.paid_principal_cents
                    + i.c.paid_fee_cents
                    + i.c.paid_late_fee_cents
                    + i.c.paid_penalty_cents
                ),
                0,
            )
        ).where(i.c.plan_key == plan_key)
    ).scalar_one()
    restore = max(sum(int(amount) for _, _, amount in old_moves) - int(paid), 0)
    base = {
        "account_key": account_key,
        "effective_on": as_of + timedelta(days=1),
        "arrangement_key": key,
        "created_at": at,
        "kind": "reinstatement",
    }
    entries: list[dict[str, Any]] = [
        base | {"plan_key": plan_key, "component": c, "amount_cents": None} for c in COMPONENTS
    ]
    for component in reversed(COMPONENTS):  # principal first
        for old_plan, moved_component, amount in old_moves:  # newest plan first
            if moved_component != component or restore <= 0:
                continue
            back = min(restore, int(amount))
            restore -= back
            entries.append(
                base | {"plan_key": old_plan, "component": component, "amount_cents": -back}
            )
    _insert_adjustments(conn, entries)


def judge_arrangements(conn: Connection, as_of: date, now: datetime) -> Judged:
    """After the close of ``as_of``: settlements paid in full are written off from the next
    day, unpaid ones past their last day lapse; plans fully paid complete, plans with an
    installment unpaid beyond their grace break (and revert when their terms say so).
    Only the last closed day can be judged: what it posts takes effect the day after."""
    closed = last_closed_day(conn)
    if closed != as_of:
        raise PostingRefused(
            f"arrangements are judged on the last closed day ({closed}), not on {as_of}"
        )
    done, lapsed = _judge_settlements(conn, as_of, now)
    completed, broken, reverted = _judge_plans(conn, as_of, now)
    return Judged(done, lapsed, completed, broken, reverted)


def arrangements_of(conn: Connection, account_key: int) -> list[dict[str, Any]]:
    ar = t.arrangements
    return [
        dict(row)
        for row in conn.execute(
            sa.select(ar).where(ar.c.account_key == account_key).order_by(ar.c.arrangement_key)
        ).mappings()
    ]

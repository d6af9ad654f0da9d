"""The queries that read the ledger for the close and for one account, with the Polars
schemas of their results (the kernel's input columns)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa

from recoup.ledger.kernel import ADJUSTMENT_INPUT, INSTALLMENT_INPUT
from recoup.store import tables as t
from recoup.store.bulk import sqlite_row_id

INSTALLMENT_SCHEMA = dict(INSTALLMENT_INPUT) | {"start_date": pl.Date}
ACCOUNT_SCHEMA = {
    "account_key": pl.Int64,
    "opened_on": pl.Date,
    "credit_balance_cents": pl.Int64,
    "dpd": pl.Int32,
    "bucket": pl.String,
    "overdue_cents": pl.Int64,
    "outstanding_principal_cents": pl.Int64,
}
ADJUSTMENT_SCHEMA = dict(ADJUSTMENT_INPUT)
PAYMENT_SCHEMA = {
    "account_key": pl.Int64,
    "amount_cents": pl.Int64,
    "paid_on": pl.Date,
    "reverses_payment_id": pl.String,
    "reversed_on": pl.Date,
}


def installments_query(
    where: Sequence[sa.ColumnElement[bool]],
    *,
    with_settled: bool = False,
    with_row_id: bool = False,
) -> sa.Select[tuple[object, ...]]:
    """Installments with the columns of INSTALLMENT_SCHEMA, then ``settled`` and SQLite's
    ``row_id`` (see :func:`~recoup.store.bulk.update_from_frame`) if asked."""
    i, p = t.installments, t.plans
    settled: list[sa.ColumnElement[Any]] = [i.c.settled] if with_settled else []
    if with_row_id:
        settled.append(sqlite_row_id(i).label("row_id"))
    return (
        sa.select(
            i.c.account_key,
            i.c.plan_key,
            p.c.plan_id,
            i.c.period,
            p.c.product_id,
            i.c.due_date,
            i.c.principal_cents,
            i.c.fee_cents,
            i.c.late_fee_cents,
            i.c.penalty_cents,
            i.c.paid_principal_cents,
            i.c.paid_fee_cents,
            i.c.paid_late_fee_cents,
            i.c.paid_penalty_cents,
            i.c.adjusted_principal_cents,
            i.c.adjusted_fee_cents,
            i.c.adjusted_late_fee_cents,
            i.c.adjusted_penalty_cents,
            p.c.start_date,
            *settled,
        )
        .select_from(i.join(p, i.c.plan_key == p.c.plan_key))
        .where(*where)
    )


def payments_query(where: Sequence[sa.ColumnElement[bool]]) -> sa.Select[tuple[object, ...]]:
    pay = t.payments
    return sa.select(
        pay.c.account_key,
        pay.c.amount_cents,
        pay.c.paid_on,
        pay.c.reverses_payment_id,
        pay.c.reversed_on,
    ).where(*where)


def accounts_query(where: Sequence[sa.ColumnElement[bool]]) -> sa.Select[tuple[object, ...]]:
    """Accounts with their state at the last closed day (columns of ACCOUNT_SCHEMA)."""
    a = t.accounts
    return sa.select(
        a.c.account_key,
        a.c.opened_on,
        a.c.credit_balance_cents,
        a.c.dpd,
        a.c.bucket,
        a.c.overdue_cents,
        a.c.outstanding_principal_cents,
    ).where(*where)


def adjustments_query(where: Sequence[sa.ColumnElement[bool]]) -> sa.Select[tuple[object, ...]]:
    """Adjustments with the columns of ADJUSTMENT_SCHEMA."""
    adj = t.adjustments
    return sa.select(
        adj.c.adjustment_key,
        adj.c.account_key,
        adj.c.effective_on,
        adj.c.plan_key,
        adj.c.component,
        adj.c.amount_cents,
        adj.c.kind,
    ).where(*where)


#: Accounts whose plan re-ages them only after its first payments (kernel account columns).
REAGING_SCHEMA = {
    "account_key": pl.Int64,
    "aged_from": pl.Date,
    "re_age_plan_key": pl.Int64,
    "re_age_through": pl.Date,
}


def reaging_query(where: Sequence[sa.ColumnElement[bool]]) -> sa.Select[tuple[object, ...]]:
    """The latest plan of each account that re-ages it after payments (REAGING_SCHEMA)."""
    ar = t.arrangements
    latest = (
        sa.select(sa.func.max(ar.c.arrangement_key))
        .where(ar.c.kind == "plan", ar.c.aged_from.is_not(None))
        .group_by(ar.c.account_key)
    )
    return sa.select(ar.c.account_key, ar.c.aged_from, ar.c.plan_key, ar.c.re_age_through).where(
        ar.c.arrangement_key.in_(latest), *where
    )

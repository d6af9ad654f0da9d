"""Reading the collection book: accounts' state and open cases, as frames for the strategy.

Every read is one bulk query over the portfolio (joined in the database or in Polars), never
a query per case, so the daily strategy run stays a handful of statements however many
cases are open.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.store import tables as t
from recoup.store.bulk import read_frame

ACCOUNT_STATE = {
    "account_key": pl.Int64,
    "account_id": pl.String,
    "dpd": pl.Int64,
    "bucket": pl.String,
    "overdue_cents": pl.Int64,
    "outstanding_principal_cents": pl.Int64,
    "region": pl.String,
}

OPEN_CASE = {
    "case_key": pl.Int64,
    "account_key": pl.Int64,
    "opened_on": pl.Date,
    "opened_because": pl.String,
    "segment": pl.String,
    "path": pl.String,
    "path_override": pl.String,
    "path_since": pl.Date,
    "last_event": pl.String,
    "last_event_on": pl.Date,
    "dispute": pl.Int64,
    "vulnerable": pl.Int64,
    "last_contact_on": pl.Date,
    "owner": pl.String,
    "owner_kind": pl.String,
    "team": pl.String,
    "owned_since": pl.Date,
    "last_progress_on": pl.Date,
}


def accounts_in_collection(conn: Connection) -> pl.DataFrame:
    """The accounts a case may open or close for: past due, overdue, or with an open case.

    Found as the close finds them: those in arrears through their partial index (a condition
    in other words, such as ``dpd > 0 OR overdue_cents > 0 OR ...``, reads every account of
    the portfolio), and those with an open case through the cases."""
    return account_state(conn, _in_collection())


def _in_collection() -> sa.ColumnElement[bool]:
    c, a = t.cases, t.accounts
    in_arrears = sa.select(a.c.account_key).where(sa.text(t.ACCOUNTS_IN_ARREARS))
    with_case = sa.select(c.c.account_key).where(c.c.status == "open")
    return a.c.account_key.in_(sa.union(in_arrears, with_case))


def account_state(conn: Connection, where: sa.ColumnElement[bool]) -> pl.DataFrame:
    """The accounts that satisfy ``where``, with the columns of ACCOUNT_STATE."""
    return read_frame(conn, _account_state_query(where), ACCOUNT_STATE)


def _account_state_query(where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    a, b = t.accounts, t.borrowers
    return (
        sa.select(
            a.c.account_key,
            a.c.account_id,
            a.c.dpd,
            a.c.bucket,
            a.c.overdue_cents,
            a.c.outstanding_principal_cents,
            b.c.region,
        )
        .select_from(a.join(b, a.c.borrower_key == b.c.borrower_key))
        .where(where)
    )


def open_cases(conn: Connection) -> pl.DataFrame:
    c = t.cases
    columns = [c.c[name] for name in OPEN_CASE]
    return read_frame(conn, sa.select(*columns).where(c.c.status == "open"), OPEN_CASE)


def oldest_unpaid(conn: Connection, account_keys: Sequence[int] | None = None) -> pl.DataFrame:
    """Per account with an open case (of ``account_keys`` only, when given): the due date
    and product of its oldest unpaid installment (for a case not yet past due, its next
    one)."""
    i, p, c = t.installments, t.plans, t.cases
    open_accounts = sa.select(c.c.account_key).where(c.c.status == "open")
    where = [i.c.settled == 0, i.c.account_key.in_(open_accounts)]
    if account_keys is not None:
        where.append(i.c.account_key.in_(list(account_keys)))
    unpaid = read_frame(
        conn,
        sa.select(i.c.account_key, i.c.due_date, p.c.product_id)
        .select_from(i.join(p, i.c.plan_key == p.c.plan_key))
        .where(*where),
        {"account_key": pl.Int64, "due_date": pl.Date, "product_id": pl.String},
    )
    return (
        unpaid.sort("account_key", "due_date", "product_id")
        .group_by("account_key", maintain_order=True)
        .first()
    )


def promises_to_follow(conn: Connection) -> pl.DataFrame:
    """The open promises, with the columns :func:`recoup.cases.follow_up_promises` takes."""
    pr = t.promises
    return read_frame(
        conn,
        sa.select(
            pr.c.promise_key,
            pr.c.case_key,
            pr.c.account_key,
            pr.c.made_on,
            pr.c.promised_for,
            pr.c.amount_cents,
            pr.c.grace_days,
        ).where(pr.c.status == "open"),
        {
            "promise_key": pl.Int64,
            "case_key": pl.Int64,
            "account_key": pl.Int64,
            "made_on": pl.Date,
            "promised_for": pl.Date,
            "amount_cents": pl.Int64,
            "grace_days": pl.Int64,
        },
    )

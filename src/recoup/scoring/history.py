"""Reading the history the risk features and targets need (:class:`recoup.risk.features.History`)
from the store: one bulk query per frame, never a query per account.

What is read, for the days ``since`` through ``until`` (``until`` no later than the last
closed day, since the close writes the states and moves a target's horizon needs):

- accounts opened by ``until``;
- month-end (and other) states, moves, payments and contact attempts dated in the days;
- the whole schedule of every plan started by ``until``: a schedule is a contract known from
  the plan's start, and the principal lent over all plans is a feature's denominator. The
  installments' *paid* columns are not read: they are today's values and would leak;
- promises made by ``until`` and not resolved before ``since``.

Seen from ``until``, anything learnt later is not there, so a history read through D and one
read through a later day give the same features as of D:

- a payment is known from the first day of the first close that had it (its watermark, the
  highest payment key it saw, reaches the payment's key), or from its own date when that is
  later (``known_on``): a payment posted before its day was closed is known on its day, a
  backdated one from the close that took it in. Payments no close has seen, or known only
  after ``until``, are left out. Business days, not the import's clock time: the close is
  when the ledger learns a payment, and a history loaded in one go was learnt as it was
  closed, day by day;
- a reversal counts from the later of its date and the first day of the close that saw it
  (``reversed_on``; null when that is after ``until``);
- a promise resolved after ``until`` reads as open.

One thing is not rolled back: the state history itself, which the close rewrites when a
backdated payment arrives (the state at D then reflects a payment dated by D but known later).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime, time
from typing import Any

import polars as pl
import sqlalchemy as sa

from recoup.close import last_closed_day
from recoup.risk.features import (
    ACCOUNT_SCHEMA,
    ATTEMPT_SCHEMA,
    INSTALLMENT_SCHEMA,
    MOVE_SCHEMA,
    PAYMENT_SCHEMA,
    PROMISE_SCHEMA,
    STATE_SCHEMA,
    History,
    end_of_day,
)
from recoup.store import tables as t
from recoup.store.bulk import read_frame, temporary_table
from recoup.store.repository import load_catalog_from_store


def read_history(
    conn: sa.Connection,
    since: date,
    until: date,
    accounts: Sequence[int] | None = None,
) -> History:
    """The history from ``since`` through ``until`` (or the last closed day, if earlier), of
    every account or of ``accounts``. Raises ``ValueError`` when no day has been closed."""
    closed = last_closed_day(conn)
    if closed is None:
        raise ValueError("the store has no closed day yet: close before reading the history")
    until = min(until, closed)
    if until < since:
        raise ValueError(f"nothing to read: since {since} is after {until}")
    with ExitStack() as stack:
        keys: sa.Table | None = None
        if accounts is not None:
            frame = pl.DataFrame({"account_key": list(accounts)}, schema={"account_key": pl.Int64})
            keys = stack.enter_context(temporary_table(conn, frame.unique()))
        return History(
            since=since,
            until=until,
            buckets=load_catalog_from_store(conn).buckets,
            accounts=_accounts(conn, until, keys),
            states=_states(conn, since, until, keys),
            payments=_payments(conn, since, until, keys),
            installments=_installments(conn, until, keys),
            moves=_moves(conn, since, until, keys),
            promises=_promises(conn, since, until, keys),
            attempts=_attempts(conn, since, until, keys),
        )


def _of_accounts(
    column: sa.ColumnElement[Any], keys: sa.Table | None
) -> list[sa.ColumnElement[bool]]:
    return [] if keys is None else [column.in_(sa.select(keys.c.account_key))]


def _accounts(conn: sa.Connection, until: date, keys: sa.Table | None) -> pl.DataFrame:
    a = t.accounts
    query = sa.select(a.c.account_key, a.c.opened_on).where(
        a.c.opened_on <= until, *_of_accounts(a.c.account_key, keys)
    )
    return read_frame(conn, query, ACCOUNT_SCHEMA)


def _states(conn: sa.Connection, since: date, until: date, keys: sa.Table | None) -> pl.DataFrame:
    s = t.account_states
    overdue = (
        s.c.overdue_principal_cents
        + s.c.overdue_fee_cents
        + s.c.overdue_late_fee_cents
        + s.c.overdue_penalty_cents
    )
    query = sa.select(
        s.c.account_key,
        s.c.as_of,
        s.c.dpd,
        s.c.bucket,
        overdue,
        s.c.outstanding_principal_cents,
    ).where(s.c.as_of.between(since, until), *_of_accounts(s.c.account_key, keys))
    return read_frame(conn, query, STATE_SCHEMA)


def _payments(conn: sa.Connection, since: date, until: date, keys: sa.Table | None) -> pl.DataFrame:
    p = t.payments
    # Reversal rows are not payments; each names the payment it returns, and its own key
    # says which close first saw the reversal.
    reversal = (
        sa.select(p.c.reverses_payment_id, p.c.payment_key)
        .where(p.c.reverses_payment_id.is_not(None))
        .subquery()
    )
    query = (
        sa.select(
            p.c.account_key,
            p.c.amount_cents,
            p.c.paid_on,
            p.c.reversed_on,
            p.c.payment_key,
            reversal.c.payment_key,
        )
        .select_from(p.outerjoin(reversal, reversal.c.reverses_payment_id == p.c.payment_id))
        .where(
            p.c.reverses_payment_id.is_(None),
            p.c.paid_on.between(since, until),
            *_of_accounts(p.c.account_key, keys),
        )
    )
    schema = {
        "account_key": pl.Int64(),
        "amount_cents": pl.Int64(),
        "paid_on": pl.Date(),
        "reversed_on": pl.Date(),
        "payment_key": pl.Int64(),
        "reversal_key": pl.Int64(),
    }
    frame = read_frame(conn, query, schema)
    closes = _closes(conn)
    seen = _first_seen(closes, frame, "payment_key")
    reversal_seen = _first_seen(closes, frame, "reversal_key")
    # A row no close has seen yet is not known at all (null), whatever its date.
    known_on = pl.when(seen.is_not_null()).then(pl.max_horizontal("paid_on", seen))
    reversal_known_on = pl.when(reversal_seen.is_not_null()).then(
        pl.max_horizontal("reversed_on", reversal_seen)
    )
    return (
        frame.with_columns(
            known_on.alias("known_on"),
            pl.when(reversal_known_on <= until).then(reversal_known_on).alias("reversed_on"),
        )
        .filter(pl.col("known_on") <= until)
        .select(list(PAYMENT_SCHEMA))
    )


def _closes(conn: sa.Connection) -> pl.DataFrame:
    """``seen_through, closed_from``: for each close (in order), the highest payment key any
    close had seen by then and the first day it closed. A close's watermark is the highest key
    it saw; keys grow with each import, so the first close whose running watermark reaches a
    key is the first that took that payment in."""
    r = t.batch_runs
    runs = read_frame(
        conn,
        sa.select(r.c.run_id, r.c.max_payment_key, r.c.closed_from)
        # Recomputes do not advance the closed day; the next close takes their rows in.
        .where(r.c.kind == "close", r.c.max_payment_key.is_not(None))
        .order_by(r.c.run_id),
        {"run_id": pl.Int64, "max_payment_key": pl.Int64, "closed_from": pl.Date},
    )
    return (
        runs.select(pl.col("max_payment_key").cum_max().alias("seen_through"), "closed_from")
        .unique("seen_through", keep="first", maintain_order=True)
        .sort("seen_through")
    )


def _first_seen(closes: pl.DataFrame, frame: pl.DataFrame, key: str) -> pl.Expr:
    """The first day of the first close that had seen each row's ``key`` (null when no
    close has, or the key is null), in the order of ``frame``."""
    keys = frame.select(pl.col(key).alias("key")).with_row_index("row")
    found = (
        keys.drop_nulls("key")
        .sort("key")
        .join_asof(closes, left_on="key", right_on="seen_through", strategy="forward")
    )
    days = (
        keys.join(found.select("row", "closed_from"), on="row", how="left")
        .sort("row")
        .get_column("closed_from")
    )
    return pl.lit(days)


def _installments(conn: sa.Connection, until: date, keys: sa.Table | None) -> pl.DataFrame:
    i, p = t.installments, t.plans
    query = (
        sa.select(
            i.c.account_key,
            i.c.plan_key,
            p.c.start_date,
            i.c.due_date,
            i.c.principal_cents,
            i.c.fee_cents,
        )
        .select_from(i.join(p, i.c.plan_key == p.c.plan_key))
        .where(p.c.start_date <= until, *_of_accounts(i.c.account_key, keys))
    )
    return read_frame(conn, query, INSTALLMENT_SCHEMA)


def _moves(conn: sa.Connection, since: date, until: date, keys: sa.Table | None) -> pl.DataFrame:
    m = t.bucket_moves
    query = sa.select(m.c.account_key, m.c.moved_on, m.c.from_bucket, m.c.to_bucket, m.c.dpd).where(
        m.c.moved_on.between(since, until), *_of_accounts(m.c.account_key, keys)
    )
    return read_frame(conn, query, MOVE_SCHEMA)


def _promises(conn: sa.Connection, since: date, until: date, keys: sa.Table | None) -> pl.DataFrame:
    r = t.promises
    query = sa.select(
        r.c.promise_key,
        r.c.account_key,
        r.c.made_on,
        r.c.promised_for,
        r.c.grace_days,
        r.c.amount_cents,
        r.c.status,
        r.c.resolved_on,
    ).where(
        r.c.made_on <= until,
        sa.or_(r.c.resolved_on.is_(None), r.c.resolved_on >= since),
        *_of_accounts(r.c.account_key, keys),
    )
    frame = read_frame(conn, query, PROMISE_SCHEMA)
    later = pl.col("resolved_on") > until  # not yet resolved as seen from until
    return frame.with_columns(
        pl.when(later).then(pl.lit("open")).otherwise(pl.col("status")).alias("status"),
        pl.when(later).then(None).otherwise(pl.col("resolved_on")).alias("resolved_on"),
    )


def _attempts(conn: sa.Connection, since: date, until: date, keys: sa.Table | None) -> pl.DataFrame:
    c = t.contact_attempts
    query = sa.select(c.c.account_key, c.c.at, c.c.channel, c.c.party, c.c.outcome).where(
        c.c.at >= datetime.combine(since, time(), UTC),
        c.c.at < end_of_day(until),
        *_of_accounts(c.c.account_key, keys),
    )
    return read_frame(conn, query, ATTEMPT_SCHEMA)

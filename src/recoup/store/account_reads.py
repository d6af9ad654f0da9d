"""Reading one account for the single-account view: its plans, schedule, payments, moves."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from recoup.ledger.kernel import INSTALLMENT_INPUT
from recoup.store import tables as t
from recoup.store.bulk import read_frame


class UnknownAccount(LookupError):
    """No account has the id that was asked for."""


@dataclass(frozen=True, slots=True)
class StoredAccount:
    account_key: int
    account_id: str
    currency: str
    installments: pl.DataFrame
    payments: pl.DataFrame


def load_account(conn: sa.Connection, account_id: str) -> StoredAccount:
    row = conn.execute(
        sa.select(t.accounts.c.account_key, t.accounts.c.currency).where(
            t.accounts.c.account_id == account_id
        )
    ).first()
    if row is None:
        raise UnknownAccount(f"no account {account_id!r}")
    key, currency = int(row[0]), str(row[1])
    i, p, pay = t.installments, t.plans, t.payments
    installments = read_frame(
        conn,
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
            p.c.start_date,
        )
        .select_from(i.join(p, i.c.plan_key == p.c.plan_key))
        .where(i.c.account_key == key),
        dict(INSTALLMENT_INPUT) | {"start_date": pl.Date},
    )
    payments = read_frame(
        conn,
        sa.select(
            pay.c.account_key,
            pay.c.amount_cents,
            pay.c.paid_on,
            pay.c.reverses_payment_id,
            pay.c.reversed_on,
        ).where(pay.c.account_key == key),
        {
            "account_key": pl.Int64,
            "amount_cents": pl.Int64,
            "paid_on": pl.Date,
            "reverses_payment_id": pl.String,
            "reversed_on": pl.Date,
        },
    )
    return StoredAccount(key, account_id, currency, installments, payments)


def load_moves(conn: sa.Connection, account_id: str) -> pl.DataFrame:
    key = conn.execute(
        sa.select(t.accounts.c.account_key).where(t.accounts.c.account_id == account_id)
    ).scalar()
    if key is None:
        raise UnknownAccount(f"no account {account_id!r}")
    m = t.bucket_moves
    return read_frame(
        conn,
        sa.select(m.c.moved_on, m.c.from_bucket, m.c.to_bucket, m.c.dpd, m.c.run_id)
        .where(m.c.account_key == key)
        .order_by(m.c.moved_on, m.c.move_key),
        {
            "moved_on": pl.Date,
            "from_bucket": pl.String,
            "to_bucket": pl.String,
            "dpd": pl.Int32,
            "run_id": pl.Int64,
        },
    )

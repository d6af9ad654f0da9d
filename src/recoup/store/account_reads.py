"""Reading one account for the single-account view: its plans, schedule, payments, moves."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from recoup.store import tables as t
from recoup.store.bulk import read_frame
from recoup.store.ledger_queries import (
    ADJUSTMENT_SCHEMA,
    INSTALLMENT_SCHEMA,
    PAYMENT_SCHEMA,
    REAGING_SCHEMA,
    adjustments_query,
    installments_query,
    payments_query,
    reaging_query,
)


class UnknownAccount(LookupError):
    """No account has the id that was asked for."""


@dataclass(frozen=True, slots=True)
class StoredAccount:
    account_key: int
    account_id: str
    currency: str
    installments: pl.DataFrame
    payments: pl.DataFrame
    adjustments: pl.DataFrame
    reaging: pl.DataFrame


def load_account(conn: sa.Connection, account_id: str) -> StoredAccount:
    row = conn.execute(
        sa.select(t.accounts.c.account_key, t.accounts.c.currency).where(
            t.accounts.c.account_id == account_id
        )
    ).first()
    if row is None:
        raise UnknownAccount(f"no account {account_id!r}")
    key, currency = int(row[0]), str(row[1])
    installments = read_frame(
        conn, installments_query([t.installments.c.account_key == key]), INSTALLMENT_SCHEMA
    )
    payments = read_frame(conn, payments_query([t.payments.c.account_key == key]), PAYMENT_SCHEMA)
    adjustments = read_frame(
        conn, adjustments_query([t.adjustments.c.account_key == key]), ADJUSTMENT_SCHEMA
    )
    reaging = read_frame(conn, reaging_query([t.arrangements.c.account_key == key]), REAGING_SCHEMA)
    return StoredAccount(key, account_id, currency, installments, payments, adjustments, reaging)


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

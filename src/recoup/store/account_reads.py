"""Reading one account for the single-account view: its plans, schedule, payments, moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
import sqlalchemy as sa

from recoup.ledger.account_view import AccountView, installment_status
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
        conn,
        installments_query([t.installments.c.account_key == key]),
        INSTALLMENT_SCHEMA,
        few=True,
    )
    payments = read_frame(
        conn, payments_query([t.payments.c.account_key == key]), PAYMENT_SCHEMA, few=True
    )
    adjustments = read_frame(
        conn, adjustments_query([t.adjustments.c.account_key == key]), ADJUSTMENT_SCHEMA, few=True
    )
    reaging = read_frame(
        conn, reaging_query([t.arrangements.c.account_key == key]), REAGING_SCHEMA, few=True
    )
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
        few=True,
    )


def stored_account_view(conn: sa.Connection, account_id: str, as_of: date) -> AccountView:
    """The account at the end of the last closed day ``as_of``, read from what the close
    stored (installment amounts and account state) instead of replayed: the same figures as
    :func:`recoup.ledger.account_view.view_account` for that day, at the cost of a few
    indexed reads (the workbench's account page)."""
    a = t.accounts
    row = conn.execute(sa.select(a).where(a.c.account_id == account_id)).mappings().first()
    if row is None:
        raise UnknownAccount(f"no account {account_id!r}")
    key = int(row["account_key"])
    rows = read_frame(
        conn,
        installments_query(
            [t.installments.c.account_key == key, t.plans.c.start_date <= as_of],
            with_settled=True,
        ),
        INSTALLMENT_SCHEMA | {"settled": pl.Int32},
        few=True,
    ).with_columns(pl.col("settled").cast(pl.Boolean))
    due = rows.filter(pl.col("due_date") <= as_of)

    def unpaid(frame: pl.DataFrame, name: str) -> int:
        charged = frame[f"{name}_cents"] - frame[f"paid_{name}_cents"]
        return int((charged - frame[f"adjusted_{name}_cents"]).sum())

    state = {
        "dpd": int(row["dpd"]),
        "bucket": row["bucket"],
        "overdue_principal_cents": unpaid(due, "principal"),
        "overdue_fee_cents": unpaid(due, "fee"),
        "overdue_late_fee_cents": unpaid(due, "late_fee"),
        "overdue_penalty_cents": unpaid(due, "penalty"),
        "overdue_cents": int(row["overdue_cents"]),
        "outstanding_principal_cents": int(row["outstanding_principal_cents"]),
        "credit_balance_cents": int(row["credit_balance_cents"]),
    }
    installments = rows.sort("due_date", "plan_id", "period").with_columns(
        pl.sum_horizontal(
            f"paid_{c}_cents" for c in ("principal", "fee", "late_fee", "penalty")
        ).alias("paid_cents"),
        pl.sum_horizontal(
            f"adjusted_{c}_cents" for c in ("principal", "fee", "late_fee", "penalty")
        ).alias("adjusted_cents"),
        installment_status(as_of).alias("status"),
    )
    return AccountView(account_id, row["currency"], as_of, state, installments, pl.DataFrame())

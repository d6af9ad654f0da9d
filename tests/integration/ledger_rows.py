"""Reading back what the close stored, for comparison with the oracle."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from recoup.store import tables as t
from recoup.store.bulk import read_frame


def stored_ledger(store: sa.Engine) -> tuple[dict[str, dict], pl.DataFrame, pl.DataFrame]:  # type: ignore[type-arg]
    """Accounts by id, installments (amounts by component) and bucket moves."""
    with store.connect() as conn:
        accounts = read_frame(
            conn,
            sa.select(
                t.accounts.c.account_id,
                t.accounts.c.dpd,
                t.accounts.c.bucket,
                t.accounts.c.credit_balance_cents,
                t.accounts.c.overdue_cents,
            ),
            {
                "account_id": pl.String,
                "dpd": pl.Int64,
                "bucket": pl.String,
                "credit": pl.Int64,
                "overdue": pl.Int64,
            },
        )
        installments = read_frame(
            conn,
            sa.select(
                t.plans.c.plan_id,
                t.installments.c.period,
                t.installments.c.late_fee_cents,
                t.installments.c.penalty_cents,
                t.installments.c.paid_principal_cents,
                t.installments.c.paid_fee_cents,
                t.installments.c.paid_late_fee_cents,
                t.installments.c.paid_penalty_cents,
            ).select_from(
                t.installments.join(t.plans, t.plans.c.plan_key == t.installments.c.plan_key)
            ),
            {
                "plan_id": pl.String,
                "period": pl.Int64,
                "late_fee": pl.Int64,
                "penalty": pl.Int64,
                "paid_principal": pl.Int64,
                "paid_fee": pl.Int64,
                "paid_late_fee": pl.Int64,
                "paid_penalty": pl.Int64,
            },
        )
        moves = read_frame(
            conn,
            sa.select(
                t.accounts.c.account_id,
                t.bucket_moves.c.moved_on,
                t.bucket_moves.c.from_bucket,
                t.bucket_moves.c.to_bucket,
                t.bucket_moves.c.dpd,
            ).select_from(
                t.bucket_moves.join(
                    t.accounts, t.accounts.c.account_key == t.bucket_moves.c.account_key
                )
            ),
            {
                "account_id": pl.String,
                "moved_on": pl.Date,
                "from_bucket": pl.String,
                "to_bucket": pl.String,
                "dpd": pl.Int64,
            },
        )
    by_id = {row["account_id"]: row for row in accounts.iter_rows(named=True)}
    return by_id, installments, moves

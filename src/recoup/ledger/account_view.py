"""One account as it stood on a day: the single-account path of the ledger.

It runs the very same kernel as the portfolio close (:func:`recoup.ledger.kernel.run_rules`)
on a one-account frame, replaying from the first plan through ``as_of`` with the payments
and reversals known for those days, so the view of an account and the close can never
disagree. The JSON shape of :meth:`AccountView.to_json` is a stable interface
(``recoup account show ID --json``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from recoup.ledger.kernel import STATE_COLUMNS, effective_payments, run_rules
from recoup.money import format_cents
from recoup.products.spec import DEFAULT_BUCKETS, Bucket, Product


@dataclass(frozen=True, slots=True)
class AccountView:
    account_id: str
    currency: str
    as_of: date
    state: Mapping[str, Any]
    installments: pl.DataFrame
    moves: pl.DataFrame

    def to_json(self) -> dict[str, Any]:
        s = self.state
        open_rows = self.installments.filter((pl.col("due_date") > self.as_of) & ~pl.col("settled"))
        next_due = open_rows["due_date"].min() if open_rows.height else None
        return {
            "account_id": self.account_id,
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "dpd": s["dpd"],
            "bucket": s["bucket"],
            "overdue": {
                "principal": format_cents(s["overdue_principal_cents"]),
                "fee": format_cents(s["overdue_fee_cents"]),
                "late_fee": format_cents(s["overdue_late_fee_cents"]),
                "penalty_interest": format_cents(s["overdue_penalty_cents"]),
                "total": format_cents(s["overdue_cents"]),
            },
            "outstanding_principal": format_cents(s["outstanding_principal_cents"]),
            "credit_balance": format_cents(s["credit_balance_cents"]),
            "next_due_date": next_due.isoformat() if isinstance(next_due, date) else None,
            "installments": [
                {
                    "period": row["period"],
                    "plan_id": row["plan_id"],
                    "due_date": row["due_date"].isoformat(),
                    "principal": format_cents(row["principal_cents"]),
                    "fee": format_cents(row["fee_cents"]),
                    "late_fee": format_cents(row["late_fee_cents"]),
                    "penalty_interest": format_cents(row["penalty_cents"]),
                    "paid": format_cents(row["paid_cents"]),
                    "adjusted": format_cents(row["adjusted_cents"]),
                    "status": row["status"],
                }
                for row in self.installments.iter_rows(named=True)
            ],
        }


def installment_status(as_of: date) -> pl.Expr:
    """``paid`` when every component is paid; else ``scheduled`` before the due date, ``due``
    on it and ``overdue`` after it."""
    return (
        pl.when(pl.col("settled"))
        .then(pl.lit("paid"))
        .when(pl.col("due_date") > as_of)
        .then(pl.lit("scheduled"))
        .when(pl.col("due_date") == as_of)
        .then(pl.lit("due"))
        .otherwise(pl.lit("overdue"))
    )


def view_account(
    account_key: int,
    account_id: str,
    currency: str,
    installments: pl.DataFrame,
    payments: pl.DataFrame,
    products: Mapping[str, Product],
    as_of: date,
    buckets: Sequence[Bucket] = DEFAULT_BUCKETS,
    adjustments: pl.DataFrame | None = None,
    reaging: pl.DataFrame | None = None,
) -> AccountView:
    """Replay one account from its first plan through ``as_of``.

    ``installments`` are the account's schedule rows (columns of
    :data:`recoup.ledger.kernel.INSTALLMENT_INPUT`; their charged and paid amounts are
    ignored and rebuilt), ``payments`` all of its payment and reversal rows (as taken by
    :func:`recoup.ledger.kernel.effective_payments`), ``adjustments`` its adjustments
    (columns of :data:`recoup.ledger.kernel.ADJUSTMENT_INPUT`), ``reaging`` the re-age
    terms of its plan if it waits for payments to be re-aged (one row: ``aged_from,
    re_age_plan_key, re_age_through``).
    """
    tolerance = min(
        (products[p].tolerance_cents for p in installments["product_id"].unique()), default=0
    )
    if "start_date" in installments.columns:
        # A plan that starts after `as_of` does not exist yet on that day.
        installments = installments.filter(pl.col("start_date") <= as_of)
    zeroed = installments.with_columns(pl.lit(0, dtype=pl.Int64).alias(c) for c in STATE_COLUMNS)
    first_start = installments["start_date"].min() if "start_date" in installments.columns else None
    first_paid = payments["paid_on"].min() if payments.height else None
    starts = [d for d in (first_start, first_paid) if isinstance(d, date)]
    # From the day before the first plan or the first payment, whichever is earlier (a payment
    # before the first plan waits as credit).
    replay_from = (min(starts) if starts else as_of) - timedelta(days=1)
    replay_from = min(replay_from, as_of)
    result = run_rules(
        zeroed,
        pl.DataFrame(
            {
                "account_key": [account_key],
                "start": [replay_from],
                "credit_balance_cents": [0],
                "tolerance_cents": [tolerance],
            },
            schema={
                "account_key": pl.Int64,
                "start": pl.Date,
                "credit_balance_cents": pl.Int64,
                "tolerance_cents": pl.Int64,
            },
        ).hstack(
            reaging.select("aged_from", "re_age_plan_key", "re_age_through")
            if reaging is not None and reaging.height
            else []
        ),
        effective_payments(payments, as_of),
        products,
        as_of,
        buckets,
        adjustments=adjustments,
    )
    rows = result.installments.with_columns(
        (
            pl.col("adjusted_principal_cents")
            + pl.col("adjusted_fee_cents")
            + pl.col("adjusted_late_fee_cents")
            + pl.col("adjusted_penalty_cents")
        ).alias("adjusted_cents"),
        (
            pl.col("paid_principal_cents")
            + pl.col("paid_fee_cents")
            + pl.col("paid_late_fee_cents")
            + pl.col("paid_penalty_cents")
        ).alias("paid_cents"),
        installment_status(as_of).alias("status"),
    )
    state = result.accounts.row(0, named=True) if result.accounts.height else {}
    return AccountView(account_id, currency, as_of, state, rows, result.moves)

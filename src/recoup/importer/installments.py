"""The schedules of many plans at once, the same as :mod:`recoup.ledger.schedule` gives one.

Per-period amounts come from :func:`recoup.ledger.schedule.amounts` itself, computed once
per distinct (product, principal, term) and joined onto the plans, so there is one rule for
the amounts. Due dates are computed in Polars: ``dt.offset_by`` by ``k`` months clamps the
day to the month's last day, which is the rule of :func:`recoup.ledger.schedule.add_months`
(the tests compare the two, 31 January starts and leap years included).
"""

from __future__ import annotations

import polars as pl

from recoup.ledger.schedule import amounts
from recoup.products.spec import ProductCatalog

INSTALLMENT_SCHEMA: dict[str, pl.DataType] = {
    "plan_key": pl.Int64(),
    "period": pl.Int32(),
    "account_key": pl.Int64(),
    "due_date": pl.Date(),
    "principal_cents": pl.Int64(),
    "fee_cents": pl.Int64(),
    "late_fee_cents": pl.Int64(),
    "penalty_cents": pl.Int64(),
    "paid_principal_cents": pl.Int64(),
    "paid_fee_cents": pl.Int64(),
    "paid_late_fee_cents": pl.Int64(),
    "paid_penalty_cents": pl.Int64(),
    "settled": pl.Int32(),
}


def due_date(start: pl.Expr, months: pl.Expr) -> pl.Expr:
    """``start`` moved ``months`` months on, the day clamped to the month's last day."""
    return start.dt.offset_by(pl.format("{}mo", months))


def period_amounts(keys: pl.DataFrame, catalog: ProductCatalog) -> pl.DataFrame:
    """Per-period principal and fee of each distinct ``(product_id, principal_cents, term)``."""
    product_ids: list[str] = []
    principals: list[int] = []
    terms: list[int] = []
    periods: list[list[int]] = []
    principal_shares: list[list[int]] = []
    fees: list[list[int]] = []
    for product_id, principal_cents, term in keys.select(
        "product_id", "principal_cents", "term"
    ).iter_rows():
        product = catalog.get(product_id)
        rows = amounts(principal_cents, term, product.monthly_rate, product.fee_model)
        product_ids.append(product_id)
        principals.append(principal_cents)
        terms.append(term)
        periods.append(list(range(1, term + 1)))
        principal_shares.append([share for share, _ in rows])
        fees.append([fee for _, fee in rows])
    return pl.DataFrame(
        {
            "product_id": product_ids,
            "principal_cents": principals,
            "term": terms,
            "period": periods,
            "period_principal": principal_shares,
            "period_fee": fees,
        },
        schema={
            "product_id": pl.Utf8,
            "principal_cents": pl.Int64,
            "term": pl.Int64,
            "period": pl.List(pl.Int32),
            "period_principal": pl.List(pl.Int64),
            "period_fee": pl.List(pl.Int64),
        },
    ).explode("period", "period_principal", "period_fee")


def installment_rows(plans: pl.DataFrame, catalog: ProductCatalog) -> pl.DataFrame:
    """The ``installments`` rows of ``plans``.

    ``plans`` has ``plan_key, account_key, product_id, principal_cents, term, start_date``;
    every product must be in ``catalog`` and every term valid for it. The rows come out in
    plan order, then period order, with nothing charged or paid yet.
    """
    if plans.height == 0:
        return pl.DataFrame(schema=INSTALLMENT_SCHEMA)
    keys = plans.select(
        pl.col("product_id"), pl.col("principal_cents"), pl.col("term").cast(pl.Int64)
    ).unique()
    per_period = period_amounts(keys, catalog)
    zero = pl.lit(0, dtype=pl.Int64)
    return (
        plans.select(
            "plan_key",
            "account_key",
            "product_id",
            "principal_cents",
            pl.col("term").cast(pl.Int64),
            "start_date",
        )
        .join(
            per_period,
            on=["product_id", "principal_cents", "term"],
            how="inner",
            maintain_order="left_right",
        )
        .select(
            pl.col("plan_key").cast(pl.Int64),
            pl.col("period"),
            pl.col("account_key").cast(pl.Int64),
            due_date(pl.col("start_date"), pl.col("period")).alias("due_date"),
            pl.col("period_principal").alias("principal_cents"),
            pl.col("period_fee").alias("fee_cents"),
            zero.alias("late_fee_cents"),
            zero.alias("penalty_cents"),
            zero.alias("paid_principal_cents"),
            zero.alias("paid_fee_cents"),
            zero.alias("paid_late_fee_cents"),
            zero.alias("paid_penalty_cents"),
            pl.lit(0, dtype=pl.Int32).alias("settled"),
        )
    )

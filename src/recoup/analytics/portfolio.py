"""Portfolio summary: accounts and balances per bucket, and monthly roll rates (迁徙率).

Roll rate from bucket B over a month: of the outstanding principal of the accounts in B at
the end of one month, the share that sits one bucket worse at the end of the next month.
The last bucket cannot roll further and has no roll rate. Cure rate: the share back in the
first bucket (current). Both are computed from month-end state snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from recoup.products.spec import Bucket


def bucket_summary(states: pl.DataFrame, buckets: Sequence[Bucket]) -> pl.DataFrame:
    """Accounts, outstanding principal and overdue amount per bucket.

    ``states`` has ``account_key, bucket, outstanding_principal_cents, overdue_cents``.
    """
    order = pl.DataFrame({"bucket": [b.name for b in buckets], "ordinal": range(len(buckets))})
    totals = states.group_by("bucket").agg(
        pl.len().alias("accounts"),
        pl.col("outstanding_principal_cents").sum().alias("outstanding_principal_cents"),
        pl.col("overdue_cents").sum().alias("overdue_cents"),
    )
    return (
        order.join(totals, on="bucket", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in totals.columns if c != "bucket")
        .sort("ordinal")
        .drop("ordinal")
    )


def roll_rates(start: pl.DataFrame, end: pl.DataFrame, buckets: Sequence[Bucket]) -> pl.DataFrame:
    """Balance-weighted roll and cure rates from one month end (``start``) to the next.

    Both frames have ``account_key, bucket, outstanding_principal_cents``; an account missing
    from ``end`` is taken as unchanged... it cannot be, as every account has a month-end row.
    """
    names = [b.name for b in buckets]
    ordinal = {name: i for i, name in enumerate(names)}
    joined = start.select(
        "account_key",
        pl.col("bucket").replace_strict(ordinal, return_dtype=pl.Int32).alias("from_index"),
        pl.col("outstanding_principal_cents").alias("balance"),
    ).join(
        end.select(
            "account_key",
            pl.col("bucket").replace_strict(ordinal, return_dtype=pl.Int32).alias("to_index"),
        ),
        on="account_key",
        how="inner",
    )
    rates = (
        joined.filter(pl.col("from_index") < len(names) - 1)
        .group_by("from_index")
        .agg(
            pl.len().alias("accounts"),
            pl.col("balance").sum().alias("balance_cents"),
            pl.col("balance")
            .filter(pl.col("to_index") == pl.col("from_index") + 1)
            .sum()
            .alias("rolled_cents"),
            pl.col("balance").filter(pl.col("to_index") == 0).sum().alias("cured_cents"),
            (pl.col("to_index") == pl.col("from_index") + 1).sum().alias("rolled_accounts"),
        )
        .sort("from_index")
    )
    return rates.with_columns(
        pl.col("from_index")
        .map_elements(lambda i: f"{names[i]}->{names[i + 1]}", return_dtype=pl.String)
        .alias("roll"),
        (pl.col("rolled_cents") / pl.col("balance_cents")).alias("roll_rate"),
        (pl.col("cured_cents") / pl.col("balance_cents")).alias("cure_rate"),
        (pl.col("rolled_accounts") / pl.col("accounts")).alias("roll_rate_by_count"),
    ).select(
        "roll",
        "accounts",
        "balance_cents",
        "rolled_cents",
        "roll_rate",
        "roll_rate_by_count",
        "cure_rate",
    )

"""Early warning, until the risk models exist: which current accounts to watch before a due
date.

A current account (not past due) is flagged when an installment falls due within
``lead_days`` and the account was past due at some time in the last ``lookback_days``:
borrowers who slipped before are the ones most likely to slip again (roll rates in the
simulated and the demo portfolios show it). The risk models (issue 6) replace this rule
with a score; the strategy's early-warning segments then read the score instead.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

LEAD_DAYS = 7
LOOKBACK_DAYS = 180


def early_warning_flags(
    accounts: pl.DataFrame,
    next_due: pl.DataFrame,
    moves: pl.DataFrame,
    as_of: date,
    *,
    lead_days: int = LEAD_DAYS,
    lookback_days: int = LOOKBACK_DAYS,
) -> pl.DataFrame:
    """``account_key`` of the accounts flagged on ``as_of``.

    Args:
        accounts: ``account_key, dpd``.
        next_due: ``account_key, due_date`` of unpaid installments (any; the earliest after
            ``as_of`` counts).
        moves: ``account_key, moved_on, dpd`` of bucket moves (a move with ``dpd`` above 0
            means the account was past due that day).
    """
    soon = next_due.filter(
        (pl.col("due_date") > as_of) & (pl.col("due_date") <= as_of + timedelta(days=lead_days))
    ).select("account_key")
    slipped = moves.filter(
        (pl.col("dpd") > 0)
        & (pl.col("moved_on") > as_of - timedelta(days=lookback_days))
        & (pl.col("moved_on") <= as_of)
    ).select("account_key")
    return (
        accounts.filter(pl.col("dpd") == 0)
        .join(soon, on="account_key", how="semi")
        .join(slipped, on="account_key", how="semi")
        .select("account_key")
        .sort("account_key")
    )

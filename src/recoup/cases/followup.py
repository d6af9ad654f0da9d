"""Follow-up: promises to pay checked against payments, and payments credited to owners.

A promise (``amount`` by ``promised_for``) is judged on the payments the account made from
the day it was made through ``promised_for`` plus its grace days (the *deadline*):

- *kept* once those payments reach the amount (on the day they reach it);
- after the deadline, *partly_kept* when they paid something but not the amount, *broken*
  when they paid nothing; either is decided on the day after the deadline, whatever day
  the run happens, so a late run reaches the same outcome.

A payment is credited to whoever owned the account's case on the day it was paid (a
collector or an agency), which is what commissions and collector league tables count.
"""

from __future__ import annotations

from datetime import date

import polars as pl

PROMISE_OUTCOMES = ("kept", "partly_kept", "broken")


def follow_up_promises(promises: pl.DataFrame, payments: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The open promises' standing on ``as_of``.

    Args:
        promises: ``promise_key, account_key, made_on, promised_for, amount_cents,
            grace_days`` of the promises still open.
        payments: ``account_key, paid_on, amount_cents`` of the payments that count (net of
            reversals), any dates; those outside a promise's days are ignored.
        as_of: the day of the run; payments after it are ignored.

    Returns:
        One row per promise: ``promise_key, paid_cents`` (paid towards it so far),
        ``status`` (``open`` or an outcome) and ``resolved_on`` (null while open).
    """
    deadline = (pl.col("promised_for") + pl.duration(days=pl.col("grace_days"))).cast(pl.Date)
    windows = promises.select(
        "promise_key", "account_key", "made_on", "amount_cents", deadline.alias("deadline")
    )
    paid = (
        windows.join(payments.filter(pl.col("paid_on") <= as_of), on="account_key", how="inner")
        .filter(
            (pl.col("paid_on") >= pl.col("made_on")) & (pl.col("paid_on") <= pl.col("deadline"))
        )
        .sort("promise_key", "paid_on")
        .with_columns(pl.col("amount_cents_right").cum_sum().over("promise_key").alias("running"))
    )
    reached = (
        paid.filter(pl.col("running") >= pl.col("amount_cents"))
        .group_by("promise_key")
        .agg(pl.col("paid_on").min().alias("kept_on"))
    )
    totals = paid.group_by("promise_key").agg(
        pl.col("amount_cents_right").sum().alias("paid_cents")
    )
    standing = (
        windows.join(totals, on="promise_key", how="left")
        .join(reached, on="promise_key", how="left")
        .with_columns(pl.col("paid_cents").fill_null(0))
    )
    overdue = pl.col("deadline") < as_of
    return standing.select(
        "promise_key",
        "paid_cents",
        pl.when(pl.col("kept_on").is_not_null())
        .then(pl.lit("kept"))
        .when(overdue & (pl.col("paid_cents") > 0))
        .then(pl.lit("partly_kept"))
        .when(overdue)
        .then(pl.lit("broken"))
        .otherwise(pl.lit("open"))
        .alias("status"),
        pl.when(pl.col("kept_on").is_not_null())
        .then(pl.col("kept_on"))
        .when(overdue)
        .then((pl.col("deadline") + pl.duration(days=1)).cast(pl.Date))
        .otherwise(None)
        .alias("resolved_on"),
    ).sort("promise_key")


def credit_payments(payments: pl.DataFrame, ownership: pl.DataFrame) -> pl.DataFrame:
    """Each payment credited to the owner of the account's case on the day it was paid.

    Args:
        payments: ``payment_key, account_key, paid_on, amount_cents``.
        ownership: ``case_key, account_key, owner, owner_kind, owned_from, owned_until``
            (``owned_until`` null while it lasts): who owned which case over which days.

    Returns:
        ``payment_key, case_key, owner, owner_kind, amount_cents, credited_on`` for the
        payments made while a case had an owner; other payments are not credited.
    """
    return (
        payments.join(ownership, on="account_key", how="inner")
        .filter(
            (pl.col("paid_on") >= pl.col("owned_from"))
            & (pl.col("owned_until").is_null() | (pl.col("paid_on") <= pl.col("owned_until")))
        )
        .sort("payment_key", "owned_from", descending=[False, True])
        .unique("payment_key", keep="first", maintain_order=True)
        .select(
            "payment_key",
            "case_key",
            "owner",
            "owner_kind",
            "amount_cents",
            pl.col("paid_on").alias("credited_on"),
        )
    )

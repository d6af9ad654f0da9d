"""Targets (what a model learns to predict) from the history, and out-of-time splits.

Every target is taken at a snapshot day D: the population and the features come from what
was known at the end of D (:mod:`recoup.risk.features`), the outcome from what happened over
a *horizon* after D. The outcome is read as the history knows it on its last day
(``History.until``), so a payment posted late still counts for the outcome. A row is kept
only when its horizon ends on or before ``until``: an account whose horizon is still running
has no outcome yet, and calling it "good" would teach the model that late in the history
nobody goes bad. ``target`` is 1 for the bad outcome, 0 for the good one.

**Early warning** (B-card): of the accounts current at D (DPD 0 in the state now) that have
an installment of a plan started by D falling due in ``(D, D + 31]``, the earliest such due
date T is *the next installment*. Bad when the account is more than ``late_days`` past due
on it: at the end of day ``T + late_days + 1`` (the horizon end) its last bucket move since
D took it out of the current bucket, and the move's DPD dates the oldest unpaid installment
on or before T (``moved_on − dpd <= T``), so the bad outcome is this installment (or an older
shortfall it pushed over the tolerance) and not another plan's installment due after T.
DPD is 1 on the day after T and a payment clears the day it is made, so paid 6 days late
(DPD up to 5) is good and 7 days late bad with the default 5. Moves are used because they
are dated to the day; month-end states are not.

**Collection** (C-card): of the accounts past due at D (DPD above 0 now), good when they
*cure* within ``horizon_days`` (a move back to the current bucket, or a state with DPD 0,
dated in ``(D, D + horizon_days]``), or, when ``pay_share`` is given, when the payments
made in that window (known to the ledger and not reversed by ``until``) reach
``pay_share`` of the overdue amount at D (compared exactly, the share taken to the
millionth). Bad otherwise.

**Promise kept**: of the promises made in the month up to D (``(D − 1 month, D]``) that are
still open at D, bad when broken or partly kept, good when kept. Promises already kept at D
are left out, because their outcome is known at D (the features of D hold the payment that
kept them). The horizon end is the day a broken promise is decided: ``promised_for +
grace_days + 1``. A promise whose horizon has passed but that is still open in the store
(no strategy run has judged it) has no outcome and is left out.

**Snapshots and splits**: models are trained on month-end snapshots whose targets are
complete and whose 12-month feature windows lie inside the history
(:func:`training_snapshots`), and validated *out of time*: the oldest snapshots train, the
next validate, the latest test (:func:`out_of_time_split`). A random split of one period
would let the model learn that period's economy and report it as skill.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from recoup.risk.features import (
    BROKEN_STATUSES,
    KEPT_STATUS,
    History,
    current_standing,
    months_before,
)

#: The next installment is looked for this many days after the snapshot.
NEXT_DUE_DAYS = 31
#: Parts per million: a share as a whole number.
PPM = 1_000_000
#: The features' longest window: a snapshot needs this many months of history before it.
LOOKBACK_MONTHS = 12

TARGET_SCHEMA = {"account_key": pl.Int64(), "target": pl.Int64(), "horizon_end": pl.Date()}


class TargetKind(enum.StrEnum):
    EARLY_WARNING = "early_warning"
    COLLECTION = "collection"
    PROMISE = "promise"


def _empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def _ordinal_of_moves(history: History, column: str) -> pl.Expr:
    return pl.col(column).replace_strict(history.bucket_ordinals(), return_dtype=pl.Int64)


def early_warning_target(history: History, as_of: date, late_days: int = 5) -> pl.DataFrame:
    """``account_key, target, horizon_end`` of the accounts current at ``as_of`` with an
    installment falling due within 31 days; ``target`` 1 when that installment goes more than
    ``late_days`` past due (the module docstring has the rule)."""
    if late_days < 0:
        raise ValueError(f"late_days must be 0 or more, got {late_days}")
    due_date = pl.col("due_date")
    next_due = (
        history.installments.lazy()
        .filter(
            (pl.col("start_date") <= as_of)
            & (due_date > as_of)
            & (due_date <= as_of + timedelta(days=NEXT_DUE_DAYS))
        )
        .group_by("account_key")
        .agg(due_date.min().alias("next_due"))
    )
    population = (
        current_standing(history, as_of)
        .filter(pl.col("dpd_now") == 0)
        .join(next_due, on="account_key", how="inner")
        .select(
            "account_key",
            "next_due",
            (pl.col("next_due") + pl.duration(days=late_days + 1)).alias("horizon_end"),
        )
        .filter(pl.col("horizon_end") <= history.until)
    )
    last_move = (
        history.moves.lazy()
        .filter(pl.col("moved_on") > as_of)
        .join(population, on="account_key", how="inner")
        .filter(pl.col("moved_on") <= pl.col("horizon_end"))
        .group_by("account_key")
        .agg(
            pl.col("to_bucket", "dpd", "moved_on").sort_by("moved_on").last(),
        )
    )
    late = (
        (_ordinal_of_moves(history, "to_bucket") > 0)
        & ((pl.col("moved_on") - pl.duration(days=pl.col("dpd"))) <= pl.col("next_due"))
    ).fill_null(False)
    return (
        population.join(last_move, on="account_key", how="left")
        .select("account_key", late.cast(pl.Int64).alias("target"), "horizon_end")
        .sort("account_key")
        .collect()
    )


def collection_target(
    history: History,
    as_of: date,
    horizon_days: int = 30,
    pay_share: float | None = None,
) -> pl.DataFrame:
    """``account_key, target, horizon_end`` of the accounts past due at ``as_of``;
    ``target`` 0 when they cure within ``horizon_days`` (or pay ``pay_share`` of the overdue
    amount, when given), 1 otherwise. Empty when the horizon ends after ``history.until``."""
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be 1 or more, got {horizon_days}")
    if pay_share is not None and not pay_share > 0:
        raise ValueError(f"pay_share must be above 0, got {pay_share}")
    horizon_end = as_of + timedelta(days=horizon_days)
    if horizon_end > history.until:
        return _empty(TARGET_SCHEMA)
    population = current_standing(history, as_of).filter(pl.col("dpd_now") > 0)
    cured_by_move = (
        history.moves.lazy()
        .filter(
            (pl.col("moved_on") > as_of)
            & (pl.col("moved_on") <= horizon_end)
            & (_ordinal_of_moves(history, "to_bucket") == 0)
        )
        .select("account_key")
    )
    cured_in_state = (
        history.states.lazy()
        .filter((pl.col("as_of") > as_of) & (pl.col("as_of") <= horizon_end) & (pl.col("dpd") == 0))
        .select("account_key")
    )
    cured = (
        pl.concat([cured_by_move, cured_in_state])
        .unique()
        .with_columns(pl.lit(True).alias("cured"))
    )
    paid = (
        history.payments.lazy()
        .filter(
            (pl.col("paid_on") > as_of)
            & (pl.col("paid_on") <= horizon_end)
            & (pl.col("known_on") <= history.until)
            & (pl.col("reversed_on").is_null() | (pl.col("reversed_on") > history.until))
        )
        .group_by("account_key")
        .agg(pl.col("amount_cents").sum().alias("paid_cents"))
    )
    good = pl.col("cured").fill_null(False)
    if pay_share is not None:
        # In whole numbers (the share to the millionth), so that 55% of 1,000.00 is 550.00
        # exactly and not a float a hair above it.
        share_ppm = round(pay_share * PPM)
        paid_enough = pl.col("paid_cents").fill_null(0) * PPM >= pl.col("overdue_now") * share_ppm
        good = good | paid_enough
    return (
        population.join(cured, on="account_key", how="left")
        .join(paid, on="account_key", how="left")
        .select(
            "account_key",
            (~good).cast(pl.Int64).alias("target"),
            pl.lit(horizon_end).alias("horizon_end"),
        )
        .sort("account_key")
        .collect()
    )


def _promise_horizon_end() -> pl.Expr:
    return pl.col("promised_for") + pl.duration(days=pl.col("grace_days") + 1)


def _promises_open_at(history: History, as_of: date) -> pl.LazyFrame:
    """The promises made in ``(as_of − 1 month, as_of]`` and still open at ``as_of``."""
    return history.promises.lazy().filter(
        (pl.col("made_on") > months_before(as_of, 1))
        & (pl.col("made_on") <= as_of)
        & (pl.col("resolved_on").is_null() | (pl.col("resolved_on") > as_of))
    )


def promise_target(history: History, as_of: date) -> pl.DataFrame:
    """``promise_key, account_key, target, horizon_end`` of the promises made in the month
    up to ``as_of``, open at ``as_of`` and resolved by ``history.until``; ``target`` 1 when
    broken or partly kept, 0 when kept."""
    status = pl.col("status")
    return (
        _promises_open_at(history, as_of)
        .with_columns(_promise_horizon_end().alias("horizon_end"))
        .filter(
            (pl.col("horizon_end") <= history.until)
            & pl.col("resolved_on").is_not_null()
            & (pl.col("resolved_on") <= history.until)
            & (status.is_in(BROKEN_STATUSES) | (status == KEPT_STATUS))
        )
        .select(
            "promise_key",
            "account_key",
            status.is_in(BROKEN_STATUSES).cast(pl.Int64).alias("target"),
            "horizon_end",
        )
        .sort("promise_key")
        .collect()
    )


# --------------------------------------------------------------------------- snapshots


def _month_ends(first: date, last: date) -> list[date]:
    """The month ends from ``first``'s month through ``last`` (inclusive)."""
    days: list[date] = []
    index = first.year * 12 + first.month - 1
    while True:
        year, month = divmod(index, 12)
        following = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
        end = following - timedelta(days=1)
        if end > last:
            return days
        days.append(end)
        index += 1


def training_snapshots(
    history: History,
    last_day: date,
    months: int,
    kind: TargetKind | str,
    *,
    late_days: int = 5,
    horizon_days: int = 30,
) -> list[date]:
    """The latest ``months`` month ends (oldest first) whose targets of ``kind`` are complete
    by ``min(last_day, history.until)`` and whose 12-month feature windows lie inside the
    history. Fewer when the history is too short (none: an empty list).

    Complete means: every horizon that can start at the snapshot has ended. For early
    warning that is ``31 + late_days + 1`` days, for collection ``horizon_days``; for
    promises it is read from the data (the latest horizon end of the promises open at the
    snapshot, made in its month).
    """
    kind = TargetKind(kind)  # a plain text names a kind too; an unknown one is refused
    if months < 1:
        raise ValueError(f"months must be 1 or more, got {months}")
    end = min(last_day, history.until)
    earliest = months_before(history.since - timedelta(days=1), -LOOKBACK_MONTHS)
    candidates = _month_ends(earliest, end)
    if kind is TargetKind.PROMISE:
        complete = [day for day in candidates if _promises_complete(history, day, end)]
    else:
        horizon = (
            NEXT_DUE_DAYS + late_days + 1 if kind is TargetKind.EARLY_WARNING else horizon_days
        )
        complete = [day for day in candidates if day + timedelta(days=horizon) <= end]
    return complete[-months:]


def _promises_complete(history: History, day: date, end: date) -> bool:
    latest = _promises_open_at(history, day).select(_promise_horizon_end().max()).collect().item()
    return latest is None or latest <= end


def out_of_time_split(
    snapshots: Sequence[date],
    *,
    validation_share: float = 0.2,
    test_share: float = 0.2,
    gap: int = 0,
) -> tuple[list[date], list[date], list[date]]:
    """``(train, validation, test)`` snapshot days, in time order: the oldest train, the next
    validate, the latest test (each share of the days, at least one day each).

    ``gap`` leaves that many snapshots out before the validation and before the test days:
    a snapshot's target looks up to a horizon ahead, so the last training day's outcome may
    be observed after the first validation day; a gap of one month end keeps them apart.
    """
    days = sorted(set(snapshots))
    if gap < 0:
        raise ValueError(f"gap must be 0 or more, got {gap}")
    for name, share in (("validation_share", validation_share), ("test_share", test_share)):
        if not 0 < share < 1:
            raise ValueError(f"{name} must be between 0 and 1, got {share}")
    test_count = max(1, round(len(days) * test_share))
    validation_count = max(1, round(len(days) * validation_share))
    train_count = len(days) - test_count - validation_count - 2 * gap
    if train_count < 1:
        raise ValueError(
            f"{len(days)} snapshot day(s) cannot make training, validation and test sets "
            f"with a gap of {gap}: at least {3 + 2 * gap} are needed"
        )
    train = days[:train_count]
    validation_from = train_count + gap
    validation = days[validation_from : validation_from + validation_count]
    test = days[validation_from + validation_count + gap :]
    return train, validation, test

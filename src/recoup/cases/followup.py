"""Follow-up: promises to pay checked against payments, and payments credited to owners.

A promise to pay (承诺还款) is one or more installments, each an amount by a date (at most
MAX_INSTALLMENTS, dates strictly increasing, none before the promise was made). It is judged
on the payments the account made from the day the promise was made. They count towards the
installments in date order and cumulatively: a payment beyond one installment counts
towards the next. Installment *n*'s *deadline* is its date plus the promise's grace days:

- it is *kept* once the payments reach the amounts of installments 1..n (on the day they
  reach them), if that happens by its deadline;
- after its deadline, it is *partly_kept* when the payments by then went beyond installments
  1..n-1 but did not reach 1..n, *broken* when they did not go beyond 1..n-1; either is
  decided on the day after the deadline, whatever day the run happens, so a late run reaches
  the same outcome.

The promise as a whole is *broken* as soon as one installment is broken (on that day; the
later installments are then *cancelled*, not judged), *kept* when every installment is kept
(on the day the last one is), *partly_kept* otherwise once every installment is judged (on
the day the last one is). A promise of one installment is the amount by ``promised_for``.

A payment is credited to whoever owned the account's case on the day it was paid (a
collector or an agency), which is what commissions and collector league tables count. Who
owned it is read from the case's ownership decisions (``allocations``): the nightly
allocation's and a team lead's reassignments alike. A decision holds from its day on; of a
case's decisions of one day, the last one made stands (:func:`owners_by_day`), so a payment
made on the day a lead moved the case goes to the new owner.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from recoup.money import format_cents

PROMISE_OUTCOMES = ("kept", "partly_kept", "broken")

#: An installment's statuses: open, an outcome, or cancelled (a former installment broke).
INSTALLMENT_STATUSES = ("open", *PROMISE_OUTCOMES, "cancelled")

#: The most installments one promise may have.
MAX_INSTALLMENTS = 12

#: The columns of a promise's installments as :func:`follow_up_installments` takes them.
INSTALLMENT_SCHEMA: dict[str, type[pl.DataType]] = {
    "promise_key": pl.Int64,
    "number": pl.Int64,
    "due_on": pl.Date,
    "amount_cents": pl.Int64,
}


class PromiseChannel(enum.StrEnum):
    """How the promise was taken."""

    CALL = "call"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    VISIT = "visit"
    APP = "app"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PromiseInstallment:
    """One amount promised by one date."""

    due_on: date
    amount_cents: int


def promise_installments(
    made_on: date, installments: Sequence[tuple[date, int]]
) -> tuple[PromiseInstallment, ...]:
    """The installments of a promise made on ``made_on``, checked.

    Args:
        made_on: the day the promise was made.
        installments: ``(due_on, amount_cents)`` pairs in the order they are due.

    Returns:
        The installments, numbered by their position (1, 2, ...).

    Raises:
        ValueError: naming the problem: no installment, more than MAX_INSTALLMENTS, an amount
            that is not positive, a date before ``made_on``, dates not strictly increasing.
    """
    if not installments:
        raise ValueError("a promise needs at least one installment")
    if len(installments) > MAX_INSTALLMENTS:
        raise ValueError(
            f"a promise has at most {MAX_INSTALLMENTS} installments, not {len(installments)}"
        )
    checked: list[PromiseInstallment] = []
    several = len(installments) > 1
    for number, (due_on, amount_cents) in enumerate(installments, start=1):
        where = f"installment {number}: " if several else ""
        if amount_cents <= 0:
            raise ValueError(
                f"{where}a promise's amount must be positive, not {format_cents(amount_cents)}"
                if several
                else "a promise's amount must be positive"
            )
        if due_on < made_on:
            raise ValueError(f"{where}a promise for {due_on} is before it was made ({made_on})")
        if checked and due_on <= checked[-1].due_on:
            raise ValueError(
                f"{where}{due_on} is not after installment {number - 1} ({checked[-1].due_on}): "
                "the installments' dates must be strictly increasing"
            )
        checked.append(PromiseInstallment(due_on, amount_cents))
    return tuple(checked)


@dataclass(frozen=True, slots=True)
class PromiseStanding:
    """The promises' and their installments' standing on a day.

    ``promises``: ``promise_key, paid_cents, status, resolved_on``.
    ``installments``: ``promise_key, number, due_on, amount_cents, paid_cents, status,
    resolved_on``.
    """

    promises: pl.DataFrame
    installments: pl.DataFrame


def follow_up_promises(promises: pl.DataFrame, payments: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The open promises' standing on ``as_of``, each promise one installment of its
    ``amount_cents`` by its ``promised_for`` (see :func:`follow_up_installments`).

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
    return follow_up_installments(promises, None, payments, as_of).promises


def follow_up_installments(
    promises: pl.DataFrame,
    installments: pl.DataFrame | None,
    payments: pl.DataFrame,
    as_of: date,
) -> PromiseStanding:
    """The open promises' and their installments' standing on ``as_of``.

    Args:
        promises: ``promise_key, account_key, made_on, promised_for, amount_cents,
            grace_days`` of the promises still open.
        installments: ``promise_key, number, due_on, amount_cents`` of their installments;
            a promise without any (or ``None``: all of them) is one installment of its
            ``amount_cents`` by its ``promised_for``.
        payments: ``account_key, paid_on, amount_cents`` of the payments that count (net of
            reversals), any dates; those outside a promise's days are ignored.
        as_of: the day of the run; payments after it are ignored.

    Returns:
        The promises (``paid_cents``: paid from the day it was made through the deadline
        that decided it, or so far) and the installments (``paid_cents``: paid towards the
        installment by its deadline, or so far, at most its amount), each with its
        ``status`` and ``resolved_on`` (null while open), sorted by their keys.
    """
    given = pl.DataFrame(schema=INSTALLMENT_SCHEMA) if installments is None else installments
    given = given.select(pl.col(name).cast(dtype) for name, dtype in INSTALLMENT_SCHEMA.items())
    implicit = promises.join(given, on="promise_key", how="anti").select(
        pl.col("promise_key").cast(pl.Int64),
        pl.lit(1, pl.Int64).alias("number"),
        pl.col("promised_for").cast(pl.Date).alias("due_on"),
        pl.col("amount_cents").cast(pl.Int64),
    )
    parts = (
        pl.concat([given, implicit])
        .join(
            promises.select(
                pl.col("promise_key").cast(pl.Int64),
                pl.col("grace_days").cast(pl.Int64),
            ),
            on="promise_key",
            how="inner",
        )
        .sort("promise_key", "number")
        .with_columns(
            pl.col("amount_cents").cum_sum().over("promise_key").alias("due_through"),
            (pl.col("due_on") + pl.duration(days=pl.col("grace_days")))
            .cast(pl.Date)
            .alias("deadline"),
        )
        .with_columns((pl.col("due_through") - pl.col("amount_cents")).alias("due_before"))
    )

    # Each promise's payments, one row a day, with the running total from the day it was
    # made through its last deadline (and ``as_of``).
    windows = promises.select(
        pl.col("promise_key").cast(pl.Int64), "account_key", pl.col("made_on").cast(pl.Date)
    ).join(
        parts.group_by("promise_key").agg(pl.col("deadline").max().alias("last_deadline")),
        on="promise_key",
    )
    running = (
        windows.join(
            payments.filter(pl.col("paid_on") <= as_of).select(
                "account_key", "paid_on", pl.col("amount_cents").alias("paid")
            ),
            on="account_key",
            how="inner",
        )
        .filter(
            (pl.col("paid_on") >= pl.col("made_on"))
            & (pl.col("paid_on") <= pl.col("last_deadline"))
        )
        .group_by("promise_key", "paid_on")
        .agg(pl.col("paid").sum())
        .sort("promise_key", "paid_on")
        .select(
            "promise_key",
            "paid_on",
            pl.col("paid").cum_sum().over("promise_key").alias("running"),
        )
    )

    # Each installment against the running totals up to its deadline.
    by_deadline = (
        parts.select("promise_key", "number", "deadline", "due_through")
        .join(running, on="promise_key", how="inner")
        .filter(pl.col("paid_on") <= pl.col("deadline"))
    )
    reached = (
        by_deadline.filter(pl.col("running") >= pl.col("due_through"))
        .group_by("promise_key", "number")
        .agg(pl.col("paid_on").min().alias("kept_on"))
    )
    paid_by = by_deadline.group_by("promise_key", "number").agg(
        pl.col("running").sort_by("paid_on").last().alias("paid_by")
    )
    overdue = pl.col("deadline") < as_of
    judged = (
        parts.join(paid_by, on=["promise_key", "number"], how="left")
        .join(reached, on=["promise_key", "number"], how="left")
        .with_columns(pl.col("paid_by").fill_null(0))
        .with_columns(
            pl.when(pl.col("kept_on").is_not_null())
            .then(pl.lit("kept"))
            .when(overdue & (pl.col("paid_by") > pl.col("due_before")))
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
        )
    )
    # The first broken installment breaks the promise; the later ones are not judged.
    first_broken = (
        judged.filter(pl.col("status") == "broken")
        .group_by("promise_key")
        .agg(
            pl.col("number").min().alias("broken_number"),
            pl.col("resolved_on").min().alias("broken_on"),
        )
    )
    judged = judged.join(first_broken, on="promise_key", how="left")
    cancelled = pl.col("broken_number").is_not_null() & (pl.col("number") > pl.col("broken_number"))
    # Paid towards an installment: beyond the installments before it, at most its amount.
    towards = (pl.col("paid_by") - pl.col("due_before")).clip(0, pl.col("amount_cents"))
    judged = judged.with_columns(
        pl.when(cancelled).then(pl.lit("cancelled")).otherwise(pl.col("status")).alias("status"),
        pl.when(cancelled).then(pl.lit(0, pl.Int64)).otherwise(towards).alias("paid_cents"),
        pl.when(cancelled)
        .then(pl.col("broken_on"))
        .otherwise(pl.col("resolved_on"))
        .alias("resolved_on"),
    )

    # The promise: decided by its first broken installment, else by its last one.
    status = pl.col("status")
    whole = (
        judged.group_by("promise_key")
        .agg(
            pl.col("broken_number").first(),
            pl.col("broken_on").first(),
            pl.col("number").max().alias("last_number"),
            (status == "open").any().alias("any_open"),
            (status == "kept").all().alias("all_kept"),
            pl.col("resolved_on").max().alias("last_resolved_on"),
        )
        .with_columns(
            pl.coalesce("broken_number", "last_number").alias("number"),
        )
        .join(judged.select("promise_key", "number", "paid_by"), on=["promise_key", "number"])
    )
    promise_standing = whole.select(
        "promise_key",
        pl.col("paid_by").alias("paid_cents"),
        pl.when(pl.col("broken_number").is_not_null())
        .then(pl.lit("broken"))
        .when(pl.col("any_open"))
        .then(pl.lit("open"))
        .when(pl.col("all_kept"))
        .then(pl.lit("kept"))
        .otherwise(pl.lit("partly_kept"))
        .alias("status"),
        pl.when(pl.col("broken_number").is_not_null())
        .then(pl.col("broken_on"))
        .when(pl.col("any_open"))
        .then(None)
        .otherwise(pl.col("last_resolved_on"))
        .alias("resolved_on"),
    ).sort("promise_key")
    installment_standing = judged.select(
        "promise_key",
        "number",
        "due_on",
        "amount_cents",
        "paid_cents",
        "status",
        "resolved_on",
    ).sort("promise_key", "number")
    return PromiseStanding(promise_standing, installment_standing)


def owners_by_day(decisions: pl.DataFrame) -> pl.DataFrame:
    """A case's owner from each day it has ownership decisions on: the day's last decision.

    Args:
        decisions: ``case_key, as_of, seq`` and any other columns (``owner, owner_kind`` ...):
            the ownership decisions, the nightly allocation's and a team lead's, in any
            order. ``seq`` orders one case's decisions of one day (a lead's, made during the
            day, before the nightly run's, made after its close).

    Returns:
        The same columns, one row per ``case_key, as_of`` (the highest ``seq``), sorted by
        ``case_key, as_of``. A null owner (a recall, or no owner found) stays: it ends the
        holding before it.
    """
    return decisions.sort("case_key", "as_of", "seq").unique(
        ["case_key", "as_of"], keep="last", maintain_order=True
    )


def ownership_spans(decisions: pl.DataFrame) -> pl.DataFrame:
    """Who owned which case over which days, from its ownership decisions.

    Args:
        decisions: ``case_key, account_key, owner, owner_kind, as_of, seq`` (see
            :func:`owners_by_day`).

    Returns:
        ``case_key, account_key, owner, owner_kind, owned_from, owned_until`` (``owned_until``
        null while it lasts; the day before the case's next decision day otherwise), one row
        per day that gave the case an owner: the ``ownership`` of :func:`credit_payments`.
    """
    return (
        owners_by_day(decisions)
        .with_columns(
            (pl.col("as_of").shift(-1).over("case_key") - pl.duration(days=1))
            .cast(pl.Date)
            .alias("owned_until")
        )
        .filter(pl.col("owner").is_not_null())
        .select(
            "case_key",
            "account_key",
            "owner",
            "owner_kind",
            pl.col("as_of").alias("owned_from"),
            "owned_until",
        )
    )


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

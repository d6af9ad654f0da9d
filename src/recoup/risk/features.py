"""Point-in-time features of each account, for the behaviour and collection scores.

A feature *as of day D* uses only what the platform knew at the end of D, so that a model
trained on past snapshots sees exactly what it will see when it scores today; a feature that
peeks past D (a payment posted late, a promise's final outcome) makes a model look better in
training than it can ever be in use. The rules, frame by frame (:class:`History`):

- **States** (``account_states``): rows with ``as_of <= D``. The state *now* is the latest
  one on or before D (every account has one at each month end and at the last closed day, so
  snapshots are taken on those days). The worst-in-N-months windows read the *month-end*
  states in ``(D − N months, D]``, plus the state now. An account with no state yet (no close
  has reached it) counts as current with nothing owed, as the ledger rules say of an account
  before its first plan starts. (The close rewrites an account's state history when a
  backdated payment arrives, so a state may hold a payment known only later; the store keeps
  no earlier version to go back to.)
- **Payments** count at D when made by D (``paid_on <= D``), known to the ledger by D
  (``known_on <= D``) and not reversed by D (``reversed_on`` null or after D). ``known_on``
  is the business day from which the ledger held the payment: its own date when it was in
  before its day was closed, and for one posted late (backdated) the first day of the close
  that took it in; ``reversed_on`` is likewise the day the reversal was known. Business days
  and not the import's clock time, because the payments of D normally arrive the next
  morning, before D is closed, and a history loaded in one go (a migration, the simulator)
  was known to the ledger day by day as it was closed.
- **Installments** are known from their plan's start (a schedule is a contract): those of
  plans started on or before D, whatever their due date. Only the scheduled amounts are used
  (principal + fee); the store's *paid* columns are today's values and would leak the future.
- **Bucket moves** dated on or before D. **Promises** made on or before D; one resolved after
  D (or not yet) is *open* at D, whatever its status today. **Contact attempts** made before
  the end of D (UTC).

Windows: "N months" is ``(D − N months, D]`` where D − N months keeps the day of the month
(clamped to the month's length), or is the month end when D is a month end, so that three
months back from a month end hold exactly three month ends. "30 days" is ``(D − 30, D]``.

The history starts at its ``since`` day: a window reaching before it sees less (a payment
made before ``since`` is not there for ``days_since_payment``), so snapshots are taken at
least 12 months after ``since`` (:func:`recoup.risk.targets.training_snapshots`).

Everything is vectorised: one filtered group-by per frame, joined on ``account_key`` in one
lazy plan; nothing loops over accounts.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from recoup.compliance.policy import Channel, Outcome, Party
from recoup.products.spec import DEFAULT_BUCKETS, Bucket

ACCOUNT_SCHEMA: Mapping[str, pl.DataType] = {"account_key": pl.Int64(), "opened_on": pl.Date()}
STATE_SCHEMA: Mapping[str, pl.DataType] = {
    "account_key": pl.Int64(),
    "as_of": pl.Date(),
    "dpd": pl.Int64(),
    "bucket": pl.String(),
    "overdue_cents": pl.Int64(),  # principal + fee + late fee + penalty overdue
    "outstanding_principal_cents": pl.Int64(),
}
PAYMENT_SCHEMA: Mapping[str, pl.DataType] = {
    "account_key": pl.Int64(),
    "amount_cents": pl.Int64(),
    "paid_on": pl.Date(),
    "reversed_on": pl.Date(),  # the day the reversal was known; null if never reversed
    "known_on": pl.Date(),  # the first day the ledger held the payment
}
INSTALLMENT_SCHEMA: Mapping[str, pl.DataType] = {
    "account_key": pl.Int64(),
    "plan_key": pl.Int64(),
    "start_date": pl.Date(),  # the plan's start: the day its schedule became known
    "due_date": pl.Date(),
    "principal_cents": pl.Int64(),
    "fee_cents": pl.Int64(),
}
MOVE_SCHEMA: Mapping[str, pl.DataType] = {
    "account_key": pl.Int64(),
    "moved_on": pl.Date(),
    "from_bucket": pl.String(),
    "to_bucket": pl.String(),
    "dpd": pl.Int64(),  # DPD at the end of the day of the move
}
PROMISE_SCHEMA: Mapping[str, pl.DataType] = {
    "promise_key": pl.Int64(),
    "account_key": pl.Int64(),
    "made_on": pl.Date(),
    "promised_for": pl.Date(),
    "grace_days": pl.Int64(),
    "amount_cents": pl.Int64(),
    "status": pl.String(),  # open | kept | partly_kept | broken (today's value)
    "resolved_on": pl.Date(),
}
ATTEMPT_SCHEMA: Mapping[str, pl.DataType] = {
    "account_key": pl.Int64(),
    "at": pl.Datetime("us", "UTC"),
    "channel": pl.String(),
    "party": pl.String(),
    "outcome": pl.String(),
}

#: The frames of a :class:`History` and the columns (with dtypes) each must have.
SCHEMAS: Mapping[str, Mapping[str, pl.DataType]] = {
    "accounts": ACCOUNT_SCHEMA,
    "states": STATE_SCHEMA,
    "payments": PAYMENT_SCHEMA,
    "installments": INSTALLMENT_SCHEMA,
    "moves": MOVE_SCHEMA,
    "promises": PROMISE_SCHEMA,
    "attempts": ATTEMPT_SCHEMA,
}

#: Promise statuses that count as broken: a promise paid in part was still not kept.
BROKEN_STATUSES = ("broken", "partly_kept")
KEPT_STATUS = "kept"
#: Outcomes that are a conversation with the borrower (right-party contact), as the contact
#: service counts them (``recoup.contact.outcomes.CONVERSATIONS``).
RPC_OUTCOMES = tuple(
    o.value
    for o in (Outcome.RIGHT_PARTY_CONTACT, Outcome.PROMISE_TO_PAY, Outcome.REFUSAL, Outcome.DISPUTE)
)

#: ``days_since_*`` when there never was one in the history: far beyond any window, so a
#: binned or tree model puts "never" next to "long ago", where it belongs.
NEVER_DAYS = 9999
#: The payment ratio's ceiling: paying arrears as well as the dues gives a ratio above 1, and
#: a payoff would give an unbounded one that says nothing more.
PAYMENT_RATIO_CAP = 2.0

#: The features, in output order, with what each means (money in cents, days as counts).
FEATURES: Mapping[str, str] = {
    "dpd_now": "days past due in the latest state on or before D",
    "bucket_now": "ordinal of the bucket now (0 = current, 1 = M1, ...)",
    "overdue_now": "overdue amount now, all components (cents)",
    "balance_now": "outstanding principal now (cents)",
    "utilisation": "outstanding principal / principal of every plan started by D (no credit "
    "limit is stored, so the principal lent stands in for it); null when nothing was lent",
    "dpd_worst_3m": "worst DPD at the month ends of the last 3 months and now",
    "dpd_worst_6m": "worst DPD at the month ends of the last 6 months and now",
    "dpd_worst_12m": "worst DPD at the month ends of the last 12 months and now",
    "months_delinquent_12m": "month ends of the last 12 months with DPD above 0",
    "payment_ratio_3m": "payments of the last 3 months / principal + fee falling due in them, "
    f"capped at {PAYMENT_RATIO_CAP}; null when nothing fell due",
    "days_since_payment": f"days since the last payment that counts ({NEVER_DAYS} if none)",
    "paid_last_30d": "payments of the last 30 days (cents)",
    "due_next_30d": "principal + fee falling due in the next 30 days (cents)",
    "months_on_book": "whole months since the account was opened",
    "plans_started_12m": "plans started in the last 12 months (new borrowing)",
    "promises_made_12m": "promises to pay made in the last 12 months",
    "promises_kept_12m": "promises resolved as kept in the last 12 months",
    "promises_broken_12m": "promises resolved as broken or partly kept in the last 12 months",
    "promises_open_now": "promises made by D and not resolved by D",
    "attempts_30d": "contact attempts of the last 30 days, any channel",
    "rpc_rate_30d": "right-party conversations with the borrower / call attempts, last 30 "
    "days; null when no call was made",
    "days_since_rpc": f"days since the last conversation with the borrower ({NEVER_DAYS} if none)",
    "moves_worse_12m": "bucket moves to a worse bucket in the last 12 months",
    "moves_better_12m": "bucket moves to a better bucket in the last 12 months",
}


def empty_frame(name: str) -> pl.DataFrame:
    """An empty frame of the History frame ``name`` (``"payments"``, ...)."""
    return pl.DataFrame(schema=dict(SCHEMAS[name]))


@dataclass(frozen=True, slots=True, eq=False)
class History:
    """What the platform knew, from ``since`` through ``until``, in the frames of SCHEMAS.

    ``until`` is the last day the history is complete for (a closed day): targets use only
    horizons ending on or before it. Frames may carry more columns than their schema names;
    ``buckets`` is the bucket table in force, best first (its order gives the ordinals).
    """

    since: date
    until: date
    accounts: pl.DataFrame
    states: pl.DataFrame
    payments: pl.DataFrame
    installments: pl.DataFrame
    moves: pl.DataFrame
    promises: pl.DataFrame
    attempts: pl.DataFrame
    buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise ValueError(f"history until {self.until} is before its since {self.since}")
        if not self.buckets:
            raise ValueError("history needs at least one bucket")
        for name, schema in SCHEMAS.items():
            frame: pl.DataFrame = getattr(self, name)
            for column, dtype in schema.items():
                if column not in frame.columns:
                    raise ValueError(f"history {name}: missing column {column}")
                if frame.schema[column] != dtype:
                    raise ValueError(
                        f"history {name}.{column}: expected {dtype}, got {frame.schema[column]}"
                    )

    @classmethod
    def of(
        cls,
        since: date,
        until: date,
        buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS,
        **frames: pl.DataFrame,
    ) -> History:
        """A history of the given frames; those not given are empty."""
        unknown = set(frames) - set(SCHEMAS)
        if unknown:
            raise ValueError(f"history has no frame(s) {', '.join(sorted(unknown))}")
        filled = {name: frames.get(name, empty_frame(name)) for name in SCHEMAS}
        return cls(since=since, until=until, buckets=buckets, **filled)

    def bucket_ordinals(self) -> dict[str, int]:
        """Each bucket's ordinal: 0 for the first (current), 1 for the next, ..."""
        return {bucket.name: ordinal for ordinal, bucket in enumerate(self.buckets)}


# --------------------------------------------------------------------------- dates


def is_month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def months_before(day: date, months: int) -> date:
    """``day`` moved back ``months`` months: the same day of the month (clamped to the
    month's length), or the month end when ``day`` is a month end."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, last if is_month_end(day) else min(day.day, last))


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` (midnight UTC): "by the end of D" means before it."""
    return datetime.combine(day + timedelta(days=1), time(), UTC)


# --------------------------------------------------------------------------- rules shared


def known_payments(payments: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """The payments that count at the end of ``as_of``: made by then, known to the ledger by
    then and not reversed by then."""
    return payments.filter(
        (pl.col("paid_on") <= as_of)
        & (pl.col("known_on") <= as_of)
        & (pl.col("reversed_on").is_null() | (pl.col("reversed_on") > as_of))
    )


def accounts_on_book(
    history: History, as_of: date, accounts: pl.Series | Sequence[int] | None = None
) -> pl.LazyFrame:
    """``account_key, opened_on`` of the accounts opened on or before ``as_of`` (of
    ``accounts`` when given)."""
    frame = history.accounts.lazy().filter(pl.col("opened_on") <= as_of)
    if accounts is not None:
        keys = accounts if isinstance(accounts, pl.Series) else pl.Series(list(accounts))
        frame = frame.filter(pl.col("account_key").is_in(keys.cast(pl.Int64).implode()))
    return frame.select("account_key", "opened_on")


def states_now(history: History, as_of: date) -> pl.LazyFrame:
    """The latest state on or before ``as_of`` of each account that has one:
    ``account_key, dpd, bucket, overdue_cents, outstanding_principal_cents``."""
    # sort_by(...).last() per group: several times faster than get(arg_max()) in Polars.
    return (
        history.states.lazy()
        .filter(pl.col("as_of") <= as_of)
        .group_by("account_key")
        .agg(
            pl.col("dpd", "bucket", "overdue_cents", "outstanding_principal_cents")
            .sort_by("as_of")
            .last()
        )
    )


def current_standing(
    history: History, as_of: date, accounts: pl.Series | Sequence[int] | None = None
) -> pl.LazyFrame:
    """Every account on book at ``as_of`` with its state now, an account without a state
    counting as current with nothing owed: ``account_key, opened_on, dpd_now, bucket_now,
    overdue_now, balance_now``."""
    first = history.buckets[0].name
    return (
        accounts_on_book(history, as_of, accounts)
        .join(states_now(history, as_of), on="account_key", how="left")
        .select(
            "account_key",
            "opened_on",
            pl.col("dpd").fill_null(0).alias("dpd_now"),
            pl.col("bucket")
            .fill_null(first)
            .replace_strict(history.bucket_ordinals(), return_dtype=pl.Int64)
            .alias("bucket_now"),
            pl.col("overdue_cents").fill_null(0).alias("overdue_now"),
            pl.col("outstanding_principal_cents").fill_null(0).alias("balance_now"),
        )
    )


# --------------------------------------------------------------------------- features


def features_as_of(
    history: History, as_of: date, accounts: pl.Series | Sequence[int] | None = None
) -> pl.DataFrame:
    """One row per account opened on or before ``as_of`` (of ``accounts`` when given):
    ``account_key`` and every feature of FEATURES, in that order, sorted by account.

    Uses only what was known at the end of ``as_of`` (the module docstring has the rules);
    ``history`` may hold later rows, which are ignored.
    """
    b3, b6, b12 = (months_before(as_of, n) for n in (3, 6, 12))
    d30 = as_of - timedelta(days=30)
    base = current_standing(history, as_of, accounts)

    # The day after a month end is the 1st: far cheaper than computing each month's end.
    month_end = (pl.col("as_of") + timedelta(days=1)).dt.day() == 1
    dpd = pl.col("dpd")
    windows = (
        history.states.lazy()
        .filter((pl.col("as_of") > b12) & (pl.col("as_of") <= as_of) & month_end)
        .group_by("account_key")
        .agg(
            pl.when(pl.col("as_of") > b3).then(dpd).max().alias("_worst_3m"),
            pl.when(pl.col("as_of") > b6).then(dpd).max().alias("_worst_6m"),
            dpd.max().alias("_worst_12m"),
            (dpd > 0).sum().cast(pl.Int64).alias("months_delinquent_12m"),
        )
    )

    amount = pl.col("amount_cents")
    paid = (
        known_payments(history.payments.lazy(), as_of)
        .group_by("account_key")
        .agg(
            pl.col("paid_on").max().alias("_last_paid_on"),
            amount.filter(pl.col("paid_on") > d30).sum().alias("paid_last_30d"),
            amount.filter(pl.col("paid_on") > b3).sum().alias("_paid_3m"),
        )
    )

    due = pl.col("principal_cents") + pl.col("fee_cents")
    due_date = pl.col("due_date")
    schedule = (
        history.installments.lazy()
        .filter(pl.col("start_date") <= as_of)
        .group_by("account_key")
        .agg(
            due.filter((due_date > b3) & (due_date <= as_of)).sum().alias("_due_3m"),
            due.filter((due_date > as_of) & (due_date <= as_of + timedelta(days=30)))
            .sum()
            .alias("due_next_30d"),
            pl.col("principal_cents").sum().alias("_lent"),
        )
    )
    # A distinct count inside the aggregation above costs more than this separate pass.
    new_plans = (
        history.installments.lazy()
        .filter((pl.col("start_date") > b12) & (pl.col("start_date") <= as_of))
        .select("account_key", "plan_key")
        .unique()
        .group_by("account_key")
        .agg(pl.len().cast(pl.Int64).alias("plans_started_12m"))
    )

    ordinals = history.bucket_ordinals()
    moved = (
        history.moves.lazy()
        .filter((pl.col("moved_on") > b12) & (pl.col("moved_on") <= as_of))
        .select(
            "account_key",
            pl.col("from_bucket").replace_strict(ordinals, return_dtype=pl.Int64).alias("f"),
            pl.col("to_bucket").replace_strict(ordinals, return_dtype=pl.Int64).alias("t"),
        )
        .group_by("account_key")
        .agg(
            (pl.col("t") > pl.col("f")).sum().cast(pl.Int64).alias("moves_worse_12m"),
            (pl.col("t") < pl.col("f")).sum().cast(pl.Int64).alias("moves_better_12m"),
        )
    )

    resolved = pl.col("resolved_on").is_not_null() & (pl.col("resolved_on") <= as_of)
    resolved_12m = resolved & (pl.col("resolved_on") > b12)
    promised = (
        history.promises.lazy()
        .filter(pl.col("made_on") <= as_of)
        .group_by("account_key")
        .agg(
            (pl.col("made_on") > b12).sum().cast(pl.Int64).alias("promises_made_12m"),
            (resolved_12m & (pl.col("status") == KEPT_STATUS))
            .sum()
            .cast(pl.Int64)
            .alias("promises_kept_12m"),
            (resolved_12m & pl.col("status").is_in(BROKEN_STATUSES))
            .sum()
            .cast(pl.Int64)
            .alias("promises_broken_12m"),
            (~resolved).sum().cast(pl.Int64).alias("promises_open_now"),
        )
    )

    at = pl.col("at")
    in_30d = at >= datetime.combine(as_of - timedelta(days=29), time(), UTC)
    call = pl.col("channel") == Channel.CALL.value
    rpc = pl.col("outcome").is_in(RPC_OUTCOMES) & (pl.col("party") == Party.SELF.value)
    contacted = (
        history.attempts.lazy()
        .filter(at < end_of_day(as_of))
        .group_by("account_key")
        .agg(
            in_30d.sum().cast(pl.Int64).alias("attempts_30d"),
            (in_30d & call).sum().cast(pl.Int64).alias("_calls_30d"),
            (in_30d & call & rpc).sum().cast(pl.Int64).alias("_rpc_calls_30d"),
            at.filter(rpc).max().alias("_last_rpc_at"),
        )
    )

    rows = base
    for part in (windows, paid, schedule, new_plans, moved, promised, contacted):
        rows = rows.join(part, on="account_key", how="left")

    zero = pl.lit(0, dtype=pl.Int64)
    dpd_now = pl.col("dpd_now")
    mob = (
        pl.lit(as_of.year * 12 + as_of.month)
        - (pl.col("opened_on").dt.year().cast(pl.Int64) * 12 + pl.col("opened_on").dt.month())
        - ((pl.col("opened_on").dt.day() > as_of.day) & pl.lit(not is_month_end(as_of))).cast(
            pl.Int64
        )
    )
    features = {
        "dpd_now": dpd_now,
        "bucket_now": pl.col("bucket_now"),
        "overdue_now": pl.col("overdue_now"),
        "balance_now": pl.col("balance_now"),
        "utilisation": pl.when(pl.col("_lent") > 0).then(pl.col("balance_now") / pl.col("_lent")),
        "dpd_worst_3m": pl.max_horizontal(dpd_now, "_worst_3m"),
        "dpd_worst_6m": pl.max_horizontal(dpd_now, "_worst_6m"),
        "dpd_worst_12m": pl.max_horizontal(dpd_now, "_worst_12m"),
        "months_delinquent_12m": pl.col("months_delinquent_12m").fill_null(zero),
        "payment_ratio_3m": pl.when(pl.col("_due_3m") > 0).then(
            (pl.col("_paid_3m").fill_null(zero) / pl.col("_due_3m")).clip(
                upper_bound=PAYMENT_RATIO_CAP
            )
        ),
        "days_since_payment": (pl.lit(as_of) - pl.col("_last_paid_on"))
        .dt.total_days()
        .fill_null(NEVER_DAYS),
        "paid_last_30d": pl.col("paid_last_30d").fill_null(zero),
        "due_next_30d": pl.col("due_next_30d").fill_null(zero),
        "months_on_book": mob.cast(pl.Int64),
        "plans_started_12m": pl.col("plans_started_12m").fill_null(zero),
        "promises_made_12m": pl.col("promises_made_12m").fill_null(zero),
        "promises_kept_12m": pl.col("promises_kept_12m").fill_null(zero),
        "promises_broken_12m": pl.col("promises_broken_12m").fill_null(zero),
        "promises_open_now": pl.col("promises_open_now").fill_null(zero),
        "attempts_30d": pl.col("attempts_30d").fill_null(zero),
        "rpc_rate_30d": pl.when(pl.col("_calls_30d") > 0).then(
            pl.col("_rpc_calls_30d") / pl.col("_calls_30d")
        ),
        "days_since_rpc": (pl.lit(as_of) - pl.col("_last_rpc_at").dt.date())
        .dt.total_days()
        .fill_null(NEVER_DAYS),
        "moves_worse_12m": pl.col("moves_worse_12m").fill_null(zero),
        "moves_better_12m": pl.col("moves_better_12m").fill_null(zero),
    }
    return (
        rows.select(
            "account_key",
            *(
                features[name].cast(pl.Float64 if name in _RATIOS else pl.Int64).alias(name)
                for name in FEATURES
            ),
        )
        .sort("account_key")
        .collect()
    )


_RATIOS = frozenset({"utilisation", "payment_ratio_3m", "rpc_rate_30d"})

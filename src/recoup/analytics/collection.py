"""Collection measures: roll-rate matrices, flow rates, cures, vintages, promises, contact, blocks.

Every function takes Polars frames and returns a frame; none reads a database or a clock, so
the same numbers come out of a test, a report and a notebook. The definitions:

- *Balance* of an account at a month end: its outstanding principal plus the overdue fee,
  late fee and penalty. Outstanding principal already holds the overdue principal, so adding
  ``overdue_principal_cents`` again would count it twice.
- *Roll-rate matrix* (迁徙矩阵): of the accounts (or balance) in bucket B at one day, the share
  in each bucket at a later day; an account with no state at the later day is "(closed)".
- *Flow rate* (roll-forward rate): of the balance in bucket k at one month end, the share in
  bucket k+1 at the next month end.
- *Cure rate*: of the accounts in bucket B at one day, the share in the first bucket (current)
  at a later day.
- *Vintage curve*: per origination month and months on book, the share of the vintage's
  accounts whose DPD is above a threshold at that month end (the state then, not ever-bad).
- *Promise kept rate*: kept promises over judged ones (kept, partly kept, broken); open
  promises are not judged yet.
- *Contact rates*: per channel and local hour, right-party contacts and promises per attempt.
- *Blocks by rule*: the compliance gate's refusals counted per rule.

A rate whose base is empty is null (no accounts, no rate), except in the roll-rate matrix,
whose empty rows are all zeros so that the matrix stays a table of numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import pairwise
from typing import Literal

import polars as pl

from recoup.compliance import Outcome

#: The column of the roll-rate matrix for accounts with no state at the later day.
CLOSED = "(closed)"

#: Outcomes that are a conversation with the borrower (right-party contact).
RIGHT_PARTY_OUTCOMES: tuple[str, ...] = (
    Outcome.RIGHT_PARTY_CONTACT.value,
    Outcome.PROMISE_TO_PAY.value,
    Outcome.REFUSAL.value,
    Outcome.DISPUTE.value,
)

#: Promise statuses that are a judgement (an open promise is still waiting for its date).
JUDGED_STATUSES: tuple[str, ...] = ("kept", "partly_kept", "broken")

_VIOLATIONS = pl.List(pl.Struct({"rule": pl.String, "message": pl.String}))


def _balance() -> pl.Expr:
    """Outstanding principal plus the overdue charges that are not principal."""
    return (
        pl.col("outstanding_principal_cents")
        + pl.col("overdue_fee_cents")
        + pl.col("overdue_late_fee_cents")
        + pl.col("overdue_penalty_cents")
    ).cast(pl.Int64)


def _ratio(numerator: str, denominator: str) -> pl.Expr:
    """``numerator / denominator``, null when the denominator is zero."""
    return (
        pl.when(pl.col(denominator) > 0)
        .then(pl.col(numerator) / pl.col(denominator))
        .otherwise(None)
        .cast(pl.Float64)
    )


def _check_buckets(frame: pl.DataFrame, column: str, buckets: Sequence[str]) -> None:
    unknown = sorted(set(frame.get_column(column).unique().to_list()) - set(buckets))
    if unknown:
        raise ValueError(f"buckets {unknown} are not in the bucket list {list(buckets)}")


def _states_on(states: pl.DataFrame, day: date) -> pl.DataFrame:
    return states.filter(pl.col("as_of") == pl.lit(day, dtype=pl.Date))


def roll_rate_matrix(
    states: pl.DataFrame,
    from_day: date,
    to_day: date,
    by: Literal["count", "balance"],
    buckets: Sequence[str],
) -> pl.DataFrame:
    """Where the accounts of each bucket at ``from_day`` are at ``to_day``.

    ``states`` has ``account_key, as_of, bucket`` and, for ``by="balance"``, the balance
    columns (``outstanding_principal_cents``, ``overdue_fee_cents``,
    ``overdue_late_fee_cents``, ``overdue_penalty_cents``).

    Returns one row per bucket (in the order of ``buckets``) with ``from_bucket``, then one
    column per bucket and ``"(closed)"`` for accounts with no state at ``to_day``. A value is
    the share of the row's accounts (``by="count"``) or of its balance at ``from_day``
    (``by="balance"``) that moved to that column; a row sums to 1, or is all zeros when the
    bucket was empty (or held no balance). Raises ``ValueError`` for a bucket not in
    ``buckets`` or an unknown ``by``.
    """
    if by == "count":
        weight = pl.lit(1, dtype=pl.Int64)
    elif by == "balance":
        weight = _balance()
    else:
        raise ValueError(f"by must be 'count' or 'balance', not {by!r}")
    start = _states_on(states, from_day).select(
        "account_key", pl.col("bucket").alias("from_bucket"), weight.alias("weight")
    )
    end = _states_on(states, to_day).select("account_key", pl.col("bucket").alias("to_bucket"))
    _check_buckets(start, "from_bucket", buckets)
    _check_buckets(end, "to_bucket", buckets)
    moves = start.join(end, on="account_key", how="left").with_columns(
        pl.col("to_bucket").fill_null(CLOSED)
    )
    columns = [*buckets, CLOSED]
    total = pl.col("weight").sum()
    shares = moves.group_by("from_bucket").agg(
        pl.when(total > 0)
        .then(pl.col("weight").filter(pl.col("to_bucket") == column).sum() / total)
        .otherwise(0.0)
        .cast(pl.Float64)
        .alias(column)
        for column in columns
    )
    order = pl.DataFrame({"from_bucket": list(buckets)}, schema={"from_bucket": pl.String})
    return order.join(shares, on="from_bucket", how="left", maintain_order="left").with_columns(
        pl.col(column).fill_null(0.0) for column in columns
    )


def flow_rates(
    states: pl.DataFrame, month_ends: Sequence[date], buckets: Sequence[str]
) -> pl.DataFrame:
    """Balance-weighted flow rates from bucket k to bucket k+1 over consecutive month ends.

    ``states`` has ``account_key, as_of, bucket`` and the balance columns. For each pair of
    consecutive ``month_ends`` (sorted) and each bucket but the last (which cannot flow
    further), returns ``as_of`` (the earlier month end), ``next_as_of``, ``from_bucket``,
    ``to_bucket``, ``balance_cents`` (balance in ``from_bucket`` at ``as_of``),
    ``flowed_cents`` (of it, the balance of accounts in ``to_bucket`` at ``next_as_of``) and
    ``flow_rate`` (their ratio, null when the bucket held no balance). An account with no
    state at the next month end stays in the base and has not flowed.
    """
    days = sorted(set(month_ends))
    pairs = [_flow_pair(states, start, end, buckets) for start, end in pairwise(days)]
    if not pairs:
        return pl.DataFrame(
            schema={
                "as_of": pl.Date,
                "next_as_of": pl.Date,
                "from_bucket": pl.String,
                "to_bucket": pl.String,
                "balance_cents": pl.Int64,
                "flowed_cents": pl.Int64,
                "flow_rate": pl.Float64,
            }
        )
    return pl.concat(pairs)


def _flow_pair(
    states: pl.DataFrame, start_day: date, end_day: date, buckets: Sequence[str]
) -> pl.DataFrame:
    ordinal = {name: index for index, name in enumerate(buckets)}
    start = _states_on(states, start_day).select(
        "account_key", pl.col("bucket").alias("from_bucket"), _balance().alias("balance")
    )
    end = _states_on(states, end_day).select("account_key", pl.col("bucket").alias("to_bucket"))
    _check_buckets(start, "from_bucket", buckets)
    _check_buckets(end, "to_bucket", buckets)
    moves = start.join(end, on="account_key", how="left").with_columns(
        pl.col("from_bucket").replace_strict(ordinal, return_dtype=pl.Int64).alias("from_index"),
        pl.col("to_bucket")
        .replace_strict(ordinal, default=None, return_dtype=pl.Int64)
        .alias("to_index"),
    )
    sums = moves.group_by("from_bucket").agg(
        pl.col("balance").sum().alias("balance_cents"),
        pl.col("balance")
        .filter(pl.col("to_index") == pl.col("from_index") + 1)
        .sum()
        .alias("flowed_cents"),
    )
    order = pl.DataFrame(
        {"from_bucket": list(buckets[:-1]), "to_bucket": list(buckets[1:])},
        schema={"from_bucket": pl.String, "to_bucket": pl.String},
    )
    return (
        order.join(sums, on="from_bucket", how="left", maintain_order="left")
        .with_columns(
            pl.col("balance_cents", "flowed_cents").fill_null(0).cast(pl.Int64),
            pl.lit(start_day, dtype=pl.Date).alias("as_of"),
            pl.lit(end_day, dtype=pl.Date).alias("next_as_of"),
        )
        .with_columns(_ratio("flowed_cents", "balance_cents").alias("flow_rate"))
        .select(
            "as_of",
            "next_as_of",
            "from_bucket",
            "to_bucket",
            "balance_cents",
            "flowed_cents",
            "flow_rate",
        )
    )


def cure_rates(
    states: pl.DataFrame, from_day: date, to_day: date, buckets: Sequence[str]
) -> pl.DataFrame:
    """Per bucket at ``from_day``, the share of its accounts current at ``to_day``.

    ``states`` has ``account_key, as_of, bucket``; "current" is the first of ``buckets``.
    Returns one row per bucket (in order) with ``from_bucket``, ``accounts``, ``cured`` and
    ``cure_rate`` (null for an empty bucket). For the first bucket the rate is the share that
    stayed current. An account with no state at ``to_day`` stays in the base, not cured.
    """
    if not buckets:
        raise ValueError("the bucket list is empty")
    start = _states_on(states, from_day).select(
        "account_key", pl.col("bucket").alias("from_bucket")
    )
    end = _states_on(states, to_day).select("account_key", pl.col("bucket").alias("to_bucket"))
    _check_buckets(start, "from_bucket", buckets)
    _check_buckets(end, "to_bucket", buckets)
    counts = (
        start.join(end, on="account_key", how="left")
        .group_by("from_bucket")
        .agg(
            pl.len().cast(pl.Int64).alias("accounts"),
            (pl.col("to_bucket") == buckets[0]).sum().cast(pl.Int64).alias("cured"),
        )
    )
    order = pl.DataFrame({"from_bucket": list(buckets)}, schema={"from_bucket": pl.String})
    return (
        order.join(counts, on="from_bucket", how="left", maintain_order="left")
        .with_columns(pl.col("accounts", "cured").fill_null(0))
        .with_columns(_ratio("cured", "accounts").alias("cure_rate"))
    )


def vintage_curves(
    states: pl.DataFrame, accounts: pl.DataFrame, dpd_threshold: int = 30
) -> pl.DataFrame:
    """Share of each vintage's accounts past ``dpd_threshold`` DPD, by months on book.

    ``states`` has ``account_key, as_of, dpd``; only rows on a calendar month end are read.
    ``accounts`` has ``account_key, opened_on``; the vintage is the month of ``opened_on``.
    Months on book at a month end is the number of calendar months from the vintage month
    (0 at the end of the opening month). An account is bad at a month end when its DPD then
    is above the threshold (``dpd > dpd_threshold``); it need not stay bad, and an account
    with no state that month counts as not bad. The base is every account of the vintage.

    Returns ``vintage`` (first day of the month), ``months_on_book``, ``accounts``,
    ``bad_accounts`` and ``bad_rate``, one row per vintage and month end seen in ``states``,
    sorted by vintage then months on book.
    """
    opened = accounts.select(
        "account_key", pl.col("opened_on").cast(pl.Date).dt.truncate("1mo").alias("vintage")
    )
    sizes = opened.group_by("vintage").agg(pl.len().cast(pl.Int64).alias("accounts"))
    month_of = (pl.col("as_of").dt.year().cast(pl.Int64) * 12) + pl.col("as_of").dt.month()
    vintage_month = (pl.col("vintage").dt.year().cast(pl.Int64) * 12) + pl.col("vintage").dt.month()
    bad = (
        states.filter(pl.col("as_of") == pl.col("as_of").dt.month_end())
        .select("account_key", "as_of", "dpd")
        .join(opened, on="account_key", how="inner")
        .with_columns((month_of - vintage_month).cast(pl.Int64).alias("months_on_book"))
        .filter(pl.col("months_on_book") >= 0)
        .group_by("vintage", "months_on_book")
        .agg((pl.col("dpd") > dpd_threshold).sum().cast(pl.Int64).alias("bad_accounts"))
    )
    return (
        bad.join(sizes, on="vintage", how="left")
        .with_columns(_ratio("bad_accounts", "accounts").alias("bad_rate"))
        .select("vintage", "months_on_book", "accounts", "bad_accounts", "bad_rate")
        .sort("vintage", "months_on_book")
    )


def promise_kept_rate(
    promises: pl.DataFrame, period: Literal["month", "collector"] = "month"
) -> pl.DataFrame:
    """Promise outcomes and the kept share, by month of ``made_on`` or by collector.

    ``promises`` has ``status, made_on, made_by``. Returns the key (``month``, the first day
    of the month the promise was made, or ``collector``, ``made_by``, null for promises made
    by no one, e.g. on a self-service channel), then ``kept``, ``partly_kept``, ``broken``,
    ``open``, ``judged`` (kept + partly kept + broken) and ``kept_rate`` (kept / judged, null
    when none is judged yet), sorted by the key.
    """
    if period == "month":
        key = pl.col("made_on").cast(pl.Date).dt.truncate("1mo").alias("month")
    elif period == "collector":
        key = pl.col("made_by").cast(pl.String).alias("collector")
    else:
        raise ValueError(f"period must be 'month' or 'collector', not {period!r}")
    status = pl.col("status")
    counts = promises.group_by(key).agg(
        *((status == name).sum().cast(pl.Int64).alias(name) for name in JUDGED_STATUSES),
        (status == "open").sum().cast(pl.Int64).alias("open"),
    )
    name = key.meta.output_name()
    return (
        counts.with_columns(pl.sum_horizontal(JUDGED_STATUSES).cast(pl.Int64).alias("judged"))
        .with_columns(_ratio("kept", "judged").alias("kept_rate"))
        .sort(name, nulls_last=True)
    )


def contact_rates(attempts: pl.DataFrame, timezone: str = "Asia/Shanghai") -> pl.DataFrame:
    """Attempts, right-party rate and promise rate per channel and local hour.

    ``attempts`` has ``channel, at, outcome``; ``at`` is UTC (aware, or naive meaning UTC)
    and its hour is read in ``timezone``. Right-party outcomes are a conversation with the
    borrower (right-party contact, promise to pay, refusal, dispute); the promise rate counts
    ``promise_to_pay`` alone. Returns ``channel``, ``hour`` (0-23), ``attempts``,
    ``right_party``, ``promises``, ``right_party_rate`` and ``promise_rate``, sorted by channel
    and hour.
    """
    at = pl.col("at")
    dtype = attempts.schema.get("at")
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        at = at.dt.replace_time_zone("UTC")
    local_hour = at.dt.convert_time_zone(timezone).dt.hour().cast(pl.Int8).alias("hour")
    outcome = pl.col("outcome")
    return (
        attempts.group_by("channel", local_hour)
        .agg(
            pl.len().cast(pl.Int64).alias("attempts"),
            outcome.is_in(RIGHT_PARTY_OUTCOMES).sum().cast(pl.Int64).alias("right_party"),
            (outcome == Outcome.PROMISE_TO_PAY.value).sum().cast(pl.Int64).alias("promises"),
        )
        .with_columns(
            _ratio("right_party", "attempts").alias("right_party_rate"),
            _ratio("promises", "attempts").alias("promise_rate"),
        )
        .sort("channel", "hour")
    )


def blocks_by_rule(decisions: pl.DataFrame) -> pl.DataFrame:
    """Blocked contact decisions counted per rule, most frequent first.

    ``decisions`` has ``allowed`` (0 = blocked) and ``violations``, the JSON text of a list of
    ``{rule, message}``. A blocked decision counts once for every distinct rule it broke, so
    the counts can add up to more than the blocked decisions. Returns ``rule`` and
    ``blocked``, sorted by ``blocked`` descending, then rule.
    """
    blocked = decisions.filter(pl.col("allowed") == 0).select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("decision"),
        pl.col("violations").cast(pl.String).str.json_decode(_VIOLATIONS).alias("violation"),
    )
    return (
        blocked.explode("violation")
        .select("decision", pl.col("violation").struct.field("rule").alias("rule"))
        .drop_nulls("rule")
        .unique()
        .group_by("rule")
        .agg(pl.len().cast(pl.Int64).alias("blocked"))
        .sort(["blocked", "rule"], descending=[True, False])
    )

"""Performance measures: recovery curves, cost per yuan recovered, league tables.

Pure like :mod:`recoup.analytics.collection`: frames in, frames out, no database and no
clock. The definitions:

- *Delinquency cohort*: the accounts that entered a bucket in a month, that is, were in the
  bucket at that month end and in a better bucket at the month end before (an account with no
  state then, e.g. opened in the month, entered too). The first bucket (current) has no
  cohort, nor has the earliest month end of the states, where the month before is unknown.
  The *balance at entry* is the account's balance at that month end (outstanding principal
  plus overdue fee, late fee and penalty, as in the collection measures).
- *Recovery curve*: for a cohort and ``k`` months after its month end, the cumulative share of
  the balance at entry that the cohort's accounts paid in the ``k`` calendar months after it.
  A month is shown once it is over (its month end on or before ``through``).
- *Cost per yuan recovered*: contact attempts per channel times the channel's unit cost (a
  small cost table, :func:`parse_costs`), over the payments made by accounts while a case was
  open on them. Channels the table does not price are counted but cost nothing, and say so.
- *League table*: per collector or agency, the amount credited to it (``payment_credits``),
  the cases it worked (held on at least one allocation day), the share of those it cured (the
  case closed as cured on a day it held it), its promises' kept rate and its contacts.

- *Complaints*: the complaints received in the range (``complaints``, recorded by
  :mod:`recoup.contact.complaints`), counted by category, by the channel they came through and
  by the collector or agency that held the case on the day received (the allocation in force
  that day, as for payment credits), each also per 1,000 contacts: the contact attempts of
  the range, all of them, of that channel, or of the cases that owner held on the attempt's
  day. A complaint on no case, or on a case nobody held that day, counts in the totals only.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import polars as pl

from recoup.analytics.collection import JUDGED_STATUSES
from recoup.yamlfile import LocatedYaml, load_located, read_text_file

#: The label of the all-channels row of :func:`cost_per_channel`.
ALL_CHANNELS = "(all)"

_BALANCE_COLUMNS = (
    "outstanding_principal_cents",
    "overdue_fee_cents",
    "overdue_late_fee_cents",
    "overdue_penalty_cents",
)


def _balance() -> pl.Expr:
    return pl.sum_horizontal(pl.col(c) for c in _BALANCE_COLUMNS).cast(pl.Int64)


def _ratio(numerator: str, denominator: str) -> pl.Expr:
    return (
        pl.when(pl.col(denominator) > 0)
        .then(pl.col(numerator) / pl.col(denominator))
        .otherwise(None)
        .cast(pl.Float64)
    )


def _month_number(column: str) -> pl.Expr:
    """Months since year 0: consecutive calendar months differ by one."""
    return pl.col(column).dt.year().cast(pl.Int64) * 12 + pl.col(column).dt.month().cast(pl.Int64)


# --------------------------------------------------------------------------- recovery


def delinquency_cohorts(states: pl.DataFrame, buckets: Sequence[str]) -> pl.DataFrame:
    """The accounts entering each bucket (but the first) at each month end.

    ``states`` has ``account_key, as_of, bucket`` and the balance columns; only month-end rows
    are read. Returns ``account_key``, ``cohort`` (the month end), ``bucket`` and
    ``balance_cents`` (at that month end). Raises ``ValueError`` for a bucket not in
    ``buckets``.
    """
    ordinal = {name: index for index, name in enumerate(buckets)}
    month_ends = states.filter(pl.col("as_of") == pl.col("as_of").dt.month_end()).select(
        "account_key",
        "as_of",
        "bucket",
        _balance().alias("balance_cents"),
        _month_number("as_of").alias("month"),
    )
    unknown = sorted(set(month_ends.get_column("bucket").unique().to_list()) - set(buckets))
    if unknown:
        raise ValueError(f"buckets {unknown} are not in the bucket list {list(buckets)}")
    if month_ends.height == 0:
        return pl.DataFrame(
            schema={
                "account_key": pl.Int64,
                "cohort": pl.Date,
                "bucket": pl.String,
                "balance_cents": pl.Int64,
            }
        )
    first_month = month_ends.get_column("month").min()
    indexed = month_ends.with_columns(
        pl.col("bucket").replace_strict(ordinal, return_dtype=pl.Int64).alias("index")
    )
    before = indexed.select(
        "account_key",
        (pl.col("month") + 1).alias("month"),
        pl.col("index").alias("index_before"),
    )
    return (
        indexed.filter(pl.col("month") > first_month, pl.col("index") > 0)
        .join(before, on=["account_key", "month"], how="left")
        .filter(pl.col("index_before").is_null() | (pl.col("index_before") < pl.col("index")))
        .select(
            pl.col("account_key").cast(pl.Int64),
            pl.col("as_of").alias("cohort"),
            "bucket",
            "balance_cents",
        )
        .sort("cohort", "bucket", "account_key")
    )


def recovery_curves(
    states: pl.DataFrame,
    payments: pl.DataFrame,
    buckets: Sequence[str],
    through: date,
    max_months: int = 6,
) -> pl.DataFrame:
    """Cumulative share of each delinquency cohort's balance at entry paid after k months.

    ``states`` as for :func:`delinquency_cohorts`; ``payments`` has ``account_key, paid_on,
    amount_cents`` (reversals and reversed payments left out by the caller). A payment counts
    for a cohort when it is made after the cohort's month end, in the ``k``-th calendar month
    after it or earlier. Months ``k = 1 .. max_months`` whose month end is on or before
    ``through`` are shown.

    Returns ``cohort``, ``bucket``, ``accounts``, ``balance_cents``, ``months_after``,
    ``recovered_cents`` (cumulative) and ``recovery_rate`` (over ``balance_cents``, null when
    the cohort held no balance), sorted by cohort, bucket order and months.
    """
    if max_months < 1:
        raise ValueError(f"max_months must be at least 1, not {max_months}")
    entries = delinquency_cohorts(states, buckets).with_columns(
        _month_number("cohort").alias("cohort_month")
    )
    sizes = entries.group_by("cohort", "bucket", "cohort_month").agg(
        pl.len().cast(pl.Int64).alias("accounts"),
        pl.col("balance_cents").sum().cast(pl.Int64),
    )
    through_month = (
        through.year * 12 + through.month - (1 if through.day < _last_day(through) else 0)
    )
    months = pl.DataFrame(
        {"months_after": list(range(1, max_months + 1))}, schema={"months_after": pl.Int64}
    )
    grid = sizes.join(months, how="cross").filter(
        pl.col("cohort_month") + pl.col("months_after") <= through_month
    )
    paid = (
        entries.select("account_key", "cohort", "bucket", "cohort_month")
        .join(
            payments.select(
                pl.col("account_key").cast(pl.Int64),
                "paid_on",
                pl.col("amount_cents").cast(pl.Int64),
            ),
            on="account_key",
            how="inner",
        )
        .filter(pl.col("paid_on") > pl.col("cohort"))
        .with_columns((_month_number("paid_on") - pl.col("cohort_month")).alias("months_after"))
        .filter(pl.col("months_after") <= max_months)
        .group_by("cohort", "bucket", "months_after")
        .agg(pl.col("amount_cents").sum().cast(pl.Int64).alias("paid_cents"))
    )
    ordinal = {name: index for index, name in enumerate(buckets)}
    return (
        grid.join(paid, on=["cohort", "bucket", "months_after"], how="left")
        .with_columns(
            pl.col("paid_cents").fill_null(0),
            pl.col("bucket").replace_strict(ordinal, return_dtype=pl.Int64).alias("_order"),
        )
        .sort("cohort", "_order", "months_after")
        .with_columns(
            pl.col("paid_cents").cum_sum().over("cohort", "bucket").alias("recovered_cents")
        )
        .with_columns(_ratio("recovered_cents", "balance_cents").alias("recovery_rate"))
        .select(
            "cohort",
            "bucket",
            "accounts",
            "balance_cents",
            "months_after",
            "recovered_cents",
            "recovery_rate",
        )
    )


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


# --------------------------------------------------------------------------- cost


@dataclass(frozen=True, slots=True)
class CostTable:
    """What one contact attempt costs, per channel, in whole cents of ``currency``."""

    currency: str
    unit_cost_cents: Mapping[str, int]
    source: str


_COST_KEYS = frozenset({"currency", "unit_costs"})


def parse_costs(text: str, source: str = "<costs>") -> CostTable:
    """Validate the text of a cost table named ``source`` in messages.

    The file is a mapping with ``currency`` (three letters, optional, default CNY) and
    ``unit_costs``: channel name to the cost of one attempt, quoted text with at most two
    decimals (``"1.50"``), zero or more. Raises :class:`YamlFileError` naming the line and
    the field.
    """
    located = load_located(text, source)
    data = located.data
    if not isinstance(data, dict):
        raise located.error((), "a cost table is a mapping with unit_costs (and currency)")
    unknown = sorted(set(data) - _COST_KEYS)
    if unknown:
        raise located.error(
            (unknown[0],), f"unknown field (expected one of {', '.join(sorted(_COST_KEYS))})"
        )
    currency = data.get("currency", "CNY")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise located.error(("currency",), f"not a three-letter currency code: {currency!r}")
    costs = data.get("unit_costs")
    if not isinstance(costs, dict) or not costs:
        raise located.error(
            ("unit_costs",), "give unit_costs: a mapping of channel to the cost of one attempt"
        )
    return CostTable(
        currency.upper(),
        {
            str(channel): _unit_cost(located, str(channel), value)
            for channel, value in costs.items()
        },
        source,
    )


def _unit_cost(located: LocatedYaml, channel: str, value: object) -> int:
    path = ("unit_costs", channel)
    if not isinstance(value, str):
        raise located.error(path, f'write the cost as quoted text, e.g. "1.50", not {value!r}')
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise located.error(path, f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise located.error(path, f"not an amount: {value!r}")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise located.error(path, f"more than two decimals: {value!r}")
    if cents < 0:
        raise located.error(path, f"a cost cannot be negative: {value!r}")
    return int(cents)


def load_costs(path: Path | str) -> CostTable:
    """Read and validate a cost table file."""
    path = Path(path)
    text = read_text_file(path)
    return parse_costs(text, str(path))


def default_costs_path() -> Path:
    """The shipped cost table, to copy and edit."""
    return Path(str(resources.files("recoup.analytics") / "default_costs.yaml"))


@cache
def default_costs() -> CostTable:
    """The shipped cost table, read once."""
    return load_costs(default_costs_path())


def collection_payments(payments: pl.DataFrame, cases: pl.DataFrame) -> pl.DataFrame:
    """The payments made while a case was open on the account (the money collection brought).

    ``payments`` has ``account_key, paid_on, amount_cents``; ``cases`` has ``account_key,
    opened_on, closed_on`` (null while open). A payment on the day a case opens or closes
    counts. A payment counts once even if two cases of the account cover its day.
    """
    covered = (
        payments.with_row_index("_payment")
        .join(
            cases.select("account_key", "opened_on", "closed_on"),
            on="account_key",
            how="inner",
        )
        .filter(
            pl.col("paid_on") >= pl.col("opened_on"),
            pl.col("closed_on").is_null() | (pl.col("paid_on") <= pl.col("closed_on")),
        )
        .unique("_payment", keep="first", maintain_order=True)
    )
    return covered.select(payments.columns)


def cost_per_channel(
    attempts: pl.DataFrame, costs: CostTable, recovered_cents: int
) -> pl.DataFrame:
    """Contacts and their cost per channel, and the cost per yuan recovered.

    ``attempts`` has ``channel`` (one row per attempt). Returns ``channel``, ``contacts``,
    ``unit_cost_cents`` (null for a channel the table does not price), ``cost_cents`` (0 for
    it) and ``cost_per_yuan`` (``cost_cents / recovered_cents``: yuan spent per yuan
    recovered, null when nothing was recovered), one row per channel by cost then name, and
    a last row ``"(all)"`` with the totals.
    """
    prices = pl.DataFrame(
        {
            "channel": list(costs.unit_cost_cents),
            "unit_cost_cents": list(costs.unit_cost_cents.values()),
        },
        schema={"channel": pl.String, "unit_cost_cents": pl.Int64},
    )
    per_channel = (
        attempts.group_by(pl.col("channel").cast(pl.String))
        .agg(pl.len().cast(pl.Int64).alias("contacts"))
        .join(prices, on="channel", how="left")
        .with_columns(
            (pl.col("contacts") * pl.col("unit_cost_cents")).fill_null(0).alias("cost_cents")
        )
        .sort(["cost_cents", "channel"], descending=[True, False])
    )
    total = pl.DataFrame(
        {
            "channel": [ALL_CHANNELS],
            "contacts": [int(per_channel.get_column("contacts").sum())],
            "unit_cost_cents": [None],
            "cost_cents": [int(per_channel.get_column("cost_cents").sum())],
        },
        schema=per_channel.schema,
    )
    recovered = pl.lit(recovered_cents, dtype=pl.Int64)
    return pl.concat([per_channel, total]).with_columns(
        pl.when(recovered > 0)
        .then(pl.col("cost_cents") / recovered)
        .otherwise(None)
        .cast(pl.Float64)
        .alias("cost_per_yuan")
    )


# --------------------------------------------------------------------------- league tables


def league_table(
    allocations: pl.DataFrame,
    credits: pl.DataFrame,
    cases: pl.DataFrame,
    promises: pl.DataFrame,
    attempts: pl.DataFrame,
    owner_kind: Literal["collector", "agency"],
) -> pl.DataFrame:
    """Per owner of ``owner_kind``: amount credited, cases worked and cured, promises, contacts.

    - ``allocations``: ``case_key, as_of, owner, owner_kind`` (a case's owner from that day
      until its next allocation row; a null owner is a recall);
    - ``credits``: ``owner, owner_kind, amount_cents`` (payments credited to the owner);
    - ``cases``: ``case_key, closed_on, closed_because``;
    - ``promises``: ``made_by, status``; ``attempts``: ``collector`` (one row per attempt).

    Frames are those of the period: every row given counts. An owner is listed when it held
    a case or was credited a payment. Returns ``owner``, ``amount_credited_cents``,
    ``cases_worked``, ``cured``, ``cure_rate`` (cured / worked), ``promises_judged``,
    ``promises_kept``, ``promise_kept_rate`` (null with nothing judged) and ``contacts``,
    sorted by amount credited (most first), then owner.
    """
    if owner_kind not in ("collector", "agency"):
        raise ValueError(f"owner_kind must be 'collector' or 'agency', not {owner_kind!r}")
    kind = pl.col("owner_kind") == owner_kind
    held = allocations.filter(kind, pl.col("owner").is_not_null())
    worked = held.group_by("owner").agg(
        pl.col("case_key").n_unique().cast(pl.Int64).alias("cases_worked")
    )
    credited = (
        credits.filter(kind)
        .group_by("owner")
        .agg(pl.col("amount_cents").sum().cast(pl.Int64).alias("amount_credited_cents"))
    )
    history = allocations.select(
        pl.col("case_key").cast(pl.Int64), "as_of", "owner", "owner_kind"
    ).sort("case_key", "as_of")
    cured_cases = (
        cases.filter(pl.col("closed_because") == "cured", pl.col("closed_on").is_not_null())
        .select(pl.col("case_key").cast(pl.Int64), "closed_on")
        .sort("case_key", "closed_on")
    )
    cured = (
        cured_cases.join_asof(
            history,
            left_on="closed_on",
            right_on="as_of",
            by="case_key",
            strategy="backward",
            check_sortedness=False,
        )
        .filter(kind, pl.col("owner").is_not_null())
        .group_by("owner")
        .agg(pl.len().cast(pl.Int64).alias("cured"))
    )
    status = pl.col("status")
    kept = (
        promises.filter(pl.col("made_by").is_not_null())
        .group_by(pl.col("made_by").alias("owner"))
        .agg(
            status.is_in(JUDGED_STATUSES).sum().cast(pl.Int64).alias("promises_judged"),
            (status == "kept").sum().cast(pl.Int64).alias("promises_kept"),
        )
    )
    contacts = (
        attempts.filter(pl.col("collector").is_not_null())
        .group_by(pl.col("collector").alias("owner"))
        .agg(pl.len().cast(pl.Int64).alias("contacts"))
    )
    owners = pl.concat(
        [worked.select("owner"), credited.select("owner")], how="vertical_relaxed"
    ).unique()
    counts = ("amount_credited_cents", "cases_worked", "cured", "promises_judged")
    return (
        owners.join(credited, on="owner", how="left")
        .join(worked, on="owner", how="left")
        .join(cured, on="owner", how="left")
        .join(kept, on="owner", how="left")
        .join(contacts, on="owner", how="left")
        .with_columns(
            pl.col(*counts, "promises_kept", "contacts").fill_null(0).cast(pl.Int64),
        )
        .with_columns(
            _ratio("cured", "cases_worked").alias("cure_rate"),
            _ratio("promises_kept", "promises_judged").alias("promise_kept_rate"),
        )
        .select(
            "owner",
            "amount_credited_cents",
            "cases_worked",
            "cured",
            "cure_rate",
            "promises_judged",
            "promises_kept",
            "promise_kept_rate",
            "contacts",
        )
        .sort(["amount_credited_cents", "owner"], descending=[True, False])
    )


# --------------------------------------------------------------------------- complaints

#: The label of the all-categories row of :func:`complaints_by_category`.
ALL_CATEGORIES = "(all)"


def _per_1000(complaints: str, contacts: str) -> pl.Expr:
    return (
        pl.when(pl.col(contacts) > 0)
        .then(1000 * pl.col(complaints) / pl.col(contacts))
        .otherwise(None)
        .cast(pl.Float64)
    )


def _utc(frame: pl.DataFrame, column: str) -> pl.Expr:
    """``column`` as an aware UTC time (a naive one means UTC)."""
    at = pl.col(column)
    dtype = frame.schema.get(column)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        at = at.dt.replace_time_zone("UTC")
    return at.dt.convert_time_zone("UTC")


def complaints_by_category(complaints: pl.DataFrame, contacts: int) -> pl.DataFrame:
    """Complaints per category, open and resolved, and per 1,000 of the range's ``contacts``.

    ``complaints`` has ``category`` and ``status`` (``open`` | ``resolved``), one row per
    complaint of the range. Returns ``category``, ``complaints``, ``open``, ``resolved`` and
    ``complaints_per_1000_contacts`` (null when there were no contacts), the categories by
    complaints (most first) then name, and a last row ``"(all)"`` with the totals.
    """
    status = pl.col("status")
    counts = (
        pl.len().cast(pl.Int64).alias("complaints"),
        (status == "open").sum().cast(pl.Int64).alias("open"),
        (status == "resolved").sum().cast(pl.Int64).alias("resolved"),
    )
    per_category = (
        complaints.group_by(pl.col("category").cast(pl.String))
        .agg(*counts)
        .sort(["complaints", "category"], descending=[True, False])
    )
    total = complaints.select(pl.lit(ALL_CATEGORIES).alias("category"), *counts)
    return (
        pl.concat([per_category, total])
        .with_columns(pl.lit(contacts, dtype=pl.Int64).alias("_contacts"))
        .select(
            "category",
            "complaints",
            "open",
            "resolved",
            _per_1000("complaints", "_contacts").alias("complaints_per_1000_contacts"),
        )
    )


def complaints_by_channel(complaints: pl.DataFrame, attempts: pl.DataFrame) -> pl.DataFrame:
    """Complaints per channel they came through, and per 1,000 contacts of that channel.

    ``complaints`` has ``channel`` (one row per complaint), ``attempts`` has ``channel`` (one
    row per contact attempt). Returns ``channel``, ``contacts``, ``complaints`` and
    ``complaints_per_1000_contacts`` (null for a channel without contacts: a complaint by web
    or through a regulator), for every channel with contacts or complaints, by complaints
    (most first) then name, and a last row ``"(all)"`` with the totals.
    """
    contacts = attempts.group_by(pl.col("channel").cast(pl.String)).agg(
        pl.len().cast(pl.Int64).alias("contacts")
    )
    received = complaints.group_by(pl.col("channel").cast(pl.String)).agg(
        pl.len().cast(pl.Int64).alias("complaints")
    )
    per_channel = (
        contacts.join(received, on="channel", how="full", coalesce=True)
        .with_columns(pl.col("contacts", "complaints").fill_null(0))
        .sort(["complaints", "contacts", "channel"], descending=[True, True, False])
    )
    total = pl.DataFrame(
        {
            "channel": [ALL_CHANNELS],
            "contacts": [attempts.height],
            "complaints": [complaints.height],
        },
        schema={"channel": pl.String, "contacts": pl.Int64, "complaints": pl.Int64},
    )
    return pl.concat([per_channel.select("channel", "contacts", "complaints"), total]).with_columns(
        _per_1000("complaints", "contacts").alias("complaints_per_1000_contacts")
    )


def _owners_on_the_day(
    frame: pl.DataFrame, at: str, allocations: pl.DataFrame, timezone: str
) -> pl.DataFrame:
    """``frame`` (with ``case_key`` and the UTC time ``at``) with ``owner`` and ``owner_kind``:
    who held the case on the local day of ``at`` (the latest allocation on or before it)."""
    # A recall (a null owner) stays in the history: it ends the holding before it.
    history = allocations.select(
        pl.col("case_key").cast(pl.Int64), "as_of", "owner", "owner_kind"
    ).sort("case_key", "as_of")
    dated = (
        frame.filter(pl.col("case_key").is_not_null())
        .with_columns(
            pl.col("case_key").cast(pl.Int64),
            _utc(frame, at).dt.convert_time_zone(timezone).dt.date().alias("_day"),
        )
        .sort("case_key", "_day")
    )
    return dated.join_asof(
        history,
        left_on="_day",
        right_on="as_of",
        by="case_key",
        strategy="backward",
        check_sortedness=False,
    ).filter(pl.col("owner").is_not_null())


def complaints_by_owner(
    complaints: pl.DataFrame,
    attempts: pl.DataFrame,
    allocations: pl.DataFrame,
    timezone: str = "Asia/Shanghai",
) -> pl.DataFrame:
    """Complaints per collector and agency, and per 1,000 of their contacts.

    - ``complaints``: ``case_key`` (null: none) and ``received_at`` (UTC), one row per
      complaint;
    - ``attempts``: ``case_key`` and ``at`` (UTC), one row per contact attempt;
    - ``allocations``: ``case_key, as_of, owner, owner_kind`` (a case's owner from that day
      until its next allocation row; a null owner is a recall).

    A complaint or an attempt counts for whoever held its case on its local day (in
    ``timezone``). Returns ``owner_kind``, ``owner``, ``contacts``, ``complaints`` and
    ``complaints_per_1000_contacts`` (null without contacts), for every owner with contacts or
    complaints, by complaints (most first), then the rate (highest first), kind and owner.
    """
    keys = ["owner_kind", "owner"]
    contacts = (
        _owners_on_the_day(attempts.select("case_key", "at"), "at", allocations, timezone)
        .group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("contacts"))
    )
    received = (
        _owners_on_the_day(
            complaints.select("case_key", "received_at"), "received_at", allocations, timezone
        )
        .group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("complaints"))
    )
    return (
        contacts.join(received, on=keys, how="full", coalesce=True)
        .with_columns(pl.col("contacts", "complaints").fill_null(0))
        .with_columns(_per_1000("complaints", "contacts").alias("complaints_per_1000_contacts"))
        .select(
            pl.col("owner_kind").cast(pl.String),
            pl.col("owner").cast(pl.String),
            "contacts",
            "complaints",
            "complaints_per_1000_contacts",
        )
        .sort(
            ["complaints", "complaints_per_1000_contacts", "owner_kind", "owner"],
            descending=[True, True, False, False],
            nulls_last=True,
        )
    )

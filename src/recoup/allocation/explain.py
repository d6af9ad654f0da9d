"""Explaining an allocation: per-owner totals and the teams file in plain words.

Each case's own explanation is its ``reason`` column (see :mod:`recoup.allocation.allocate`).
:func:`summarise` adds the view a team leader asks for first: how much each collector and
agency holds after the run and how much room is left; :func:`describe_teams` says what a
teams file means, one line per team member, agency and rule.
"""

from __future__ import annotations

import polars as pl

from recoup.allocation.allocate import Allocation, Decision
from recoup.allocation.config import WEEKDAYS, OwnerKind, TeamsConfig, percent_text
from recoup.money import format_cents

#: One row per collector and agency of the teams file (file order), then one row with a
#: null ``owner`` for the unallocated cases. ``new_cases``: cases given to the owner in this
#: run (assigned, rotated, placed or re-placed). Limits are null where they do not apply:
#: agencies have no daily capacity, and the unallocated row has no limits at all.
SUMMARY_COLUMNS: dict[str, pl.DataType] = {
    "owner": pl.String(),
    "owner_kind": pl.String(),
    "name": pl.String(),
    "team": pl.String(),
    "works_today": pl.Boolean(),
    "open_cases": pl.Int64(),
    "balance_cents": pl.Int64(),
    "new_cases": pl.Int64(),
    "daily_capacity": pl.Int64(),
    "new_left": pl.Int64(),
    "max_open": pl.Int64(),
    "open_left": pl.Int64(),
}


def summarise(allocation: Allocation, config: TeamsConfig) -> pl.DataFrame:
    """Cases, balance, capacity used and left per owner after ``allocation`` (SUMMARY_COLUMNS)."""
    weekday = allocation.as_of.weekday()
    owners = pl.DataFrame(
        {
            "owner": [c.id for c in config.collectors] + [a.id for a in config.agencies],
            "owner_kind": [OwnerKind.COLLECTOR.value] * len(config.collectors)
            + [OwnerKind.AGENCY.value] * len(config.agencies),
            "name": [c.name for c in config.collectors] + [a.name for a in config.agencies],
            "team": [c.team for c in config.collectors] + [None] * len(config.agencies),
            "works_today": [c.works_on(weekday) for c in config.collectors]
            + [True] * len(config.agencies),
            "daily_capacity": [c.daily_capacity for c in config.collectors]
            + [None] * len(config.agencies),
            "max_open": [c.max_open_cases for c in config.collectors]
            + [a.capacity for a in config.agencies],
        },
        schema={
            "owner": pl.String,
            "owner_kind": pl.String,
            "name": pl.String,
            "team": pl.String,
            "works_today": pl.Boolean,
            "daily_capacity": pl.Int64,
            "max_open": pl.Int64,
        },
    ).with_row_index("position")
    kept = pl.col("decision") == Decision.KEPT.value
    totals = allocation.cases.group_by("owner").agg(
        open_cases=pl.len().cast(pl.Int64),
        balance_cents=pl.col("balance_cents").sum().cast(pl.Int64),
        new_cases=(~kept).sum().cast(pl.Int64),
    )
    counted = ["open_cases", "balance_cents", "new_cases"]
    by_owner = (
        owners.join(totals, on="owner", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in counted)
        .sort("position")
        .with_columns(
            # A collector off today has no room for new cases; agencies have no daily limit.
            new_left=pl.when(pl.col("works_today"))
            .then(pl.col("daily_capacity") - pl.col("new_cases"))
            .otherwise(0),
            open_left=pl.col("max_open") - pl.col("open_cases"),
        )
    )
    unallocated = totals.filter(pl.col("owner").is_null()).with_columns(
        owner_kind=pl.lit(None, pl.String),
        name=pl.lit("(unallocated)"),
        team=pl.lit(None, pl.String),
        works_today=pl.lit(None, pl.Boolean),
        daily_capacity=pl.lit(None, pl.Int64),
        new_left=pl.lit(None, pl.Int64),
        max_open=pl.lit(None, pl.Int64),
        open_left=pl.lit(None, pl.Int64),
    )
    columns = list(SUMMARY_COLUMNS)
    return pl.concat([by_owner.select(columns), unallocated.select(columns)]).cast(
        SUMMARY_COLUMNS  # type: ignore[arg-type]
    )


def format_summary(summary: pl.DataFrame) -> list[str]:
    """The summary as aligned text lines, for a terminal."""
    lines = [
        f"{'owner':<12} {'team':<9} {'open':>7} {'balance':>16} {'new':>5} "
        f"{'new left':>8} {'open left':>9}"
    ]
    for row in summary.iter_rows(named=True):
        owner = row["owner"] or "-"
        new_left = "-" if row["new_left"] is None else str(row["new_left"])
        if row["works_today"] is False:
            new_left = "off"
        open_left = "-" if row["open_left"] is None else str(row["open_left"])
        lines.append(
            f"{owner:<12} {row['team'] or '':<9} {row['open_cases']:>7} "
            f"{format_cents(row['balance_cents']):>16} {row['new_cases']:>5} "
            f"{new_left:>8} {open_left:>9}"
        )
    return lines


def describe_teams(config: TeamsConfig) -> list[str]:
    """The teams file in plain words, one line per team, collector, agency and rule."""
    rules = config.rules
    lines = [f"Teams file {config.source} ({config.digest[:12]})."]
    for team in config.teams:
        members = [c for c in config.collectors if c.team == team.id]
        lines.append(f"Team {team.id}, {team.name}: {len(members)} collector(s).")
        for c in members:
            products = "all products" if c.products is None else ", ".join(sorted(c.products))
            lines.append(
                f"  {c.id} {c.name}: speaks {', '.join(c.languages)}; buckets {c.buckets}; "
                f"{products}; works {_days(c.working_days)}; at most {c.daily_capacity} new "
                f"cases a day and {c.max_open_cases} open."
            )
    for a in config.agencies:
        rates = ", ".join(f"{b} {percent_text(r)}" for b, r in a.commission.items())
        products = "all products" if a.products is None else ", ".join(sorted(a.products))
        recall = config.agency_recall_days(a)
        recall_text = f"recalled after {recall} days without progress" if recall else "no recall"
        lines.append(
            f"Agency {a.id} ({a.name}): buckets {a.buckets}; {products}; at most "
            f"{a.capacity} open cases; commission {rates}; {recall_text}."
        )
    rotation = (
        f"rotated to another collector after {rules.rotate_after_days} days without progress"
        if rules.rotate_after_days
        else "never rotated"
    )
    placement = "no agency placement"
    if rules.agency_from_bucket:
        placement = f"placed with agencies from {rules.agency_from_bucket}"
        if rules.recall_after_days:
            placement += (
                f", recalled after {rules.recall_after_days} days without progress "
                "unless the agency has its own period"
            )
    lines.append(
        f"Rules: new cases spread by {rules.method.value}; continuity "
        f"{'on' if rules.continuity else 'off'}; cases {rotation}; {placement}."
    )
    return lines


def _days(days: frozenset[int]) -> str:
    return ", ".join(WEEKDAYS[d] for d in sorted(days))

"""When a collection case opens and when it closes.

- A case opens on an account's first day past due (``dpd`` 1): the day the close reports a
  positive DPD, counted back to its first day, so a step "3 days after the case opens" falls
  on DPD 3 whether or not the strategy ran every day.
- A case also opens for a current account flagged by early warning (before its due date)
  when the strategy asks for early-warning cases.
- An open case closes when its account is *paid off* (nothing outstanding and nothing
  overdue) or *cured* (no longer past due; for an early-warning case, no longer flagged and
  not past due). Settlement, write-off and recall close cases through their own workflows.

An account has at most one open case; an early-warning case whose account falls past due
stays open (it becomes a delinquent case), so the account's history stays in one case.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

import polars as pl


class OpenReason(enum.StrEnum):
    DELINQUENT = "delinquent"
    EARLY_WARNING = "early_warning"


class CloseReason(enum.StrEnum):
    CURED = "cured"
    PAID_OFF = "paid_off"
    SETTLED = "settled"
    WRITTEN_OFF = "written_off"
    RECALLED = "recalled"


@dataclass(frozen=True, slots=True)
class CaseChanges:
    """``opened``: account_key, opened_on, opened_because. ``closed``: case_key,
    account_key, closed_because. ``escalated``: case_key of early-warning cases whose
    account is now past due."""

    opened: pl.DataFrame
    closed: pl.DataFrame
    escalated: pl.DataFrame


def case_changes(
    accounts: pl.DataFrame,
    open_cases: pl.DataFrame,
    as_of: date,
    early_warning: pl.DataFrame | None = None,
) -> CaseChanges:
    """The cases to open and close on ``as_of``.

    Args:
        accounts: ``account_key, dpd, overdue_cents, outstanding_principal_cents`` as closed
            through ``as_of``.
        open_cases: ``case_key, account_key, opened_because`` of the open cases.
        as_of: the day of the run.
        early_warning: ``account_key`` of current accounts flagged by early warning that the
            strategy opens cases for; None when it does not.
    """
    flagged = (
        early_warning.select("account_key").unique()
        if early_warning is not None
        else pl.DataFrame(schema={"account_key": pl.Int64})
    )
    with_case = open_cases.select("account_key")
    past_due = accounts.filter(pl.col("dpd") > 0)
    opened_delinquent = past_due.join(with_case, on="account_key", how="anti").select(
        "account_key",
        (pl.lit(as_of) - pl.duration(days=pl.col("dpd") - 1)).cast(pl.Date).alias("opened_on"),
        pl.lit(OpenReason.DELINQUENT.value).alias("opened_because"),
    )
    opened_flagged = (
        accounts.filter(pl.col("dpd") == 0)
        .join(flagged, on="account_key", how="semi")
        .join(with_case, on="account_key", how="anti")
        .select(
            "account_key",
            pl.lit(as_of).alias("opened_on"),
            pl.lit(OpenReason.EARLY_WARNING.value).alias("opened_because"),
        )
    )
    opened = pl.concat([opened_delinquent, opened_flagged]).sort("account_key")

    state = open_cases.join(
        accounts.select("account_key", "dpd", "overdue_cents", "outstanding_principal_cents"),
        on="account_key",
        how="left",
    ).with_columns(pl.col("account_key").is_in(flagged["account_key"].implode()).alias("flagged"))
    paid_off = (pl.col("outstanding_principal_cents") == 0) & (pl.col("overdue_cents") == 0)
    not_past_due = pl.col("dpd") == 0
    early = pl.col("opened_because") == OpenReason.EARLY_WARNING.value
    closed = (
        state.with_columns(
            pl.when(paid_off)
            .then(pl.lit(CloseReason.PAID_OFF.value))
            .when(not_past_due & (~early | ~pl.col("flagged")))
            .then(pl.lit(CloseReason.CURED.value))
            .otherwise(None)
            .alias("closed_because")
        )
        .filter(pl.col("closed_because").is_not_null())
        .select("case_key", "account_key", "closed_because")
        .sort("case_key")
    )
    escalated = state.filter(early & (pl.col("dpd") > 0)).select("case_key").sort("case_key")
    return CaseChanges(opened, closed, escalated)

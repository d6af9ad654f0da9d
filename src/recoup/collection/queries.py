"""What the collection commands read back: one account's trace through the strategy, a
champion/challenger test's outcomes, and a collector's queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.close import last_closed_day
from recoup.collection.daily import strategy_cases
from recoup.store import tables as t
from recoup.store.bulk import read_frame
from recoup.strategy import StrategyPlan, run_strategy
from recoup.strategy.spec import Channel, Strategy

#: What an action costs, in cents, to weigh arms against each other: an SMS about 0.05 yuan,
#: a collector's call about 2 yuan of time, a letter 5, a field visit 80, an agency placement
#: and a legal review their handling fee. Assumed figures for comparing arms, not billing.
CHANNEL_COST_CENTS: dict[str, int] = {
    Channel.SMS.value: 5,
    Channel.EMAIL.value: 1,
    Channel.APP_PUSH.value: 0,
    Channel.CALL.value: 200,
    Channel.LETTER.value: 500,
    Channel.FIELD_VISIT.value: 8_000,
    Channel.AGENCY.value: 1_000,
    Channel.LEGAL.value: 20_000,
}


class UnknownAccount(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Trace:
    account_id: str
    as_of: date
    case: dict[str, object] | None  # the stored case, None when the account has no open case
    plan: StrategyPlan | None  # the strategy's decision for the case today
    planned: pl.DataFrame  # the actions the last run stored for the case that day
    events: pl.DataFrame  # the case's history


def trace_account(conn: Connection, strategy: Strategy, account_id: str) -> Trace:
    """Why the account's case is where it is: its decision on the last closed day (the same
    function the daily run uses, on this one case), the actions stored for it, its events."""
    a, c = t.accounts, t.cases
    account_key = conn.execute(
        sa.select(a.c.account_key).where(a.c.account_id == account_id)
    ).scalar()
    if account_key is None:
        raise UnknownAccount(f"no account {account_id!r}")
    as_of = last_closed_day(conn)
    if as_of is None:
        raise UnknownAccount("no day has been closed yet")
    case = (
        conn.execute(
            sa.select(c)
            .where(c.c.account_key == account_key)
            .order_by(c.c.case_key.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if case is None:
        empty = pl.DataFrame()
        return Trace(account_id, as_of, None, None, empty, empty)
    cases = strategy_cases(conn, as_of, strategy.unreachable_after_days).filter(
        pl.col("case_key") == case["case_key"]
    )
    plan = run_strategy(cases, strategy, as_of) if cases.height else None
    ac, ev = t.actions, t.case_events
    planned = read_frame(
        conn,
        sa.select(ac.c.step, ac.c.channel, ac.c.template, ac.c.queue, ac.c.priority, ac.c.reason)
        .where(ac.c.case_key == case["case_key"], ac.c.planned_for == as_of)
        .order_by(ac.c.priority.desc()),
        {
            "step": pl.String,
            "channel": pl.String,
            "template": pl.String,
            "queue": pl.String,
            "priority": pl.Int64,
            "reason": pl.String,
        },
    )
    events = read_frame(
        conn,
        sa.select(ev.c.happened_on, ev.c.kind, ev.c.detail)
        .where(ev.c.case_key == case["case_key"])
        .order_by(ev.c.happened_on, ev.c.event_key),
        {"happened_on": pl.Date, "kind": pl.String, "detail": pl.String},
    )
    return Trace(account_id, as_of, dict(case), plan, planned, events)


def test_outcomes(conn: Connection, test_id: str, as_of: date) -> pl.DataFrame:
    """One row per case that had an action under ``test_id``: its arm, whether it was cured
    (closed cured or paid off), what was paid on the account from the test's first action
    through the case's close (or ``as_of``), the actions' assumed cost and their number, and
    the complaints received on the case in the same window (UTC days, as the complaint
    service keeps them).

    A case with no complaint counts 0, not unknown: the store records every complaint
    (:mod:`recoup.contact.complaints`: the command line, the API and the lab all write
    there), so an empty ``complaints`` table means none was received."""
    ac, c, pay, co = t.actions, t.cases, t.payments, t.complaints
    actions = read_frame(
        conn,
        sa.select(ac.c.case_key, ac.c.account_key, ac.c.arm, ac.c.channel, ac.c.planned_for).where(
            ac.c.test_id == test_id
        ),
        {
            "case_key": pl.Int64,
            "account_key": pl.Int64,
            "arm": pl.String,
            "channel": pl.String,
            "planned_for": pl.Date,
        },
    )
    if actions.is_empty():
        return pl.DataFrame(
            schema={
                "case_key": pl.Int64,
                "arm": pl.String,
                "cured": pl.Boolean,
                "recovered_cents": pl.Int64,
                "action_cost_cents": pl.Int64,
                "contacts": pl.Int64,
                "complaints": pl.Int64,
            }
        )
    cost = pl.col("channel").replace_strict(CHANNEL_COST_CENTS, default=0, return_dtype=pl.Int64)
    per_case = actions.group_by("case_key").agg(
        pl.col("account_key").first(),
        pl.col("arm").first(),
        pl.col("planned_for").min().alias("from_day"),
        cost.sum().alias("action_cost_cents"),
        pl.len().cast(pl.Int64).alias("contacts"),
    )
    in_test = sa.select(ac.c.case_key).where(ac.c.test_id == test_id)
    cases = read_frame(
        conn,
        sa.select(c.c.case_key, c.c.closed_on, c.c.closed_because).where(c.c.case_key.in_(in_test)),
        {"case_key": pl.Int64, "closed_on": pl.Date, "closed_because": pl.String},
    )
    payments = read_frame(
        conn,
        sa.select(pay.c.account_key, pay.c.paid_on, pay.c.amount_cents).where(
            pay.c.account_key.in_(sa.select(ac.c.account_key).where(ac.c.test_id == test_id)),
            pay.c.reverses_payment_id.is_(None),
            pay.c.reversed_on.is_(None),
        ),
        {"account_key": pl.Int64, "paid_on": pl.Date, "amount_cents": pl.Int64},
    )
    complaints = read_frame(
        conn,
        sa.select(co.c.case_key, co.c.received_at).where(co.c.case_key.in_(in_test)),
        {"case_key": pl.Int64, "received_at": pl.Datetime("us", "UTC")},
    )
    window = per_case.join(cases, on="case_key", how="left").with_columns(
        pl.coalesce("closed_on", pl.lit(as_of)).alias("to_day")
    )
    recovered = (
        window.select("case_key", "account_key", "from_day", "to_day")
        .join(payments, on="account_key")
        .filter(pl.col("paid_on").is_between(pl.col("from_day"), pl.col("to_day")))
        .group_by("case_key")
        .agg(pl.col("amount_cents").sum().alias("recovered_cents"))
    )
    received = (
        window.select("case_key", "from_day", "to_day")
        .join(complaints, on="case_key")
        .filter(pl.col("received_at").dt.date().is_between(pl.col("from_day"), pl.col("to_day")))
        .group_by("case_key")
        .agg(pl.len().cast(pl.Int64).alias("complaints"))
    )
    return (
        window.join(recovered, on="case_key", how="left")
        .join(received, on="case_key", how="left")
        .select(
            "case_key",
            "arm",
            pl.col("closed_because").is_in(["cured", "paid_off"]).fill_null(False).alias("cured"),
            pl.col("recovered_cents").fill_null(0),
            "action_cost_cents",
            "contacts",
            pl.col("complaints").fill_null(0),
        )
        .sort("case_key")
    )

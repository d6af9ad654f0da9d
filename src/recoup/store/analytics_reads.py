"""Reading what the collection report needs for a date range, in bulk: one query per table.

The measures themselves are pure (:mod:`recoup.analytics.report`); this edge gives them
frames. States are read at the month ends only (the month end before the range and every
month end in it), so a year of history on a million accounts stays a few million rows.
Contact times are compared in UTC: a range's days run from midnight UTC.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta

import polars as pl
import sqlalchemy as sa

from recoup.analytics.performance import CostTable, default_costs
from recoup.analytics.report import ReportInputs
from recoup.cases import owners_by_day
from recoup.store import tables as t
from recoup.store.bulk import read_frame
from recoup.store.repository import load_catalog_from_store


def month_ends_for(from_day: date, to_day: date) -> list[date]:
    """The month end before ``from_day`` and every month end from ``from_day`` to ``to_day``."""
    year, month = from_day.year, from_day.month - 1
    if month == 0:
        year, month = year - 1, 12
    days: list[date] = []
    while True:
        day = date(year, month, calendar.monthrange(year, month)[1])
        if day > to_day:
            return days
        days.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def read_report_inputs(
    conn: sa.Connection,
    from_day: date,
    to_day: date,
    costs: CostTable | None = None,
    timezone: str = "Asia/Shanghai",
) -> ReportInputs:
    """Everything :func:`recoup.analytics.report.build_report` reads for ``from_day ..
    to_day`` (both included)."""
    if from_day > to_day:
        raise ValueError(f"the range starts ({from_day}) after it ends ({to_day})")
    buckets = tuple(b.name for b in load_catalog_from_store(conn).buckets)
    start, end = _instant(from_day), _instant(to_day + timedelta(days=1))

    s = t.account_states
    states = read_frame(
        conn,
        sa.select(
            s.c.account_key,
            s.c.as_of,
            s.c.dpd,
            s.c.bucket,
            s.c.outstanding_principal_cents,
            s.c.overdue_principal_cents,
            s.c.overdue_fee_cents,
            s.c.overdue_late_fee_cents,
            s.c.overdue_penalty_cents,
        ).where(s.c.as_of.in_(month_ends_for(from_day, to_day))),
        {
            "account_key": pl.Int64,
            "as_of": pl.Date,
            "dpd": pl.Int64,
            "bucket": pl.String,
            "outstanding_principal_cents": pl.Int64,
            "overdue_principal_cents": pl.Int64,
            "overdue_fee_cents": pl.Int64,
            "overdue_late_fee_cents": pl.Int64,
            "overdue_penalty_cents": pl.Int64,
        },
    )
    a = t.accounts
    accounts = read_frame(
        conn,
        sa.select(a.c.account_key, a.c.opened_on).where(a.c.opened_on <= to_day),
        {"account_key": pl.Int64, "opened_on": pl.Date},
    )
    p = t.payments
    payments = read_frame(
        conn,
        sa.select(p.c.account_key, p.c.paid_on, p.c.amount_cents).where(
            p.c.paid_on >= from_day,
            p.c.paid_on <= to_day,
            p.c.reverses_payment_id.is_(None),
            p.c.reversed_on.is_(None),
        ),
        {"account_key": pl.Int64, "paid_on": pl.Date, "amount_cents": pl.Int64},
    )
    c = t.cases
    cases = read_frame(
        conn,
        sa.select(c.c.case_key, c.c.account_key, c.c.opened_on, c.c.closed_on, c.c.closed_because)
        .where(c.c.opened_on <= to_day)
        .where(sa.or_(c.c.closed_on.is_(None), c.c.closed_on >= from_day)),
        {
            "case_key": pl.Int64,
            "account_key": pl.Int64,
            "opened_on": pl.Date,
            "closed_on": pl.Date,
            "closed_because": pl.String,
        },
    )
    al = t.allocations
    # The ownership decisions (the nightly run's and the leads'), one per case and day: the
    # day's last, as the payment credits read them.
    allocations = owners_by_day(
        read_frame(
            conn,
            sa.select(al.c.case_key, al.c.as_of, al.c.seq, al.c.owner, al.c.owner_kind).where(
                al.c.as_of >= from_day, al.c.as_of <= to_day
            ),
            {
                "case_key": pl.Int64,
                "as_of": pl.Date,
                "seq": pl.Int64,
                "owner": pl.String,
                "owner_kind": pl.String,
            },
        )
    ).drop("seq")
    pc = t.payment_credits
    credits = read_frame(
        conn,
        sa.select(pc.c.owner, pc.c.owner_kind, pc.c.amount_cents).where(
            pc.c.credited_on >= from_day, pc.c.credited_on <= to_day
        ),
        {"owner": pl.String, "owner_kind": pl.String, "amount_cents": pl.Int64},
    )
    pr = t.promises
    promises = read_frame(
        conn,
        sa.select(pr.c.made_on, pr.c.made_by, pr.c.status).where(
            pr.c.made_on >= from_day, pr.c.made_on <= to_day
        ),
        {"made_on": pl.Date, "made_by": pl.String, "status": pl.String},
    )
    ca = t.contact_attempts
    attempts = read_frame(
        conn,
        sa.select(ca.c.channel, ca.c.at, ca.c.outcome, ca.c.collector, ca.c.case_key).where(
            ca.c.at >= start, ca.c.at < end
        ),
        {
            "channel": pl.String,
            "at": pl.Datetime("us", "UTC"),
            "outcome": pl.String,
            "collector": pl.String,
            "case_key": pl.Int64,
        },
    )
    cd = t.contact_decisions
    decisions = read_frame(
        conn,
        sa.select(cd.c.allowed, cd.c.violations).where(
            cd.c.contact_at >= start, cd.c.contact_at < end
        ),
        {"allowed": pl.Int64, "violations": pl.String},
    )
    co = t.complaints
    complaints = read_frame(
        conn,
        sa.select(co.c.received_at, co.c.channel, co.c.category, co.c.status, co.c.case_key).where(
            co.c.received_at >= start, co.c.received_at < end
        ),
        {
            "received_at": pl.Datetime("us", "UTC"),
            "channel": pl.String,
            "category": pl.String,
            "status": pl.String,
            "case_key": pl.Int64,
        },
    )
    return ReportInputs(
        from_day=from_day,
        to_day=to_day,
        buckets=buckets,
        states=states,
        accounts=accounts,
        payments=payments,
        cases=cases,
        allocations=allocations,
        credits=credits,
        promises=promises,
        attempts=attempts,
        decisions=decisions,
        complaints=complaints,
        costs=costs or default_costs(),
        timezone=timezone,
    )

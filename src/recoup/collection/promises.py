"""Recording a promise to pay (承诺还款) on an open case: one function for the command line,
the contact-outcome service and, later, the workbench.

The promise is judged by the daily strategy run (:mod:`recoup.collection.daily`): kept,
partly kept or broken after its grace days.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.money import format_cents
from recoup.store import tables as t


def record_promise(
    conn: Connection,
    case_key: int,
    made_on: date,
    promised_for: date,
    amount_cents: int,
    grace_days: int,
    made_by: str | None,
) -> int:
    """Store an open promise on ``case_key`` with its case event; return its key."""
    if amount_cents <= 0:
        raise ValueError("a promise's amount must be positive")
    if promised_for < made_on:
        raise ValueError(f"a promise for {promised_for} is before it was made ({made_on})")
    account = (
        sa.select(t.cases.c.account_key).where(t.cases.c.case_key == case_key).scalar_subquery()
    )
    key = conn.execute(
        t.promises.insert()
        .values(
            case_key=case_key,
            account_key=account,
            made_on=made_on,
            promised_for=promised_for,
            amount_cents=amount_cents,
            grace_days=grace_days,
            made_by=made_by,
            status="open",
            paid_cents=0,
        )
        .returning(t.promises.c.promise_key)
    ).scalar_one()
    conn.execute(
        t.cases.update().where(t.cases.c.case_key == case_key).values(last_progress_on=made_on)
    )
    conn.execute(
        t.case_events.insert().values(
            case_key=case_key,
            happened_on=made_on,
            kind="promise_made",
            detail=f"promise to pay {format_cents(amount_cents)} by {promised_for}"
            + (f" (taken by {made_by})" if made_by else ""),
        )
    )
    return int(key)

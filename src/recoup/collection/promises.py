"""Recording a promise to pay (承诺还款) on an open case: one function for the command line,
the contact-outcome service and, later, the workbench.

A promise is one amount by one date, or several installments (each an amount by a date,
dates strictly increasing, at most :data:`recoup.cases.MAX_INSTALLMENTS`). The ``promises``
row is the promise as a whole (its amount the installments' sum, ``promised_for`` the last
one's date), so that readers of whole promises need not know about installments; the
``promise_installments`` rows are its parts, one for a single-amount promise.

The promise is judged by the daily strategy run (:mod:`recoup.collection.daily`): each
installment and the whole kept, partly kept or broken after its grace days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.cases import PromiseChannel, promise_installments
from recoup.money import format_cents
from recoup.store import tables as t


def record_promise(
    conn: Connection,
    case_key: int,
    made_on: date,
    promised_for: date | None = None,
    amount_cents: int | None = None,
    grace_days: int = 1,
    made_by: str | None = None,
    *,
    installments: Sequence[tuple[date, int]] | None = None,
    channel: PromiseChannel | str | None = None,
) -> int:
    """Store an open promise on ``case_key`` with its installments and its case event;
    return its key.

    Args:
        conn: the caller's transaction.
        case_key: the open case the promise is made on.
        made_on: the day it was made; payments from that day count towards it.
        promised_for, amount_cents: a single-amount promise (give both, or ``installments``).
        grace_days: days after each installment's date that payments still count.
        made_by: who took it (a collector), if anyone.
        installments: ``(due_on, amount_cents)`` pairs in date order.
        channel: how it was taken (a :class:`recoup.cases.PromiseChannel` value).

    Raises:
        ValueError: naming the problem: an amount that is not positive, a date before
            ``made_on``, dates not strictly increasing, too many installments, an unknown
            channel, negative grace days, or a promise given both ways or neither.
    """
    single = (promised_for, amount_cents)
    if installments is None:
        if promised_for is None or amount_cents is None:
            raise ValueError("a promise needs its amount and date, or its installments")
        installments = [(promised_for, amount_cents)]
    elif single != (None, None):
        raise ValueError("give a promise's amount and date, or its installments, not both")
    parts = promise_installments(made_on, installments)
    if grace_days < 0:
        raise ValueError(f"a promise's grace days must not be negative, not {grace_days}")
    try:
        how = None if channel is None else PromiseChannel(channel)
    except ValueError:
        known = ", ".join(c.value for c in PromiseChannel)
        raise ValueError(f"unknown channel {channel!r} (known: {known})") from None

    total = sum(part.amount_cents for part in parts)
    last = parts[-1].due_on
    account = (
        sa.select(t.cases.c.account_key).where(t.cases.c.case_key == case_key).scalar_subquery()
    )
    key = int(
        conn.execute(
            t.promises.insert()
            .values(
                case_key=case_key,
                account_key=account,
                made_on=made_on,
                promised_for=last,
                amount_cents=total,
                grace_days=grace_days,
                made_by=made_by,
                status="open",
                paid_cents=0,
                channel=None if how is None else how.value,
            )
            .returning(t.promises.c.promise_key)
        ).scalar_one()
    )
    conn.execute(
        t.promise_installments.insert(),
        [
            {
                "promise_key": key,
                "number": number,
                "due_on": part.due_on,
                "amount_cents": part.amount_cents,
                "paid_cents": 0,
                "status": "open",
                "resolved_on": None,
            }
            for number, part in enumerate(parts, start=1)
        ],
    )
    conn.execute(
        t.cases.update().where(t.cases.c.case_key == case_key).values(last_progress_on=made_on)
    )
    if len(parts) == 1:
        what = f"promise to pay {format_cents(total)} by {last}"
    else:
        what = f"promise to pay {format_cents(total)} in {len(parts)} installments: " + ", ".join(
            f"{format_cents(part.amount_cents)} by {part.due_on}" for part in parts
        )
    conn.execute(
        t.case_events.insert().values(
            case_key=case_key,
            happened_on=made_on,
            kind="promise_made",
            detail=what
            + (f" ({how.value})" if how is not None else "")
            + (f" (taken by {made_by})" if made_by else ""),
        )
    )
    return key

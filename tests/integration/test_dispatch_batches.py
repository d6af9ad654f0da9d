"""The outbox's dispatch in batches: the database work of a batch of due messages is a fixed
number of statements, and a dispatcher killed mid-batch never sends a message twice.

The book is the three hand-made accounts of ``test_collection``; each borrower has one mobile
number. Thousands of SMS are queued for them directly (no strategy run): the gate's rules for
an SMS at noon on a working day let every one through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from recoup.compliance import shipped_profile
from recoup.contact.message import OutboundMessage, SendResult
from recoup.contact.outbox import dispatch
from recoup.store import tables as t
from tests.integration.test_collection import book  # noqa: F401  (fixture)

CN = shipped_profile("cn")
#: Noon in Shanghai on a working day: inside CN-HOURS, no holiday.
AT = datetime(2026, 3, 3, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


class Gateway:
    """A stand-in SMS gateway that counts what reached the borrower, by key; told to, it
    stops the dispatcher (``SystemExit``) before handing over its ``stop_before``-th message."""

    def __init__(self, stop_before: int | None = None) -> None:
        self.delivered: Counter[str] = Counter()
        self.calls = 0
        self.stop_before = stop_before

    def send(self, message: OutboundMessage) -> SendResult:
        self.calls += 1
        if self.calls == self.stop_before:
            raise SystemExit("dispatcher killed")
        self.delivered[message.idempotency_key] += 1
        return SendResult.accepted(f"gw-{message.idempotency_key}", "accepted", attempts=1)


def _queue(store: sa.Engine, count: int, prefix: str) -> list[str]:
    """Queue ``count`` SMS, due before :data:`AT`, spread over the book's borrowers."""
    a, cp = t.accounts, t.contact_points
    with store.begin() as conn:
        people = conn.execute(
            sa.select(a.c.account_key, cp.c.value)
            .join(cp, cp.c.borrower_key == a.c.borrower_key)
            .where(cp.c.kind == "phone", cp.c.party == "self")
            .order_by(a.c.account_key)
        ).all()
        due = (AT - timedelta(hours=1)).astimezone(UTC)
        keys = [f"{prefix}-{n}" for n in range(count)]
        conn.execute(
            t.messages.insert(),
            [
                {
                    "idempotency_key": key,
                    "account_key": people[n % len(people)][0],
                    "channel": "sms",
                    "party": "self",
                    "to_value": people[n % len(people)][1],
                    "template": "reminder",
                    "lang": "zh-CN",
                    "body": "【瑞可】您的账单已逾期。回复TD退订",
                    "status": "queued",
                    "send_at": due + timedelta(microseconds=n),  # sent in this order
                    "created_at": due,
                }
                for n, key in enumerate(keys)
            ],
        )
    return keys


@contextmanager
def _statements(store: sa.Engine) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    sa.event.listen(store, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(store, "before_cursor_execute", count)


def test_dispatch__statements_grow_with_the_batches_not_with_the_messages(
    book: sa.Engine,  # noqa: F811
) -> None:
    small, large = Gateway(), Gateway()
    _queue(book, 250, "small")
    with _statements(book) as few:
        summary = dispatch(book, {"sms": small}, CN, AT, batch_size=100)
    assert summary.sent == sum(small.delivered.values()) == 250

    _queue(book, 2_500, "large")
    with _statements(book) as many:
        summary = dispatch(book, {"sms": large}, CN, AT, batch_size=1_000)
    assert summary.sent == sum(large.delivered.values()) == 2_500

    # Three batches each: ten times the messages, the same statements.
    assert len(many) == len(few)
    assert len(many) <= 3 * 15, "\n".join(many)  # 12 a batch today
    m, ca = t.messages, t.contact_attempts
    with book.connect() as conn:
        statuses = {
            str(status): int(n)
            for status, n in conn.execute(
                sa.select(m.c.status, sa.func.count()).group_by(m.c.status)
            )
        }
        attempts = conn.execute(sa.select(sa.func.count()).select_from(ca)).scalar_one()
        decisions = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.contact_decisions)
            .where(t.contact_decisions.c.source == "outbox")
        ).scalar_one()
    assert statuses == {"sent": 2_750}
    assert attempts == decisions == 2_750  # one decision and one delivered attempt each


def test_dispatch__a_dispatcher_killed_mid_batch_never_sends_a_message_twice(
    book: sa.Engine,  # noqa: F811
) -> None:
    keys = _queue(book, 2_500, "msg")
    # Killed in the second batch, after marking it `sending`, before its 501st message.
    gateway = Gateway(stop_before=1_501)
    with pytest.raises(SystemExit):
        dispatch(book, {"sms": gateway}, CN, AT, batch_size=1_000)
    assert sum(gateway.delivered.values()) == 1_500

    m = t.messages
    with book.connect() as conn:
        rows = conn.execute(
            sa.select(m.c.idempotency_key, m.c.status, m.c.attempts).order_by(m.c.send_at)
        ).all()
    # What the gateway answered is kept; the message in flight is left `sending`; the rest
    # of its batch, never handed over, is queued again as it was.
    assert [(s, n) for _, s, n in rows[:1_500]] == [("sent", 1)] * 1_500
    assert (rows[1_500][1], rows[1_500][2]) == ("sending", 1)
    assert [(s, n) for _, s, n in rows[1_501:]] == [("queued", 0)] * 999

    gateway.stop_before = None
    summary = dispatch(book, {"sms": gateway}, CN, AT, batch_size=1_000)
    assert summary.sent == 1_000
    assert set(gateway.delivered) == set(keys)
    assert set(gateway.delivered.values()) == {1}  # no message reached the borrower twice
    with book.connect() as conn:
        after = {
            key: (status, n)
            for key, status, n in conn.execute(
                sa.select(m.c.idempotency_key, m.c.status, m.c.attempts)
            )
        }
        attempts = conn.execute(
            sa.select(sa.func.count()).select_from(t.contact_attempts)
        ).scalar_one()
    in_flight = rows[1_500][0]
    assert after.pop(in_flight) == ("sent", 2)  # resent with its key
    assert set(after.values()) == {("sent", 1)}
    assert attempts == 2_500  # one contact each

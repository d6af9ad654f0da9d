"""How long contact records are kept, and removing them when their time is up.

CN-RECORD: the collection process is recorded and kept at least two years (five for internet
lenders); recordings of oral repayment agreements are kept until the debt is settled. The
periods are fields of the policy profile's ``retention`` section, never numbers in the code.

Every decision, attempt and message is written with ``retain_until`` (a date), or, for an
attempt that recorded a repayment agreement (a promise to pay), ``until_settled``: it stays
while the account owes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.compliance import Profile
from recoup.store import tables as t

RecordKind = Literal["decisions", "attempts", "messages"]


def retain_until(profile: Profile, written_on: date, kind: RecordKind) -> date:
    """The last day a record of ``kind`` written on ``written_on`` must be kept."""
    retention = profile.retention
    days = {
        "decisions": retention.decisions_days,
        "attempts": retention.decisions_days,  # contact records
        "messages": retention.messages_days,
    }[kind]
    return written_on + timedelta(days=days)


@dataclass(frozen=True, slots=True)
class Purged:
    decisions: int
    attempts: int
    messages: int
    delivery_events: int

    def describe(self) -> str:
        return (
            f"removed {self.decisions:,} decisions, {self.attempts:,} attempts, "
            f"{self.messages:,} messages and {self.delivery_events:,} delivery events "
            "past their retention date"
        )


def purge_expired(conn: Connection, as_of: date) -> Purged:
    """Delete the records whose retention ended before ``as_of``.

    An attempt kept ``until_settled`` goes only once its account owes nothing (no overdue
    amount and no outstanding principal) and its own retention date has passed too.
    """
    d, ca, m, de, a = (
        t.contact_decisions,
        t.contact_attempts,
        t.messages,
        t.delivery_events,
        t.accounts,
    )
    settled = sa.select(a.c.account_key).where(
        a.c.overdue_cents == 0, a.c.outstanding_principal_cents == 0
    )
    decisions = conn.execute(sa.delete(d).where(d.c.retain_until < as_of)).rowcount
    attempts = conn.execute(
        sa.delete(ca).where(
            ca.c.retain_until < as_of,
            sa.or_(ca.c.until_settled == 0, ca.c.account_key.in_(settled)),
        )
    ).rowcount
    expired = sa.select(m.c.message_key).where(m.c.retain_until < as_of)
    events = conn.execute(sa.delete(de).where(de.c.message_key.in_(expired))).rowcount
    messages = conn.execute(sa.delete(m).where(m.c.retain_until < as_of)).rowcount
    return Purged(
        decisions=int(decisions),
        attempts=int(attempts),
        messages=int(messages),
        delivery_events=int(events),
    )

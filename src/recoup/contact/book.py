"""Reading what the contact gate needs from the store, in bulk: each borrower's time zone,
standing flags (holds), contact points with their status, and recent contact history.

The gate itself (:mod:`recoup.compliance.gate`) is pure; this module turns rows into its
records. Every read covers a whole set of borrowers in one query, never one per contact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.compliance import Attempt, Channel, Flag, Outcome, Party
from recoup.store import tables as t
from recoup.store.bulk import read_frame

#: How far back the gate reads history: more than any cap, cool-off or unreachable rule of
#: the shipped profiles looks at (US-7IN7 looks back 7 days).
HISTORY_DAYS = 31

#: Contact-point statuses that mean the point cannot be used.
NOT_WORKING = frozenset({"wrong_number", "disconnected"})

#: Which kind of contact point each channel goes to.
POINT_KIND: Mapping[Channel, str | None] = {
    Channel.CALL: "phone",
    Channel.SMS: "phone",
    Channel.VOICEMAIL: "phone",
    Channel.EMAIL: "email",
    Channel.LETTER: "address",
    Channel.FIELD_VISIT: "address",
    Channel.APP_PUSH: None,  # the lender's own app: no contact point
}


@dataclass(frozen=True, slots=True)
class ContactPoint:
    key: int
    kind: str
    value: str
    party: Party
    status: str


@dataclass(slots=True)
class BorrowerFile:
    """What the gate knows of one borrower."""

    borrower_key: int
    timezone: str | None
    flags: set[Flag] = field(default_factory=set)
    points: list[ContactPoint] = field(default_factory=list)
    history: list[Attempt] = field(default_factory=list)

    def best_point(self, channel: Channel, party: Party = Party.SELF) -> ContactPoint | None:
        """The point a contact on ``channel`` goes to: a verified one first, then the oldest
        unverified one; never a wrong or disconnected number."""
        kind = POINT_KIND[channel]
        usable = [
            p
            for p in self.points
            if p.kind == kind and p.party == party and p.status not in NOT_WORKING
        ]
        if not usable:
            return None
        return min(usable, key=lambda p: (p.status != "verified", p.key))

    def flags_for(self, channel: Channel, to: str) -> frozenset[Flag]:
        """The borrower's flags plus the opt-out of the point the contact goes to."""
        flags = set(self.flags)
        for point in self.points:
            if point.value == to and point.status == "opted_out":
                if point.kind == "phone":
                    flags.add(Flag.OPTED_OUT_SMS)
                elif point.kind == "email":
                    flags.add(Flag.OPTED_OUT_EMAIL)
        return frozenset(flags)


def borrower_files(
    conn: Connection, borrower_keys: Iterable[int], since: datetime
) -> dict[int, BorrowerFile]:
    """The gate's view of each borrower in ``borrower_keys``, with history from ``since``."""
    keys = sorted(set(borrower_keys))
    files: dict[int, BorrowerFile] = {}
    if not keys:
        return files
    for chunk in _chunks(keys, 10_000):
        b = t.borrowers
        for key, zone in conn.execute(
            sa.select(b.c.borrower_key, b.c.timezone).where(b.c.borrower_key.in_(chunk))
        ):
            files[key] = BorrowerFile(borrower_key=key, timezone=zone or None)
        _add_flags(conn, files, chunk)
        _add_points(conn, files, chunk)
        _add_history(conn, files, chunk, since)
    return files


def _add_flags(conn: Connection, files: dict[int, BorrowerFile], keys: Sequence[int]) -> None:
    f = t.borrower_flags
    known = {flag.value for flag in Flag}
    for key, flag in conn.execute(
        sa.select(f.c.borrower_key, f.c.flag).where(
            f.c.borrower_key.in_(keys), f.c.cleared_at.is_(None)
        )
    ):
        if flag in known:
            files[key].flags.add(Flag(flag))
    # The case's own dispute and vulnerability marks (``recoup case flag``) are holds too.
    c, a = t.cases, t.accounts
    for key, dispute, vulnerable in conn.execute(
        sa.select(a.c.borrower_key, c.c.dispute, c.c.vulnerable)
        .join(a, a.c.account_key == c.c.account_key)
        .where(c.c.status == "open", a.c.borrower_key.in_(keys))
    ):
        if dispute:
            files[key].flags.add(Flag.DISPUTE)
        if vulnerable:
            files[key].flags.add(Flag.VULNERABLE)


def _add_points(conn: Connection, files: dict[int, BorrowerFile], keys: Sequence[int]) -> None:
    cp = t.contact_points
    rows = conn.execute(
        sa.select(
            cp.c.borrower_key,
            cp.c.contact_point_key,
            cp.c.kind,
            cp.c.value,
            cp.c.party,
            cp.c.status,
        ).where(cp.c.borrower_key.in_(keys))
    )
    for borrower, key, kind, value, party, status in rows:
        files[borrower].points.append(ContactPoint(key, kind, value, Party(party), status))


def _add_history(
    conn: Connection, files: dict[int, BorrowerFile], keys: Sequence[int], since: datetime
) -> None:
    ca = t.contact_attempts
    frame = read_frame(
        conn,
        sa.select(ca.c.borrower_key, ca.c.channel, ca.c.at, ca.c.to_value, ca.c.party, ca.c.outcome)
        .where(ca.c.borrower_key.in_(keys), ca.c.at >= since)
        .order_by(ca.c.borrower_key, ca.c.at, ca.c.attempt_key),
        {
            "borrower_key": pl.Int64,
            "channel": pl.String,
            "at": pl.Datetime("us", "UTC"),
            "to": pl.String,
            "party": pl.String,
            "outcome": pl.String,
        },
    )
    by_borrower: dict[int, list[Attempt]] = defaultdict(list)
    for borrower, channel, at, to, party, outcome in frame.iter_rows():
        by_borrower[borrower].append(
            Attempt(
                channel=Channel(channel),
                at=at if at.tzinfo is not None else at.replace(tzinfo=UTC),
                to=to,
                party=Party(party),
                outcome=Outcome(outcome),
            )
        )
    for borrower, attempts in by_borrower.items():
        files[borrower].history.extend(attempts)


def _chunks(keys: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]

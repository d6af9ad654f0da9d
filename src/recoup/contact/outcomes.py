"""Recording contact attempts and their outcomes (催记): one service for the command line,
the outbox and, later, the web workbench.

An outcome is history the gate counts (attempt caps, cool-off, unreachable), and it moves
the rest of the book:

- the contact point's status: a conversation verifies the number (with the day), a wrong
  number or a disconnected line retires it, a point not yet known (a number found by skip
  tracing, a third party) is added;
- a borrower with no working number of their own left is flagged ``unreachable`` (the
  strategy's skip-trace path, and CN-UNREACHABLE for third-party rules); a conversation with
  the borrower clears the flag;
- a conversation with the borrower is the case's last contact (the strategy's unreachable
  event counts from it); a dispute marks the case disputed (a hold until verified);
- a promise to pay with an amount and a date becomes an open promise on the case.

Recording is idempotent: each attempt carries a key (given, or made from the account,
channel, recipient, time and outcome), and recording the same key again changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.collection.promises import record_promise
from recoup.compliance import Channel, Outcome, Party, Profile
from recoup.contact.book import NOT_WORKING, POINT_KIND
from recoup.contact.records import retain_until
from recoup.store import tables as t

#: Outcomes that are a conversation with the borrower (right-party contact).
CONVERSATIONS = frozenset(
    {Outcome.RIGHT_PARTY_CONTACT, Outcome.PROMISE_TO_PAY, Outcome.REFUSAL, Outcome.DISPUTE}
)

#: What an outcome says of the contact point it reached.
POINT_STATUS_AFTER: dict[Outcome, str] = {
    Outcome.WRONG_NUMBER: "wrong_number",
    Outcome.UNREACHABLE: "disconnected",
}

#: The contact channel a promise was taken on, as a promise's channel.
PROMISE_CHANNEL = {
    "call": "call",
    "voicemail": "call",
    "sms": "sms",
    "email": "email",
    "app_push": "app",
    "letter": "letter",
    "field_visit": "visit",
}


class OutcomeRefused(ValueError):
    """An outcome that cannot be recorded (the message says which field and why)."""


@dataclass(frozen=True, slots=True)
class OutcomeReport:
    """One attempt and its outcome, as a collector, the outbox or the batch reports it."""

    account_id: str
    channel: Channel
    to: str
    at: datetime  # aware
    outcome: Outcome
    party: Party = Party.SELF
    collector: str | None = None
    note: str | None = None
    promise_cents: int | None = None
    promise_date: date | None = None
    key: str | None = None
    message_key: int | None = None
    decision_key: int | None = None

    def idempotency_key(self) -> str:
        if self.key:
            return self.key
        text = "|".join(
            (
                self.account_id,
                self.channel.value,
                self.to,
                self.at.astimezone(UTC).isoformat(),
                self.outcome.value,
            )
        )
        return "auto-" + hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class OutcomeSummary:
    recorded: int = 0
    already_recorded: int = 0
    promises: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    now_unreachable: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = ", ".join(f"{n:,} {o}" for o, n in sorted(self.outcomes.items())) or "none"
        text = (
            f"recorded {self.recorded:,} attempts ({parts}); "
            f"{self.already_recorded:,} already recorded; {self.promises:,} promises"
        )
        if self.now_unreachable:
            text += "; unreachable now: " + ", ".join(self.now_unreachable)
        return text


def record_outcomes(
    conn: Connection,
    reports: Sequence[OutcomeReport],
    profile: Profile,
    recorded_at: datetime,
) -> OutcomeSummary:
    """Record ``reports`` in the caller's transaction (all or nothing)."""
    for index, report in enumerate(reports):
        _check(report, index)
    keys = [r.idempotency_key() for r in reports]
    ca = t.contact_attempts
    seen = set(
        conn.execute(sa.select(ca.c.idempotency_key).where(ca.c.idempotency_key.in_(keys)))
        .scalars()
        .all()
    )
    accounts = _accounts(conn, {r.account_id for r in reports})
    recorded = 0
    promises = 0
    outcomes: Counter[str] = Counter()
    touched: set[int] = set()
    for report, key in zip(reports, keys, strict=True):
        if key in seen:
            continue
        seen.add(key)
        if report.account_id not in accounts:
            raise OutcomeRefused(f"account {report.account_id!r} is not in the store")
        account_key, borrower_key, case_key = accounts[report.account_id]
        point_key = _point_for(conn, borrower_key, report, recorded_at)
        promise_key = None
        if report.outcome is Outcome.PROMISE_TO_PAY and report.promise_cents is not None:
            if case_key is None:
                raise OutcomeRefused(
                    f"account {report.account_id!r} has no open case to hold the promise"
                )
            assert report.promise_date is not None
            promise_key = record_promise(
                conn,
                case_key,
                report.at.date(),
                report.promise_date,
                report.promise_cents,
                grace_days=1,
                made_by=report.collector,
                channel=PROMISE_CHANNEL.get(report.channel.value, "other"),
            )
            promises += 1
        agreement = promise_key is not None
        conn.execute(
            ca.insert().values(
                idempotency_key=key,
                account_key=account_key,
                borrower_key=borrower_key,
                case_key=case_key,
                contact_point_key=point_key,
                channel=report.channel.value,
                party=report.party.value,
                to_value=report.to,
                at=report.at.astimezone(UTC),
                outcome=report.outcome.value,
                collector=report.collector,
                note=report.note,
                decision_key=report.decision_key,
                message_key=report.message_key,
                promise_key=promise_key,
                recorded_at=recorded_at.astimezone(UTC),
                retain_until=retain_until(profile, report.at.date(), "attempts"),
                until_settled=int(agreement and profile.retention.agreements_until_settled),
            )
        )
        _follow_outcome(conn, report, borrower_key, case_key, recorded_at)
        recorded += 1
        outcomes[report.outcome.value] += 1
        touched.add(borrower_key)
    unreachable = _mark_unreachable(conn, touched, recorded_at)
    return OutcomeSummary(
        recorded=recorded,
        already_recorded=len(reports) - recorded,
        promises=promises,
        outcomes=outcomes,
        now_unreachable=unreachable,
    )


#: Outcomes that move nothing but the history: no conversation (no flag cleared, no case
#: touched), no contact point's status changed, no promise. The outbox reports only these.
PLAIN_OUTCOMES = frozenset(Outcome) - CONVERSATIONS - POINT_STATUS_AFTER.keys()


def record_plain_outcomes(
    conn: Connection,
    reports: Sequence[OutcomeReport],
    profile: Profile,
    recorded_at: datetime | Sequence[datetime],
) -> OutcomeSummary:
    """Record ``reports`` of :data:`PLAIN_OUTCOMES` in the caller's transaction, as calling
    :func:`record_outcomes` once per report, in order, would, but with a fixed number of
    statements for the whole batch (the outbox's delivered and failed messages).

    ``recorded_at`` is one time for every report, or one per report. Each report adds its
    attempt and, when the point it reached is not on file, the point; a borrower left with
    no working phone of their own after one of their reports is flagged ``unreachable`` at
    that report's time. A report of another outcome is refused (:class:`OutcomeRefused`):
    it moves the book and goes through :func:`record_outcomes`.
    """
    times = [recorded_at] * len(reports) if isinstance(recorded_at, datetime) else recorded_at
    if len(times) != len(reports):
        raise ValueError(f"{len(times)} recording times for {len(reports)} reports")
    for index, report in enumerate(reports):
        _check(report, index)
        if report.outcome not in PLAIN_OUTCOMES:
            raise OutcomeRefused(
                f"report {index + 1} ({report.account_id}): outcome {report.outcome.value} "
                "moves the book; record it with record_outcomes"
            )
    if not reports:
        return OutcomeSummary()
    keys = [r.idempotency_key() for r in reports]
    ca = t.contact_attempts
    seen = set(
        conn.execute(sa.select(ca.c.idempotency_key).where(ca.c.idempotency_key.in_(keys)))
        .scalars()
        .all()
    )
    accounts = _accounts(conn, {r.account_id for r in reports})
    fresh: list[tuple[OutcomeReport, str, datetime, tuple[int, int, int | None]]] = []
    for report, key, at in zip(reports, keys, times, strict=True):
        if key in seen:
            continue
        seen.add(key)
        if report.account_id not in accounts:
            raise OutcomeRefused(f"account {report.account_id!r} is not in the store")
        fresh.append((report, key, at, accounts[report.account_id]))
    book = _Book.read(conn, {borrower for _, _, _, (_, borrower, _) in fresh})
    attempts: list[dict[str, object]] = []
    outcomes: Counter[str] = Counter()
    for report, key, at, (account_key, borrower_key, case_key) in fresh:
        point_key = book.point_for(conn, borrower_key, report, at)
        attempts.append(
            {
                "idempotency_key": key,
                "account_key": account_key,
                "borrower_key": borrower_key,
                "case_key": case_key,
                "contact_point_key": point_key,
                "channel": report.channel.value,
                "party": report.party.value,
                "to_value": report.to,
                "at": report.at.astimezone(UTC),
                "outcome": report.outcome.value,
                "collector": report.collector,
                "note": report.note,
                "decision_key": report.decision_key,
                "message_key": report.message_key,
                "promise_key": None,
                "recorded_at": at.astimezone(UTC),
                "retain_until": retain_until(profile, report.at.date(), "attempts"),
                "until_settled": 0,  # no agreement: only a promise is one
            }
        )
        book.check_reachable(borrower_key, at)
        outcomes[report.outcome.value] += 1
    unreachable = book.write(conn)
    if attempts:
        conn.execute(ca.insert(), attempts)
    return OutcomeSummary(
        recorded=len(fresh),
        already_recorded=len(reports) - len(fresh),
        outcomes=outcomes,
        now_unreachable=unreachable,
    )


@dataclass(slots=True)
class _Book:
    """The contact points and reachability of a batch's borrowers, read once, changed in
    memory report by report (as :func:`_point_for` and :func:`_mark_unreachable` change the
    store), and written at the end."""

    points: dict[tuple[int, str, str], int]
    working: set[int]  # borrowers with a working phone of their own
    flagged: set[int]  # borrowers flagged unreachable
    next_key: int | None = None
    new_points: list[dict[str, object]] = field(default_factory=list)
    new_flags: list[dict[str, object]] = field(default_factory=list)
    now_flagged: list[int] = field(default_factory=list)

    @classmethod
    def read(cls, conn: Connection, borrowers: set[int]) -> _Book:
        points: dict[tuple[int, str, str], int] = {}
        working: set[int] = set()
        flagged: set[int] = set()
        if not borrowers:
            return cls(points, working, flagged)
        cp, f = t.contact_points, t.borrower_flags
        keys = sorted(borrowers)
        rows = conn.execute(
            sa.select(
                cp.c.contact_point_key,
                cp.c.borrower_key,
                cp.c.kind,
                cp.c.value,
                cp.c.party,
                cp.c.status,
            ).where(cp.c.borrower_key.in_(keys))
        )
        for key, borrower, kind, value, party, status in rows:
            points[(borrower, kind, value)] = int(key)  # unique (uq_contact_point)
            if kind == "phone" and party == Party.SELF.value and status not in NOT_WORKING:
                working.add(borrower)
        flagged.update(
            conn.execute(
                sa.select(f.c.borrower_key).where(
                    f.c.borrower_key.in_(keys), f.c.flag == "unreachable", f.c.cleared_at.is_(None)
                )
            ).scalars()
        )
        return cls(points, working, flagged)

    def point_for(
        self, conn: Connection, borrower_key: int, report: OutcomeReport, now: datetime
    ) -> int | None:
        """As :func:`_point_for` for an outcome that moves no point's status."""
        kind = POINT_KIND[report.channel]
        if kind is None:
            return None
        found = self.points.get((borrower_key, kind, report.to))
        if found is not None:
            return found
        if self.next_key is None:
            cp = t.contact_points
            self.next_key = int(
                conn.execute(
                    sa.select(sa.func.coalesce(sa.func.max(cp.c.contact_point_key), 0) + 1)
                ).scalar_one()
            )
        key, self.next_key = self.next_key, self.next_key + 1
        self.points[(borrower_key, kind, report.to)] = key
        self.new_points.append(
            {
                "contact_point_key": key,
                "borrower_key": borrower_key,
                "kind": kind,
                "value": report.to,
                "party": report.party.value,
                "status": "unverified",
                "source": "contact",
                "status_changed_at": now.astimezone(UTC),
            }
        )
        if kind == "phone" and report.party is Party.SELF:
            self.working.add(borrower_key)
        return key

    def check_reachable(self, borrower_key: int, now: datetime) -> None:
        """As :func:`_mark_unreachable` after one report of the borrower."""
        if borrower_key in self.working or borrower_key in self.flagged:
            return
        self.flagged.add(borrower_key)
        self.now_flagged.append(borrower_key)
        self.new_flags.append(
            {
                "borrower_key": borrower_key,
                "flag": "unreachable",
                "set_at": now.astimezone(UTC),
                "set_by": "contact-outcomes",
                "note": "no working phone of the borrower's own left",
            }
        )

    def write(self, conn: Connection) -> tuple[str, ...]:
        """Add the new points and flags; the borrowers flagged now, by id."""
        if self.new_points:
            conn.execute(t.contact_points.insert(), self.new_points)
        if not self.new_flags:
            return ()
        conn.execute(t.borrower_flags.insert(), self.new_flags)
        b = t.borrowers
        ids = conn.execute(
            sa.select(b.c.borrower_id).where(b.c.borrower_key.in_(sorted(self.now_flagged)))
        ).scalars()
        return tuple(sorted(str(i) for i in ids))


def _check(report: OutcomeReport, index: int) -> None:
    where = f"report {index + 1} ({report.account_id})"
    if report.at.tzinfo is None:
        raise OutcomeRefused(f"{where}: the time {report.at.isoformat()} has no UTC offset")
    if not report.to.strip():
        raise OutcomeRefused(f"{where}: no recipient")
    if report.outcome is Outcome.PROMISE_TO_PAY and (report.promise_cents is None) != (
        report.promise_date is None
    ):
        raise OutcomeRefused(f"{where}: a promise to pay needs both its amount and its date")
    if report.promise_cents is not None and report.outcome is not Outcome.PROMISE_TO_PAY:
        raise OutcomeRefused(f"{where}: a promised amount goes with outcome promise_to_pay only")


def _accounts(conn: Connection, account_ids: set[str]) -> dict[str, tuple[int, int, int | None]]:
    a, c = t.accounts, t.cases
    rows = conn.execute(
        sa.select(a.c.account_id, a.c.account_key, a.c.borrower_key, c.c.case_key)
        .select_from(
            a.outerjoin(c, sa.and_(c.c.account_key == a.c.account_key, c.c.status == "open"))
        )
        .where(a.c.account_id.in_(sorted(account_ids)))
    )
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _point_for(
    conn: Connection, borrower_key: int, report: OutcomeReport, now: datetime
) -> int | None:
    """The contact point the attempt reached, its status moved by the outcome; a point not
    yet on file is added (source ``contact``)."""
    kind = POINT_KIND[report.channel]
    if kind is None:
        return None
    cp = t.contact_points
    row = conn.execute(
        sa.select(cp.c.contact_point_key, cp.c.status).where(
            cp.c.borrower_key == borrower_key, cp.c.kind == kind, cp.c.value == report.to
        )
    ).first()
    if row is None:
        next_key = conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(cp.c.contact_point_key), 0) + 1)
        ).scalar_one()
        conn.execute(
            cp.insert().values(
                contact_point_key=next_key,
                borrower_key=borrower_key,
                kind=kind,
                value=report.to,
                party=report.party.value,
                status="unverified",
                source="contact",
                status_changed_at=now.astimezone(UTC),
            )
        )
        point_key, status = int(next_key), "unverified"
    else:
        point_key, status = int(row[0]), row[1]
    values: dict[str, object] = {}
    if report.outcome in CONVERSATIONS and status != "opted_out":
        values = {"status": "verified", "verified_on": report.at.date()}
    elif report.outcome in POINT_STATUS_AFTER:
        values = {"status": POINT_STATUS_AFTER[report.outcome]}
    if values:
        values["status_changed_at"] = now.astimezone(UTC)
        conn.execute(cp.update().where(cp.c.contact_point_key == point_key).values(**values))
    return point_key


def _follow_outcome(
    conn: Connection,
    report: OutcomeReport,
    borrower_key: int,
    case_key: int | None,
    now: datetime,
) -> None:
    if report.party is not Party.SELF or report.outcome not in CONVERSATIONS:
        return
    f = t.borrower_flags
    conn.execute(
        f.update()
        .where(
            f.c.borrower_key == borrower_key, f.c.flag == "unreachable", f.c.cleared_at.is_(None)
        )
        .values(cleared_at=now.astimezone(UTC), cleared_by="contact-outcomes")
    )
    if case_key is None:
        return
    c = t.cases
    conn.execute(
        c.update()
        .where(
            c.c.case_key == case_key,
            sa.or_(c.c.last_contact_on.is_(None), c.c.last_contact_on <= report.at.date()),
        )
        .values(last_contact_on=report.at.date())
    )
    if report.outcome is Outcome.DISPUTE:
        conn.execute(c.update().where(c.c.case_key == case_key).values(dispute=1))


def _mark_unreachable(conn: Connection, borrowers: set[int], now: datetime) -> tuple[str, ...]:
    """Flag the borrowers among ``borrowers`` whose own phones are all wrong or disconnected."""
    if not borrowers:
        return ()
    cp, f, b = t.contact_points, t.borrower_flags, t.borrowers
    working = sa.select(cp.c.borrower_key).where(
        cp.c.kind == "phone",
        cp.c.party == Party.SELF.value,
        cp.c.status.not_in(sorted(NOT_WORKING)),
    )
    flagged = sa.select(f.c.borrower_key).where(f.c.flag == "unreachable", f.c.cleared_at.is_(None))
    rows = conn.execute(
        sa.select(b.c.borrower_key, b.c.borrower_id).where(
            b.c.borrower_key.in_(sorted(borrowers)),
            b.c.borrower_key.not_in(working),
            b.c.borrower_key.not_in(flagged),
        )
    ).all()
    for key, _ in rows:
        conn.execute(
            f.insert().values(
                borrower_key=key,
                flag="unreachable",
                set_at=now.astimezone(UTC),
                set_by="contact-outcomes",
                note="no working phone of the borrower's own left",
            )
        )
    return tuple(sorted(str(borrower_id) for _, borrower_id in rows))

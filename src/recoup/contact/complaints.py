"""Complaints (投诉): recorded as they come in, resolved once, listed for those who handle them.

A complaint belongs to an account, and to the case open on it (or the case of the contact
attempt it is about); it names the channel it came through, its category (contact pressure,
conduct, the amount, personal data, other) and, optionally, the contact attempt it is about
and the borrower's words. Its description and its resolution note are personal text,
encrypted at rest like names and contact points (``complaints`` in :mod:`recoup.store.tables`).

Recording is idempotent: each complaint carries a key (given, or made from the account, the
time, the channel, the category, the attempt and the description). Recording the same key
again with the same complaint changes nothing; the same key for a different complaint is
refused (:class:`ComplaintConflict`). A batch is recorded all or nothing, with a fixed number
of statements whatever its size (the lab records a day's complaints at once).

Resolving sets the status, the day, the outcome (upheld, partly upheld, not upheld,
withdrawn) and a note, once: resolving again the same way changes nothing, another way is a
conflict. Days are UTC days, as in the analytics reads.

No contact hold follows from a complaint. The compliance reference (``compliance.md``) names
no rule, in any profile, that holds contact while a complaint about contact pressure is open:
the caps on attempts (CN-ATTEMPTS, CN-ANSWERED, US-7IN7) apply whether or not the borrower
complained, and a stated preference (UK-CONTACT), a cease request (US-CEASE) or a dispute
(UK-DISPUTE, US-VALIDATION, CN-LETTER) is a hold a handler sets on the borrower
(``recoup contact flag``), which the gate already honours. So a complaint is recorded, and
its handler decides whether a hold is due.

The checks on a complaint (:func:`check_complaint`, :func:`check_resolution`) and its key are
pure; the functions taking a connection read and write the store in the caller's transaction.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.store import tables as t


class ComplaintCategory(enum.StrEnum):
    CONTACT_PRESSURE = "contact_pressure"  # too many contacts, at bad times, to the wrong people
    CONDUCT = "conduct"  # how the collector behaved (CN-CONDUCT)
    AMOUNT_DISPUTED = "amount_disputed"  # the amount or the debt itself
    DATA_PRIVACY = "data_privacy"  # personal data used or shared (CN-PIPL)
    OTHER = "other"


class ComplaintChannel(enum.StrEnum):
    """How a complaint came in: a contact channel (during or in answer to a contact), or
    another way to the lender."""

    CALL = "call"
    SMS = "sms"
    EMAIL = "email"
    APP_PUSH = "app_push"
    VOICEMAIL = "voicemail"
    LETTER = "letter"
    FIELD_VISIT = "field_visit"
    WEB = "web"
    BRANCH = "branch"
    REGULATOR = "regulator"  # forwarded by a regulator or an industry body
    OTHER = "other"


class ComplaintStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ComplaintResolution(enum.StrEnum):
    UPHELD = "upheld"
    PARTLY_UPHELD = "partly_upheld"
    NOT_UPHELD = "not_upheld"
    WITHDRAWN = "withdrawn"


#: The longest description or resolution note, in characters (the column's plain length).
MAX_TEXT = 2000
#: The longest idempotency key and recorder's name.
MAX_KEY = 128
MAX_NAME = 64
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are fine in a text
#: Keys per IN list of a read, within SQLite's bound-parameter limit.
_CHUNK = 5_000


class ComplaintRefused(ValueError):
    """A complaint that cannot be recorded or resolved; ``field`` names what is wrong."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class ComplaintNotFound(ComplaintRefused):
    """No such complaint (or account)."""


class ComplaintConflict(ComplaintRefused):
    """The request contradicts what is stored: a key used for another complaint, or a
    complaint resolved before in another way."""


@dataclass(frozen=True, slots=True)
class ComplaintSpec:
    """A complaint as it is reported. The attempt it is about is named by its key
    (``attempt_key``) or by the key it was recorded under (``attempt_ref``), not both."""

    account_id: str
    received_at: datetime  # aware
    channel: ComplaintChannel
    category: ComplaintCategory
    created_by: str
    description: str | None = None
    attempt_key: int | None = None
    attempt_ref: str | None = None
    key: str | None = None

    def idempotency_key(self) -> str:
        if self.key:
            return self.key
        text = "|".join(
            (
                self.account_id,
                self.received_at.astimezone(UTC).isoformat(),
                self.channel.value,
                self.category.value,
                "" if self.attempt_key is None else str(self.attempt_key),
                self.attempt_ref or "",
                self.description or "",
            )
        )
        return "auto-" + hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Complaint:
    """A stored complaint."""

    complaint_key: int
    key: str
    account_id: str
    case_key: int | None
    received_at: datetime
    channel: str
    attempt_key: int | None
    category: str
    description: str | None
    status: str
    resolved_on: date | None
    resolution: str | None
    resolution_note: str | None
    resolved_by: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording a batch did: the stored complaint of each spec, in order, and which
    of them this call added (the others were recorded before under the same key)."""

    complaint_keys: tuple[int, ...]
    added: tuple[bool, ...]

    @property
    def recorded(self) -> int:
        return sum(self.added)

    @property
    def already_recorded(self) -> int:
        return len(self.added) - self.recorded


# --------------------------------------------------------------------------- pure checks


def _text_problem(field: str, value: str | None) -> ComplaintRefused | None:
    if value is None:
        return None
    if len(value) > MAX_TEXT:
        return ComplaintRefused(field, f"at most {MAX_TEXT:,} characters, got {len(value):,}")
    if _CONTROL.search(value):
        return ComplaintRefused(field, "control characters are not allowed (tab and newline are)")
    return None


def check_complaint(spec: ComplaintSpec, now: datetime) -> ComplaintRefused | None:
    """The first problem of ``spec`` that needs no store, or None. ``now`` is the clock:
    a complaint cannot be received after it."""
    if not spec.account_id.strip():
        return ComplaintRefused("account_id", "is empty")
    if spec.received_at.tzinfo is None:
        return ComplaintRefused("received_at", f"{spec.received_at.isoformat()} has no UTC offset")
    if spec.received_at > now:
        return ComplaintRefused(
            "received_at",
            f"{spec.received_at.isoformat()} is in the future (now {now.isoformat()})",
        )
    if spec.attempt_key is not None and spec.attempt_ref is not None:
        return ComplaintRefused("attempt_key", "name the attempt by its key or its ref, not both")
    if spec.attempt_key is not None and spec.attempt_key < 1:
        return ComplaintRefused("attempt_key", f"must be a positive number, got {spec.attempt_key}")
    if spec.attempt_ref is not None and not spec.attempt_ref.strip():
        return ComplaintRefused("attempt_ref", "is empty")
    if not spec.created_by.strip() or len(spec.created_by) > MAX_NAME:
        return ComplaintRefused("created_by", f"1 to {MAX_NAME} characters")
    key = spec.idempotency_key()
    if not key.strip() or len(key) > MAX_KEY:
        return ComplaintRefused("key", f"1 to {MAX_KEY} characters")
    return _text_problem("description", spec.description)


def check_resolution(
    received_at: datetime, resolved_on: date, note: str | None, today: date
) -> ComplaintRefused | None:
    """The first problem of resolving a complaint received at ``received_at`` on
    ``resolved_on`` (``today``: the clock's UTC day), or None. A complaint resolved before is
    not a problem here: see :func:`resolve_complaint`."""
    received_on = received_at.astimezone(UTC).date()
    if resolved_on < received_on:
        return ComplaintRefused(
            "resolved_on", f"{resolved_on} is before the complaint was received ({received_on})"
        )
    if resolved_on > today:
        return ComplaintRefused("resolved_on", f"{resolved_on} is in the future (today {today})")
    return _text_problem("resolution_note", note)


# --------------------------------------------------------------------------- the store


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive UTC times."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def record_complaints(conn: Connection, specs: Sequence[ComplaintSpec], now: datetime) -> Recorded:
    """Record ``specs`` in the caller's transaction, all or nothing (see the module).

    Each account must be in the store; a named attempt must be in the store and of the same
    account. The complaint's case is the attempt's case, else the case open on the account
    when it is recorded (none: no case). Each read is one statement per 5,000 keys and the
    insert one statement, however many complaints the batch holds.

    Raises:
        ComplaintRefused: the first problem, its field named (and the spec's number in a
            batch of more than one); ``ComplaintNotFound`` for an unknown account,
            ``ComplaintConflict`` for a key used for another complaint.
    """

    def refuse(index: int, problem: ComplaintRefused) -> ComplaintRefused:
        where = f"complaint {index + 1}: " if len(specs) > 1 else ""
        return type(problem)(problem.field, where + problem.detail)

    for index, spec in enumerate(specs):
        problem = check_complaint(spec, now)
        if problem is not None:
            raise refuse(index, problem)
    if not specs:
        return Recorded((), ())
    keys = [s.idempotency_key() for s in specs]
    accounts = _accounts(conn, {s.account_id for s in specs})
    by_key = {s.attempt_key for s in specs if s.attempt_key is not None}
    by_ref = {s.attempt_ref for s in specs if s.attempt_ref is not None}
    attempts, refs = _attempts(conn, by_key, by_ref)
    stored = _stored(conn, keys)

    rows: list[dict[str, object]] = []
    fresh: dict[str, dict[str, object]] = {}
    for index, (spec, key) in enumerate(zip(specs, keys, strict=True)):
        if spec.account_id not in accounts:
            raise refuse(
                index,
                ComplaintNotFound("account_id", f"account {spec.account_id!r} is not in the store"),
            )
        account_key, open_case = accounts[spec.account_id]
        attempt_key = spec.attempt_key
        if spec.attempt_ref is not None:
            attempt_key = refs.get(spec.attempt_ref)
            if attempt_key is None:
                raise refuse(
                    index,
                    ComplaintRefused(
                        "attempt_ref", f"no contact attempt was recorded as {spec.attempt_ref!r}"
                    ),
                )
        case_key = open_case
        if attempt_key is not None:
            if attempt_key not in attempts:
                field = "attempt_key" if spec.attempt_ref is None else "attempt_ref"
                raise refuse(
                    index, ComplaintRefused(field, f"no contact attempt {attempt_key} in the store")
                )
            attempt_account, attempt_case = attempts[attempt_key]
            if attempt_account != account_key:
                field = "attempt_key" if spec.attempt_ref is None else "attempt_ref"
                raise refuse(
                    index,
                    ComplaintRefused(
                        field,
                        f"contact attempt {attempt_key} is not of account {spec.account_id}",
                    ),
                )
            case_key = attempt_case if attempt_case is not None else open_case
        row: dict[str, object] = {
            "idempotency_key": key,
            "account_key": account_key,
            "case_key": case_key,
            "received_at": spec.received_at.astimezone(UTC),
            "channel": spec.channel.value,
            "attempt_key": attempt_key,
            "category": spec.category.value,
            "description": spec.description,
        }
        earlier = stored.get(key) or fresh.get(key)
        if earlier is not None:
            if _essence(earlier) != _essence(row):
                raise refuse(
                    index,
                    ComplaintConflict(
                        "key", f"{key!r} was used for another complaint; choose another key"
                    ),
                )
            continue
        row.update(
            status=ComplaintStatus.OPEN.value,
            created_by=spec.created_by,
            created_at=now.astimezone(UTC),
        )
        fresh[key] = row
        rows.append(row)
    if rows:
        conn.execute(t.complaints.insert(), rows)
    c = t.complaints
    found: dict[str, int] = {}
    for part in _chunks(keys):
        for key, complaint_key in conn.execute(
            sa.select(c.c.idempotency_key, c.c.complaint_key).where(c.c.idempotency_key.in_(part))
        ):
            found[str(key)] = int(complaint_key)
    added: list[bool] = []
    first_seen: set[str] = set()
    for key in keys:
        added.append(key not in stored and key not in first_seen)
        first_seen.add(key)
    return Recorded(tuple(int(found[k]) for k in keys), tuple(added))


def record_complaint(
    conn: Connection, spec: ComplaintSpec, now: datetime
) -> tuple[Complaint, bool]:
    """Record one complaint; the stored complaint, and whether this call added it."""
    recorded = record_complaints(conn, [spec], now)
    [complaint] = list_complaints(conn, complaint_key=recorded.complaint_keys[0])
    return complaint, recorded.added[0]


def resolve_complaint(
    conn: Connection,
    complaint_key: int,
    resolution: ComplaintResolution,
    resolved_on: date,
    note: str | None,
    by: str,
    now: datetime,
) -> tuple[Complaint, bool]:
    """Resolve the complaint in the caller's transaction; the complaint, and whether this
    call changed it (False: resolved before in the same way).

    Raises:
        ComplaintNotFound: no such complaint.
        ComplaintRefused: a day before the complaint or after today, a bad note or name.
        ComplaintConflict: resolved before with another outcome or day.
    """
    found = list_complaints(conn, complaint_key=complaint_key)
    if not found:
        raise ComplaintNotFound("complaint_key", f"no complaint {complaint_key}")
    [complaint] = found
    if not by.strip() or len(by) > MAX_NAME:
        raise ComplaintRefused("resolved_by", f"1 to {MAX_NAME} characters")
    problem = check_resolution(complaint.received_at, resolved_on, note, now.astimezone(UTC).date())
    if problem is not None:
        raise problem
    if complaint.status == ComplaintStatus.RESOLVED.value:
        if (complaint.resolution, complaint.resolved_on) == (resolution.value, resolved_on):
            return complaint, False
        raise ComplaintConflict(
            "resolution",
            f"complaint {complaint_key} was resolved on {complaint.resolved_on} as "
            f"{complaint.resolution}",
        )
    c = t.complaints
    changed = conn.execute(
        c.update()
        .where(c.c.complaint_key == complaint_key, c.c.status == ComplaintStatus.OPEN.value)
        .values(
            status=ComplaintStatus.RESOLVED.value,
            resolved_on=resolved_on,
            resolution=resolution.value,
            resolution_note=note,
            resolved_by=by,
        )
    ).rowcount
    if changed != 1:  # resolved meanwhile by another transaction
        raise ComplaintConflict("resolution", f"complaint {complaint_key} was resolved meanwhile")
    [complaint] = list_complaints(conn, complaint_key=complaint_key)
    return complaint, True


def list_complaints(
    conn: Connection,
    *,
    complaint_key: int | None = None,
    account_id: str | None = None,
    status: ComplaintStatus | None = None,
    category: ComplaintCategory | None = None,
    received_from: date | None = None,
    received_to: date | None = None,
    limit: int | None = None,
) -> list[Complaint]:
    """Complaints matching every filter given, latest received first. ``received_from`` and
    ``received_to`` are UTC days, both included."""
    c, a = t.complaints, t.accounts
    query = sa.select(c, a.c.account_id).join(a, a.c.account_key == c.c.account_key)
    if complaint_key is not None:
        query = query.where(c.c.complaint_key == complaint_key)
    if account_id is not None:
        query = query.where(a.c.account_id == account_id)
    if status is not None:
        query = query.where(c.c.status == status.value)
    if category is not None:
        query = query.where(c.c.category == category.value)
    if received_from is not None:
        query = query.where(c.c.received_at >= _midnight(received_from))
    if received_to is not None:
        query = query.where(c.c.received_at < _midnight(received_to, next_day=True))
    query = query.order_by(c.c.received_at.desc(), c.c.complaint_key.desc())
    if limit is not None:
        query = query.limit(limit)
    return [
        Complaint(
            complaint_key=int(r.complaint_key),
            key=r.idempotency_key,
            account_id=r.account_id,
            case_key=None if r.case_key is None else int(r.case_key),
            received_at=_utc(r.received_at),
            channel=r.channel,
            attempt_key=None if r.attempt_key is None else int(r.attempt_key),
            category=r.category,
            description=r.description,
            status=r.status,
            resolved_on=r.resolved_on,
            resolution=r.resolution,
            resolution_note=r.resolution_note,
            resolved_by=r.resolved_by,
            created_by=r.created_by,
            created_at=_utc(r.created_at),
        )
        for r in conn.execute(query)
    ]


def _midnight(day: date, next_day: bool = False) -> datetime:
    return datetime.combine(day + timedelta(days=int(next_day)), time(0), tzinfo=UTC)


def _essence(row: dict[str, object]) -> tuple[object, ...]:
    """What makes two recordings the same complaint."""
    at = row["received_at"]
    assert isinstance(at, datetime)
    return (
        row["account_key"],
        _utc(at),
        row["channel"],
        row["attempt_key"],
        row["category"],
        row["description"],
    )


def _chunks(values: Iterator[Any] | Sequence[Any] | set[Any]) -> Iterator[list[Any]]:
    ordered = sorted(set(values))
    for first in range(0, len(ordered), _CHUNK):
        yield ordered[first : first + _CHUNK]


def _accounts(conn: Connection, account_ids: set[str]) -> dict[str, tuple[int, int | None]]:
    """Each account's key and its open case."""
    a, c = t.accounts, t.cases
    found: dict[str, tuple[int, int | None]] = {}
    for part in _chunks(account_ids):
        for account_id, account_key, case_key in conn.execute(
            sa.select(a.c.account_id, a.c.account_key, c.c.case_key)
            .select_from(
                a.outerjoin(c, sa.and_(c.c.account_key == a.c.account_key, c.c.status == "open"))
            )
            .where(a.c.account_id.in_(part))
        ):
            found[str(account_id)] = (int(account_key), None if case_key is None else int(case_key))
    return found


def _attempts(
    conn: Connection, keys: set[int], refs: set[str]
) -> tuple[dict[int, tuple[int, int | None]], dict[str, int]]:
    """The named attempts' account and case, by attempt key; and the keys of those named by
    the key they were recorded under."""
    ca = t.contact_attempts
    columns = (ca.c.attempt_key, ca.c.idempotency_key, ca.c.account_key, ca.c.case_key)
    named = [ca.c.attempt_key.in_(part) for part in _chunks(keys)]
    named += [ca.c.idempotency_key.in_(part) for part in _chunks(refs)]
    attempts: dict[int, tuple[int, int | None]] = {}
    by_ref: dict[str, int] = {}
    for condition in named:
        for key, ref, account, case in conn.execute(sa.select(*columns).where(condition)):
            attempts[int(key)] = (int(account), None if case is None else int(case))
            if ref in refs:
                by_ref[str(ref)] = int(key)
    return attempts, by_ref


def _stored(conn: Connection, keys: Sequence[str]) -> dict[str, dict[str, object]]:
    """The complaints stored under ``keys``, as the rows :func:`record_complaints` writes."""
    c = t.complaints
    query = sa.select(
        c.c.idempotency_key,
        c.c.account_key,
        c.c.received_at,
        c.c.channel,
        c.c.attempt_key,
        c.c.category,
        c.c.description,
    )
    stored: dict[str, dict[str, object]] = {}
    for part in _chunks(keys):
        for r in conn.execute(query.where(c.c.idempotency_key.in_(part))).mappings():
            stored[str(r["idempotency_key"])] = {
                "account_key": int(r["account_key"]),
                "received_at": _utc(r["received_at"]),
                "channel": r["channel"],
                "attempt_key": None if r["attempt_key"] is None else int(r["attempt_key"]),
                "category": r["category"],
                "description": r["description"],
            }
    return stored

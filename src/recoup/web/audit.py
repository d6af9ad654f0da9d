"""The audit log: every change and every reveal of personal data, hash-chained, keyed and sealed.

Each entry's hash is the SHA-256 of the previous entry's hash and the entry's own fields, in
a canonical JSON form; the first entry links to a hash of 64 zeros. Editing an entry changes
its hash and deleting one breaks the link of the next, so :func:`verify` finds the first entry
that does not follow from the one before.

A plain hash chain only holds against someone who cannot write to the store: whoever can edit
an entry can recompute every later hash too, and deleting the last entries leaves a shorter
chain that is just as valid. Two things close those holes without an outside service:

- every entry carries a **MAC**: HMAC-SHA-256 of its sequence number and hash under the audit
  key. The key is derived (HKDF-SHA256 with a fixed label) from the data key,
  ``RECOUP_DATA_KEY``, which is never in the store; an entry edited and re-hashed without it
  no longer matches its MAC.
- the **seal**, the one row of ``audit_seal``: the chain's head (last sequence number, last
  hash) and the number of entries, MAC'd with the same key and rewritten in the transaction of
  every append. A log whose last entries were deleted ends short of its seal. The count goes
  from seal to seal (it is not counted in the table), and an append that finds the seal
  missing, forged or not at the log's end records that in the new seal, so appending after a
  deletion does not hide it.

What no key can prevent is putting back an old seal together with the log as it was then (a
restored backup, or a truncation to an old seal row kept aside). Against that, an operator
publishes the head now and then (``recoup audit head``) where the store's administrators
cannot rewrite it, and checks that the log still passes through it (``recoup audit verify
--expect-head SEQ:HASH``).

Entries written before the key (migration ``0013``) have no MAC: they verify by their hashes
alone and are counted as unkeyed. The seal names the last of them, so a MAC stripped from a
later entry is caught. In development the data key is the published one, so the MACs prove
nothing there; they are checked all the same. Entries are appended in the caller's
transaction, so an action and its audit entry are written together or not at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection

from recoup.store import crypto
from recoup.store import tables as t

GENESIS = "0" * 64
SEAL_KEY = 1  # the primary key of the seal's one row

# Changing this string changes every MAC: it names the derived key's purpose.
_AUDIT_KEY_INFO = b"recoup audit log: HMAC-SHA256 v1"


@lru_cache(maxsize=8)
def _derive(data_key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(data_key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise crypto.DataKeyError(
            f"{crypto.DATA_KEY_VARIABLE} must be 32 random bytes in URL-safe base64"
        )
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_AUDIT_KEY_INFO).derive(raw)


def audit_key(data_key: str | None = None) -> bytes:
    """The key of the entries' and the seal's MACs, derived from ``data_key`` (by default the
    data key in force, see :func:`recoup.store.crypto.data_key`)."""
    return _derive(data_key or crypto.data_key())


def audit_key_is_public() -> bool:
    """Whether the audit key derives from the published development data key."""
    return crypto.data_key() == crypto.DEVELOPMENT_DATA_KEY


def _mac(key: bytes, *parts: object) -> str:
    body = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def entry_hash(
    prev_hash: str, at: datetime, actor: str, action: str, target: str, detail: str
) -> str:
    body = json.dumps(
        [
            prev_hash,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor,
            action,
            target,
            detail,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def entry_mac(key: bytes, seq: int, digest: str) -> str:
    """The MAC of the entry ``seq`` whose hash is ``digest`` (the hash covers its fields and,
    through the previous hash, every entry before it)."""
    return _mac(key, "entry", seq, digest)


_HEAD = re.compile(r"(\d+):([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class Head:
    """An entry of the chain by sequence number and hash: ``0:000…`` is the empty log's."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        match = _HEAD.fullmatch(text.strip().lower())
        if match is None:
            raise ValueError(
                f"a head is SEQ:HASH (64 hex digits), as `recoup audit head` prints, not {text!r}"
            )
        return cls(int(match[1]), match[2])


EMPTY = Head(0, GENESIS)


@dataclass(frozen=True, slots=True)
class Seal:
    """The chain's head and length as of the last append, and the first thing an append found
    wrong with the seal before it (``broken_at``/``broken_reason``), kept from then on."""

    head: Head
    entries: int
    unkeyed_through: int  # the last entry written before the audit key (0: none)
    broken_at: int | None = None
    broken_reason: str | None = None

    def mac(self, key: bytes) -> str:
        return _mac(
            key,
            "seal",
            self.head.seq,
            self.head.hash,
            self.entries,
            self.unkeyed_through,
            self.broken_at,
            self.broken_reason,
        )


@dataclass(frozen=True, slots=True)
class StoredSeal:
    seal: Seal
    genuine: bool  # its MAC verifies under the key in force


def read_seal(conn: Connection, key: bytes | None = None) -> StoredSeal | None:
    """The seal row, and whether its MAC verifies; ``None`` when the row is missing."""
    s = t.audit_seal
    row = conn.execute(sa.select(s).where(s.c.seal_key == SEAL_KEY)).mappings().first()
    if row is None:
        return None
    seal = Seal(
        Head(int(row["last_seq"]), row["last_hash"]),
        int(row["entries"]),
        int(row["unkeyed_through"]),
        None if row["broken_at"] is None else int(row["broken_at"]),
        row["broken_reason"],
    )
    genuine = hmac.compare_digest(row["mac"], seal.mac(key or audit_key()))
    return StoredSeal(seal, genuine)


def _write_seal(conn: Connection, seal: Seal, key: bytes) -> None:
    s = t.audit_seal
    values = {
        "last_seq": seal.head.seq,
        "last_hash": seal.head.hash,
        "entries": seal.entries,
        "unkeyed_through": seal.unkeyed_through,
        "broken_at": seal.broken_at,
        "broken_reason": seal.broken_reason,
        "mac": seal.mac(key),
    }
    if conn.execute(s.update().where(s.c.seal_key == SEAL_KEY).values(values)).rowcount == 0:
        conn.execute(s.insert().values(seal_key=SEAL_KEY, **values))


def _next_seal(conn: Connection, stored: StoredSeal | None, before: Head, new: Head) -> Seal:
    """The seal after appending ``new`` to a log that ended at ``before``."""
    log = t.audit_log
    if stored is not None and stored.genuine:
        old = stored.seal
        broken_at, reason = old.broken_at, old.broken_reason
        if broken_at is None and old.head != before:
            broken_at = old.head.seq
            reason = (
                f"when entry {new.seq} was appended the log ended at entry {before.seq}, not "
                f"at the sealed entry {old.head.seq}: entries at its end were deleted, or the "
                "seal was replaced"
            )
        return Seal(new, old.entries + 1, old.unkeyed_through, broken_at, reason)
    # Nothing to carry forward: count the table, and say what was wrong for ever after.
    entries = conn.execute(sa.select(sa.func.count()).select_from(log)).scalar_one()
    unkeyed = conn.execute(
        sa.select(sa.func.max(log.c.seq)).where(log.c.mac.is_(None), log.c.seq < new.seq)
    ).scalar()
    what = "missing" if stored is None else "not genuine (edited, or sealed under another key)"
    return Seal(
        new,
        int(entries),
        int(unkeyed or 0),
        before.seq,
        f"the seal was {what} when entry {new.seq} was appended",
    )


def append(
    conn: Connection,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Append an entry after the last one, with its MAC, and move the seal to it; returns its
    sequence number. The table is locked on PostgreSQL so two writers cannot both link to the
    same entry (or both rewrite the seal)."""
    log = t.audit_log
    key = audit_key()
    last = sa.select(log.c.seq, log.c.hash).order_by(log.c.seq.desc()).limit(1)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
    row = conn.execute(last).first()
    before = EMPTY if row is None else Head(int(row.seq), row.hash)
    when = (at or datetime.now(UTC)).astimezone(UTC)
    text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str)
    digest = entry_hash(before.hash, when, actor, action, target, text)
    seq = int(
        conn.execute(
            log.insert()
            .values(
                at=when,
                actor=actor,
                action=action,
                target=target,
                detail=text,
                prev_hash=before.hash,
                hash=digest,
            )
            .returning(log.c.seq)
        ).scalar_one()
    )
    # The MAC covers the sequence number, which the store assigns: written once it is known.
    conn.execute(log.update().where(log.c.seq == seq).values(mac=entry_mac(key, seq, digest)))
    seal = _next_seal(conn, read_seal(conn, key), before, Head(seq, digest))
    _write_seal(conn, seal, key)
    return seq


class SealError(ValueError):
    """The log does not end where its seal says (run ``recoup audit verify``)."""


def current_head(conn: Connection, key: bytes | None = None) -> Head:
    """The head to publish: the last entry, once checked against the seal (its MAC, the
    entry's MAC, and nothing recorded as broken). It does not walk the chain (see
    :func:`verify`)."""
    key = key or audit_key()
    log = t.audit_log
    stored = read_seal(conn, key)
    if stored is None or not stored.genuine or stored.seal.broken_at is not None:
        raise SealError("the audit log's seal is missing or broken: run `recoup audit verify`")
    row = conn.execute(
        sa.select(log.c.seq, log.c.hash, log.c.mac).order_by(log.c.seq.desc()).limit(1)
    ).first()
    head = EMPTY if row is None else Head(int(row.seq), row.hash)
    if row is None or row.mac is None:
        vouched = head.seq <= stored.seal.unkeyed_through  # the empty log, or an old entry
    else:
        vouched = hmac.compare_digest(row.mac, entry_mac(key, head.seq, head.hash))
    if head != stored.seal.head or not vouched:
        raise SealError(
            f"the audit log ends at entry {head.seq}, not at its sealed head "
            f"{stored.seal.head.seq}, or that entry's MAC does not match: run "
            "`recoup audit verify`"
        )
    return head


@dataclass(frozen=True, slots=True)
class Verdict:
    entries: int
    # The first entry that does not follow; for a log that does not match its seal, the entry
    # the seal names (or the last one); None when the chain is intact.
    broken_at: int | None
    reason: str
    unkeyed: int = 0  # entries written before the audit key, checked by their hashes only
    head: Head | None = None  # the last entry, when the walk reached it

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def _seal_problem(stored: StoredSeal | None, head: Head, entries: int) -> tuple[int, str] | None:
    if stored is None:
        return head.seq, (
            "the seal (table audit_seal) is missing: it was deleted, so entries at the end of "
            "the log may have been deleted too"
        )
    seal = stored.seal
    if not stored.genuine:
        return seal.head.seq, (
            "the seal does not match its MAC: it was edited, or written under another key"
        )
    if seal.broken_at is not None:
        return seal.broken_at, seal.broken_reason or "the seal records a break"
    if seal.head.seq > head.seq:
        return seal.head.seq, (
            f"the log ends at entry {head.seq} but the seal names entry {seal.head.seq}: "
            "entries at its end were deleted"
        )
    if seal.head.seq == head.seq and seal.head.hash != head.hash:
        return head.seq, (
            f"the log's last entry {head.seq} is not the one sealed (its hash differs): the "
            "log was rewritten"
        )
    if seal.head != head:
        return head.seq, (
            f"the log ends at entry {head.seq}, not at the sealed entry {seal.head.seq}: "
            "entries were written without the seal, or the seal was replaced"
        )
    if seal.entries != entries:
        return seal.head.seq, (
            f"the log holds {entries} entries but the seal counts {seal.entries}: "
            "entries were deleted"
        )
    return None


def verify(
    conn: Connection,
    batch: int = 10_000,
    expect_head: Head | None = None,
    key: bytes | None = None,
) -> Verdict:
    """Walk the chain from the first entry and report the first one that does not follow
    (its link, its hash, its MAC); then check that the log ends at its seal, and, with
    ``expect_head`` (a head published earlier), that the chain still passes through it."""
    key = key or audit_key()
    log = t.audit_log
    stored = read_seal(conn, key)
    # Without a genuine seal, unkeyed entries pass only before the first keyed one.
    unkeyed_through = stored.seal.unkeyed_through if stored and stored.genuine else None
    prev, count, unkeyed, last_seq = GENESIS, 0, 0, 0
    keyed_seen = False
    expected_hash = GENESIS if expect_head is not None and expect_head.seq == 0 else None

    def broken(seq: int, reason: str) -> Verdict:
        return Verdict(count, seq, reason, unkeyed)

    while True:
        rows = (
            conn.execute(
                sa.select(log).where(log.c.seq > last_seq).order_by(log.c.seq).limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            # Entries appended while the walk went on come with a newer seal: walk on to it.
            latest = read_seal(conn, key)
            moved = latest != stored and latest is not None and latest.genuine
            stored = latest
            if moved and latest is not None and latest.seal.head.seq > last_seq:
                continue
            break
        for row in rows:
            seq = int(row["seq"])
            at = row["at"] if row["at"].tzinfo else row["at"].replace(tzinfo=UTC)
            if row["prev_hash"] != prev:
                return broken(
                    seq,
                    f"entry {seq} does not link to the entry before it "
                    "(an entry before it was deleted or edited)",
                )
            expected = entry_hash(
                prev, at, row["actor"], row["action"], row["target"], row["detail"]
            )
            if row["hash"] != expected:
                return broken(seq, f"entry {seq} was edited after it was written")
            if row["mac"] is None:
                if keyed_seen or (unkeyed_through is not None and seq > unkeyed_through):
                    return broken(
                        seq,
                        f"entry {seq} has no MAC: it was written without the audit key, or "
                        "its MAC was removed",
                    )
                unkeyed += 1
            else:
                keyed_seen = True
                if not hmac.compare_digest(row["mac"], entry_mac(key, seq, row["hash"])):
                    return broken(
                        seq,
                        f"entry {seq} does not match its MAC: it was edited after it was "
                        "written (and the hashes recomputed), or written under another key",
                    )
            if expect_head is not None and seq == expect_head.seq:
                expected_hash = row["hash"]
            prev = row["hash"]
            count += 1
            last_seq = seq
    head = Head(last_seq, prev)
    problem = _seal_problem(stored, head, count)
    if problem is not None:
        return broken(*problem)
    if expect_head is not None:
        if expected_hash is None:
            return broken(
                expect_head.seq,
                f"entry {expect_head.seq}, the expected head, is not in the log: the log was "
                "cut back before it (an old seal put back?)",
            )
        if expected_hash != expect_head.hash:
            return broken(
                expect_head.seq,
                f"entry {expect_head.seq} is not the expected head (its hash is "
                f"{expected_hash[:12]}…, not {expect_head.hash[:12]}…): the log was rewritten "
                "from there",
            )
    return Verdict(count, None, f"{count} entries, chain intact", unkeyed, head)

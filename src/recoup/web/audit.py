"""The audit log: every change and every reveal of personal data, hash-chained.

Each entry's hash is the SHA-256 of the previous entry's hash and the entry's own fields, in
a canonical JSON form. Editing an entry changes its hash; deleting one breaks the link of the
next; so :func:`verify` finds the first entry that does not follow from the one before. The
first entry links to a hash of 64 zeros. Entries are appended in the caller's transaction, so
an action and its audit entry are written together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.store import tables as t

GENESIS = "0" * 64


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


def append(
    conn: Connection,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Append an entry after the last one; returns its sequence number. The last entry is
    read with a row lock on PostgreSQL so two writers cannot both link to it."""
    log = t.audit_log
    last = sa.select(log.c.hash).order_by(log.c.seq.desc()).limit(1)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
    prev = conn.execute(last).scalar() or GENESIS
    when = (at or datetime.now(UTC)).astimezone(UTC)
    text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str)
    digest = entry_hash(prev, when, actor, action, target, text)
    seq = conn.execute(
        log.insert()
        .values(
            at=when,
            actor=actor,
            action=action,
            target=target,
            detail=text,
            prev_hash=prev,
            hash=digest,
        )
        .returning(log.c.seq)
    ).scalar_one()
    return int(seq)


@dataclass(frozen=True, slots=True)
class Verdict:
    entries: int
    broken_at: int | None  # the first entry that does not follow, or None
    reason: str

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify(conn: Connection, batch: int = 10_000) -> Verdict:
    """Walk the chain from the first entry; report the first one that does not follow."""
    log = t.audit_log
    prev = GENESIS
    count = 0
    last_seq = 0
    while True:
        rows = (
            conn.execute(
                sa.select(log).where(log.c.seq > last_seq).order_by(log.c.seq).limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            return Verdict(count, None, f"{count} entries, chain intact")
        for row in rows:
            at = row["at"] if row["at"].tzinfo else row["at"].replace(tzinfo=UTC)
            if row["prev_hash"] != prev:
                return Verdict(
                    count,
                    int(row["seq"]),
                    f"entry {row['seq']} does not link to the entry before it "
                    "(an entry before it was deleted or edited)",
                )
            expected = entry_hash(
                prev, at, row["actor"], row["action"], row["target"], row["detail"]
            )
            if row["hash"] != expected:
                return Verdict(
                    count, int(row["seq"]), f"entry {row['seq']} was edited after it was written"
                )
            prev = row["hash"]
            count += 1
            last_seq = int(row["seq"])

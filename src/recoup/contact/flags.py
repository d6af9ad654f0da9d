"""A borrower's holds (dispute, bankruptcy, cease, attorney ...) and the account's contact
story on one screen: contact points with their status, holds, and every attempt.

A flag is set and later cleared, never deleted, so the history of holds stays readable;
setting a flag that is already set changes nothing (a command can be repeated safely).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.compliance import Flag
from recoup.store import tables as t


class FlagRefused(ValueError):
    """A flag change that cannot be made (the message says why)."""


def _borrower_of(conn: Connection, account_id: str) -> tuple[int, str]:
    a, b = t.accounts, t.borrowers
    row = conn.execute(
        sa.select(a.c.borrower_key, b.c.borrower_id)
        .join(b, b.c.borrower_key == a.c.borrower_key)
        .where(a.c.account_id == account_id)
    ).first()
    if row is None:
        raise FlagRefused(f"account {account_id!r} is not in the store")
    return int(row[0]), str(row[1])


def _flag(name: str) -> Flag:
    try:
        return Flag(name)
    except ValueError:
        known = ", ".join(f.value for f in Flag)
        raise FlagRefused(f"unknown flag {name!r}; flags are: {known}") from None


def change_flags(
    conn: Connection,
    account_id: str,
    to_set: Sequence[str],
    to_clear: Sequence[str],
    by: str | None,
    note: str | None,
    now: datetime,
) -> str:
    """Set and clear flags of the account's borrower; a line saying what changed."""
    borrower, borrower_id = _borrower_of(conn, account_id)
    setting = [_flag(name) for name in to_set]
    clearing = [_flag(name) for name in to_clear]
    both = set(setting) & set(clearing)
    if both:
        raise FlagRefused(f"flag {sorted(both)[0].value} is both set and cleared")
    f = t.borrower_flags
    active = set(
        conn.execute(
            sa.select(f.c.flag).where(f.c.borrower_key == borrower, f.c.cleared_at.is_(None))
        )
        .scalars()
        .all()
    )
    changed: list[str] = []
    for flag in setting:
        if flag.value in active:
            continue
        conn.execute(
            f.insert().values(
                borrower_key=borrower,
                flag=flag.value,
                set_at=now.astimezone(UTC),
                set_by=by,
                note=note,
            )
        )
        changed.append(f"+{flag.value}")
    for flag in clearing:
        if flag.value not in active:
            continue
        conn.execute(
            f.update()
            .where(f.c.borrower_key == borrower, f.c.flag == flag.value, f.c.cleared_at.is_(None))
            .values(cleared_at=now.astimezone(UTC), cleared_by=by)
        )
        changed.append(f"-{flag.value}")
    now_active = sorted((active | {f.value for f in setting}) - {f.value for f in clearing})
    what = ", ".join(changed) if changed else "no change"
    return f"borrower {borrower_id}: {what}; holds now: {', '.join(now_active) or 'none'}"


def contact_story(conn: Connection, account_id: str) -> dict[str, Any]:
    """The account's contact points, active flags and attempts, newest attempt first."""
    borrower, borrower_id = _borrower_of(conn, account_id)
    f, cp, ca, a = t.borrower_flags, t.contact_points, t.contact_attempts, t.accounts
    flags = (
        conn.execute(
            sa.select(f.c.flag)
            .where(f.c.borrower_key == borrower, f.c.cleared_at.is_(None))
            .order_by(f.c.flag)
        )
        .scalars()
        .all()
    )
    points = [
        {
            "kind": row.kind,
            "value": row.value,
            "party": row.party,
            "status": row.status,
            "source": row.source,
            "verified_on": row.verified_on.isoformat() if row.verified_on else None,
        }
        for row in conn.execute(
            sa.select(cp).where(cp.c.borrower_key == borrower).order_by(cp.c.contact_point_key)
        )
    ]
    attempts = [
        {
            "at": _utc(row.at).isoformat(),
            "channel": row.channel,
            "to": row.to_value,
            "party": row.party,
            "outcome": row.outcome,
            "collector": row.collector,
            "note": row.note,
        }
        for row in conn.execute(
            sa.select(ca)
            .join(a, a.c.account_key == ca.c.account_key)
            .where(a.c.account_id == account_id)
            .order_by(ca.c.at.desc(), ca.c.attempt_key.desc())
        )
    ]
    return {
        "account_id": account_id,
        "borrower_id": borrower_id,
        "flags": list(flags),
        "points": points,
        "attempts": attempts,
    }


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

"""Row-level access: which accounts and cases a user may read.

Roles that read the whole book (team leads, strategy, risk, compliance, admin) read any
account. A collector reads only the accounts of the open cases allocated to them, an agency
collector only those placed with their agency (``cases.owner`` and ``owner_kind``). Any other
attempt is refused and the refusal is written to the audit log in a transaction of its own, so
it stays recorded although the request fails.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from recoup.store import tables as t
from recoup.web import audit
from recoup.web.app import ApiError
from recoup.web.security import Permission, allowed
from recoup.web.users import User


def own_cases(user: User) -> sa.ColumnElement[bool]:
    """The condition on ``cases`` that selects the open cases the user works."""
    c = t.cases
    return sa.and_(
        c.c.status == "open", c.c.owner == user.owner_id, c.c.owner_kind == user.owner_kind
    )


def readable_account(engine: Engine, conn: Connection, user: User, account_id: str) -> int:
    """The key of ``account_id`` if ``user`` may read it; 404 when there is no such account,
    403 (recorded in the audit log) when it is not theirs."""
    a, c = t.accounts, t.cases
    key = conn.execute(sa.select(a.c.account_key).where(a.c.account_id == account_id)).scalar()
    if key is None:
        raise ApiError(404, "not_found", f"no account {account_id!r}")
    if allowed(user.role, Permission.READ_ALL_ACCOUNTS):
        return int(key)
    if allowed(user.role, Permission.READ_OWN_CASES) and user.owner_id:
        mine = conn.execute(
            sa.select(c.c.case_key).where(c.c.account_key == key, own_cases(user)).limit(1)
        ).first()
        if mine is not None:
            return int(key)
    with engine.begin() as log:
        audit.append(
            log,
            user.username,
            "access.refused",
            f"account:{account_id}",
            {"role": user.role.value},
            datetime.now(UTC),
        )
    raise ApiError(403, "forbidden", f"account {account_id} is not allocated to you")

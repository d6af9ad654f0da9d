"""Users, logins, API tokens and web sessions in the store.

A login checks the password against its Argon2 hash. Five failures in a row lock the user
for 15 minutes (login throttling), and every failure and lock is in the audit log. A token
(API bearer token or session cookie) is random; only its SHA-256 is stored, with its expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.store import tables as t
from recoup.web import audit
from recoup.web.security import (
    Role,
    hash_password,
    new_token,
    password_matches,
    token_hash,
)

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
API_TOKEN_HOURS = 12
SESSION_HOURS = 10


class UserRefused(ValueError):
    """A user that cannot be created or a login that is refused (the message says why)."""


@dataclass(frozen=True, slots=True)
class User:
    user_key: int
    username: str
    display_name: str
    role: Role
    owner_id: str | None  # the allocation's owner id of a collector's or an agency's cases

    @property
    def owner_kind(self) -> str | None:
        if self.role is Role.COLLECTOR:
            return "collector"
        if self.role is Role.AGENCY_COLLECTOR:
            return "agency"
        return None


def _user(row: sa.RowMapping) -> User:
    return User(
        int(row["user_key"]),
        row["username"],
        row["display_name"],
        Role(row["role"]),
        row["owner_id"],
    )


def add_user(
    conn: Connection,
    username: str,
    password: str,
    role: Role | str,
    *,
    display_name: str | None = None,
    owner_id: str | None = None,
    by: str = "recoup",
    now: datetime | None = None,
) -> User:
    try:
        role = Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise UserRefused(f"unknown role {role!r}; roles are: {roles}") from None
    if (
        not username
        or len(username) > 64
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise UserRefused(f"a username is 1-64 letters, digits, '-', '_' or '.'; got {username!r}")
    if role in (Role.COLLECTOR, Role.AGENCY_COLLECTOR) and not owner_id:
        raise UserRefused(
            f"a {role.value} needs --owner: the collector or agency id the allocation uses"
        )
    try:
        digest = hash_password(password)
    except ValueError as exc:
        raise UserRefused(str(exc)) from None
    u = t.users
    if conn.execute(sa.select(u.c.user_key).where(u.c.username == username)).first():
        raise UserRefused(f"user {username!r} exists already")
    at = (now or datetime.now(UTC)).astimezone(UTC)
    key = conn.execute(
        u.insert()
        .values(
            username=username,
            display_name=display_name or username,
            role=role.value,
            owner_id=owner_id,
            password_hash=digest,
            created_at=at,
        )
        .returning(u.c.user_key)
    ).scalar_one()
    audit.append(conn, by, "user.add", f"user:{username}", {"role": role.value}, at)
    return User(int(key), username, display_name or username, role, owner_id)


def authenticate(conn: Connection, username: str, password: str, now: datetime) -> User:
    """The user whose password this is; refused when unknown, inactive, locked or wrong.
    The message never says which of those it was."""
    u = t.users
    row = conn.execute(sa.select(u).where(u.c.username == username)).mappings().first()
    refused = UserRefused("wrong username or password, or the user is locked")
    if row is None or not row["active"]:
        audit.append(conn, username or "?", "login.refused", f"user:{username}", {}, now)
        raise refused
    locked = row["locked_until"]
    if locked is not None and (locked if locked.tzinfo else locked.replace(tzinfo=UTC)) > now:
        audit.append(conn, username, "login.locked", f"user:{username}", {}, now)
        raise refused
    if not password_matches(row["password_hash"], password):
        failures = int(row["failed_logins"]) + 1
        lock = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILED_LOGINS else None
        conn.execute(
            u.update()
            .where(u.c.user_key == row["user_key"])
            .values(failed_logins=0 if lock else failures, locked_until=lock)
        )
        audit.append(
            conn,
            username,
            "login.failed",
            f"user:{username}",
            {"failures": failures, "locked_until": lock.isoformat() if lock else None},
            now,
        )
        raise refused
    conn.execute(
        u.update().where(u.c.user_key == row["user_key"]).values(failed_logins=0, locked_until=None)
    )
    return _user(row)


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    csrf_token: str | None
    expires_at: datetime


def issue_token(conn: Connection, user: User, kind: str, now: datetime) -> Issued:
    """A new API token (``api``) or web session (``session``, with its form token)."""
    hours = API_TOKEN_HOURS if kind == "api" else SESSION_HOURS
    token = new_token()
    csrf = new_token() if kind == "session" else None
    expires = now + timedelta(hours=hours)
    conn.execute(
        t.user_tokens.insert().values(
            user_key=user.user_key,
            token_hash=token_hash(token),
            kind=kind,
            csrf_token=csrf,
            created_at=now,
            expires_at=expires,
        )
    )
    audit.append(conn, user.username, f"login.{kind}", f"user:{user.username}", {}, now)
    return Issued(token, csrf, expires)


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    kind: str
    csrf_token: str | None


def resolve_token(conn: Connection, token: str, now: datetime) -> Session | None:
    """The user of a live token of either kind, or None (unknown, expired or revoked)."""
    tok, u = t.user_tokens, t.users
    row = (
        conn.execute(
            sa.select(u, tok.c.kind, tok.c.csrf_token, tok.c.expires_at)
            .join(u, u.c.user_key == tok.c.user_key)
            .where(
                tok.c.token_hash == token_hash(token),
                tok.c.revoked_at.is_(None),
                u.c.active == 1,
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    expires = (
        row["expires_at"] if row["expires_at"].tzinfo else row["expires_at"].replace(tzinfo=UTC)
    )
    if expires <= now:
        return None
    return Session(_user(row), row["kind"], row["csrf_token"])


def revoke_token(conn: Connection, token: str, now: datetime) -> None:
    tok = t.user_tokens
    conn.execute(
        tok.update()
        .where(tok.c.token_hash == token_hash(token), tok.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )

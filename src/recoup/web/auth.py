"""Who is asking: the bearer token or the session cookie of a request, and what they may do.

A request authenticated by the session cookie (the web app) must also carry the session's
CSRF token for anything but GET and HEAD: in the ``X-CSRF-Token`` header or the form field
``csrf_token``. A bearer token (the API) needs none: a browser never sends it on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from recoup.web.app import ApiError, engine_of
from recoup.web.security import Permission, allowed, same_secret
from recoup.web.users import Session, User, resolve_token

SESSION_COOKIE = "recoup_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _token_of(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), "api"
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, "session"
    return None


def _resolve(engine: Engine, token: str) -> Session | None:
    with engine.connect() as conn:
        return resolve_token(conn, token, datetime.now(UTC))


async def current_session(request: Request) -> Session:
    found = _token_of(request)
    if found is None:
        raise ApiError(401, "unauthorised", "log in first: no bearer token or session cookie")
    token, kind = found
    # A blocking database read: in the thread pool, not on the event loop every other
    # request of the process is waiting on.
    session = await run_in_threadpool(_resolve, engine_of(request), token)
    if session is None or session.kind != kind:
        raise ApiError(401, "unauthorised", "the token or session is unknown, expired or revoked")
    if kind == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
        if not sent or not session.csrf_token or not same_secret(sent, session.csrf_token):
            raise ApiError(403, "forbidden", "the form's CSRF token is missing or wrong")
    request.state.username = session.user.username
    return session


async def current_user(session: Annotated[Session, Depends(current_session)]) -> User:
    return session.user


CurrentUser = Annotated[User, Depends(current_user)]


def requires(permission: Permission) -> Callable[..., object]:
    """A dependency that lets through only users whose role has ``permission``."""

    async def check(user: CurrentUser) -> User:
        if not allowed(user.role, permission):
            raise ApiError(
                403,
                "forbidden",
                f"a {user.role.value} may not {permission.value.replace('_', ' ')}",
            )
        return user

    return check

"""What the REST API's routers share: the error model, the checked field types, the
dependencies that name who may call, and the few store reads every router needs.

Every field a client sends is bounded here (lengths, characters, the range of dates and
amounts), so a request that a service could not take is refused with 422
``invalid_request`` before it reaches the service, never with a 500.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Path
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints

from recoup.money import MoneyError, format_cents, parse_cents
from recoup.store import tables as t
from recoup.web.app import ApiError
from recoup.web.auth import requires
from recoup.web.security import Permission
from recoup.web.users import User

if TYPE_CHECKING:
    from recoup.compliance import Profile


class ErrorDetail(BaseModel):
    code: str = Field(description="stable: invalid_request, unauthorised, forbidden, ...")
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


#: The error responses every operation of the API may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not logged in"},
    403: {"model": ErrorOut, "description": "the role may not, or the account is not theirs"},
    404: {"model": ErrorOut, "description": "no such account or record"},
    409: {"model": ErrorOut, "description": "conflicts with the stored state"},
    422: {"model": ErrorOut, "description": "the request is malformed (the message says where)"},
}

# --------------------------------------------------------------------------- field types

#: An identifier: an account, a payment or a borrower id as the lender's files give them.
_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_NO_CONTROL)]
AccountId = Annotated[str, Path(min_length=1, max_length=64, pattern=_NO_CONTROL)]
#: A key chosen by the client to make a POST safe to repeat.
IDEMPOTENCY_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
#: Free text (a note, a reason): no control characters but tab and newline.
Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")]
#: An amount in currency units as text, "1234.50": never a float.
Amount = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{1,10}(\.[0-9]{1,2})?$"),
    Field(description="currency units as text with at most two decimals, e.g. `1200.00`"),
]
#: A share as text: "0.2" or "20%".
Share = Annotated[
    str,
    StringConstraints(
        pattern=r"^(100(\.0{1,2})?%|[0-9]{1,2}(\.[0-9]{1,2})?%|0(\.[0-9]{1,6})?|1(\.0{1,6})?)$"
    ),
    Field(description="a share between 0 and 1 (`0.2`) or a percentage (`20%`)"),
]

FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2999, 12, 31)


def _sane_day(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"a date between {FIRST_DAY} and {LAST_DAY}")
    return value


def _sane_instant(value: datetime) -> datetime:
    _sane_day(value.date())
    return value


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive UTC times; an answer always carries its offset."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Day = Annotated[date, AfterValidator(_sane_day)]
#: A time in an answer: always with its UTC offset (RFC 3339).
Stamp = Annotated[datetime, AfterValidator(_aware)]
Instant = Annotated[AwareDatetime, AfterValidator(_sane_instant)]


def cents(text: str, field: str, *, positive: bool = True) -> int:
    """Whole cents of an :data:`Amount` (the pattern has checked its form)."""
    try:
        value = parse_cents(text)
    except MoneyError as exc:
        raise ApiError(422, "invalid_request", f"{field}: {exc}") from None
    if positive and value <= 0:
        raise ApiError(422, "invalid_request", f"{field}: must be more than 0.00")
    return value


def share(text: str, field: str) -> Any:
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise ApiError(422, "invalid_request", f"{field}: not a share: {text!r}") from None
    if not Decimal(0) <= value <= Decimal(1):
        raise ApiError(422, "invalid_request", f"{field}: a share is between 0 and 1")
    return value


def money(value: int) -> str:
    return format_cents(int(value))


# --------------------------------------------------------------------------- who may call


Contactor = Annotated[User, Depends(requires(Permission.CONTACT))]
Approver = Annotated[User, Depends(requires(Permission.APPROVE))]
Poster = Annotated[User, Depends(requires(Permission.POST_PAYMENTS))]
ReportReader = Annotated[User, Depends(requires(Permission.READ_REPORTS))]
StrategyManager = Annotated[User, Depends(requires(Permission.MANAGE_STRATEGY))]


def acting_collector(user: User) -> str:
    """The name a contact, a promise or an ask is recorded under: the allocation's owner id
    of a collector (so that performance counts it), else the username."""
    return user.owner_id or user.username


# --------------------------------------------------------------------------- store reads


def last_closed(conn: sa.Connection) -> date:
    from recoup.close import last_closed_day

    closed = last_closed_day(conn)
    if closed is None:
        raise ApiError(409, "conflict", "no day has been closed yet: the ledger is empty")
    return closed


def open_day(conn: sa.Connection) -> date:
    """The ledger's business day: the first day no close has covered."""
    return last_closed(conn) + timedelta(days=1)


def open_case(conn: sa.Connection, account_key: int) -> int | None:
    c = t.cases
    key = conn.execute(
        sa.select(c.c.case_key).where(c.c.account_key == account_key, c.c.status == "open")
    ).scalar()
    return None if key is None else int(key)


def now() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=4)
def _profile(name: str) -> Profile:
    from pathlib import Path as FilePath

    from recoup.compliance import PROFILE_NAMES, load_profile, shipped_profile

    if name in PROFILE_NAMES:
        return shipped_profile(name)
    return load_profile(FilePath(name))


def policy_profile() -> Profile:
    """The compliance profile in force: ``RECOUP_POLICY`` (a shipped name or a profile file),
    else ``cn`` — as for the command line."""
    return _profile(os.environ.get("RECOUP_POLICY") or "cn")

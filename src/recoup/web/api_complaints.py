"""Complaints through the API: record one on an account, list an account's, list every
complaint for those who handle them, resolve one.

- ``POST /accounts/{account_id}/complaints``: those who talk with borrowers (collectors,
  agency collectors and team leads, on the accounts they may read) and those who handle
  complaints (compliance officers) record a complaint (:func:`record_complaint`). The ``key``
  makes a repeat harmless: 200 with ``recorded: false`` and the stored complaint; the same
  key for another complaint is 409 ``conflict``.
- ``GET /accounts/{account_id}/complaints``: the account's complaints, for anyone who may read
  the account.
- ``GET /complaints``: every complaint, filtered by status, category and the days received,
  for compliance officers, team leads and admins (``handle_complaints``).
- ``POST /complaints/{complaint_key}/resolution``: resolve a complaint once (the same again is
  200 unchanged; another way is 409 ``conflict``), for the same roles.

The description and the resolution note are personal text: they are answered only to roles
that may reveal personal data, and answering them is written to the audit log
(``personal_data.reveal``); other roles get ``null`` and ``text_withheld: true``. Every change
is audited (``complaint.record``, ``complaint.resolve``) without the text itself.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from recoup.contact.complaints import (
    ComplaintCategory,
    ComplaintChannel,
    ComplaintConflict,
    ComplaintNotFound,
    ComplaintRefused,
    ComplaintResolution,
    ComplaintStatus,
)
from recoup.web import audit
from recoup.web.access import readable_account
from recoup.web.api_common import (
    ERROR_RESPONSES,
    AccountId,
    Day,
    Instant,
    Stamp,
    Text,
    now,
)
from recoup.web.app import ApiError, engine_of
from recoup.web.auth import CurrentUser, requires
from recoup.web.security import Permission, allowed
from recoup.web.users import User

if TYPE_CHECKING:
    import sqlalchemy as sa

    from recoup.contact.complaints import Complaint

router = APIRouter(prefix="/api/v1", tags=["complaints"], responses=ERROR_RESPONSES)

ComplaintKey = Annotated[int, Path(ge=1, le=2_147_483_647)]
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


async def _may_record(user: CurrentUser) -> User:
    """Those who contact borrowers and those who handle complaints record them."""
    if not (
        allowed(user.role, Permission.CONTACT) or allowed(user.role, Permission.HANDLE_COMPLAINTS)
    ):
        raise ApiError(403, "forbidden", f"a {user.role.value} may not record complaints")
    return user


Recorder = Annotated[User, Depends(_may_record)]
Handler = Annotated[User, Depends(requires(Permission.HANDLE_COMPLAINTS))]


class ComplaintCreate(BaseModel):
    category: ComplaintCategory
    channel: ComplaintChannel = Field(description="how the complaint came in")
    received_at: Instant | None = Field(default=None, description="default: now")
    attempt_key: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = Field(
        default=None, description="the contact attempt it is about, by number"
    )
    attempt_ref: (
        Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")] | None
    ) = Field(default=None, description="or by the key the attempt was recorded under")
    description: Text | None = Field(default=None, description="the borrower's words")
    key: Key | None = Field(
        default=None, description="an idempotency key; default one made from the complaint"
    )


class ResolutionCreate(BaseModel):
    resolution: ComplaintResolution
    resolved_on: Day | None = Field(default=None, description="default: today (UTC)")
    note: Text | None = Field(default=None, description="what was found and done")


class ComplaintPublic(BaseModel):
    complaint_key: int
    key: str
    account_id: str
    case_key: int | None
    received_at: Stamp
    channel: str
    attempt_key: int | None
    category: str
    status: str
    description: str | None
    resolved_on: date | None
    resolution: str | None
    resolution_note: str | None
    resolved_by: str | None
    created_by: str
    created_at: Stamp
    text_withheld: bool = Field(
        description="true: the description and note exist but the role may not read them"
    )


class ComplaintRecorded(BaseModel):
    recorded: bool = Field(description="false: the key was recorded before; nothing changed")
    complaint: ComplaintPublic


class ComplaintsPublic(BaseModel):
    complaints: list[ComplaintPublic]


def _public(complaint: Complaint, reveal: bool) -> ComplaintPublic:
    has_text = complaint.description is not None or complaint.resolution_note is not None
    return ComplaintPublic(
        complaint_key=complaint.complaint_key,
        key=complaint.key,
        account_id=complaint.account_id,
        case_key=complaint.case_key,
        received_at=complaint.received_at,
        channel=complaint.channel,
        attempt_key=complaint.attempt_key,
        category=complaint.category,
        status=complaint.status,
        description=complaint.description if reveal else None,
        resolved_on=complaint.resolved_on,
        resolution=complaint.resolution,
        resolution_note=complaint.resolution_note if reveal else None,
        resolved_by=complaint.resolved_by,
        created_by=complaint.created_by,
        created_at=complaint.created_at,
        text_withheld=has_text and not reveal,
    )


def _answer(
    conn: sa.Connection, user: User, complaints: list[Complaint], target: str
) -> list[ComplaintPublic]:
    """The complaints as ``user`` may see them; showing any text is audited as a reveal."""
    reveal = allowed(user.role, Permission.REVEAL_PERSONAL_DATA)
    shown = [
        c.complaint_key
        for c in complaints
        if c.description is not None or c.resolution_note is not None
    ]
    if reveal and shown:
        audit.append(
            conn,
            user.username,
            "personal_data.reveal",
            target,
            {"fields": ["complaint.description", "complaint.resolution_note"], "complaints": shown},
        )
    return [_public(c, reveal) for c in complaints]


def _refused(exc: ComplaintRefused) -> ApiError:
    if isinstance(exc, ComplaintConflict):
        return ApiError(409, "conflict", str(exc))
    if isinstance(exc, ComplaintNotFound):
        return ApiError(404, "not_found", str(exc))
    return ApiError(422, "invalid_request", str(exc))


@router.post(
    "/accounts/{account_id}/complaints",
    response_model=ComplaintRecorded,
    status_code=201,
    responses={200: {"model": ComplaintRecorded, "description": "already recorded (same key)"}},
)
def record(account_id: AccountId, body: ComplaintCreate, request: Request, user: Recorder) -> Any:
    """Record a complaint on the account (its case: the attempt's, else the open one)."""
    from recoup.contact.complaints import ComplaintSpec, record_complaint

    engine = engine_of(request)
    at = now()
    spec = ComplaintSpec(
        account_id=account_id,
        received_at=body.received_at or at,
        channel=body.channel,
        category=body.category,
        created_by=user.username,
        description=body.description,
        attempt_key=body.attempt_key,
        attempt_ref=body.attempt_ref,
        key=body.key,
    )
    with engine.begin() as conn:
        readable_account(engine, conn, user, account_id)
        try:
            complaint, added = record_complaint(conn, spec, at)
        except ComplaintRefused as exc:
            raise _refused(exc) from None
        if added:
            audit.append(
                conn,
                user.username,
                "complaint.record",
                f"account:{account_id}",
                {
                    "complaint_key": complaint.complaint_key,
                    "category": complaint.category,
                    "channel": complaint.channel,
                    "attempt_key": complaint.attempt_key,
                },
            )
    answer = ComplaintRecorded(
        recorded=added,
        complaint=_public(complaint, allowed(user.role, Permission.REVEAL_PERSONAL_DATA)),
    )
    if not added:
        return JSONResponse(answer.model_dump(mode="json"), status_code=200)
    return answer


@router.get("/accounts/{account_id}/complaints", response_model=ComplaintsPublic)
def account_complaints(
    account_id: AccountId, request: Request, user: CurrentUser
) -> ComplaintsPublic:
    """The account's complaints, latest received first."""
    from recoup.contact.complaints import list_complaints

    engine = engine_of(request)
    with engine.begin() as conn:
        readable_account(engine, conn, user, account_id)
        found = list_complaints(conn, account_id=account_id, limit=500)
        return ComplaintsPublic(complaints=_answer(conn, user, found, f"account:{account_id}"))


@router.get("/complaints", response_model=ComplaintsPublic)
def complaints(
    request: Request,
    user: Handler,
    status: Annotated[ComplaintStatus | None, Query()] = None,
    category: Annotated[ComplaintCategory | None, Query()] = None,
    received_from: Annotated[
        Day | None, Query(alias="from", description="received on or after (UTC day)")
    ] = None,
    received_to: Annotated[
        Day | None, Query(alias="to", description="received on or before (UTC day)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ComplaintsPublic:
    """Every complaint matching the filters, latest received first."""
    from recoup.contact.complaints import list_complaints

    if received_from and received_to and received_from > received_to:
        raise ApiError(422, "invalid_request", f"from {received_from} is after to {received_to}")
    with engine_of(request).begin() as conn:
        found = list_complaints(
            conn,
            status=status,
            category=category,
            received_from=received_from,
            received_to=received_to,
            limit=limit,
        )
        return ComplaintsPublic(complaints=_answer(conn, user, found, "complaints"))


@router.post("/complaints/{complaint_key}/resolution", response_model=ComplaintPublic)
def resolve(
    complaint_key: ComplaintKey, body: ResolutionCreate, request: Request, user: Handler
) -> ComplaintPublic:
    """Resolve the complaint: its outcome, the day (default today) and a note."""
    from recoup.contact.complaints import list_complaints, resolve_complaint

    engine = engine_of(request)
    at = now()
    with engine.begin() as conn:
        found = list_complaints(conn, complaint_key=complaint_key)
        if not found:
            raise ApiError(404, "not_found", f"no complaint {complaint_key}")
        readable_account(engine, conn, user, found[0].account_id)
        try:
            complaint, changed = resolve_complaint(
                conn,
                complaint_key,
                body.resolution,
                body.resolved_on or at.date(),
                body.note,
                user.username,
                at,
            )
        except ComplaintRefused as exc:
            raise _refused(exc) from None
        if changed:
            audit.append(
                conn,
                user.username,
                "complaint.resolve",
                f"account:{complaint.account_id}",
                {
                    "complaint_key": complaint_key,
                    "resolution": complaint.resolution,
                    "resolved_on": complaint.resolved_on,
                },
            )
    return _public(complaint, allowed(user.role, Permission.REVEAL_PERSONAL_DATA))

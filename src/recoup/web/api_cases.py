"""Collection cases through the API: the list with filters, one case with its history, and a
team lead's reassignment of a case to a collector or an agency.

Row-level access is the accounts' (:mod:`recoup.web.access`): roles that read the whole book
read every case; a collector reads only the open cases allocated to them, an agency
collector those placed with their agency. A case that is not theirs is refused with 403 and
the refusal is written to the audit log, as is a collector's attempt to list another owner's
cases.

A reassignment is judged by the teams file in force (``RECOUP_TEAMS``, a teams file; else
the shipped example, as for ``recoup allocate``) through
:func:`recoup.collection.reassignment.reassign_case`, the service the team page's form calls
too, and is audited (``case.reassign``) in the same transaction. Giving a case to the owner
it already has changes nothing and writes nothing (``changed: false``), so a repeat is
harmless.
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from recoup.allocation import TeamsConfig
from recoup.store import tables as t
from recoup.web import audit
from recoup.web.access import own_cases
from recoup.web.api_common import (
    ERROR_RESPONSES,
    Identifier,
    Text,
    money,
    now,
    policy_profile,
)
from recoup.web.api_contacts import AttemptOut, PromiseOut, _promises, latest_attempts
from recoup.web.app import ApiError, engine_of
from recoup.web.auth import CurrentUser, requires
from recoup.web.security import Permission, allowed
from recoup.web.users import User

router = APIRouter(prefix="/api/v1", tags=["cases"], responses=ERROR_RESPONSES)

CaseId = Annotated[int, Path(ge=1, le=9_223_372_036_854_775_807, description="the case's key")]
Assigner = Annotated[User, Depends(requires(Permission.ASSIGN_CASES))]
#: How many rows of each kind of history one case answers: the latest ones.
HISTORY_LIMIT = 200


# --------------------------------------------------------------------------- teams file


@lru_cache(maxsize=4)
def _teams(path: str) -> TeamsConfig:
    from recoup.allocation import load_teams

    return load_teams(FilePath(path))


def teams_in_force() -> TeamsConfig:
    """The teams file reassignments are judged by: ``RECOUP_TEAMS``, else the shipped
    example (the default of ``recoup allocate`` and ``recoup daily``). A file that cannot be
    read answers 409 with the file's own message."""
    from recoup.allocation import teams_path_in_force
    from recoup.yamlfile import YamlFileError

    path = str(teams_path_in_force(os.environ))
    try:
        return _teams(path)
    except (YamlFileError, OSError) as exc:
        raise ApiError(409, "conflict", f"the teams file is not usable: {exc}") from None


# --------------------------------------------------------------------------- models


class NextActionOut(BaseModel):
    on: date
    step: str
    channel: str
    status: str = Field(description="the compliance gate's word: allowed, blocked, ...")


class CaseOut(BaseModel):
    case_id: int
    account_id: str
    status: str = Field(description="open or closed")
    bucket: str = Field(description="the account's bucket at the last close")
    dpd: int
    overdue: str
    owner: str | None = Field(description="the collector's or agency's id; null: unallocated")
    owner_kind: str | None = Field(description="collector or agency")
    team: str | None
    owned_since: date | None
    opened_on: date
    opened_because: str
    closed_on: date | None
    closed_because: str | None
    segment: str | None
    path: str | None = Field(description="the treatment path in force (an event's, if any)")
    next_action: NextActionOut | None = Field(
        description="the first action planned from the last closed day on, if any"
    )


class CasesPage(BaseModel):
    as_of: date | None = Field(description="the last closed day")
    total: int = Field(description="cases matching the filters, over every page")
    page: int
    limit: int
    cases: list[CaseOut]


class CaseEventOut(BaseModel):
    on: date
    kind: str
    detail: str


class AllocationOut(BaseModel):
    as_of: date
    decision: str = Field(description="kept, assigned, rotated, placed, recalled, unallocated")
    owner: str | None
    owner_kind: str | None
    team: str | None
    previous_owner: str | None
    commission_ppm: int | None = Field(description="an agency's rate, parts per million")
    reason: str
    run_id: int | None = Field(description="the nightly run's decision: the run")
    decided_by: str | None = Field(description="a team lead's reassignment: who decided it")


class ActionOut(BaseModel):
    planned_for: date
    step: str
    channel: str
    template: str
    queue: str | None
    status: str
    reason: str


class CaseDetail(CaseOut):
    dispute: bool
    vulnerable: bool
    last_contact_on: date | None
    last_progress_on: date | None
    events: list[CaseEventOut] = Field(description="the latest 200, oldest first")
    allocations: list[AllocationOut] = Field(
        description="the ownership decisions (the nightly run's and the team leads'), "
        "the latest 200, oldest first"
    )
    actions: list[ActionOut] = Field(description="the strategy's actions, the latest 200 first")
    contacts: list[AttemptOut] = Field(description="attempts on the case, the latest 200 first")
    promises: list[PromiseOut]


class AssignmentIn(BaseModel):
    owner: Identifier = Field(description="a collector's or an agency's id in the teams file")
    reason: Text = ""
    from_owner: Identifier | None = Field(
        default=None,
        description="the owner the caller saw: refused (409) if the case moved since",
    )


class AssignmentOut(BaseModel):
    case: CaseOut
    changed: bool = Field(description="false: the case already had this owner")
    decision: str = Field(description="assigned, placed or recalled")
    previous_owner: str | None
    previous_owner_kind: str | None
    reason: str
    note: str | None = Field(description="what the next allocation run may do with the case")
    effective_on: date = Field(description="the ledger's open day, when the owner works it")


# --------------------------------------------------------------------------- access


def _refuse(request: Request, user: User, target: str, message: str) -> ApiError:
    """A refused read, written to the audit log in a transaction of its own (it stays
    recorded although the request fails)."""
    with engine_of(request).begin() as log:
        audit.append(log, user.username, "access.refused", target, {"role": user.role.value})
    return ApiError(403, "forbidden", message)


def _scope(request: Request, user: User, owner: str | None) -> list[sa.ColumnElement[bool]]:
    """The condition on ``cases`` of what the user may list."""
    if allowed(user.role, Permission.READ_ALL_ACCOUNTS):
        return []
    if allowed(user.role, Permission.READ_OWN_CASES) and user.owner_id:
        if owner is not None and owner != user.owner_id:
            raise _refuse(
                request, user, f"cases:owner={owner}", f"the cases of {owner} are not yours"
            )
        return [own_cases(user)]
    raise ApiError(403, "forbidden", f"a {user.role.value} has no cases allocated")


def _readable_case(request: Request, conn: sa.Connection, user: User, case_id: int) -> None:
    """404 when there is no such case; 403 (recorded) when it is not the user's."""
    c = t.cases
    if conn.execute(sa.select(c.c.case_key).where(c.c.case_key == case_id)).first() is None:
        raise ApiError(404, "not_found", f"no case {case_id}")
    if allowed(user.role, Permission.READ_ALL_ACCOUNTS):
        return
    if allowed(user.role, Permission.READ_OWN_CASES) and user.owner_id:
        mine = conn.execute(
            sa.select(c.c.case_key).where(c.c.case_key == case_id, own_cases(user))
        ).first()
        if mine is not None:
            return
    raise _refuse(request, user, f"case:{case_id}", f"case {case_id} is not allocated to you")


# --------------------------------------------------------------------------- reads


def _last_closed(conn: sa.Connection) -> date | None:
    from recoup.close import last_closed_day

    return last_closed_day(conn)


def _next_actions(
    conn: sa.Connection, case_keys: list[int], as_of: date | None
) -> dict[int, NextActionOut]:
    """Each case's first action planned from ``as_of`` on: the earliest day, then the most
    urgent step of that day."""
    if as_of is None or not case_keys:
        return {}
    ac = t.actions
    found: dict[int, NextActionOut] = {}
    for row in conn.execute(
        sa.select(ac.c.case_key, ac.c.planned_for, ac.c.step, ac.c.channel, ac.c.status)
        .where(ac.c.case_key.in_(case_keys), ac.c.planned_for >= as_of)
        .order_by(ac.c.case_key, ac.c.planned_for, ac.c.priority.desc(), ac.c.step)
    ):
        found.setdefault(
            int(row.case_key),
            NextActionOut(
                on=row.planned_for, step=row.step, channel=row.channel, status=row.status
            ),
        )
    return found


def _case_columns() -> list[Any]:
    c, a = t.cases, t.accounts
    return [c, a.c.account_id, a.c.bucket, a.c.dpd, a.c.overdue_cents]


def _case_out(row: sa.RowMapping, next_action: NextActionOut | None) -> CaseOut:
    return CaseOut(
        case_id=row["case_key"],
        account_id=row["account_id"],
        status=row["status"],
        bucket=row["bucket"],
        dpd=row["dpd"],
        overdue=money(row["overdue_cents"]),
        owner=row["owner"],
        owner_kind=row["owner_kind"],
        team=row["team"],
        owned_since=row["owned_since"],
        opened_on=row["opened_on"],
        opened_because=row["opened_because"],
        closed_on=row["closed_on"],
        closed_because=row["closed_because"],
        segment=row["segment"],
        path=row["path_override"] or row["path"],
        next_action=next_action,
    )


def _one_case(conn: sa.Connection, case_id: int) -> sa.RowMapping:
    c, a = t.cases, t.accounts
    return (
        conn.execute(
            sa.select(*_case_columns())
            .join(a, a.c.account_key == c.c.account_key)
            .where(c.c.case_key == case_id)
        )
        .mappings()
        .one()
    )


# --------------------------------------------------------------------------- endpoints


@router.get("/cases", response_model=CasesPage)
def list_cases(
    request: Request,
    user: CurrentUser,
    status: Annotated[Literal["open", "closed", "all"], Query()] = "open",
    bucket: Annotated[Identifier | None, Query(description="e.g. M1")] = None,
    owner: Annotated[Identifier | None, Query(description="one collector's or agency's")] = None,
    owner_kind: Annotated[
        Literal["collector", "agency", "none"] | None,
        Query(description="`none`: the cases no one holds"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CasesPage:
    """Cases with their account's state and next action, oldest case first (by case id), a
    page at a time. A collector lists only the open cases allocated to them."""
    c, a = t.cases, t.accounts
    where = _scope(request, user, owner)
    if status != "all":
        where.append(c.c.status == status)
    if bucket is not None:
        where.append(a.c.bucket == bucket)
    if owner is not None:
        where.append(c.c.owner == owner)
    if owner_kind == "none":
        where.append(c.c.owner.is_(None))
    elif owner_kind is not None:
        where.append(c.c.owner_kind == owner_kind)
    joined = c.join(a, a.c.account_key == c.c.account_key)
    with engine_of(request).connect() as conn:
        as_of = _last_closed(conn)
        total = conn.execute(
            sa.select(sa.func.count()).select_from(joined).where(*where)
        ).scalar_one()
        rows = (
            conn.execute(
                sa.select(*_case_columns())
                .select_from(joined)
                .where(*where)
                .order_by(c.c.case_key)
                .offset((page - 1) * limit)
                .limit(limit)
            )
            .mappings()
            .all()
        )
        steps = _next_actions(conn, [int(r["case_key"]) for r in rows], as_of)
    return CasesPage(
        as_of=as_of,
        total=int(total),
        page=page,
        limit=limit,
        cases=[_case_out(r, steps.get(int(r["case_key"]))) for r in rows],
    )


@router.get("/cases/{case_id}", response_model=CaseDetail)
def one_case(case_id: CaseId, request: Request, user: CurrentUser) -> CaseDetail:
    """One case with its history: case events, its ownership decisions (the nightly
    allocation's and the team leads'), the strategy's actions, the contact attempts made on
    it (recipients masked) and its promises."""
    ev, al, ac, ca, pr = (
        t.case_events,
        t.allocations,
        t.actions,
        t.contact_attempts,
        t.promises,
    )
    with engine_of(request).connect() as conn:
        _readable_case(request, conn, user, case_id)
        row = _one_case(conn, case_id)
        as_of = _last_closed(conn)
        events = [
            CaseEventOut(on=r.happened_on, kind=r.kind, detail=r.detail)
            for r in conn.execute(
                sa.select(ev.c.happened_on, ev.c.kind, ev.c.detail)
                .where(ev.c.case_key == case_id)
                .order_by(ev.c.happened_on.desc(), ev.c.event_key.desc())
                .limit(HISTORY_LIMIT)
            )
        ][::-1]
        allocations = [
            AllocationOut(
                as_of=r.as_of,
                decision=r.decision,
                owner=r.owner,
                owner_kind=r.owner_kind,
                team=r.team,
                previous_owner=r.previous_owner,
                commission_ppm=r.commission_ppm,
                reason=r.reason,
                run_id=r.run_id,
                decided_by=r.decided_by,
            )
            for r in conn.execute(
                sa.select(al)
                .where(al.c.case_key == case_id)
                .order_by(al.c.as_of.desc(), al.c.seq.desc())
                .limit(HISTORY_LIMIT)
            )
        ][::-1]
        actions = [
            ActionOut(
                planned_for=r.planned_for,
                step=r.step,
                channel=r.channel,
                template=r.template,
                queue=r.queue,
                status=r.status,
                reason=r.reason,
            )
            for r in conn.execute(
                sa.select(ac)
                .where(ac.c.case_key == case_id)
                .order_by(ac.c.planned_for.desc(), ac.c.priority.desc(), ac.c.step)
                .limit(HISTORY_LIMIT)
            )
        ]
        contacts = latest_attempts(conn, ca.c.case_key == case_id, HISTORY_LIMIT)
        on_case = set(
            conn.execute(sa.select(pr.c.promise_key).where(pr.c.case_key == case_id)).scalars()
        )
        promises = [p for p in _promises(conn, int(row["account_key"])) if p.promise_key in on_case]
        step = _next_actions(conn, [case_id], as_of).get(case_id)
    return CaseDetail(
        **_case_out(row, step).model_dump(),
        dispute=bool(row["dispute"]),
        vulnerable=bool(row["vulnerable"]),
        last_contact_on=row["last_contact_on"],
        last_progress_on=row["last_progress_on"],
        events=events,
        allocations=allocations,
        actions=actions,
        contacts=contacts,
        promises=promises,
    )


@router.post("/cases/{case_id}/assignment", response_model=AssignmentOut)
def assign_case(
    case_id: CaseId, body: AssignmentIn, request: Request, user: Assigner
) -> AssignmentOut:
    """Give the case to a collector, or place it with an agency, of the teams file in force
    (team leads). The teams file's skills, buckets and capacities apply, and a placement
    needs the borrower's outsourcing notice (CN-OUTSOURCE); a refusal is 409 ``refused``
    with the rule. Giving the case to the owner it has changes nothing (``changed: false``).
    """
    from recoup.allocation import ReassignmentRefused, UnknownOwner
    from recoup.collection.reassignment import (
        CaseMoved,
        CaseNotFound,
        CaseNotOpen,
        reassign_case,
    )

    config = teams_in_force()
    with engine_of(request).begin() as conn:
        _readable_case(request, conn, user, case_id)
        try:
            done = reassign_case(
                conn,
                case_id,
                body.owner,
                config,
                by=user.username,
                why=body.reason,
                now=now(),
                policy=policy_profile(),
                expected_owner=body.from_owner,
            )
        except CaseNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        except (CaseNotOpen, CaseMoved) as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        except UnknownOwner as exc:
            raise ApiError(422, "invalid_request", f"owner: {exc}") from None
        except ReassignmentRefused as exc:
            raise ApiError(409, "refused", str(exc)) from None
        if done.changed:
            audit.append(
                conn,
                user.username,
                "case.reassign",
                f"account:{done.account_id}",
                done.detail(),
            )
        row = _one_case(conn, case_id)
        step = _next_actions(conn, [case_id], _last_closed(conn)).get(case_id)
    return AssignmentOut(
        case=_case_out(row, step),
        changed=done.changed,
        decision=done.decision,
        previous_owner=done.previous_owner,
        previous_owner_kind=done.previous_owner_kind,
        reason=done.reason,
        note=done.note,
        effective_on=done.on,
    )

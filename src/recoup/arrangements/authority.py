"""Who may grant what: the authority matrix, and the approval of what lies beyond it.

An arrangement (a promise to pay, a personalised repayment plan, a settlement, a waiver)
concedes something to a borrower. The authority file, owned by the compliance or operations
manager, says per role, per kind and per range of buckets how far that role may go on its own:

- ``max_amount``: the money the lender gives up (the waived amount, the settlement discount,
  what a plan forgoes), in cents, at most this;
- ``max_share``: a waiver's share of the component waived (penalty interest, late fees, fees);
- ``max_discount``: a settlement's discount as a share of the balance;
- ``max_term_months``: a plan's term.

Each edge is exact and inclusive: exactly at the limit is within it; one cent, one basis point
(0.01%) or one month over is not. A dimension a limit leaves out is not bounded by it. A role
with no limit for a kind, or whose limits do not cover the account's bucket, may not grant that
kind there at all.

An ask within the requester's authority is granted at once; one beyond it becomes a
:class:`Request` that a role named in ``approvers`` decides, provided the approver's own
authority covers the ask. Nobody decides their own request. The two-person rule: an ask that
gives up more than ``two_person_above`` needs two people with authority for it, so it is never
granted by one person at once: beyond the requester's authority it needs two distinct
approvers, within it one approver besides the requester. Every grant, approval and rejection is
a :class:`Step` of the request's record; the functions here return new records and never
change one, so the store can persist each state as it is.

The file format (the shipped ``default_authority.yaml`` is a commented example)::

    buckets: [M0, M1, M2, M3, M4, M5, M6, M7+]   # optional; the default delinquency buckets
    roles: [collector, senior_collector, team_lead, manager, head_of_collections]  # lowest first
    approvers:                      # approver role: the roles whose requests it may decide
      team_lead: [collector, senior_collector]
      manager: [collector, senior_collector, team_lead]
    two_person_above: "50000.00"    # an ask giving up more than this needs two people
    limits:
      - {role: collector, kind: waiver, buckets: {from: M1, to: M3},
         max_amount: "200.00", max_share: "50%"}
      - {role: collector, kind: settlement, buckets: {from: M4, to: M7+}, max_discount: "20%"}
      - {role: collector, kind: plan, max_term_months: 24}      # no buckets: every bucket
      - {role: collector, kind: promise}                        # a kind without dimensions

Amounts are quoted text with at most two decimals; shares are quoted percentages with at most
two decimals (a basis point), from 0% to 100%. An approver may not rank below a role it
approves. A file with any error is rejected whole, and every error names the file, the line and
the field.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from recoup.money import MoneyError, format_cents, parse_cents
from recoup.products.spec import DEFAULT_BUCKETS, MAX_TERM
from recoup.yamlfile import (
    FieldReader,
    LocatedYaml,
    YamlPath,
    load_located,
    read_text_file,
)

DEFAULT_BUCKET_NAMES: tuple[str, ...] = tuple(bucket.name for bucket in DEFAULT_BUCKETS)
#: A basis point: the finest step of a share in the file (0.01%).
BASIS_POINT = Decimal("0.0001")

T = TypeVar("T")


class ArrangementKind(enum.StrEnum):
    PROMISE = "promise"  # a promise to pay (PTP)
    PLAN = "plan"  # a personalised repayment plan (a restructure)
    SETTLEMENT = "settlement"  # a discounted lump sum or short plan
    WAIVER = "waiver"  # of penalty interest, late fees or fees


#: How messages name a kind.
KIND_NOUNS: Mapping[ArrangementKind, str] = {
    ArrangementKind.PROMISE: "promises to pay",
    ArrangementKind.PLAN: "repayment plans",
    ArrangementKind.SETTLEMENT: "settlements",
    ArrangementKind.WAIVER: "waivers",
}

#: How messages name the money a kind gives up.
_AMOUNT_NOUNS: Mapping[ArrangementKind, str] = {
    ArrangementKind.PROMISE: "amount given up",
    ArrangementKind.PLAN: "amount given up",
    ArrangementKind.SETTLEMENT: "discount",
    ArrangementKind.WAIVER: "waived amount",
}


class RequestStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for (more) approvals
    APPROVED = "approved"  # approved by as many approvers as it needs
    REJECTED = "rejected"  # rejected, with a reason
    EXPIRED = "expired"  # nobody decided in time
    GRANTED = "granted"  # within the requester's own authority: granted at once


class StepAction(enum.StrEnum):
    GRANT = "grant"  # the requester granted it on their own authority
    APPROVE = "approve"
    REJECT = "reject"


class ApprovalRefused(ValueError):
    """A grant, approval or rejection that the rules refuse; the message says why and, where
    it helps, who could do it instead."""


# ---------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class BucketRange:
    """The buckets ``first`` to ``last`` inclusive; ``lo``/``hi`` are their positions."""

    first: str
    last: str
    lo: int
    hi: int

    def covers(self, position: int) -> bool:
        return self.lo <= position <= self.hi

    def __str__(self) -> str:
        return self.first if self.first == self.last else f"{self.first}–{self.last}"


@dataclass(frozen=True, slots=True)
class Limit:
    """How far ``role`` may go on its own with ``kind`` in ``buckets``; None: not bounded."""

    role: str
    kind: ArrangementKind
    buckets: BucketRange
    max_amount_cents: int | None = None
    max_share: Decimal | None = None  # a waiver's share of the component, 0..1
    max_discount: Decimal | None = None  # a settlement's discount share of the balance, 0..1
    max_term_months: int | None = None

    @property
    def rule(self) -> str:
        """A stable name for the limit, stored with every decision: ``collector/waiver/M1-M3``."""
        return f"{self.role}/{self.kind.value}/{self.buckets.first}-{self.buckets.last}"


@dataclass(frozen=True, slots=True)
class AuthorityMatrix:
    """A validated authority file. ``version`` is a short hash of its text."""

    roles: tuple[str, ...]  # lowest first
    buckets: tuple[str, ...]
    #: approver role -> the roles whose requests it may decide
    approvers: Mapping[str, frozenset[str]]
    two_person_above_cents: int
    limits: tuple[Limit, ...]
    source: str
    version: str

    def limits_for(self, role: str, kind: ArrangementKind) -> tuple[Limit, ...]:
        return tuple(lim for lim in self.limits if lim.role == role and lim.kind is kind)

    def approver_roles_for(self, requester_role: str) -> tuple[str, ...]:
        """The roles that may decide a request of ``requester_role``, lowest first."""
        return tuple(
            role for role in self.roles if requester_role in self.approvers.get(role, frozenset())
        )


@dataclass(frozen=True, slots=True)
class Ask:
    """What a collector asks to concede on one account.

    ``amount_cents`` is the money the lender gives up (the waived amount, the settlement
    discount, what a plan forgoes; 0 for a promise). ``share`` is a waiver's share of the
    component waived (required for a waiver) or a settlement's discount share of the balance
    (optional: it is ``amount_cents / balance_cents``, and must equal it when given).
    ``term_months`` is a plan's term (required for a plan, absent otherwise).
    """

    kind: ArrangementKind
    bucket: str
    amount_cents: int
    balance_cents: int
    share: Decimal | None = None
    term_months: int | None = None

    def __post_init__(self) -> None:
        kind = self.kind
        if self.amount_cents < 0 or self.balance_cents < 0:
            raise ValueError("an ask's amount and balance are never negative")
        if self.share is not None and not (
            self.share.is_finite() and Decimal(0) <= self.share <= Decimal(1)
        ):
            raise ValueError(f"a share is between 0 and 1, got {self.share}")
        if self.term_months is not None and self.term_months < 1:
            raise ValueError(f"a plan's term is at least 1 month, got {self.term_months}")
        if kind is ArrangementKind.PLAN and self.term_months is None:
            raise ValueError("a repayment plan needs term_months")
        if kind is not ArrangementKind.PLAN and self.term_months is not None:
            raise ValueError(f"term_months is for repayment plans, not {KIND_NOUNS[kind]}")
        if kind is ArrangementKind.WAIVER and self.share is None:
            raise ValueError("a waiver needs the share of the component it waives")
        if kind in (ArrangementKind.PLAN, ArrangementKind.PROMISE) and self.share is not None:
            raise ValueError(f"share is for waivers and settlements, not {KIND_NOUNS[kind]}")
        if kind is ArrangementKind.PROMISE and self.amount_cents != 0:
            raise ValueError("a promise to pay gives nothing up: amount_cents must be 0")
        gives_up_balance = kind in (ArrangementKind.WAIVER, ArrangementKind.SETTLEMENT)
        if gives_up_balance and self.amount_cents > self.balance_cents:
            raise ValueError(
                f"the {_AMOUNT_NOUNS[kind]} {format_cents(self.amount_cents)} is more than "
                f"the balance {format_cents(self.balance_cents)}"
            )
        if kind is ArrangementKind.SETTLEMENT:
            if self.balance_cents == 0:
                raise ValueError("a settlement needs the balance it discounts")
            if self.share is not None and self.share * self.balance_cents != self.amount_cents:
                raise ValueError(
                    f"a settlement's share is its discount over the balance "
                    f"({format_cents(self.amount_cents)} / {format_cents(self.balance_cents)}), "
                    f"not {_percent(self.share)}; leave share out to have it computed"
                )

    @property
    def discount_share(self) -> Decimal:
        """A settlement's discount over the balance (28 significant digits; for messages)."""
        return Decimal(self.amount_cents) / Decimal(self.balance_cents)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a role's authority covers an ask, by which limit, and why in plain words."""

    allowed: bool
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Step:
    """One decision in a request's record."""

    actor: str
    role: str
    action: StepAction
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Request:
    """An ask and its record: who asked, what their authority said, and every decision since.

    ``approvals_needed`` is fixed when the request is made (1, or 2 under the two-person
    rule); ``closed_at`` is when it left ``pending``.
    """

    request_id: str
    ask: Ask
    requested_by: str
    requester_role: str
    created_at: datetime
    steps: tuple[Step, ...]
    status: RequestStatus
    verdict: Verdict  # the requester's own authority for the ask
    approvals_needed: int
    matrix_version: str
    closed_at: datetime | None = None

    @property
    def approvals(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.action is StepAction.APPROVE)


@dataclass(frozen=True, slots=True)
class Granted:
    """An ask within the requester's authority, granted at once: its record (status
    ``granted``, one ``grant`` step) and the verdict that allowed it."""

    request: Request
    verdict: Verdict


# ---------------------------------------------------------------------------------- authority


def authority_for(matrix: AuthorityMatrix, role: str, ask: Ask) -> Verdict:
    """Whether ``role`` may grant ``ask`` on its own.

    Allowed when a limit of ``role`` for the ask's kind covers its bucket and every dimension
    is within that limit (at the limit is within; one cent, basis point or month over is not).
    The reason names the limit and the asked values, money formatted. Raises ``ValueError`` for
    a role or bucket the matrix does not know.
    """
    _check_role(matrix, role)
    if ask.bucket not in matrix.buckets:
        raise ValueError(f"unknown bucket {ask.bucket!r}; buckets: {', '.join(matrix.buckets)}")
    kind_noun = KIND_NOUNS[ask.kind]
    limits = matrix.limits_for(role, ask.kind)
    if not limits:
        return Verdict(
            False,
            f"{role}/{ask.kind.value}",
            f"{role} may not grant {kind_noun} at all: the authority file gives {role} "
            f"no limit for them",
        )
    position = matrix.buckets.index(ask.bucket)
    limit = next((lim for lim in limits if lim.buckets.covers(position)), None)
    if limit is None:
        covered = ", ".join(str(lim.buckets) for lim in limits)
        return Verdict(
            False,
            f"{role}/{ask.kind.value}",
            f"{role} may grant {kind_noun} only in {covered}; the account is in {ask.bucket}",
        )
    checks = _checks(limit, ask)
    over = [text for within, text in checks if not within]
    where = f"{role}'s limit for {kind_noun} in {limit.buckets}"
    if over:
        return Verdict(False, limit.rule, f"beyond {where}: {'; '.join(over)}")
    detail = "; ".join(text for _, text in checks) or "no amount, share or term to check"
    return Verdict(True, limit.rule, f"within {where}: {detail}")


def _checks(limit: Limit, ask: Ask) -> list[tuple[bool, str]]:
    """Each bounded dimension: whether the ask is within it, and a sentence saying so."""
    checks: list[tuple[bool, str]] = []
    if limit.max_amount_cents is not None:
        within = ask.amount_cents <= limit.max_amount_cents
        checks.append(
            (
                within,
                f"the {_AMOUNT_NOUNS[ask.kind]} {format_cents(ask.amount_cents)} is "
                f"{_relation(within)} the limit of {format_cents(limit.max_amount_cents)}",
            )
        )
    if limit.max_share is not None and ask.share is not None:
        within = ask.share <= limit.max_share
        checks.append(
            (
                within,
                f"the waived share {_percent(ask.share)} of the component is "
                f"{_relation(within)} the limit of {_percent(limit.max_share)}",
            )
        )
    if limit.max_discount is not None:
        # Exact: cents against a share with at most four decimals times whole cents.
        within = ask.amount_cents <= limit.max_discount * ask.balance_cents
        ceiling = int(limit.max_discount * ask.balance_cents)  # whole cents, rounded down
        checks.append(
            (
                within,
                f"the discount {format_cents(ask.amount_cents)} "
                f"({_percent(ask.discount_share)} of the balance "
                f"{format_cents(ask.balance_cents)}) is {_relation(within)} the limit of "
                f"{_percent(limit.max_discount)}, which is {format_cents(ceiling)}",
            )
        )
    if limit.max_term_months is not None and ask.term_months is not None:
        within = ask.term_months <= limit.max_term_months
        checks.append(
            (
                within,
                f"the term of {_months(ask.term_months)} is {_relation(within)} the limit of "
                f"{_months(limit.max_term_months)}",
            )
        )
    return checks


def _relation(within: bool) -> str:
    return "within" if within else "over"


def _months(count: int) -> str:
    return f"{count} month" if count == 1 else f"{count} months"


def _percent(share: Decimal) -> str:
    """``Decimal("0.5001")`` as ``50.01%``; a share that does not end within four decimals of
    a percent is shown rounded, as ``about 33.3333%``."""
    percent = share * 100
    shown = percent.quantize(BASIS_POINT, rounding=ROUND_HALF_UP)
    text = f"{shown.normalize():f}%"
    return text if shown == percent else f"about {text}"


def _check_role(matrix: AuthorityMatrix, role: str) -> None:
    if role not in matrix.roles:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(matrix.roles)}")


# ---------------------------------------------------------------------------------- requests


def request_or_grant(
    matrix: AuthorityMatrix,
    requester: str,
    role: str,
    ask: Ask,
    now: datetime,
    request_id: str,
) -> Granted | Request:
    """Grant ``ask`` at once when ``role``'s authority covers it and the two-person rule does
    not apply; otherwise open a pending request. Raises :class:`ApprovalRefused` when no role
    could approve it (so a request would wait for nobody)."""
    if role not in matrix.roles:
        raise ApprovalRefused(f"unknown role {role!r}; roles: {', '.join(matrix.roles)}")
    verdict = authority_for(matrix, role, ask)
    two_person = ask.amount_cents > matrix.two_person_above_cents
    if verdict.allowed and not two_person:
        step = Step(requester, role, StepAction.GRANT, now, verdict.reason)
        record = Request(
            request_id=request_id,
            ask=ask,
            requested_by=requester,
            requester_role=role,
            created_at=now,
            steps=(step,),
            status=RequestStatus.GRANTED,
            verdict=verdict,
            approvals_needed=0,
            matrix_version=matrix.version,
            closed_at=now,
        )
        return Granted(record, verdict)
    # Two people with authority: the requester counts as one when the ask is within theirs.
    needed = 2 if two_person and not verdict.allowed else 1
    request = Request(
        request_id=request_id,
        ask=ask,
        requested_by=requester,
        requester_role=role,
        created_at=now,
        steps=(),
        status=RequestStatus.PENDING,
        verdict=verdict,
        approvals_needed=needed,
        matrix_version=matrix.version,
    )
    if not who_can_approve(matrix, request):
        why = verdict.reason if not verdict.allowed else _two_person_reason(matrix, ask)
        raise ApprovalRefused(
            f"{role} cannot grant this alone ({why}) and no role may approve it: "
            f"{_approver_summary(matrix, role)}"
        )
    return request


def approve(
    matrix: AuthorityMatrix,
    request: Request,
    actor: str,
    actor_role: str,
    now: datetime,
    reason: str = "",
) -> Request:
    """Record ``actor``'s approval. The request is approved once it has as many approvals from
    distinct people as it needs, and stays pending (with the approval recorded) until then.
    Raises :class:`ApprovalRefused` saying why, and who could approve, when the rules refuse."""
    _check_decision(matrix, request, actor, actor_role, now, "approve")
    step = Step(actor, actor_role, StepAction.APPROVE, now, reason.strip())
    steps = (*request.steps, step)
    approvals = sum(1 for s in steps if s.action is StepAction.APPROVE)
    if approvals >= request.approvals_needed:
        return replace(request, steps=steps, status=RequestStatus.APPROVED, closed_at=now)
    return replace(request, steps=steps)


def reject(
    matrix: AuthorityMatrix,
    request: Request,
    actor: str,
    actor_role: str,
    now: datetime,
    reason: str,
) -> Request:
    """Record ``actor``'s rejection, which closes the request. A reason is required, and only
    someone who could approve the request may reject it, so the decision is taken at the level
    the ask needs."""
    if not reason.strip():
        raise ApprovalRefused(f"rejecting request {request.request_id} needs a reason")
    _check_decision(matrix, request, actor, actor_role, now, "reject")
    step = Step(actor, actor_role, StepAction.REJECT, now, reason.strip())
    return replace(
        request, steps=(*request.steps, step), status=RequestStatus.REJECTED, closed_at=now
    )


def expire(request: Request, now: datetime, days: int) -> Request:
    """The request, expired when it was still pending ``days`` days after it was made (at the
    moment the time ran out); any other request is returned unchanged."""
    if days < 1:
        raise ValueError(f"requests expire after at least 1 day, got {days}")
    deadline = request.created_at + timedelta(days=days)
    if request.status is not RequestStatus.PENDING or now < deadline:
        return request
    return replace(request, status=RequestStatus.EXPIRED, closed_at=deadline)


def who_can_approve(matrix: AuthorityMatrix, request: Request) -> list[str]:
    """The roles that may approve ``request``, lowest first: named in ``approvers`` for the
    requester's role, and with authority of their own that covers the ask."""
    return [
        role
        for role in matrix.approver_roles_for(request.requester_role)
        if authority_for(matrix, role, request.ask).allowed
    ]


def _check_decision(
    matrix: AuthorityMatrix,
    request: Request,
    actor: str,
    actor_role: str,
    now: datetime,
    verb: str,
) -> None:
    rid = request.request_id
    if request.status is not RequestStatus.PENDING:
        raise ApprovalRefused(
            f"request {rid} is already {request.status.value}; only a pending request can be "
            f"{_PAST[verb]}"
        )
    if actor == request.requested_by:
        raise ApprovalRefused(f"{actor} made request {rid}; nobody may {verb} their own request")
    if any(step.actor == actor for step in request.steps):
        raise ApprovalRefused(
            f"{actor} has already approved request {rid}; the two-person rule needs a second, "
            f"different approver ({_could(matrix, request)})"
        )
    if actor_role not in matrix.roles:
        raise ApprovalRefused(f"unknown role {actor_role!r}; roles: {', '.join(matrix.roles)}")
    if now < request.created_at:
        raise ApprovalRefused(f"request {rid} was made after {now.isoformat()}")
    requester_role = request.requester_role
    if requester_role not in matrix.approvers.get(actor_role, frozenset()):
        raise ApprovalRefused(
            f"a {actor_role} may not {verb} requests of a {requester_role} "
            f"({_could(matrix, request)})"
        )
    verdict = authority_for(matrix, actor_role, request.ask)
    if not verdict.allowed:
        raise ApprovalRefused(
            f"{actor} ({actor_role}) may not {verb} request {rid}, which is {verdict.reason} "
            f"({_could(matrix, request)})"
        )


_PAST = {"approve": "approved", "reject": "rejected"}


def _could(matrix: AuthorityMatrix, request: Request) -> str:
    roles = who_can_approve(matrix, request)
    if not roles:
        return "no role may approve it"
    return f"who could: {', '.join(roles)}"


def _two_person_reason(matrix: AuthorityMatrix, ask: Ask) -> str:
    return (
        f"the {_AMOUNT_NOUNS[ask.kind]} {format_cents(ask.amount_cents)} is over "
        f"{format_cents(matrix.two_person_above_cents)}, so two people must agree"
    )


def _approver_summary(matrix: AuthorityMatrix, role: str) -> str:
    roles = matrix.approver_roles_for(role)
    if not roles:
        return f"the authority file names no approver for a {role}'s requests"
    return f"{', '.join(roles)} may approve a {role}'s requests, but none has the authority"


# ---------------------------------------------------------------------------------- loading


def parse_authority(text: str, source: str = "<authority>") -> AuthorityMatrix:
    """Validate the text of an authority file named ``source`` in messages; raises
    :class:`YamlFileError` naming the line and the field."""
    located = load_located(text, source)
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return _Reader(located).matrix(version)


def load_authority(path: Path | str) -> AuthorityMatrix:
    """Read and validate an authority file."""
    path = Path(path)
    text = read_text_file(path)
    return parse_authority(text, str(path))


def default_authority_path() -> Path:
    """The shipped default file, to copy as the start of a house matrix."""
    return Path(str(resources.files("recoup.arrangements") / "default_authority.yaml"))


@cache
def default_authority() -> AuthorityMatrix:
    """The shipped default matrix, read once."""
    return load_authority(default_authority_path())


_TOP_REQUIRED = frozenset({"roles", "approvers", "two_person_above", "limits"})
_TOP = _TOP_REQUIRED | {"buckets"}
_DIMENSIONS: Mapping[ArrangementKind, frozenset[str]] = {
    ArrangementKind.PROMISE: frozenset(),
    ArrangementKind.PLAN: frozenset({"max_term_months", "max_amount"}),
    ArrangementKind.SETTLEMENT: frozenset({"max_discount", "max_amount"}),
    ArrangementKind.WAIVER: frozenset({"max_amount", "max_share"}),
}
_LIMIT_REQUIRED = frozenset({"role", "kind"})
_LIMIT_COMMON = _LIMIT_REQUIRED | {"buckets"}


class _Reader(FieldReader):
    """Walks the parsed document; every check raises an error naming line and field."""

    def __init__(self, located: LocatedYaml) -> None:
        super().__init__(located)
        self.roles: tuple[str, ...] = ()
        self.buckets: tuple[str, ...] = DEFAULT_BUCKET_NAMES

    def matrix(self, version: str) -> AuthorityMatrix:
        root = self.mapping(self.located.data, (), _TOP_REQUIRED, _TOP)
        if "buckets" in root:
            self.buckets = self.names(root["buckets"], ("buckets",))
        self.roles = self.names(root["roles"], ("roles",))
        return AuthorityMatrix(
            roles=self.roles,
            buckets=self.buckets,
            approvers=self.approvers(root["approvers"]),
            two_person_above_cents=self.amount(root["two_person_above"], ("two_person_above",)),
            limits=self.limits(root["limits"]),
            source=self.located.source,
            version=version,
        )

    # ------------------------------------------------------------------ fields

    def names(self, value: Any, path: YamlPath) -> tuple[str, ...]:
        result: list[str] = []
        for i, item in enumerate(self.items(value, path, non_empty=True)):
            name = self.text(item, (*path, i))
            if name in result:
                raise self.fail((*path, i), f"{name!r} is listed twice")
            result.append(name)
        return tuple(result)

    def role(self, value: Any, path: YamlPath) -> str:
        if not isinstance(value, str) or value not in self.roles:
            raise self.fail(path, f"unknown role {value!r}; roles: {', '.join(self.roles)}")
        return value

    def bucket(self, value: Any, path: YamlPath) -> int:
        if not isinstance(value, str) or value not in self.buckets:
            raise self.fail(path, f"unknown bucket {value!r}; buckets: {', '.join(self.buckets)}")
        return self.buckets.index(value)

    def bucket_range(self, value: Any, path: YamlPath) -> BucketRange:
        body = self.mapping(value, path, {"from", "to"}, {"from", "to"})
        lo = self.bucket(body["from"], (*path, "from"))
        hi = self.bucket(body["to"], (*path, "to"))
        if hi < lo:
            raise self.fail(
                (*path, "to"),
                f"{body['to']} comes before {body['from']}; buckets run {', '.join(self.buckets)}",
            )
        return BucketRange(self.buckets[lo], self.buckets[hi], lo, hi)

    def amount(self, value: Any, path: YamlPath) -> int:
        if isinstance(value, float):
            raise self.fail(path, f'write the amount as quoted text ("{value}") so it stays exact')
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(
                path, f'must be an amount as quoted text such as "200.00", got {value!r}'
            )
        try:
            cents = parse_cents(value)
        except MoneyError as exc:
            raise self.fail(path, str(exc)) from None
        if cents < 0:
            raise self.fail(path, f"must not be negative, got {value!r}")
        return cents

    def percentage(self, value: Any, path: YamlPath) -> Decimal:
        """A quoted ``"50%"`` or ``"12.5%"`` as the share 0.5 or 0.125."""
        text = value.strip() if isinstance(value, str) else ""
        if not text.endswith("%"):
            raise self.fail(
                path, f'must be a percentage as quoted text such as "20%", got {value!r}'
            )
        try:
            percent = Decimal(text[:-1].strip())
        except InvalidOperation:
            raise self.fail(path, f"not a percentage: {value!r}") from None
        if not percent.is_finite():
            raise self.fail(path, f"not a percentage: {value!r}")
        if not Decimal(0) <= percent <= Decimal(100):
            raise self.fail(path, f"must be between 0% and 100%, got {text}")
        if percent != percent.quantize(Decimal("0.01")):
            raise self.fail(path, f"at most two decimals (a basis point), got {text}")
        return percent / 100

    # ------------------------------------------------------------------ sections

    def approvers(self, value: Any) -> dict[str, frozenset[str]]:
        path: YamlPath = ("approvers",)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, "must map each approver role to the roles it may approve")
        result: dict[str, frozenset[str]] = {}
        for key, approved in value.items():
            approver = self.role(key, (*path, str(key)))
            entry_path: YamlPath = (*path, approver)
            names: set[str] = set()
            for i, item in enumerate(self.items(approved, entry_path, non_empty=True)):
                role = self.role(item, (*entry_path, i))
                if role in names:
                    raise self.fail((*entry_path, i), f"{role!r} is listed twice")
                if self.roles.index(role) > self.roles.index(approver):
                    raise self.fail(
                        (*entry_path, i),
                        f"{approver} ranks below {role} (roles are listed lowest first), "
                        f"so it may not approve {role}'s requests",
                    )
                names.add(role)
            result[approver] = frozenset(names)
        return result

    def limits(self, value: Any) -> tuple[Limit, ...]:
        limits: list[Limit] = []
        seen: list[tuple[int, Limit]] = []
        for i, raw in enumerate(self.items(value, ("limits",), non_empty=True)):
            path: YamlPath = ("limits", i)
            if not isinstance(raw, Mapping):
                raise self.fail(path, "must be a mapping with role, kind and the limits")
            if "kind" not in raw:
                raise self.fail((*path, "kind"), "missing")
            kind = self.kind(raw["kind"], (*path, "kind"))
            dimensions = _DIMENSIONS[kind]
            body = self.mapping(raw, path, _LIMIT_REQUIRED, _LIMIT_COMMON | dimensions)
            role = self.role(body["role"], (*path, "role"))
            if dimensions and not dimensions & body.keys():
                raise self.fail(
                    path,
                    f"a limit for {KIND_NOUNS[kind]} must bound something: give "
                    f"{' or '.join(sorted(dimensions))}",
                )
            buckets = (
                self.bucket_range(body["buckets"], (*path, "buckets"))
                if "buckets" in body
                else BucketRange(self.buckets[0], self.buckets[-1], 0, len(self.buckets) - 1)
            )
            limit = Limit(
                role=role,
                kind=kind,
                buckets=buckets,
                max_amount_cents=self.optional(body, "max_amount", path, self.amount),
                max_share=self.optional(body, "max_share", path, self.percentage),
                max_discount=self.optional(body, "max_discount", path, self.percentage),
                max_term_months=self.optional(body, "max_term_months", path, self.term),
            )
            for j, other in seen:
                if other.role == role and other.kind is kind and _overlap(other, limit):
                    raise self.fail(
                        (*path, "buckets"),
                        f"{role}'s limits for {KIND_NOUNS[kind]} overlap: limits[{j}] already "
                        f"covers {other.buckets}",
                    )
            seen.append((i, limit))
            limits.append(limit)
        return tuple(limits)

    def kind(self, value: Any, path: YamlPath) -> ArrangementKind:
        try:
            return ArrangementKind(value)
        except ValueError:
            kinds = ", ".join(kind.value for kind in ArrangementKind)
            raise self.fail(path, f"unknown kind {value!r}; kinds: {kinds}") from None

    def term(self, value: Any, path: YamlPath) -> int:
        return self.count(value, path, minimum=1, maximum=MAX_TERM)

    def optional(
        self, body: Mapping[str, Any], key: str, path: YamlPath, read: Callable[[Any, YamlPath], T]
    ) -> T | None:
        if key not in body:
            return None
        return read(body[key], (*path, key))


def _overlap(a: Limit, b: Limit) -> bool:
    return a.buckets.lo <= b.buckets.hi and b.buckets.lo <= a.buckets.hi

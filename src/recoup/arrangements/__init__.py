"""arrangements: promises, personalised repayment plans, settlements and waivers, and who may
grant them; pure.

:mod:`recoup.arrangements.authority` reads the authority matrix (role × kind × bucket ×
amount, share, discount or term), says whether a role's authority covers an ask, and runs the
approval of what lies beyond it as a state machine over immutable records. The terms of a
plan and of a settlement are computed in :mod:`~recoup.arrangements.plans` and
:mod:`~recoup.arrangements.settlements`.
"""

from recoup.arrangements.authority import (
    KIND_NOUNS,
    ApprovalRefused,
    ArrangementKind,
    Ask,
    AuthorityMatrix,
    BucketRange,
    Granted,
    Limit,
    Request,
    RequestStatus,
    Step,
    StepAction,
    Verdict,
    approve,
    authority_for,
    default_authority,
    default_authority_path,
    expire,
    load_authority,
    parse_authority,
    reject,
    request_or_grant,
    who_can_approve,
)

__all__ = [
    "KIND_NOUNS",
    "ApprovalRefused",
    "ArrangementKind",
    "Ask",
    "AuthorityMatrix",
    "BucketRange",
    "Granted",
    "Limit",
    "Request",
    "RequestStatus",
    "Step",
    "StepAction",
    "Verdict",
    "approve",
    "authority_for",
    "default_authority",
    "default_authority_path",
    "expire",
    "load_authority",
    "parse_authority",
    "reject",
    "request_or_grant",
    "who_can_approve",
]

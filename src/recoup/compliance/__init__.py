"""Contact compliance: may this contact happen now, and if not, why and from when?

Every outbound contact passes the gate (:func:`decide`): a planned strategy action, a call in a
collector's queue, a contact started by hand. It is judged against a **policy profile**, a YAML
file a compliance officer owns (:func:`load_profile`; the shipped ``cn`` (default), ``us`` and
``uk`` from :func:`shipped_profile`), and the history of earlier contacts about the same debt.
The answer names every rule that blocks and the earliest time the same contact would be
allowed. What each rule kind means is ``docs/compliance.md``; the rules and their sources are
the compliance reference. Numbers live in the profiles, never in the code.

The package is a pure core: no database, no clock, no files but its own profiles.
"""

from recoup.compliance.explain import describe_profile, describe_rule
from recoup.compliance.gate import (
    SEARCH_DAYS,
    Attempt,
    ContactRequest,
    Decision,
    NoticeKind,
    Violation,
    borrower_unreachable,
    check_notice,
    decide,
    decide_many,
    holiday_name,
)
from recoup.compliance.policy import (
    CHANNEL_NOUNS,
    PHONE_CHANNELS,
    PLACEHOLDERS,
    PROFILE_NAMES,
    TIME_KINDS,
    CapRule,
    Channel,
    CoolOffRule,
    Flag,
    HoldRule,
    HolidayRule,
    NoticeRule,
    OptOutRule,
    Outcome,
    Party,
    Per,
    Profile,
    Retention,
    Rule,
    RuleKind,
    ThirdPartyRule,
    TimeWindow,
    Unreachable,
    WindowRule,
    load_profile,
    parse_profile,
    shipped_profile,
    shipped_profile_path,
)
from recoup.compliance.request import (
    RequestError,
    check_document,
    decision_document,
    parse_request,
)
from recoup.compliance.timezones import candidate_zones, number_zones, recipient_key

__all__ = [
    "CHANNEL_NOUNS",
    "PHONE_CHANNELS",
    "PLACEHOLDERS",
    "PROFILE_NAMES",
    "SEARCH_DAYS",
    "TIME_KINDS",
    "Attempt",
    "CapRule",
    "Channel",
    "ContactRequest",
    "CoolOffRule",
    "Decision",
    "Flag",
    "HoldRule",
    "HolidayRule",
    "NoticeKind",
    "NoticeRule",
    "OptOutRule",
    "Outcome",
    "Party",
    "Per",
    "Profile",
    "RequestError",
    "Retention",
    "Rule",
    "RuleKind",
    "ThirdPartyRule",
    "TimeWindow",
    "Unreachable",
    "Violation",
    "WindowRule",
    "borrower_unreachable",
    "candidate_zones",
    "check_document",
    "check_notice",
    "decide",
    "decide_many",
    "decision_document",
    "describe_profile",
    "describe_rule",
    "holiday_name",
    "load_profile",
    "number_zones",
    "parse_profile",
    "parse_request",
    "recipient_key",
    "shipped_profile",
    "shipped_profile_path",
]

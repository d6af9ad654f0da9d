"""A policy profile in plain words, rule by rule, for the compliance officer who owns it and
the auditor who reads it (``recoup policy show``). Every number printed is the field the
gate applies, read from the profile, never restated by hand."""

from __future__ import annotations

from collections.abc import Iterable

from recoup.compliance.policy import (
    CapRule,
    CoolOffRule,
    HoldRule,
    HolidayRule,
    OptOutRule,
    Profile,
    Rule,
    ThirdPartyRule,
    WindowRule,
)

_WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


def _names(values: Iterable[object]) -> str:
    return ", ".join(sorted(str(v) for v in values)) or "all"


def describe_rule(rule: Rule) -> str:
    """One rule in a sentence."""
    house = " (house rule)" if rule.house else ""
    match rule:
        case WindowRule():
            text = f"{_names(rule.channels)} only {rule.window} borrower local time"
        case HolidayRule():
            days = []
            if rule.calendar:
                days.append(f"public holidays of {rule.calendar}")
                if rule.subdivisions:
                    days[-1] += f" (any of {', '.join(rule.subdivisions)})"
                if rule.whole_breaks:
                    days[-1] += ", whole breaks"
            days += [_WEEKDAYS[d] for d in sorted(rule.weekdays)]
            when = f"only {rule.window}" if rule.window else "not at all"
            text = f"{_names(rule.channels)} on {' and '.join(days)}: {when}"
        case CapRule():
            period = "a local day" if rule.days == 1 else f"any {rule.days} consecutive days"
            text = (
                f"at most {rule.limit} {_names(rule.channels)} attempts per {rule.per} in "
                f"{period}, counting outcomes {_names(rule.outcomes)}"
                + (f", parties {_names(rule.parties)}" if rule.parties else "")
            )
        case CoolOffRule():
            text = (
                f"no {_names(rule.channels)} for {rule.days} days from a conversation "
                f"({_names(rule.outcomes)}), the conversation day being day 1"
            )
        case HoldRule():
            text = (
                f"while the borrower is flagged {_names(rule.flags)}: "
                f"no {_names(rule.channels)} contact"
                + (f" with {_names(rule.parties)}" if rule.parties else "")
            )
        case OptOutRule():
            text = f"after {rule.flag}: no {_names(rule.channels)}"
        case ThirdPartyRule():
            parts = []
            if rule.requires_unreachable:
                parts.append("only when the borrower is unreachable")
            if rule.objections:
                parts.append(f"never again after {_names(rule.objections)}")
            if rule.once:
                parts.append(f"once each (after {_names(rule.reached)})")
            text = "third parties: " + "; ".join(parts or ["no limit"])
    return f"{rule.id}{house}: {text}. Source: {rule.source}"


def describe_profile(profile: Profile) -> str:
    """The whole profile: its zones, its rules in order, and its retention."""
    lines = [
        f"profile {profile.id}: {profile.name} (version {profile.version})",
        f"  {profile.description}",
        f"  time zones when the borrower's is unknown: {', '.join(profile.timezones)}; "
        f"numbers without + are read in {profile.phone_region}",
        "",
        "rules, in the order the gate reports them:",
    ]
    lines += [f"  - {describe_rule(rule)}" for rule in profile.rules]
    u = profile.unreachable
    lines += [
        "",
        f"unreachable ({u.rule}): the last {u.consecutive_failures} attempts to the borrower's "
        f"own contact points ended in {_names(u.failure_outcomes)}, or the flag is set",
    ]
    r = profile.retention
    agreements = (
        "until the debt is settled" if r.agreements_until_settled else f"{r.agreements_days} days"
    )
    lines.append(
        f"records ({r.rule}): decisions and attempts {r.decisions_days} days, messages "
        f"{r.messages_days} days, recorded repayment agreements {agreements}"
    )
    for notice in (profile.credit_reporting, profile.outsourcing):
        if notice is not None:
            lines.append(f"{notice.rule}: a notice at least {notice.notice_days} days before")
    return "\n".join(lines)

"""Policy profiles: the shipped ones hold the documented rules, and every mistake in a profile
file is named by file, line and field."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest

from recoup.compliance import (
    PROFILE_NAMES,
    CapRule,
    Channel,
    CoolOffRule,
    Flag,
    HoldRule,
    HolidayRule,
    OptOutRule,
    Outcome,
    Party,
    Per,
    Profile,
    ThirdPartyRule,
    TimeWindow,
    WindowRule,
    load_profile,
    parse_profile,
    shipped_profile,
    shipped_profile_path,
)
from recoup.yamlfile import YamlFileError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "compliance.md"

#: The rule ids of the compliance reference (shared/reference/compliance.md).
REFERENCE_IDS = frozenset(
    {
        *("CN-HOURS", "CN-ATTEMPTS", "CN-ANSWERED", "CN-PARTIES", "CN-UNREACHABLE"),
        *("CN-RECORD", "CN-IDENTITY", "CN-AGENCY", "CN-LETTER", "CN-PLAN", "CN-CONDUCT"),
        *("CN-OUTSOURCE", "CN-CREDIT", "CN-PIPL", "CN-PRICING"),
        *("US-HOURS", "US-7IN7", "US-CEASE", "US-THIRD", "US-VALIDATION", "US-VOICEMAIL"),
        *("US-OPTOUT", "US-REPORT", "US-TCPA"),
        *("UK-VULN", "UK-FORBEAR", "UK-CONTACT", "UK-DISPUTE", "UK-DEFAULT", "UK-BREATHING"),
    }
)
ANSWERED = frozenset(
    {Outcome.RIGHT_PARTY_CONTACT, Outcome.PROMISE_TO_PAY, Outcome.REFUSAL, Outcome.DISPUTE}
)
UNANSWERED = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED, Outcome.UNREACHABLE})
AUTOMATED = frozenset({Channel.SMS, Channel.EMAIL, Channel.APP_PUSH, Channel.VOICEMAIL})

PROFILE = """\
id: test
name: Test profile
phone_region: CN
timezones: [Asia/Shanghai]
holiday_calendar: CN
unreachable:
  rule: T-UNREACHABLE
  consecutive_failures: 3
  failure_outcomes: [no_answer, busy]
  message: Unreachable after failures.
  source: Test
retention:
  rule: T-RECORD
  decisions_days: 731
  messages_days: 731
  agreements: until_settled
  message: Keep records.
  source: Test
rules:
  - id: T-HOURS
    kind: window
    channels: [call, sms]
    start: "08:00"
    end: "22:00"
    message: "{Channel} only {start}-{end} ({zone}); it is {local_time}."
    source: Test
  - id: T-HOURS
    kind: holiday
    channels: [field_visit]
    weekdays: [sun]
    window: {start: "10:00", end: "16:00"}
    message: "{Channel} on {holiday} only {window}."
    source: Test
  - id: T-CAP
    kind: cap
    channels: [call]
    outcomes: [no_answer]
    per: recipient
    limit: 2
    days: 1
    message: "At most {limit} a day; {count} so far."
    source: Test
  - id: T-HOLD
    kind: hold
    flags: [dispute]
    message: "On hold ({flag})."
    source: Test
"""


def _rules(profile: Profile, rule_id: str) -> list[object]:
    return [rule for rule in profile.rules if rule.id == rule_id]


# ---------------------------------------------------------------------------------- reading


def test_profile__reads_a_valid_file_into_typed_rules() -> None:
    profile = parse_profile(PROFILE, "test.yaml")
    window, holiday, cap, hold = profile.rules
    assert window == WindowRule(
        id="T-HOURS",
        message="{Channel} only {start}-{end} ({zone}); it is {local_time}.",
        source="Test",
        house=False,
        channels=frozenset({Channel.CALL, Channel.SMS}),
        window=TimeWindow(time(8), time(22)),
    )
    assert isinstance(holiday, HolidayRule)
    assert holiday.calendar == "CN"  # the profile's calendar when the rule names none
    assert holiday.weekdays == frozenset({6})
    assert holiday.window == TimeWindow(time(10), time(16))
    assert isinstance(cap, CapRule)
    assert cap.parties == frozenset(Party)  # absent: every party
    assert (cap.per, cap.limit, cap.days) == (Per.RECIPIENT, 2, 1)
    assert isinstance(hold, HoldRule)
    assert hold.channels == frozenset(Channel)
    assert profile.retention.agreements_until_settled
    assert profile.credit_reporting is None
    assert profile.source == "test.yaml"


def test_profile__version_is_a_short_hash_of_the_text() -> None:
    first = parse_profile(PROFILE)
    again = parse_profile(PROFILE)
    changed = parse_profile(PROFILE.replace("limit: 2", "limit: 3"))
    assert re.fullmatch(r"[0-9a-f]{12}", first.version)
    assert first.version == again.version
    assert changed.version != first.version
    assert first.text == PROFILE


def test_profile__indexes_its_rules_by_channel_and_party_in_profile_order() -> None:
    profile = parse_profile(PROFILE)
    assert [r.id for r in profile.rules_for(Channel.CALL, Party.SELF)] == [
        "T-HOURS",
        "T-CAP",
        "T-HOLD",
    ]
    assert [r.id for r in profile.rules_for(Channel.LETTER, Party.SELF)] == ["T-HOLD"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "channels: [call, sms]",
            "channels: [call, fax]",
            "test.yaml, line 22, rules[0].channels[1]: unknown channel 'fax'; channels: sms,",
        ),
        (
            'end: "22:00"',
            'end: "07:00"',
            "test.yaml, line 24, rules[0].end: end 07:00 must come after start 08:00",
        ),
        (
            'end: "22:00"',
            "end: 22:00",
            'line 24, rules[0].end: write the time in quotes, e.g. "22:00"',
        ),
        ('start: "08:00"', 'start: "8am"', 'line 23, rules[0].start: must be a time "HH:MM"'),
        ("limit: 2", "limit: -1", "line 39, rules[2].limit: must be 0 or more, got -1"),
        ("days: 1", "days: 0", "line 40, rules[2].days: must be between 1 and 36600, got 0"),
        ("kind: cap", "kind: quota", "line 35, rules[2].kind: unknown kind 'quota'; kinds: window"),
        (
            "timezones: [Asia/Shanghai]",
            "timezones: [Asia/Peking_Time]",
            "line 4, timezones[0]: unknown time zone 'Asia/Peking_Time'",
        ),
        (
            "holiday_calendar: CN",
            "holiday_calendar: XX",
            "line 5, holiday_calendar: unknown holiday calendar 'XX'",
        ),
        (
            "    weekdays: [sun]\n",
            "    weekdays: [sun]\n    calendar: Narnia\n",
            "line 31, rules[1].calendar: unknown holiday calendar 'Narnia'",
        ),
        (
            "    weekdays: [sun]\n",
            "    calendar: none\n",
            "line 27, rules[1]: names no days: give a calendar or weekdays",
        ),
        ("weekdays: [sun]", "weekdays: [sunday]", "line 30, rules[1].weekdays[0]: days are mon"),
        (
            "    weekdays: [sun]\n",
            "    subdivisions: [XYZ]\n",
            "line 30, rules[1].subdivisions[0]: CN has no subdivision 'XYZ'",
        ),
        ("per: recipient", "per: account", "line 38, rules[2].per: unknown per 'account'"),
        ("outcomes: [no_answer]", "outcomes: [maybe]", "rules[2].outcomes[0]: unknown outcome"),
        ("flags: [dispute]", "flags: [sad]", "line 45, rules[3].flags[0]: unknown flag 'sad'"),
        (
            'message: "At most {limit} a day; {count} so far."',
            'message: "At most {limit} a day; {holiday} so far."',
            "line 41, rules[2].message: unknown placeholder {holiday}; this rule may use:",
        ),
        (
            'message: "On hold ({flag})."',
            'message: "On hold ({flag)."',
            "line 46, rules[3].message: unbalanced braces",
        ),
        ("    source: Test\n  - id: T-HOLD", "  - id: T-HOLD", "line 34, rules[2].source: missing"),
        ("    per: recipient\n", "    per: recipient\n    speed: 3\n", "rules[2].speed: unknown"),
        ("  - id: T-HOLD", "  - id: T-HOURS", "line 43, rules[3].id: T-HOURS already appears"),
        ("consecutive_failures: 3", "consecutive_failures: 0", "line 8, unreachable.consec"),
        (
            "agreements: until_settled",
            "agreements: forever",
            "line 16, retention.agreements: must be until_settled or a number of days",
        ),
        ("phone_region: CN", "phone_region: Mars", "line 3, phone_region: must be a region"),
        ("name: Test profile\n", "", "test.yaml, line 1, name: missing"),
        ("rules:", "rules: [", "test.yaml, line 20: not valid YAML"),
    ],
)
def test_profile__a_mistake_is_named_by_file_line_and_field(
    old: str, new: str, message: str
) -> None:
    assert old in PROFILE
    with pytest.raises(YamlFileError) as error:
        parse_profile(PROFILE.replace(old, new, 1), "test.yaml")
    assert message in str(error.value)


def test_profile__third_party_once_needs_the_outcomes_that_count_as_reached() -> None:
    text = PROFILE + (
        "  - id: T-THIRD\n"
        "    kind: third_party\n"
        "    once: true\n"
        "    message: 'No: {reason}.'\n"
        "    source: Test\n"
    )
    with pytest.raises(YamlFileError, match=r"line 48, rules\[4\].reached: missing"):
        parse_profile(text, "test.yaml")
    rule = parse_profile(text.replace("once: true", "once: true\n    reached: [delivered]"))
    third = rule.rules[-1]
    assert isinstance(third, ThirdPartyRule)
    assert third.reached == frozenset({Outcome.DELIVERED})
    assert third.objections == frozenset()
    assert not third.requires_unreachable


def test_profile__a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(YamlFileError, match=r"nowhere\.yaml: cannot be read"):
        load_profile(tmp_path / "nowhere.yaml")


def test_profile__an_error_in_a_file_names_its_path(tmp_path: Path) -> None:
    path = tmp_path / "house.yaml"
    path.write_text(PROFILE.replace("limit: 2", "limit: lots"), encoding="utf-8")
    with pytest.raises(YamlFileError, match=r"house\.yaml, line 39, rules\[2\]\.limit: must be"):
        load_profile(path)


# ---------------------------------------------------------------------------------- shipped


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_shipped__each_profile_loads_once_and_names_its_version(name: str) -> None:
    profile = shipped_profile(name)
    assert profile.id == name
    assert shipped_profile(name) is profile
    assert profile == load_profile(shipped_profile_path(name))
    assert re.fullmatch(r"[0-9a-f]{12}", profile.version)
    assert all(rule.message and rule.source for rule in profile.rules)


def test_shipped__an_unknown_name_is_refused() -> None:
    with pytest.raises(ValueError, match="no shipped profile 'fr'; profiles: cn, us, uk"):
        shipped_profile("fr")


def _documented_ids() -> dict[str, set[str]]:
    """The rule ids in each column of the docs' table of shipped profiles."""
    text = DOCS.read_text(encoding="utf-8")
    table = text[text.index("## The shipped profiles") :]
    ids: dict[str, set[str]] = {"cn": set(), "us": set(), "uk": set()}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("rule", "---"):
            continue
        for name, cell in zip(("cn", "us", "uk"), cells[1:], strict=True):
            ids[name].update(re.findall(r"\b(?:CN|US|UK)-[A-Z0-9]+\b", cell))
    return ids


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_shipped__every_rule_id_of_the_docs_table_is_in_the_profile(name: str) -> None:
    documented = _documented_ids()[name]
    assert documented, "the docs' table names no rule for this profile"
    assert documented <= set(shipped_profile(name).rule_ids)


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_shipped__every_rule_that_is_not_a_house_rule_is_a_reference_rule(name: str) -> None:
    profile = shipped_profile(name)
    ids = {rule.id for rule in profile.rules if not rule.house}
    for section in (profile.unreachable, profile.retention):
        if not section.house:
            ids.add(section.rule)
    for notice in (profile.credit_reporting, profile.outsourcing):
        if notice is not None and not notice.house:
            ids.add(notice.rule)
    assert ids <= REFERENCE_IDS, sorted(ids - REFERENCE_IDS)


def test_shipped__china_holds_the_numbers_of_the_docs_table() -> None:
    cn = shipped_profile("cn")
    (window,) = [r for r in _rules(cn, "CN-HOURS") if isinstance(r, WindowRule)]
    assert window.window == TimeWindow(time(8), time(22))
    assert window.channels == {"call", "voicemail", "sms", "app_push", "field_visit"}
    (holiday,) = [r for r in _rules(cn, "CN-HOURS") if isinstance(r, HolidayRule)]
    assert holiday.channels == {Channel.FIELD_VISIT}
    assert (holiday.calendar, holiday.window) == ("CN", None)
    (attempts,) = _rules(cn, "CN-ATTEMPTS")
    assert isinstance(attempts, CapRule)
    assert (attempts.limit, attempts.days, attempts.per) == (6, 1, Per.RECIPIENT)
    assert attempts.channels == {Channel.CALL, Channel.VOICEMAIL}
    assert attempts.outcomes == UNANSWERED
    (answered,) = _rules(cn, "CN-ANSWERED")
    assert isinstance(answered, CapRule)
    assert (answered.limit, answered.days, answered.per) == (3, 1, Per.BORROWER)
    assert answered.channels == {Channel.CALL}
    assert answered.parties == {Party.SELF}
    assert answered.outcomes == ANSWERED
    holds = [r for r in _rules(cn, "CN-HOLD") if isinstance(r, HoldRule)]
    assert {flag for r in holds for flag in r.flags} == {
        "bankruptcy",
        "breathing_space",
        "deceased",
        "cease",
        "attorney",
        "vulnerable",
    }
    (vulnerable,) = [r for r in holds if Flag.VULNERABLE in r.flags]
    assert vulnerable.channels == AUTOMATED
    (parties,) = _rules(cn, "CN-PARTIES")
    assert isinstance(parties, ThirdPartyRule)
    assert parties.requires_unreachable
    assert parties.objections == {Outcome.REFUSAL}
    assert not parties.once
    assert cn.unreachable.consecutive_failures == 3
    assert cn.unreachable.failure_outcomes == UNANSWERED | {Outcome.WRONG_NUMBER}
    assert cn.retention.decisions_days >= 2 * 365
    assert cn.retention.agreements_until_settled
    assert (cn.phone_region, cn.timezones, cn.holiday_calendar) == ("CN", ("Asia/Shanghai",), "CN")


def test_shipped__the_us_holds_the_numbers_of_the_docs_table() -> None:
    us = shipped_profile("us")
    (hours,) = _rules(us, "US-HOURS")
    assert isinstance(hours, WindowRule)
    assert hours.window == TimeWindow(time(8), time(21))
    assert Channel.EMAIL in hours.channels
    cap, cool_off = _rules(us, "US-7IN7")
    assert isinstance(cap, CapRule)
    assert (cap.limit, cap.days, cap.per, cap.outcomes) == (7, 7, Per.BORROWER, frozenset(Outcome))
    assert cap.channels == {Channel.CALL, Channel.VOICEMAIL}
    assert cap.parties == {Party.SELF}
    assert isinstance(cool_off, CoolOffRule)
    assert (cool_off.days, cool_off.outcomes) == (7, ANSWERED)
    assert not any(isinstance(rule, HolidayRule) for rule in us.rules)
    (tcpa,) = _rules(us, "US-TCPA")
    assert isinstance(tcpa, OptOutRule)
    assert tcpa.flag is Flag.OPTED_OUT_SMS
    assert tcpa.channels == {Channel.SMS}
    (third,) = _rules(us, "US-THIRD")
    assert isinstance(third, ThirdPartyRule)
    assert third.once and not third.requires_unreachable
    assert us.credit_reporting is not None
    assert us.credit_reporting.notice_days == 14
    assert us.credit_reporting.conversation_suffices
    assert us.retention.decisions_days >= 7 * 365
    assert {"America/New_York", "America/Anchorage", "Pacific/Honolulu"} <= set(us.timezones)


def test_shipped__the_uk_holds_the_numbers_of_the_docs_table() -> None:
    uk = shipped_profile("uk")
    contact = _rules(uk, "UK-CONTACT")
    (window,) = [r for r in contact if isinstance(r, WindowRule)]
    assert window.window == TimeWindow(time(8), time(21))
    (holiday,) = [r for r in contact if isinstance(r, HolidayRule)]
    assert holiday.weekdays == {6}
    assert (holiday.calendar, holiday.window) == ("GB", None)
    (breathing,) = _rules(uk, "UK-BREATHING")
    assert isinstance(breathing, HoldRule)
    assert breathing.flags == {Flag.BREATHING_SPACE}
    (vulnerable,) = _rules(uk, "UK-VULN")
    assert isinstance(vulnerable, HoldRule)
    assert vulnerable.channels == AUTOMATED
    assert uk.retention.decisions_days >= 6 * 365
    assert uk.credit_reporting is None

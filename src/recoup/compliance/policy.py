"""The policy profile: the YAML file a compliance officer owns, and the records it becomes.

A profile holds every number the contact gate uses (hours, caps, cool-offs, notice periods,
retention); the code holds none. The rules and their sources are the reference
(``shared/reference/compliance.md``); how the gate applies each kind is ``docs/compliance.md``.
The format (the shipped ``profiles/cn.yaml`` is a commented example)::

    id: cn
    name: China (default)
    description: ...
    phone_region: CN                  # a number written without + is read in this region
    timezones: [Asia/Shanghai]        # when neither the borrower nor the number says
    holiday_calendar: CN              # a country code of the `holidays` package
    unreachable: {rule: CN-UNREACHABLE, consecutive_failures: 3,
                  failure_outcomes: [no_answer, busy, failed, unreachable, wrong_number],
                  message: ..., source: ...}
    retention: {rule: CN-RECORD, decisions_days: 731, messages_days: 731,
                agreements: until_settled, message: ..., source: ...}
    credit_reporting: {rule: CN-CREDIT, notice_days: 0, message: ..., source: ...}  # optional
    outsourcing: {rule: CN-OUTSOURCE, notice_days: 0, message: ..., source: ...}    # optional
    rules:
      - id: CN-HOURS
        kind: window
        channels: [call, voicemail, sms, app_push, field_visit]
        start: "08:00"
        end: "22:00"
        message: "{Channel} are allowed {start}-{end} borrower local time ({zone}); ..."
        source: CBA 指引 2026
        house: false                  # optional: true for the lender's own rules

Rule kinds and their fields (``docs/compliance.md``, "Rule kinds"):

- ``window``: ``channels``, ``start``, ``end`` (quoted ``"HH:MM"``, start before end).
- ``holiday``: ``channels``, ``window`` (``none`` or ``{start, end}``), and at least one of
  ``calendar`` (a country code, or ``none``; default the profile's ``holiday_calendar``) with
  optional ``subdivisions`` (holidays of any listed one count), ``whole_breaks`` (weekend days
  inside a holiday's run of days off count too) and ``weekdays`` (``[sun]``).
- ``cap``: ``channels``, ``limit`` (0 or more), ``days`` (1 or more), ``per`` (``recipient`` or
  ``borrower``), optional ``parties`` and ``outcomes`` (absent: every one).
- ``cool_off``: ``channels``, ``outcomes`` (what counts as a conversation), ``days``, optional
  ``parties``.
- ``hold``: ``flags``, optional ``channels`` and ``parties`` (absent: every one).
- ``opt_out``: ``flag``, ``channels``.
- ``third_party``: optional ``requires_unreachable``, ``objections``, ``once`` with ``reached``.

Entries that share an ``id`` (one rule of the reference applied by several kinds, such as
CN-HOURS's window and holiday) must stand together, so that "the profile's order" of violations
is one order. A rule's ``message`` is what a collector sees when it blocks; words in braces are
filled in by the gate (see :data:`PLACEHOLDERS`), so the numbers in a message always come from
the fields. A file with any error is rejected whole, and every error names the file, the line
and the field.
"""

from __future__ import annotations

import enum
import hashlib
import string
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import phonenumbers

from recoup.yamlfile import (
    FieldReader,
    LocatedYaml,
    YamlPath,
    load_located,
    read_text_file,
)

#: The profiles shipped with Recoup, the default first.
PROFILE_NAMES: tuple[str, ...] = ("cn", "us", "uk")


class Channel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"
    APP_PUSH = "app_push"
    CALL = "call"
    VOICEMAIL = "voicemail"
    LETTER = "letter"
    FIELD_VISIT = "field_visit"


#: Channels whose recipient is a phone number (its region tells the time zone).
PHONE_CHANNELS: frozenset[Channel] = frozenset({Channel.CALL, Channel.SMS, Channel.VOICEMAIL})

#: How messages name a channel: "{Channel} are allowed ..." reads "Calls are allowed ...".
CHANNEL_NOUNS: Mapping[Channel, str] = {
    Channel.SMS: "text messages",
    Channel.EMAIL: "emails",
    Channel.APP_PUSH: "app notifications",
    Channel.CALL: "calls",
    Channel.VOICEMAIL: "voicemails",
    Channel.LETTER: "letters",
    Channel.FIELD_VISIT: "field visits",
}


class Party(enum.StrEnum):
    SELF = "self"
    GUARANTOR = "guarantor"
    THIRD_PARTY = "third_party"


class Outcome(enum.StrEnum):
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    RIGHT_PARTY_CONTACT = "right_party_contact"
    PROMISE_TO_PAY = "promise_to_pay"
    REFUSAL = "refusal"
    DISPUTE = "dispute"
    THIRD_PARTY_REACHED = "third_party_reached"
    UNREACHABLE = "unreachable"
    DELIVERED = "delivered"
    FAILED = "failed"


class Flag(enum.StrEnum):
    DISPUTE = "dispute"
    REPAYMENT_PLAN = "repayment_plan"
    BANKRUPTCY = "bankruptcy"
    BREATHING_SPACE = "breathing_space"
    DECEASED = "deceased"
    CEASE = "cease"
    ATTORNEY = "attorney"
    VULNERABLE = "vulnerable"
    UNREACHABLE = "unreachable"
    OPTED_OUT_SMS = "opted_out_sms"
    OPTED_OUT_EMAIL = "opted_out_email"


class RuleKind(enum.StrEnum):
    WINDOW = "window"
    HOLIDAY = "holiday"
    CAP = "cap"
    COOL_OFF = "cool_off"
    HOLD = "hold"
    OPT_OUT = "opt_out"
    THIRD_PARTY = "third_party"


#: Kinds that waiting lifts: they are judged at an instant in the borrower's local time.
TIME_KINDS: frozenset[RuleKind] = frozenset(
    {RuleKind.WINDOW, RuleKind.HOLIDAY, RuleKind.CAP, RuleKind.COOL_OFF}
)


class Per(enum.StrEnum):
    """What a cap counts over: one recipient (a phone number) or the whole borrower."""

    RECIPIENT = "recipient"
    BORROWER = "borrower"


#: The days of the week as a profile names them, Monday first (``date.weekday()`` order).
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES: tuple[str, ...] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)

_COMMON_PLACEHOLDERS = frozenset({"rule", "channel", "Channel", "party", "to"})
_TIME_PLACEHOLDERS = frozenset({"zone", "local_time", "local_date"})

#: The words a rule's message may use in braces, per kind; the gate fills them in.
#: ``zone`` is the borrower's time zone the rule blocked in ("America/Chicago, one of 8
#: possible zones" when the zone is uncertain).
PLACEHOLDERS: Mapping[RuleKind, frozenset[str]] = {
    RuleKind.WINDOW: _COMMON_PLACEHOLDERS | _TIME_PLACEHOLDERS | {"start", "end"},
    RuleKind.HOLIDAY: _COMMON_PLACEHOLDERS | _TIME_PLACEHOLDERS | {"holiday", "window"},
    RuleKind.CAP: _COMMON_PLACEHOLDERS
    | _TIME_PLACEHOLDERS
    | {"limit", "days", "count", "first_date"},
    RuleKind.COOL_OFF: _COMMON_PLACEHOLDERS
    | _TIME_PLACEHOLDERS
    | {"days", "conversation_date", "day", "next_date"},
    RuleKind.HOLD: _COMMON_PLACEHOLDERS | {"flag"},
    RuleKind.OPT_OUT: _COMMON_PLACEHOLDERS | {"flag"},
    RuleKind.THIRD_PARTY: _COMMON_PLACEHOLDERS | {"reason"},
}
#: The words a notice section's message may use (see ``gate.check_notice``).
NOTICE_PLACEHOLDERS: frozenset[str] = frozenset({"rule", "notice_days", "status"})


# ---------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Local times ``[start, end)``: with 08:00-22:00, 21:59 is inside and 22:00 is not."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class WindowRule:
    """Listed channels only inside ``window``, borrower local time."""

    kind: ClassVar[RuleKind] = RuleKind.WINDOW
    id: str
    message: str
    source: str
    house: bool
    channels: frozenset[Channel]
    window: TimeWindow


@dataclass(frozen=True, slots=True)
class HolidayRule:
    """On a public holiday of ``calendar`` (any of ``subdivisions`` when listed) or a listed
    weekday, listed channels only inside ``window``; None: not at all."""

    kind: ClassVar[RuleKind] = RuleKind.HOLIDAY
    id: str
    message: str
    source: str
    house: bool
    channels: frozenset[Channel]
    calendar: str | None
    subdivisions: tuple[str, ...]
    weekdays: frozenset[int]  # 0 = Monday
    window: TimeWindow | None
    #: Whole breaks: a weekend day in an unbroken run of days off that holds a holiday counts
    #: too (China's 放假调休 breaks: 2026-10-01 to 10-07, Sunday 10-04 included).
    whole_breaks: bool = False


@dataclass(frozen=True, slots=True)
class CapRule:
    """At most ``limit`` matching attempts within ``days`` local calendar days (the action's
    day is day 1), per recipient or per borrower."""

    kind: ClassVar[RuleKind] = RuleKind.CAP
    id: str
    message: str
    source: str
    house: bool
    channels: frozenset[Channel]
    parties: frozenset[Party]
    outcomes: frozenset[Outcome]
    per: Per
    limit: int
    days: int


@dataclass(frozen=True, slots=True)
class CoolOffRule:
    """No contact on ``channels`` for ``days`` local days after a conversation (its day is 1)."""

    kind: ClassVar[RuleKind] = RuleKind.COOL_OFF
    id: str
    message: str
    source: str
    house: bool
    channels: frozenset[Channel]
    parties: frozenset[Party]
    outcomes: frozenset[Outcome]
    days: int


@dataclass(frozen=True, slots=True)
class HoldRule:
    """No contact on ``channels`` with ``parties`` while the borrower has one of ``flags``."""

    kind: ClassVar[RuleKind] = RuleKind.HOLD
    id: str
    message: str
    source: str
    house: bool
    flags: frozenset[Flag]
    channels: frozenset[Channel]
    parties: frozenset[Party]


@dataclass(frozen=True, slots=True)
class OptOutRule:
    """No contact on ``channels`` once the borrower has ``flag`` (an opt-out)."""

    kind: ClassVar[RuleKind] = RuleKind.OPT_OUT
    id: str
    message: str
    source: str
    house: bool
    flag: Flag
    channels: frozenset[Channel]


@dataclass(frozen=True, slots=True)
class ThirdPartyRule:
    """When third parties may be contacted at all."""

    kind: ClassVar[RuleKind] = RuleKind.THIRD_PARTY
    id: str
    message: str
    source: str
    house: bool
    requires_unreachable: bool
    objections: frozenset[Outcome]
    once: bool
    reached: frozenset[Outcome]


Rule = WindowRule | HolidayRule | CapRule | CoolOffRule | HoldRule | OptOutRule | ThirdPartyRule


@dataclass(frozen=True, slots=True)
class Unreachable:
    """When the borrower counts as unreachable (for third-party rules)."""

    rule: str
    consecutive_failures: int
    failure_outcomes: frozenset[Outcome]
    message: str
    source: str
    house: bool = False


@dataclass(frozen=True, slots=True)
class Retention:
    """How long records are kept; ``agreements_days`` None: until the debt is settled."""

    rule: str
    decisions_days: int
    messages_days: int
    agreements_days: int | None
    message: str
    source: str
    house: bool = False

    @property
    def agreements_until_settled(self) -> bool:
        return self.agreements_days is None


@dataclass(frozen=True, slots=True)
class NoticeRule:
    """A step (credit reporting, outsourcing) allowed only ``notice_days`` after a notice."""

    rule: str
    notice_days: int
    conversation_suffices: bool  # a conversation with the borrower counts as the notice
    message: str
    source: str
    house: bool = False


@dataclass(frozen=True, slots=True)
class Profile:
    """A validated profile. ``version`` is a short hash of ``text``, for stored decisions."""

    id: str
    name: str
    description: str
    phone_region: str
    timezones: tuple[str, ...]
    holiday_calendar: str
    rules: tuple[Rule, ...]
    unreachable: Unreachable
    retention: Retention
    credit_reporting: NoticeRule | None
    outsourcing: NoticeRule | None
    source: str
    text: str = field(repr=False)
    version: str
    #: The rules that can concern each channel and party, in profile order (for the gate).
    _by_contact: Mapping[tuple[Channel, Party], tuple[Rule, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _zones: tuple[ZoneInfo, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_contact = {
            (channel, party): tuple(rule for rule in self.rules if _concerns(rule, channel, party))
            for channel in Channel
            for party in Party
        }
        object.__setattr__(self, "_by_contact", by_contact)
        object.__setattr__(self, "_zones", tuple(ZoneInfo(name) for name in self.timezones))

    def rules_for(self, channel: Channel, party: Party) -> tuple[Rule, ...]:
        """The rules that may block a contact on ``channel`` with ``party``, in profile order."""
        return self._by_contact[(channel, party)]

    @property
    def zones(self) -> tuple[ZoneInfo, ...]:
        """The profile's ``timezones`` as zone objects."""
        return self._zones

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Every rule id in profile order, each once (sections' ids included)."""
        ids = [rule.id for rule in self.rules]
        ids.append(self.unreachable.rule)
        ids.append(self.retention.rule)
        ids.extend(s.rule for s in (self.credit_reporting, self.outsourcing) if s is not None)
        return tuple(dict.fromkeys(ids))


def _concerns(rule: Rule, channel: Channel, party: Party) -> bool:
    """Whether ``rule`` can block a contact on ``channel`` with ``party`` (flags and history
    aside): a cap or cool-off counts only contacts it would count, a third-party rule only
    contacts with third parties."""
    if isinstance(rule, ThirdPartyRule):
        return party is Party.THIRD_PARTY
    if isinstance(rule, CapRule | CoolOffRule | HoldRule):
        return channel in rule.channels and party in rule.parties
    return channel in rule.channels


# ---------------------------------------------------------------------------------- loading


def load_profile(path: Path | str) -> Profile:
    """Read and validate a profile file; raises :class:`YamlFileError` naming line and field."""
    path = Path(path)
    text = read_text_file(path)
    return parse_profile(text, str(path))


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """Validate the text of a profile named ``source`` in messages."""
    located = load_located(text, source)
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return _Reader(located).profile(text, version)


@cache
def shipped_profile(name: str) -> Profile:
    """One of the profiles shipped with Recoup (:data:`PROFILE_NAMES`), read once."""
    if name not in PROFILE_NAMES:
        raise ValueError(f"no shipped profile {name!r}; profiles: {', '.join(PROFILE_NAMES)}")
    return load_profile(shipped_profile_path(name))


def shipped_profile_path(name: str) -> Path:
    """The file of a shipped profile, to copy as the start of a house profile."""
    return Path(str(resources.files("recoup.compliance") / "profiles" / f"{name}.yaml"))


@lru_cache(maxsize=256)
def zone_info(name: str) -> ZoneInfo | None:
    """The zone named ``name`` (IANA), or None when there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@lru_cache(maxsize=1)
def holiday_calendars() -> Mapping[str, Collection[str]]:
    """The country codes of the ``holidays`` package and their subdivisions."""
    supported: Mapping[str, Collection[str]] = holidays.list_supported_countries()
    return supported


# ---------------------------------------------------------------------------------- reading

_TOP_REQUIRED = frozenset(
    {
        "id",
        "name",
        "phone_region",
        "timezones",
        "holiday_calendar",
        "unreachable",
        "retention",
        "rules",
    }
)
_TOP = _TOP_REQUIRED | {"description", "credit_reporting", "outsourcing"}
_COMMON_REQUIRED = frozenset({"id", "kind", "message", "source"})
_COMMON = _COMMON_REQUIRED | {"house"}
_UNREACHABLE_REQUIRED = frozenset(
    {"rule", "consecutive_failures", "failure_outcomes", "message", "source"}
)
_UNREACHABLE = _UNREACHABLE_REQUIRED | {"house"}
_RETENTION_REQUIRED = frozenset(
    {"rule", "decisions_days", "messages_days", "agreements", "message", "source"}
)
_RETENTION = _RETENTION_REQUIRED | {"house"}
_NOTICE_REQUIRED = frozenset({"rule", "notice_days", "message", "source"})
_NOTICE = _NOTICE_REQUIRED | {"conversation_suffices", "house"}
_MAX_DAYS = 36_600  # a sanity bound: a hundred years
_MAX_LIMIT = 10_000
UNTIL_SETTLED = "until_settled"

E = TypeVar("E", bound=enum.StrEnum)


@dataclass(frozen=True, slots=True)
class _Common:
    id: str
    message: str
    source: str
    house: bool


@dataclass(frozen=True, slots=True)
class _KindSpec:
    """A kind's fields and the function that builds its record from a checked mapping."""

    required: frozenset[str]
    optional: frozenset[str]
    build: Callable[[_Reader, Mapping[str, Any], YamlPath, _Common], Rule]


class _Reader(FieldReader):
    """Walks the parsed document; every check raises an error naming line and field."""

    def __init__(self, located: LocatedYaml) -> None:
        super().__init__(located)
        self.holiday_calendar = ""

    # ------------------------------------------------------------------ shapes

    def choice(self, value: Any, path: YamlPath, enum_type: type[E], what: str) -> E:
        try:
            return enum_type(value)
        except ValueError:
            names = ", ".join(member.value for member in enum_type)
            raise self.fail(path, f"unknown {what} {value!r}; {what}s: {names}") from None

    def choices(
        self, value: Any, path: YamlPath, enum_type: type[E], what: str, *, non_empty: bool = True
    ) -> frozenset[E]:
        result: set[E] = set()
        for i, item in enumerate(self.items(value, path, non_empty=non_empty)):
            member = self.choice(item, (*path, i), enum_type, what)
            if member in result:
                raise self.fail((*path, i), f"{member.value!r} is listed twice")
            result.add(member)
        return frozenset(result)

    def optional_choices(
        self, body: Mapping[str, Any], key: str, path: YamlPath, enum_type: type[E], what: str
    ) -> frozenset[E]:
        """A list field that may be left out, meaning every member."""
        if key not in body:
            return frozenset(enum_type)
        return self.choices(body[key], (*path, key), enum_type, what)

    def clock(self, value: Any, path: YamlPath) -> time:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 22:00 as the number 1320 (base 60).
            raise self.fail(path, 'write the time in quotes, e.g. "22:00"')
        text = value.strip() if isinstance(value, str) else ""
        hours, _, minutes = text.partition(":")
        if not (len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()):
            raise self.fail(path, f'must be a time "HH:MM" such as "08:00", got {value!r}')
        if int(hours) > 23 or int(minutes) > 59:
            raise self.fail(path, f"{text!r} is not a time of day")
        return time(int(hours), int(minutes))

    def window(self, value: Any, path: YamlPath) -> TimeWindow:
        body = self.mapping(value, path, {"start", "end"}, {"start", "end"})
        start = self.clock(body["start"], (*path, "start"))
        end = self.clock(body["end"], (*path, "end"))
        if end <= start:
            raise self.fail((*path, "end"), f"end {end:%H:%M} must come after start {start:%H:%M}")
        return TimeWindow(start, end)

    def days(self, value: Any, path: YamlPath, *, minimum: int = 1) -> int:
        return self.count(value, path, minimum=minimum, maximum=_MAX_DAYS)

    def message(self, value: Any, path: YamlPath, allowed: Collection[str]) -> str:
        text = self.text(value, path)
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError:
            raise self.fail(
                path, "unbalanced braces; write {{ and }} for a brace in the text"
            ) from None
        for _literal, name, spec, conversion in parsed:
            if name is None:
                continue
            if name not in allowed or spec or conversion:
                raise self.fail(
                    path, f"unknown placeholder {{{name}}}; this rule may use: {_join(allowed)}"
                )
        return text

    def rule_id(self, value: Any, path: YamlPath) -> str:
        text = self.text(value, path)
        if any(c.isspace() for c in text):
            raise self.fail(path, f"a rule id has no spaces, got {text!r}")
        return text

    def zone_name(self, value: Any, path: YamlPath) -> str:
        name = self.text(value, path)
        if zone_info(name) is None:
            raise self.fail(
                path, f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai"
            )
        return name

    def calendar(self, value: Any, path: YamlPath) -> str:
        code = value if isinstance(value, str) else ""
        if code not in holiday_calendars():
            raise self.fail(
                path, f"unknown holiday calendar {value!r}; use a country code such as CN, US, GB"
            )
        return code

    # ------------------------------------------------------------------ sections

    def profile(self, text: str, version: str) -> Profile:
        root = self.mapping(self.located.data, (), _TOP_REQUIRED, _TOP)
        region = root["phone_region"]
        if not isinstance(region, str) or not _is_phone_region(region):
            raise self.fail(
                ("phone_region",), f"must be a region code such as CN, US, GB, got {region!r}"
            )
        timezones: list[str] = []
        for i, item in enumerate(self.items(root["timezones"], ("timezones",), non_empty=True)):
            name = self.zone_name(item, ("timezones", i))
            if name in timezones:
                raise self.fail(("timezones", i), f"{name!r} is listed twice")
            timezones.append(name)
        self.holiday_calendar = self.calendar(root["holiday_calendar"], ("holiday_calendar",))
        return Profile(
            id=self.rule_id(root["id"], ("id",)),
            name=self.text(root["name"], ("name",)),
            description=(
                self.text(root["description"], ("description",))
                if root.get("description") is not None
                else ""
            ),
            phone_region=region,
            timezones=tuple(timezones),
            holiday_calendar=self.holiday_calendar,
            rules=self.rules(root["rules"]),
            unreachable=self.unreachable(root["unreachable"]),
            retention=self.retention(root["retention"]),
            credit_reporting=self.notice(root.get("credit_reporting"), "credit_reporting"),
            outsourcing=self.notice(root.get("outsourcing"), "outsourcing"),
            source=self.located.source,
            text=text,
            version=version,
        )

    def unreachable(self, value: Any) -> Unreachable:
        path: YamlPath = ("unreachable",)
        body = self.mapping(value, path, _UNREACHABLE_REQUIRED, _UNREACHABLE)
        return Unreachable(
            rule=self.rule_id(body["rule"], (*path, "rule")),
            consecutive_failures=self.count(
                body["consecutive_failures"],
                (*path, "consecutive_failures"),
                minimum=1,
                maximum=_MAX_LIMIT,
            ),
            failure_outcomes=self.choices(
                body["failure_outcomes"], (*path, "failure_outcomes"), Outcome, "outcome"
            ),
            message=self.message(body["message"], (*path, "message"), ()),
            source=self.text(body["source"], (*path, "source")),
            house=self.boolean(body.get("house", False), (*path, "house")),
        )

    def retention(self, value: Any) -> Retention:
        path: YamlPath = ("retention",)
        body = self.mapping(value, path, _RETENTION_REQUIRED, _RETENTION)
        agreements = body["agreements"]
        agreements_days: int | None = None
        if agreements != UNTIL_SETTLED:
            if isinstance(agreements, bool) or not isinstance(agreements, int):
                raise self.fail(
                    (*path, "agreements"),
                    f"must be {UNTIL_SETTLED} or a number of days, got {agreements!r}",
                )
            agreements_days = self.days(agreements, (*path, "agreements"))
        return Retention(
            rule=self.rule_id(body["rule"], (*path, "rule")),
            decisions_days=self.days(body["decisions_days"], (*path, "decisions_days")),
            messages_days=self.days(body["messages_days"], (*path, "messages_days")),
            agreements_days=agreements_days,
            message=self.message(body["message"], (*path, "message"), ()),
            source=self.text(body["source"], (*path, "source")),
            house=self.boolean(body.get("house", False), (*path, "house")),
        )

    def notice(self, value: Any, key: str) -> NoticeRule | None:
        if value is None:
            return None
        path: YamlPath = (key,)
        body = self.mapping(value, path, _NOTICE_REQUIRED, _NOTICE)
        return NoticeRule(
            rule=self.rule_id(body["rule"], (*path, "rule")),
            notice_days=self.days(body["notice_days"], (*path, "notice_days"), minimum=0),
            conversation_suffices=self.boolean(
                body.get("conversation_suffices", False), (*path, "conversation_suffices")
            ),
            message=self.message(body["message"], (*path, "message"), NOTICE_PLACEHOLDERS),
            source=self.text(body["source"], (*path, "source")),
            house=self.boolean(body.get("house", False), (*path, "house")),
        )

    # ------------------------------------------------------------------ rules

    def rules(self, value: Any) -> tuple[Rule, ...]:
        rules: list[Rule] = []
        closed: set[str] = set()  # ids whose group of entries has ended
        for i, raw in enumerate(self.items(value, ("rules",), non_empty=False)):
            path: YamlPath = ("rules", i)
            if not isinstance(raw, Mapping):
                raise self.fail(path, "must be a mapping with id, kind, message, source")
            if "kind" not in raw:
                raise self.fail((*path, "kind"), "missing")
            kind = self.choice(raw["kind"], (*path, "kind"), RuleKind, "kind")
            spec = _KINDS[kind]
            body = self.mapping(
                raw, path, _COMMON_REQUIRED | spec.required, _COMMON | spec.required | spec.optional
            )
            common = _Common(
                id=self.rule_id(body["id"], (*path, "id")),
                message=self.message(body["message"], (*path, "message"), PLACEHOLDERS[kind]),
                source=self.text(body["source"], (*path, "source")),
                house=self.boolean(body.get("house", False), (*path, "house")),
            )
            if common.id in closed:
                raise self.fail(
                    (*path, "id"),
                    f"{common.id} already appears earlier with other rules in between; keep the "
                    "entries of one rule together so that violations have one order",
                )
            if rules and rules[-1].id != common.id:
                closed.add(rules[-1].id)
            rules.append(spec.build(self, body, path, common))
        return tuple(rules)

    def window_rule(self, body: Mapping[str, Any], path: YamlPath, common: _Common) -> Rule:
        start = self.clock(body["start"], (*path, "start"))
        end = self.clock(body["end"], (*path, "end"))
        if end <= start:
            raise self.fail((*path, "end"), f"end {end:%H:%M} must come after start {start:%H:%M}")
        return WindowRule(
            **_fields(common),
            channels=self.choices(body["channels"], (*path, "channels"), Channel, "channel"),
            window=TimeWindow(start, end),
        )

    def holiday_rule(self, body: Mapping[str, Any], path: YamlPath, common: _Common) -> Rule:
        calendar: str | None = self.holiday_calendar
        if "calendar" in body:
            raw = body["calendar"]
            calendar = None if raw in ("none", None) else self.calendar(raw, (*path, "calendar"))
        subdivisions: list[str] = []
        if body.get("subdivisions") is not None:
            sub_path: YamlPath = (*path, "subdivisions")
            if calendar is None:
                raise self.fail(sub_path, "subdivisions need a calendar")
            known = holiday_calendars()[calendar]
            for i, item in enumerate(self.items(body["subdivisions"], sub_path, non_empty=True)):
                if item not in known:
                    raise self.fail(
                        (*sub_path, i),
                        f"{calendar} has no subdivision {item!r}; it has: {_join(known)}",
                    )
                if item in subdivisions:
                    raise self.fail((*sub_path, i), f"{item!r} is listed twice")
                subdivisions.append(item)
        weekdays: set[int] = set()
        if body.get("weekdays") is not None:
            days_path: YamlPath = (*path, "weekdays")
            for i, item in enumerate(self.items(body["weekdays"], days_path, non_empty=True)):
                if item not in WEEKDAYS:
                    raise self.fail(
                        (*days_path, i), f"days are {', '.join(WEEKDAYS)}, got {item!r}"
                    )
                if WEEKDAYS.index(item) in weekdays:
                    raise self.fail((*days_path, i), f"{item!r} is listed twice")
                weekdays.add(WEEKDAYS.index(item))
        if calendar is None and not weekdays:
            raise self.fail(path, "names no days: give a calendar or weekdays")
        raw_window = body["window"]
        window = (
            None if raw_window in ("none", None) else self.window(raw_window, (*path, "window"))
        )
        return HolidayRule(
            **_fields(common),
            channels=self.choices(body["channels"], (*path, "channels"), Channel, "channel"),
            calendar=calendar,
            subdivisions=tuple(sorted(subdivisions)),
            weekdays=frozenset(weekdays),
            window=window,
            whole_breaks=self.boolean(body.get("whole_breaks", False), (*path, "whole_breaks")),
        )

    def cap_rule(self, body: Mapping[str, Any], path: YamlPath, common: _Common) -> Rule:
        limit = body["limit"]
        if isinstance(limit, int) and not isinstance(limit, bool) and limit < 0:
            raise self.fail((*path, "limit"), f"must be 0 or more, got {limit}")
        return CapRule(
            **_fields(common),
            channels=self.choices(body["channels"], (*path, "channels"), Channel, "channel"),
            parties=self.optional_choices(body, "parties", path, Party, "party"),
            outcomes=self.optional_choices(body, "outcomes", path, Outcome, "outcome"),
            per=self.choice(body["per"], (*path, "per"), Per, "per"),
            limit=self.count(limit, (*path, "limit"), minimum=0, maximum=_MAX_LIMIT),
            days=self.days(body["days"], (*path, "days")),
        )

    def cool_off_rule(self, body: Mapping[str, Any], path: YamlPath, common: _Common) -> Rule:
        return CoolOffRule(
            **_fields(common),
            channels=self.choices(body["channels"], (*path, "channels"), Channel, "channel"),
            parties=self.optional_choices(body, "parties", path, Party, "party"),
            outcomes=self.choices(body["outcomes"], (*path, "outcomes"), Outcome, "outcome"),
            days=self.days(body["days"], (*path, "days")),
        )

    def hold_rule(self, body: Mapping[str, Any], path: YamlPath, common: _Common) -> Rule:
        return HoldRule(
            **_fields(common),
            flags=self.choices(body["flags"], (*path, "flags"), Flag, "flag"),
            channels=self.optional_choices(body, "channels", path, Channel, "channel"),
            parties=self.optional_choices(body, "parties", path, Party, "party"),
        )

    def opt_out_rule(self, body: Mapping[str, Any], path: YamlPath, common: _Common) -> Rule:
        return OptOutRule(
            **_fields(common),
            flag=self.choice(body["flag"], (*path, "flag"), Flag, "flag"),
            channels=self.choices(body["channels"], (*path, "channels"), Channel, "channel"),
        )

    def third_party_rule(self, body: Mapping[str, Any], path: YamlPath, common: _Common) -> Rule:
        once = self.boolean(body.get("once", False), (*path, "once"))
        reached: frozenset[Outcome] = frozenset()
        if "reached" in body:
            reached = self.choices(body["reached"], (*path, "reached"), Outcome, "outcome")
        elif once:
            raise self.fail(
                (*path, "reached"), "missing; once: true needs the outcomes that count as reached"
            )
        objections: frozenset[Outcome] = frozenset()
        if "objections" in body:
            objections = self.choices(
                body["objections"], (*path, "objections"), Outcome, "outcome", non_empty=False
            )
        return ThirdPartyRule(
            **_fields(common),
            requires_unreachable=self.boolean(
                body.get("requires_unreachable", False), (*path, "requires_unreachable")
            ),
            objections=objections,
            once=once,
            reached=reached,
        )


def _fields(common: _Common) -> dict[str, Any]:
    return {
        "id": common.id,
        "message": common.message,
        "source": common.source,
        "house": common.house,
    }


#: The typed registry: each kind's fields and its builder.
_KINDS: Mapping[RuleKind, _KindSpec] = {
    RuleKind.WINDOW: _KindSpec(
        frozenset({"channels", "start", "end"}), frozenset(), _Reader.window_rule
    ),
    RuleKind.HOLIDAY: _KindSpec(
        frozenset({"channels", "window"}),
        frozenset({"calendar", "subdivisions", "weekdays", "whole_breaks"}),
        _Reader.holiday_rule,
    ),
    RuleKind.CAP: _KindSpec(
        frozenset({"channels", "limit", "days", "per"}),
        frozenset({"parties", "outcomes"}),
        _Reader.cap_rule,
    ),
    RuleKind.COOL_OFF: _KindSpec(
        frozenset({"channels", "outcomes", "days"}), frozenset({"parties"}), _Reader.cool_off_rule
    ),
    RuleKind.HOLD: _KindSpec(
        frozenset({"flags"}), frozenset({"channels", "parties"}), _Reader.hold_rule
    ),
    RuleKind.OPT_OUT: _KindSpec(frozenset({"flag", "channels"}), frozenset(), _Reader.opt_out_rule),
    RuleKind.THIRD_PARTY: _KindSpec(
        frozenset(),
        frozenset({"requires_unreachable", "objections", "once", "reached"}),
        _Reader.third_party_rule,
    ),
}


def _is_phone_region(code: str) -> bool:
    return code in phonenumbers.SUPPORTED_REGIONS


def _join(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))

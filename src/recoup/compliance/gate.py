"""The contact gate: is this contact allowed now, and if not, why and from when?

Every outbound contact (a planned strategy action, a call in a collector's queue, a contact
started by hand) is judged here against a policy profile and the history of earlier contacts
about the same debt. How each rule kind is applied is ``docs/compliance.md``; the rules and
their sources are the compliance reference; every number is a field of the profile.

- Time rules (``window``, ``holiday``, ``cap``, ``cool_off``) are judged in the borrower's
  local time, in **every** candidate zone (:mod:`recoup.compliance.timezones`): a contact is
  blocked when a rule blocks in any of them (12 CFR 1006.6(b)(1) for an ambiguous zone). Day
  counts use the local calendar day of that zone, the action's day being day 1.
- ``hold``, ``opt_out`` and ``third_party`` do not lift with time.
- History entries at or after the action's ``at`` are ignored: the gate judges the moment the
  contact would happen.
- Violations come one per rule id, in profile order (entries of one id stand together in a
  profile, so first-appearance and first-blocking order agree).
- ``next_allowed_at`` is the earliest instant at or after ``at`` when the same contact would be
  allowed; None when a rule that waiting cannot lift blocks, or when nothing within 366 days
  is allowed. Time rules only change verdict at a local midnight (day counts, holidays) or at
  a window's start or end, so the first allowed instant is ``at`` or one of the candidate
  zones' local midnights and window starts. The search does not try them one by one: a rule
  that blocks at ``t`` blocks until a known candidate (its window's next start there, or the
  midnight its count or cool-off ends), so it jumps to the latest of those and judges again,
  landing on the first allowed candidate (the unit tests check this against the one-by-one
  search).

The gate is pure: it reads no clock and no files but its own profiles. A batch decides with
:func:`decide_many`; each request costs a few rule checks, and the profile's rules are indexed
by channel and party, zones and holiday calendars are cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import holidays

from recoup.compliance.policy import (
    CHANNEL_NOUNS,
    PHONE_CHANNELS,
    TIME_KINDS,
    WEEKDAY_NAMES,
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
    Rule,
    RuleKind,
    ThirdPartyRule,
    WindowRule,
)
from recoup.compliance.timezones import candidate_zones, phone_key, recipient_key

#: How far ahead ``next_allowed_at`` looks before giving up.
SEARCH_DAYS = 366
_MIDNIGHT = time(0)
_ONE_DAY = timedelta(days=1)
#: A lift time for a rule that never lifts (a cap of 0).
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Attempt:
    """An earlier contact about the same debt, and how it ended."""

    channel: Channel
    at: datetime  # aware
    to: str
    party: Party
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """A proposed contact: ``channel`` to ``to`` (a ``party`` of the debt) at ``at``.

    ``timezone`` is the borrower's own IANA zone when known; ``flags`` and ``history`` describe
    the borrower and the earlier contacts about the debt.
    """

    channel: Channel
    at: datetime  # aware
    party: Party
    to: str
    timezone: str | None = None
    flags: frozenset[Flag] = frozenset()
    history: tuple[Attempt, ...] = ()

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"a contact's time needs a UTC offset, got {self.at.isoformat()}")


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule that blocks the contact (its id), and why in plain words."""

    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer: allowed or not, every rule that blocks, and the earliest time the
    same contact would be allowed (``at`` itself when allowed; None when waiting cannot help)."""

    allowed: bool
    violations: tuple[Violation, ...]
    next_allowed_at: datetime | None


def decide(request: ContactRequest, profile: Profile) -> Decision:
    """Judge one proposed contact against ``profile`` (see the module docstring)."""
    case = _Case(request, profile)
    at = request.at
    blocked: list[tuple[Rule, dict[str, object]]] = []
    waiting_helps = True
    moments: list[datetime] | None = None
    for rule in case.rules:
        if rule.kind in TIME_KINDS:
            if moments is None:
                moments = case.moments(at)
            first, _, words = _TIME_CHECKS[rule.kind]
            index = first(rule, case, moments)
            if index >= 0:
                blocked.append((rule, words(rule, case, index, moments[index])))
        else:
            details = _STANDING_CHECKS[rule.kind](rule, case)
            if details is not None:
                waiting_helps = False
                blocked.append((rule, details))
    if not blocked:
        return Decision(True, (), at)
    violations = case.violations(blocked)
    if not waiting_helps:
        return Decision(False, violations, None)
    return Decision(False, violations, case.next_allowed())


def decide_many(requests: Iterable[ContactRequest], profile: Profile) -> list[Decision]:
    """Judge a batch of contacts against one profile; the profile's indexes, the zones, the
    phone numbers and the holiday calendars are shared by all of them."""
    return [decide(request, profile) for request in requests]


def borrower_unreachable(
    history: Sequence[Attempt], flags: Iterable[Flag], profile: Profile
) -> bool:
    """Whether the borrower counts as unreachable (CN-UNREACHABLE and the profile's
    ``unreachable`` section): the flag ``unreachable`` is set; or the last
    ``consecutive_failures`` attempts to the borrower's own recipients (party self) all ended in
    one of ``failure_outcomes``; or the last attempt to every own phone number ended in
    ``wrong_number``. ``history`` is taken as given: filter it to the moment judged first.
    """
    if Flag.UNREACHABLE in flags:
        return True
    section = profile.unreachable
    own = sorted((a for a in history if a.party is Party.SELF), key=lambda a: a.at)
    tail = own[-section.consecutive_failures :]
    if len(tail) == section.consecutive_failures and all(
        a.outcome in section.failure_outcomes for a in tail
    ):
        return True
    last_outcome: dict[str, Outcome] = {}
    for attempt in own:
        if attempt.channel in PHONE_CHANNELS:
            last_outcome[phone_key(attempt.to, profile.phone_region)] = attempt.outcome
    return bool(last_outcome) and all(o is Outcome.WRONG_NUMBER for o in last_outcome.values())


NoticeKind = Literal["credit_reporting", "outsourcing"]


def check_notice(
    kind: NoticeKind,
    notices_sent: Sequence[datetime],
    at: datetime,
    profile: Profile,
    spoke_at: Sequence[datetime] = (),
) -> tuple[Violation, ...]:
    """Whether a step that needs notice first (reporting to the credit bureau: CN-CREDIT,
    US-REPORT; placing with an agency: CN-OUTSOURCE) may happen at ``at``.

    Blocked unless a notice was sent at least ``notice_days`` before ``at``. When the profile's
    section says ``conversation_suffices`` (US-REPORT, 1006.30(a)), a conversation with the
    borrower before ``at`` (``spoke_at``) is enough. A profile without the section never blocks.
    """
    section: NoticeRule | None
    if kind == "credit_reporting":
        section = profile.credit_reporting
    elif kind == "outsourcing":
        section = profile.outsourcing
    else:
        raise ValueError(f"no notice kind {kind!r}; kinds: credit_reporting, outsourcing")
    if section is None:
        return ()
    wait = timedelta(days=section.notice_days)
    if any(sent + wait <= at for sent in notices_sent):
        return ()
    if section.conversation_suffices and any(spoke <= at for spoke in spoke_at):
        return ()
    earlier = [sent for sent in notices_sent if sent <= at]
    if earlier:
        last = max(earlier)
        status = f"the notice sent {last.isoformat()} allows it from {(last + wait).isoformat()}"
    else:
        status = "no notice has been sent"
        if section.conversation_suffices:
            status += " and the borrower has not been spoken to"
    values = {"rule": section.rule, "notice_days": section.notice_days, "status": status}
    return (Violation(section.rule, section.message.format_map(values)),)


# ---------------------------------------------------------------------------------- the case


class _Case:
    """One request being judged, with what its rule checks share (computed on first use)."""

    __slots__ = (
        "_conversations",
        "_dates",
        "_matches",
        "_to_key",
        "_zones",
        "at",
        "history",
        "profile",
        "request",
        "rules",
    )

    def __init__(self, request: ContactRequest, profile: Profile) -> None:
        self.request = request
        self.profile = profile
        self.at = request.at
        self.rules = profile.rules_for(request.channel, request.party)
        at = request.at
        history = request.history
        if any(a.at >= at for a in history):
            history = tuple(a for a in history if a.at < at)
        self.history = history
        self._zones: tuple[ZoneInfo, ...] | None = None
        self._to_key: str | None = None
        self._matches: dict[int, tuple[datetime, ...]] = {}
        self._dates: dict[tuple[int, int], list[date]] = {}
        self._conversations: dict[int, list[date] | None] = {}

    # ------------------------------------------------------------------ shared facts

    @property
    def zones(self) -> tuple[ZoneInfo, ...]:
        if self._zones is None:
            request = self.request
            self._zones = candidate_zones(
                request.channel, request.to, request.timezone, self.profile
            )
        return self._zones

    def moments(self, t: datetime) -> list[datetime]:
        """``t`` as local time in each candidate zone."""
        return [t.astimezone(zone) for zone in self.zones]

    def zone_text(self, index: int) -> str:
        zones = self.zones
        name = zones[index].key
        return name if len(zones) == 1 else f"{name}, one of {len(zones)} possible zones"

    @property
    def to_key(self) -> str:
        if self._to_key is None:
            request = self.request
            self._to_key = recipient_key(request.channel, request.to, self.profile.phone_region)
        return self._to_key

    def same_recipient(self, attempt: Attempt) -> bool:
        if attempt.to == self.request.to:
            return True
        return recipient_key(attempt.channel, attempt.to, self.profile.phone_region) == self.to_key

    def matches(self, rule: CapRule) -> tuple[datetime, ...]:
        """The instants of earlier attempts that ``rule`` counts."""
        found = self._matches.get(id(rule))
        if found is None:
            per_recipient = rule.per is Per.RECIPIENT
            found = tuple(
                a.at
                for a in self.history
                if a.channel in rule.channels
                and a.party in rule.parties
                and a.outcome in rule.outcomes
                and (not per_recipient or self.same_recipient(a))
            )
            self._matches[id(rule)] = found
        return found

    def local_dates(self, rule: CapRule, zone_index: int) -> list[date]:
        key = (id(rule), zone_index)
        dates = self._dates.get(key)
        if dates is None:
            zone = self.zones[zone_index]
            dates = sorted(
                (instant.astimezone(zone).date() for instant in self.matches(rule)), reverse=True
            )
            self._dates[key] = dates
        return dates

    def conversation_days(self, rule: CoolOffRule) -> list[date] | None:
        """The local day of the latest conversation ``rule`` counts, per candidate zone."""
        key = id(rule)
        if key not in self._conversations:
            talks = [
                a.at
                for a in self.history
                if a.outcome in rule.outcomes
                and a.channel in rule.channels
                and a.party in rule.parties
            ]
            self._conversations[key] = (
                [max(talks).astimezone(zone).date() for zone in self.zones] if talks else None
            )
        return self._conversations[key]

    # ------------------------------------------------------------------ answers

    def violations(
        self, blocked: Sequence[tuple[Rule, Mapping[str, object]]]
    ) -> tuple[Violation, ...]:
        """One violation per rule id, in profile order; the messages of several blocking
        entries of one id are joined."""
        request = self.request
        noun = CHANNEL_NOUNS[request.channel]
        common = {
            "channel": noun,
            "Channel": noun[:1].upper() + noun[1:],
            "party": request.party.value,
            "to": request.to,
        }
        messages: dict[str, list[str]] = {}
        for rule, details in blocked:
            text = rule.message.format_map({**common, "rule": rule.id, **details})
            texts = messages.setdefault(rule.id, [])
            if text not in texts:
                texts.append(text)
        return tuple(Violation(rule_id, " ".join(texts)) for rule_id, texts in messages.items())

    def next_allowed(self) -> datetime | None:
        """The first instant after ``at`` (within :data:`SEARCH_DAYS`) no time rule blocks.

        Only called when no standing rule (hold, opt-out, third party) blocks. Each time rule
        that blocks at ``t`` in some zone blocks without a break until a known instant (the next
        start of its window there, or a local midnight), and nothing before the latest of
        those instants can be allowed; so instead of trying every midnight and window start in
        turn, the search jumps to that instant and judges again. The instants it lands on are
        such candidates, so the answer is the same: the first allowed one.
        """
        at = self.at
        horizon = at + timedelta(days=SEARCH_DAYS)
        time_rules = [rule for rule in self.rules if rule.kind in TIME_KINDS]
        t = at
        while True:
            moments = self.moments(t)
            latest: datetime | None = None
            for rule in time_rules:
                until = _TIME_CHECKS[rule.kind][1](rule, self, moments)
                if until is not None and (latest is None or until > latest):
                    latest = until
            if latest is None:
                return t.astimezone(at.tzinfo)
            if latest > horizon:
                return None
            t = latest


# ---------------------------------------------------------------------------------- checks
# A time rule has three functions over the moment judged, as local time in each candidate zone
# (``moments``, in the order of the case's zones): where it blocks first; when (a UTC instant)
# it stops blocking at the earliest; and the words its message may use.


def _local_words(case: _Case, index: int, moment: datetime) -> dict[str, object]:
    return {
        "zone": case.zone_text(index),
        "local_time": f"{moment:%H:%M}",
        "local_date": moment.date().isoformat(),
    }


def _local_instant(day: date, moment: time, zone: tzinfo | None) -> datetime:
    """``day`` at wall time ``moment`` in ``zone`` as a UTC instant (a wall time in a DST
    gap moves forward; a repeated one is taken the first time)."""
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def _window_first(rule: Rule, case: _Case, moments: Sequence[datetime]) -> int:
    assert isinstance(rule, WindowRule)
    start, end = rule.window.start, rule.window.end
    for index, moment in enumerate(moments):
        if not start <= moment.time() < end:
            return index
    return -1


def _window_lift(rule: Rule, case: _Case, moments: Sequence[datetime]) -> datetime | None:
    assert isinstance(rule, WindowRule)
    start, end = rule.window.start, rule.window.end
    latest: datetime | None = None
    for moment in moments:
        clock = moment.time()
        if start <= clock < end:
            continue
        day = moment.date() + _ONE_DAY if clock >= start else moment.date()  # else: today's start
        until = _local_instant(day, start, moment.tzinfo)
        if latest is None or until > latest:
            latest = until
    return latest


def _window_words(rule: Rule, case: _Case, index: int, moment: datetime) -> dict[str, object]:
    assert isinstance(rule, WindowRule)
    words = _local_words(case, index, moment)
    words["start"] = f"{rule.window.start:%H:%M}"
    words["end"] = f"{rule.window.end:%H:%M}"
    return words


def _holiday_blocks(rule: HolidayRule, moment: datetime) -> bool:
    if holiday_name(rule, moment.date()) is None:
        return False
    return rule.window is None or not rule.window.contains(moment.time())


def _holiday_first(rule: Rule, case: _Case, moments: Sequence[datetime]) -> int:
    assert isinstance(rule, HolidayRule)
    for index, moment in enumerate(moments):
        if _holiday_blocks(rule, moment):
            return index
    return -1


def _holiday_lift(rule: Rule, case: _Case, moments: Sequence[datetime]) -> datetime | None:
    assert isinstance(rule, HolidayRule)
    window = rule.window
    latest: datetime | None = None
    for moment in moments:
        if not _holiday_blocks(rule, moment):
            continue
        if window is not None and moment.time() < window.start:
            until = _local_instant(moment.date(), window.start, moment.tzinfo)
        else:
            until = _local_instant(moment.date() + _ONE_DAY, _MIDNIGHT, moment.tzinfo)
        if latest is None or until > latest:
            latest = until
    return latest


def _holiday_words(rule: Rule, case: _Case, index: int, moment: datetime) -> dict[str, object]:
    assert isinstance(rule, HolidayRule)
    words = _local_words(case, index, moment)
    words["holiday"] = holiday_name(rule, moment.date()) or ""
    words["window"] = "none" if rule.window is None else str(rule.window)
    return words


def _cap_count(rule: CapRule, dates: Sequence[date], moment: datetime) -> int:
    """The attempts counted on the action's local day and the ``days - 1`` before it."""
    # Earlier attempts fall on or before the action's local day, so only the window's first
    # day bounds the count.
    first_day = moment.date() - timedelta(days=rule.days - 1)
    count = 0
    for day in dates:  # newest first
        if day < first_day:
            break
        count += 1
    return count


def _cap_first(rule: Rule, case: _Case, moments: Sequence[datetime]) -> int:
    assert isinstance(rule, CapRule)
    if len(case.matches(rule)) < rule.limit:
        return -1  # too few attempts in all the history to reach the limit
    for index, moment in enumerate(moments):
        if _cap_count(rule, case.local_dates(rule, index), moment) >= rule.limit:
            return index
    return -1


def _cap_lift(rule: Rule, case: _Case, moments: Sequence[datetime]) -> datetime | None:
    assert isinstance(rule, CapRule)
    if len(case.matches(rule)) < rule.limit:
        return None
    if rule.limit == 0:
        return _NEVER
    latest: datetime | None = None
    for index, moment in enumerate(moments):
        dates = case.local_dates(rule, index)
        if _cap_count(rule, dates, moment) < rule.limit:
            continue
        # Allowed again once the window has moved past the limit-th newest attempt's day.
        day = dates[rule.limit - 1] + timedelta(days=rule.days)
        until = _local_instant(day, _MIDNIGHT, moment.tzinfo)
        if latest is None or until > latest:
            latest = until
    return latest


def _cap_words(rule: Rule, case: _Case, index: int, moment: datetime) -> dict[str, object]:
    assert isinstance(rule, CapRule)
    words = _local_words(case, index, moment)
    words.update(
        limit=rule.limit,
        days=rule.days,
        count=_cap_count(rule, case.local_dates(rule, index), moment),
        first_date=(moment.date() - timedelta(days=rule.days - 1)).isoformat(),
    )
    return words


def _cool_off_first(rule: Rule, case: _Case, moments: Sequence[datetime]) -> int:
    assert isinstance(rule, CoolOffRule)
    talk_days = case.conversation_days(rule)
    if talk_days is None:
        return -1
    for index, moment in enumerate(moments):
        # The conversation day is day 1: with days 7, blocked on days 1..7, allowed on day 8.
        if (moment.date() - talk_days[index]).days < rule.days:
            return index
    return -1


def _cool_off_lift(rule: Rule, case: _Case, moments: Sequence[datetime]) -> datetime | None:
    assert isinstance(rule, CoolOffRule)
    talk_days = case.conversation_days(rule)
    if talk_days is None:
        return None
    latest: datetime | None = None
    for index, moment in enumerate(moments):
        if (moment.date() - talk_days[index]).days >= rule.days:
            continue
        day = talk_days[index] + timedelta(days=rule.days)
        until = _local_instant(day, _MIDNIGHT, moment.tzinfo)
        if latest is None or until > latest:
            latest = until
    return latest


def _cool_off_words(rule: Rule, case: _Case, index: int, moment: datetime) -> dict[str, object]:
    assert isinstance(rule, CoolOffRule)
    talk_days = case.conversation_days(rule)
    assert talk_days is not None
    talk_day = talk_days[index]
    words = _local_words(case, index, moment)
    words.update(
        days=rule.days,
        conversation_date=talk_day.isoformat(),
        day=(moment.date() - talk_day).days + 1,
        next_date=(talk_day + timedelta(days=rule.days)).isoformat(),
    )
    return words


def _check_hold(rule: Rule, case: _Case) -> dict[str, object] | None:
    assert isinstance(rule, HoldRule)
    held = rule.flags & case.request.flags
    if not held:
        return None
    return {"flag": ", ".join(sorted(held))}


def _check_opt_out(rule: Rule, case: _Case) -> dict[str, object] | None:
    assert isinstance(rule, OptOutRule)
    if rule.flag not in case.request.flags:
        return None
    return {"flag": rule.flag.value}


def _check_third_party(rule: Rule, case: _Case) -> dict[str, object] | None:
    assert isinstance(rule, ThirdPartyRule)
    reasons: list[str] = []
    request = case.request
    if rule.requires_unreachable and not borrower_unreachable(
        case.history, request.flags, case.profile
    ):
        failures = case.profile.unreachable.consecutive_failures
        reasons.append(
            "the borrower is not unreachable (not flagged so, and the last "
            f"{failures} attempts to their own numbers did not all fail)"
        )
    if rule.objections or rule.once:
        objected: datetime | None = None
        reached: datetime | None = None
        for attempt in case.history:
            if attempt.outcome in rule.objections and case.same_recipient(attempt):
                objected = attempt.at if objected is None else max(objected, attempt.at)
            if rule.once and attempt.outcome in rule.reached and case.same_recipient(attempt):
                reached = attempt.at if reached is None else max(reached, attempt.at)
        if objected is not None:
            reasons.append(f"{request.to} objected on {objected.date().isoformat()}")
        if reached is not None:
            reasons.append(f"{request.to} was already reached on {reached.date().isoformat()}")
    if not reasons:
        return None
    return {"reason": "; ".join(reasons)}


#: The first candidate zone (index) where a rule blocks, or -1.
_First = Callable[[Rule, _Case, Sequence[datetime]], int]
#: The earliest UTC instant a rule could stop blocking (the latest over the zones where it
#: blocks), or None when it blocks in none.
_Lift = Callable[[Rule, _Case, Sequence[datetime]], "datetime | None"]
#: The words a rule's message may use, for the zone where it blocks.
_Words = Callable[[Rule, _Case, int, datetime], "dict[str, object]"]
_StandingCheck = Callable[[Rule, _Case], "dict[str, object] | None"]

_TIME_CHECKS: Mapping[RuleKind, tuple[_First, _Lift, _Words]] = {
    RuleKind.WINDOW: (_window_first, _window_lift, _window_words),
    RuleKind.HOLIDAY: (_holiday_first, _holiday_lift, _holiday_words),
    RuleKind.CAP: (_cap_first, _cap_lift, _cap_words),
    RuleKind.COOL_OFF: (_cool_off_first, _cool_off_lift, _cool_off_words),
}
#: Rules that waiting does not lift: they see the borrower's flags and the history only.
_STANDING_CHECKS: Mapping[RuleKind, _StandingCheck] = {
    RuleKind.HOLD: _check_hold,
    RuleKind.OPT_OUT: _check_opt_out,
    RuleKind.THIRD_PARTY: _check_third_party,
}


# ---------------------------------------------------------------------------------- holidays


def holiday_name(rule: HolidayRule, day: date) -> str | None:
    """Why ``day`` is a holiday for ``rule`` ("National Day", "a Sunday"), or None."""
    if rule.calendar is not None:
        name = _calendar(rule.calendar, rule.subdivisions, rule.whole_breaks, day.year).get(day)
        if name is not None:
            return name
    if day.weekday() in rule.weekdays:
        return f"a {WEEKDAY_NAMES[day.weekday()]}"
    return None


#: Longest run of days off searched around a weekend day for a holiday (China's longest
#: break, the Spring Festival, is 9 days).
_MAX_BREAK_DAYS = 14


@lru_cache(maxsize=512)
def _calendar(
    country: str, subdivisions: tuple[str, ...], whole_breaks: bool, year: int
) -> Mapping[date, str]:
    """The public holidays of ``country`` in ``year`` (of any of ``subdivisions`` when given);
    with ``whole_breaks``, also the weekend days inside a holiday's run of days off."""
    names: dict[date, str] = {}
    calendars = []
    for subdivision in subdivisions or (None,):
        # The years around ``year`` too: a break may run across New Year.
        found = holidays.country_holidays(
            country, subdiv=subdivision, years=(year - 1, year, year + 1)
        )
        calendars.append(found)
        for day, name in sorted(found.items()):
            if day.year == year:
                names.setdefault(day, str(name))
    if whole_breaks:
        for found in calendars:
            names.update(
                (day, name) for day, name in _break_days(found, year).items() if day not in names
            )
    return names


def _break_days(calendar: Any, year: int) -> dict[date, str]:
    """Weekend days of ``year`` that lie in an unbroken run of days off holding a holiday,
    named after the run's most frequent holiday ("part of the National Day break")."""
    result: dict[date, str] = {}
    day = date(year, 1, 1)
    while day.year == year:
        if day not in calendar and not calendar.is_working_day(day):
            run = [day]
            for step in (-1, 1):
                other = day + timedelta(days=step)
                while len(run) < _MAX_BREAK_DAYS and not calendar.is_working_day(other):
                    run.append(other)
                    other += timedelta(days=step)
            named = [str(calendar[d]) for d in sorted(run) if d in calendar]
            if named:
                plain = [n for n in named if not n.startswith("Day off")] or named
                main = max(plain, key=plain.count)
                result[day] = f"part of the {main} break"
        day += timedelta(days=1)
    return result

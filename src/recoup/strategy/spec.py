"""The strategy file: its format, its validation and the frozen records it becomes.

A collection strategy decides, every day after the close, what happens to each open case.
It is a YAML file a strategy manager edits by hand (issue 4)::

    strategy: {id: cn-default, version: 3, description: "...", unreachable_after_days: 10}
    segments:                      # checked in order; the first that matches decides
      - id: m1
        when: {bucket: [M1], overdue: {min: "50.00"}}
        path: m1-standard
      - id: pre-due
        early_warning: true        # current accounts flagged by early warning, not yet overdue
        when: {risk_grade: [D, E]}
        path: pre-due
      - id: other                  # no conditions: every other delinquent account
        path: standard
    paths:
      m1-standard:
        steps:
          - {id: sms-d1, day: 1, from: due_date, channel: sms, template: cn_sms_d1}
          - id: call
            day: 3
            from: due_date
            every: 2               # optional: repeat every 2 days ...
            until: 30              # ... up to day 30 (same anchor)
            channel: call
            template: cn_call_m1
            queue: m1-collectors   # required for people's channels (call, visit, agency, legal)
            window: "09:00-20:00"  # optional; each channel has a default
            priority: 60           # optional, 0..100, higher is more urgent; default 50
            skip_if: {overdue: {max: "50.00"}}
        on:                        # how events change this path (overrides `events` below)
          promise_broken: {goto: broken-promise}
    events:                        # optional defaults for every path
      promise_made: pause
      unreachable: {after_days: 10, goto: skip-trace}
    tests:                         # champion/challenger; the first arm is the champion
      - id: m1-call-timing
        population: [m1]
        arms:
          - {name: champion, share: 80}
          - {name: challenger, share: 20, path: m1-early-calls}

A step's ``from`` is ``case_open`` (the day the case entered the path), ``due_date`` or
``last_event``; ``day`` may be negative (before it). YAML 1.1 reads the key ``on`` as true:
the reader gives a path's ``on`` its name back. Segments, paths and tests may carry a
``description``; ``tests`` and ``events`` are optional.
A path's ``steps`` may be empty (``[]``): the cases on it get no actions.

Conditions (``when``, ``skip_if``; all must hold): ``bucket`` (list, or ``{from: M1, to: M3}``),
``dpd`` ``{min, max}``, ``overdue`` and ``balance`` ``{min, max}`` in currency units as quoted
text, ``product``, ``risk_grade``, ``region``, ``language`` (lists), ``score`` ``{min, max}``,
the flags ``dispute``, ``vulnerable``, ``unreachable`` (no successful contact for
``unreachable_after_days`` days or more), ``active_promise`` (true or false), and ``not``
(conditions that must *not* all hold). Bounds are inclusive.

Events and what a path may do on them: ``promise_made: pause | continue``, ``promise_broken:
{goto: PATH} | continue``, ``partial_payment: restart | continue``, ``full_payment: close``,
``dispute: hold | continue``, ``unreachable: {after_days: N, goto: PATH} | continue``. A path's
``on`` wins over the file's ``events``, which win over the built-in defaults (pause on a promise,
close on full payment, hold on dispute, continue otherwise): a file that forgets ``dispute``
never calls a customer who disputes the debt.

The whole file is checked before anything is built, and a bad file is rejected whole: every
error names the file, the line and the field (``strategy.yaml, line 42, segments[1].path: no
path named 'fast'``). What the rules *mean* day by day is in :mod:`recoup.strategy.evaluate`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from recoup.money import MoneyError, parse_cents
from recoup.products.spec import DEFAULT_BUCKETS
from recoup.yamlfile import LocatedYaml, YamlPath, load_located, load_located_file

#: The bucket names a strategy may use unless the caller passes the product file's own.
DEFAULT_BUCKET_NAMES: tuple[str, ...] = tuple(bucket.name for bucket in DEFAULT_BUCKETS)
#: Arm shares are resolved to basis points of the hash space 0..9999.
SHARE_SCALE = 10_000
DEFAULT_PRIORITY = 50
MAX_PRIORITY = 100
DEFAULT_UNREACHABLE_AFTER_DAYS = 10
#: The store keeps ids and names in columns of this width.
MAX_NAME_LENGTH = 64


class Channel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"
    APP_PUSH = "app_push"
    CALL = "call"
    LETTER = "letter"
    FIELD_VISIT = "field_visit"
    AGENCY = "agency"
    LEGAL = "legal"


#: Channels a machine sends: they need no queue of people.
AUTOMATED_CHANNELS: frozenset[Channel] = frozenset(
    {Channel.SMS, Channel.EMAIL, Channel.APP_PUSH, Channel.LETTER}
)


class Anchor(enum.StrEnum):
    """What a step's ``day`` counts from."""

    CASE_OPEN = "case_open"
    DUE_DATE = "due_date"
    LAST_EVENT = "last_event"


class Event(enum.StrEnum):
    PROMISE_MADE = "promise_made"
    PROMISE_BROKEN = "promise_broken"
    PARTIAL_PAYMENT = "partial_payment"
    FULL_PAYMENT = "full_payment"
    DISPUTE = "dispute"
    UNREACHABLE = "unreachable"


class Reaction(enum.StrEnum):
    PAUSE = "pause"
    GOTO = "goto"
    RESTART = "restart"
    CONTINUE = "continue"
    CLOSE = "close"
    HOLD = "hold"


#: What a path may do on each event; the first is what the event is for.
ALLOWED_REACTIONS: Mapping[Event, tuple[Reaction, ...]] = {
    Event.PROMISE_MADE: (Reaction.PAUSE, Reaction.CONTINUE),
    Event.PROMISE_BROKEN: (Reaction.GOTO, Reaction.CONTINUE),
    Event.PARTIAL_PAYMENT: (Reaction.RESTART, Reaction.CONTINUE),
    Event.FULL_PAYMENT: (Reaction.CLOSE,),
    Event.DISPUTE: (Reaction.HOLD, Reaction.CONTINUE),
    Event.UNREACHABLE: (Reaction.GOTO, Reaction.CONTINUE),
}


@dataclass(frozen=True, slots=True)
class Window:
    """The time of day an action may be carried out, borrower local time."""

    start: time
    end: time

    @property
    def start_text(self) -> str:
        return self.start.strftime("%H:%M")

    @property
    def end_text(self) -> str:
        return self.end.strftime("%H:%M")


#: Windows of steps that name none. Well inside China's 08:00-22:00 rule (CN-HOURS in
#: docs/compliance reference); the contact-compliance gate has the last word.
DEFAULT_WINDOWS: Mapping[Channel, Window] = {
    Channel.SMS: Window(time(9), time(20)),
    Channel.EMAIL: Window(time(9), time(20)),
    Channel.APP_PUSH: Window(time(9), time(20)),
    Channel.CALL: Window(time(9), time(20)),
    Channel.LETTER: Window(time(9), time(18)),
    Channel.FIELD_VISIT: Window(time(9), time(18)),
    Channel.AGENCY: Window(time(9), time(18)),
    Channel.LEGAL: Window(time(9), time(18)),
}


@dataclass(frozen=True, slots=True)
class IntRange:
    """Whole numbers (days, or cents) from ``low`` to ``high``, both inclusive; None is open."""

    low: int | None
    high: int | None


@dataclass(frozen=True, slots=True)
class ScoreRange:
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class Conditions:
    """Conditions that must all hold; a field left None does not constrain."""

    buckets: tuple[str, ...] | None = None
    #: ``(from, to)`` when the file wrote a range, kept to explain it as written.
    bucket_range: tuple[str, str] | None = None
    dpd: IntRange | None = None
    overdue_cents: IntRange | None = None
    balance_cents: IntRange | None = None
    products: tuple[str, ...] | None = None
    risk_grades: tuple[str, ...] | None = None
    score: ScoreRange | None = None
    regions: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    dispute: bool | None = None
    vulnerable: bool | None = None
    unreachable: bool | None = None
    active_promise: bool | None = None
    negated: Conditions | None = None

    @property
    def is_empty(self) -> bool:
        return self == _NO_CONDITIONS


_NO_CONDITIONS = Conditions()


@dataclass(frozen=True, slots=True)
class Step:
    """One action of a path: due ``day`` days after its anchor (negative: before it), and
    again every ``every`` days up to ``until`` when it repeats."""

    id: str
    day: int
    anchor: Anchor
    channel: Channel
    template: str
    queue: str | None
    window: Window
    priority: int
    skip_if: Conditions
    every: int | None = None
    until: int | None = None


@dataclass(frozen=True, slots=True)
class Handler:
    """What a path does on an event: ``goto`` names the path for GOTO, ``after_days`` the
    threshold of UNREACHABLE."""

    reaction: Reaction
    goto: str | None = None
    after_days: int | None = None


class HandlerOrigin(enum.StrEnum):
    """Where the handler in force was declared (said by explain and trace)."""

    PATH = "path"
    STRATEGY = "strategy"
    BUILT_IN = "built-in"


BUILT_IN_HANDLERS: Mapping[Event, Handler] = {
    Event.PROMISE_MADE: Handler(Reaction.PAUSE),
    Event.PROMISE_BROKEN: Handler(Reaction.CONTINUE),
    Event.PARTIAL_PAYMENT: Handler(Reaction.CONTINUE),
    Event.FULL_PAYMENT: Handler(Reaction.CLOSE),
    Event.DISPUTE: Handler(Reaction.HOLD),
    Event.UNREACHABLE: Handler(Reaction.CONTINUE),
}


@dataclass(frozen=True, slots=True)
class TreatmentPath:
    name: str
    steps: tuple[Step, ...]
    on: Mapping[Event, Handler] = field(default_factory=dict)
    description: str = ""

    @property
    def last_day(self) -> int | None:
        """The day of the path's last action, when every step counts from the path's start
        (``from: case_open``) and none repeats without end; otherwise None.

        A case that an event moved to this path (a broken promise, unreachable) goes back to
        its segment's path after that day; a path with no last day keeps it until another
        event moves it.
        """
        if not self.steps:
            return None
        days: list[int] = []
        for step in self.steps:
            if step.anchor is not Anchor.CASE_OPEN or (step.every and step.until is None):
                return None
            days.append(step.until if step.until is not None else step.day)
        return max(days)


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    when: Conditions
    path: str
    #: True: matches only current accounts flagged by early warning; False: only
    #: delinquent ones.
    early_warning: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Arm:
    """An arm of a test: ``share_bp`` of 10,000 hash slots; ``path`` None keeps the
    segment's own path (the champion, usually)."""

    name: str
    share_bp: int
    path: str | None = None

    @property
    def share_percent(self) -> Decimal:
        return Decimal(self.share_bp) / 100


@dataclass(frozen=True, slots=True)
class ChallengerTest:
    """A champion/challenger test over the cases of ``population`` (segment ids). The first
    arm is the champion, the one the others are compared with."""

    id: str
    population: tuple[str, ...]
    arms: tuple[Arm, ...]
    description: str = ""

    @property
    def champion(self) -> Arm:
        return self.arms[0]


@dataclass(frozen=True, slots=True)
class Strategy:
    id: str
    version: int
    description: str
    segments: tuple[Segment, ...]
    paths: Mapping[str, TreatmentPath]
    tests: tuple[ChallengerTest, ...] = ()
    events: Mapping[Event, Handler] = field(default_factory=dict)
    unreachable_after_days: int = DEFAULT_UNREACHABLE_AFTER_DAYS
    bucket_names: tuple[str, ...] = DEFAULT_BUCKET_NAMES
    #: Where the file came from (named in messages) and its text, which a run records so
    #: that every version that ever ran can be read again.
    source: str = ""
    text: str = ""

    def handler(self, path: str, event: Event) -> tuple[Handler, HandlerOrigin]:
        """The handler of ``event`` on ``path``: the path's own, else the file's default,
        else the built-in one."""
        own = self.paths[path].on.get(event)
        if own is not None:
            return own, HandlerOrigin.PATH
        default = self.events.get(event)
        if default is not None:
            return default, HandlerOrigin.STRATEGY
        return BUILT_IN_HANDLERS[event], HandlerOrigin.BUILT_IN

    def test_of(self, segment_id: str) -> ChallengerTest | None:
        for test in self.tests:
            if segment_id in test.population:
                return test
        return None


# --- reading -------------------------------------------------------------------------------


def parse_strategy(
    text: str,
    source: str = "strategy.yaml",
    *,
    buckets: Sequence[str] = DEFAULT_BUCKET_NAMES,
) -> Strategy:
    """Validate the text of a strategy file (named ``source`` in messages).

    Raises :class:`~recoup.yamlfile.YamlFileError` naming the line and the field of the first
    problem; nothing is built from a bad file.
    """
    strategy = validate_strategy(load_located(text, source), buckets=buckets)
    return dataclasses.replace(strategy, text=text)


def load_strategy(path: Path, *, buckets: Sequence[str] = DEFAULT_BUCKET_NAMES) -> Strategy:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return validate_strategy(load_located_file(path), buckets=buckets)  # names the problem
    return parse_strategy(text, str(path), buckets=buckets)


def default_strategy_text() -> str:
    """The text of the strategy shipped with Recoup (``recoup/strategy/default.yaml``)."""
    return resources.files("recoup.strategy").joinpath("default.yaml").read_text("utf-8")


def load_default_strategy(*, buckets: Sequence[str] = DEFAULT_BUCKET_NAMES) -> Strategy:
    return parse_strategy(default_strategy_text(), "default.yaml", buckets=buckets)


def validate_strategy(
    document: LocatedYaml, *, buckets: Sequence[str] = DEFAULT_BUCKET_NAMES
) -> Strategy:
    """Resolve a parsed strategy document into a :class:`Strategy`, or raise."""
    return _Reader(_with_on_keys(document), tuple(buckets)).strategy()


def _with_on_keys(document: LocatedYaml) -> LocatedYaml:
    """YAML 1.1 reads the key ``on`` as ``true``: give a path's ``on`` its name back."""
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("paths"), dict):
        return document
    lines = dict(document.lines)
    data = {**data, "paths": dict(data["paths"])}
    for name, raw in data["paths"].items():
        if not isinstance(raw, dict) or True not in raw or "on" in raw:
            continue
        renamed = {("on" if key is True else key): value for key, value in raw.items()}
        data["paths"][name] = renamed
        old = ("paths", str(name), "True")
        for path in [p for p in lines if p[:3] == old]:
            lines[("paths", str(name), "on", *path[3:])] = lines.pop(path)
    return LocatedYaml(document.source, data, lines)


_E = TypeVar("_E", bound=enum.StrEnum)

_TOP_KEYS = ("strategy", "segments", "paths", "events", "tests")
_HEADER_KEYS = ("id", "version", "description", "unreachable_after_days")
_SEGMENT_KEYS = ("id", "description", "early_warning", "when", "path")
_PATH_KEYS = ("description", "steps", "on")
_STEP_KEYS = (
    "id",
    "day",
    "from",
    "every",
    "until",
    "channel",
    "template",
    "queue",
    "window",
    "priority",
    "skip_if",
)
_CONDITION_KEYS = (
    "bucket",
    "dpd",
    "overdue",
    "balance",
    "product",
    "risk_grade",
    "score",
    "region",
    "language",
    "dispute",
    "vulnerable",
    "unreachable",
    "active_promise",
    "not",
)
_TEST_KEYS = ("id", "description", "population", "arms")
_ARM_KEYS = ("name", "share", "path")
_RANGE_KEYS = ("min", "max")
_MAX_DAY = 3660


class _Reader:
    """Walks a located document; every check raises an error naming the line and field."""

    def __init__(self, document: LocatedYaml, buckets: tuple[str, ...]) -> None:
        if not buckets:
            raise ValueError("a strategy needs at least one bucket name")
        self.doc = document
        self.buckets = buckets

    def fail(self, path: YamlPath, message: str) -> Exception:
        return self.doc.error(path, message)

    # --- generic values ---

    def mapping(
        self,
        path: YamlPath,
        value: Any,
        allowed: Sequence[str],
        required: Iterable[str] = (),
        what: str = "a mapping",
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be {what} with keys {', '.join(allowed)}")
        for key in value:
            if isinstance(key, bool):
                raise self.fail(
                    (*path, str(key)),
                    f"a key reads as {str(key).lower()}: YAML takes on/off/yes/no for true/false,"
                    " so quote it",
                )
            if key not in allowed:
                raise self.fail(
                    (*path, str(key)), f"unknown key {key!r}; allowed: {', '.join(allowed)}"
                )
        for key in required:
            if key not in value:
                raise self.fail(path, f"missing {key!r}")
        return value

    def name(self, path: YamlPath, value: Any, what: str = "a name") -> str:
        if isinstance(value, bool):
            raise self.fail(
                path,
                f"must be {what}, got {str(value).lower()}: YAML takes on/off/yes/no for"
                " true/false, so quote it",
            )
        if not isinstance(value, str | int):
            raise self.fail(path, f"must be {what} (text), got {value!r}")
        text = str(value)
        if not text.strip() or text != text.strip():
            raise self.fail(path, f"must be {what} without surrounding spaces, got {text!r}")
        if len(text) > MAX_NAME_LENGTH:
            raise self.fail(path, f"must be at most {MAX_NAME_LENGTH} characters")
        return text

    def text(self, path: YamlPath, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"must be text, got {value!r}")
        return value

    def integer(self, path: YamlPath, value: Any, low: int, high: int, unit: str = "") -> int:
        of = f" of {unit}" if unit else ""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number{of}, got {value!r}")
        if not low <= value <= high:
            raise self.fail(path, f"must be a whole number{of} from {low} to {high}, got {value}")
        return value

    def boolean(self, path: YamlPath, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {value!r}")
        return value

    def names(self, path: YamlPath, value: Any) -> tuple[str, ...]:
        """A list of names; one name alone is read as a list of one."""
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(path, "must name at least one value")
        names = tuple(
            self.name((*path, i) if isinstance(value, list) else path, item, "a value")
            for i, item in enumerate(items)
        )
        if len(set(names)) != len(names):
            raise self.fail(path, "a value is listed twice")
        return names

    # --- the document ---

    def strategy(self) -> Strategy:
        root = self.mapping(
            (), self.doc.data, _TOP_KEYS, ("strategy", "segments", "paths"), "a strategy file"
        )
        header = self.mapping(
            ("strategy",), root["strategy"], _HEADER_KEYS, ("id", "version"), "a mapping"
        )
        strategy_id = self.name(("strategy", "id"), header["id"], "an id")
        version = self.integer(("strategy", "version"), header["version"], 1, 10**9)
        description = self.text(("strategy", "description"), header.get("description", ""))
        unreachable_after = self.integer(
            ("strategy", "unreachable_after_days"),
            header.get("unreachable_after_days", DEFAULT_UNREACHABLE_AFTER_DAYS),
            1,
            _MAX_DAY,
            "days",
        )

        raw_paths = root["paths"]
        if not isinstance(raw_paths, dict) or not raw_paths:
            raise self.fail(("paths",), "must be a mapping of path names to paths")
        path_names = [self.name(("paths", str(k)), k, "a path name") for k in raw_paths]
        paths = {
            name: self.path(name, raw_paths[key], path_names)
            for name, key in zip(path_names, raw_paths, strict=True)
        }

        events = self.handlers(("events",), root.get("events", {}), path_names, None)
        segments = self.segments(root["segments"], path_names)
        tests = self.tests(root.get("tests", []), segments, path_names)
        return Strategy(
            id=strategy_id,
            version=version,
            description=description,
            segments=segments,
            paths=paths,
            tests=tests,
            events=events,
            unreachable_after_days=unreachable_after,
            bucket_names=self.buckets,
            source=self.doc.source,
        )

    def segments(self, raw: Any, path_names: Sequence[str]) -> tuple[Segment, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail(("segments",), "must be a non-empty list of segments")
        segments: list[Segment] = []
        catch_all: dict[bool, int] = {}
        for index, item in enumerate(raw):
            at: YamlPath = ("segments", index)
            spec = self.mapping(at, item, _SEGMENT_KEYS, ("id", "path"))
            segment_id = self.name((*at, "id"), spec["id"], "an id")
            if any(s.id == segment_id for s in segments):
                raise self.fail((*at, "id"), f"segment {segment_id!r} is declared twice")
            path = self.name((*at, "path"), spec["path"], "a path name")
            if path not in path_names:
                raise self.fail((*at, "path"), _no_path(path, path_names))
            early = self.boolean((*at, "early_warning"), spec.get("early_warning", False))
            when = self.conditions((*at, "when"), spec.get("when", {}))
            if early in catch_all:
                kind = "early-warning " if early else ""
                raise self.fail(
                    at,
                    f"segment {segment_id!r} can never match: {kind}segment "
                    f"{segments[catch_all[early]].id!r} before it has no conditions and "
                    "catches every account",
                )
            if when.is_empty:
                catch_all[early] = index
            description = self.text((*at, "description"), spec.get("description", ""))
            segments.append(Segment(segment_id, when, path, early, description))
        return tuple(segments)

    def path(self, name: str, raw: Any, path_names: Sequence[str]) -> TreatmentPath:
        at: YamlPath = ("paths", name)
        spec = self.mapping(at, raw, _PATH_KEYS, ("steps",))
        raw_steps = spec["steps"]
        if not isinstance(raw_steps, list):
            raise self.fail((*at, "steps"), "must be a list of steps (it may be empty: [])")
        steps: list[Step] = []
        for index, item in enumerate(raw_steps):
            step = self.step((*at, "steps", index), item)
            if any(s.id == step.id for s in steps):
                raise self.fail(
                    (*at, "steps", index, "id"), f"step {step.id!r} is declared twice in {name!r}"
                )
            steps.append(step)
        on = self.handlers((*at, "on"), spec.get("on", {}), path_names, name)
        description = self.text((*at, "description"), spec.get("description", ""))
        return TreatmentPath(name, tuple(steps), on, description)

    def step(self, at: YamlPath, raw: Any) -> Step:
        spec = self.mapping(at, raw, _STEP_KEYS, ("id", "day", "from", "channel", "template"))
        step_id = self.name((*at, "id"), spec["id"], "an id")
        day = self.integer((*at, "day"), spec["day"], -_MAX_DAY, _MAX_DAY, "days")
        anchor = self.choice((*at, "from"), spec["from"], Anchor)
        channel = self.choice((*at, "channel"), spec["channel"], Channel)
        template = self.name((*at, "template"), spec["template"], "a template name")
        if len(template) > 128:
            raise self.fail((*at, "template"), "must be at most 128 characters")
        queue: str | None = None
        if "queue" in spec:
            queue = self.name((*at, "queue"), spec["queue"], "a queue or team name")
        elif channel not in AUTOMATED_CHANNELS:
            raise self.fail(
                at, f"missing 'queue': a {channel.value} step needs the team or queue that does it"
            )
        window = (
            self.window((*at, "window"), spec["window"])
            if "window" in spec
            else DEFAULT_WINDOWS[channel]
        )
        priority = self.integer(
            (*at, "priority"), spec.get("priority", DEFAULT_PRIORITY), 0, MAX_PRIORITY
        )
        every: int | None = None
        until: int | None = None
        if "every" in spec:
            every = self.integer((*at, "every"), spec["every"], 1, _MAX_DAY, "days")
        if "until" in spec:
            if every is None:
                raise self.fail((*at, "until"), "needs 'every': only a repeated step has an end")
            until = self.integer((*at, "until"), spec["until"], day, _MAX_DAY, "days")
        skip_if = self.conditions((*at, "skip_if"), spec.get("skip_if", {}))
        return Step(
            step_id, day, anchor, channel, template, queue, window, priority, skip_if, every, until
        )

    def choice(self, at: YamlPath, value: Any, kind: type[_E]) -> _E:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise self.fail(at, f"must be one of {allowed}; got {value!r}") from None

    def window(self, at: YamlPath, value: Any) -> Window:
        if not isinstance(value, str) or value.count("-") != 1:
            raise self.fail(at, f'must be a time window such as "09:00-20:00", got {value!r}')
        start_text, end_text = (part.strip() for part in value.split("-"))
        try:
            start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
        except ValueError:
            raise self.fail(
                at, f'must be a time window such as "09:00-20:00", got {value!r}'
            ) from None
        if len(start_text) != 5 or len(end_text) != 5:
            raise self.fail(at, f"times are written HH:MM, got {value!r}")
        if start >= end:
            raise self.fail(at, f"the window must end after it starts, got {value!r}")
        return Window(start, end)

    def handlers(
        self, at: YamlPath, raw: Any, path_names: Sequence[str], own_path: str | None
    ) -> dict[Event, Handler]:
        events = [event.value for event in Event]
        spec = self.mapping(at, raw, events, (), "a mapping of events")
        return {
            Event(key): self.handler((*at, key), Event(key), value, path_names, own_path)
            for key, value in spec.items()
        }

    def handler(
        self,
        at: YamlPath,
        event: Event,
        raw: Any,
        path_names: Sequence[str],
        own_path: str | None,
    ) -> Handler:
        allowed = ALLOWED_REACTIONS[event]
        forms = [
            {
                Reaction.GOTO: "{goto: PATH}"
                if event is Event.PROMISE_BROKEN
                else "{after_days: N, goto: PATH}",
            }.get(reaction, reaction.value)
            for reaction in allowed
        ]
        expected = f"{event.value} takes {' or '.join(forms)}"
        if isinstance(raw, str):
            if raw == Reaction.GOTO.value or raw not in allowed:
                raise self.fail(at, f"{expected}; got {raw!r}")
            return Handler(Reaction(raw))
        if not isinstance(raw, dict) or Reaction.GOTO not in allowed:
            raise self.fail(at, f"{expected}; got {raw!r}")
        keys = ("after_days", "goto") if event is Event.UNREACHABLE else ("goto",)
        spec = self.mapping(at, raw, keys, keys)
        target = self.name((*at, "goto"), spec["goto"], "a path name")
        if target not in path_names:
            raise self.fail((*at, "goto"), _no_path(target, path_names))
        if target == own_path:
            raise self.fail((*at, "goto"), f"path {own_path!r} cannot go to itself")
        after_days: int | None = None
        if event is Event.UNREACHABLE:
            after_days = self.integer((*at, "after_days"), spec["after_days"], 1, _MAX_DAY, "days")
        return Handler(Reaction.GOTO, target, after_days)

    # --- conditions ---

    def conditions(self, at: YamlPath, raw: Any) -> Conditions:
        if raw is None:
            return Conditions()
        spec = self.mapping(at, raw, _CONDITION_KEYS, (), "a mapping of conditions")
        buckets: tuple[str, ...] | None = None
        bucket_range: tuple[str, str] | None = None
        if "bucket" in spec:
            buckets, bucket_range = self.bucket((*at, "bucket"), spec["bucket"])
        negated: Conditions | None = None
        if "not" in spec:
            negated = self.conditions((*at, "not"), spec["not"])
            if negated.is_empty:
                raise self.fail((*at, "not"), "must hold at least one condition")

        def listed(key: str) -> tuple[str, ...] | None:
            return self.names((*at, key), spec[key]) if key in spec else None

        def flag(key: str) -> bool | None:
            return self.boolean((*at, key), spec[key]) if key in spec else None

        return Conditions(
            buckets=buckets,
            bucket_range=bucket_range,
            dpd=self.day_range((*at, "dpd"), spec["dpd"]) if "dpd" in spec else None,
            overdue_cents=self.money_range((*at, "overdue"), spec["overdue"])
            if "overdue" in spec
            else None,
            balance_cents=self.money_range((*at, "balance"), spec["balance"])
            if "balance" in spec
            else None,
            products=listed("product"),
            risk_grades=listed("risk_grade"),
            score=self.score_range((*at, "score"), spec["score"]) if "score" in spec else None,
            regions=listed("region"),
            languages=listed("language"),
            dispute=flag("dispute"),
            vulnerable=flag("vulnerable"),
            unreachable=flag("unreachable"),
            active_promise=flag("active_promise"),
            negated=negated,
        )

    def bucket(self, at: YamlPath, raw: Any) -> tuple[tuple[str, ...], tuple[str, str] | None]:
        known = ", ".join(self.buckets)
        if isinstance(raw, dict):
            spec = self.mapping(at, raw, ("from", "to"), ("from", "to"), "a range {from, to}")
            ends: list[int] = []
            for key in ("from", "to"):
                name = self.name((*at, key), spec[key], "a bucket name")
                if name not in self.buckets:
                    raise self.fail((*at, key), f"no bucket named {name!r}; buckets: {known}")
                ends.append(self.buckets.index(name))
            if ends[0] > ends[1]:
                raise self.fail(at, f"'from' {spec['from']!r} comes after 'to' {spec['to']!r}")
            names = self.buckets[ends[0] : ends[1] + 1]
            return names, (names[0], names[-1])
        names = self.names(at, raw)
        for index, name in enumerate(names):
            if name not in self.buckets:
                where = (*at, index) if isinstance(raw, list) else at
                raise self.fail(where, f"no bucket named {name!r}; buckets: {known}")
        return names, None

    def bounds(self, at: YamlPath, raw: Any, what: str) -> tuple[Any, Any]:
        spec = self.mapping(at, raw, _RANGE_KEYS, (), f"a range {{min, max}} of {what}")
        if not spec:
            raise self.fail(at, "needs 'min', 'max' or both")
        return spec.get("min"), spec.get("max")

    def day_range(self, at: YamlPath, raw: Any) -> IntRange:
        low, high = self.bounds(at, raw, "days")
        bounds = [
            None if v is None else self.integer((*at, k), v, 0, 100_000, "days")
            for k, v in (("min", low), ("max", high))
        ]
        return self.ordered(at, IntRange(bounds[0], bounds[1]))

    def money_range(self, at: YamlPath, raw: Any) -> IntRange:
        low, high = self.bounds(at, raw, "amounts")
        bounds = [
            None if v is None else self.money((*at, k), v) for k, v in (("min", low), ("max", high))
        ]
        return self.ordered(at, IntRange(bounds[0], bounds[1]))

    def ordered(self, at: YamlPath, bounds: IntRange) -> IntRange:
        if bounds.low is not None and bounds.high is not None and bounds.low > bounds.high:
            raise self.fail(at, "'min' is greater than 'max'")
        return bounds

    def money(self, at: YamlPath, value: Any) -> int:
        if isinstance(value, float):
            raise self.fail(at, f'write the amount as quoted text ("{value}") so it stays exact')
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(at, f'must be an amount such as "500.00", got {value!r}')
        try:
            cents = parse_cents(value)
        except MoneyError as exc:
            raise self.fail(at, str(exc)) from None
        if cents < 0:
            raise self.fail(at, f"must not be negative, got {value!r}")
        return cents

    def score_range(self, at: YamlPath, raw: Any) -> ScoreRange:
        low, high = self.bounds(at, raw, "scores")
        for key, value in (("min", low), ("max", high)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise self.fail((*at, key), f"must be a number, got {value!r}")
        if low is not None and high is not None and low > high:
            raise self.fail(at, "'min' is greater than 'max'")
        return ScoreRange(
            None if low is None else float(low), None if high is None else float(high)
        )

    # --- tests ---

    def tests(
        self, raw: Any, segments: Sequence[Segment], path_names: Sequence[str]
    ) -> tuple[ChallengerTest, ...]:
        if not isinstance(raw, list):
            raise self.fail(("tests",), "must be a list of champion/challenger tests")
        segment_ids = [s.id for s in segments]
        tests: list[ChallengerTest] = []
        tested: dict[str, str] = {}
        for index, item in enumerate(raw):
            at: YamlPath = ("tests", index)
            spec = self.mapping(at, item, _TEST_KEYS, ("id", "population", "arms"))
            test_id = self.name((*at, "id"), spec["id"], "an id")
            if any(t.id == test_id for t in tests):
                raise self.fail((*at, "id"), f"test {test_id!r} is declared twice")
            population = self.names((*at, "population"), spec["population"])
            for i, segment_id in enumerate(population):
                where = (*at, "population", i)
                if segment_id not in segment_ids:
                    raise self.fail(
                        where,
                        f"no segment named {segment_id!r}; segments: {', '.join(segment_ids)}",
                    )
                if segment_id in tested:
                    raise self.fail(
                        where,
                        f"segment {segment_id!r} is already in test {tested[segment_id]!r};"
                        " a case can be in one test only",
                    )
                tested[segment_id] = test_id
            arms = self.arms((*at, "arms"), spec["arms"], path_names)
            description = self.text((*at, "description"), spec.get("description", ""))
            tests.append(ChallengerTest(test_id, population, arms, description))
        return tuple(tests)

    def arms(self, at: YamlPath, raw: Any, path_names: Sequence[str]) -> tuple[Arm, ...]:
        if not isinstance(raw, list) or len(raw) < 2:
            raise self.fail(at, "must list at least two arms (a champion and a challenger)")
        arms: list[Arm] = []
        for index, item in enumerate(raw):
            where: YamlPath = (*at, index)
            spec = self.mapping(where, item, _ARM_KEYS, ("name", "share"))
            name = self.name((*where, "name"), spec["name"], "an arm name")
            if any(a.name == name for a in arms):
                raise self.fail((*where, "name"), f"arm {name!r} is declared twice")
            share = self.share((*where, "share"), spec["share"])
            path: str | None = None
            if "path" in spec:
                path = self.name((*where, "path"), spec["path"], "a path name")
                if path not in path_names:
                    raise self.fail((*where, "path"), _no_path(path, path_names))
            arms.append(Arm(name, share, path))
        total = sum(a.share_bp for a in arms)
        if total != SHARE_SCALE:
            shares = " + ".join(_percent(a.share_bp) for a in arms)
            raise self.fail(at, f"the shares must add up to 100%; {shares} = {_percent(total)}")
        return tuple(arms)

    def share(self, at: YamlPath, value: Any) -> int:
        """A share in percent (``20`` or ``"12.5"``, at most two decimals) as basis points."""
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(at, f"must be a percentage such as 20, got {value!r}")
        try:
            percent = Decimal(str(value).strip().removesuffix("%"))
        except InvalidOperation:
            raise self.fail(at, f"must be a percentage such as 20, got {value!r}") from None
        basis_points = percent * 100
        if not percent.is_finite() or basis_points != basis_points.to_integral_value():
            raise self.fail(at, f"must be a percentage with at most two decimals, got {value!r}")
        if not 0 < percent <= 100:
            raise self.fail(at, f"must be more than 0 and at most 100 percent, got {value!r}")
        return int(basis_points)


def _no_path(name: str, path_names: Sequence[str]) -> str:
    return f"no path named {name!r}; paths: {', '.join(path_names)}"


def _percent(basis_points: int) -> str:
    return f"{Decimal(basis_points) / 100:f}%"

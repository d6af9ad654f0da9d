"""A strategy in plain words, for the team lead who approves it (``recoup strategy explain``).

The same phrases explain a single decision: the daily run's ``reason`` column is built from
:func:`describe_conditions` and :func:`describe_timing`, so what ``explain`` prints for a
segment is exactly what ``trace`` says when an account falls into it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from recoup.money import format_cents
from recoup.strategy.spec import (
    BUILT_IN_HANDLERS,
    Anchor,
    ChallengerTest,
    Conditions,
    Event,
    Handler,
    HandlerOrigin,
    IntRange,
    Reaction,
    ScoreRange,
    Segment,
    Step,
    Strategy,
    TreatmentPath,
)

_AFTER = {
    Anchor.CASE_OPEN: "after the path starts",
    Anchor.DUE_DATE: "after the due date",
    Anchor.LAST_EVENT: "after the last event",
}
_BEFORE = {
    Anchor.CASE_OPEN: "before the path starts",
    Anchor.DUE_DATE: "before the due date",
    Anchor.LAST_EVENT: "before the last event",
}
_ON = {
    Anchor.CASE_OPEN: "the day the path starts",
    Anchor.DUE_DATE: "on the due date",
    Anchor.LAST_EVENT: "the day of the last event",
}
_EVENT_NAMES = {
    Event.PROMISE_MADE: "promise to pay made",
    Event.PROMISE_BROKEN: "promise broken",
    Event.PARTIAL_PAYMENT: "partial payment",
    Event.FULL_PAYMENT: "full payment",
    Event.DISPUTE: "dispute",
    Event.UNREACHABLE: "unreachable",
}
_ORIGINS = {
    HandlerOrigin.PATH: "this path",
    HandlerOrigin.STRATEGY: "strategy default",
    HandlerOrigin.BUILT_IN: "built-in default",
}


def explain(strategy: Strategy) -> str:
    """The whole strategy as text: segments in order, paths and their steps, events, tests."""
    lines = [f"Strategy {strategy.id}, version {strategy.version}"]
    if strategy.description:
        lines.append(strategy.description.strip())
    lines += ["", "Segments, checked in order; the first that matches decides the path:"]
    for number, segment in enumerate(strategy.segments, start=1):
        lines.append(f"  {number}. {describe_segment(segment, strategy)}")
        if segment.description:
            lines.append(f"     {segment.description.strip()}")
    lines.append("  An account that matches no segment gets no actions; the daily run reports it.")
    lines += [
        "",
        "Events, on every path unless the path says otherwise:",
        *(
            f"  {_EVENT_NAMES[event]}: {describe_handler(event, handler)} ({_ORIGINS[origin]})"
            for event, (handler, origin) in (
                (event, _default_handler(strategy, event)) for event in Event
            )
        ),
        "",
        "Paths. A step's day counts from its anchor (day -3 is three days before it); a path",
        "starts the day the case opens, or the day an event moves the case to it.",
    ]
    targets = _event_targets(strategy)
    for path in strategy.paths.values():
        lines += _path_lines(path, strategy, path.name in targets)
    lines += ["", "Champion/challenger tests:"]
    if not strategy.tests:
        lines.append("  none")
    for test in strategy.tests:
        lines += _test_lines(test)
    return "\n".join(lines) + "\n"


def describe_segment(segment: Segment, strategy: Strategy) -> str:
    """``'m1': bucket M1 and overdue at least 50.00 -> path 'm1-standard'``."""
    return f"{segment.id!r}: {segment_rule(segment, strategy)} -> path {segment.path!r}"


def segment_rule(segment: Segment, strategy: Strategy) -> str:
    """Which accounts a segment takes, in words."""
    if segment.when.is_empty:
        kind = (
            "current account flagged by early warning"
            if segment.early_warning
            else "delinquent account"
        )
        return f"every other {kind} (no conditions)"
    kind = (
        "current accounts flagged by early warning"
        if segment.early_warning
        else "delinquent accounts"
    )
    return f"{kind} with {describe_conditions(segment.when, strategy)}"


def describe_conditions(conditions: Conditions, strategy: Strategy) -> str:
    """Conditions joined by "and", each read after "accounts with": ``bucket M1 and a
    dispute``; an empty set reads "always"."""
    parts: list[str] = []
    if conditions.buckets is not None:
        if conditions.bucket_range is not None and len(conditions.buckets) > 1:
            low, high = conditions.bucket_range
            parts.append(f"bucket {low} to {high}")
        else:
            parts.append(f"bucket {_either(conditions.buckets)}")
    if conditions.dpd is not None:
        parts.append(f"DPD {_range(conditions.dpd, str)}")
    if conditions.overdue_cents is not None:
        parts.append(f"overdue {_range(conditions.overdue_cents, format_cents)}")
    if conditions.balance_cents is not None:
        parts.append(f"balance {_range(conditions.balance_cents, format_cents)}")
    if conditions.products is not None:
        parts.append(f"product {_either(conditions.products)}")
    if conditions.risk_grades is not None:
        parts.append(f"risk grade {_either(conditions.risk_grades)}")
    if conditions.score is not None:
        parts.append(f"score {_score(conditions.score)}")
    if conditions.regions is not None:
        parts.append(f"region {_either(conditions.regions)}")
    if conditions.languages is not None:
        parts.append(f"language {_either(conditions.languages)}")
    if conditions.dispute is not None:
        parts.append("a dispute" if conditions.dispute else "no dispute")
    if conditions.vulnerable is not None:
        parts.append("a vulnerability flag" if conditions.vulnerable else "no vulnerability flag")
    if conditions.unreachable is not None:
        days = strategy.unreachable_after_days
        parts.append(
            f"no successful contact for {days} days or more (unreachable)"
            if conditions.unreachable
            else f"a successful contact in the last {days} days"
        )
    if conditions.active_promise is not None:
        parts.append(
            "an active promise to pay" if conditions.active_promise else "no active promise to pay"
        )
    if conditions.negated is not None:
        parts.append(f"not ({describe_conditions(conditions.negated, strategy)})")
    return " and ".join(parts) if parts else "always"


def describe_skip(conditions: Conditions, strategy: Strategy) -> str:
    """``skipped when ...``, or ``skipped unless ...`` for a lone ``not``."""
    if conditions.negated is not None and conditions == Conditions(negated=conditions.negated):
        return f"skipped unless the account has {describe_conditions(conditions.negated, strategy)}"
    return f"skipped for accounts with {describe_conditions(conditions, strategy)}"


def describe_timing(step: Step) -> str:
    """When a step falls due: ``day 3 after the due date, then every 2 days up to day 30``."""
    if step.day > 0:
        first = f"day {step.day} {_AFTER[step.anchor]}"
    elif step.day < 0:
        count = -step.day
        first = f"{_count(count, 'day')} {_BEFORE[step.anchor]}"
    else:
        first = _ON[step.anchor]
    if step.every is None:
        return first
    every = "every day" if step.every == 1 else f"every {step.every} days"
    until = f" up to day {step.until}" if step.until is not None else " while the case is open"
    return f"{first}, then {every}{until}"


def describe_step(step: Step, strategy: Strategy) -> str:
    """``day 3 after the due date: call, template X, queue Y, 09:00–20:00, priority 60``."""
    parts = [step.channel.value, f"template {step.template}"]
    if step.queue is not None:
        parts.append(f"queue {step.queue}")
    parts.append(f"{step.window.start_text}–{step.window.end_text}")
    parts.append(f"priority {step.priority}")
    if not step.skip_if.is_empty:
        parts.append(describe_skip(step.skip_if, strategy))
    return f"{describe_timing(step)}: {', '.join(parts)}"


def describe_handler(event: Event, handler: Handler) -> str:
    """What a path does on an event, in words."""
    reaction = handler.reaction
    if reaction is Reaction.CONTINUE:
        return "carry on with the path"
    if event is Event.PROMISE_MADE:
        return "pause: no actions until the promised date"
    if event is Event.DISPUTE:
        return "hold: no actions while the account is in dispute"
    if event is Event.FULL_PAYMENT:
        return "close the case: no more actions"
    if event is Event.PARTIAL_PAYMENT:
        return "restart the path, its days counted from the payment"
    if event is Event.UNREACHABLE:
        return (
            f"after {handler.after_days} days without a successful contact, switch to path "
            f"{handler.goto!r}, its days counted from that day"
        )
    return f"switch to path {handler.goto!r}, its days counted from the broken promise"


def _default_handler(strategy: Strategy, event: Event) -> tuple[Handler, HandlerOrigin]:
    handler = strategy.events.get(event)
    if handler is not None:
        return handler, HandlerOrigin.STRATEGY
    return BUILT_IN_HANDLERS[event], HandlerOrigin.BUILT_IN


def _event_targets(strategy: Strategy) -> set[str]:
    """The paths an event can move a case to."""
    handlers = [*strategy.events.values()]
    for path in strategy.paths.values():
        handlers += path.on.values()
    return {h.goto for h in handlers if h.goto is not None}


def _path_lines(path: TreatmentPath, strategy: Strategy, event_target: bool) -> list[str]:
    lines = [f"  {path.name}"]
    if path.description:
        lines.append(f"    {path.description.strip()}")
    if not path.steps:
        lines.append("    - no steps: no actions")
    for step in path.steps:
        lines.append(f"    - {step.id}: {describe_step(step, strategy)}")
    if event_target:
        lines.append(
            f"    A case an event moves here stays {_count(path.last_day, 'day')}, then goes back"
            " to its segment's path."
            if path.last_day is not None
            else "    A case an event moves here stays until another event moves it."
        )
    for event in Event:
        handler, origin = strategy.handler(path.name, event)
        if handler.goto == path.name and event is Event.PROMISE_BROKEN:
            lines.append("    A broken promise starts this path again from the broken promise.")
        elif origin is HandlerOrigin.PATH:
            words = describe_handler(event, handler)
            lines.append(f"    On {_EVENT_NAMES[event]}: {words} (this path only).")
    return lines


def _test_lines(test: ChallengerTest) -> list[str]:
    segments = ", ".join(repr(s) for s in test.population)
    lines = [f"  {test.id}: cases of segment{'s' if len(test.population) > 1 else ''} {segments}"]
    if test.description:
        lines.append(f"    {test.description.strip()}")
    for index, arm in enumerate(test.arms):
        role = "champion" if index == 0 else "challenger"
        name = arm.name if arm.name == role else f"{arm.name} ({role})"
        what = "keeps the segment's path" if arm.path is None else f"uses path {arm.path!r}"
        lines.append(f"    - {name}, {arm.share_percent:f}% of accounts: {what}")
    lines.append(
        "    An account's arm is a stable hash of its account id and the test id: it stays in"
        " its arm from day to day and across versions."
    )
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _either(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} or {names[-1]}"


def _range(bounds: IntRange, fmt: Callable[[int], str]) -> str:
    low, high = bounds.low, bounds.high
    if low is not None and high is not None:
        return f"exactly {fmt(low)}" if low == high else f"{fmt(low)} to {fmt(high)}"
    if low is not None:
        return f"at least {fmt(low)}"
    return f"at most {fmt(high)}" if high is not None else "any"


def _score(bounds: ScoreRange) -> str:
    def number(value: float | None) -> str:
        assert value is not None
        return str(int(value)) if value.is_integer() else str(value)

    if bounds.low is not None and bounds.high is not None:
        return f"{number(bounds.low)} to {number(bounds.high)}"
    if bounds.low is not None:
        return f"at least {number(bounds.low)}"
    return f"at most {number(bounds.high)}"

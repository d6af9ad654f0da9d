"""A strategy in plain words: what a team lead reads before approving it."""

from __future__ import annotations

from datetime import time

import pytest

from recoup.strategy import (
    Anchor,
    Channel,
    Conditions,
    Event,
    Handler,
    IntRange,
    Reaction,
    ScoreRange,
    Step,
    Window,
    describe_conditions,
    describe_handler,
    describe_step,
    describe_timing,
    explain,
    load_default_strategy,
    parse_strategy,
)
from tests.unit.strategy_cases import SMALL

STRATEGY = parse_strategy(SMALL)


def _step(day: int, anchor: Anchor, every: int | None = None, until: int | None = None) -> Step:
    return Step(
        "s", day, anchor, Channel.SMS, "t", None, Window(time(9), time(20)), 50, Conditions(),
        every, until,
    )  # fmt: skip


def test_explain__lists_segments_in_order_with_their_conditions_in_words() -> None:
    text = explain(STRATEGY)
    assert text.startswith("Strategy small, version 2\nA small strategy for tests.\n")
    first = text.index(
        "  1. 'm1': delinquent accounts with bucket M1 and overdue at least 50.00"
        " -> path 'standard'"
    )
    second = text.index(
        "  2. 'rest': every other delinquent account (no conditions) -> path 'standard'"
    )
    assert first < second
    assert "An account that matches no segment gets no actions" in text


def test_explain__describes_each_step_with_its_day_channel_template_queue_and_window() -> None:
    text = explain(STRATEGY)
    assert (
        "    - call: day 3 after the due date: call, template call_m1, queue m1-collectors,"
        " 09:00–20:00, priority 50\n"
    ) in text
    assert "    - sms: day 1 after the due date: sms, template sms_d1, 09:00–20:00" in text


def test_explain__describes_events_defaults_and_a_paths_own_handlers() -> None:
    text = explain(STRATEGY)
    assert (
        "  promise broken: switch to path 'escalate', its days counted from the broken promise"
        " (strategy default)"
    ) in text
    assert "  dispute: hold: no actions while the account is in dispute (built-in default)" in text
    assert (
        "    On partial payment: restart the path, its days counted from the payment"
        " (this path only)."
    ) in text
    assert "A broken promise starts this path again from the broken promise." in text
    assert "A case an event moves here stays 1 day, then goes back" in text


def test_explain__describes_tests_with_arms_and_shares() -> None:
    text = explain(STRATEGY)
    assert "  t: cases of segment 'm1'" in text
    assert "    - champion, 80% of accounts: keeps the segment's path" in text
    assert "    - challenger, 20% of accounts: uses path 'escalate'" in text
    assert "stable hash of its account id and the test id" in text


def test_explain__every_condition_reads_as_words() -> None:
    conditions = Conditions(
        buckets=("M2", "M3", "M4"),
        bucket_range=("M2", "M4"),
        dpd=IntRange(31, None),
        overdue_cents=IntRange(5000, 100000),
        balance_cents=IntRange(None, 250050),
        products=("fenqi-card", "fenqi-cash"),
        risk_grades=("D", "E"),
        score=ScoreRange(300.0, 550.5),
        regions=("上海市",),
        languages=("zh", "en", "yue"),
        dispute=False,
        vulnerable=True,
        unreachable=True,
        active_promise=False,
        negated=Conditions(products=("fenqi-x",)),
    )
    assert describe_conditions(conditions, STRATEGY) == (
        "bucket M2 to M4 and DPD at least 31 and overdue 50.00 to 1000.00 and balance at most"
        " 2500.50 and product fenqi-card or fenqi-cash and risk grade D or E and score 300 to"
        " 550.5 and region 上海市 and language zh, en or yue and no dispute and a vulnerability"
        " flag and no successful contact for 10 days or more (unreachable) and no active promise"
        " to pay and not (product fenqi-x)"
    )
    assert describe_conditions(Conditions(), STRATEGY) == "always"
    assert describe_conditions(Conditions(dpd=IntRange(7, 7)), STRATEGY) == "DPD exactly 7"


@pytest.mark.parametrize(
    ("step", "words"),
    [
        (_step(3, Anchor.CASE_OPEN), "day 3 after the path starts"),
        (_step(0, Anchor.CASE_OPEN), "the day the path starts"),
        (_step(-3, Anchor.DUE_DATE), "3 days before the due date"),
        (_step(-1, Anchor.DUE_DATE), "1 day before the due date"),
        (_step(0, Anchor.DUE_DATE), "on the due date"),
        (_step(2, Anchor.LAST_EVENT), "day 2 after the last event"),
        (
            _step(3, Anchor.DUE_DATE, every=2, until=30),
            "day 3 after the due date, then every 2 days up to day 30",
        ),
        (
            _step(1, Anchor.DUE_DATE, every=1),
            "day 1 after the due date, then every day while the case is open",
        ),
    ],
)
def test_explain__a_steps_timing_reads_as_words(step: Step, words: str) -> None:
    assert describe_timing(step) == words


def test_explain__a_skip_rule_reads_as_skipped_for_or_unless() -> None:
    strategy = load_default_strategy()
    visit = next(s for s in strategy.paths["m3-letter"].steps if s.id == "field-visit")
    assert describe_step(visit, strategy).endswith(
        "skipped unless the account has region 广东省, 上海市, 北京市, 浙江省 or 江苏省"
    )
    call = next(s for s in strategy.paths["m1-standard"].steps if s.id == "call")
    assert describe_step(call, strategy).endswith("skipped for accounts with overdue at most 50.00")


@pytest.mark.parametrize(
    ("event", "handler", "words"),
    [
        (Event.PROMISE_MADE, Handler(Reaction.PAUSE), "pause: no actions until the promised date"),
        (Event.PROMISE_MADE, Handler(Reaction.CONTINUE), "carry on with the path"),
        (
            Event.PROMISE_BROKEN,
            Handler(Reaction.GOTO, "esc"),
            "switch to path 'esc', its days counted from the broken promise",
        ),
        (
            Event.PARTIAL_PAYMENT,
            Handler(Reaction.RESTART),
            "restart the path, its days counted from the payment",
        ),
        (Event.FULL_PAYMENT, Handler(Reaction.CLOSE), "close the case: no more actions"),
        (Event.DISPUTE, Handler(Reaction.HOLD), "hold: no actions while the account is in dispute"),
        (
            Event.UNREACHABLE,
            Handler(Reaction.GOTO, "trace", 10),
            "after 10 days without a successful contact, switch to path 'trace', its days"
            " counted from that day",
        ),
    ],
)
def test_explain__each_event_handler_reads_as_words(
    event: Event, handler: Handler, words: str
) -> None:
    assert describe_handler(event, handler) == words


def test_explain__the_default_strategy_names_every_segment_path_and_step() -> None:
    strategy = load_default_strategy()
    text = explain(strategy)
    for segment in strategy.segments:
        assert f"'{segment.id}': " in text
    for path in strategy.paths.values():
        assert f"\n  {path.name}\n" in text
        for step in path.steps:
            assert f"    - {step.id}: " in text
    assert "m1-call-timing: cases of segment 'm1'" in text

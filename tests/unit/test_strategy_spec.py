"""The strategy file: what it reads into, and every way it can be wrong, named by line and field."""

from __future__ import annotations

import textwrap
from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from recoup.strategy import (
    DEFAULT_BUCKET_NAMES,
    DEFAULT_WINDOWS,
    Anchor,
    Channel,
    Event,
    HandlerOrigin,
    IntRange,
    Reaction,
    YamlFileError,
    load_default_strategy,
    load_strategy,
    parse_strategy,
)
from tests.unit.strategy_cases import SMALL


def _line(number: int, text: str) -> str:
    """SMALL with line ``number`` (1-based) replaced by ``text`` (which may hold newlines)."""
    lines = SMALL.splitlines()
    assert 1 <= number <= len(lines)
    lines[number - 1] = text
    return "\n".join(lines) + "\n"


def _error(text: str) -> str:
    with pytest.raises(YamlFileError) as caught:
        parse_strategy(text, "strategy.yaml")
    return str(caught.value)


def test_spec__reads_the_small_strategy() -> None:
    strategy = parse_strategy(SMALL)
    assert (strategy.id, strategy.version) == ("small", 2)
    assert [s.id for s in strategy.segments] == ["m1", "rest"]
    m1 = strategy.segments[0].when
    assert m1.buckets == ("M1",)
    assert m1.overdue_cents == IntRange(5000, None)
    assert strategy.segments[1].when.is_empty
    sms, call = strategy.paths["standard"].steps
    assert (sms.day, sms.anchor, sms.channel, sms.queue) == (1, Anchor.DUE_DATE, Channel.SMS, None)
    assert sms.window == DEFAULT_WINDOWS[Channel.SMS]
    assert sms.priority == 50
    assert call.queue == "m1-collectors"
    arms = strategy.tests[0].arms
    assert [(a.name, a.share_bp, a.path) for a in arms] == [
        ("champion", 8000, None),
        ("challenger", 2000, "escalate"),
    ]
    assert strategy.tests[0].champion.name == "champion"
    assert strategy.test_of("m1") is strategy.tests[0]
    assert strategy.test_of("rest") is None


def test_spec__the_on_key_is_read_although_yaml_takes_it_for_true() -> None:
    strategy = parse_strategy(SMALL)
    handler, origin = strategy.handler("escalate", Event.PARTIAL_PAYMENT)
    assert (handler.reaction, origin) == (Reaction.RESTART, HandlerOrigin.PATH)


def test_spec__a_handler_comes_from_the_path_then_the_file_then_the_built_in_default() -> None:
    strategy = parse_strategy(SMALL)
    broken, origin = strategy.handler("standard", Event.PROMISE_BROKEN)
    assert (broken.reaction, broken.goto, origin) == (
        Reaction.GOTO,
        "escalate",
        HandlerOrigin.STRATEGY,
    )
    dispute, origin = strategy.handler("standard", Event.DISPUTE)
    assert (dispute.reaction, origin) == (Reaction.HOLD, HandlerOrigin.BUILT_IN)
    promise, _ = strategy.handler("standard", Event.PROMISE_MADE)
    assert promise.reaction is Reaction.PAUSE


def test_spec__every_field_of_a_step_and_a_condition_is_read() -> None:
    text = textwrap.dedent(
        """\
        strategy: {id: full, version: 1, unreachable_after_days: 7}
        segments:
          - id: all
            early_warning: true
            when:
              bucket: {from: M2, to: M4}
              dpd: {min: 31, max: 120}
              overdue: {max: "1000.50"}
              balance: {min: 100}
              product: fenqi-card
              risk_grade: [D, E]
              score: {min: 300, max: 550.5}
              region: [广东省]
              language: [zh, en]
              dispute: false
              vulnerable: false
              unreachable: true
              active_promise: false
              not: {product: [fenqi-cash]}
            path: p
        paths:
          p:
            steps:
              - id: s
                day: -3
                from: last_event
                every: 2
                until: 9
                channel: field_visit
                template: visit
                queue: field
                window: "10:30-17:45"
                priority: 90
                skip_if: {vulnerable: true}
        """
    )
    strategy = parse_strategy(text)
    assert strategy.unreachable_after_days == 7
    segment = strategy.segments[0]
    assert segment.early_warning
    when = segment.when
    assert when.buckets == ("M2", "M3", "M4")
    assert when.bucket_range == ("M2", "M4")
    assert when.dpd == IntRange(31, 120)
    assert when.overdue_cents == IntRange(None, 100050)
    assert when.balance_cents == IntRange(10000, None)
    assert when.products == ("fenqi-card",)
    assert when.risk_grades == ("D", "E")
    assert when.score is not None and (when.score.low, when.score.high) == (300.0, 550.5)
    assert when.regions == ("广东省",)
    assert when.languages == ("zh", "en")
    assert (when.dispute, when.vulnerable, when.unreachable, when.active_promise) == (
        False,
        False,
        True,
        False,
    )
    assert when.negated is not None and when.negated.products == ("fenqi-cash",)
    (step,) = strategy.paths["p"].steps
    assert (step.day, step.anchor, step.every, step.until) == (-3, Anchor.LAST_EVENT, 2, 9)
    assert (step.window.start, step.window.end) == (time(10, 30), time(17, 45))
    assert step.priority == 90
    assert step.skip_if.vulnerable is True


def test_spec__bucket_names_are_a_parameter() -> None:
    text = SMALL.replace("bucket: [M1]", "bucket: {from: S1, to: S2}")
    with pytest.raises(YamlFileError, match="no bucket named 'S1'"):
        parse_strategy(text)
    strategy = parse_strategy(text, buckets=["M0", "S1", "S2", "M2"])
    assert strategy.segments[0].when.buckets == ("S1", "S2")
    assert strategy.bucket_names == ("M0", "S1", "S2", "M2")


def test_spec__the_default_buckets_are_the_products_buckets() -> None:
    assert DEFAULT_BUCKET_NAMES == ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        pytest.param(
            SMALL + "colour: red\n",
            "line 38, colour",
            "unknown key 'colour'; allowed: strategy, segments, paths, events, tests",
            id="unknown-top-level-key",
        ),
        pytest.param(
            _line(10, "    path: fast"),
            "line 10, segments[0].path",
            "no path named 'fast'; paths: standard, escalate",
            id="segment-path-missing",
        ),
        pytest.param(
            _line(19, "        channel: pigeon"),
            "line 19, paths.standard.steps[0].channel",
            "must be one of sms, email, app_push, call, letter, field_visit, agency, legal;"
            " got 'pigeon'",
            id="unknown-channel",
        ),
        pytest.param(
            _line(6, "  promise_broken: {goto: nowhere}"),
            "line 6, events.promise_broken.goto",
            "no path named 'nowhere'",
            id="goto-missing-path",
        ),
        pytest.param(
            _line(11, "  - id: m1"),
            "line 11, segments[1].id",
            "segment 'm1' is declared twice",
            id="duplicate-segment",
        ),
        pytest.param(
            _line(21, "      - id: sms"),
            "line 21, paths.standard.steps[1].id",
            "step 'sms' is declared twice in 'standard'",
            id="duplicate-step",
        ),
        pytest.param(
            _line(17, "        day: three"),
            "line 17, paths.standard.steps[0].day",
            "must be a whole number of days, got 'three'",
            id="day-not-a-number",
        ),
        pytest.param(
            _line(17, "        day: 1.5"),
            "line 17, paths.standard.steps[0].day",
            "must be a whole number of days, got 1.5",
            id="day-not-whole",
        ),
        pytest.param(
            _line(18, "        from: payday"),
            "line 18, paths.standard.steps[0].from",
            "must be one of case_open, due_date, last_event",
            id="unknown-anchor",
        ),
        pytest.param(
            _line(9, "    when: {bucket: [M1, M9]}"),
            "line 9, segments[0].when.bucket[1]",
            "no bucket named 'M9'; buckets: M0, M1, M2, M3, M4, M5, M6, M7+",
            id="unknown-bucket",
        ),
        pytest.param(
            _line(9, "    when: {bucket: {from: M3, to: M1}}"),
            "line 9, segments[0].when.bucket",
            "'from' 'M3' comes after 'to' 'M1'",
            id="bucket-range-reversed",
        ),
        pytest.param(
            _line(37, "      - {name: challenger, share: 30, path: escalate}"),
            "line 35, tests[0].arms",
            "the shares must add up to 100%; 80% + 30% = 110%",
            id="shares-not-100",
        ),
        pytest.param(
            _line(36, '      - {name: champion, share: "79.995"}'),
            "line 36, tests[0].arms[0].share",
            "at most two decimals",
            id="share-too-precise",
        ),
        pytest.param(
            _line(37, "      - {name: champion, share: 20, path: escalate}"),
            "line 37, tests[0].arms[1].name",
            "arm 'champion' is declared twice",
            id="duplicate-arm",
        ),
        pytest.param(
            _line(37, "      - {name: challenger, share: 20, path: fast}"),
            "line 37, tests[0].arms[1].path",
            "no path named 'fast'",
            id="arm-path-missing",
        ),
        pytest.param(
            _line(34, "    population: [m9]"),
            "line 34, tests[0].population[0]",
            "no segment named 'm9'; segments: m1, rest",
            id="population-unknown-segment",
        ),
        pytest.param(
            _line(26, ""),
            "line 21, paths.standard.steps[1]",
            "missing 'queue': a call step needs the team or queue that does it",
            id="call-without-queue",
        ),
        pytest.param(
            _line(20, '        template: sms_d1\n        window: "20:00-09:00"'),
            "line 21, paths.standard.steps[0].window",
            "the window must end after it starts",
            id="window-backwards",
        ),
        pytest.param(
            _line(20, '        template: sms_d1\n        window: "9am to 8pm"'),
            "line 21, paths.standard.steps[0].window",
            'must be a time window such as "09:00-20:00"',
            id="window-not-a-window",
        ),
        pytest.param(
            _line(20, "        template: sms_d1\n        until: 9"),
            "line 21, paths.standard.steps[0].until",
            "needs 'every'",
            id="until-without-every",
        ),
        pytest.param(
            _line(20, "        template: sms_d1\n        priority: 101"),
            "line 21, paths.standard.steps[0].priority",
            "from 0 to 100",
            id="priority-out-of-range",
        ),
        pytest.param(
            _line(20, "        template: sms_d1\n        colour: red"),
            "line 21, paths.standard.steps[0].colour",
            "unknown key 'colour'; allowed: id, day, from, every, until, channel, template,",
            id="unknown-step-key",
        ),
        pytest.param(
            _line(9, "    when: {overdue: {min: 50.5}}"),
            "line 9, segments[0].when.overdue.min",
            'write the amount as quoted text ("50.5") so it stays exact',
            id="money-as-float",
        ),
        pytest.param(
            _line(9, '    when: {overdue: {min: "50.001"}}'),
            "line 9, segments[0].when.overdue.min",
            "more than two decimals",
            id="money-too-precise",
        ),
        pytest.param(
            _line(9, "    when: {dpd: {min: 30, max: 1}}"),
            "line 9, segments[0].when.dpd",
            "'min' is greater than 'max'",
            id="range-reversed",
        ),
        pytest.param(
            _line(9, "    when: {dpd: {}}"),
            "line 9, segments[0].when.dpd",
            "needs 'min', 'max' or both",
            id="range-empty",
        ),
        pytest.param(
            _line(9, "    when: {colour: red}"),
            "line 9, segments[0].when.colour",
            "unknown key 'colour'; allowed: bucket, dpd, overdue, balance, product,",
            id="unknown-condition",
        ),
        pytest.param(
            _line(9, "    when: {dispute: maybe}"),
            "line 9, segments[0].when.dispute",
            "must be true or false, got 'maybe'",
            id="flag-not-boolean",
        ),
        pytest.param(
            _line(9, "    when: {language: [zh, no]}"),
            "line 9, segments[0].when.language[1]",
            "YAML takes on/off/yes/no for true/false, so quote it",
            id="yaml-no-is-false",
        ),
        pytest.param(
            _line(9, "    when: {}"),
            "line 11, segments[1]",
            "segment 'rest' can never match: segment 'm1' before it has no conditions",
            id="catch-all-not-last",
        ),
        pytest.param(
            _line(31, "      partial_payment: pause"),
            "line 31, paths.escalate.on.partial_payment",
            "partial_payment takes restart or continue; got 'pause'",
            id="reaction-not-allowed",
        ),
        pytest.param(
            _line(31, "      promise_broken: {goto: escalate}"),
            "line 31, paths.escalate.on.promise_broken.goto",
            "path 'escalate' cannot go to itself",
            id="goto-itself",
        ),
        pytest.param(
            _line(31, "      unreachable: {goto: standard}"),
            "line 31, paths.escalate.on.unreachable",
            "missing 'after_days'",
            id="unreachable-without-days",
        ),
        pytest.param(
            _line(31, "      sunshine: hold"),
            "line 31, paths.escalate.on.sunshine",
            "unknown key 'sunshine'; allowed: promise_made, promise_broken, partial_payment,",
            id="unknown-event",
        ),
        pytest.param(
            _line(3, "  version: two"),
            "line 3, strategy.version",
            "must be a whole number, got 'two'",
            id="version-not-a-number",
        ),
        pytest.param(
            _line(2, "  name: small"),
            "line 2, strategy.name",
            "unknown key 'name'; allowed: id, version, description, unreachable_after_days",
            id="header-unknown-key",
        ),
        pytest.param(
            _line(12, "    path: standard\n    early_warning: yes please"),
            "line 13, segments[1].early_warning",
            "must be true or false",
            id="early-warning-not-boolean",
        ),
        pytest.param(
            _line(9, "    when: {bucket: [M1}"),
            "line 9",
            "not valid YAML",
            id="not-yaml",
        ),
    ],
)
def test_spec__a_bad_file_is_rejected_naming_the_line_and_the_field(
    text: str, where: str, message: str
) -> None:
    error = _error(text)
    assert error.startswith(f"strategy.yaml, {where}: "), error
    assert message in error, error


def test_spec__an_error_message_reads_file_line_field_problem() -> None:
    assert _error(_line(10, "    path: fast")) == (
        "strategy.yaml, line 10, segments[0].path: no path named 'fast'; paths: standard, escalate"
    )


def test_spec__a_missing_section_is_named() -> None:
    text = SMALL.split("paths:")[0]
    assert "file: missing 'paths'" in _error(text)


def test_spec__an_early_warning_catch_all_does_not_hide_the_delinquent_segments() -> None:
    text = SMALL.replace(
        "  - id: m1\n", "  - id: ew\n    early_warning: true\n    path: standard\n  - id: m1\n"
    )
    strategy = parse_strategy(text)
    assert [s.id for s in strategy.segments] == ["ew", "m1", "rest"]


def test_spec__a_segment_in_two_tests_is_refused() -> None:
    text = SMALL + (
        "  - id: t2\n"
        "    population: [m1]\n"
        "    arms:\n"
        "      - {name: a, share: 50}\n"
        '      - {name: b, share: "50.00"}\n'
    )
    assert "line 39, tests[1].population[0]: segment 'm1' is already in test 't'" in _error(text)


def test_spec__shares_may_have_two_decimals() -> None:
    text = _line(36, '      - {name: champion, share: "87.5"}')
    text = text.replace("share: 20,", 'share: "12.50",')
    arms = parse_strategy(text).tests[0].arms
    assert [a.share_bp for a in arms] == [8750, 1250]
    assert arms[0].share_percent == Decimal("87.5")


def test_spec__load_strategy_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(_line(10, "    path: fast"), encoding="utf-8")
    with pytest.raises(YamlFileError, match=r"mine\.yaml, line 10, segments\[0\]\.path"):
        load_strategy(path)
    with pytest.raises(YamlFileError, match="cannot be read"):
        load_strategy(tmp_path / "absent.yaml")


def test_spec__the_default_strategy_validates() -> None:
    strategy = load_default_strategy()
    assert strategy.id == "cn-default"
    ids = [s.id for s in strategy.segments]
    assert ids[0] == "vulnerable" and ids[-1] == "other"
    assert strategy.segments[-1].when.is_empty
    channels = {step.channel for path in strategy.paths.values() for step in path.steps}
    assert channels >= {
        Channel.SMS,
        Channel.APP_PUSH,
        Channel.CALL,
        Channel.LETTER,
        Channel.FIELD_VISIT,
        Channel.AGENCY,
        Channel.LEGAL,
    }
    assert strategy.handler("m1-standard", Event.DISPUTE)[0].reaction is Reaction.HOLD
    assert strategy.handler("m1-standard", Event.PROMISE_MADE)[0].reaction is Reaction.PAUSE
    unreachable, _ = strategy.handler("m2-senior", Event.UNREACHABLE)
    assert (unreachable.after_days, unreachable.goto) == (10, "skip-trace")
    assert [a.share_bp for a in strategy.tests[0].arms] == [8000, 2000]

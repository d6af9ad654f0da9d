"""The daily strategy run: segments, paths, events, steps and the actions they produce."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest

from recoup.strategy import (
    ACTION_COLUMNS,
    DECISION_COLUMNS,
    CaseStatus,
    PathSource,
    Strategy,
    assign_arm,
    decide_cases,
    load_default_strategy,
    parse_strategy,
    plan_actions,
    run_strategy,
)
from tests.unit.strategy_cases import AS_OF, case, frame, synthetic


def _days(n: int) -> date:
    """The run day plus ``n`` days (negative: before it)."""
    return AS_OF + timedelta(days=n)


def _decision(strategy: Strategy, row: dict[str, Any]) -> dict[str, Any]:
    return decide_cases(frame(row), strategy, AS_OF).row(0, named=True)


def _steps_by_case(actions: pl.DataFrame) -> dict[int, list[str]]:
    steps: dict[int, list[str]] = {}
    for key, step in actions.select("case_key", "step").iter_rows():
        steps.setdefault(key, []).append(step)
    return steps


# --- conditions ------------------------------------------------------------------------------

CONDITION_STRATEGY = """\
strategy: {{id: conditions, version: 1, unreachable_after_days: 10}}
segments:
  - id: hit
    when: {{{when}}}
    path: p
  - id: rest
    path: p
paths:
  p:
    steps:
      - {{id: sms, day: 0, from: case_open, every: 1, channel: sms, template: t}}
    on:
      dispute: continue
      promise_made: continue
"""


@pytest.mark.parametrize(
    ("when", "matching", "missing"),
    [
        ("bucket: [M2]", {"dpd": 40, "bucket": "M2"}, {"dpd": 10, "bucket": "M1"}),
        ("bucket: {from: M2, to: M3}", {"bucket": "M3"}, {"bucket": "M4"}),
        ("dpd: {min: 5, max: 9}", {"dpd": 9}, {"dpd": 10}),
        ("dpd: {min: 5, max: 9}", {"dpd": 5}, {"dpd": 4}),
        ('overdue: {min: "100.00"}', {"overdue_cents": 10000}, {"overdue_cents": 9999}),
        ('balance: {max: "5000.00"}', {"balance_cents": 500000}, {"balance_cents": 500001}),
        ("product: [fenqi-cash]", {"product_id": "fenqi-cash"}, {"product_id": "fenqi-card"}),
        ("risk_grade: [D, E]", {"risk_grade": "E"}, {"risk_grade": "C"}),
        ("risk_grade: [D, E]", {"risk_grade": "D"}, {"risk_grade": None}),
        ("score: {min: 300, max: 550}", {"score": 550.0}, {"score": 550.5}),
        ("score: {min: 300, max: 550}", {"score": 300.0}, {"score": None}),
        ("region: [上海市]", {"region": "上海市"}, {"region": None}),
        ("language: [en]", {"language": "en"}, {"language": "zh"}),
        ("dispute: true", {"dispute": True}, {"dispute": False}),
        ("dispute: false", {"dispute": False}, {"dispute": True}),
        ("vulnerable: true", {"vulnerable": True}, {"vulnerable": False}),
        ("unreachable: true", {"unreachable_days": 10}, {"unreachable_days": 9}),
        ("unreachable: false", {"unreachable_days": 9}, {"unreachable_days": 10}),
        ("active_promise: true", {"promise_until": AS_OF}, {"promise_until": _days(-1)}),
        ("active_promise: false", {"promise_until": None}, {"promise_until": _days(3)}),
        ("not: {region: [广东省]}", {"region": None}, {"region": "广东省"}),
        ("not: {region: [广东省], dpd: {min: 10}}", {"dpd": 3}, {"dpd": 12}),
        ("bucket: [M1], dpd: {max: 7}", {"dpd": 7}, {"dpd": 8}),
    ],
)
def test_evaluate__each_condition_takes_the_cases_it_names_and_no_others(
    when: str, matching: dict[str, Any], missing: dict[str, Any]
) -> None:
    strategy = parse_strategy(CONDITION_STRATEGY.format(when=when))
    decisions = decide_cases(frame(case(1, 5, **matching), case(2, 5, **missing)), strategy, AS_OF)
    assert decisions["segment"].to_list() == ["hit", "rest"]
    assert "segment 'hit' (the first that matches)" in decisions["reason"][0]


def test_evaluate__the_first_matching_segment_wins() -> None:
    strategy = parse_strategy(
        textwrap.dedent(
            """\
            strategy: {id: order, version: 1}
            segments:
              - {id: big, when: {overdue: {min: "1000.00"}}, path: a}
              - {id: m1, when: {bucket: [M1]}, path: b}
              - {id: late, when: {dpd: {min: 1}}, path: c}
            paths:
              a: {steps: []}
              b: {steps: []}
              c: {steps: []}
            """
        )
    )
    decisions = decide_cases(
        frame(
            case(1, 5, overdue_cents=100_000),
            case(2, 5, overdue_cents=99_999),
            case(3, 40, overdue_cents=99_999),
            case(4, 0, dpd=0, overdue_cents=5),
        ),
        strategy,
        AS_OF,
    )
    assert decisions["segment"].to_list() == ["big", "m1", "late", None]
    assert decisions["path"].to_list() == ["a", "b", "c", None]
    unmatched = decisions.row(3, named=True)
    assert unmatched["status"] == CaseStatus.UNMATCHED
    assert unmatched["reason"] == "no segment takes this account, so it gets no actions"


def test_evaluate__early_warning_segments_take_only_flagged_current_accounts() -> None:
    strategy = parse_strategy(
        textwrap.dedent(
            """\
            strategy: {id: ew, version: 1}
            segments:
              - {id: pre-due, early_warning: true, when: {risk_grade: [E]}, path: p}
              - {id: all, path: p}
            paths:
              p:
                steps: [{id: s, day: -3, from: due_date, channel: sms, template: t}]
            """
        )
    )
    cases = frame(
        case(1, -3, early_warning=True, risk_grade="E"),
        case(2, -3, early_warning=True, risk_grade="C"),
        case(3, 5, risk_grade="E"),
    )
    plan = run_strategy(cases, strategy, AS_OF)
    assert plan.decisions["segment"].to_list() == ["pre-due", None, "all"]
    assert plan.actions["case_key"].to_list() == [1]
    assert (
        "current accounts flagged by early warning with risk grade E" in (plan.actions["reason"][0])
    )


# --- steps -----------------------------------------------------------------------------------

ANCHORS = parse_strategy(
    textwrap.dedent(
        """\
        strategy: {id: anchors, version: 1}
        segments:
          - {id: all, path: p}
        paths:
          p:
            steps:
              - {id: open3, day: 3, from: case_open, channel: sms, template: t}
              - {id: due5, day: 5, from: due_date, channel: email, template: t}
              - {id: pre2, day: -2, from: due_date, channel: app_push, template: t}
              - {id: event1, day: 1, from: last_event, channel: sms, template: t}
              - {id: rep, day: 2, from: case_open, every: 3, until: 8, channel: sms, template: t}
        """
    )
)


def _anchored(key: int, opened: int, due: int, event: int | None = None) -> dict[str, Any]:
    return case(
        key,
        5,
        opened_on=_days(opened),
        due_date=_days(due),
        last_event=None if event is None else "contact",
        last_event_on=None if event is None else _days(event),
    )


@pytest.mark.parametrize(
    ("opened", "due", "event", "due_steps"),
    [
        (-3, -40, None, ["open3"]),
        (-10, -5, None, ["due5"]),
        (-20, 2, None, ["pre2"]),
        (-20, -40, -1, ["event1"]),
        (-20, -40, -2, []),
        (-2, -40, None, ["rep"]),
        (-5, -40, None, ["rep"]),
        (-8, -40, None, ["rep"]),
        (-11, -40, None, []),
        (-4, -40, None, []),
        (-3, -5, -1, ["open3", "due5", "event1"]),
    ],
)
def test_evaluate__a_step_is_due_on_its_day_counted_from_its_anchor(
    opened: int, due: int, event: int | None, due_steps: list[str]
) -> None:
    actions = plan_actions(frame(_anchored(1, opened, due, event)), ANCHORS, AS_OF)
    assert sorted(actions["step"].to_list()) == sorted(due_steps)


def test_evaluate__a_case_with_nothing_due_today_says_when_its_next_step_is() -> None:
    decisions = decide_cases(
        frame(_anchored(1, -4, -40), _anchored(2, -11, -40), _anchored(3, -1, -40)),
        ANCHORS,
        AS_OF,
    )
    waiting, done, early = decisions.iter_rows(named=True)
    assert (waiting["status"], waiting["next_step"], waiting["next_on"]) == (
        CaseStatus.WAITING,
        "rep",
        _days(1),
    )
    assert "next step 'rep' on 2026-03-11" in waiting["reason"]
    assert (done["status"], done["next_on"]) == (CaseStatus.DONE, None)
    assert (early["next_step"], early["next_on"]) == ("rep", _days(1))


def test_evaluate__a_due_step_whose_skip_if_holds_is_skipped_and_said_so() -> None:
    strategy = parse_strategy(
        textwrap.dedent(
            """\
            strategy: {id: skip, version: 1}
            segments:
              - {id: all, path: p}
            paths:
              p:
                steps:
                  - id: call
                    day: 5
                    from: due_date
                    channel: call
                    template: t
                    queue: q
                    skip_if: {overdue: {max: "50.00"}}
                  - {id: sms, day: 5, from: due_date, channel: sms, template: t}
            """
        )
    )
    plan = run_strategy(
        frame(case(1, 5, overdue_cents=5000), case(2, 5, overdue_cents=5001)), strategy, AS_OF
    )
    assert _steps_by_case(plan.actions) == {1: ["sms"], 2: ["call", "sms"]}
    skipped = plan.decisions.row(0, named=True)
    assert skipped["skipped"] == "'call' (skipped for accounts with overdue at most 50.00)"
    assert "skipped today: 'call'" in skipped["reason"]
    assert plan.decisions["skipped"][1] is None


def test_evaluate__actions_carry_the_steps_fields_and_are_ordered_by_priority() -> None:
    strategy = parse_strategy(
        textwrap.dedent(
            """\
            strategy: {id: fields, version: 4}
            segments:
              - {id: all, path: p}
            paths:
              p:
                steps:
                  - {id: low, day: 5, from: due_date, channel: sms, template: a, priority: 10}
                  - id: high
                    day: 5
                    from: due_date
                    channel: call
                    template: b
                    queue: team-1
                    window: "10:00-12:30"
                    priority: 90
            """
        )
    )
    actions = plan_actions(frame(case(2, 5), case(1, 5)), strategy, AS_OF)
    assert actions.schema == pl.Schema(ACTION_COLUMNS)
    assert actions.select("case_key", "step").rows() == [
        (1, "high"),
        (1, "low"),
        (2, "high"),
        (2, "low"),
    ]
    high = actions.row(0, named=True)
    assert high == high | {
        "account_key": 1001,
        "as_of": AS_OF,
        "strategy_id": "fields",
        "strategy_version": 4,
        "segment": "all",
        "path": "p",
        "channel": "call",
        "template": "b",
        "queue": "team-1",
        "window_start": "10:00",
        "window_end": "12:30",
        "priority": 90,
        "test_id": None,
        "arm": None,
    }
    assert actions.row(1, named=True)["window_start"] == "09:00"
    assert high["reason"] == (
        "segment 'all' (the first that matches): every other delinquent account (no conditions);"
        " path 'p' of the segment; step 'high': day 5 after the due date (due date 2026-03-05)"
    )


# --- events ----------------------------------------------------------------------------------

EVENTS = parse_strategy(
    textwrap.dedent(
        """\
        strategy: {id: events, version: 1}
        events:
          promise_broken: {goto: escalate}
          unreachable: {after_days: 10, goto: trace}
        segments:
          - {id: cash, when: {product: [fenqi-cash]}, path: lenient}
          - {id: all, path: standard}
        paths:
          standard:
            steps:
              - {id: daily, day: 0, from: case_open, every: 1, channel: sms, template: s}
          escalate:
            steps:
              - {id: esc, day: 0, from: case_open, every: 1, until: 5, channel: call,
                 template: e, queue: senior}
          trace:
            steps:
              - {id: tr, day: 0, from: case_open, every: 1, until: 3, channel: call,
                 template: t, queue: skip}
          lenient:
            steps:
              - {id: r2, day: 2, from: case_open, channel: sms, template: r}
            on:
              partial_payment: restart
              dispute: continue
              promise_made: continue
              promise_broken: continue
        """
    )
)


def test_evaluate__an_active_promise_pauses_the_case_until_the_promised_date() -> None:
    paused = _decision(EVENTS, case(1, 20, promise_until=AS_OF))
    assert (paused["status"], paused["actions"]) == (CaseStatus.PAUSED, 0)
    assert "paused: promise to pay until 2026-03-10" in paused["reason"]
    lapsed = _decision(EVENTS, case(1, 20, promise_until=_days(-1)))
    assert lapsed["status"] == CaseStatus.ACT


def test_evaluate__a_path_may_carry_on_through_a_promise() -> None:
    row = case(1, 20, product_id="fenqi-cash", promise_until=_days(5), opened_on=_days(-2))
    assert _decision(EVENTS, row)["status"] == CaseStatus.ACT


def test_evaluate__a_broken_promise_moves_the_case_with_days_counted_from_the_event() -> None:
    row = case(1, 20, last_event="promise_broken", last_event_on=_days(-2))
    plan = run_strategy(frame(row), EVENTS, AS_OF)
    decision = plan.decisions.row(0, named=True)
    assert (decision["path"], decision["path_since"], decision["path_source"]) == (
        "escalate",
        _days(-2),
        PathSource.PROMISE_BROKEN,
    )
    assert plan.actions["step"].to_list() == ["esc"]
    assert "path 'escalate' from 2026-03-08: promise broken" in plan.actions["reason"][0]
    assert "(path started on 2026-03-08, today is day 2)" in plan.actions["reason"][0]


def test_evaluate__a_promise_broken_before_the_case_opened_changes_nothing() -> None:
    row = case(1, 20, last_event="promise_broken", last_event_on=_days(-30))
    assert _decision(EVENTS, row)["path"] == "standard"


def test_evaluate__a_path_may_ignore_a_broken_promise() -> None:
    row = case(1, 20, product_id="fenqi-cash", last_event="promise_broken", last_event_on=_days(-1))
    assert _decision(EVENTS, row)["path"] == "lenient"


def test_evaluate__an_event_path_whose_days_are_over_hands_back_to_the_segment_path() -> None:
    row = case(1, 20, last_event="promise_broken", last_event_on=_days(-6))
    decision = _decision(EVENTS, row)
    assert (decision["path"], decision["path_source"]) == ("standard", PathSource.SEGMENT)
    assert "back from path 'escalate', whose days are over" in decision["reason"]
    still = _decision(EVENTS, case(1, 20, last_event="promise_broken", last_event_on=_days(-5)))
    assert still["path"] == "escalate"


def test_evaluate__an_override_counts_from_path_since_and_a_new_broken_promise_restarts_it() -> (
    None
):
    kept = case(
        1,
        20,
        path_override="escalate",
        path_since=_days(-3),
        last_event="promise_broken",
        last_event_on=_days(-3),
    )
    decision = _decision(EVENTS, kept)
    assert (decision["path"], decision["path_since"], decision["path_source"]) == (
        "escalate",
        _days(-3),
        PathSource.OVERRIDE,
    )
    again = kept | {"last_event_on": _days(-1)}
    decision = _decision(EVENTS, again)
    assert (decision["path"], decision["path_since"], decision["path_source"]) == (
        "escalate",
        _days(-1),
        PathSource.PROMISE_BROKEN,
    )


def test_evaluate__an_override_without_path_since_counts_from_the_last_event() -> None:
    row = case(1, 20, path_override="escalate", last_event="contact", last_event_on=_days(-4))
    decision = _decision(EVENTS, row)
    assert (decision["path"], decision["path_since"]) == ("escalate", _days(-4))


def test_evaluate__an_override_naming_a_path_the_strategy_lacks_is_ignored() -> None:
    decision = _decision(EVENTS, case(1, 20, path_override="retired-path"))
    assert decision["path"] == "standard"
    assert "the earlier path 'retired-path' is not in this strategy version" in decision["reason"]


def test_evaluate__a_partial_payment_restarts_a_path_that_says_restart() -> None:
    row = case(
        1,
        20,
        product_id="fenqi-cash",
        opened_on=_days(-19),
        last_event="partial_payment",
        last_event_on=_days(-2),
    )
    plan = run_strategy(frame(row), EVENTS, AS_OF)
    decision = plan.decisions.row(0, named=True)
    assert (decision["path_since"], decision["path_source"]) == (
        _days(-2),
        PathSource.PARTIAL_PAYMENT,
    )
    assert plan.actions["step"].to_list() == ["r2"]
    assert "restarted on 2026-03-08 by a partial payment" in plan.actions["reason"][0]


def test_evaluate__a_partial_payment_changes_nothing_on_a_path_that_continues() -> None:
    row = case(1, 20, opened_on=_days(-19), last_event="partial_payment", last_event_on=_days(-2))
    decision = _decision(EVENTS, row)
    assert (decision["path_since"], decision["path_source"]) == (_days(-19), PathSource.SEGMENT)


def test_evaluate__a_full_payment_closes_the_case() -> None:
    row = case(1, 20, last_event="full_payment", last_event_on=AS_OF, dispute=True)
    decision = _decision(EVENTS, row)
    assert (decision["status"], decision["actions"]) == (CaseStatus.CLOSING, 0)
    assert "paid in full on 2026-03-10: the case closes" in decision["reason"]


def test_evaluate__a_dispute_holds_the_case_unless_the_path_continues() -> None:
    held = _decision(EVENTS, case(1, 20, dispute=True))
    assert held["status"] == CaseStatus.HELD
    assert "held: the account is in dispute" in held["reason"]
    row = case(1, 20, dispute=True, product_id="fenqi-cash", opened_on=_days(-2))
    assert _decision(EVENTS, row)["status"] == CaseStatus.ACT


@pytest.mark.parametrize(
    ("unreachable_days", "path", "since"),
    [(9, "standard", None), (10, "trace", 0), (13, "trace", -3), (14, "standard", None)],
)
def test_evaluate__an_unreachable_account_goes_to_the_skip_trace_path_while_it_lasts(
    unreachable_days: int, path: str, since: int | None
) -> None:
    decision = _decision(EVENTS, case(1, 20, unreachable_days=unreachable_days))
    assert decision["path"] == path
    if since is not None:
        assert (decision["path_since"], decision["path_source"]) == (
            _days(since),
            PathSource.UNREACHABLE,
        )
        assert decision["status"] == CaseStatus.ACT
        assert f"no successful contact for {unreachable_days} days" in decision["reason"]


# --- champion/challenger in the run ------------------------------------------------------------


def test_evaluate__an_account_in_the_challenger_arm_gets_the_challengers_path() -> None:
    strategy = load_default_strategy()
    test = strategy.tests[0]
    ids = [f"ACC{n:06d}" for n in range(1, 200)]
    challenger = next(i for i in ids if assign_arm(i, test).name == "challenger")
    champion = next(i for i in ids if assign_arm(i, test).name == "champion")
    plan = run_strategy(
        frame(case(1, 1, account_id=champion), case(2, 1, account_id=challenger)),
        strategy,
        AS_OF,
    )
    rows = plan.decisions.select("arm", "path", "path_source", "test_id").rows()
    assert rows == [
        ("champion", "m1-standard", PathSource.SEGMENT, "m1-call-timing"),
        ("challenger", "m1-early-calls", PathSource.ARM, "m1-call-timing"),
    ]
    assert _steps_by_case(plan.actions) == {1: ["sms-d1"], 2: ["call-week-1", "sms-d1"]}
    assert (
        "path 'm1-early-calls' of arm 'challenger' (20%) of test 'm1-call-timing'"
        in (plan.actions.filter(pl.col("case_key") == 2)["reason"][0])
    )
    assert plan.actions.filter(pl.col("case_key") == 2)["arm"].unique().to_list() == ["challenger"]


# --- the default strategy --------------------------------------------------------------------


def test_evaluate__the_default_strategy_plans_sensible_actions() -> None:
    strategy = load_default_strategy()
    test = strategy.tests[0]
    ids = [f"ACC{n:06d}" for n in range(1, 500)]
    champions = [i for i in ids if assign_arm(i, test).name == "champion"]
    rows = [
        case(1, 1, account_id=champions[0]),
        case(2, 3, account_id=champions[1]),
        case(3, 3, account_id=champions[2], overdue_cents=4_000),
        case(4, 5, account_id=champions[3], dispute=True),
        case(5, 5, account_id=champions[4], promise_until=_days(2)),
        case(6, 7, last_event="promise_broken", last_event_on=_days(-1)),
        case(7, 40, unreachable_days=10),
        case(8, 31),
        case(9, 61),
        case(10, 75, region="西藏自治区"),
        case(11, 75, region="上海市"),
        case(12, 91),
        case(13, 98),
        case(14, 158, bucket="M6"),
        case(15, -3, early_warning=True, risk_grade="E", bucket="M0", unreachable_days=15),
        case(16, -3, early_warning=True, risk_grade="A", bucket="M0"),
        case(17, -1, early_warning=True, risk_grade="A", bucket="M0"),
        case(18, 10, vulnerable=True, opened_on=_days(-3)),
        case(19, 4, last_event="full_payment", last_event_on=AS_OF),
    ]
    plan = run_strategy(frame(*rows), strategy, AS_OF)
    assert _steps_by_case(plan.actions) == {
        1: ["sms-d1"],
        2: ["call"],
        6: ["call", "sms-broken"],
        7: ["research"],
        8: ["call", "sms-m2"],
        9: ["call", "letter-m3"],
        11: ["field-visit"],
        12: ["letter-agency-notice"],
        13: ["place-with-agency"],
        14: ["legal-review"],
        15: ["sms-pre-due"],
        17: ["push-pre-due"],
        18: ["call-specialist"],
    }
    status = dict(plan.decisions.select("case_key", "status").rows())
    assert status[3] == CaseStatus.WAITING  # a small amount: the call is skipped
    assert status[4] == CaseStatus.HELD
    assert status[5] == CaseStatus.PAUSED
    assert status[10] == CaseStatus.WAITING  # no field team in the region
    assert status[16] == CaseStatus.WAITING
    assert status[19] == CaseStatus.CLOSING
    queues = dict(plan.actions.select("step", "queue").unique().rows())
    assert queues["place-with-agency"] == "agency-placement"
    assert queues["legal-review"] == "legal-review"
    assert queues["call-specialist"] == "specialist-care"
    escalation = plan.actions.filter(pl.col("case_key") == 6).row(0, named=True)
    assert (escalation["queue"], escalation["priority"]) == ("escalation-team", 75)


# --- the input contract and determinism --------------------------------------------------------


def test_evaluate__a_missing_column_is_named() -> None:
    cases = frame(case(1, 5)).drop("risk_grade")
    with pytest.raises(ValueError, match="cases: missing column 'risk_grade'"):
        plan_actions(cases, EVENTS, AS_OF)


def test_evaluate__a_column_of_the_wrong_type_is_named() -> None:
    cases = frame(case(1, 5)).with_columns(pl.col("dpd").cast(pl.String))
    with pytest.raises(ValueError, match="column 'dpd' must be Int64, got String"):
        plan_actions(cases, EVENTS, AS_OF)


def test_evaluate__narrower_integers_and_all_null_columns_are_accepted() -> None:
    cases = frame(case(1, 5)).with_columns(
        pl.col("dpd").cast(pl.Int32), pl.lit(None).alias("region")
    )
    assert decide_cases(cases, EVENTS, AS_OF)["segment"].to_list() == ["all"]


def test_evaluate__a_null_where_none_is_allowed_is_refused() -> None:
    cases = frame(case(1, 5)).with_columns(pl.lit(None, pl.String).alias("bucket"))
    with pytest.raises(ValueError, match="column\\(s\\) bucket must not hold nulls"):
        plan_actions(cases, EVENTS, AS_OF)


def test_evaluate__a_repeated_case_key_is_refused() -> None:
    with pytest.raises(ValueError, match="a case_key appears more than once"):
        plan_actions(frame(case(1, 5), case(1, 6)), EVENTS, AS_OF)


def test_evaluate__no_cases_give_empty_frames_with_the_full_schema() -> None:
    plan = run_strategy(frame(case(1, 5)).clear(), load_default_strategy(), AS_OF)
    assert plan.actions.schema == pl.Schema(ACTION_COLUMNS)
    assert plan.decisions.schema == pl.Schema(DECISION_COLUMNS)
    assert plan.actions.is_empty() and plan.decisions.is_empty()


def test_evaluate__the_same_cases_in_any_order_give_the_same_rows_in_the_same_order() -> None:
    strategy = load_default_strategy()
    cases = synthetic(3_000, seed=3)
    first = run_strategy(cases, strategy, AS_OF)
    second = run_strategy(cases.sample(fraction=1.0, shuffle=True, seed=1), strategy, AS_OF)
    assert first.actions.equals(second.actions)
    assert first.decisions.equals(second.decisions)
    assert not first.actions.is_empty()


def test_evaluate__runs_on_200k_synthetic_cases() -> None:
    strategy = load_default_strategy()
    cases = synthetic(200_000)
    plan = run_strategy(cases, strategy, AS_OF)
    decisions, actions = plan.decisions, plan.actions
    assert decisions.height == cases.height
    assert decisions["case_key"].is_sorted() and decisions["case_key"].n_unique() == cases.height
    assert decisions.schema == pl.Schema(DECISION_COLUMNS)
    assert actions.schema == pl.Schema(ACTION_COLUMNS)
    assert actions.select(pl.struct("case_key", "step").is_unique().all()).item()
    acting = decisions.filter(pl.col("status") == CaseStatus.ACT)
    assert acting["actions"].sum() == actions.height > 10_000
    assert set(actions["case_key"].unique().to_list()) == set(acting["case_key"].to_list())
    statuses = set(decisions["status"].unique().to_list())
    assert statuses >= {"act", "waiting", "paused", "held", "closing"}
    assert actions["reason"].null_count() == 0 and decisions["reason"].null_count() == 0

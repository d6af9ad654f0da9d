"""Hypothesis properties of the strategy run, against a slow, obvious oracle written per case.

The oracle reads the same :class:`Strategy` records but decides one case at a time in plain
Python, so the vectorised run's segment choice, stops and due steps can be checked on cases
nobody thought to write by hand.
"""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoup.strategy import (
    Anchor,
    Conditions,
    Event,
    Reaction,
    Step,
    Strategy,
    parse_strategy,
    run_strategy,
)
from tests.unit.strategy_cases import AS_OF, bucket_of, case, frame

STRATEGY = parse_strategy(
    textwrap.dedent(
        """\
        strategy: {id: properties, version: 1, unreachable_after_days: 7}
        segments:
          - id: ew-risky
            early_warning: true
            when: {risk_grade: [D, E], score: {max: 550}}
            path: p1
          - {id: vulnerable, when: {vulnerable: true, not: {language: [en]}}, path: p2}
          - id: big-m1
            when: {bucket: [M1], overdue: {min: "1000.00"}, balance: {max: "20000.00"}}
            path: p1
          - {id: gone, when: {unreachable: true, active_promise: false}, path: p2}
          - id: south
            when: {region: [广东省, 上海市], dpd: {min: 10, max: 90}, dispute: false}
            path: p3
          - {id: cash, when: {product: [fenqi-cash], bucket: {from: M2, to: M4}}, path: p3}
          - {id: rest, path: p1}
        paths:
          p1:
            steps:
              - {id: pre, day: -2, from: due_date, channel: sms, template: a}
              - {id: d1, day: 1, from: due_date, channel: sms, template: b}
              - id: call
                day: 3
                from: due_date
                every: 2
                until: 40
                channel: call
                template: c
                queue: q
                skip_if: {overdue: {max: "50.00"}}
          p2:
            steps:
              - {id: open, day: 0, from: case_open, every: 5, channel: call, template: d, queue: q}
              - {id: after-event, day: 2, from: last_event, channel: letter, template: e}
          p3:
            steps:
              - id: visit
                day: 10
                from: case_open
                every: 3
                until: 40
                channel: field_visit
                template: f
                queue: field
                skip_if: {not: {language: [zh]}, dispute: false}
            on:
              dispute: continue
        """
    )
)


def _holds(conditions: Conditions, row: dict[str, Any], strategy: Strategy) -> bool:
    def within(value: Any, low: Any, high: Any) -> bool:
        return (
            value is not None and (low is None or value >= low) and (high is None or value <= high)
        )

    checks: list[bool] = []
    if conditions.buckets is not None:
        checks.append(row["bucket"] in conditions.buckets)
    for bounds, column in (
        (conditions.dpd, "dpd"),
        (conditions.overdue_cents, "overdue_cents"),
        (conditions.balance_cents, "balance_cents"),
        (conditions.score, "score"),
    ):
        if bounds is not None:
            checks.append(within(row[column], bounds.low, bounds.high))
    for values, column in (
        (conditions.products, "product_id"),
        (conditions.risk_grades, "risk_grade"),
        (conditions.regions, "region"),
        (conditions.languages, "language"),
    ):
        if values is not None:
            checks.append(row[column] is not None and row[column] in values)
    if conditions.dispute is not None:
        checks.append(row["dispute"] == conditions.dispute)
    if conditions.vulnerable is not None:
        checks.append(row["vulnerable"] == conditions.vulnerable)
    if conditions.unreachable is not None:
        unreachable = row["unreachable_days"] >= strategy.unreachable_after_days
        checks.append(unreachable == conditions.unreachable)
    if conditions.active_promise is not None:
        active = row["promise_until"] is not None and row["promise_until"] >= AS_OF
        checks.append(active == conditions.active_promise)
    if conditions.negated is not None:
        checks.append(not _holds(conditions.negated, row, strategy))
    return all(checks)


def _oracle_segment(row: dict[str, Any], strategy: Strategy) -> str | None:
    for segment in strategy.segments:
        if segment.early_warning == row["early_warning"] and _holds(segment.when, row, strategy):
            return segment.id
    return None


def _is_due(step: Step, row: dict[str, Any]) -> bool:
    anchor: date | None = {
        Anchor.CASE_OPEN: row["opened_on"],
        Anchor.DUE_DATE: row["due_date"],
        Anchor.LAST_EVENT: row["last_event_on"],
    }[step.anchor]
    if anchor is None:
        return False
    offset = (AS_OF - anchor).days
    if step.every is None:
        return offset == step.day
    on_rhythm = offset >= step.day and (offset - step.day) % step.every == 0
    return on_rhythm and (step.until is None or offset <= step.until)


def _oracle(row: dict[str, Any], strategy: Strategy) -> tuple[str, list[str]]:
    """The status and the due steps of one case (this strategy moves no case by events)."""
    segment_id = _oracle_segment(row, strategy)
    if segment_id is None:
        return "unmatched", []
    path_name = next(s.path for s in strategy.segments if s.id == segment_id)
    holds = strategy.handler(path_name, Event.DISPUTE)[0].reaction is Reaction.HOLD
    if row["dispute"] and holds:
        return "held", []
    if row["promise_until"] is not None and row["promise_until"] >= AS_OF:
        return "paused", []
    steps = [
        step.id
        for step in strategy.paths[path_name].steps
        if _is_due(step, row) and (step.skip_if.is_empty or not _holds(step.skip_if, row, strategy))
    ]
    return ("act" if steps else "no-action"), sorted(steps)


def _day(low: int, high: int) -> st.SearchStrategy[date]:
    return st.integers(low, high).map(lambda n: AS_OF + timedelta(days=n))


def _around(values: st.SearchStrategy[int], edges: list[int]) -> st.SearchStrategy[int]:
    """Any of ``values``, or often one of the ``edges`` where an off-by-one would show."""
    return st.one_of(values, st.sampled_from(edges))


@st.composite
def _rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 25))
    rows: list[dict[str, Any]] = []
    for key in range(1, count + 1):
        dpd = draw(_around(st.integers(-5, 200), [9, 10, 11, 30, 31, 89, 90, 91, 120, 121]))
        event_on = draw(st.one_of(st.none(), _day(-30, 0)))
        rows.append(
            case(
                key,
                dpd,
                bucket=bucket_of(dpd),
                opened_on=draw(_day(-60, 0)),
                early_warning=draw(st.booleans()),
                overdue_cents=draw(_around(st.integers(0, 500_000), [5000, 5001, 99_999, 100_000])),
                balance_cents=draw(_around(st.integers(0, 5_000_000), [2_000_000, 2_000_001])),
                product_id=draw(st.sampled_from(["fenqi-card", "fenqi-cash"])),
                region=draw(st.sampled_from(["广东省", "上海市", "河南省", None])),
                language=draw(st.sampled_from(["zh", "en", None])),
                risk_grade=draw(st.sampled_from(["A", "C", "D", "E", None])),
                score=draw(
                    st.one_of(
                        st.none(),
                        st.floats(300, 800, allow_nan=False),
                        st.sampled_from([550.0, 550.5]),
                    )
                ),
                dispute=draw(st.booleans()),
                vulnerable=draw(st.booleans()),
                unreachable_days=draw(_around(st.integers(0, 20), [6, 7])),
                promise_until=draw(st.one_of(st.none(), _day(-5, 5))),
                last_event=None if event_on is None else "contact",
                last_event_on=event_on,
            )
        )
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows())
def test_property__the_run_agrees_with_the_per_case_oracle(rows: list[dict[str, Any]]) -> None:
    plan = run_strategy(frame(*rows), STRATEGY, AS_OF)
    decisions = {row["case_key"]: row for row in plan.decisions.iter_rows(named=True)}
    assert len(decisions) == len(rows)  # one decision, so at most one segment, per case
    steps: dict[int, list[str]] = {}
    for key, step in plan.actions.select("case_key", "step").iter_rows():
        steps.setdefault(key, []).append(step)
    for row in rows:
        decision = decisions[row["case_key"]]
        assert decision["segment"] == _oracle_segment(row, STRATEGY), row
        status, due = _oracle(row, STRATEGY)
        assert sorted(steps.get(row["case_key"], [])) == due, row
        if status == "no-action":
            assert decision["status"] in {"waiting", "done"}
        else:
            assert decision["status"] == status
        assert decision["actions"] == len(due)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows(), seed=st.integers(0, 2**16))
def test_property__the_same_cases_give_the_same_rows_whatever_their_order(
    rows: list[dict[str, Any]], seed: int
) -> None:
    cases = frame(*rows)
    first = run_strategy(cases, STRATEGY, AS_OF)
    shuffled = run_strategy(cases.sample(fraction=1.0, shuffle=True, seed=seed), STRATEGY, AS_OF)
    assert first.actions.equals(shuffled.actions)
    assert first.decisions.equals(shuffled.decisions)
    assert first.actions.select(pl.struct("case_key", "step").is_unique().all()).item()

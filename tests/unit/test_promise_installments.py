"""Promises to pay in installments: payments count towards the installments in date order,
each installment is kept, partly kept or broken by its date plus grace, and the promise is
broken by its first broken installment (the later ones cancelled), else kept or partly kept
once all are judged.

The edges are plain cases; Hypothesis checks the money invariants and compares the frame
implementation with a slow, obvious one (``_oracle``) on any promises and payments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recoup.cases import (
    INSTALLMENT_SCHEMA,
    MAX_INSTALLMENTS,
    PromiseInstallment,
    PromiseStanding,
    follow_up_installments,
    follow_up_promises,
    promise_installments,
)

MADE = date(2026, 12, 1)
FIRST, SECOND = date(2026, 12, 5), date(2026, 12, 20)
GRACE = 2
AFTER_ALL = date(2027, 1, 31)


@dataclass(frozen=True)
class Promise:
    key: int
    account: int
    made_on: date
    grace_days: int
    parts: tuple[tuple[date, int], ...]  # (due_on, amount_cents), dates increasing


def _frames(promises: Sequence[Promise]) -> tuple[pl.DataFrame, pl.DataFrame]:
    whole = pl.DataFrame(
        [
            (p.key, p.account, p.made_on, p.parts[-1][0], sum(a for _, a in p.parts), p.grace_days)
            for p in promises
        ],
        schema={
            "promise_key": pl.Int64,
            "account_key": pl.Int64,
            "made_on": pl.Date,
            "promised_for": pl.Date,
            "amount_cents": pl.Int64,
            "grace_days": pl.Int64,
        },
        orient="row",
    )
    parts = pl.DataFrame(
        [
            (p.key, number, due_on, amount)
            for p in promises
            for number, (due_on, amount) in enumerate(p.parts, start=1)
        ],
        schema=INSTALLMENT_SCHEMA,
        orient="row",
    )
    return whole, parts


def _payments(*rows: tuple[int, date, int]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"account_key": pl.Int64, "paid_on": pl.Date, "amount_cents": pl.Int64},
        orient="row",
    )


def _judge(
    promises: Sequence[Promise], payments: pl.DataFrame, as_of: date = AFTER_ALL
) -> PromiseStanding:
    whole, parts = _frames(promises)
    return follow_up_installments(whole, parts, payments, as_of)


def _two(grace: int = GRACE) -> Promise:
    """500.00 by 5 December and 500.00 by 20 December, made on 1 December."""
    return Promise(1, 10, MADE, grace, ((FIRST, 50_000), (SECOND, 50_000)))


def _installments(standing: PromiseStanding) -> list[tuple[int, str, date | None]]:
    return [
        (row["paid_cents"], row["status"], row["resolved_on"])
        for row in standing.installments.iter_rows(named=True)
    ]


def _whole(standing: PromiseStanding) -> tuple[int, str, date | None]:
    row = standing.promises.row(0, named=True)
    return row["paid_cents"], row["status"], row["resolved_on"]


# --------------------------------------------------------------------------- the edges


def test_installments__exactly_the_amount_on_the_last_grace_day_is_kept() -> None:
    last_grace_day = SECOND + timedelta(days=GRACE)
    payments = _payments((10, FIRST, 50_000), (10, last_grace_day, 50_000))
    standing = _judge([_two()], payments)
    assert _installments(standing) == [
        (50_000, "kept", FIRST),
        (50_000, "kept", last_grace_day),
    ]
    assert _whole(standing) == (100_000, "kept", last_grace_day)


def test_installments__one_cent_short_on_the_last_grace_day_is_partly_kept() -> None:
    last_grace_day = SECOND + timedelta(days=GRACE)
    payments = _payments((10, FIRST, 50_000), (10, last_grace_day, 49_999))
    standing = _judge([_two()], payments)
    decided = last_grace_day + timedelta(days=1)
    assert _installments(standing) == [(50_000, "kept", FIRST), (49_999, "partly_kept", decided)]
    assert _whole(standing) == (99_999, "partly_kept", decided)


def test_installments__a_payment_the_day_after_the_grace_is_too_late() -> None:
    too_late = FIRST + timedelta(days=GRACE + 1)
    standing = _judge([_two()], _payments((10, too_late, 100_000)))
    assert _installments(standing) == [
        (0, "broken", too_late),
        (0, "cancelled", too_late),
    ]
    assert _whole(standing) == (0, "broken", too_late)


def test_installments__nothing_paid_breaks_the_first_and_cancels_the_rest() -> None:
    broken_on = FIRST + timedelta(days=GRACE + 1)
    standing = _judge([_two()], _payments())
    assert _installments(standing) == [(0, "broken", broken_on), (0, "cancelled", broken_on)]
    assert _whole(standing) == (0, "broken", broken_on)


def test_installments__nothing_towards_the_second_breaks_it_after_the_first_was_kept() -> None:
    broken_on = SECOND + timedelta(days=GRACE + 1)
    standing = _judge([_two()], _payments((10, FIRST, 50_000)))
    assert _installments(standing) == [(50_000, "kept", FIRST), (0, "broken", broken_on)]
    assert _whole(standing) == (50_000, "broken", broken_on)


def test_installments__an_overpayment_rolls_to_the_next_installment() -> None:
    payments = _payments((10, date(2026, 12, 3), 70_000), (10, date(2026, 12, 18), 30_000))
    standing = _judge([_two()], payments)
    assert _installments(standing) == [
        (50_000, "kept", date(2026, 12, 3)),
        (50_000, "kept", date(2026, 12, 18)),
    ]
    assert _whole(standing) == (100_000, "kept", date(2026, 12, 18))


def test_installments__one_payment_of_everything_keeps_every_installment_on_its_day() -> None:
    standing = _judge([_two()], _payments((10, MADE, 100_000)))
    assert _installments(standing) == [(50_000, "kept", MADE), (50_000, "kept", MADE)]
    assert _whole(standing) == (100_000, "kept", MADE)


def test_installments__a_late_catch_up_counts_towards_the_next_installment_first() -> None:
    # 300.00 by the first deadline: partly kept. 700.00 later covers the 200.00 missing from
    # the first and the 500.00 of the second: the second is kept, the whole partly kept.
    first_decided = FIRST + timedelta(days=GRACE + 1)
    payments = _payments((10, FIRST, 30_000), (10, date(2026, 12, 15), 70_000))
    standing = _judge([_two()], payments)
    assert _installments(standing) == [
        (30_000, "partly_kept", first_decided),
        (50_000, "kept", date(2026, 12, 15)),
    ]
    assert _whole(standing) == (100_000, "partly_kept", date(2026, 12, 15))


def test_installments__a_catch_up_short_of_the_first_leaves_nothing_for_the_second() -> None:
    broken_on = SECOND + timedelta(days=GRACE + 1)
    payments = _payments((10, FIRST, 30_000), (10, date(2026, 12, 15), 20_000))
    standing = _judge([_two()], payments)
    assert _installments(standing)[1] == (0, "broken", broken_on)
    assert _whole(standing) == (50_000, "broken", broken_on)


def test_installments__payments_before_the_promise_do_not_count() -> None:
    payments = _payments((10, MADE - timedelta(days=1), 100_000), (10, FIRST, 50_000))
    standing = _judge([_two()], payments, as_of=date(2026, 12, 10))
    assert _installments(standing) == [(50_000, "kept", FIRST), (0, "open", None)]
    assert _whole(standing) == (50_000, "open", None)


def test_installments__open_until_decided_then_the_same_whatever_day_the_run_is() -> None:
    payments = _payments((10, FIRST, 30_000))
    deadline = FIRST + timedelta(days=GRACE)
    on_deadline = _judge([_two()], payments, as_of=deadline)
    assert _installments(on_deadline) == [(30_000, "open", None), (0, "open", None)]
    day_after = _judge([_two()], payments, as_of=deadline + timedelta(days=1))
    assert _installments(day_after)[0] == (30_000, "partly_kept", deadline + timedelta(days=1))
    late = _judge([_two()], payments, as_of=AFTER_ALL)
    assert _installments(late)[0] == _installments(day_after)[0]


def test_installments__a_promise_without_installments_is_one_of_its_amount() -> None:
    promise = Promise(1, 10, MADE, 1, ((FIRST, 50_000),))
    whole, _ = _frames([promise])
    payments = _payments((10, FIRST, 20_000))
    implicit = follow_up_installments(whole, None, payments, AFTER_ALL)
    explicit = _judge([promise], payments)
    assert implicit.promises.equals(explicit.promises)
    assert implicit.installments.equals(explicit.installments)
    assert implicit.promises.equals(follow_up_promises(whole, payments, AFTER_ALL))
    assert implicit.installments.rows() == [
        (1, 1, FIRST, 50_000, 20_000, "partly_kept", FIRST + timedelta(days=2))
    ]


def test_installments__promises_of_one_account_each_count_its_payments() -> None:
    other = Promise(2, 10, MADE, 0, ((SECOND, 40_000),))
    stranger = Promise(3, 20, MADE, 0, ((FIRST, 10_000),))
    standing = _judge([_two(), other, stranger], _payments((10, FIRST, 100_000)))
    assert standing.promises["status"].to_list() == ["kept", "kept", "broken"]


# --------------------------------------------------------------------------- the checks


def test_check__numbers_the_installments_in_date_order() -> None:
    assert promise_installments(MADE, [(FIRST, 500), (SECOND, 700)]) == (
        PromiseInstallment(FIRST, 500),
        PromiseInstallment(SECOND, 700),
    )
    assert promise_installments(MADE, [(MADE, 1)]) == (PromiseInstallment(MADE, 1),)


@pytest.mark.parametrize(
    ("installments", "message"),
    [
        ([(FIRST, 0)], "a promise's amount must be positive"),
        ([(FIRST, 500), (SECOND, -1)], "installment 2: a promise's amount must be positive"),
        ([(MADE - timedelta(days=1), 500)], "is before it was made (2026-12-01)"),
        ([(FIRST, 500), (FIRST, 500)], "installment 2: 2026-12-05 is not after installment 1"),
        ([(SECOND, 500), (FIRST, 500)], "dates must be strictly increasing"),
        ([], "at least one installment"),
        (
            [(FIRST + timedelta(days=n), 100) for n in range(MAX_INSTALLMENTS + 1)],
            "at most 12 installments, not 13",
        ),
    ],
)
def test_check__refuses_and_names_the_problem(
    installments: list[tuple[date, int]], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        promise_installments(MADE, installments)


def test_check__twelve_installments_are_allowed() -> None:
    twelve = [(FIRST + timedelta(days=n), 100) for n in range(MAX_INSTALLMENTS)]
    assert len(promise_installments(MADE, twelve)) == MAX_INSTALLMENTS


# --------------------------------------------------------------------------- properties


def _oracle(
    promise: Promise, payments: Sequence[tuple[int, date, int]], as_of: date
) -> tuple[tuple[int, str, date | None], list[tuple[int, str, date | None]]]:
    """The rules read literally, one promise at a time."""
    counted = sorted(
        (day, amount)
        for account, day, amount in payments
        if account == promise.account and promise.made_on <= day <= as_of
    )

    def paid_through(day: date) -> int:
        return sum(amount for paid_on, amount in counted if paid_on <= day)

    parts: list[tuple[int, str, date | None]] = []
    due_before = 0
    broken: tuple[date, date] | None = None  # (deadline, day it broke)
    for due_on, amount in promise.parts:
        deadline = due_on + timedelta(days=promise.grace_days)
        due_through = due_before + amount
        if broken is not None:
            parts.append((0, "cancelled", broken[1]))
            due_before = due_through
            continue
        kept_on = next(
            (d for d, _ in counted if d <= deadline and paid_through(d) >= due_through), None
        )
        paid = paid_through(min(deadline, as_of))
        towards = min(amount, max(0, paid - due_before))
        if kept_on is not None:
            parts.append((towards, "kept", kept_on))
        elif deadline < as_of:
            decided = deadline + timedelta(days=1)
            parts.append((towards, "partly_kept" if paid > due_before else "broken", decided))
            if paid <= due_before:
                broken = (deadline, decided)
        else:
            parts.append((towards, "open", None))
        due_before = due_through
    last_deadline = promise.parts[-1][0] + timedelta(days=promise.grace_days)
    if broken is not None:
        return (paid_through(broken[0]), "broken", broken[1]), parts
    paid = paid_through(min(last_deadline, as_of))
    if any(status == "open" for _, status, _ in parts):
        return (paid, "open", None), parts
    status = "kept" if all(s == "kept" for _, s, _ in parts) else "partly_kept"
    return (paid, status, max(d for _, _, d in parts if d is not None)), parts


@st.composite
def promises_and_payments(
    draw: st.DrawFn,
) -> tuple[list[Promise], list[tuple[int, date, int]], date]:
    promises = []
    for key in range(1, draw(st.integers(1, 3)) + 1):
        made_on = MADE + timedelta(days=draw(st.integers(0, 5)))
        gaps = draw(st.lists(st.integers(1, 10), min_size=1, max_size=4))
        first = made_on + timedelta(days=draw(st.integers(0, 5)))
        dates = [first + timedelta(days=sum(gaps[:n])) for n in range(len(gaps))]
        amounts = draw(st.lists(st.integers(1, 500), min_size=len(dates), max_size=len(dates)))
        promises.append(
            Promise(
                key,
                draw(st.sampled_from([10, 20])),
                made_on,
                draw(st.integers(0, 3)),
                tuple(zip(dates, amounts, strict=True)),
            )
        )
    amounts = [a for p in promises for _, a in p.parts]
    payments = draw(
        st.lists(
            st.tuples(
                st.sampled_from([10, 20]),
                st.integers(-3, 50).map(lambda n: MADE + timedelta(days=n)),
                st.one_of(st.sampled_from(amounts), st.integers(1, 800)),
            ),
            max_size=8,
        )
    )
    as_of = MADE + timedelta(days=draw(st.integers(0, 60)))
    return promises, payments, as_of


@settings(max_examples=300, deadline=None)
@given(promises_and_payments())
def test_property__the_frames_judge_as_the_rules_read(
    case: tuple[list[Promise], list[tuple[int, date, int]], date],
) -> None:
    promises, payments, as_of = case
    standing = _judge(promises, _payments(*payments), as_of)
    for promise in promises:
        whole, parts = _oracle(promise, payments, as_of)
        mine = standing.promises.filter(pl.col("promise_key") == promise.key)
        assert mine.select("paid_cents", "status", "resolved_on").row(0) == whole
        assert (
            standing.installments.filter(pl.col("promise_key") == promise.key)
            .select("paid_cents", "status", "resolved_on")
            .rows()
            == parts
        )


@settings(max_examples=300, deadline=None)
@given(promises_and_payments())
def test_property__nothing_is_counted_twice_or_beyond_what_was_paid(
    case: tuple[list[Promise], list[tuple[int, date, int]], date],
) -> None:
    promises, payments, as_of = case
    standing = _judge(promises, _payments(*payments), as_of)
    for promise in promises:
        made = sum(
            amount
            for account, day, amount in payments
            if account == promise.account and promise.made_on <= day <= as_of
        )
        whole = standing.promises.filter(pl.col("promise_key") == promise.key)
        parts = standing.installments.filter(pl.col("promise_key") == promise.key)
        towards = parts["paid_cents"].sum()
        assert 0 <= towards <= whole["paid_cents"].item() <= made
        assert (parts["paid_cents"] >= 0).all()
        assert (parts["paid_cents"] <= parts["amount_cents"]).all()
        assert parts["number"].to_list() == list(range(1, len(promise.parts) + 1))


@settings(max_examples=200, deadline=None)
@given(promises_and_payments())
def test_property__a_promise_paid_on_time_is_kept(
    case: tuple[list[Promise], list[tuple[int, date, int]], date],
) -> None:
    promises, _, _ = case
    # Each installment paid in full on its date (accounts apart, so no promise shares them).
    separate = [Promise(p.key, 100 + p.key, p.made_on, p.grace_days, p.parts) for p in promises]
    payments = [(p.account, day, amount) for p in separate for day, amount in p.parts]
    standing = _judge(separate, _payments(*payments), AFTER_ALL)
    assert set(standing.promises["status"]) == {"kept"}
    assert set(standing.installments["status"]) == {"kept"}
    for p in separate:
        row = standing.promises.filter(pl.col("promise_key") == p.key).row(0, named=True)
        assert row["resolved_on"] == p.parts[-1][0]
        assert row["paid_cents"] == sum(a for _, a in p.parts)


@settings(max_examples=200, deadline=None)
@given(promises_and_payments(), st.integers(1, 30))
def test_property__a_decided_outcome_does_not_change_on_a_later_run(
    case: tuple[list[Promise], list[tuple[int, date, int]], date], later: int
) -> None:
    promises, payments, as_of = case
    frame = _payments(*payments)
    now = _judge(promises, frame, as_of)
    then = _judge(promises, frame, as_of + timedelta(days=later))
    for table in ("promises", "installments"):
        before, after = getattr(now, table), getattr(then, table)
        decided = before["status"] != "open"
        # The decision is the status and its day; what was paid towards a kept promise can
        # still grow with payments made after this run's day (the daily run stores it when
        # the promise is resolved and does not judge it again).
        outcome = [c for c in before.columns if c != "paid_cents"]
        assert before.filter(decided).select(outcome).equals(after.filter(decided).select(outcome))


@settings(max_examples=200, deadline=None)
@given(promises_and_payments())
def test_property__a_broken_installment_breaks_the_promise_and_cancels_the_rest(
    case: tuple[list[Promise], list[tuple[int, date, int]], date],
) -> None:
    promises, payments, as_of = case
    standing = _judge(promises, _payments(*payments), as_of)
    for promise in promises:
        statuses = standing.installments.filter(pl.col("promise_key") == promise.key)[
            "status"
        ].to_list()
        whole = standing.promises.filter(pl.col("promise_key") == promise.key)["status"].item()
        if "broken" in statuses:
            first = statuses.index("broken")
            assert whole == "broken"
            assert statuses[first + 1 :] == ["cancelled"] * (len(statuses) - first - 1)
            assert "cancelled" not in statuses[:first]
        else:
            assert "cancelled" not in statuses and whole != "broken"

"""Cases open and close with the account's delinquency; promises are judged on payments."""

from __future__ import annotations

from datetime import date

import polars as pl

from recoup.cases import (
    case_changes,
    credit_payments,
    early_warning_flags,
    follow_up_promises,
    owners_by_day,
    ownership_spans,
)

AS_OF = date(2026, 3, 10)


def _accounts(*rows: tuple[int, int, int, int]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "account_key": pl.Int64,
            "dpd": pl.Int64,
            "overdue_cents": pl.Int64,
            "outstanding_principal_cents": pl.Int64,
        },
        orient="row",
    )


def _cases(*rows: tuple[int, int, str]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"case_key": pl.Int64, "account_key": pl.Int64, "opened_because": pl.String},
        orient="row",
    )


def test_cases__open_on_the_first_day_past_due_and_only_once() -> None:
    accounts = _accounts((1, 1, 500, 9000), (2, 12, 800, 9000), (3, 0, 0, 9000), (4, 5, 1, 1))
    changes = case_changes(accounts, _cases((9, 4, "delinquent")), AS_OF)
    assert changes.opened.rows() == [
        (1, date(2026, 3, 10), "delinquent"),
        (2, date(2026, 2, 27), "delinquent"),  # DPD 12 on the 10th: first day past due the 27th
    ]
    assert changes.closed.height == 0


def test_cases__close_as_cured_or_paid_off() -> None:
    accounts = _accounts((1, 0, 0, 5000), (2, 0, 0, 0), (3, 4, 300, 5000), (4, 0, 900, 5000))
    open_cases = _cases((11, 1, "delinquent"), (12, 2, "delinquent"), (13, 3, "delinquent"),
                        (14, 4, "delinquent"))  # fmt: skip
    closed = case_changes(accounts, open_cases, AS_OF).closed
    # Account 4 owes 9.00 within tolerance: no longer past due, so cured.
    assert closed.rows() == [(11, 1, "cured"), (12, 2, "paid_off"), (14, 4, "cured")]


def test_cases__early_warning_cases_open_for_flagged_current_accounts_and_escalate() -> None:
    accounts = _accounts((1, 0, 0, 5000), (2, 3, 400, 5000), (3, 0, 0, 5000))
    flagged = pl.DataFrame({"account_key": [1, 2, 3]})
    open_cases = _cases((21, 2, "early_warning"), (22, 3, "early_warning"))
    changes = case_changes(accounts, open_cases, AS_OF, early_warning=flagged)
    assert changes.opened.rows() == [(1, AS_OF, "early_warning")]
    assert changes.escalated.rows() == [(21,)]  # fell past due: stays open, now delinquent
    assert changes.closed.height == 0  # 22 is still flagged
    unflagged = case_changes(accounts, open_cases, AS_OF, early_warning=flagged.head(1))
    assert unflagged.closed.rows() == [(22, 3, "cured")]


def _promises(*rows: tuple[int, int, date, date, int, int]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
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


def _payments(*rows: tuple[int, date, int]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"account_key": pl.Int64, "paid_on": pl.Date, "amount_cents": pl.Int64},
        orient="row",
    )


def test_promises__kept_partly_kept_broken_and_open() -> None:
    made, due = date(2026, 3, 1), date(2026, 3, 5)
    promises = _promises(
        (1, 10, made, due, 1000, 2),  # two payments reach the amount on the 6th
        (2, 20, made, due, 1000, 2),  # 300 by the deadline (the 7th): partly kept
        (3, 30, made, due, 1000, 2),  # nothing: broken
        (4, 40, made, date(2026, 3, 20), 1000, 2),  # not due yet
    )
    payments = _payments(
        (10, date(2026, 2, 28), 5000),  # before the promise: does not count
        (10, date(2026, 3, 2), 600),
        (10, date(2026, 3, 6), 400),
        (20, date(2026, 3, 7), 300),
        (20, date(2026, 3, 8), 700),  # after the deadline
        (40, date(2026, 3, 9), 100),
    )
    standing = follow_up_promises(promises, payments, AS_OF)
    assert standing.rows() == [
        (1, 1000, "kept", date(2026, 3, 6)),
        (2, 300, "partly_kept", date(2026, 3, 8)),
        (3, 0, "broken", date(2026, 3, 8)),
        (4, 100, "open", None),
    ]


def test_promises__a_late_run_reaches_the_same_outcome_as_a_daily_one() -> None:
    promises = _promises((1, 10, date(2026, 3, 1), date(2026, 3, 3), 1000, 0))
    payments = _payments((10, date(2026, 3, 2), 200))
    on_time = follow_up_promises(promises, payments, date(2026, 3, 4))
    late = follow_up_promises(promises, payments, date(2026, 3, 30))
    assert on_time.equals(late)
    assert on_time["status"].to_list() == ["partly_kept"]
    # The day of the deadline itself the promise is still open.
    assert follow_up_promises(promises, payments, date(2026, 3, 3))["status"].to_list() == ["open"]


def test_credits__a_payment_goes_to_the_owner_on_the_day_it_was_paid() -> None:
    payments = pl.DataFrame(
        {
            "payment_key": [1, 2, 3, 4],
            "account_key": [10, 10, 10, 20],
            "paid_on": [date(2026, 3, 1), date(2026, 3, 5), date(2026, 3, 9), date(2026, 3, 9)],
            "amount_cents": [100, 200, 300, 400],
        }
    )
    ownership = pl.DataFrame(
        {
            "case_key": [7, 7],
            "account_key": [10, 10],
            "owner": ["C01", "AG1"],
            "owner_kind": ["collector", "agency"],
            "owned_from": [date(2026, 3, 2), date(2026, 3, 6)],
            "owned_until": [date(2026, 3, 5), None],
        }
    )
    credits = credit_payments(payments, ownership)
    assert credits.select("payment_key", "owner", "amount_cents").rows() == [
        (2, "C01", 200),
        (3, "AG1", 300),
    ]


def test_credits__a_payment_on_the_day_a_lead_moved_the_case_goes_to_the_new_owner() -> None:
    # Case 7: the nightly run gives it to C01 on 3/2; a lead moves it to C02 on 3/4 (dated
    # the open day), then to C03 the same day; the nightly run of 3/4 keeps C03, and the
    # nightly run of 3/6 recalls it (no owner).
    decisions = pl.DataFrame(
        {
            "case_key": [7, 7, 7, 7, 7],
            "account_key": [10, 10, 10, 10, 10],
            "owner": ["C03", "C01", "C02", "C03", None],
            "owner_kind": ["collector"] * 4 + [None],
            "as_of": [
                date(2026, 3, 4),
                date(2026, 3, 2),
                date(2026, 3, 4),
                date(2026, 3, 4),
                date(2026, 3, 6),
            ],
            "seq": [2, 0, 0, 1, 0],
        }
    )
    spans = ownership_spans(decisions)
    assert spans.select("owner", "owned_from", "owned_until").rows() == [
        ("C01", date(2026, 3, 2), date(2026, 3, 3)),
        ("C03", date(2026, 3, 4), date(2026, 3, 5)),
    ]
    payments = pl.DataFrame(
        {
            "payment_key": [1, 2, 3, 4],
            "account_key": [10, 10, 10, 10],
            "paid_on": [date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5), date(2026, 3, 6)],
            "amount_cents": [100, 200, 300, 400],
        }
    )
    credits = credit_payments(payments, spans)
    assert credits.select("payment_key", "owner").rows() == [(1, "C01"), (2, "C03"), (3, "C03")]
    # With the lead's first move only, that move takes the day's payments on.
    one_lead_move = ownership_spans(decisions.filter(pl.col("seq") == 0))
    assert credit_payments(payments, one_lead_move)["owner"].to_list() == ["C01", "C02", "C02"]


def test_owners_by_day__keeps_each_days_last_decision_in_case_and_day_order() -> None:
    decisions = pl.DataFrame(
        {
            "case_key": [2, 1, 1, 2],
            "as_of": [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 2), date(2026, 3, 1)],
            "seq": [1, 1, 0, 0],
            "owner": ["B", "A2", "A1", "B0"],
        }
    )
    assert owners_by_day(decisions).select("case_key", "owner").rows() == [(1, "A2"), (2, "B")]


def test_early_warning__flags_current_accounts_that_slipped_before_and_fall_due_soon() -> None:
    accounts = pl.DataFrame({"account_key": [1, 2, 3, 4], "dpd": [0, 0, 0, 5]})
    next_due = pl.DataFrame(
        {
            "account_key": [1, 2, 3, 4],
            "due_date": [
                date(2026, 3, 14),
                date(2026, 3, 14),
                date(2026, 3, 30),
                date(2026, 3, 14),
            ],
        }
    )
    moves = pl.DataFrame(
        {
            "account_key": [1, 2, 3, 4],
            "moved_on": [date(2026, 1, 5), date(2025, 6, 1), date(2026, 1, 5), date(2026, 3, 6)],
            "dpd": [1, 1, 1, 1],
        }
    )
    flagged = early_warning_flags(accounts, next_due, moves, AS_OF)
    # 2 slipped too long ago, 3 is not due soon, 4 is past due (a delinquent case, not a flag).
    assert flagged["account_key"].to_list() == [1]

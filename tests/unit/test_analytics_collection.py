"""Collection measures on small hand-made frames whose answers are worked out in the comments."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
import pytest

from recoup.analytics.collection import (
    CLOSED,
    blocks_by_rule,
    contact_rates,
    cure_rates,
    flow_rates,
    promise_kept_rate,
    roll_rate_matrix,
    vintage_curves,
)

BUCKETS = ["M0", "M1", "M2", "M3"]
JAN, FEB, MAR = date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)

STATE_SCHEMA = {
    "account_key": pl.Int64,
    "as_of": pl.Date,
    "dpd": pl.Int64,
    "bucket": pl.String,
    "outstanding_principal_cents": pl.Int64,
    "overdue_principal_cents": pl.Int64,
    "overdue_fee_cents": pl.Int64,
    "overdue_late_fee_cents": pl.Int64,
    "overdue_penalty_cents": pl.Int64,
}


def _states(rows: list[tuple[int, date, int, str, int, int, int, int, int]]) -> pl.DataFrame:
    """Rows of (account, as_of, dpd, bucket, outstanding, overdue principal, fee, late, penalty)."""
    return pl.DataFrame(rows, schema=STATE_SCHEMA, orient="row")


# Five accounts from January to February, balance = outstanding + overdue fee/late/penalty:
#   1: M0 -> M0, 1000          2: M0 -> M1, 3000
#   3: M1 -> M0, 2000 + 100 + 50 + 50 = 2200 (its 500 overdue principal is inside the 2000)
#   4: M1 -> M2, 1800          5: M1 -> no February state (closed), 1000
# and March: 1, 3 stay M0; 2 stays M1; 4 rolls M2 -> M3.
STATES = _states(
    [
        (1, JAN, 0, "M0", 1000, 0, 0, 0, 0),
        (2, JAN, 0, "M0", 3000, 0, 0, 0, 0),
        (3, JAN, 20, "M1", 2000, 500, 100, 50, 50),
        (4, JAN, 25, "M1", 1800, 300, 0, 0, 0),
        (5, JAN, 10, "M1", 1000, 100, 0, 0, 0),
        (1, FEB, 0, "M0", 1000, 0, 0, 0, 0),
        (2, FEB, 15, "M1", 3000, 200, 0, 0, 0),
        (3, FEB, 0, "M0", 2000, 0, 0, 0, 0),
        (4, FEB, 45, "M2", 1800, 600, 0, 0, 0),
        (1, MAR, 0, "M0", 1000, 0, 0, 0, 0),
        (2, MAR, 10, "M1", 3000, 200, 0, 0, 0),
        (3, MAR, 0, "M0", 2000, 0, 0, 0, 0),
        (4, MAR, 75, "M3", 1800, 900, 0, 0, 0),
    ]
)
EMPTY_STATES = _states([])


def _rows(frame: pl.DataFrame) -> dict[str, list[float]]:
    return {row[0]: list(row[1:]) for row in frame.iter_rows()}


# --------------------------------------------------------------------------- roll-rate matrix


def test_roll_rate_matrix__by_count_shares_each_rows_accounts_across_next_buckets() -> None:
    matrix = roll_rate_matrix(STATES, JAN, FEB, "count", BUCKETS)

    assert matrix.columns == ["from_bucket", "M0", "M1", "M2", "M3", CLOSED]
    rows = _rows(matrix)
    assert rows["M0"] == pytest.approx([1 / 2, 1 / 2, 0, 0, 0])
    assert rows["M1"] == pytest.approx([1 / 3, 0, 1 / 3, 0, 1 / 3])
    assert rows["M2"] == [0, 0, 0, 0, 0]
    assert rows["M3"] == [0, 0, 0, 0, 0]


def test_roll_rate_matrix__by_balance_weights_by_principal_plus_overdue_charges() -> None:
    rows = _rows(roll_rate_matrix(STATES, JAN, FEB, "balance", BUCKETS))

    # M0: 1000 stays, 3000 rolls, of 4000. M1: 2200 cures, 1800 rolls, 1000 closes, of 5000.
    assert rows["M0"] == pytest.approx([0.25, 0.75, 0, 0, 0])
    assert rows["M1"] == pytest.approx([0.44, 0, 0.36, 0, 0.2])


def test_roll_rate_matrix__non_empty_rows_sum_to_one() -> None:
    matrix = roll_rate_matrix(STATES, JAN, FEB, "balance", BUCKETS)

    sums = matrix.select(pl.sum_horizontal(pl.exclude("from_bucket"))).to_series().to_list()
    assert sums == pytest.approx([1, 1, 0, 0])


def test_roll_rate_matrix__of_no_states_is_all_zeros_with_every_bucket() -> None:
    matrix = roll_rate_matrix(EMPTY_STATES, JAN, FEB, "count", BUCKETS)

    assert matrix.get_column("from_bucket").to_list() == BUCKETS
    assert matrix.columns == ["from_bucket", *BUCKETS, CLOSED]
    assert matrix.drop("from_bucket").sum_horizontal().to_list() == [0, 0, 0, 0]


def test_roll_rate_matrix__refuses_a_bucket_not_in_the_list() -> None:
    with pytest.raises(ValueError, match="M9"):
        roll_rate_matrix(STATES, JAN, FEB, "count", ["M0", "M1", "M9"])


# --------------------------------------------------------------------------- flow rates


def test_flow_rates__give_the_balance_share_one_bucket_worse_a_month_later() -> None:
    flows = flow_rates(STATES, [FEB, JAN, MAR], BUCKETS)

    got = [(r[0], r[2], r[4], r[5], r[6]) for r in flows.iter_rows()]
    assert got == [
        # January -> February: 3000 of 4000 in M0 reached M1; 1800 of 5000 in M1 reached M2
        # (account 5's closed 1000 stays in the base); M2 held nothing.
        (JAN, "M0", 4000, 3000, pytest.approx(0.75)),
        (JAN, "M1", 5000, 1800, pytest.approx(0.36)),
        (JAN, "M2", 0, 0, None),
        # February -> March: nothing flows from M0 or M1; all of M2 (account 4) reaches M3.
        (FEB, "M0", 3000, 0, 0.0),
        (FEB, "M1", 3000, 0, 0.0),
        (FEB, "M2", 1800, 1800, 1.0),
    ]
    assert flows.get_column("to_bucket").to_list() == ["M1", "M2", "M3"] * 2


def test_flow_rates__of_fewer_than_two_month_ends_are_empty() -> None:
    assert flow_rates(STATES, [JAN], BUCKETS).is_empty()
    assert flow_rates(STATES, [], BUCKETS).columns[-1] == "flow_rate"


def test_flow_rates__of_no_states_have_no_rate() -> None:
    flows = flow_rates(EMPTY_STATES, [JAN, FEB], BUCKETS)

    assert flows.get_column("balance_cents").to_list() == [0, 0, 0]
    assert flows.get_column("flow_rate").to_list() == [None, None, None]


# --------------------------------------------------------------------------- cure rates


def test_cure_rates__count_accounts_back_in_the_first_bucket() -> None:
    cures = cure_rates(STATES, JAN, FEB, BUCKETS)

    # M0: account 1 stays current of 2. M1: account 3 cures of 3 (5 closed, not cured).
    assert cures.rows() == [
        ("M0", 2, 1, 0.5),
        ("M1", 3, 1, pytest.approx(1 / 3)),
        ("M2", 0, 0, None),
        ("M3", 0, 0, None),
    ]


def test_cure_rates__of_no_states_have_no_rate() -> None:
    cures = cure_rates(EMPTY_STATES, JAN, FEB, BUCKETS)

    assert cures.get_column("accounts").to_list() == [0, 0, 0, 0]
    assert cures.get_column("cure_rate").null_count() == 4


# --------------------------------------------------------------------------- vintages


def test_vintage_curves__share_of_a_vintage_past_the_threshold_at_each_month_end() -> None:
    accounts = pl.DataFrame(
        {
            "account_key": [1, 2, 3, 4],
            "opened_on": [
                date(2024, 1, 5),
                date(2024, 1, 20),
                date(2024, 1, 31),
                date(2024, 2, 10),
            ],
        }
    )
    states = pl.DataFrame(
        {
            "account_key": [1, 2, 3, 1, 2, 3, 4, 3, 1, 2, 4],
            "as_of": [JAN] * 3 + [FEB] * 4 + [date(2024, 3, 15)] + [MAR] * 3,
            "dpd": [0, 0, 0, 31, 30, 0, 0, 90, 0, 45, 60],
        }
    )

    curves = vintage_curves(states, accounts, dpd_threshold=30)

    # January vintage (1, 2, 3): February has 1 past 30 (2 is at 30, not above it); March has
    # 2 (1 cured: not ever-bad; 3 closed, and its mid-March row is not a month end).
    # February vintage (4): bad at its second month end.
    assert curves.rows() == [
        (date(2024, 1, 1), 0, 3, 0, 0.0),
        (date(2024, 1, 1), 1, 3, 1, pytest.approx(1 / 3)),
        (date(2024, 1, 1), 2, 3, 1, pytest.approx(1 / 3)),
        (date(2024, 2, 1), 0, 1, 0, 0.0),
        (date(2024, 2, 1), 1, 1, 1, 1.0),
    ]


def test_vintage_curves__of_no_states_are_empty() -> None:
    accounts = pl.DataFrame({"account_key": [1], "opened_on": [date(2024, 1, 5)]})

    curves = vintage_curves(EMPTY_STATES, accounts)

    assert curves.is_empty()
    assert curves.columns == ["vintage", "months_on_book", "accounts", "bad_accounts", "bad_rate"]


# --------------------------------------------------------------------------- promises

PROMISES = pl.DataFrame(
    {
        "status": ["kept", "kept", "broken", "open", "partly_kept", "broken", "open", "kept"],
        "made_on": [
            date(2024, 1, 3),
            date(2024, 1, 9),
            date(2024, 2, 1),
            date(2024, 2, 20),
            date(2024, 1, 15),
            date(2024, 2, 2),
            date(2024, 2, 28),
            date(2024, 2, 5),
        ],
        "made_by": ["alice", "alice", "alice", "alice", "bob", "bob", "carol", None],
    }
)


def test_promise_kept_rate__by_collector_counts_outcomes_and_kept_share_of_judged() -> None:
    rates = promise_kept_rate(PROMISES, period="collector")

    assert rates.columns == [
        "collector",
        "kept",
        "partly_kept",
        "broken",
        "open",
        "judged",
        "kept_rate",
    ]
    # alice: 2 kept of 3 judged (her open promise waits); bob: none kept of 2; carol: nothing
    # judged yet; the self-service promise (no collector) was kept.
    assert rates.rows() == [
        ("alice", 2, 0, 1, 1, 3, pytest.approx(2 / 3)),
        ("bob", 0, 1, 1, 0, 2, 0.0),
        ("carol", 0, 0, 0, 1, 0, None),
        (None, 1, 0, 0, 0, 1, 1.0),
    ]


def test_promise_kept_rate__by_month_groups_on_the_month_the_promise_was_made() -> None:
    rates = promise_kept_rate(PROMISES, period="month")

    # January: kept, kept, partly kept. February: broken, open, broken, open, kept.
    assert rates.rows() == [
        (date(2024, 1, 1), 2, 1, 0, 0, 3, pytest.approx(2 / 3)),
        (date(2024, 2, 1), 1, 0, 2, 2, 3, pytest.approx(1 / 3)),
    ]


def test_promise_kept_rate__of_no_promises_is_empty() -> None:
    assert promise_kept_rate(PROMISES.clear(), period="collector").is_empty()
    assert promise_kept_rate(PROMISES.clear(), period="month").is_empty()


def test_promise_kept_rate__refuses_an_unknown_period() -> None:
    with pytest.raises(ValueError, match="period"):
        promise_kept_rate(PROMISES, period="week")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- contact


def _utc(day: int, hour: int, minute: int) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


ATTEMPTS = pl.DataFrame(
    {
        "channel": ["phone", "phone", "phone", "phone", "phone", "sms"],
        # 01:xx UTC is 09:xx in Shanghai; 23:10 UTC on 1 March is 07:10 on 2 March.
        "at": [
            _utc(1, 1, 5),
            _utc(1, 1, 30),
            _utc(1, 1, 59),
            _utc(2, 1, 0),
            _utc(1, 23, 10),
            _utc(1, 1, 0),
        ],
        "outcome": [
            "right_party_contact",
            "promise_to_pay",
            "no_answer",
            "wrong_number",
            "dispute",
            "delivered",
        ],
    }
)


def test_contact_rates__per_channel_and_local_hour() -> None:
    rates = contact_rates(ATTEMPTS)

    assert rates.rows() == [
        ("phone", 7, 1, 1, 0, 1.0, 0.0),
        ("phone", 9, 4, 2, 1, 0.5, 0.25),
        ("sms", 9, 1, 0, 0, 0.0, 0.0),
    ]


def test_contact_rates__read_the_hour_in_the_given_time_zone() -> None:
    rates = contact_rates(ATTEMPTS.filter(pl.col("channel") == "sms"), timezone="UTC")

    assert rates.get_column("hour").to_list() == [1]


def test_contact_rates__take_naive_times_as_utc() -> None:
    naive = ATTEMPTS.with_columns(pl.col("at").dt.replace_time_zone(None))

    assert contact_rates(naive).equals(contact_rates(ATTEMPTS))


def test_contact_rates__of_no_attempts_are_empty() -> None:
    assert contact_rates(ATTEMPTS.clear()).is_empty()


# --------------------------------------------------------------------------- blocks


def _violations(*rules: str) -> str:
    return json.dumps([{"rule": rule, "message": f"{rule} says no"} for rule in rules])


def test_blocks_by_rule__count_each_blocked_decision_once_per_rule() -> None:
    decisions = pl.DataFrame(
        {
            "allowed": [0, 0, 1, 0, 1],
            "violations": [
                _violations("quiet_hours", "daily_cap"),
                _violations("quiet_hours", "quiet_hours"),
                _violations(),
                _violations("dispute_hold"),
                # An allowed decision's warnings are not blocks.
                _violations("daily_cap"),
            ],
        }
    )

    assert blocks_by_rule(decisions).rows() == [
        ("quiet_hours", 2),
        ("daily_cap", 1),
        ("dispute_hold", 1),
    ]


def test_blocks_by_rule__of_no_decisions_are_empty() -> None:
    empty = pl.DataFrame(schema={"allowed": pl.Int64, "violations": pl.String})

    blocks = blocks_by_rule(empty)

    assert blocks.is_empty()
    assert blocks.columns == ["rule", "blocked"]

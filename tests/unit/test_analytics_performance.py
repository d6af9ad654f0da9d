"""Performance measures on small hand-made frames whose answers are worked out in the comments."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from recoup.analytics.performance import (
    ALL_CHANNELS,
    CostTable,
    collection_payments,
    cost_per_channel,
    default_costs,
    delinquency_cohorts,
    league_table,
    parse_costs,
    recovery_curves,
)
from recoup.yamlfile import YamlFileError

BUCKETS = ["M0", "M1", "M2"]
JAN, FEB, MAR = date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)

STATE_SCHEMA = {
    "account_key": pl.Int64,
    "as_of": pl.Date,
    "bucket": pl.String,
    "outstanding_principal_cents": pl.Int64,
    "overdue_fee_cents": pl.Int64,
    "overdue_late_fee_cents": pl.Int64,
    "overdue_penalty_cents": pl.Int64,
}


def _states(rows: list[tuple[int, date, str, int, int]]) -> pl.DataFrame:
    """Rows of (account, month end, bucket, outstanding principal, overdue fee)."""
    return pl.DataFrame(
        [(a, d, b, o, f, 0, 0) for a, d, b, o, f in rows], schema=STATE_SCHEMA, orient="row"
    )


# 1: M0 -> M1 (enters M1 in Feb, balance 1000 + fee 100 = 1100) -> M1
# 2: M1 -> M2 (enters M2 in Feb, 2000) -> M2
# 3: M1 -> M1 (stays: not an entry)   4: no January state -> M1 in Feb (enters, 400)
# 5: M2 -> M1 (gets better: not an entry)   6: M0 -> M0 -> M2 (enters M2 in March, 800)
# January is the earliest month end: the month before is unknown, so no January cohort.
STATES = _states(
    [
        (1, JAN, "M0", 1000, 0),
        (1, FEB, "M1", 1000, 100),
        (1, MAR, "M1", 1000, 100),
        (2, JAN, "M1", 2000, 0),
        (2, FEB, "M2", 2000, 0),
        (2, MAR, "M2", 2000, 0),
        (3, JAN, "M1", 500, 0),
        (3, FEB, "M1", 500, 0),
        (4, FEB, "M1", 400, 0),
        (5, JAN, "M2", 700, 0),
        (5, FEB, "M1", 700, 0),
        (6, JAN, "M0", 800, 0),
        (6, FEB, "M0", 800, 0),
        (6, MAR, "M2", 800, 0),
    ]
)

PAYMENTS = pl.DataFrame(
    [
        (1, date(2024, 2, 29), 110),  # on the cohort's month end itself: before entry, left out
        (1, date(2024, 3, 10), 330),  # month 1 after February
        (1, date(2024, 4, 5), 220),  # month 2
        (4, date(2024, 3, 31), 150),  # month 1
        (2, date(2024, 4, 30), 500),  # month 2 for the February M2 cohort
        (3, date(2024, 3, 15), 999),  # account 3 is in no cohort
    ],
    schema={"account_key": pl.Int64, "paid_on": pl.Date, "amount_cents": pl.Int64},
    orient="row",
)


def test_delinquency_cohorts__only_accounts_moving_into_a_worse_bucket_enter_it() -> None:
    cohorts = delinquency_cohorts(STATES, BUCKETS)

    assert cohorts.rows() == [
        (1, FEB, "M1", 1100),
        (4, FEB, "M1", 400),
        (2, FEB, "M2", 2000),
        (6, MAR, "M2", 800),
    ]


def test_delinquency_cohorts__a_bucket_not_in_the_list_is_refused() -> None:
    with pytest.raises(ValueError, match="M9"):
        delinquency_cohorts(_states([(1, JAN, "M9", 1, 0)]), BUCKETS)


def test_recovery_curves__cumulative_share_of_the_entry_balance_by_months_after() -> None:
    curves = recovery_curves(STATES, PAYMENTS, BUCKETS, through=date(2024, 4, 30), max_months=3)

    # February M1: 2 accounts, 1100 + 400 = 1500. March: 330 + 150 = 480 (32%); April: +220.
    # February M2: 2000, nothing in March, 500 in April (25%).
    # March M2: 800, nothing in April. May is not over on 2024-04-30: not shown.
    assert curves.select(
        "cohort", "bucket", "accounts", "balance_cents", "months_after", "recovered_cents"
    ).rows() == [
        (FEB, "M1", 2, 1500, 1, 480),
        (FEB, "M1", 2, 1500, 2, 700),
        (FEB, "M2", 1, 2000, 1, 0),
        (FEB, "M2", 1, 2000, 2, 500),
        (MAR, "M2", 1, 800, 1, 0),
    ]
    assert curves.get_column("recovery_rate").to_list() == pytest.approx(
        [480 / 1500, 700 / 1500, 0.0, 0.25, 0.0]
    )


def test_recovery_curves__a_month_not_over_yet_is_not_shown() -> None:
    curves = recovery_curves(STATES, PAYMENTS, BUCKETS, through=date(2024, 4, 29), max_months=3)

    # April is not over: only month 1 of the February cohorts.
    assert curves.select("cohort", "bucket", "months_after").rows() == [
        (FEB, "M1", 1),
        (FEB, "M2", 1),
    ]


def test_recovery_curves__no_states_give_an_empty_table() -> None:
    curves = recovery_curves(STATES.clear(), PAYMENTS, BUCKETS, through=MAR)
    assert curves.height == 0
    assert "recovery_rate" in curves.columns


# --------------------------------------------------------------------------- costs

COSTS = CostTable("CNY", {"sms": 5, "call": 250}, "test")


def _attempts(channels: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"channel": channels}, schema={"channel": pl.String})


def test_cost_per_channel__attempts_times_unit_cost_over_the_amount_recovered() -> None:
    attempts = _attempts(["sms", "sms", "sms", "call", "call", "robot"])

    table = cost_per_channel(attempts, COSTS, recovered_cents=10_000)

    # call: 2 x 250 = 500 (0.05 per yuan); sms: 3 x 5 = 15; robot is not priced: 0.
    assert table.select("channel", "contacts", "unit_cost_cents", "cost_cents").rows() == [
        ("call", 2, 250, 500),
        ("sms", 3, 5, 15),
        ("robot", 1, None, 0),
        (ALL_CHANNELS, 6, None, 515),
    ]
    assert table.get_column("cost_per_yuan").to_list() == pytest.approx([0.05, 0.0015, 0.0, 0.0515])


def test_cost_per_channel__nothing_recovered_has_no_cost_per_yuan() -> None:
    table = cost_per_channel(_attempts(["sms"]), COSTS, recovered_cents=0)
    assert table.get_column("cost_per_yuan").to_list() == [None, None]


def test_parse_costs__reads_channels_in_whole_cents() -> None:
    table = parse_costs('currency: cny\nunit_costs:\n  sms: "0.05"\n  call: "2.50"\n')
    assert table.currency == "CNY"
    assert dict(table.unit_cost_cents) == {"sms": 5, "call": 250}


def test_parse_costs__the_shipped_table_prices_every_contact_channel() -> None:
    assert set(default_costs().unit_cost_cents) >= {"sms", "email", "call", "letter"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("unit_costs:\n  sms: 0.05\n", "line 2, unit_costs.sms: write the cost as quoted text"),
        ('unit_costs:\n  sms: "0.055"\n', "line 2, unit_costs.sms: more than two decimals"),
        ('unit_costs:\n  sms: "-1"\n', "cannot be negative"),
        ('unit_costs:\n  sms: "cheap"\n', "not an amount: 'cheap'"),
        ("currency: CNY\n", "give unit_costs"),
        ('prices:\n  sms: "1"\n', "line 1, prices: unknown field"),
        ('currency: yuan\nunit_costs: {sms: "1"}\n', "not a three-letter currency code"),
        ("- sms\n", "a cost table is a mapping"),
    ],
)
def test_parse_costs__a_bad_table_is_refused_with_its_line_and_field(
    text: str, message: str
) -> None:
    with pytest.raises(YamlFileError, match=r"costs\.yaml") as error:
        parse_costs(text, "costs.yaml")
    assert message in str(error.value)


# --------------------------------------------------------------------------- payments


def test_collection_payments__only_payments_while_a_case_is_open_count_once() -> None:
    payments = pl.DataFrame(
        [
            (1, date(2024, 1, 9), 100),  # the day before the case opened: no
            (1, date(2024, 1, 10), 200),  # the opening day: yes
            (1, date(2024, 1, 20), 300),  # the closing day: yes
            (1, date(2024, 1, 21), 400),  # after: no
            (2, date(2024, 2, 1), 500),  # the case is still open: yes
            (3, date(2024, 1, 15), 600),  # no case: no
            (4, date(2024, 1, 15), 700),  # two cases cover it: once
        ],
        schema={"account_key": pl.Int64, "paid_on": pl.Date, "amount_cents": pl.Int64},
        orient="row",
    )
    cases = pl.DataFrame(
        [
            (1, date(2024, 1, 10), date(2024, 1, 20)),
            (2, date(2024, 1, 5), None),
            (4, date(2024, 1, 1), date(2024, 1, 31)),
            (4, date(2024, 1, 10), None),
        ],
        schema={"account_key": pl.Int64, "opened_on": pl.Date, "closed_on": pl.Date},
        orient="row",
    )

    collected = collection_payments(payments, cases)

    assert collected.get_column("amount_cents").to_list() == [200, 300, 500, 700]
    assert collected.columns == payments.columns


# --------------------------------------------------------------------------- league tables

D1, D3, D5, D7 = (date(2024, 1, d) for d in (1, 3, 5, 7))

ALLOCATIONS = pl.DataFrame(
    [
        (1, D1, "C1", "collector"),
        (1, D5, "C2", "collector"),  # case 1 moves from C1 to C2 on the 5th
        (2, D1, "C1", "collector"),
        (3, D1, "A1", "agency"),
        (4, D1, "C2", "collector"),
        (4, D3, None, None),  # recalled on the 3rd
    ],
    schema={"case_key": pl.Int64, "as_of": pl.Date, "owner": pl.String, "owner_kind": pl.String},
    orient="row",
)
CASES = pl.DataFrame(
    [
        (1, D7, "cured"),  # cured on the 7th, held by C2 then
        (2, D3, "cured"),  # cured on the 3rd, held by C1
        (3, D7, "paid_off"),  # paid off: not a cure
        (4, D5, "cured"),  # cured after the recall: nobody's
    ],
    schema={"case_key": pl.Int64, "closed_on": pl.Date, "closed_because": pl.String},
    orient="row",
)
CREDITS = pl.DataFrame(
    [
        ("C1", "collector", 1000),
        ("C1", "collector", 500),
        ("C2", "collector", 300),
        ("A1", "agency", 5000),
    ],
    schema={"owner": pl.String, "owner_kind": pl.String, "amount_cents": pl.Int64},
    orient="row",
)
PROMISES = pl.DataFrame(
    [("C1", "kept"), ("C1", "broken"), ("C1", "open"), ("C2", "kept"), (None, "kept")],
    schema={"made_by": pl.String, "status": pl.String},
    orient="row",
)
ATTEMPTS = pl.DataFrame(
    {"collector": ["C1", "C1", "C1", "C2", None, None]}, schema={"collector": pl.String}
)


def test_league_table__collectors_ranked_by_amount_credited() -> None:
    table = league_table(ALLOCATIONS, CREDITS, CASES, PROMISES, ATTEMPTS, "collector")

    # C1: 1500 credited; worked cases 1 and 2; cured case 2; promises 1 kept of 2 judged
    # (the open one is not judged); 3 contacts.
    # C2: 300; worked cases 1 and 4; cured case 1 (case 4 was cured after its recall);
    # 1 kept of 1; 1 contact.
    assert table.rows() == [
        ("C1", 1500, 2, 1, 0.5, 2, 1, 0.5, 3),
        ("C2", 300, 2, 1, 0.5, 1, 1, 1.0, 1),
    ]
    assert table.columns == [
        "owner",
        "amount_credited_cents",
        "cases_worked",
        "cured",
        "cure_rate",
        "promises_judged",
        "promises_kept",
        "promise_kept_rate",
        "contacts",
    ]


def test_league_table__agencies_have_their_own_table() -> None:
    table = league_table(ALLOCATIONS, CREDITS, CASES, PROMISES, ATTEMPTS, "agency")

    assert table.rows() == [("A1", 5000, 1, 0, 0.0, 0, 0, None, 0)]


def test_league_table__an_owner_credited_without_an_allocation_in_the_period_is_listed() -> None:
    credits = pl.DataFrame(
        [("C9", "collector", 70)],
        schema={"owner": pl.String, "owner_kind": pl.String, "amount_cents": pl.Int64},
        orient="row",
    )
    table = league_table(
        ALLOCATIONS.clear(), credits, CASES.clear(), PROMISES.clear(), ATTEMPTS.clear(), "collector"
    )
    assert table.rows() == [("C9", 70, 0, 0, None, 0, 0, None, 0)]


def test_league_table__an_unknown_owner_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="owner_kind"):
        league_table(ALLOCATIONS, CREDITS, CASES, PROMISES, ATTEMPTS, "team")  # type: ignore[arg-type]

import itertools
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from recoup.ledger.apr import annual_rate, monthly_irr
from recoup.ledger.quote import make_quote
from recoup.ledger.schedule import add_months, amounts, build_schedule
from recoup.products import FeeModel


def test_quote__matches_the_documented_flat_fee_example() -> None:
    quote = make_quote(1_200_000, 12, date(2026, 1, 15), Decimal("0.006"), FeeModel.FLAT_FEE)
    payload = quote.to_json()
    assert payload["apr"] == "0.1303"
    assert payload["total_fee"] == "864.00"
    assert payload["schedule"][0] == {
        "period": 1,
        "due_date": "2026-02-15",
        "principal": "1000.00",
        "fee": "72.00",
        "amount": "1072.00",
    }
    assert payload["schedule"][-1]["due_date"] == "2027-01-15"


def test_monthly_irr__of_the_example_is_1_0862_percent() -> None:
    irr = monthly_irr(1_200_000, [107_200] * 12)
    assert abs(irr - Decimal("0.010862")) < Decimal("0.0000005")


def test_due_dates__clamp_to_the_end_of_short_months() -> None:
    start = date(2026, 1, 31)
    assert [add_months(start, k) for k in (1, 2, 3)] == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)


def test_flat_fee__remainder_goes_to_the_last_period() -> None:
    # 100.00 over 3: 33.33, 33.33, 33.34
    assert [p for p, _ in amounts(10_000, 3, Decimal("0.01"), FeeModel.FLAT_FEE)] == [
        3333,
        3333,
        3334,
    ]


def test_annuity__level_payments_with_interest_on_the_falling_balance() -> None:
    # 10,000.00 at 1% a month over 12: payment 888.49; first interest 100.00, principal 788.49
    rows = amounts(1_000_000, 12, Decimal("0.01"), FeeModel.ANNUITY)
    assert rows[0] == (78_849, 10_000)
    assert rows[1] == (79_637, 9_212)  # balance 9,211.51 x 1% = 92.1151 -> 92.12
    assert all(p + f == 88_849 for p, f in rows[:-1])


def test_equal_principal__fee_falls_with_the_balance() -> None:
    # 1,200.00 at 1% over 3: principal 400.00 each; fees 12.00, 8.00, 4.00
    assert amounts(120_000, 3, Decimal("0.01"), FeeModel.EQUAL_PRINCIPAL) == [
        (40_000, 1_200),
        (40_000, 800),
        (40_000, 400),
    ]


def test_zero_rate__apr_is_zero() -> None:
    assert annual_rate(120_000, [40_000] * 3) == 0


@given(
    principal=st.integers(min_value=1, max_value=10**10),
    term=st.integers(min_value=1, max_value=60),
    rate=st.decimals(min_value=0, max_value=Decimal("0.05"), places=4),
    model=st.sampled_from(list(FeeModel)),
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
)
def test_property__a_schedule_sums_to_its_principal(
    principal: int, term: int, rate: Decimal, model: FeeModel, start: date
) -> None:
    schedule = build_schedule(principal, term, start, rate, model)
    assert sum(i.principal_cents for i in schedule) == principal
    assert all(i.principal_cents >= 0 and i.fee_cents >= 0 for i in schedule)
    assert [i.period for i in schedule] == list(range(1, term + 1))
    assert all(a.due_date < b.due_date for a, b in itertools.pairwise(schedule))

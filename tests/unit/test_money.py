from decimal import Decimal

import pytest

from recoup.money import (
    Money,
    MoneyError,
    apply_rate_ppm,
    format_cents,
    format_rate,
    parse_cents,
    parse_rate,
    rate_ppm,
    round_to_cents,
)


def test_parse_cents__reads_text_with_up_to_two_decimals() -> None:
    assert parse_cents("12") == 1200
    assert parse_cents("12.3") == 1230
    assert parse_cents("0.05") == 5


@pytest.mark.parametrize("bad", ["12.345", "abc", "", "NaN", "Infinity"])
def test_parse_cents__refuses_what_is_not_an_exact_amount(bad: str) -> None:
    with pytest.raises(MoneyError):
        parse_cents(bad)


def test_format_cents__always_two_decimals_and_a_sign() -> None:
    assert format_cents(107200) == "1072.00"
    assert format_cents(5) == "0.05"
    assert format_cents(-5) == "-0.05"


def test_round_to_cents__rounds_half_up() -> None:
    assert round_to_cents(Decimal("2.5")) == 3
    assert round_to_cents(Decimal("2.4999")) == 2


def test_apply_rate_ppm__equals_decimal_half_up_rounding() -> None:
    # 1,000.00 x 0.05% = 0.50; 425.30 x 0.05% = 0.21265 -> 0.21; 1.00 x 0.05% = 0.0005 -> 0.00
    assert apply_rate_ppm(100000, rate_ppm(Decimal("0.0005"))) == 50
    assert apply_rate_ppm(42530, rate_ppm(Decimal("0.0005"))) == 21
    assert apply_rate_ppm(100, rate_ppm(Decimal("0.0005"))) == 0
    # 10.00 x 0.005% = 0.05 cents... exactly half a cent rounds up: 1,000 cents x 0.0005 = 0.5
    assert apply_rate_ppm(1000, rate_ppm(Decimal("0.0005"))) == 1


def test_parse_rate__refuses_negative_and_over_precise_rates() -> None:
    assert parse_rate("0.0005") == Decimal("0.0005")
    with pytest.raises(MoneyError):
        parse_rate("-0.1")
    with pytest.raises(MoneyError):
        parse_rate("0.00000001")


def test_format_rate__four_decimals_half_up() -> None:
    assert format_rate(Decimal("0.13034224")) == "0.1303"
    assert format_rate(Decimal("0.00005")) == "0.0001"


def test_money__refuses_to_mix_currencies() -> None:
    assert Money(100, "CNY") + Money(5, "CNY") == Money(105, "CNY")
    with pytest.raises(MoneyError):
        Money(100, "CNY") + Money(5, "USD")

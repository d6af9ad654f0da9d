"""Money and rates: the one way Recoup makes and rounds amounts.

Amounts are whole cents held as ``int``; they enter from text (``"12.00"``) through
:func:`parse_cents` and leave as text through :func:`format_cents`. Nothing in the ledger
is a binary float. Rates are ``Decimal`` parsed from text, and for the vectorised close
they are also carried as integer parts per million (:func:`rate_ppm`), so the product
``cents x ppm`` stays an exact integer.

There is one rounding rule, half away from zero to the cent (``ROUND_HALF_UP`` on
non-negative amounts), applied at named points: a schedule's per-period principal and fee,
a late fee, and each day's penalty interest.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
RATE_QUANTUM = Decimal("0.0001")
PPM = 1_000_000
#: Rates are accepted with at most this many decimals, so that they are exact in ppm.
RATE_DECIMALS = 6


class MoneyError(ValueError):
    """A text that is not a valid amount or rate."""


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency, in whole cents."""

    cents: int
    currency: str

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.cents + other.cents, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.cents - other.cents, self.currency)

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise MoneyError(f"cannot mix {self.currency} and {other.currency}")

    def __str__(self) -> str:
        return f"{format_cents(self.cents)} {self.currency}"


def parse_cents(text: str | int | Decimal) -> int:
    """Parse ``"12.3"`` or ``"12.30"`` into 1230 cents; more than two decimals is an error."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise MoneyError(f"not an amount: {text!r}") from None
    if not value.is_finite():
        raise MoneyError(f"not an amount: {text!r}")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise MoneyError(f"more than two decimals: {text!r}")
    return int(cents)


def format_cents(cents: int) -> str:
    """1230 -> ``"12.30"``; -5 -> ``"-0.05"``."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def round_to_cents(amount_in_cents: Decimal) -> int:
    """The named rounding point: a fractional number of cents to whole cents, half up."""
    return int(amount_in_cents.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_rate(text: str | int | Decimal) -> Decimal:
    """Parse a rate such as ``"0.0005"``; at most six decimals, never negative."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise MoneyError(f"not a rate: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise MoneyError(f"not a non-negative rate: {text!r}")
    if value != value.quantize(Decimal(1).scaleb(-RATE_DECIMALS), rounding=ROUND_HALF_UP):
        raise MoneyError(f"more than {RATE_DECIMALS} decimals: {text!r}")
    return value


def rate_ppm(rate: Decimal) -> int:
    """A rate as integer parts per million (exact, because rates have at most six decimals)."""
    return int(rate * PPM)


def apply_rate_ppm(cents: int, ppm: int) -> int:
    """``cents x rate`` rounded half up to whole cents, in integer arithmetic."""
    return (cents * ppm + PPM // 2) // PPM


def format_rate(rate: Decimal) -> str:
    """A rate with four decimals, half up: ``Decimal("0.130344")`` -> ``"0.1303"``."""
    return str(rate.quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP))

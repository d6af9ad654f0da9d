"""The disclosed annualised rate (年化利率): ``APR = 12 x monthly IRR``.

Since 2021 Chinese lenders must disclose the annualised rate computed from the internal
rate of return of the cash flows: the borrower receives the principal at month 0 and pays
each installment at month ``k``. The IRR is found by bisection in ``Decimal`` arithmetic to
well below the four decimals that are shown, so the disclosed figure does not depend on
floating-point error. Example: 12,000 over 12 months at 0.6% flat gives a monthly IRR of
1.0862% and an APR of 13.03%.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext


def monthly_irr(principal_cents: int, payments_cents: Sequence[int]) -> Decimal:
    """The monthly rate ``i`` at which the payments' present value equals the principal."""
    if principal_cents <= 0 or not payments_cents:
        raise ValueError("a principal and at least one payment are needed")
    if sum(payments_cents) < principal_cents:
        raise ValueError("the payments do not repay the principal; the IRR is negative")
    if sum(payments_cents) == principal_cents:
        return Decimal(0)  # no charge at all: the bisection would only approach zero
    with localcontext() as ctx:
        ctx.prec = 40
        principal = Decimal(principal_cents)
        payments = [Decimal(p) for p in payments_cents]

        def present_value(rate: Decimal) -> Decimal:
            total, discount, step = Decimal(0), Decimal(1), 1 / (1 + rate)
            for payment in payments:
                discount *= step
                total += payment * discount
            return total

        low, high = Decimal(0), Decimal(1)
        while present_value(high) > principal:
            high *= 2
        # Present value falls as the rate rises; 80 halvings bring the bracket below 1e-24.
        for _ in range(80):
            middle = (low + high) / 2
            if present_value(middle) > principal:
                low = middle
            else:
                high = middle
        return (low + high) / 2


def annual_rate(principal_cents: int, payments_cents: Sequence[int]) -> Decimal:
    """``12 x monthly IRR``, unrounded; format it with :func:`recoup.money.format_rate`."""
    return 12 * monthly_irr(principal_cents, payments_cents)

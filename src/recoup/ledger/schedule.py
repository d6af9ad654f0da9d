"""Repayment schedules of installment plans.

Rules (issue 2, ``docs/ledger-rules.md``):

- Period ``k`` falls due ``k`` months after the start date, on the start date's day of month,
  clamped to the month's last day (a plan started on 31 January falls due on 28/29 February,
  then 31 March).
- ``flat_fee``: principal ``P/n`` each period, fee ``P x r`` on the original principal.
- ``annuity`` (等额本息): equal payments ``P i / (1 - (1+i)^-n)`` rounded to the cent; each
  period's fee (interest) is the balance times ``i`` rounded to the cent; the payment less the
  interest is principal. The last period pays the remaining balance.
- ``equal_principal`` (等额本金): principal ``P/n``, fee is the balance times ``i``.
- Per-period principal is rounded half up to the cent and the remainder goes to the last
  period, so the principals sum to ``P`` exactly (rounded down instead when rounding up
  would leave the last period negative, as for a few cents over many periods).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from recoup.money import round_to_cents
from recoup.products.spec import FeeModel


@dataclass(frozen=True, slots=True)
class ScheduledInstallment:
    period: int
    due_date: date
    principal_cents: int
    fee_cents: int

    @property
    def amount_cents(self) -> int:
        return self.principal_cents + self.fee_cents


def add_months(start: date, months: int) -> date:
    """``start`` moved ``months`` months on, its day clamped to the month's last day."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def due_dates(start: date, term: int) -> list[date]:
    return [add_months(start, k) for k in range(1, term + 1)]


def amounts(
    principal_cents: int, term: int, monthly_rate: Decimal, fee_model: FeeModel
) -> list[tuple[int, int]]:
    """Per-period ``(principal_cents, fee_cents)`` of a plan; principals sum to the principal."""
    if term < 1:
        raise ValueError(f"term must be at least 1, got {term}")
    if principal_cents <= 0:
        raise ValueError(f"principal must be positive, got {principal_cents} cents")
    with localcontext() as ctx:
        ctx.prec = 40
        even_share = round_to_cents(Decimal(principal_cents) / term)
        if even_share * (term - 1) > principal_cents:
            # Rounding up would leave the last period negative (a principal of a few cents
            # over many periods): round down instead, the remainder still goes last.
            even_share = principal_cents // term
        if fee_model is FeeModel.FLAT_FEE:
            fee = round_to_cents(Decimal(principal_cents) * monthly_rate)
            shares = [even_share] * (term - 1) + [principal_cents - even_share * (term - 1)]
            return [(share, fee) for share in shares]
        if fee_model is FeeModel.EQUAL_PRINCIPAL:
            rows = []
            balance = principal_cents
            for period in range(1, term + 1):
                share = even_share if period < term else balance
                rows.append((share, round_to_cents(Decimal(balance) * monthly_rate)))
                balance -= share
            return rows
        # Annuity: a level payment, interest on the falling balance.
        if monthly_rate == 0:
            payment = even_share
        else:
            factor = 1 - (1 + monthly_rate) ** -term
            payment = round_to_cents(Decimal(principal_cents) * monthly_rate / factor)
        rows = []
        balance = principal_cents
        for period in range(1, term + 1):
            interest = round_to_cents(Decimal(balance) * monthly_rate)
            share = balance if period == term else min(balance, max(payment - interest, 0))
            rows.append((share, interest))
            balance -= share
        return rows


def build_schedule(
    principal_cents: int,
    term: int,
    start: date,
    monthly_rate: Decimal,
    fee_model: FeeModel,
) -> list[ScheduledInstallment]:
    """The full schedule of a plan."""
    return [
        ScheduledInstallment(period, due, principal, fee)
        for period, (due, (principal, fee)) in enumerate(
            zip(
                due_dates(start, term),
                amounts(principal_cents, term, monthly_rate, fee_model),
                strict=True,
            ),
            start=1,
        )
    ]

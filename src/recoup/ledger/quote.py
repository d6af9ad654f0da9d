"""A quote: the schedule and disclosed rate a borrower is shown before taking a plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from recoup.ledger.apr import annual_rate
from recoup.ledger.schedule import ScheduledInstallment, build_schedule
from recoup.money import format_cents, format_rate
from recoup.products.spec import FeeModel


@dataclass(frozen=True, slots=True)
class Quote:
    principal_cents: int
    schedule: tuple[ScheduledInstallment, ...]
    apr: Decimal

    @property
    def total_fee_cents(self) -> int:
        return sum(i.fee_cents for i in self.schedule)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of ``recoup quote --json``."""
        return {
            "apr": format_rate(self.apr),
            "total_fee": format_cents(self.total_fee_cents),
            "schedule": [
                {
                    "period": i.period,
                    "due_date": i.due_date.isoformat(),
                    "principal": format_cents(i.principal_cents),
                    "fee": format_cents(i.fee_cents),
                    "amount": format_cents(i.amount_cents),
                }
                for i in self.schedule
            ],
        }


def make_quote(
    principal_cents: int, term: int, start: date, monthly_rate: Decimal, fee_model: FeeModel
) -> Quote:
    schedule = tuple(build_schedule(principal_cents, term, start, monthly_rate, fee_model))
    apr = annual_rate(principal_cents, [i.amount_cents for i in schedule])
    return Quote(principal_cents, schedule, apr)

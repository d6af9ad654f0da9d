"""Random portfolios for the differential tests: varied products, plans and payment habits.

Written to reach the rules' corners: several plans per account with different tolerances,
month-end start dates, zero and large grace periods, partial, late, over- and multiple
payments on one day, and reversals.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from recoup.ledger.schedule import build_schedule
from recoup.products.spec import Product, parse_catalog
from tests.oracle import OraclePayment, OraclePlan

PRODUCTS = parse_catalog(
    {
        "products": [
            {
                "id": "card",
                "currency": "CNY",
                "fee_model": "flat_fee",
                "monthly_rate": "0.006",
                "terms": [3, 6, 12],
                "grace_days": 3,
                "tolerance": "10.00",
                "late_fee": {"rate": "0.05", "min": "10.00", "max": "500.00"},
                "penalty_daily_rate": "0.0005",
                "allocation_order": ["penalty_interest", "late_fee", "fee", "principal"],
            },
            {
                "id": "loan",
                "currency": "CNY",
                "fee_model": "annuity",
                "monthly_rate": "0.0125",
                "terms": [6, 12],
                "grace_days": 0,
                "tolerance": "0.00",
                "late_fee": {"rate": "0.1", "min": "0.00", "max": "80.00"},
                "penalty_daily_rate": "0.000333",
                "allocation_order": ["principal", "fee", "late_fee", "penalty_interest"],
            },
            {
                "id": "flex",
                "currency": "CNY",
                "fee_model": "equal_principal",
                "monthly_rate": "0.009",
                "terms": [3, 6],
                "grace_days": 10,
                "tolerance": "50.00",
                "late_fee": {"rate": "0.02", "min": "5.00", "max": "30.00"},
                "penalty_daily_rate": "0.001",
                "allocation_order": ["fee", "penalty_interest", "principal", "late_fee"],
            },
        ]
    }
)


@dataclass(frozen=True)
class RandomAccount:
    account_key: int
    plans: list[OraclePlan]
    payments: list[OraclePayment]


def random_portfolio(seed: int, accounts: int, first_day: date, days: int) -> list[RandomAccount]:
    rng = random.Random(seed)
    products = list(PRODUCTS.products.values())
    out = []
    for key in range(1, accounts + 1):
        plans = []
        for n in range(rng.choice([1, 1, 1, 2, 3])):
            product: Product = rng.choice(products)
            start = first_day + timedelta(days=rng.randrange(0, days // 2))
            if rng.random() < 0.1:  # month ends exercise due-date clamping
                start = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(
                    days=1
                )
            plans.append(
                OraclePlan(
                    plan_id=f"P{key}-{n}",
                    product=product,
                    principal_cents=rng.randrange(10, 500) * 1000 + rng.randrange(0, 100),
                    term=rng.choice(product.terms),
                    start_date=start,
                )
            )
        out.append(RandomAccount(key, plans, _payments(rng, key, plans, first_day, days)))
    return out


def _payments(
    rng: random.Random, key: int, plans: list[OraclePlan], first_day: date, days: int
) -> list[OraclePayment]:
    habit = rng.choice(["prompt", "prompt", "late", "partial", "none", "over", "chaotic"])
    last_day = first_day + timedelta(days=days)
    payments: list[OraclePayment] = []
    for plan in plans:
        schedule = build_schedule(
            plan.principal_cents,
            plan.term,
            plan.start_date,
            plan.product.monthly_rate,
            plan.product.fee_model,
        )
        for row in schedule:
            amount = row.principal_cents + row.fee_cents
            if habit == "none" or (habit == "chaotic" and rng.random() < 0.4):
                continue
            shift = {
                "prompt": rng.randrange(-3, 1),
                "late": rng.randrange(1, 45),
                "partial": rng.randrange(-2, 10),
                "over": rng.randrange(-5, 1),
                "none": 0,
                "chaotic": rng.randrange(-10, 70),
            }[habit]
            if habit == "partial":
                amount = amount * rng.randrange(30, 100) // 100
            elif habit == "over":
                amount = amount * rng.randrange(100, 250) // 100
            elif habit == "late":
                amount += rng.randrange(0, 8000)
            elif habit == "chaotic":
                amount = max(1, amount * rng.randrange(0, 300) // 100 + rng.randrange(-900, 900))
            paid_on = row.due_date + timedelta(days=shift)
            if paid_on > last_day or amount <= 0:
                continue
            payments.append(OraclePayment(f"{key}-{len(payments)}", amount, paid_on))
            if rng.random() < 0.1:  # a second payment the same day
                payments.append(
                    OraclePayment(f"{key}-{len(payments)}", rng.randrange(1, 5000), paid_on)
                )
    for original in list(payments):
        if rng.random() < 0.04:
            reversal_day = original.paid_on + timedelta(days=rng.randrange(0, 20))
            if reversal_day <= last_day:
                payments.append(
                    OraclePayment(
                        f"{key}-{len(payments)}",
                        original.amount_cents,
                        reversal_day,
                        reverses=original.payment_id,
                    )
                )
    return payments


def kernel_frames(
    portfolio: list[RandomAccount],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The portfolio as the kernel's inputs: installments (with their plan's ``start_date``,
    which :func:`started` uses and drops), accounts (start = day before the first plan) and
    payments (with reversal columns, for ``effective_payments``)."""
    installments = []
    accounts = []
    payments = []
    for account in portfolio:
        for plan_index, plan in enumerate(account.plans):
            for row in build_schedule(
                plan.principal_cents,
                plan.term,
                plan.start_date,
                plan.product.monthly_rate,
                plan.product.fee_model,
            ):
                installments.append(
                    {
                        "account_key": account.account_key,
                        "plan_key": account.account_key * 10 + plan_index,
                        "plan_id": plan.plan_id,
                        "period": row.period,
                        "product_id": plan.product.id,
                        "due_date": row.due_date,
                        "principal_cents": row.principal_cents,
                        "fee_cents": row.fee_cents,
                        "start_date": plan.start_date,
                    }
                )
        accounts.append(
            {
                "account_key": account.account_key,
                "start": min(
                    [p.start_date for p in account.plans] + [p.paid_on for p in account.payments]
                )
                - timedelta(days=1),
                "credit_balance_cents": 0,
                "tolerance_cents": min(p.product.tolerance_cents for p in account.plans),
            }
        )
        reversed_on = {p.reverses: p.paid_on for p in account.payments if p.reverses}
        for payment in account.payments:
            payments.append(
                {
                    "account_key": account.account_key,
                    "amount_cents": payment.amount_cents,
                    "paid_on": payment.paid_on,
                    "reverses_payment_id": payment.reverses,
                    "reversed_on": reversed_on.get(payment.payment_id),
                }
            )
    zero = {
        c: pl.lit(0, dtype=pl.Int64)
        for c in (
            "late_fee_cents",
            "penalty_cents",
            "paid_principal_cents",
            "paid_fee_cents",
            "paid_late_fee_cents",
            "paid_penalty_cents",
        )
    }
    installment_frame = pl.DataFrame(
        installments,
        schema={
            "account_key": pl.Int64,
            "plan_key": pl.Int64,
            "plan_id": pl.String,
            "period": pl.Int32,
            "product_id": pl.String,
            "due_date": pl.Date,
            "principal_cents": pl.Int64,
            "fee_cents": pl.Int64,
            "start_date": pl.Date,
        },
    ).with_columns(**zero)
    account_frame = pl.DataFrame(
        accounts,
        schema={
            "account_key": pl.Int64,
            "start": pl.Date,
            "credit_balance_cents": pl.Int64,
            "tolerance_cents": pl.Int64,
        },
    )
    payment_frame = pl.DataFrame(
        payments,
        schema={
            "account_key": pl.Int64,
            "amount_cents": pl.Int64,
            "paid_on": pl.Date,
            "reverses_payment_id": pl.String,
            "reversed_on": pl.Date,
        },
    )
    return installment_frame, account_frame, payment_frame


def started(installments: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The installments of plans started on or before ``as_of`` (a later plan does not exist
    yet as of that day)."""
    return installments.filter(pl.col("start_date") <= as_of).drop("start_date")

"""Random portfolios for the differential tests: varied products, plans and payment habits.

Written to reach the rules' corners: several plans per account with different tolerances,
month-end start dates, zero and large grace periods, partial, late, over- and multiple
payments on one day, and reversals. With ``adjustments=True`` accounts also get non-cash
entries (see "Adjustments" in the rules): waivers (amounts, "all" and negative ones),
settlements of everything, restructures into a new plan with its own schedule (with frozen
charges), some later reinstated, and moves larger than what is left (the rest is credit).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, overload

import polars as pl

from recoup.ledger.schedule import add_months, build_schedule
from recoup.products.spec import ChargeComponent, Product, parse_catalog
from tests.oracle import (
    OracleAdjustment,
    OracleInstallment,
    OraclePayment,
    OraclePlan,
    OracleScheduleRow,
    run_oracle,
)

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
    adjustments: list[OracleAdjustment] = field(default_factory=list)


def random_portfolio(
    seed: int, accounts: int, first_day: date, days: int, adjustments: bool = False
) -> list[RandomAccount]:
    """``accounts`` random accounts whose plans start in the first half of ``days`` days from
    ``first_day``. With ``adjustments``, the same accounts (same plans and payments) and, for
    most of them, adjustments too (with the plans and payments these bring)."""
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
    if adjustments:
        for account in out:
            # Its own generator, so that the plans and payments above stay as without.
            _add_adjustments(
                random.Random(seed * 1_000_003 + account.account_key),
                account,
                first_day + timedelta(days=days),
            )
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


@overload
def kernel_frames(
    portfolio: list[RandomAccount], with_adjustments: Literal[False] = False
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]: ...


@overload
def kernel_frames(
    portfolio: list[RandomAccount], with_adjustments: Literal[True]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]: ...


def kernel_frames(
    portfolio: list[RandomAccount], with_adjustments: bool = False
) -> (
    tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
    | tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]
):
    """The portfolio as the kernel's inputs: installments (with their plan's ``start_date``,
    which :func:`started` uses and drops), accounts (start = day before the first plan) and
    payments (with reversal columns, for ``effective_payments``); with ``with_adjustments``,
    also the adjustments (see :func:`adjustment_frame`)."""
    installments = []
    accounts = []
    payments = []
    for account in portfolio:
        for plan in account.plans:
            for row in plan_installments(plan):
                installments.append(
                    {
                        "account_key": account.account_key,
                        "plan_key": plan_key(account, plan.plan_id),
                        "plan_id": plan.plan_id,
                        "period": row.period,
                        "product_id": plan.product.id,
                        "due_date": row.due_date,
                        "principal_cents": row.principal,
                        "fee_cents": row.fee,
                        "late_fee_cents": row.late_fee,
                        "penalty_cents": row.penalty,
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
            "paid_principal_cents",
            "paid_fee_cents",
            "paid_late_fee_cents",
            "paid_penalty_cents",
            "adjusted_principal_cents",
            "adjusted_fee_cents",
            "adjusted_late_fee_cents",
            "adjusted_penalty_cents",
        )
    }
    installment_frame = (
        pl.DataFrame(
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
                "late_fee_cents": pl.Int64,
                "penalty_cents": pl.Int64,
                "start_date": pl.Date,
            },
        )
        .with_columns(**zero)
        .select(  # the columns in the order they always had, the adjusted amounts last
            "account_key",
            "plan_key",
            "plan_id",
            "period",
            "product_id",
            "due_date",
            "principal_cents",
            "fee_cents",
            "start_date",
            "late_fee_cents",
            "penalty_cents",
            *zero,
        )
    )
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
    if with_adjustments:
        return installment_frame, account_frame, payment_frame, adjustment_frame(portfolio)
    return installment_frame, account_frame, payment_frame


def plan_key(account: RandomAccount, plan_id: str) -> int:
    """The kernel's key of an account's plan: ``account_key * 10 + its index``."""
    [index] = [i for i, plan in enumerate(account.plans) if plan.plan_id == plan_id]
    return account.account_key * 10 + index


def plan_installments(plan: OraclePlan) -> list[OracleInstallment]:
    """A plan's installments as they start: its own schedule or the one built from its
    product (unpaid, with the frozen charges of its own schedule)."""
    if plan.schedule is not None:
        rows = [
            (period, r.due_date, r.principal, r.fee, r.late_fee, r.penalty)
            for period, r in enumerate(plan.schedule, start=1)
        ]
    else:
        rows = [
            (r.period, r.due_date, r.principal_cents, r.fee_cents, 0, 0)
            for r in build_schedule(
                plan.principal_cents,
                plan.term,
                plan.start_date,
                plan.product.monthly_rate,
                plan.product.fee_model,
            )
        ]
    return [
        OracleInstallment(plan.plan_id, period, due, principal, fee, late, penalty, 0, 0, 0, 0)
        for period, due, principal, fee, late, penalty in rows
    ]


ADJUSTMENT_SCHEMA = {
    "adjustment_key": pl.Int64,
    "account_key": pl.Int64,
    "effective_on": pl.Date,
    "plan_key": pl.Int64,
    "component": pl.String,
    "amount_cents": pl.Int64,
    "kind": pl.String,
}


def adjustment_frame(portfolio: list[RandomAccount]) -> pl.DataFrame:
    """The portfolio's adjustments as the kernel's input, in *descending* key order (the
    kernel must apply an account-day's entries by key, not by row order)."""
    rows = [
        {
            "adjustment_key": adjustment.adjustment_id,
            "account_key": account.account_key,
            "effective_on": adjustment.effective_on,
            "plan_key": None
            if adjustment.plan_id is None
            else plan_key(account, adjustment.plan_id),
            "component": adjustment.component.value,
            "amount_cents": adjustment.amount,
            "kind": adjustment.kind,
        }
        for account in portfolio
        for adjustment in account.adjustments
    ]
    return pl.DataFrame(rows, schema=ADJUSTMENT_SCHEMA).sort("adjustment_key", descending=True)


COMPONENTS = (
    ChargeComponent.PRINCIPAL,
    ChargeComponent.FEE,
    ChargeComponent.LATE_FEE,
    ChargeComponent.PENALTY_INTEREST,
)
CHARGES_AND_FEES = (ChargeComponent.FEE, ChargeComponent.LATE_FEE, ChargeComponent.PENALTY_INTEREST)


def unpaid_by_plan(
    installments: list[OracleInstallment],
) -> dict[str, dict[ChargeComponent, int]]:
    """Each plan's unpaid amount of each component (due or not)."""
    unpaid: dict[str, dict[ChargeComponent, int]] = defaultdict(
        lambda: dict.fromkeys(COMPONENTS, 0)
    )
    for inst in installments:
        for component in COMPONENTS:
            unpaid[inst.plan_id][component] += inst.unpaid(component)
    return unpaid


def restructured_plan(
    plan_id: str,
    product: Product,
    day: date,
    moved: dict[ChargeComponent, int],
    term: int,
    fee_first: bool = False,
    frozen_as_charges: bool = False,
) -> OraclePlan:
    """A restructure's new plan, started on ``day``, carrying the ``moved`` amounts: the
    principal over ``term`` monthly installments (fewer if there is less than a cent for each)
    from a month after ``day``, the fee with the first or the last, and the late fee and
    penalty frozen into the last one's fee (as the rules have it) or, with
    ``frozen_as_charges``, as late fee and penalty already charged on the last one (as the
    kernel also accepts)."""
    principal = moved[ChargeComponent.PRINCIPAL]
    frozen = moved[ChargeComponent.LATE_FEE] + moved[ChargeComponent.PENALTY_INTEREST]
    term = max(1, min(term, principal))
    rows = []
    for period in range(1, term + 1):
        last = period == term
        fee = moved[ChargeComponent.FEE] if (period == 1 if fee_first else last) else 0
        rows.append(
            OracleScheduleRow(
                due_date=add_months(day, period),
                principal=principal // term + (principal % term if last else 0),
                fee=fee + (frozen if last and not frozen_as_charges else 0),
                late_fee=moved[ChargeComponent.LATE_FEE] if last and frozen_as_charges else 0,
                penalty=moved[ChargeComponent.PENALTY_INTEREST]
                if last and frozen_as_charges
                else 0,
            )
        )
    return OraclePlan(plan_id, product, principal, term, day, tuple(rows))


# Where a broken plan's remainder goes back: its principal to the principal moved out, its fee
# (with the frozen charges in it) to the fee, late fee and penalty moved out, its own late
# charges to the late charges moved out.
GOES_BACK_TO = {
    ChargeComponent.PRINCIPAL: (ChargeComponent.PRINCIPAL,),
    ChargeComponent.FEE: (
        ChargeComponent.FEE,
        ChargeComponent.LATE_FEE,
        ChargeComponent.PENALTY_INTEREST,
    ),
    ChargeComponent.LATE_FEE: (ChargeComponent.LATE_FEE, ChargeComponent.PENALTY_INTEREST),
    ChargeComponent.PENALTY_INTEREST: (
        ChargeComponent.PENALTY_INTEREST,
        ChargeComponent.LATE_FEE,
    ),
}


def _add_adjustments(rng: random.Random, account: RandomAccount, last_day: date) -> None:
    """Give ``account`` random adjustments dated up to ``last_day`` (in place)."""
    style = rng.choice(
        ["none", "waivers", "waivers", "settlement", "restructure", "restructure", "mixed"]
    )
    if style == "none":
        return
    first_start = min(plan.start_date for plan in account.plans)
    last_start = max(plan.start_date for plan in account.plans)
    if first_start >= last_day:
        return
    events: list[tuple[date, str]] = []
    if style in ("waivers", "mixed"):
        for _ in range(rng.randrange(1, 5)):
            offset = rng.randrange((last_day - first_start).days + 1)
            events.append((first_start + timedelta(days=offset), "waiver"))
    if style in ("settlement", "mixed") or rng.random() < 0.05:
        # After every plan has started: the credit pays "every installment of the account"
        # before a settlement, and a plan starting later is not part of it yet (a reading).
        events.append((last_start + timedelta(days=rng.randrange(0, 380)), "settlement"))
    if style in ("restructure", "mixed") and (last_day - last_start).days > 40:
        day = last_start + timedelta(days=rng.randrange(20, (last_day - last_start).days - 10))
        events.append((day, "restructure"))
        if rng.random() < 0.15:  # a waiver on the same day, entered before or after the move
            events.insert(len(events) - rng.randrange(2), (day, "waiver"))
    events.sort(key=lambda e: e[0])  # stable: entries of one day keep their order
    settled = False
    for day, what in events:
        if day > last_day:
            continue
        if what == "waiver":
            _waiver(rng, account, day)
        elif what == "settlement":
            _settlement(rng, account, day)
            settled = True
        elif not settled:  # a settlement ends the account: nothing to restructure after it
            _restructure(rng, account, day, last_day)
    # A later plan is not part of the account yet on an entry's day: an entry of the whole
    # account dated before a plan starts would read the rules where they leave room, so such
    # an entry names one of the plans started by then.
    for index, adjustment in enumerate(account.adjustments):
        if adjustment.plan_id is None and any(
            plan.start_date > adjustment.effective_on for plan in account.plans
        ):
            started_by_then = [
                plan.plan_id for plan in account.plans if plan.start_date <= adjustment.effective_on
            ]
            account.adjustments[index] = OracleAdjustment(
                adjustment.adjustment_id,
                adjustment.effective_on,
                adjustment.component,
                adjustment.amount,
                adjustment.kind,
                rng.choice(started_by_then),
            )


def _entry(
    account: RandomAccount,
    day: date,
    component: ChargeComponent,
    amount: int | None,
    kind: str,
    plan_id: str | None,
) -> None:
    account.adjustments.append(
        OracleAdjustment(
            account.account_key * 1000 + len(account.adjustments),
            day,
            component,
            amount,
            kind,
            plan_id,
        )
    )


def _scope(rng: random.Random, account: RandomAccount, day: date) -> str | None:
    """A random scope: the whole account, or one of the plans started by ``day``."""
    if rng.random() < 0.4:
        return None
    return rng.choice([plan.plan_id for plan in account.plans if plan.start_date <= day])


def _waiver(rng: random.Random, account: RandomAccount, day: date) -> None:
    for _ in range(rng.choice([1, 1, 2, 3])):
        component = rng.choice([*CHARGES_AND_FEES, *CHARGES_AND_FEES, ChargeComponent.PRINCIPAL])
        roll = rng.random()
        amount: int | None
        if roll < 0.3:
            amount = None
        elif roll < 0.8:
            amount = rng.choice([rng.randrange(1, 500), rng.randrange(1, 50_000)])
        else:  # a waiver taken back (in part, or more than was ever waived)
            amount = -rng.choice([rng.randrange(1, 500), rng.randrange(1, 50_000)])
        _entry(account, day, component, amount, "waiver", _scope(rng, account, day))


def _settlement(rng: random.Random, account: RandomAccount, day: date) -> None:
    scope = None if rng.random() < 0.7 else _scope(rng, account, day)
    for component in rng.sample(COMPONENTS, len(COMPONENTS)):
        _entry(account, day, component, None, "settlement", scope)


def _restructure(rng: random.Random, account: RandomAccount, day: date, last_day: date) -> None:
    """Move what the old plans have unpaid at the end of ``day - 1`` into a new plan started on
    ``day``; sometimes break the new plan later and move its remainder back."""
    old_plans = [plan for plan in account.plans if plan.start_date < day]
    if len(old_plans) < len(account.plans):
        return
    before = run_oracle(
        account.plans, account.payments, day - timedelta(days=1), adjustments=account.adjustments
    )
    unpaid = unpaid_by_plan(before.installments)
    requested: dict[str, dict[ChargeComponent, int]] = {}
    for plan in old_plans:
        requested[plan.plan_id] = dict(unpaid[plan.plan_id])
    if rng.random() < 0.2:  # more than is left: the rest goes to credit
        plan_id = rng.choice(list(requested))
        component = rng.choice(COMPONENTS)
        requested[plan_id][component] += rng.randrange(1, 30_000)
    moved = {c: sum(requested[p][c] for p in requested) for c in COMPONENTS}
    if not any(moved.values()):
        return
    product = rng.choice([plan.product for plan in old_plans])  # the tolerance stays the same
    new_plan = restructured_plan(
        f"P{account.account_key}-R{len(account.plans)}",
        product,
        day,
        moved,
        rng.randrange(3, 13),
        fee_first=rng.random() < 0.3,
        frozen_as_charges=rng.random() < 0.25,
    )
    for plan_id, amounts in requested.items():
        for component in rng.sample(COMPONENTS, len(COMPONENTS)):
            if amounts[component] > 0:
                _entry(account, day, component, amounts[component], "restructure", plan_id)
    account.plans.append(new_plan)
    if rng.random() < 0.2:  # a payment backdated before the move: less left, more credit
        paid_on = day - timedelta(days=rng.randrange(1, 10))
        if paid_on >= min(plan.start_date for plan in account.plans):
            account.payments.append(
                OraclePayment(
                    f"{account.account_key}-{len(account.payments)}",
                    rng.randrange(1, 100_000),
                    paid_on,
                )
            )
    # The new plan's payments: kept, broken early or late, or never.
    habit = rng.choice(["kept", "kept", "broken", "never"])
    assert new_plan.schedule is not None
    for period, row in enumerate(new_plan.schedule, start=1):
        if habit == "never" or (habit == "broken" and period > 1 and rng.random() < 0.5):
            continue
        amount = row.principal + row.fee + row.late_fee + row.penalty
        amount = max(1, amount * rng.randrange(60, 130) // 100 + rng.randrange(0, 3000))
        paid_on = row.due_date + timedelta(days=rng.randrange(-5, 20))
        if paid_on <= last_day:
            account.payments.append(
                OraclePayment(f"{account.account_key}-{len(account.payments)}", amount, paid_on)
            )
    if rng.random() < 0.4 and (last_day - day).days > 40:
        _reinstate(
            rng,
            account,
            new_plan,
            requested,
            day + timedelta(days=rng.randrange(30, (last_day - day).days)),
        )


def _reinstate(
    rng: random.Random,
    account: RandomAccount,
    new_plan: OraclePlan,
    requested: dict[str, dict[ChargeComponent, int]],
    day: date,
) -> None:
    """Move what ``new_plan`` has unpaid at the end of ``day - 1`` back into the old plans
    (:data:`GOES_BACK_TO`, as far as each had it moved out; the rest is given back to one of
    them anyway, and lapses where it finds nothing adjusted)."""
    before = run_oracle(
        account.plans, account.payments, day - timedelta(days=1), adjustments=account.adjustments
    )
    remainder = unpaid_by_plan(before.installments)[new_plan.plan_id]
    room = {plan_id: dict(amounts) for plan_id, amounts in requested.items()}
    old_ids = list(requested)
    rng.shuffle(old_ids)
    given: dict[tuple[str, ChargeComponent], int] = defaultdict(int)
    for component in COMPONENTS:
        if remainder[component] == 0:
            continue
        amount = None if rng.random() < 0.3 else remainder[component]
        _entry(account, day, component, amount, "reinstatement", new_plan.plan_id)
        left = remainder[component]
        for target in GOES_BACK_TO[component]:
            for plan_id in old_ids:
                give = min(left, room[plan_id][target])
                given[plan_id, target] += give
                room[plan_id][target] -= give
                left -= give
        given[old_ids[-1], GOES_BACK_TO[component][0]] += left
    for (plan_id, target), amount in given.items():
        if amount > 0:
            _entry(account, day, target, -amount, "reinstatement", plan_id)


def started(installments: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The installments of plans started on or before ``as_of`` (a later plan does not exist
    yet as of that day), with their plan's start date (which scopes adjustments, as in the
    close)."""
    return installments.filter(pl.col("start_date") <= as_of)

"""The slow, obvious oracle of the ledger rules (``docs/ledger-rules.md``).

It lives only in the tests. It walks one account through every calendar day, from its first
plan's start date through ``as_of``, and applies the rules of "One day" literally: charges
(from the end-of-previous-day state), then payments, then the end-of-day DPD and bucket. Cents
are plain ``int``; a rate times an amount is a ``Decimal`` rounded half up to the whole cent.
The vectorised kernel is checked against it to the cent by the differential tests, so it is
written from the rules document alone and shares no ledger code with the kernel; it only uses
the product records and ``build_schedule`` for the schedule itself.

Readings of the rules where the document leaves room (kept in one place so they can change):

- The account's tolerance is the smallest tolerance over *all* the plans passed in, on every
  day (it is a property of the account, not of the plans started so far).
- A plan that starts after ``as_of`` is not part of the reported state: its installments are
  not listed and its principal is not outstanding (its installments cannot be due anyway).
- A payment dated before the first plan's start date joins the pool of the first day (the
  start date) and so becomes credit; before that day the state is all zero.
- The late fee is assessed only on the day ``d == pen_start``: if the account was within
  tolerance at the end of ``pen_start - 1``, that installment never gets a late fee.
- DPD follows the rule as written, so it can jump (for example from 0 straight to 31 when an
  old within-tolerance shortfall stops being within tolerance); the moves record the jump.
- Adjustments (step 0 of their effective day ``e``): the scope of an entry is the installments
  of the plans that have started on or before ``e`` (of its plan, or of the whole account); a
  plan starting later is not part of the account yet on day ``e``. So are "every installment
  of the account" that the credit pays on a day with a settlement, before the day's entries.
  An entry dated before the first plan's start is an error (the
  rules say it never happens). Every entry dated on or before ``as_of`` is reported with its
  applied amount, zero included.

Two things make it fast enough for thousands of accounts over years without changing what it
computes: payments are indexed by date, and an installment that is fully paid in all four
components is no longer looked at (it can never be charged again: its late fee needs unpaid
principal + fee and its penalty is a rate times an unpaid principal of zero). Adjustments break
both shortcuts (they touch installments not yet due, and a negative entry makes a settled
installment owe again), so on a day with adjustments the list of open due installments and the
running total overdue are rebuilt from scratch after step 0.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from recoup.ledger.schedule import build_schedule
from recoup.products.spec import DEFAULT_BUCKETS, Bucket, ChargeComponent, Product

ONE_DAY = timedelta(days=1)

# The component names of the rules, each with the OracleInstallment fields (charged, paid).
COMPONENT_FIELDS: dict[ChargeComponent, tuple[str, str]] = {
    ChargeComponent.PRINCIPAL: ("principal", "paid_principal"),
    ChargeComponent.FEE: ("fee", "paid_fee"),
    ChargeComponent.LATE_FEE: ("late_fee", "paid_late_fee"),
    ChargeComponent.PENALTY_INTEREST: ("penalty", "paid_penalty"),
}
# ... and the OracleInstallment field of its adjusted amount.
ADJUSTED_FIELDS: dict[ChargeComponent, str] = {
    ChargeComponent.PRINCIPAL: "adjusted_principal",
    ChargeComponent.FEE: "adjusted_fee",
    ChargeComponent.LATE_FEE: "adjusted_late_fee",
    ChargeComponent.PENALTY_INTEREST: "adjusted_penalty",
}

ADJUSTMENT_KINDS = ("waiver", "settlement", "restructure", "reinstatement")
# The kinds whose positive remainder (more than the scope has unpaid) goes to the credit
# balance; for the others it lapses.
MOVE_KINDS = ("restructure", "reinstatement")


@dataclass(frozen=True)
class OracleScheduleRow:
    """One installment of a plan's own schedule (a restructure's new plan): due date,
    principal and fee (charges frozen by a restructure are part of the last one's fee), and
    the late fee and penalty interest it starts with already charged (zero in the rules'
    schedules; the kernel accepts them, as a window's input has them)."""

    due_date: date
    principal: int
    fee: int
    late_fee: int = 0
    penalty: int = 0


@dataclass(frozen=True)
class OraclePlan:
    plan_id: str
    product: Product
    principal_cents: int
    term: int
    start_date: date
    # Its own schedule (periods 1, 2, ... in this order), replacing the one built from the
    # product; the product still gives grace, charges and allocation order.
    schedule: tuple[OracleScheduleRow, ...] | None = None


@dataclass(frozen=True)
class OracleAdjustment:
    """A non-cash entry: step 0 of its effective day (see "Adjustments" in the rules)."""

    adjustment_id: int  # entries of one day apply in id order
    effective_on: date
    component: ChargeComponent
    amount: int | None  # cents, positive or negative; None = all of the unpaid amount
    kind: str  # one of ADJUSTMENT_KINDS
    plan_id: str | None = None  # its scope: that plan's installments, or None: the account's


@dataclass(frozen=True)
class OraclePayment:
    payment_id: str
    amount_cents: int
    paid_on: date
    reverses: str | None = None  # a reversal row names the payment_id it reverses


@dataclass
class OracleInstallment:
    plan_id: str
    period: int
    due_date: date
    # charged, in cents
    principal: int
    fee: int
    late_fee: int
    penalty: int
    # paid, in cents
    paid_principal: int
    paid_fee: int
    paid_late_fee: int
    paid_penalty: int
    # adjusted (by adjustments), in cents
    adjusted_principal: int = 0
    adjusted_fee: int = 0
    adjusted_late_fee: int = 0
    adjusted_penalty: int = 0

    def unpaid(self, component: ChargeComponent) -> int:
        """Charged less paid less adjusted, never negative."""
        charged_field, paid_field = COMPONENT_FIELDS[component]
        charged: int = getattr(self, charged_field)
        paid: int = getattr(self, paid_field)
        adjusted: int = getattr(self, ADJUSTED_FIELDS[component])
        return max(charged - paid - adjusted, 0)

    def unpaid_principal(self) -> int:
        return max(self.principal - self.paid_principal - self.adjusted_principal, 0)

    def unpaid_principal_and_fee(self) -> int:
        return self.unpaid_principal() + max(self.fee - self.paid_fee - self.adjusted_fee, 0)

    def unpaid_total(self) -> int:
        return (
            self.unpaid_principal_and_fee()
            + max(self.late_fee - self.paid_late_fee - self.adjusted_late_fee, 0)
            + max(self.penalty - self.paid_penalty - self.adjusted_penalty, 0)
        )


@dataclass(frozen=True)
class OracleReAge:
    """A plan that re-ages the account only once its installments due by ``re_age_through``
    are paid; until then DPD counts from ``aged_from`` ("Re-ageing")."""

    plan_id: str
    aged_from: date
    re_age_through: date


@dataclass(frozen=True)
class OracleMove:
    moved_on: date
    from_bucket: str
    to_bucket: str
    dpd: int


@dataclass
class OracleState:
    as_of: date
    installments: list[OracleInstallment]  # in installment order (due_date, plan_id, period)
    credit_balance: int
    dpd: int
    bucket: str
    # unpaid amounts of the installments due on as_of:
    # keys principal, fee, late_fee, penalty_interest, total
    overdue: dict[str, int]
    # principal of all installments (due or not) less paid and adjusted principal
    outstanding_principal: int
    moves: list[OracleMove]  # every bucket move from the first day through as_of
    # every adjustment dated on or before as_of: adjustment_id -> its applied amount (signed)
    applied: dict[int, int] = field(default_factory=dict)


@dataclass
class _Row:
    """An installment with what the rules need to know about it."""

    installment: OracleInstallment
    product: Product
    pen_start: date  # due_date + grace_days + 1: the first day after grace


@functools.lru_cache(maxsize=1 << 16)
def round_half_up(rate: Decimal, cents: int) -> int:
    """``rate x cents`` rounded half up to the whole cent."""
    return int((rate * Decimal(cents)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def bucket_of(buckets: Sequence[Bucket], dpd: int) -> str:
    """The bucket whose ``[min_dpd, max_dpd]`` holds ``dpd``; beyond the last, the last."""
    for bucket in buckets:
        if bucket.min_dpd <= dpd and (bucket.max_dpd is None or dpd <= bucket.max_dpd):
            return bucket.name
    return buckets[-1].name


def counted_payments(payments: Sequence[OraclePayment], as_of: date) -> list[OraclePayment]:
    """The payments seen as of ``as_of``: dated on or before it, and not reversed by then.

    A reversal dated on or before ``as_of`` removes its payment from the whole history.
    Reversal rows carry no money themselves.
    """
    reversed_ids = {p.reverses for p in payments if p.reverses is not None and p.paid_on <= as_of}
    return [
        p
        for p in payments
        if p.reverses is None and p.paid_on <= as_of and p.payment_id not in reversed_ids
    ]


def run_oracle(
    plans: Sequence[OraclePlan],
    payments: Sequence[OraclePayment],
    as_of: date,
    buckets: Sequence[Bucket] = DEFAULT_BUCKETS,
    adjustments: Sequence[OracleAdjustment] = (),
    re_age: OracleReAge | None = None,
) -> OracleState:
    """The state of one account at the end of ``as_of``, applying the rules day by day.
    ``re_age``: the account's plan re-ages it only after its first payments ("Re-ageing")."""
    no_dpd_bucket = bucket_of(buckets, 0)
    for adjustment in adjustments:
        if adjustment.kind not in ADJUSTMENT_KINDS:
            raise ValueError(f"unknown adjustment kind {adjustment.kind!r}")
        if plans and adjustment.effective_on < min(plan.start_date for plan in plans):
            raise ValueError(f"adjustment {adjustment.adjustment_id} before the first plan")
    started_plans = [plan for plan in plans if plan.start_date <= as_of]
    if not started_plans:
        # Before an account's first plan starts nothing happens: all zero, bucket of DPD 0.
        return OracleState(
            as_of=as_of,
            installments=[],
            credit_balance=0,
            dpd=0,
            bucket=no_dpd_bucket,
            overdue=_overdue_amounts([]),
            outstanding_principal=0,
            moves=[],
        )

    tolerance = min(plan.product.tolerance_cents for plan in plans)
    first_day = min(plan.start_date for plan in started_plans)

    # Every installment of the started plans, in installment order (due_date, plan_id, period).
    rows: list[_Row] = []
    for plan in started_plans:
        for installment in _installments(plan):
            pen_start = installment.due_date + timedelta(days=plan.product.grace_days + 1)
            rows.append(_Row(installment, plan.product, pen_start))
    rows.sort(key=lambda r: (r.installment.due_date, r.installment.plan_id, r.installment.period))
    plan_start = {plan.plan_id: plan.start_date for plan in started_plans}

    # The adjustments of each day, in id order.
    adjustments_on_day: dict[date, list[OracleAdjustment]] = defaultdict(list)
    for adjustment in sorted(adjustments, key=lambda a: a.adjustment_id):
        if adjustment.effective_on <= as_of:
            adjustments_on_day[adjustment.effective_on].append(adjustment)
    applied: dict[int, int] = {}

    # The money paid on each day; payments dated before the first day join the first day.
    paid_on_day: dict[date, int] = defaultdict(int)
    for payment in counted_payments(payments, as_of):
        paid_on_day[max(payment.paid_on, first_day)] += payment.amount_cents

    # The state at the end of the day before the first day: all zero, bucket of DPD 0.
    credit = 0
    overdue_yesterday = False
    bucket_yesterday = no_dpd_bucket
    moves: list[OracleMove] = []
    dpd = 0
    bucket = no_dpd_bucket

    # `open_due` holds the due installments that are not yet fully paid, in installment order
    # (a fully paid installment never changes again: it has no principal to charge on).
    # `next_row` is the first installment not yet due (rows are sorted by due date first).
    # `total_overdue` is the sum of the unpaid amounts of the due installments, kept as a
    # running sum of what is charged, falls due and is paid (checked from scratch at the end).
    open_due: list[_Row] = []
    next_row = 0
    total_overdue = 0

    day = first_day
    while day <= as_of:
        # 0. Adjustments, on the end-of-yesterday amounts, one after another in id order.
        if day in adjustments_on_day:
            account_rows = [row for row in rows if plan_start[row.installment.plan_id] <= day]
            if any(a.kind == "settlement" for a in adjustments_on_day[day]):
                # A settlement ends the account: before the day's entries, the credit pays
                # every installment, due or not, as a payment would.
                credit = _pay(account_rows, credit)
            for adjustment in adjustments_on_day[day]:
                scope = [
                    row.installment
                    for row in account_rows
                    if adjustment.plan_id in (None, row.installment.plan_id)
                ]
                applied[adjustment.adjustment_id], to_credit = _adjust(adjustment, scope)
                credit += to_credit
            # Installments not yet due and settled ones may have changed: rebuild the open due
            # installments and the total overdue of yesterday, which decides today's charges.
            due_yesterday = rows[:next_row]
            open_due = [row for row in due_yesterday if row.installment.unpaid_total() > 0]
            total_overdue = sum(row.installment.unpaid_total() for row in due_yesterday)
            overdue_yesterday = total_overdue > tolerance
            # (DPD and bucket of yesterday stay as they were: a move shows up today.)

        # 1. Charges, only if the account was overdue at the end of yesterday, computed from
        #    yesterday's end-of-day amounts. (Installments falling due today are not past their
        #    penalty start, so only installments already due can be charged.)
        if overdue_yesterday:
            for row in open_due:
                if day < row.pen_start:
                    continue
                inst = row.installment
                unpaid_principal = inst.unpaid_principal()
                if day == row.pen_start:
                    u = inst.unpaid_principal_and_fee()
                    if u > 0:
                        rule = row.product.late_fee
                        late_fee = round_half_up(rule.rate, u)
                        late_fee = min(max(late_fee, rule.min_cents), rule.max_cents)
                        inst.late_fee += late_fee
                        total_overdue += late_fee
                if unpaid_principal > 0:  # no principal left, no interest
                    penalty = round_half_up(row.product.penalty_daily_rate, unpaid_principal)
                    inst.penalty += penalty
                    total_overdue += penalty

        # Installments whose due date is today are due from today on.
        while next_row < len(rows) and rows[next_row].installment.due_date <= day:
            open_due.append(rows[next_row])
            total_overdue += rows[next_row].installment.unpaid_total()
            next_row += 1

        # 2. Payments: the pool is the credit plus today's payments; it pays the installments
        #    due today, oldest first, each in its product's allocation order. The rest is credit.
        pool = credit + paid_on_day.get(day, 0)
        pool_before = pool
        pool = _pay(open_due, pool)
        credit = pool
        if pool != pool_before:
            total_overdue -= pool_before - pool
            open_due = [row for row in open_due if row.installment.unpaid_total() > 0]

        # 3. The state at the end of the day.
        overdue = total_overdue > tolerance
        dpd = 0
        if overdue:
            for row in open_due:
                if row.installment.unpaid_principal_and_fee() > 0:
                    dpd = (day - row.installment.due_date).days
                    break
        if re_age is not None and any(
            row.installment.plan_id == re_age.plan_id
            and plan_start[re_age.plan_id] <= day  # the plan has been signed
            and row.installment.due_date <= re_age.re_age_through
            and row.installment.unpaid_principal_and_fee() > 0
            for row in rows
        ):
            # Not re-aged yet: DPD counts from the aging origin.
            dpd = max(dpd, (day - re_age.aged_from).days)
        bucket = bucket_of(buckets, dpd)
        if bucket != bucket_yesterday:
            moves.append(OracleMove(day, bucket_yesterday, bucket, dpd))

        overdue_yesterday = overdue
        bucket_yesterday = bucket
        day += ONE_DAY

    installments = [row.installment for row in rows]
    due_installments = [inst for inst in installments if inst.due_date <= as_of]
    overdue_amounts = _overdue_amounts(due_installments)
    assert overdue_amounts["total"] == total_overdue, "running total overdue went astray"
    return OracleState(
        as_of=as_of,
        installments=installments,
        credit_balance=credit,
        dpd=dpd,
        bucket=bucket,
        overdue=overdue_amounts,
        outstanding_principal=sum(
            inst.principal - inst.paid_principal - inst.adjusted_principal for inst in installments
        ),
        moves=moves,
        applied=applied,
    )


def _pay(rows: Sequence[_Row], pool: int) -> int:
    """``pool`` pays the unpaid components of ``rows`` in their order, each installment in its
    product's allocation order; returns what is left of it."""
    for row in rows:
        if pool == 0:
            break
        inst = row.installment
        for component in row.product.allocation_order:
            take = min(pool, inst.unpaid(component))
            _charged_field, paid_field = COMPONENT_FIELDS[component]
            setattr(inst, paid_field, getattr(inst, paid_field) + take)
            pool -= take
    return pool


def _installments(plan: OraclePlan) -> list[OracleInstallment]:
    """A plan's installments, from its own schedule or from the one built from its product."""
    if plan.schedule is not None:
        return [
            OracleInstallment(
                plan_id=plan.plan_id,
                period=period,
                due_date=row.due_date,
                principal=row.principal,
                fee=row.fee,
                late_fee=row.late_fee,
                penalty=row.penalty,
                paid_principal=0,
                paid_fee=0,
                paid_late_fee=0,
                paid_penalty=0,
            )
            for period, row in enumerate(plan.schedule, start=1)
        ]
    return [
        OracleInstallment(
            plan_id=plan.plan_id,
            period=scheduled.period,
            due_date=scheduled.due_date,
            principal=scheduled.principal_cents,
            fee=scheduled.fee_cents,
            late_fee=0,
            penalty=0,
            paid_principal=0,
            paid_fee=0,
            paid_late_fee=0,
            paid_penalty=0,
        )
        for scheduled in build_schedule(
            plan.principal_cents,
            plan.term,
            plan.start_date,
            plan.product.monthly_rate,
            plan.product.fee_model,
        )
    ]


def _adjust(adjustment: OracleAdjustment, scope: Sequence[OracleInstallment]) -> tuple[int, int]:
    """Apply one entry to the installments in scope (in installment order).

    Returns its applied amount (what the installments took, negative for a negative entry)
    and what goes to the credit balance (the remainder of a positive move).
    """
    component = adjustment.component
    adjusted_field = ADJUSTED_FIELDS[component]
    amount = adjustment.amount
    if amount is None:  # all: the whole unpaid amount over the scope
        applied = 0
        for inst in scope:
            take = inst.unpaid(component)
            setattr(inst, adjusted_field, getattr(inst, adjusted_field) + take)
            applied += take
        return applied, 0
    if amount >= 0:  # oldest first, each takes what it has unpaid
        left = amount
        for inst in scope:
            take = min(left, inst.unpaid(component))
            setattr(inst, adjusted_field, getattr(inst, adjusted_field) + take)
            left -= take
        return amount - left, left if adjustment.kind in MOVE_KINDS else 0
    # Negative: newest first, each gives back what it has adjusted; the rest lapses.
    left = -amount
    for inst in reversed(scope):
        give = min(left, getattr(inst, adjusted_field))
        setattr(inst, adjusted_field, getattr(inst, adjusted_field) - give)
        left -= give
    return -(-amount - left), 0


def _overdue_amounts(due_installments: Sequence[OracleInstallment]) -> dict[str, int]:
    """The unpaid amounts of the given (due) installments, by component and in total."""
    overdue = {
        component.value: sum(inst.unpaid(component) for inst in due_installments)
        for component in (
            ChargeComponent.PRINCIPAL,
            ChargeComponent.FEE,
            ChargeComponent.LATE_FEE,
            ChargeComponent.PENALTY_INTEREST,
        )
    }
    overdue["total"] = sum(overdue.values())
    return overdue

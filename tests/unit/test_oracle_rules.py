"""The day-by-day oracle against small cases worked out by hand from docs/ledger-rules.md.

Every expected number below is computed in the comments from the rules, not by running the
oracle. The standard case, used throughout:

- product STD: flat fee 1% a month, grace 3 days, tolerance 10.00 (1000 cents), late fee 5%
  clamped to [5.00, 50.00], penalty 0.05% a day, allocation penalty, late fee, fee, principal;
- plan "a": 1200.00 (120000 cents) over 3 months from 2024-01-15, so each installment is
  principal 120000 / 3 = 40000 and fee 120000 x 1% = 1200, 41200 in all, due 2024-02-15,
  2024-03-15 and 2024-04-15 (2024 is a leap year: February has 29 days);
- pen_start of the first installment = 2024-02-15 + 3 + 1 = 2024-02-19;
- late fee on an unpaid 41200 = 5% x 41200 = 2060 (inside [500, 5000]);
- daily penalty on an unpaid principal of 40000 = 0.05% x 40000 = 20.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from recoup.products.spec import ChargeComponent, FeeModel, LateFee, Product
from tests.oracle import (
    OracleInstallment,
    OracleMove,
    OraclePayment,
    OraclePlan,
    OracleState,
    run_oracle,
)

STD = Product(
    id="std",
    currency="CNY",
    fee_model=FeeModel.FLAT_FEE,
    monthly_rate=Decimal("0.01"),
    terms=(3,),
    grace_days=3,
    tolerance_cents=1000,
    late_fee=LateFee(rate=Decimal("0.05"), min_cents=500, max_cents=5000),
    penalty_daily_rate=Decimal("0.0005"),
    allocation_order=(
        ChargeComponent.PENALTY_INTEREST,
        ChargeComponent.LATE_FEE,
        ChargeComponent.FEE,
        ChargeComponent.PRINCIPAL,
    ),
)


def plan(
    plan_id: str = "a",
    product: Product = STD,
    principal: int = 120000,
    term: int = 3,
    start: date = date(2024, 1, 15),
) -> OraclePlan:
    return OraclePlan(plan_id, product, principal, term, start)


def pay(payment_id: str, amount: int, paid_on: date) -> OraclePayment:
    return OraclePayment(payment_id, amount, paid_on)


def only(state: OracleState, period: int, plan_id: str = "a") -> OracleInstallment:
    [found] = [i for i in state.installments if i.plan_id == plan_id and i.period == period]
    return found


def charged(inst: OracleInstallment) -> tuple[int, int, int, int]:
    """(principal, fee, late_fee, penalty) charged."""
    return (inst.principal, inst.fee, inst.late_fee, inst.penalty)


def paid(inst: OracleInstallment) -> tuple[int, int, int, int]:
    """(principal, fee, late_fee, penalty) paid."""
    return (inst.paid_principal, inst.paid_fee, inst.paid_late_fee, inst.paid_penalty)


def overdue(principal: int = 0, fee: int = 0, late_fee: int = 0, penalty: int = 0) -> dict:
    return {
        "principal": principal,
        "fee": fee,
        "late_fee": late_fee,
        "penalty_interest": penalty,
        "total": principal + fee + late_fee + penalty,
    }


def test_oracle__before_the_first_plan_starts_the_state_is_zero_and_m0() -> None:
    # 2024-01-14 is the day before the plan starts: nothing has happened yet.
    state = run_oracle([plan()], [], date(2024, 1, 14))

    assert state.installments == []
    assert (state.credit_balance, state.dpd, state.bucket) == (0, 0, "M0")
    assert state.overdue == overdue()
    assert state.outstanding_principal == 0
    assert state.moves == []


def test_oracle__standard_plan_schedule_is_three_installments_of_41200() -> None:
    state = run_oracle([plan()], [], date(2024, 1, 15))

    assert [i.due_date for i in state.installments] == [
        date(2024, 2, 15),
        date(2024, 3, 15),
        date(2024, 4, 15),
    ]
    assert [charged(i) for i in state.installments] == [(40000, 1200, 0, 0)] * 3
    assert state.outstanding_principal == 120000
    assert state.overdue == overdue()  # nothing is due yet


def test_oracle__on_time_payment_keeps_dpd_zero() -> None:
    # Two payments on the due date form one pool of 20000 + 21200 = 41200, which pays
    # installment 1 exactly: fee 1200, principal 40000. Nothing is ever overdue.
    payments = [pay("p1", 20000, date(2024, 2, 15)), pay("p2", 21200, date(2024, 2, 15))]

    state = run_oracle([plan()], payments, date(2024, 3, 14))

    assert paid(only(state, 1)) == (40000, 1200, 0, 0)
    assert charged(only(state, 1)) == (40000, 1200, 0, 0)  # no late fee, no penalty
    assert (state.dpd, state.bucket, state.credit_balance) == (0, "M0", 0)
    assert state.overdue == overdue()
    assert state.outstanding_principal == 120000 - 40000
    assert state.moves == []


def test_oracle__unpaid_installment_is_dpd_0_on_its_due_date_and_dpd_1_the_day_after() -> None:
    # On 02-15 the installment is due and unpaid (41200 > 1000): overdue, but DPD is
    # 02-15 - 02-15 = 0. On 02-16 DPD is 1: bucket M1, a move M0 -> M1 dated 02-16.
    on_due_date = run_oracle([plan()], [], date(2024, 2, 15))
    day_after = run_oracle([plan()], [], date(2024, 2, 16))

    assert (on_due_date.dpd, on_due_date.bucket, on_due_date.moves) == (0, "M0", [])
    assert on_due_date.overdue == overdue(principal=40000, fee=1200)
    assert (day_after.dpd, day_after.bucket) == (1, "M1")
    assert day_after.moves == [OracleMove(date(2024, 2, 16), "M0", "M1", 1)]


def test_oracle__shortfall_within_tolerance_is_current_and_accrues_nothing() -> None:
    # 40200 on 02-15 pays fee 1200, then principal 39000: 1000 principal unpaid, which equals
    # the tolerance (1000 is not greater than 1000), so the account stays current: DPD 0, and
    # no late fee on 02-19 and no penalty on any day, because charges need an overdue account.
    state = run_oracle([plan()], [pay("p1", 40200, date(2024, 2, 15))], date(2024, 3, 14))

    assert paid(only(state, 1)) == (39000, 1200, 0, 0)
    assert charged(only(state, 1)) == (40000, 1200, 0, 0)
    assert (state.dpd, state.bucket, state.moves) == (0, "M0", [])
    assert state.overdue == overdue(principal=1000)


def test_oracle__late_fee_assessed_once_on_first_day_after_grace() -> None:
    # No payment. pen_start = 02-19. End of 02-18: still nothing charged.
    # 02-19: late fee 5% x 41200 = 2060 and the first penalty 0.05% x 40000 = 20.
    # 02-25: the late fee is still 2060 (once); penalty on 02-19..02-25 = 7 days x 20 = 140.
    last_grace_day = run_oracle([plan()], [], date(2024, 2, 18))
    pen_start = run_oracle([plan()], [], date(2024, 2, 19))
    week_later = run_oracle([plan()], [], date(2024, 2, 25))

    assert charged(only(last_grace_day, 1)) == (40000, 1200, 0, 0)
    assert charged(only(pen_start, 1)) == (40000, 1200, 2060, 20)
    assert charged(only(week_later, 1)) == (40000, 1200, 2060, 140)
    assert week_later.overdue == overdue(principal=40000, fee=1200, late_fee=2060, penalty=140)
    assert week_later.dpd == 10  # 02-25 - 02-15


def test_oracle__late_fee_clamped_up_to_min() -> None:
    # 40199 on 02-15: fee 1200, principal 38999, so 1001 principal unpaid > 1000: overdue.
    # 02-19: late fee = round(5% x 1001) = round(50.05) = 50, clamped up to min 500;
    #        penalty = round(0.05% x 1001) = round(0.5005) = 1.
    state = run_oracle([plan()], [pay("p1", 40199, date(2024, 2, 15))], date(2024, 2, 19))

    assert charged(only(state, 1)) == (40000, 1200, 500, 1)
    assert state.dpd == 4  # 02-19 - 02-15
    assert state.moves == [OracleMove(date(2024, 2, 16), "M0", "M1", 1)]


def test_oracle__late_fee_clamped_down_to_max() -> None:
    # Same as the no-payment case (5% x 41200 = 2060) with max 20.00: clamped to 2000.
    capped = replace(STD, late_fee=LateFee(rate=Decimal("0.05"), min_cents=500, max_cents=2000))

    state = run_oracle([plan(product=capped)], [], date(2024, 2, 19))

    assert charged(only(state, 1)) == (40000, 1200, 2000, 20)


def test_oracle__penalty_accrues_daily_on_unpaid_principal_only() -> None:
    # Allocation principal first: 40000 on 02-15 pays the principal, the fee 1200 stays
    # unpaid (> 1000): overdue. 02-19: late fee round(5% x 1200) = 60 -> min 500. Penalty is
    # 0.05% of the unpaid principal, which is 0: no interest on the fee, nor on the late fee.
    principal_first = replace(
        STD,
        allocation_order=(
            ChargeComponent.PRINCIPAL,
            ChargeComponent.FEE,
            ChargeComponent.LATE_FEE,
            ChargeComponent.PENALTY_INTEREST,
        ),
    )
    payments = [pay("p1", 40000, date(2024, 2, 15))]

    state = run_oracle([plan(product=principal_first)], payments, date(2024, 2, 25))

    assert paid(only(state, 1)) == (40000, 0, 0, 0)
    assert charged(only(state, 1)) == (40000, 1200, 500, 0)
    assert state.dpd == 10  # the unpaid fee keeps it overdue: 02-25 - 02-15
    assert state.overdue == overdue(fee=1200, late_fee=500)


def test_oracle__penalty_follows_the_unpaid_principal_day_by_day() -> None:
    # 02-15: 21200 pays fee 1200 and principal 20000; 20000 principal unpaid.
    # 02-19: late fee 5% x 20000 = 1000; penalty 0.05% x 20000 = 10. 02-20: penalty 10.
    # 02-21: charges first (from end of 02-20): penalty 10, so penalty charged 30. Then the
    #        10000 paid that day: penalty 30 (9970 left), late fee 1000 (8970 left), fee 0,
    #        principal 8970. Unpaid principal 20000 - 8970 = 11030.
    # 02-22 and 02-23: penalty round(0.05% x 11030) = round(5.515) = 6 (half up) each day.
    payments = [pay("p1", 21200, date(2024, 2, 15)), pay("p2", 10000, date(2024, 2, 21))]

    state = run_oracle([plan()], payments, date(2024, 2, 23))

    assert charged(only(state, 1)) == (40000, 1200, 1000, 30 + 6 + 6)
    assert paid(only(state, 1)) == (20000 + 8970, 1200, 1000, 30)
    assert state.overdue == overdue(principal=11030, penalty=12)
    assert state.dpd == 8  # 02-23 - 02-15
    assert state.credit_balance == 0


def test_oracle__payment_pays_oldest_installment_first_in_allocation_order() -> None:
    # No payment until 03-16. Installment 1: late fee 2060 on 02-19, penalty 20 a day on
    # 02-19..02-29 (11 days) and 03-01..03-16 (16 days): 27 x 20 = 540. Installment 2 (due
    # 03-15, pen_start 03-19) has no charges yet.
    # 45500 on 03-16, installment 1 first: penalty 540 (44960 left), late fee 2060 (42900),
    # fee 1200 (41700), principal 40000 (1700). Then installment 2: penalty 0, late fee 0,
    # fee 1200 (500 left), principal 500. Nothing left: credit 0.
    # End of 03-16: the oldest installment with unpaid principal or fee is installment 2,
    # DPD 03-16 - 03-15 = 1 (M1). End of 03-15 it was 29 (02-15 -> 03-15), also M1: no move.
    state = run_oracle([plan()], [pay("p1", 45500, date(2024, 3, 16))], date(2024, 3, 16))

    assert charged(only(state, 1)) == (40000, 1200, 2060, 540)
    assert paid(only(state, 1)) == (40000, 1200, 2060, 540)
    assert charged(only(state, 2)) == (40000, 1200, 0, 0)
    assert paid(only(state, 2)) == (500, 1200, 0, 0)
    assert state.credit_balance == 0
    assert (state.dpd, state.bucket) == (1, "M1")
    assert state.overdue == overdue(principal=39500)
    assert state.outstanding_principal == 120000 - 40000 - 500
    assert state.moves == [OracleMove(date(2024, 2, 16), "M0", "M1", 1)]


def test_oracle__clearing_payment_pays_that_days_charges_and_stops_the_accrual() -> None:
    # No payment until 02-20. 02-19: late fee 2060, penalty 20. 02-20: the account was
    # overdue at the end of 02-19, so the charges come first: penalty 20 (40 in all).
    # Owed on 02-20: 40 + 2060 + 1200 + 40000 = 43300, paid exactly: DPD 0, back to M0.
    # From 02-21 the account is current at the end of the previous day: no more charges.
    state = run_oracle([plan()], [pay("p1", 43300, date(2024, 2, 20))], date(2024, 2, 28))

    assert charged(only(state, 1)) == (40000, 1200, 2060, 40)
    assert paid(only(state, 1)) == (40000, 1200, 2060, 40)
    assert (state.dpd, state.bucket, state.credit_balance) == (0, "M0", 0)
    assert state.moves == [
        OracleMove(date(2024, 2, 16), "M0", "M1", 1),
        OracleMove(date(2024, 2, 20), "M1", "M0", 0),
    ]


def test_oracle__overpayment_becomes_credit_and_pays_next_installment_on_its_due_date() -> None:
    # 50000 on 02-10: nothing is due, so it is all credit. 02-15: the credit pays installment
    # 1 (41200), 8800 left. It does not touch installment 2 before 03-15. 03-15: it pays fee
    # 1200 and principal 7600: 32400 principal unpaid, overdue, DPD 0 on the due date; 1 on
    # 03-16.
    payments = [pay("p1", 50000, date(2024, 2, 10))]

    before_due = run_oracle([plan()], payments, date(2024, 2, 14))
    on_due = run_oracle([plan()], payments, date(2024, 2, 15))
    before_next_due = run_oracle([plan()], payments, date(2024, 3, 14))
    on_next_due = run_oracle([plan()], payments, date(2024, 3, 15))
    day_after = run_oracle([plan()], payments, date(2024, 3, 16))

    assert before_due.credit_balance == 50000
    assert paid(only(before_due, 1)) == (0, 0, 0, 0)
    assert before_due.outstanding_principal == 120000

    assert on_due.credit_balance == 8800
    assert paid(only(on_due, 1)) == (40000, 1200, 0, 0)
    assert on_due.outstanding_principal == 80000

    assert before_next_due.credit_balance == 8800
    assert paid(only(before_next_due, 2)) == (0, 0, 0, 0)
    assert before_next_due.dpd == 0

    assert on_next_due.credit_balance == 0
    assert paid(only(on_next_due, 2)) == (7600, 1200, 0, 0)
    assert on_next_due.overdue == overdue(principal=32400)
    assert (on_next_due.dpd, on_next_due.bucket) == (0, "M0")

    assert (day_after.dpd, day_after.bucket) == (1, "M1")
    assert day_after.moves == [OracleMove(date(2024, 3, 16), "M0", "M1", 1)]


def test_oracle__reversal_makes_the_account_age_as_if_never_paid() -> None:
    # p1 pays installment 1 on time; r1, dated 03-01, reverses it. The reversal row's own
    # amount is not money.
    # As of 02-29 (before the reversal) p1 counts: current, nothing charged.
    # As of 03-01 p1 never happened: DPD 03-01 - 02-15 = 15, moved to M1 on 02-16, late fee
    # 2060 on 02-19, penalty 20 a day on 02-19..02-29 (11 days) and 03-01: 12 x 20 = 240.
    payments = [
        pay("p1", 41200, date(2024, 2, 15)),
        OraclePayment("r1", 41200, date(2024, 3, 1), reverses="p1"),
    ]

    before = run_oracle([plan()], payments, date(2024, 2, 29))
    after = run_oracle([plan()], payments, date(2024, 3, 1))

    assert paid(only(before, 1)) == (40000, 1200, 0, 0)
    assert (before.dpd, before.bucket, before.moves, before.credit_balance) == (0, "M0", [], 0)

    assert paid(only(after, 1)) == (0, 0, 0, 0)
    assert charged(only(after, 1)) == (40000, 1200, 2060, 240)
    assert (after.dpd, after.bucket, after.credit_balance) == (15, "M1", 0)
    assert after.moves == [OracleMove(date(2024, 2, 16), "M0", "M1", 1)]


def test_oracle__bucket_moves_m1_then_m2_on_due_plus_31_then_m3_then_back_to_m0_at_once() -> None:
    # No payment. DPD of installment 1 (due 02-15): 02-16 is 1 (M1); 03-16 is 30 (14 days to
    # 02-29, then 16) still M1; 03-17 is 31 (M2); 04-16 is 29 + 31 + 1 = 61 (M3).
    # 1,000,000 on 04-20 pays everything that is due (3 x 41200 plus charges, well under
    # 10,000 of charges), so DPD drops to 0 and the move goes straight from M3 to M0.
    m1_last_day = run_oracle([plan()], [], date(2024, 3, 16))
    m2_first_day = run_oracle([plan()], [], date(2024, 3, 17))
    m3_first_day = run_oracle([plan()], [], date(2024, 4, 16))
    paid_off = run_oracle([plan()], [pay("p1", 1_000_000, date(2024, 4, 20))], date(2024, 4, 20))

    assert (m1_last_day.dpd, m1_last_day.bucket) == (30, "M1")
    assert (m2_first_day.dpd, m2_first_day.bucket) == (31, "M2")
    assert (m3_first_day.dpd, m3_first_day.bucket) == (61, "M3")
    assert m3_first_day.moves == [
        OracleMove(date(2024, 2, 16), "M0", "M1", 1),
        OracleMove(date(2024, 3, 17), "M1", "M2", 31),
        OracleMove(date(2024, 4, 16), "M2", "M3", 61),
    ]
    assert (paid_off.dpd, paid_off.bucket) == (0, "M0")
    assert paid_off.moves == [
        *m3_first_day.moves,
        OracleMove(date(2024, 4, 20), "M3", "M0", 0),
    ]
    assert paid_off.overdue == overdue()
    assert paid_off.outstanding_principal == 0


def test_oracle__due_date_clamped_to_month_end_sets_dpd() -> None:
    # Started 2024-01-31: due 02-29 (no 31st in February), 03-31, 04-30.
    # DPD is 0 on 02-29 and 1 on 03-01 (had it been "02-31" = 03-02, it would still be 0).
    # pen_start = 02-29 + 3 + 1 = 03-04: late fee 2060 then, not on 03-03.
    # 03-31: DPD 31 (02-29 -> 03-29 is 29 days, -> 03-31 is 31): M2.
    plans = [plan(start=date(2024, 1, 31))]

    on_due = run_oracle(plans, [], date(2024, 2, 29))
    day_after = run_oracle(plans, [], date(2024, 3, 1))
    last_grace_day = run_oracle(plans, [], date(2024, 3, 3))
    pen_start = run_oracle(plans, [], date(2024, 3, 4))
    m2 = run_oracle(plans, [], date(2024, 3, 31))

    assert [i.due_date for i in on_due.installments] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]
    assert on_due.dpd == 0
    assert (day_after.dpd, day_after.bucket) == (1, "M1")
    assert only(last_grace_day, 1).late_fee == 0
    assert only(pen_start, 1).late_fee == 2060
    assert (m2.dpd, m2.bucket) == (31, "M2")
    assert m2.moves == [
        OracleMove(date(2024, 3, 1), "M0", "M1", 1),
        OracleMove(date(2024, 3, 31), "M1", "M2", 31),
    ]


def test_oracle__two_plans_with_different_tolerances_use_the_min() -> None:
    # Plan "a": product with tolerance 1.00 (100), 30000 over 3 months: principal 10000,
    # fee 300, 10300 due 02-15. Plan "b": STD (tolerance 1000), 41200 due 02-15.
    # Same due date, so plan "a" is paid first: 51000 pays a's 10300, then b's fee 1200 and
    # principal 39500: 500 unpaid on plan b. Tolerance min(100, 1000) = 100 < 500: overdue.
    # Plan b alone with the same shortfall would be within its own tolerance of 1000.
    strict = replace(STD, id="strict", tolerance_cents=100)
    plans = [plan("a", product=strict, principal=30000), plan("b")]

    state = run_oracle(plans, [pay("p1", 51000, date(2024, 2, 15))], date(2024, 2, 16))
    b_alone = run_oracle(
        [plan("b")], [pay("p1", 41200 - 500, date(2024, 2, 15))], date(2024, 2, 16)
    )

    assert paid(only(state, 1, "a")) == (10000, 300, 0, 0)
    assert paid(only(state, 1, "b")) == (39500, 1200, 0, 0)
    assert state.overdue == overdue(principal=500)
    assert (state.dpd, state.bucket) == (1, "M1")
    assert (b_alone.dpd, b_alone.bucket) == (0, "M0")


def test_oracle__old_shortfall_within_tolerance_dates_the_dpd_once_overdue() -> None:
    # Started 2024-07-15: due 08-15, 09-15, 10-15. 40200 on 08-15 leaves 1000 principal
    # unpaid: current, and still current on 08-19 (pen_start), so installment 1 never gets a
    # late fee (it is assessed on pen_start only).
    # 09-15: installment 2 is due unpaid: total 1000 + 41200 = 42200 > 1000, overdue. The
    # oldest installment with unpaid principal is installment 1: DPD 09-15 - 08-15 = 31, so
    # the account moves M0 -> M2 in one step.
    # 09-16..09-20: penalty on installment 1 = round(0.05% x 1000) = round(0.5) = 1 a day: 5.
    # Installment 2: pen_start 09-19, late fee 2060, penalty 20 on 09-19 and 09-20: 40.
    plans = [plan(start=date(2024, 7, 15))]
    payments = [pay("p1", 40200, date(2024, 8, 15))]

    state = run_oracle(plans, payments, date(2024, 9, 20))

    assert charged(only(state, 1)) == (40000, 1200, 0, 5)
    assert charged(only(state, 2)) == (40000, 1200, 2060, 40)
    assert state.overdue == overdue(principal=1000 + 40000, fee=1200, late_fee=2060, penalty=45)
    assert (state.dpd, state.bucket) == (36, "M2")  # 09-20 - 08-15
    assert state.moves == [OracleMove(date(2024, 9, 15), "M0", "M2", 31)]

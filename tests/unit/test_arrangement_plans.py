"""Personalised repayment plans: hand-worked restructures and the money-preserving properties."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recoup.arrangements.plans import (
    ChargeAmounts,
    ChargeTreatment,
    FutureFees,
    NoAffordablePlan,
    Owed,
    PlanAsk,
    PlanRefused,
    PlanRules,
    PlanTerms,
    ReAge,
    affordability,
    proposal_for,
    propose_plan,
    suggest_term,
)
from recoup.ledger.schedule import amounts
from recoup.money import format_rate
from recoup.products import FeeModel

START = date(2026, 3, 15)
RULES = PlanRules()

# Before: 300.00 principal overdue, 900.00 not yet due, fees 30.00 overdue and 60.00 to come,
# a 50.00 late fee and 20.00 penalty interest: 1,360.00 in all.
OWED = Owed(
    principal_overdue=30_000,
    principal_not_due=90_000,
    fee_overdue=3_000,
    fee_not_due=6_000,
    late_fee=5_000,
    penalty=2_000,
)


def terms(**changes: object) -> PlanTerms:
    base: dict[str, object] = {"term_months": 12, "start": START}
    base.update(changes)
    return PlanTerms(**base)  # type: ignore[arg-type]


def test_owed__total_sums_every_component() -> None:
    assert OWED.total == 136_000
    assert OWED.overdue == 30_000 + 3_000 + 5_000 + 2_000


def test_owed__refuses_negative_amounts() -> None:
    with pytest.raises(ValueError, match="penalty"):
        Owed(penalty=-1)


def test_capitalise__charges_join_the_principal_interest_free() -> None:
    plan = propose_plan(OWED, terms(), RULES)
    # After: 1,360.00 restructured, of which 1,200.00 principal bears the (zero) rate and
    # 160.00 of fees and charges is spread interest-free: 100.00 + 13.33 a month, last 113.37.
    assert plan.restructured_cents == 136_000
    assert plan.interest_bearing_cents == 120_000
    assert plan.waived == ChargeAmounts() and plan.frozen == ChargeAmounts()
    assert plan.installment_amounts == (11_333,) * 11 + (11_337,)
    assert plan.apr == 0
    assert plan.identity


def test_waive__charges_are_dropped_and_recorded_as_waived() -> None:
    plan = propose_plan(
        OWED, terms(penalty=ChargeTreatment.WAIVE, late_fee=ChargeTreatment.WAIVE), RULES
    )
    assert plan.waived == ChargeAmounts(penalty=2_000, late_fee=5_000, fee=0)
    assert plan.restructured_cents == 129_000  # 1,360.00 - 20.00 - 50.00
    assert plan.frozen_cents == 0
    assert sum(plan.installment_amounts) == 129_000
    assert plan.identity


def test_waive_future_fees__the_old_schedules_fees_to_come_are_waived() -> None:
    plan = propose_plan(OWED, terms(fees_not_due=FutureFees.WAIVE), RULES)
    assert plan.waived == ChargeAmounts(fee=6_000)
    assert plan.restructured_cents == 130_000  # the overdue 30.00 of fees stays owed
    assert plan.identity


def test_freeze__charges_are_payable_with_the_last_installment() -> None:
    plan = propose_plan(
        OWED, terms(penalty=ChargeTreatment.FREEZE, late_fee=ChargeTreatment.FREEZE), RULES
    )
    assert plan.frozen == ChargeAmounts(penalty=2_000, late_fee=5_000)
    assert plan.restructured_cents == 129_000
    # 1,200.00 / 12 = 100.00 a month, 90.00 of fees / 12 = 7.50; 70.00 frozen comes last.
    assert plan.installment_amounts == (10_750,) * 11 + (10_750 + 7_000,)
    assert sum(i.amount_cents for i in plan.schedule) == 129_000  # the schedule excludes it
    assert plan.total_payable_cents == 136_000
    assert plan.identity


def test_down_payment__pays_charges_first_then_principal() -> None:
    small = propose_plan(OWED, terms(down_payment_cents=10_000), RULES)
    # 100.00 pays 100.00 of the 160.00 of charges and fees; all the principal still bears rate.
    assert (small.restructured_cents, small.interest_bearing_cents) == (126_000, 120_000)
    large = propose_plan(OWED, terms(down_payment_cents=20_000), RULES)
    # 200.00 pays the 160.00 of charges and fees and 40.00 of principal.
    assert (large.restructured_cents, large.interest_bearing_cents) == (116_000, 116_000)
    assert small.identity and large.identity
    assert large.total_payable_cents == 136_000


def test_down_payment__that_leaves_nothing_to_restructure_is_refused() -> None:
    with pytest.raises(ValueError, match="settlement"):
        propose_plan(OWED, terms(down_payment_cents=136_000), RULES)


def test_term_limit__60_months_is_allowed() -> None:
    plan = propose_plan(OWED, terms(term_months=60), RULES)
    assert plan.term_months == 60
    assert plan.schedule[-1].due_date == date(2031, 2, 15)


def test_term_limit__61_months_is_refused_by_cn_plan() -> None:
    with pytest.raises(PlanRefused) as refused:
        propose_plan(OWED, terms(term_months=61), RULES)
    assert str(refused.value) == (
        "CN-PLAN: a personalised repayment plan runs at most 60 months; 61 asked"
    )
    assert (refused.value.rule_id, refused.value.limit, refused.value.asked) == ("CN-PLAN", 60, 61)


def test_rate_and_installment_limits__are_refused_with_their_rules() -> None:
    with pytest.raises(PlanRefused, match="HOUSE-PLAN-MAX-RATE"):
        propose_plan(OWED, terms(monthly_rate=Decimal("0.03")), RULES)
    with pytest.raises(PlanRefused, match="HOUSE-PLAN-MIN-INSTALLMENT") as refused:
        propose_plan(OWED, terms(term_months=60), PlanRules(min_installment_cents=5_000))
    assert refused.value.asked < 5_000


def test_schedule__first_installment_falls_on_the_start_date_clamped_in_short_months() -> None:
    plan = propose_plan(OWED, terms(term_months=3, start=date(2026, 1, 31)), RULES)
    assert [i.due_date for i in plan.schedule] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
    ]


def test_apr__of_an_annuity_plan_is_twelve_times_its_monthly_rate() -> None:
    # 10,000.00 at 1% a month over 12: 888.49 a month; the IRR is the rate itself.
    plan = propose_plan(
        Owed(principal_not_due=1_000_000), terms(monthly_rate=Decimal("0.01")), RULES
    )
    assert plan.installment_amounts[:11] == (88_849,) * 11
    assert abs(plan.apr - Decimal("0.12")) < Decimal("0.00001")


def test_apr__of_a_flat_fee_plan_matches_the_documented_example() -> None:
    # 12,000.00 at 0.6% flat over 12: 1,072.00 a month, APR 13.03% (domain.md).
    plan = propose_plan(
        Owed(principal_overdue=1_200_000),
        terms(monthly_rate=Decimal("0.006"), fee_model=FeeModel.FLAT_FEE),
        RULES,
    )
    assert plan.installment_amounts == (107_200,) * 12
    assert format_rate(plan.apr) == "0.1303"


def test_apr__charges_bear_no_interest_unless_the_profile_allows_it() -> None:
    owed = Owed(principal_not_due=1_000_000, late_fee=12_000)
    rate = terms(monthly_rate=Decimal("0.01"))
    plan = propose_plan(owed, rate, RULES)
    plain_fees = sum(f for _, f in amounts(1_000_000, 12, Decimal("0.01"), FeeModel.ANNUITY))
    assert plan.total_fee_cents == plain_fees
    assert plan.apr < Decimal("0.12")  # the interest-free part lowers the cost of the whole
    charged = propose_plan(owed, rate, PlanRules(interest_on_charges=True))
    assert charged.total_fee_cents > plain_fees
    assert abs(charged.apr - Decimal("0.12")) < Decimal("0.00001")


def test_re_age__at_signing_or_after_n_on_time_payments() -> None:
    assert propose_plan(OWED, terms(), RULES).re_age_from is None
    plan = propose_plan(OWED, terms(re_age=ReAge.after_payments(3)), RULES)
    assert plan.re_age_from == date(2026, 5, 15)
    with pytest.raises(ValueError, match="re-ages after 13"):
        propose_plan(OWED, terms(re_age=ReAge.after_payments(13)), RULES)


def test_affordability__half_the_free_income_rounded_down() -> None:
    assert affordability(1_000_000, 400_000, 100_000) == 250_000
    assert affordability(1_000, 0, 0, Decimal("0.333")) == 333
    assert affordability(1, 0, 0) == 0  # half a cent rounds down


def test_affordability__no_or_negative_free_income_affords_nothing() -> None:
    assert affordability(500_000, 400_000, 100_000) == 0
    assert affordability(500_000, 600_000, 100_000) == 0
    with pytest.raises(ValueError):
        affordability(100, 0, 0, Decimal("1.5"))


def test_suggest_term__picks_the_shortest_affordable_term() -> None:
    owed = Owed(principal_overdue=120_000)
    assert suggest_term(owed, 10_000, terms(), RULES).proposal is not None
    exact = suggest_term(owed, 10_000, terms(), RULES).proposal
    assert exact is not None and exact.term_months == 12  # 100.00 a month fits exactly
    # 99.99 does not fit 12 months; 13 months pays 92.31 (last 92.28).
    one_short = suggest_term(owed, 9_999, terms(), RULES).proposal
    assert one_short is not None and one_short.term_months == 13
    assert one_short.largest_installment_cents == 9_231


def test_suggest_term__none_when_even_the_longest_term_does_not_fit() -> None:
    suggestion = suggest_term(Owed(principal_overdue=120_000), 1_000, terms(), RULES)
    assert suggestion.proposal is None
    assert suggestion.lowest_installment_cents == 2_000  # 1,200.00 over 60 months
    assert "60 months" in suggestion.reason


def test_suggest_term__says_when_a_frozen_charge_alone_is_unaffordable() -> None:
    owed = Owed(principal_overdue=120_000, penalty=5_000)
    suggestion = suggest_term(owed, 4_000, terms(penalty=ChargeTreatment.FREEZE), RULES)
    assert suggestion.proposal is None
    assert "frozen 5000 cents" in suggestion.reason
    capitalised = suggest_term(owed, 4_000, terms(), RULES).proposal
    assert capitalised is not None and capitalised.term_months == 32  # 1,250.00 / 40.00 → 32


def test_proposal_for__resolves_the_asked_terms_as_every_caller_did() -> None:
    as_of = date(2026, 2, 13)
    asked = PlanAsk(
        term_months=6,
        monthly_rate=Decimal("0.005"),
        down_payment_cents=10_000,
        penalty=ChargeTreatment.WAIVE,
        re_age_after=2,
    )
    plan = proposal_for(OWED, as_of, asked)
    expected = propose_plan(
        OWED,
        terms(
            term_months=6,
            start=date(2026, 3, 15),  # as_of + 30 days, when no start is asked
            monthly_rate=Decimal("0.005"),
            down_payment_cents=10_000,
            penalty=ChargeTreatment.WAIVE,
            re_age=ReAge.after_payments(2),
        ),
        RULES,
    )
    assert plan == expected
    assert plan.schedule[0].due_date == date(2026, 3, 15) and plan.waived_cents == 2_000
    assert proposal_for(OWED, as_of, PlanAsk(start=date(2026, 4, 1))).schedule[0].due_date == (
        date(2026, 4, 1)
    )
    assert proposal_for(OWED, as_of, PlanAsk(re_age_after=None)).re_age_from is None


def test_proposal_for__with_an_income_proposes_the_shortest_affordable_term() -> None:
    owed = Owed(principal_overdue=120_000)
    # free income 300.00 - 100.00 - 0.00 = 200.00, half of it affordable: 100.00 a month
    plan = proposal_for(
        owed, START, PlanAsk(term_months=3, income_cents=30_000, spending_cents=10_000)
    )
    assert plan.term_months == 12  # the asked 3 months are not taken: 12 is the shortest fit
    with pytest.raises(NoAffordablePlan, match=r"^no affordable plan: no term up to 60 months"):
        proposal_for(owed, START, PlanAsk(income_cents=30_000, debts_cents=28_000))


def test_proposal_for__refuses_what_policy_and_the_terms_do_not_allow() -> None:
    with pytest.raises(PlanRefused, match="CN-PLAN"):
        proposal_for(OWED, START, PlanAsk(term_months=61))
    with pytest.raises(ValueError, match="term_months must be at least 1"):
        proposal_for(OWED, START, PlanAsk(term_months=0))


# Properties: a restructure preserves the amount owed exactly, apart from explicit waivers.

cents = st.integers(min_value=0, max_value=10**8)
owed_amounts = st.builds(
    Owed,
    principal_overdue=cents,
    principal_not_due=cents,
    fee_overdue=cents,
    fee_not_due=cents,
    late_fee=cents,
    penalty=cents,
)
treatments = st.sampled_from(list(ChargeTreatment))


@settings(max_examples=150, deadline=None)
@given(
    owed=owed_amounts,
    term=st.integers(min_value=1, max_value=60),
    rate=st.decimals(min_value=0, max_value=Decimal("0.02"), places=4),
    model=st.sampled_from(list(FeeModel)),
    penalty=treatments,
    late_fee=treatments,
    future_fees=st.sampled_from(list(FutureFees)),
    interest_on_charges=st.booleans(),
    data=st.data(),
)
def test_property__a_restructure_preserves_the_amount_owed(
    owed: Owed,
    term: int,
    rate: Decimal,
    model: FeeModel,
    penalty: ChargeTreatment,
    late_fee: ChargeTreatment,
    future_fees: FutureFees,
    interest_on_charges: bool,
    data: st.DataObject,
) -> None:
    def kept(treatment: ChargeTreatment, amount: int) -> int:
        return amount if treatment is ChargeTreatment.CAPITALISE else 0

    waived_fee = owed.fee_not_due if future_fees is FutureFees.WAIVE else 0
    restructurable = (
        owed.principal + owed.fee - waived_fee
        + kept(penalty, owed.penalty) + kept(late_fee, owed.late_fee)
    )  # fmt: skip
    if restructurable == 0:
        return
    down = data.draw(st.integers(min_value=0, max_value=restructurable - 1), label="down")
    plan = propose_plan(
        owed,
        PlanTerms(term, START, rate, down, penalty, late_fee, future_fees, fee_model=model),
        PlanRules(interest_on_charges=interest_on_charges),
    )
    # The identity, written out: nothing owed is created or lost.
    assert (
        plan.down_payment_cents + plan.restructured_cents + plan.frozen_cents + plan.waived_cents
        == owed.total
    )
    assert plan.identity
    # Only what was explicitly waived is waived.
    assert plan.waived == ChargeAmounts(
        penalty=owed.penalty if penalty is ChargeTreatment.WAIVE else 0,
        late_fee=owed.late_fee if late_fee is ChargeTreatment.WAIVE else 0,
        fee=waived_fee,
    )
    # The schedule sums exactly to the restructured principal plus its own fees.
    assert sum(i.principal_cents for i in plan.schedule) == plan.restructured_cents
    assert sum(i.amount_cents for i in plan.schedule) == (
        plan.restructured_cents + plan.total_fee_cents
    )
    assert sum(plan.installment_amounts) == (
        plan.restructured_cents + plan.total_fee_cents + plan.frozen_cents
    )
    assert all(i.principal_cents >= 0 and i.fee_cents >= 0 for i in plan.schedule)
    assert plan.term_months == term
    # The disclosed rate is zero exactly when the plan charges nothing.
    assert plan.apr >= 0
    assert (plan.apr == 0) == (plan.total_fee_cents == 0)

"""Settlements, waivers and offer suggestions: exact cents, lender-favoured rounding."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recoup.arrangements.plans import Owed, PlanProposal, PlanTerms
from recoup.arrangements.settlements import (
    OfferKind,
    OfferRules,
    PromiseOffer,
    SettlementKind,
    SettlementOffer,
    WaiverComponent,
    WaiverRefused,
    settlement_offer,
    suggest_offers,
    waiver_of,
)

AS_OF = date(2026, 3, 2)
EXPIRES = date(2026, 3, 16)
OWED = Owed(
    principal_overdue=30_000,
    principal_not_due=90_000,
    fee_overdue=3_000,
    fee_not_due=6_000,
    late_fee=5_000,
    penalty=2_001,
)


def test_lump_sum__rounds_the_amount_up_in_the_lenders_favour() -> None:
    # 1,000.01 less 30% = 700.007 -> 700.01 to pay; the discount is 300.00, not 300.003.
    offer = settlement_offer(100_001, Decimal("0.3"), EXPIRES)
    assert offer.kind is SettlementKind.LUMP_SUM
    assert (offer.amount_cents, offer.discount_cents) == (70_001, 30_000)
    assert [(p.number, p.due_date, p.amount_cents) for p in offer.payments] == [
        (1, EXPIRES, 70_001)
    ]


def test_short_plan__installments_sum_exactly_with_the_remainder_last() -> None:
    # 1,000.00 less 35% = 650.00 over 3: 216.67, 216.67, 216.66.
    offer = settlement_offer(100_000, Decimal("0.35"), EXPIRES, 3, date(2026, 3, 10))
    assert offer.kind is SettlementKind.SHORT_PLAN
    assert [p.amount_cents for p in offer.payments] == [21_667, 21_667, 21_666]
    assert [p.due_date for p in offer.payments] == [
        date(2026, 3, 10),
        date(2026, 4, 10),
        date(2026, 5, 10),
    ]
    assert offer.installments == 3 and offer.discount_cents == 35_000


def test_short_plan__is_limited_to_six_installments_unless_configured() -> None:
    with pytest.raises(ValueError, match="1 to 6 installments"):
        settlement_offer(100_000, Decimal("0.1"), EXPIRES, 7)
    assert settlement_offer(100_000, Decimal("0.1"), EXPIRES, 9, max_installments=12)


@pytest.mark.parametrize("share", [Decimal(1), Decimal("-0.1"), Decimal("1.2")])
def test_settlement__refuses_a_discount_of_everything_or_a_bad_share(share: Decimal) -> None:
    with pytest.raises(ValueError):
        settlement_offer(100_000, share, EXPIRES)


def test_settlement__first_payment_must_not_fall_after_the_expiry() -> None:
    with pytest.raises(ValueError, match="after the offer expires"):
        settlement_offer(100_000, Decimal("0.1"), EXPIRES, 2, date(2026, 3, 17))


def test_waiver__of_an_amount_up_to_what_is_owed_on_the_component() -> None:
    waiver = waiver_of(OWED, WaiverComponent.PENALTY, 2_001, expires_on=EXPIRES, reason="hardship")
    assert (waiver.component, waiver.amount_cents) == (WaiverComponent.PENALTY, 2_001)
    # Fees cover those overdue and those not yet due: 30.00 + 60.00.
    assert waiver_of(OWED, WaiverComponent.FEE, 9_000, expires_on=EXPIRES, reason="r")


def test_waiver__above_what_is_owed_is_refused() -> None:
    with pytest.raises(WaiverRefused, match=r"only 50\.00 is owed"):
        waiver_of(OWED, WaiverComponent.LATE_FEE, 5_001, expires_on=EXPIRES, reason="r")
    with pytest.raises(WaiverRefused, match=r"only 90\.00 is owed"):
        waiver_of(OWED, WaiverComponent.FEE, 9_001, expires_on=EXPIRES, reason="r")
    with pytest.raises(WaiverRefused, match="positive"):
        waiver_of(OWED, WaiverComponent.PENALTY, 0, expires_on=EXPIRES, reason="r")
    with pytest.raises(ValueError):
        waiver_of(OWED, WaiverComponent.PENALTY, Decimal("1.01"), expires_on=EXPIRES, reason="r")


def test_waiver__a_share_rounds_down_in_the_lenders_favour() -> None:
    # Half of 20.01 is 10.005 -> 10.00 waived.
    waiver = waiver_of(
        OWED, WaiverComponent.PENALTY, Decimal("0.5"), expires_on=EXPIRES, reason="r"
    )
    assert waiver.amount_cents == 1_000
    whole = waiver_of(OWED, WaiverComponent.PENALTY, Decimal(1), expires_on=EXPIRES, reason="r")
    assert whole.amount_cents == 2_001


# Offer suggestions. Before: 1,000.00 all overdue; P(cure) 0.5; at most 20% off; 400.00 a month
# affordable; an interest-free plan template. The heuristic with the default parameters
# (elasticity 2, plan lift 0.25, monthly keep 0.97) gives, by hand:
#   plan 3 months 333.33, 333.33, 333.34: P(keep) 0.625 x (333.33 + 333.33 x 0.97
#       + 333.34 x 0.9409) = 0.625 x 970.309706 = 606.44
#   lump sum 800.00: P(accept) = 0.5 + 0.5 x min(1, 2 x 0.2) = 0.7 -> 560.00
#   short plan 2 x 400.00: 0.7 x (400.00 + 400.00 x 0.97) = 551.60
#   promise of the overdue 1,000.00: 0.5 -> 500.00
ALL_OVERDUE = Owed(principal_overdue=100_000)
TEMPLATE = PlanTerms(term_months=1, start=date(2026, 4, 2))


def test_suggest_offers__every_option_with_its_expected_recovery_best_first() -> None:
    options = suggest_offers(
        ALL_OVERDUE, "M2", 0.5, Decimal("0.2"), 40_000, OfferRules(),
        as_of=AS_OF, plan_template=TEMPLATE,
    )  # fmt: skip
    assert [(o.kind, o.payable_cents, o.expected_recovery_cents) for o in options] == [
        (OfferKind.PLAN, 100_000, 60_644),
        (OfferKind.SETTLEMENT, 80_000, 56_000),
        (OfferKind.SHORT_PLAN_SETTLEMENT, 80_000, 55_160),
        (OfferKind.PROMISE, 100_000, 50_000),
    ]
    plan, lump, short, promise = (o.offer for o in options)
    assert isinstance(plan, PlanProposal) and plan.term_months == 3
    assert isinstance(lump, SettlementOffer) and lump.expires_on == date(2026, 3, 16)
    assert isinstance(short, SettlementOffer) and short.installments == 2
    assert isinstance(promise, PromiseOffer) and promise.due_on == date(2026, 3, 9)


def test_suggest_offers__a_longer_plan_when_less_is_affordable() -> None:
    # 100.00 a month: 10 months; 0.625 x 100.00 x (1 - 0.97^10) / 0.03 = 547.03.
    options = suggest_offers(
        Owed(principal_overdue=20_000, principal_not_due=80_000), "M1", 0.5, Decimal("0.2"),
        10_000, OfferRules(), as_of=AS_OF, plan_template=TEMPLATE,
    )  # fmt: skip
    by_kind = {o.kind: o for o in options}
    assert by_kind[OfferKind.PLAN].expected_recovery_cents == 54_703
    assert OfferKind.SHORT_PLAN_SETTLEMENT not in by_kind  # 800.00 / 6 > 100.00
    assert by_kind[OfferKind.PROMISE].payable_cents == 20_000


def test_suggest_offers__policy_restricts_the_kinds_by_bucket() -> None:
    rules = OfferRules(kinds_by_bucket={"M1": frozenset({OfferKind.PROMISE})})
    only_promise = suggest_offers(
        ALL_OVERDUE, "M1", 0.5, Decimal("0.2"), 40_000, rules,
        as_of=AS_OF, plan_template=TEMPLATE,
    )  # fmt: skip
    assert [o.kind for o in only_promise] == [OfferKind.PROMISE]
    elsewhere = suggest_offers(
        ALL_OVERDUE, "M4", 0.5, Decimal("0.2"), 40_000, rules,
        as_of=AS_OF, plan_template=TEMPLATE,
    )  # fmt: skip
    assert len(elsewhere) == 4


def test_suggest_offers__without_a_score_or_affordability_uses_the_bucket_prior() -> None:
    rules = OfferRules(cure_prior_by_bucket={"M3": 0.1})
    options = suggest_offers(
        ALL_OVERDUE, "M3", None, Decimal(0), None, rules, as_of=AS_OF, plan_template=TEMPLATE
    )
    # No discount allowed: no settlement; affordability unknown: no plan.
    assert [(o.kind, o.expected_recovery_cents) for o in options] == [(OfferKind.PROMISE, 10_000)]


def test_suggest_offers__a_larger_discount_raises_the_chance_of_acceptance() -> None:
    def lump(share: str) -> float:
        (option,) = suggest_offers(
            Owed(principal_not_due=100_000), "M6", 0.1, Decimal(share), None, OfferRules(),
            as_of=AS_OF,
        )  # fmt: skip
        return option.probability

    assert lump("0.1") < lump("0.3") < lump("0.5") == 1.0


@settings(max_examples=200, deadline=None)
@given(
    owed=st.integers(min_value=1, max_value=10**10),
    share=st.decimals(min_value=0, max_value=Decimal("0.99"), places=4),
    n=st.integers(min_value=1, max_value=6),
)
def test_property__settlement_is_rounded_up_and_its_payments_sum_exactly(
    owed: int, share: Decimal, n: int
) -> None:
    offer = settlement_offer(owed, share, EXPIRES, n, date(2026, 3, 10))
    exact = owed * (1 - share)
    assert exact <= offer.amount_cents < exact + 1
    assert offer.discount_cents <= owed * share
    assert offer.amount_cents + offer.discount_cents == owed
    assert sum(p.amount_cents for p in offer.payments) == offer.amount_cents
    assert all(p.amount_cents >= 0 for p in offer.payments)

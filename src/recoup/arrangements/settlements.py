"""Settlements, waivers and offer suggestions (减免与和解).

Rules (issue "Arrangements"; UK-FORBEAR in ``shared/reference/compliance.md``):

- A **settlement offer** closes the account for less than it owes: a discounted lump sum, or
  a short plan of at most ``max_installments`` monthly payments (6 unless the policy says
  otherwise). It expires on a date: the first payment must fall on or before it.
  Named rounding: *settlement amount, up to the cent, in the lender's favour*: the amount to
  pay is ``owed x (1 - discount share)`` rounded up, so the discount given is never more than
  the share allowed. A short plan's installments come from the ledger's schedule rule (even
  shares half up, the remainder last) and sum exactly to the amount.
- A **waiver** drops part of one charge component (penalty interest, late fees, fees), with an
  expiry date and a reason; it never waives more than is owed on that component. A share is
  turned into cents by the named rounding *waived amount, down to the cent* (lender's favour).
- **Offer suggestions** list the arrangements the policy allows for an account, each with an
  *expected recovery*. The model is a heuristic, to be replaced once arrangement outcomes can
  train it; its parameters live in :class:`OfferRules`:

  - P(cure) is the account's collection score, or the bucket's prior when it has none.
  - A *promise* to pay the overdue amount is kept with P(cure):
    ``recovery = overdue x P(cure)``.
  - A *settlement* is accepted with ``P(accept) = P(cure) + (1 - P(cure)) x min(1,
    acceptance_elasticity x discount share)``, rising with the discount. A lump sum recovers
    ``amount x P(accept)``; a short plan's installment ``k`` is also discounted by
    ``monthly_keep ** (k - 1)`` (plans break as they age).
  - A *plan* is kept with ``P(keep) = P(cure) + plan_lift x (1 - P(cure))`` (an affordable
    payment helps), and ``recovery = P(keep) x (down payment + sum of installment_k x
    monthly_keep ** (k - 1))``.

  Probabilities are floats (they are not money); each expected recovery is rounded half up to
  the cent by the named rounding *expected recovery* (:func:`recoup.money.round_to_cents`).
  Options are sorted by expected recovery, highest first.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from recoup.arrangements.plans import (
    Owed,
    PlanProposal,
    PlanRules,
    PlanTerms,
    suggest_term,
)
from recoup.ledger.schedule import add_months, amounts
from recoup.money import format_cents, round_to_cents
from recoup.products.spec import FeeModel

DEFAULT_MAX_SETTLEMENT_INSTALLMENTS = 6


class SettlementKind(enum.StrEnum):
    LUMP_SUM = "lump_sum"
    SHORT_PLAN = "short_plan"


@dataclass(frozen=True, slots=True)
class SettlementPayment:
    number: int
    due_date: date
    amount_cents: int


@dataclass(frozen=True, slots=True)
class SettlementOffer:
    """Pay ``amount_cents`` (in ``payments``) by the dates given and the account is settled.

    ``discount_share`` is the share asked; ``discount_cents`` the discount actually given,
    ``owed_total_cents - amount_cents``, never more than the share of the total.
    """

    kind: SettlementKind
    owed_total_cents: int
    amount_cents: int
    discount_cents: int
    discount_share: Decimal
    payments: tuple[SettlementPayment, ...]
    expires_on: date

    @property
    def installments(self) -> int:
        return len(self.payments)


def _whole_cents(name: str, value: int, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number of cents >= {minimum}, got {value!r}")


def _check_share(name: str, share: Decimal, *, below_one: bool) -> None:
    if not isinstance(share, Decimal) or not share.is_finite() or share < 0:
        raise ValueError(f"{name} must be a Decimal >= 0, got {share!r}")
    if share > 1 or (below_one and share == 1):
        limit = "below 1" if below_one else "at most 1"
        raise ValueError(f"{name} must be {limit}, got {share}")


def settlement_amount(owed_total_cents: int, discount_share: Decimal) -> int:
    """``owed x (1 - share)``, rounded UP to the cent (the named settlement rounding)."""
    exact = Decimal(owed_total_cents) * (1 - discount_share)
    return int(exact.to_integral_value(rounding=ROUND_CEILING))


def settlement_offer(
    owed_total_cents: int,
    discount_share: Decimal,
    expires_on: date,
    installments: int = 1,
    first_due: date | None = None,
    *,
    max_installments: int = DEFAULT_MAX_SETTLEMENT_INSTALLMENTS,
) -> SettlementOffer:
    """A settlement for ``owed_total_cents`` at ``discount_share`` off (0 <= share < 1).

    One installment is a lump sum, due on ``first_due`` (default: ``expires_on``); more make a
    short plan, due monthly from ``first_due``, of at most ``max_installments`` payments that
    sum exactly to the amount. ``first_due`` must not fall after ``expires_on``.
    """
    _whole_cents("owed_total_cents", owed_total_cents, minimum=1)
    _check_share("discount_share", discount_share, below_one=True)
    if isinstance(installments, bool) or not 1 <= installments <= max_installments:
        raise ValueError(
            f"a settlement is paid in 1 to {max_installments} installments, got {installments!r}"
        )
    first = expires_on if first_due is None else first_due
    if first > expires_on:
        raise ValueError(
            f"the first payment ({first}) falls after the offer expires ({expires_on})"
        )
    amount = settlement_amount(owed_total_cents, discount_share)
    shares = [p for p, _ in amounts(amount, installments, Decimal(0), FeeModel.FLAT_FEE)]
    payments = tuple(
        SettlementPayment(k, add_months(first, k - 1), share)
        for k, share in enumerate(shares, start=1)
    )
    return SettlementOffer(
        kind=SettlementKind.LUMP_SUM if installments == 1 else SettlementKind.SHORT_PLAN,
        owed_total_cents=owed_total_cents,
        amount_cents=amount,
        discount_cents=owed_total_cents - amount,
        discount_share=discount_share,
        payments=payments,
        expires_on=expires_on,
    )


class WaiverComponent(enum.StrEnum):
    PENALTY = "penalty"
    LATE_FEE = "late_fee"
    FEE = "fee"


class WaiverRefused(ValueError):
    """A waiver of more than is owed on its component (or of nothing)."""


@dataclass(frozen=True, slots=True)
class Waiver:
    component: WaiverComponent
    amount_cents: int
    expires_on: date
    reason: str


def owed_on(owed: Owed, component: WaiverComponent) -> int:
    """What is owed on a waivable component; ``fee`` covers fees overdue and not yet due."""
    if component is WaiverComponent.PENALTY:
        return owed.penalty
    if component is WaiverComponent.LATE_FEE:
        return owed.late_fee
    return owed.fee


def waiver_of(
    owed: Owed,
    component: WaiverComponent,
    amount_or_share: int | Decimal,
    *,
    expires_on: date,
    reason: str,
) -> Waiver:
    """A waiver of ``amount_or_share`` of a component: whole cents (``int``) or a share
    (``Decimal`` in [0, 1], rounded down to the cent). Refuses more than is owed on the
    component, and a waiver of nothing."""
    available = owed_on(owed, component)
    if isinstance(amount_or_share, Decimal):
        _check_share("share", amount_or_share, below_one=False)
        exact = Decimal(available) * amount_or_share
        amount = int(exact.to_integral_value(rounding=ROUND_FLOOR))
    elif isinstance(amount_or_share, int) and not isinstance(amount_or_share, bool):
        amount = amount_or_share
    else:
        raise TypeError(
            f"a waiver is whole cents (int) or a share (Decimal), got {amount_or_share!r}"
        )
    if amount > available:
        raise WaiverRefused(
            f"cannot waive {format_cents(amount)} of {component.value}: only "
            f"{format_cents(available)} is owed"
        )
    if amount <= 0:
        raise WaiverRefused(
            f"a waiver of {component.value} must be positive, got {format_cents(amount)}"
        )
    if not reason.strip():
        raise ValueError("a waiver needs a reason")
    return Waiver(component, amount, expires_on, reason)


class OfferKind(enum.StrEnum):
    SETTLEMENT = "settlement"  # a discounted lump sum
    SHORT_PLAN_SETTLEMENT = "short_plan_settlement"
    PLAN = "plan"  # a personalised repayment plan at an affordable term
    PROMISE = "promise"  # a promise to pay the overdue amount


@dataclass(frozen=True, slots=True)
class PromiseOffer:
    amount_cents: int
    due_on: date


@dataclass(frozen=True, slots=True)
class OfferRules:
    """The policy and model parameters of :func:`suggest_offers`.

    ``kinds_by_bucket`` restricts the offer kinds per bucket name; a bucket not listed (or
    ``None``) allows every kind. ``cure_prior_by_bucket`` is P(cure) for an account without
    a score, by bucket, else ``default_cure_prior``. The rest are the heuristic's parameters
    (module docstring) and the offers' validity.
    """

    plan: PlanRules = field(default_factory=PlanRules)
    kinds_by_bucket: Mapping[str, frozenset[OfferKind]] | None = None
    max_settlement_installments: int = DEFAULT_MAX_SETTLEMENT_INSTALLMENTS
    offer_valid_days: int = 14
    promise_days: int = 7
    cure_prior_by_bucket: Mapping[str, float] = field(default_factory=dict)
    default_cure_prior: float = 0.2
    acceptance_elasticity: float = 2.0
    plan_lift: float = 0.25
    monthly_keep: float = 0.97

    def allows(self, bucket: str, kind: OfferKind) -> bool:
        if self.kinds_by_bucket is None or bucket not in self.kinds_by_bucket:
            return True
        return kind in self.kinds_by_bucket[bucket]


@dataclass(frozen=True, slots=True)
class OfferOption:
    """One arrangement to offer, with its expected recovery (a heuristic, module docstring)."""

    kind: OfferKind
    payable_cents: int  # what the borrower pays if the option is honoured in full
    probability: float  # P(accept) or P(keep) in the model
    expected_recovery_cents: int
    offer: SettlementOffer | PlanProposal | PromiseOffer
    explanation: str


def _probability(value: float) -> Decimal:
    """A probability as a Decimal from its shortest text (never the float's binary value)."""
    return Decimal(repr(min(max(value, 0.0), 1.0)))


def _expected(
    installments: list[int], probability: float, monthly_keep: float, *, at_signing: int = 0
) -> int:
    """``P x (at_signing + sum(installment_k x keep ** (k - 1)))``, rounded half up to the
    cent (the named rounding *expected recovery*)."""
    p, keep = _probability(probability), _probability(monthly_keep)
    cash = Decimal(at_signing) + sum(
        (Decimal(c) * keep**k for k, c in enumerate(installments)), Decimal(0)
    )
    return round_to_cents(p * cash)


def suggest_offers(
    owed: Owed,
    bucket: str,
    probability_of_cure: float | None,
    max_discount_share: Decimal,
    affordable_monthly_cents: int | None,
    rules: OfferRules,
    *,
    as_of: date,
    plan_template: PlanTerms | None = None,
) -> list[OfferOption]:
    """The arrangements policy allows for an account, by expected recovery, highest first.

    - a lump-sum settlement at the largest discount allowed (``max_discount_share > 0``);
    - a short-plan settlement at that discount, the fewest installments (2 up to the limit)
      that fit ``affordable_monthly_cents``, when the lump sum does not fit;
    - a plan at the shortest affordable term (:func:`suggest_term` on ``plan_template``);
    - a promise to pay the overdue amount within ``rules.promise_days``.

    Options needing affordability are left out when it is unknown (``None``). Offers expire
    ``rules.offer_valid_days`` after ``as_of``.
    """
    _check_share("max_discount_share", max_discount_share, below_one=True)
    if affordable_monthly_cents is not None:
        _whole_cents("affordable_monthly_cents", affordable_monthly_cents)
    p_cure = (
        probability_of_cure
        if probability_of_cure is not None
        else rules.cure_prior_by_bucket.get(bucket, rules.default_cure_prior)
    )
    if not 0.0 <= p_cure <= 1.0:
        raise ValueError(f"a probability of cure lies in [0, 1], got {p_cure}")
    expires_on = as_of + timedelta(days=rules.offer_valid_days)
    options: list[OfferOption] = []

    if owed.total > 0 and max_discount_share > 0:
        share = float(max_discount_share)
        p_accept = p_cure + (1 - p_cure) * min(1.0, rules.acceptance_elasticity * share)
        if rules.allows(bucket, OfferKind.SETTLEMENT):
            lump = settlement_offer(owed.total, max_discount_share, expires_on)
            options.append(
                OfferOption(
                    OfferKind.SETTLEMENT,
                    lump.amount_cents,
                    p_accept,
                    _expected([lump.amount_cents], p_accept, 1.0),
                    lump,
                    f"lump sum of {format_cents(lump.amount_cents)}, "
                    f"{format_cents(lump.discount_cents)} off "
                    f"({max_discount_share:.0%} of {format_cents(owed.total)})",
                )
            )
        if (
            rules.allows(bucket, OfferKind.SHORT_PLAN_SETTLEMENT)
            and affordable_monthly_cents is not None
            and settlement_amount(owed.total, max_discount_share) > affordable_monthly_cents
        ):
            for n in range(2, rules.max_settlement_installments + 1):
                short = settlement_offer(
                    owed.total,
                    max_discount_share,
                    expires_on,
                    n,
                    expires_on,
                    max_installments=rules.max_settlement_installments,
                )
                cash = [p.amount_cents for p in short.payments]
                if max(cash) <= affordable_monthly_cents:
                    options.append(
                        OfferOption(
                            OfferKind.SHORT_PLAN_SETTLEMENT,
                            short.amount_cents,
                            p_accept,
                            _expected(cash, p_accept, rules.monthly_keep),
                            short,
                            f"{n} monthly payments of at most {format_cents(max(cash))},"
                            f" {format_cents(short.discount_cents)} off",
                        )
                    )
                    break

    if (
        plan_template is not None
        and affordable_monthly_cents is not None
        and rules.allows(bucket, OfferKind.PLAN)
    ):
        suggestion = suggest_term(owed, affordable_monthly_cents, plan_template, rules.plan)
        plan = suggestion.proposal
        if plan is not None:
            p_keep = p_cure + rules.plan_lift * (1 - p_cure)
            expected = _expected(
                list(plan.installment_amounts),
                p_keep,
                rules.monthly_keep,
                at_signing=plan.down_payment_cents,
            )
            options.append(
                OfferOption(
                    OfferKind.PLAN,
                    plan.total_payable_cents,
                    p_keep,
                    expected,
                    plan,
                    f"{plan.term_months}-month plan, installments of at most"
                    f" {format_cents(plan.largest_installment_cents)}, APR {plan.apr:.2%}",
                )
            )

    if owed.overdue > 0 and rules.allows(bucket, OfferKind.PROMISE):
        promise = PromiseOffer(owed.overdue, as_of + timedelta(days=rules.promise_days))
        options.append(
            OfferOption(
                OfferKind.PROMISE,
                owed.overdue,
                p_cure,
                _expected([owed.overdue], p_cure, 1.0),
                promise,
                f"promise to pay the overdue {format_cents(owed.overdue)} by {promise.due_on}",
            )
        )

    # Stable sort: equal recoveries keep the order above (settlement, plan, promise).
    return sorted(options, key=lambda o: -o.expected_recovery_cents)

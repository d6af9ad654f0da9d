"""Personalised repayment plans (个性化分期): restructure and re-age an overdue account.

A plan replaces what an account owes, overdue and not yet due, with a new schedule. The rules
(issue "Arrangements", ``docs/ledger-rules.md``, ``shared/reference/compliance.md``):

- **Term.** At most ``PlanRules.max_term_months`` (60 under CN-PLAN, 《商业银行信用卡业务监督
  管理办法》 Art. 70); a longer plan is refused with the rule's id and limit.
- **What is owed** (:class:`Owed`) comes by component: principal and fee, each overdue or not
  yet due, and the two charges, late fee and penalty interest.
- **Treatment of the charges**, chosen separately for penalty interest and for late fees
  (:class:`ChargeTreatment`): *waive* drops the charge (recorded as a waiver), *freeze* keeps it
  as one amount payable with the last installment and accruing nothing more, *capitalise*
  adds it to the plan's principal. The old schedule's fees not yet due are kept or waived.
- **Down payment.** Paid at signing; it pays the restructured amounts in the usual allocation
  order (capitalised penalty, capitalised late fee, fees, then principal), never a frozen or
  waived amount, and must leave something to restructure (otherwise it is a settlement).
- **Identity.** ``down payment + restructured principal + frozen + waived == owed.total``, to
  the cent: a restructure moves money between components and dates, it never creates or
  loses any, apart from the explicit waivers.
- **No interest on fees or charges** (CN-PRICING, 银发〔2016〕111号). The plan's rate applies
  only to the old principal left after the down payment (the *interest-bearing* part); the
  capitalised charges and fees are amortised over the same term at rate 0. A profile that
  allows interest on them sets ``PlanRules.interest_on_charges``.
- **Schedule.** Built with the ledger's own building blocks (:func:`recoup.ledger.schedule.
  amounts`): each part's principals sum exactly to the part, the remainder in the last
  period, so the schedule's principals sum exactly to the restructured principal and its
  amounts to that principal plus the plan's fees. Installment ``k`` falls due ``k - 1``
  months after ``PlanTerms.start``, the first due date (clamped to short months' last day).
- **Disclosed APR** (CN-PRICING, PBoC announcement 2021 No. 3): ``12 x monthly IRR``
  (:func:`recoup.ledger.apr.annual_rate`). The *principal* of a restructure for the APR is
  the amount it finances, the restructured principal, taken as received at signing one month
  before the first due date, against the installments of the schedule. The down payment is
  paid at signing and finances nothing; the frozen amount is old debt postponed at no charge,
  so it is left out of both sides, where it would only dilute the rate; waived amounts are
  neither financed nor paid. A plan at rate 0 therefore discloses an APR of exactly 0.
- **Re-ageing** (:class:`ReAge`): DPD is reset at signing, or only after the first ``n``
  installments are paid on time; the proposal says from which due date that can happen.

Money is whole cents (``int``); rates are ``Decimal``. Nothing here reads a clock or a store.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from recoup.ledger.apr import annual_rate
from recoup.ledger.schedule import ScheduledInstallment, add_months, amounts
from recoup.products.spec import FeeModel

#: The rule a plan longer than the profile's limit breaks (compliance.md, CN-PLAN).
TERM_RULE_ID = "CN-PLAN"


class PlanRefused(ValueError):
    """A plan that policy does not allow; names the rule, its limit and what was asked."""

    def __init__(
        self, rule_id: str, message: str, *, limit: int | Decimal, asked: int | Decimal
    ) -> None:
        super().__init__(f"{rule_id}: {message}")
        self.rule_id = rule_id
        self.limit = limit
        self.asked = asked


class ChargeTreatment(enum.StrEnum):
    """What a plan does with a charge (penalty interest, late fees) owed at signing."""

    WAIVE = "waive"  # dropped, recorded as a waiver
    FREEZE = "freeze"  # payable with the last installment, no further accrual
    CAPITALISE = "capitalise"  # added to the plan's principal


class FutureFees(enum.StrEnum):
    """What a plan does with the old schedule's fees that are not yet due."""

    KEEP = "keep"  # restructured with the rest
    WAIVE = "waive"  # dropped, recorded as a waiver


class ReAgeKind(enum.StrEnum):
    AT_SIGNING = "at_signing"
    AFTER_PAYMENTS = "after_payments"


def _check_cents(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of cents >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class ReAge:
    """When the plan resets the account's DPD: at signing, or after ``payments`` on-time ones."""

    kind: ReAgeKind = ReAgeKind.AT_SIGNING
    payments: int = 0

    def __post_init__(self) -> None:
        if self.kind is ReAgeKind.AT_SIGNING and self.payments != 0:
            raise ValueError("a re-age at signing counts no payments")
        if self.kind is ReAgeKind.AFTER_PAYMENTS and (
            isinstance(self.payments, bool)
            or not isinstance(self.payments, int)
            or self.payments < 1
        ):
            raise ValueError(f"a re-age after payments needs at least 1, got {self.payments!r}")

    @classmethod
    def at_signing(cls) -> ReAge:
        return cls(ReAgeKind.AT_SIGNING, 0)

    @classmethod
    def after_payments(cls, n: int) -> ReAge:
        return cls(ReAgeKind.AFTER_PAYMENTS, n)


@dataclass(frozen=True, slots=True)
class Owed:
    """What an account owes at signing, by component, in cents (all ``>= 0``)."""

    principal_overdue: int = 0
    principal_not_due: int = 0
    fee_overdue: int = 0
    fee_not_due: int = 0
    late_fee: int = 0
    penalty: int = 0

    def __post_init__(self) -> None:
        for name in (
            "principal_overdue",
            "principal_not_due",
            "fee_overdue",
            "fee_not_due",
            "late_fee",
            "penalty",
        ):
            _check_cents(name, getattr(self, name))

    @property
    def principal(self) -> int:
        return self.principal_overdue + self.principal_not_due

    @property
    def fee(self) -> int:
        return self.fee_overdue + self.fee_not_due

    @property
    def overdue(self) -> int:
        """What is past due now: overdue principal and fee, and every charge."""
        return self.principal_overdue + self.fee_overdue + self.late_fee + self.penalty

    @property
    def total(self) -> int:
        return self.principal + self.fee + self.late_fee + self.penalty


@dataclass(frozen=True, slots=True)
class ChargeAmounts:
    """Amounts by charge component, in cents: for the waived and the frozen parts of a plan."""

    penalty: int = 0
    late_fee: int = 0
    fee: int = 0

    @property
    def total(self) -> int:
        return self.penalty + self.late_fee + self.fee


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """The terms asked for a plan.

    ``start`` is the first installment's due date. ``monthly_rate`` is the plan's own fee or
    interest rate under ``fee_model`` (0 for an interest-free plan); it applies only to the
    interest-bearing part (see the module docstring).
    """

    term_months: int
    start: date
    monthly_rate: Decimal = Decimal(0)
    down_payment_cents: int = 0
    penalty: ChargeTreatment = ChargeTreatment.CAPITALISE
    late_fee: ChargeTreatment = ChargeTreatment.CAPITALISE
    fees_not_due: FutureFees = FutureFees.KEEP
    re_age: ReAge = ReAge()
    fee_model: FeeModel = FeeModel.ANNUITY

    def __post_init__(self) -> None:
        if isinstance(self.term_months, bool) or not isinstance(self.term_months, int):
            raise ValueError(f"term_months must be a whole number, got {self.term_months!r}")
        if self.term_months < 1:
            raise ValueError(f"term_months must be at least 1, got {self.term_months}")
        if not isinstance(self.monthly_rate, Decimal) or not self.monthly_rate.is_finite():
            raise ValueError(f"monthly_rate must be a Decimal, got {self.monthly_rate!r}")
        if self.monthly_rate < 0:
            raise ValueError(f"monthly_rate must not be negative, got {self.monthly_rate}")
        _check_cents("down_payment_cents", self.down_payment_cents)


@dataclass(frozen=True, slots=True)
class PlanRules:
    """The policy's limits on plans (values come from the policy profile).

    ``max_term_months`` is refused as ``term_rule_id`` (CN-PLAN, 60 months). The other two
    limits are house rules with their own ids. ``interest_on_charges`` lets the plan's rate
    apply to capitalised charges and fees too (False under CN-PRICING: no interest on fees).
    """

    max_term_months: int = 60
    term_rule_id: str = TERM_RULE_ID
    min_installment_cents: int = 0
    min_installment_rule_id: str = "HOUSE-PLAN-MIN-INSTALLMENT"
    max_monthly_rate: Decimal = Decimal("0.02")
    max_rate_rule_id: str = "HOUSE-PLAN-MAX-RATE"
    interest_on_charges: bool = False

    def __post_init__(self) -> None:
        if self.max_term_months < 1:
            raise ValueError(f"max_term_months must be at least 1, got {self.max_term_months}")
        _check_cents("min_installment_cents", self.min_installment_cents)
        if self.max_monthly_rate < 0:
            raise ValueError(f"max_monthly_rate must not be negative, got {self.max_monthly_rate}")


@dataclass(frozen=True, slots=True)
class PlanProposal:
    """A plan as it would be signed; its amounts satisfy :attr:`identity`.

    ``restructured_cents`` is the new principal (the schedule's principals sum to it), of
    which ``interest_bearing_cents`` bears the plan's rate. ``frozen`` is payable with the
    last installment. ``apr`` is the disclosed annualised rate (module docstring).
    ``re_age_from`` is the due date of the last of the on-time payments a re-age waits for
    (``None`` when the plan re-ages at signing).
    """

    owed: Owed
    terms: PlanTerms
    down_payment_cents: int
    restructured_cents: int
    interest_bearing_cents: int
    waived: ChargeAmounts
    frozen: ChargeAmounts
    schedule: tuple[ScheduledInstallment, ...]
    apr: Decimal
    re_age_from: date | None

    @property
    def term_months(self) -> int:
        return len(self.schedule)

    @property
    def frozen_cents(self) -> int:
        return self.frozen.total

    @property
    def waived_cents(self) -> int:
        return self.waived.total

    @property
    def total_fee_cents(self) -> int:
        return sum(i.fee_cents for i in self.schedule)

    @property
    def installment_amounts(self) -> tuple[int, ...]:
        """What the borrower pays at each due date: the schedule, plus the frozen amount last."""
        paid = [i.amount_cents for i in self.schedule]
        paid[-1] += self.frozen_cents
        return tuple(paid)

    @property
    def largest_installment_cents(self) -> int:
        return max(self.installment_amounts)

    @property
    def total_payable_cents(self) -> int:
        """Everything the borrower pays under the plan, down payment included."""
        return self.down_payment_cents + sum(self.installment_amounts)

    @property
    def identity(self) -> bool:
        """``down + restructured + frozen + waived == owed.total``: nothing owed is lost."""
        return (
            self.down_payment_cents
            + self.restructured_cents
            + self.frozen_cents
            + self.waived_cents
            == self.owed.total
        )


@dataclass(frozen=True, slots=True)
class _Draft:
    """A plan without its APR (the IRR is the costly part; :func:`suggest_term` scans drafts)."""

    down_payment_cents: int
    restructured_cents: int
    interest_bearing_cents: int
    waived: ChargeAmounts
    frozen: ChargeAmounts
    schedule: tuple[ScheduledInstallment, ...]
    re_age_from: date | None

    @property
    def largest_installment_cents(self) -> int:
        last = len(self.schedule)
        return max(
            i.amount_cents + (self.frozen.total if i.period == last else 0) for i in self.schedule
        )


def _split(treatment: ChargeTreatment, amount: int) -> tuple[int, int, int]:
    """``(waived, frozen, capitalised)`` of a charge under its treatment."""
    if treatment is ChargeTreatment.WAIVE:
        return amount, 0, 0
    if treatment is ChargeTreatment.FREEZE:
        return 0, amount, 0
    return 0, 0, amount


def _merge(
    parts: list[list[tuple[int, int]]], term: int, first_due: date
) -> tuple[ScheduledInstallment, ...]:
    """Per-period sums of several parts' ``(principal, fee)`` rows, with their due dates."""
    return tuple(
        ScheduledInstallment(
            period=k,
            due_date=add_months(first_due, k - 1),
            principal_cents=sum(rows[k - 1][0] for rows in parts),
            fee_cents=sum(rows[k - 1][1] for rows in parts),
        )
        for k in range(1, term + 1)
    )


def _draft(owed: Owed, terms: PlanTerms, rules: PlanRules) -> _Draft:
    term = terms.term_months
    if term > rules.max_term_months:
        raise PlanRefused(
            rules.term_rule_id,
            f"a personalised repayment plan runs at most {rules.max_term_months} months;"
            f" {term} asked",
            limit=rules.max_term_months,
            asked=term,
        )
    if terms.monthly_rate > rules.max_monthly_rate:
        raise PlanRefused(
            rules.max_rate_rule_id,
            f"a plan's monthly rate is at most {rules.max_monthly_rate};"
            f" {terms.monthly_rate} asked",
            limit=rules.max_monthly_rate,
            asked=terms.monthly_rate,
        )
    if terms.re_age.payments > term:
        raise ValueError(
            f"the plan re-ages after {terms.re_age.payments} payments but has only {term}"
        )

    penalty_waived, penalty_frozen, penalty_capitalised = _split(terms.penalty, owed.penalty)
    late_waived, late_frozen, late_capitalised = _split(terms.late_fee, owed.late_fee)
    fee_waived = owed.fee_not_due if terms.fees_not_due is FutureFees.WAIVE else 0
    fees_kept = owed.fee - fee_waived

    # The down payment pays in the allocation order: charges, then fees, then principal.
    charges = penalty_capitalised + late_capitalised + fees_kept
    principal = owed.principal
    restructurable = charges + principal
    down = terms.down_payment_cents
    if down >= restructurable:
        raise ValueError(
            f"a down payment of {down} cents leaves nothing of the {restructurable} cents to"
            " restructure: offer a settlement instead"
        )
    charges_left = charges - min(down, charges)
    principal_left = principal - max(down - charges, 0)
    restructured = charges_left + principal_left

    if rules.interest_on_charges:
        interest_bearing, interest_free = restructured, 0
    else:
        interest_bearing, interest_free = principal_left, charges_left
    parts = []
    if interest_bearing > 0:
        parts.append(amounts(interest_bearing, term, terms.monthly_rate, terms.fee_model))
    if interest_free > 0:
        parts.append(amounts(interest_free, term, Decimal(0), terms.fee_model))
    schedule = _merge(parts, term, terms.start)

    frozen = ChargeAmounts(penalty=penalty_frozen, late_fee=late_frozen)
    smallest = min(i.amount_cents for i in schedule)
    if smallest < rules.min_installment_cents:
        raise PlanRefused(
            rules.min_installment_rule_id,
            f"each installment is at least {rules.min_installment_cents} cents;"
            f" this plan has one of {smallest} over {term} months",
            limit=rules.min_installment_cents,
            asked=smallest,
        )
    n = terms.re_age.payments
    draft = _Draft(
        down_payment_cents=down,
        restructured_cents=restructured,
        interest_bearing_cents=interest_bearing,
        waived=ChargeAmounts(penalty=penalty_waived, late_fee=late_waived, fee=fee_waived),
        frozen=frozen,
        schedule=schedule,
        re_age_from=schedule[n - 1].due_date if n else None,
    )
    if down + restructured + frozen.total + draft.waived.total != owed.total:
        raise AssertionError(f"a restructure lost money: {owed} -> {draft}")
    return draft


def propose_plan(owed: Owed, terms: PlanTerms, rules: PlanRules) -> PlanProposal:
    """The plan ``terms`` would give for ``owed``, or :class:`PlanRefused` naming the rule.

    Raises ``ValueError`` for a request that cannot be a plan at all (a down payment that
    leaves nothing to restructure, a re-age after more payments than the plan has).
    """
    draft = _draft(owed, terms, rules)
    apr = annual_rate(draft.restructured_cents, [i.amount_cents for i in draft.schedule])
    return PlanProposal(
        owed=owed,
        terms=terms,
        down_payment_cents=draft.down_payment_cents,
        restructured_cents=draft.restructured_cents,
        interest_bearing_cents=draft.interest_bearing_cents,
        waived=draft.waived,
        frozen=draft.frozen,
        schedule=draft.schedule,
        apr=apr,
        re_age_from=draft.re_age_from,
    )


def affordability(
    income_cents: int,
    essential_spending_cents: int,
    other_debt_payments_cents: int,
    share_of_free_income: Decimal = Decimal("0.5"),
) -> int:
    """The monthly amount a borrower can afford, in cents (never negative).

    Free income is income less essential spending and other debts' payments; the borrower is
    asked for ``share_of_free_income`` of it. Named rounding: *affordable amount, down to the
    cent*, so the amount asked never exceeds the share. No free income affords 0.
    """
    _check_cents("income_cents", income_cents)
    _check_cents("essential_spending_cents", essential_spending_cents)
    _check_cents("other_debt_payments_cents", other_debt_payments_cents)
    if not Decimal(0) <= share_of_free_income <= Decimal(1):
        raise ValueError(f"share_of_free_income must lie in [0, 1], got {share_of_free_income}")
    free = income_cents - essential_spending_cents - other_debt_payments_cents
    if free <= 0:
        return 0
    return int((free * share_of_free_income).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class TermSuggestion:
    """The outcome of :func:`suggest_term`: a plan, or why there is none.

    ``lowest_installment_cents`` is the smallest "largest installment" among the terms policy
    allows (the frozen amount counted with the last installment), so a caller can say how far
    from affordable the best plan is; ``None`` when policy allows no term at all.
    """

    proposal: PlanProposal | None
    reason: str
    lowest_installment_cents: int | None


def suggest_term(
    owed: Owed, affordable_monthly_cents: int, terms_template: PlanTerms, rules: PlanRules
) -> TermSuggestion:
    """The shortest plan whose every installment fits the affordable amount.

    Tries each term from 1 month up to ``rules.max_term_months`` with the template's other
    terms; a term policy refuses (too small an installment) is skipped. The frozen amount is
    paid with the last installment, so it counts in that installment: a large frozen charge
    may make every term unaffordable, and the reason says so.
    """
    _check_cents("affordable_monthly_cents", affordable_monthly_cents)
    lowest: int | None = None
    lowest_draft: _Draft | None = None
    refusal: PlanRefused | None = None
    for term in range(max(1, terms_template.re_age.payments), rules.max_term_months + 1):
        terms = replace(terms_template, term_months=term)
        try:
            draft = _draft(owed, terms, rules)
        except PlanRefused as refused:
            refusal = refused
            continue
        largest = draft.largest_installment_cents
        if largest <= affordable_monthly_cents:
            proposal = propose_plan(owed, terms, rules)
            return TermSuggestion(
                proposal,
                f"{term} months is the shortest term whose installments (at most"
                f" {largest} cents) fit the affordable {affordable_monthly_cents} cents",
                largest,
            )
        if lowest is None or largest < lowest:
            lowest, lowest_draft = largest, draft
    if lowest is None:
        why = str(refusal) if refusal else "policy allows no term"
        return TermSuggestion(None, f"no term is allowed: {why}", None)
    assert lowest_draft is not None
    reason = (
        f"no term up to {rules.max_term_months} months fits the affordable"
        f" {affordable_monthly_cents} cents: the lowest largest installment is {lowest} cents"
    )
    if lowest_draft.frozen.total > affordable_monthly_cents:
        reason += (
            f"; the frozen {lowest_draft.frozen.total} cents due with the last installment"
            " alone exceed it (capitalise or waive the charges instead)"
        )
    return TermSuggestion(None, reason, lowest)


#: The first installment of a proposed plan falls due this many days after the day the
#: amounts owed are taken from, unless the terms name a start.
FIRST_DUE_AFTER_DAYS = 30


class NoAffordablePlan(ValueError):
    """No term the rules allow fits what the borrower can afford; ``reason`` says how far."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"no affordable plan: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PlanAsk:
    """The terms asked for a plan as a collector or a client gives them, before they are
    resolved against what the account owes (:func:`proposal_for`).

    ``start`` defaults to ``as_of + FIRST_DUE_AFTER_DAYS``; ``re_age_after`` (on-time
    payments) to re-ageing at signing. With ``income_cents`` the term is not taken as asked:
    the shortest term whose installments fit half the borrower's free income
    (:func:`affordability` of income, essential spending and other debts) is proposed.
    """

    term_months: int = 12
    start: date | None = None
    monthly_rate: Decimal = Decimal(0)
    down_payment_cents: int = 0
    penalty: ChargeTreatment = ChargeTreatment.CAPITALISE
    late_fee: ChargeTreatment = ChargeTreatment.CAPITALISE
    fees_not_due: FutureFees = FutureFees.KEEP
    re_age_after: int | None = None
    income_cents: int | None = None
    spending_cents: int = 0
    debts_cents: int = 0


def proposal_for(
    owed: Owed, as_of: date, ask: PlanAsk, rules: PlanRules | None = None
) -> PlanProposal:
    """The plan ``ask`` gives for ``owed`` at the end of ``as_of``: the one service behind
    ``recoup plan propose | sign``, the API's plan proposals and plans, and the account
    page's plan form.

    Raises :class:`PlanRefused` (a rule's limit), :class:`NoAffordablePlan` (with an income,
    no allowed term fits) or ``ValueError`` (terms that cannot make a plan).
    """
    rules = rules or PlanRules()
    terms = PlanTerms(
        term_months=ask.term_months,
        start=ask.start or as_of + timedelta(days=FIRST_DUE_AFTER_DAYS),
        monthly_rate=ask.monthly_rate,
        down_payment_cents=ask.down_payment_cents,
        penalty=ask.penalty,
        late_fee=ask.late_fee,
        fees_not_due=ask.fees_not_due,
        re_age=ReAge.after_payments(ask.re_age_after) if ask.re_age_after else ReAge.at_signing(),
    )
    if ask.income_cents is None:
        return propose_plan(owed, terms, rules)
    affordable = affordability(ask.income_cents, ask.spending_cents, ask.debts_cents)
    suggestion = suggest_term(owed, affordable, terms, rules)
    if suggestion.proposal is None:
        raise NoAffordablePlan(suggestion.reason)
    return suggestion.proposal

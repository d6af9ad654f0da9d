"""Hypothesis properties of adjustments (see "Adjustments" in docs/ledger-rules.md), on the
kernel: a restructure moves debt without changing what is owed, a waiver takes off exactly what
it applied, a reinstatement moves it back, and a negative entry gives back no more than was
adjusted.

*Owed* is the sum of the unpaid amounts (charged - paid - adjusted) of every installment less
the credit balance. Each property looks at the start of a day ``e``, right after step 0: the
account is run through ``e - 1``, then one more day from that state, and what that day
charged and received is taken back out of the end-of-day owed:
``owed at the start of e (after step 0) = owed at the end of e - charges of e + payments of e``
(payments dated ``e`` and the credit pay unpaid amounts or stay credit, so they move owed by
exactly what was paid in).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from recoup.ledger.kernel import KernelResult, effective_payments, run_rules
from recoup.products.spec import ChargeComponent
from tests.differential.portfolio import (
    COMPONENTS,
    GOES_BACK_TO,
    PRODUCTS,
    RandomAccount,
    kernel_frames,
    plan_key,
    restructured_plan,
    started,
)
from tests.oracle import OracleAdjustment, OraclePayment, OraclePlan, run_oracle

START = date(2025, 1, 31)
ONE_DAY = timedelta(days=1)
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

COLUMN = {
    ChargeComponent.PRINCIPAL: "principal",
    ChargeComponent.FEE: "fee",
    ChargeComponent.LATE_FEE: "late_fee",
    ChargeComponent.PENALTY_INTEREST: "penalty",
}


def _charged(c: ChargeComponent) -> str:
    return f"{COLUMN[c]}_cents"


def _paid(c: ChargeComponent) -> str:
    return f"paid_{COLUMN[c]}_cents"


def _adjusted(c: ChargeComponent) -> str:
    return f"adjusted_{COLUMN[c]}_cents"


def _unpaid(c: ChargeComponent) -> pl.Expr:
    return pl.col(_charged(c)) - pl.col(_paid(c)) - pl.col(_adjusted(c))


# Small accounts: one or two plans starting in the first two months, a few payments.
plans = st.lists(
    st.builds(
        lambda n, product, principal, start_offset, term_index: OraclePlan(
            f"P{n}",
            PRODUCTS.products[product],
            principal,
            PRODUCTS.products[product].terms[term_index % len(PRODUCTS.products[product].terms)],
            START + timedelta(days=start_offset),
        ),
        st.integers(0, 5),
        st.sampled_from(sorted(PRODUCTS.products)),
        st.integers(100_00, 20_000_00),
        st.integers(0, 60),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=2,
    unique_by=lambda p: p.plan_id,
)
payments = st.lists(
    st.builds(
        lambda n, amount, offset: OraclePayment(f"Y{n}", amount, START + timedelta(days=offset)),
        st.integers(0, 10**6),
        st.integers(1, 300_000),
        st.integers(0, 400),
    ),
    max_size=8,
    unique_by=lambda p: p.payment_id,
)
# A day after every plan has started (a later plan would not be in scope yet).
day_offsets = st.integers(62, 330)


def _through(account: RandomAccount, day: date) -> KernelResult:
    """The kernel from the first plan through ``day``."""
    installments, accounts, payment_frame, adjustments = kernel_frames(
        [account], with_adjustments=True
    )
    return run_rules(
        started(installments, day),
        accounts,
        effective_payments(payment_frame, day),
        PRODUCTS.products,
        day,
        adjustments=adjustments,
    )


def _next_day(account: RandomAccount, before: KernelResult, day: date) -> KernelResult:
    """The kernel for the single ``day``, from ``before`` (the state at the end of the day
    before), with the plans that start on ``day`` added."""
    installments, accounts, payment_frame, adjustments = kernel_frames(
        [account], with_adjustments=True
    )
    state = before.installments.drop("settled")
    new_rows = started(installments, day).join(
        state.select("plan_key", "period"), on=["plan_key", "period"], how="anti"
    )
    state = pl.concat([state, new_rows.select(state.columns)])
    credit = (
        before.accounts.select("account_key", "credit_balance_cents")
        .join(accounts.select("account_key", "tolerance_cents"), on="account_key")
        .with_columns(pl.lit(day - ONE_DAY).alias("start"))
    )
    return run_rules(
        state,
        credit,
        effective_payments(payment_frame, day),
        PRODUCTS.products,
        day,
        adjustments=adjustments,
    )


def _owed(result: KernelResult) -> int:
    rows = result.installments
    for c in COMPONENTS:  # never negative: paid + adjusted never exceed what was charged
        assert rows.filter(_unpaid(c) < 0).is_empty(), c
        assert rows.filter(pl.col(_adjusted(c)) < 0).is_empty(), c
    unpaid = rows.select(pl.sum_horizontal(*(_unpaid(c) for c in COMPONENTS)).sum()).item()
    return int(unpaid) - int(result.accounts["credit_balance_cents"].item())


def _start_of_day_owed(account: RandomAccount, result: KernelResult, day: date) -> int:
    """Owed right after step 0 of ``day``, from the one-day run ``result`` of that day."""
    charged = int(result.charges["amount_cents"].sum())
    paid_in = sum(
        p.amount_cents for p in account.payments if p.paid_on == day and p.reverses is None
    )
    return _owed(result) + paid_in - charged


def _applied(result: KernelResult) -> dict[int, int]:
    return dict(result.adjustments.select("adjustment_key", "applied_cents").iter_rows())


def _unpaid_by_plan(
    result: KernelResult, account: RandomAccount
) -> dict[str, dict[ChargeComponent, int]]:
    return {
        plan.plan_id: {
            c: int(
                result.installments.filter(pl.col("plan_key") == plan_key(account, plan.plan_id))
                .select(_unpaid(c).sum())
                .item()
            )
            for c in COMPONENTS
        }
        for plan in account.plans
    }


def _adjusted_in(result: KernelResult, key: int | None, c: ChargeComponent) -> int:
    rows = result.installments
    if key is not None:
        rows = rows.filter(pl.col("plan_key") == key)
    return int(rows[_adjusted(c)].sum())


def _oracle(account: RandomAccount, day: date) -> tuple[int, dict[int, int]]:
    """The oracle's owed at the end of ``day`` and the applied amounts of that day's entries."""
    state = run_oracle(account.plans, account.payments, day, adjustments=account.adjustments)
    owed = sum(i.unpaid_total() for i in state.installments) - state.credit_balance
    todays = {a.adjustment_id for a in account.adjustments if a.effective_on == day}
    return owed, {key: cents for key, cents in state.applied.items() if key in todays}


def _with_restructure(
    account: RandomAccount, day: date, term: int, fee_first: bool, frozen_as_charges: bool
) -> tuple[RandomAccount, dict[str, dict[ChargeComponent, int]]]:
    """``account`` with everything its plans have unpaid at the end of ``day - 1`` moved, by
    ``restructure`` entries on ``day``, into a new plan carrying exactly those amounts."""
    unpaid = _unpaid_by_plan(_through(account, day - ONE_DAY), account)
    moved = {c: sum(amounts[c] for amounts in unpaid.values()) for c in COMPONENTS}
    product = account.plans[0].product  # one of the account's: its tolerance stays the same
    new_plan = restructured_plan("R", product, day, moved, term, fee_first, frozen_as_charges)
    entries = [
        OracleAdjustment(len(unpaid) * 10 + n, day, c, amounts[c], "restructure", plan_id)
        for n, (plan_id, amounts) in enumerate(unpaid.items())
        for c in COMPONENTS
        if amounts[c] > 0
    ]
    restructured = replace(
        account,
        plans=[*account.plans, new_plan],
        adjustments=[*account.adjustments, *entries],
    )
    return restructured, unpaid


@SETTINGS
@given(
    plans=plans,
    payments=payments,
    day_offset=day_offsets,
    term=st.integers(1, 12),
    fee_first=st.booleans(),
    frozen_as_charges=st.booleans(),
)
def test_property__a_restructure_of_everything_leaves_the_total_owed_unchanged(
    plans: list[OraclePlan],
    payments: list[OraclePayment],
    day_offset: int,
    term: int,
    fee_first: bool,
    frozen_as_charges: bool,
) -> None:
    day = START + timedelta(days=day_offset)
    account, moved = _with_restructure(
        RandomAccount(1, plans, payments), day, term, fee_first, frozen_as_charges
    )
    before = _through(account, day - ONE_DAY)
    after = _next_day(account, before, day)

    assert _start_of_day_owed(account, after, day) == _owed(before)
    # Every entry moved exactly what it asked for (nothing went to credit), and the old plans
    # owe nothing any more.
    entries = [a for a in account.adjustments if a.effective_on == day]
    assert _applied(after) == {a.adjustment_id: a.amount for a in entries}
    assert all(
        amount == 0
        for plan_id, amounts in _unpaid_by_plan(after, account).items()
        if plan_id in moved
        for amount in amounts.values()
    )
    assert (_owed(after), _applied(after)) == _oracle(account, day)


@SETTINGS
@given(
    plans=plans,
    payments=payments,
    day_offset=day_offsets,
    component=st.sampled_from(COMPONENTS),
    amount=st.one_of(st.none(), st.integers(0, 3_000), st.integers(0, 3_000_000)),
    plan_index=st.integers(-1, 1),
    kind=st.sampled_from(["waiver", "settlement"]),
)
@example(  # a settlement with credit on the account and installments not yet due:
    # the credit pays every installment first, and the settlement writes off the rest
    plans=[OraclePlan("P0", PRODUCTS.products["card"], 66073, 12, START)],
    payments=[OraclePayment("Y0", 30000, START + timedelta(days=15))],
    day_offset=80,
    component=ChargeComponent.PRINCIPAL,
    amount=None,
    plan_index=-1,
    kind="settlement",
)
def test_property__a_waiver_takes_off_exactly_what_it_applied_and_never_below_zero(
    plans: list[OraclePlan],
    payments: list[OraclePayment],
    day_offset: int,
    component: ChargeComponent,
    amount: int | None,
    plan_index: int,
    kind: str,
) -> None:
    day = START + timedelta(days=day_offset)
    scope = None if plan_index < 0 else plans[plan_index % len(plans)].plan_id
    waiver = OracleAdjustment(1, day, component, amount, kind, scope)
    account = RandomAccount(1, plans, payments, [waiver])
    before = _through(account, day - ONE_DAY)
    after = _next_day(account, before, day)

    applied = _applied(after)[1]
    key = None if scope is None else plan_key(account, scope)
    rows = before.installments
    if key is not None:
        rows = rows.filter(pl.col("plan_key") == key)
    unpaid_in_scope = int(rows.select(_unpaid(component).sum()).item())
    requested = unpaid_in_scope if amount is None else min(amount, unpaid_in_scope)
    if kind == "waiver":
        assert applied == requested
    else:  # the credit paid what it could first: the settlement writes off at most the rest
        assert 0 <= applied <= requested
    assert _adjusted_in(after, key, component) - _adjusted_in(before, key, component) == applied
    assert _start_of_day_owed(account, after, day) == _owed(before) - applied  # (>= 0 inside)
    assert (_owed(after), _applied(after)) == _oracle(account, day)


@SETTINGS
@given(
    plans=plans,
    payments=payments,
    day_offset=st.integers(62, 200),
    later=st.integers(1, 150),
    term=st.integers(1, 12),
    fee_first=st.booleans(),
    frozen_as_charges=st.booleans(),
    new_plan_payments=st.lists(st.tuples(st.integers(1, 200_000), st.integers(0, 150)), max_size=4),
)
def test_property__a_reinstatement_moves_the_remainder_back_and_owed_stays_the_same(
    plans: list[OraclePlan],
    payments: list[OraclePayment],
    day_offset: int,
    later: int,
    term: int,
    fee_first: bool,
    frozen_as_charges: bool,
    new_plan_payments: list[tuple[int, int]],
) -> None:
    day = START + timedelta(days=day_offset)
    back_on = day + timedelta(days=later)
    account, _moved = _with_restructure(
        RandomAccount(1, plans, payments), day, term, fee_first, frozen_as_charges
    )
    account.payments.extend(  # the new plan, partly paid (or not) before it breaks
        OraclePayment(f"N{n}", amount, day + timedelta(days=offset))
        for n, (amount, offset) in enumerate(new_plan_payments)
    )
    before = _through(account, back_on - ONE_DAY)
    # The reverse move: what the new plan has unpaid goes back where it came from (its fee,
    # with the frozen charges in it, to the old fees, late fees and penalties), as far as the
    # old plans have it adjusted, so that every cent taken off one side lands on the other.
    remainder = _unpaid_by_plan(before, account)["R"]
    old = [plan.plan_id for plan in plans]
    room = {p: {c: _adjusted_in(before, plan_key(account, p), c) for c in COMPONENTS} for p in old}
    entries: list[OracleAdjustment] = []
    for c in COMPONENTS:
        left = remainder[c]
        gives = []
        for target in GOES_BACK_TO[c]:
            for plan_id in old:
                give = min(left, room[plan_id][target])
                room[plan_id][target] -= give
                left -= give
                if give:
                    gives.append((plan_id, target, give))
        if not gives:
            continue
        moved_back = remainder[c] - left
        entries.append(
            OracleAdjustment(100 + len(entries), back_on, c, moved_back, "reinstatement", "R")
        )
        entries.extend(
            OracleAdjustment(
                100 + len(entries) + n, back_on, target, -give, "reinstatement", plan_id
            )
            for n, (plan_id, target, give) in enumerate(gives)
        )
    account.adjustments.extend(entries)
    after = _next_day(account, before, back_on)

    assert _start_of_day_owed(account, after, back_on) == _owed(before)
    assert _applied(after) == {a.adjustment_id: a.amount for a in entries}
    assert (_owed(after), _applied(after)) == _oracle(account, back_on)


@SETTINGS
@given(
    plans=plans,
    payments=payments,
    waivers=st.lists(
        st.tuples(
            st.integers(62, 250),
            st.sampled_from(COMPONENTS),
            st.one_of(st.none(), st.integers(0, 500_000)),
            st.integers(-1, 1),
        ),
        min_size=1,
        max_size=4,
    ),
    day_offset=st.integers(251, 330),
    which=st.integers(0, 3),  # the component of one of the waivers, mostly
    give_back=st.one_of(st.integers(1, 5_000), st.integers(1, 3_000_000)),
    plan_index=st.integers(-1, 1),
)
def test_property__a_negative_entry_never_gives_back_more_than_was_adjusted(
    plans: list[OraclePlan],
    payments: list[OraclePayment],
    waivers: list[tuple[int, ChargeComponent, int | None, int]],
    day_offset: int,
    which: int,
    give_back: int,
    plan_index: int,
) -> None:
    def scope(index: int) -> str | None:
        return None if index < 0 else plans[index % len(plans)].plan_id

    day = START + timedelta(days=day_offset)
    entries = [
        OracleAdjustment(n, START + timedelta(days=offset), c, amount, "waiver", scope(index))
        for n, (offset, c, amount, index) in enumerate(waivers)
    ]
    component = waivers[which][1] if which < len(waivers) else COMPONENTS[which]
    negative = OracleAdjustment(99, day, component, -give_back, "waiver", scope(plan_index))
    account = RandomAccount(1, plans, payments, [*entries, negative])
    before = _through(account, day - ONE_DAY)
    after = _next_day(account, before, day)

    key = None if negative.plan_id is None else plan_key(account, negative.plan_id)
    adjusted_before = _adjusted_in(before, key, component)
    restored = -_applied(after)[99]
    assert restored == min(give_back, adjusted_before)  # what is left lapses
    assert _adjusted_in(after, key, component) == adjusted_before - restored
    assert _start_of_day_owed(account, after, day) == _owed(before) + restored
    assert (_owed(after), _applied(after)) == _oracle(account, day)

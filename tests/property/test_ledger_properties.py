"""Hypothesis properties of the ledger's money invariants."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoup.ledger.allocation import allocate
from recoup.ledger.kernel import effective_payments, run_rules
from recoup.products import ChargeComponent
from tests.differential.portfolio import PRODUCTS, RandomAccount, kernel_frames, started
from tests.oracle import OraclePayment, OraclePlan

START = date(2025, 1, 31)
AS_OF = date(2026, 3, 1)

components = st.permutations(list(ChargeComponent))


@given(
    amount=st.integers(min_value=0, max_value=10**9),
    unpaid=st.lists(st.integers(min_value=0, max_value=10**8), min_size=4, max_size=4),
    order=components,
)
def test_property__an_allocation_sums_to_the_payment(
    amount: int, unpaid: list[int], order: list[ChargeComponent]
) -> None:
    owed = dict(zip(ChargeComponent, unpaid, strict=True))
    applied, left = allocate(amount, owed, order)
    assert sum(applied.values()) + left == amount
    assert all(0 <= applied[c] <= owed[c] for c in ChargeComponent)
    # Nothing is left over while something is still owed.
    assert left == 0 or all(applied[c] == owed[c] for c in ChargeComponent)


plans = st.lists(
    st.builds(
        lambda n, product, principal, start_offset, term_index: OraclePlan(
            f"P{n}",
            PRODUCTS.products[product],
            principal,
            PRODUCTS.products[product].terms[term_index % len(PRODUCTS.products[product].terms)],
            START + timedelta(days=start_offset),
        ),
        st.integers(0, 9),
        st.sampled_from(sorted(PRODUCTS.products)),
        st.integers(100_00, 50_000_00),
        st.integers(0, 120),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda p: p.plan_id,
)
payments = st.lists(
    st.builds(
        lambda n, amount, offset: OraclePayment(f"Y{n}", amount, START + timedelta(days=offset)),
        st.integers(0, 10**6),
        st.integers(1, 600_000),
        st.integers(0, 390),
    ),
    max_size=12,
    unique_by=lambda p: p.payment_id,
)


def _run(account: RandomAccount, as_of: date = AS_OF):  # type: ignore[no-untyped-def]
    installments, accounts, payment_frame = kernel_frames([account])
    return run_rules(
        started(installments, as_of),
        accounts,
        effective_payments(payment_frame, as_of),
        PRODUCTS.products,
        as_of,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=plans, payments=payments)
def test_property__money_is_conserved_and_nothing_goes_negative(
    plans: list[OraclePlan], payments: list[OraclePayment]
) -> None:
    result = _run(RandomAccount(1, plans, payments))
    rows = result.installments
    paid = rows.select(
        pl.sum_horizontal(
            "paid_principal_cents", "paid_fee_cents", "paid_late_fee_cents", "paid_penalty_cents"
        ).sum()
    ).item()
    credit = result.accounts["credit_balance_cents"].item()
    assert paid + credit == sum(p.amount_cents for p in payments if p.paid_on <= AS_OF)
    for component in ("principal", "fee", "late_fee", "penalty"):
        charged = rows[f"{component}_cents"]
        settled = rows[f"paid_{component}_cents"]
        assert (settled >= 0).all()
        assert (settled <= charged).all()
    assert credit >= 0
    assert (result.accounts["overdue_cents"] >= 0).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plans=plans,
    payments=payments,
    extra=st.integers(1, 600_000),
    day=st.integers(0, 370),
    delay=st.integers(0, 20),
)
def test_property__a_reversal_restores_the_exact_prior_state(
    plans: list[OraclePlan], payments: list[OraclePayment], extra: int, day: int, delay: int
) -> None:
    paid_on = START + timedelta(days=day)
    assert paid_on + timedelta(days=delay) <= AS_OF  # the reversal is known as of AS_OF
    returned = OraclePayment("returned", extra, paid_on)
    reversal = OraclePayment("reversal", extra, paid_on + timedelta(days=delay), "returned")
    without = _run(RandomAccount(1, plans, payments))
    reversed_ = _run(RandomAccount(1, plans, [*payments, returned, reversal]))
    assert reversed_.installments.equals(without.installments)
    assert reversed_.accounts.equals(without.accounts)
    assert reversed_.moves.equals(without.moves)

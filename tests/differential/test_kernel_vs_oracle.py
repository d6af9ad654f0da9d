"""The vectorised kernel against the day-by-day oracle, to the cent, on random portfolios."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from recoup.close.run import windows
from recoup.ledger.kernel import effective_payments, run_rules
from tests.differential.portfolio import PRODUCTS, kernel_frames, random_portfolio, started
from tests.oracle import OracleState, run_oracle

FIRST_DAY = date(2025, 1, 1)


def _compare(portfolio, result, as_of: date) -> None:  # type: ignore[no-untyped-def]
    accounts = {row["account_key"]: row for row in result.accounts.iter_rows(named=True)}
    installments = result.installments.partition_by("account_key", as_dict=True)
    moves = result.moves.partition_by("account_key", as_dict=True)
    mismatches = []
    for account in portfolio:
        expected: OracleState = run_oracle(account.plans, account.payments, as_of)
        got = accounts[account.account_key]
        got_state = {
            "dpd": got["dpd"],
            "bucket": got["bucket"],
            "credit": got["credit_balance_cents"],
            "overdue": {
                "principal": got["overdue_principal_cents"],
                "fee": got["overdue_fee_cents"],
                "late_fee": got["overdue_late_fee_cents"],
                "penalty_interest": got["overdue_penalty_cents"],
                "total": got["overdue_cents"],
            },
            "outstanding": got["outstanding_principal_cents"],
        }
        want_state = {
            "dpd": expected.dpd,
            "bucket": expected.bucket,
            "credit": expected.credit_balance,
            "overdue": dict(expected.overdue),
            "outstanding": expected.outstanding_principal,
        }
        rows = installments.get((account.account_key,), result.installments.clear()).sort(
            "due_date", "plan_id", "period"
        )
        got_rows = [
            (
                r["plan_id"],
                r["period"],
                r["late_fee_cents"],
                r["penalty_cents"],
                r["paid_principal_cents"],
                r["paid_fee_cents"],
                r["paid_late_fee_cents"],
                r["paid_penalty_cents"],
            )
            for r in rows.iter_rows(named=True)
        ]
        want_rows = [
            (
                i.plan_id,
                i.period,
                i.late_fee,
                i.penalty,
                i.paid_principal,
                i.paid_fee,
                i.paid_late_fee,
                i.paid_penalty,
            )
            for i in expected.installments
        ]
        account_moves = moves.get((account.account_key,))
        got_moves = (
            [
                (m["moved_on"], m["from_bucket"], m["to_bucket"], m["dpd"])
                for m in account_moves.iter_rows(named=True)
            ]
            if account_moves is not None
            else []
        )
        want_moves = [(m.moved_on, m.from_bucket, m.to_bucket, m.dpd) for m in expected.moves]
        if (got_state, got_rows, got_moves) != (want_state, want_rows, want_moves):
            mismatches.append(
                (
                    account.account_key,
                    got_state,
                    want_state,
                    got_rows,
                    want_rows,
                    got_moves,
                    want_moves,
                )
            )
    assert not mismatches, f"{len(mismatches)} accounts differ; first: {mismatches[0]}"


def _run_and_compare(portfolio, as_of: date) -> None:  # type: ignore[no-untyped-def]
    """One run of the rules from each account's first plan through ``as_of``, against the
    oracle."""
    installments, accounts, payments = kernel_frames(portfolio)
    result = run_rules(
        started(installments, as_of),
        accounts,
        effective_payments(payments, as_of),
        PRODUCTS.products,
        as_of,
    )
    _compare(portfolio, result, as_of)


@pytest.mark.parametrize("seed", [1, 2])
def test_kernel__one_run_from_the_first_plan_equals_the_oracle(seed: int) -> None:
    portfolio = random_portfolio(seed, accounts=1500, first_day=FIRST_DAY, days=420)
    for as_of in (FIRST_DAY + timedelta(days=200), FIRST_DAY + timedelta(days=420)):
        _run_and_compare(portfolio, as_of)


def test_kernel__monthly_windows_chained_equal_the_oracle() -> None:
    """Closing month by month, each window starting from the last one's state, gives the
    same ledger as one run (reversals are left out: the close replays those accounts)."""
    portfolio = random_portfolio(3, accounts=1500, first_day=FIRST_DAY, days=420)
    for account in portfolio:
        account.payments[:] = [p for p in account.payments if p.reverses is None]
    installments, accounts, payments = kernel_frames(portfolio)
    through = FIRST_DAY + timedelta(days=420)
    start = accounts["start"].min()
    state = installments.drop("start_date")
    credit = accounts.with_columns(pl.lit(start).alias("start"))
    all_moves = []
    for window_start, window_end in windows(start, through):  # type: ignore[arg-type]
        result = run_rules(
            state,
            credit.with_columns(pl.lit(window_start - timedelta(days=1)).alias("start")),
            effective_payments(payments, window_end),
            PRODUCTS.products,
            window_end,
        )
        state = result.installments.drop("settled")
        credit = result.accounts.select("account_key", "credit_balance_cents").join(
            accounts.select("account_key", "tolerance_cents"), on="account_key"
        )
        all_moves.append(result.moves)
    final = run_rules(
        state,
        credit.with_columns(pl.lit(through).alias("start")),
        payments.clear(),
        PRODUCTS.products,
        through,
    )
    chained = type(final)(
        final.installments, final.accounts, final.charges, pl.concat(all_moves), final.snapshots
    )
    _compare(portfolio, chained, through)


@pytest.mark.parametrize("product_id", sorted(PRODUCTS.products))
def test_kernel__accounts_of_one_product_equal_the_oracle(product_id: str) -> None:
    """When every installment in a run shares one allocation order the kernel pays by that
    order without comparing ranks row by row; each product's order against the oracle (the
    mixed portfolios above take the row-by-row path)."""
    portfolio = [
        account
        for account in random_portfolio(4, accounts=3000, first_day=FIRST_DAY, days=300)
        if all(plan.product.id == product_id for plan in account.plans)
    ]
    assert len(portfolio) > 200
    _run_and_compare(portfolio, FIRST_DAY + timedelta(days=300))

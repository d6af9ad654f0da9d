"""The kernel against the day-by-day oracle, to the cent, on random portfolios with adjustments:
waivers, settlements, restructures into plans with their own schedules, reinstatements, and
moves larger than what is left (see "Adjustments" in docs/ledger-rules.md)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest

from recoup.close.run import windows
from recoup.ledger.kernel import KernelResult, effective_payments, run_rules
from recoup.products.spec import ChargeComponent
from tests.differential.portfolio import (
    PRODUCTS,
    RandomAccount,
    kernel_frames,
    random_portfolio,
    started,
)
from tests.oracle import OracleAdjustment, OraclePayment, OraclePlan, OracleState, run_oracle

FIRST_DAY = date(2025, 1, 1)
DAYS = 420
ACCOUNTS = 1000


def _portfolio(seed: int) -> list[RandomAccount]:
    portfolio = random_portfolio(
        seed, accounts=ACCOUNTS, first_day=FIRST_DAY, days=DAYS, adjustments=True
    )
    kinds = {a.kind for account in portfolio for a in account.adjustments}
    assert kinds == {"waiver", "settlement", "restructure", "reinstatement"}
    return portfolio


def _expected(account: RandomAccount, as_of: date) -> dict[str, Any]:
    state: OracleState = run_oracle(
        account.plans, account.payments, as_of, adjustments=account.adjustments
    )
    return {
        "state": {
            "dpd": state.dpd,
            "bucket": state.bucket,
            "credit": state.credit_balance,
            "overdue": dict(state.overdue),
            "outstanding": state.outstanding_principal,
        },
        "rows": [
            (
                i.plan_id,
                i.period,
                i.principal,
                i.fee,
                i.late_fee,
                i.penalty,
                i.paid_principal,
                i.paid_fee,
                i.paid_late_fee,
                i.paid_penalty,
                i.adjusted_principal,
                i.adjusted_fee,
                i.adjusted_late_fee,
                i.adjusted_penalty,
                i.unpaid_total() == 0,
            )
            for i in state.installments
        ],
        "moves": [(m.moved_on, m.from_bucket, m.to_bucket, m.dpd) for m in state.moves],
        "applied": dict(state.applied),
    }


def _got(
    got: dict[str, Any],
    rows: pl.DataFrame | None,
    moves: pl.DataFrame | None,
    applied: dict[int, int],
) -> dict[str, Any]:
    return {
        "state": {
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
        },
        "rows": []
        if rows is None
        else [
            (
                r["plan_id"],
                r["period"],
                r["principal_cents"],
                r["fee_cents"],
                r["late_fee_cents"],
                r["penalty_cents"],
                r["paid_principal_cents"],
                r["paid_fee_cents"],
                r["paid_late_fee_cents"],
                r["paid_penalty_cents"],
                r["adjusted_principal_cents"],
                r["adjusted_fee_cents"],
                r["adjusted_late_fee_cents"],
                r["adjusted_penalty_cents"],
                r["settled"],
            )
            for r in rows.sort("due_date", "plan_id", "period").iter_rows(named=True)
        ],
        "moves": []
        if moves is None
        else [
            (m["moved_on"], m["from_bucket"], m["to_bucket"], m["dpd"])
            for m in moves.iter_rows(named=True)
        ],
        "applied": applied,
    }


def _difference(got: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    """What differs, as (kernel, oracle): installment rows and entries one by one."""
    differing: dict[str, Any] = {}
    for part in ("state", "moves"):
        if got[part] != want[part]:
            differing[part] = (got[part], want[part])
    if got["rows"] != want["rows"]:
        differing["rows"] = [
            (g, w) for g, w in zip(got["rows"], want["rows"], strict=False) if g != w
        ] or (len(got["rows"]), len(want["rows"]))
    if got["applied"] != want["applied"]:
        differing["applied"] = {
            key: (got["applied"].get(key), want["applied"].get(key))
            for key in sorted(got["applied"].keys() | want["applied"].keys())
            if got["applied"].get(key) != want["applied"].get(key)
        }
    return differing


def _compare(portfolio: list[RandomAccount], result: KernelResult, as_of: date) -> None:
    accounts = {row["account_key"]: row for row in result.accounts.iter_rows(named=True)}
    installments = result.installments.partition_by("account_key", as_dict=True)
    moves = result.moves.partition_by("account_key", as_dict=True)
    applied_rows = dict(result.adjustments.select("adjustment_key", "applied_cents").iter_rows())
    assert len(applied_rows) == result.adjustments.height, "an entry reported twice"
    mismatches = []
    for account in portfolio:
        key = account.account_key
        own = {a.adjustment_id for a in account.adjustments}
        got = _got(
            accounts[key],
            installments.get((key,)),
            moves.get((key,)),
            {k: v for k, v in applied_rows.items() if k in own},
        )
        want = _expected(account, as_of)
        if got != want:
            mismatches.append((key, _difference(got, want), account.adjustments))
    if mismatches:
        key, differing, entries = mismatches[0]
        pytest.fail(
            f"as of {as_of}, {len(mismatches)} accounts differ "
            f"({[m[0] for m in mismatches][:20]}...); the first, account {key}, "
            f"as (kernel, oracle): {differing}; its adjustments: {entries}",
            pytrace=False,
        )


@pytest.mark.parametrize("seed", [11, 12])
def test_adjustments__one_run_from_the_first_plan_equals_the_oracle(seed: int) -> None:
    portfolio = _portfolio(seed)
    installments, accounts, payments, adjustments = kernel_frames(portfolio, with_adjustments=True)
    for as_of in (FIRST_DAY + timedelta(days=230), FIRST_DAY + timedelta(days=DAYS)):
        result = run_rules(
            started(installments, as_of),
            accounts,
            effective_payments(payments, as_of),
            PRODUCTS.products,
            as_of,
            adjustments=adjustments,
        )
        _compare(portfolio, result, as_of)


def test_adjustments__monthly_windows_chained_equal_the_oracle() -> None:
    """Closing month by month, each window starting from the last one's state (adjusted
    amounts included), gives the same ledger as the oracle; each entry is applied once, in
    the window of its day (reversals are left out: the close replays those accounts)."""
    portfolio = _portfolio(13)
    for account in portfolio:
        account.payments[:] = [p for p in account.payments if p.reverses is None]
    installments, accounts, payments, adjustments = kernel_frames(portfolio, with_adjustments=True)
    through = FIRST_DAY + timedelta(days=DAYS)
    start = accounts["start"].min()
    state = installments.drop("start_date")
    credit = accounts.with_columns(pl.lit(start).alias("start"))
    all_moves = []
    all_applied = []
    for window_start, window_end in windows(start, through):  # type: ignore[arg-type]
        result = run_rules(
            state,
            credit.with_columns(pl.lit(window_start - timedelta(days=1)).alias("start")),
            effective_payments(payments, window_end),
            PRODUCTS.products,
            window_end,
            adjustments=adjustments,
        )
        state = result.installments.drop("settled")
        credit = result.accounts.select("account_key", "credit_balance_cents").join(
            accounts.select("account_key", "tolerance_cents"), on="account_key"
        )
        all_moves.append(result.moves)
        all_applied.append(result.adjustments)
    final = run_rules(
        state,
        credit.with_columns(pl.lit(through).alias("start")),
        payments.clear(),
        PRODUCTS.products,
        through,
        adjustments=adjustments,  # all dated on or before `through`: none applies again
    )
    assert final.adjustments.is_empty()
    chained = dataclasses.replace(
        final, moves=pl.concat(all_moves), adjustments=pl.concat(all_applied)
    )
    _compare(portfolio, chained, through)


def test_adjustments__on_a_settlement_day_the_credit_pays_before_every_entry() -> None:
    """On a day with a settlement entry the credit first pays every installment, due or not;
    then the entries apply in id order, so a waiver made before the settlement finds the
    installments the credit has paid already."""
    e = date(2025, 4, 21)
    # 660.73 over 12 months from 20 January (55.06 principal + 3.96 fee a month); 300.00 paid
    # on 15 February leaves 122.94 of credit after three installments, on 20 April.
    account = RandomAccount(
        1,
        [OraclePlan("a", PRODUCTS.products["card"], 66073, 12, date(2025, 1, 20))],
        [OraclePayment("1", 30000, date(2025, 2, 15))],
        [
            OracleAdjustment(1, e, ChargeComponent.PRINCIPAL, 100, "waiver"),
            OracleAdjustment(2, e, ChargeComponent.PRINCIPAL, None, "settlement"),
        ],
    )
    installments, accounts, payments, adjustments = kernel_frames([account], with_adjustments=True)
    result = run_rules(
        started(installments, e),
        accounts,
        effective_payments(payments, e),
        PRODUCTS.products,
        e,
        adjustments=adjustments,
    )
    # The credit (122.94) pays 4 and 5 (3.96 + 55.06 each), then 6's fee 3.96 and 0.94 of its
    # principal; the waiver takes 1.00 of 6's principal and the settlement the rest.
    expected = run_oracle(account.plans, account.payments, e, adjustments=account.adjustments)
    assert [i.adjusted_principal for i in expected.installments][3:6] == [0, 0, 5412]
    assert expected.applied == {
        1: 100,
        2: sum(i.adjusted_principal for i in expected.installments) - 100,
    }
    _compare([account], result, e)


def test_adjustments__re_ageing_after_a_plans_first_payments_equals_the_oracle() -> None:
    """Accounts restructured into a plan that re-ages them only after its first two
    installments are paid: DPD, buckets and moves as the oracle's ("Re-ageing")."""
    from tests.differential.portfolio import plan_key
    from tests.oracle import OracleReAge

    portfolio = [
        account
        for account in _portfolio(14)
        if any(a.kind == "restructure" for a in account.adjustments)
        and not any(a.kind == "reinstatement" for a in account.adjustments)
    ]
    re_ages: dict[int, OracleReAge] = {}
    for account in portfolio:
        signed = min(a.effective_on for a in account.adjustments if a.kind == "restructure")
        new_plan = next(p for p in account.plans if p.schedule and p.start_date == signed)
        eve = signed - timedelta(days=1)
        before = run_oracle(account.plans, account.payments, eve, adjustments=account.adjustments)
        if before.dpd and len(new_plan.schedule) >= 2:
            re_ages[account.account_key] = OracleReAge(
                new_plan.plan_id, eve - timedelta(days=before.dpd), new_plan.schedule[1].due_date
            )
    portfolio = [a for a in portfolio if a.account_key in re_ages]
    assert len(portfolio) > 20
    installments, accounts, payments, adjustments = kernel_frames(portfolio, with_adjustments=True)
    terms = pl.DataFrame(
        [
            {
                "account_key": account.account_key,
                "aged_from": re_ages[account.account_key].aged_from,
                "re_age_plan_key": plan_key(account, re_ages[account.account_key].plan_id),
                "re_age_through": re_ages[account.account_key].re_age_through,
            }
            for account in portfolio
        ]
    )
    reaged = 0
    for as_of in (FIRST_DAY + timedelta(days=300), FIRST_DAY + timedelta(days=DAYS)):
        result = run_rules(
            started(installments, as_of),
            accounts.join(terms, on="account_key", how="left"),
            effective_payments(payments, as_of),
            PRODUCTS.products,
            as_of,
            adjustments=adjustments,
        )
        got = {r["account_key"]: r for r in result.accounts.iter_rows(named=True)}
        moves = result.moves.partition_by("account_key", as_dict=True)
        for account in portfolio:
            key = account.account_key
            want = run_oracle(
                account.plans,
                account.payments,
                as_of,
                adjustments=account.adjustments,
                re_age=re_ages[key],
            )
            plain = run_oracle(
                account.plans, account.payments, as_of, adjustments=account.adjustments
            )
            reaged += want.dpd != plain.dpd
            got_moves = (
                [
                    (m["moved_on"], m["from_bucket"], m["to_bucket"], m["dpd"])
                    for m in moves[(key,)].iter_rows(named=True)
                ]
                if (key,) in moves
                else []
            )
            assert (got[key]["dpd"], got[key]["bucket"], got_moves) == (
                want.dpd,
                want.bucket,
                [(m.moved_on, m.from_bucket, m.to_bucket, m.dpd) for m in want.moves],
            ), (key, re_ages[key])
    assert reaged > 0  # some accounts are still waiting to be re-aged: the rule was exercised

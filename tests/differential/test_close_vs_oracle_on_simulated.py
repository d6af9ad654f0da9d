"""The whole path on a simulated portfolio: simulate, import into SQLite, close in monthly
windows, and every account's stored state and moves equal the day-by-day oracle's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml

from recoup.close import close_through
from recoup.importer import import_directory
from recoup.money import parse_cents
from recoup.products import parse_catalog
from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.store.engine import open_store
from tests.integration.ledger_rows import stored_ledger
from tests.oracle import OraclePayment, OraclePlan, run_oracle

AS_OF = date(2026, 11, 28)


def test_close__simulated_portfolio_equals_the_oracle_to_the_cent(tmp_path: Path) -> None:
    portfolio = simulate_portfolio(2000, 2024, AS_OF)
    write_portfolio(portfolio, tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    import_directory(store, tmp_path, show_progress=False)
    close_through(store, date(2026, 6, 30))
    close_through(store, AS_OF)

    catalog = parse_catalog(yaml.safe_load(portfolio.products_yaml))
    plans: dict[str, list[OraclePlan]] = {}
    for row in portfolio.plans.iter_rows(named=True):
        plans.setdefault(row["account_id"], []).append(
            OraclePlan(
                row["plan_id"],
                catalog.get(row["product_id"]),
                parse_cents(row["principal"]),
                row["term"],
                row["start_date"],
            )
        )
    payments: dict[str, list[OraclePayment]] = {}
    for row in portfolio.payments.iter_rows(named=True):
        payments.setdefault(row["account_id"], []).append(
            OraclePayment(
                row["payment_id"], parse_cents(row["amount"]), row["paid_on"], row["reverses"]
            )
        )
    accounts, _, moves = stored_ledger(store)
    move_counts = dict(moves.group_by("account_id").len().iter_rows())
    differences = []
    delinquent = 0
    for row in accounts.values():
        expected = run_oracle(plans[row["account_id"]], payments.get(row["account_id"], []), AS_OF)
        delinquent += expected.dpd > 0
        have = (
            row["dpd"],
            row["bucket"],
            row["credit"],
            row["overdue"],
            move_counts.get(row["account_id"], 0),
        )
        want = (
            expected.dpd,
            expected.bucket,
            expected.credit_balance,
            expected.overdue["total"],
            len(expected.moves),
        )
        if have != want:
            differences.append((row["account_id"], have, want))
    assert len(accounts) == 2000
    assert delinquent > 50  # the portfolio exercises the delinquent paths
    assert not differences, f"{len(differences)} accounts differ; first: {differences[:3]}"

"""Writing a random test portfolio (tests/differential/portfolio.py) in the import layout."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl
import yaml

from recoup.money import format_cents
from tests.differential.portfolio import PRODUCTS, RandomAccount
from tests.oracle import OraclePayment


def write_products(directory: Path) -> None:
    spec = {"products": [p.to_spec() for p in PRODUCTS.products.values()]}
    (directory / "products.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def write_accounts(directory: Path, accounts: Iterable[RandomAccount]) -> None:
    accounts = list(accounts)
    pl.DataFrame(
        {
            "borrower_id": [f"B{a.account_key}" for a in accounts],
            "name": [f"Borrower {a.account_key}" for a in accounts],
            "phone": [f"+86138{a.account_key:08d}" for a in accounts],
        }
    ).write_csv(directory / "borrowers.csv")
    pl.DataFrame(
        [
            {
                "plan_id": plan.plan_id,
                "account_id": f"A{a.account_key}",
                "borrower_id": f"B{a.account_key}",
                "product_id": plan.product.id,
                "principal": format_cents(plan.principal_cents),
                "term": plan.term,
                "start_date": plan.start_date.isoformat(),
            }
            for a in accounts
            for plan in a.plans
        ]
    ).write_csv(directory / "plans.csv")


def write_payments(
    directory: Path, payments: Iterable[tuple[int, OraclePayment]], name: str = "payments.csv"
) -> None:
    rows = [
        {
            "payment_id": p.payment_id,
            "account_id": f"A{key}",
            "amount": format_cents(p.amount_cents),
            "paid_on": p.paid_on.isoformat(),
            "reverses": p.reverses or "",
        }
        for key, p in payments
    ]
    schema = {c: pl.String for c in ("payment_id", "account_id", "amount", "paid_on", "reverses")}
    pl.DataFrame(rows, schema=schema).write_csv(directory / name)

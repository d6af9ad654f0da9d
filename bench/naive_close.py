"""The naive close, for comparison: a loop over accounts with ORM objects and queries per
account, as the open-source systems do their close of business.

    python bench/naive_close.py --database-url sqlite:///bench/out/bench.db --sample 2000

For each of ``--sample`` accounts it loads the account, its plans' installments and its
payments as ORM objects (three queries per account), ages it through the next day with the
same rules (the single-account path of :mod:`recoup.ledger.account_view`), and sets the
results on the ORM objects; the session is rolled back at the end so the store is unchanged.
It prints seconds per account and the portfolio time this would take, to set beside the
vectorised close's figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy.ext.automap import automap_base
from sqlalchemy.orm import Session

from recoup.close import last_closed_day
from recoup.ledger.account_view import view_account
from recoup.ledger.kernel import INSTALLMENT_INPUT
from recoup.store import tables as t
from recoup.store.engine import open_store
from recoup.store.ledger_queries import PAYMENT_SCHEMA
from recoup.store.repository import load_catalog_from_store


def naive_close(engine: sa.Engine, sample: int) -> tuple[int, float]:
    """Age the first ``sample`` accounts through the day after the last closed day the naive
    way; return how many accounts it aged and the seconds it took. Changes nothing."""
    Base = automap_base(metadata=t.metadata)
    Base.prepare()
    Account, Plan = Base.classes.accounts, Base.classes.plans
    Installment, Payment = Base.classes.installments, Base.classes.payments

    with engine.connect() as conn:
        catalog = load_catalog_from_store(conn)
        closed = last_closed_day(conn)
    if closed is None:
        raise SystemExit("close the store first (bench/close_portfolio.py or bench/scale.py)")
    day = closed + timedelta(days=1)

    clock = time.perf_counter()
    with Session(engine) as session:
        accounts = session.query(Account).order_by(Account.account_key).limit(sample).all()
        for account in accounts:
            rows = (
                session.query(Installment, Plan)
                .join(Plan, Plan.plan_key == Installment.plan_key)
                .filter(Installment.account_key == account.account_key)
                .all()
            )
            payments = (
                session.query(Payment).filter(Payment.account_key == account.account_key).all()
            )
            installments = pl.DataFrame(
                [
                    {name: getattr(i, name, None) for name in INSTALLMENT_INPUT}
                    | {"plan_id": p.plan_id, "product_id": p.product_id, "start_date": p.start_date}
                    for i, p in rows
                ],
                schema=dict(INSTALLMENT_INPUT) | {"start_date": pl.Date},
            )
            payment_frame = pl.DataFrame(
                [{name: getattr(p, name) for name in PAYMENT_SCHEMA} for p in payments],
                schema=PAYMENT_SCHEMA,
            )
            view = view_account(
                account.account_key,
                account.account_id,
                account.currency,
                installments,
                payment_frame,
                catalog.products,
                day,
                catalog.buckets,
            )
            account.dpd = view.state["dpd"]
            account.bucket = view.state["bucket"]
            account.overdue_cents = view.state["overdue_cents"]
            account.credit_balance_cents = view.state["credit_balance_cents"]
            by_key = {
                (r["plan_key"], r["period"]): r for r in view.installments.iter_rows(named=True)
            }
            for installment, _ in rows:
                new = by_key.get((installment.plan_key, installment.period))
                if new is not None:
                    installment.paid_principal_cents = new["paid_principal_cents"]
                    installment.penalty_cents = new["penalty_cents"]
            session.flush()
        session.rollback()
    return len(accounts), time.perf_counter() - clock


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--sample", type=int, default=10_000)
    args = parser.parse_args()

    engine = open_store(args.database_url)
    with engine.connect() as conn:
        day = last_closed_day(conn)
        portfolio = conn.execute(sa.select(sa.func.count()).select_from(t.accounts)).scalar_one()
    aged, seconds = naive_close(engine, args.sample)
    per_account = seconds / max(aged, 1)
    print(
        f"naive close of the day after {day}: {aged:,} accounts in {seconds:.1f} s, "
        f"{per_account * 1000:.1f} ms per account; the whole portfolio of {portfolio:,} "
        f"would take {per_account * portfolio:,.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

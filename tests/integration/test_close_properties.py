"""Hypothesis properties of the close on a real (SQLite) store."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoup.close import close_through
from recoup.importer import import_directory
from recoup.store import tables as t
from recoup.store.engine import open_store
from tests.differential.portfolio import RandomAccount
from tests.integration.portfolio_files import write_accounts, write_payments, write_products
from tests.oracle import OraclePayment
from tests.property.test_ledger_properties import START, payments, plans

THROUGH = START + timedelta(days=400)


def _ledger(store: sa.Engine) -> tuple[list[tuple[object, ...]], ...]:
    with store.connect() as conn:
        installments = conn.execute(
            sa.select(t.installments).order_by(t.installments.c.plan_key, t.installments.c.period)
        ).all()
        accounts = conn.execute(
            sa.select(
                t.accounts.c.account_id,
                t.accounts.c.dpd,
                t.accounts.c.bucket,
                t.accounts.c.credit_balance_cents,
                t.accounts.c.overdue_cents,
            )
        ).all()
        moves = conn.execute(
            sa.select(
                t.bucket_moves.c.moved_on,
                t.bucket_moves.c.from_bucket,
                t.bucket_moves.c.to_bucket,
                t.bucket_moves.c.dpd,
            ).order_by(t.bucket_moves.c.moved_on, t.bucket_moves.c.move_key)
        ).all()
    return [tuple(r) for r in installments], [tuple(r) for r in accounts], [tuple(r) for r in moves]


def _store(root: Path, account: RandomAccount, payments: list[OraclePayment]) -> sa.Engine:
    root.mkdir()
    write_products(root)
    write_accounts(root, [account])
    write_payments(root, [(account.account_key, p) for p in payments])
    store = open_store(f"sqlite:///{root / 'store.db'}")
    import_directory(store, root, show_progress=False)
    return store


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plans=plans,
    payments=payments,
    amount=st.integers(1, 600_000),
    paid_day=st.integers(0, 300),
    posted_later_by=st.integers(1, 60),
)
def test_property__a_backdated_payment_gives_the_state_of_the_payment_posted_on_its_day(
    plans: list, payments: list[OraclePayment], amount: int, paid_day: int, posted_later_by: int
) -> None:
    account = RandomAccount(1, plans, payments)
    late = OraclePayment("backdated", amount, START + timedelta(days=paid_day))
    with tempfile.TemporaryDirectory() as folder:
        on_its_day = _store(Path(folder) / "a", account, [*payments, late])
        close_through(on_its_day, THROUGH)

        backdated = _store(Path(folder) / "b", account, payments)
        close_through(backdated, late.paid_on + timedelta(days=posted_later_by))
        later = Path(folder) / "late"
        later.mkdir()
        write_payments(later, [(1, late)])
        import_directory(backdated, later, show_progress=False)
        close_through(backdated, THROUGH)
        assert _ledger(backdated) == _ledger(on_its_day)
        on_its_day.dispose()
        backdated.dispose()

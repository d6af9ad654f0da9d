"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from recoup.store import tables as t


def test_schema__the_migrations_build_the_declared_tables(store: sa.Engine) -> None:
    with store.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), t.metadata)
    assert differences == []


def test_schema__an_account_has_at_most_one_open_case(store: sa.Engine) -> None:
    opened = date(2026, 1, 5)
    with store.begin() as conn:
        conn.execute(t.borrowers.insert().values(borrower_key=1, borrower_id="B1", name="Li"))
        conn.execute(
            t.accounts.insert().values(
                account_key=1, account_id="A1", borrower_key=1, currency="CNY", opened_on=opened
            )
        )
        case = {"account_key": 1, "opened_on": opened, "opened_because": "delinquent"}
        conn.execute(t.cases.insert().values({**case, "status": "closed", "closed_on": opened}))
        conn.execute(t.cases.insert().values({**case, "status": "open"}))
    with pytest.raises(sa.exc.IntegrityError), store.begin() as conn:
        conn.execute(t.cases.insert().values({**case, "status": "open"}))

"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from recoup.store import tables as t
from recoup.store.engine import open_store


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


def _page_size(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())


def test_schema__a_new_sqlite_store_has_16_kib_pages_and_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    new = open_store(f"sqlite:///{tmp_path / 'new.db'}")
    assert _page_size(new) == 16_384
    new.dispose()
    # A store created before the change (SQLite's default page size) opens, upgrades and
    # takes writes with the pages it has: SQLite cannot change them in WAL mode.
    old_path = tmp_path / "old.db"
    with sqlite3.connect(old_path) as raw:
        raw.execute("PRAGMA page_size = 4096")
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("CREATE TABLE kept (x INTEGER)")
    raw.close()
    old = open_store(f"sqlite:///{old_path}")
    assert _page_size(old) == 4096
    with old.begin() as conn:
        conn.execute(t.borrowers.insert().values(borrower_key=1, borrower_id="B1", name="Li"))
    with old.connect() as conn:
        assert conn.execute(sa.select(t.borrowers.c.name)).scalar_one() == "Li"
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
    old.dispose()

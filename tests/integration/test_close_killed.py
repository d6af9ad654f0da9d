"""A close killed with SIGKILL half-way leaves only whole windows (or, for a store's first
close, nothing), and a rerun gives exactly the ledger of a close that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from recoup.close import close_through, last_closed_day
from recoup.importer import import_directory
from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.store import tables as t
from recoup.store.engine import create_store_engine, database_url, upgrade_schema
from tests.integration.conftest import POSTGRES_URL

AS_OF = date(2026, 11, 28)
FIRST_CLOSE = date(2026, 5, 31)


def _ledger(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row the close writes, without run ids (runs are numbered differently)."""
    tables = {
        "accounts": (t.accounts, ["account_key"]),
        "installments": (t.installments, ["plan_key", "period"]),
        "charges": (t.charges, ["account_key", "plan_key", "period", "kind", "accrued_from"]),
        "bucket_moves": (t.bucket_moves, ["account_key", "moved_on", "from_bucket"]),
        "account_states": (t.account_states, ["account_key", "as_of"]),
    }
    out = {}
    with engine.connect() as conn:
        for name, (table, order) in tables.items():
            columns = [c for c in table.c if c.name not in ("run_id", "charge_key", "move_key")]
            rows = conn.execute(sa.select(*columns).order_by(*[table.c[o] for o in order]))
            out[name] = [tuple(r) for r in rows]
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty stores (URLs) of one kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("RECOUP_TEST_POSTGRES_URL is not set, so there is no PostgreSQL to test on")
    base = database_url(POSTGRES_URL)
    schemas = [f"test_kill_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        for schema in schemas:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    try:
        yield tuple(  # type: ignore[misc]
            f"{base}{separator}options=-csearch_path%3D{schema}" for schema in schemas
        )
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _prepared(url: str, portfolio_dir: Path) -> sa.Engine:
    engine = create_store_engine(url)
    upgrade_schema(engine)
    import_directory(engine, portfolio_dir, show_progress=False)
    return engine


def _runs(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.batch_runs)).scalar_one())


def _close_command(through: date, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "recoup.cli.main",
        "close",
        "--through",
        through.isoformat(),
        *extra,
    ]


def _kill_after(process: subprocess.Popen[str], reports: int) -> None:
    """SIGKILL the close once it has printed ``reports`` finished windows or partitions."""
    assert process.stdout is not None
    seen = 0
    while seen < reports:
        line = process.stdout.readline()
        if not line:
            break
        seen += line.startswith("run ")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the close ended before it could be killed"


def _rerun_matches_uninterrupted(
    killed: sa.Engine, clean: sa.Engine, command: list[str], killed_url: str, clean_url: str
) -> None:
    for url in (killed_url, clean_url):
        run = subprocess.run(
            command,
            env=dict(os.environ, RECOUP_DATABASE_URL=url),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stderr
    assert _ledger(killed) == _ledger(clean)


def test_close__killed_between_windows_then_rerun_equals_an_uninterrupted_close(
    two_stores: tuple[str, str], tmp_path: Path
) -> None:
    portfolio_dir = tmp_path / "portfolio"
    write_portfolio(simulate_portfolio(3000, 99, AS_OF), portfolio_dir)
    killed_url, clean_url = two_stores
    killed = _prepared(killed_url, portfolio_dir)
    clean = _prepared(clean_url, portfolio_dir)
    for engine in (killed, clean):
        close_through(engine, FIRST_CLOSE)
    runs_before = _runs(killed)

    # Six month windows to close; the kill comes after the second is written.
    command = _close_command(AS_OF)
    env = dict(os.environ, RECOUP_DATABASE_URL=killed_url)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    _kill_after(process, 2)
    with killed.connect() as conn:
        kept = last_closed_day(conn)
    assert _runs(killed) - runs_before == 2
    assert kept is not None and FIRST_CLOSE < kept < AS_OF

    _rerun_matches_uninterrupted(killed, clean, command, killed_url, clean_url)
    killed.dispose()
    clean.dispose()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_close__killed_during_a_first_close_then_rerun_equals_an_uninterrupted_close(
    two_stores: tuple[str, str], tmp_path: Path, workers: str
) -> None:
    """With two workers, killing the close kills its workers too: nothing is written after
    the kill, and the rerun (also two workers) needs no turn-taking with a stray one."""
    portfolio_dir = tmp_path / "portfolio"
    write_portfolio(simulate_portfolio(3000, 98, AS_OF), portfolio_dir)
    killed_url, clean_url = two_stores
    killed = _prepared(killed_url, portfolio_dir)
    clean = _prepared(clean_url, portfolio_dir)
    before = _ledger(killed)

    # The first close replays every account in partitions of 500, each committed alone.
    command = _close_command(AS_OF, "--partition-accounts", "500", "--workers", workers)
    env = dict(os.environ, RECOUP_DATABASE_URL=killed_url)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    _kill_after(process, 3)
    runs_at_kill = _runs(killed)
    with killed.connect() as conn:
        assert last_closed_day(conn) is None
    assert 3 <= runs_at_kill < 6
    time.sleep(3)  # a worker that outlived the close would write its partition meanwhile
    assert _runs(killed) == runs_at_kill
    assert _ledger(killed) != before

    _rerun_matches_uninterrupted(killed, clean, command, killed_url, clean_url)
    killed.dispose()
    clean.dispose()

"""One close at a time per store: a second close is refused while one runs, writes nothing,
and the lock goes with a close that is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import recoup.close.lock as lock_module
from recoup.cli.main import main
from recoup.close import CloseInProgress, close_through, last_closed_day, recompute_all
from recoup.store import tables as t
from tests.differential.portfolio import random_portfolio
from tests.integration.conftest import store_url
from tests.integration.test_close import FIRST_DAY, _load

_HOLD_THE_LOCK = """
import sys, time
from recoup.close.lock import exclusive_close
from recoup.store.engine import create_store_engine
with exclusive_close(create_store_engine(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


def _runs(store: sa.Engine) -> int:
    with store.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.batch_runs)).scalar_one())


def test_close__refused_while_another_process_closes_and_free_once_that_one_is_killed(
    store: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    portfolio = random_portfolio(21, accounts=60, first_day=FIRST_DAY, days=120)
    _load(store, tmp_path, portfolio, "all")
    first = FIRST_DAY + timedelta(days=100)
    close_through(store, first)
    runs = _runs(store)
    monkeypatch.setattr(lock_module, "WAIT_SECONDS", 0.5)

    url = store_url(store)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_THE_LOCK, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(CloseInProgress, match="another close of this store"):
            close_through(store, first + timedelta(days=5))
        with pytest.raises(CloseInProgress):
            recompute_all(store)
        monkeypatch.setenv("RECOUP_DATABASE_URL", url)
        assert main(["close", "--through", (first + timedelta(days=5)).isoformat()]) == 2
        assert "another close of this store is running" in capsys.readouterr().err
        assert _runs(store) == runs  # the refused closes wrote nothing
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)

    # The holder was killed without letting go: its lock went with it. (The default wait
    # covers PostgreSQL noticing the closed connection.)
    monkeypatch.setattr(lock_module, "WAIT_SECONDS", 10.0)
    results = close_through(store, first + timedelta(days=5))
    assert results and results[-1].closed_through == first + timedelta(days=5)
    with store.connect() as conn:
        assert last_closed_day(conn) == first + timedelta(days=5)


def test_close__the_lock_is_the_stores_not_the_servers(
    store: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one store is locked, the same store is refused from another connection, and
    another store (a file beside it, or another schema of the same PostgreSQL database)
    closes."""
    monkeypatch.setattr(lock_module, "WAIT_SECONDS", 0.2)
    if store.dialect.name == "postgresql":
        schema = f"test_lock_{uuid.uuid4().hex[:10]}"
        with store.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        other = sa.create_engine(store.url, connect_args={"options": f"-csearch_path={schema}"})
    else:
        schema = None
        other = sa.create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with lock_module.exclusive_close(store):
            with pytest.raises(CloseInProgress), lock_module.exclusive_close(store):
                pass
            with lock_module.exclusive_close(other):
                pass
        with lock_module.exclusive_close(store):  # let go at the end of the block
            pass
    finally:
        other.dispose()
        if schema is not None:
            with store.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

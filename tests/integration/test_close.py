"""The close on a real store: import, close, and the stored ledger equals the oracle."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import recoup.close.run as close_module
from recoup.close import close_through, recompute_all
from recoup.importer import import_directory
from recoup.store import tables as t
from recoup.store.engine import open_store
from recoup.store.open_due import has_open_due_index
from tests.differential.portfolio import RandomAccount, random_portfolio
from tests.integration.ledger_rows import stored_ledger
from tests.integration.portfolio_files import write_accounts, write_payments, write_products
from tests.oracle import run_oracle

FIRST_DAY = date(2025, 1, 1)


def _import(store: sa.Engine, directory: Path) -> None:
    import_directory(store, directory, show_progress=False)


def _load(store: sa.Engine, tmp_path: Path, portfolio: list[RandomAccount], name: str) -> None:
    directory = tmp_path / name
    directory.mkdir()
    write_products(directory)
    write_accounts(directory, portfolio)
    write_payments(directory, [(a.account_key, p) for a in portfolio for p in a.payments])
    _import(store, directory)


def _assert_matches_oracle(store: sa.Engine, portfolio: list[RandomAccount], as_of: date) -> None:
    accounts, installments, moves = stored_ledger(store)
    stored_rows = {(r["plan_id"], r["period"]): r for r in installments.iter_rows(named=True)}
    stored_moves = moves.sort("account_id", "moved_on").partition_by("account_id", as_dict=True)
    differences = []
    for account in portfolio:
        expected = run_oracle(account.plans, account.payments, as_of)
        got = accounts[f"A{account.account_key}"]
        if (got["dpd"], got["bucket"], got["credit"], got["overdue"]) != (
            expected.dpd,
            expected.bucket,
            expected.credit_balance,
            expected.overdue["total"],
        ):
            differences.append((account.account_key, "state", got, expected.dpd, expected.bucket))
        for row in expected.installments:
            stored = stored_rows[(row.plan_id, row.period)]
            want = (
                row.late_fee,
                row.penalty,
                row.paid_principal,
                row.paid_fee,
                row.paid_late_fee,
                row.paid_penalty,
            )
            have = (
                stored["late_fee"],
                stored["penalty"],
                stored["paid_principal"],
                stored["paid_fee"],
                stored["paid_late_fee"],
                stored["paid_penalty"],
            )
            if want != have:
                differences.append((account.account_key, row.plan_id, row.period, have, want))
        frame = stored_moves.get((f"A{account.account_key}",))
        have_moves = (
            [
                (m["moved_on"], m["from_bucket"], m["to_bucket"], m["dpd"])
                for m in frame.iter_rows(named=True)
            ]
            if frame is not None
            else []
        )
        want_moves = [(m.moved_on, m.from_bucket, m.to_bucket, m.dpd) for m in expected.moves]
        if have_moves != want_moves:
            differences.append((account.account_key, "moves", have_moves, want_moves))
    assert not differences, f"{len(differences)} differences; first: {differences[:3]}"


def _run_count(store: sa.Engine) -> int:
    with store.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.batch_runs)).scalar_one())


def test_close__stored_ledger_equals_the_oracle_and_a_second_close_changes_nothing(
    store: sa.Engine, tmp_path: Path
) -> None:
    portfolio = random_portfolio(11, accounts=400, first_day=FIRST_DAY, days=400)
    _load(store, tmp_path, portfolio, "all")
    through = FIRST_DAY + timedelta(days=400)
    results = close_through(store, through)
    assert results[-1].closed_through == through
    assert all(r.closed_from <= r.closed_through for r in results)
    _assert_matches_oracle(store, portfolio, through)

    before = stored_ledger(store)
    runs = _run_count(store)
    assert close_through(store, through) == []
    assert _run_count(store) == runs
    after = stored_ledger(store)
    assert before[0] == after[0]
    assert before[1].equals(after[1]) and before[2].equals(after[2])


def test_close__daily_closes_equal_one_long_close(store: sa.Engine, tmp_path: Path) -> None:
    portfolio = random_portfolio(12, accounts=150, first_day=FIRST_DAY, days=200)
    _load(store, tmp_path, portfolio, "all")
    close_through(store, FIRST_DAY + timedelta(days=150))
    for day in range(151, 201):
        close_through(store, FIRST_DAY + timedelta(days=day))
    _assert_matches_oracle(store, portfolio, FIRST_DAY + timedelta(days=200))

    # The month-end history the daily (incremental) closes wrote equals one long close's.
    one_go = open_store(f"sqlite:///{tmp_path / 'one-go.db'}")
    _load(one_go, tmp_path, portfolio, "again")
    close_through(one_go, FIRST_DAY + timedelta(days=200))
    assert _month_end_states(store) == _month_end_states(one_go)
    one_go.dispose()


def test_close__finds_the_accounts_in_arrears_through_their_index(tmp_path: Path) -> None:
    """A day's close finds the accounts in arrears (about a tenth of a portfolio) through
    their partial index; a condition the index does not match (such as one with its zeros as
    bound parameters) would read every account of the portfolio every day."""
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    portfolio = random_portfolio(13, accounts=300, first_day=FIRST_DAY, days=300)
    _load(store, tmp_path, portfolio, "all")
    last_closed = FIRST_DAY + timedelta(days=299)
    close_through(store, last_closed)  # the first close leaves fresh planner statistics
    in_play = close_module._in_play(last_closed, last_closed + timedelta(days=1), 2**62)
    with store.connect() as conn:
        in_arrears = conn.execute(
            sa.select(sa.func.count()).select_from(t.accounts).where(t.accounts.c.dpd > 0)
        ).scalar_one()
        # Compiled as the close runs it: with its bound parameters.
        compiled = in_play.compile(conn)
        params = tuple(str(compiled.params[name]) for name in compiled.positiontup or ())
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
    assert 0 < in_arrears < len(portfolio)  # the index holds some accounts, not all
    steps = [row[-1] for row in plan]
    assert any("accounts USING INDEX ix_accounts_in_arrears" in step for step in steps), steps
    store.dispose()


def test_close__the_open_due_index_is_built_by_the_first_close_and_kept_after(
    store: sa.Engine, tmp_path: Path
) -> None:
    """An import into a store never closed drops the index of unsettled installments by due
    date (it would hold every installment); the first close builds it with the day closed, an
    import into a closed store keeps it up, and a close that finds it missing builds it."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from recoup.store.open_due import drop_open_due_index, has_open_due_index

    def has_index() -> bool:
        with store.connect() as conn:
            return has_open_due_index(conn)

    portfolio = random_portfolio(18, accounts=120, first_day=FIRST_DAY, days=240)
    first, later = portfolio[:80], portfolio[80:]
    _load(store, tmp_path, first, "first")
    assert not has_index()
    through = FIRST_DAY + timedelta(days=200)
    close_through(store, through)
    assert has_index()
    with store.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), t.metadata) == []
        if conn.dialect.name == "sqlite":  # the day's close finds what falls due through it
            in_play = close_module._in_play(through, through + timedelta(days=1), 2**62)
            compiled = in_play.compile(conn)
            # Bound as the close binds them: SQLite matches `settled = ?` to the index's
            # condition only for the integer 0, dates are ISO text.
            values = (compiled.params[name] for name in compiled.positiontup or ())
            params = tuple(v.isoformat() if isinstance(v, date) else v for v in values)
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
            steps = [row[-1] for row in plan]
            assert any("USING INDEX ix_installments_open_due" in step for step in steps), steps

    _load(store, tmp_path, later, "later")  # into a closed store: the index is kept up
    assert has_index()
    with store.begin() as conn:
        drop_open_due_index(conn)
    close_through(store, FIRST_DAY + timedelta(days=240))
    assert has_index()
    _assert_matches_oracle(store, portfolio, FIRST_DAY + timedelta(days=240))


def _month_end_states(store: sa.Engine) -> list[tuple[object, ...]]:
    s = t.account_states
    columns = [c for c in s.c if c.name != "run_id"]
    with store.connect() as conn:
        rows = conn.execute(sa.select(*columns).order_by(s.c.as_of, s.c.account_key)).all()
    return [tuple(r) for r in rows if (r.as_of + timedelta(days=1)).day == 1]


def test_close__backdated_payments_and_reversals_recompute_their_accounts(
    store: sa.Engine, tmp_path: Path
) -> None:
    portfolio = random_portfolio(13, accounts=300, first_day=FIRST_DAY, days=400)
    first_close = FIRST_DAY + timedelta(days=250)
    # Every third account's payments arrive late: after the first close, backdated.
    on_time = [(a.account_key, p) for a in portfolio for p in a.payments if a.account_key % 3]
    late = [(a.account_key, p) for a in portfolio for p in a.payments if not a.account_key % 3]
    directory = tmp_path / "first"
    directory.mkdir()
    write_products(directory)
    write_accounts(directory, portfolio)
    write_payments(directory, [(k, p) for k, p in on_time if not p.reverses])
    _import(store, directory)
    close_through(store, first_close)

    second = tmp_path / "second"
    second.mkdir()
    write_payments(second, late + [(k, p) for k, p in on_time if p.reverses])
    _import(store, second)
    results = close_through(store, FIRST_DAY + timedelta(days=400))
    assert results[0].recomputed_accounts > 0
    _assert_matches_oracle(store, portfolio, FIRST_DAY + timedelta(days=400))


def test_close__a_window_that_fails_leaves_nothing_and_a_rerun_finishes(
    store: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    portfolio = random_portfolio(14, accounts=200, first_day=FIRST_DAY, days=300)
    _load(store, tmp_path, portfolio, "all")
    through = FIRST_DAY + timedelta(days=300)
    close_through(store, FIRST_DAY + timedelta(days=60))
    real_write = close_module._write_snapshots
    calls = {"n": 0}

    def failing_write(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("killed mid-window")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(close_module, "_write_snapshots", failing_write)
    with pytest.raises(RuntimeError):
        close_through(store, through)
    monkeypatch.setattr(close_module, "_write_snapshots", real_write)
    with store.connect() as conn:
        last = close_module.last_closed_day(conn)
        runs = conn.execute(sa.select(t.batch_runs.c.closed_through)).scalars().all()
    assert last is not None and last < through
    # Only whole windows were kept: every recorded run finished.
    assert len(runs) == _run_count(store)
    close_through(store, through)
    _assert_matches_oracle(store, portfolio, through)


def test_close__a_first_close_that_fails_keeps_whole_partitions_and_a_rerun_does_the_rest(
    store: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    portfolio = random_portfolio(17, accounts=120, first_day=FIRST_DAY, days=200)
    _load(store, tmp_path, portfolio, "all")
    through = FIRST_DAY + timedelta(days=200)
    real_write = close_module._write_snapshots
    calls = {"n": 0}

    def failing_write(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed in the third partition")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(close_module, "_write_snapshots", failing_write)
    with pytest.raises(RuntimeError):
        close_through(store, through, partition_accounts=50)
    monkeypatch.setattr(close_module, "_write_snapshots", real_write)
    with store.connect() as conn:
        assert close_module.last_closed_day(conn) is None  # not a closed day yet
        assert not has_open_due_index(conn)  # built with the closed day
        runs = conn.execute(
            sa.select(
                t.batch_runs.c.kind,
                t.batch_runs.c.first_account_key,
                t.batch_runs.c.last_account_key,
            )
        ).all()
        states = sa.select(sa.func.max(t.account_states.c.account_key))
        assert conn.execute(states).scalar() == 100  # nothing of the third partition
    assert [tuple(r) for r in runs] == [("first_close", 1, 50), ("first_close", 51, 100)]

    results = close_through(store, through, partition_accounts=50)
    assert [r.accounts for r in results] == [20]  # only the third partition: 101..120
    with store.connect() as conn:
        assert close_module.last_closed_day(conn) == through
        assert has_open_due_index(conn)
    _assert_matches_oracle(store, portfolio, through)


def test_close__a_full_recompute_in_partitions_gives_the_same_ledger(
    store: sa.Engine, tmp_path: Path
) -> None:
    portfolio = random_portfolio(15, accounts=250, first_day=FIRST_DAY, days=300)
    _load(store, tmp_path, portfolio, "all")
    through = FIRST_DAY + timedelta(days=300)
    close_through(store, through)
    before = stored_ledger(store)
    charges_before = _charge_totals(store)
    results = recompute_all(store, partition_accounts=60)
    assert len(results) == 5
    assert sum(r.recomputed_accounts for r in results) == 250
    after = stored_ledger(store)
    assert before[0] == after[0]
    assert before[1].sort("plan_id", "period").equals(after[1].sort("plan_id", "period"))
    assert before[2].sort("account_id", "moved_on").equals(after[2].sort("account_id", "moved_on"))
    assert charges_before == _charge_totals(store)
    _assert_matches_oracle(store, portfolio, through)


def _charge_totals(store: sa.Engine) -> list[tuple[object, ...]]:
    c = t.charges
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(c.c.plan_key, c.c.period, c.c.kind, sa.func.sum(c.c.amount_cents))
            .group_by(c.c.plan_key, c.c.period, c.c.kind)
            .order_by(c.c.plan_key, c.c.period, c.c.kind)
        ).all()
    return [tuple(r) for r in rows]


def test_close__the_same_day_again_recomputes_accounts_with_backdated_payments(
    store: sa.Engine, tmp_path: Path
) -> None:
    portfolio = random_portfolio(16, accounts=120, first_day=FIRST_DAY, days=240)
    held_back = [
        (a.account_key, p) for a in portfolio if a.account_key % 4 == 0 for p in a.payments
    ]
    directory = tmp_path / "first"
    directory.mkdir()
    write_products(directory)
    write_accounts(directory, portfolio)
    write_payments(
        directory,
        [(a.account_key, p) for a in portfolio if a.account_key % 4 for p in a.payments],
    )
    _import(store, directory)
    through = FIRST_DAY + timedelta(days=240)
    close_through(store, through)
    assert close_through(store, through) == []  # nothing new: nothing written

    later = tmp_path / "later"
    later.mkdir()
    write_payments(later, held_back)
    _import(store, later)
    results = close_through(store, through)
    assert len(results) == 1
    assert results[0].closed_through == through
    assert results[0].recomputed_accounts == len({key for key, _ in held_back})
    with store.connect() as conn:
        kinds = conn.execute(sa.select(t.batch_runs.c.kind)).scalars().all()
    assert kinds[-1] == "recompute"
    _assert_matches_oracle(store, portfolio, through)


def test_close__first_close_and_recompute_in_two_worker_processes_equal_the_oracle(
    store: sa.Engine, tmp_path: Path
) -> None:
    """Partitions replayed by two processes side by side (on SQLite taking turns to write)
    give the ledger one process gives, and every partition is recorded once."""
    portfolio = random_portfolio(21, accounts=200, first_day=FIRST_DAY, days=260)
    _load(store, tmp_path, portfolio, "all")
    through = FIRST_DAY + timedelta(days=260)
    first = close_through(store, through, partition_accounts=50, workers=2)
    assert sorted(r.accounts for r in first) == [50, 50, 50, 50]
    with store.connect() as conn:
        assert close_module.last_closed_day(conn) == through
    _assert_matches_oracle(store, portfolio, through)
    before, charges_before = stored_ledger(store), _charge_totals(store)

    results = recompute_all(store, partition_accounts=70, workers=2)
    assert sorted(r.recomputed_accounts for r in results) == [60, 70, 70]
    after = stored_ledger(store)
    assert before[0] == after[0]
    assert before[1].sort("plan_id", "period").equals(after[1].sort("plan_id", "period"))
    assert before[2].sort("account_id", "moved_on").equals(after[2].sort("account_id", "moved_on"))
    assert charges_before == _charge_totals(store)
    with store.connect() as conn:
        runs = conn.execute(
            sa.select(t.batch_runs.c.kind, t.batch_runs.c.first_account_key).order_by(
                t.batch_runs.c.kind, t.batch_runs.c.first_account_key
            )
        ).all()
    assert [tuple(r) for r in runs] == [
        ("close", None),
        ("first_close", 1),
        ("first_close", 51),
        ("first_close", 101),
        ("first_close", 151),
        ("recompute", 1),
        ("recompute", 71),
        ("recompute", 141),
    ]

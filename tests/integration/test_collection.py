"""The daily strategy and allocation runs on a real store, after real closes.

Three hand-made accounts on one product: A1 never pays, A2 pays on time, A3 never pays and
later promises to pay. The default strategy and the shipped teams file run on them.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from recoup.allocation import default_teams_path, load_teams
from recoup.close import close_through
from recoup.collection import case_book
from recoup.collection.allocation_run import run_allocation
from recoup.collection.case_book import accounts_in_collection
from recoup.collection.daily import RunRefused, run_daily_strategy
from recoup.importer import import_directory
from recoup.ledger.schedule import build_schedule
from recoup.store import tables as t
from recoup.store.bulk import read_frame
from recoup.strategy import load_default_strategy
from tests.differential.portfolio import PRODUCTS, RandomAccount
from tests.integration.portfolio_files import write_accounts, write_payments, write_products
from tests.oracle import OraclePayment, OraclePlan

START = date(2025, 1, 10)
PRODUCT = next(p for p in PRODUCTS.products.values() if p.grace_days == 3)
PRINCIPAL = 600_000


def _plan(key: int) -> OraclePlan:
    return OraclePlan(f"P{key}", PRODUCT, PRINCIPAL, 6, START)


def _on_time_payments(key: int) -> list[OraclePayment]:
    schedule = build_schedule(PRINCIPAL, 6, START, PRODUCT.monthly_rate, PRODUCT.fee_model)
    return [
        OraclePayment(f"Y{key}-{n}", row.principal_cents + row.fee_cents, row.due_date)
        for n, row in enumerate(schedule)
    ]


@pytest.fixture
def book(store: sa.Engine, tmp_path: Path) -> sa.Engine:
    accounts = [
        RandomAccount(1, [_plan(1)], []),
        RandomAccount(2, [_plan(2)], _on_time_payments(2)),
        RandomAccount(3, [_plan(3)], []),
    ]
    directory = tmp_path / "book"
    directory.mkdir()
    write_products(directory)
    write_accounts(directory, accounts)
    write_payments(directory, [(a.account_key, p) for a in accounts for p in a.payments])
    import_directory(store, directory, show_progress=False)
    return store


def _day_run(store: sa.Engine, day: date) -> None:
    close_through(store, day)
    run_daily_strategy(store, load_default_strategy(), day)


def _cases(store: sa.Engine) -> dict[str, dict[str, object]]:
    c, a = t.cases, t.accounts
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(a.c.account_id, c).select_from(c.join(a, c.c.account_key == a.c.account_key))
        ).mappings()
        return {row["account_id"]: dict(row) for row in rows}


def _actions(store: sa.Engine, day: date) -> pl.DataFrame:
    ac = t.actions
    with store.connect() as conn:
        return read_frame(
            conn,
            sa.select(ac.c.case_key, ac.c.step, ac.c.channel, ac.c.path, ac.c.reason)
            .where(ac.c.planned_for == day)
            .order_by(ac.c.case_key, ac.c.step),
            {
                "case_key": pl.Int64,
                "step": pl.String,
                "channel": pl.String,
                "path": pl.String,
                "reason": pl.String,
            },
        )


def _count(store: sa.Engine, table: sa.Table) -> int:
    with store.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _payment(store: sa.Engine, tmp_path: Path, payment: OraclePayment, account: int) -> None:
    directory = tmp_path / payment.payment_id
    directory.mkdir()
    write_payments(directory, [(account, payment)])
    import_directory(store, directory, show_progress=False)


FIRST_DUE = build_schedule(PRINCIPAL, 6, START, PRODUCT.monthly_rate, PRODUCT.fee_model)[0].due_date


def test_collection__cases_open_on_the_first_day_past_due_and_a_rerun_adds_nothing(
    book: sa.Engine,
) -> None:
    day = FIRST_DUE + timedelta(days=20)
    _day_run(book, day)
    cases = _cases(book)
    assert set(cases) == {"A1", "A3"}  # A2 pays on time
    with book.connect() as conn:
        dpd = conn.execute(sa.select(t.accounts.c.dpd).where(t.accounts.c.account_id == "A1"))
        first_day_past_due = day - timedelta(days=dpd.scalar_one() - 1)
    assert cases["A1"]["opened_on"] == first_day_past_due
    assert cases["A1"]["status"] == "open" and cases["A1"]["segment"] == "m1"

    actions, events = _actions(book, day), _count(book, t.case_events)
    run_daily_strategy(book, load_default_strategy(), day)
    assert _actions(book, day).equals(actions)
    assert _count(book, t.case_events) == events
    assert _count(book, t.cases) == 2


def test_collection__a_run_is_refused_for_a_day_that_is_not_the_last_closed(
    book: sa.Engine,
) -> None:
    day = FIRST_DUE + timedelta(days=5)
    close_through(book, day)
    with pytest.raises(RunRefused, match=f"closed through {day}"):
        run_daily_strategy(book, load_default_strategy(), day + timedelta(days=1))
    assert _count(book, t.collection_runs) == 0


def test_collection__a_case_closes_as_cured_when_the_account_pays_its_arrears(
    book: sa.Engine, tmp_path: Path
) -> None:
    day = FIRST_DUE + timedelta(days=10)
    _day_run(book, day)
    _payment(book, tmp_path, OraclePayment("PAYOFF", 10 * PRINCIPAL, day + timedelta(days=1)), 1)
    _day_run(book, day + timedelta(days=1))
    case = _cases(book)["A1"]
    assert (case["status"], case["closed_on"], case["closed_because"]) == (
        "closed",
        day + timedelta(days=1),
        "cured",  # the later installments are not due yet: the surplus waits as credit
    )
    assert (
        _actions(book, day + timedelta(days=1))
        .filter(pl.col("case_key") == case["case_key"])
        .is_empty()
    )


def test_collection__a_promise_pauses_the_case_and_when_broken_escalates_it(
    book: sa.Engine,
) -> None:
    day = FIRST_DUE + timedelta(days=10)
    _day_run(book, day)
    a3 = _cases(book)["A3"]
    with book.begin() as conn:
        conn.execute(
            t.promises.insert().values(
                case_key=a3["case_key"],
                account_key=a3["account_key"],
                made_on=day,
                promised_for=day + timedelta(days=3),
                amount_cents=50_000,
                grace_days=1,
                status="open",
                paid_cents=0,
            )
        )
    for offset in range(1, 7):
        _day_run(book, day + timedelta(days=offset))
        actions = _actions(book, day + timedelta(days=offset)).filter(
            pl.col("case_key") == a3["case_key"]
        )
        if offset <= 3:  # the promise is active: no contact
            assert actions.is_empty(), offset
    # Deadline day + 3 + 1 grace: broken on the next day, the escalation path from then on.
    with book.connect() as conn:
        promise = conn.execute(sa.select(t.promises.c.status, t.promises.c.resolved_on)).one()
    assert tuple(promise) == ("broken", day + timedelta(days=5))
    case = _cases(book)["A3"]
    assert (case["path"], case["path_override"], case["path_since"]) == (
        "broken-promise",
        "broken-promise",
        day + timedelta(days=5),
    )
    assert set(actions["step"]) == {"sms-broken", "call"}  # day 1 of the escalation path
    assert actions["path"].unique().to_list() == ["broken-promise"]


def test_collection__allocation_gives_past_due_cases_owners_and_a_rerun_keeps_them(
    book: sa.Engine,
) -> None:
    day = FIRST_DUE + timedelta(days=40)  # a Monday or not, the shipped teams work weekdays
    while day.weekday() >= 5:
        day += timedelta(days=1)
    _day_run(book, day)
    config = load_teams(default_teams_path())
    first = run_allocation(book, config, day)
    owners = {k: (v["owner"], v["owned_since"]) for k, v in _cases(book).items()}
    assert all(owner is not None and since == day for owner, since in owners.values())
    again = run_allocation(book, config, day)
    assert again.allocation.cases.equals(first.allocation.cases)
    assert {k: (v["owner"], v["owned_since"]) for k, v in _cases(book).items()} == owners
    with book.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.allocations)).scalar_one() == 2


def test_collection__a_payment_is_credited_to_the_case_owner_of_that_day(
    book: sa.Engine, tmp_path: Path
) -> None:
    day = FIRST_DUE + timedelta(days=40)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    _day_run(book, day)
    run_allocation(book, load_teams(default_teams_path()), day)
    owner = _cases(book)["A1"]["owner"]
    paid_on = day + timedelta(days=1)
    _payment(book, tmp_path, OraclePayment("PART", 30_000, paid_on), 1)
    _day_run(book, paid_on)
    _day_run(book, paid_on + timedelta(days=1))  # a later run credits nothing twice
    with book.connect() as conn:
        credits = conn.execute(
            sa.select(
                t.payment_credits.c.owner,
                t.payment_credits.c.amount_cents,
                t.payment_credits.c.credited_on,
            )
        ).all()
    assert [tuple(c) for c in credits] == [(owner, 30_000, paid_on)]
    case = _cases(book)["A1"]
    assert case["last_progress_on"] == paid_on
    assert (case["last_event"], case["last_event_on"]) == ("partial_payment", paid_on)


def test_collection__an_account_that_slipped_before_gets_an_early_warning_case(
    store: sa.Engine, tmp_path: Path
) -> None:
    schedule = build_schedule(PRINCIPAL, 6, START, PRODUCT.monthly_rate, PRODUCT.fee_model)
    first, second = schedule[0], schedule[1]
    late = OraclePayment(
        "LATE", first.principal_cents + first.fee_cents + 10_000, first.due_date + timedelta(days=5)
    )
    accounts = [RandomAccount(4, [_plan(4)], [late]), RandomAccount(5, [_plan(5)], [])]
    directory = tmp_path / "book"
    directory.mkdir()
    write_products(directory)
    write_accounts(directory, accounts)
    write_payments(directory, [(4, late)])
    import_directory(store, directory, show_progress=False)

    day = second.due_date - timedelta(days=3)  # A4 is current again, due in three days
    _day_run(store, day)
    cases = _cases(store)
    assert cases["A4"]["opened_because"] == "early_warning"
    assert cases["A4"]["segment"] == "pre-due-other"  # no risk grade yet: the light path
    assert cases["A5"]["opened_because"] == "delinquent"


def test_collection__the_book_is_the_accounts_in_arrears_or_with_a_case_found_by_index(
    book: sa.Engine,
) -> None:
    """The daily run's accounts are those in arrears or with an open case, found through the
    partial index and the cases: a condition in other words would read every account of the
    portfolio on every run."""
    _day_run(book, START + timedelta(days=45))  # A1 and A3 in arrears, with open cases
    a, c = t.accounts, t.cases
    with book.begin() as conn:
        assert sorted(accounts_in_collection(conn)["account_id"]) == ["A1", "A3"]
        # A1 leaves arrears but keeps its case; A3's case closes while it stays in arrears.
        conn.execute(a.update().where(a.c.account_id == "A1").values(dpd=0, overdue_cents=0))
        conn.execute(c.update().where(c.c.account_key == 3).values(status="closed"))
        assert sorted(accounts_in_collection(conn)["account_id"]) == ["A1", "A3"]
        conn.execute(a.update().where(a.c.account_id == "A3").values(dpd=0, overdue_cents=0))
        assert sorted(accounts_in_collection(conn)["account_id"]) == ["A1"]
        conn.rollback()
    if book.dialect.name != "sqlite":
        return  # the plan below is SQLite's; PostgreSQL reads the same index the same way
    with book.begin() as conn:
        # A portfolio of mostly quiet accounts, as the planner sees it after the close.
        borrower = conn.execute(sa.select(a.c.borrower_key).limit(1)).scalar_one()
        quiet = [
            {"account_key": key, "account_id": f"Q{key}", "borrower_key": borrower,
             "currency": "CNY", "opened_on": START}
            for key in range(100, 3100)
        ]  # fmt: skip
        conn.execute(a.insert(), quiet)
        conn.exec_driver_sql("ANALYZE")
        assert sorted(accounts_in_collection(conn)["account_id"]) == ["A1", "A3"]
        compiled = case_book._account_state_query(case_book._in_collection()).compile(conn)
        params = tuple(compiled.params[name] for name in compiled.positiontup or ())
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
        conn.rollback()
    steps = [row[-1] for row in plan]
    assert any("accounts USING INDEX ix_accounts_in_arrears" in step for step in steps), steps
    assert "SCAN accounts" not in steps, steps  # no step reads every account

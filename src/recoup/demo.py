"""``recoup demo``: the platform end to end, on the embedded SQLite store.

It simulates a portfolio, imports it into a fresh SQLite database beside the files, closes
every day through ``as_of``, prints accounts and balances per bucket and the roll rates of
the last full month, then runs the day's collection strategy (the shipped default, every
action through the China contact gate), allocates the cases to the example teams, and
renders the allowed messages into the outbox. Before the strategy it trains the collection and
early-warning models on the book's own history and scores the book, so the strategy works on
risk grades. Nothing needs a server, and nothing is sent.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from recoup.allocation import default_teams_path, load_teams
from recoup.analytics.portfolio import bucket_summary, roll_rates
from recoup.close import close_through
from recoup.close.run import month_end
from recoup.collection.allocation_run import run_allocation
from recoup.collection.daily import run_daily_strategy
from recoup.compliance import shipped_profile
from recoup.contact.outbox import queue_day_messages
from recoup.contact.templates import TemplateSet
from recoup.importer import import_directory
from recoup.money import format_cents
from recoup.scoring.registry import ModelRefused
from recoup.scoring.run import score_book
from recoup.scoring.training import train_from_store
from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.store import tables as t
from recoup.store.bulk import read_frame
from recoup.store.engine import open_store
from recoup.store.repository import load_catalog_from_store
from recoup.strategy import load_default_strategy


def run_demo(accounts: int, seed: int, out: Path, as_of: date) -> int:
    out.mkdir(parents=True, exist_ok=True)
    database = out / "recoup.db"
    for stale in (database, out / "recoup.db-wal", out / "recoup.db-shm"):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{database}"

    clock = time.perf_counter()
    portfolio = simulate_portfolio(accounts, seed, as_of)
    write_portfolio(portfolio, out)
    seconds = time.perf_counter() - clock
    print(
        f"simulated {accounts:,} accounts, {portfolio.plans.height:,} plans, "
        f"{portfolio.payments.height:,} payments as of {as_of} in {seconds:.1f} s"
    )

    engine = open_store(url)
    clock = time.perf_counter()
    import_directory(engine, out, show_progress=True)
    print(f"imported into {database} in {time.perf_counter() - clock:.1f} s")

    clock = time.perf_counter()
    runs = close_through(engine, as_of)
    print(f"closed through {as_of} ({len(runs)} runs) in {time.perf_counter() - clock:.1f} s")
    print()
    print_summary(engine, as_of)
    print()

    for kind in ("collection", "early_warning"):
        clock = time.perf_counter()
        try:
            trained = train_from_store(engine, kind, as_of, datetime.now(UTC), months=6)
        except (ModelRefused, ValueError) as exc:  # a book too young or too small to learn
            print(f"{kind} models not trained: {exc}")
            continue
        print(f"{kind} models ({time.perf_counter() - clock:.1f} s): {trained.describe()}")
    clock = time.perf_counter()
    print(f"{score_book(engine, as_of, datetime.now(UTC)).describe()} "
          f"({time.perf_counter() - clock:.1f} s)")  # fmt: skip
    print()

    clock = time.perf_counter()
    strategy_run = run_daily_strategy(engine, load_default_strategy(), as_of)
    print(f"{strategy_run.describe()} ({time.perf_counter() - clock:.1f} s)")
    clock = time.perf_counter()
    allocation_run = run_allocation(engine, load_teams(default_teams_path()), as_of)
    print(f"{allocation_run.describe()} ({time.perf_counter() - clock:.1f} s)")
    clock = time.perf_counter()
    with engine.begin() as conn:
        queued = queue_day_messages(
            conn, as_of, TemplateSet(), shipped_profile("cn"), datetime.now(UTC)
        )
    print(f"outbox: {queued.describe()} ({time.perf_counter() - clock:.1f} s)")
    print()

    program = sys.argv[0] if sys.argv[0].endswith("recoup") else "recoup"
    example = _an_account_in_arrears(engine) or "<account_id>"
    owner = _a_busy_collector(engine) or "<collector>"
    prefix = f"RECOUP_DATABASE_URL={url} {program}"
    print("explore it:")
    print(f"  {prefix} account show {example}")
    print(f"  {prefix} account moves {example}")
    print(f"  {prefix} strategy trace {example}")
    print(f"  {prefix} queue {owner}")
    print(f"  {prefix} contact history {example}")
    print(f"  {prefix} outbox status")
    print(f"  {prefix} model list")
    print(f"  {prefix} model report collection-scorecard-v1")
    print(f"  {prefix} offers {example}")
    print(f"  {program} policy show --profile cn")
    print(f"  {program} strategy explain")
    print()

    from recoup.cli.report import write_report  # the report of the last 90 days

    clock = time.perf_counter()
    start = as_of - timedelta(days=89)
    report_path = out / "report.html"
    write_report(engine, start, as_of, report_path)
    print(f"report of {start} to {as_of} ({time.perf_counter() - clock:.1f} s); open it:")
    print(f"  {report_path.resolve().as_uri()}")
    print(f"  (again: {prefix} report --from {start} --to {as_of} --out report.html)")
    return 0


def _a_busy_collector(engine: sa.Engine) -> str | None:
    c = t.cases
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(c.c.owner)
            .where(c.c.status == "open", c.c.owner_kind == "collector")
            .group_by(c.c.owner)
            .order_by(sa.func.count().desc(), c.c.owner)
            .limit(1)
        ).scalar()
    return str(value) if value is not None else None


def print_summary(engine: sa.Engine, as_of: date) -> None:
    with engine.connect() as conn:
        catalog = load_catalog_from_store(conn)
        a, i = t.accounts, t.installments
        outstanding = (
            sa.select(
                i.c.account_key,
                sa.func.sum(i.c.principal_cents - i.c.paid_principal_cents).label("o"),
            )
            .group_by(i.c.account_key)
            .subquery()
        )
        current = read_frame(
            conn,
            sa.select(a.c.account_key, a.c.bucket, outstanding.c.o, a.c.overdue_cents).select_from(
                a.join(outstanding, outstanding.c.account_key == a.c.account_key)
            ),
            {
                "account_key": pl.Int64,
                "bucket": pl.String,
                "outstanding_principal_cents": pl.Int64,
                "overdue_cents": pl.Int64,
            },
        )
        last_end = (
            month_end(as_of)
            if as_of == month_end(as_of)
            else as_of.replace(day=1) - timedelta(days=1)
        )
        previous_end = last_end.replace(day=1) - timedelta(days=1)
        s = t.account_states
        snapshot_schema = {
            "account_key": pl.Int64,
            "bucket": pl.String,
            "outstanding_principal_cents": pl.Int64,
        }
        ends = [
            read_frame(
                conn,
                sa.select(s.c.account_key, s.c.bucket, s.c.outstanding_principal_cents).where(
                    s.c.as_of == day
                ),
                snapshot_schema,
            )
            for day in (previous_end, last_end)
        ]

    print(f"portfolio as of {as_of}")
    print(f"{'bucket':<6} {'accounts':>10} {'outstanding principal':>22} {'overdue':>16}")
    for row in bucket_summary(current, catalog.buckets).iter_rows(named=True):
        print(
            f"{row['bucket']:<6} {row['accounts']:>10,} "
            f"{format_cents(row['outstanding_principal_cents']):>22} "
            f"{format_cents(row['overdue_cents']):>16}"
        )
    print()
    print(f"roll rates {previous_end} -> {last_end} (share of balance one bucket worse)")
    rates = roll_rates(ends[0], ends[1], catalog.buckets)
    for row in rates.iter_rows(named=True):
        print(
            f"{row['roll']:<9} {row['roll_rate']:>7.1%} of {format_cents(row['balance_cents']):>16}"
            f"  ({row['roll_rate_by_count']:.1%} of {row['accounts']:,} accounts, "
            f"cure {row['cure_rate']:.1%})"
        )


def _an_account_in_arrears(engine: sa.Engine) -> str | None:
    """An account worth looking at: the first one two or more months behind."""
    a = t.accounts
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(a.c.account_id).where(a.c.dpd > 30).order_by(a.c.account_key).limit(1)
        ).scalar()
    return str(value) if value is not None else None

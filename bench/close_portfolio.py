"""Benchmark: simulate, import and close a portfolio; print throughput and peak memory.

    python bench/close_portfolio.py --accounts 100000 --days 90 [--database-url URL]

Steps, each timed on its own:

1. simulate ``--accounts`` accounts whose activity ends on ``--as-of``;
2. import them (rows per second over every row read: borrowers, plans, payments);
3. catch-up close from the first plan through ``as-of - days`` (the whole history);
4. close the last ``--days`` days in one command (accounts per second = accounts / seconds);
5. optionally (``--daily N``) close N more single days, as the nightly batch does.

Peak memory is the process's maximum resident set size. Figures go in bench/README.md; they
are measured, never asserted in a test.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from recoup.close import close_through
from recoup.importer import import_directory
from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.store import tables as t
from recoup.store.engine import database_url, open_store


def peak_memory_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 27))
    parser.add_argument("--daily", type=int, default=0, help="then close N single days")
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--database-url", help="default: a fresh SQLite file in --out")
    args = parser.parse_args()

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    url = database_url(args.database_url or f"sqlite:///{args.out / 'bench.db'}")
    if url.startswith("postgresql"):
        # A clean schema for each run.
        admin = sa.create_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS recoup_bench CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA recoup_bench")
        admin.dispose()
        engine = sa.create_engine(url, connect_args={"options": "-csearch_path=recoup_bench"})
        from recoup.store.engine import upgrade_schema

        upgrade_schema(engine)
    else:
        engine = open_store(url)

    print(f"database: {engine.dialect.name}; accounts: {args.accounts:,}; days: {args.days}")
    clock = time.perf_counter()
    portfolio = simulate_portfolio(args.accounts, args.seed, args.as_of)
    write_portfolio(portfolio, args.out)
    seconds = time.perf_counter() - clock
    rows = portfolio.borrowers.height + portfolio.plans.height + portfolio.payments.height
    print(f"simulate: {seconds:.1f} s ({rows:,} rows written)")

    clock = time.perf_counter()
    import_directory(engine, args.out, show_progress=False)
    seconds = time.perf_counter() - clock
    with engine.connect() as conn:
        installments = conn.execute(sa.select(sa.func.count()).select_from(t.installments))
        installment_rows = int(installments.scalar_one())
    print(
        f"import: {seconds:.1f} s, {rows / seconds:,.0f} input rows/s "
        f"({installment_rows:,} installments generated)"
    )

    catch_up = args.as_of - timedelta(days=args.days)
    clock = time.perf_counter()
    windows = close_through(engine, catch_up)
    seconds = time.perf_counter() - clock
    print(
        f"catch-up close through {catch_up} ({len(windows)} windows): {seconds:.1f} s, "
        f"{args.accounts / seconds:,.0f} accounts/s"
    )

    clock = time.perf_counter()
    windows = close_through(engine, args.as_of)
    seconds = time.perf_counter() - clock
    print(
        f"close of {args.days} days ({len(windows)} windows): {seconds:.1f} s, "
        f"{args.accounts / seconds:,.0f} accounts/s"
    )

    for day in range(1, args.daily + 1):
        clock = time.perf_counter()
        close_through(engine, args.as_of + timedelta(days=day))
        seconds = time.perf_counter() - clock
        print(f"daily close {args.as_of + timedelta(days=day)}: {seconds:.2f} s")

    print(f"peak memory: {peak_memory_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Report benchmark: `recoup report` over 90 days of a simulated store.

    python bench/report.py [--accounts 100000] [--as-of 2026-03-18] [--replicate 10]
                           [--out bench/out-report] [--database-url URL]

Builds the store as the demo does (simulate, import into SQLite, close through ``--as-of``,
one strategy run and one allocation on the last day, so that cases, owners, gate decisions
and credits exist), then times the report of the last 90 days in its three parts: the bulk
reads (:func:`recoup.store.analytics_reads.read_report_inputs`), the measures
(:func:`recoup.analytics.report.build_report`) and the page
(:func:`recoup.analytics.report.render_html`), and the export of the tables to CSV.

With ``--database-url`` it reports on that store as it stands (for example the
1,000,000-account PostgreSQL store ``bench/workbench.py`` builds), closed through
``--as-of``, and builds nothing.

``--replicate K`` then copies the frames read K times (account, case and payment keys
shifted, so that the copies are distinct accounts) and times the measures and the page
again: the in-memory figure for K times the book, without simulating and closing it. The
figures are printed (Markdown, for bench/README.md), never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import resource
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from recoup.allocation import default_teams_path, load_teams
from recoup.analytics.report import ReportInputs, build_report, render_html
from recoup.close import close_through
from recoup.collection.allocation_run import run_allocation
from recoup.collection.daily import run_daily_strategy
from recoup.importer import import_directory
from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.store import tables as t
from recoup.store.analytics_reads import read_report_inputs
from recoup.store.engine import open_store
from recoup.strategy import load_default_strategy

BENCH = Path(__file__).resolve().parent


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _replicate(inputs: ReportInputs, copies: int) -> ReportInputs:
    """``copies`` disjoint copies of the book: keys shifted past the largest of each."""

    def grow(frame: pl.DataFrame, keys: dict[str, int]) -> pl.DataFrame:
        if not keys or frame.height == 0:
            return pl.concat([frame] * copies)
        return pl.concat(
            [
                frame.with_columns(pl.col(name) + copy * step for name, step in keys.items())
                for copy in range(copies)
            ]
        )

    account_step = int(inputs.accounts.select(pl.col("account_key").max()).item() or 0) + 1
    case_step = int(inputs.cases.select(pl.col("case_key").max()).item() or 0) + 1
    return dataclasses.replace(
        inputs,
        states=grow(inputs.states, {"account_key": account_step}),
        accounts=grow(inputs.accounts, {"account_key": account_step}),
        payments=grow(inputs.payments, {"account_key": account_step}),
        cases=grow(inputs.cases, {"account_key": account_step, "case_key": case_step}),
        allocations=grow(inputs.allocations, {"case_key": case_step}),
        credits=grow(inputs.credits, {}),
        promises=grow(inputs.promises, {}),
        attempts=grow(inputs.attempts, {"case_key": case_step}),
        decisions=grow(inputs.decisions, {}),
        complaints=grow(inputs.complaints, {"account_key": account_step, "case_key": case_step}),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 3, 18))
    parser.add_argument("--replicate", type=int, default=10)
    parser.add_argument("--out", type=Path, default=BENCH / "out-report")
    parser.add_argument(
        "--database-url",
        help="report on this store as it is (closed through --as-of); nothing is built",
    )
    args = parser.parse_args()

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    figures: list[tuple[str, str]] = []

    clock = time.perf_counter()
    if args.database_url:
        engine = open_store(args.database_url)
        with engine.connect() as conn:
            args.accounts = int(
                conn.execute(sa.select(sa.func.count()).select_from(t.accounts)).scalar_one()
            )
    else:
        engine = open_store(f"sqlite:///{args.out / 'recoup.db'}")
        files = args.out / "files"
        write_portfolio(simulate_portfolio(args.accounts, args.seed, args.as_of), files)
        import_directory(engine, files, show_progress=False)
        close_through(engine, args.as_of)
        run_daily_strategy(engine, load_default_strategy(), args.as_of)
        run_allocation(engine, load_teams(default_teams_path()), args.as_of)
    setup = time.perf_counter() - clock
    with engine.connect() as conn:
        counts = {
            table.name: int(
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )
            for table in (t.account_states, t.payments, t.cases, t.contact_decisions)
        }
    built = "as it was" if args.database_url else f"built in {setup:.0f} s"
    print(f"store {built}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    start = args.as_of - timedelta(days=89)
    clock = time.perf_counter()
    with engine.connect() as conn:
        inputs = read_report_inputs(conn, start, args.as_of)
    read = time.perf_counter() - clock
    frames = (inputs.states, inputs.accounts, inputs.payments, inputs.cases, inputs.decisions)
    rows = sum(frame.height for frame in frames)
    figures.append((f"bulk reads, {args.accounts:,} accounts ({rows:,} rows)", f"{read:.2f} s"))

    def measure(label: str, book: ReportInputs) -> None:
        clock = time.perf_counter()
        report = build_report(book)
        built = time.perf_counter() - clock
        clock = time.perf_counter()
        page = render_html(report, "en")
        rendered = time.perf_counter() - clock
        clock = time.perf_counter()
        tables = args.out / "tables"
        tables.mkdir(exist_ok=True)
        for name, frame in report.tables.items():
            frame.write_csv(tables / f"{name}.csv")
        exported = time.perf_counter() - clock
        figures.append((f"measures, {label}", f"{built:.2f} s"))
        figures.append((f"HTML page, {label} ({len(page) / 1024:,.0f} KiB)", f"{rendered:.2f} s"))
        figures.append((f"12 tables to CSV, {label}", f"{exported:.2f} s"))

    measure(f"{args.accounts:,} accounts", inputs)
    total = read + sum(float(v.split()[0]) for k, v in figures[1:3])
    figures.append((f"`recoup report` in all, {args.accounts:,} accounts", f"{total:.2f} s"))
    if args.replicate > 1:
        big = _replicate(inputs, args.replicate)
        measure(f"{args.accounts * args.replicate:,} accounts in memory", big)
    figures.append(("peak memory", f"{_peak_mb():,.0f} MB"))

    print()
    print("| step | time |")
    print("|---|---|")
    for label, value in figures:
        print(f"| {label} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

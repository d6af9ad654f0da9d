"""Scale benchmark: the nightly batch of a 1,000,000 or 10,000,000 account portfolio.

    python bench/scale.py --accounts 1000000 [--database-url URL] [--naive-sample 10000]

Each step runs in a fresh process of its own, so that its peak memory (maximum resident set
size) is its own and every step starts cold, as the nightly batch does:

- ``simulate``: simulate the portfolio with activity through ``--as-of``, in slices of
  ``--slice-accounts`` accounts so that memory stays bounded, and write each slice's files.
  About 1.1 plans per account, and ``--mean-term`` installments a plan on average (12, as
  issue 3 names it: the simulator tilts its products' terms toward the shorter ones).
  ``--own-mix`` keeps the simulator's own mix instead, 15.5 installments a plan (17.1 an
  account), the portfolio of every figure measured before 2026-11-30's second session;
- ``import``: import the slices into a new store, one import each (rows/s over the rows
  read);
- ``first close``: the store's first close, through the day before ``--as-of``: every
  account replayed from its first plan, in partitions;
- ``naive``: the next day's close the naive way (a loop over ORM objects, three queries per
  account: ``bench/naive_close.py``) on the first ``--naive-sample`` accounts, rolled back;
  its time per account is scaled to the portfolio;
- ``business day``: one ordinary day's close (``--as-of``), the incremental close;
- ``recompute``: a full recompute of every account through that day
  (``recoup close --recompute``), in partitions.

It prints one table (Markdown, for bench/README.md) and keeps the figures in
``<out>/results.json``; a run on another database with the same ``--out`` leaves the steps
last measured on the other one out of its table. The figures are measured here, never
asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

BENCH = Path(__file__).resolve().parent
SCHEMA = "recoup_scale"  # the PostgreSQL schema the benchmark owns and recreates


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _worker_peak_mb() -> float:
    """The largest peak of any worker process the step waited for (0 without workers)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _work_done() -> dict[str, float]:
    """CPU seconds (user and system) and bytes to and from the disk so far, of this process
    and the workers it waited for."""
    own, workers = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    block = 512  # ru_inblock and ru_oublock count 512-byte blocks on Linux
    return {
        "cpu_seconds": sum(u.ru_utime + u.ru_stime for u in (own, workers)),
        "system_seconds": own.ru_stime + workers.ru_stime,
        "read_gb": (own.ru_inblock + workers.ru_inblock) * block / 1e9,
        "written_gb": (own.ru_oublock + workers.ru_oublock) * block / 1e9,
    }


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# --------------------------------------------------------------------------- steps
# Each step runs in its own process and returns what it measured besides time and memory.


def _slices(args: argparse.Namespace) -> list[tuple[int, int]]:
    """(first account, accounts) of each slice the portfolio is simulated and imported in."""
    size = args.slice_accounts
    return [(first, min(size, args.accounts - first + 1)) for first in
            range(1, args.accounts + 1, size)]  # fmt: skip


def _slice_dir(args: argparse.Namespace, number: int) -> Path:
    return Path(args.out) / "files" / f"slice-{number:03d}"


def step_simulate(args: argparse.Namespace) -> dict[str, Any]:
    """The portfolio in slices of ``--slice-accounts`` (a slice's frames are held in memory
    while it is written), each slice a directory of import files."""
    from recoup.simulator import simulate_portfolio, write_portfolio

    rows = plans = payments = installments = 0
    mean_term = None if args.own_mix else args.mean_term
    for number, (first, accounts) in enumerate(_slices(args), start=1):
        portfolio = simulate_portfolio(
            accounts, args.seed + number - 1, args.as_of, first_account=first, mean_term=mean_term
        )
        write_portfolio(portfolio, _slice_dir(args, number))
        rows += portfolio.borrowers.height + portfolio.plans.height + portfolio.payments.height
        plans += portfolio.plans.height
        payments += portfolio.payments.height
        installments += int(portfolio.plans["term"].sum())
        del portfolio
    return {
        "rows": rows,
        "plans": plans,
        "payments": payments,
        "installments_per_plan": round(installments / max(plans, 1), 2),
    }


def step_import(args: argparse.Namespace) -> dict[str, Any]:
    """Each slice's directory in turn; each import is all-or-nothing on its own."""
    from recoup.importer import import_directory
    from recoup.store import tables as t

    engine = _engine(args)
    slice_seconds = []
    for number in range(1, len(_slices(args)) + 1):
        started = time.perf_counter()
        import_directory(engine, _slice_dir(args, number), show_progress=False)
        slice_seconds.append(round(time.perf_counter() - started, 1))
    return {
        "rows": sum(_count(engine, table) for table in (t.borrowers, t.plans, t.payments)),
        "installments": _count(engine, t.installments),
        "slice_seconds": slice_seconds,
    }


def step_first_close(args: argparse.Namespace) -> dict[str, Any]:
    from recoup.close import close_through

    results = close_through(
        _engine(args),
        args.as_of - timedelta(days=1),
        partition_accounts=args.partition_accounts,
        workers=args.workers,
    )
    return {"accounts": sum(r.accounts for r in results), "partitions": len(results)}


def step_naive(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH))
    from naive_close import naive_close

    aged, seconds = naive_close(_engine(args), args.naive_sample)
    return {"accounts": aged, "naive_seconds": seconds}


def step_business_day(args: argparse.Namespace) -> dict[str, Any]:
    from recoup.close import close_through

    results = close_through(_engine(args), args.as_of)
    return {
        "accounts": sum(r.accounts for r in results),
        "recomputed": sum(r.recomputed_accounts for r in results),
    }


def step_recompute(args: argparse.Namespace) -> dict[str, Any]:
    from recoup.close import recompute_all

    results = recompute_all(
        _engine(args), partition_accounts=args.partition_accounts, workers=args.workers
    )
    return {"accounts": sum(r.accounts for r in results), "partitions": len(results)}


STEPS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "simulate": step_simulate,
    "import": step_import,
    "first close": step_first_close,
    "naive": step_naive,
    "business day": step_business_day,
    "recompute": step_recompute,
}


def _engine(args: argparse.Namespace) -> sa.Engine:
    from recoup.store.engine import create_store_engine

    return create_store_engine(args.database_url)


# --------------------------------------------------------------------------- driver


def _fresh_store(args: argparse.Namespace) -> None:
    """An empty store at the newest schema: a new SQLite file, or the benchmark's own
    PostgreSQL schema dropped and created again."""
    from recoup.store.engine import create_store_engine, upgrade_schema

    url: str = args.database_url
    if url.startswith("postgresql"):
        base = url.split("?")[0]
        admin = sa.create_engine(base)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        admin.dispose()
    upgrade_schema(create_store_engine(url))


def _run_step(name: str, args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Run one step in a child process; return its figures."""
    command = [sys.executable, str(Path(__file__).resolve()), *argv, "--step", name]
    print(f"... {name}", file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"step {name!r} failed (exit {done.returncode})")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"    {figures}", file=sys.stderr, flush=True)
    return figures


def _table(args: argparse.Namespace, figures: dict[str, dict[str, Any]]) -> str:
    accounts = args.accounts
    rows = [
        "| step | time | CPU (of it system) | throughput | read from / written to the disk "
        "| peak memory |",
        "|---|---|---|---|---|---|",
    ]

    def row(label: str, step: str, throughput: str) -> None:
        got = figures.get(step)
        if got is not None:
            memory = f"{got['peak_mb']:,.0f} MB"
            if got.get("worker_peak_mb"):
                worker = got["worker_peak_mb"]
                memory += f", and each of {args.workers} workers up to {worker:,.0f} MB"
            # Figures recorded before the steps measured their CPU and disk leave those blank.
            cpu = disk = ""
            if "cpu_seconds" in got:
                cpu = f"{got['cpu_seconds']:,.1f} s ({got['system_seconds']:,.1f} s)"
                disk = f"{got['read_gb']:,.2f} / {got['written_gb']:,.2f} GB"
            cells = (label, f"{got['seconds']:,.1f} s", cpu, throughput, disk, memory)
            rows.append("| " + " | ".join(cells) + " |")

    if "simulate" in figures:
        got = figures["simulate"]
        per_plan = got.get("installments_per_plan")
        row(
            "simulate and write the files",
            "simulate",
            f"{got['rows']:,} rows"
            + (f"; {per_plan} installments a plan" if per_plan is not None else ""),
        )
    if "import" in figures:
        got = figures["import"]
        slices = got.get("slice_seconds", [])
        row(
            f"import ({len(slices)} slices, each all-or-nothing)" if len(slices) > 1 else "import",
            "import",
            f"{got['rows'] / got['seconds']:,.0f} input rows/s; "
            f"{got['installments']:,} installments"
            + (f"; slices {', '.join(f'{x:,.1f}' for x in slices)} s" if len(slices) > 1 else ""),
        )
    for label, step in (
        ("first close (all history, partitions)", "first close"),
        ("one business day's close", "business day"),
        ("full recompute of one day (partitions)", "recompute"),
    ):
        if step in figures:
            row(
                label,
                step,
                f"{accounts / figures[step]['seconds']:,.0f} accounts/s; "
                f"{figures[step]['accounts']:,} read",
            )
    if "naive" in figures and "business day" in figures:
        got = figures["naive"]
        per_account = got["naive_seconds"] / max(got["accounts"], 1)
        ours = figures["business day"]["seconds"] / accounts
        rows.append(
            f"| naive day's close, {got['accounts']:,}-account sample | "
            f"{got['naive_seconds']:,.1f} s ({per_account * 1000:.1f} ms/account); "
            f"scaled: {per_account * accounts:,.0f} s |  | "
            f"{per_account / ours:,.0f}× slower per account than the business day |  | "
            f"{got['peak_mb']:,.0f} MB |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 27))
    parser.add_argument("--out", type=Path, default=BENCH / "out-scale")
    parser.add_argument("--database-url", help="default: a new SQLite file in --out")
    parser.add_argument("--naive-sample", type=int, default=10_000)
    parser.add_argument(
        "--mean-term",
        type=float,
        default=12.0,
        help="the installments a plan has on average (issue 3's portfolio: 12); the "
        "simulator tilts its products' terms to reach it",
    )
    parser.add_argument(
        "--own-mix",
        action="store_true",
        help="the simulator's own product mix instead (15.5 installments a plan), the "
        "portfolio of the figures measured before 2026-11-30's second session",
    )
    # Two workers on 125,000-account partitions peak at about 2.9 GB each (250,000: 5.1 GB).
    parser.add_argument("--partition-accounts", type=int, default=125_000)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="processes replaying partitions side by side in the first close and the recompute",
    )
    parser.add_argument(
        "--slice-accounts",
        type=int,
        default=1_000_000,
        help="simulate and import the portfolio in slices of this many accounts",
    )
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="comma-separated steps to run (default all, in order); a later step needs the "
        "earlier ones' files and store",
    )
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # a child's one step
    args = parser.parse_args()
    if args.database_url is None:
        args.database_url = f"sqlite:///{args.out / 'scale.db'}"
    elif args.database_url.startswith("postgresql") and "search_path" not in args.database_url:
        separator = "&" if "?" in args.database_url else "?"
        args.database_url += f"{separator}options=-csearch_path%3D{SCHEMA}"

    if args.step is not None:
        clock, before = time.perf_counter(), _work_done()
        measured = STEPS[args.step](args)
        # What the time went on besides waiting: CPU, and what came from and went to the disk.
        measured |= {name: value - before[name] for name, value in _work_done().items()}
        measured |= {
            "database": sa.make_url(args.database_url).get_backend_name(),
            "seconds": time.perf_counter() - clock,
            "peak_mb": _peak_mb(),
            "worker_peak_mb": _worker_peak_mb(),
        }
        print(json.dumps(measured))
        return 0

    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown step(s): {', '.join(unknown)}; the steps are {', '.join(STEPS)}")
    if not args.own_mix:
        # Checked here, before the simulate step clears --out and its store.
        from recoup.simulator.plans import PRODUCT_MIX, with_mean_term

        try:
            with_mean_term(PRODUCT_MIX, args.mean_term)
        except ValueError as exc:
            parser.error(f"--mean-term {args.mean_term:g}: {exc}")
    argv = [
        "--accounts", str(args.accounts), "--seed", str(args.seed),
        "--as-of", args.as_of.isoformat(), "--out", str(args.out),
        "--database-url", args.database_url, "--naive-sample", str(args.naive_sample),
        "--partition-accounts", str(args.partition_accounts), "--workers", str(args.workers),
        "--slice-accounts", str(args.slice_accounts), "--mean-term", str(args.mean_term),
        *(["--own-mix"] if args.own_mix else []),
    ]  # fmt: skip
    results_file = args.out / "results.json"
    if "simulate" in steps:
        shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, dict[str, Any]] = (
        json.loads(results_file.read_text()) if results_file.exists() else {}
    )
    for name in steps:
        if name == "import":
            _fresh_store(args)
        figures[name] = _run_step(name, args, argv)
        results_file.write_text(json.dumps(figures, indent=2))

    engine = sa.make_url(args.database_url).get_backend_name()
    # results.json keeps each step's latest figures whatever store it ran on; a table that
    # mixed databases would set, say, one store's naive loop against another's business day.
    # The simulated files serve every store.
    elsewhere = [
        name
        for name, got in figures.items()
        if name != "simulate" and got.get("database", engine) != engine
    ]
    if elsewhere:
        print(f"left out, measured on another database: {', '.join(elsewhere)}")
    print(
        f"{args.accounts:,} accounts on {engine}; {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; as of {args.as_of}; "
        + (
            "the simulator's own product mix"
            if args.own_mix
            else f"plans of {args.mean_term:g} installments on average"
        )
    )
    print(_table(args, {k: v for k, v in figures.items() if k not in elsewhere}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of the simulation lab: one strategy (or two) on a simulated portfolio.

    .venv/bin/python bench/lab.py --accounts 5000 --days 30
    .venv/bin/python bench/lab.py --accounts 50000 --days 90 --vs light.yaml
    .venv/bin/python bench/lab.py --accounts 5000 --days 30 --profile lab.prof

Prints the lab's report, then where the time went (the daily cycle's steps, the responses,
the imports) and the wall time, the peak memory (maximum resident set size) and the machine.
``--profile`` writes a cProfile of the whole run (read it with ``python -m pstats``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import resource
import sqlite3
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from recoup.lab import run_lab
from recoup.strategy import default_strategy_text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--strategy", type=Path, help="default: the shipped strategy")
    parser.add_argument("--vs", type=Path, help="a second strategy")
    parser.add_argument("--workdir", type=Path, help="where the temporary stores go")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the run here")
    args = parser.parse_args()

    workdir = args.workdir or Path(__file__).resolve().parent / "out-lab"
    workdir.mkdir(parents=True, exist_ok=True)
    strategy = args.strategy
    if strategy is None:
        strategy = workdir / "default.yaml"
        strategy.write_text(default_strategy_text(), encoding="utf-8")
    paths = [strategy] + ([args.vs] if args.vs else [])

    profiler = cProfile.Profile() if args.profile else None
    began = time.perf_counter()
    if profiler:
        profiler.enable()
    report = run_lab(
        paths,
        args.accounts,
        args.days,
        list(range(1, args.seeds + 1)),
        workdir=workdir,
        progress=lambda line: print(line, flush=True),
    )
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    wall = time.perf_counter() - began

    print()
    print(report.describe())
    print()
    for result in report.strategies:
        total = sum(result.seconds.values())
        print(f"where the time went ({result.name}, {len(report.seeds)} run(s), {total:.1f} s):")
        for part, seconds in sorted(result.seconds.items(), key=lambda kv: -kv[1]):
            print(f"  {part:<26} {seconds:8.1f} s  {seconds / total:6.1%}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    runs = len(report.seeds) * len(report.strategies)
    per_day = wall / (runs * args.days)
    print()
    print(
        f"{args.accounts:,} accounts x {args.days} days x {runs} run(s): {wall:.1f} s wall "
        f"({per_day:.2f} s per simulated day), peak memory {peak:,.0f} MB"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, Polars {pl.__version__}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

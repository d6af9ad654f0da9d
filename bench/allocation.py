"""Allocation benchmark: one day's 分案 of 1,000,000 open cases over 300 collectors.

    python bench/allocation.py [--cases 1000000] [--collectors 300] [--agencies 6]
                               [--scenario steady|initial]

``steady``: a book in its daily routine: 90% of the cases already owned (some stale, due
for rotation or recall, some no longer fitting their owner), collectors with daily
capacities of 20 to 80 new cases. ``initial``: the first allocation of a whole book: no
case owned yet and daily capacity equal to each collector's open-case limit, so the flow
and the dealing within classes handle hundreds of thousands of assignments.

Each scenario runs in a fresh process so that its peak memory (maximum resident set size,
including building the synthetic cases) is its own. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.allocation_cases import MONDAY, synthetic_cases, synthetic_teams

    from recoup.allocation import allocate, format_summary, summarise

    initial = args.scenario == "initial"
    started = time.perf_counter()
    config = synthetic_teams(args.collectors, args.agencies, initial_load=initial)
    cases = synthetic_cases(args.cases, config, MONDAY, owned=not initial)
    built = time.perf_counter() - started
    started = time.perf_counter()
    allocation = allocate(cases, config, MONDAY)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = summarise(allocation, config)
    print(
        f"scenario {args.scenario}: {args.cases:,} cases, {len(config.collectors)} collectors, "
        f"{len(config.agencies)} agencies, as of {MONDAY} (a Monday)"
    )
    print(f"synthetic cases built in {built:.1f} s")
    print(
        f"allocate: {elapsed:.2f} s, {args.cases / elapsed:,.0f} cases/s; "
        f"peak memory {peak_mb:,.0f} MB"
    )
    print("decisions: " + ", ".join(f"{d} {n:,}" for d, n in allocation.counts().items()))
    if args.show:
        print("\n".join(format_summary(summary.head(args.show))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--collectors", type=int, default=300)
    parser.add_argument("--agencies", type=int, default=6)
    parser.add_argument("--scenario", choices=["steady", "initial", "both"], default="both")
    parser.add_argument("--show", type=int, default=0, help="print the first N owners' totals")
    args = parser.parse_args()
    if args.scenario != "both":
        run(args)
        return
    for scenario in ("steady", "initial"):
        argv = [a for a in sys.argv[1:] if not a.startswith("--scenario")]
        subprocess.run([sys.executable, __file__, *argv, "--scenario", scenario], check=True)


if __name__ == "__main__":
    main()

"""Strategy benchmark: one day's decisions and actions for 1,000,000 open cases.

    python bench/strategy_run.py [--cases 1000000]

The cases are synthetic (``tests/unit/strategy_cases.synthetic``: every bucket, early
warning, disputes, promises, broken promises, partial payments, regions, grades) and the
strategy is the shipped default, with its champion/challenger test. It times the pure
evaluation (segments, arms, paths, events, steps) in a fresh process, so that peak memory
(maximum resident set size, including building the cases) is its own. The store's part of
a run (reading the cases, writing the actions) is timed by ``bench/scale.py``'s portfolio
runs. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.unit.strategy_cases import AS_OF, synthetic

    from recoup.strategy import load_default_strategy, run_strategy

    clock = time.perf_counter()
    cases = synthetic(args.cases)
    built = time.perf_counter() - clock
    strategy = load_default_strategy()
    clock = time.perf_counter()
    plan = run_strategy(cases, strategy, AS_OF)
    seconds = time.perf_counter() - clock
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    statuses = plan.decisions.group_by("status").len().sort("status").rows()
    print(
        f"{args.cases:,} open cases (built in {built:.1f} s), strategy {strategy.id} "
        f"v{strategy.version}"
    )
    print(
        f"decisions and actions: {seconds:.1f} s, {args.cases / seconds:,.0f} cases/s; "
        f"{plan.actions.height:,} actions; peak memory {peak:,.0f} MB"
    )
    print("decisions: " + ", ".join(f"{status} {count:,}" for status, count in statuses))
    return 0


if __name__ == "__main__":
    sys.exit(main())

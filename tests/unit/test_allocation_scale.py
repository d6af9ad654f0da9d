"""Allocation at scale: 50,000 open cases over 300 collectors and 6 agencies keep every promise.

The million-case run is a benchmark (``bench/allocation.py``), timed there, not asserted here.
"""

from __future__ import annotations

from recoup.allocation import allocate, summarise
from tests.allocation_cases import MONDAY, synthetic_cases, synthetic_teams, violations


def test_allocation__fifty_thousand_cases_keep_every_capacity_and_skill() -> None:
    config = synthetic_teams(collectors=300, agencies=6)
    cases = synthetic_cases(50_000, config, MONDAY)
    allocation = allocate(cases, config, MONDAY)
    assert allocation.cases.height == 50_000
    assert violations(cases, config, MONDAY, allocation.cases) == []
    counts = allocation.counts()
    assert all(counts[d] > 0 for d in ("kept", "assigned", "rotated", "placed", "recalled"))
    summary = summarise(allocation, config)
    assert int(summary["open_cases"].sum()) == 50_000
    assert summary.filter(summary["open_left"] < 0).is_empty()

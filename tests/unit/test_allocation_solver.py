"""The min-cost flow behind allocation: as many cases as capacity allows, then the cheapest."""

from __future__ import annotations

import numpy as np

from recoup.allocation.solver import serpentine_slots, solve_transport


def _solve(
    supply: list[int],
    arcs: list[tuple[int, int, int]],
    capacity: list[int],
    base: list[float] | None = None,
    segments: int = 256,
) -> list[int]:
    flows = solve_transport(
        np.array(supply, dtype=np.int64),
        np.array([a[0] for a in arcs], dtype=np.int64),
        np.array([a[1] for a in arcs], dtype=np.int64),
        np.array([a[2] for a in arcs], dtype=np.int64),
        np.array(capacity, dtype=np.int64),
        np.array(base or [0.0] * len(capacity), dtype=np.float64),
        np.ones(len(capacity), dtype=np.float64),
        segments,
    )
    return [int(f) for f in flows]


def test_solver__serves_the_class_with_one_eligible_owner_before_the_flexible_one() -> None:
    # Class 0 may go to owner 0 or 1, class 1 only to owner 0; one case of room each.
    assert _solve([1, 1], [(0, 0, 0), (0, 1, 5), (1, 0, 0)], [1, 1]) == [0, 1, 1]


def test_solver__levels_the_owners_with_convex_costs() -> None:
    flows = _solve([30], [(0, 0, 0), (0, 1, 0), (0, 2, 0)], [100, 100, 100], [10.0, 5.0, 0.0])
    assert flows == [5, 10, 15]  # everyone ends at 15 open cases


def test_solver__never_exceeds_a_capacity_even_with_wide_segments() -> None:
    flows = _solve([5000], [(0, 0, 0), (0, 1, 0)], [1234, 2001], segments=16)
    assert flows == [1234, 2001]
    flows = _solve([1000], [(0, 0, 0), (0, 1, 0)], [1234, 2001], segments=16)
    assert sum(flows) == 1000
    assert abs(flows[0] - flows[1]) <= 2001 // 16 + 1  # balanced to within a segment


def test_solver__nothing_to_do_returns_no_flow() -> None:
    assert _solve([0], [(0, 0, 0)], [3]) == [0]
    assert _solve([4], [(0, 0, 0)], [0]) == [0]


def test_solver__deals_a_class_in_a_serpentine_least_loaded_first() -> None:
    klass, rank, owner = serpentine_slots(
        np.array([0, 0, 0, 1], dtype=np.int64),
        np.array([0, 1, 2, 0], dtype=np.int64),
        np.array([2, 3, 1, 2], dtype=np.int64),
        np.array([1, 0, 2], dtype=np.int64),  # owner 1 is least loaded, then 0, then 2
    )
    pairs = sorted(zip(klass.tolist(), rank.tolist(), owner.tolist(), strict=True))
    assert pairs == [
        (0, 0, 1),
        (0, 1, 0),
        (0, 2, 2),  # round 0 forward
        (0, 3, 0),
        (0, 4, 1),  # round 1 back (owner 2 is done)
        (0, 5, 1),  # round 2 forward: only owner 1 is left
        (1, 0, 0),
        (1, 1, 0),
    ]

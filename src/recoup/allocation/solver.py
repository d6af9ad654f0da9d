"""The assignment solver: cases of a few *classes* to owners with capacities, by min-cost flow.

Why a min-cost flow and not a greedy rule. Handing each new case to the least-loaded eligible
collector, one case at a time, is what most shops do, and it fails exactly where skills are
scarce: zh cases reach the one collector who also speaks Uyghur before the Uyghur cases do,
fill that collector's daily capacity, and the Uyghur cases go unallocated although a
different order would have served everyone. Assigning cases to owners under eligibility and
capacity is a transportation problem; a min-cost flow solves it exactly: it first assigns as
many cases as the capacities allow (a maximum flow), then, among all such assignments, the one
of least cost. The costs encode the balancing rule: each owner's arcs to the sink cost more
for each further case (a convex cost: the k-th new case of a collector with ``o`` open cases
costs ``o + k``), so the cheapest flow levels the owners out, which is what "even count" and
"even balance" mean; for the skill rule a class-to-owner arc also costs more the worse the
match. OR-Tools' ``SimpleMinCostFlow.solve_max_flow_with_min_cost`` does both steps at once.

Why it stays small for a million cases. Cases with the same set of eligible owners (and the
same arc costs) are interchangeable, so they form one *class*, a single node whose supply is
the number of its cases; there is one arc per class and eligible owner, never one per case.
An owner's capacity is split into at most ``segments`` arcs of rising cost (unit arcs while
the capacity is small), so the network has a few thousand nodes and arcs whatever the number
of cases. The flow says how many cases of each class go to each owner; which case goes where
within a class is decided by the caller, vectorised.

Where greedy is enough, it is used: keeping a case with its owner (continuity), deciding that
a case is due for rotation or recall, and shedding cases from an owner over its limit are
per-case rules with no competition between cases, so no solver is needed for them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: At most this many arcs of rising cost carry one owner's capacity. With unit arcs the
#: balance is exact; wider arcs (capacities above this) balance to within their width.
SEGMENTS = 256


def solve_transport(
    supply: IntArray,
    arc_class: IntArray,
    arc_owner: IntArray,
    arc_cost: IntArray,
    owner_capacity: IntArray,
    owner_base: FloatArray,
    owner_step: FloatArray,
    segments: int = SEGMENTS,
) -> IntArray:
    """How many cases of each class go to each owner: the flow on each class-owner arc.

    ``supply[k]`` is the number of cases of class ``k``; arc ``i`` lets class
    ``arc_class[i]`` go to owner ``arc_owner[i]`` at ``arc_cost[i]`` per case. Owner ``o``
    takes at most ``owner_capacity[o]`` cases, the ``k``-th of them (from 1) at a cost of
    ``owner_base[o] + owner_step[o] * k`` (rounded): a convex cost when ``owner_step >= 0``.

    The result assigns as many cases as possible (never more than a capacity) and, among
    such assignments, has the least total cost.
    """
    n_class = len(supply)
    n_owner = len(owner_capacity)
    flows = np.zeros(len(arc_class), dtype=np.int64)
    if n_class == 0 or len(arc_class) == 0 or int(supply.sum()) == 0:
        return flows
    sink = n_class + n_owner

    seg_owner, seg_capacity, seg_cost = _owner_segments(
        owner_capacity, owner_base, owner_step, segments
    )
    network = min_cost_flow.SimpleMinCostFlow()
    class_arcs = network.add_arcs_with_capacity_and_unit_cost(
        arc_class.astype(np.int64),
        (arc_owner + n_class).astype(np.int64),
        np.minimum(supply[arc_class], owner_capacity[arc_owner]).astype(np.int64),
        arc_cost.astype(np.int64),
    )
    if len(seg_owner):
        network.add_arcs_with_capacity_and_unit_cost(
            (seg_owner + n_class).astype(np.int64),
            np.full(len(seg_owner), sink, dtype=np.int64),
            seg_capacity,
            seg_cost,
        )
    network.set_nodes_supplies(
        np.append(np.arange(n_class, dtype=np.int64), sink),
        np.append(supply, -int(supply.sum())).astype(np.int64),
    )
    status = network.solve_max_flow_with_min_cost()
    if status != network.OPTIMAL:
        raise RuntimeError(f"the allocation's min-cost flow failed: {status}")
    result: IntArray = np.asarray(network.flows(class_arcs), dtype=np.int64)
    return result


def _owner_segments(
    capacity: IntArray, base: FloatArray, step: FloatArray, segments: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Each owner's capacity as arcs of rising cost: (owner, capacity, cost) per arc."""
    owners = np.flatnonzero(capacity > 0)
    cap = capacity[owners]
    width = np.maximum(1, -(-cap // segments))  # ceil(cap / segments)
    count = -(-cap // width)
    seg_owner = np.repeat(owners, count)
    first = np.repeat(np.cumsum(count) - count, count)
    index = np.arange(len(seg_owner)) - first  # segment number within its owner
    seg_width = np.repeat(width, count)
    start = index * seg_width  # cases before this segment
    seg_capacity = np.minimum(seg_width, capacity[seg_owner] - start)
    middle = start + (seg_capacity + 1) / 2  # the middle case of the segment, from 1
    seg_cost = np.rint(base[seg_owner] + step[seg_owner] * middle).astype(np.int64)
    return seg_owner.astype(np.int64), seg_capacity.astype(np.int64), seg_cost


def serpentine_slots(
    arc_class: IntArray, arc_owner: IntArray, flows: IntArray, owner_order: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Deal each class's cases to its owners in a serpentine, as cards are dealt to players.

    Within a class, slot 0 goes to the owner first in ``owner_order`` (the least loaded),
    slot 1 to the next, ... then the next round runs back the other way, so that when the
    class's cases are sorted largest balance first the totals come out even. An owner with
    a flow of ``f`` gets ``f`` slots. Returns ``(class, rank_in_class, owner)`` per slot.
    """
    used = np.flatnonzero(flows > 0)
    f = flows[used]
    if len(f) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    arc = np.repeat(used, f)
    round_ = np.arange(len(arc)) - np.repeat(np.cumsum(f) - f, f)
    klass = arc_class[arc]
    order = owner_order[arc_owner[arc]]
    direction = np.where(round_ % 2 == 0, order, -order)
    sort = np.lexsort((direction, round_, klass))
    klass = klass[sort]
    rank = np.arange(len(klass)) - np.searchsorted(klass, klass, side="left")
    return klass.astype(np.int64), rank.astype(np.int64), arc_owner[arc[sort]].astype(np.int64)

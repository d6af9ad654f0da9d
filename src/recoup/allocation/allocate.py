"""Allocation (分案): who owns each open collection case today, and why.

:func:`allocate` takes the day's open cases (one row each, every open case that has an owner
included, since an owner's open cases are counted from this frame) and a validated teams
file, and decides each case's owner with these rules, in this order:

1. **Continuity.** A case stays with its collector while the collector can work it (skills
   cover its language, bucket and product, and its team when the strategy's ``queue`` names
   one) and it is not due for rotation or for an agency. With ``continuity: false`` every
   in-house case is re-allocated each run, as a new case.
2. **Rotation.** After ``rotate_after_days`` without progress (days since the later of
   ``owned_since`` and ``last_progress_on``), a case goes to *another* collector. When no
   other collector can take it, it stays where it is (decision ``kept``, and the reason says so).
3. **Agencies (委外).** Cases from ``agency_from_bucket`` on (or whose ``queue`` is
   ``agency``) are placed with an agency whose bucket range and products cover them; when no
   agency has room, a collector who already holds the case keeps it, else it goes to the
   in-house pool. An agency keeps a case until ``recall_after_days`` without progress (the
   agency's own, else the rules'), or until the case no longer fits it (its bucket improved
   below agency placement, say). **Recall policy:** a recalled case is placed with *another*
   agency when one fits and has room (a fresh agency works it on a new commission period, the
   usual 轮换委外), else it returns to the in-house pool; decision ``recalled`` either way,
   and ``owner`` is where it went (or null).
4. **Capacity, exactly.** An agency holds at most ``capacity`` open cases. A collector holds
   at most ``max_open_cases`` (kept cases count) and receives at most ``daily_capacity`` new
   cases (assigned or rotated to it) a day, and none on a day it does not work. An owner
   already over a limit (the file was changed) keeps the cases with the most recent progress
   and the rest are re-allocated elsewhere.
5. **Balance.** New, rotated and re-allocated cases are spread by a min-cost flow (see
   :mod:`recoup.allocation.solver` for why not a greedy rule): ``even_count`` levels the
   number of open cases per collector, ``even_balance`` the total balance, and ``skill``
   prefers the best match (the case's language is the collector's first language, a narrower
   bucket range, a product specialist), then levels counts among equal matches. Agencies are
   always levelled by the share of their capacity in use plus their commission rate for the
   bucket, so a cheaper agency takes proportionally more.
6. When there are more cases than room, the cases with the larger balance (then the higher
   DPD) are served first; the rest are ``unallocated`` and the reason says which skill or
   capacity was missing.

Every output row carries a plain-words ``reason``. The decisions are deterministic: the same
cases, file and date give the same allocation, whatever the order of the input rows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from recoup.allocation.config import (
    AGENCY_QUEUE,
    Collector,
    Method,
    OwnerKind,
    TeamsConfig,
    percent_text,
)
from recoup.allocation.solver import FloatArray, IntArray, serpentine_slots, solve_transport
from recoup.money import rate_ppm


class Decision(enum.StrEnum):
    KEPT = "kept"  # stays with its current owner
    ASSIGNED = "assigned"  # a new (or re-allocated) case given to a collector
    ROTATED = "rotated"  # moved to another collector after days without progress
    PLACED = "placed"  # given to an agency
    RECALLED = "recalled"  # taken back from an agency; ``owner`` is where it went, if anywhere
    UNALLOCATED = "unallocated"  # no owner with the skills has room


class AllocationInputError(ValueError):
    """The cases frame does not follow :data:`CASE_COLUMNS`."""


#: The input: one row per open case needing an owner decision. The last six may be absent
#: (read as all null). ``current_owner`` is a collector or agency id; ``owner_kind`` says
#: which ("collector" | "agency"), or is null to look the id up in the teams file.
CASE_COLUMNS: dict[str, pl.DataType] = {
    "case_key": pl.Int64(),
    "account_key": pl.Int64(),
    "bucket": pl.String(),
    "dpd": pl.Int64(),
    "balance_cents": pl.Int64(),
    "product_id": pl.String(),
    "language": pl.String(),
    "current_owner": pl.String(),
    "owner_kind": pl.String(),
    "owned_since": pl.Date(),
    "last_progress_on": pl.Date(),
    "queue": pl.String(),
}
OPTIONAL_CASE_COLUMNS = frozenset(
    {"language", "current_owner", "owner_kind", "owned_since", "last_progress_on", "queue"}
)

#: The output: one row per input case, sorted by ``case_key``. ``owner`` is null only when
#: the decision is ``unallocated`` (or ``recalled`` with nowhere to go); ``team`` is the
#: collector's team; ``commission_ppm`` is the agency's commission rate for the case's bucket
#: in parts per million (180000 = 18%), null for collectors.
ALLOCATION_COLUMNS: dict[str, pl.DataType] = {
    "case_key": pl.Int64(),
    "account_key": pl.Int64(),
    "bucket": pl.String(),
    "balance_cents": pl.Int64(),
    "previous_owner": pl.String(),
    "owner": pl.String(),
    "owner_kind": pl.String(),
    "team": pl.String(),
    "decision": pl.String(),
    "reason": pl.String(),
    "commission_ppm": pl.Int64(),
}


@dataclass(frozen=True, slots=True)
class Allocation:
    """One allocation run: its date, its rule, the teams file it used, and a row per case."""

    as_of: date
    method: Method
    teams_digest: str
    cases: pl.DataFrame  # ALLOCATION_COLUMNS

    def counts(self) -> dict[str, int]:
        """The number of cases per decision (every decision named, zero included)."""
        found = dict(self.cases.group_by("decision").len().iter_rows())
        return {d.value: int(found.get(d.value, 0)) for d in Decision}


def allocate(cases: pl.DataFrame, config: TeamsConfig, as_of: date) -> Allocation:
    """Decide the owner of every case in ``cases`` (:data:`CASE_COLUMNS`) as of ``as_of``.

    Returns an :class:`Allocation` whose frame follows :data:`ALLOCATION_COLUMNS`. Raises
    :class:`AllocationInputError` when the frame lacks a column, has a null where a value is
    required, or repeats a case.
    """
    return _Run(config, as_of).allocate(_checked(cases))


def _checked(cases: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in CASE_COLUMNS if c not in cases.columns and c not in OPTIONAL_CASE_COLUMNS]
    if missing:
        raise AllocationInputError(f"the cases frame lacks column(s): {', '.join(missing)}")
    frame = cases.select(
        (pl.col(name) if name in cases.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in CASE_COLUMNS.items()
    )
    for name in CASE_COLUMNS:
        if name not in OPTIONAL_CASE_COLUMNS and frame[name].null_count():
            raise AllocationInputError(f"column {name} has null values")
    if frame["case_key"].n_unique() != frame.height:
        raise AllocationInputError("a case_key appears more than once")
    return frame


_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_UTILISATION_SCALE = 10_000  # an agency's capacity in use, in basis points
_BALANCE_SCALE = 10  # resolution of a collector's balance level, in mean-case units


@dataclass(frozen=True, slots=True)
class _Profile:
    """What decides who may take a case: every case of one profile has the same owners."""

    bucket: str
    position: int | None
    product: str
    language: str | None
    team: str | None  # the team the strategy's queue names
    agency_bound: bool


@dataclass(frozen=True, slots=True)
class _Owners:
    """The owners of one kind as the solver sees them, in the teams file's order."""

    ids: list[str]
    capacity: IntArray  # new cases each may take today
    base: FloatArray  # balancing level before any new case
    step: FloatArray  # level added by each new case
    order: IntArray  # dealing order within a class: least loaded first
    preference_weight: int  # multiplies the skill mismatch (the skill rule), else 0


class _Run:
    """One allocation: the teams file, the date, and the lookups derived from them."""

    def __init__(self, config: TeamsConfig, as_of: date) -> None:
        self.config = config
        self.as_of = as_of
        self.weekday = as_of.weekday()
        self.collectors = config.collectors
        self.agencies = config.agencies
        self.collector_by_id = {c.id: c for c in config.collectors}
        self.agency_by_id = {a.id: a for a in config.agencies}
        self.profiles: list[_Profile] = []
        # profile -> eligible owners as (index into collectors/agencies, preference cost)
        self.eligible_collectors: dict[int, list[tuple[int, int]]] = {}
        self.eligible_agencies: dict[int, list[tuple[int, int]]] = {}

    # ------------------------------------------------------------------ the pipeline

    def allocate(self, frame: pl.DataFrame) -> Allocation:
        frame = self._profiled(frame)
        frame = self._intents(frame)
        frame = self._shed(frame, OwnerKind.AGENCY)
        frame = frame.with_columns(
            owner=pl.lit(None, pl.String),
            owner_kind=pl.lit(None, pl.String),
            note_agency=pl.lit(None, pl.String),
            note_collector=pl.lit(None, pl.String),
        )
        frame = self._pool(
            frame,
            OwnerKind.AGENCY,
            pl.col("agency_bound") & pl.col("intent").is_in(["place", "recall", "new"]),
        )
        # Not placed: a collector who can still work the case keeps it.
        frame = frame.with_columns(
            _when_then(
                (pl.col("intent") == "place") & pl.col("owner").is_null() & pl.col("fallback"),
                intent="keep",
                cause="no_agency",
            )
        )
        frame = self._shed(frame, OwnerKind.COLLECTOR)
        frame = self._pool(
            frame,
            OwnerKind.COLLECTOR,
            pl.col("owner").is_null() & ~pl.col("intent").is_in(["keep", "invalid"]),
        )
        # Not rotated: no other collector could take it, so it stays.
        frame = frame.with_columns(
            _when_then(
                (pl.col("intent") == "rotate") & pl.col("owner").is_null() & pl.col("fallback"),
                intent="keep",
                cause="no_rotation_target",
            )
        )
        frame = frame.with_columns(
            owner=pl.when(pl.col("intent") == "keep")
            .then(pl.col("prev_owner"))
            .otherwise(pl.col("owner")),
            owner_kind=pl.when(pl.col("intent") == "keep")
            .then(pl.col("prev_kind"))
            .otherwise(pl.col("owner_kind")),
        )
        result = self._explained(frame)
        return Allocation(
            as_of=self.as_of,
            method=self.config.rules.method,
            teams_digest=self.config.digest,
            cases=result,
        )

    # ------------------------------------------------------------------ profiles

    def _profiled(self, frame: pl.DataFrame) -> pl.DataFrame:
        config = self.config
        positions = pl.DataFrame(
            {"bucket": list(config.buckets), "bucket_pos": list(range(len(config.buckets)))},
            schema={"bucket": pl.String, "bucket_pos": pl.Int64},
        )
        team_ids = [t.id for t in config.teams]
        collector_ids = [c.id for c in self.collectors]
        agency_ids = [a.id for a in self.agencies]
        from_pos = config.agency_from_position
        frame = frame.rename({"owner_kind": "owner_kind_in"})
        frame = frame.join(positions, on="bucket", how="left").with_columns(
            language_key=pl.col("language").fill_null(""),
            team_key=pl.when(pl.col("queue").is_in(team_ids).fill_null(False))
            .then(pl.col("queue"))
            .otherwise(pl.lit("")),
        )
        if self.agencies and from_pos is not None:
            agency_bound = (
                (pl.col("team_key") == "")
                & pl.col("bucket_pos").is_not_null()
                & (
                    (pl.col("bucket_pos") >= from_pos)
                    | (pl.col("queue") == AGENCY_QUEUE).fill_null(False)
                )
            )
        else:
            agency_bound = pl.lit(False)
        owner, kind = pl.col("current_owner"), pl.col("owner_kind_in")
        is_collector = owner.is_in(collector_ids).fill_null(False) & (
            kind.is_null() | (kind == OwnerKind.COLLECTOR.value)
        )
        is_agency = owner.is_in(agency_ids).fill_null(False) & (
            kind.is_null() | (kind == OwnerKind.AGENCY.value)
        )
        frame = frame.with_columns(
            agency_bound=agency_bound,
            prev_kind=pl.when(is_collector)
            .then(pl.lit(OwnerKind.COLLECTOR.value))
            .when(is_agency)
            .then(pl.lit(OwnerKind.AGENCY.value))
            .otherwise(pl.lit(None, pl.String)),
        ).with_columns(
            prev_owner=pl.when(pl.col("prev_kind").is_not_null()).then(owner),
        )

        keys = ["bucket", "product_id", "language_key", "team_key", "agency_bound"]
        profiles = (
            frame.select(*keys, "bucket_pos")
            .unique(subset=keys)
            .sort(keys)
            .with_row_index("profile")
        )
        pairs: list[tuple[int, str]] = []
        for row in profiles.iter_rows(named=True):
            profile = _Profile(
                bucket=row["bucket"],
                position=row["bucket_pos"],
                product=row["product_id"],
                language=row["language_key"] or None,
                team=row["team_key"] or None,
                agency_bound=row["agency_bound"],
            )
            index = len(self.profiles)
            self.profiles.append(profile)
            self.eligible_collectors[index] = self._collectors_for(profile)
            self.eligible_agencies[index] = self._agencies_for(profile)
            pairs.extend((index, self.collectors[i].id) for i, _ in self.eligible_collectors[index])
            pairs.extend((index, self.agencies[i].id) for i, _ in self.eligible_agencies[index])
        fitting = pl.DataFrame(
            {"profile": [p for p, _ in pairs], "prev_owner": [o for _, o in pairs]},
            schema={"profile": pl.UInt32, "prev_owner": pl.String},
        ).with_columns(fits=pl.lit(True))
        frame = frame.join(profiles.select(*keys, "profile"), on=keys, how="left")
        return frame.join(fitting, on=["profile", "prev_owner"], how="left").with_columns(
            pl.col("fits").fill_null(False)
        )

    def _collectors_for(self, profile: _Profile) -> list[tuple[int, int]]:
        if profile.position is None:
            return []
        return [
            (i, _skill_mismatch(c, profile))
            for i, c in enumerate(self.collectors)
            if c.can_take(profile.position, profile.product, profile.language, profile.team)
        ]

    def _agencies_for(self, profile: _Profile) -> list[tuple[int, int]]:
        if profile.position is None or not profile.agency_bound:
            return []
        return [
            (i, rate_ppm(a.commission[profile.bucket]) // 100)  # basis points
            for i, a in enumerate(self.agencies)
            if a.can_take(profile.position, profile.product)
        ]

    # ------------------------------------------------------------------ intents

    def _intents(self, frame: pl.DataFrame) -> pl.DataFrame:
        """What each case needs before any capacity is considered (a per-case rule)."""
        rules = self.config.rules
        recall_days = pl.DataFrame(
            {
                "prev_owner": [a.id for a in self.agencies],
                "recall_days": [self.config.agency_recall_days(a) for a in self.agencies],
            },
            schema={"prev_owner": pl.String, "recall_days": pl.Int64},
        )
        frame = frame.join(recall_days, on="prev_owner", how="left").with_columns(
            stale_days=(
                pl.lit(self.as_of) - pl.max_horizontal("owned_since", "last_progress_on")
            ).dt.total_days()
        )
        collector = pl.col("prev_kind") == OwnerKind.COLLECTOR.value
        agency = pl.col("prev_kind") == OwnerKind.AGENCY.value
        stale = pl.col("stale_days")
        rotate_due = (
            pl.lit(False)
            if rules.rotate_after_days is None
            else (stale >= rules.rotate_after_days).fill_null(False)
        )
        recall_due = (stale >= pl.col("recall_days")).fill_null(False)
        table: list[tuple[pl.Expr, str, str]] = [
            (pl.col("bucket_pos").is_null(), "invalid", "unknown_bucket"),
            (collector & pl.col("agency_bound"), "place", "for_agency"),
            (collector & ~pl.col("fits"), "reassign", "unfit"),
            (collector & pl.lit(not rules.continuity), "reassign", "continuity_off"),
            (collector & rotate_due, "rotate", "stale"),
            (collector, "keep", "continuity"),
            (agency & ~pl.col("fits"), "recall", "unfit"),
            (agency & recall_due, "recall", "stale"),
            (agency, "keep", "agency"),
            (pl.col("current_owner").is_not_null(), "new", "unknown_owner"),
        ]
        intent = _chain([(c, i) for c, i, _ in table], "new")
        cause = _chain([(c, k) for c, _, k in table], "new")
        return frame.with_columns(intent=intent, cause=cause).with_columns(
            # Whether the case stays with its collector if no new owner is found.
            fallback=(pl.col("intent") == "rotate")
            | ((pl.col("intent") == "place") & pl.col("fits") & pl.lit(rules.continuity)),
            excluded=pl.when(pl.col("intent").is_in(["rotate", "recall"]))
            .then(pl.col("prev_owner"))
            .otherwise(pl.lit("")),
        )

    def _shed(self, frame: pl.DataFrame, kind: OwnerKind) -> pl.DataFrame:
        """Owners over their open-case limit keep the cases with the latest progress."""
        if kind is OwnerKind.AGENCY:
            limits = {a.id: a.capacity for a in self.agencies}
            holding = (pl.col("intent") == "keep") & (pl.col("prev_kind") == kind.value)
        else:
            limits = {c.id: c.max_open_cases for c in self.collectors}
            holding = (pl.col("prev_kind") == kind.value) & (
                (pl.col("intent") == "keep") | ((pl.col("intent") == "rotate") & pl.col("fallback"))
            )
        limit_frame = pl.DataFrame(
            {"prev_owner": list(limits), "limit": list(limits.values())},
            schema={"prev_owner": pl.String, "limit": pl.Int64},
        )
        held = (
            frame.filter(holding)
            .select("case_key", "prev_owner", "intent", "stale_days", "balance_cents")
            .sort(
                [
                    "prev_owner",
                    pl.col("intent") != "keep",  # kept cases first: pending rotations go
                    pl.col("stale_days").fill_null(0),
                    "balance_cents",
                    "case_key",
                ],
                descending=[False, False, False, True, False],
            )
            .with_columns(rank=pl.int_range(pl.len()).over("prev_owner"))
            .join(limit_frame, on="prev_owner", how="left")
            .filter(pl.col("rank") >= pl.col("limit"))
            .select("case_key", shed=pl.lit(True))
        )
        if held.height == 0:
            return frame
        frame = frame.join(held, on="case_key", how="left")
        shed = pl.col("shed").fill_null(False)
        intent = "recall" if kind is OwnerKind.AGENCY else "reassign"
        return frame.with_columns(
            intent=pl.when(shed).then(pl.lit(intent)).otherwise(pl.col("intent")),
            cause=pl.when(shed).then(pl.lit("over_capacity")).otherwise(pl.col("cause")),
            fallback=pl.col("fallback") & ~shed,
            excluded=pl.when(shed).then(pl.col("prev_owner")).otherwise(pl.col("excluded")),
        ).drop("shed")

    # ------------------------------------------------------------------ pools

    def _pool(self, frame: pl.DataFrame, kind: OwnerKind, candidates: pl.Expr) -> pl.DataFrame:
        """Give the candidate cases owners of ``kind`` by min-cost flow; note who is left."""
        pool = frame.filter(candidates & pl.col("owner").is_null()).select(
            "case_key", "profile", "excluded", "balance_cents", "dpd"
        )
        if pool.height == 0:
            return frame
        owners = self._owners(frame, kind, pool)
        ids, capacity, weight = owners.ids, owners.capacity, owners.preference_weight
        eligible = self.eligible_agencies if kind is OwnerKind.AGENCY else self.eligible_collectors

        keys = pool.group_by("profile", "excluded").agg(n=pl.len()).sort("profile", "excluded")
        signatures: dict[tuple[tuple[int, int], ...], int] = {}
        supply: list[int] = []
        key_class: list[int] = []
        key_note: list[str] = []
        for profile, excluded, n in keys.iter_rows():
            arcs = tuple(
                (o, weight * cost)
                for o, cost in eligible[profile]
                if capacity[o] > 0 and ids[o] != excluded
            )
            klass = signatures.setdefault(arcs, len(signatures))
            if klass == len(supply):
                supply.append(0)
            supply[klass] += n
            key_class.append(klass)
            key_note.append(self._note(kind, profile, excluded))
        arc_class = np.array([k for arcs, k in signatures.items() for _ in arcs], dtype=np.int64)
        arc_owner = np.array([o for arcs in signatures for o, _ in arcs], dtype=np.int64)
        arc_cost = np.array([c for arcs in signatures for _, c in arcs], dtype=np.int64)
        flows = solve_transport(
            np.array(supply, dtype=np.int64),
            arc_class,
            arc_owner,
            arc_cost,
            capacity,
            owners.base,
            owners.step,
        )
        slot_class, slot_rank, slot_owner = serpentine_slots(
            arc_class, arc_owner, flows, owners.order
        )
        slots = pl.DataFrame(
            {
                "class": slot_class,
                "rank": slot_rank,
                "new_owner": np.array(ids, dtype=object)[slot_owner]
                if len(slot_owner)
                else np.array([], dtype=object),
            },
            schema={"class": pl.Int64, "rank": pl.Int64, "new_owner": pl.String},
        )
        key_frame = keys.select("profile", "excluded").with_columns(
            pl.Series("class", key_class, dtype=pl.Int64),
            pl.Series("note", key_note, dtype=pl.String),
        )
        pool = pool.join(key_frame, on=["profile", "excluded"], how="left").sort(
            ["class", "balance_cents", "dpd", "case_key"], descending=[False, True, True, False]
        )
        classes = pool["class"].to_numpy()
        rank = np.arange(len(classes)) - np.searchsorted(classes, classes, side="left")
        placed = (
            pool.with_columns(pl.Series("rank", rank, dtype=pl.Int64))
            .join(slots, on=["class", "rank"], how="left")
            .select("case_key", "new_owner", "note")
        )
        note_column = "note_agency" if kind is OwnerKind.AGENCY else "note_collector"
        got = pl.col("new_owner").is_not_null()
        return (
            frame.join(placed, on="case_key", how="left")
            .with_columns(
                owner=pl.when(got).then(pl.col("new_owner")).otherwise(pl.col("owner")),
                owner_kind=pl.when(got).then(pl.lit(kind.value)).otherwise(pl.col("owner_kind")),
                **{
                    note_column: pl.when(pl.col("note").is_not_null() & ~got)
                    .then(pl.col("note"))
                    .otherwise(pl.col(note_column))
                },
            )
            .drop("new_owner", "note")
        )

    def _owners(self, frame: pl.DataFrame, kind: OwnerKind, pool: pl.DataFrame) -> _Owners:
        """Each owner's room for new cases today and its balancing cost (see the solver)."""
        if kind is OwnerKind.AGENCY:
            holding = (pl.col("intent") == "keep") & (pl.col("prev_kind") == kind.value)
        else:
            holding = (pl.col("prev_kind") == kind.value) & (
                (pl.col("intent") == "keep") | ((pl.col("intent") == "rotate") & pl.col("fallback"))
            )
        held = dict(
            (owner, (n, balance))
            for owner, n, balance in frame.filter(holding)
            .group_by("prev_owner")
            .agg(pl.len(), pl.col("balance_cents").sum())
            .iter_rows()
        )
        if kind is OwnerKind.AGENCY:
            agencies = self.agencies
            open_ = np.array([held.get(a.id, (0, 0))[0] for a in agencies], dtype=np.int64)
            limit = np.array([a.capacity for a in agencies], dtype=np.int64)
            capacity = np.maximum(0, limit - open_)
            per_case = _UTILISATION_SCALE / np.maximum(1, limit)
            base = open_ * per_case
            step = per_case
            return _Owners(
                ids=[a.id for a in agencies],
                capacity=capacity,
                base=base.astype(np.float64),
                step=step.astype(np.float64),
                order=_order(base, [a.id for a in agencies]),
                preference_weight=1,
            )
        collectors = self.collectors
        open_ = np.array([held.get(c.id, (0, 0))[0] for c in collectors], dtype=np.int64)
        balance = np.array([held.get(c.id, (0, 0))[1] for c in collectors], dtype=np.float64)
        room = np.array(
            [
                min(c.daily_capacity, c.max_open_cases - int(n)) if c.works_on(self.weekday) else 0
                for c, n in zip(collectors, open_, strict=True)
            ],
            dtype=np.int64,
        )
        capacity = np.maximum(0, room)
        if self.config.rules.method is Method.EVEN_BALANCE:
            mean = max(1.0, float(pool.select(pl.col("balance_cents").abs().mean()).item() or 1))
            base = balance / mean * _BALANCE_SCALE
            step = np.full(len(collectors), float(_BALANCE_SCALE))
        else:
            base = open_.astype(np.float64)
            step = np.ones(len(collectors), dtype=np.float64)
        weight = 0
        if self.config.rules.method is Method.SKILL and len(collectors):
            # A worse match must cost more than any difference in load could save.
            weight = int(np.max(base + step * capacity)) + 1
        return _Owners(
            ids=[c.id for c in collectors],
            capacity=capacity,
            base=base,
            step=step,
            order=_order(base, [c.id for c in collectors]),
            preference_weight=weight,
        )

    def _note(self, kind: OwnerKind, profile_index: int, excluded: str) -> str:
        """Why a case of this profile found no owner of ``kind``: no skill, or no room."""
        profile = self.profiles[profile_index]
        same_kind = self.agency_by_id if kind is OwnerKind.AGENCY else self.collector_by_id
        other = f" other than {excluded}" if excluded in same_kind else ""
        if kind is OwnerKind.AGENCY:
            what = f"bucket {profile.bucket} and product {profile.product}"
            agencies = [
                self.agencies[i]
                for i, _ in self.eligible_agencies[profile_index]
                if self.agencies[i].id != excluded
            ]
            if not agencies:
                return f"no agency{other} takes {what}"
            return f"no agency{other} for {what} has capacity"
        parts = [f"language {profile.language}"] if profile.language else []
        parts += [f"bucket {profile.bucket}", f"product {profile.product}"]
        what = ", ".join(parts[:-1]) + f" and {parts[-1]}"
        team = f" in team {profile.team}" if profile.team else ""
        collectors = [
            self.collectors[i]
            for i, _ in self.eligible_collectors[profile_index]
            if self.collectors[i].id != excluded
        ]
        if not collectors:
            return f"no collector{other}{team} has the skills for {what}"
        text = f"no collector{other}{team} with skill for {what} has capacity"
        off = sum(1 for c in collectors if not c.works_on(self.weekday))
        if off:
            day = _WEEKDAY_NAMES[self.weekday]
            text += f" ({off} of the {len(collectors)} do not work on {day})"
        return text

    # ------------------------------------------------------------------ explanation

    def _unfit_texts(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Why a case's owner can no longer work it, per (profile, owner) that occurs."""
        pairs = frame.filter(pl.col("cause") == "unfit").select("profile", "prev_owner").unique()
        rows = [
            (profile, owner, self._unfit(self.profiles[profile], owner))
            for profile, owner in pairs.iter_rows()
        ]
        return pl.DataFrame(
            {
                "profile": [r[0] for r in rows],
                "prev_owner": [r[1] for r in rows],
                "unfit": [r[2] for r in rows],
            },
            schema={"profile": pl.UInt32, "prev_owner": pl.String, "unfit": pl.String},
        )

    def _unfit(self, profile: _Profile, owner: str) -> str:
        position = profile.position if profile.position is not None else -1
        if owner in self.collector_by_id:
            c = self.collector_by_id[owner]
            if not c.buckets.covers(position):
                return f"{owner} does not work bucket {profile.bucket} (works {c.buckets})"
            if c.products is not None and profile.product not in c.products:
                return f"{owner} does not work product {profile.product}"
            if profile.language is not None and profile.language not in c.languages:
                return f"{owner} does not speak {profile.language}"
            return f"the strategy routes it to team {profile.team}, not {owner}'s team {c.team}"
        a = self.agency_by_id[owner]
        if profile.team is not None:
            return f"the strategy routes it to team {profile.team}"
        if not profile.agency_bound:
            start = self.config.rules.agency_from_bucket
            return f"bucket {profile.bucket} is no longer placed with agencies (from {start})"
        if not a.buckets.covers(position):
            return f"{owner} does not take bucket {profile.bucket} (takes {a.buckets})"
        return f"{owner} does not take product {profile.product}"

    def _explained(self, frame: pl.DataFrame) -> pl.DataFrame:
        config = self.config
        teams = pl.DataFrame(
            {
                "owner": [c.id for c in self.collectors],
                "team": [c.team for c in self.collectors],
                "limit": [c.max_open_cases for c in self.collectors],
            },
            schema={"owner": pl.String, "team": pl.String, "limit": pl.Int64},
        )
        limits = pl.concat(
            [
                teams.select(prev_owner="owner", prev_limit="limit"),
                pl.DataFrame(
                    {
                        "prev_owner": [a.id for a in self.agencies],
                        "prev_limit": [a.capacity for a in self.agencies],
                    },
                    schema={"prev_owner": pl.String, "prev_limit": pl.Int64},
                ),
            ]
        )
        rates = [
            (a.id, bucket, rate) for a in self.agencies for bucket, rate in a.commission.items()
        ]
        commissions = pl.DataFrame(
            {
                "owner": [r[0] for r in rates],
                "bucket": [r[1] for r in rates],
                "commission_ppm": [rate_ppm(r[2]) for r in rates],
                "commission_text": [percent_text(r[2]) for r in rates],
            },
            schema={
                "owner": pl.String,
                "bucket": pl.String,
                "commission_ppm": pl.Int64,
                "commission_text": pl.String,
            },
        )
        frame = (
            frame.join(teams.drop("limit"), on="owner", how="left")
            .join(limits, on="prev_owner", how="left")
            .join(commissions, on=["owner", "bucket"], how="left")
            .join(self._unfit_texts(frame), on=["profile", "prev_owner"], how="left")
        )
        intent, cause = pl.col("intent"), pl.col("cause")
        prev, owner = pl.col("prev_owner"), pl.col("owner")
        agency_owner = pl.col("owner_kind") == OwnerKind.AGENCY.value
        stale = _days(pl.col("stale_days"))
        given = pl.col("current_owner")

        decision = (
            pl.when(intent == "keep")
            .then(pl.lit(Decision.KEPT.value))
            .when(intent == "recall")
            .then(pl.lit(Decision.RECALLED.value))
            .when(owner.is_null())
            .then(pl.lit(Decision.UNALLOCATED.value))
            .when(intent == "rotate")
            .then(pl.lit(Decision.ROTATED.value))
            .when(agency_owner)
            .then(pl.lit(Decision.PLACED.value))
            .otherwise(pl.lit(Decision.ASSIGNED.value))
        )
        unallocated = (
            pl.when(pl.col("note_agency").is_not_null() & pl.col("note_collector").is_not_null())
            .then(pl.format("{}, and {}", pl.col("note_agency"), pl.col("note_collector")))
            .otherwise(pl.coalesce("note_collector", "note_agency"))
        )
        outcome = (
            pl.when(owner.is_null())
            .then(pl.format("unallocated: {}", unallocated))
            .when(agency_owner)
            .then(
                pl.format(
                    "placed with agency {} (bucket {}; commission {})",
                    owner,
                    pl.col("bucket"),
                    pl.col("commission_text"),
                )
            )
            .otherwise(
                pl.format(
                    "assigned to {} (team {}, {})",
                    owner,
                    pl.col("team"),
                    pl.lit(config.rules.method.value),
                )
            )
        )
        # Why the case moved (or is new), said before or after the outcome.
        why = (
            pl.when(intent == "rotate")
            .then(pl.format("rotated from {} after {} without progress", prev, stale))
            .when((intent == "recall") & (cause == "stale"))
            .then(pl.format("recalled from {} after {} without progress", prev, stale))
            .when((intent == "recall") & (cause == "unfit"))
            .then(pl.format("recalled from {}: {}", prev, pl.col("unfit")))
            .when((intent == "recall") & (cause == "over_capacity"))
            .then(
                pl.format(
                    "recalled from {}: it holds more than its capacity of {} open cases",
                    prev,
                    pl.col("prev_limit"),
                )
            )
            .when(cause == "unfit")
            .then(pl.format("was with {}: {}", prev, pl.col("unfit")))
            .when(cause == "continuity_off")
            .then(
                pl.format("was with {}: continuity is off, cases are re-allocated each run", prev)
            )
            .when(cause == "over_capacity")
            .then(
                pl.format(
                    "was with {}: more than its max_open_cases of {}", prev, pl.col("prev_limit")
                )
            )
            .when((cause == "unknown_owner") & (pl.col("owner_kind_in") == "collector"))
            .then(pl.format("previous owner {} is not a collector in the teams file", given))
            .when((cause == "unknown_owner") & (pl.col("owner_kind_in") == "agency"))
            .then(pl.format("previous owner {} is not an agency in the teams file", given))
            .when(cause == "unknown_owner")
            .then(pl.format("previous owner {} is not in the teams file", given))
            .when(cause == "for_agency")
            .then(pl.format("was with {}: bucket {} goes to agencies", prev, pl.col("bucket")))
            .when(cause == "unknown_bucket")
            .then(
                pl.format(
                    "bucket {} is not one of the teams file's buckets ({})",
                    pl.col("bucket"),
                    pl.lit(", ".join(config.buckets)),
                )
            )
            .otherwise(pl.lit(None, pl.String))
        )
        progress = _progress(self.as_of)
        recall_rule = (
            pl.when(pl.col("recall_days").is_not_null())
            .then(pl.format("recall after {} without progress", _days(pl.col("recall_days"))))
            .otherwise(pl.lit("no recall rule"))
        )
        kept = (
            pl.when(cause == "agency")
            .then(pl.format("kept with agency {}: {}; {}", prev, progress, recall_rule))
            .when(cause == "no_agency")
            .then(
                pl.format(
                    "kept with {}: bucket {} goes to agencies, but {}",
                    prev,
                    pl.col("bucket"),
                    pl.col("note_agency"),
                )
            )
            .when(cause == "no_rotation_target")
            .then(
                pl.format(
                    "kept with {}: due for rotation after {} without progress, but {}",
                    prev,
                    stale,
                    pl.col("note_collector"),
                )
            )
            .otherwise(pl.format("kept with {}: continuity, {}", prev, progress))
        )
        reason = (
            pl.when(intent == "keep")
            .then(kept)
            .when(intent == "invalid")
            .then(pl.format("unallocated: {}", why))
            .when(intent.is_in(["rotate", "recall"]))
            .then(pl.format("{}; {}", why, outcome))
            .when(why.is_not_null())
            .then(pl.format("{}; {}", outcome, why))
            .otherwise(outcome)
        )
        return (
            frame.select(
                "case_key",
                "account_key",
                "bucket",
                "balance_cents",
                previous_owner=pl.col("current_owner"),
                owner=owner,
                owner_kind=pl.col("owner_kind"),
                team=pl.when(agency_owner).then(pl.lit(None, pl.String)).otherwise(pl.col("team")),
                decision=decision,
                reason=reason,
                commission_ppm=pl.when(agency_owner).then(pl.col("commission_ppm")),
            )
            .sort("case_key")
            .cast(ALLOCATION_COLUMNS)  # type: ignore[arg-type]
        )


# ---------------------------------------------------------------------- helpers


def _skill_mismatch(collector: Collector, profile: _Profile) -> int:
    """How far a collector is from the ideal one for a profile; 0 is the best match.

    The case's language being a second language costs 2; each bucket the collector covers
    beyond one costs 1 (a specialist for the bucket is preferred); working every product
    costs 1 (a product specialist is preferred). Generalists stay free for cases only they
    can take.
    """
    language = (
        2 if profile.language is not None and profile.language != collector.languages[0] else 0
    )
    breadth = collector.buckets.hi - collector.buckets.lo
    products = 1 if collector.products is None else 0
    return language + breadth + products


def _order(level: np.ndarray, ids: list[str]) -> np.ndarray:
    """Owners ranked by current level (least loaded first), then id: the dealing order."""
    ranking = np.lexsort((np.array(ids, dtype=object).argsort().argsort(), level))
    order = np.empty(len(ids), dtype=np.int64)
    order[ranking] = np.arange(len(ids))
    return order


def _chain(branches: list[tuple[pl.Expr, str]], default: str) -> pl.Expr:
    expr: Any = pl
    for condition, value in branches:
        expr = expr.when(condition).then(pl.lit(value))
    result: pl.Expr = expr.otherwise(pl.lit(default))
    return result


def _when_then(condition: pl.Expr, **values: str) -> list[pl.Expr]:
    return [
        pl.when(condition).then(pl.lit(value)).otherwise(pl.col(name)).alias(name)
        for name, value in values.items()
    ]


def _days(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr == 1).then(pl.lit("1 day")).otherwise(pl.format("{} days", expr))


def _progress(as_of: date) -> pl.Expr:
    """``progress 3 days ago`` / ``no progress in the 12 days since 2026-01-03``."""
    progress, owned = pl.col("last_progress_on"), pl.col("owned_since")
    ago = (pl.lit(as_of) - progress).dt.total_days()
    held = (pl.lit(as_of) - owned).dt.total_days()
    ago_text = (
        pl.when(ago == 0)
        .then(pl.lit("today"))
        .when(ago == 1)
        .then(pl.lit("yesterday"))
        .otherwise(pl.format("{} days ago", ago))
    )
    return (
        pl.when(progress.is_not_null() & (owned.is_null() | (progress >= owned)))
        .then(pl.format("progress {}", ago_text))
        .when(owned.is_not_null())
        .then(
            pl.format("no progress in the {} since {}", _days(held), owned.dt.to_string("%Y-%m-%d"))
        )
        .otherwise(pl.lit("no progress date known"))
    )

"""The daily strategy run: the segment, path and actions of every open case on one day.

One implementation serves the portfolio run and ``recoup strategy trace`` (which passes a
one-row frame). It is vectorised with Polars: loops run over segments, paths and steps,
never over cases. The rules, in the order they apply:

1. **Segment.** Segments are tried in file order and the first whose conditions all hold
   takes the case. Early-warning segments take only rows flagged ``early_warning`` (current
   accounts before their due date), the others only the rest. A case that no segment takes
   is ``unmatched``: it gets no actions, and the decision says so.
2. **Arm.** When the segment is in a champion/challenger test, the account's arm (a stable
   hash, :mod:`recoup.strategy.arms`) may name a path to use instead of the segment's.
3. **Path in force and the day it started.** A ``path_override`` (a path an earlier event
   moved the case to, kept by the store) wins over the segment's path; it started on
   ``path_since`` when the input has that column, else on ``last_event_on``, else on the
   case's opening day. An override naming a path this strategy lacks is ignored. Then events:
   a broken promise newer than the path's start (on or after it, for the segment's own path)
   moves the case to the handler's ``goto`` path (or starts the same path again) from the
   event's date; a partial payment restarts the path from the payment's date when the
   handler says ``restart``. A path other than the segment's own lasts until its last day
   (:attr:`~recoup.strategy.spec.TreatmentPath.last_day`), and then the case is back on its
   segment's path. Last, an account without a successful contact for ``after_days`` days or
   more moves to the unreachable handler's path from the day the threshold was reached,
   while that path lasts.
4. **Stops**, the first that applies: a full payment on or after the case opened closes the
   case (``closing``); a dispute holds it (``held``); an active promise (``promise_until`` on
   or after the run day) pauses it (``paused``) — each only when the path's handler says so.
5. **Steps.** A step's anchor is the path's start for ``case_open`` (the case's opening, or
   the event that put the case on the path), ``due_date``, or ``last_event_on`` for
   ``last_event`` (no event: never due). With ``offset`` the days from the anchor to the run
   day, a step is due when ``offset == day``, or, repeated, when ``offset >= day``,
   ``(offset - day) % every == 0`` and ``offset <= until``. A due step whose ``skip_if``
   holds is skipped, and the decision says so. A day is due only on that day: a day that
   was not run is not caught up later (run it with its own ``as_of``).

The output is a function of the input rows and ``as_of`` only: the same input gives the
same rows in the same order (actions by case, then priority, highest first, then path and
step order; decisions by case).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from recoup.strategy.arms import arm_expression, arm_slots
from recoup.strategy.explain import describe_skip, describe_timing, segment_rule
from recoup.strategy.spec import Anchor, Conditions, Event, Reaction, Step, Strategy

#: The input: one row per open case. Columns marked nullable may hold nulls.
CASE_COLUMNS: Mapping[str, pl.DataType] = {
    "case_key": pl.Int64(),
    "account_key": pl.Int64(),
    "account_id": pl.String(),
    "opened_on": pl.Date(),
    "due_date": pl.Date(),  # nullable: steps from the due date never fall due
    "bucket": pl.String(),
    "dpd": pl.Int64(),
    "overdue_cents": pl.Int64(),
    "balance_cents": pl.Int64(),
    "product_id": pl.String(),
    "region": pl.String(),  # nullable
    "language": pl.String(),  # nullable
    "risk_grade": pl.String(),  # nullable
    "score": pl.Float64(),  # nullable
    "early_warning": pl.Boolean(),
    "dispute": pl.Boolean(),
    "vulnerable": pl.Boolean(),
    "unreachable_days": pl.Int64(),
    "promise_until": pl.Date(),  # nullable
    "last_event": pl.String(),  # nullable
    "last_event_on": pl.Date(),  # nullable
    "path_override": pl.String(),  # nullable
}
NULLABLE_CASE_COLUMNS = frozenset(
    {
        "due_date",
        "region",
        "language",
        "risk_grade",
        "score",
        "promise_until",
        "last_event",
        "last_event_on",
        "path_override",
    }
)
#: Optional input columns (nullable): when absent they are taken as null.
OPTIONAL_CASE_COLUMNS: Mapping[str, pl.DataType] = {"path_since": pl.Date()}

ACTION_COLUMNS: Mapping[str, pl.DataType] = {
    "case_key": pl.Int64(),
    "account_key": pl.Int64(),
    "as_of": pl.Date(),
    "strategy_id": pl.String(),
    "strategy_version": pl.Int64(),
    "segment": pl.String(),
    "path": pl.String(),
    "step": pl.String(),
    "channel": pl.String(),
    "template": pl.String(),
    "queue": pl.String(),
    "window_start": pl.String(),
    "window_end": pl.String(),
    "priority": pl.Int64(),
    "test_id": pl.String(),
    "arm": pl.String(),
    "reason": pl.String(),
}

DECISION_COLUMNS: Mapping[str, pl.DataType] = {
    "case_key": pl.Int64(),
    "account_key": pl.Int64(),
    "account_id": pl.String(),
    "as_of": pl.Date(),
    "strategy_id": pl.String(),
    "strategy_version": pl.Int64(),
    "status": pl.String(),
    "segment": pl.String(),
    "test_id": pl.String(),
    "arm": pl.String(),
    "path": pl.String(),
    "path_since": pl.Date(),
    "path_source": pl.String(),
    "actions": pl.Int64(),
    "skipped": pl.String(),
    "next_step": pl.String(),
    "next_on": pl.Date(),
    "reason": pl.String(),
}


class CaseStatus(enum.StrEnum):
    """What the run decided for a case."""

    ACT = "act"  # one or more actions today
    WAITING = "waiting"  # on a path, nothing due today, a step due later
    DONE = "done"  # on a path whose steps are all behind it
    PAUSED = "paused"  # active promise to pay
    HELD = "held"  # in dispute
    CLOSING = "closing"  # paid in full: the store closes the case
    UNMATCHED = "unmatched"  # no segment takes the case


class PathSource(enum.StrEnum):
    """Why the case is on its path (the store keeps an event's path as the override)."""

    SEGMENT = "segment"
    ARM = "arm"
    OVERRIDE = "override"
    PROMISE_BROKEN = "promise_broken"
    PARTIAL_PAYMENT = "partial_payment"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class StrategyPlan:
    """A day's run: a decision for every case, and the actions due that day."""

    as_of: date
    decisions: pl.DataFrame
    actions: pl.DataFrame


def plan_actions(cases: pl.DataFrame, strategy: Strategy, as_of: date) -> pl.DataFrame:
    """The actions due on ``as_of`` (columns :data:`ACTION_COLUMNS`)."""
    return run_strategy(cases, strategy, as_of).actions


def decide_cases(cases: pl.DataFrame, strategy: Strategy, as_of: date) -> pl.DataFrame:
    """The decision for every case, with or without actions (columns :data:`DECISION_COLUMNS`)."""
    return run_strategy(cases, strategy, as_of).decisions


def run_strategy(cases: pl.DataFrame, strategy: Strategy, as_of: date) -> StrategyPlan:
    """Decide every open case and plan the actions due on ``as_of``.

    ``cases`` has the columns of :data:`CASE_COLUMNS` (and optionally ``path_since``), one
    row per open case (``case_key`` unique). Raises ``ValueError`` for a missing column, a
    wrong type, a null where none is allowed, or a repeated ``case_key``.
    """
    frame = _checked(cases)
    frame = frame.with_columns(
        (pl.col("promise_until").is_not_null() & (pl.col("promise_until") >= pl.lit(as_of))).alias(
            "_active_promise"
        )
    )
    frame = frame.with_columns(segment_expression(strategy).alias("segment"))
    frame = frame.with_columns(
        pl.col("segment")
        .replace_strict(_segment_reasons(strategy), default=None, return_dtype=pl.String)
        .alias("_segment_reason")
    )
    frame = _with_arms(frame, strategy)
    frame = _with_path(frame, strategy, as_of)
    frame = _with_stop(frame, strategy)
    frame = frame.with_columns(
        (pl.lit(as_of) - pl.col("path_since")).dt.total_days().alias(_OFFSET[Anchor.CASE_OPEN]),
        (pl.lit(as_of) - pl.col("due_date")).dt.total_days().alias(_OFFSET[Anchor.DUE_DATE]),
        (pl.lit(as_of) - pl.col("last_event_on")).dt.total_days().alias(_OFFSET[Anchor.LAST_EVENT]),
    )

    stopped = frame.filter(pl.col("_stop").is_not_null()).with_columns(
        pl.col("_stop").alias("status"),
        pl.lit(0, pl.Int64).alias("actions"),
        pl.lit(None, pl.String).alias("skipped"),
        pl.lit(None, pl.String).alias("next_step"),
        pl.lit(None, pl.Date).alias("next_on"),
        pl.col("_stop_reason").alias("_status_reason"),
    )
    decided = [stopped]
    actions: list[pl.DataFrame] = []
    moving = frame.filter(pl.col("_stop").is_null())
    first = 0  # each step's place in the file orders a case's actions of equal priority
    for name, path in strategy.paths.items():
        steps = [(first + i, step) for i, step in enumerate(path.steps)]
        first += len(path.steps)
        on_path = moving.filter(pl.col("path") == name)
        if on_path.is_empty():
            continue
        with_steps, step_actions = _steps(on_path, steps, strategy, as_of)
        decided.append(with_steps)
        actions.extend(step_actions)

    decisions = _decisions(pl.concat(decided, how="diagonal_relaxed"), strategy, as_of)
    return StrategyPlan(as_of, decisions, _actions(actions, strategy, as_of))


# --- conditions --------------------------------------------------------------------------------


def conditions_expression(conditions: Conditions, strategy: Strategy) -> pl.Expr:
    """True where every condition holds (never null: an unknown value does not match).

    Needs the column ``_active_promise`` (promise_until on or after the run day) for the
    ``active_promise`` condition; :func:`run_strategy` adds it.
    """
    parts: list[pl.Expr] = []

    def within(column: str, low: float | None, high: float | None) -> None:
        if low is not None:
            parts.append(pl.col(column) >= low)
        if high is not None:
            parts.append(pl.col(column) <= high)

    def listed(column: str, values: tuple[str, ...] | None) -> None:
        if values is not None:
            parts.append(pl.col(column).is_in(list(values)))

    listed("bucket", conditions.buckets)
    if conditions.dpd is not None:
        within("dpd", conditions.dpd.low, conditions.dpd.high)
    if conditions.overdue_cents is not None:
        within("overdue_cents", conditions.overdue_cents.low, conditions.overdue_cents.high)
    if conditions.balance_cents is not None:
        within("balance_cents", conditions.balance_cents.low, conditions.balance_cents.high)
    listed("product_id", conditions.products)
    listed("risk_grade", conditions.risk_grades)
    if conditions.score is not None:
        within("score", conditions.score.low, conditions.score.high)
    listed("region", conditions.regions)
    listed("language", conditions.languages)
    for column, wanted in (
        ("dispute", conditions.dispute),
        ("vulnerable", conditions.vulnerable),
        ("_active_promise", conditions.active_promise),
    ):
        if wanted is not None:
            parts.append(pl.col(column) == wanted)
    if conditions.unreachable is not None:
        unreachable = pl.col("unreachable_days") >= strategy.unreachable_after_days
        parts.append(unreachable == conditions.unreachable)
    if conditions.negated is not None:
        parts.append(~conditions_expression(conditions.negated, strategy))
    if not parts:
        return pl.lit(True)
    return pl.all_horizontal([part.fill_null(False) for part in parts])


def segment_expression(strategy: Strategy) -> pl.Expr:
    """The id of the first segment that takes each row, or null."""
    # Built from the last segment back, so the first segment's test is tried first.
    chosen: pl.Expr = pl.lit(None, pl.String)
    for segment in reversed(strategy.segments):
        kind = pl.col("early_warning") if segment.early_warning else ~pl.col("early_warning")
        test = kind & conditions_expression(segment.when, strategy)
        chosen = pl.when(test).then(pl.lit(segment.id, pl.String)).otherwise(chosen)
    return chosen


# --- stages ------------------------------------------------------------------------------------

_OFFSET = {
    Anchor.CASE_OPEN: "_offset_case_open",
    Anchor.DUE_DATE: "_offset_due_date",
    Anchor.LAST_EVENT: "_offset_last_event",
}
_ANCHOR_DATE = {
    Anchor.CASE_OPEN: "path_since",
    Anchor.DUE_DATE: "due_date",
    Anchor.LAST_EVENT: "last_event_on",
}


def _checked(cases: pl.DataFrame) -> pl.DataFrame:
    columns: list[pl.Expr] = []
    for name, dtype in {**CASE_COLUMNS, **OPTIONAL_CASE_COLUMNS}.items():
        if name not in cases.columns:
            if name in OPTIONAL_CASE_COLUMNS:
                columns.append(pl.lit(None, dtype).alias(name))
                continue
            raise ValueError(f"cases: missing column {name!r}")
        actual = cases.schema[name]
        if actual == dtype:
            columns.append(pl.col(name))
        elif actual == pl.Null or (actual.is_integer() and dtype.is_integer()):
            columns.append(pl.col(name).cast(dtype, strict=True))
        else:
            raise ValueError(f"cases: column {name!r} must be {dtype}, got {actual}")
    frame = cases.select(columns)
    required = [c for c in CASE_COLUMNS if c not in NULLABLE_CASE_COLUMNS]
    nulls = frame.select(pl.col(required).null_count()).row(0, named=True)
    with_nulls = [name for name, count in nulls.items() if count]
    if with_nulls:
        raise ValueError(f"cases: column(s) {', '.join(with_nulls)} must not hold nulls")
    if frame.height != frame["case_key"].n_unique():
        raise ValueError("cases: a case_key appears more than once")
    return frame


def _with_arms(frame: pl.DataFrame, strategy: Strategy) -> pl.DataFrame:
    frame = frame.with_columns(
        pl.lit(None, pl.String).alias("test_id"),
        pl.lit(None, pl.String).alias("arm"),
        pl.lit(None, pl.String).alias("_arm_path"),
        pl.lit(None, pl.String).alias("_arm_share"),
    )
    for test in strategy.tests:
        in_test = pl.col("segment").is_in(list(test.population))
        ids = frame.filter(in_test).get_column("account_id").unique(maintain_order=True)
        if ids.is_empty():
            continue
        slots = pl.DataFrame({"account_id": ids, "_slot": arm_slots(ids, test.id)})
        frame = frame.join(slots, on="account_id", how="left")
        arm = arm_expression(pl.col("_slot"), test)
        paths = {a.name: a.path for a in test.arms if a.path is not None}
        shares = {a.name: f"{a.share_percent:f}%" for a in test.arms}
        frame = frame.with_columns(
            pl.when(in_test).then(pl.lit(test.id)).otherwise(pl.col("test_id")).alias("test_id"),
            pl.when(in_test).then(arm).otherwise(pl.col("arm")).alias("arm"),
        ).with_columns(
            pl.when(in_test)
            .then(pl.col("arm").replace_strict(paths, default=None, return_dtype=pl.String))
            .otherwise(pl.col("_arm_path"))
            .alias("_arm_path"),
            pl.when(in_test)
            .then(pl.col("arm").replace_strict(shares, default=None, return_dtype=pl.String))
            .otherwise(pl.col("_arm_share"))
            .alias("_arm_share"),
        )
        frame = frame.drop("_slot")
    return frame


def _handler_map(strategy: Strategy, event: Event, reaction: Reaction) -> dict[str, str]:
    """Path name -> the goto target (or the path itself) of the paths whose handler of
    ``event`` has ``reaction``."""
    found: dict[str, str] = {}
    for name in strategy.paths:
        handler, _ = strategy.handler(name, event)
        if handler.reaction is reaction:
            found[name] = handler.goto if handler.goto is not None else name
    return found


def _days_on_path() -> pl.Expr:
    return (pl.col("_as_of") - pl.col("path_since")).dt.total_days()


def _with_path(frame: pl.DataFrame, strategy: Strategy, as_of: date) -> pl.DataFrame:
    names = list(strategy.paths)
    last_days = {
        name: path.last_day for name, path in strategy.paths.items() if path.last_day is not None
    }
    segment_path = pl.col("segment").replace_strict(
        {s.id: s.path for s in strategy.segments}, default=None, return_dtype=pl.String
    )
    matched = pl.col("segment").is_not_null()
    override = pl.col("path_override").is_in(names).fill_null(False) & matched
    frame = frame.with_columns(
        pl.lit(as_of).alias("_as_of"),
        pl.coalesce(pl.col("_arm_path"), segment_path).alias("_base_path"),
        pl.when(pl.col("_arm_path").is_not_null())
        .then(pl.lit(PathSource.ARM.value))
        .when(matched)
        .then(pl.lit(PathSource.SEGMENT.value))
        .otherwise(pl.lit(None, pl.String))
        .alias("_base_source"),
        (pl.col("path_override").is_not_null() & ~override & matched).alias("_stale_override"),
    )
    frame = frame.with_columns(
        pl.when(override).then(pl.col("path_override")).otherwise("_base_path").alias("path"),
        pl.when(override)
        .then(pl.coalesce("path_since", "last_event_on", "opened_on"))
        .otherwise(pl.col("opened_on"))
        .alias("path_since"),
        pl.when(override)
        .then(pl.lit(PathSource.OVERRIDE.value))
        .otherwise(pl.col("_base_source"))
        .alias("path_source"),
    )

    # 1. Events that move the case: a broken promise (to the handler's path, or the same
    # path again from the event), a partial payment that restarts the path.
    broken = _handler_map(strategy, Event.PROMISE_BROKEN, Reaction.GOTO)
    restart = list(_handler_map(strategy, Event.PARTIAL_PAYMENT, Reaction.RESTART))
    newer = (
        pl.when(pl.col("path_source") == PathSource.OVERRIDE.value)
        .then(pl.col("last_event_on") > pl.col("path_since"))
        .otherwise(pl.col("last_event_on") >= pl.col("path_since"))
    )
    goto = pl.col("path").replace_strict(broken, default=None, return_dtype=pl.String)
    frame = frame.with_columns(
        ((pl.col("last_event") == Event.PROMISE_BROKEN.value) & newer & goto.is_not_null())
        .fill_null(False)
        .alias("_broken"),
        ((pl.col("last_event") == Event.PARTIAL_PAYMENT.value) & newer)
        .fill_null(False)
        .alias("_paid_part"),
        goto.alias("_goto"),
    ).with_columns(
        (pl.col("_paid_part") & pl.col("path").is_in(restart)).alias("_restart"),
    )
    frame = frame.with_columns(
        pl.when("_broken").then(pl.col("_goto")).otherwise(pl.col("path")).alias("path"),
        pl.when(pl.col("_broken") | pl.col("_restart"))
        .then(pl.col("last_event_on"))
        .otherwise(pl.col("path_since"))
        .alias("path_since"),
        pl.when("_broken")
        .then(pl.lit(PathSource.PROMISE_BROKEN.value))
        .when("_restart")
        .then(pl.lit(PathSource.PARTIAL_PAYMENT.value))
        .otherwise(pl.col("path_source"))
        .alias("path_source"),
    )

    # 2. A path other than the segment's own (an event put the case there) lasts until its
    # last day; then the case is back on its segment's path.
    last_day = pl.col("path").replace_strict(last_days, default=None, return_dtype=pl.Int64)
    frame = frame.with_columns(
        ((pl.col("path") != pl.col("_base_path")) & (_days_on_path() > last_day))
        .fill_null(False)
        .alias("_ended")
    ).with_columns(
        pl.when("_ended").then(pl.col("path")).alias("_ended_path"),
        pl.when("_ended").then(pl.col("_base_path")).otherwise(pl.col("path")).alias("path"),
        pl.when("_ended")
        .then(pl.col("opened_on"))
        .otherwise(pl.col("path_since"))
        .alias("path_since"),
        pl.when("_ended")
        .then(pl.col("_base_source"))
        .otherwise(pl.col("path_source"))
        .alias("path_source"),
    )

    # 3. Unreachable for N days: the handler's path (skip-trace) from the day the Nth day
    # was reached, while that path lasts.
    targets: dict[str, str] = {}
    thresholds: dict[str, int] = {}
    for name in names:
        handler, _ = strategy.handler(name, Event.UNREACHABLE)
        if handler.reaction is Reaction.GOTO and handler.goto is not None:
            targets[name] = handler.goto
            thresholds[name] = handler.after_days or 0
    target = pl.col("_ur")
    target_last_day = target.replace_strict(last_days, default=None, return_dtype=pl.Int64)
    days_beyond = pl.col("unreachable_days") - pl.col("_ur_after")
    frame = frame.with_columns(
        pl.col("path").replace_strict(targets, default=None, return_dtype=pl.String).alias("_ur"),
        pl.col("path")
        .replace_strict(thresholds, default=None, return_dtype=pl.Int64)
        .alias("_ur_after"),
    ).with_columns(
        (
            target.is_not_null()
            & (target != pl.col("path"))
            & (days_beyond >= 0)
            & (target_last_day.is_null() | (days_beyond <= target_last_day))
        )
        .fill_null(False)
        .alias("_unreachable")
    )
    frame = frame.with_columns(
        pl.when("_unreachable").then(target).otherwise(pl.col("path")).alias("path"),
        pl.when("_unreachable")
        .then(pl.col("_as_of") - pl.duration(days=days_beyond))
        .otherwise(pl.col("path_since"))
        .alias("path_since"),
        pl.when("_unreachable")
        .then(pl.lit(PathSource.UNREACHABLE.value))
        .otherwise(pl.col("path_source"))
        .alias("path_source"),
    )
    return frame.with_columns(_path_reason().alias("_path_reason"))


def _quoted(column: str) -> pl.Expr:
    return pl.concat_str([pl.lit("'"), pl.col(column), pl.lit("'")])


def _path_reason() -> pl.Expr:
    path = pl.concat_str([pl.lit("path "), _quoted("path")])
    since = pl.col("path_since").cast(pl.String)
    arm = pl.concat_str(
        [
            pl.lit("arm "),
            _quoted("arm"),
            pl.lit(" ("),
            pl.col("_arm_share"),
            pl.lit(") of test "),
            _quoted("test_id"),
        ]
    )
    source = pl.col("path_source")
    words = (
        pl.when(source == PathSource.SEGMENT.value)
        .then(pl.concat_str([path, pl.lit(" of the segment")]))
        .when(source == PathSource.ARM.value)
        .then(pl.concat_str([path, pl.lit(" of "), arm]))
        .when(source == PathSource.OVERRIDE.value)
        .then(pl.concat_str([path, pl.lit(", where an earlier event moved the case on "), since]))
        .when(source == PathSource.PROMISE_BROKEN.value)
        .then(pl.concat_str([path, pl.lit(" from "), since, pl.lit(": promise broken")]))
        .when(source == PathSource.PARTIAL_PAYMENT.value)
        .then(
            pl.concat_str([path, pl.lit(" restarted on "), since, pl.lit(" by a partial payment")])
        )
        .when(source == PathSource.UNREACHABLE.value)
        .then(
            pl.concat_str(
                [
                    path,
                    pl.lit(" from "),
                    since,
                    pl.lit(": no successful contact for "),
                    pl.col("unreachable_days").cast(pl.String),
                    pl.lit(" days (threshold "),
                    pl.col("_ur_after").cast(pl.String),
                    pl.lit(")"),
                ]
            )
        )
    )
    arm_note = (
        pl.when(pl.col("arm").is_not_null() & (source != PathSource.ARM.value))
        .then(pl.concat_str([pl.lit(", "), arm]))
        .otherwise(pl.lit(""))
    )
    stale = (
        pl.when("_stale_override")
        .then(
            pl.concat_str(
                [
                    pl.lit(" (the earlier path "),
                    _quoted("path_override"),
                    pl.lit(" is not in this strategy version)"),
                ]
            )
        )
        .otherwise(pl.lit(""))
    )
    ended = (
        pl.when(pl.col("_ended_path").is_not_null())
        .then(
            pl.concat_str(
                [
                    pl.lit(" (back from path "),
                    _quoted("_ended_path"),
                    pl.lit(", whose days are over)"),
                ]
            )
        )
        .otherwise(pl.lit(""))
    )
    return pl.concat_str([words, arm_note, ended, stale])


def _with_stop(frame: pl.DataFrame, strategy: Strategy) -> pl.DataFrame:
    closing = list(_handler_map(strategy, Event.FULL_PAYMENT, Reaction.CLOSE))
    holding = list(_handler_map(strategy, Event.DISPUTE, Reaction.HOLD))
    pausing = list(_handler_map(strategy, Event.PROMISE_MADE, Reaction.PAUSE))
    paid = (pl.col("last_event") == Event.FULL_PAYMENT.value) & (
        pl.col("last_event_on").is_null() | (pl.col("last_event_on") >= pl.col("opened_on"))
    )
    is_closing = (paid & pl.col("path").is_in(closing)).fill_null(False)
    is_held = (pl.col("dispute") & pl.col("path").is_in(holding)).fill_null(False)
    is_paused = (pl.col("_active_promise") & pl.col("path").is_in(pausing)).fill_null(False)
    paid_on = pl.coalesce(pl.col("last_event_on").cast(pl.String), pl.lit("a recent day"))
    return frame.with_columns(
        pl.when(pl.col("segment").is_null())
        .then(pl.lit(CaseStatus.UNMATCHED.value))
        .when(is_closing)
        .then(pl.lit(CaseStatus.CLOSING.value))
        .when(is_held)
        .then(pl.lit(CaseStatus.HELD.value))
        .when(is_paused)
        .then(pl.lit(CaseStatus.PAUSED.value))
        .otherwise(pl.lit(None, pl.String))
        .alias("_stop"),
        pl.when(pl.col("segment").is_null())
        .then(pl.lit("no segment takes this account, so it gets no actions"))
        .when(is_closing)
        .then(pl.concat_str([pl.lit("paid in full on "), paid_on, pl.lit(": the case closes")]))
        .when(is_held)
        .then(pl.lit("held: the account is in dispute, no actions until it is resolved"))
        .when(is_paused)
        .then(
            pl.concat_str(
                [
                    pl.lit("paused: promise to pay until "),
                    pl.col("promise_until").cast(pl.String),
                ]
            )
        )
        .otherwise(pl.lit(None, pl.String))
        .alias("_stop_reason"),
    )


def _steps(
    on_path: pl.DataFrame, steps: list[tuple[int, Step]], strategy: Strategy, as_of: date
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """The decision columns of the cases on one path, and one frame of actions per step."""
    if not steps:
        return on_path.with_columns(
            pl.lit(0, pl.Int64).alias("actions"),
            pl.lit(None, pl.String).alias("skipped"),
            pl.lit(None, pl.String).alias("next_step"),
            pl.lit(None, pl.Date).alias("next_on"),
            pl.lit(CaseStatus.DONE.value).alias("status"),
            pl.lit("the path has no steps").alias("_status_reason"),
        ), []
    columns: list[pl.Expr] = []
    for index, step in steps:
        due, ahead = _timing(step)
        skip = (
            pl.lit(False)
            if step.skip_if.is_empty
            else conditions_expression(step.skip_if, strategy)
        )
        columns += [
            due.fill_null(False).alias(f"_due{index}"),
            skip.alias(f"_skip{index}"),
            ahead.cast(pl.Int64).alias(f"_ahead{index}"),
        ]
    frame = on_path.with_columns(columns)

    acted = [pl.col(f"_due{i}") & ~pl.col(f"_skip{i}") for i, _ in steps]
    skipped_words = [
        pl.when(pl.col(f"_due{i}") & pl.col(f"_skip{i}")).then(
            pl.lit(f"'{step.id}' ({_skip_words(step, strategy)})")
        )
        for i, step in steps
    ]
    aheads = [pl.col(f"_ahead{i}") for i, _ in steps]
    soonest = pl.min_horizontal(aheads)
    next_step: pl.Expr = pl.lit(None, pl.String)
    for (_, step), ahead in reversed(list(zip(steps, aheads, strict=True))):
        next_step = pl.when(ahead == soonest).then(pl.lit(step.id)).otherwise(next_step)
    frame = frame.with_columns(
        pl.sum_horizontal([a.cast(pl.Int64) for a in acted]).alias("actions"),
        pl.concat_list(skipped_words).list.drop_nulls().list.join("; ").alias("skipped"),
        next_step.alias("next_step"),
        (pl.lit(as_of) + pl.duration(days=soonest)).alias("next_on"),
    ).with_columns(
        pl.when(pl.col("skipped") != "").then(pl.col("skipped")).alias("skipped"),
    )
    skipped_note = (
        pl.when(pl.col("skipped").is_not_null())
        .then(pl.concat_str([pl.lit("; skipped today: "), pl.col("skipped")]))
        .otherwise(pl.lit(""))
    )
    frame = (
        frame.with_columns(
            pl.when(pl.col("actions") > 0)
            .then(pl.lit(CaseStatus.ACT.value))
            .when(pl.col("next_on").is_not_null())
            .then(pl.lit(CaseStatus.WAITING.value))
            .otherwise(pl.lit(CaseStatus.DONE.value))
            .alias("status"),
        )
        .with_columns(
            pl.when(pl.col("status") == CaseStatus.ACT.value)
            .then(
                pl.concat_str([pl.col("actions").cast(pl.String), pl.lit(" action(s) due today")])
            )
            .when(pl.col("status") == CaseStatus.WAITING.value)
            .then(
                pl.concat_str(
                    [
                        pl.lit("nothing due today; next step "),
                        _quoted("next_step"),
                        pl.lit(" on "),
                        pl.col("next_on").cast(pl.String),
                    ]
                )
            )
            .otherwise(pl.lit("nothing due today or later: every step of the path is behind it"))
            .alias("_status_reason")
        )
        .with_columns(
            pl.concat_str([pl.col("_status_reason"), skipped_note]).alias("_status_reason")
        )
    )

    actions = [
        _step_actions(frame.filter(acted[position]), index, step)
        for position, (index, step) in enumerate(steps)
    ]
    keep = [c for c in frame.columns if not c.startswith(("_due", "_skip", "_ahead"))]
    return frame.select(keep), actions


def _timing(step: Step) -> tuple[pl.Expr, pl.Expr]:
    """Whether the step is due on the run day, and in how many days it is next due (null:
    never again)."""
    offset = pl.col(_OFFSET[step.anchor])
    due: pl.Expr
    ahead: pl.Expr
    if step.every is None:
        due = offset == step.day
        ahead = pl.when(offset < step.day).then(step.day - offset)
        return due, ahead
    since_first = offset - step.day
    due = (since_first >= 0) & (since_first % step.every == 0)
    following = (
        pl.when(offset < step.day)
        .then(pl.lit(step.day, pl.Int64))
        .otherwise(step.day + (since_first // step.every + 1) * step.every)
    )
    if step.until is None:
        return due, following - offset
    due = due & (offset <= step.until)
    ahead = pl.when(following <= step.until).then(following - offset)
    return due, ahead


def _skip_words(step: Step, strategy: Strategy) -> str:
    return describe_skip(step.skip_if, strategy)


_ANCHOR_WORDS = {
    Anchor.DUE_DATE: "due date ",
    Anchor.LAST_EVENT: "last event on ",
}


def _step_actions(due: pl.DataFrame, order: int, step: Step) -> pl.DataFrame:
    if step.anchor is Anchor.CASE_OPEN:
        anchor_words = (
            pl.when(pl.col("path_source").is_in([PathSource.SEGMENT.value, PathSource.ARM.value]))
            .then(pl.lit("case opened on "))
            .otherwise(pl.lit("path started on "))
        )
    else:
        anchor_words = pl.lit(_ANCHOR_WORDS[step.anchor])
    today = (
        pl.concat_str([pl.lit(", today is day "), pl.col(_OFFSET[step.anchor]).cast(pl.String)])
        if step.every is not None
        else pl.lit("")
    )
    step_reason = pl.concat_str(
        [
            pl.lit(f"step '{step.id}': {describe_timing(step)} ("),
            anchor_words,
            pl.col(_ANCHOR_DATE[step.anchor]).cast(pl.String),
            today,
            pl.lit(")"),
        ]
    )
    return due.select(
        "case_key",
        "account_key",
        "segment",
        "path",
        pl.lit(step.id).alias("step"),
        pl.lit(step.channel.value).alias("channel"),
        pl.lit(step.template).alias("template"),
        pl.lit(step.queue, pl.String).alias("queue"),
        pl.lit(step.window.start_text).alias("window_start"),
        pl.lit(step.window.end_text).alias("window_end"),
        pl.lit(step.priority, pl.Int64).alias("priority"),
        "test_id",
        "arm",
        pl.concat_str(
            [pl.col("_segment_reason"), pl.col("_path_reason"), step_reason], separator="; "
        ).alias("reason"),
        pl.lit(order, pl.Int64).alias("_order"),
    )


def _segment_reasons(strategy: Strategy) -> dict[str, str]:
    return {
        s.id: f"segment '{s.id}' (the first that matches): {segment_rule(s, strategy)}"
        for s in strategy.segments
    }


def _decisions(frame: pl.DataFrame, strategy: Strategy, as_of: date) -> pl.DataFrame:
    return (
        frame.with_columns(
            pl.lit(as_of).alias("as_of"),
            pl.lit(strategy.id).alias("strategy_id"),
            pl.lit(strategy.version, pl.Int64).alias("strategy_version"),
            pl.when(pl.col("path").is_not_null()).then(pl.col("path_since")).alias("path_since"),
            pl.concat_str(
                [pl.col("_segment_reason"), pl.col("_path_reason"), pl.col("_status_reason")],
                separator="; ",
                ignore_nulls=True,
            ).alias("reason"),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in DECISION_COLUMNS.items()])
        .sort("case_key")
    )


def _actions(parts: list[pl.DataFrame], strategy: Strategy, as_of: date) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema=dict(ACTION_COLUMNS))
    frame = pl.concat(parts, how="vertical")
    return (
        frame.with_columns(
            pl.lit(as_of).alias("as_of"),
            pl.lit(strategy.id).alias("strategy_id"),
            pl.lit(strategy.version, pl.Int64).alias("strategy_version"),
        )
        .sort(["case_key", "priority", "_order"], descending=[False, True, False])
        .select([pl.col(name).cast(dtype) for name, dtype in ACTION_COLUMNS.items()])
    )

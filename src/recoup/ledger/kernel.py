"""The ledger rules, applied to many accounts at once: the one implementation of aging.

The rules are in ``docs/ledger-rules.md``; in short, for each day: charges from the state at
the end of the day before (a late fee once on the first day after grace, daily penalty
interest on unpaid principal, both only while the account is overdue beyond its tolerance),
then the pool of credit balance and the day's payments pays due installments oldest first, in
each product's allocation order, then DPD and bucket, with a move recorded when the bucket
changes.

How it is fast. Nothing loops over days or accounts. An account only changes on its *event
days*: a due date, a penalty start, a payment date, a snapshot date and the last day. Between
two events ``s < e`` the state is constant except that penalty interest accrues by the same
amount each day (the account's overdue status cannot flip: without payments its overdue total
only grows, and within tolerance nothing accrues), and DPD rises by one a day, so bucket
crossings fall on known days. The kernel therefore steps over the *k-th event of every
account at once*: step ``k`` processes, for every account that has a k-th event, the days from
its previous event to that one. The number of steps is the largest number of events one account
has in the window (a few per month), not the number of accounts or days.

The state lives in flat integer arrays indexed by installment row, grouped by account in
installment order; each step gathers the *live* rows of its accounts (due by the step's day
and not yet settled: see :meth:`_Ledger.live_rows`), computes with whole-array operations and
scatters the result back. An account's other rows cannot change in the step, so a replay of
two years costs about the rows that are open at each event, not the whole schedule at every
event (a 50,000-account partition of the scale benchmark: 17.4 s before, 5.4 s after).
Polars builds the events and the outputs; NumPy holds the mutable state because a step
updates a small slice of a large table in place.

All amounts are int64 cents; rates are integer parts per million, so every product is exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from recoup.money import PPM, rate_ppm
from recoup.products.spec import DEFAULT_BUCKETS, Bucket, ChargeComponent, Product

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

_EPOCH = date(1970, 1, 1)
_NO_DAY = np.iinfo(np.int64).max  # "no oldest unpaid installment"
# Day numbers fit in 32 bits: (row's account, due day) packs into one sortable int64 key.
_DAY_LOW = -(2**31)
_DAY_SPAN = 2**32

#: Columns the kernel reads from each installment row.
INSTALLMENT_INPUT = {
    "account_key": pl.Int64,
    "plan_key": pl.Int64,
    "plan_id": pl.String,
    "period": pl.Int32,
    "product_id": pl.String,
    "due_date": pl.Date,
    "principal_cents": pl.Int64,
    "fee_cents": pl.Int64,
    "late_fee_cents": pl.Int64,
    "penalty_cents": pl.Int64,
    "paid_principal_cents": pl.Int64,
    "paid_fee_cents": pl.Int64,
    "paid_late_fee_cents": pl.Int64,
    "paid_penalty_cents": pl.Int64,
    "adjusted_principal_cents": pl.Int64,
    "adjusted_fee_cents": pl.Int64,
    "adjusted_late_fee_cents": pl.Int64,
    "adjusted_penalty_cents": pl.Int64,
}

#: The columns a step changes, in the order of the state arrays.
STATE_COLUMNS = (
    "late_fee_cents",
    "penalty_cents",
    "paid_principal_cents",
    "paid_fee_cents",
    "paid_late_fee_cents",
    "paid_penalty_cents",
    "adjusted_principal_cents",
    "adjusted_fee_cents",
    "adjusted_late_fee_cents",
    "adjusted_penalty_cents",
)

ADJUSTED_COLUMNS = (
    "adjusted_principal_cents",
    "adjusted_fee_cents",
    "adjusted_late_fee_cents",
    "adjusted_penalty_cents",
)

#: The columns of the adjustments a run applies (see "Adjustments" in docs/ledger-rules.md).
ADJUSTMENT_INPUT = {
    "adjustment_key": pl.Int64,
    "account_key": pl.Int64,
    "effective_on": pl.Date,
    "plan_key": pl.Int64,  # null: every installment of the account
    "component": pl.String,  # principal | fee | late_fee | penalty_interest
    "amount_cents": pl.Int64,  # null: all of it; negative: give back
    "kind": pl.String,  # waiver | settlement | restructure | reinstatement
}

#: The kinds of adjustment whose unplaced remainder is credit: the amount was moved to
#: another plan of the account, where it is still owed.
MOVES = ("restructure", "reinstatement")
COMPONENTS = ("principal", "fee", "late_fee", "penalty_interest")
_ALL = np.iinfo(np.int64).max // 4  # "all of it": more than any unpaid amount


def day_number(day: date) -> int:
    return (day - _EPOCH).days


def from_day_number(number: int) -> date:
    return date.fromordinal(_EPOCH.toordinal() + number)


def account_tolerance(plans: pl.DataFrame, products: Mapping[str, Product]) -> pl.DataFrame:
    """Each account's tolerance: the smallest among all its plans' products (plans not yet
    started included, so that it does not change with the day).

    ``plans`` has ``account_key, product_id``; returns ``account_key, tolerance_cents``.
    """
    tolerances = pl.DataFrame(
        {
            "product_id": list(products),
            "tolerance_cents": [p.tolerance_cents for p in products.values()],
        },
        schema={"product_id": pl.String, "tolerance_cents": pl.Int64},
    )
    return (
        plans.select("account_key", "product_id")
        .join(tolerances, on="product_id", how="left")
        .group_by("account_key")
        .agg(pl.col("tolerance_cents").min())
    )


def effective_payments(payments: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The payments that count as of ``as_of``: dated on or before it, not reversal rows, and
    not reversed by a reversal dated on or before it (a reversed payment never happened).

    ``payments`` has ``account_key, amount_cents, paid_on, reverses_payment_id, reversed_on``.
    """
    return payments.filter(
        (pl.col("paid_on") <= as_of)
        & pl.col("reverses_payment_id").is_null()
        & (pl.col("reversed_on").is_null() | (pl.col("reversed_on") > as_of))
    ).select("account_key", "paid_on", "amount_cents")


@dataclass(frozen=True, slots=True)
class KernelResult:
    """What a run of the rules produces for its accounts.

    - ``installments``: the input rows with charged and paid amounts at the end day.
    - ``accounts``: each account's state at the end day.
    - ``charges``: late fees (one row each, dated the day assessed) and penalty interest (one
      row per installment with the first and last day it accrued in this run).
    - ``moves``: bucket moves, one row per move, in date order per account.
    - ``snapshots``: account states on the requested snapshot days and the end day.
    - ``adjustments``: each adjustment applied in the run with the amount its installments
      took (``applied_cents``, negative for an entry that gives back).
    """

    installments: pl.DataFrame
    accounts: pl.DataFrame
    charges: pl.DataFrame
    moves: pl.DataFrame
    snapshots: pl.DataFrame
    adjustments: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"adjustment_key": pl.Int64, "applied_cents": pl.Int64}
        )
    )


def _product_parameters(products: Mapping[str, Product]) -> pl.DataFrame:
    rows = []
    for product in products.values():
        order = list(product.allocation_order)
        rows.append(
            {
                "product_id": product.id,
                "grace_days": product.grace_days,
                "tolerance_cents": product.tolerance_cents,
                "penalty_ppm": rate_ppm(product.penalty_daily_rate),
                "late_fee_ppm": rate_ppm(product.late_fee.rate),
                "late_fee_min_cents": product.late_fee.min_cents,
                "late_fee_max_cents": product.late_fee.max_cents,
                "rank_penalty": order.index(ChargeComponent.PENALTY_INTEREST),
                "rank_late_fee": order.index(ChargeComponent.LATE_FEE),
                "rank_fee": order.index(ChargeComponent.FEE),
                "rank_principal": order.index(ChargeComponent.PRINCIPAL),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "product_id": pl.String,
            "grace_days": pl.Int64,
            "tolerance_cents": pl.Int64,
            "penalty_ppm": pl.Int64,
            "late_fee_ppm": pl.Int64,
            "late_fee_min_cents": pl.Int64,
            "late_fee_max_cents": pl.Int64,
            "rank_penalty": pl.Int64,
            "rank_late_fee": pl.Int64,
            "rank_fee": pl.Int64,
            "rank_principal": pl.Int64,
        },
    )


def _ranges(starts: I64, lengths: I64) -> I64:
    """Concatenated ``arange(start, start + length)`` for each pair, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + (np.arange(total, dtype=np.int64) - offsets)


def _group_sums(values: I64, lengths: I64) -> I64:
    """Sum of each consecutive group of ``lengths`` values (empty groups sum to 0)."""
    cumulative: I64 = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
    ends = np.cumsum(lengths)
    sums: I64 = cumulative[ends] - cumulative[ends - lengths]
    return sums


def _day_numbers(days: pl.Series, missing: int) -> I64:
    numbers: I64 = days.cast(pl.Date).cast(pl.Int32).cast(pl.Int64).fill_null(missing).to_numpy()
    return numbers.astype(np.int64)


def _exclusive_group_cumsum(values: I64, lengths: I64, group_start: I64) -> I64:
    """For each value, the sum of the values before it in its group."""
    cumulative: I64 = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
    before: I64 = cumulative[:-1] - np.repeat(cumulative[group_start], lengths)
    return before


def _group_min(values: I64, lengths: I64, empty: int) -> I64:
    out = np.full(lengths.shape[0], empty, dtype=np.int64)
    nonempty = lengths > 0
    if nonempty.any():
        starts = (np.cumsum(lengths) - lengths)[nonempty]
        out[nonempty] = np.minimum.reduceat(values, starts) if values.size else empty
    return out


class _Ledger:
    """The mutable state of one kernel run (see the module docstring)."""

    def __init__(
        self,
        installments: pl.DataFrame,
        accounts: pl.DataFrame,
        params: pl.DataFrame,
        buckets: Sequence[Bucket],
    ) -> None:
        frame = (
            installments.join(params, on="product_id", how="left")
            .with_columns(
                pl.col("due_date").cast(pl.Int32).cast(pl.Int64).alias("due"),
            )
            .with_columns((pl.col("due") + pl.col("grace_days") + 1).alias("pen_start"))
        )
        missing = frame.filter(pl.col("grace_days").is_null())
        if missing.height:
            unknown = missing["product_id"].unique().to_list()
            raise ValueError(f"installments of unknown product(s): {unknown}")
        # Installment order within an account: (due_date, plan_id, period).
        frame = frame.sort("account_key", "due", "plan_id", "period")
        self.frame = frame
        account_keys = accounts["account_key"].to_numpy().astype(np.int64)
        self.account_keys = account_keys
        row_account = frame["account_key"].to_numpy().astype(np.int64)
        # Accounts are sorted; map each installment row to its account's position.
        self.row_account = np.searchsorted(account_keys, row_account)
        if row_account.size and not np.array_equal(account_keys[self.row_account], row_account):
            raise ValueError("installments of an account that is not in the accounts frame")
        self.count = np.bincount(self.row_account, minlength=account_keys.size).astype(np.int64)
        self.first = (np.cumsum(self.count) - self.count).astype(np.int64)

        def col(name: str) -> I64:
            return frame[name].to_numpy().astype(np.int64)

        self.due = col("due")
        self.plan_key = col("plan_key")
        # A plan that has not started is not part of the account for adjustments.
        self.plan_start = (
            _day_numbers(frame["start_date"], -1)
            if "start_date" in frame.columns
            else np.full_like(self.due, -1)
        )
        self.pen_start = col("pen_start")
        self.principal = col("principal_cents")
        self.fee = col("fee_cents")
        self.penalty_ppm = col("penalty_ppm")
        self.late_fee_ppm = col("late_fee_ppm")
        self.late_fee_min = col("late_fee_min_cents")
        self.late_fee_max = col("late_fee_max_cents")
        self.ranks = {
            "penalty": col("rank_penalty"),
            "late_fee": col("rank_late_fee"),
            "fee": col("rank_fee"),
            "principal": col("rank_principal"),
        }
        # The components in allocation order when every row's product has the same order
        # (the usual case), else None and ``pay`` compares the ranks row by row.
        first_ranks = {name: int(rank[0]) for name, rank in self.ranks.items() if rank.size}
        self.common_order: list[str] | None = (
            sorted(first_ranks, key=first_ranks.__getitem__)
            if len(first_ranks) == len(self.ranks)
            and all((rank == first_ranks[name]).all() for name, rank in self.ranks.items())
            else None
        )
        self.late_fee = col("late_fee_cents").copy()
        self.penalty = col("penalty_cents").copy()
        self.paid_principal = col("paid_principal_cents").copy()
        self.paid_fee = col("paid_fee_cents").copy()
        self.paid_late_fee = col("paid_late_fee_cents").copy()
        self.paid_penalty = col("paid_penalty_cents").copy()
        self.adjusted_principal = col("adjusted_principal_cents").copy()
        self.adjusted_fee = col("adjusted_fee_cents").copy()
        self.adjusted_late_fee = col("adjusted_late_fee_cents").copy()
        self.adjusted_penalty = col("adjusted_penalty_cents").copy()
        # What this run charged, per row.
        self.new_late_fee = np.zeros_like(self.due)
        self.late_fee_day = np.full_like(self.due, -1)
        self.new_penalty = np.zeros_like(self.due)
        self.penalty_from = np.full_like(self.due, _NO_DAY)
        self.penalty_through = np.full_like(self.due, -1)

        self.tolerance = accounts["tolerance_cents"].to_numpy().astype(np.int64)
        # Unpaid principal of installments the caller left out because they fall due after
        # the run's last day: nothing can happen to them in the run, but they are owed.
        self.principal_beyond = (
            accounts["principal_beyond_cents"].to_numpy().astype(np.int64)
            if "principal_beyond_cents" in accounts.columns
            else np.zeros_like(self.tolerance)
        )
        self.credit = accounts["credit_balance_cents"].to_numpy().astype(np.int64).copy()
        self.start = accounts["start"].cast(pl.Int32).to_numpy().astype(np.int64)
        # Re-ageing after a plan's first payments ("Re-ageing" in docs/ledger-rules.md): the
        # day DPD counts from until the plan's installments due by `re_age_through` are paid.
        self.aged_from: I64 | None = None
        if "aged_from" in accounts.columns and accounts["aged_from"].is_not_null().any():
            self.aged_from = _day_numbers(accounts["aged_from"], _NO_DAY)
            self.re_age_plan = accounts["re_age_plan_key"].fill_null(-1).to_numpy().astype(np.int64)
            self.re_age_through = _day_numbers(accounts["re_age_through"], -1)

        self.bucket_names = [b.name for b in buckets]
        self.bucket_mins = np.array([b.min_dpd for b in buckets], dtype=np.int64)

        # The live rows of each account: rows lo .. hi-1 (global row numbers). Rows before lo
        # are settled and stay so (no charge accrues on a settled row; only an adjustment can
        # reopen one, and step 0 then widens the range again); rows from hi on fall due after
        # the account's last processed day, so no charge, payment or overdue sum touches
        # them, and they count only in the outstanding principal, kept per account in
        # ``principal_after_hi``. A step then reads the rows an account can change (one or
        # two for most accounts) instead of its whole schedule. Rows are sorted by account
        # and due date, so the rows due by a day are found by one search over ``due_key``.
        self.due_key = self.row_account * _DAY_SPAN + (self.due - _DAY_LOW)
        self.lo = self.first.copy()
        self.hi = self.first.copy()
        self.principal_after_hi = _group_sums(
            self.principal - self.paid_principal - self.adjusted_principal, self.count
        )

        # The state at each account's start day.
        everyone = np.arange(account_keys.size, dtype=np.int64)
        state = self.account_state(everyone, self.start)
        self.overdue = state["overdue_total"] > self.tolerance
        self.origin = state["origin"]
        self.dpd = state["dpd"]

    # ----------------------------------------------------------------- state queries

    def component_arrays(self, component: str) -> tuple[I64, I64, I64]:
        """The charged, paid and adjusted arrays of a component."""
        return {
            "principal": (self.principal, self.paid_principal, self.adjusted_principal),
            "fee": (self.fee, self.paid_fee, self.adjusted_fee),
            "late_fee": (self.late_fee, self.paid_late_fee, self.adjusted_late_fee),
            "penalty_interest": (self.penalty, self.paid_penalty, self.adjusted_penalty),
        }[component]

    def unpaid(self, component: str, rows: I64) -> I64:
        charged, paid, adjusted = self.component_arrays(component)
        return charged[rows] - paid[rows] - adjusted[rows]

    def bucket_index(self, dpd: I64) -> I64:
        """Index of the bucket holding each DPD (beyond the last bucket: the last)."""
        return (np.searchsorted(self.bucket_mins, dpd, side="right") - 1).astype(np.int64)

    def live_rows(self, accounts: I64, day: I64) -> tuple[I64, I64]:
        """The live rows of ``accounts`` (distinct) at the end of ``day``, and their number per
        account, first bringing in the rows that fell due since the account's last day.

        ``day`` never goes back for an account: its steps, their eves and the last day come
        in order. An account waiting to be re-aged also keeps live the rows due by its
        ``re_age_through`` day, which the wait looks at before they fall due."""
        through = day
        if self.aged_from is not None:
            through = np.maximum(day, self.re_age_through[accounts])
        due_by = np.searchsorted(self.due_key, accounts * _DAY_SPAN + (through - _DAY_LOW), "right")
        hi = self.hi[accounts]
        new_lengths = np.maximum(due_by - hi, 0)
        if new_lengths.any():
            fresh = _ranges(hi, new_lengths)
            self.principal_after_hi[accounts] -= _group_sums(
                self.unpaid("principal", fresh), new_lengths
            )
            self.hi[accounts] = hi + new_lengths
        lo = self.lo[accounts]
        lengths = self.hi[accounts] - lo
        return _ranges(lo, lengths), lengths

    def reopen(self, accounts: I64) -> None:
        """Widen the live rows of ``accounts`` (distinct) to every row due by their last
        day, and count afresh the principal of the rows not yet due: an adjustment or a
        settlement may have paid, waived or given back any row."""
        self.lo[accounts] = self.first[accounts]
        lengths = self.first[accounts] + self.count[accounts] - self.hi[accounts]
        self.principal_after_hi[accounts] = _group_sums(
            self.unpaid("principal", _ranges(self.hi[accounts], lengths)), lengths
        )

    def account_state(self, accounts: I64, day: I64) -> dict[str, I64]:
        """Overdue amounts by component, oldest unpaid due date, DPD and outstanding
        principal of ``accounts`` at the end of ``day`` (one day per account)."""
        state, _ = self._state(accounts, day)
        return state

    def _state(self, accounts: I64, day: I64) -> tuple[dict[str, I64], I64]:
        """:meth:`account_state`, and each account's first live row still owing anything
        (its ``hi`` when none is)."""
        rows, lengths = self.live_rows(accounts, day)
        row_day = np.repeat(day, lengths)
        is_due = self.due[rows] <= row_day
        unpaid_principal = self.unpaid("principal", rows)
        unpaid_fee = self.unpaid("fee", rows)
        unpaid_late_fee = self.unpaid("late_fee", rows)
        unpaid_penalty = self.unpaid("penalty_interest", rows)
        zero = np.zeros_like(unpaid_principal)
        overdue_principal = _group_sums(np.where(is_due, unpaid_principal, zero), lengths)
        overdue_fee = _group_sums(np.where(is_due, unpaid_fee, zero), lengths)
        overdue_late_fee = _group_sums(np.where(is_due, unpaid_late_fee, zero), lengths)
        overdue_penalty = _group_sums(np.where(is_due, unpaid_penalty, zero), lengths)
        total = overdue_principal + overdue_fee + overdue_late_fee + overdue_penalty
        owes_principal_or_fee = is_due & ((unpaid_principal + unpaid_fee) > 0)
        oldest = _group_min(
            np.where(owes_principal_or_fee, self.due[rows], _NO_DAY), lengths, _NO_DAY
        )
        is_overdue = total > self.tolerance[accounts]
        # The day DPD counts from: the oldest installment owing principal or fee while the
        # account is overdue, or an older day while a re-age waits for payments.
        origin = np.where(is_overdue, oldest, _NO_DAY)
        if self.aged_from is not None:
            row_account = np.repeat(accounts, lengths)
            waits = (
                (self.plan_key[rows] == self.re_age_plan[row_account])
                & (self.due[rows] <= self.re_age_through[row_account])
                & (self.plan_start[rows] <= row_day)
                & ((unpaid_principal + unpaid_fee) > 0)
            )
            pending = (_group_sums(waits.astype(np.int64), lengths) > 0) & (
                self.aged_from[accounts] <= day
            )
            origin = np.where(pending, np.minimum(origin, self.aged_from[accounts]), origin)
        dpd = np.where(origin != _NO_DAY, day - origin, 0)
        owing = (unpaid_principal != 0) | (unpaid_fee != 0) | (unpaid_late_fee != 0)
        owing |= unpaid_penalty != 0
        first_owing = np.minimum(
            _group_min(np.where(owing, rows, _NO_DAY), lengths, _NO_DAY), self.hi[accounts]
        )
        return {
            "overdue_principal": overdue_principal,
            "overdue_fee": overdue_fee,
            "overdue_late_fee": overdue_late_fee,
            "overdue_penalty": overdue_penalty,
            "overdue_total": total,
            "origin": origin,
            "dpd": dpd.astype(np.int64),
            "outstanding_principal": _group_sums(unpaid_principal, lengths)
            + self.principal_after_hi[accounts]
            + self.principal_beyond[accounts],
        }, first_owing

    # ----------------------------------------------------------------- step 0

    def adjust(self, accounts: I64, day: I64, plan_key: I64, component: I64, amount: I64) -> I64:
        """Apply one adjustment to each of ``accounts`` (distinct) at the start of ``day``:
        ``plan_key`` -1 for the whole account, ``component`` an index into
        :data:`COMPONENTS`, ``amount`` in cents (``_ALL`` for all of it, negative to give
        back). A positive amount fills the unpaid amounts oldest first; a negative one takes
        back adjusted amounts newest first. Returns the applied amount of each entry."""
        lengths = self.count[accounts]
        rows = _ranges(self.first[accounts], lengths)
        entry = np.repeat(np.arange(accounts.size, dtype=np.int64), lengths)
        in_scope = ((plan_key[entry] < 0) | (self.plan_key[rows] == plan_key[entry])) & (
            self.plan_start[rows] <= day[entry]
        )
        row_amount = amount[entry]
        positive = row_amount >= 0
        group_start = np.cumsum(lengths) - lengths
        applied = np.zeros(accounts.size, dtype=np.int64)
        for index, name in enumerate(COMPONENTS):
            mine = in_scope & (component[entry] == index)
            if not mine.any():
                continue
            charged, paid, adjusted = self.component_arrays(name)
            unpaid = np.maximum(charged[rows] - paid[rows] - adjusted[rows], 0)
            fill = np.where(mine & positive, unpaid, 0)
            filled_before = _exclusive_group_cumsum(fill, lengths, group_start)
            take = np.clip(row_amount - filled_before, 0, fill)
            back = np.where(mine & ~positive, adjusted[rows], 0)
            # Newest first: what the later rows of the group can give back comes first.
            back_after = np.repeat(_group_sums(back, lengths), lengths) - (
                _exclusive_group_cumsum(back, lengths, group_start) + back
            )
            give = np.clip(-row_amount - back_after, 0, back)
            adjusted[rows] += take - give
            applied += _group_sums(take - give, lengths)
        return applied

    # ----------------------------------------------------------------- one step

    def step(
        self, accounts: I64, previous: I64, day: I64, paid: I64
    ) -> tuple[list[I64], dict[str, I64]]:
        """Advance ``accounts`` from the end of day ``previous`` to the end of ``day``.

        Between the two nothing happens but penalty accrual and aging; on ``day`` itself the
        charges, then the pool of credit and ``paid``, then DPD and bucket. Returns the bucket
        moves (account, day, from, to, dpd) and the end-of-day state.
        """
        rows, lengths = self.live_rows(accounts, day)
        row_prev = np.repeat(previous, lengths)
        row_day = np.repeat(day, lengths)
        row_overdue = np.repeat(self.overdue[accounts], lengths)

        # 1. Charges for the days previous+1 .. day, from the state at the end of `previous`.
        unpaid_principal = self.unpaid("principal", rows)
        unpaid_principal_fee = unpaid_principal + self.unpaid("fee", rows)
        pen_start = self.pen_start[rows]
        first_day = np.maximum(row_prev + 1, pen_start)
        days = np.where(row_overdue, np.maximum(0, row_day - first_day + 1), 0)
        daily = (unpaid_principal * self.penalty_ppm[rows] + PPM // 2) // PPM
        penalty = daily * days
        late_fee = np.clip(
            (unpaid_principal_fee * self.late_fee_ppm[rows] + PPM // 2) // PPM,
            self.late_fee_min[rows],
            self.late_fee_max[rows],
        )
        assess = row_overdue & (pen_start == row_day) & (unpaid_principal_fee > 0)
        late_fee = np.where(assess, late_fee, 0)
        self.penalty[rows] += penalty
        self.late_fee[rows] += late_fee
        accrued = penalty > 0
        self.new_penalty[rows] += penalty
        self.penalty_from[rows] = np.where(
            accrued, np.minimum(self.penalty_from[rows], first_day), self.penalty_from[rows]
        )
        self.penalty_through[rows] = np.where(accrued, row_day, self.penalty_through[rows])
        self.new_late_fee[rows] += late_fee
        self.late_fee_day[rows] = np.where(assess, row_day, self.late_fee_day[rows])

        # 2. The pool pays due installments oldest first, components in allocation order.
        self.pay(accounts, rows, lengths, self.due[rows] <= row_day, self.credit[accounts] + paid)

        # 3. End-of-day state, and the bucket moves since `previous`.
        state, first_owing = self._state(accounts, day)
        self.lo[accounts] = first_owing
        moves = self._moves(accounts, previous, day, state["dpd"])
        self.overdue[accounts] = state["overdue_total"] > self.tolerance[accounts]
        self.origin[accounts] = state["origin"]
        self.dpd[accounts] = state["dpd"]
        return moves, state

    def pay(self, accounts: I64, rows: I64, lengths: I64, payable: BOOL, pool: I64) -> None:
        """The ``pool`` of each account pays its ``payable`` installment rows oldest first,
        components in allocation order; what is left is the account's credit."""
        paying = pool > 0
        if not paying.all():
            # Most steps are a due date or a month end with nothing to pay with: those
            # accounts keep their (empty) pool as credit and their rows are not touched.
            self.credit[accounts[~paying]] = pool[~paying]
            if not paying.any():
                return
            row_paying = np.repeat(paying, lengths)
            accounts, pool, lengths = accounts[paying], pool[paying], lengths[paying]
            rows, payable = rows[row_paying], payable[row_paying]
        unpaid = {
            "penalty": self.unpaid("penalty_interest", rows),
            "late_fee": self.unpaid("late_fee", rows),
            "fee": self.unpaid("fee", rows),
            "principal": self.unpaid("principal", rows),
        }
        for name in unpaid:
            unpaid[name] = np.where(payable, unpaid[name], 0)
        owed = unpaid["penalty"] + unpaid["late_fee"] + unpaid["fee"] + unpaid["principal"]
        cumulative = np.concatenate(([0], np.cumsum(owed, dtype=np.int64)))
        group_base = np.repeat(cumulative[np.cumsum(lengths) - lengths], lengths)
        owed_before = cumulative[:-1] - group_base
        to_installment = np.clip(np.repeat(pool, lengths) - owed_before, 0, owed)
        targets = {
            "penalty": self.paid_penalty,
            "late_fee": self.paid_late_fee,
            "fee": self.paid_fee,
            "principal": self.paid_principal,
        }
        if self.common_order is not None:
            # One allocation order for every row: each component gets what the components
            # before it left, without comparing ranks row by row.
            before = np.zeros_like(owed)
            for name in self.common_order:
                targets[name][rows] += np.clip(to_installment - before, 0, unpaid[name])
                before += unpaid[name]
        else:
            ranks = {name: rank[rows] for name, rank in self.ranks.items()}
            for name, owed_component in unpaid.items():
                before = np.zeros_like(owed_component)
                for other, other_owed in unpaid.items():
                    if other != name:
                        before += np.where(ranks[other] < ranks[name], other_owed, 0)
                targets[name][rows] += np.clip(to_installment - before, 0, owed_component)
        self.credit[accounts] = pool - _group_sums(to_installment, lengths)

    def _moves(self, accounts: I64, previous: I64, day: I64, dpd_today: I64) -> list[I64]:
        """Bucket moves on the days previous+1 .. day: crossings while aging, then today's."""
        aging = self.origin[accounts] != _NO_DAY
        dpd_before = self.dpd[accounts]
        # DPD at the end of day-1: it rose one a day since `previous` while overdue.
        dpd_eve = np.where(aging, day - 1 - self.origin[accounts], dpd_before)
        dpd_eve = np.where(day - 1 > previous, dpd_eve, dpd_before)
        parts: list[list[I64]] = [[], [], [], [], []]
        # Crossings of each bucket's lower bound during the quiet days.
        for index in range(1, self.bucket_mins.size):
            bound = self.bucket_mins[index]
            crossed = aging & (dpd_before < bound) & (dpd_eve >= bound)
            if crossed.any():
                parts[0].append(accounts[crossed])
                parts[1].append(self.origin[accounts][crossed] + bound)
                parts[2].append(np.full(int(crossed.sum()), index - 1, dtype=np.int64))
                parts[3].append(np.full(int(crossed.sum()), index, dtype=np.int64))
                parts[4].append(np.full(int(crossed.sum()), bound, dtype=np.int64))
        bucket_eve = self.bucket_index(dpd_eve)
        bucket_today = self.bucket_index(dpd_today)
        changed = bucket_eve != bucket_today
        if changed.any():
            parts[0].append(accounts[changed])
            parts[1].append(day[changed])
            parts[2].append(bucket_eve[changed])
            parts[3].append(bucket_today[changed])
            parts[4].append(dpd_today[changed])
        if not parts[0]:
            return [np.zeros(0, dtype=np.int64) for _ in range(5)]
        return [np.concatenate(p) for p in parts]


def run_rules(
    installments: pl.DataFrame,
    accounts: pl.DataFrame,
    payments: pl.DataFrame,
    products: Mapping[str, Product],
    through: date,
    buckets: Sequence[Bucket] = DEFAULT_BUCKETS,
    snapshot_days: Sequence[date] = (),
    adjustments: pl.DataFrame | None = None,
) -> KernelResult:
    """Apply the ledger rules to every account from the end of its ``start`` day through
    ``through``.

    Args:
        installments: rows with the columns of :data:`INSTALLMENT_INPUT`, with charged and paid
            amounts as they stood at the end of each account's start day; optionally their
            plan's ``start_date`` (an adjustment's scope is the plans started by its day).
        accounts: ``account_key``, ``start`` (Date: the day whose end the installment state
            describes), ``credit_balance_cents`` at that point and ``tolerance_cents`` (see
            :func:`account_tolerance`); optionally ``aged_from`` (Date), ``re_age_plan_key``
            and ``re_age_through`` (Date) for accounts whose plan re-ages them only after
            its first payments; optionally ``principal_beyond_cents``, the unpaid principal
            of installments left out of ``installments`` because they fall due after
            ``through`` (no rule touches them before then; they count in the outstanding
            principal). An account with adjustments or a re-ageing plan in the run must be
            given all its installments.
        payments: ``account_key, paid_on, amount_cents`` of payments that count (see
            :func:`effective_payments`); those outside each account's (start, through] are
            ignored.
        products: the products the installments name.
        through: the last day to apply.
        buckets: the bucket table.
        snapshot_days: extra days (besides ``through``) on which each account's state is
            reported in ``snapshots``.
        adjustments: non-cash entries with the columns of :data:`ADJUSTMENT_INPUT`, applied at
            the start of their day (step 0); those outside each account's (start, through]
            are ignored.
    """
    accounts = accounts.sort("account_key")
    # Installments from before adjustments existed (or never adjusted) have none.
    installments = installments.with_columns(
        pl.lit(0, pl.Int64).alias(c) for c in ADJUSTED_COLUMNS if c not in installments.columns
    )
    ledger = _Ledger(installments, accounts, _product_parameters(products), buckets)
    end = day_number(through)
    keys = pl.Series("account_key", ledger.account_keys)
    starts = accounts.select("account_key", pl.col("start").cast(pl.Int32).cast(pl.Int64))

    # Every account's event days in (start, through].
    frame = ledger.frame.select("account_key", "due", "pen_start")
    candidate_days = [
        frame.select("account_key", pl.col("due").alias("day")),
        frame.select("account_key", pl.col("pen_start").alias("day")),
        payments.select(
            "account_key", pl.col("paid_on").cast(pl.Int32).cast(pl.Int64).alias("day")
        ),
        pl.DataFrame({"account_key": keys, "day": np.full(keys.len(), end, dtype=np.int64)}),
    ]
    if adjustments is None:
        adjustments = pl.DataFrame(schema=ADJUSTMENT_INPUT)
    adjustment_days = adjustments.select(
        pl.col("account_key").cast(pl.Int64),
        pl.col("effective_on").cast(pl.Int32).cast(pl.Int64).alias("day"),
    )
    # Step 0 acts on the end of the day before: that day is an event too, so the step that
    # ends on the adjustment's day covers that day alone.
    candidate_days += [adjustment_days, adjustment_days.with_columns(pl.col("day") - 1)]
    snapshot_numbers = sorted({day_number(d) for d in snapshot_days if d <= through} | {end})
    if len(snapshot_numbers) > 1:
        candidate_days.append(
            pl.DataFrame({"account_key": keys}).join(
                pl.DataFrame({"day": snapshot_numbers}, schema={"day": pl.Int64}), how="cross"
            )
        )
    events = (
        pl.concat([d.cast({"account_key": pl.Int64, "day": pl.Int64}) for d in candidate_days])
        .join(starts, on="account_key", how="inner")
        .filter((pl.col("day") > pl.col("start")) & (pl.col("day") <= end))
        .unique(["account_key", "day"])
        .sort("account_key", "day")
        .with_columns(
            pl.col("day").shift(1).over("account_key").fill_null(pl.col("start")).alias("previous"),
            pl.col("day").rank("ordinal").over("account_key").cast(pl.Int64).alias("k"),
        )
    )
    paid_by_day = (
        payments.select(
            pl.col("account_key").cast(pl.Int64),
            pl.col("paid_on").cast(pl.Int32).cast(pl.Int64).alias("day"),
            pl.col("amount_cents").cast(pl.Int64),
        )
        .group_by("account_key", "day")
        .agg(pl.col("amount_cents").sum().alias("paid"))
    )
    events = events.join(paid_by_day, on=["account_key", "day"], how="left").with_columns(
        pl.col("paid").fill_null(0),
        pl.col("day").is_in(snapshot_numbers).alias("snapshot"),
    )
    events = events.with_columns(
        pl.Series(
            "position", np.searchsorted(ledger.account_keys, events["account_key"].to_numpy())
        ).cast(pl.Int64)
    )

    entries = _entries_by_step(adjustments, events)
    applied: list[tuple[I64, I64]] = []

    moves: list[list[I64]] = []
    snapshots: list[dict[str, I64]] = []
    for (k,), step_events in events.partition_by("k", as_dict=True, maintain_order=True).items():
        step_events = step_events.sort("position")
        accounts_now = step_events["position"].to_numpy().astype(np.int64)
        day = step_events["day"].to_numpy().astype(np.int64)
        if k in entries:
            applied += _step_zero(ledger, entries[k])
        step_moves, state = ledger.step(
            accounts_now,
            step_events["previous"].to_numpy().astype(np.int64),
            day,
            step_events["paid"].to_numpy().astype(np.int64),
        )
        moves.append(step_moves)
        snap = step_events["snapshot"].to_numpy()
        if snap.any():
            snapshots.append(
                {"position": accounts_now[snap], "day": day[snap]}
                | {name: values[snap] for name, values in state.items()}
                | {"credit": ledger.credit[accounts_now[snap]]}
            )
    return _result(ledger, moves, snapshots, through, applied)


def _entries_by_step(adjustments: pl.DataFrame, events: pl.DataFrame) -> dict[int, pl.DataFrame]:
    """The adjustments within each account's days, keyed by the step that ends on their day,
    each numbered ``j`` (0, 1, ...) in key order within its account and day."""
    if adjustments.is_empty():
        return {}
    unknown = adjustments.filter(~pl.col("component").is_in(COMPONENTS))
    if unknown.height:
        raise ValueError(f"adjustments of unknown component(s): {unknown['component'].unique()}")
    frame = (
        adjustments.with_columns(
            pl.col("account_key").cast(pl.Int64),
            pl.col("effective_on").cast(pl.Int32).cast(pl.Int64).alias("day"),
        )
        .join(events.select("account_key", "day", "k", "position"), on=["account_key", "day"])
        .sort("account_key", "day", "adjustment_key")
        .with_columns(
            pl.int_range(pl.len()).over("account_key", "day").alias("j"),
            pl.col("plan_key").fill_null(-1),
            pl.col("component").replace_strict(
                {name: index for index, name in enumerate(COMPONENTS)}, return_dtype=pl.Int64
            ),
            pl.col("amount_cents").fill_null(_ALL),
            (pl.col("kind").is_in(MOVES) & pl.col("amount_cents").is_not_null()).alias("to_credit"),
        )
    )
    return {int(k): part for (k,), part in frame.partition_by("k", as_dict=True).items()}


def _step_zero(ledger: _Ledger, entries: pl.DataFrame) -> list[tuple[I64, I64]]:
    """Apply one step's adjustments, the j-th entry of every account at once, then
    re-judge those accounts' overdue status at the end of the day before (the charges of the
    day follow from it)."""
    applied = []
    settling = entries.filter(pl.col("kind") == "settlement").unique("position").sort("position")
    if settling.height:
        # A settlement closes the account: before the day's entries, its credit (what was paid
        # towards the settlement beyond the overdue amount) pays every installment of the
        # plans started by then, due or not.
        positions = settling["position"].to_numpy().astype(np.int64)
        lengths = ledger.count[positions]
        rows = _ranges(ledger.first[positions], lengths)
        started = ledger.plan_start[rows] <= np.repeat(settling["day"].to_numpy(), lengths)
        ledger.pay(positions, rows, lengths, started, ledger.credit[positions])
    for (_,), batch in entries.partition_by("j", as_dict=True, maintain_order=True).items():
        positions = batch["position"].to_numpy().astype(np.int64)
        amount = batch["amount_cents"].to_numpy().astype(np.int64)
        took = ledger.adjust(
            positions,
            batch["day"].to_numpy().astype(np.int64),
            batch["plan_key"].to_numpy().astype(np.int64),
            batch["component"].to_numpy().astype(np.int64),
            amount,
        )
        to_credit = batch["to_credit"].to_numpy() & (amount > 0)
        np.add.at(ledger.credit, positions[to_credit], (amount - took)[to_credit])
        applied.append((batch["adjustment_key"].to_numpy().astype(np.int64), took))
    ledger.reopen(np.unique(entries["position"].to_numpy().astype(np.int64)))
    eve = np.unique(entries["day"].to_numpy().astype(np.int64) - 1)
    # Every entry of a step is on its account's event day, and the day before is the step's
    # start, so one account_state per distinct eve suffices (usually one).
    for day_before in eve:
        on_day = np.unique(
            entries.filter(pl.col("day") == day_before + 1)["position"].to_numpy().astype(np.int64)
        )
        state = ledger.account_state(on_day, np.full(on_day.size, day_before, dtype=np.int64))
        ledger.overdue[on_day] = state["overdue_total"] > ledger.tolerance[on_day]
    return applied


def _result(
    ledger: _Ledger,
    moves: list[list[I64]],
    snapshots: list[dict[str, I64]],
    through: date,
    applied: Sequence[tuple[I64, I64]] = (),
) -> KernelResult:
    names = ledger.bucket_names
    bucket_names = pl.Series(names, dtype=pl.String)
    installments = ledger.frame.select(list(INSTALLMENT_INPUT)).with_columns(
        pl.Series("late_fee_cents", ledger.late_fee),
        pl.Series("penalty_cents", ledger.penalty),
        pl.Series("paid_principal_cents", ledger.paid_principal),
        pl.Series("paid_fee_cents", ledger.paid_fee),
        pl.Series("paid_late_fee_cents", ledger.paid_late_fee),
        pl.Series("paid_penalty_cents", ledger.paid_penalty),
        pl.Series("adjusted_principal_cents", ledger.adjusted_principal),
        pl.Series("adjusted_fee_cents", ledger.adjusted_fee),
        pl.Series("adjusted_late_fee_cents", ledger.adjusted_late_fee),
        pl.Series("adjusted_penalty_cents", ledger.adjusted_penalty),
    )
    installments = installments.with_columns(
        pl.all_horizontal(
            pl.col(f"paid_{name}_cents") + pl.col(f"adjusted_{name}_cents")
            == pl.col(f"{name}_cents")
            for name in ("principal", "fee", "late_fee", "penalty")
        ).alias("settled")
    )

    everyone = np.arange(ledger.account_keys.size, dtype=np.int64)
    end = np.full(everyone.size, day_number(through), dtype=np.int64)
    final = ledger.account_state(everyone, end)
    accounts = _state_frame(ledger, everyone, end, final, ledger.credit, bucket_names)

    if snapshots:
        merged = {key: np.concatenate([s[key] for s in snapshots]) for key in snapshots[0]}
        snapshot_frame = _state_frame(
            ledger, merged["position"], merged["day"], merged, merged["credit"], bucket_names
        ).sort("account_key", "as_of")
    else:
        snapshot_frame = _state_frame(
            ledger,
            everyone[:0],
            end[:0],
            {k: v[:0] for k, v in final.items()},
            ledger.credit[:0],
            bucket_names,
        )

    parts = [
        np.concatenate([m[i] for m in moves]) if moves else np.zeros(0, np.int64) for i in range(5)
    ]
    moves_frame = (
        pl.DataFrame(
            {
                "account_key": ledger.account_keys[parts[0]],
                "moved_on": parts[1].astype(np.int32),
                "from_bucket": bucket_names.gather(parts[2]) if parts[2].size else [],
                "to_bucket": bucket_names.gather(parts[3]) if parts[3].size else [],
                "dpd": parts[4].astype(np.int32),
            },
            schema={
                "account_key": pl.Int64,
                "moved_on": pl.Int32,
                "from_bucket": pl.String,
                "to_bucket": pl.String,
                "dpd": pl.Int32,
            },
        )
        .with_columns(pl.col("moved_on").cast(pl.Date))
        .sort("account_key", "moved_on")
    )

    keys = ledger.frame.select("account_key", "plan_key", "period")
    late_fees = keys.with_columns(
        pl.lit("late_fee").alias("kind"),
        pl.Series("amount_cents", ledger.new_late_fee),
        pl.Series("accrued_from", ledger.late_fee_day.astype(np.int32)),
        pl.Series("accrued_through", ledger.late_fee_day.astype(np.int32)),
    ).filter(pl.col("accrued_from") >= 0)
    penalties = keys.with_columns(
        pl.lit("penalty_interest").alias("kind"),
        pl.Series("amount_cents", ledger.new_penalty),
        pl.Series("accrued_from", np.minimum(ledger.penalty_from, 2**31 - 1).astype(np.int32)),
        pl.Series("accrued_through", ledger.penalty_through.astype(np.int32)),
    ).filter(pl.col("amount_cents") > 0)
    charges = pl.concat([late_fees, penalties]).with_columns(
        pl.col("accrued_from").cast(pl.Date), pl.col("accrued_through").cast(pl.Date)
    )
    applied_frame = pl.DataFrame(
        {
            "adjustment_key": np.concatenate([keys for keys, _ in applied])
            if applied
            else np.zeros(0, np.int64),
            "applied_cents": np.concatenate([took for _, took in applied])
            if applied
            else np.zeros(0, np.int64),
        },
        schema={"adjustment_key": pl.Int64, "applied_cents": pl.Int64},
    ).sort("adjustment_key")
    return KernelResult(installments, accounts, charges, moves_frame, snapshot_frame, applied_frame)


def _state_frame(
    ledger: _Ledger,
    positions: I64,
    days: I64,
    state: Mapping[str, I64],
    credit: I64,
    bucket_names: pl.Series,
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_key": ledger.account_keys[positions],
            "as_of": days.astype(np.int32),
            "dpd": state["dpd"].astype(np.int32),
            "bucket": bucket_names.gather(ledger.bucket_index(state["dpd"]))
            if positions.size
            else pl.Series([], dtype=pl.String),
            "overdue_principal_cents": state["overdue_principal"],
            "overdue_fee_cents": state["overdue_fee"],
            "overdue_late_fee_cents": state["overdue_late_fee"],
            "overdue_penalty_cents": state["overdue_penalty"],
            "overdue_cents": state["overdue_total"],
            "outstanding_principal_cents": state["outstanding_principal"],
            "credit_balance_cents": credit,
        },
        schema={
            "account_key": pl.Int64,
            "as_of": pl.Int32,
            "dpd": pl.Int32,
            "bucket": pl.String,
            "overdue_principal_cents": pl.Int64,
            "overdue_fee_cents": pl.Int64,
            "overdue_late_fee_cents": pl.Int64,
            "overdue_penalty_cents": pl.Int64,
            "overdue_cents": pl.Int64,
            "outstanding_principal_cents": pl.Int64,
            "credit_balance_cents": pl.Int64,
        },
    ).with_columns(pl.col("as_of").cast(pl.Date))

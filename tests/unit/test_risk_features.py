"""Point-in-time features and targets on small hand-made histories, worked out by hand; the
no-leakage property (rows after D changed arbitrarily change no feature as of D); targets on
the edge of their horizons; out-of-time splits."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from recoup.products.spec import DEFAULT_BUCKETS, bucket_for_dpd
from recoup.risk.features import (
    FEATURES,
    NEVER_DAYS,
    PAYMENT_RATIO_CAP,
    SCHEMAS,
    History,
    features_as_of,
    months_before,
)
from recoup.risk.targets import (
    TargetKind,
    collection_target,
    early_warning_target,
    out_of_time_split,
    promise_target,
    training_snapshots,
)

D = date(2025, 6, 30)


def _frame(name: str, rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict(SCHEMAS[name]), orient="row")


def _at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def _state(key: int, day: date, dpd: int, overdue: int = 0, balance: int = 0) -> tuple[Any, ...]:
    return (key, day, dpd, bucket_for_dpd(DEFAULT_BUCKETS, dpd), overdue, balance)


def _month_ends(first: date, count: int) -> list[date]:
    """``count`` month ends starting with ``first``'s month."""
    days = []
    year, month = first.year, first.month
    for _ in range(count):
        following = date(year + month // 12, month % 12 + 1, 1)
        days.append(following - timedelta(days=1))
        year, month = following.year, following.month
    return days


def _monthly(first: date, count: int) -> list[date]:
    """``count`` dates a month apart from ``first`` (its day of month is at most 28)."""
    return [
        date(first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1, first.day)
        for n in range(count)
    ]


# --------------------------------------------------------------------------- the hand case
#
# Account 1, a steady payer: one plan of 12 x (1,000.00 + 72.00) from 2024-07-15, paid on
#   every due date; current at every month end.
# Account 2, slipping: one plan of 6 x (500.00 + 30.00) from 2025-01-10. Month ends:
#   Feb 10 DPD, Mar 40, Apr 0, May 0, Jun 20 (and a mid-April state at 90 DPD, which is no
#   month end, and a July state after D). Payments: 3,000.00 on Apr 20; 200.00 on Jun 10
#   (reversed on Jul 3, after D: it counts); 500.00 on May 15 reversed on May 20 (does not);
#   100.00 paid on Jun 29 but posted late, known to the ledger from Jul 2 (not at D).
# Account 3, new and contacted: opened 2025-05-20, no state yet; a plan of 3 x (400 + 10)
#   from then and a plan starting after D; promises and contact attempts below.
# Account 4 opens after D: no row.

PLAN1_DUES = _monthly(date(2024, 8, 15), 12)
PLAN2_DUES = _monthly(date(2025, 2, 10), 6)
PLAN3_DUES = _monthly(date(2025, 6, 20), 3)


def _hand_history() -> History:
    accounts = _frame(
        "accounts",
        [(1, date(2024, 7, 15)), (2, date(2025, 1, 10)), (3, date(2025, 5, 20)),
         (4, date(2025, 7, 10))],
    )  # fmt: skip
    states = [_state(1, day, 0, 0, 1_200_000 - 100_000 * (n + 1))
              for n, day in enumerate(_month_ends(date(2024, 7, 1), 12))]  # fmt: skip
    states += [
        _state(2, date(2025, 1, 31), 0, 0, 300_000),
        _state(2, date(2025, 2, 28), 10, 53_000, 300_000),
        _state(2, date(2025, 3, 31), 40, 106_000, 300_000),
        _state(2, date(2025, 4, 15), 90, 160_000, 300_000),  # not a month end
        _state(2, date(2025, 4, 30), 0, 0, 150_000),
        _state(2, date(2025, 5, 31), 0, 0, 150_000),
        _state(2, date(2025, 6, 30), 20, 53_000, 200_000),
        _state(2, date(2025, 7, 5), 25, 53_000, 200_000),  # after D
    ]
    payments = [(1, 107_200, day, None, day) for day in PLAN1_DUES if day <= D]
    payments += [
        (2, 300_000, date(2025, 4, 20), None, date(2025, 4, 20)),
        (2, 20_000, date(2025, 6, 10), date(2025, 7, 3), date(2025, 6, 10)),
        (2, 50_000, date(2025, 5, 15), date(2025, 5, 20), date(2025, 5, 15)),
        (2, 10_000, date(2025, 6, 29), None, date(2025, 7, 2)),  # taken in by Jul 2's close
    ]
    installments = [(1, 11, date(2024, 7, 15), day, 100_000, 7_200) for day in PLAN1_DUES]
    installments += [(2, 21, date(2025, 1, 10), day, 50_000, 3_000) for day in PLAN2_DUES]
    installments += [(3, 31, date(2025, 5, 20), day, 40_000, 1_000) for day in PLAN3_DUES]
    installments += [(3, 32, date(2025, 7, 5), date(2025, 7, 25), 90_000, 0)]  # after D
    moves = [
        (2, date(2025, 2, 11), "M0", "M1", 1),
        (2, date(2025, 3, 13), "M1", "M2", 31),
        (2, date(2025, 4, 20), "M2", "M0", 0),
        (2, date(2025, 6, 11), "M0", "M1", 1),
        (2, date(2025, 7, 11), "M1", "M2", 31),  # after D
    ]
    promises = [
        (1, 3, date(2025, 6, 5), date(2025, 6, 12), 2, 40_000, "broken", date(2025, 6, 15)),
        # kept after D: open at D
        (2, 3, date(2025, 6, 20), date(2025, 6, 28), 2, 40_000, "kept", date(2025, 7, 2)),
        (3, 3, date(2025, 7, 1), date(2025, 7, 8), 2, 40_000, "open", None),  # after D
    ]
    attempts = [
        (3, _at(date(2025, 5, 31), 23, 59), "call", "self", "right_party_contact"),  # day 31
        (3, _at(date(2025, 6, 1), 9), "call", "self", "no_answer"),
        (3, _at(date(2025, 6, 5), 10), "call", "self", "promise_to_pay"),
        (3, _at(date(2025, 6, 20), 10), "call", "third_party", "third_party_reached"),
        (3, _at(date(2025, 6, 20), 11), "sms", "self", "delivered"),
        (3, _at(date(2025, 6, 30), 23, 30), "call", "self", "right_party_contact"),
        (3, _at(date(2025, 7, 1), 0), "call", "self", "refusal"),  # the next day, UTC
    ]
    return History.of(
        date(2024, 7, 1),
        date(2025, 9, 30),
        accounts=accounts,
        states=_frame("states", states),
        payments=_frame("payments", payments),
        installments=_frame("installments", installments),
        moves=_frame("moves", moves),
        promises=_frame("promises", promises),
        attempts=_frame("attempts", attempts),
    )


EXPECTED: dict[int, dict[str, Any]] = {
    1: {
        "dpd_now": 0,
        "bucket_now": 0,
        "overdue_now": 0,
        "balance_now": 0,  # the 12th month end (2025-06-30): 1,200,000 - 12 x 100,000
        "utilisation": 0.0,
        "dpd_worst_12m": 0,
        "months_delinquent_12m": 0,
        "payment_ratio_3m": 1.0,  # Apr 15, May 15, Jun 15 due and paid
        "days_since_payment": 15,
        "paid_last_30d": 107_200,
        "due_next_30d": 107_200,  # Jul 15
        "months_on_book": 11,
        "plans_started_12m": 1,  # 2024-07-15 is after 2024-06-30
        "promises_made_12m": 0,
        "attempts_30d": 0,
        "rpc_rate_30d": None,
        "days_since_rpc": NEVER_DAYS,
        "moves_worse_12m": 0,
    },
    2: {
        "dpd_now": 20,
        "bucket_now": 1,
        "overdue_now": 53_000,
        "balance_now": 200_000,
        "utilisation": pytest.approx(200_000 / 300_000),
        "dpd_worst_3m": 20,  # Apr 30, May 31, Jun 30 (the Apr 15 state is no month end)
        "dpd_worst_6m": 40,
        "dpd_worst_12m": 40,
        "months_delinquent_12m": 3,
        # 3,000.00 + 200.00 paid over 3 x 530.00 due: 2.01, capped
        "payment_ratio_3m": PAYMENT_RATIO_CAP,
        "days_since_payment": 20,
        "paid_last_30d": 20_000,
        "due_next_30d": 53_000,  # Jul 10
        "months_on_book": 5,
        "moves_worse_12m": 3,
        "moves_better_12m": 1,
    },
    3: {
        "dpd_now": 0,  # no state yet: current, nothing owed
        "balance_now": 0,
        "utilisation": 0.0,  # of 120,000 lent
        "dpd_worst_12m": 0,
        "payment_ratio_3m": 0.0,  # Jun 20 due, nothing paid
        "days_since_payment": NEVER_DAYS,
        "due_next_30d": 41_000,  # Jul 20; Jul 25 belongs to a plan that starts after D
        "months_on_book": 1,
        "plans_started_12m": 1,
        "promises_made_12m": 2,
        "promises_kept_12m": 0,  # kept on Jul 2, after D
        "promises_broken_12m": 1,
        "promises_open_now": 1,
        "attempts_30d": 5,  # Jun 1 .. Jun 30 23:30 UTC
        "rpc_rate_30d": 0.5,  # calls: 4 (one to a third party), with the borrower: 2
        "days_since_rpc": 0,
    },
}


def test_features__worked_hand_case() -> None:
    features = features_as_of(_hand_history(), D)
    assert features.get_column("account_key").to_list() == [1, 2, 3]  # 4 opens after D
    assert features.columns == ["account_key", *FEATURES]
    rows = {row["account_key"]: row for row in features.iter_rows(named=True)}
    for key, expected in EXPECTED.items():
        got = {name: rows[key][name] for name in expected}
        assert got == expected, f"account {key}"


def test_features__a_payment_posted_late_counts_from_the_day_the_ledger_knew_it() -> None:
    history = _hand_history()
    day_after = features_as_of(history, date(2025, 7, 2)).row(1, named=True)
    # Jun 29 (known Jul 2) now counts; the Jun 10 payment is reversed as of Jul 3 only.
    assert day_after["days_since_payment"] == 3
    assert day_after["paid_last_30d"] == 30_000
    reversed_seen = features_as_of(history, date(2025, 7, 3)).row(1, named=True)
    assert reversed_seen["paid_last_30d"] == 10_000


def test_features__accounts_selects_rows_and_keeps_every_feature() -> None:
    history = _hand_history()
    some = features_as_of(history, D, pl.Series([3, 2, 99]))
    assert some.get_column("account_key").to_list() == [2, 3]
    assert_frame_equal(some, features_as_of(history, D).filter(pl.col("account_key") >= 2))


def test_months_before__keeps_the_day_or_the_month_end() -> None:
    assert months_before(date(2025, 6, 30), 3) == date(2025, 3, 31)
    assert months_before(date(2025, 5, 31), 3) == date(2025, 2, 28)
    assert months_before(date(2025, 6, 15), 12) == date(2024, 6, 15)
    assert months_before(date(2025, 3, 30), 1) == date(2025, 2, 28)
    assert months_before(date(2024, 12, 31), -2) == date(2025, 2, 28)


def test_history__refuses_a_frame_missing_a_column_or_of_another_type() -> None:
    with pytest.raises(ValueError, match="states: missing column overdue_cents"):
        History.of(D, D, states=_frame("states", []).drop("overdue_cents"))
    payments = _frame("payments", []).with_columns(pl.col("known_on").cast(pl.Datetime("us")))
    with pytest.raises(ValueError, match=r"payments\.known_on: expected Date"):
        History.of(D, D, payments=payments)


# --------------------------------------------------------------------------- no leakage

FIRST, LAST = date(2024, 1, 1), date(2025, 12, 31)
SPAN = (LAST - FIRST).days


def _day(rng: random.Random, low: date = FIRST, high: date = LAST) -> date:
    return low + timedelta(days=rng.randint(0, (high - low).days))


def _moment(rng: random.Random, low: date = FIRST, high: date = LAST) -> datetime:
    return _at(_day(rng, low, high), rng.randint(0, 23), rng.randint(0, 59))


def _bucket(rng: random.Random) -> str:
    return rng.choice([b.name for b in DEFAULT_BUCKETS])


def _random_rows(name: str, rng: random.Random, keys: list[int], low: date, high: date) -> list:
    """Rows of frame ``name`` dated from ``low`` through ``high`` (the 'date' of each row is
    the one the features read it by)."""
    key = rng.choice
    if name == "accounts":
        return [(k, _day(rng, low, high)) for k in keys]
    if name == "states":
        rows = []
        for _ in range(rng.randint(0, 6)):
            day = _day(rng, low, high)
            if rng.random() < 0.6:  # mostly month ends
                day = _month_ends(day, 1)[0]
                if day > high:
                    continue
            dpd = rng.choice([0, 0, 3, 35, 100, 200])
            rows.append(_state(key(keys), day, dpd, rng.randint(0, 10**6), rng.randint(0, 10**7)))
        return list({(r[0], r[1]): r for r in rows}.values())  # one state per account and day
    if name == "payments":
        rows = []
        for _ in range(rng.randint(0, 8)):
            paid = _day(rng, low, high)
            posted = paid + timedelta(days=rng.choice([0, 0, 0, 1, 4]))
            reversed_on = paid + timedelta(days=rng.randint(1, 9)) if rng.random() < 0.2 else None
            rows.append((key(keys), rng.randint(1, 10**6), paid, reversed_on, posted))
        return rows
    if name == "installments":
        rows = []
        for plan in range(rng.randint(0, 2)):
            start = _day(rng, low, high)
            account = key(keys)
            plan_key = rng.randint(1, 10**9) + plan
            for due in _monthly(start.replace(day=min(start.day, 28)), rng.randint(1, 6)):
                due = max(due, start + timedelta(days=1))
                rows.append(
                    (account, plan_key, start, due, rng.randint(1, 10**6), rng.randint(0, 10**4))
                )
        return rows
    if name == "moves":
        return [
            (key(keys), _day(rng, low, high), _bucket(rng), _bucket(rng), rng.randint(0, 200))
            for _ in range(rng.randint(0, 5))
        ]
    if name == "promises":
        rows = []
        for _ in range(rng.randint(0, 4)):
            made = _day(rng, low, high)
            status = rng.choice(["open", "kept", "partly_kept", "broken"])
            resolved = None if status == "open" else made + timedelta(days=rng.randint(0, 40))
            promised = made + timedelta(days=rng.randint(0, 20))
            rows.append(
                (rng.randint(1, 10**9), key(keys), made, promised, 2, 10_000, status, resolved)
            )
        return rows
    assert name == "attempts"
    return [
        (key(keys), _moment(rng, low, high), rng.choice(["call", "sms"]),
         rng.choice(["self", "third_party"]),
         rng.choice(["no_answer", "right_party_contact", "promise_to_pay", "refusal"]))
        for _ in range(rng.randint(0, 8))
    ]  # fmt: skip


def _random_history(rng: random.Random) -> History:
    keys = list(range(1, 6))
    frames = {name: _frame(name, _random_rows(name, rng, keys, FIRST, LAST)) for name in SCHEMAS}
    return History.of(FIRST, LAST, **frames)


def _after(name: str, day: date) -> pl.Expr:
    """The rows of frame ``name`` that were not yet known at the end of ``day``."""
    end = datetime.combine(day + timedelta(days=1), time(), UTC)
    return {
        "accounts": pl.col("opened_on") > day,
        "states": pl.col("as_of") > day,
        "payments": (pl.col("paid_on") > day) | (pl.col("known_on") > day),
        "installments": pl.col("start_date") > day,
        "moves": pl.col("moved_on") > day,
        "promises": pl.col("made_on") > day,
        "attempts": pl.col("at") >= end,
    }[name]


def _shift_future(history: History, day: date, rng: random.Random) -> History:
    """``history`` with everything learnt after ``day`` changed at random: rows removed, their
    amounts and later dates changed, new rows added (payments known after ``day`` though
    dated before it included), later reversals and promise outcomes rewritten."""
    keys = list(range(1, 8))
    later = day + timedelta(days=1)
    frames: dict[str, pl.DataFrame] = {}
    for name in SCHEMAS:
        frame = getattr(history, name)
        known = frame.filter(~_after(name, day))
        future = frame.filter(_after(name, day)).sample(
            fraction=rng.random(), seed=rng.randint(0, 999)
        )
        added = _frame(name, _random_rows(name, rng, keys, later, LAST + timedelta(days=60)))
        if name == "accounts":
            # An account is one row: the later ones move to other later days, new ones appear.
            future = future.with_columns(
                pl.lit(later + timedelta(days=rng.randint(0, 90))).alias("opened_on")
            )
            added = added.filter(
                ~pl.col("account_key").is_in(frame.get_column("account_key").implode())
            )
        if name == "payments":
            # Dated on or before the day but known after it; and the later reversals moved.
            late_posts = [
                (rng.choice(keys), rng.randint(1, 10**6), _day(rng, FIRST, day), None,
                 _day(rng, later, LAST + timedelta(days=60)))
                for _ in range(rng.randint(0, 3))
            ]  # fmt: skip
            added = pl.concat([added, _frame(name, late_posts)])
            reversal_later = pl.col("reversed_on").is_null() | (pl.col("reversed_on") > day)
            moved = (
                pl.lit(later + timedelta(days=rng.randint(0, 30))) if rng.random() < 0.5 else None
            )
            known = known.with_columns(
                pl.when(reversal_later)
                .then(moved)
                .otherwise(pl.col("reversed_on"))
                .alias("reversed_on")
            )
        if name == "promises":
            unresolved = pl.col("resolved_on").is_null() | (pl.col("resolved_on") > day)
            status = rng.choice(["open", "kept", "partly_kept", "broken"])
            resolved = None if status == "open" else later + timedelta(days=rng.randint(0, 9))
            known = known.with_columns(
                pl.when(unresolved)
                .then(pl.lit(status))
                .otherwise(pl.col("status"))
                .alias("status"),
                pl.when(unresolved)
                .then(pl.lit(resolved, dtype=pl.Date))
                .otherwise(pl.col("resolved_on"))
                .alias("resolved_on"),
            )
        if name in ("payments", "installments", "states", "promises") and future.height:
            money = {"payments": "amount_cents", "installments": "principal_cents",
                     "states": "overdue_cents", "promises": "amount_cents"}[name]  # fmt: skip
            future = future.with_columns(pl.col(money) * rng.randint(2, 9))
        if name == "states":  # one state per account and day, as in the store
            rows = pl.concat([known, future, added]).unique(["account_key", "as_of"], keep="first")
        else:
            rows = pl.concat([known, future, added])
        frames[name] = rows.sample(fraction=1.0, shuffle=True, seed=rng.randint(0, 999))
    return History.of(history.since, history.until, **frames)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), offset=st.integers(0, SPAN))
def test_features__rows_after_d_change_nothing_as_of_d(seed: int, offset: int) -> None:
    rng = random.Random(seed)
    history = _random_history(rng)
    day = FIRST + timedelta(days=offset)
    if rng.random() < 0.3:
        day = _month_ends(day, 1)[0]
    shifted = _shift_future(history, day, rng)
    assert_frame_equal(features_as_of(history, day), features_as_of(shifted, day))


def test_features__the_leakage_check_can_fail() -> None:
    """The same shift applied one day too early changes the features: the property above is
    not true merely because nothing ever changes."""
    changed = 0
    for seed in range(20):
        rng = random.Random(seed)
        history = _random_history(rng)
        day = date(2025, 3, 31)
        shifted = _shift_future(history, day - timedelta(days=40), rng)
        changed += not features_as_of(history, day).equals(features_as_of(shifted, day))
    assert changed >= 10


# --------------------------------------------------------------------------- targets

UNTIL = date(2025, 9, 30)
T = date(2025, 7, 15)  # the next installment of the early-warning accounts


def _target_history(
    states: Sequence[tuple[Any, ...]],
    moves: Sequence[tuple[Any, ...]] = (),
    installments: Sequence[tuple[Any, ...]] = (),
    payments: Sequence[tuple[Any, ...]] = (),
    promises: Sequence[tuple[Any, ...]] = (),
) -> History:
    keys = sorted({row[0] for row in states} | {row[1] for row in promises})
    return History.of(
        date(2024, 1, 1),
        UNTIL,
        accounts=_frame("accounts", [(k, date(2025, 1, 1)) for k in keys]),
        states=_frame("states", list(states)),
        moves=_frame("moves", list(moves)),
        installments=_frame("installments", list(installments)),
        payments=_frame("payments", list(payments)),
        promises=_frame("promises", list(promises)),
    )


def _targets(frame: pl.DataFrame) -> dict[int, int]:
    return dict(frame.select("account_key", "target").iter_rows())


def test_early_warning__late_by_more_than_late_days_is_bad() -> None:
    out, back = "M0", "M1"
    # Account: days late paying the Jul 15 installment. Paid 6 days late, DPD reached 5.
    late = {1: 3, 2: 8, 5: 6, 6: 7}
    moves = []
    for key, days in late.items():
        moves += [
            (key, T + timedelta(days=1), out, back, 1),
            (key, T + timedelta(days=days), back, out, 0),
        ]
    # Account 3 paid Jul 10 on time but missed another plan's Jul 14: DPD counts from Jul 14.
    moves += [(3, date(2025, 7, 15), "M0", "M1", 1)]
    states = [_state(k, D, 0) for k in (1, 2, 3, 5, 6, 7)] + [_state(4, D, 10, 5_000)]
    installments = [(k, k, date(2025, 1, 15), T, 10_000, 100) for k in (1, 2, 4, 5, 6)]
    installments += [(3, 3, date(2025, 1, 10), date(2025, 7, 10), 10_000, 100),
                     (3, 30, date(2025, 1, 14), date(2025, 7, 14), 10_000, 100),
                     (7, 7, date(2025, 1, 15), date(2025, 8, 15), 10_000, 100)]  # fmt: skip
    history = _target_history(states, moves, installments)

    frame = early_warning_target(history, D, late_days=5)
    # 4 is past due at D; 7 has nothing due within 31 days.
    assert _targets(frame) == {1: 0, 2: 1, 3: 0, 5: 0, 6: 1}
    ends = dict(frame.select("account_key", "horizon_end").iter_rows())
    assert ends[1] == date(2025, 7, 21) and ends[3] == date(2025, 7, 16)
    # Paid 3 days late: DPD 1 and 2, cleared on the third day, so not more than 2 days.
    assert _targets(early_warning_target(history, D, late_days=2)) == {1: 0, 2: 1, 3: 0, 5: 1, 6: 1}


def test_early_warning__only_horizons_ended_by_the_last_day() -> None:
    states = [_state(1, date(2025, 8, 31), 0)]
    installments = [(1, 1, date(2025, 1, 1), date(2025, 9, 26), 10_000, 0)]
    history = _target_history(states, installments=installments)
    assert early_warning_target(history, date(2025, 8, 31)).height == 0  # ends Oct 2


def test_collection__cured_on_day_30_is_good_on_day_31_bad() -> None:
    states = [_state(1, D, 20, 50_000), _state(2, D, 20, 50_000), _state(3, D, 0)]
    moves = [(1, date(2025, 7, 30), "M1", "M0", 0), (2, date(2025, 7, 31), "M1", "M0", 0)]
    frame = collection_target(_target_history(states, moves), D)
    assert _targets(frame) == {1: 0, 2: 1}  # 3 is current: not in the population
    assert frame.get_column("horizon_end").unique().to_list() == [date(2025, 7, 30)]


def test_collection__a_state_at_dpd_0_within_the_horizon_is_a_cure() -> None:
    states = [_state(1, D, 40, 100_000), _state(1, date(2025, 7, 15), 0), _state(2, D, 40, 100_000),
              _state(2, date(2025, 7, 31), 0)]  # fmt: skip
    assert _targets(collection_target(_target_history(states), D)) == {1: 0, 2: 1}


def test_collection__a_paid_share_of_the_overdue_amount_counts_when_asked() -> None:
    states = [_state(1, D, 40, 100_000), _state(2, D, 40, 100_000)]
    payments = [
        (1, 30_000, date(2025, 7, 10), None, date(2025, 7, 10)),
        (1, 25_000, date(2025, 7, 20), None, date(2025, 7, 20)),
        (1, 90_000, date(2025, 8, 5), None, date(2025, 8, 5)),  # after the horizon
        (2, 60_000, date(2025, 7, 10), date(2025, 7, 25), date(2025, 7, 10)),  # reversed
        (2, 40_000, D, None, D),  # on D: before the horizon
    ]
    history = _target_history(states, payments=payments)
    assert _targets(collection_target(history, D)) == {1: 1, 2: 1}
    assert _targets(collection_target(history, D, pay_share=0.5)) == {1: 0, 2: 1}
    assert _targets(collection_target(history, D, pay_share=0.55)) == {1: 0, 2: 1}
    assert _targets(collection_target(history, D, pay_share=0.6)) == {1: 1, 2: 1}


def test_collection__nothing_until_the_horizon_has_passed() -> None:
    history = _target_history([_state(1, date(2025, 9, 15), 40, 100_000)])
    assert collection_target(history, date(2025, 9, 15)).height == 0
    assert collection_target(history, date(2025, 9, 15), horizon_days=15).height == 1


def test_promise__kept_or_broken_for_promises_open_at_d() -> None:
    promises = [
        (1, 1, date(2025, 6, 10), date(2025, 6, 20), 2, 1_000, "kept", date(2025, 6, 18)),  # known
        (2, 1, date(2025, 6, 25), date(2025, 7, 5), 2, 1_000, "kept", date(2025, 7, 3)),
        (3, 2, date(2025, 6, 28), date(2025, 7, 10), 3, 1_000, "broken", date(2025, 7, 14)),
        (4, 2, date(2025, 6, 15), date(2025, 6, 30), 0, 1_000, "partly_kept", date(2025, 7, 1)),
        (5, 3, date(2025, 5, 20), date(2025, 7, 1), 2, 1_000, "broken", date(2025, 7, 4)),  # May
        (6, 3, date(2025, 6, 29), date(2025, 9, 29), 3, 1_000, "open", None),  # ends Oct 3
        (7, 3, date(2025, 6, 20), date(2025, 7, 1), 2, 1_000, "open", None),  # never judged
    ]
    history = _target_history([_state(k, D, 10) for k in (1, 2, 3)], promises=promises)
    frame = promise_target(history, D)
    assert frame.select("promise_key", "target", "horizon_end").rows() == [
        (2, 0, date(2025, 7, 8)),
        (3, 1, date(2025, 7, 14)),
        (4, 1, date(2025, 7, 1)),
    ]


# --------------------------------------------------------------------------- snapshots


def test_training_snapshots__complete_month_ends_with_a_full_year_before() -> None:
    history = _target_history([_state(1, D, 0)])
    assert training_snapshots(history, UNTIL, 3, TargetKind.COLLECTION) == [
        date(2025, 6, 30), date(2025, 7, 31), date(2025, 8, 31),
    ]  # fmt: skip
    assert training_snapshots(history, UNTIL, 2, "early_warning") == [
        date(2025, 6, 30), date(2025, 7, 31),  # Aug 31 + 37 days is after Sep 30
    ]  # fmt: skip
    assert training_snapshots(history, date(2025, 8, 1), 100, TargetKind.COLLECTION)[0] == date(
        2024, 12, 31
    )  # the first month end with 12 months of history (since 2024-01-01) behind it
    assert training_snapshots(history, date(2025, 8, 1), 100, TargetKind.COLLECTION)[-1] == date(
        2025, 6, 30
    )


def test_training_snapshots__promise_months_wait_for_their_longest_promise() -> None:
    promises = [(6, 1, date(2025, 6, 29), date(2025, 9, 29), 3, 1_000, "open", None)]
    history = _target_history([_state(1, D, 10)], promises=promises)
    # June's promise is decided on Oct 3, after the last day; the other months have none open.
    assert training_snapshots(history, UNTIL, 4, TargetKind.PROMISE) == [
        date(2025, 5, 31), date(2025, 7, 31), date(2025, 8, 31), date(2025, 9, 30),
    ]  # fmt: skip


def test_out_of_time_split__oldest_train_next_validate_latest_test() -> None:
    days = _month_ends(date(2024, 1, 1), 10)
    shuffled = random.Random(3).sample(days, len(days))
    train, validation, test = out_of_time_split(shuffled)
    assert (train, validation, test) == (days[:6], days[6:8], days[8:])
    train, validation, test = out_of_time_split(days, gap=1)
    assert (train, validation, test) == (days[:4], days[5:7], days[8:])
    assert max(train) < min(validation) and max(validation) < min(test)
    with pytest.raises(ValueError, match="at least 3"):
        out_of_time_split(days[:2])

"""Champion/challenger: which arm an account is in, and what each arm achieved.

**Assignment.** An account's arm is decided by a stable hash of the test id and the account
id: BLAKE2b (8 bytes, big-endian) modulo 10,000 gives a slot 0..9999, and the arms take the
slots in the order the file lists them, each as many as its share in basis points (80% is
slots 0..7999). The same account is in the same arm every day, on every machine and in every
version of Recoup; two tests hash independently, because the test id is part of the key.
Python's ``hash()`` (salted per process) and Polars' hash (free to change between releases)
are not stable enough for that.

**Results.** Per arm: cases, cure rate with a 95% Wilson score interval, amount recovered
(total, and mean per case with a normal-approximation interval), cost of actions, contacts,
complaints, and complaints per 1,000 cases with a score interval of a Poisson rate. Each
challenger is compared with the champion (the first arm): the difference of cure rates with
Newcombe's hybrid score interval (Newcombe 1998, method 10, built from the two Wilson
intervals), the difference of mean recovery with a Welch normal interval, and the difference
of complaints per 1,000 cases with the same construction on the two Poisson score intervals
(the method of variance estimates recovery, Zou & Donner 2008; Li, Tang & Wong 2011).
Amounts stay whole cents; means and interval ends are rounded half up to the cent.

Complaints are counted per case, not per contact: the case is what the hash randomises, so
per case the arms compare like with like, whereas a challenger that contacts more would
change the denominator of a per-contact rate. A borrower who complains twice counts twice,
which the Poisson model takes as two independent events: with complaints this rare, repeats
by one borrower are few, but where they are not the interval is somewhat too narrow. The
rate's denominator is the cases whose complaint count is known (``complaints_known_cases``);
an arm none of whose cases has a known count has no complaint figures, and neither has its
comparison.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist

import polars as pl

from recoup.money import round_to_cents
from recoup.strategy.spec import SHARE_SCALE, Arm, ChallengerTest

#: Two-sided 95%: the 0.975 quantile of the standard normal distribution.
Z_95 = NormalDist().inv_cdf(0.975)

OUTCOME_COLUMNS: dict[str, pl.DataType] = {
    "arm": pl.String(),
    "cured": pl.Boolean(),
    "recovered_cents": pl.Int64(),
    "action_cost_cents": pl.Int64(),
    "contacts": pl.Int64(),
}
#: Optional; null means "not known" for that case.
COMPLAINTS_COLUMN = "complaints"


def arm_slot(account_id: str, test_id: str) -> int:
    """The account's slot 0..9999 in a test (stable across runs, machines and versions)."""
    key = f"{test_id}\x1f{account_id}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") % SHARE_SCALE


def arm_for_slot(slot: int, test: ChallengerTest) -> Arm:
    upper = 0
    for arm in test.arms:
        upper += arm.share_bp
        if slot < upper:
            return arm
    raise ValueError(f"slot {slot} is outside 0..{SHARE_SCALE - 1}")


def assign_arm(account_id: str, test: ChallengerTest) -> Arm:
    """The arm of one account (the single-account path of :func:`assign_arms`)."""
    return arm_for_slot(arm_slot(account_id, test.id), test)


def arm_slots(account_ids: pl.Series, test_id: str) -> pl.Series:
    """:func:`arm_slot` of each id, as an Int64 series named ``slot``.

    The one per-account Python step of the daily run (about a microsecond an account):
    hashlib has no vectorised form, and a stable assignment is worth it.
    """
    return pl.Series(
        "slot", [arm_slot(account_id, test_id) for account_id in account_ids], pl.Int64
    )


def arm_expression(slot: pl.Expr, test: ChallengerTest) -> pl.Expr:
    """The arm name of each slot, vectorised (the arms take the slots in file order)."""
    uppers: list[int] = []
    for arm in test.arms:
        uppers.append((uppers[-1] if uppers else 0) + arm.share_bp)
    # Built from the last arm back, so the lowest slots go to the first arm.
    chosen: pl.Expr = pl.lit(None, pl.String)
    for arm, upper in reversed(list(zip(test.arms, uppers, strict=True))):
        chosen = pl.when(slot < upper).then(pl.lit(arm.name)).otherwise(chosen)
    return chosen


def assign_arms(account_ids: pl.Series, test: ChallengerTest) -> pl.Series:
    """The arm name of each account id, in the order given."""
    slots = arm_slots(account_ids, test.id).to_frame()
    return slots.select(arm_expression(pl.col("slot"), test).alias("arm")).to_series()


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True, slots=True)
class CentsInterval:
    low_cents: int
    high_cents: int


@dataclass(frozen=True, slots=True)
class ArmResult:
    """What one arm achieved. Rates and intervals are None for an arm with no cases."""

    arm: str
    cases: int
    cured: int
    cure_rate: float | None
    cure_interval: Interval | None
    recovered_cents: int
    recovered_mean_cents: int | None
    recovered_mean_interval: CentsInterval | None
    cost_cents: int
    cost_per_case_cents: int | None
    contacts: int
    #: None when no case of the arm has a known complaint count.
    complaints: int | None
    #: The cases whose complaint count is known: the denominator of the complaint rate.
    complaints_known_cases: int
    #: Complaints per 1,000 of those cases, and its score interval (None with ``complaints``).
    complaints_per_1000_cases: float | None
    complaints_interval: Interval | None


@dataclass(frozen=True, slots=True)
class ArmComparison:
    """A challenger against the champion: challenger minus champion."""

    arm: str
    champion: str
    cure_rate_difference: float | None
    cure_rate_interval: Interval | None
    recovered_mean_difference_cents: int | None
    recovered_mean_difference_interval: CentsInterval | None
    #: Complaints per 1,000 cases, challenger minus champion; None unless both arms have
    #: cases with a known complaint count.
    complaints_difference_per_1000: float | None
    complaints_difference_interval: Interval | None

    @property
    def cure_rate_significant(self) -> bool:
        """Whether the interval of the cure-rate difference excludes zero."""
        return self.cure_rate_interval is not None and self.cure_rate_interval.excludes_zero()

    @property
    def complaints_significant(self) -> bool:
        """Whether the interval of the difference of complaint rates excludes zero."""
        interval = self.complaints_difference_interval
        return interval is not None and interval.excludes_zero()


@dataclass(frozen=True, slots=True)
class ChallengerResults:
    test_id: str
    confidence: float
    arms: tuple[ArmResult, ...]
    comparisons: tuple[ArmComparison, ...]


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """The Wilson score interval of a proportion (Wilson 1927)."""
    if trials <= 0:
        raise ValueError("the Wilson interval needs at least one trial")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be 0..{trials}, got {successes}")
    z = _z(confidence)
    p = successes / trials
    z2n = z * z / trials
    denominator = 1 + z2n
    centre = (p + z2n / 2) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / denominator
    # At 0 or n successes an end is exactly 0 or 1; the formula leaves rounding dust.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(low, high)


def difference_interval(
    champion: tuple[int, int], challenger: tuple[int, int], confidence: float = 0.95
) -> Interval:
    """Newcombe's hybrid score interval of ``p_challenger - p_champion``; each argument is
    ``(successes, trials)``."""
    p1 = champion[0] / champion[1]
    p2 = challenger[0] / challenger[1]
    w1 = wilson_interval(*champion, confidence)
    w2 = wilson_interval(*challenger, confidence)
    interval = _mover(p1, w1, p2, w2)
    return Interval(max(-1.0, interval.low), min(1.0, interval.high))


def poisson_interval(events: int, exposure: int, confidence: float = 0.95) -> Interval:
    """The score interval of a Poisson rate (events per unit of exposure): the rates ``r``
    with ``(events - r * exposure) ** 2 <= z ** 2 * r * exposure``, the Poisson counterpart
    of the Wilson interval. Its low end is exactly 0 when there are no events."""
    if exposure <= 0:
        raise ValueError("a Poisson rate needs a positive exposure")
    if events < 0:
        raise ValueError(f"events must not be negative, got {events}")
    z = _z(confidence)
    centre = events + z * z / 2
    half = z * math.sqrt(events + z * z / 4)
    low = 0.0 if events == 0 else max(0.0, (centre - half) / exposure)
    return Interval(low, (centre + half) / exposure)


def rate_difference_interval(
    champion: tuple[int, int], challenger: tuple[int, int], confidence: float = 0.95
) -> Interval:
    """The interval of ``rate_challenger - rate_champion`` built from the two
    :func:`poisson_interval` as :func:`difference_interval` builds it from two Wilson
    intervals; each argument is ``(events, exposure)``."""
    r1 = champion[0] / champion[1]
    r2 = challenger[0] / challenger[1]
    return _mover(
        r1, poisson_interval(*champion, confidence), r2, poisson_interval(*challenger, confidence)
    )


def _mover(
    estimate1: float, interval1: Interval, estimate2: float, interval2: Interval
) -> Interval:
    """The interval of ``estimate2 - estimate1`` recovered from each estimate's own interval
    (Zou & Donner 2008; with Wilson intervals it is Newcombe's method 10)."""
    difference = estimate2 - estimate1
    low = difference - math.sqrt(
        (estimate2 - interval2.low) ** 2 + (interval1.high - estimate1) ** 2
    )
    high = difference + math.sqrt(
        (interval2.high - estimate2) ** 2 + (estimate1 - interval1.low) ** 2
    )
    return Interval(low, high)


def compare_arms(
    outcomes: pl.DataFrame, test: ChallengerTest, confidence: float = 0.95
) -> ChallengerResults:
    """Per-arm results of ``test`` and each challenger against the champion.

    ``outcomes`` has one row per case of the test: ``arm`` String, ``cured`` Boolean,
    ``recovered_cents``, ``action_cost_cents``, ``contacts`` Int64, and optionally
    ``complaints`` Int64 (null, or no such column: unknown; 0 means none were received).
    Arms with no rows are reported with zero cases.
    """
    missing = [name for name in OUTCOME_COLUMNS if name not in outcomes.columns]
    if missing:
        raise ValueError(f"outcomes lack column(s) {', '.join(missing)}")
    names = [arm.name for arm in test.arms]
    unknown = sorted(set(outcomes["arm"].unique().drop_nulls().to_list()) - set(names))
    if unknown or outcomes["arm"].null_count():
        shown = ", ".join(map(repr, unknown)) or "null"
        raise ValueError(f"outcomes name arm(s) {shown} that test {test.id!r} does not have")
    if COMPLAINTS_COLUMN not in outcomes.columns:
        outcomes = outcomes.with_columns(pl.lit(None, pl.Int64).alias(COMPLAINTS_COLUMN))
    complaints = pl.col(COMPLAINTS_COLUMN)
    totals = outcomes.group_by("arm").agg(
        cases=pl.len(),
        cured=pl.col("cured").cast(pl.Int64).sum(),
        recovered=pl.col("recovered_cents").sum(),
        recovered_std=pl.col("recovered_cents").cast(pl.Float64).std(ddof=1),
        cost=pl.col("action_cost_cents").sum(),
        contacts=pl.col("contacts").sum(),
        complaints=complaints.sum(),
        complaints_known=complaints.count(),
    )
    by_arm = {row["arm"]: row for row in totals.iter_rows(named=True)}
    results = tuple(_arm_result(name, by_arm.get(name), confidence) for name in names)
    stds = {name: (by_arm[name]["recovered_std"] if name in by_arm else None) for name in names}
    champion = results[0]
    comparisons = tuple(
        _compare(champion, result, stds[champion.arm], stds[result.arm], confidence)
        for result in results[1:]
    )
    return ChallengerResults(test.id, confidence, results, comparisons)


def _arm_result(name: str, row: dict[str, object] | None, confidence: float) -> ArmResult:
    if row is None:
        return ArmResult(name, 0, 0, None, None, 0, None, None, 0, None, 0, None, 0, None, None)
    cases = _int(row["cases"])
    cured = _int(row["cured"])
    recovered = _int(row["recovered"])
    cost = _int(row["cost"])
    std = row["recovered_std"]
    known = _int(row["complaints_known"])
    complaints = _int(row["complaints"]) if known else None
    rate_interval = None if complaints is None else poisson_interval(complaints, known, confidence)
    mean_interval: CentsInterval | None = None
    if isinstance(std, float) and cases >= 2:
        half = _z(confidence) * std / math.sqrt(cases)
        mean = Decimal(recovered) / cases
        mean_interval = CentsInterval(
            round_to_cents(mean - Decimal(half)), round_to_cents(mean + Decimal(half))
        )
    return ArmResult(
        arm=name,
        cases=cases,
        cured=cured,
        cure_rate=cured / cases,
        cure_interval=wilson_interval(cured, cases, confidence),
        recovered_cents=recovered,
        recovered_mean_cents=round_to_cents(Decimal(recovered) / cases),
        recovered_mean_interval=mean_interval,
        cost_cents=cost,
        cost_per_case_cents=round_to_cents(Decimal(cost) / cases),
        contacts=_int(row["contacts"]),
        complaints=complaints,
        complaints_known_cases=known,
        complaints_per_1000_cases=None if complaints is None else 1000 * complaints / known,
        complaints_interval=None if rate_interval is None else _per_1000(rate_interval),
    )


def _compare(
    champion: ArmResult,
    challenger: ArmResult,
    champion_std: object,
    challenger_std: object,
    confidence: float,
) -> ArmComparison:
    if champion.cases == 0 or challenger.cases == 0:
        return ArmComparison(challenger.arm, champion.arm, None, None, None, None, None, None)
    assert champion.cure_rate is not None and challenger.cure_rate is not None
    interval = difference_interval(
        (champion.cured, champion.cases), (challenger.cured, challenger.cases), confidence
    )
    mean_difference = (
        Decimal(challenger.recovered_cents) / challenger.cases
        - Decimal(champion.recovered_cents) / champion.cases
    )
    mean_interval: CentsInterval | None = None
    if isinstance(champion_std, float) and isinstance(challenger_std, float):
        half = _z(confidence) * math.sqrt(
            champion_std**2 / champion.cases + challenger_std**2 / challenger.cases
        )
        mean_interval = CentsInterval(
            round_to_cents(mean_difference - Decimal(half)),
            round_to_cents(mean_difference + Decimal(half)),
        )
    complaints_difference: float | None = None
    complaints_interval: Interval | None = None
    if champion.complaints is not None and challenger.complaints is not None:
        complaints_difference = 1000 * (
            challenger.complaints / challenger.complaints_known_cases
            - champion.complaints / champion.complaints_known_cases
        )
        complaints_interval = _per_1000(
            rate_difference_interval(
                (champion.complaints, champion.complaints_known_cases),
                (challenger.complaints, challenger.complaints_known_cases),
                confidence,
            )
        )
    return ArmComparison(
        arm=challenger.arm,
        champion=champion.arm,
        cure_rate_difference=challenger.cure_rate - champion.cure_rate,
        cure_rate_interval=interval,
        recovered_mean_difference_cents=round_to_cents(mean_difference),
        recovered_mean_difference_interval=mean_interval,
        complaints_difference_per_1000=complaints_difference,
        complaints_difference_interval=complaints_interval,
    )


def _per_1000(interval: Interval) -> Interval:
    return Interval(1000 * interval.low, 1000 * interval.high)


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return Z_95 if confidence == 0.95 else NormalDist().inv_cdf((1 + confidence) / 2)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {value!r}")
    return value

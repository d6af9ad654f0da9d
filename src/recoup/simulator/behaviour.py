"""How simulated borrowers pay: hidden traits and a monthly arrears state machine.

**Traits.** Each borrower belongs to a segment and has two hidden traits in (0, 1), drawn from
the segment's beta distributions: *ability* (can they pay) and *willingness* (will they).

==========  =====  ===========  ===============  =======================================
segment     share  ability      willingness      story
==========  =====  ===========  ===============  =======================================
prime       45%    high         high             pays on time, rarely misses
standard    30%    fair         good             misses now and then, usually cures
stretched   12%    low          good             wants to pay, often can pay only part
reluctant    8%    good         low              can pay, waits for collection
distressed   5%    low          low              misses, rolls, often to write-off
==========  =====  ===========  ===============  =======================================

**Cycles.** An account is simulated cycle by cycle: cycle ``t`` runs from its ``t``-th anchor
(the due dates of its first plan, continued past the term) to the day before the next. The
cycle's *dues* are the installments (principal + fee, in cents) falling due in it, from the
ledger's schedule rules.

**State.** At the end of each cycle the account is ``m`` months in arrears: ``m = t - o + 1``
where ``o`` is the oldest cycle whose dues are still unpaid beyond the tolerance, or 0 when
nothing due is unpaid. ``min(m, 7)`` is the bucket: 0 is M0, 1 is M1 (1-30 DPD at the cycle
end), ..., 7 is M7+. The recorded trace is this realised state, computed from the cents paid,
not the intended move. It counts billing cycles, while the ledger's buckets are 30-day DPD
windows: ``m`` months in arrears is about ``30.4 m - 1`` DPD at the cycle end, so from M3 on
the ledger's bucket on that very day can be one higher.

**Moves.** In each cycle a borrower in state ``m`` makes one of these moves, with
probabilities from the traits (logistic in ability and willingness):

- from M0: *pay* the bill (mostly on or a few days before the due date, some within the grace
  period, a few weeks late with an estimate of the late fee and penalty; now and then
  rounded up to the next 100 yuan, an overpayment kept as credit), or *miss* (pay nothing, or
  a part that leaves more than twice the tolerance unpaid): M0 to M1;
- from M1 to M6: *cure* (pay all arrears and this cycle's dues plus an estimate of the late
  fees and penalty, and 20% more): back to M0; *stay* (pay the oldest unpaid cycle's dues
  plus this cycle's charges, so the oldest unpaid moves on by one cycle): same bucket; or
  *roll* (nothing, or a part short of the oldest dues by more than twice the tolerance):
  one bucket worse;
- from M7+: almost all pay nothing (write-off candidates); a few settle or pay one month.

Charges are estimated from the account's first product (a late fee for each installment past
its grace, penalty interest on the overdue dues up to the payment day); the ledger computes
the real ones.
The extra on top of the dues goes to charges in the ledger, so the state machine counts only
the principal-and-fee part of a payment toward the dues; the estimate is generous, because an
overpayment only leaves a credit while an underpayment would leave charges that the next
payment pays first, keeping the account a little behind. About 3% of payments are split into
two payments a few days apart (the second on the day the whole would have been paid).
Payments dated after ``as_of`` are dropped, and the last, unfinished cycle is left out of the
trace.

The move probabilities are tuned so that the monthly roll rates of the trace fall in the usual
ranges (``/work/shared/reference/domain.md``): M0 to M1 2-4%, M1 to M2 20-40%, M2 to M3 50-70%,
later buckets 70-90%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recoup.money import PPM, rate_ppm
from recoup.products.spec import Product
from recoup.simulator.plans import MAX_CYCLES

WORST_STATE = 7  # M7+


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    share: float
    ability: tuple[float, float]  # beta distribution (a, b)
    willingness: tuple[float, float]


SEGMENTS: tuple[Segment, ...] = (
    Segment("prime", 0.45, (8.0, 2.0), (9.0, 1.5)),
    Segment("standard", 0.30, (5.0, 3.0), (6.0, 2.0)),
    Segment("stretched", 0.12, (2.0, 4.0), (6.0, 2.0)),
    Segment("reluctant", 0.08, (5.0, 2.0), (2.0, 4.0)),
    Segment("distressed", 0.05, (1.5, 5.0), (2.0, 4.0)),
)


@dataclass(frozen=True, slots=True)
class Traits:
    segment: np.ndarray  # int64 index into SEGMENTS
    ability: np.ndarray  # float64 in (0, 1)
    willingness: np.ndarray  # float64 in (0, 1)


def draw_traits(rng: np.random.Generator, count: int) -> Traits:
    """Each borrower's segment, ability and willingness."""
    shares = np.asarray([s.share for s in SEGMENTS])
    segment = rng.choice(len(SEGMENTS), count, p=shares / shares.sum()).astype(np.int64)
    ability = np.empty(count)
    willingness = np.empty(count)
    for index, spec in enumerate(SEGMENTS):
        chosen = segment == index
        size = int(chosen.sum())
        ability[chosen] = rng.beta(*spec.ability, size)
        willingness[chosen] = rng.beta(*spec.willingness, size)
    return Traits(segment=segment, ability=ability, willingness=willingness)


# ---------------------------------------------------------------------------- move odds

#: Logit of missing a bill from M0 for an average borrower, and the traits' weights.
MISS_BASE = -2.9
MISS_ABILITY = 3.2
MISS_WILLINGNESS = 2.6
#: Logit of rolling from M1, M2, M3.. M6 for an average borrower, and the traits' weights.
ROLL_BASE = (-1.25, -0.4, 0.3, 0.25, 0.15, 0.1)
ROLL_ABILITY = 1.6
ROLL_WILLINGNESS = 2.2
#: Logit of curing (rather than staying) for a borrower who does not roll.
CURE_BASE = (1.0, 0.3, -0.3, -0.6, -0.9, -1.2)
CURE_ABILITY = 2.5
#: From M7+: the chance of settling in full and of paying one month.
WRITE_OFF_CURE = 0.01
WRITE_OFF_STAY = 0.03
#: When a borrower in M0 pays: on or before the due date, within grace, or the rest weeks late.
ON_TIME_SHARE = 0.88
IN_GRACE_SHARE = 0.09
#: On-time payers pay on the due date, or else up to EARLY_DAYS_MAX days before it.
ON_DUE_DATE_SHARE = 0.4
EARLY_DAYS_MAX = 5
#: The daily chance that a borrower in arrears who will pay this cycle pays that day.
RESPONSE_DAILY_CHANCE = 0.15
#: M0 payers who round the payment up to the next 100 yuan; payments split in two parts.
OVERPAY_SHARE = 0.015
SPLIT_SHARE = 0.03


def _sigmoid(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return result


def miss_probability(ability: np.ndarray, willingness: np.ndarray) -> np.ndarray:
    """The chance that a borrower in M0 misses this cycle's bill."""
    return _sigmoid(
        MISS_BASE + MISS_ABILITY * (0.5 - ability) * 2 + MISS_WILLINGNESS * (0.5 - willingness) * 2
    )


def arrears_move_probabilities(
    state: np.ndarray, ability: np.ndarray, willingness: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For borrowers in M1..M6 (``state`` 1..6): the chances of rolling and of curing."""
    roll_base = np.asarray(ROLL_BASE)[state - 1]
    cure_base = np.asarray(CURE_BASE)[state - 1]
    roll = _sigmoid(
        roll_base + ROLL_ABILITY * (0.5 - ability) * 2 + ROLL_WILLINGNESS * (0.5 - willingness) * 2
    )
    cure = (1.0 - roll) * _sigmoid(cure_base + CURE_ABILITY * (ability - 0.5) * 2)
    return roll, cure


# ------------------------------------------------------------------------ the simulation


@dataclass(frozen=True, slots=True)
class AccountTerms:
    """Per-account figures the state machine needs (from the account's plans and products)."""

    tolerance_cents: np.ndarray  # smallest tolerance among the account's products
    grace_days: np.ndarray  # of the first plan's product
    late_fee_ppm: np.ndarray
    late_fee_min_cents: np.ndarray
    late_fee_max_cents: np.ndarray
    penalty_ppm: np.ndarray


def account_terms(
    products: list[Product], first_product: np.ndarray, tolerance_cents: np.ndarray
) -> AccountTerms:
    def per_account(values: list[int]) -> np.ndarray:
        column: np.ndarray = np.asarray(values, dtype=np.int64)[first_product]
        return column

    return AccountTerms(
        tolerance_cents=tolerance_cents,
        grace_days=per_account([p.grace_days for p in products]),
        late_fee_ppm=per_account([rate_ppm(p.late_fee.rate) for p in products]),
        late_fee_min_cents=per_account([p.late_fee.min_cents for p in products]),
        late_fee_max_cents=per_account([p.late_fee.max_cents for p in products]),
        penalty_ppm=per_account([rate_ppm(p.penalty_daily_rate) for p in products]),
    )


@dataclass(frozen=True, slots=True)
class PaymentRows:
    account: np.ndarray  # int64
    day: np.ndarray  # int64 day number
    amount_cents: np.ndarray  # int64, > 0


@dataclass(frozen=True, slots=True)
class ArrearsTrace:
    """The state machine's realised states: one row per account and finished cycle."""

    account: np.ndarray  # int64
    cycle: np.ndarray  # int64
    cycle_start: np.ndarray  # int64 day number (the cycle's anchor)
    from_state: np.ndarray  # int8, bucket index at the end of the previous cycle
    to_state: np.ndarray  # int8, bucket index at the end of this cycle


def _rate(cents: np.ndarray, ppm: np.ndarray) -> np.ndarray:
    """``cents x rate`` rounded half up to whole cents, exactly (the ledger's rounding)."""
    result: np.ndarray = (cents * ppm + PPM // 2) // PPM
    return result


def _late_fee(terms: AccountTerms, rows: np.ndarray, overdue_cents: np.ndarray) -> np.ndarray:
    """The late fee of accounts ``rows`` on ``overdue_cents``: rate x amount, clamped."""
    fee: np.ndarray = np.clip(
        _rate(overdue_cents, terms.late_fee_ppm[rows]),
        terms.late_fee_min_cents[rows],
        terms.late_fee_max_cents[rows],
    )
    return fee


def _round_up_to_yuan(cents: np.ndarray) -> np.ndarray:
    result: np.ndarray = -(-cents // 100) * 100
    return result


def _realised_months(
    cumulative_due: np.ndarray, paid: np.ndarray, tolerance: np.ndarray, cycle: int
) -> np.ndarray:
    """Months in arrears at the end of ``cycle``: ``cycle - oldest unpaid cycle + 1``, or 0."""
    unpaid = cumulative_due[:, : cycle + 1] > (paid + tolerance)[:, None]
    oldest = unpaid.argmax(axis=1)
    months: np.ndarray = np.where(unpaid.any(axis=1), cycle - oldest + 1, 0)
    return months


# Moves, as small integer codes.
_PAY, _MISS, _CURE, _STAY = 0, 1, 2, 3


def choose_moves(
    draw: np.ndarray, state: np.ndarray, ability: np.ndarray, willingness: np.ndarray
) -> np.ndarray:
    """Each borrower's move this cycle, from a uniform ``draw`` and the bucket ``state``.

    M0: pay or miss; M1..M6: roll (as a miss), cure or stay; M7+: mostly miss.
    """
    move = np.full(len(draw), _PAY, dtype=np.int64)
    current = state == 0
    move[current & (draw < miss_probability(ability, willingness))] = _MISS
    arrears = (state >= 1) & (state < WORST_STATE)
    roll, cure = arrears_move_probabilities(np.where(arrears, state, 1), ability, willingness)
    arrears_move = np.where(draw < roll, _MISS, np.where(draw < roll + cure, _CURE, _STAY))
    move[arrears] = arrears_move[arrears]
    written_off = state >= WORST_STATE
    written_off_move = np.where(
        draw < WRITE_OFF_CURE,
        _CURE,
        np.where(draw < WRITE_OFF_CURE + WRITE_OFF_STAY, _STAY, _MISS),
    )
    move[written_off] = written_off_move[written_off]
    return move


def simulate_payments(
    rng: np.random.Generator,
    traits: Traits,
    terms: AccountTerms,
    dues: np.ndarray,
    anchors: np.ndarray,
    as_of_day: int,
) -> tuple[PaymentRows, ArrearsTrace]:
    """Run the state machine over every account's cycles up to ``as_of``.

    ``dues`` and ``anchors`` are accounts x MAX_CYCLES (cents due in each cycle, and each
    cycle's first day); ``traits`` are per account (one borrower per account).
    """
    accounts = len(dues)
    cumulative_due = np.cumsum(dues, axis=1)
    tolerance = terms.tolerance_cents
    margin = 2 * tolerance
    paid = np.zeros(accounts, dtype=np.int64)  # cents paid toward principal and fee
    months = np.zeros(accounts, dtype=np.int64)  # months in arrears, uncapped
    pay_account: list[np.ndarray] = []
    pay_day: list[np.ndarray] = []
    pay_amount: list[np.ndarray] = []
    trace: dict[str, list[np.ndarray]] = {k: [] for k in ArrearsTrace.__slots__}
    index = np.arange(accounts, dtype=np.int64)

    for cycle in range(MAX_CYCLES - 1):
        anchor = anchors[:, cycle]
        cycle_end = anchors[:, cycle + 1] - 1
        owed = cumulative_due[:, cycle] - paid
        live = (anchor <= as_of_day) & ((dues[:, cycle] > 0) | (owed > tolerance))
        if not live.any():
            if (anchor > as_of_day).all():
                break
            continue
        a = index[live]
        m = months[a]
        state = np.minimum(m, WORST_STATE)
        ability, willingness = traits.ability[a], traits.willingness[a]
        move = choose_moves(rng.random(len(a)), state, ability, willingness)

        # The oldest cycle with unpaid dues, and what clearing it or everything would take.
        owed_a = owed[a]
        oldest_owed = np.maximum(cumulative_due[a, cycle - m] - paid[a], 0)
        past_due = np.maximum(cumulative_due[a, max(cycle - 1, 0)] - paid[a], 0) * (cycle > 0)
        late_fee = _late_fee(terms, a, np.maximum(oldest_owed, dues[a, cycle]))

        timing = rng.random(len(a))
        partial_draw = rng.random(len(a))
        overpay_draw = rng.random(len(a))
        split_draw = rng.random(len(a))
        early_days = rng.integers(0, EARLY_DAYS_MAX + 1, len(a)) * (
            rng.random(len(a)) >= ON_DUE_DATE_SHARE
        )
        grace_days = rng.integers(1, np.maximum(terms.grace_days[a], 1) + 1)
        late_days = rng.integers(8, 22, len(a))
        cycle_days = rng.integers(0, 26, len(a))
        # Borrowers in arrears who pay mostly do so soon after the bill or the first call.
        response_days = np.minimum(rng.geometric(RESPONSE_DAILY_CHANCE, len(a)) - 1, 25)
        percent = rng.integers(20, 71, len(a))
        split_days = rng.integers(1, 6, len(a))

        principal_part = np.zeros(len(a), dtype=np.int64)
        charges = np.zeros(len(a), dtype=np.int64)
        offset = np.zeros(len(a), dtype=np.int64)

        # M0, paying the bill: on or a few days before the due date, within the grace period,
        # or weeks late with the late fee and penalty (ON_TIME_SHARE, IN_GRACE_SHARE, rest).
        pay = move == _PAY
        before = pay & (timing < ON_TIME_SHARE)
        in_grace = pay & (timing >= ON_TIME_SHARE) & (timing < ON_TIME_SHARE + IN_GRACE_SHARE)
        weeks_late = pay & (timing >= ON_TIME_SHARE + IN_GRACE_SHARE)
        principal_part[pay] = np.maximum(owed_a[pay], 0)
        offset[before] = -early_days[before]
        offset[in_grace] = grace_days[in_grace]
        offset[weeks_late] = late_days[weeks_late]
        charges[weeks_late] = (late_fee + late_days * _rate(dues[a, cycle], terms.penalty_ppm[a]))[
            weeks_late
        ]

        # In arrears: cure pays everything, stay the oldest cycle's dues; both with charges:
        # a late fee for each installment past its grace (this cycle's too when paying after
        # its grace) and the penalty on the overdue dues up to the payment day.
        cure_move = move == _CURE
        stay = move == _STAY
        offset[cure_move | stay] = response_days[cure_move | stay]
        after_grace = offset > terms.grace_days[a]
        daily_penalty = _rate(past_due, terms.penalty_ppm[a])
        principal_part[cure_move] = np.maximum(owed_a[cure_move], 0)
        charges[cure_move] = (
            (m + after_grace) * late_fee + (31 * (m + 1) // 2 + offset) * daily_penalty
        )[cure_move]
        principal_part[stay] = oldest_owed[stay]
        charges[stay] = ((1 + after_grace) * late_fee + (31 + offset) * daily_penalty)[stay]

        # Miss or roll: nothing, or a part leaving more than twice the tolerance unpaid; the
        # more willing the borrower, the likelier a part.
        miss = move == _MISS
        room = np.maximum(oldest_owed - margin[a], 0)
        partial = miss & (partial_draw < willingness)
        principal_part[partial] = (room * percent // 100 // 100 * 100)[partial]
        offset[miss] = cycle_days[miss]

        # The charge estimate gets 20% and two yuan on top, rounded up to the yuan: too much
        # only leaves a credit, too little would leave charges that eat into the next
        # installment. A few payers round the whole payment up to the next 100 yuan (a credit).
        charges = np.where(charges > 0, _round_up_to_yuan(charges * 120 // 100 + 200), 0)
        amount = principal_part + charges
        overpay = pay & (overpay_draw < OVERPAY_SHARE) & (amount > 0)
        amount = np.where(overpay, (amount // 10_000 + 1) * 10_000, amount)

        day = np.minimum(anchor[a] + offset, cycle_end[a])
        made = (amount > 0) & (day <= as_of_day)
        paid[a[made]] += (amount - charges)[made]

        # About 3% of payments come in two parts: a first part a few days earlier (not before
        # the cycle for a borrower in arrears), so the whole is paid on the same day as unsplit.
        earliest = anchor[a] - np.where(m == 0, EARLY_DAYS_MAX, 0)
        first_day = np.maximum(day - split_days, earliest)
        split = made & (split_draw < SPLIT_SHARE) & (amount >= 200) & (first_day < day)
        first_part = amount * percent // 100
        whole = made & ~split
        pay_account.extend([a[whole], a[split], a[split]])
        pay_day.extend([day[whole], first_day[split], day[split]])
        pay_amount.extend([amount[whole], first_part[split], (amount - first_part)[split]])

        new_months = _realised_months(cumulative_due[a], paid[a], tolerance[a], cycle)
        months[a] = new_months
        finished = cycle_end[a] <= as_of_day
        trace["account"].append(a[finished])
        trace["cycle"].append(np.full(int(finished.sum()), cycle, dtype=np.int64))
        trace["cycle_start"].append(anchor[a][finished])
        trace["from_state"].append(state[finished].astype(np.int8))
        trace["to_state"].append(np.minimum(new_months, WORST_STATE)[finished].astype(np.int8))

    payments = PaymentRows(
        account=_concat(pay_account, np.int64),
        day=_concat(pay_day, np.int64),
        amount_cents=_concat(pay_amount, np.int64),
    )
    arrears_trace = ArrearsTrace(
        account=_concat(trace["account"], np.int64),
        cycle=_concat(trace["cycle"], np.int64),
        cycle_start=_concat(trace["cycle_start"], np.int64),
        from_state=_concat(trace["from_state"], np.int8),
        to_state=_concat(trace["to_state"], np.int8),
    )
    return payments, arrears_trace


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype=dtype)
    return np.concatenate(parts).astype(dtype, copy=False)

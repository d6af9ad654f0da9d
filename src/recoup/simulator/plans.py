"""Simulated plans and their installments, as integer arrays.

- One account per borrower. Each account has a first plan; about 10% have a second plan on a
  different product, started at least 30 days after the first.
- Product mix: card installments 50%, cash loans 35%, renovation loans 15%.
- Principal: log-normal around a product's median, in whole hundreds of yuan, 1,000 to 50,000.
- Term: one of the product's terms, with product-specific weights; :func:`with_mean_term`
  tilts every product's weights toward its shorter or longer terms so that the portfolio's
  plans average a given number of installments (the scale benchmark's 12).
- Start dates: uniform over the 730 days up to and including ``as_of``; a second plan starts
  between 30 days after the first and ``as_of``.

Installments come from the ledger's own schedule rules (:mod:`recoup.ledger.schedule`): the
per-period amounts of each distinct (product, principal, term) and the due dates of each
distinct (start, term) are computed once and gathered, so a portfolio of 100,000 accounts
needs only a few thousand schedule computations. Dates are day numbers (days since
1970-01-01, as numpy's ``datetime64[D]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np

from recoup.ledger.schedule import add_months, amounts, due_dates
from recoup.products.spec import Product

EPOCH = date(1970, 1, 1)
#: Plans start within this many days before ``as_of`` (24 months).
START_WINDOW_DAYS = 730
#: Billing cycles an account can have up to ``as_of`` (24), plus one for the cycle end.
MAX_CYCLES = 26
SECOND_PLAN_SHARE = 0.10
SECOND_PLAN_MIN_GAP_DAYS = 30
MIN_PRINCIPAL_YUAN = 1_000
MAX_PRINCIPAL_YUAN = 50_000


@dataclass(frozen=True, slots=True)
class ProductMix:
    """How often a product is sold, and the shape of its principals and terms."""

    share: float
    median_principal_yuan: float
    principal_sigma: float
    term_weights: dict[int, float]


PRODUCT_MIX: dict[str, ProductMix] = {
    "card-fenqi": ProductMix(0.50, 6_000, 0.75, {3: 0.15, 6: 0.30, 12: 0.40, 24: 0.15}),
    "cash-loan": ProductMix(0.35, 10_000, 0.70, {6: 0.15, 12: 0.40, 24: 0.30, 36: 0.15}),
    "reno-loan": ProductMix(0.15, 25_000, 0.50, {12: 0.30, 24: 0.45, 36: 0.25}),
}


def plan_shares(mix: Mapping[str, ProductMix]) -> dict[str, float]:
    """Each product's share of all plans: the first plans by the mix's shares, and the
    second plans (about one account in ten) on one of the other products, evenly."""
    total = sum(m.share for m in mix.values())
    first = {product_id: m.share / total for product_id, m in mix.items()}
    if len(mix) < 2:
        return first
    return {
        product_id: (share + SECOND_PLAN_SHARE * (1 - share) / (len(mix) - 1))
        / (1 + SECOND_PLAN_SHARE)
        for product_id, share in first.items()
    }


def mean_term(mix: Mapping[str, ProductMix]) -> float:
    """The average term (installments) of the plans drawn from ``mix``."""
    shares = plan_shares(mix)
    return sum(
        shares[product_id]
        * sum(t * w for t, w in m.term_weights.items())
        / sum(m.term_weights.values())
        for product_id, m in mix.items()
    )


def with_mean_term(mix: Mapping[str, ProductMix], target: float) -> dict[str, ProductMix]:
    """``mix`` with every product's term weights tilted by one factor ``exp(lambda * term)``,
    ``lambda`` chosen so that plans average ``target`` installments.

    Each product keeps its terms and its share; its weights move toward its shorter terms
    (``target`` below the mix's own average) or its longer ones. ``target`` must lie strictly
    between the average of the products' shortest terms and that of their longest.
    """

    def tilted(slope: float) -> dict[str, ProductMix]:
        out = {}
        for product_id, m in mix.items():
            top = max(m.term_weights)
            weights = {t: w * math.exp(slope * (t - top)) for t, w in m.term_weights.items()}
            norm = sum(weights.values())
            out[product_id] = replace(m, term_weights={t: w / norm for t, w in weights.items()})
        return out

    shares = plan_shares(mix)
    shortest = sum(shares[product_id] * min(m.term_weights) for product_id, m in mix.items())
    longest = sum(shares[product_id] * max(m.term_weights) for product_id, m in mix.items())
    if not shortest < target < longest:
        raise ValueError(
            f"a mean term of {target} installments is out of reach: the products' terms "
            f"average between {shortest:.2f} and {longest:.2f}"
        )
    low, high = -5.0, 5.0  # exp(5 * 36) still fits a float; beyond, the mean is at its end
    for _ in range(200):
        middle = (low + high) / 2
        if mean_term(tilted(middle)) < target:
            low = middle
        else:
            high = middle
    return tilted((low + high) / 2)


def day_number(day: date) -> int:
    return (day - EPOCH).days


def from_day_number(number: int) -> date:
    return EPOCH + timedelta(days=number)


@dataclass(frozen=True, slots=True)
class PlanArrays:
    """One row per plan, ordered by account and start date."""

    account: np.ndarray  # int64 account index
    product: np.ndarray  # int64 index into the catalog's products
    principal_cents: np.ndarray  # int64
    term: np.ndarray  # int64
    start: np.ndarray  # int64 day number


@dataclass(frozen=True, slots=True)
class InstallmentArrays:
    """One row per installment of every plan (the full schedule)."""

    plan: np.ndarray  # int64 plan index
    account: np.ndarray  # int64 account index
    due: np.ndarray  # int64 day number
    amount_cents: np.ndarray  # int64 principal + fee


def _draw_plan_terms(
    rng: np.random.Generator,
    products: list[Product],
    product: np.ndarray,
    mix: Mapping[str, ProductMix],
) -> tuple[np.ndarray, np.ndarray]:
    """Principal (cents, whole hundreds of yuan) and term for plans of the given products."""
    count = len(product)
    normal = rng.standard_normal(count)
    uniform = rng.random(count)
    principal_yuan = np.zeros(count, dtype=np.int64)
    term = np.zeros(count, dtype=np.int64)
    for index, spec in enumerate(products):
        shape = mix[spec.id]
        chosen = product == index
        draw = np.exp(np.log(shape.median_principal_yuan) + shape.principal_sigma * normal[chosen])
        hundreds = np.rint(draw / 100).astype(np.int64) * 100
        principal_yuan[chosen] = np.clip(hundreds, MIN_PRINCIPAL_YUAN, MAX_PRINCIPAL_YUAN)
        terms = np.asarray(list(shape.term_weights), dtype=np.int64)
        weights = np.asarray(list(shape.term_weights.values()), dtype=np.float64)
        cumulative = np.cumsum(weights / weights.sum())
        picks = np.minimum(
            np.searchsorted(cumulative, uniform[chosen], side="right"), len(terms) - 1
        )
        term[chosen] = terms[picks]
    return principal_yuan * 100, term


def check_product_mix(products: list[Product], mix: Mapping[str, ProductMix] = PRODUCT_MIX) -> None:
    """Every product has a mix entry whose terms the product offers."""
    for spec in products:
        shape = mix.get(spec.id)
        if shape is None:
            raise ValueError(f"product {spec.id!r}: no entry in PRODUCT_MIX")
        offered = set(spec.terms)
        if not set(shape.term_weights) <= offered:
            raise ValueError(f"product {spec.id!r}: PRODUCT_MIX terms not offered by the product")


def simulate_plans(
    rng: np.random.Generator,
    accounts: int,
    as_of: date,
    products: list[Product],
    mix: Mapping[str, ProductMix] = PRODUCT_MIX,
) -> PlanArrays:
    """Draw the plans of ``accounts`` accounts (see the module docstring)."""
    check_product_mix(products, mix)
    as_of_day = day_number(as_of)
    shares = np.asarray([mix[p.id].share for p in products], dtype=np.float64)
    first_product = rng.choice(len(products), accounts, p=shares / shares.sum()).astype(np.int64)
    first_start = as_of_day - rng.integers(0, START_WINDOW_DAYS + 1, accounts)
    room = as_of_day - first_start - SECOND_PLAN_MIN_GAP_DAYS
    # Only accounts old enough can have a second plan, so draw the flag a little more often.
    eligible_share = float(np.mean(room >= 0)) if accounts else 1.0
    wants_second = rng.random(accounts) < min(1.0, SECOND_PLAN_SHARE / max(eligible_share, 1e-9))
    has_second = wants_second & (room >= 0)
    second_account = np.flatnonzero(has_second)
    other_offset = rng.integers(1, len(products), len(second_account))
    second_product = (first_product[second_account] + other_offset) % len(products)
    second_start = (
        first_start[second_account]
        + SECOND_PLAN_MIN_GAP_DAYS
        + np.floor(rng.random(len(second_account)) * (room[second_account] + 1)).astype(np.int64)
    )

    account = np.concatenate([np.arange(accounts, dtype=np.int64), second_account])
    product = np.concatenate([first_product, second_product])
    start = np.concatenate([first_start, second_start])
    principal, term = _draw_plan_terms(rng, products, product, mix)
    order = np.lexsort((start, account))
    return PlanArrays(
        account=account[order],
        product=product[order],
        principal_cents=principal[order],
        term=term[order],
        start=start[order],
    )


def expand_installments(plans: PlanArrays, products: list[Product]) -> InstallmentArrays:
    """Every installment of every plan, from the ledger's schedule rules."""
    plan_count = len(plans.term)
    # Per-period amounts, once per distinct (product, term, principal).
    amount_key = (plans.product * 100 + plans.term) * 10**10 + plans.principal_cents
    unique_amount_keys, amount_inverse = np.unique(amount_key, return_inverse=True)
    amount_chunks: list[list[int]] = []
    for key in unique_amount_keys.tolist():
        product_term, principal = divmod(key, 10**10)
        product_index, term = divmod(product_term, 100)
        spec = products[product_index]
        rows = amounts(principal, term, spec.monthly_rate, spec.fee_model)
        amount_chunks.append([p + f for p, f in rows])
    amount_table, amount_offset = _flatten(amount_chunks)

    # Due dates, once per distinct (start, term).
    due_key = plans.start * 100 + plans.term
    unique_due_keys, due_inverse = np.unique(due_key, return_inverse=True)
    due_chunks: list[list[int]] = []
    for key in unique_due_keys.tolist():
        start, term = divmod(key, 100)
        due_chunks.append([day_number(d) for d in due_dates(from_day_number(start), term)])
    due_table, due_offset = _flatten(due_chunks)

    plan_index = np.repeat(np.arange(plan_count, dtype=np.int64), plans.term)
    first_row = np.cumsum(plans.term) - plans.term
    period = np.arange(len(plan_index), dtype=np.int64) - np.repeat(first_row, plans.term)
    return InstallmentArrays(
        plan=plan_index,
        account=plans.account[plan_index],
        due=due_table[np.repeat(due_offset[due_inverse], plans.term) + period],
        amount_cents=amount_table[np.repeat(amount_offset[amount_inverse], plans.term) + period],
    )


def _flatten(chunks: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.asarray([len(c) for c in chunks], dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    flat = np.fromiter((v for c in chunks for v in c), dtype=np.int64, count=int(lengths.sum()))
    return flat, offsets


def cycle_anchors(first_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The billing-cycle starts of accounts whose first plans start on ``first_start``.

    Cycle ``t`` of an account runs from its anchor ``t``, ``add_months(start, t + 1)`` (the due
    dates of the first plan, continued past its term), up to the day before anchor ``t + 1``.
    Returns a table with one row per distinct start (``MAX_CYCLES`` anchors as day numbers)
    and each account's row in it.
    """
    unique_starts, row = np.unique(first_start, return_inverse=True)
    table = np.asarray(
        [
            [day_number(add_months(from_day_number(s), t + 1)) for t in range(MAX_CYCLES)]
            for s in unique_starts.tolist()
        ],
        dtype=np.int64,
    ).reshape(len(unique_starts), MAX_CYCLES)
    return table, row.astype(np.int64)


def dues_by_cycle(
    installments: InstallmentArrays, anchor_table: np.ndarray, anchor_row: np.ndarray
) -> np.ndarray:
    """Cents falling due in each cycle of each account (accounts x MAX_CYCLES, int64).

    Installments due after an account's last tabulated cycle are left out: they fall due
    after ``as_of``.
    """
    accounts = len(anchor_row)
    # Rows of the anchor table laid end to end, each shifted past the previous, so that one
    # sorted search finds every installment's cycle.
    shift = np.int64(1 << 32)
    row = anchor_row[installments.account]
    flat = (np.arange(len(anchor_table), dtype=np.int64)[:, None] * shift + anchor_table).ravel()
    position = np.searchsorted(flat, row * shift + installments.due, side="right")
    cycle = position - row * MAX_CYCLES - 1
    in_table = cycle < MAX_CYCLES - 1
    dues = np.zeros((accounts, MAX_CYCLES), dtype=np.int64)
    np.add.at(
        dues,
        (installments.account[in_table], cycle[in_table]),
        installments.amount_cents[in_table],
    )
    return dues

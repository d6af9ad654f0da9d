"""A whole simulated portfolio, and the files it is written as.

:func:`simulate_portfolio` draws borrowers (:mod:`.borrowers`), their hidden traits and
payment behaviour (:mod:`.behaviour`) and their plans (:mod:`.plans`), then adds returned
payments: about 0.3% of payments are reversed by a row dated 2 to 7 days later that names the
payment (``reverses``) and repeats its amount, and the borrower pays it again 0 to 3 days
after the reversal. Nothing is dated after ``as_of``.

Each part draws from its own stream spawned from ``numpy.random.SeedSequence(seed)``, so the
same ``(accounts, seed, as_of)`` gives the same portfolio, byte for byte once written.

The files (a stable interface; CSV with a header, money as text with two decimals, ISO dates):

- ``products.yaml``: the products file (:mod:`.catalog`);
- ``borrowers.csv``: ``borrower_id,name,phone,email,region,timezone,address``;
- ``plans.csv``: ``plan_id,account_id,borrower_id,product_id,principal,term,start_date``;
- ``payments.csv``: ``payment_id,account_id,amount,paid_on,reverses``;
- ``traits.csv``: ``borrower_id,ability,willingness,segment``, the hidden traits (for models;
  not part of the import layout).

The state machine's trace (:attr:`SimulatedPortfolio.arrears_trace`) stays in memory; see
:func:`roll_rates`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from recoup.money import format_cents
from recoup.products.spec import DEFAULT_BUCKETS
from recoup.simulator.behaviour import (
    SEGMENTS,
    WORST_STATE,
    PaymentRows,
    account_terms,
    draw_traits,
    simulate_payments,
)
from recoup.simulator.borrowers import simulate_borrowers
from recoup.simulator.catalog import PRODUCTS_YAML, simulator_catalog
from recoup.simulator.plans import (
    PRODUCT_MIX,
    cycle_anchors,
    day_number,
    dues_by_cycle,
    expand_installments,
    simulate_plans,
    with_mean_term,
)

REVERSED_SHARE = 0.003
REVERSAL_DELAY_DAYS = (2, 7)
REPAID_WITHIN_DAYS = 3

BORROWER_COLUMNS = ("borrower_id", "name", "phone", "email", "region", "timezone", "address")
PLAN_COLUMNS = ("plan_id", "account_id", "borrower_id", "product_id", "principal", "term",
                "start_date")  # fmt: skip
PAYMENT_COLUMNS = ("payment_id", "account_id", "amount", "paid_on", "reverses")
TRAIT_COLUMNS = ("borrower_id", "ability", "willingness", "segment")


@dataclass(frozen=True, slots=True, eq=False)
class SimulatedPortfolio:
    """The simulated files' contents, plus what the simulator knows and the files do not.

    ``arrears_trace`` has one row per account and finished billing cycle: ``account_id``,
    ``cycle`` (0 for the cycle starting at the first plan's first due date), ``cycle_start``,
    ``from_state`` and ``to_state`` (bucket index 0..7 at the end of the previous and of this
    cycle: 0 is M0, 7 is M7+).
    """

    products_yaml: str
    borrowers: pl.DataFrame
    plans: pl.DataFrame
    payments: pl.DataFrame
    traits: pl.DataFrame
    arrears_trace: pl.DataFrame


def simulate_portfolio(
    accounts: int,
    seed: int,
    as_of: date,
    *,
    first_account: int = 1,
    mean_term: float | None = None,
) -> SimulatedPortfolio:
    """Simulate ``accounts`` accounts (one borrower each) and their payments up to ``as_of``.

    ``first_account`` numbers the accounts and borrowers from there, so that a portfolio too
    big to hold in memory can be simulated in slices (each with its own ``seed``); the plan
    and payment ids of a slice not starting at 1 carry ``<first_account>-`` to stay unique.
    ``mean_term`` tilts the product mix's terms so that plans average that many installments
    (see :func:`~recoup.simulator.plans.with_mean_term`); by default the mix is as it is.
    """
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1, got {accounts}")
    if first_account < 1:
        raise ValueError(f"first_account must be at least 1, got {first_account}")
    slice_tag = "" if first_account == 1 else f"{first_account}-"
    borrower_stream, trait_stream, plan_stream, payment_stream, reversal_stream = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )
    catalog = simulator_catalog()
    products = list(catalog.products.values())
    as_of_day = day_number(as_of)

    numbers = np.arange(first_account, first_account + accounts)
    borrower_ids = _ids("B", numbers, 7)
    account_ids = _ids("A", numbers, 7)
    borrowers = simulate_borrowers(borrower_stream, borrower_ids)
    traits = draw_traits(trait_stream, accounts)

    mix = PRODUCT_MIX if mean_term is None else with_mean_term(PRODUCT_MIX, mean_term)
    plans = simulate_plans(plan_stream, accounts, as_of, products, mix)
    installments = expand_installments(plans, products)
    first_plan = np.unique(plans.account, return_index=True)[1]
    tolerance = np.full(accounts, np.iinfo(np.int64).max, dtype=np.int64)
    product_tolerance = np.asarray([p.tolerance_cents for p in products], dtype=np.int64)
    np.minimum.at(tolerance, plans.account, product_tolerance[plans.product])
    anchor_table, anchor_row = cycle_anchors(plans.start[first_plan])
    dues = dues_by_cycle(installments, anchor_table, anchor_row)
    terms = account_terms(products, plans.product[first_plan], tolerance)
    payments, trace = simulate_payments(
        payment_stream, traits, terms, dues, anchor_table[anchor_row], as_of_day
    )

    product_ids = pl.Series([p.id for p in products])
    plan_frame = pl.DataFrame(
        {
            "plan_id": _ids(f"L{slice_tag}", np.arange(1, len(plans.account) + 1), 7),
            "account_id": account_ids.gather(plans.account),
            "borrower_id": borrower_ids.gather(plans.account),
            "product_id": product_ids.gather(plans.product),
            "principal": _money(plans.principal_cents),
            "term": pl.Series(plans.term, dtype=pl.Int64),
            "start_date": _dates(plans.start),
        }
    )
    trait_frame = pl.DataFrame(
        {
            "borrower_id": borrower_ids,
            "ability": np.round(traits.ability, 4),
            "willingness": np.round(traits.willingness, 4),
            "segment": pl.Series([s.name for s in SEGMENTS]).gather(traits.segment),
        }
    )
    order = np.lexsort((trace.cycle, trace.account))
    trace_frame = pl.DataFrame(
        {
            "account_id": account_ids.gather(trace.account[order]),
            "cycle": pl.Series(trace.cycle[order], dtype=pl.Int64),
            "cycle_start": _dates(trace.cycle_start[order]),
            "from_state": pl.Series(trace.from_state[order], dtype=pl.Int8),
            "to_state": pl.Series(trace.to_state[order], dtype=pl.Int8),
        }
    )
    return SimulatedPortfolio(
        products_yaml=PRODUCTS_YAML,
        borrowers=borrowers.select(BORROWER_COLUMNS),
        plans=plan_frame.select(PLAN_COLUMNS),
        payments=_payment_frame(reversal_stream, payments, account_ids, as_of_day, f"P{slice_tag}"),
        traits=trait_frame.select(TRAIT_COLUMNS),
        arrears_trace=trace_frame,
    )


def write_portfolio(portfolio: SimulatedPortfolio, out_dir: Path) -> None:
    """Write ``products.yaml``, ``borrowers.csv``, ``plans.csv``, ``payments.csv`` and
    ``traits.csv`` into ``out_dir`` (created if missing; existing files are replaced)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "products.yaml").write_bytes(portfolio.products_yaml.encode("utf-8"))
    portfolio.borrowers.write_csv(out_dir / "borrowers.csv")
    portfolio.plans.write_csv(out_dir / "plans.csv")
    portfolio.payments.write_csv(out_dir / "payments.csv")
    portfolio.traits.write_csv(out_dir / "traits.csv", float_precision=4)


def roll_rates(arrears_trace: pl.DataFrame) -> pl.DataFrame:
    """Monthly roll rates of a trace: for each bucket M0..M6, the share of the account-cycles
    starting in it that end one bucket worse.

    Columns: ``bucket`` (name), ``state`` (0..6), ``accounts`` (account-cycles starting in the
    bucket), ``rolled`` (of those, ending one bucket worse), ``roll_rate``, and ``cured``
    (ending in M0) with ``cure_rate``.
    """
    names = pl.DataFrame(
        {
            "state": pl.Series(range(WORST_STATE), dtype=pl.Int8),
            "bucket": [b.name for b in DEFAULT_BUCKETS[:WORST_STATE]],
        }
    )
    counts = (
        arrears_trace.filter(pl.col("from_state") < WORST_STATE)
        .group_by("from_state")
        .agg(
            pl.len().alias("accounts"),
            (pl.col("to_state") == pl.col("from_state") + 1).sum().alias("rolled"),
            (pl.col("to_state") == 0).sum().alias("cured"),
        )
        .rename({"from_state": "state"})
    )
    return (
        names.join(counts, on="state", how="left")
        .with_columns(pl.col("accounts", "rolled", "cured").fill_null(0).cast(pl.Int64))
        .with_columns(
            (pl.col("rolled") / pl.col("accounts")).alias("roll_rate"),
            (pl.col("cured") / pl.col("accounts")).alias("cure_rate"),
        )
        .sort("state")
        .select("bucket", "state", "accounts", "rolled", "roll_rate", "cured", "cure_rate")
    )


def _payment_frame(
    rng: np.random.Generator,
    payments: PaymentRows,
    account_ids: pl.Series,
    as_of_day: int,
    prefix: str = "P",
) -> pl.DataFrame:
    """Payments plus returned payments, in date order, with ids ``P000000001`` on.

    A returned payment gets a reversal row a few days later, and the borrower pays the same
    amount again 0 to 3 days after the reversal (when that is still on or before ``as_of``),
    as a returned direct debit is presented again; so a return delays a payment and does not
    change the borrower's behaviour.
    """
    count = len(payments.account)
    delay = rng.integers(REVERSAL_DELAY_DAYS[0], REVERSAL_DELAY_DAYS[1] + 1, count)
    again_delay = rng.integers(0, REPAID_WITHIN_DAYS + 1, count)
    reversed_ = (rng.random(count) < REVERSED_SHARE) & (payments.day + delay <= as_of_day)
    original = np.flatnonzero(reversed_)
    reversal_day = (payments.day + delay)[original]
    again = original[reversal_day + again_delay[original] <= as_of_day]
    again_day = (payments.day + delay + again_delay)[again]
    account = np.concatenate(
        [payments.account, payments.account[original], payments.account[again]]
    )
    day = np.concatenate([payments.day, reversal_day, again_day])
    amount = np.concatenate(
        [payments.amount_cents, payments.amount_cents[original], payments.amount_cents[again]]
    )
    reverses_row = np.concatenate(
        [np.full(count, -1, dtype=np.int64), original, np.full(len(again), -1, dtype=np.int64)]
    )
    is_reversal = reverses_row >= 0
    order = np.lexsort((np.arange(len(account)), is_reversal, account, day))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order), dtype=np.int64)
    reverses = np.where(is_reversal, position[np.maximum(reverses_row, 0)], -1)[order]
    reverses_ids = _ids(prefix, np.maximum(reverses, 0) + 1, 9)
    return pl.DataFrame(
        {
            "payment_id": _ids(prefix, np.arange(1, len(order) + 1), 9),
            "account_id": account_ids.gather(account[order]),
            "amount": _money(amount[order]),
            "paid_on": _dates(day[order]),
            "reverses": reverses_ids.set(pl.Series(reverses < 0), None),
        }
    ).select(PAYMENT_COLUMNS)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """``prefix`` and the number, zero-padded: ``_ids("A", [1], 7)`` is ``["A0000001"]``."""
    digits = pl.Series(numbers.astype(np.int64)).cast(pl.String).str.zfill(width)
    return (prefix + digits).alias("")


def _money(cents: np.ndarray) -> pl.Series:
    """Amounts as text through :func:`format_cents`, once per distinct amount (bills repeat)."""
    distinct, inverse = np.unique(cents, return_inverse=True)
    texts = pl.Series([format_cents(c) for c in distinct.tolist()], dtype=pl.String)
    return texts.gather(inverse.astype(np.int64))


def _dates(day_numbers: np.ndarray) -> pl.Series:
    return pl.Series(day_numbers.astype(np.int32)).cast(pl.Date)

"""The portfolio simulator: reproducible files in the import layout, and realistic behaviour."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from recoup.ledger.schedule import build_schedule
from recoup.money import parse_cents
from recoup.products import FeeModel, load_catalog
from recoup.simulator import SimulatedPortfolio, roll_rates, simulate_portfolio, write_portfolio
from recoup.simulator.plans import PRODUCT_MIX, mean_term, with_mean_term

AS_OF = date(2025, 6, 30)
ACCOUNTS = 3_000
SEED = 11

COLUMNS = {
    "borrowers.csv": ["borrower_id", "name", "phone", "email", "region", "timezone", "address"],
    "plans.csv": [
        "plan_id",
        "account_id",
        "borrower_id",
        "product_id",
        "principal",
        "term",
        "start_date",
    ],
    "payments.csv": ["payment_id", "account_id", "amount", "paid_on", "reverses"],
    "traits.csv": ["borrower_id", "ability", "willingness", "segment"],
}
MONEY = re.compile(r"^[0-9]+\.[0-9]{2}$")

#: Monthly roll rates of domain.md, each widened a little for sampling noise.
ROLL_RANGES = {
    "M0": (0.015, 0.045),
    "M1": (0.17, 0.43),
    "M2": (0.46, 0.74),
    "M3": (0.65, 0.92),
    "M4": (0.65, 0.92),
    "M5": (0.65, 0.92),
    "M6": (0.65, 0.92),
}


@pytest.fixture(scope="module")
def portfolio() -> SimulatedPortfolio:
    return simulate_portfolio(ACCOUNTS, SEED, AS_OF)


@pytest.fixture(scope="module")
def files(portfolio: SimulatedPortfolio, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("portfolio")
    write_portfolio(portfolio, out)
    return out


def _read(files: Path, name: str) -> pl.DataFrame:
    """A written file as text columns, empty cells as nulls (as the importer reads it)."""
    return pl.read_csv(files / name, infer_schema=False)


def _dates(column: pl.Series) -> list[date]:
    return [date.fromisoformat(text) for text in column.to_list()]


def _cents(column: pl.Series) -> list[int]:
    return [parse_cents(text) for text in column.to_list()]


# ------------------------------------------------------------------------------ the files


def test_simulator__same_seed_gives_identical_files(files: Path, tmp_path: Path) -> None:
    write_portfolio(simulate_portfolio(ACCOUNTS, SEED, AS_OF), tmp_path)
    names = sorted(p.name for p in files.iterdir())
    assert names == ["borrowers.csv", "payments.csv", "plans.csv", "products.yaml", "traits.csv"]
    for name in names:
        assert (tmp_path / name).read_bytes() == (files / name).read_bytes(), name


def test_simulator__another_seed_gives_another_portfolio(portfolio: SimulatedPortfolio) -> None:
    other = simulate_portfolio(ACCOUNTS, SEED + 1, AS_OF)
    assert not other.payments.equals(portfolio.payments)
    assert not other.borrowers.equals(portfolio.borrowers)


def test_simulator__files_have_exactly_the_documented_columns(files: Path) -> None:
    for name, columns in COLUMNS.items():
        header = (files / name).read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == columns, name


def test_simulator__products_file_loads_with_the_catalog_loader(files: Path) -> None:
    catalog = load_catalog(files / "products.yaml")
    assert len(catalog.products) == 3
    assert {p.fee_model for p in catalog.products.values()} == set(FeeModel)
    card = next(p for p in catalog.products.values() if p.fee_model is FeeModel.FLAT_FEE)
    assert str(card.monthly_rate) == "0.006"
    assert card.terms == (3, 6, 12, 24)
    assert (card.grace_days, card.tolerance_cents) == (3, 1000)
    assert (card.late_fee.min_cents, card.late_fee.max_cents) == (1000, 50000)
    annuity = next(p for p in catalog.products.values() if p.fee_model is FeeModel.ANNUITY)
    assert (str(annuity.monthly_rate), annuity.terms) == ("0.0125", (6, 12, 24, 36))
    grace = {p.grace_days for p in catalog.products.values()}
    assert len(grace) == 3


def test_simulator__money_is_text_with_two_decimals_and_positive(files: Path) -> None:
    plans = _read(files, "plans.csv")
    payments = _read(files, "payments.csv")
    for column in (plans["principal"], payments["amount"]):
        assert column.str.contains(MONEY.pattern).all()
        assert min(_cents(column)) > 0


def test_simulator__nothing_is_dated_after_as_of(files: Path) -> None:
    starts = _dates(_read(files, "plans.csv")["start_date"])
    paid_on = _dates(_read(files, "payments.csv")["paid_on"])
    assert max(starts) <= AS_OF
    assert max(paid_on) <= AS_OF
    assert (AS_OF - min(starts)).days <= 730
    assert min(paid_on) > min(starts)


# ----------------------------------------------------------------------- borrowers, plans


def test_simulator__borrowers_look_like_mainland_customers(files: Path) -> None:
    borrowers = _read(files, "borrowers.csv")
    assert borrowers.height == ACCOUNTS
    assert borrowers["borrower_id"].n_unique() == ACCOUNTS
    assert borrowers["phone"].str.contains(r"^\+86 1[3-9][0-9]{9}$").all()
    assert borrowers["phone"].n_unique() == ACCOUNTS
    assert (borrowers["timezone"] == "Asia/Shanghai").all()
    assert borrowers["region"].str.contains("(省|市|自治区)$").all()
    missing = borrowers["email"].null_count() / ACCOUNTS
    assert 0.01 < missing < 0.06
    assert borrowers["email"].drop_nulls().str.contains(r"^[a-z0-9]+@[a-z0-9.]+$").all()
    # A postal address in the borrower's own province, for letters and field visits.
    assert borrowers.select(pl.col("address").str.starts_with(pl.col("region"))).to_series().all()
    assert borrowers["address"].str.contains(r"路[0-9]+号[0-9]+室$").all()


def test_simulator__every_plan_uses_a_product_and_term_of_the_products_file(files: Path) -> None:
    catalog = load_catalog(files / "products.yaml")
    plans = _read(files, "plans.csv")
    for product_id, term in plans.select("product_id", "term").unique().iter_rows():
        assert int(term) in catalog.get(product_id).terms, (product_id, term)
    principal = pl.Series(_cents(plans["principal"]))
    assert (principal % 10_000 == 0).all()
    assert principal.min() >= 100_000  # type: ignore[operator]
    assert principal.max() <= 5_000_000  # type: ignore[operator]
    assert plans["plan_id"].n_unique() == plans.height


def test_simulator__one_account_per_borrower_and_some_second_plans(files: Path) -> None:
    plans = _read(files, "plans.csv")
    pairs = plans.select("account_id", "borrower_id").unique()
    assert pairs.height == ACCOUNTS
    assert pairs["account_id"].n_unique() == pairs["borrower_id"].n_unique() == ACCOUNTS
    per_account = plans.group_by("account_id").agg(
        pl.len().alias("plans"),
        pl.col("product_id").n_unique().alias("products"),
        pl.col("start_date").min().alias("first"),
        pl.col("start_date").max().alias("last"),
    )
    second = per_account.filter(pl.col("plans") == 2)
    assert per_account["plans"].max() == 2
    assert 0.07 < second.height / ACCOUNTS < 0.13
    assert (second["products"] == 2).all()
    assert (second["first"] < second["last"]).all()


# ------------------------------------------------------------------------------- payments


def test_simulator__payments_reference_existing_accounts(files: Path) -> None:
    plans = _read(files, "plans.csv")
    payments = _read(files, "payments.csv")
    assert payments["payment_id"].n_unique() == payments.height
    assert payments["account_id"].is_in(plans["account_id"].implode()).all()
    assert payments.height > 5 * ACCOUNTS  # months of history


def test_simulator__reversals_repeat_an_earlier_payment_of_the_same_account(files: Path) -> None:
    payments = _read(files, "payments.csv")
    reversals = payments.filter(pl.col("reverses").is_not_null())
    originals = payments.filter(pl.col("reverses").is_null())
    joined = reversals.join(
        originals, left_on="reverses", right_on="payment_id", how="left", suffix="_original"
    )
    assert joined["account_id_original"].null_count() == 0
    assert (joined["account_id"] == joined["account_id_original"]).all()
    assert (joined["amount"] == joined["amount_original"]).all()
    delay = joined["paid_on"].str.to_date() - joined["paid_on_original"].str.to_date()
    assert delay.dt.total_days().min() >= 1  # type: ignore[operator]
    assert delay.dt.total_days().max() <= 7  # type: ignore[operator]
    assert reversals["reverses"].n_unique() == reversals.height
    assert 0.001 < reversals.height / payments.height < 0.006


def test_simulator__a_returned_payment_is_paid_again_after_its_reversal(files: Path) -> None:
    payments = _read(files, "payments.csv").with_columns(pl.col("paid_on").str.to_date())
    reversals = payments.filter(pl.col("reverses").is_not_null())
    ordinary = payments.filter(pl.col("reverses").is_null()).select(
        "account_id", "amount", pl.col("paid_on").alias("again_on")
    )
    again = (
        reversals.join(ordinary, on=["account_id", "amount"])
        .filter(pl.col("again_on").is_between(pl.col("paid_on"), pl.col("paid_on") + timedelta(3)))
        .select("payment_id")
        .unique()
    )
    settled = reversals.filter(pl.col("paid_on") <= AS_OF - timedelta(3))
    assert settled.height > 0
    assert settled["payment_id"].is_in(again["payment_id"].implode()).all()


def test_simulator__accounts_that_stayed_current_paid_every_due_installment(
    files: Path, portfolio: SimulatedPortfolio
) -> None:
    catalog = load_catalog(files / "products.yaml")
    plans = _read(files, "plans.csv")
    payments = _read(files, "payments.csv")
    reversed_ids = payments["reverses"].drop_nulls().implode()
    net = payments.filter(pl.col("reverses").is_null() & ~pl.col("payment_id").is_in(reversed_ids))
    reversed_accounts = payments.filter(pl.col("reverses").is_not_null())["account_id"]
    current = (
        portfolio.arrears_trace.group_by("account_id")
        .agg(pl.col("to_state").max().alias("worst"), pl.col("cycle_start").max().alias("last"))
        .filter((pl.col("worst") == 0) & ~pl.col("account_id").is_in(reversed_accounts.implode()))
        .sort("account_id")
        .head(300)
    )
    assert current.height == 300
    paid = dict(
        net.group_by("account_id")
        .agg(pl.col("amount").map_elements(parse_cents, return_dtype=pl.Int64).sum())
        .iter_rows()
    )
    plans_by_account = plans.partition_by("account_id", as_dict=True)
    for account_id, _, last_cycle_start in current.iter_rows():
        due = 0
        for row in plans_by_account[(account_id,)].iter_rows(named=True):
            product = catalog.get(row["product_id"])
            schedule = build_schedule(
                parse_cents(row["principal"]),
                int(row["term"]),
                date.fromisoformat(row["start_date"]),
                product.monthly_rate,
                product.fee_model,
            )
            due += sum(i.amount_cents for i in schedule if i.due_date <= last_cycle_start)
        assert paid.get(account_id, 0) >= due - 1000, account_id


# ---------------------------------------------------------------------- hidden behaviour


def test_simulator__traits_are_hidden_per_borrower(
    files: Path, portfolio: SimulatedPortfolio
) -> None:
    traits = portfolio.traits
    assert traits.columns == COLUMNS["traits.csv"]
    assert traits.height == ACCOUNTS
    assert traits["ability"].is_between(0, 1).all()
    assert traits["willingness"].is_between(0, 1).all()
    assert set(traits["segment"].unique()) == {
        "prime",
        "standard",
        "stretched",
        "reluctant",
        "distressed",
    }
    assert _read(files, "traits.csv").height == ACCOUNTS


def test_simulator__roll_rates_of_the_trace_fall_in_the_usual_ranges() -> None:
    trace = simulate_portfolio(20_000, 2024, AS_OF).arrears_trace
    rates = roll_rates(trace)
    for bucket, accounts, rate in rates.select("bucket", "accounts", "roll_rate").iter_rows():
        low, high = ROLL_RANGES[bucket]
        assert accounts > 300, bucket
        assert low <= rate <= high, (bucket, rate)


def test_simulator__trace_never_skips_a_bucket_on_the_way_down(
    portfolio: SimulatedPortfolio,
) -> None:
    trace = portfolio.arrears_trace
    assert trace["to_state"].max() == 7
    worse = trace.filter(pl.col("to_state") > pl.col("from_state"))
    assert (worse["to_state"] == worse["from_state"] + 1).all()
    assert trace["cycle_start"].max() <= AS_OF  # type: ignore[operator]


def test_roll_rates__counts_moves_one_bucket_worse() -> None:
    trace = pl.DataFrame(
        {
            "account_id": ["A1", "A1", "A2", "A2", "A3"],
            "cycle": [0, 1, 0, 1, 0],
            "from_state": pl.Series([0, 1, 0, 0, 0], dtype=pl.Int8),
            "to_state": pl.Series([1, 2, 0, 0, 0], dtype=pl.Int8),
        }
    )
    rates = roll_rates(trace)
    m0 = rates.row(0, named=True)
    m1 = rates.row(1, named=True)
    assert (m0["bucket"], m0["accounts"], m0["rolled"], m0["roll_rate"]) == ("M0", 4, 1, 0.25)
    assert (m1["bucket"], m1["accounts"], m1["rolled"], m1["cured"]) == ("M1", 1, 1, 0)
    assert rates.row(2, named=True)["accounts"] == 0


def test_simulator__refuses_an_empty_portfolio() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        simulate_portfolio(0, SEED, AS_OF)


def test_simulator__slices_number_their_accounts_on_and_keep_ids_unique() -> None:
    first = simulate_portfolio(50, seed=1, as_of=AS_OF)
    second = simulate_portfolio(50, seed=2, as_of=AS_OF, first_account=51)
    assert second.plans["account_id"].min() == "A0000051"
    assert second.borrowers["borrower_id"].max() == "B0000100"
    for kind in ("plans", "payments"):
        column = "plan_id" if kind == "plans" else "payment_id"
        ids = pl.concat([getattr(first, kind)[column], getattr(second, kind)[column]])
        assert ids.n_unique() == ids.len()
    reversed_ids = second.payments["reverses"].drop_nulls()
    assert reversed_ids.is_in(second.payments["payment_id"].implode()).all()


def test_with_mean_term__reaches_the_target_and_keeps_terms_and_shares() -> None:
    own = mean_term(PRODUCT_MIX)
    shorter = with_mean_term(PRODUCT_MIX, 12.0)
    assert mean_term(shorter) == pytest.approx(12.0, abs=1e-6)
    for product_id, shape in shorter.items():
        before = PRODUCT_MIX[product_id]
        assert shape.share == before.share
        assert set(shape.term_weights) == set(before.term_weights)
        assert sum(shape.term_weights.values()) == pytest.approx(1.0)
        # Shorter on average for every product, not only overall.
        product_mean = sum(t * w for t, w in shape.term_weights.items())
        own_mean = sum(t * w for t, w in before.term_weights.items()) / sum(
            before.term_weights.values()
        )
        assert product_mean < own_mean
    assert mean_term(with_mean_term(PRODUCT_MIX, own + 3)) == pytest.approx(own + 3, abs=1e-6)


def test_with_mean_term__refuses_a_target_no_tilt_reaches() -> None:
    with pytest.raises(ValueError, match=r"mean term of 3 installments is out of reach"):
        with_mean_term(PRODUCT_MIX, 3)


def test_simulator__mean_term_sets_the_plans_average_number_of_installments() -> None:
    own = simulate_portfolio(ACCOUNTS, SEED, AS_OF).plans["term"].mean()
    twelve = simulate_portfolio(ACCOUNTS, SEED, AS_OF, mean_term=12.0).plans["term"].mean()
    assert isinstance(own, float) and isinstance(twelve, float)
    # About 3,300 plans: the standard error of their mean term is about 0.15.
    assert own == pytest.approx(mean_term(PRODUCT_MIX), abs=0.6)
    assert twelve == pytest.approx(12.0, abs=0.6)


def test_mean_term__counts_the_second_plans_on_the_other_products() -> None:
    # First plans: card 50% (terms 3/6/12/24 at 15/30/40/15%), cash 35% (6/12/24/36 at
    # 15/40/30/15%), renovation 15% (12/24/36 at 30/45/25%).
    card, cash, reno = 10.65, 18.3, 23.4
    first = 0.50 * card + 0.35 * cash + 0.15 * reno
    # One account in ten has a second plan on one of the two other products, evenly.
    second = (0.50 * card + 0.65 * cash + 0.85 * reno) / 2
    assert mean_term(PRODUCT_MIX) == pytest.approx((first + 0.10 * second) / 1.10)

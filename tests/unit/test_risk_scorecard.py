"""The points scorecard on synthetic accounts whose true risk is known.

Bad risk rises with days since the last payment, falls with months on book, differs by region
(categorical), falls with income and is higher where income is missing; ``noise`` carries no
signal. The scorecard must find that, score out of sample, and explain every score exactly.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import polars as pl
import pytest

from recoup.risk import FeatureKind, Scorecard, ScorecardConfig, auc, fit_scorecard

REGION_EFFECT = {"north": 0.0, "south": 0.5, "east": -0.3, "west": 0.2, "central": -0.6}
CODE = re.compile(r"^(?P<feature>\w+): (?P<bin>.+) \(−(?P<cost>\d+)\)$")


def make_accounts(n: int, seed: int) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 120, n)
    months = rng.integers(1, 60, n)
    region = rng.choice(list(REGION_EFFECT), n)
    income = rng.lognormal(8.0, 0.5, n)
    income_missing = rng.random(n) < 0.1
    logit = (
        -2.0
        + 0.025 * days
        - 0.03 * months
        + np.vectorize(REGION_EFFECT.get)(region)
        + np.where(income_missing, 0.6, -0.0002 * (income - 3000.0))
    )
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    features = pl.DataFrame(
        {
            "days_since_payment": days,
            "months_on_book": months,
            "region": region,
            "income": [
                None if m else float(v) for v, m in zip(income, income_missing, strict=True)
            ],
            "noise": rng.normal(size=n),
        }
    )
    return features, y


@pytest.fixture(scope="module")
def train() -> tuple[pl.DataFrame, np.ndarray]:
    return make_accounts(20_000, seed=1)


@pytest.fixture(scope="module")
def holdout() -> tuple[pl.DataFrame, np.ndarray]:
    return make_accounts(10_000, seed=2)


@pytest.fixture(scope="module")
def card(train: tuple[pl.DataFrame, np.ndarray]) -> Scorecard:
    features, y = train
    return fit_scorecard(features, y, categorical=["region"])


def account(**values: object) -> pl.DataFrame:
    row: dict[str, object] = {
        "days_since_payment": 30,
        "months_on_book": 24,
        "region": "north",
        "income": 3000.0,
        "noise": 0.0,
    }
    row.update(values)
    return pl.DataFrame(
        [row],
        schema={
            "days_since_payment": pl.Int64,
            "months_on_book": pl.Int64,
            "region": pl.String,
            "income": pl.Float64,
            "noise": pl.Float64,
        },
    )


def oracle_points(card: Scorecard, features: pl.DataFrame) -> list[int]:
    """The slow, obvious way: find each value's bin by reading the table's rules one by one."""
    totals = []
    for row in features.iter_rows(named=True):
        total = 0
        for feature in card.bins:
            value = row[feature.name]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                index = feature.missing_index
            elif feature.kind is FeatureKind.NUMERIC:
                index = sum(1 for split in feature.splits if value >= split)
            else:
                found = [i for i, group in enumerate(feature.categories) if str(value) in group]
                index = found[0] if found else len(feature.categories) + 1  # the "other" bin
            total += feature.bins[index].points
        totals.append(total)
    return totals


# --- what the model learns ----------------------------------------------------------------


def test_scorecard__ranks_unseen_accounts_well(
    card: Scorecard, holdout: tuple[pl.DataFrame, np.ndarray]
) -> None:
    features, y = holdout
    points = card.points(features)
    # Higher points mean lower risk, so the risk score for the AUC is the negated points.
    assert auc(y, -points) > 0.7
    assert auc(y, card.probability(features)) == pytest.approx(auc(y, -points))
    assert points[y == 0].mean() > points[y == 1].mean()


def test_scorecard__keeps_the_informative_features_and_drops_the_noise(card: Scorecard) -> None:
    assert card.features == ("days_since_payment", "months_on_book", "region", "income")
    assert all(card.iv[name] >= 0.02 for name in card.features)
    assert card.iv["days_since_payment"] == max(card.iv.values())


def test_scorecard__monotonic_features_have_monotonic_bad_rates(card: Scorecard) -> None:
    table = card.table()
    for name, direction in (("days_since_payment", 1), ("months_on_book", -1), ("income", -1)):
        rows = table.filter((pl.col("feature") == name) & (pl.col("bin") != "missing"))
        rates = rows["bad_rate"].to_list()
        assert len(rates) >= 3
        assert rates == sorted(rates, reverse=direction < 0), name
        points = rows["points"].to_list()
        assert points == sorted(points, reverse=direction > 0), name


def test_scorecard__gives_safer_accounts_more_points(card: Scorecard) -> None:
    safe = account(days_since_payment=0, months_on_book=58, region="central", income=9000.0)
    risky = account(days_since_payment=115, months_on_book=2, region="south", income=None)
    assert card.points(safe)[0] > card.points(risky)[0]
    ladder = pl.concat([account(days_since_payment=d) for d in range(0, 120, 5)])
    points = card.points(ladder).tolist()
    assert points == sorted(points, reverse=True)
    assert points[0] > points[-1]


def test_scorecard__probabilities_are_roughly_calibrated(
    card: Scorecard, holdout: tuple[pl.DataFrame, np.ndarray]
) -> None:
    features, y = holdout
    assert card.probability(features).mean() == pytest.approx(y.mean(), abs=0.02)


# --- points, probability and reasons agree ---------------------------------------------------


def test_scorecard__points_are_the_sum_of_table_entries(
    card: Scorecard, holdout: tuple[pl.DataFrame, np.ndarray]
) -> None:
    features = holdout[0].head(500)
    points = card.points(features)
    assert points.dtype == np.int64
    assert points.tolist() == oracle_points(card, features)
    contributions = card.contributions(features)
    assert contributions.columns == list(card.features)
    assert contributions.sum_horizontal().to_list() == points.tolist()
    assert set(card.table()["points"].to_list()) >= set(np.unique(contributions.to_numpy()))


def test_scorecard__probability_follows_the_odds_scale(card: Scorecard) -> None:
    config = card.config
    assert config.factor == pytest.approx(20 / math.log(2))
    assert config.offset == pytest.approx(600 - config.factor * math.log(50))
    base, doubled = card.probability_of_points([600, 620])
    assert (1 - base) / base == pytest.approx(50.0)
    assert (1 - doubled) / doubled == pytest.approx(100.0)
    features = pl.concat([account(days_since_payment=d) for d in (0, 60, 110)])
    expected = 1 / (1 + np.exp((card.points(features) - config.offset) / config.factor))
    np.testing.assert_allclose(card.probability(features), expected)


def test_scorecard__base_points_is_the_best_possible_score(card: Scorecard) -> None:
    best = card.table().group_by("feature").agg(pl.col("points").max())["points"].sum()
    assert card.base_points == best
    safest = account(days_since_payment=0, months_on_book=59, region="central", income=20000.0)
    assert card.points(safest)[0] == card.base_points
    assert card.reasons(safest) == [()]


def test_scorecard__reason_shortfalls_sum_to_base_points_minus_points(
    card: Scorecard, holdout: tuple[pl.DataFrame, np.ndarray]
) -> None:
    features = holdout[0]
    points = card.points(features)
    shortfalls = card.shortfalls(features)
    assert (shortfalls.to_numpy() >= 0).all()
    assert shortfalls.sum_horizontal().to_list() == (card.base_points - points).tolist()
    # The codes themselves carry the same numbers: listing every feature adds up exactly.
    all_codes = card.reasons(features.head(2000), top=len(card.features))
    for codes, score in zip(all_codes, points[:2000].tolist(), strict=True):
        matches = [CODE.fullmatch(code) for code in codes]
        assert sum(int(m["cost"]) for m in matches if m is not None) == card.base_points - score
        assert all(m is not None for m in matches)


def test_scorecard__reasons_name_the_costliest_bins_first(card: Scorecard) -> None:
    risky = account(days_since_payment=115, months_on_book=2, region="south", income=None)
    (codes,) = card.reasons(risky, top=3)
    assert len(codes) == 3
    matches = [CODE.fullmatch(code) for code in codes]
    assert all(m is not None for m in matches)
    costs = [int(m["cost"]) for m in matches if m is not None]
    assert costs == sorted(costs, reverse=True)
    top_feature = max(
        card.bins, key=lambda f: f.best_points - f.bins[f.assign(risky[f.name])[0]].points
    )
    assert codes[0].startswith(f"{top_feature.name}: ")
    assert any(code.startswith("income: missing (−") for code in card.reasons(risky, top=4)[0])


def test_scorecard__codes_read_as_feature_bin_and_cost(card: Scorecard) -> None:
    (codes,) = card.reasons(account(days_since_payment=115), top=1)
    assert re.fullmatch(r"days_since_payment: \[[\d.]+, inf\) \(−\d+\)", codes[0])


def test_scorecard__a_value_on_a_split_point_belongs_to_the_upper_bin(card: Scorecard) -> None:
    income = next(f for f in card.bins if f.name == "income")
    split = income.splits[1]
    assert income.bins[2].label.startswith(f"[{split:.6g}, ")
    (points,) = card.contributions(account(income=split))["income"].to_list()
    assert points == income.bins[2].points


def test_scorecard__drops_a_feature_whose_evidence_the_regression_turns_around() -> None:
    # a and b both rise with the risk driver v, but given b, a higher a means a *lower* v:
    # the joint regression gives a a reversed coefficient, so a is dropped and b kept.
    rng = np.random.default_rng(3)
    u, v = rng.normal(size=(2, 20_000))
    y = (rng.random(20_000) < 1 / (1 + np.exp(1 - 2 * v))).astype(np.int64)
    features = pl.DataFrame({"a": u + 0.5 * v, "b": u + v})
    fitted = fit_scorecard(features, y, ScorecardConfig(min_iv=0.0))
    assert fitted.iv["b"] > 0.5
    assert fitted.features == ("b",)
    assert all(f.coefficient < 0 for f in fitted.bins)


# --- missing values and unseen categories ----------------------------------------------------


def test_scorecard__missing_values_have_their_own_bin(card: Scorecard) -> None:
    income = next(f for f in card.bins if f.name == "income")
    missing_bin = income.bins[income.missing_index]
    assert missing_bin.label == "missing"
    assert missing_bin.count > 1000
    (points,) = card.contributions(account(income=None))["income"].to_list()
    assert points == missing_bin.points
    assert card.points(account(income=float("nan")))[0] == card.points(account(income=None))[0]


def test_scorecard__unknown_values_score_like_the_worst_known_bin(card: Scorecard) -> None:
    region = next(f for f in card.bins if f.name == "region")
    worst = min(b.points for b in region.bins if b.count > 0)
    (unseen,) = card.contributions(account(region="atlantis"))["region"].to_list()
    (blank,) = card.contributions(account(region=None))["region"].to_list()
    assert unseen == blank == worst
    assert (
        f"region: other (−{region.best_points - worst})"
        in card.reasons(account(region="atlantis"), top=4)[0]
    )
    # Training had no missing days, so a missing value takes the riskiest days bin's points.
    (days,) = card.contributions(account(days_since_payment=None))["days_since_payment"]
    assert days == card.contributions(account(days_since_payment=119))["days_since_payment"][0]


# --- serialisation and reproducibility -------------------------------------------------------


def test_scorecard__json_round_trip_scores_identically(
    card: Scorecard, holdout: tuple[pl.DataFrame, np.ndarray]
) -> None:
    text = json.dumps(card.to_json())
    again = Scorecard.from_json(json.loads(text))
    assert again == card
    features = holdout[0]
    np.testing.assert_array_equal(again.points(features), card.points(features))
    assert again.reasons(features.head(100)) == card.reasons(features.head(100))
    assert again.table().equals(card.table())


def test_scorecard__json_is_plain_data(card: Scorecard) -> None:
    data = card.to_json()
    assert data["format"] == "recoup.scorecard/1"
    region = next(f for f in data["features"] if f["name"] == "region")
    assert sorted(c for group in region["categories"] for c in group) == sorted(REGION_EFFECT)
    assert [b["label"] for b in region["bins"]][-2:] == ["missing", "other"]


def test_scorecard__from_json_refuses_another_format_or_inconsistent_bins(card: Scorecard) -> None:
    with pytest.raises(ValueError, match="format"):
        Scorecard.from_json({**card.to_json(), "format": "something/2"})
    data = card.to_json()
    data["features"][0]["bins"] = data["features"][0]["bins"][:-1]
    with pytest.raises(ValueError, match="days_since_payment"):
        Scorecard.from_json(data)


def test_scorecard__same_data_and_seed_give_the_same_scorecard(
    card: Scorecard, train: tuple[pl.DataFrame, np.ndarray]
) -> None:
    features, y = train
    again = fit_scorecard(features, y, categorical=["region"], seed=7)
    assert again.table().equals(card.table())
    assert again.to_json() == card.to_json()


# --- configuration ---------------------------------------------------------------------------


def test_scorecard__max_features_keeps_the_highest_iv_in_input_order(
    train: tuple[pl.DataFrame, np.ndarray],
) -> None:
    features, y = train
    config = ScorecardConfig(max_features=2, base_score=500, pdo=40)
    small = fit_scorecard(features, y, config, categorical=["region"])
    assert small.features == ("days_since_payment", "months_on_book")
    assert small.config.base_score == 500


def test_scorecard__keeps_one_feature_when_none_reaches_min_iv(
    train: tuple[pl.DataFrame, np.ndarray],
) -> None:
    features, y = train
    single = fit_scorecard(features.head(5000), y[:5000], ScorecardConfig(min_iv=10.0), ("region",))
    assert single.features == ("days_since_payment",)


def test_scorecard__bins_respect_the_bin_limits(card: Scorecard) -> None:
    for feature in card.bins:
        regular = [b for b in feature.bins if b.label not in ("missing", "other")]
        assert len(regular) <= card.config.max_bins
        assert all(b.count >= 0.05 * 18_000 for b in regular), feature.name


def test_scorecard__config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="pdo"):
        ScorecardConfig(pdo=0)
    with pytest.raises(ValueError, match="max_bins"):
        ScorecardConfig(max_bins=1)


# --- refused inputs -------------------------------------------------------------------------


def test_fit__refuses_a_target_that_is_not_zero_or_one(
    train: tuple[pl.DataFrame, np.ndarray],
) -> None:
    features, y = train
    with pytest.raises(ValueError, match=r"target must hold only 0 \(good\) and 1 \(bad\)"):
        fit_scorecard(features, np.where(y == 1, 2, 0), categorical=["region"])


def test_fit__refuses_a_single_class_target(train: tuple[pl.DataFrame, np.ndarray]) -> None:
    features, y = train
    with pytest.raises(ValueError, match=r"target has a single class .*0 \(good\)"):
        fit_scorecard(features, np.zeros_like(y), categorical=["region"])


def test_fit__refuses_a_target_of_the_wrong_length(train: tuple[pl.DataFrame, np.ndarray]) -> None:
    features, y = train
    with pytest.raises(ValueError, match="target has 100 values but features has 20000 rows"):
        fit_scorecard(features, y[:100], categorical=["region"])


def test_fit__refuses_a_text_column_not_declared_categorical(
    train: tuple[pl.DataFrame, np.ndarray],
) -> None:
    features, y = train
    with pytest.raises(ValueError, match="column 'region' is String, not numeric"):
        fit_scorecard(features, y)
    with pytest.raises(ValueError, match="categorical columns not in features: \\['segment'\\]"):
        fit_scorecard(features, y, categorical=["region", "segment"])


def test_scoring__refuses_a_missing_or_retyped_column(card: Scorecard) -> None:
    with pytest.raises(ValueError, match=r"missing scorecard columns: \['income'\]"):
        card.points(account().drop("income"))
    retyped = account().with_columns(pl.col("months_on_book").cast(pl.String))
    with pytest.raises(ValueError, match="column 'months_on_book' is String, not numeric"):
        card.points(retyped)

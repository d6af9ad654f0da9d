import json

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from recoup.risk.challenger import (
    FORMAT,
    MIN_REASON,
    GbmModel,
    fit_gbm,
    platt,
    stratified_folds,
    stratified_split,
)

REGIONS = ("north", "south", "east", "west", "centre")
REGION_EFFECT = {"north": -0.6, "south": 0.0, "east": 0.3, "west": 0.8, "centre": -0.2}


def _accounts(rows: int, seed: int) -> tuple[pl.DataFrame, npt.NDArray[np.int64]]:
    """Synthetic accounts whose true log-odds of bad are known; about 20% are bad."""
    rng = np.random.default_rng(seed)
    dpd = rng.gamma(1.5, 10.0, rows)
    utilisation = rng.uniform(0.0, 1.2, rows)
    income = rng.lognormal(8.0, 0.5, rows)
    noise = rng.normal(size=rows)
    region = rng.choice(REGIONS, rows)
    channel = rng.integers(1, 4, rows)  # an integer code, used as a category
    logit = (
        -2.2
        + 0.05 * dpd
        + 1.2 * (utilisation > 0.8)
        - 0.4 * (np.log(income) - 8.0)
        + np.vectorize(REGION_EFFECT.__getitem__)(region)
        + 0.5 * (channel == 3)
    )
    bad = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    income_with_gaps = np.where(rng.random(rows) < 0.05, np.nan, income)
    frame = pl.DataFrame(
        {
            "dpd_worst_6m": dpd,
            "utilisation": utilisation,
            "income": income_with_gaps,
            "noise": noise,
            "region": region,
            "channel": channel,
        }
    )
    return frame, bad


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, npt.NDArray[np.int64]]:
    return _accounts(4000, seed=1)


@pytest.fixture(scope="module")
def model(data: tuple[pl.DataFrame, npt.NDArray[np.int64]]) -> GbmModel:
    frame, bad = data
    return fit_gbm(frame, bad, categorical=["channel"], seed=7)


def test_fit_gbm__same_seed_gives_identical_probabilities_and_json(
    data: tuple[pl.DataFrame, npt.NDArray[np.int64]], model: GbmModel
) -> None:
    frame, bad = data
    again = fit_gbm(frame, bad, categorical=["channel"], seed=7)
    assert np.array_equal(again.probability(frame), model.probability(frame))
    assert json.dumps(again.to_json()) == json.dumps(model.to_json())


def test_fit_gbm__another_seed_gives_another_model(
    data: tuple[pl.DataFrame, npt.NDArray[np.int64]], model: GbmModel
) -> None:
    frame, bad = data
    other = fit_gbm(frame, bad, categorical=["channel"], seed=8)
    assert not np.array_equal(other.probability(frame), model.probability(frame))


def test_fit_gbm__text_and_named_columns_are_categories_the_rest_numbers(
    model: GbmModel,
) -> None:
    kinds = {f.name: f.categories for f in model.feature_list}
    assert kinds["region"] == tuple(sorted(REGIONS))
    assert kinds["channel"] == ("1", "2", "3")
    assert kinds["income"] is None and kinds["dpd_worst_6m"] is None
    assert model.features == ("dpd_worst_6m", "utilisation", "income", "noise", "region", "channel")


def test_fit_gbm__stops_early_within_the_round_limit(model: GbmModel) -> None:
    assert 1 <= model.rounds < 300


def test_probability__ranks_and_is_calibrated_on_new_accounts(model: GbmModel) -> None:
    frame, bad = _accounts(8000, seed=2)
    p = model.probability(frame)
    assert ((p > 0) & (p < 1)).all()
    assert abs(p.mean() - bad.mean()) < 0.02
    # by fifths of predicted risk, predicted and observed bad rates agree
    order = np.argsort(p, kind="stable")
    for part in np.array_split(order, 5):
        assert abs(p[part].mean() - bad[part].mean()) < 0.05
    ranks = np.argsort(np.argsort(p)) + 1
    auc = (ranks[bad == 1].sum() - bad.sum() * (bad.sum() + 1) / 2) / (
        bad.sum() * (len(bad) - bad.sum())
    )
    assert auc > 0.7


def test_contributions__plus_the_base_add_up_to_the_raw_score(
    data: tuple[pl.DataFrame, npt.NDArray[np.int64]], model: GbmModel
) -> None:
    frame, _ = data
    values, base = model.contributions(frame)
    assert values.shape == (frame.height, len(model.features))
    np.testing.assert_allclose(values.sum(axis=1) + base, model.raw_score(frame), atol=1e-9)
    calibrated_logit = model.slope * model.raw_score(frame) + model.intercept
    np.testing.assert_allclose(
        model.probability(frame), 1.0 / (1.0 + np.exp(-calibrated_logit)), rtol=1e-12
    )


def test_contributions__of_no_rows_still_give_the_base(
    data: tuple[pl.DataFrame, npt.NDArray[np.int64]], model: GbmModel
) -> None:
    frame, _ = data
    values, base = model.contributions(frame.head(0))
    assert values.shape == (0, 6)
    assert base == model.contributions(frame.head(1))[1]
    assert model.probability(frame.head(0)).shape == (0,)


def test_reasons__name_the_features_raising_the_risk_most(
    data: tuple[pl.DataFrame, npt.NDArray[np.int64]], model: GbmModel
) -> None:
    frame, _ = data
    rows = frame.head(300)
    values, _ = model.contributions(rows)
    reasons = model.reasons(rows, top=3)
    assert len(reasons) == 300
    for row, given in zip(values, reasons, strict=True):
        # the slow, obvious version: sort by contribution, keep the positive ones
        ranked = sorted(range(len(row)), key=lambda c: (-row[c], c))[:3]
        expected = tuple(
            f"{model.features[c]} ({row[c]:+.2f})" for c in ranked if row[c] >= MIN_REASON
        )
        assert given == expected


def test_reasons__the_riskiest_account_is_explained_by_its_arrears(model: GbmModel) -> None:
    account = pl.DataFrame(
        {
            "dpd_worst_6m": [90.0],
            "utilisation": [0.5],
            "income": [float(np.exp(8.0))],
            "noise": [0.0],
            "region": ["south"],
            "channel": [2],
        }
    )
    (reasons,) = model.reasons(account, top=2)
    assert reasons[0].startswith("dpd_worst_6m (+")
    assert len(reasons) <= 2


def test_reasons__refuse_a_top_below_one(model: GbmModel) -> None:
    with pytest.raises(ValueError, match="top must be at least 1"):
        model.reasons(pl.DataFrame(), top=0)


def test_scoring__unseen_and_empty_categories_count_as_missing(
    data: tuple[pl.DataFrame, npt.NDArray[np.int64]], model: GbmModel
) -> None:
    frame, _ = data
    rows = frame.head(20)
    unseen = rows.with_columns(pl.lit("atlantis").alias("region"))
    empty = rows.with_columns(pl.lit(None, pl.String).alias("region"))
    assert np.array_equal(model.probability(unseen), model.probability(empty))


def test_scoring__ignores_extra_columns_and_names_a_missing_one(
    data: tuple[pl.DataFrame, npt.NDArray[np.int64]], model: GbmModel
) -> None:
    frame, _ = data
    rows = frame.head(10)
    reordered = rows.select(reversed(rows.columns)).with_columns(pl.lit(1).alias("extra"))
    assert np.array_equal(model.probability(reordered), model.probability(rows))
    with pytest.raises(ValueError, match="no column 'utilisation'"):
        model.probability(rows.drop("utilisation"))


def test_to_json__round_trip_gives_identical_probabilities(
    data: tuple[pl.DataFrame, npt.NDArray[np.int64]], model: GbmModel
) -> None:
    frame, _ = data
    document = json.loads(json.dumps(model.to_json()))
    assert document["format"] == FORMAT
    assert document["calibration"]["method"] == "platt"
    restored = GbmModel.from_json(document)
    assert np.array_equal(restored.probability(frame), model.probability(frame))
    assert restored.reasons(frame.head(50)) == model.reasons(frame.head(50))
    assert json.dumps(restored.to_json()) == json.dumps(model.to_json())


def test_from_json__refuses_another_document() -> None:
    with pytest.raises(ValueError, match="not a LightGBM challenger document"):
        GbmModel.from_json({"format": "recoup.scorecard/1"})
    with pytest.raises(ValueError, match="'booster' is missing"):
        GbmModel.from_json(
            {
                "format": FORMAT,
                "features": [],
                "calibration": {"method": "platt", "slope": 1, "intercept": 0},
            }
        )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (np.full(200, 0), "at least 5 of each"),
        (np.r_[np.zeros(100), np.full(100, 2)], "value 2.0 is neither 0"),
        (np.r_[np.zeros(100), np.full(99, 1), np.nan], "missing"),
        (np.zeros(199), "expected 200 values"),
    ],
)
def test_fit_gbm__refuses_a_target_it_cannot_learn(
    target: npt.NDArray[np.float64], message: str
) -> None:
    frame = pl.DataFrame({"x": np.arange(200, dtype=np.float64)})
    with pytest.raises(ValueError, match=message):
        fit_gbm(frame, target)


def test_fit_gbm__refuses_an_unknown_categorical_column(
    data: tuple[pl.DataFrame, npt.NDArray[np.int64]],
) -> None:
    frame, bad = data
    with pytest.raises(ValueError, match="categorical column 'colour'"):
        fit_gbm(frame, bad, categorical=["colour"])


def test_stratified_split__draws_the_share_of_each_class_reproducibly() -> None:
    target = np.r_[np.zeros(700), np.ones(300)].astype(np.int64)
    kept, drawn = stratified_split(target, 0.3, seed=7)
    assert len(drawn) == 300 and target[drawn].sum() == 90
    assert sorted(np.r_[kept, drawn].tolist()) == list(range(1000))
    again_kept, again_drawn = stratified_split(target, 0.3, seed=7)
    assert np.array_equal(again_drawn, drawn) and np.array_equal(again_kept, kept)
    assert not np.array_equal(stratified_split(target, 0.3, seed=8)[1], drawn)


def test_platt__recovers_a_known_slope_and_intercept() -> None:
    rng = np.random.default_rng(3)
    raw = rng.normal(0.0, 2.0, 40_000)
    target = (rng.random(raw.size) < 1.0 / (1.0 + np.exp(-(0.7 * raw - 0.3)))).astype(np.int64)
    slope, intercept = platt(raw, target)
    assert slope == pytest.approx(0.7, abs=0.03)
    assert intercept == pytest.approx(-0.3, abs=0.03)


def test_platt__stays_finite_when_the_scores_separate_the_classes() -> None:
    raw = np.r_[np.linspace(-3, -1, 50), np.linspace(1, 3, 50)]
    target = np.r_[np.zeros(50), np.ones(50)].astype(np.int64)
    slope, intercept = platt(raw, target)
    assert np.isfinite(slope) and np.isfinite(intercept) and slope > 0


def test_stratified_folds__deal_each_class_evenly_and_reproducibly() -> None:
    target = np.r_[np.zeros(703), np.ones(297)].astype(np.int64)
    folds = stratified_folds(target, 5, seed=7)
    bads = np.bincount(folds[target == 1], minlength=5)
    goods = np.bincount(folds[target == 0], minlength=5)
    assert bads.max() - bads.min() <= 1 and goods.max() - goods.min() <= 1
    assert np.array_equal(stratified_folds(target, 5, seed=7), folds)
    assert not np.array_equal(stratified_folds(target, 5, seed=8), folds)

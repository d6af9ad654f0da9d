"""Model measures: hand-worked cases, and agreement with scikit-learn and SciPy on random data."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from recoup.risk import (
    PSI_SHARE_FLOOR,
    auc,
    calibration_by_band,
    gini,
    ks,
    ks_curve,
    psi,
    psi_categorical,
    roc_curve,
)


def _random_case(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(np.int64)
    # Rounded scores, so that many bads and goods tie.
    p = np.round(rng.random(n) * 0.6 + 0.3 * y, 2)
    return y, p


def test_auc__counts_the_share_of_bad_good_pairs_ordered_correctly() -> None:
    # Pairs (bad, good): (0.35, 0.1) right, (0.35, 0.4) wrong, (0.8, 0.1) right, (0.8, 0.4) right.
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_auc__counts_a_tied_pair_as_one_half() -> None:
    # Bads {0.5, 0.9}, goods {0.5, 0.2}: 0.5 + 1 + 1 + 1 of 4 pairs.
    assert auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(0.875)
    assert auc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]) == pytest.approx(0.5)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_auc__agrees_with_sklearn_on_random_tied_scores(seed: int) -> None:
    y, p = _random_case(seed)
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_gini__is_two_auc_minus_one() -> None:
    y, p = _random_case(4)
    assert gini(y, p) == pytest.approx(2 * roc_auc_score(y, p) - 1, abs=1e-12)
    assert gini([0, 0, 1, 1], [1, 2, 3, 4]) == pytest.approx(1.0)
    assert gini([0, 0, 1, 1], [4, 3, 2, 1]) == pytest.approx(-1.0)


def test_ks__is_the_largest_gap_between_the_bad_and_good_cdfs() -> None:
    # Scores 1..4 for good, bad, good, bad: at 1 the goods' CDF is 0.5 and the bads' 0;
    # at 2 both are 0.5; at 3 goods 1, bads 0.5. The largest gap is 0.5.
    assert ks([0, 1, 0, 1], [1, 2, 3, 4]) == pytest.approx(0.5)
    assert ks([0, 0, 0, 1, 1, 1], [1, 2, 3, 4, 5, 6]) == pytest.approx(1.0)
    assert ks([0, 1, 0, 1], [7, 7, 7, 7]) == pytest.approx(0.0)


@pytest.mark.parametrize("seed", [5, 6])
def test_ks__agrees_with_the_two_sample_ks_statistic(seed: int) -> None:
    y, p = _random_case(seed)
    expected = ks_2samp(p[y == 1], p[y == 0]).statistic
    assert ks(y, p) == pytest.approx(expected, abs=1e-12)


def test_ks_curve__gives_both_cdfs_at_each_distinct_score() -> None:
    thresholds, bad_cdf, good_cdf = ks_curve([0, 1, 0, 1, 1], [1, 2, 2, 3, 3])
    assert thresholds.tolist() == [1, 2, 3]
    assert bad_cdf.tolist() == pytest.approx([0.0, 1 / 3, 1.0])
    assert good_cdf.tolist() == pytest.approx([0.5, 1.0, 1.0])


def test_roc_curve__matches_sklearn_with_every_threshold_kept() -> None:
    y, p = _random_case(7)
    fpr, tpr = roc_curve(y, p)
    sk_fpr, sk_tpr, _ = sk_roc_curve(y, p, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, atol=1e-12)
    # The area under the plotted curve is the AUC.
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(auc(y, p), abs=1e-12)


def test_roc_curve__runs_from_origin_to_one_one() -> None:
    fpr, tpr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert fpr.tolist() == pytest.approx([0.0, 0.0, 0.5, 0.5, 1.0])
    assert tpr.tolist() == pytest.approx([0.0, 0.5, 0.5, 1.0, 1.0])


def test_psi__is_zero_for_identical_samples() -> None:
    sample = np.random.default_rng(8).normal(size=5000)
    assert psi(sample, sample) == pytest.approx(0.0, abs=1e-12)
    assert psi(sample, sample.copy()[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_psi__grows_with_the_shift_of_the_actual_sample() -> None:
    rng = np.random.default_rng(9)
    expected = rng.normal(size=20_000)
    fresh = rng.normal(size=20_000)
    values = [psi(expected, fresh + shift) for shift in (0.0, 0.1, 0.3, 0.6, 1.0)]
    assert values == sorted(values)
    assert values[0] < 0.01  # sampling noise only
    assert values[-1] > 0.25  # a clear shift by the usual reading


def test_psi__uses_the_expected_quantiles_and_floors_empty_bins() -> None:
    # Two bins split at the expected median 49.5; every actual value falls below it.
    expected = np.arange(100, dtype=float)
    actual = np.full(50, 10.0)
    floor = PSI_SHARE_FLOOR
    hand = (1.0 - 0.5) * math.log(1.0 / 0.5) + (floor - 0.5) * math.log(floor / 0.5)
    assert psi(expected, actual, bins=2) == pytest.approx(hand)


def test_psi__counts_a_change_in_the_missing_rate_as_drift() -> None:
    rng = np.random.default_rng(10)
    expected = rng.normal(size=10_000)
    actual = expected.copy()
    actual[:3000] = np.nan
    assert psi(expected, actual) > 0.1


def test_psi__refuses_empty_samples_and_too_few_bins() -> None:
    with pytest.raises(ValueError, match="bins"):
        psi([1.0, 2.0], [1.0], bins=1)
    with pytest.raises(ValueError, match="non-empty"):
        psi([], [1.0])


def test_psi_categorical__compares_category_shares() -> None:
    assert psi_categorical(["a", "b", "a"], ["b", "a", "a"]) == pytest.approx(0.0)
    # Shares (0.5, 0.5) against (0.75, 0.25): 0.25·ln 1.5 − 0.25·ln 0.5 = 0.25·ln 3.
    hand = 0.25 * math.log(3.0)
    assert psi_categorical(["a", "a", "b", "b"], ["a", "a", "a", "b"]) == pytest.approx(hand)


def test_psi_categorical__floors_a_category_new_in_the_actual_sample() -> None:
    floor = PSI_SHARE_FLOOR
    hand = (0.5 - 1.0) * math.log(0.5) + (0.5 - floor) * math.log(0.5 / floor)
    assert psi_categorical(["a", "a"], ["a", None]) == pytest.approx(hand)


def test_calibration_by_band__sets_mean_prediction_beside_observed_rate() -> None:
    p = [0.9, 0.1, 0.2, 0.8, 0.3, 0.7]
    y = [1, 0, 1, 1, 0, 0]
    table = calibration_by_band(y, p, bands=2)
    assert table.columns == ["band", "count", "mean_predicted", "observed_bad_rate"]
    assert table["band"].to_list() == [1, 2]
    assert table["count"].to_list() == [3, 3]
    # Band 1 holds 0.1, 0.2, 0.3 (outcomes 0, 1, 0); band 2 holds 0.7, 0.8, 0.9 (0, 1, 1).
    assert table["mean_predicted"].to_list() == pytest.approx([0.2, 0.8])
    assert table["observed_bad_rate"].to_list() == pytest.approx([1 / 3, 2 / 3])


def test_calibration_by_band__makes_equal_count_bands_and_keeps_every_account() -> None:
    y, p = _random_case(11, n=1003)
    table = calibration_by_band(y, p / p.max())
    assert isinstance(table, pl.DataFrame)
    assert table["count"].sum() == 1003
    assert table["count"].max() - table["count"].min() <= 1
    assert table["mean_predicted"].to_list() == sorted(table["mean_predicted"].to_list())
    overall = float((table["observed_bad_rate"] * table["count"]).sum()) / 1003
    assert overall == pytest.approx(y.mean())


def test_metrics__refuse_a_single_class_naming_it() -> None:
    with pytest.raises(ValueError, match=r"single class .*0 \(good\)"):
        auc([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"single class .*1 \(bad\)"):
        ks([1, 1], [0.1, 0.2])
    for measure in (gini, roc_curve, ks_curve):
        with pytest.raises(ValueError, match="single class"):
            measure([1, 1], [0.1, 0.2])


def test_metrics__refuse_mismatched_lengths_and_bad_inputs() -> None:
    with pytest.raises(ValueError, match="y has 3 values but p has 2"):
        auc([0, 1, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="y has 2 values but p has 3"):
        calibration_by_band([0, 1], [0.1, 0.2, 0.3], bands=1)
    with pytest.raises(ValueError, match=r"only 0 \(good\) and 1 \(bad\); found \[2.0\]"):
        auc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="missing or infinite"):
        auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="bands"):
        calibration_by_band([0, 1], [0.1, 0.2], bands=3)


def test_calibration_by_band__accepts_a_segment_without_bads() -> None:
    table = calibration_by_band([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], bands=2)
    assert table["observed_bad_rate"].to_list() == [0.0, 0.0]

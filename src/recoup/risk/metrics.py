"""Measures of a risk model: AUC, Gini, KS, ROC and KS curves, PSI and calibration by band.

These are the figures a risk team and a regulator read on a model card (see the "Models" part
of the domain reference). They are computed here in plain numpy, so that the numbers do not
depend on which modelling library produced the scores, and so that each definition is written
down once:

- **AUC** is the probability that a randomly chosen bad is scored riskier than a randomly chosen
  good, counting ties as one half. It is computed from the Mann-Whitney statistic with
  *average* ranks, which is exactly that tie rule, in ``O(n log n)``.
- **Gini** (accuracy ratio) is ``2·AUC − 1``.
- **KS** is the largest vertical distance between the cumulative score distributions of bads and
  goods, evaluated at every distinct score (a tie group is never split).
- **PSI** (population stability index) compares a current sample with the sample a model was
  built on: ``Σ (a − e)·ln(a / e)`` over bins, where ``e`` and ``a`` are the shares of the
  expected and actual samples in each bin. The usual reading: below 0.1 stable, 0.1–0.25 worth a
  look, above 0.25 a shift.
- **Calibration by band** puts accounts into equal-count bands of predicted risk and sets the mean
  predicted probability of each band beside its observed bad rate.

Conventions: ``y`` holds 1 for a bad (the event the model predicts) and 0 for a good; ``p`` is
a risk score where *higher means riskier*, such as a probability of bad. A scorecard's points go
the other way (higher is safer), so pass ``-points`` or the scorecard's probability.

Pure: numpy and Polars only, no model library, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]

#: The smallest share a PSI bin may have. An empty bin would make ``ln(a / e)`` infinite; with
#: this floor an emptied bin still adds a large, finite term (for a bin that held 10% of the
#: expected sample and none of the actual one: ``0.1 · ln(0.1 / 0.0001) ≈ 0.69``).
PSI_SHARE_FLOOR = 1e-4


def _labels(y: npt.ArrayLike, name: str = "y") -> npt.NDArray[np.int64]:
    """``y`` as a 1-D array of 0/1 integers, or a ValueError that says what is wrong."""
    array = np.asarray(y)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype == np.bool_:
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must hold 0 (good) and 1 (bad), got dtype {array.dtype}")
    values = array.astype(np.float64)
    if not np.all((values == 0.0) | (values == 1.0)):
        found = np.unique(values[(values != 0.0) & (values != 1.0)])[:5]
        raise ValueError(f"{name} must hold only 0 (good) and 1 (bad); found {found.tolist()}")
    return values.astype(np.int64)


def _scores(p: npt.ArrayLike, name: str = "p") -> FloatArray:
    array = np.asarray(p, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{name} has {int(np.sum(~np.isfinite(array)))} missing or infinite values"
        )
    return array


def _pair(
    y: npt.ArrayLike, p: npt.ArrayLike, *, both_classes: bool = True
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Validate outcomes and scores together: same length, 0/1 outcomes, and both classes."""
    labels = _labels(y)
    scores = _scores(p)
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(f"y has {labels.shape[0]} values but p has {scores.shape[0]}")
    if labels.shape[0] == 0:
        raise ValueError("y and p are empty")
    if both_classes:
        bads = int(labels.sum())
        if bads == 0 or bads == labels.shape[0]:
            only = "1 (bad)" if bads else "0 (good)"
            raise ValueError(
                f"y has a single class (every value is {only}); "
                "the measure needs both bads and goods"
            )
    return labels, scores


def _average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks, tied values sharing the mean of the ranks they span."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts).astype(np.float64)
    # A tie group occupying ranks s..e (1-based) gets (s + e) / 2 = e − (count − 1) / 2.
    return (ends - (counts - 1) / 2.0)[inverse]


def auc(y_bad: npt.ArrayLike, p_bad: npt.ArrayLike) -> float:
    """Area under the ROC curve: P(a bad scores riskier than a good), ties counting one half.

    Args:
        y_bad: 1 for a bad, 0 for a good.
        p_bad: risk scores, higher meaning riskier.

    Raises:
        ValueError: lengths differ, ``y_bad`` is not 0/1, has a single class, or ``p_bad`` has
            missing values.
    """
    labels, scores = _pair(y_bad, p_bad)
    ranks = _average_ranks(scores)
    n_bad = float(labels.sum())
    n_good = float(labels.shape[0]) - n_bad
    rank_sum = float(ranks[labels == 1].sum())
    return (rank_sum - n_bad * (n_bad + 1.0) / 2.0) / (n_bad * n_good)


def gini(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Gini coefficient (accuracy ratio), ``2·AUC − 1``: 0 for a random score, 1 for perfect."""
    return 2.0 * auc(y, p) - 1.0


def _cumulative_by_threshold(
    labels: npt.NDArray[np.int64], scores: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Distinct scores ascending, and the bad and good counts at each score."""
    thresholds, inverse = np.unique(scores, return_inverse=True)
    bads = np.bincount(inverse, weights=labels, minlength=thresholds.size).astype(np.float64)
    totals = np.bincount(inverse, minlength=thresholds.size).astype(np.float64)
    return thresholds.astype(np.float64), bads, totals - bads


def ks_curve(y: npt.ArrayLike, p: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The two cumulative distributions whose largest gap is the KS statistic, for plotting.

    Returns:
        ``(thresholds, bad_cdf, good_cdf)``: the distinct scores ascending, and for each the
        share of bads and the share of goods scoring at or below it. Both distributions end at 1.
    """
    labels, scores = _pair(y, p)
    thresholds, bads, goods = _cumulative_by_threshold(labels, scores)
    return thresholds, np.cumsum(bads) / bads.sum(), np.cumsum(goods) / goods.sum()


def ks(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Kolmogorov-Smirnov statistic: the largest gap between the bads' and goods' score CDFs.

    Between 0 (the score does not separate) and 1 (a threshold separates perfectly). The gap is
    taken in absolute value, so a score that runs the wrong way still shows its separation.
    """
    _, bad_cdf, good_cdf = ks_curve(y, p)
    return float(np.max(np.abs(good_cdf - bad_cdf)))


def roc_curve(y: npt.ArrayLike, p: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The ROC curve, one point per distinct score (all ties crossed at once), for plotting.

    Returns:
        ``(fpr, tpr)``: for each threshold from the highest score down, the share of goods and
        the share of bads scoring at or above it, starting at ``(0, 0)`` and ending at ``(1, 1)``.
    """
    labels, scores = _pair(y, p)
    _, bads, goods = _cumulative_by_threshold(labels, scores)
    # Walk thresholds from the riskiest score down: each step flags everyone at that score.
    tpr = np.concatenate(([0.0], np.cumsum(bads[::-1]) / bads.sum()))
    fpr = np.concatenate(([0.0], np.cumsum(goods[::-1]) / goods.sum()))
    return fpr, tpr


def psi_from_shares(expected: FloatArray, actual: FloatArray) -> float:
    """PSI of two distributions given as shares of the same bins (floored, see PSI_SHARE_FLOOR)."""
    e = np.maximum(expected, PSI_SHARE_FLOOR)
    a = np.maximum(actual, PSI_SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(expected: npt.ArrayLike, actual: npt.ArrayLike, bins: int = 10) -> float:
    """Population stability index of a numeric variable (a score, a feature) between two samples.

    The bins are the quantiles of the *expected* sample (the one the model was built on), so each
    holds about ``1/bins`` of it; where quantiles coincide (many tied values) the bins merge, so
    there may be fewer than ``bins``. Bins are closed on the left, ``[q_i, q_i+1)``. Missing
    values (NaN) form one more bin, so a change in the missing rate counts as drift. Bin shares
    below :data:`PSI_SHARE_FLOOR` are raised to it so that an empty bin gives a finite index.

    Args:
        expected: the reference sample.
        actual: the sample to compare with it.
        bins: the number of quantile bins (at least 2).

    Returns:
        ``Σ (a − e)·ln(a / e)``: 0 for identical distributions, growing with the shift.
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    e_values = np.asarray(expected, dtype=np.float64).ravel()
    a_values = np.asarray(actual, dtype=np.float64).ravel()
    if e_values.size == 0 or a_values.size == 0:
        raise ValueError("psi needs a non-empty expected and actual sample")
    e_missing = np.isnan(e_values)
    if bool(e_missing.all()):
        raise ValueError("the expected sample has no values that are not missing (NaN)")
    a_missing = np.isnan(a_values)
    present = e_values[~e_missing]
    edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    # Bin k holds values in [edges[k-1], edges[k]); the NaN bin is the last one.
    n_bins = edges.size + 2

    def shares(values: FloatArray, missing: npt.NDArray[np.bool_]) -> FloatArray:
        index = np.where(missing, n_bins - 1, np.searchsorted(edges, values, side="right"))
        return np.bincount(index, minlength=n_bins) / values.size

    return psi_from_shares(shares(e_values, e_missing), shares(a_values, a_missing))


def psi_categorical(expected: Iterable[Hashable], actual: Iterable[Hashable]) -> float:
    """Population stability index of a categorical variable: one bin per category.

    Categories found in only one sample get the share floor (:data:`PSI_SHARE_FLOOR`) in the
    other; ``None`` is a category of its own (a change in the missing rate is drift).
    """
    e_counts = Counter(expected)
    a_counts = Counter(actual)
    e_total = sum(e_counts.values())
    a_total = sum(a_counts.values())
    if e_total == 0 or a_total == 0:
        raise ValueError("psi_categorical needs a non-empty expected and actual sample")
    # A fixed order makes the floating-point sum the same from run to run.
    categories = sorted(set(e_counts) | set(a_counts), key=lambda c: (type(c).__name__, str(c)))
    e_shares = np.array([e_counts.get(c, 0) / e_total for c in categories], dtype=np.float64)
    a_shares = np.array([a_counts.get(c, 0) / a_total for c in categories], dtype=np.float64)
    return psi_from_shares(e_shares, a_shares)


def calibration_by_band(y: npt.ArrayLike, p: npt.ArrayLike, bands: int = 10) -> pl.DataFrame:
    """Predicted against observed bad rate in equal-count bands of predicted risk.

    Accounts are sorted by ``p`` (ties kept in input order) and cut into ``bands`` groups whose
    sizes differ by at most one, so every band has enough accounts to read; band 1 holds the
    lowest predicted risk. A tie group may straddle two bands, which keeps the bands equal in
    size; each band's mean prediction is still exact. A single-class ``y`` is allowed here (a
    segment with no bads is a result, not an error).

    Args:
        y: 1 for a bad, 0 for a good.
        p: predicted probability of bad.
        bands: the number of bands, at most the number of accounts.

    Returns:
        Columns ``band`` (1..bands), ``count``, ``mean_predicted``, ``observed_bad_rate``.
    """
    labels, scores = _pair(y, p, both_classes=False)
    n = labels.shape[0]
    if bands < 1 or bands > n:
        raise ValueError(f"bands must be between 1 and the number of accounts ({n}), got {bands}")
    order = np.argsort(scores, kind="stable")
    band_of_position = (np.arange(n, dtype=np.int64) * bands) // n
    counts = np.bincount(band_of_position, minlength=bands)
    predicted = np.bincount(band_of_position, weights=scores[order], minlength=bands)
    bads = np.bincount(band_of_position, weights=labels[order].astype(np.float64), minlength=bands)
    return pl.DataFrame(
        {
            "band": np.arange(1, bands + 1, dtype=np.int64),
            "count": counts.astype(np.int64),
            "mean_predicted": predicted / counts,
            "observed_bad_rate": bads / counts,
        }
    )

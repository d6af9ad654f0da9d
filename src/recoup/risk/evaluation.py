"""What is measured of a trained model and kept with it in the registry.

For each split (train, validation, test: out of time) the rows, bad rate, AUC, Gini and KS;
for the test split the curves the model card draws (ROC and KS, thinned to about a hundred
points), calibration by band and the score distribution; the most frequent reason codes;
the PSI of every feature and of the score, test against training; and the *reference* of
every feature and of the score on the training sample, which ``recoup model monitor``
measures later populations against (:mod:`recoup.risk.drift`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from recoup.risk import drift
from recoup.risk.metrics import auc, calibration_by_band, gini, ks, ks_curve, roc_curve

CURVE_POINTS = 101


def split_measures(y: npt.ArrayLike, p: npt.ArrayLike) -> dict[str, float | int]:
    labels = np.asarray(y, dtype=np.int64)
    return {
        "rows": int(labels.size),
        "bad_rate": round(float(labels.mean()), 4) if labels.size else 0.0,
        "auc": round(auc(labels, p), 4),
        "gini": round(gini(labels, p), 4),
        "ks": round(ks(labels, p), 4),
    }


def _thin(values: npt.NDArray[np.float64], points: int = CURVE_POINTS) -> list[float]:
    if values.size <= points:
        return [round(float(v), 4) for v in values]
    index = np.linspace(0, values.size - 1, points).round().astype(np.int64)
    return [round(float(v), 4) for v in values[index]]


def card_curves(y: npt.ArrayLike, p: npt.ArrayLike, score: npt.ArrayLike) -> dict[str, Any]:
    fpr, tpr = roc_curve(y, p)
    _, bad_cdf, good_cdf = ks_curve(y, -np.asarray(p, dtype=np.float64))  # riskiest first
    share = np.linspace(0.0, 1.0, bad_cdf.size)
    values = np.asarray(score, dtype=np.float64)
    histogram, edges = np.histogram(values, bins=20)
    return {
        "fpr": _thin(fpr),
        "tpr": _thin(tpr),
        "ks_share": _thin(share),
        "ks_bads": _thin(bad_cdf),
        "ks_goods": _thin(good_cdf),
        "histogram": [int(h) for h in histogram],
        "histogram_edges": [round(float(e), 4) for e in edges],
    }


def calibration(y: npt.ArrayLike, p: npt.ArrayLike, bands: int = 10) -> dict[str, list[Any]]:
    table = calibration_by_band(y, p, bands=min(bands, np.asarray(y).size))
    return {
        "count": [int(v) for v in table["count"].to_list()],
        "predicted": [round(float(v), 4) for v in table["mean_predicted"].to_list()],
        "observed": [round(float(v), 4) for v in table["observed_bad_rate"].to_list()],
    }


def top_reasons(reasons: Sequence[Sequence[str]], top: int = 10) -> list[dict[str, Any]]:
    """The most frequent first reason codes, counted by feature (the part before ':' or ' (')."""
    counts: Counter[str] = Counter()
    for codes in reasons:
        if codes:
            counts[codes[0].split(":")[0].split(" (")[0]] += 1
    return [{"reason": name, "count": n} for name, n in counts.most_common(top)]


def references(train: pl.DataFrame, score: npt.ArrayLike) -> dict[str, Any]:
    refs = {name: drift.reference(train.get_column(name)) for name in train.columns}
    refs["(score)"] = drift.reference(pl.Series("(score)", np.asarray(score, dtype=np.float64)))
    return refs


def stability(
    refs: Mapping[str, Any], frame: pl.DataFrame, score: npt.ArrayLike
) -> dict[str, float]:
    psi = {
        name: round(drift.stability(refs[name], frame.get_column(name)), 4)
        for name in frame.columns
        if name in refs
    }
    psi["(score)"] = round(
        drift.stability(refs["(score)"], pl.Series("(score)", np.asarray(score, dtype=np.float64))),
        4,
    )
    return psi

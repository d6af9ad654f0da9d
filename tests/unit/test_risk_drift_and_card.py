"""Population stability against a stored reference, and the HTML model card."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recoup.risk import drift
from recoup.risk.evaluation import calibration, card_curves, split_measures, top_reasons
from recoup.risk.report import model_card


def _normal(seed: int, shift: float = 0.0, n: int = 20_000) -> pl.Series:
    return pl.Series("x", np.random.default_rng(seed).normal(shift, 1.0, n))


def test_drift__the_same_population_is_stable_and_a_shifted_one_drifts() -> None:
    ref = drift.reference(_normal(1))
    same = drift.stability(ref, _normal(2))
    shifted = drift.stability(ref, _normal(3, shift=1.0))
    assert same < 0.01
    assert shifted > drift.DRIFT
    assert (drift.verdict(same), drift.verdict(shifted)) == ("stable", "drift")
    assert drift.verdict(0.10) == "stable" and drift.verdict(0.11) == "watch"


def test_drift__missing_values_and_new_categories_count() -> None:
    values = pl.Series("x", [1.0, 2.0, 3.0, None] * 1000)
    ref = drift.reference(values)
    assert ref["missing"] == pytest.approx(0.25)
    more_missing = pl.Series("x", [1.0, None, None, None] * 1000)
    assert drift.stability(ref, more_missing) > drift.DRIFT

    cities = drift.reference(pl.Series("city", ["a", "b"] * 500))
    assert drift.stability(cities, pl.Series("city", ["a", "b"] * 500)) == pytest.approx(0.0)
    assert drift.stability(cities, pl.Series("city", ["a", "c"] * 500)) > drift.DRIFT


def _metrics() -> dict[str, object]:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 2_000)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 2_000), 0, 1)
    split = split_measures(y, p)
    return {
        "target": "cures within 30 days",
        "splits": {"train": split, "validation": split, "test": split},
        "test_curves": card_curves(y, p, 600 - 100 * p),
        "calibration": calibration(y, p),
        "top_reasons": top_reasons([("dpd_now: [30, 60) (-35)",), ("balance (+0.4)",)] * 3),
        "psi": {"dpd_now": 0.31, "balance": 0.02},
        "scorecard_table": [{"feature": "dpd_now", "bin": "[30, 60)", "points": -35}],
    }


def test_model_card__is_one_self_contained_page_with_the_measures_and_flags() -> None:
    metrics = _metrics()
    page = model_card(
        {
            "model_id": "collection-scorecard-v1",
            "kind": "collection",
            "family": "scorecard",
            "status": "champion",
            "trained_at": "2026-11-29T04:00:00+00:00",
            "as_of": "2026-11-28",
            "data_fingerprint": "ab" * 32,
            "features": ["dpd_now", "<balance>"],
            "libraries": {"lightgbm": "4.7.0"},
            "metrics": metrics,
        }
    )
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert page.count("<svg") == 4  # ROC, KS, calibration, score distribution
    auc = metrics["splits"]["test"]["auc"]  # type: ignore[index]
    assert f"{auc:.3f}" in page
    assert "&lt;balance&gt;" in page  # names are escaped
    assert "drift" in page and "dpd_now" in page
    assert "Scorecard" in page and "[30, 60)" in page


def test_evaluation__split_measures_match_the_metrics() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    measures = split_measures(y, p)
    assert measures == {"rows": 4, "bad_rate": 0.5, "auc": 0.75, "gini": 0.5, "ks": 0.5}

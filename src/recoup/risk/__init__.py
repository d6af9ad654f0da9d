"""Risk models (数据分析与风控模型): who is likely to pay, cure or roll, and how well we know it.

The package covers point-in-time features, targets, points scorecards and a gradient-boosting
challenger, the measures a model card reports, and risk grades.

- ``scorecard``: weight-of-evidence bins, logistic regression, points and reason codes, fitted
  once and then applied as a plain table (JSON), vectorised.
- ``metrics``: AUC, Gini, KS, ROC and KS curves, PSI and calibration by band.

Pure computation: data in, data out; no store, no files, no clock.
"""

from recoup.risk.metrics import (
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
from recoup.risk.scorecard import (
    FeatureBins,
    FeatureKind,
    ScoreBin,
    Scorecard,
    ScorecardConfig,
    fit_scorecard,
)

__all__ = [
    "PSI_SHARE_FLOOR",
    "FeatureBins",
    "FeatureKind",
    "ScoreBin",
    "Scorecard",
    "ScorecardConfig",
    "auc",
    "calibration_by_band",
    "fit_scorecard",
    "gini",
    "ks",
    "ks_curve",
    "psi",
    "psi_categorical",
    "roc_curve",
]

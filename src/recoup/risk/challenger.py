"""The challenger model: gradient-boosted trees (LightGBM) with calibrated probabilities and
reason codes from exact tree SHAP values.

The scorecard is the champion a risk team can read line by line; the challenger shows how much
ranking power the scorecard leaves on the table (interactions, non-monotone effects). Its
parts, and why:

* **Training.** A LightGBM binary classifier with small-data defaults (`DEFAULT_PARAMS`: shallow
  trees of 15 leaves, learning rate 0.05, at least 20 rows per leaf, 80% of the features per
  tree, a little L2 shrinkage), grown in two stages:

  1. *Cross-fitting.* The training rows are dealt into ``round(1 / calibration_share)``
     stratified folds (5 by default) with the seed. For each fold, trees are grown on the other
     folds until the log loss on the fold has not improved for 30 rounds (at most 300 rounds);
     every row then has a raw score from a model that never saw it. The number of rounds is the
     median of the folds' best rounds; the calibration (below) is fitted on all those
     out-of-fold scores. On a large file one fold already holds back enough rows
     (`CROSS_FIT_BELOW`), and only that fold is used, which keeps training to two fits.
  2. *Refit.* The trees are grown again on *all* the training rows for that number of rounds,
     so no row is wasted on a small file. This is what scikit-learn's
     ``CalibratedClassifierCV(ensemble=False)`` does. Why cross-fit: on 4,000 synthetic rows,
     one held-back fold of 800 rows gave Platt slopes from 0.8 to 1.3 across seeds (a true
     slope near 1); fitted on the out-of-fold scores of all rows, from 1.01 to 1.10.
* **Determinism.** Training on one thread, ``deterministic=True`` and every LightGBM seed
  taken from ``seed``: the same rows and seed give the same trees, bit for bit, whatever the
  number of cores (with the same LightGBM version).
* **Categories.** Text columns (and the columns named in ``categorical``) become LightGBM
  categories. The model keeps each column's categories (sorted, as text), so scoring maps a
  category it never saw, or an empty value, to *missing* rather than to some other category.
* **Calibration: Platt scaling**, ``P(bad) = 1 / (1 + exp(-(slope · raw + intercept)))``, fitted
  by maximum likelihood on the out-of-fold raw scores (with Platt's smoothed targets).
  Isotonic regression was the alternative; it was not chosen because it needs thousands of
  calibration rows before its steps stop being noise (a risk team's file may have a thousand
  rows in all), and its flat steps tie accounts that the trees had ranked apart, which lowers
  the AUC. Two parameters cannot overfit, keep the ranking exactly, and keep the link with the
  contributions below: the calibrated log-odds are an affine function of their sum.
* **Reasons.** ``pred_contrib=True`` gives each row's TreeSHAP contributions in log-odds of the
  raw (uncalibrated) score; they plus the base value add up exactly to the raw score. The
  reasons of a row are the features with the largest *positive* contributions — those that push
  its risk up — written ``"dpd_worst_6m (+0.42)"``. TreeSHAP is the costly part of scoring
  (of the order of a microsecond per tree and row with 15 leaves, growing with the square of
  the leaves), so predictions use every core; each row is computed alone, so the numbers do not
  depend on the number of threads.
* **Storage.** `GbmModel.to_json` holds the booster as LightGBM's own model text, the calibration
  as two numbers and the features with their categories; `GbmModel.from_json` gives back a
  model with identical probabilities. LightGBM sees the features as ``f0, f1, …`` so that any
  column name (spaces, brackets, quotes) is safe.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import polars as pl

FORMAT = "recoup.risk.lightgbm/1"

DEFAULT_PARAMS: Mapping[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "min_data_per_group": 20,  # LightGBM's default (100) hides most categories of a small file
    "cat_smooth": 10.0,
    "max_cat_to_onehot": 4,
}
"""LightGBM parameters for a few hundred to a few million rows; ``params`` overrides them."""

MAX_ROUNDS = 300
EARLY_STOPPING_ROUNDS = 30
MIN_REASON = 0.005  # a smaller contribution would print as +0.00
MIN_ROWS_PER_CLASS = 5  # in each part of a fold: fewer and neither stopping nor calibration works
CROSS_FIT_BELOW = 10_000  # a fold this large holds back enough rows alone; smaller: use them all

_PREDICT_THREADS = 0  # all cores: each row is scored alone, so the result is the same for any count

_FIXED_PARAMS: Mapping[str, Any] = {
    "objective": "binary",
    "metric": "binary_logloss",
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 1,
    "verbosity": -1,
}


@dataclass(frozen=True, slots=True)
class Feature:
    """A model input: its column name and, for a categorical one, its known categories."""

    name: str
    categories: tuple[str, ...] | None = None  # None: numeric

    @property
    def categorical(self) -> bool:
        return self.categories is not None


@dataclass(frozen=True, slots=True, eq=False)
class GbmModel:
    """A trained challenger: the booster, its features and its Platt calibration."""

    booster: lgb.Booster
    feature_list: tuple[Feature, ...]
    slope: float
    intercept: float
    rounds: int
    params: Mapping[str, Any]

    @property
    def features(self) -> tuple[str, ...]:
        """The feature column names, in the model's order."""
        return tuple(feature.name for feature in self.feature_list)

    def raw_score(self, df: pl.DataFrame) -> npt.NDArray[np.float64]:
        """The booster's uncalibrated log-odds of bad, one per row."""
        matrix = _matrix(df, self.feature_list)
        if not len(matrix):
            return np.zeros(0)
        return np.asarray(
            self.booster.predict(matrix, raw_score=True, num_threads=_PREDICT_THREADS),
            dtype=np.float64,
        )

    def probability(self, df: pl.DataFrame) -> npt.NDArray[np.float64]:
        """The calibrated probability of bad, one per row."""
        return _sigmoid(self.slope * self.raw_score(df) + self.intercept)

    def contributions(self, df: pl.DataFrame) -> tuple[npt.NDArray[np.float64], float]:
        """Each row's TreeSHAP contribution per feature ``[rows, features]``, and the base value.

        Both are in log-odds of the raw score: ``contributions.sum(axis=1) + base`` is
        `raw_score` of each row.
        """
        matrix = _matrix(df, self.feature_list)
        if not len(matrix):
            matrix = np.full((1, len(self.feature_list)), np.nan)
            empty = True
        else:
            empty = False
        values = np.asarray(
            self.booster.predict(matrix, pred_contrib=True, num_threads=_PREDICT_THREADS),
            dtype=np.float64,
        )
        base = float(values[0, -1])
        if empty:
            return np.zeros((0, len(self.feature_list))), base
        return values[:, :-1], base

    def reasons(self, df: pl.DataFrame, top: int = 3) -> list[tuple[str, ...]]:
        """Per row, up to ``top`` features pushing its risk up most, as ``"name (+0.42)"``.

        Contributions are those of `contributions` (log-odds of the raw score). Only features
        raising the risk by at least `MIN_REASON` are named, largest first, so a row whose
        features all lower its risk has no reasons. Ties keep the model's feature order.
        """
        if top < 1:
            raise ValueError(f"reasons: top must be at least 1, got {top}")
        values, _ = self.contributions(df)
        order = np.argsort(-values, axis=1, kind="stable")[:, :top]
        largest = np.take_along_axis(values, order, axis=1)
        names = self.features
        return [
            tuple(
                f"{names[c]} ({value:+.2f})"
                for c, value in zip(columns, row, strict=True)
                if value >= MIN_REASON
            )
            for columns, row in zip(order.tolist(), largest.tolist(), strict=True)
        ]

    def to_json(self) -> dict[str, Any]:
        """The model as plain JSON values; `from_json` reads it back."""
        return {
            "format": FORMAT,
            "features": [
                {"name": f.name, "type": "numeric"}
                if f.categories is None
                else {"name": f.name, "type": "categorical", "categories": list(f.categories)}
                for f in self.feature_list
            ],
            "calibration": {"method": "platt", "slope": self.slope, "intercept": self.intercept},
            "rounds": self.rounds,
            "params": dict(self.params),
            "booster": self.booster.model_to_string(),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> GbmModel:
        """The model `to_json` wrote; refuses a document of another kind or version."""
        if document.get("format") != FORMAT:
            raise ValueError(
                f"not a LightGBM challenger document: format is {document.get('format')!r}, "
                f"expected {FORMAT!r}"
            )
        try:
            feature_list = tuple(
                Feature(
                    name=str(item["name"]),
                    categories=None
                    if item["type"] == "numeric"
                    else tuple(str(c) for c in item["categories"]),
                )
                for item in document["features"]
            )
            calibration = document["calibration"]
            if calibration["method"] != "platt":
                raise ValueError(f"unknown calibration method {calibration['method']!r}")
            booster = lgb.Booster(model_str=str(document["booster"]))
            return cls(
                booster=booster,
                feature_list=feature_list,
                slope=float(calibration["slope"]),
                intercept=float(calibration["intercept"]),
                rounds=int(document["rounds"]),
                params=dict(document["params"]),
            )
        except KeyError as missing:
            raise ValueError(f"LightGBM challenger document: {missing} is missing") from None


def fit_gbm(
    features: pl.DataFrame,
    target: npt.ArrayLike,
    categorical: Collection[str] = (),
    seed: int = 7,
    params: Mapping[str, Any] | None = None,
    calibration_share: float = 0.2,
) -> GbmModel:
    """Train the challenger on ``features`` (every column is an input) and ``target`` (1 = bad).

    Text columns are categorical; ``categorical`` names further columns (integer codes, say)
    to treat as categories. ``params`` overrides `DEFAULT_PARAMS` (LightGBM names;
    ``num_iterations`` caps the rounds, ``early_stopping_round`` sets the patience); the
    objective, threads and seeds stay fixed. ``calibration_share`` is the size of a held-back
    fold (0.2: five folds, dealt with ``seed``); the folds choose the number of rounds and fit
    the calibration (module docstring). Raises `ValueError` for a target that is not 0/1 with
    enough of each class in every fold, and for unknown or unusable columns.
    """
    y = _binary_target(target, features.height)
    if not 0.0 < calibration_share < 1.0:
        raise ValueError(f"calibration_share must be between 0 and 1, got {calibration_share}")
    if features.width == 0:
        raise ValueError("fit_gbm: there are no feature columns")
    unknown = sorted(set(categorical) - set(features.columns))
    if unknown:
        raise ValueError(f"fit_gbm: categorical column {unknown[0]!r} is not among the features")
    feature_list = tuple(
        _describe(features[name], name in categorical) for name in features.columns
    )
    matrix = _matrix(features, feature_list)
    folds = stratified_folds(y, max(2, round(1.0 / calibration_share)), seed)
    count = int(folds.max()) + 1
    crossed = range(count) if np.count_nonzero(folds == 0) < CROSS_FIT_BELOW else range(1)

    settings = {**DEFAULT_PARAMS, **(params or {})}
    max_rounds = int(settings.pop("num_iterations", MAX_ROUNDS))
    patience = int(settings.pop("early_stopping_round", EARLY_STOPPING_ROUNDS))
    settings.update(_FIXED_PARAMS)
    settings["seed"] = seed
    categorical_index = [i for i, f in enumerate(feature_list) if f.categorical]
    names = [f"f{i}" for i in range(len(feature_list))]

    def dataset(rows: npt.NDArray[np.int64], reference: lgb.Dataset | None = None) -> lgb.Dataset:
        return lgb.Dataset(
            matrix[rows],
            label=y[rows],
            feature_name=names,
            categorical_feature=categorical_index,
            reference=reference,
            params=settings,
        )

    out_of_fold = np.full(len(y), np.nan)
    best_rounds: list[int] = []
    for fold in crossed:
        held_rows = np.flatnonzero(folds == fold).astype(np.int64)
        fit_rows = np.flatnonzero(folds != fold).astype(np.int64)
        for part, rows in (("training", fit_rows), ("held-back", held_rows)):
            counts = np.bincount(y[rows], minlength=2)
            if counts.min() < MIN_ROWS_PER_CLASS:
                raise ValueError(
                    f"fit_gbm: a {part} part has {counts[0]} good and {counts[1]} bad rows; "
                    f"at least {MIN_ROWS_PER_CLASS} of each are needed"
                )
        fit_set = dataset(fit_rows)
        probe = lgb.train(
            settings,
            fit_set,
            num_boost_round=max_rounds,
            valid_sets=[dataset(held_rows, reference=fit_set)],
            callbacks=[lgb.early_stopping(patience, verbose=False)],
        )
        best = max(1, int(probe.best_iteration or max_rounds))
        best_rounds.append(best)
        out_of_fold[held_rows] = probe.predict(
            matrix[held_rows], raw_score=True, num_iteration=best
        )
    rounds = sorted(best_rounds)[len(best_rounds) // 2]
    scored = ~np.isnan(out_of_fold)
    slope, intercept = platt(out_of_fold[scored], y[scored])

    every_row = np.arange(len(y), dtype=np.int64)
    booster = lgb.train(settings, dataset(every_row), num_boost_round=rounds)
    return GbmModel(
        booster=booster,
        feature_list=feature_list,
        slope=slope,
        intercept=intercept,
        rounds=rounds,
        params={**settings, "num_iterations": max_rounds, "early_stopping_round": patience},
    )


def stratified_folds(target: npt.NDArray[np.int64], count: int, seed: int) -> npt.NDArray[np.int64]:
    """Each row's fold, ``0 … count - 1``: every class shuffled with ``seed`` and dealt out in
    turn, so each fold holds the same share (within one row) of the goods and of the bads."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(target), dtype=np.int64)
    for value in (0, 1):
        rows = rng.permutation(np.flatnonzero(target == value))
        folds[rows] = np.arange(len(rows)) % count
    return folds


def stratified_split(
    target: npt.NDArray[np.int64], share: float, seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row positions ``(kept, drawn)``: ``share`` of each class drawn at random with ``seed``.

    Each class gives ``round(share · its rows)`` rows to the drawn part; both parts list their
    rows in the original order.
    """
    rng = np.random.default_rng(seed)
    drawn: list[npt.NDArray[np.int64]] = []
    for value in (0, 1):
        rows = np.flatnonzero(target == value).astype(np.int64)
        count = round(share * len(rows))
        drawn.append(rng.permutation(rows)[:count])
    mask = np.zeros(len(target), dtype=bool)
    mask[np.concatenate(drawn)] = True
    return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)


def platt(raw: npt.NDArray[np.float64], target: npt.NDArray[np.int64]) -> tuple[float, float]:
    """Platt scaling: ``(slope, intercept)`` maximising the likelihood of ``target`` given
    ``sigmoid(slope · raw + intercept)``.

    The targets are smoothed as in Platt (1999) — ``(bad + 1) / (bad + 2)`` for a bad row,
    ``1 / (good + 2)`` for a good one — so that a perfectly separated calibration part does not
    give an infinite slope. Solved by Newton's method with step halving.
    """
    bad = float(target.sum())
    good = float(len(target) - bad)
    t = np.where(target == 1, (bad + 1.0) / (bad + 2.0), 1.0 / (good + 2.0))
    design = np.column_stack([raw, np.ones_like(raw)])
    coef = np.array([1.0, 0.0])

    def loss(c: npt.NDArray[np.float64]) -> float:
        z = design @ c
        # log(1 + e^z) - t·z, written to stay finite for large |z|
        return float(np.sum(np.logaddexp(0.0, z) - t * z))

    current = loss(coef)
    for _ in range(100):
        p = _sigmoid(design @ coef)
        gradient = design.T @ (p - t)
        hessian = (design * (p * (1.0 - p))[:, None]).T @ design + 1e-12 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-10:
            trial = coef - scale * step
            trial_loss = loss(trial)
            if trial_loss <= current:
                break
            scale /= 2.0
        else:
            break
        improvement = current - trial_loss
        coef, current = trial, trial_loss
        if improvement < 1e-12 * max(1.0, abs(current)):
            break
    return float(coef[0]), float(coef[1])


def _sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(np.exp(-np.logaddexp(0.0, -z)), dtype=np.float64)


def _binary_target(target: npt.ArrayLike, rows: int) -> npt.NDArray[np.int64]:
    values = np.asarray(target)
    if values.ndim != 1 or len(values) != rows:
        raise ValueError(f"target: expected {rows} values (one per row), got shape {values.shape}")
    if values.dtype.kind == "f" and np.isnan(values).any():
        raise ValueError("target: a value is missing (NaN); it must be 0 (good) or 1 (bad)")
    if not np.isin(values, (0, 1)).all():
        other = values[~np.isin(values, (0, 1))][0]
        raise ValueError(f"target: value {other.item()!r} is neither 0 (good) nor 1 (bad)")
    return values.astype(np.int64)


def _describe(column: pl.Series, categorical: bool) -> Feature:
    dtype = column.dtype
    if categorical or dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        text = column.cast(pl.String).drop_nulls().unique().sort()
        return Feature(column.name, tuple(text.to_list()))
    if dtype.is_numeric() or dtype == pl.Boolean:
        return Feature(column.name)
    raise ValueError(f"fit_gbm: column {column.name!r} has type {dtype}, neither number nor text")


def _matrix(df: pl.DataFrame, feature_list: Sequence[Feature]) -> npt.NDArray[np.float64]:
    """The float matrix LightGBM reads: numbers as they are, categories as codes, NaN missing."""
    missing = [f.name for f in feature_list if f.name not in df.columns]
    if missing:
        raise ValueError(f"the data has no column {missing[0]!r}, a feature of the model")
    expressions: list[pl.Expr] = []
    for index, feature in enumerate(feature_list):
        column = pl.col(feature.name)
        if feature.categories is None:
            if df.schema[feature.name] == pl.String:
                raise ValueError(f"column {feature.name!r} is text; the model expects numbers")
            expression = column.cast(pl.Float64)
        else:
            expression = column.cast(pl.String).replace_strict(
                list(feature.categories),
                list(range(len(feature.categories))),
                default=None,
                return_dtype=pl.Float64,
            )
        expressions.append(expression.alias(f"f{index}"))
    if df.height == 0:
        return np.zeros((0, len(feature_list)))
    return df.select(expressions).to_numpy().astype(np.float64)

"""The points scorecard: weight-of-evidence bins, logistic regression, points and reason codes.

A scorecard is the model risk teams and regulators expect for behaviour and collection scores
(domain reference, "Models"): every feature is cut into a few bins, every bin is worth a whole
number of points, and an account's score is the sum of its bins' points. Anyone can apply it
from the printed table, and the bins that cost an account most points are its reason codes.

The method, step by step:

1. **Binning.** Each feature is cut with optbinning's ``OptimalBinning``, which chooses the cut
   points that maximise information value under constraints: at most ``max_bins`` bins, each
   with at least ``min_bin_share`` of the rows, and (numeric features, ``monotonic=True``) a bad
   rate that only rises or only falls across the bins (``"auto_asc_desc"``), so that a feature's
   points move one way, as a reviewer expects. Categorical features are grouped by bad rate.
   Missing values (null, or NaN in a numeric column) always get a bin of their own. A
   categorical feature also has an ``other`` bin, where categories never seen in training go.
2. **Weight of evidence.** For every bin, ``WoE = ln(share of goods / share of bads)``: positive
   for bins safer than average. Counts are smoothed by :data:`WOE_SMOOTHING` so that a bin
   without bads (or goods) keeps a finite WoE. ``IV = Σ (share of goods − share of bads)·WoE``.
   A bin with no training rows (``other``, or ``missing`` when training had no missing values)
   takes the WoE of the feature's worst bin: an unknown value must not make an account look
   safer than any known one.
3. **Screening.** Features with IV below ``min_iv`` are dropped (the best one is kept if none
   passes), then the ``max_features`` with the highest IV are kept.
4. **Regression.** A logistic regression of *bad* on the WoE columns (scikit-learn, L2 penalty
   with ``C =`` :data:`REGULARISATION_C`, the deterministic ``lbfgs`` solver). With WoE defined
   as above, every coefficient should be negative; a positive one means collinearity turned the
   feature's evidence around, so the feature with the largest positive coefficient is dropped
   and the regression refitted until all coefficients have the expected sign.
5. **Points.** With ``factor = pdo / ln 2`` and ``offset = base_score − factor·ln(base_odds)``,
   the score is ``offset + factor·ln(good:bad odds)``: ``base_score`` points at odds
   ``base_odds``, and every ``pdo`` more points doubles the odds of being good. Spread over the
   ``n`` features, a bin is worth ``−(coef·woe + intercept/n)·factor + offset/n`` points, rounded
   half away from zero to an integer. The rounded table is the model: :meth:`Scorecard.points`
   adds table entries, and :meth:`Scorecard.probability` turns that total back into ``P(bad)``
   on the same odds scale, so the points and the probability never disagree.

**Sign convention: a higher score means a lower risk.** ``base_points`` is the best possible
score (each feature's best bin); an account's shortfall on a feature is that feature's best
points minus its points, and the shortfalls of all features add up exactly to
``base_points − points``. The reason codes are the largest shortfalls.

The fitted :class:`Scorecard` holds plain data only (split points, category sets, counts,
WoE, points), so it serialises to JSON and scores with numpy/Polars without optbinning.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from optbinning import OptimalBinning
from sklearn.linear_model import LogisticRegression

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Inverse strength of the L2 penalty. scikit-learn weighs ``½‖coef‖²`` against ``C`` times
#: the *summed* log-loss, so with thousands of rows ``C = 1`` hardly moves the coefficients; it
#: keeps them finite and stable when WoE columns are nearly collinear.
REGULARISATION_C = 1.0
#: Added to each bin's good and bad counts before taking the WoE, so that a bin with no bads
#: (or no goods) gets a large but finite WoE instead of an infinite one.
WOE_SMOOTHING = 0.5
#: The JSON format tag written by :meth:`Scorecard.to_json`, checked by :meth:`Scorecard.from_json`.
JSON_FORMAT = "recoup.scorecard/1"
MISSING_LABEL = "missing"
OTHER_LABEL = "other"
#: Categorical bin labels list at most this many categories, so reason codes stay readable.
_LABEL_CATEGORIES = 6


class FeatureKind(StrEnum):
    """How a feature is binned: by value ranges, or by sets of categories."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True, slots=True)
class ScorecardConfig:
    """How a scorecard is binned, screened and scaled.

    Attributes:
        base_score: the score at which the good:bad odds are ``base_odds``.
        base_odds: good:bad odds at ``base_score`` (50 means 1 bad in 51).
        pdo: points to double the odds: ``base_score + pdo`` has odds ``2·base_odds``.
        max_bins: most bins per feature, not counting the missing and other bins.
        min_bin_share: least share of the (non-missing) training rows in a bin.
        monotonic: numeric features' bad rates must only rise or only fall across bins.
        max_features: keep at most this many features (highest IV first); ``None`` for all.
        min_iv: drop features whose information value is below this.
    """

    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0
    max_bins: int = 6
    min_bin_share: float = 0.05
    monotonic: bool = True
    max_features: int | None = None
    min_iv: float = 0.02

    def __post_init__(self) -> None:
        if not self.pdo > 0:
            raise ValueError(f"pdo must be positive, got {self.pdo}")
        if not self.base_odds > 0:
            raise ValueError(f"base_odds must be positive, got {self.base_odds}")
        if self.max_bins < 2:
            raise ValueError(f"max_bins must be at least 2, got {self.max_bins}")
        if not 0 < self.min_bin_share <= 0.5:
            raise ValueError(f"min_bin_share must be in (0, 0.5], got {self.min_bin_share}")
        if self.max_features is not None and self.max_features < 1:
            raise ValueError(f"max_features must be at least 1 or None, got {self.max_features}")
        if self.min_iv < 0:
            raise ValueError(f"min_iv must not be negative, got {self.min_iv}")

    @property
    def factor(self) -> float:
        """Points per unit of log-odds: ``pdo / ln 2``."""
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        """The score at even odds: ``base_score − factor·ln(base_odds)``."""
        return self.base_score - self.factor * math.log(self.base_odds)


@dataclass(frozen=True, slots=True)
class ScoreBin:
    """One row of the scorecard table: a bin's training statistics and its points."""

    label: str
    count: int
    bads: int
    woe: float
    iv: float
    points: int

    @property
    def bad_rate(self) -> float | None:
        """Share of bads among the bin's training rows; ``None`` for a bin without rows."""
        return self.bads / self.count if self.count else None


@dataclass(frozen=True, slots=True)
class FeatureBins:
    """A feature's bins as plain data, and how a value finds its bin.

    Numeric: ``splits`` ``s_0 < … < s_k-1`` give the bins ``(-inf, s_0)``, ``[s_0, s_1)``, …,
    ``[s_k-1, inf)`` at indices ``0..k``, then the missing bin at ``k + 1``.
    Categorical: ``categories[i]`` is the set of values in bin ``i``, followed by the missing
    bin and the ``other`` bin (categories not seen in training).
    """

    name: str
    kind: FeatureKind
    splits: tuple[float, ...]
    categories: tuple[tuple[str, ...], ...]
    bins: tuple[ScoreBin, ...]
    coefficient: float

    @property
    def missing_index(self) -> int:
        return len(self.splits) + 1 if self.kind is FeatureKind.NUMERIC else len(self.categories)

    @property
    def other_index(self) -> int | None:
        return len(self.categories) + 1 if self.kind is FeatureKind.CATEGORICAL else None

    @property
    def iv(self) -> float:
        return float(sum(b.iv for b in self.bins))

    @property
    def best_points(self) -> int:
        return max(b.points for b in self.bins)

    def assign(self, column: pl.Series) -> IntArray:
        """The bin index of every value of ``column`` (vectorised)."""
        if self.kind is FeatureKind.NUMERIC:
            values = _numeric_values(column)
            index = np.searchsorted(np.asarray(self.splits, dtype=np.float64), values, "right")
            return np.where(np.isnan(values), self.missing_index, index).astype(np.int64)
        mapping = {c: i for i, group in enumerate(self.categories) for c in group}
        text = _categorical_values(column)
        assigned = text.replace_strict(mapping, default=self.other_index, return_dtype=pl.Int64)
        missing = text.is_null().to_numpy()
        return np.where(missing, self.missing_index, assigned.to_numpy()).astype(np.int64)


def _numeric_values(column: pl.Series) -> FloatArray:
    if not (column.dtype.is_numeric() or column.dtype == pl.Boolean):
        raise ValueError(
            f"column {column.name!r} is {column.dtype}, not numeric; "
            "declare it categorical or convert it"
        )
    # Nulls become NaN, so both kinds of missing value reach the missing bin.
    return column.cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _categorical_values(column: pl.Series) -> pl.Series:
    try:
        return column.cast(pl.String)
    except pl.exceptions.PolarsError as error:
        raise ValueError(
            f"categorical column {column.name!r} of type {column.dtype} cannot be read as text"
        ) from error


def _round_half_away(value: float) -> int:
    """Round to the nearest integer, halves away from zero (the project's one rounding rule)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _format_edge(value: float) -> str:
    text = f"{value:.6g}"
    if "e" in text:  # large amounts read better written out than in scientific notation
        text = np.format_float_positional(value, precision=6, trim="-")
    return text


def _interval_labels(splits: tuple[float, ...]) -> list[str]:
    edges = ["-inf", *(_format_edge(s) for s in splits), "inf"]
    return [
        f"{'(' if lower == '-inf' else '['}{lower}, {upper})"
        for lower, upper in itertools.pairwise(edges)
    ]


def _category_label(group: tuple[str, ...]) -> str:
    shown = ", ".join(group[:_LABEL_CATEGORIES])
    more = len(group) - _LABEL_CATEGORIES
    return "{" + shown + (f", … +{more} more" if more > 0 else "") + "}"


def _labels_of(
    kind: FeatureKind, splits: tuple[float, ...], categories: tuple[tuple[str, ...], ...]
) -> list[str]:
    if kind is FeatureKind.NUMERIC:
        return [*_interval_labels(splits), MISSING_LABEL]
    return [*(_category_label(g) for g in categories), MISSING_LABEL, OTHER_LABEL]


# --- fitting ---------------------------------------------------------------------------------


def _target(target: npt.ArrayLike, rows: int) -> IntArray:
    array = np.asarray(target)
    if array.ndim != 1:
        raise ValueError(f"target must be one-dimensional, got shape {array.shape}")
    if array.shape[0] != rows:
        raise ValueError(f"target has {array.shape[0]} values but features has {rows} rows")
    if array.dtype != np.bool_ and not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"target must hold 0 (good) and 1 (bad), got dtype {array.dtype}")
    values = array.astype(np.float64)
    wrong = (values != 0.0) & (values != 1.0)
    if wrong.any():
        found = np.unique(values[wrong])[:5].tolist()
        raise ValueError(f"target must hold only 0 (good) and 1 (bad); found {found}")
    labels = values.astype(np.int64)
    bads = int(labels.sum())
    if bads == 0 or bads == rows:
        only = "1 (bad)" if bads else "0 (good)"
        raise ValueError(f"target has a single class (every value is {only}); need bads and goods")
    return labels


def _optimal_binning(name: str, config: ScorecardConfig, categorical: bool) -> OptimalBinning:
    if categorical:
        return OptimalBinning(
            name=name,
            dtype="categorical",
            max_n_bins=config.max_bins,
            min_bin_size=config.min_bin_share,
        )
    return OptimalBinning(
        name=name,
        dtype="numerical",
        max_n_bins=config.max_bins,
        min_bin_size=config.min_bin_share,
        # None leaves the bad rate free to take any shape across the bins.
        monotonic_trend="auto_asc_desc" if config.monotonic else None,
    )


def _numeric_splits(
    values: FloatArray, y: IntArray, name: str, config: ScorecardConfig
) -> tuple[float, ...]:
    finite = np.isfinite(values)
    x, t = values[finite], y[finite]
    if x.size < 2 or np.unique(x).size < 2 or np.unique(t).size < 2:
        return ()  # nothing to cut: one value, or one class among the known values
    binning = _optimal_binning(name, config, categorical=False).fit(x, t)
    return tuple(float(s) for s in np.asarray(binning.splits, dtype=np.float64))


def _category_groups(
    text: pl.Series, y: IntArray, name: str, config: ScorecardConfig
) -> tuple[tuple[str, ...], ...]:
    present = text.is_not_null().to_numpy()
    x = text.filter(text.is_not_null()).to_numpy().astype(object)
    t = y[present]
    seen = sorted(set(x.tolist()))
    if len(seen) < 2 or np.unique(t).size < 2:
        return (tuple(seen),) if seen else ()
    binning = _optimal_binning(name, config, categorical=True).fit(x, t)
    return tuple(tuple(sorted(str(c) for c in group)) for group in binning.splits)


def _bin_feature(
    column: pl.Series, kind: FeatureKind, y: IntArray, config: ScorecardConfig
) -> tuple[FeatureBins, IntArray]:
    """Cut one feature, count goods and bads per bin and compute WoE and IV (points come later)."""
    name = column.name
    splits: tuple[float, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()
    if kind is FeatureKind.NUMERIC:
        splits = _numeric_splits(_numeric_values(column), y, name, config)
    else:
        categories = _category_groups(_categorical_values(column), y, name, config)
    labels = _labels_of(kind, splits, categories)
    draft = FeatureBins(name, kind, splits, categories, (), 0.0)
    index = draft.assign(column)

    counts = np.bincount(index, minlength=len(labels))
    bads = np.bincount(index, weights=y.astype(np.float64), minlength=len(labels)).astype(np.int64)
    goods = counts - bads
    used = counts > 0
    k = int(used.sum())
    good_share = (goods + WOE_SMOOTHING) / (goods.sum() + WOE_SMOOTHING * k)
    bad_share = (bads + WOE_SMOOTHING) / (bads.sum() + WOE_SMOOTHING * k)
    woe = np.where(used, np.log(good_share / bad_share), 0.0)
    iv = np.where(used, (good_share - bad_share) * woe, 0.0)
    bins = tuple(
        ScoreBin(label, int(counts[i]), int(bads[i]), float(woe[i]), float(iv[i]), 0)
        for i, label in enumerate(labels)
    )
    return replace(draft, bins=bins), index


def _screen(candidates: list[FeatureBins], config: ScorecardConfig) -> list[int]:
    """Indices (in input order) of the features that pass the IV screen and the feature cap."""
    ivs = [f.iv for f in candidates]
    passing = [i for i, v in enumerate(ivs) if v >= config.min_iv]
    if not passing:
        passing = [int(np.argmax(ivs))]
    if config.max_features is not None and len(passing) > config.max_features:
        by_iv = sorted(passing, key=lambda i: -ivs[i])  # stable: ties keep input order
        passing = sorted(by_iv[: config.max_features])
    return passing


def _regress(woe: FloatArray, y: IntArray, seed: int) -> tuple[FloatArray, float]:
    model = LogisticRegression(
        C=REGULARISATION_C, solver="lbfgs", max_iter=1000, tol=1e-8, random_state=seed
    )
    model.fit(woe, y)
    return np.asarray(model.coef_[0], dtype=np.float64), float(model.intercept_[0])


def _with_points(
    feature: FeatureBins, coefficient: float, intercept: float, n: int, config: ScorecardConfig
) -> FeatureBins:
    def raw(woe: float) -> float:
        return -(coefficient * woe + intercept / n) * config.factor + config.offset / n

    trained = [b for b in feature.bins if b.count > 0]
    # Bins without training rows score like the worst trained bin (see the module docstring).
    worst_woe = min(trained, key=lambda b: raw(b.woe)).woe if trained else 0.0
    bins = tuple(
        replace(
            b,
            woe=b.woe if b.count > 0 else worst_woe,
            points=_round_half_away(raw(b.woe if b.count > 0 else worst_woe)),
        )
        for b in feature.bins
    )
    return replace(feature, bins=bins, coefficient=coefficient)


def fit_scorecard(
    features: pl.DataFrame,
    target: npt.ArrayLike,
    config: ScorecardConfig = ScorecardConfig(),
    categorical: Collection[str] = (),
    seed: int = 7,
) -> Scorecard:
    """Fit a points scorecard (method in the module docstring).

    Args:
        features: one column per candidate feature, one row per account. Numeric (or boolean)
            columns are binned by value; columns named in ``categorical`` by category.
        target: 1 for a bad, 0 for a good, one per row.
        config: binning, screening and scaling settings.
        categorical: names of the categorical columns.
        seed: passed to the regression as ``random_state``; the fit is deterministic, so the
            same data, config and seed give the same scorecard.

    Raises:
        ValueError: the target is not 0/1, has a single class or the wrong length; a column in
            ``categorical`` is missing; a non-numeric column is not declared categorical.
    """
    if features.width == 0 or features.height == 0:
        raise ValueError("features must have at least one column and one row")
    y = _target(target, features.height)
    declared = set(categorical)
    unknown = sorted(declared - set(features.columns))
    if unknown:
        raise ValueError(f"categorical columns not in features: {unknown}")
    for name in features.columns:
        if name not in declared:
            _numeric_values(features.get_column(name).head(0))  # raises for a text column

    candidates: list[FeatureBins] = []
    indices: list[IntArray] = []
    for name in features.columns:
        kind = FeatureKind.CATEGORICAL if name in declared else FeatureKind.NUMERIC
        feature, index = _bin_feature(features.get_column(name), kind, y, config)
        candidates.append(feature)
        indices.append(index)

    kept = _screen(candidates, config)
    woe_columns = {
        i: np.array([b.woe for b in candidates[i].bins], dtype=np.float64)[indices[i]] for i in kept
    }
    while True:
        coefficients, intercept = _regress(np.column_stack([woe_columns[i] for i in kept]), y, seed)
        if len(kept) == 1 or not (coefficients > 0).any():
            break
        # A positive coefficient reverses the feature's evidence: drop the worst one and refit.
        kept.pop(int(np.argmax(coefficients)))

    n = len(kept)
    bins = tuple(
        _with_points(candidates[i], float(c), intercept, n, config)
        for i, c in zip(kept, coefficients, strict=True)
    )
    return Scorecard(config=config, bins=bins, intercept=intercept, seed=seed)


# --- the fitted scorecard --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scorecard:
    """A fitted scorecard: plain bins and points, applied with numpy and Polars.

    Higher points mean lower risk. Build one with :func:`fit_scorecard` or
    :meth:`Scorecard.from_json`.
    """

    config: ScorecardConfig
    bins: tuple[FeatureBins, ...]
    intercept: float
    seed: int

    @property
    def features(self) -> tuple[str, ...]:
        """The kept features' names, in the order of the training columns."""
        return tuple(f.name for f in self.bins)

    @property
    def iv(self) -> dict[str, float]:
        """Information value of each kept feature on the training data."""
        return {f.name: f.iv for f in self.bins}

    @property
    def base_points(self) -> int:
        """The best possible score: every feature in its best bin."""
        return sum(f.best_points for f in self.bins)

    def _bin_index(self, features: pl.DataFrame) -> IntArray:
        missing = [name for name in self.features if name not in features.columns]
        if missing:
            raise ValueError(f"features is missing scorecard columns: {missing}")
        if self.bins and features.height == 0:
            return np.zeros((0, len(self.bins)), dtype=np.int64)
        return np.column_stack([f.assign(features.get_column(f.name)) for f in self.bins])

    def _points_matrix(self, index: IntArray) -> IntArray:
        columns = [
            np.array([b.points for b in f.bins], dtype=np.int64)[index[:, j]]
            for j, f in enumerate(self.bins)
        ]
        return np.column_stack(columns).reshape(index.shape)

    def points(self, features: pl.DataFrame) -> IntArray:
        """Each account's score: the sum of its bins' points (higher is safer)."""
        total: IntArray = self._points_matrix(self._bin_index(features)).sum(axis=1)
        return total

    def probability(self, features: pl.DataFrame) -> FloatArray:
        """``P(bad)`` implied by each account's points on the scorecard's odds scale.

        ``ln(good:bad odds) = (points − offset) / factor``, so ``P(bad) = 1 / (1 + odds)``.
        """
        return self.probability_of_points(self.points(features))

    def probability_of_points(self, points: npt.ArrayLike) -> FloatArray:
        """``P(bad)`` for given scores, on the scorecard's odds scale."""
        log_odds_good = (
            np.asarray(points, dtype=np.float64) - self.config.offset
        ) / self.config.factor
        return 1.0 / (1.0 + np.exp(log_odds_good))

    def contributions(self, features: pl.DataFrame) -> pl.DataFrame:
        """Points per feature, one Int64 column per kept feature; rows sum to :meth:`points`."""
        matrix = self._points_matrix(self._bin_index(features))
        return pl.DataFrame(
            {name: matrix[:, j] for j, name in enumerate(self.features)},
            schema={name: pl.Int64 for name in self.features},
        )

    def reasons(self, features: pl.DataFrame, top: int = 3) -> list[tuple[str, ...]]:
        """Reason codes: the features whose bins cost each account most points.

        A feature's shortfall is its best bin's points minus the account's points on it; the
        shortfalls of all features sum to ``base_points − points``. Each account gets up to
        ``top`` codes, largest shortfall first (ties in feature order), such as
        ``"days_since_payment: [30, 60) (−35)"``; features in their best bin cost nothing and
        are not listed.
        """
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}")
        index = self._bin_index(features)
        shortfall = self.shortfalls_of(index)
        top = min(top, len(self.bins))
        order = np.argsort(-shortfall, axis=1, kind="stable")[:, :top]
        # One code per (feature, bin), looked up through a flat table.
        codes = np.array(
            [
                f"{f.name}: {b.label} (−{f.best_points - b.points})"
                for f in self.bins
                for b in f.bins
            ],
            dtype=object,
        )
        starts = np.cumsum([0] + [len(f.bins) for f in self.bins[:-1]]).astype(np.int64)
        chosen_bins = np.take_along_axis(index, order, axis=1)
        chosen = codes[starts[order] + chosen_bins]
        # Sorted by shortfall, so the codes that cost points are a prefix of each row.
        lengths = (np.take_along_axis(shortfall, order, axis=1) > 0).sum(axis=1)
        return [tuple(row[:k]) for row, k in zip(chosen.tolist(), lengths.tolist(), strict=True)]

    def shortfalls_of(self, index: IntArray) -> IntArray:
        """Points lost per feature (best bin minus actual) for a matrix of bin indices."""
        best = np.array([f.best_points for f in self.bins], dtype=np.int64)
        return best[np.newaxis, :] - self._points_matrix(index)

    def shortfalls(self, features: pl.DataFrame) -> pl.DataFrame:
        """Points lost per feature against its best bin; rows sum to ``base_points − points``."""
        matrix = self.shortfalls_of(self._bin_index(features))
        return pl.DataFrame(
            {name: matrix[:, j] for j, name in enumerate(self.features)},
            schema={name: pl.Int64 for name in self.features},
        )

    def table(self) -> pl.DataFrame:
        """The scorecard as a table for the model card: one row per bin of every kept feature.

        Columns: ``feature``, ``bin``, ``count``, ``bad_rate`` (null for a bin without training
        rows), ``woe``, ``iv``, ``points``.
        """
        rows = [(f, b) for f in self.bins for b in f.bins]
        return pl.DataFrame(
            {
                "feature": [f.name for f, _ in rows],
                "bin": [b.label for _, b in rows],
                "count": [b.count for _, b in rows],
                "bad_rate": [b.bad_rate for _, b in rows],
                "woe": [b.woe for _, b in rows],
                "iv": [b.iv for _, b in rows],
                "points": [b.points for _, b in rows],
            },
            schema={
                "feature": pl.String,
                "bin": pl.String,
                "count": pl.Int64,
                "bad_rate": pl.Float64,
                "woe": pl.Float64,
                "iv": pl.Float64,
                "points": pl.Int64,
            },
        )

    def to_json(self) -> dict[str, Any]:
        """The scorecard as JSON-ready data (``json.dumps`` of it round-trips exactly)."""
        return {
            "format": JSON_FORMAT,
            "config": asdict(self.config),
            "seed": self.seed,
            "intercept": self.intercept,
            "features": [
                {
                    "name": f.name,
                    "kind": f.kind.value,
                    "coefficient": f.coefficient,
                    "splits": list(f.splits),
                    "categories": [list(g) for g in f.categories],
                    "bins": [
                        {
                            "label": b.label,
                            "count": b.count,
                            "bads": b.bads,
                            "woe": b.woe,
                            "iv": b.iv,
                            "points": b.points,
                        }
                        for b in f.bins
                    ],
                }
                for f in self.bins
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scorecard:
        """Rebuild a scorecard written by :meth:`to_json`.

        Raises:
            ValueError: an unknown format, or a feature whose bins do not match its splits or
                categories.
        """
        if data.get("format") != JSON_FORMAT:
            raise ValueError(f"not a scorecard in format {JSON_FORMAT}: {data.get('format')!r}")
        features: list[FeatureBins] = []
        for item in data["features"]:
            kind = FeatureKind(item["kind"])
            splits = tuple(float(s) for s in item["splits"])
            categories = tuple(tuple(str(c) for c in g) for g in item["categories"])
            bins = tuple(
                ScoreBin(
                    label=str(b["label"]),
                    count=int(b["count"]),
                    bads=int(b["bads"]),
                    woe=float(b["woe"]),
                    iv=float(b["iv"]),
                    points=int(b["points"]),
                )
                for b in item["bins"]
            )
            expected = len(_labels_of(kind, splits, categories))
            if len(bins) != expected:
                raise ValueError(
                    f"feature {item['name']!r}: {len(bins)} bins, expected {expected} "
                    f"for its {'splits' if kind is FeatureKind.NUMERIC else 'categories'}"
                )
            features.append(
                FeatureBins(
                    str(item["name"]), kind, splits, categories, bins, float(item["coefficient"])
                )
            )
        return cls(
            config=ScorecardConfig(**data["config"]),
            bins=tuple(features),
            intercept=float(data["intercept"]),
            seed=int(data["seed"]),
        )

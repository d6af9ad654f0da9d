"""Training the early-warning and collection models on the store's own history.

1. The history of the last ``months`` months (and a year before, for the features' look-back)
   is read once, in bulk (:func:`recoup.scoring.history.read_history`).
2. Month ends whose target is complete by ``as_of`` are the snapshots; the oldest train, the
   next validate, the latest test (out of time: a model is always measured on months it did
   not learn from).
3. At each snapshot: the point-in-time features of the accounts the model is for and their
   target (:mod:`recoup.risk.features`, :mod:`recoup.risk.targets`).
4. A scorecard and a LightGBM challenger are trained on the training months, measured on all
   three splits (:mod:`recoup.risk.evaluation`) and stored in the registry as candidates.
   The first scorecard of a kind becomes its champion, so the book can be scored at once; after
   that, promotion is a person's decision (``recoup model promote``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine

from recoup.risk import evaluation
from recoup.risk.challenger import GbmModel, fit_gbm
from recoup.risk.features import FEATURES, History, features_as_of
from recoup.risk.scorecard import Scorecard, ScorecardConfig, fit_scorecard
from recoup.risk.targets import (
    collection_target,
    early_warning_target,
    out_of_time_split,
    training_snapshots,
)
from recoup.scoring.history import read_history
from recoup.scoring.registry import (
    ModelRefused,
    RegisteredModel,
    champion,
    fingerprint,
    promote,
    register,
)

TARGETS = {
    "early_warning": "an account current at the month end misses its next installment by more "
    "than 5 days",
    "collection": "an account past due at the month end does not cure within 30 days",
}
LOOK_BACK_DAYS = 400  # the features' longest window (12 months) and some


@dataclass(frozen=True, slots=True)
class TrainingSet:
    frame: pl.DataFrame  # account_key, snapshot, features..., target
    train_days: tuple[date, ...]
    validation_days: tuple[date, ...]
    test_days: tuple[date, ...]

    def part(self, days: tuple[date, ...]) -> pl.DataFrame:
        return self.frame.filter(pl.col("snapshot").is_in(list(days)))


@dataclass(frozen=True, slots=True)
class TrainingRun:
    models: tuple[RegisteredModel, ...]
    promoted: str | None
    rows: dict[str, int]

    def describe(self) -> str:
        lines = [
            f"trained on {self.rows['train']:,} rows, validated on {self.rows['validation']:,}, "
            f"tested on {self.rows['test']:,} (out of time)"
        ]
        for model in self.models:
            test = model.metrics["splits"]["test"]
            lines.append(
                f"  {model.model_id}: test AUC {test['auc']:.3f}, Gini {test['gini']:.3f}, "
                f"KS {test['ks']:.3f} ({model.status})"
            )
        if self.promoted:
            lines.append(f"  {self.promoted}")
        return "\n".join(lines)


def target_of(kind: str, history: History, day: date) -> pl.DataFrame:
    if kind == "early_warning":
        return early_warning_target(history, day)
    if kind == "collection":
        return collection_target(history, day)
    raise ModelRefused(f"no target for kind {kind!r}; kinds: early_warning, collection")


def training_set(history: History, as_of: date, kind: str, months: int) -> TrainingSet:
    snapshots = training_snapshots(history, as_of, months, kind)
    if len(snapshots) < 3:
        raise ModelRefused(
            f"only {len(snapshots)} month ends with a complete {kind} target by {as_of}: "
            "out-of-time training needs at least 3 (close more history first)"
        )
    train_days, validation_days, test_days = out_of_time_split(snapshots)
    parts = []
    for day in snapshots:
        target = target_of(kind, history, day).select("account_key", "target")
        if target.height == 0:
            continue
        features = features_as_of(history, day, target.get_column("account_key"))
        parts.append(
            features.join(target, on="account_key", how="inner").with_columns(snapshot=pl.lit(day))
        )
    if not parts:
        raise ModelRefused(f"no {kind} targets in the history before {as_of}")
    return TrainingSet(
        frame=pl.concat(parts, how="vertical_relaxed"),
        train_days=tuple(train_days),
        validation_days=tuple(validation_days),
        test_days=tuple(test_days),
    )


def _xy(frame: pl.DataFrame, names: list[str]) -> tuple[pl.DataFrame, np.ndarray[Any, Any]]:
    return frame.select(names), frame.get_column("target").to_numpy().astype(np.int64)


def _measure(
    model: Scorecard | GbmModel, data: TrainingSet, names: list[str], kind: str
) -> dict[str, Any]:
    x_train, _y_train = _xy(data.part(data.train_days), names)
    splits: dict[str, Any] = {}
    for split, days in (
        ("train", data.train_days),
        ("validation", data.validation_days),
        ("test", data.test_days),
    ):
        x, y = _xy(data.part(days), names)
        if y.size and 0 < y.sum() < y.size:
            splits[split] = evaluation.split_measures(y, model.probability(x))
    if "test" not in splits:
        raise ModelRefused(f"the {kind} test months hold a single class: no measure possible")
    x_test, y_test = _xy(data.part(data.test_days), names)
    p_test = model.probability(x_test)
    score_test = model.points(x_test) if isinstance(model, Scorecard) else p_test
    score_train = (
        model.points(x_train) if isinstance(model, Scorecard) else model.probability(x_train)
    )
    references = evaluation.references(x_train, score_train)
    metrics: dict[str, Any] = {
        "target": TARGETS[kind],
        "splits": splits,
        "days": {
            "train": [d.isoformat() for d in data.train_days],
            "validation": [d.isoformat() for d in data.validation_days],
            "test": [d.isoformat() for d in data.test_days],
        },
        "test_curves": evaluation.card_curves(y_test, p_test, score_test),
        "calibration": evaluation.calibration(y_test, p_test),
        "top_reasons": evaluation.top_reasons(model.reasons(x_test)),
        "psi": evaluation.stability(references, x_test, score_test),
        "reference": references,
    }
    if isinstance(model, Scorecard):
        metrics["scorecard_table"] = model.table().to_dicts()
    return metrics


def train_from_store(
    engine: Engine, kind: str, as_of: date, now: datetime, months: int = 12, seed: int = 7
) -> TrainingRun:
    """Train both model families for ``kind`` on the history through ``as_of``."""
    with engine.connect() as conn:
        history = read_history(
            conn, since=as_of - timedelta(days=31 * months + LOOK_BACK_DAYS), until=as_of
        )
    data = training_set(history, as_of, kind, months)
    names = [name for name in FEATURES if name in data.frame.columns]
    x_train, y_train = _xy(data.part(data.train_days), names)
    if y_train.size == 0 or y_train.sum() in (0, y_train.size):
        raise ModelRefused(f"the {kind} training months hold a single class: nothing to learn")
    config = ScorecardConfig()
    scorecard = fit_scorecard(x_train, y_train, config, seed=seed)
    gbm = fit_gbm(x_train, y_train, seed=seed)
    rows = {
        "train": int(y_train.size),
        "validation": data.part(data.validation_days).height,
        "test": data.part(data.test_days).height,
    }
    stamp = fingerprint(data.frame.sort("snapshot", "account_key"))
    models = []
    with engine.begin() as conn:
        for family, model, params in (
            ("scorecard", scorecard, {"seed": seed, **_config(config)}),
            ("lightgbm", gbm, {"seed": seed}),
        ):
            models.append(
                register(
                    conn,
                    kind=kind,
                    family=family,
                    artifact=model.to_json(),
                    features=list(model.features),
                    params=params,
                    metrics=_measure(model, data, names, kind),
                    data_fingerprint=stamp,
                    as_of=as_of,
                    now=now,
                )
            )
        promoted = None
        if champion(conn, kind) is None:
            promoted = promote(conn, models[0].model_id, now) + " (the first of its kind)"
            models[0] = replace(models[0], status="champion")
    return TrainingRun(models=tuple(models), promoted=promoted, rows=rows)


def _config(config: ScorecardConfig) -> dict[str, Any]:
    return {
        "base_score": config.base_score,
        "base_odds": config.base_odds,
        "pdo": config.pdo,
        "max_bins": config.max_bins,
        "min_bin_share": config.min_bin_share,
        "monotonic": config.monotonic,
    }

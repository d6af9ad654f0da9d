"""Drift of each champion's population: the PSI of every feature and of the score on the
accounts it would score today, against the training sample's reference (kept in the
registry when the model was trained). Thresholds are the caller's (``recoup model monitor
--watch 0.1 --drift 0.25``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine

from recoup.risk import drift as psi
from recoup.risk.features import features_as_of
from recoup.risk.scorecard import Scorecard
from recoup.scoring.history import read_history
from recoup.scoring.registry import champion
from recoup.scoring.run import BANDS, load_model, population
from recoup.scoring.training import LOOK_BACK_DAYS


@dataclass(frozen=True, slots=True)
class KindDrift:
    kind: str
    model_id: str
    accounts: int
    psi: dict[str, float]
    verdicts: dict[str, str]


@dataclass(frozen=True, slots=True)
class MonitorReport:
    as_of: date
    watch: float
    drift: float
    kinds: list[KindDrift] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return any("drift" in k.verdicts.values() for k in self.kinds)

    def document(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "thresholds": {"watch": self.watch, "drift": self.drift},
            "models": [
                {
                    "kind": k.kind,
                    "model_id": k.model_id,
                    "accounts": k.accounts,
                    "psi": k.psi,
                    "verdicts": k.verdicts,
                }
                for k in self.kinds
            ],
            "skipped": self.skipped,
            "drift": self.drifted,
        }

    def describe(self) -> str:
        lines = [f"drift on {self.as_of} (watch above {self.watch}, drift above {self.drift})"]
        for k in self.kinds:
            lines.append(f"  {k.kind}: {k.model_id} on {k.accounts:,} accounts")
            for name, value in sorted(k.psi.items(), key=lambda item: -item[1]):
                lines.append(f"    {name:<28} PSI {value:.4f}  {k.verdicts[name]}")
        for kind, why in self.skipped.items():
            lines.append(f"  {kind}: {why}")
        return "\n".join(lines)


def monitor(engine: Engine, as_of: date, watch: float = 0.10, drift: float = 0.25) -> MonitorReport:
    report = MonitorReport(as_of=as_of, watch=watch, drift=drift)
    with engine.connect() as conn:
        history = read_history(conn, since=as_of - timedelta(days=LOOK_BACK_DAYS), until=as_of)
        for kind in BANDS:
            model = champion(conn, kind)
            if model is None:
                report.skipped[kind] = "no champion"
                continue
            accounts = population(conn, kind, as_of)
            if accounts.len() == 0:
                report.skipped[kind] = "no account to score"
                continue
            reference = model.metrics.get("reference", {})
            features = features_as_of(history, as_of, accounts).select(list(model.features))
            loaded = load_model(model)
            score = (
                loaded.points(features)
                if isinstance(loaded, Scorecard)
                else loaded.probability(features)
            )
            values: dict[str, float] = {}
            for name in features.columns:
                if name in reference:
                    values[name] = round(psi.stability(reference[name], features[name]), 4)
            if "(score)" in reference:
                series = pl.Series("(score)", np.asarray(score, dtype=np.float64))
                values["(score)"] = round(psi.stability(reference["(score)"], series), 4)
            report.kinds.append(
                KindDrift(
                    kind=kind,
                    model_id=model.model_id,
                    accounts=int(accounts.len()),
                    psi=values,
                    verdicts={n: psi.verdict(v, watch, drift) for n, v in values.items()},
                )
            )
    return report

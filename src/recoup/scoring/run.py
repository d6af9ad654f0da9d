"""Scoring the book: every relevant account, with each kind's champion model.

- **collection**: accounts past due at the end of ``as_of``;
- **early_warning**: accounts current at ``as_of`` with an installment falling due within the
  next 31 days.

Each score row keeps the probability of bad (calibrated), the grade of its band, the
scorecard points (for a scorecard), the top three reason codes and the model that produced
it; the run is a ``collection_runs`` record (kind ``scoring``). Scoring the same day again
replaces that day's scores of the kind: a rerun gives the same rows, not more.

The features are point in time (:func:`recoup.risk.features.features_as_of`): a score of a
past day uses only what was known that day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from recoup.risk.challenger import GbmModel
from recoup.risk.features import features_as_of
from recoup.risk.grades import COLLECTION_BANDS, EARLY_WARNING_BANDS, GradeBands
from recoup.risk.scorecard import Scorecard
from recoup.scoring.history import read_history
from recoup.scoring.registry import RegisteredModel, champion
from recoup.scoring.training import LOOK_BACK_DAYS
from recoup.store import tables as t
from recoup.store.bulk import insert_frame, read_frame

BANDS: dict[str, GradeBands] = {
    "early_warning": EARLY_WARNING_BANDS,
    "collection": COLLECTION_BANDS,
}
EARLY_WARNING_LEAD_DAYS = 31


@dataclass(frozen=True, slots=True)
class ScoringRun:
    run_id: int
    as_of: date
    scored: dict[str, int] = field(default_factory=dict)
    grades: dict[str, dict[str, int]] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [f"scoring run {self.run_id} for {self.as_of}"]
        for kind, n in self.scored.items():
            grades = ", ".join(f"{g} {c:,}" for g, c in sorted(self.grades[kind].items()))
            lines.append(f"  {kind}: {n:,} accounts with {self.models[kind]} ({grades})")
        for kind, why in self.skipped.items():
            lines.append(f"  {kind}: not scored: {why}")
        return "\n".join(lines)


def load_model(model: RegisteredModel) -> Scorecard | GbmModel:
    if model.family == "scorecard":
        return Scorecard.from_json(model.artifact)
    return GbmModel.from_json(model.artifact)


def population(conn: Connection, kind: str, as_of: date) -> pl.Series:
    """The accounts a kind's model scores on ``as_of`` (see the module docstring)."""
    s, i = t.account_states, t.installments
    latest = (
        sa.select(s.c.account_key, sa.func.max(s.c.as_of).label("day"))
        .where(s.c.as_of <= as_of)
        .group_by(s.c.account_key)
        .subquery()
    )
    states = read_frame(
        conn,
        sa.select(s.c.account_key, s.c.dpd).join(
            latest, sa.and_(s.c.account_key == latest.c.account_key, s.c.as_of == latest.c.day)
        ),
        {"account_key": pl.Int64, "dpd": pl.Int64},
    )
    if kind == "collection":
        return states.filter(pl.col("dpd") > 0).get_column("account_key").sort()
    due_soon = read_frame(
        conn,
        sa.select(i.c.account_key)
        .where(
            i.c.due_date > as_of,
            i.c.due_date <= as_of + timedelta(days=EARLY_WARNING_LEAD_DAYS),
        )
        .distinct(),
        {"account_key": pl.Int64},
    )
    current = states.filter(pl.col("dpd") == 0).join(due_soon, on="account_key", how="semi")
    return current.get_column("account_key").sort()


def score_frame(
    model: Scorecard | GbmModel, features: pl.DataFrame, bands: GradeBands
) -> pl.DataFrame:
    """account_key, score, probability, grade, reasons (JSON) for the rows of ``features``."""
    x = features.select(list(model.features))
    probability = np.asarray(model.probability(x), dtype=np.float64)
    points = model.points(x) if isinstance(model, Scorecard) else None
    reasons = model.reasons(x)
    return pl.DataFrame(
        {
            "account_key": features.get_column("account_key"),
            "score": pl.Series(points, dtype=pl.Int64)
            if points is not None
            else pl.Series([None] * features.height, dtype=pl.Int64),
            "probability": probability,
            "grade": bands.grade(probability).astype(str),
            "reasons": [json.dumps(list(r), ensure_ascii=False) for r in reasons],
        }
    )


def score_book(engine: Engine, as_of: date, now: datetime) -> ScoringRun:
    """Score every relevant account on ``as_of`` with each kind's champion."""
    with engine.begin() as conn:
        run_id = int(
            conn.execute(
                t.collection_runs.insert()
                .values(kind="scoring", as_of=as_of, started_at=now.astimezone(UTC))
                .returning(t.collection_runs.c.run_id)
            ).scalar_one()
        )
        champions = {kind: champion(conn, kind) for kind in BANDS}
        populations = {kind: population(conn, kind, as_of) for kind in BANDS}
        history = (  # read only when there is a model to score with (the lab's days have none)
            read_history(conn, since=as_of - timedelta(days=LOOK_BACK_DAYS), until=as_of)
            if any(model is not None for model in champions.values())
            else None
        )
        scored: dict[str, int] = {}
        grades: dict[str, dict[str, int]] = {}
        models: dict[str, str] = {}
        skipped: dict[str, str] = {}
        rs = t.risk_scores
        for kind, model in champions.items():
            if model is None:
                skipped[kind] = f"no champion (train one: recoup model train --kind {kind})"
                continue
            accounts = populations[kind]
            conn.execute(rs.delete().where(rs.c.as_of == as_of, rs.c.kind == kind))
            if accounts.len() == 0:
                skipped[kind] = "no account to score"
                continue
            assert history is not None
            features = features_as_of(history, as_of, accounts)
            frame = score_frame(load_model(model), features, BANDS[kind])
            insert_frame(
                conn,
                rs,
                frame.with_columns(
                    as_of=pl.lit(as_of),
                    kind=pl.lit(kind),
                    model_id=pl.lit(model.model_id),
                    run_id=pl.lit(run_id),
                ),
            )
            scored[kind] = frame.height
            grades[kind] = dict(frame.get_column("grade").value_counts().iter_rows())
            models[kind] = model.model_id
        summary: dict[str, Any] = {"scored": scored, "grades": grades, "models": models}
        conn.execute(
            t.collection_runs.update()
            .where(t.collection_runs.c.run_id == run_id)
            .values(finished_at=datetime.now(UTC), summary=json.dumps(summary, sort_keys=True))
        )
    return ScoringRun(run_id, as_of, scored, grades, models, skipped)


def latest_scores(conn: Connection, as_of: date, within_days: int = 7) -> pl.DataFrame:
    """Each account's latest score per kind from the ``within_days`` days up to ``as_of``:
    account_key, kind, grade, probability, score."""
    rs = t.risk_scores
    frame = read_frame(
        conn,
        sa.select(
            rs.c.account_key, rs.c.kind, rs.c.as_of, rs.c.grade, rs.c.probability, rs.c.score
        ).where(rs.c.as_of <= as_of, rs.c.as_of > as_of - timedelta(days=within_days)),
        {
            "account_key": pl.Int64,
            "kind": pl.String,
            "as_of": pl.Date,
            "grade": pl.String,
            "probability": pl.Float64,
            "score": pl.Int64,
        },
    )
    return (
        frame.sort("account_key", "kind", "as_of")
        .group_by("account_key", "kind", maintain_order=True)
        .last()
        .drop("as_of")
    )

"""The model registry: every trained model, kept whole in the store, and which one scores.

A model is a row of ``risk_models``: its id (``collection-scorecard-v3``), kind and family,
the model itself as JSON text (a scorecard's bins and points are readable as they are; a
LightGBM booster is its own text format), the fingerprint of the rows it learnt from, its
feature list, parameters, metrics (per out-of-time split, and the reference distributions
that drift is measured against) and the versions of the libraries that trained it. Nothing
is pickled: a model reads back the same on any machine with the same libraries.

One model per kind is the **champion**: it is the one ``recoup score`` uses. Promoting a
model makes the former champion a candidate again; retiring a model takes it out of use for
good. Every score row names the model that produced it.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.store import tables as t

KINDS = ("early_warning", "collection", "custom")
FAMILIES = ("scorecard", "lightgbm")
_LIBRARIES = ("numpy", "polars", "scikit-learn", "optbinning", "lightgbm")


class ModelRefused(ValueError):
    """A registry request that cannot be done (the message says why)."""


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    model_id: str
    kind: str
    family: str
    version: int
    status: str
    trained_at: datetime
    as_of: date | None
    data_fingerprint: str
    features: tuple[str, ...]
    params: dict[str, Any]
    metrics: dict[str, Any]
    libraries: dict[str, str]
    artifact: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """What ``recoup model list`` shows: everything but the artifact."""
        return {
            "model_id": self.model_id,
            "kind": self.kind,
            "family": self.family,
            "version": self.version,
            "status": self.status,
            "trained_at": self.trained_at.isoformat(),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "data_fingerprint": self.data_fingerprint,
            "features": list(self.features),
            "metrics": {k: v for k, v in self.metrics.items() if k != "reference"},
        }


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def fingerprint(frame: pl.DataFrame) -> str:
    """A SHA-256 of the training rows (columns, order and values), so that a model names
    exactly the data it learnt from."""
    digest = hashlib.sha256()
    digest.update(json.dumps(list(frame.schema.items()), default=str).encode())
    for batch in frame.iter_slices(100_000):
        digest.update(batch.write_csv(include_header=False).encode())
    return digest.hexdigest()


def register(
    conn: Connection,
    *,
    kind: str,
    family: str,
    artifact: dict[str, Any],
    features: list[str],
    params: dict[str, Any],
    metrics: dict[str, Any],
    data_fingerprint: str,
    as_of: date | None,
    now: datetime,
) -> RegisteredModel:
    """Store a newly trained model as a candidate, with the next version of its kind."""
    if kind not in KINDS:
        raise ModelRefused(f"unknown model kind {kind!r}; kinds: {', '.join(KINDS)}")
    if family not in FAMILIES:
        raise ModelRefused(f"unknown model family {family!r}; families: {', '.join(FAMILIES)}")
    m = t.risk_models
    version = int(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(m.c.version), 0) + 1).where(
                m.c.kind == kind, m.c.family == family
            )
        ).scalar_one()
    )
    model_id = f"{kind}-{family}-v{version}"
    libraries = library_versions()
    conn.execute(
        m.insert().values(
            model_id=model_id,
            kind=kind,
            family=family,
            version=version,
            status="candidate",
            trained_at=now.astimezone(UTC),
            as_of=as_of,
            data_fingerprint=data_fingerprint,
            features=json.dumps(features),
            params=json.dumps(params, default=str),
            metrics=json.dumps(metrics, default=str),
            libraries=json.dumps(libraries),
            artifact=json.dumps(artifact),
        )
    )
    return get_model(conn, model_id)


def get_model(conn: Connection, model_id: str) -> RegisteredModel:
    m = t.risk_models
    row = conn.execute(sa.select(m).where(m.c.model_id == model_id)).mappings().first()
    if row is None:
        known = conn.execute(sa.select(m.c.model_id).order_by(m.c.model_id)).scalars().all()
        raise ModelRefused(
            f"no model {model_id!r}; models: {', '.join(known) or 'none trained yet'}"
        )
    return _model(row)


def list_models(conn: Connection, kind: str | None = None) -> list[RegisteredModel]:
    m = t.risk_models
    query = sa.select(m).order_by(m.c.kind, m.c.family, m.c.version)
    if kind is not None:
        query = query.where(m.c.kind == kind)
    return [_model(row) for row in conn.execute(query).mappings()]


def champion(conn: Connection, kind: str) -> RegisteredModel | None:
    m = t.risk_models
    row = (
        conn.execute(sa.select(m).where(m.c.kind == kind, m.c.status == "champion"))
        .mappings()
        .first()
    )
    return _model(row) if row is not None else None


def promote(conn: Connection, model_id: str, now: datetime) -> str:
    """Make ``model_id`` its kind's champion; the former champion becomes a candidate."""
    model = get_model(conn, model_id)
    if model.status == "retired":
        raise ModelRefused(f"{model_id} is retired: train a new model instead")
    m = t.risk_models
    stamp = now.astimezone(UTC)
    before = champion(conn, model.kind)
    if before is not None and before.model_id != model_id:
        conn.execute(
            m.update()
            .where(m.c.model_id == before.model_id)
            .values(status="candidate", status_changed_at=stamp)
        )
    conn.execute(
        m.update()
        .where(m.c.model_id == model_id)
        .values(status="champion", status_changed_at=stamp)
    )
    was = f" (was {before.model_id})" if before and before.model_id != model_id else ""
    return f"{model_id} is the {model.kind} champion{was}"


def retire(conn: Connection, model_id: str, now: datetime) -> str:
    model = get_model(conn, model_id)
    m = t.risk_models
    conn.execute(
        m.update()
        .where(m.c.model_id == model_id)
        .values(status="retired", status_changed_at=now.astimezone(UTC))
    )
    note = (
        f"; {model.kind} has no champion now: promote one before scoring"
        if model.status == "champion"
        else ""
    )
    return f"{model_id} is retired{note}"


def _model(row: Any) -> RegisteredModel:
    trained = row["trained_at"]
    return RegisteredModel(
        model_id=row["model_id"],
        kind=row["kind"],
        family=row["family"],
        version=int(row["version"]),
        status=row["status"],
        trained_at=trained if trained.tzinfo else trained.replace(tzinfo=UTC),
        as_of=row["as_of"],
        data_fingerprint=row["data_fingerprint"],
        features=tuple(json.loads(row["features"])),
        params=json.loads(row["params"]),
        metrics=json.loads(row["metrics"]),
        libraries=json.loads(row["libraries"]),
        artifact=json.loads(row["artifact"]),
    )

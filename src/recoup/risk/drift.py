"""Population stability against the training sample, without keeping the training rows.

When a model is trained, each feature's distribution on the training sample is kept as a
*reference*: the decile edges and the share of rows in each bin (numeric features, with a
bin for missing values), or the share of each category. Later, :func:`stability` puts the
current population into the same bins and computes the PSI

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

with the floor of :data:`recoup.risk.metrics.PSI_SHARE_FLOOR` on each share (one PSI formula:
:func:`recoup.risk.metrics.psi_from_shares`). :func:`recoup.risk.metrics.psi` compares two
samples held in memory; this module compares against a reference, because the training
rows are not kept with the model. The
usual reading (and the default thresholds of ``recoup model monitor``): below 0.1 stable,
0.1 to 0.25 a shift worth watching, above 0.25 drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from recoup.risk.metrics import psi_from_shares

WATCH = 0.10
DRIFT = 0.25


def reference(values: pl.Series, bins: int = 10) -> dict[str, Any]:
    """The bins and shares of ``values`` (numeric: quantile edges; text: categories)."""
    n = len(values)
    if n == 0:
        raise ValueError(f"{values.name}: no values to take a reference from")
    missing = values.null_count() / n
    if values.dtype.is_numeric():
        present = values.drop_nulls().cast(pl.Float64).to_numpy()
        if present.size == 0:
            return {"type": "numeric", "edges": [], "shares": [], "missing": missing}
        quantiles = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
        edges = sorted(set(float(q) for q in quantiles))
        counts = np.bincount(
            np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1
        )
        return {
            "type": "numeric",
            "edges": edges,
            "shares": (counts / n).tolist(),
            "missing": missing,
        }
    shares = values.cast(pl.String).fill_null("(missing)").value_counts(normalize=True, sort=True)
    return {
        "type": "categorical",
        "shares": dict(zip(shares[:, 0].to_list(), shares[:, 1].to_list(), strict=True)),
    }


def stability(ref: Mapping[str, Any], values: pl.Series) -> float:
    """The PSI of ``values`` against a :func:`reference`."""
    n = len(values)
    if n == 0:
        raise ValueError(f"{values.name}: no values to compare")
    if ref["type"] == "numeric":
        present = values.drop_nulls().cast(pl.Float64).to_numpy()
        edges = ref["edges"]
        counts = np.bincount(
            np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1
        )
        expected = np.array([*ref["shares"], ref["missing"]], dtype=float)
        actual = np.array([*(counts / n), values.null_count() / n], dtype=float)
    else:
        observed = values.cast(pl.String).fill_null("(missing)").value_counts(normalize=True)
        now = dict(zip(observed[:, 0].to_list(), observed[:, 1].to_list(), strict=True))
        names = sorted(set(ref["shares"]) | set(now))
        expected = np.array([ref["shares"].get(k, 0.0) for k in names], dtype=float)
        actual = np.array([now.get(k, 0.0) for k in names], dtype=float)
    return psi_from_shares(expected, actual)


def verdict(psi: float, watch: float = WATCH, drift: float = DRIFT) -> str:
    """``stable``, ``watch`` or ``drift`` for a PSI value."""
    if psi > drift:
        return "drift"
    return "watch" if psi > watch else "stable"

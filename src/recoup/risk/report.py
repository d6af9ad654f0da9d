"""The model card: one self-contained HTML page a risk team and a regulator can read.

It shows what the model is (kind, family, version, features, the data it learnt from and the
libraries that trained it), how it performs on each out-of-time split (AUC, Gini, KS), the
ROC and KS curves, calibration by band, the score distribution, the scorecard table (for a
scorecard), the most frequent reason codes, and the population stability (PSI) of the test
sample against the training sample. Charts are inline SVG: the page needs no network, no
script and no other file.

The page is built from the registry's record of the model (:func:`model_card`); the numbers
it shows were computed when the model was trained (``recoup.scoring.training``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 960px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
td, th { border: 1px solid #ccc; padding: .25rem .5rem; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; } figcaption { font-size: .85rem; color: #555; text-align: center; }
.flag { color: #a00; font-weight: bold; }
"""

_W, _H, _PAD = 300, 220, 30


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1) -> str:
    head = "".join(
        f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="l">{_e(v)}</td>' if i < left else f"<td>{_e(_fmt(v))}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _xy(x: float, y: float) -> str:
    px = _PAD + x * (_W - 2 * _PAD)
    py = _H - _PAD - y * (_H - 2 * _PAD)
    return f"{px:.1f},{py:.1f}"


def _frame(caption: str, inner: str, x_label: str, y_label: str) -> str:
    axes = (
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#333"/>'
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#333"/>'
        f'<text x="{_W / 2}" y="{_H - 5}" font-size="11" text-anchor="middle">{_e(x_label)}</text>'
        f'<text x="10" y="{_H / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 10 {_H / 2})">{_e(y_label)}</text>'
    )
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'role="img" aria-label="{_e(caption)}">{axes}{inner}</svg>'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _line(points: Sequence[tuple[float, float]], colour: str) -> str:
    path = " ".join(_xy(x, y) for x, y in points)
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>'


def roc_chart(fpr: Sequence[float], tpr: Sequence[float], auc: float) -> str:
    diagonal = _line([(0.0, 0.0), (1.0, 1.0)], "#bbb")
    return _frame(
        f"ROC curve (AUC {auc:.3f})",
        diagonal + _line(list(zip(fpr, tpr, strict=True)), "#1f77b4"),
        "false positive rate",
        "true positive rate",
    )


def ks_chart(
    share: Sequence[float], bads: Sequence[float], goods: Sequence[float], ks: float
) -> str:
    return _frame(
        f"KS: cumulative bads and goods by score (KS {ks:.3f})",
        _line(list(zip(share, bads, strict=True)), "#d62728")
        + _line(list(zip(share, goods, strict=True)), "#2ca02c"),
        "share of accounts, riskiest first",
        "cumulative share",
    )


def bars_chart(caption: str, values: Sequence[float], x_label: str, y_label: str) -> str:
    top = max(values) if values and max(values) > 0 else 1.0
    width = (_W - 2 * _PAD) / max(len(values), 1)
    bars = "".join(
        f'<rect x="{_PAD + i * width + 1:.1f}" y="{_H - _PAD - (v / top) * (_H - 2 * _PAD):.1f}" '
        f'width="{max(width - 2, 1):.1f}" height="{(v / top) * (_H - 2 * _PAD):.1f}" '
        f'fill="#1f77b4"/>'
        for i, v in enumerate(values)
    )
    return _frame(caption, bars, x_label, y_label)


def calibration_chart(predicted: Sequence[float], observed: Sequence[float]) -> str:
    top = max([*predicted, *observed, 1e-9])
    scaled = [(p / top, o / top) for p, o in zip(predicted, observed, strict=True)]
    dots = "".join(
        f'<circle cx="{_xy(x, y).split(",")[0]}" cy="{_xy(x, y).split(",")[1]}" r="3" '
        f'fill="#d62728"/>'
        for x, y in scaled
    )
    return _frame(
        f"calibration by band (axes to {top:.1%})",
        _line([(0.0, 0.0), (1.0, 1.0)], "#bbb") + dots,
        "mean predicted bad rate",
        "observed bad rate",
    )


def model_card(model: Mapping[str, Any], psi_flag: float = 0.25) -> str:
    """The HTML page for a registered model's summary and metrics (see module docstring)."""
    metrics: Mapping[str, Any] = model["metrics"]
    title = f"{model['model_id']}: {model['kind']} {model['family']} model card"
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
        _table(
            ["", ""],
            [
                ("status", model["status"]),
                ("trained at", model["trained_at"]),
                ("history through", model.get("as_of") or "(a file)"),
                ("training data fingerprint (SHA-256)", model["data_fingerprint"]),
                ("features", ", ".join(model["features"])),
                ("target", metrics.get("target", "")),
                ("libraries", ", ".join(f"{k} {v}" for k, v in model["libraries"].items())),
            ],
            left=2,
        ),
        "<h2>Performance out of time</h2>",
        _table(
            ["split", "rows", "bad rate", "AUC", "Gini", "KS"],
            [
                (name, s["rows"], s["bad_rate"], s["auc"], s["gini"], s["ks"])
                for name, s in metrics["splits"].items()
            ],
        ),
    ]
    test = metrics["test_curves"]
    parts.append('<div class="charts">')
    parts.append(roc_chart(test["fpr"], test["tpr"], metrics["splits"]["test"]["auc"]))
    parts.append(
        ks_chart(
            test["ks_share"], test["ks_bads"], test["ks_goods"], metrics["splits"]["test"]["ks"]
        )
    )
    bands = metrics["calibration"]
    parts.append(calibration_chart(bands["predicted"], bands["observed"]))
    parts.append(
        bars_chart("score distribution (test)", test["histogram"], "score band", "accounts")
    )
    parts.append("</div>")
    parts.append("<h2>Calibration by band (test)</h2>")
    parts.append(
        _table(
            ["band", "accounts", "mean predicted", "observed"],
            [
                (i + 1, n, p, o)
                for i, (n, p, o) in enumerate(
                    zip(bands["count"], bands["predicted"], bands["observed"], strict=True)
                )
            ],
        )
    )
    if model["family"] == "scorecard" and metrics.get("scorecard_table"):
        parts.append("<h2>Scorecard</h2>")
        rows = metrics["scorecard_table"]
        headers = list(rows[0])
        parts.append(_table(headers, [[r[h] for h in headers] for r in rows], left=2))
    reasons = metrics.get("top_reasons", [])
    if reasons:
        parts.append("<h2>Most frequent reason codes (test)</h2>")
        parts.append(_table(["reason", "accounts"], [(r["reason"], r["count"]) for r in reasons]))
    psi = metrics.get("psi", {})
    if psi:
        parts.append("<h2>Population stability: test sample against training sample</h2>")
        rows_psi = [
            (name, value, "drift" if value > psi_flag else "")
            for name, value in sorted(psi.items(), key=lambda item: -item[1])
        ]
        parts.append(_table(["feature or score", "PSI", ""], rows_psi))
        parts.append(f"<p>PSI above {psi_flag} is flagged as drift.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)

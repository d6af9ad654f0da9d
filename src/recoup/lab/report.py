"""The lab's report: each strategy's figures per seed, their mean and 95% confidence interval.

Every run (one strategy, one seed) gives a flat mapping of named figures (``recovered_cents``,
``cure_rate.M1``, ``contacts.sms``, ``blocks.CN-ATTEMPTS`` ...). Over the seeds each figure
gets its mean and a two-sided 95% Student t interval, ``mean +/- t(0.975, n-1) s / sqrt(n)``;
with one seed there is no interval and the report says so. With two strategies the report
also gives the difference (second minus first) paired by seed: both strategies meet the same
simulated borrowers under a seed, so the paired interval is the one to read.

Figures are statistics over runs (floats); the money in them is in cents, shown in yuan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

#: Two-sided 95% quantiles of Student's t, by degrees of freedom (1 to 30).
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
          2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
          2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip

#: The sections of the report, by the prefix of the figures' names, in order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("recovered_cents", "amount recovered (yuan)"),
    ("payments_in_arrears", "payments by accounts in arrears"),
    ("cure_rate.", "cure rate by starting bucket (share current at the end)"),
    ("start_accounts.", "accounts by starting bucket"),
    ("contacts.", "contacts by channel"),
    ("cost_cents.", "cost by channel (yuan)"),
    ("cost_per_yuan_recovered", "cost per yuan recovered"),
    ("complaints", "complaints"),
    ("complaints_per_1000_contacts", "complaints per 1,000 contacts"),
    ("blocks.", "compliance blocks by rule"),
    ("promises", "promises to pay taken"),
    ("promise_kept_rate", "promises kept (of those resolved)"),
    ("calls_queued", "call tasks queued"),
    ("calls_not_made", "call tasks over the collectors' capacity"),
    ("utilisation", "collector utilisation (calls made / capacity)"),
)


def t_quantile(degrees: int) -> float:
    """The 0.975 quantile of Student's t with ``degrees`` degrees of freedom."""
    if degrees < 1:
        raise ValueError("a t interval needs at least two runs")
    if degrees <= len(_T_975):
        return _T_975[degrees - 1]
    return 1.96 + 2.4 / degrees  # within 0.005 of the exact quantile beyond 30


@dataclass(frozen=True, slots=True)
class Estimate:
    """A figure's mean over ``n`` runs and its 95% interval (None with one run)."""

    mean: float
    low: float | None
    high: float | None
    n: int

    def document(self) -> dict[str, Any]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "runs": self.n}


def estimate(values: Sequence[float]) -> Estimate:
    """The mean of ``values`` and its two-sided 95% t interval."""
    n = len(values)
    if n == 0:
        raise ValueError("no values to estimate from")
    mean = math.fsum(values) / n
    if n == 1:
        return Estimate(mean, None, None, 1)
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = t_quantile(n - 1) * math.sqrt(variance / n)
    return Estimate(mean, mean - half, mean + half, n)


@dataclass(frozen=True, slots=True)
class StrategyResult:
    """One strategy's runs, one mapping of figures per seed (in the seeds' order)."""

    name: str
    path: str
    strategy_id: str
    version: int
    runs: tuple[Mapping[str, float], ...]
    #: Seconds spent in each part over all runs (not figures: they differ between machines).
    seconds: Mapping[str, float] = field(default_factory=dict)

    def figures(self) -> list[str]:
        return sorted({k for run in self.runs for k in run})

    def summary(self, figures: Sequence[str] | None = None) -> dict[str, Estimate]:
        names = figures if figures is not None else self.figures()
        return {k: estimate([float(run.get(k, 0.0)) for run in self.runs]) for k in names}


@dataclass(frozen=True, slots=True)
class LabReport:
    """What ``run_lab`` found, for every strategy on the same simulated borrowers."""

    accounts: int
    days: int
    start: date
    seeds: tuple[int, ...]
    strategies: tuple[StrategyResult, ...]
    seconds: float = 0.0

    def figures(self) -> list[str]:
        return sorted({k for s in self.strategies for k in s.figures()}, key=_order)

    def difference(self) -> dict[str, Estimate] | None:
        """Second strategy minus first, paired by seed; None unless there are two."""
        if len(self.strategies) != 2:
            return None
        first, second = self.strategies
        return {
            k: estimate(
                [
                    float(b.get(k, 0.0)) - float(a.get(k, 0.0))
                    for a, b in zip(first.runs, second.runs, strict=True)
                ]
            )
            for k in self.figures()
        }

    def document(self) -> dict[str, Any]:
        """The report as JSON-ready data (figures by name; money in cents)."""
        names = self.figures()
        difference = self.difference()
        return {
            "accounts": self.accounts,
            "days": self.days,
            "start": self.start.isoformat(),
            "seeds": list(self.seeds),
            "interval": "95% t interval over seeds"
            if len(self.seeds) > 1
            else "one seed: no confidence interval (run more seeds with --seeds)",
            "strategies": [
                {
                    "name": s.name,
                    "path": s.path,
                    "strategy_id": s.strategy_id,
                    "version": s.version,
                    "runs": [dict(run) for run in s.runs],
                    "summary": {k: e.document() for k, e in s.summary(names).items()},
                    "seconds": {k: round(v, 2) for k, v in sorted(s.seconds.items())},
                }
                for s in self.strategies
            ],
            "difference": None
            if difference is None
            else {k: e.document() for k, e in difference.items()},
            "seconds": round(self.seconds, 1),
        }

    def describe(self) -> str:
        """The report as a table to read on a terminal."""
        names = self.figures()
        summaries = [s.summary(names) for s in self.strategies]
        difference = self.difference()
        header = [s.name for s in self.strategies] + (
            [f"{self.strategies[1].name} - {self.strategies[0].name}"] if difference else []
        )
        width = 28
        seeds = ", ".join(str(s) for s in self.seeds)
        lines = [
            f"lab: {self.accounts:,} accounts, {self.days} days from {self.start}, seeds {seeds}",
            "figures: mean over seeds [95% t interval]"
            if len(self.seeds) > 1
            else "one seed: no confidence interval (run more seeds with --seeds)",
            "",
            f"{'':<48}" + "".join(f"{h:>{width}}" for h in header),
        ]
        several = len(self.seeds) > 1
        for prefix, title in SECTIONS:
            rows = [k for k in names if _in_section(k, prefix)]
            if not rows:
                continue
            grouped = prefix.endswith(".")
            if grouped:
                lines.append(title)
            for key in rows:
                label = f"  {key[len(prefix) :]}" if grouped else title
                cells = [_cell(key, summary[key], several) for summary in summaries]
                if difference is not None:
                    cells.append(_cell(key, difference[key], several, signed=True))
                lines.append(f"{label:<48}" + "".join(f"{c:>{width}}" for c in cells))
        lines.append("")
        lines.append(f"{len(self.seeds) * len(self.strategies)} runs in {self.seconds:.0f} s")
        return "\n".join(lines)


def _in_section(name: str, prefix: str) -> bool:
    return name == prefix or (prefix.endswith(".") and name.startswith(prefix))


def _order(name: str) -> tuple[int, str]:
    for index, (prefix, _) in enumerate(SECTIONS):
        if _in_section(name, prefix):
            return index, _bucket_order(name)
    return len(SECTIONS), name


def _bucket_order(name: str) -> str:
    # M7+ sorts after M6; "total" last within its section.
    tail = name.rsplit(".", 1)[-1]
    return "~" if tail == "total" else name


def _cell(key: str, e: Estimate, several: bool, *, signed: bool = False) -> str:
    """A figure as text: money in yuan, rates with three decimals, counts whole (with one
    decimal for means over several seeds)."""
    scale = 0.01 if "cents" in key else 1.0
    if "rate" in key or key in ("utilisation", "cost_per_yuan_recovered"):
        digits = 3
    elif key.endswith("_per_1000_contacts"):
        digits = 2
    else:
        digits = 1 if several and "cents" not in key else 0

    def show(value: float) -> str:
        text = f"{value * scale:,.{digits}f}"
        return f"+{text}" if signed and value > 0 else text

    if e.low is None or e.high is None:
        return show(e.mean)
    return f"{show(e.mean)} [{show(e.low)}, {show(e.high)}]"

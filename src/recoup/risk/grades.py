"""Risk grades: bands on a probability of going bad, named A to E unless configured otherwise.

A model gives each account a calibrated probability P(bad); a strategy condition such as
``risk_grade: [D, E]`` reads a grade instead, so that the strategy file does not change
whenever a model is retrained. A grade is the band the probability falls in. Bands are
given by their upper bounds, each exclusive: with the early-warning defaults below, an account
is ``A`` when P(bad) < 2%, ``B`` when 2% ≤ P(bad) < 5%, and so on; the last band has no upper
bound (``E``: P(bad) ≥ 25%).

Two default sets, because the two scores measure different events with very different rates:

============  =====================================  ==========================================
grade         early warning (current accounts):      collection (overdue accounts):
              P(bad) = P(default in the window)      P(bad) = P(not curing within 30 days)
============  =====================================  ==========================================
A             below 2%                               below 20%
B             2% to 5%                               20% to 40%
C             5% to 12%                              40% to 60%
D             12% to 25%                             60% to 80%
E             25% and above                          80% and above
============  =====================================  ==========================================

The early-warning bands roughly double at each step, as default rates of a retail book are
skewed towards small values; the collection bands are even, as curing is a common outcome and
its probability spreads over the whole range.

A configuration section (YAML or JSON) names each band and its upper bound, in order, the last
band with ``null`` (no upper bound)::

    grades: {A: 0.02, B: 0.05, C: 0.12, D: 0.25, E: null}
    grades: {low: "10%", medium: "30%", high: null}     # percentages are accepted as text

Names are at most 8 characters: the store keeps a score's grade in a column of that width.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_NAME_LENGTH = 8  # the width of risk_scores.grade in the store


class GradeBandsError(ValueError):
    """A grade configuration that cannot be used; the message says which band and why."""


@dataclass(frozen=True, slots=True)
class GradeBands:
    """Named bands on P(bad).

    ``bounds`` are the exclusive upper bounds of every band but the last, strictly increasing
    and strictly between 0 and 1; ``names`` has one more entry than ``bounds``.
    """

    bounds: tuple[float, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.names) < 2:
            raise GradeBandsError("grades: at least two bands are needed")
        if len(self.names) != len(self.bounds) + 1:
            raise GradeBandsError(
                f"grades: {len(self.names)} names need {len(self.names) - 1} upper bounds, "
                f"got {len(self.bounds)}"
            )
        seen: set[str] = set()
        for name in self.names:
            if not isinstance(name, str) or not name.strip():
                raise GradeBandsError(f"grades: a band name must be non-empty text, got {name!r}")
            if name != name.strip():
                raise GradeBandsError(f"grades: band name {name!r} has surrounding spaces")
            if len(name) > MAX_NAME_LENGTH:
                raise GradeBandsError(
                    f"grades: band name {name!r} is longer than {MAX_NAME_LENGTH} characters"
                )
            if name in seen:
                raise GradeBandsError(f"grades: band name {name!r} appears twice")
            seen.add(name)
        previous = 0.0
        for name, bound in zip(self.names, self.bounds, strict=False):
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise GradeBandsError(f"grades: band {name!r}: upper bound {bound!r} is no number")
            if not math.isfinite(bound) or not 0.0 < bound < 1.0:
                raise GradeBandsError(
                    f"grades: band {name!r}: upper bound {bound} is not between 0 and 1"
                )
            if bound <= previous:
                raise GradeBandsError(
                    f"grades: band {name!r}: upper bound {bound} does not exceed the band "
                    f"before it ({previous}); bounds must increase"
                )
            previous = bound

    def grade(self, p: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """The grade of each probability, as an array of names of the same shape.

        A probability equal to a bound belongs to the band above it. Probabilities must be
        numbers in [0, 1]; a missing one (NaN) is refused rather than given a grade.
        """
        values = np.asarray(p, dtype=np.float64)
        if np.isnan(values).any():
            raise GradeBandsError("grades: a probability is missing (NaN)")
        if values.size and (values.min() < 0.0 or values.max() > 1.0):
            outside = values[(values < 0.0) | (values > 1.0)].flat[0]
            raise GradeBandsError(f"grades: probability {outside} is not between 0 and 1")
        index = np.searchsorted(np.asarray(self.bounds), values, side="right")
        return np.asarray(self.names, dtype=np.str_)[index]

    def to_mapping(self) -> dict[str, float | None]:
        """The bands in the configuration format that `parse_grade_bands` reads."""
        upper: list[float | None] = [*self.bounds, None]
        return dict(zip(self.names, upper, strict=True))


EARLY_WARNING_BANDS = GradeBands(bounds=(0.02, 0.05, 0.12, 0.25), names=("A", "B", "C", "D", "E"))
"""Bands for the early-warning score of current accounts: P(default within its window)."""

COLLECTION_BANDS = GradeBands(bounds=(0.20, 0.40, 0.60, 0.80), names=("A", "B", "C", "D", "E"))
"""Bands for the collection score of overdue accounts: P(not curing within 30 days)."""


def parse_grade_bands(section: Mapping[Any, Any]) -> GradeBands:
    """Read a ``{name: upper bound, ..., last name: null}`` section into `GradeBands`.

    A bound is a number in (0, 1) or a percentage as text (``"2%"``, ``"2.5 %"``); the last
    band's bound must be ``null`` (no upper bound). The bands keep the section's order.
    """
    if not isinstance(section, Mapping):
        raise GradeBandsError(
            f"grades: expected a mapping of band names to upper bounds, got {section!r}"
        )
    items = list(section.items())
    if len(items) < 2:
        raise GradeBandsError("grades: at least two bands are needed")
    names = tuple(str(name) if isinstance(name, int) else name for name, _ in items)
    bounds: list[float] = []
    for position, (name, raw) in enumerate(items):
        last = position == len(items) - 1
        if last:
            if raw is not None:
                raise GradeBandsError(
                    f"grades: the last band {name!r} has no upper bound; write null, not {raw!r}"
                )
            continue
        if raw is None:
            raise GradeBandsError(
                f"grades: band {name!r} needs an upper bound; only the last band has none"
            )
        bounds.append(_bound(name, raw))
    return GradeBands(bounds=tuple(bounds), names=names)


def _bound(name: object, raw: object) -> float:
    if isinstance(raw, str):
        text = raw.strip()
        if text.endswith("%"):
            try:
                return float(text[:-1].strip()) / 100.0
            except ValueError:
                pass
        raise GradeBandsError(
            f"grades: band {name!r}: upper bound {raw!r} is neither a number nor a percentage"
        )
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise GradeBandsError(f"grades: band {name!r}: upper bound {raw!r} is no number")
    return float(raw)

"""Training both models on a risk team's own table: ``recoup model train --data FILE.csv``.

The file is any table with one row per account and a binary target column (1 = bad, 0 = good);
every other column is a candidate feature. The pipeline:

1. **Read** (`read_table`). CSV is read with every column as text, so that the types are decided
   here, by the rule below, and a bad value can be reported with its line. The separator is the
   commonest of ``,`` ``;`` and tab in the header line. Parquet is read with its own types.
2. **Check and infer** (`prepare_table`). The target must exist, hold only 0 and 1 (as numbers
   or text), and have at least `MIN_ROWS_PER_CLASS` rows of each class. A text column is
   *numeric* when at least 95% (`NUMERIC_SHARE`) of its non-empty values parse as numbers; the
   other values are then mistakes (``"n/a"`` in an income column) and refused with their line,
   since silently turning them into missing values would hide a broken export. Below 95% the
   column is *categorical*. Integer codes (1–4 for a rate class) stay numeric: the scorecard's
   binning finds their order if there is one, and the trees can split them anyway. Columns
   left out, with the reason kept on the report: empty columns, columns of other types (dates)
   and identifier-like text (more than half of the non-empty values distinct, and more than 50
   distinct values), which a model could only memorise. A value is *missing* when it is empty,
   blank, or one of the markers other programs write for a missing value (`MISSING_MARKERS`:
   ``NA`` from R, ``NULL`` from SQL, ``NaN`` from numpy and Polars, in any case); anything else
   typed by hand, such as ``n/a`` or ``-``, is a value, so an error in a numeric column.
3. **Split**: a stratified hold-out of 30% (``test_share``) drawn with the fixed ``seed``, so that
   the same file gives the same split and the same figures on every run.
4. **Train** the scorecard (`recoup.risk.scorecard`) and the LightGBM challenger
   (`recoup.risk.challenger`) on the rest, with the same seed and categorical columns.
5. **Measure** AUC, KS and Gini of each model's P(bad) on the held-out rows
   (`recoup.risk.metrics`); `report_document` is the JSON the command prints.

Errors are `TableError` exceptions whose message names the file, the column and, where one row
is at fault, its line in the file (the header is line 1, so data row *i* is line *i + 1*;
quoted values spanning several lines would shift this). A frame that did not come from a CSV
file is described by rows instead of lines. Reading the file is the only I/O here, besides
`save_models`, which the command's ``--out`` uses.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from recoup.risk.challenger import GbmModel, fit_gbm, stratified_split
from recoup.risk.metrics import auc, gini, ks
from recoup.risk.scorecard import Scorecard, fit_scorecard

NUMERIC_SHARE = 0.95
"""A text column is numeric when at least this share of its non-empty values are numbers."""
MISSING_MARKERS = ("na", "nan", "null")
"""Written by R, numpy/Polars and SQL exports for a missing value; compared in lower case."""
MIN_ROWS_PER_CLASS = 50
"""Fewer goods or bads than this and neither model, nor the held-out measures, mean anything."""
IDENTIFIER_MIN_DISTINCT = 50
"""Text columns with more distinct values than this and than half their rows are identifiers."""
PARQUET_SUFFIXES = (".parquet", ".pq")
DECIMALS = 4


class TableError(ValueError):
    """The table cannot be used as training data; the message says where and why."""

    def __init__(
        self, message: str, *, source: str, column: str | None = None, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.source = source
        self.column = column
        self.line = line


class ColumnKind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True, slots=True)
class PreparedTable:
    """The checked table: features typed (numbers as Float64, categories as text) and the target."""

    features: pl.DataFrame
    target: npt.NDArray[np.int64]
    categorical: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (column, why it was left out)

    @property
    def kinds(self) -> dict[str, ColumnKind]:
        return {
            name: ColumnKind.CATEGORICAL if name in self.categorical else ColumnKind.NUMERIC
            for name in self.features.columns
        }


@dataclass(frozen=True, slots=True)
class Measures:
    """How well a model's P(bad) separates the held-out bads from the goods."""

    auc: float
    ks: float
    gini: float

    @classmethod
    def of(cls, y: npt.NDArray[np.int64], p: npt.NDArray[np.float64]) -> Measures:
        return cls(auc=auc(y, p), ks=ks(y, p), gini=gini(y, p))

    def document(self) -> dict[str, float]:
        return {
            "auc": round(self.auc, DECIMALS),
            "ks": round(self.ks, DECIMALS),
            "gini": round(self.gini, DECIMALS),
        }


@dataclass(frozen=True, slots=True, eq=False)
class TableReport:
    """Both models trained on a table, and their measures on its held-out part."""

    source: str
    target: str
    seed: int
    test_share: float
    rows: int
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    train_rows: int
    test_rows: int
    test_bad_rate: float
    scorecard: Scorecard
    gbm: GbmModel
    scorecard_measures: Measures
    gbm_measures: Measures


@dataclass(frozen=True, slots=True)
class _Where:
    """How messages name the table and a row of it."""

    source: str
    csv_lines: bool

    def row(self, index: int) -> int:
        """The line in the CSV file (header = line 1), or the 1-based row of another table."""
        return index + 2 if self.csv_lines else index + 1

    def at(self, index: int) -> str:
        return f"line {self.row(index)}" if self.csv_lines else f"row {self.row(index)}"


def _where(source: str | Path | None) -> _Where:
    if source is None:
        return _Where("the table", csv_lines=False)
    return _Where(str(source), csv_lines=Path(source).suffix.lower() not in PARQUET_SUFFIXES)


def read_table(path: str | Path) -> pl.DataFrame:
    """The table in ``path``: Parquet (``.parquet``, ``.pq``) with its types, anything else as
    CSV with every column as text (empty values are null).

    Raises `TableError` for a missing, empty or malformed file.
    """
    file = Path(path)
    name = str(path)
    if not file.is_file():
        raise TableError(f"{name}: no such file", source=name)
    if file.suffix.lower() in PARQUET_SUFFIXES:
        try:
            return pl.read_parquet(file)
        except (pl.exceptions.PolarsError, OSError) as error:
            raise TableError(f"{name}: cannot be read as Parquet: {error}", source=name) from None
    head = _first_line(file)
    if not head.strip():
        raise TableError(f"{name}: the file is empty", source=name)
    separator = max((",", ";", "\t"), key=head.count)
    try:
        return pl.read_csv(file, infer_schema=False, separator=separator, encoding="utf8-lossy")
    except pl.exceptions.PolarsError as error:
        raise _csv_error(file, name, separator, error) from None


def _first_line(file: Path) -> str:
    with file.open("rb") as stream:
        return stream.readline().decode("utf-8", errors="replace").lstrip("\ufeff")


def _csv_error(file: Path, name: str, separator: str, error: Exception) -> TableError:
    """The polars error, with the first line whose number of fields differs from the header's."""
    with file.open(encoding="utf-8", errors="replace", newline="") as stream:
        reader = csv.reader(stream, delimiter=separator)
        header = next(reader, [])
        for fields in reader:
            if fields and len(fields) != len(header):
                return TableError(
                    f"{name}, line {reader.line_num}: {len(fields)} fields where the header "
                    f"has {len(header)}",
                    source=name,
                    line=reader.line_num,
                )
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return TableError(f"{name}: cannot be read as CSV: {first}", source=name)


def prepare_table(
    frame: pl.DataFrame, target: str, *, source: str | Path | None = None
) -> PreparedTable:
    """Check ``frame`` as training data for ``target`` and type its feature columns.

    ``source`` names the file in messages; a CSV file's rows are then given by their lines.
    Raises `TableError` (rules in the module docstring).
    """
    where = _where(source)
    if frame.height == 0:
        raise TableError(f"{where.source} has no data rows", source=where.source)
    y = _target(frame, target, where)
    columns: list[pl.Series] = []
    categorical: list[str] = []
    skipped: list[tuple[str, str]] = []
    for name in frame.columns:
        if name == target:
            continue
        kind, column, why = _infer(frame.get_column(name), where)
        if kind is None:
            skipped.append((name, why))
            continue
        columns.append(column)
        if kind is ColumnKind.CATEGORICAL:
            categorical.append(name)
    if not columns:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped)
        raise TableError(
            f"{where.source} has no usable feature column besides the target {target!r}"
            + (f" ({reasons})" if reasons else ""),
            source=where.source,
        )
    return PreparedTable(
        features=pl.DataFrame(columns),
        target=y,
        categorical=tuple(categorical),
        skipped=tuple(skipped),
    )


def _target(frame: pl.DataFrame, target: str, where: _Where) -> npt.NDArray[np.int64]:
    if target not in frame.columns:
        same = [c for c in frame.columns if c.strip().lower() == target.strip().lower()]
        hint = f"; did you mean {same[0]!r}?" if same else ""
        listed = ", ".join(repr(c) for c in frame.columns[:20])
        more = ", …" if frame.width > 20 else ""
        raise TableError(
            f"{where.source} has no target column {target!r}{hint} (columns: {listed}{more})",
            source=where.source,
            column=target,
        )
    column = frame.get_column(target)
    if column.dtype == pl.String:
        text = _text(column)
        values = text.cast(pl.Float64, strict=False)
    elif column.dtype.is_numeric() or column.dtype == pl.Boolean:
        text = column.cast(pl.String)
        values = column.cast(pl.Float64)
    else:
        raise TableError(
            f"{where.source}: target column {target!r} has type {column.dtype}; "
            "it must hold 1 (bad) and 0 (good)",
            source=where.source,
            column=target,
        )
    empty = text.is_null() | values.is_nan().fill_null(False)
    wrong = ~empty & ~values.is_in([0.0, 1.0]).fill_null(False)
    for mask, what in ((empty, "no value"), (wrong, None)):
        if mask.any():
            index = int(mask.arg_true()[0])
            said = what or f"{text[index]!r} is not 0 or 1"
            raise TableError(
                f"{where.source}: target column {target!r}, {where.at(index)}: {said}; "
                "the target must be 1 (bad) or 0 (good)",
                source=where.source,
                column=target,
                line=where.row(index),
            )
    y = values.cast(pl.Int64).to_numpy().astype(np.int64)
    counts = np.bincount(y, minlength=2)
    if counts.min() == 0:
        only = 0 if counts[0] else 1
        raise TableError(
            f"{where.source}: target column {target!r} has only the value {only} "
            f"({len(y)} rows); it needs both 1 (bad) and 0 (good)",
            source=where.source,
            column=target,
        )
    if counts.min() < MIN_ROWS_PER_CLASS:
        raise TableError(
            f"{where.source}: target column {target!r} has {counts[1]} rows with 1 (bad) and "
            f"{counts[0]} with 0 (good); at least {MIN_ROWS_PER_CLASS} of each are needed",
            source=where.source,
            column=target,
        )
    return y


def _infer(column: pl.Series, where: _Where) -> tuple[ColumnKind | None, pl.Series, str]:
    """The column's kind and typed values, or ``None`` and why it is left out."""
    name = column.name
    dtype = column.dtype
    if column.null_count() == column.len():
        return None, column, "empty"
    if dtype == pl.Boolean or dtype.is_numeric():
        return ColumnKind.NUMERIC, column.cast(pl.Float64), ""
    if dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        column = column.cast(pl.String)
    elif dtype != pl.String:
        return None, column, f"type {dtype} is neither number nor text"
    text = _text(column)
    present = text.is_not_null()
    filled = int(present.sum())
    if filled == 0:
        return None, column, "empty"
    numbers = text.cast(pl.Float64, strict=False)
    is_number = numbers.is_finite().fill_null(False)
    if int(is_number.sum()) >= NUMERIC_SHARE * filled:
        bad = present & ~is_number
        if bad.any():
            index = int(bad.arg_true()[0])
            raise TableError(
                f"{where.source}: column {name!r}, {where.at(index)}: {text[index]!r} is not "
                f"a number (the column is numeric: at least {NUMERIC_SHARE:.0%} of its values "
                "are numbers)",
                source=where.source,
                column=name,
                line=where.row(index),
            )
        return ColumnKind.NUMERIC, numbers.alias(name), ""
    distinct = text.drop_nulls().n_unique()
    if distinct > IDENTIFIER_MIN_DISTINCT and distinct > filled / 2:
        return None, column, f"identifier-like text ({distinct} distinct values in {filled} rows)"
    return ColumnKind.CATEGORICAL, text, ""


def _text(column: pl.Series) -> pl.Series:
    """The values without surrounding spaces; empty ones and missing markers become null."""
    stripped = pl.col(column.name).str.strip_chars()
    missing = (stripped == "") | stripped.str.to_lowercase().is_in(MISSING_MARKERS)
    return column.to_frame().select(pl.when(~missing).then(stripped)).to_series()


def train_on_table(
    frame: pl.DataFrame,
    target: str,
    seed: int = 7,
    test_share: float = 0.3,
    *,
    source: str | Path | None = None,
) -> TableReport:
    """Check ``frame``, hold out a stratified ``test_share`` with ``seed``, train the scorecard
    and the LightGBM challenger on the rest and measure both on the held-out rows.

    ``source`` names the file in error messages (`train_on_file` passes it).
    """
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must be between 0 and 1, got {test_share}")
    prepared = prepare_table(frame, target, source=source)
    y = prepared.target
    train, test = stratified_split(y, test_share, seed)
    x_train = prepared.features[train]
    x_test = prepared.features[test]
    scorecard = fit_scorecard(x_train, y[train], categorical=prepared.categorical, seed=seed)
    gbm = fit_gbm(x_train, y[train], categorical=prepared.categorical, seed=seed)
    return TableReport(
        source=_where(source).source,
        target=target,
        seed=seed,
        test_share=test_share,
        rows=frame.height,
        features=tuple(prepared.features.columns),
        categorical=prepared.categorical,
        skipped=prepared.skipped,
        train_rows=len(train),
        test_rows=len(test),
        test_bad_rate=float(y[test].mean()),
        scorecard=scorecard,
        gbm=gbm,
        scorecard_measures=Measures.of(y[test], scorecard.probability(x_test)),
        gbm_measures=Measures.of(y[test], gbm.probability(x_test)),
    )


def train_on_file(
    path: str | Path, target: str, seed: int = 7, test_share: float = 0.3
) -> TableReport:
    """`read_table` then `train_on_table`, with the file named in every message."""
    return train_on_table(read_table(path), target, seed, test_share, source=path)


def report_document(report: TableReport) -> dict[str, Any]:
    """The command's JSON: held-out measures per model (4 decimals), rows and features used."""
    return {
        "scorecard": report.scorecard_measures.document(),
        "lightgbm": report.gbm_measures.document(),
        "rows": report.rows,
        "features": len(report.features),
    }


def run_document(report: TableReport) -> dict[str, Any]:
    """What the run used: the file, target, seed, split and columns (kinds and left out)."""
    return {
        "source": report.source,
        "target": report.target,
        "seed": report.seed,
        "test_share": report.test_share,
        "rows": report.rows,
        "train_rows": report.train_rows,
        "test_rows": report.test_rows,
        "test_bad_rate": round(report.test_bad_rate, DECIMALS),
        "numeric": [name for name in report.features if name not in report.categorical],
        "categorical": list(report.categorical),
        "skipped": [{"column": name, "reason": why} for name, why in report.skipped],
    }


def save_models(report: TableReport, out_dir: str | Path) -> tuple[Path, ...]:
    """Write ``scorecard.json``, ``lightgbm.json``, ``metrics.json`` (`report_document`) and
    ``run.json`` (`run_document`) into ``out_dir``, creating it; returns the paths written."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    documents: Sequence[tuple[str, dict[str, Any]]] = (
        ("scorecard.json", report.scorecard.to_json()),
        ("lightgbm.json", report.gbm.to_json()),
        ("metrics.json", report_document(report)),
        ("run.json", run_document(report)),
    )
    written: list[Path] = []
    for name, document in documents:
        path = folder / name
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    return tuple(written)

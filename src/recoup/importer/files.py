"""Finding and reading the import's files: CSV or Parquet, every column as trimmed text.

Each kind of file (borrowers, plans, payments) may come as ``<kind>.csv`` or
``<kind>.parquet`` but not both, or be absent. CSV files are read without type inference so
that ``"007"`` stays ``"007"`` and every value is checked by the same rules; Parquet
columns are turned into the same text (dates as ``YYYY-MM-DD``). Values are trimmed and an
empty value is a null. A missing required column, an unknown column or a file that cannot
be read is a problem of the whole file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from recoup.importer.fields import ROW
from recoup.importer.issues import ImportIssue, IssueLog


@dataclass(frozen=True, slots=True)
class FileKind:
    stem: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


BORROWERS = FileKind(
    "borrowers", ("borrower_id", "name", "phone"), ("email", "region", "timezone", "address")
)
PLANS = FileKind(
    "plans",
    ("plan_id", "account_id", "borrower_id", "product_id", "principal", "term", "start_date"),
)
PAYMENTS = FileKind("payments", ("payment_id", "account_id", "amount", "paid_on"), ("reverses",))
KINDS = (BORROWERS, PLANS, PAYMENTS)
PRODUCTS_FILE = "products.yaml"


@dataclass(frozen=True, slots=True)
class InputFile:
    kind: FileKind
    name: str
    #: ``_row`` and every column of the kind, as text; absent optional columns are null.
    frame: pl.DataFrame
    #: The columns the file itself has (an absent optional column leaves stored values be).
    present: frozenset[str]

    @property
    def unit(self) -> str:
        """How the file's rows are counted in messages: CSV lines or Parquet rows."""
        return "row" if self.name.endswith(".parquet") else "line"


def read_input(directory: Path, kind: FileKind, log: IssueLog) -> InputFile | None:
    """The file of ``kind`` in ``directory``, or None when absent or unreadable (logged)."""
    csv_path = directory / f"{kind.stem}.csv"
    parquet_path = directory / f"{kind.stem}.parquet"
    if csv_path.exists() and parquet_path.exists():
        log.add(
            ImportIssue(
                csv_path.name,
                None,
                None,
                f"both {csv_path.name} and {parquet_path.name} are present; keep one",
            )
        )
        return None
    if csv_path.exists():
        path, first_row = csv_path, 2
    elif parquet_path.exists():
        path, first_row = parquet_path, 1
    else:
        return None
    try:
        raw = _read_csv(path) if path is csv_path else _read_parquet(path)
    except _Unreadable as exc:
        log.add(ImportIssue(path.name, exc.row, None, exc.message))
        return None
    header = [name.strip().lstrip("\ufeff") for name in raw.columns]
    raw.columns = header
    header_row = 1 if first_row == 2 else None  # a CSV header is line 1; Parquet has none
    problems = [
        ImportIssue(path.name, header_row, name, "missing column")
        for name in kind.required
        if name not in header
    ]
    for name in header:
        if name in kind.columns:
            continue
        # Polars renames a repeated header "amount" to "amount_duplicated_0".
        base, _, suffix = name.rpartition("_duplicated_")
        if base in header and suffix.isdigit():
            problems.append(ImportIssue(path.name, header_row, base, "column appears twice"))
        else:
            problems.append(ImportIssue(path.name, header_row, name, "unknown column"))
    if problems:
        log.extend(problems)
        return None
    frame = raw.with_row_index(ROW, offset=first_row).with_columns(pl.col(ROW).cast(pl.Int64))
    frame = frame.with_columns(
        pl.col(name).str.strip_chars().alias(name) for name in header
    ).with_columns(
        pl.when(pl.col(name).str.len_bytes() > 0).then(pl.col(name)).alias(name) for name in header
    )
    # Blank lines in a CSV read as rows of nulls; they are not records.
    frame = frame.filter(pl.any_horizontal(pl.col(header).is_not_null()))
    frame = frame.with_columns(
        pl.lit(None, dtype=pl.Utf8).alias(name) for name in kind.columns if name not in header
    ).select(ROW, *kind.columns)
    return InputFile(kind, path.name, frame, frozenset(header))


class _Unreadable(Exception):
    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row


def _read_csv(path: Path) -> pl.DataFrame:
    try:
        return pl.read_csv(path, infer_schema=False, raise_if_empty=True)
    except pl.exceptions.NoDataError:
        raise _Unreadable("the file is empty; it needs at least a header line") from None
    except pl.exceptions.PolarsError as exc:
        line = _first_ragged_line(path)
        if line is not None:
            raise _Unreadable("more fields than the header has", line) from None
        raise _Unreadable(f"cannot read the file: {str(exc).splitlines()[0]}") from None


def _first_ragged_line(path: Path) -> int | None:
    """The line of the first record with more fields than the header (the slow way, on error)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            for record in reader:
                if len(record) > len(header):
                    return reader.line_num
    except (UnicodeDecodeError, csv.Error):
        return None
    return None


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
        return frame.with_columns(
            pl.col(name).dt.strftime("%Y-%m-%d") if dtype == pl.Date else pl.col(name).cast(pl.Utf8)
            for name, dtype in frame.schema.items()
        )
    except pl.exceptions.PolarsError as exc:
        raise _Unreadable(f"cannot read the file: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise _Unreadable(f"cannot read the file: {exc}") from None

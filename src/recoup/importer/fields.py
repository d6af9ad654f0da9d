"""Vectorised parsing and checking of the import's text columns.

Every input column arrives as text (CSV files are read without type inference, Parquet
columns are cast to text), trimmed, with empty cells as nulls. A check never raises: it
marks the failing rows in an *error column* named ``!<column>`` holding the message, so one
pass over a million rows finds every problem, and the first message of a cell wins (a
cell that is not a number is not also reported as out of range). The row number column
``_row`` says where each row came from (see :mod:`recoup.importer.issues`).

Money follows :func:`recoup.money.parse_cents`: an optional sign, digits, at most two
decimals (``"12.30"``, ``"12.3"``, ``"12.300"`` are all 1230 cents); exponents and other
spellings are refused. Dates are ISO ``YYYY-MM-DD``.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from recoup.importer.issues import ImportIssue

ROW = "_row"
_ERROR_PREFIX = "!"
#: A whole-unit part of at most 13 digits keeps any amount in cents inside a BIGINT.
_MAX_WHOLE_DIGITS = 13


def error_column(column: str) -> str:
    return _ERROR_PREFIX + column


def error_columns(frame: pl.DataFrame) -> list[str]:
    return [name for name in frame.columns if name.startswith(_ERROR_PREFIX)]


def quoted(column: str | pl.Expr) -> pl.Expr:
    """The value as Python would quote it in a message: ``'12.345'``."""
    expr = pl.col(column) if isinstance(column, str) else column
    return pl.format("'{}'", expr)


def flag(
    frame: pl.DataFrame, column: str, failing: pl.Expr, message: pl.Expr | str
) -> pl.DataFrame:
    """Mark ``column`` of the rows where ``failing`` is true with ``message``.

    A row whose ``failing`` is null is not marked, so a check on a parsed value quietly
    passes the rows whose value could not be parsed (they already carry a message).
    """
    text = pl.lit(message) if isinstance(message, str) else message
    name = error_column(column)
    new = pl.when(failing).then(text).otherwise(pl.lit(None, dtype=pl.Utf8))
    if name in frame.columns:
        new = pl.coalesce(pl.col(name), new)
    return frame.with_columns(new.alias(name))


def row_ok() -> pl.Expr:
    """True for the rows without any message so far (use after all checks of a frame)."""
    return ~pl.any_horizontal(pl.col(f"^{_ERROR_PREFIX}.*$").is_not_null()).fill_null(False)


def valid_rows(frame: pl.DataFrame) -> pl.DataFrame:
    errors = error_columns(frame)
    if not errors:
        return frame
    return frame.filter(~pl.any_horizontal(pl.col(errors).is_not_null()))


def issues_of(frame: pl.DataFrame, file: str, limit: int) -> list[ImportIssue]:
    """The messages of ``frame``'s error columns as issues, by row, at most ``limit``."""
    errors = error_columns(frame)
    if not errors:
        return []
    failing = frame.filter(pl.any_horizontal(pl.col(errors).is_not_null())).head(limit)
    if failing.height == 0:
        return []
    long = (
        failing.select(ROW, *errors)
        .unpivot(on=errors, index=ROW, variable_name="column", value_name="message")
        .drop_nulls("message")
        .with_columns(pl.col("column").str.strip_prefix(_ERROR_PREFIX))
    )
    order = {error: index for index, error in enumerate(errors)}
    rows = sorted(
        long.iter_rows(),
        key=lambda r: (r[0], order[_ERROR_PREFIX + r[1]]),
    )
    return [ImportIssue(file, int(row), column, message) for row, column, message in rows[:limit]]


# --------------------------------------------------------------------------- checks


def require(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    for column in columns:
        frame = flag(frame, column, pl.col(column).is_null(), "missing value")
    return frame


def max_length(frame: pl.DataFrame, column: str, limit: int) -> pl.DataFrame:
    return flag(
        frame,
        column,
        pl.col(column).str.len_chars() > limit,
        f"longer than {limit} characters",
    )


def money(frame: pl.DataFrame, column: str, out: str, *, positive: bool) -> pl.DataFrame:
    """Parse ``column`` into whole cents in ``out`` (null where it is not a valid amount)."""
    parts = pl.col(column).str.extract_groups(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?$")
    sign = parts.struct.field("1")
    whole = parts.struct.field("2")
    raw_fraction = parts.struct.field("3").fill_null("")
    fraction = raw_fraction.str.strip_chars_end("0")
    malformed = sign.is_null() | (
        (whole.str.len_bytes() == 0) & (raw_fraction.str.len_bytes() == 0)
    )
    frame = frame.with_columns(
        _malformed=malformed & pl.col(column).is_not_null(),
        _decimals=fraction.str.len_bytes() > 2,
        _too_large=whole.str.strip_chars_start("0").str.len_bytes() > _MAX_WHOLE_DIGITS,
    )
    frame = flag(
        frame, column, pl.col("_malformed"), pl.format("not an amount: {}", quoted(column))
    )
    frame = flag(
        frame,
        column,
        pl.col("_decimals"),
        pl.format("more than two decimals: {}", quoted(column)),
    )
    frame = flag(frame, column, pl.col("_too_large"), pl.format("too large: {}", quoted(column)))
    bad = pl.col("_malformed") | pl.col("_decimals") | pl.col("_too_large")
    whole_units = pl.when(whole.str.len_bytes() > 0).then(whole).otherwise(pl.lit("0"))
    cents = whole_units.cast(pl.Int64, strict=False) * 100 + fraction.str.pad_end(2, "0").cast(
        pl.Int64, strict=False
    )
    signed = pl.when(sign == "-").then(-cents).otherwise(cents)
    frame = frame.with_columns(
        pl.when(bad | pl.col(column).is_null()).then(None).otherwise(signed).alias(out)
    ).drop("_malformed", "_decimals", "_too_large")
    if positive:
        frame = flag(
            frame,
            column,
            pl.col(out) <= 0,
            pl.format("must be positive, got {}", quoted(column)),
        )
    return frame


def iso_date(frame: pl.DataFrame, column: str, out: str) -> pl.DataFrame:
    """Parse ``column`` as ``YYYY-MM-DD`` into the Date column ``out``."""
    source = pl.col(column)
    parsed = (
        pl.when(source.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
        .then(source.str.to_date("%Y-%m-%d", strict=False))
        .otherwise(pl.lit(None, dtype=pl.Date))
    )
    frame = frame.with_columns(parsed.alias(out))
    return flag(
        frame,
        column,
        source.is_not_null() & pl.col(out).is_null(),
        pl.format("not a date (YYYY-MM-DD): {}", quoted(column)),
    )


def whole_number(frame: pl.DataFrame, column: str, out: str) -> pl.DataFrame:
    """Parse ``column`` as a non-negative whole number into the Int64 column ``out``."""
    source = pl.col(column)
    parsed = (
        pl.when(source.str.contains(r"^[0-9]{1,9}$"))
        .then(source.cast(pl.Int64, strict=False))
        .otherwise(pl.lit(None, dtype=pl.Int64))
    )
    frame = frame.with_columns(parsed.alias(out))
    return flag(
        frame,
        column,
        source.is_not_null() & pl.col(out).is_null(),
        pl.format("not a whole number: {}", quoted(column)),
    )


def duplicates(
    frame: pl.DataFrame, key: str, compared: Sequence[str], what: str, unit: str
) -> pl.DataFrame:
    """Keep one of identical rows sharing ``key``; mark later rows that differ from the first.

    Only rows without messages are compared (a broken row is reported for what is broken).
    Identical rows (equal in ``compared``) after the first are dropped.
    """
    ok = row_ok()
    first = (
        frame.filter(ok)
        .group_by(key, maintain_order=True)
        .agg(
            pl.col(ROW).first().alias("_first_row"),
            *(pl.col(c).first().alias(f"_first_{c}") for c in compared),
        )
    )
    frame = frame.join(first, on=key, how="left", maintain_order="left")
    same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(f"_first_{c}")) for c in compared])
    later = pl.col(ROW) != pl.col("_first_row")
    frame = flag(
        frame,
        key,
        ok & later & ~same,
        pl.format(
            f"{what} {{}} appears again with different values (first on {unit} {{}})",
            quoted(key),
            pl.col("_first_row"),
        ),
    )
    drop = ok & later & same
    return frame.filter(~drop.fill_null(False)).drop(
        "_first_row", *(f"_first_{c}" for c in compared)
    )


def cents_text(cents: pl.Expr) -> pl.Expr:
    """Whole cents as an amount text, ``1230`` -> ``12.30`` (as :func:`format_cents`)."""
    magnitude = cents.abs()
    return pl.format(
        "{}{}.{}",
        pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        (magnitude // 100).cast(pl.Utf8),
        (magnitude % 100).cast(pl.Utf8).str.zfill(2),
    )

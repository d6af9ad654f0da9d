"""Bulk I/O between Polars frames and the store, inside the caller's transaction.

The import and the nightly close move millions of rows; a statement per row would take
minutes. So rows travel in bulk: on PostgreSQL through psycopg 3 ``COPY`` (CSV chunks that
Polars writes), on SQLite through ``executemany`` of one prepared ``INSERT`` in chunks.
Nothing here commits: every function runs on the connection it is given, in the transaction
the caller opened, so a failed import or close window leaves nothing behind.

Types on the way in and out follow what SQLAlchemy itself reads and writes, so rows written
here read back the same through the ORM-free ``Table`` API and vice versa:

- ``Date`` is a DATE on PostgreSQL and ISO text ``YYYY-MM-DD`` on SQLite;
- ``Datetime`` is a ``timestamptz`` on PostgreSQL and ``YYYY-MM-DD HH:MM:SS.ffffff`` text in
  UTC on SQLite (SQLAlchemy's SQLite format);
- nulls stay nulls, and an empty text stays an empty text;
- personal data (columns of type ``EncryptedText``) is encrypted on the way in and decrypted
  on the way out, as SQLAlchemy's own statements do (``recoup.store.crypto``): columns of
  the table written to, the selected columns of a ``Select`` read, and the parameters that
  compare with them. A plain text query (``str``) gets the stored form of such columns.
"""

from __future__ import annotations

import io
import itertools
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.type_api import TypeEngine

from recoup.store.crypto import EncryptedText, decrypt, encrypt

#: Rows per ``executemany`` call on SQLite and per CSV chunk sent through ``COPY``.
CHUNK_ROWS = 50_000
_SQLITE_ROWS_PER_STATEMENT = 100
#: SQLite's page cache (KiB) during a big insert; the default 2 MiB thrashes on indexes.
_SQLITE_BULK_CACHE_KIB = 256 * 1024

_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S%.6f"

Progress = Callable[[int], None]
#: A Polars dtype, as a class (``pl.Int64``) or an instance (``pl.Datetime("us", "UTC")``).
DType = pl.DataType | type[pl.DataType]


def is_postgres(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _dbapi(conn: sa.Connection) -> Any:
    """The driver's own connection under SQLAlchemy's, in the same transaction."""
    return conn.connection.dbapi_connection


def _columns_sql(conn: sa.Connection, names: Sequence[str]) -> str:
    quote = conn.dialect.identifier_preparer.quote
    return ", ".join(quote(name) for name in names)


def _table_sql(conn: sa.Connection, table: sa.Table) -> str:
    return conn.dialect.identifier_preparer.format_table(table)


def _check_columns(table: sa.Table, frame: pl.DataFrame) -> None:
    unknown = [name for name in frame.columns if name not in table.c]
    if unknown:
        raise ValueError(f"table {table.name} has no column(s) {', '.join(unknown)}")


# --------------------------------------------------------------------------- personal data


def _mapped(series: pl.Series, change: Callable[[str], str]) -> pl.Series:
    """``change`` applied to each text of ``series``, once per distinct text (nulls stay)."""
    texts = series.cast(pl.Utf8)
    distinct = texts.drop_nulls().unique()
    if distinct.is_empty():
        return texts
    changed = pl.Series([change(text) for text in distinct.to_list()], dtype=pl.Utf8)
    return texts.replace_strict(distinct, changed, default=None, return_dtype=pl.Utf8)


def _encrypt_personal(table: sa.Table, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with the columns ``table`` keeps encrypted in their stored form."""
    personal = [
        name
        for name in frame.columns
        if isinstance(table.c[name].type, EncryptedText) and frame.schema[name] != pl.Null
    ]
    if not personal:
        return frame
    return frame.with_columns(_mapped(frame.get_column(n), encrypt).alias(n) for n in personal)


# --------------------------------------------------------------------------- insert


def insert_frame(
    conn: sa.Connection,
    table: sa.Table,
    frame: pl.DataFrame,
    progress: Progress | None = None,
) -> int:
    """Insert every row of ``frame`` into ``table``; return the number of rows inserted.

    The frame's columns are named as the table's (a subset is fine: the others take their
    server defaults, or NULL). ``progress``, when given, is called after each chunk with the
    number of rows that chunk wrote. Runs in the caller's transaction and never commits.
    """
    _check_columns(table, frame)
    if frame.height == 0 or not frame.columns:
        return 0
    frame = _encrypt_personal(table, frame)
    if is_postgres(conn):
        _copy_in(conn, table, frame, progress)
    else:
        _sqlite_insert(conn, table, frame, progress)
    return frame.height


#: A load at least this big, into a table holding fewer rows than it adds, rebuilds the
#: table's secondary indexes afterwards instead of updating them row by row.
REBUILD_INDEXES_FROM_ROWS = 100_000


@contextmanager
def indexes_rebuilt_after(conn: sa.Connection, table: sa.Table, new_rows: int) -> Iterator[None]:
    """Load ``new_rows`` into ``table`` inside this block, rebuilding its secondary indexes
    after the load when the load at least doubles the table. Indexes the store does not have
    (see :mod:`recoup.store.open_due`) stay absent.

    Inserting millions of rows into a B-tree index in key order foreign to the table costs a
    page lookup per row; building the index afterwards is one sort (an initial import of
    100,000 accounts: 23 s with the indexes in place, 14 s with them rebuilt). Unique and
    primary-key indexes stay: they check the rows as they come. The drop and the rebuild run
    in the caller's transaction, so a failed load leaves the indexes as they were.
    """
    if new_rows < REBUILD_INDEXES_FROM_ROWS:
        yield
        return
    present = {index["name"] for index in sa.inspect(conn).get_indexes(table.name)}
    secondary = sorted(
        (i for i in table.indexes if not i.unique and i.name in present), key=lambda i: str(i.name)
    )
    if not secondary:
        yield
        return
    sample = sa.select(sa.literal(1)).select_from(table).limit(new_rows).subquery()
    existing = conn.execute(sa.select(sa.func.count()).select_from(sample)).scalar_one()
    if existing >= new_rows:
        yield
        return
    for index in secondary:
        index.drop(conn)
    yield
    for index in secondary:
        index.create(conn)


def _sqlite_values(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its dates and times as the text SQLAlchemy's SQLite types store."""
    conversions: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            conversions.append(pl.col(name).dt.strftime("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            column = pl.col(name)
            if dtype.time_zone is not None:
                column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            conversions.append(column.dt.strftime(_SQLITE_DATETIME))
        elif dtype == pl.Boolean:
            conversions.append(pl.col(name).cast(pl.Int64))
        elif isinstance(dtype, pl.Decimal):
            conversions.append(pl.col(name).cast(pl.Utf8))
    return frame.with_columns(conversions) if conversions else frame


def _sqlite_insert(
    conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, progress: Progress | None
) -> None:
    values = _sqlite_values(frame)
    width = len(values.columns)
    raw = _dbapi(conn)
    # Several rows per statement: SQLite's per-statement cost, not the row, dominates.
    per_statement = max(1, min(_SQLITE_ROWS_PER_STATEMENT, _sqlite_variable_limit(raw) // width))
    head = f"INSERT INTO {_table_sql(conn, table)} ({_columns_sql(conn, values.columns)}) VALUES "
    one_row = "(" + ", ".join("?" for _ in range(width)) + ")"
    many_sql = head + ", ".join(one_row for _ in range(per_statement))
    cursor = raw.cursor()
    try:
        with _sqlite_large_cache(cursor) if values.height >= CHUNK_ROWS else nullcontext():
            for chunk in values.iter_slices(CHUNK_ROWS):
                rows = chunk.rows()
                whole = len(rows) - len(rows) % per_statement
                if whole:
                    flat = list(itertools.chain.from_iterable(rows[:whole]))
                    step = per_statement * width
                    cursor.executemany(
                        many_sql, (flat[i : i + step] for i in range(0, len(flat), step))
                    )
                if whole < len(rows):
                    cursor.executemany(head + one_row, rows[whole:])
                if progress is not None:
                    progress(chunk.height)
    finally:
        cursor.close()


def _sqlite_variable_limit(raw: Any) -> int:
    """The most ``?`` one statement may have (999 before SQLite 3.32, 32766 since)."""
    try:
        return int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    except (AttributeError, sqlite3.Error):
        return 999


@contextmanager
def large_cache(conn: sa.Connection) -> Iterator[None]:
    """On SQLite, a page cache large enough for bulk work on indexes; a no-op elsewhere.

    SQLite's default cache (2 MiB) makes every insert into, or lookup in, a big index read
    its pages again; the larger cache is set on the connection and restored afterwards.
    """
    if is_postgres(conn):
        yield
        return
    cursor = _dbapi(conn).cursor()
    try:
        with _sqlite_large_cache(cursor):
            yield
    finally:
        cursor.close()


@contextmanager
def _sqlite_large_cache(cursor: Any) -> Iterator[None]:
    previous = int(cursor.execute("PRAGMA cache_size").fetchone()[0])
    if previous < 0 and -previous >= _SQLITE_BULK_CACHE_KIB:
        yield
        return
    cursor.execute(f"PRAGMA cache_size = {-_SQLITE_BULK_CACHE_KIB}")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA cache_size = {previous}")


def _postgres_csv(frame: pl.DataFrame) -> bytes:
    # Unquoted empty fields are NULL in PostgreSQL's CSV format; Polars quotes empty texts,
    # so nulls and empty strings stay apart.
    return frame.write_csv(
        include_header=False,
        null_value="",
        datetime_format="%Y-%m-%dT%H:%M:%S%.6f%z",
        date_format="%Y-%m-%d",
    ).encode("utf-8")


def _copy_in(
    conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, progress: Progress | None
) -> None:
    sql = (
        f"COPY {_table_sql(conn, table)} ({_columns_sql(conn, frame.columns)}) "
        "FROM STDIN (FORMAT csv)"
    )
    with _dbapi(conn).cursor() as cursor, cursor.copy(sql) as copy:
        for chunk in frame.iter_slices(CHUNK_ROWS):
            copy.write(_postgres_csv(chunk))
            if progress is not None:
                progress(chunk.height)


# --------------------------------------------------------------------------- temp tables


def _sql_type(dtype: pl.DataType) -> TypeEngine[Any]:
    if dtype.is_integer():
        return sa.BigInteger()
    if dtype.is_float():
        return sa.Float()
    if dtype == pl.Boolean:
        return sa.Boolean()
    if dtype == pl.Date:
        return sa.Date()
    if isinstance(dtype, pl.Datetime):
        return sa.DateTime(timezone=dtype.time_zone is not None)
    return sa.Text()


@contextmanager
def temporary_table(
    conn: sa.Connection,
    frame: pl.DataFrame,
    like: sa.Table | None = None,
    progress: Progress | None = None,
) -> Iterator[sa.Table]:
    """A TEMP table holding ``frame``, dropped again when the block ends.

    Column types are taken from ``like`` (a table with columns of the same names) when
    given, else from the frame's dtypes. The table has no keys or constraints, so joins on
    it rely on the other side's indexes; on PostgreSQL it is analysed for the planner.
    """
    columns: list[sa.Column[Any]] = []
    for name, dtype in frame.schema.items():
        if like is not None and name in like.c:
            sql_type: TypeEngine[Any] = like.c[name].type
        else:
            sql_type = _sql_type(dtype)
        columns.append(sa.Column(name, sql_type))
    tmp = sa.Table(
        f"tmp_{uuid.uuid4().hex[:12]}",
        sa.MetaData(),
        *columns,
        prefixes=["TEMPORARY"],
    )
    tmp.create(conn)
    try:
        insert_frame(conn, tmp, frame, progress)
        if is_postgres(conn):
            conn.exec_driver_sql(f"ANALYZE {_table_sql(conn, tmp)}")
        yield tmp
    except BaseException:
        # On PostgreSQL the failed transaction takes the table with it; SQLite may have
        # created it outside any transaction, so drop it if the connection still can.
        if not is_postgres(conn):
            with suppress(Exception):
                tmp.drop(conn)
        raise
    tmp.drop(conn)


# --------------------------------------------------------------------------- update


def update_from_frame(
    conn: sa.Connection,
    table: sa.Table,
    frame: pl.DataFrame,
    key_columns: Sequence[str],
    *,
    row_id: str | None = None,
) -> int:
    """Set the frame's non-key columns on the rows of ``table`` whose keys match a frame row.

    On PostgreSQL the frame is copied into a TEMP table and applied with one
    ``UPDATE ... FROM``; on SQLite one prepared ``UPDATE ... WHERE key = ?`` runs for every
    row (``executemany``), which SQLite does in less than half the time of its
    ``UPDATE ... FROM``: that first builds the whole join in a scratch table (421,809
    installments of a 1,000,000-account store: 1.3 s against 2.0 to 3.2 s). Keys should be
    unique in the frame. Returns the number of rows updated. Personal data is encrypted on
    its way in: keys compare and values copy in their stored form.

    ``row_id`` names a column holding each row's SQLite ``rowid``, read from this store
    (see :func:`sqlite_row_id`): SQLite then goes to the row directly instead of searching
    the key's index for it (93,000 installments: 0.5 s against 1.0 to 1.3 s, and a store
    larger than memory does not read that index from the disk). The keys are still
    compared on the row, so a row whose ``rowid`` no longer holds its keys (a ``VACUUM``
    renumbers rows) is not touched; those rows are then updated by key. Elsewhere the column
    is ignored.
    """
    by_key = frame
    if row_id is not None:
        if row_id not in frame.columns:
            raise ValueError(f"row id column {row_id!r} not in the frame")
        by_key = frame.drop(row_id)
    _check_columns(table, by_key)
    keys = list(key_columns)
    missing = [key for key in keys if key not in by_key.columns]
    if missing:
        raise ValueError(f"key column(s) {', '.join(missing)} not in the frame")
    values = [name for name in by_key.columns if name not in keys]
    if not values:
        raise ValueError("nothing to update: the frame has only key columns")
    if frame.height == 0:
        return 0
    if not is_postgres(conn):
        if row_id is not None:
            return _sqlite_update_by_row_id(conn, table, frame, keys, values, row_id)
        return _sqlite_update(conn, table, frame, keys, values)
    with temporary_table(conn, by_key, like=table) as tmp:
        statement = (
            sa.update(table)
            .values({name: tmp.c[name] for name in values})
            .where(*(table.c[key] == tmp.c[key] for key in keys))
        )
        result = conn.execute(statement)
        return int(result.rowcount)


def _sqlite_update(
    conn: sa.Connection,
    table: sa.Table,
    frame: pl.DataFrame,
    keys: Sequence[str],
    values: Sequence[str],
) -> int:
    rows = _sqlite_values(_encrypt_personal(table, frame)).select(*values, *keys)
    return _update_each_row(conn, _update_sql(conn, table, values, keys), rows)


def _update_sql(
    conn: sa.Connection, table: sa.Table, values: Sequence[str], keys: Sequence[str]
) -> str:
    """``UPDATE table SET value = ?, ... WHERE key = ? AND ...``."""
    quote = conn.dialect.identifier_preparer.quote
    return (
        f"UPDATE {_table_sql(conn, table)} SET "
        + ", ".join(f"{quote(name)} = ?" for name in values)
        + " WHERE "
        + " AND ".join(f"{quote(name)} = ?" for name in keys)
    )


def _update_each_row(conn: sa.Connection, sql: str, rows: pl.DataFrame) -> int:
    """Run the prepared ``sql`` for every row of ``rows`` (its parameters in order); the
    number of rows it updated."""
    cursor = _dbapi(conn).cursor()
    updated = 0
    try:
        for chunk in rows.iter_slices(CHUNK_ROWS):
            cursor.executemany(sql, chunk.rows())
            updated += cursor.rowcount
    finally:
        cursor.close()
    return updated


def _sqlite_update_by_row_id(
    conn: sa.Connection,
    table: sa.Table,
    frame: pl.DataFrame,
    keys: Sequence[str],
    values: Sequence[str],
    row_id: str,
) -> int:
    by_key = frame.drop(row_id)
    rows = _sqlite_values(_encrypt_personal(table, by_key).with_columns(frame[row_id])).select(
        *values, row_id, *keys
    )
    updated = _update_each_row(conn, _update_sql(conn, table, values, ["rowid", *keys]), rows)
    if updated == frame.height:
        return updated
    # Some rows moved (their rowid holds other keys or none): set every row by its keys, which
    # writes the same values again on the rows already done.
    return _sqlite_update(conn, table, by_key, keys, values)


def sqlite_row_id(table: sa.Table) -> sa.ColumnElement[int]:
    """``table``'s SQLite ``rowid`` as a column of a query (for ``update_from_frame``'s
    ``row_id``); SQLite only."""
    return sa.literal_column(f"{table.name}.rowid", sa.BigInteger)


# --------------------------------------------------------------------------- read


def _compile(
    conn: sa.Connection, sql: str | sa.Select[Any] | sa.TextClause, params: Mapping[str, Any] | None
) -> tuple[str, Any]:
    """The statement as the driver's SQL text and parameters (named or positional)."""
    statement = sa.text(sql) if isinstance(sql, str) else sql
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    bound = dict(compiled.params)
    if params:
        bound.update(params)
    # SQLAlchemy encrypts a value compared with a personal column only when it executes the
    # statement; the driver is called directly here, so the same is done now.
    binds: Mapping[str, sa.BindParameter[Any]] = getattr(compiled, "binds", {})
    personal = {name for name, bind in binds.items() if isinstance(bind.type, EncryptedText)}
    if personal:
        bound = {
            name: encrypt(str(value))
            if value is not None and _bind_name(binds, name) in personal
            else value
            for name, value in bound.items()
        }
    if conn.dialect.name == "sqlite":
        # The driver is called directly, without SQLAlchemy's bind processing: a time must be
        # written the way SQLAlchemy stores it in SQLite (UTC, no offset, microseconds), or
        # it compares as different text ("... 01:00:00+00:00" > "... 01:00:00.000000").
        bound = {name: _sqlite_value(value) for name, value in bound.items()}
    if compiled.positiontup is not None:
        return str(compiled), tuple(bound[name] for name in compiled.positiontup)
    return str(compiled), bound


def _bind_name(binds: Mapping[str, sa.BindParameter[Any]], name: str) -> str:
    """The parameter's own name: ``value_2_1`` is the first value of ``value_2 IN (...)``."""
    if name in binds:
        return name
    stem = name.rpartition("_")[0]
    parameter = binds.get(stem)
    return stem if parameter is not None and parameter.expanding else name


def _decrypt_personal(
    frame: pl.DataFrame, statement: str | sa.Select[Any] | sa.TextClause
) -> pl.DataFrame:
    """The frame with the selected personal columns (by position) decrypted."""
    selected = getattr(statement, "selected_columns", None)
    if selected is None or len(selected) != frame.width or frame.height == 0:
        return frame
    personal = [
        name
        for name, column in zip(frame.columns, selected, strict=True)
        if isinstance(column.type, EncryptedText) and frame.schema[name] == pl.Utf8
    ]
    if not personal:
        return frame
    return frame.with_columns(_mapped(frame.get_column(n), decrypt).alias(n) for n in personal)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _instances(schema: Mapping[str, DType]) -> dict[str, pl.DataType]:
    return {name: dtype() if isinstance(dtype, type) else dtype for name, dtype in schema.items()}


def _text_schema(schema: Mapping[str, pl.DataType]) -> dict[str, pl.DataType]:
    """The schema with temporal columns read as text first, to be parsed afterwards."""
    return {
        name: (pl.Utf8() if dtype == pl.Date or isinstance(dtype, pl.Datetime) else dtype)
        for name, dtype in schema.items()
    }


_OFFSET = r"[+-][0-9]{2}(?::?[0-9]{2})?$"


def _parse_temporal(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Parse the temporal columns read as text: ISO dates, and times with or without offset.

    PostgreSQL writes ``2024-06-01 08:30:00.5+00`` (the fraction only when non-zero);
    SQLite holds what SQLAlchemy wrote, ``2024-06-01 08:30:00.500000`` in UTC.
    """
    conversions: list[pl.Expr] = []
    for name, dtype in schema.items():
        column = pl.col(name)
        if dtype == pl.Date:
            # An expression such as MAX() over SQLite's ISO text may hand back more than a date.
            conversions.append(column.str.slice(0, 10).str.to_date("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            text = column.str.replace("T", " ", literal=True)
            unit = dtype.time_unit or "us"
            with_offset = text.str.to_datetime(
                "%Y-%m-%d %H:%M:%S%.f%#z", time_unit=unit, time_zone="UTC", strict=False
            )
            naive = text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit=unit, strict=False)
            if dtype.time_zone is not None:
                naive = naive.dt.replace_time_zone("UTC").dt.convert_time_zone(dtype.time_zone)
                with_offset = with_offset.dt.convert_time_zone(dtype.time_zone)
            else:
                with_offset = with_offset.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            parsed = pl.when(text.str.contains(_OFFSET)).then(with_offset).otherwise(naive)
            conversions.append(parsed.alias(name))
    if not conversions:
        return frame
    parsed_frame = frame.with_columns(conversions)
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Datetime):
            lost = frame.get_column(name).is_not_null() & parsed_frame.get_column(name).is_null()
            if lost.any():
                bad = frame.get_column(name).filter(lost)[0]
                raise ValueError(f"column {name}: not a date and time: {bad!r}")
    return parsed_frame


def read_frame(
    conn: sa.Connection,
    sql: str | sa.Select[Any] | sa.TextClause,
    schema: Mapping[str, DType],
    params: Mapping[str, Any] | None = None,
    *,
    few: bool = False,
) -> pl.DataFrame:
    """Run a query and return its rows as a frame typed by ``schema``.

    ``schema`` names the result's columns in order (the query's own column names are not
    used) and gives their dtypes. ``sql`` is a SQLAlchemy ``Select`` or a text with
    ``:name`` parameters given in ``params``. A ``Select``'s personal columns come back
    decrypted; a text query's come back as stored. ``few`` says the query returns a handful
    of rows (one account's): PostgreSQL then answers an ordinary query, whose round trip
    costs less than a ``COPY`` and parsing its CSV.
    """
    sql_text, bound = _compile(conn, sql, params)
    types = _instances(schema)
    if is_postgres(conn) and not few:
        return _decrypt_personal(_copy_out(conn, sql_text, bound, types), sql)
    cursor = _dbapi(conn).cursor()
    try:
        cursor.execute(sql_text, bound)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return pl.DataFrame(schema=types)
    if len(rows[0]) != len(types):
        raise ValueError(f"the query returns {len(rows[0])} columns, the schema names {len(types)}")
    if is_postgres(conn):  # the driver gives typed values (dates, times, integers)
        return _decrypt_personal(pl.DataFrame(rows, schema=types, orient="row"), sql)
    frame = pl.DataFrame(rows, schema=_text_schema(types), orient="row")
    return _decrypt_personal(_parse_temporal(frame, types), sql)


def _copy_out(
    conn: sa.Connection,
    sql_text: str,
    bound: Any,
    schema: Mapping[str, pl.DataType],
) -> pl.DataFrame:
    # COPY cannot take server-side parameters; psycopg binds them client-side here.
    statement = f"COPY ({sql_text}) TO STDOUT (FORMAT csv)"
    buffer = io.BytesIO()
    with _dbapi(conn).cursor() as cursor, cursor.copy(statement, bound or None) as copy:
        for block in copy:
            buffer.write(block)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    text_schema = _text_schema(schema)
    frame = pl.read_csv(
        buffer,
        has_header=False,
        schema=text_schema,
        empty_string_is_null=True,  # unquoted empty is NULL; a quoted "" stays a text
    )
    return _parse_temporal(frame, schema)

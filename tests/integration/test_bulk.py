"""Bulk writes and reads round-trip every type the store uses, nulls included, on SQLite
(the driver's rows) and PostgreSQL (COPY), inside and outside a transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import sqlalchemy as sa

from recoup.store.bulk import insert_frame, read_frame

ROWS = pl.DataFrame(
    {
        "k": list(range(3000)),
        # Null in every early row and text later, as a reversal's reference is.
        "note": [None] * 2999 + ["late"],
        "day": [date(2026, 1, 1)] * 2999 + [None],
        "at": [datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)] * 3000,
    },
    schema={"k": pl.Int64, "note": pl.String, "day": pl.Date, "at": pl.Datetime("us", "UTC")},
)
SCHEMA = {"k": pl.Int64, "note": pl.String, "day": pl.Date, "at": pl.Datetime("us", "UTC")}


def _table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "bulk_probe",
        metadata,
        sa.Column("k", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text),
        sa.Column("day", sa.Date),
        sa.Column("at", sa.DateTime(timezone=True)),
    )


def test_bulk__a_frame_written_reads_back_the_same(store: sa.Engine) -> None:
    table = _table(sa.MetaData())
    table.create(store)
    with store.begin() as conn:
        insert_frame(conn, table, ROWS)
    query = sa.select(table).where(table.c.k >= 0, table.c.at <= datetime(2030, 1, 1, tzinfo=UTC))
    with store.connect() as conn:
        outside_a_write = read_frame(conn, query.order_by(table.c.k), SCHEMA)
        nothing = read_frame(conn, query.where(table.c.k < 0), SCHEMA)
        by_day = read_frame(conn, sa.select(table.c.k).where(table.c.day == date(2026, 1, 1)),
                            {"k": pl.Int64})  # fmt: skip
    with store.begin() as conn:
        conn.execute(table.update().where(table.c.k == 0).values(note="changed"))
        inside_a_write = read_frame(conn, query.order_by(table.c.k), SCHEMA)
    assert outside_a_write.equals(ROWS)
    assert nothing.is_empty() and nothing.schema == ROWS.schema
    assert by_day.height == 2999
    # Inside a write the uncommitted change is seen: read on the writing connection.
    assert inside_a_write["note"][0] == "changed"
    assert inside_a_write.drop("note").equals(ROWS.drop("note"))

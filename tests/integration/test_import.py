"""The import and the bulk I/O under it, on SQLite and (when available) PostgreSQL.

PostgreSQL tests run when ``RECOUP_TEST_POSTGRES_URL`` names a database, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; each test gets a schema of its own,
dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from recoup.importer import ImportFailed, ImportSummary, import_directory
from recoup.ledger.schedule import build_schedule
from recoup.products.spec import load_catalog
from recoup.store import tables
from recoup.store.bulk import insert_frame, read_frame, sqlite_row_id, update_from_frame
from recoup.store.engine import open_store
from recoup.store.repository import load_catalog_from_store, next_key, save_catalog

POSTGRES_URL = os.environ.get("RECOUP_TEST_POSTGRES_URL")
NOW = datetime(2024, 6, 1, 8, 30, tzinfo=UTC)


@pytest.fixture
def engine(store: sa.Engine) -> sa.Engine:
    """The store of tests/integration/conftest.py, on SQLite and on PostgreSQL."""
    return store


# --------------------------------------------------------------------------- bulk I/O

SAMPLE = sa.Table(
    "bulk_sample",
    sa.MetaData(),
    sa.Column("key", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("label", sa.String(20)),
    sa.Column("day", sa.Date),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("cents", sa.BigInteger),
)
SAMPLE_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.Int64(),
    "label": pl.Utf8(),
    "day": pl.Date(),
    "at": pl.Datetime("us", "UTC"),
    "cents": pl.Int64(),
}


def sample_frame(rows: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "key": range(1, rows + 1),
            "label": [
                None if k % 5 == 0 else ("" if k % 7 == 0 else f'x,{k}"') for k in range(rows)
            ],
            "day": [None if k % 3 == 0 else date(2024, 1, 31) for k in range(rows)],
            "at": [NOW if k % 2 else None for k in range(rows)],
            "cents": [None if k % 4 == 0 else -k * 101 for k in range(rows)],
        },
        schema=SAMPLE_SCHEMA,
    )


def test_bulk__insert_and_read_back_keep_types_nulls_and_empty_texts(engine: sa.Engine) -> None:
    SAMPLE.create(engine)
    frame = sample_frame(120_003)
    seen: list[int] = []
    with engine.begin() as conn:
        assert insert_frame(conn, SAMPLE, frame, seen.append) == frame.height
    assert sum(seen) == frame.height and len(seen) > 1
    with engine.connect() as conn:
        back = read_frame(conn, sa.select(SAMPLE).order_by(SAMPLE.c.key), SAMPLE_SCHEMA)
        first = conn.execute(sa.select(SAMPLE.c.day).where(SAMPLE.c.key == 2)).scalar_one()
    assert back.equals(frame)
    assert first == date(2024, 1, 31)  # SQLAlchemy reads what bulk wrote as a DATE


def test_bulk__read_with_text_and_parameters(engine: sa.Engine) -> None:
    SAMPLE.create(engine)
    with engine.begin() as conn:
        insert_frame(conn, SAMPLE, sample_frame(10))
        got = read_frame(
            conn,
            "SELECT key, day FROM bulk_sample WHERE key >= :low ORDER BY key",
            {"key": pl.Int64, "day": pl.Date},
            {"low": 8},
        )
        empty = read_frame(
            conn, sa.select(SAMPLE.c.key).where(SAMPLE.c.key > 99), {"key": pl.Int64}
        )
    assert got.to_dicts() == [
        {"key": 8, "day": date(2024, 1, 31)},
        {"key": 9, "day": date(2024, 1, 31)},
        {"key": 10, "day": None},
    ]
    assert empty.height == 0 and empty.schema == pl.Schema({"key": pl.Int64})


def test_bulk__update_from_frame_sets_only_matching_rows(engine: sa.Engine) -> None:
    SAMPLE.create(engine)
    with engine.begin() as conn:
        insert_frame(conn, SAMPLE, sample_frame(10))
        changes = pl.DataFrame(
            {
                "key": [2, 3, 99],
                "day": [date(2020, 2, 29), None, date(2020, 1, 1)],
                "label": ["a", None, "b"],
            },
            schema={"key": pl.Int64, "day": pl.Date, "label": pl.Utf8},
        )
        assert update_from_frame(conn, SAMPLE, changes, ["key"]) == 2
        back = read_frame(conn, sa.select(SAMPLE).order_by(SAMPLE.c.key), SAMPLE_SCHEMA)
    expected = sample_frame(10).with_columns(
        pl.when(pl.col("key") == 2)
        .then(pl.lit(date(2020, 2, 29)))
        .when(pl.col("key") == 3)
        .then(None)
        .otherwise(pl.col("day"))
        .alias("day"),
        pl.when(pl.col("key") == 2)
        .then(pl.lit("a"))
        .when(pl.col("key") == 3)
        .then(None)
        .otherwise(pl.col("label"))
        .alias("label"),
    )
    assert back.equals(expected)


def test_bulk__update_from_frame_of_many_rows_sets_each_and_counts_them_all(
    engine: sa.Engine,
) -> None:
    SAMPLE.create(engine)
    stored = sample_frame(120_003)
    later = datetime(2024, 7, 1, 23, 59, 59, 500_000, tzinfo=UTC)
    # Every other row, more of them than one chunk of rows holds, all with a new time and
    # label, and a key that matches no row.
    changes = pl.concat(
        [
            stored.filter(pl.col("key") % 2 == 0).select(
                "key",
                pl.lit(later).dt.cast_time_unit("us").alias("at"),
                (pl.col("key").cast(pl.Utf8) + "-new").alias("label"),
            ),
            pl.DataFrame({"key": [10**9], "at": [later], "label": ["none"]}),
        ]
    )
    with engine.begin() as conn:
        insert_frame(conn, SAMPLE, stored)
        assert update_from_frame(conn, SAMPLE, changes, ["key"]) == changes.height - 1
        back = read_frame(conn, sa.select(SAMPLE).order_by(SAMPLE.c.key), SAMPLE_SCHEMA)
    even = pl.col("key") % 2 == 0
    expected = stored.with_columns(
        pl.when(even).then(pl.lit(later)).otherwise(pl.col("at")).alias("at"),
        pl.when(even)
        .then(pl.col("key").cast(pl.Utf8) + "-new")
        .otherwise(pl.col("label"))
        .alias("label"),
    )
    assert back.equals(expected)


def test_bulk__update_by_row_id_sets_each_row_and_falls_back_to_keys_for_moved_rows(
    engine: sa.Engine,
) -> None:
    """Rows found by their SQLite rowid are still checked against their keys: a rowid that
    holds another row (as after a VACUUM) changes nothing there, and its row is set by key."""
    SAMPLE.create(engine)
    stored = sample_frame(2_000)
    with engine.begin() as conn:
        insert_frame(conn, SAMPLE, stored)
        if engine.dialect.name == "sqlite":
            ids = read_frame(
                conn,
                sa.select(SAMPLE.c.key, sqlite_row_id(SAMPLE)),
                {"key": pl.Int64(), "row_id": pl.Int64()},
            )
        else:  # no rowid: the column is ignored
            ids = stored.select("key", pl.lit(-1, pl.Int64).alias("row_id"))
        changes = (
            ids.filter(pl.col("key") % 3 == 0)
            .with_columns((pl.col("key").cast(pl.Utf8) + "-new").alias("label"))
            # The second half's rowids point at the next row, which holds another key.
            .with_columns(
                pl.when(pl.col("key") > 1_000)
                .then(pl.col("row_id") + 1)
                .otherwise(pl.col("row_id"))
                .alias("row_id")
            )
        )
        assert update_from_frame(conn, SAMPLE, changes, ["key"], row_id="row_id") == (
            changes.height
        )
        back = read_frame(conn, sa.select(SAMPLE).order_by(SAMPLE.c.key), SAMPLE_SCHEMA)
    changed = pl.col("key") % 3 == 0
    expected = stored.with_columns(
        pl.when(changed)
        .then(pl.col("key").cast(pl.Utf8) + "-new")
        .otherwise(pl.col("label"))
        .alias("label")
    )
    assert back.equals(expected)
    with (
        pytest.raises(ValueError, match="row id column 'rid' not in the frame"),
        engine.begin() as conn,
    ):
        update_from_frame(conn, SAMPLE, changes, ["key"], row_id="rid")


def test_bulk__nothing_is_kept_when_the_transaction_fails(engine: sa.Engine) -> None:
    SAMPLE.create(engine)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        insert_frame(conn, SAMPLE, sample_frame(1000))
        update_from_frame(conn, SAMPLE, sample_frame(3).select("key", "cents"), ["key"])
        raise RuntimeError("the caller gives up")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(SAMPLE)).scalar_one() == 0


# --------------------------------------------------------------------------- catalog


def test_catalog__saved_and_loaded_back_unchanged(engine: sa.Engine, tmp_path: Path) -> None:
    catalog = load_catalog(
        write_dir(tmp_path / "in", {"products.yaml": PRODUCTS}) / "products.yaml"
    )
    assert load_catalog_from_store(engine).products == {}
    with engine.begin() as conn:
        save_catalog(conn, catalog)
        save_catalog(conn, catalog)  # saving again replaces, it does not duplicate
        assert next_key(conn, tables.borrowers.c.borrower_key) == 1
    assert load_catalog_from_store(engine) == catalog


# --------------------------------------------------------------------------- import

PRODUCTS = textwrap.dedent(
    """\
    products:
      - id: card
        currency: CNY
        fee_model: flat_fee
        monthly_rate: "0.006"
        terms: [3, 6, 12]
        grace_days: 3
        tolerance: "10.00"
        late_fee: {rate: "0.05", min: "0.00", max: "500.00"}
        penalty_daily_rate: "0.0005"
        allocation_order: [penalty_interest, late_fee, fee, principal]
      - id: cash
        currency: CNY
        fee_model: annuity
        monthly_rate: "0.012"
        terms: [6, 12]
        grace_days: 0
        tolerance: "0.00"
        late_fee: {rate: "0.05", min: "10.00", max: "200.00"}
        penalty_daily_rate: "0.0005"
        allocation_order: [principal, fee, late_fee, penalty_interest]
      - id: even
        currency: CNY
        fee_model: equal_principal
        monthly_rate: "0.01"
        terms: [12, 24]
        grace_days: 5
        tolerance: "1.00"
        late_fee: {rate: "0.05", min: "10.00", max: "200.00"}
        penalty_daily_rate: "0.0005"
        allocation_order: [penalty_interest, late_fee, fee, principal]
    """
)
BORROWERS = (
    "borrower_id,name,phone,email,region,timezone\n"
    "B1,Li Lei,13800000001,li@example.com,Beijing,Asia/Shanghai\n"
    "B2,Han Meimei,13800000002,,,\n"
    "B3,Wang Fang,13800000003,wang@example.com,Shanghai,\n"
)
PLANS = (
    "plan_id,account_id,borrower_id,product_id,principal,term,start_date\n"
    "P1,A1,B1,card,1200.00,3,2024-01-31\n"
    "P2,A1,B1,cash,5000,6,2024-02-15\n"
    "P3,A2,B2,card,600.5,6,2024-02-29\n"
    "P4,A3,B3,even,10000.01,24,2023-12-31\n"
)
PAYMENTS = (
    "payment_id,account_id,amount,paid_on,reverses\n"
    "Y1,A1,400.00,2024-02-29,\n"
    "Y2,A2,100.00,2024-04-01,\n"
    "R1,A2,100.00,2024-04-05,Y2\n"
    "Y3,A3,500,2024-01-31,\n"
)


def write_dir(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def portfolio(root: Path) -> Path:
    return write_dir(
        root,
        {
            "products.yaml": PRODUCTS,
            "borrowers.csv": BORROWERS,
            "plans.csv": PLANS,
            "payments.csv": PAYMENTS,
        },
    )


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the import's tables, in key order."""
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(
                    sa.select(table).order_by(*(table.primary_key.columns or table.columns))
                )
            ]
            for table in (
                tables.products,
                tables.buckets,
                tables.borrowers,
                tables.contact_points,
                tables.accounts,
                tables.plans,
                tables.installments,
                tables.payments,
            )
        }


def test_import__writes_every_kind_of_row(engine: sa.Engine, tmp_path: Path) -> None:
    summary = import_directory(engine, portfolio(tmp_path / "in"), show_progress=False, now=NOW)
    assert summary == ImportSummary(
        products=3,
        borrowers_added=3,
        contact_points_added=5,
        accounts_added=3,
        plans_added=4,
        installments_added=3 + 6 + 6 + 24,
        payments_added=3,
        reversals_added=1,
    )
    rows = snapshot(engine)
    assert rows["accounts"] == [
        (1, "A1", 1, "CNY", date(2024, 1, 31), 0, 0, "M0", 0, 0),
        (2, "A2", 2, "CNY", date(2024, 2, 29), 0, 0, "M0", 0, 0),
        (3, "A3", 3, "CNY", date(2023, 12, 31), 0, 0, "M0", 0, 0),
    ]
    assert rows["borrowers"] == [
        (1, "B1", "Li Lei", "Beijing", "Asia/Shanghai"),
        (2, "B2", "Han Meimei", None, None),
        (3, "B3", "Wang Fang", "Shanghai", None),
    ]
    points = {(row[1], row[2], row[3], row[6], row[7]) for row in rows["contact_points"]}
    assert (1, "phone", "13800000001", "unverified", "import") in points
    assert (1, "email", "li@example.com", "unverified", "import") in points
    payments = {row[1]: row for row in rows["payments"]}
    assert payments["Y2"][5:7] == (None, date(2024, 4, 5))  # reversed on the reversal's day
    assert payments["R1"][2:7] == (2, 10000, date(2024, 4, 5), "Y2", None)
    stamps = {row[7] for row in rows["payments"]}
    assert len(stamps) == 1
    stamp = stamps.pop()
    assert isinstance(stamp, datetime)
    # SQLite hands the UTC time back without its zone, PostgreSQL with it.
    assert (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)) == NOW


def test_import__a_postal_address_becomes_the_borrowers_address_contact_point(
    engine: sa.Engine, tmp_path: Path
) -> None:
    files = portfolio(tmp_path / "in")
    (files / "borrowers.csv").write_text(
        "borrower_id,name,phone,address\n"
        "B1,Li Lei,13800000001,北京市人民路1号101室\n"
        "B2,Han Meimei,13800000002,\n"
        "B3,Wang Fang,13800000003,上海市中山路2号\n",
        encoding="utf-8",
    )
    import_directory(engine, files, show_progress=False, now=NOW)
    c = tables.contact_points
    with engine.connect() as conn:
        addresses = conn.execute(
            sa.select(c.c.borrower_key, c.c.value)
            .where(c.c.kind == "address")
            .order_by(c.c.borrower_key)
        ).all()
    assert [tuple(a) for a in addresses] == [(1, "北京市人民路1号101室"), (3, "上海市中山路2号")]

    too_long = tmp_path / "long"
    write_dir(too_long, {"borrowers.csv": "borrower_id,name,phone,address\n" + "B9,X,1,"
              + "路" * 401 + "\n"})  # fmt: skip
    with pytest.raises(ImportFailed, match="address"):
        import_directory(engine, too_long, show_progress=False, now=NOW)


def test_import__installments_are_the_plans_schedules(engine: sa.Engine, tmp_path: Path) -> None:
    import_directory(engine, portfolio(tmp_path / "in"), show_progress=False)
    catalog = load_catalog_from_store(engine)
    with engine.connect() as conn:
        plans = conn.execute(sa.select(tables.plans).order_by(tables.plans.c.plan_key)).all()
        for plan in plans:
            product = catalog.get(plan.product_id)
            stored = conn.execute(
                sa.select(
                    tables.installments.c.period,
                    tables.installments.c.due_date,
                    tables.installments.c.principal_cents,
                    tables.installments.c.fee_cents,
                )
                .where(tables.installments.c.plan_key == plan.plan_key)
                .order_by(tables.installments.c.period)
            ).all()
            expected = build_schedule(
                plan.principal_cents,
                plan.term,
                plan.start_date,
                product.monthly_rate,
                product.fee_model,
            )
            assert [tuple(row) for row in stored] == [
                (i.period, i.due_date, i.principal_cents, i.fee_cents) for i in expected
            ]


def test_import__again_adds_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    directory = portfolio(tmp_path / "in")
    import_directory(engine, directory, show_progress=False, now=NOW)
    before = snapshot(engine)
    again = import_directory(engine, directory, show_progress=False, now=NOW)
    assert again == ImportSummary(products=3, plans_skipped=4, payments_skipped=4)
    assert snapshot(engine) == before


def test_import__parquet_gives_the_same_store_as_csv(tmp_path: Path, engine: sa.Engine) -> None:
    csv_dir = portfolio(tmp_path / "csv")
    parquet_dir = tmp_path / "parquet"
    parquet_dir.mkdir()
    (parquet_dir / "products.yaml").write_text(PRODUCTS, encoding="utf-8")
    for kind in ("borrowers", "plans", "payments"):
        typed = pl.read_csv(csv_dir / f"{kind}.csv", try_parse_dates=True, infer_schema_length=0)
        if kind == "plans":
            typed = typed.with_columns(
                pl.col("term").cast(pl.Int32), pl.col("start_date").str.to_date()
            )
        if kind == "payments":
            typed = typed.with_columns(pl.col("paid_on").str.to_date())
        typed.write_parquet(parquet_dir / f"{kind}.parquet")
    import_directory(engine, csv_dir, show_progress=False, now=NOW)
    from_csv = snapshot(engine)
    other = open_store(f"sqlite:///{tmp_path / 'parquet.db'}")
    try:
        import_directory(other, parquet_dir, show_progress=False, now=NOW)
        from_parquet = snapshot(other)
    finally:
        other.dispose()

    def comparable(
        rows: dict[str, list[tuple[object, ...]]],
    ) -> dict[str, list[tuple[object, ...]]]:
        # imported_at comes back naive from SQLite and aware from PostgreSQL.
        return {
            name: [r[:7] if name == "payments" else r for r in table]
            for name, table in rows.items()
        }

    assert comparable(from_parquet) == comparable(from_csv)


def test_import__later_files_update_borrowers_reverse_and_reopen(
    engine: sa.Engine, tmp_path: Path
) -> None:
    import_directory(engine, portfolio(tmp_path / "first"), show_progress=False, now=NOW)
    later = write_dir(
        tmp_path / "later",
        {
            # No products.yaml: the stored catalog is used. No region/timezone columns: kept.
            "borrowers.csv": (
                "borrower_id,name,phone\nB1,Li Lei,13900000009\nB2,Han M.,13800000002\n"
            ),
            "plans.csv": (
                "plan_id,account_id,borrower_id,product_id,principal,term,start_date\n"
                "P1,A1,B1,card,1200.00,3,2024-01-31\n"
                "P5,A1,B1,card,300,3,2023-11-30\n"
            ),
            "payments.csv": (
                "payment_id,account_id,amount,paid_on,reverses\n"
                "Y1,A1,400.00,2024-02-29,\n"
                "R2,A1,400,2024-03-10,Y1\n"
                "Y4,A1,12.3,2024-03-11,\n"
            ),
        },
    )
    summary = import_directory(engine, later, show_progress=False, now=NOW)
    assert summary == ImportSummary(
        borrowers_updated=1,
        contact_points_added=1,
        plans_added=1,
        plans_skipped=1,
        installments_added=3,
        payments_added=1,
        payments_skipped=1,
        reversals_added=1,
    )
    rows = snapshot(engine)
    assert rows["borrowers"][:2] == [
        (1, "B1", "Li Lei", "Beijing", "Asia/Shanghai"),
        (2, "B2", "Han M.", None, None),
    ]
    assert rows["accounts"][0][4] == date(2023, 11, 30)  # opened by its earliest plan
    payments = {row[1]: row for row in rows["payments"]}
    assert payments["Y1"][6] == date(2024, 3, 10)
    assert (payments["R2"][0], payments["Y4"][0], payments["Y4"][3]) == (5, 6, 1230)
    assert rows["plans"][-1][:3] == (5, "P5", 1)


def test_import__only_payments(engine: sa.Engine, tmp_path: Path) -> None:
    import_directory(engine, portfolio(tmp_path / "first"), show_progress=False)
    later = write_dir(
        tmp_path / "later",
        {"payments.csv": "payment_id,account_id,amount,paid_on\nY9,A3,1.00,2024-05-01\n"},
    )
    summary = import_directory(engine, later, show_progress=False)
    assert summary == ImportSummary(payments_added=1)


def test_import__a_big_first_load_rebuilds_the_indexes_and_a_failed_one_keeps_them(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from recoup.simulator import simulate_portfolio, write_portfolio
    from recoup.store import bulk

    write_portfolio(simulate_portfolio(300, 4, date(2025, 6, 30)), tmp_path / "files")
    monkeypatch.setattr(bulk, "REBUILD_INDEXES_FROM_ROWS", 1)  # every table of this load
    real_insert = bulk.insert_frame

    def failing_insert(conn, table, frame, progress=None):  # type: ignore[no-untyped-def]
        if table is tables.payments:
            raise RuntimeError("disk full")
        return real_insert(conn, table, frame, progress)

    import recoup.importer.load as load_module

    monkeypatch.setattr(load_module, "insert_frame", failing_insert)
    with pytest.raises(RuntimeError, match="disk full"):
        import_directory(engine, tmp_path / "files", show_progress=False)
    monkeypatch.setattr(load_module, "insert_frame", real_insert)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), tables.metadata) == []
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.plans)).scalar() == 0

    dropped: list[str] = []
    real_drop = sa.Index.drop

    def recorded_drop(index, bind, checkfirst=False):  # type: ignore[no-untyped-def]
        dropped.append(str(index.name))
        return real_drop(index, bind, checkfirst)

    monkeypatch.setattr(sa.Index, "drop", recorded_drop)
    import_directory(engine, tmp_path / "files", show_progress=False)
    assert "ix_installments_open_due" in dropped and "ix_payments_account" in dropped
    with engine.connect() as conn:
        # All rebuilt but the index of open installments by due date, which the store's
        # first close builds (see recoup.store.open_due).
        differences = compare_metadata(MigrationContext.configure(conn), tables.metadata)
        assert [(d[0], d[1].name) for d in differences] == [
            ("add_index", "ix_installments_open_due")
        ]
        open_due = conn.execute(
            sa.select(sa.func.count())
            .select_from(tables.installments)
            .where(tables.installments.c.settled == 0)
        ).scalar()
    assert open_due == tables_rows(engine, tables.installments) > 0


def tables_rows(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_read_frame__a_time_parameter_compares_as_the_store_keeps_times(
    store: sa.Engine,
) -> None:
    """A row stored at exactly ``at`` is found by ``<= at`` (on SQLite the driver is called
    directly, so the parameter must be written as SQLAlchemy stores times)."""
    from datetime import timedelta, timezone

    log = tables.audit_log
    at = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    with store.begin() as conn:
        conn.execute(
            log.insert().values(
                at=at, actor="a", action="b", target="c", detail="{}", prev_hash="0", hash="1"
            )
        )
        query = sa.select(log.c.seq).where(log.c.at <= at)
        assert read_frame(conn, query, {"seq": pl.Int64}).height == 1
        earlier = sa.select(log.c.seq).where(log.c.at <= at - timedelta(microseconds=1))
        assert read_frame(conn, earlier, {"seq": pl.Int64}).height == 0
        local = at.astimezone(timezone(timedelta(hours=8)))  # the same instant in Shanghai
        assert (
            read_frame(
                conn, sa.select(log.c.seq).where(log.c.at >= local), {"seq": pl.Int64}
            ).height
            == 1
        )

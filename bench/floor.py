"""The floor under the scale targets: the database alone writing and reading their rows.

    python bench/floor.py [--accounts 1000000] [--database-url postgresql://...]

The import and the full recompute at 10,000,000 accounts have time targets (3 and 5
minutes). Most of their time is the store's own work: rows written through its B-trees, rows
read out of them. This script measures that work with nothing of Recoup's in the way: on a
new store with the real schema (indexes, foreign keys, the store's pragmas), each table of
the benchmark portfolio is filled by one ``INSERT ... SELECT`` that generates its rows
inside the database (no Python per row, no driver, no checks; secondary indexes dropped and
built again after the load, as the import does), then the two largest tables are read back,
once inside the database (the largest value of every column) and once through the Python
driver (what the close's reads cost per row). The row counts are those of ``scale.py``'s
portfolio (seed 7, 12 installments a plan) for ``--accounts``, and each time is scaled
linearly to 10,000,000 accounts: if the store alone needs more than a target's time, no code
around it can reach the target on this machine with this stored form.

The time to generate the rows in SQL (measured alone, a count over the same series) is taken
off each insert, so the figures are the store's writes alone. The store is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))

from recoup.store import tables as t  # noqa: E402
from recoup.store.bulk import indexes_rebuilt_after  # noqa: E402
from recoup.store.engine import create_store_engine, database_url, upgrade_schema  # noqa: E402
from recoup.store.open_due import drop_open_due_index  # noqa: E402

TARGET_ACCOUNTS = 10_000_000

#: Rows per account of scale.py's portfolio (seed 7, plans of 12 installments on average, as
#: issue 3 names it), counted on its 1,000,000-account store after the full recompute.
PER_ACCOUNT = {
    "borrowers": 1.0,
    "contact_points": 2_969_892 / 1_000_000,
    "accounts": 1.0,
    "plans": 1_099_700 / 1_000_000,
    "installments": 13_177_872 / 1_000_000,
    "payments": 7_774_232 / 1_000_000,
    "account_states": 12_597_769 / 1_000_000,
    "charges": 1_849_362 / 1_000_000,
    "bucket_moves": 1_958_946 / 1_000_000,
}

#: What each target writes or reads, in the order of the table printed.
IMPORT = ("borrowers", "contact_points", "accounts", "plans", "installments", "payments")
RECOMPUTE_WRITES = ("account_states", "charges", "bucket_moves")
RECOMPUTE_READS = ("installments", "payments")


@dataclass(frozen=True)
class Dialect:
    """How to write a generated series, a date and a timestamp in one database's SQL."""

    name: str

    def series(self, rows: int) -> str:
        if self.name == "sqlite":
            return f"WITH RECURSIVE s(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM s LIMIT {rows}) "
        return ""

    def source(self, rows: int) -> str:
        if self.name == "sqlite":
            return "FROM s"
        return f"FROM generate_series(0::bigint, {rows - 1}) AS s(x)"

    def day(self, offset: str) -> str:
        if self.name == "sqlite":
            return f"date('2024-01-01', '+' || ({offset}) || ' days')"
        return f"(date '2024-01-01' + ({offset})::int)"

    def now(self) -> str:
        return "'2026-11-30 00:00:00.000000'" if self.name == "sqlite" else "now()"

    def ident(self, prefix: str, number: str) -> str:
        """A text id: ``prefix`` followed by the number ``number``."""
        value = f"'{prefix}' || ({number})"
        return value if self.name == "sqlite" else f"({value})::text"


def select_rows(table: str, counts: dict[str, int], d: Dialect) -> str:
    """The SELECT list generating ``table``'s rows from the series ``x``, every key valid."""
    plans = counts["plans"]
    accounts = counts["accounts"]
    if table == "borrowers":
        return f"x, {d.ident('B', 'x')}, {d.ident('N', 'x * 7919')}, 'north', NULL"
    if table == "contact_points":
        # Borrower by borrower, a phone, an e-mail and an address each (about three).
        borrower = f"x * {counts['borrowers']} / {counts['contact_points']}"
        kind = "CASE x % 3 WHEN 0 THEN 'phone' WHEN 1 THEN 'email' ELSE 'address' END"
        return (
            f"x + 1, {borrower}, {kind}, {d.ident('enc2:', 'x * 7919')}, 'self', NULL, "
            "'unverified', 'import', NULL, NULL"
        )
    if table == "accounts":
        return f"x, {d.ident('A', 'x')}, x, 'CNY', {d.day('x % 700')}, 0, 0, 'M0', 0, 0"
    if table == "plans":
        return (
            f"x, {d.ident('P', 'x')}, x * {accounts} / {plans}, 'cash-12', "
            f"100000 + x % 9000, 12, {d.day('x % 700')}"
        )
    if table == "installments":
        # In the import's order, plan by plan: 12 periods to a plan, as in the portfolio, so
        # every key is unique and names a stored plan.
        return (
            f"x / 12, x % 12 + 1, (x / 12) % {accounts}, {d.day('x % 1000')}, "
            "10000 + x % 777, 500, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x % 2"
        )
    if table == "payments":
        return (
            f"x, {d.ident('Y', 'x')}, x % {accounts}, 9000 + x % 500, "
            f"{d.day('x % 700')}, NULL, NULL, {d.now()}"
        )
    if table == "account_states":
        # (account, month end) keys in the order a replay writes them: account by account.
        months = -(-counts["account_states"] // accounts)
        return (
            f"x / {months}, {d.day(f'(x % {months}) * 30')}, x % 90, 'M1', 1000, 50, 0, 10, "
            "50000, 0, 1"
        )
    # Charges and moves come account by account too, as a replay writes them.
    if table == "charges":
        account = f"x * {accounts} / {counts['charges']}"
        return (
            f"x + 1, {account}, x % {plans}, 1, 'penalty_interest', 12, "
            f"{d.day('x % 700')}, {d.day('x % 700 + 30')}, 1"
        )
    if table == "bucket_moves":
        account = f"x * {accounts} / {counts['bucket_moves']}"
        return f"x + 1, {account}, {d.day('x % 700')}, 'M0', 'M1', 1, 1"
    raise ValueError(table)


def _columns(engine: sa.Engine, table: str) -> str:
    inspector = sa.inspect(engine)
    return ", ".join(c["name"] for c in inspector.get_columns(table))


def _prepare(engine: sa.Engine) -> None:
    """The rows the generated ones point to: a product and a batch run."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO products (product_id, currency, spec_json) "
                "VALUES ('cash-12', 'CNY', '{}')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO batch_runs (run_id, kind, closed_from, closed_through, "
                "started_at, accounts, recomputed_accounts, moves) VALUES "
                "(1, 'recompute', '2024-01-01', '2026-11-26', '2026-11-30 00:00:00', 0, 0, 0)"
            )
        )


def _seconds(engine: sa.Engine, sql: str, table: str | None = None, rows: int = 0) -> float:
    """Seconds to run ``sql`` and commit; a load into ``table`` drops and rebuilds its
    secondary indexes around it as the import does (and as the import, leaves out the
    due-date index before a first close)."""
    if engine.dialect.name == "postgresql":
        sql = sql.replace("%", "%%")  # psycopg reads a bare % as a parameter
    started = time.perf_counter()
    with engine.begin() as conn:
        if table is None:
            conn.exec_driver_sql(sql)
        else:
            if table == "installments":
                drop_open_due_index(conn)
            with indexes_rebuilt_after(conn, t.metadata.tables[table], rows):
                conn.exec_driver_sql(sql)
    return time.perf_counter() - started


def write_floor(engine: sa.Engine, d: Dialect, counts: dict[str, int]) -> dict[str, float]:
    """Seconds to insert each table's rows in the database, generation taken off."""
    seconds = {}
    for table in (*IMPORT, *RECOMPUTE_WRITES):
        rows = counts[table]
        generate = _seconds(engine, f"{d.series(rows)}SELECT count(*) {d.source(rows)}")
        insert = _seconds(
            engine,
            f"{d.series(rows)}INSERT INTO {table} ({_columns(engine, table)}) "
            f"SELECT {select_rows(table, counts, d)} {d.source(rows)}",
            table,
            rows,
        )
        seconds[table] = max(insert - generate, 0.0)
        print(f"  insert {table:<15} {rows:>12,} rows  {seconds[table]:8.1f} s", flush=True)
    return seconds


def read_floor(engine: sa.Engine, counts: dict[str, int]) -> dict[str, tuple[float, float]]:
    """Seconds to read each large table whole: inside the database, and through the driver."""
    seconds = {}
    for table in RECOMPUTE_READS:
        columns = _columns(engine, table).split(", ")
        inside = _seconds(
            engine, f"SELECT count(*), {', '.join(f'max({c})' for c in columns)} FROM {table}"
        )
        started = time.perf_counter()
        with engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")
            while cursor.fetchmany(100_000):
                pass
            cursor.close()
        seconds[table] = (inside, time.perf_counter() - started)
        print(
            f"  read {table:<17} {counts[table]:>12,} rows  {inside:8.1f} s inside, "
            f"{seconds[table][1]:.1f} s through the driver",
            flush=True,
        )
    return seconds


#: The PostgreSQL schema this benchmark owns and makes again on each run.
SCHEMA = "recoup_floor"


def _fresh_store(url: str | None, directory: Path) -> sa.Engine:
    """An empty store at the newest schema: a new SQLite file, or this benchmark's own
    PostgreSQL schema dropped and made again (nothing else of the database is touched)."""
    if url:
        admin = sa.create_engine(database_url(url))
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        admin.dispose()
        engine = sa.create_engine(
            database_url(url), connect_args={"options": f"-csearch_path={SCHEMA}"}
        )
    else:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        engine = create_store_engine(f"sqlite:///{directory / 'floor.db'}")
    upgrade_schema(engine)
    return engine


def _store_bytes(engine: sa.Engine) -> int:
    if engine.dialect.name == "sqlite":
        return os.path.getsize(str(engine.url.database))
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema AND c.relkind = 'r'"
                ),
                {"schema": SCHEMA},
            ).scalar_one()
        )


def _remove_store(engine: sa.Engine, directory: Path) -> None:
    if engine.dialect.name == "sqlite":
        engine.dispose()
        shutil.rmtree(directory, ignore_errors=True)
        return
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        help=f"a PostgreSQL database to use (in a schema {SCHEMA}, dropped at the end); "
        "default: a new SQLite store in bench/out-floor, removed at the end",
    )
    args = parser.parse_args()
    if args.accounts < 1_000:
        parser.error("--accounts must be at least 1,000")
    if args.database_url and not database_url(args.database_url).startswith("postgresql"):
        parser.error(
            f"--database-url {args.database_url!r}: not a PostgreSQL URL (postgresql://...); "
            "without --database-url the benchmark makes its own SQLite store"
        )
    directory = BENCH / "out-floor"
    try:
        engine = _fresh_store(args.database_url, directory)
    except sa.exc.OperationalError as exc:
        parser.error(f"--database-url {args.database_url!r}: cannot open it: {exc.orig}")
    try:
        _prepare(engine)
        d = Dialect(engine.dialect.name)
        counts = {table: round(per * args.accounts) for table, per in PER_ACCOUNT.items()}
        scale = TARGET_ACCOUNTS / args.accounts
        print(f"{engine.dialect.name}, {args.accounts:,} accounts; times scaled by {scale:g}")
        writes = write_floor(engine, d, counts)
        reads = read_floor(engine, counts)
        size = _store_bytes(engine)
    finally:
        _remove_store(engine, directory)  # 4.5 GB at 1,000,000 accounts, of no further use

    import_s = sum(writes[t] for t in IMPORT) * scale
    recompute_writes_s = sum(writes[t] for t in RECOMPUTE_WRITES) * scale
    inside = sum(reads[t][0] for t in RECOMPUTE_READS) * scale
    driver = sum(reads[t][1] for t in RECOMPUTE_READS) * scale
    print()
    print(f"| at {TARGET_ACCOUNTS:,} accounts (scaled) | the store alone | target |")
    print("|---|---|---|")
    print(f"| import: insert its rows ({', '.join(IMPORT)}) | {import_s:,.0f} s | 180 s |")
    print(
        f"| recompute: write the derived rows ({', '.join(RECOMPUTE_WRITES)}) "
        f"| {recompute_writes_s:,.0f} s | 300 s |"
    )
    print(
        f"| recompute: read {' and '.join(RECOMPUTE_READS)} | {inside:,.0f} s inside the "
        f"database, {driver:,.0f} s through the driver (one core) | |"
    )
    print(f"\nstore: {size / 1e9:.1f} GB at {args.accounts:,} accounts (removed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``recoup import DIR``: read a portfolio directory, check all of it, then write all of it.

The import is one database transaction. It first reads the files and the parts of the store
they name (joined through a temporary table of the ids, never a query per row), checks
every rule over whole columns (see :mod:`recoup.importer.checks`), and only when nothing is
wrong writes the new rows in bulk (COPY on PostgreSQL). A refused import raises
:class:`ImportFailed` with the problems found, and the store is left as it was.
"""

from __future__ import annotations

import re
import sys
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from tqdm import tqdm

from recoup.close import last_closed_day
from recoup.importer.checks import (
    BorrowerRows,
    PaymentRows,
    PlanRows,
    check_borrowers,
    check_payments,
    check_plans,
)
from recoup.importer.fields import issues_of
from recoup.importer.files import (
    BORROWERS,
    KINDS,
    PAYMENTS,
    PLANS,
    PRODUCTS_FILE,
    InputFile,
    read_input,
)
from recoup.importer.installments import installment_rows
from recoup.importer.issues import ImportIssue, IssueLog
from recoup.products.spec import ProductCatalog, ProductError, bucket_for_dpd, load_catalog
from recoup.store import tables as t
from recoup.store.bulk import (
    indexes_rebuilt_after,
    insert_frame,
    large_cache,
    read_frame,
    temporary_table,
    update_from_frame,
)
from recoup.store.engine import refresh_planner_statistics
from recoup.store.open_due import drop_open_due_index
from recoup.store.repository import load_catalog_from_store, next_key, save_catalog


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import added. ``payments_added`` counts ordinary payments, not reversals."""

    products: int = 0
    borrowers_added: int = 0
    borrowers_updated: int = 0
    contact_points_added: int = 0
    accounts_added: int = 0
    plans_added: int = 0
    plans_skipped: int = 0
    installments_added: int = 0
    payments_added: int = 0
    payments_skipped: int = 0
    reversals_added: int = 0

    def describe(self) -> str:
        """One line per kind of row, for the command line."""
        lines = [
            f"products         {self.products}",
            f"borrowers        {self.borrowers_added} added, {self.borrowers_updated} updated",
            f"contact points   {self.contact_points_added} added",
            f"accounts         {self.accounts_added} added",
            f"plans            {self.plans_added} added, {self.plans_skipped} already stored",
            f"installments     {self.installments_added} added",
            f"payments         {self.payments_added} added, {self.payments_skipped} already stored",
            f"reversals        {self.reversals_added} added",
        ]
        return "\n".join(lines)


def import_directory(
    engine: sa.Engine,
    directory: Path,
    *,
    show_progress: bool = True,
    now: datetime | None = None,
    then: Callable[[sa.Connection, ImportSummary], None] | None = None,
    refresh_statistics: bool = True,
) -> ImportSummary:
    """Import ``products.yaml``, ``borrowers``, ``plans`` and ``payments`` from ``directory``.

    Any file may be absent. Raises :class:`~recoup.importer.issues.ImportFailed` (and
    writes nothing) when anything is wrong. ``now`` stamps ``imported_at`` (default: the
    current UTC time). ``then`` runs in the import's transaction after the rows are written
    (the workbench appends its audit entry there; an exception from it undoes the import).
    ``refresh_statistics=False`` skips the planner statistics (for an import of a few rows).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"not a directory: {directory}")
    log = IssueLog(file_order=("products", *(kind.stem for kind in KINDS)))
    file_catalog = _read_products(directory, log)
    inputs = {kind.stem: read_input(directory, kind, log) for kind in KINDS}
    imported_at = now or datetime.now(UTC)
    with engine.begin() as conn, large_cache(conn):
        _one_import_at_a_time(conn)
        store_catalog = load_catalog_from_store(conn)
        catalog = _catalog_in_force(store_catalog, file_catalog)
        changes = _check(conn, inputs, catalog, log, imported_at)
        if log:
            raise log.failure()
        summary = _write(conn, changes, catalog, file_catalog, show_progress)
        if then is not None:
            then(conn, summary)
    if refresh_statistics:
        refresh_planner_statistics(engine)
    return summary


def _one_import_at_a_time(conn: sa.Connection) -> None:
    """Hold the store for this import from its first read, so keys and checks stay true.

    New keys are the largest stored key plus one and the duplicate checks read the store:
    both hold only if no other import writes in between. SQLite: take the write lock now
    (the driver would only begin at the first write); PostgreSQL: a transaction-scoped
    advisory lock that every import takes.
    """
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_IMPORT_LOCK)))


#: The advisory lock id imports share on PostgreSQL ("recoup" in ASCII).
_IMPORT_LOCK = 0x7265636F7570


# --------------------------------------------------------------------------- products


_FIELD = re.compile(r"^((?:product|bucket) (?:'[^']*'|#\d+)|buckets): ([\w.]+): (.+)$", re.S)


def _read_products(directory: Path, log: IssueLog) -> ProductCatalog | None:
    path = directory / PRODUCTS_FILE
    if not path.exists():
        return None
    try:
        return load_catalog(path)
    except ProductError as exc:
        message = str(exc).removeprefix(f"{path}: ")
        match = _FIELD.match(message)
        if match:
            where, column, problem = match.groups()
            if where == "buckets":
                log.add(ImportIssue(PRODUCTS_FILE, None, "buckets", problem))
            else:
                log.add(ImportIssue(PRODUCTS_FILE, None, column, f"{where}: {problem}"))
        else:
            log.add(ImportIssue(PRODUCTS_FILE, None, None, message))
        return None


def _catalog_in_force(stored: ProductCatalog, from_file: ProductCatalog | None) -> ProductCatalog:
    """The stored catalog with the file's products laid over it, and the file's buckets."""
    if from_file is None:
        return stored
    return ProductCatalog(
        products={**stored.products, **from_file.products}, buckets=from_file.buckets
    )


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True, slots=True)
class _Changes:
    borrowers: BorrowerRows | None
    plans: PlanRows | None
    payments: PaymentRows | None


def _lookup(
    conn: sa.Connection,
    keys: pl.Series,
    build: Callable[[sa.Table], sa.Select[Any]],
    schema: dict[str, pl.DataType],
) -> pl.DataFrame:
    """The rows ``build(key_column)`` selects for ``keys``, joined through a TEMP table."""
    # Sorted keys walk the store's index in order.
    wanted = keys.drop_nulls().unique().sort()
    if wanted.is_empty():
        return pl.DataFrame(schema=schema)
    with temporary_table(conn, wanted.to_frame("key")) as tmp:
        return read_frame(conn, build(tmp), schema)


def _column(source: InputFile | None, name: str) -> pl.Series:
    if source is None:
        return pl.Series(name, [], dtype=pl.Utf8)
    return source.frame.get_column(name)


_BORROWER_SCHEMA: dict[str, pl.DataType] = {
    "borrower_key": pl.Int64(),
    "borrower_id": pl.Utf8(),
    "name": pl.Utf8(),
    "region": pl.Utf8(),
    "timezone": pl.Utf8(),
}
_ACCOUNT_SCHEMA: dict[str, pl.DataType] = {
    "account_key": pl.Int64(),
    "account_id": pl.Utf8(),
    "borrower_id": pl.Utf8(),
    "currency": pl.Utf8(),
    "opened_on": pl.Date(),
}
_PLAN_SCHEMA: dict[str, pl.DataType] = {
    "plan_id": pl.Utf8(),
    "account_id": pl.Utf8(),
    "borrower_id": pl.Utf8(),
    "product_id": pl.Utf8(),
    "principal_cents": pl.Int64(),
    "term": pl.Int64(),
    "start_date": pl.Date(),
}
_PAYMENT_SCHEMA: dict[str, pl.DataType] = {
    "payment_key": pl.Int64(),
    "payment_id": pl.Utf8(),
    "account_id": pl.Utf8(),
    "amount_cents": pl.Int64(),
    "paid_on": pl.Date(),
    "reverses_payment_id": pl.Utf8(),
    "reversed_on": pl.Date(),
}
_CONTACT_SCHEMA: dict[str, pl.DataType] = {
    "borrower_key": pl.Int64(),
    "kind": pl.Utf8(),
    "value": pl.Utf8(),
}


def _check(
    conn: sa.Connection,
    inputs: dict[str, InputFile | None],
    catalog: ProductCatalog | None,
    log: IssueLog,
    imported_at: datetime,
) -> _Changes:
    borrowers_in, plans_in, payments_in = (
        inputs[BORROWERS.stem],
        inputs[PLANS.stem],
        inputs[PAYMENTS.stem],
    )
    keys = {
        "borrower": next_key(conn, t.borrowers.c.borrower_key),
        "contact": next_key(conn, t.contact_points.c.contact_point_key),
        "account": next_key(conn, t.accounts.c.account_key),
        "plan": next_key(conn, t.plans.c.plan_key),
        "payment": next_key(conn, t.payments.c.payment_key),
    }
    # The store's rows that this import names (skipped when the table is still empty).
    b, a, p, y = t.borrowers, t.accounts, t.plans, t.payments
    stored_borrowers = pl.DataFrame(schema=_BORROWER_SCHEMA)
    if keys["borrower"] > 1:
        stored_borrowers = _lookup(
            conn,
            pl.concat([_column(borrowers_in, "borrower_id"), _column(plans_in, "borrower_id")]),
            lambda keys: sa.select(
                b.c.borrower_key, b.c.borrower_id, b.c.name, b.c.region, b.c.timezone
            ).join_from(b, keys, b.c.borrower_id == keys.c.key),
            _BORROWER_SCHEMA,
        )
    stored_contacts = pl.DataFrame(schema=_CONTACT_SCHEMA)
    if keys["contact"] > 1 and stored_borrowers.height:
        c = t.contact_points
        stored_contacts = _lookup(
            conn,
            stored_borrowers.get_column("borrower_key"),
            lambda keys: sa.select(c.c.borrower_key, c.c.kind, c.c.value).join_from(
                c, keys, c.c.borrower_key == keys.c.key
            ),
            _CONTACT_SCHEMA,
        )
    stored_accounts = pl.DataFrame(schema=_ACCOUNT_SCHEMA)
    if keys["account"] > 1:
        stored_accounts = _lookup(
            conn,
            pl.concat([_column(plans_in, "account_id"), _column(payments_in, "account_id")]),
            lambda keys: (
                sa.select(
                    a.c.account_key, a.c.account_id, b.c.borrower_id, a.c.currency, a.c.opened_on
                )
                .join_from(a, keys, a.c.account_id == keys.c.key)
                .join(b, b.c.borrower_key == a.c.borrower_key)
            ),
            _ACCOUNT_SCHEMA,
        )
    stored_plans = pl.DataFrame(schema=_PLAN_SCHEMA)
    if keys["plan"] > 1 and plans_in is not None:
        stored_plans = _lookup(
            conn,
            plans_in.frame.get_column("plan_id"),
            lambda keys: (
                sa.select(
                    p.c.plan_id,
                    a.c.account_id,
                    b.c.borrower_id,
                    p.c.product_id,
                    p.c.principal_cents,
                    p.c.term,
                    p.c.start_date,
                )
                .join_from(p, keys, p.c.plan_id == keys.c.key)
                .join(a, a.c.account_key == p.c.account_key)
                .join(b, b.c.borrower_key == a.c.borrower_key)
            ),
            _PLAN_SCHEMA,
        )
    stored_payment_ids = pl.Series("payment_id", [], dtype=pl.Utf8)
    stored_payments = pl.DataFrame(schema=_PAYMENT_SCHEMA)
    if keys["payment"] > 1 and payments_in is not None:
        # Every id already stored (to skip it), read from the unique index alone; the
        # details only of the payments that reversals name.
        stored_payment_ids = _lookup(
            conn,
            payments_in.frame.get_column("payment_id"),
            lambda keys: sa.select(y.c.payment_id).join_from(y, keys, y.c.payment_id == keys.c.key),
            {"payment_id": pl.Utf8()},
        ).get_column("payment_id")
        stored_payments = _lookup(
            conn,
            payments_in.frame.get_column("reverses"),
            lambda keys: (
                sa.select(
                    y.c.payment_key,
                    y.c.payment_id,
                    a.c.account_id,
                    y.c.amount_cents,
                    y.c.paid_on,
                    y.c.reverses_payment_id,
                    y.c.reversed_on,
                )
                .join_from(y, keys, y.c.payment_id == keys.c.key)
                .join(a, a.c.account_key == y.c.account_key)
            ),
            _PAYMENT_SCHEMA,
        )

    borrower_rows = plan_rows = payment_rows = None
    if borrowers_in is not None:
        borrower_rows = check_borrowers(
            borrowers_in,
            stored_borrowers,
            stored_contacts,
            keys["borrower"],
            keys["contact"],
            _timezones(),
        )
        log.extend(issues_of(borrower_rows.checked, borrowers_in.name, log.limit + 1))
    # A file that could not be read at all would make every row that refers to it look
    # wrong: the checks that depend on a broken file wait until it is fixed.
    broken = log.broken_files
    borrower_keys = pl.concat(
        [
            stored_borrowers.select("borrower_id", "borrower_key"),
            *([borrower_rows.keys] if borrower_rows is not None else []),
        ]
    ).unique("borrower_id", keep="first")
    if plans_in is not None:
        plan_rows = check_plans(
            plans_in,
            None if "products" in broken else catalog,
            None
            if BORROWERS.stem in broken
            else pl.concat(
                [_column(borrowers_in, "borrower_id"), stored_borrowers.get_column("borrower_id")]
            ).drop_nulls(),
            borrower_keys,
            stored_accounts,
            stored_plans,
            keys["account"],
            keys["plan"],
        )
        log.extend(issues_of(plan_rows.checked, plans_in.name, log.limit + 1))
    if payments_in is not None:
        account_keys = pl.concat(
            [
                stored_accounts.select("account_id", "account_key"),
                *([plan_rows.account_keys] if plan_rows is not None else []),
            ]
        )
        payment_rows = check_payments(
            payments_in,
            None
            if PLANS.stem in broken
            else pl.concat(
                [_column(plans_in, "account_id"), stored_accounts.get_column("account_id")]
            ).drop_nulls(),
            account_keys,
            stored_payment_ids,
            stored_payments,
            keys["payment"],
            imported_at,
        )
        log.extend(issues_of(payment_rows.checked, payments_in.name, log.limit + 1))
    return _Changes(borrower_rows, plan_rows, payment_rows)


def _timezones() -> frozenset[str]:
    try:
        return frozenset(zoneinfo.available_timezones())
    except Exception:  # no time zone database on this machine: accept any name
        return frozenset()


# --------------------------------------------------------------------------- writing


def _advance(bar: tqdm[Any]) -> Callable[[int], None]:
    def advance(rows: int) -> None:
        bar.update(rows)

    return advance


def _write(
    conn: sa.Connection,
    changes: _Changes,
    catalog: ProductCatalog,
    file_catalog: ProductCatalog | None,
    show_progress: bool,
) -> ImportSummary:
    empty = pl.DataFrame()
    borrowers, plans, payments = changes.borrowers, changes.plans, changes.payments
    installments = installment_rows(plans.added, catalog) if plans is not None else empty
    bucket_zero = bucket_for_dpd(catalog.buckets, 0)
    accounts = (
        plans.accounts_added.with_columns(
            pl.lit(0, dtype=pl.Int64).alias("credit_balance_cents"),
            pl.lit(0, dtype=pl.Int32).alias("dpd"),
            pl.lit(bucket_zero).alias("bucket"),
            pl.lit(0, dtype=pl.Int64).alias("overdue_cents"),
        )
        if plans is not None
        else empty
    )
    inserts: list[tuple[sa.Table, pl.DataFrame]] = [
        (t.borrowers, borrowers.added if borrowers else empty),
        (t.contact_points, borrowers.contacts if borrowers else empty),
        (t.accounts, accounts),
        (t.plans, plans.added if plans else empty),
        (t.installments, installments),
        (t.payments, payments.added if payments else empty),
    ]
    total = sum(frame.height for _, frame in inserts)
    with tqdm(
        total=total,
        desc="import",
        unit="rows",
        unit_scale=total >= 10_000,
        file=sys.stderr,
        disable=not show_progress or total == 0,
    ) as bar:
        if file_catalog is not None:
            save_catalog(conn, file_catalog)
        if installments.height and last_closed_day(conn) is None:
            drop_open_due_index(conn)  # the first close builds it (see recoup.store.open_due)
        for table, frame in inserts:
            bar.set_postfix_str(table.name)
            with indexes_rebuilt_after(conn, table, frame.height):
                insert_frame(conn, table, frame, _advance(bar))
            if table is t.borrowers and borrowers is not None and borrowers.updated.height:
                update_from_frame(conn, t.borrowers, borrowers.updated, ["borrower_key"])
            if table is t.accounts and plans is not None and plans.accounts_reopened.height:
                update_from_frame(conn, t.accounts, plans.accounts_reopened, ["account_key"])
        if payments is not None and payments.reversed.height:
            update_from_frame(conn, t.payments, payments.reversed, ["payment_key"])
    reversals = payments.reversals if payments else 0
    return ImportSummary(
        products=len(file_catalog.products) if file_catalog else 0,
        borrowers_added=borrowers.added.height if borrowers else 0,
        borrowers_updated=borrowers.updated.height if borrowers else 0,
        contact_points_added=borrowers.contacts.height if borrowers else 0,
        accounts_added=accounts.height,
        plans_added=plans.added.height if plans else 0,
        plans_skipped=plans.skipped if plans else 0,
        installments_added=installments.height,
        payments_added=(payments.added.height - reversals) if payments else 0,
        payments_skipped=payments.skipped if payments else 0,
        reversals_added=reversals,
    )

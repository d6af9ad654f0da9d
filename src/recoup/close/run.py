"""The daily close: age every account from the last closed day through a date.

The close is the edge between the store and the ledger kernel. For each *window* (the days up
to each month end, and up to the requested day) it opens one transaction, records a batch run,
loads what the window needs in a handful of bulk queries, runs the rules
(:func:`recoup.ledger.kernel.run_rules`) over all accounts at once, and writes the results in
bulk: installment and account state, charges, bucket moves and state snapshots, each row
pointing to the run. A close killed mid-window rolls the window back; the next close starts
again after the last finished window. Closing a closed day again writes nothing.

Accounts whose past changed since they were last closed (a backdated payment, a reversal, a
plan starting on or before the last closed day) are *recomputed*: replayed from their first
plan with the same rules, and their charges, moves and later snapshots rewritten.
"""

from __future__ import annotations

import calendar
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from recoup.close.lock import exclusive_close
from recoup.ledger.kernel import (
    STATE_COLUMNS,
    KernelResult,
    account_tolerance,
    effective_payments,
    run_rules,
)
from recoup.products.spec import ProductCatalog
from recoup.store import tables as t
from recoup.store.bulk import insert_frame, read_frame, temporary_table, update_from_frame
from recoup.store.engine import create_store_engine, refresh_planner_statistics
from recoup.store.ledger_queries import (
    ACCOUNT_SCHEMA,
    ADJUSTMENT_SCHEMA,
    INSTALLMENT_SCHEMA,
    PAYMENT_SCHEMA,
    PLANS_OF_SCHEMA,
    REAGING_SCHEMA,
    accounts_query,
    adjustments_query,
    payments_query,
    read_installments_of,
    read_plans_of,
    reaging_query,
)
from recoup.store.open_due import build_open_due_index
from recoup.store.repository import load_catalog_from_store


@dataclass(frozen=True, slots=True)
class WindowResult:
    run_id: int
    closed_from: date
    closed_through: date
    accounts: int
    recomputed_accounts: int
    moves: int
    charges: int


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def windows(after: date, through: date) -> list[tuple[date, date]]:
    """The windows that close the days after ``after`` through ``through``: one per month."""
    spans = []
    start = after + timedelta(days=1)
    while start <= through:
        end = min(month_end(start), through)
        spans.append((start, end))
        start = end + timedelta(days=1)
    return spans


#: The run of one partition of a first close; the day is closed only when all are done.
FIRST_CLOSE_PARTITION = "first_close"

#: The column of an installment's SQLite ``rowid`` in the close's frames: a changed row is
#: written back through it (see :func:`~recoup.store.bulk.update_from_frame`).
_ROW_ID = "row_id"


def _has_row_ids(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


#: Accounts per partition of a first close or a recompute. A partition of 125,000 accounts
#: with 24 months of history holds up to about 2.9 GB in its process (250,000: 5.1 GB), and
#: at 1,000,000 accounts two workers recomputed in 244.5 s with 125,000 against 288.3 s with
#: 250,000 (bench/README.md): the smaller partitions are no slower and fit two workers in 8 GB.
PARTITION_ACCOUNTS = 125_000


def last_closed_day(conn: Connection) -> date | None:
    r = t.batch_runs
    value = conn.execute(
        sa.select(sa.func.max(r.c.closed_through)).where(r.c.kind != FIRST_CLOSE_PARTITION)
    ).scalar()
    if isinstance(value, str):  # SQLite aggregates lose the column type
        return date.fromisoformat(value)
    return value


def first_open_day(conn: Connection) -> date | None:
    """The day before the first plan starts or the first payment is made, whichever is
    earlier: the close's starting point on a new store."""
    days = []
    for column in (t.accounts.c.opened_on, t.payments.c.paid_on):
        value = conn.execute(sa.select(sa.func.min(column))).scalar()
        if value is not None:
            days.append(date.fromisoformat(value) if isinstance(value, str) else value)
    return min(days) - timedelta(days=1) if days else None


@dataclass(slots=True)
class _OpenBook:
    """What the close keeps in memory between windows: the open (not settled) installments,
    every account's stored state, and the payments of the days still to close. It is read
    once per close and kept up to date by each window, instead of re-read for every window.
    Rows imported while the close runs have keys above ``max_payment_key``/``max_plan_key``
    and are left for the next close."""

    installments: pl.DataFrame
    accounts: pl.DataFrame
    payments: pl.DataFrame
    max_payment_key: int
    max_plan_key: int
    #: The adjustments effective in the days still to close.
    adjustments: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=ADJUSTMENT_SCHEMA)
    )


#: The function that applies the rules: the local kernel, or a distributed wrapper of it
#: (:func:`recoup.close.spark.run_rules_on_spark`) with the same arguments and result.
Rules = Callable[..., KernelResult]


def close_through(
    engine: Engine,
    through: date,
    *,
    on_window: Callable[[WindowResult], None] | None = None,
    rules: Rules = run_rules,
    partition_accounts: int = PARTITION_ACCOUNTS,
    workers: int = 1,
) -> list[WindowResult]:
    """Close every day after the last closed day through ``through``.

    Returns one result per window written. Closing days already closed writes nothing, unless
    accounts are waiting to be recomputed (then one recompute run through the last closed day).
    The first close of a store replays every account's whole history in partitions of
    ``partition_accounts``, ``workers`` processes side by side (see :func:`_first_close`).
    Raises :class:`CloseInProgress` if another close of the store is running.
    """
    with exclusive_close(engine):
        return _close_through(engine, through, on_window, rules, partition_accounts, workers)


def _close_through(
    engine: Engine,
    through: date,
    on_window: Callable[[WindowResult], None] | None,
    rules: Rules,
    partition_accounts: int,
    workers: int,
) -> list[WindowResult]:
    with engine.connect() as conn:
        catalog = load_catalog_from_store(conn)
        closed = last_closed_day(conn)
        start = closed if closed is not None else first_open_day(conn)
    if start is None:
        return []
    if closed is None:
        if through < start:
            return []
        return _first_close(
            engine, catalog, start, through, partition_accounts, on_window, rules, workers
        )
    with engine.begin() as conn:
        build_open_due_index(conn)  # _in_play finds the installments falling due through it
    spans = windows(start, through)
    if not spans and through <= closed:
        spans = [(closed, closed)] if _has_pending_recompute(engine, closed) else []
    results = []
    book: _OpenBook | None = None
    for number, (window_start, window_end) in enumerate(spans, start=1):
        with engine.begin() as conn:
            if book is None:
                book = _open_book(conn, catalog, window_start, through, closed)
            result = _close_window(
                conn,
                catalog,
                book,
                window_start,
                window_end,
                closed,
                rules=rules,
                keep_book=number < len(spans),
            )
        results.append(result)
        closed = window_end
        if on_window is not None:
            on_window(result)
    return results


def _first_close(
    engine: Engine,
    catalog: ProductCatalog,
    first_day: date,
    through: date,
    partition_accounts: int,
    on_partition: Callable[[WindowResult], None] | None,
    rules: Rules,
    workers: int,
) -> list[WindowResult]:
    """The first close of a store: every account replayed from its first plan (or payment)
    through ``through`` in one pass of the rules, a partition of accounts at a time, with
    its month-end history. One pass per account costs far less than a window per month over
    the whole portfolio, and the partitions bound the memory.

    Each partition commits on its own (a ``first_close`` run naming its account range), so
    a first close killed half-way keeps its finished partitions and a rerun does only the
    rest. The day counts as closed only once every partition is written: then the ``close``
    run that :func:`last_closed_day` reads is recorded (a rerun after every partition was
    written records just that). A rerun for another day redoes every partition (a replay
    overwrites what it finds). ``workers`` processes replay partitions side by side."""
    with engine.connect() as conn:
        book = _empty_book(conn)
        low_key, high_key = _account_key_bounds(conn)
        done = _finished_partitions(conn, through)
    if low_key is None or high_key is None:
        return []
    partitions = _partitions(low_key, high_key, partition_accounts)
    to_do = [
        (low, high) for low, high in partitions if not any(a <= low and high <= b for a, b in done)
    ]
    results = _run_partitions(
        engine, catalog, book, first_day, through, None, to_do, rules, workers, on_partition
    )
    with engine.begin() as conn:
        build_open_due_index(conn)  # the import dropped it (see recoup.store.open_due)
        _record_first_close(conn, first_day, through, len(partitions))
    refresh_planner_statistics(engine)  # every account's state was just written
    return results


def _finished_partitions(conn: Connection, through: date) -> list[tuple[int, int]]:
    r = t.batch_runs
    rows = conn.execute(
        sa.select(r.c.first_account_key, r.c.last_account_key).where(
            r.c.kind == FIRST_CLOSE_PARTITION, r.c.closed_through == through
        )
    ).all()
    return [(int(a), int(b)) for a, b in rows]


def _record_first_close(conn: Connection, first_day: date, through: date, partitions: int) -> None:
    """The run that makes ``through`` the last closed day, once every partition is in."""
    r = t.batch_runs
    partitions_of_this_close = sa.and_(
        r.c.kind == FIRST_CLOSE_PARTITION, r.c.closed_through == through
    )
    accounts, payment_key, plan_key = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(r.c.accounts), 0),
            sa.func.min(r.c.max_payment_key),
            sa.func.min(r.c.max_plan_key),
        ).where(partitions_of_this_close)
    ).one()
    now = datetime.now(UTC)
    conn.execute(
        r.insert().values(
            kind="close",
            closed_from=first_day,
            closed_through=through,
            started_at=now,
            finished_at=now,
            accounts=int(accounts),
            recomputed_accounts=0,
            moves=0,
            notes=f"first close, {partitions} partitions of accounts",
            # A partition done before a rerun saw fewer rows: the least any partition saw.
            max_payment_key=payment_key,
            max_plan_key=plan_key,
        )
    )


def _empty_book(conn: Connection) -> _OpenBook:
    """A book holding nothing: each partition of a replay reads its own accounts."""
    max_payment_key = conn.execute(sa.select(sa.func.max(t.payments.c.payment_key))).scalar()
    max_plan_key = conn.execute(sa.select(sa.func.max(t.plans.c.plan_key))).scalar()
    return _book_of_nothing(int(max_payment_key or 0), int(max_plan_key or 0))


def _book_of_nothing(max_payment_key: int, max_plan_key: int) -> _OpenBook:
    return _OpenBook(
        pl.DataFrame(schema=INSTALLMENT_SCHEMA),
        pl.DataFrame(schema=ACCOUNT_SCHEMA | {"tolerance_cents": pl.Int64}),
        pl.DataFrame(schema=PAYMENT_SCHEMA),
        max_payment_key,
        max_plan_key,
    )


def _partitions(low_key: int, high_key: int, size: int) -> list[tuple[int, int]]:
    """The ranges of ``size`` account keys that cover ``low_key .. high_key``."""
    return [(low, min(low + size - 1, high_key)) for low in range(low_key, high_key + 1, size)]


def _account_key_bounds(conn: Connection) -> tuple[int | None, int | None]:
    a = t.accounts.c.account_key
    low, high = conn.execute(sa.select(sa.func.min(a), sa.func.max(a))).one()
    return (None if low is None else int(low)), (None if high is None else int(high))


def recompute_all(
    engine: Engine,
    *,
    partition_accounts: int = PARTITION_ACCOUNTS,
    on_partition: Callable[[WindowResult], None] | None = None,
    rules: Rules = run_rules,
    workers: int = 1,
) -> list[WindowResult]:
    """Recompute every account from its first plan through the last closed day (after a
    product rule changed, or to check the stored ledger), one partition of accounts at a
    time: each partition is read, replayed and written in its own transaction and recorded
    run, so memory stays bounded by the partition, whatever the portfolio's size. A killed
    recompute leaves every partition either recomputed or as it was; running it again
    gives the same ledger. ``workers`` processes recompute partitions side by side (memory
    is then bounded by that many partitions). Raises :class:`CloseInProgress` if another
    close of the store is running."""
    with exclusive_close(engine):
        return _recompute_all(engine, partition_accounts, on_partition, rules, workers)


def _recompute_all(
    engine: Engine,
    partition_accounts: int,
    on_partition: Callable[[WindowResult], None] | None,
    rules: Rules,
    workers: int,
) -> list[WindowResult]:
    with engine.connect() as conn:
        catalog = load_catalog_from_store(conn)
        closed = last_closed_day(conn)
        low_key, high_key = _account_key_bounds(conn)
        empty = _empty_book(conn)
    if closed is None or low_key is None or high_key is None:
        return []
    partitions = _partitions(low_key, high_key, partition_accounts)
    results = _run_partitions(
        engine, catalog, empty, closed, closed, closed, partitions, rules, workers, on_partition
    )
    refresh_planner_statistics(engine)
    return results


def _run_partitions(
    engine: Engine,
    catalog: ProductCatalog,
    book: _OpenBook,
    first_day: date,
    through: date,
    last_closed: date | None,
    partitions: Sequence[tuple[int, int]],
    rules: Rules,
    workers: int,
    on_partition: Callable[[WindowResult], None] | None,
) -> list[WindowResult]:
    """Replay each partition (a range of account keys) and write it in its own transaction,
    in ``workers`` processes side by side.

    A partition is read and replayed outside any write transaction and then written in one,
    so one worker's reading and rules overlap another's writing; on SQLite, which has one
    writer at a time, the workers take turns to write (a lock they share) rather than time
    out waiting for the database. Returns the results in the order partitions finished."""
    results: list[WindowResult] = []

    def done(result: WindowResult) -> None:
        results.append(result)
        if on_partition is not None:
            on_partition(result)

    in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
    if workers <= 1 or len(partitions) <= 1 or in_memory:
        for forced in partitions:
            done(
                _close_partition(
                    engine, catalog, book, first_day, through, last_closed, forced, rules
                )
            )
        return results
    if rules is not run_rules:
        raise ValueError("partitions run in several processes with the local rules only")
    context = multiprocessing.get_context("spawn")  # Polars' threads do not survive a fork
    lock = context.Lock() if engine.dialect.name == "sqlite" else None
    url = engine.url.render_as_string(hide_password=False)
    search_path = None
    if engine.dialect.name == "postgresql":
        # The schema may come from the engine's connect arguments rather than its URL.
        with engine.connect() as conn:
            search_path = str(conn.exec_driver_sql("SHOW search_path").scalar_one())
    with ProcessPoolExecutor(
        max_workers=min(workers, len(partitions)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(url, search_path, lock, os.getpid()),
    ) as pool:
        futures = [
            pool.submit(
                _partition_in_worker,
                first_day,
                through,
                last_closed,
                forced,
                book.max_payment_key,
                book.max_plan_key,
            )
            for forced in partitions
        ]
        try:
            for future in as_completed(futures):
                done(future.result())
        except BaseException:
            for future in futures:  # a failed partition stops those not yet started
                future.cancel()
            raise
    return results


def _close_partition(
    engine: Engine,
    catalog: ProductCatalog,
    book: _OpenBook,
    first_day: date,
    through: date,
    last_closed: date | None,
    forced: tuple[int, int],
    rules: Rules,
    write_lock: AbstractContextManager[object] | None = None,
) -> WindowResult:
    """Replay one partition of accounts (read, then the rules, on a connection that writes
    nothing) and write it in one transaction, under ``write_lock`` when given."""
    with engine.connect() as conn:
        window = _prepare_window(
            conn, catalog, book, first_day, through, last_closed, forced, Watermark(0, 0), rules
        )
    with write_lock or nullcontext(), engine.begin() as conn:
        run_id = _start_run(conn, book, first_day, through, last_closed, forced)
        return _write_window(conn, book, window, run_id, last_closed, forced, keep_book=False)


#: A worker process's store, catalog and write lock (see :func:`_start_worker`).
_worker: dict[str, Any] = {}


def _start_worker(
    url: str,
    search_path: str | None,
    lock: AbstractContextManager[object] | None,
    parent: int,
) -> None:
    """Open the store once per worker process, on the caller's PostgreSQL search path.

    A worker dies with the close that started it: a close killed mid-run must leave only
    whole partitions, not a worker writing on while the close is run again."""
    _die_with_parent(parent)
    engine = create_store_engine(url)
    if search_path is not None:

        @sa.event.listens_for(engine, "connect")
        def _on_search_path(dbapi_connection: Any, _record: Any) -> None:
            # Outside a transaction, so the setting outlives the first rollback.
            dbapi_connection.autocommit = True
            dbapi_connection.execute(f"SET search_path TO {search_path}")
            dbapi_connection.autocommit = False

    with engine.connect() as conn:
        catalog = load_catalog_from_store(conn)
    _worker.update(engine=engine, catalog=catalog, lock=lock)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent ends (elsewhere, do nothing)."""
    if not sys.platform.startswith("linux"):
        return
    set_parent_death_signal = 1  # PR_SET_PDEATHSIG, from <linux/prctl.h>
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(set_parent_death_signal, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the request was made
        os._exit(1)


def _partition_in_worker(
    first_day: date,
    through: date,
    last_closed: date | None,
    forced: tuple[int, int],
    max_payment_key: int,
    max_plan_key: int,
) -> WindowResult:
    return _close_partition(
        _worker["engine"],
        _worker["catalog"],
        _book_of_nothing(max_payment_key, max_plan_key),
        first_day,
        through,
        last_closed,
        forced,
        run_rules,
        _worker["lock"],
    )


@dataclass(frozen=True, slots=True)
class Watermark:
    """The highest payment and plan keys the last close had seen. Keys grow with each
    import, so a row above the watermark came in after that close: dated on or before the
    closed day, its account's past changed (a backdated payment, a late plan)."""

    payment_key: int
    plan_key: int


def _watermark(conn: Connection) -> Watermark:
    """The watermark of the latest close (a first-close partition or a partition of a full
    recompute sees only its accounts, so it sets none)."""
    r = t.batch_runs
    row = conn.execute(
        sa.select(r.c.max_payment_key, r.c.max_plan_key)
        .where(r.c.kind != FIRST_CLOSE_PARTITION, r.c.max_payment_key.is_not(None))
        .order_by(r.c.run_id.desc())
        .limit(1)
    ).first()
    return Watermark(0, 0) if row is None else Watermark(int(row[0]), int(row[1]))


def _dirty_accounts(
    last_closed: date | None,
    window_end: date,
    max_payment_key: int,
    max_plan_key: int,
    forced: tuple[int, int] | None = None,
    seen: Watermark = Watermark(0, 0),
) -> sa.Select[tuple[int]]:
    """Accounts whose past changed since they were closed; they are replayed from the start:
    a payment or a plan that came in after the last close (above ``seen``) but is dated on
    or before the last closed day, a reversal or an adjustment giving back dated in the days
    being closed, or an adjustment no close has applied dated on or before the last closed
    day. Before any
    close, only reversals make an account replay. ``forced`` is instead a range of account
    keys to replay whatever happened to them (a partition of a full recompute or of the
    first close); accounts outside it are other partitions' work."""
    p, pl_, a = t.payments, t.plans, t.accounts
    if forced is not None:
        return sa.select(a.c.account_key).where(a.c.account_key.between(*forced))
    in_window = p.c.paid_on <= window_end
    if last_closed is not None:
        in_window = sa.and_(p.c.paid_on > last_closed, in_window)
    adj = t.adjustments
    gives_back = adj.c.effective_on <= window_end
    if last_closed is not None:
        gives_back = sa.and_(adj.c.effective_on > last_closed, gives_back)
    selects = [
        sa.select(p.c.account_key).where(
            p.c.payment_key <= max_payment_key, p.c.reverses_payment_id.is_not(None), in_window
        ),
        # An adjustment that gives back can reopen settled installments, which the
        # incremental close does not read: the account replays.
        sa.select(adj.c.account_key).where(adj.c.amount_cents < 0, gives_back),
    ]
    if last_closed is not None:
        selects += [
            sa.select(p.c.account_key).where(
                p.c.payment_key > seen.payment_key,
                p.c.payment_key <= max_payment_key,
                p.c.paid_on <= last_closed,
            ),
            sa.select(pl_.c.account_key).where(
                pl_.c.plan_key > seen.plan_key,
                pl_.c.plan_key <= max_plan_key,
                pl_.c.start_date <= last_closed,
            ),
            # An adjustment no close has applied, dated in days already closed (made while
            # the close of its day ran): its account replays.
            sa.select(t.adjustments.c.account_key).where(
                t.adjustments.c.applied_cents.is_(None),
                t.adjustments.c.effective_on <= last_closed,
            ),
        ]
    return sa.union(*selects)  # type: ignore[return-value]


#: The column of the accounts whose installments not yet due were not read (see _open_book).
_BEYOND = frozenset({"principal_beyond_cents"})

_ANY_KEY = 2**62  # an upper bound above every key: no rows are held back


def _has_pending_recompute(engine: Engine, closed: date) -> bool:
    """Whether an account waits to be recomputed (a close of an already closed day)."""
    with engine.connect() as conn:
        seen = _watermark(conn)
        pending = _dirty_accounts(closed, closed, _ANY_KEY, _ANY_KEY, None, seen).limit(1)
        return conn.execute(pending).first() is not None


def _in_play(last_closed: date, through: date, max_plan_key: int) -> sa.Select[tuple[int]]:
    """The accounts that can change in the days after ``last_closed`` through ``through``: any
    with an overdue balance (charges accrue, DPD ages), an installment falling due, a payment
    or reversal, or a plan starting. Every other account stays exactly as it is (a credit
    balance only moves on a due date, which puts the account in play), so the close does not
    read it (incremental close)."""
    a, i, p, pay, adj = t.accounts, t.installments, t.plans, t.payments, t.adjustments
    return sa.union(
        sa.select(adj.c.account_key).where(
            adj.c.effective_on > last_closed, adj.c.effective_on <= through
        ),
        # In the words of the index's own condition, so that the database reads the index
        # (zeros as bound parameters would hide it) instead of every account.
        sa.select(a.c.account_key).where(sa.text(t.ACCOUNTS_IN_ARREARS)),
        sa.select(i.c.account_key).where(
            i.c.settled == 0, i.c.due_date > last_closed, i.c.due_date <= through
        ),
        sa.select(pay.c.account_key).where(pay.c.paid_on > last_closed, pay.c.paid_on <= through),
        sa.select(p.c.account_key).where(
            p.c.start_date > last_closed, p.c.start_date <= through, p.c.plan_key <= max_plan_key
        ),
    )  # type: ignore[return-value]


def _open_book(
    conn: Connection,
    catalog: ProductCatalog,
    first_day: date,
    through: date,
    last_closed: date | None,
) -> _OpenBook:
    """Read what the close of ``first_day .. through`` needs: on a store never closed, every
    account; after that, only the accounts in play (see :func:`_in_play`)."""
    p, pay = t.plans, t.payments
    max_payment_key = conn.execute(sa.select(sa.func.max(pay.c.payment_key))).scalar() or 0
    max_plan_key = conn.execute(sa.select(sa.func.max(p.c.plan_key))).scalar() or 0
    if last_closed is None:
        accounts, installments = _read_accounts(
            conn, catalog, through, max_plan_key, last_closed, None
        )
    else:
        # The accounts in play are found once and kept for the reads that follow (each of
        # them named the query again, which the database then ran again).
        in_play = read_frame(
            conn, _in_play(last_closed, through, max_plan_key), {"account_key": pl.Int64}
        )
        with temporary_table(conn, in_play) as keys:
            accounts, installments = _read_accounts(
                conn, catalog, through, max_plan_key, last_closed, keys
            )
    payments = read_frame(
        conn,
        payments_query(
            [
                pay.c.paid_on >= first_day,
                pay.c.paid_on <= through,
                pay.c.payment_key <= max_payment_key,
            ]
        ),
        PAYMENT_SCHEMA,
    )
    adjustments = read_frame(
        conn,
        adjustments_query(
            [t.adjustments.c.effective_on >= first_day, t.adjustments.c.effective_on <= through]
        ),
        ADJUSTMENT_SCHEMA,
    )
    return _OpenBook(
        installments,
        accounts,
        payments,
        int(max_payment_key),
        int(max_plan_key),
        adjustments,
    )


def _read_accounts(
    conn: Connection,
    catalog: ProductCatalog,
    through: date,
    max_plan_key: int,
    last_closed: date | None,
    in_play: sa.Table | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The accounts (those in the table ``in_play``, or every one before the first close) and
    their open installments."""
    i, p = t.installments, t.plans
    keys = None if in_play is None or last_closed is None else sa.select(in_play.c.account_key)
    installment_scope: list[sa.ColumnElement[bool]] = []
    if keys is not None and last_closed is not None:
        # Installments falling due after `through` cannot change before it (no charge, no
        # payment reaches them), so they are not read (see _with_principal_beyond for what
        # they owe). Accounts with an adjustment in the days closed or a re-ageing plan read
        # them all (a settlement pays every installment; a re-age waits on installments not
        # yet due), and so do plans starting within the days closed.
        starting = sa.select(p.c.plan_key).where(
            p.c.start_date > last_closed, p.c.start_date <= through
        )
        installment_scope = [
            sa.or_(
                i.c.due_date <= through,
                i.c.account_key.in_(_whole_ledger_accounts(last_closed, through)),
                i.c.plan_key.in_(starting),
            )
        ]
    scope = [] if keys is None else [t.accounts.c.account_key.in_(keys)]
    accounts = read_frame(conn, accounts_query(scope), ACCOUNT_SCHEMA)
    plans = read_plans_of(conn, keys, [p.c.plan_key <= max_plan_key])
    accounts = _with_tolerance(catalog, accounts, plans)
    installments = read_installments_of(
        conn,
        keys,
        plans.filter(pl.col("start_date") <= through),
        [i.c.settled == 0, *installment_scope],
        with_row_id=_has_row_ids(conn),
    )
    if last_closed is not None:
        accounts = _with_principal_beyond(accounts, installments, last_closed)
    return accounts, installments


def _whole_ledger_accounts(last_closed: date, through: date) -> sa.Select[tuple[int]]:
    """Accounts whose installments not yet due matter in the days after ``last_closed``
    through ``through``: an adjustment in those days, or a plan that re-ages them."""
    adj, ar = t.adjustments, t.arrangements
    return sa.union(
        sa.select(adj.c.account_key).where(
            adj.c.effective_on > last_closed, adj.c.effective_on <= through
        ),
        sa.select(ar.c.account_key).where(ar.c.kind == "plan", ar.c.aged_from.is_not(None)),
    )  # type: ignore[return-value]


def _with_principal_beyond(
    accounts: pl.DataFrame, installments: pl.DataFrame, last_closed: date
) -> pl.DataFrame:
    """The accounts with ``principal_beyond_cents``: the unpaid principal of the open
    installments the close did not read (those falling due after its last day).

    No query is needed: an account's stored outstanding principal is the unpaid principal
    of every installment of its plans started by ``last_closed``, as the last close left
    them, and nothing has changed them since (a change makes the account replay). So what was
    not read is that total less the unpaid principal of what was read of those plans."""
    unpaid = (
        pl.col("principal_cents")
        - pl.col("paid_principal_cents")
        - pl.col("adjusted_principal_cents")
    )
    read = (
        installments.filter(pl.col("start_date") <= last_closed)
        .group_by("account_key")
        .agg(unpaid.sum().alias("principal_read"))
    )
    return (
        accounts.join(read, on="account_key", how="left")
        .with_columns(
            (pl.col("outstanding_principal_cents") - pl.col("principal_read").fill_null(0)).alias(
                "principal_beyond_cents"
            )
        )
        .drop("principal_read")
    )


def _with_tolerance(
    catalog: ProductCatalog, accounts: pl.DataFrame, plans: pl.DataFrame
) -> pl.DataFrame:
    """The accounts with their tolerance: the smallest of all their ``plans``' products
    (plans not yet started included)."""
    return accounts.join(
        account_tolerance(plans, catalog.products), on="account_key", how="left"
    ).with_columns(pl.col("tolerance_cents").fill_null(0))


def _close_window(
    conn: Connection,
    catalog: ProductCatalog,
    book: _OpenBook,
    window_start: date,
    window_end: date,
    last_closed: date | None,
    forced: tuple[int, int] | None = None,
    rules: Rules = run_rules,
    keep_book: bool = True,
) -> WindowResult:
    """Close one window in the caller's transaction. ``forced`` (a range of account keys)
    recomputes those accounts whether or not their past changed (a full recompute).
    ``keep_book`` brings ``book`` to the window's end for the next window (the last window
    of a close has none)."""
    seen = _watermark(conn)  # before this run's own row
    # The run is recorded first: on SQLite that takes the write lock before the reads, so a
    # writer committing meanwhile cannot invalidate them.
    run_id = _start_run(conn, book, window_start, window_end, last_closed, forced)
    window = _prepare_window(
        conn, catalog, book, window_start, window_end, last_closed, forced, seen, rules
    )
    return _write_window(conn, book, window, run_id, last_closed, forced, keep_book=keep_book)


def _start_run(
    conn: Connection,
    book: _OpenBook,
    window_start: date,
    window_end: date,
    last_closed: date | None,
    forced: tuple[int, int] | None,
) -> int:
    """Record the batch run of a window (finished by :func:`_write_window`); its id."""
    recompute_only = last_closed is not None and window_start <= last_closed
    if last_closed is None and forced is not None:
        kind = FIRST_CLOSE_PARTITION
    else:
        kind = "recompute" if recompute_only else "close"
    run_id: int = conn.execute(
        t.batch_runs.insert()
        .values(
            kind=kind,
            first_account_key=None if forced is None else forced[0],
            last_account_key=None if forced is None else forced[1],
            # What this run has seen; a partition of a full recompute saw only its accounts.
            max_payment_key=None if kind == "recompute" and forced else book.max_payment_key,
            max_plan_key=None if kind == "recompute" and forced else book.max_plan_key,
            notes=None
            if forced is None
            else f"full recompute of accounts {forced[0]}..{forced[1]}",
            closed_from=window_start,
            closed_through=window_end,
            started_at=datetime.now(UTC),
            accounts=0,
            recomputed_accounts=0,
            moves=0,
        )
        .returning(t.batch_runs.c.run_id)
    ).scalar_one()
    return run_id


@dataclass(frozen=True, slots=True)
class _Window:
    """A window read and its rules applied, not yet written: for each group of accounts
    (those carried forward, those replayed) the installments as stored, the rules' result and
    whether it is a replay."""

    window_start: date
    window_end: date
    accounts: pl.DataFrame
    clean_accounts: int
    replayed: pl.DataFrame
    replayed_select: sa.Select[tuple[int]]
    results: list[tuple[pl.DataFrame, KernelResult, bool]]


def _prepare_window(
    conn: Connection,
    catalog: ProductCatalog,
    book: _OpenBook,
    window_start: date,
    window_end: date,
    last_closed: date | None,
    forced: tuple[int, int] | None,
    seen: Watermark,
    rules: Rules,
) -> _Window:
    """Read what a window needs and apply the rules; nothing is written."""
    recompute_only = last_closed is not None and window_start <= last_closed
    dirty_select = _dirty_accounts(
        last_closed, window_end, book.max_payment_key, book.max_plan_key, forced, seen
    )
    dirty_keys = read_frame(conn, dirty_select, {"account_key": pl.Int64})["account_key"]
    dirty_keys = dirty_keys.unique()
    dirty_subquery = dirty_select.subquery()
    p, pay = t.plans, t.payments

    # Accounts whose first plan has started and those paying ahead of it (credit); those to
    # recompute are read afresh, as an account that was quiet is not in the book.
    paying = book.payments.filter(
        (pl.col("paid_on") >= window_start) & (pl.col("paid_on") <= window_end)
    )["account_key"]
    is_dirty = pl.col("account_key").is_in(dirty_keys.implode())
    clean_accounts = book.accounts.filter(
        ((pl.col("opened_on") <= window_end) | pl.col("account_key").is_in(paying.implode()))
        & ~is_dirty
    )
    if recompute_only:
        clean_accounts = clean_accounts.clear()
    in_dirty = sa.select(dirty_subquery.c.account_key)
    dirty_plans = (
        read_plans_of(conn, in_dirty, [p.c.plan_key <= book.max_plan_key])
        if dirty_keys.len()
        else pl.DataFrame(schema=PLANS_OF_SCHEMA)
    )
    dirty_accounts = (
        _with_tolerance(
            catalog,
            read_frame(
                conn,
                accounts_query([t.accounts.c.account_key.in_(in_dirty)]),
                ACCOUNT_SCHEMA,
            ),
            dirty_plans,
        )
        if dirty_keys.len()
        else book.accounts.clear()
    )
    if "principal_beyond_cents" in book.accounts.columns and dirty_keys.len():
        # A replayed account reads all its installments: none is left beyond.
        dirty_accounts = dirty_accounts.with_columns(
            pl.lit(0, pl.Int64).alias("principal_beyond_cents")
        )
    accounts = pl.concat([clean_accounts, dirty_accounts])
    reaging = read_frame(conn, reaging_query([]), REAGING_SCHEMA)

    def with_reaging(frame: pl.DataFrame) -> pl.DataFrame:
        """Accounts whose plan re-ages them after payments carry its terms."""
        return frame.join(reaging, on="account_key", how="left") if reaging.height else frame

    results = []
    if clean_accounts.height:
        clean_installments = book.installments.filter(
            (pl.col("start_date") <= window_end) & ~is_dirty
        )
        clean_payments = book.payments.filter(
            (pl.col("paid_on") >= window_start) & (pl.col("paid_on") <= window_end) & ~is_dirty
        )
        clean_adjustments = book.adjustments.filter(
            (pl.col("effective_on") >= window_start)
            & (pl.col("effective_on") <= window_end)
            & ~is_dirty
        )
        results.append(
            (
                clean_installments.with_columns(pl.lit(0, pl.Int32).alias("settled")),
                rules(
                    clean_installments.drop(_ROW_ID, strict=False),
                    with_reaging(
                        clean_accounts.select(
                            "account_key",
                            pl.lit(window_start - timedelta(days=1)).alias("start"),
                            "credit_balance_cents",
                            "tolerance_cents",
                            *_BEYOND.intersection(clean_accounts.columns),
                        )
                    ),
                    effective_payments(clean_payments, window_end),
                    catalog.products,
                    window_end,
                    catalog.buckets,
                    adjustments=clean_adjustments,
                ),
                False,
            )
        )
    if dirty_accounts.height:
        # As stored (to write back only what the replay changes), and as the replay starts.
        stored_installments = read_installments_of(
            conn,
            in_dirty,
            dirty_plans.filter(pl.col("start_date") <= window_end),
            with_settled=True,
            with_row_id=_has_row_ids(conn),
        )
        dirty_installments = stored_installments.drop(
            "settled", _ROW_ID, strict=False
        ).with_columns(pl.lit(0, dtype=pl.Int64).alias(c) for c in STATE_COLUMNS)
        dirty_payments = read_frame(
            conn,
            payments_query(
                [
                    pay.c.account_key.in_(in_dirty),
                    pay.c.paid_on <= window_end,
                    pay.c.payment_key <= book.max_payment_key,
                ]
            ),
            PAYMENT_SCHEMA,
        )
        dirty_adjustments = read_frame(
            conn,
            adjustments_query(
                [
                    t.adjustments.c.account_key.in_(in_dirty),
                    t.adjustments.c.effective_on <= window_end,
                ]
            ),
            ADJUSTMENT_SCHEMA,
        )
        # A replay starts the day before the first plan or the first payment, whichever is
        # earlier (a payment before the first plan waits as credit).
        first_payment = dirty_payments.group_by("account_key").agg(
            pl.col("paid_on").min().alias("first_paid_on")
        )
        replay_from = dirty_accounts.join(first_payment, on="account_key", how="left").select(
            "account_key",
            (pl.min_horizontal("opened_on", "first_paid_on") - pl.duration(days=1)).alias("start"),
            pl.lit(0, dtype=pl.Int64).alias("credit_balance_cents"),
            "tolerance_cents",
        )
        month_ends = _month_ends(
            dirty_accounts["opened_on"].min(),  # type: ignore[arg-type]
            window_end,
        )
        results.append(
            (
                stored_installments,
                rules(
                    dirty_installments,
                    with_reaging(replay_from),
                    effective_payments(dirty_payments, window_end),
                    catalog.products,
                    window_end,
                    catalog.buckets,
                    snapshot_days=month_ends,
                    adjustments=dirty_adjustments,
                ),
                True,
            )
        )

    return _Window(
        window_start,
        window_end,
        accounts,
        clean_accounts.height,
        dirty_accounts,
        dirty_select,
        results,
    )


def _write_window(
    conn: Connection,
    book: _OpenBook,
    window: _Window,
    run_id: int,
    last_closed: date | None,
    forced: tuple[int, int] | None,
    *,
    keep_book: bool,
) -> WindowResult:
    """Write a prepared window in the caller's transaction and finish its run ``run_id``;
    with ``keep_book``, bring ``book`` to the window's end."""
    accounts, results, window_end = window.accounts, window.results, window.window_end
    dirty_accounts = window.replayed
    moves = charges = 0
    if dirty_accounts.height:
        _forget_derived_rows(conn, window.replayed_select.subquery())
    for before, result, replayed in results:
        _write_installments(conn, before, result.installments)
        _write_accounts(conn, accounts, result.accounts)
        _write_snapshots(conn, accounts, result.snapshots, run_id, window_end, replayed)
        moves += insert_frame(
            conn, t.bucket_moves, result.moves.with_columns(run_id=pl.lit(run_id))
        )
        charges += insert_frame(conn, t.charges, result.charges.with_columns(run_id=pl.lit(run_id)))
        if result.adjustments.height:
            update_from_frame(conn, t.adjustments, result.adjustments, ["adjustment_key"])

    if last_closed is not None and window_end == month_end(window_end):
        _write_quiet_snapshots(conn, run_id, window_end)
    conn.execute(
        t.batch_runs.update()
        .where(t.batch_runs.c.run_id == run_id)
        .values(
            finished_at=datetime.now(UTC),
            accounts=window.clean_accounts + dirty_accounts.height,
            recomputed_accounts=dirty_accounts.height,
            moves=moves,
        )
    )
    if keep_book:  # a full recompute or the last window of a close needs no book after it
        _carry_forward(book, results, dirty_accounts)
    return WindowResult(
        run_id,
        window.window_start,
        window_end,
        window.clean_accounts + dirty_accounts.height,
        dirty_accounts.height,
        moves,
        charges,
    )


def _carry_forward(
    book: _OpenBook,
    results: list[tuple[pl.DataFrame, KernelResult, bool]],
    recomputed: pl.DataFrame,
) -> None:
    """Bring the in-memory book to the end of the window just written: new amounts on the
    open installments (settled ones dropped: they never change again) and new account state.
    Installments of plans that had not started in this window are kept as they were."""
    updated = []
    for before, result, _ in results:
        updated.append(
            result.installments.filter(~pl.col("settled"))
            .drop("settled")
            .join(
                before.select(
                    "plan_key",
                    "period",
                    "start_date",
                    *[c for c in (_ROW_ID,) if c in before.columns],
                ),
                on=["plan_key", "period"],
                how="left",
            )
            .select(book.installments.columns)
        )
    untouched = book.installments
    if results:
        # Every row processed this window is replaced by its new version (or dropped when
        # settled); rows of plans that have not started stay as they were.
        seen = pl.concat([b.select("plan_key", "period") for b, _, _ in results])
        untouched = untouched.join(seen, on=["plan_key", "period"], how="anti")
    book.installments = pl.concat([untouched, *updated], how="vertical_relaxed")
    states = [r.accounts for _, r, _ in results]
    if states:
        new_state = pl.concat(states).select("account_key", *_ACCOUNT_STATE)
        # Recomputed accounts that were quiet join the book; the others take their new state.
        book.accounts = pl.concat(
            [book.accounts, recomputed.join(book.accounts, on="account_key", how="anti")]
        ).update(new_state, on="account_key", how="left")
        if "principal_beyond_cents" in book.accounts.columns and recomputed.height:
            # A replay read all of an account's installments: the book now holds them all.
            replayed = pl.col("account_key").is_in(recomputed["account_key"].implode())
            book.accounts = book.accounts.with_columns(
                pl.when(replayed)
                .then(0)
                .otherwise(pl.col("principal_beyond_cents"))
                .alias("principal_beyond_cents")
            )


def _month_ends(first: date, last: date) -> list[date]:
    ends = []
    day = month_end(first)
    while day <= last:
        ends.append(day)
        day = month_end(day + timedelta(days=1))
    return ends


def _forget_derived_rows(conn: Connection, dirty: sa.Subquery) -> None:
    """A recomputed account's charges, moves and snapshots are rewritten from its replay."""
    keys = sa.select(dirty.c.account_key)
    for table in (t.charges, t.bucket_moves, t.account_states):
        conn.execute(table.delete().where(table.c.account_key.in_(keys)))


def _write_installments(conn: Connection, before: pl.DataFrame, after: pl.DataFrame) -> None:
    """Write back the installments whose amounts or settled flag the rules changed. ``before``
    holds the rows as stored (with ``settled``): a replay that finds the ledger as it was
    writes nothing, and a first close leaves untouched the installments not yet due."""
    keyed = after.select(
        "plan_key",
        "period",
        *STATE_COLUMNS,
        pl.col("settled").cast(pl.Int32),
    )
    row_id = [_ROW_ID] if _ROW_ID in before.columns else []
    previous = before.select(
        "plan_key",
        "period",
        *[pl.col(c).alias(f"{c}_was") for c in STATE_COLUMNS],
        pl.col("settled").alias("settled_was"),
        *row_id,
    )
    changed = keyed.join(previous, on=["plan_key", "period"], how="left").filter(
        pl.any_horizontal(
            pl.col(c).ne_missing(pl.col(f"{c}_was")) for c in (*STATE_COLUMNS, "settled")
        )
    )
    # `settled` is in two indexes, and SQLite rewrites the index entries of every row an
    # UPDATE sets an indexed column on, changed or not: most rows (a day's penalty) only
    # change amounts, so they are written without it.
    settles = pl.col("settled").ne_missing(pl.col("settled_was"))
    amounts_only = changed.filter(~settles).select("plan_key", "period", *STATE_COLUMNS, *row_id)
    settling = changed.filter(settles).select(*keyed.columns, *row_id)
    for rows in (amounts_only, settling):
        if rows.height:
            update_from_frame(
                conn,
                t.installments,
                rows,
                ["plan_key", "period"],
                row_id=_ROW_ID if row_id else None,
            )


_ACCOUNT_STATE = (
    "credit_balance_cents",
    "dpd",
    "bucket",
    "overdue_cents",
    "outstanding_principal_cents",
)


def _write_accounts(conn: Connection, stored: pl.DataFrame, state: pl.DataFrame) -> None:
    """The accounts' working state at the window's end, for those whose state moved."""
    changed = state.join(
        stored.select("account_key", *[pl.col(c).alias(f"{c}_was") for c in _ACCOUNT_STATE]),
        on="account_key",
        how="left",
    ).filter(pl.any_horizontal(pl.col(c) != pl.col(f"{c}_was") for c in _ACCOUNT_STATE))
    if changed.height:
        update_from_frame(
            conn, t.accounts, changed.select("account_key", *_ACCOUNT_STATE), ["account_key"]
        )


def _write_snapshots(
    conn: Connection,
    stored: pl.DataFrame,
    snapshots: pl.DataFrame,
    run_id: int,
    window_end: date,
    replayed: bool,
) -> None:
    """State history: every account at each month end; on other days only accounts whose
    DPD, bucket, overdue or credit changed since the last closed day."""
    rows = snapshots
    if not replayed and window_end != month_end(window_end):
        rows = rows.join(
            stored.select("account_key", *[pl.col(c).alias(f"{c}_was") for c in _ACCOUNT_STATE]),
            on="account_key",
            how="left",
        ).filter(pl.any_horizontal(pl.col(c) != pl.col(f"{c}_was") for c in _ACCOUNT_STATE))
    rows = rows.select(
        "account_key",
        "as_of",
        "dpd",
        "bucket",
        "overdue_principal_cents",
        "overdue_fee_cents",
        "overdue_late_fee_cents",
        "overdue_penalty_cents",
        "outstanding_principal_cents",
        "credit_balance_cents",
    ).with_columns(run_id=pl.lit(run_id))
    if rows.height:
        insert_frame(conn, t.account_states, rows)


def _write_quiet_snapshots(conn: Connection, run_id: int, window_end: date) -> None:
    """Month-end rows for the accounts the incremental close did not touch. Such an account
    had nothing overdue and nothing happening, so its stored state is its month-end state."""
    a, s = t.accounts, t.account_states
    zero = sa.literal(0, sa.BigInteger)
    quiet = sa.select(
        a.c.account_key,
        sa.literal(window_end, sa.Date),
        a.c.dpd,
        a.c.bucket,
        zero,
        zero,
        zero,
        zero,
        a.c.outstanding_principal_cents,
        a.c.credit_balance_cents,
        sa.literal(run_id, sa.Integer),
    ).where(
        a.c.opened_on <= window_end,
        ~sa.exists().where(s.c.account_key == a.c.account_key, s.c.as_of == window_end),
    )
    conn.execute(
        s.insert().from_select(
            [
                "account_key",
                "as_of",
                "dpd",
                "bucket",
                "overdue_principal_cents",
                "overdue_fee_cents",
                "overdue_late_fee_cents",
                "overdue_penalty_cents",
                "outstanding_principal_cents",
                "credit_balance_cents",
                "run_id",
            ],
            quiet,
        )
    )

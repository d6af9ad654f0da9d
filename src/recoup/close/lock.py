"""One close at a time per store.

Two closes of the same store would each read the ledger before the other wrote it and then
both write the same days (a scheduler starting the nightly batch while last night's still
runs, an operator rerunning it by hand). So a close, and a full recompute, hold the store's
close lock from before they read which day was closed last until their last write; a second
one waits a few seconds (:data:`WAIT_SECONDS`) and is then refused with
:class:`CloseInProgress`, and can simply be run again later.

The lock dies with its holder, so a killed close never leaves it behind: on PostgreSQL it is
a session advisory lock (the server drops it with the connection), per schema, so stores in
other schemas of the same database close side by side; on SQLite it is an ``flock`` on a
file beside the database (the kernel drops it with the process). The worker processes of a
close take no lock: their parent holds it for them.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

#: The first key of the PostgreSQL advisory lock (the second is the schema's hash): any
#: fixed number the application uses for nothing else.
_POSTGRES_LOCK_CLASS = 0x5EC0


#: How long a close waits for the lock before it is refused: long enough for PostgreSQL to
#: notice that the holder was killed (it drops the lock when it reads the closed socket), so
#: a close rerun straight after a killed one is not refused.
WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.1


class CloseInProgress(Exception):
    """Another close or full recompute of the same store is running."""


@contextmanager
def exclusive_close(engine: Engine) -> Iterator[None]:
    """Hold the store's close lock for the block; raise :class:`CloseInProgress` if another
    process (or connection) holds it for longer than :data:`WAIT_SECONDS`."""
    if engine.dialect.name == "postgresql":
        with _postgres_lock(engine):
            yield
        return
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        yield  # a database in memory belongs to one process, whose caller runs one close
        return
    with _file_lock(Path(f"{database}.close-lock")):
        yield


@contextmanager
def _postgres_lock(engine: Engine) -> Iterator[None]:
    # Outside any transaction: the connection is not left "idle in transaction" for the
    # minutes a close takes.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        key = sa.func.hashtext(sa.func.current_schema())
        try_lock = sa.select(sa.func.pg_try_advisory_lock(_POSTGRES_LOCK_CLASS, key))
        if not _within_wait(lambda: bool(conn.execute(try_lock).scalar_one())):
            schema = conn.execute(sa.select(sa.func.current_schema())).scalar_one()
            raise CloseInProgress(
                "another close of this store is running: it holds the advisory lock "
                f"({_POSTGRES_LOCK_CLASS}, hashtext('{schema}')) of schema {schema}; run this "
                "again when it has finished"
            )
        try:
            yield
        finally:
            # A connection lost meanwhile took its session's lock with it.
            with suppress(sa.exc.DBAPIError):
                conn.execute(sa.select(sa.func.pg_advisory_unlock(_POSTGRES_LOCK_CLASS, key)))


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

    def try_lock() -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    try:
        if not _within_wait(try_lock):
            raise CloseInProgress(
                f"another close of this store is running: it holds the lock on {path}; "
                "run this again when it has finished"
            )
        yield
    finally:
        os.close(descriptor)  # closing the file releases the lock


def _within_wait(try_lock: Callable[[], bool]) -> bool:
    """Whether ``try_lock`` succeeds within :data:`WAIT_SECONDS`."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not try_lock():
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True

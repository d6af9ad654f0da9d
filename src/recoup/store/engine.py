"""Opening the database and bringing its schema up to date.

``RECOUP_DATABASE_URL`` names the database; the default is ``sqlite:///recoup.db`` in the
working folder. ``postgresql://`` URLs use psycopg 3. Every command calls :func:`open_store`,
which creates or upgrades the schema with Alembic, so no command meets a missing table.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect

DEFAULT_URL = "sqlite:///recoup.db"
_ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def database_url(explicit: str | None = None) -> str:
    url = explicit or os.environ.get("RECOUP_DATABASE_URL") or DEFAULT_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def create_store_engine(url: str, connections: int | None = None) -> Engine:
    """An engine on ``url``. ``connections`` sizes a server's pool: as many kept open, as
    many more opened for a burst (SQLAlchemy's default keeps 5 and closes every connection
    beyond 15, so a web process with dozens of requests in flight opened and closed a
    PostgreSQL connection for most of them)."""
    if url.startswith("sqlite"):
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL keeps readers going during a close; foreign keys are off by default in SQLite.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if connections is not None:
        return create_engine(url, pool_size=connections, max_overflow=connections)
    return create_engine(url)


def migrate_schema(engine: Engine, revision: str, *, downgrade: bool = False) -> None:
    """Bring the schema to ``revision`` (an Alembic revision, or ``head``), up or, with
    ``downgrade``, down, in one transaction."""
    config = Config(str(_ALEMBIC_INI))
    config.set_main_option("script_location", str(_ALEMBIC_INI.parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, revision)


def upgrade_schema(engine: Engine) -> None:
    """Create the schema, or upgrade it to the newest migration."""
    migrate_schema(engine, "head")


def open_store(url: str | None = None, connections: int | None = None) -> Engine:
    """Open the database named by ``url`` (or the environment), creating the schema if needed;
    ``connections`` sizes the pool of a server (see :func:`create_store_engine`)."""
    engine = create_store_engine(database_url(url), connections)
    upgrade_schema(engine)
    return engine


def schema_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def refresh_planner_statistics(engine: Engine) -> None:
    """Let the database's query planner see the tables as they now are.

    Without statistics, SQLite may walk the wrong index of a table millions of rows long;
    PostgreSQL's autovacuum would analyze a freshly loaded table only later (or never,
    where it is turned off: after a first close without it, a business day's close of
    1,000,000 accounts on PostgreSQL took 149.5 s). A sampled ``ANALYZE`` (SQLite reads at
    most ``analysis_limit`` rows per index) takes a second or two. Called after the bulk
    writes: an import, a first close, a full recompute.
    """
    from recoup.store.tables import metadata

    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA analysis_limit = 2000")
            conn.exec_driver_sql("ANALYZE")
            return
        # The store's own tables: a bare ANALYZE would sample every schema of the database
        # (2 s per call beside a 1,000,000-account benchmark schema).
        quote = conn.dialect.identifier_preparer.format_table
        conn.exec_driver_sql(f"ANALYZE {', '.join(quote(t) for t in metadata.sorted_tables)}")

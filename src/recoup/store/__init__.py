"""The store: the database that keeps the ledger (SQLite embedded, PostgreSQL in production).

``tables`` declares the schema, ``migrations`` (Alembic) creates and upgrades it, ``engine``
opens it from ``RECOUP_DATABASE_URL``, and ``bulk`` moves Polars frames in and out in bulk.
"""

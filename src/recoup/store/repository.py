"""Reading and writing the small, structured parts of the store: the catalog and keys.

Products are stored as the validated product in the file's own format (``spec_json``), so the
catalog read back goes through the same validation (``parse_catalog``) as the file did, and a
product reads back exactly as it was saved. The bucket table in force is the one of the last
products file imported, or the default buckets when none has been.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from recoup.products.spec import DEFAULT_BUCKETS, Bucket, ProductCatalog, parse_catalog
from recoup.store.tables import buckets, products


def save_catalog(conn: sa.Connection, catalog: ProductCatalog) -> None:
    """Insert or replace each product of ``catalog``; replace the bucket table with its own.

    Products missing from ``catalog`` are kept: plans in the store may still refer to them.
    """
    existing = set(conn.execute(sa.select(products.c.product_id)).scalars())
    for product in catalog.products.values():
        row = {
            "currency": product.currency,
            "spec_json": json.dumps(product.to_spec(), ensure_ascii=False, sort_keys=True),
        }
        if product.id in existing:
            conn.execute(sa.update(products).where(products.c.product_id == product.id).values(row))
        else:
            conn.execute(sa.insert(products).values(product_id=product.id, **row))
    conn.execute(sa.delete(buckets))
    conn.execute(
        sa.insert(buckets),
        [
            {
                "ordinal": ordinal,
                "name": bucket.name,
                "min_dpd": bucket.min_dpd,
                "max_dpd": bucket.max_dpd,
            }
            for ordinal, bucket in enumerate(catalog.buckets, start=1)
        ],
    )


def _load_catalog(conn: sa.Connection) -> ProductCatalog:
    specs = [
        json.loads(text)
        for text in conn.execute(
            sa.select(products.c.spec_json).order_by(products.c.product_id)
        ).scalars()
    ]
    bucket_rows = [
        {"name": row.name, "min_dpd": row.min_dpd, "max_dpd": row.max_dpd}
        for row in conn.execute(
            sa.select(buckets.c.name, buckets.c.min_dpd, buckets.c.max_dpd).order_by(
                buckets.c.ordinal
            )
        )
    ]
    if not specs:
        # parse_catalog insists on at least one product; an empty store has none yet. The
        # stored buckets were validated when they were saved.
        stored = tuple(Bucket(r["name"], r["min_dpd"], r["max_dpd"]) for r in bucket_rows)
        return ProductCatalog(products={}, buckets=stored or DEFAULT_BUCKETS)
    document: dict[str, Any] = {"products": specs}
    if bucket_rows:
        document["buckets"] = bucket_rows
    return parse_catalog(document)


def load_catalog_from_store(source: sa.Engine | sa.Connection) -> ProductCatalog:
    """The catalog in force: every stored product and the stored bucket table (or the default)."""
    if isinstance(source, sa.Engine):
        with source.connect() as conn:
            return _load_catalog(conn)
    return _load_catalog(source)


def next_key(conn: sa.Connection, column: sa.Column[Any]) -> int:
    """The first free surrogate key of ``column``: its largest value plus one (1 when empty)."""
    largest = conn.execute(sa.select(sa.func.max(column))).scalar()
    return int(largest or 0) + 1

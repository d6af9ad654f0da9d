"""personal data encrypted at rest: names, contact points and recipients (AES-SIV, enc2:)

The columns are widened to hold the stored form (``recoup.store.crypto.stored_length``;
not on SQLite, which ignores declared lengths) and the values already there are encrypted
in place with the data key in force, in chunks by primary key; a value already encrypted
(``enc2:``) is left alone, so a run that stopped half-way can simply be run again. The
downgrade decrypts them and narrows the columns back.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from recoup.store.crypto import PREFIX, decrypt, encrypt

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 10_000

# table, its primary key, and its personal columns: (name, plain length, stored length,
# nullable). The stored lengths are crypto.stored_length(plain), written out so that this
# migration keeps building the same schema whatever that function becomes.
_COLUMNS: tuple[tuple[str, str, tuple[tuple[str, int, int, bool], ...]], ...] = (
    ("borrowers", "borrower_key", (("name", 200, 1093, False),)),
    (
        "contact_points",
        "contact_point_key",
        (("value", 400, 2161, False), ("contact_name", 200, 1093, True)),
    ),
    ("contact_decisions", "decision_key", (("to_value", 400, 2161, False),)),
    ("contact_attempts", "attempt_key", (("to_value", 400, 2161, False),)),
    ("messages", "message_key", (("to_value", 400, 2161, False),)),
    ("delivery_events", "event_key", (("from_value", 400, 2161, True),)),
)


def _resize(widen: bool) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite never enforces a declared length, and the encrypting type keeps declaring
        # the plain length there (crypto.EncryptedText), so nothing changes: rebuilding the
        # tables would only trip the foreign keys that reference borrowers.
        return
    for table, _key, columns in _COLUMNS:
        with op.batch_alter_table(table) as batch:
            for name, plain, stored, nullable in columns:
                old, new = (plain, stored) if widen else (stored, plain)
                batch.alter_column(
                    name,
                    existing_type=sa.String(length=old),
                    type_=sa.String(length=new),
                    existing_nullable=nullable,
                )


def _rewrite(change: Callable[[str], str | None]) -> None:
    """Set every personal value to ``change(value)`` (``None``: leave it), chunk by chunk."""
    bind = op.get_bind()
    for table_name, key, columns in _COLUMNS:
        names = [name for name, *_ in columns]
        table = sa.table(
            table_name, sa.column(key, sa.BigInteger()), *(sa.column(n, sa.String()) for n in names)
        )
        update = (
            sa.update(table)
            .where(table.c[key] == sa.bindparam("_key"))
            .values({n: sa.bindparam(f"_{n}") for n in names})
        )
        last = None
        while True:
            query = sa.select(table.c[key], *(table.c[n] for n in names)).order_by(table.c[key])
            if last is not None:
                query = query.where(table.c[key] > last)
            rows = bind.execute(query.limit(_CHUNK)).all()
            if not rows:
                break
            last = rows[-1][0]
            changes = []
            for key_value, *values in rows:
                new = [None if v is None else change(v) for v in values]
                if any(n is not None for n in new):
                    kept = [v if n is None else n for v, n in zip(values, new, strict=True)]
                    row = {f"_{name}": value for name, value in zip(names, kept, strict=True)}
                    changes.append({"_key": key_value, **row})
            if changes:
                bind.execute(update, changes)


def _encrypted(value: str) -> str | None:
    return None if value.startswith(PREFIX) else encrypt(value)


def _decrypted(value: str) -> str | None:
    return decrypt(value) if value.startswith(PREFIX) else None


def upgrade() -> None:
    _resize(widen=True)
    _rewrite(_encrypted)


def downgrade() -> None:
    _rewrite(_decrypted)
    _resize(widen=False)

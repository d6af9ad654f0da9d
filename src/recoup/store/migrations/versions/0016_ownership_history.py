"""allocations hold every ownership decision: the nightly run's and a team lead's

A team lead's reassignment is now recorded in ``allocations`` too, so that the table is the
case's whole ownership history (who held it from which day), read by the payment credits, the
league tables and a re-run of the allocation alike. ``seq`` joins the key: it orders a case's
decisions of one day (a lead's, in the order made, before the nightly run's, made after the
day's close). ``decided_by`` names the person who decided; ``run_id`` becomes null for such a
row, and a check keeps exactly one of the two. The rows already there are the nightly run's,
one per case and day: they take ``seq`` 0.

The downgrade deletes the leads' rows (their ``reassigned`` case events and audit entries
stay) and restores the old key.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: PostgreSQL's name for the key it made in 0003 (SQLite's key has no name: the batch
#: rebuilds the table with the new one).
_KEY = "allocations_pkey"
_CHECK = "ck_allocations_run_or_person"


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _unkeyed() -> sa.Table | None:
    """On SQLite, the table as it stands but with its key's columns unmarked, for the batch to
    copy from: the rebuilt table then takes the new key alone (PostgreSQL alters in place)."""
    if _is_postgres():
        return None
    table = sa.Table("allocations", sa.MetaData(), autoload_with=op.get_bind())
    for column in table.primary_key.columns:
        column.primary_key = False
    return table


def upgrade() -> None:
    with op.batch_alter_table("allocations", copy_from=_unkeyed()) as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("decided_by", sa.String(length=64), nullable=True))
        batch.alter_column("run_id", existing_type=sa.Integer(), nullable=True)
        if _is_postgres():
            batch.drop_constraint(_KEY, type_="primary")
        batch.create_primary_key(_KEY, ["case_key", "as_of", "seq"])
        batch.create_check_constraint(
            _CHECK,
            "(run_id IS NOT NULL AND decided_by IS NULL) "
            "OR (run_id IS NULL AND decided_by IS NOT NULL)",
        )
    # The default only filled the rows already there: every writer gives its own ``seq``.
    with op.batch_alter_table("allocations") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    allocations = sa.table("allocations", sa.column("run_id", sa.Integer()))
    op.execute(allocations.delete().where(allocations.c.run_id.is_(None)))
    with op.batch_alter_table("allocations", copy_from=_unkeyed()) as batch:
        batch.drop_constraint(_CHECK, type_="check")
        if _is_postgres():
            batch.drop_constraint(_KEY, type_="primary")
        batch.create_primary_key(_KEY, ["case_key", "as_of"])
        batch.alter_column("run_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("decided_by")
        batch.drop_column("seq")

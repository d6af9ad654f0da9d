"""complaints: recorded with their account, case, channel, category and the contact attempt
they are about; resolved once; the description and resolution note encrypted at rest

The personal columns are as wide as their stored form (``recoup.store.crypto``) except on
SQLite, where the encrypting type keeps declaring the plain length (as 0011 left the other
personal columns). A complaint outlives the attempt it is about: purging the attempt with its
retention empties ``attempt_key`` (``ON DELETE SET NULL``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The description and the resolution note: 2,000 characters, stored as
# crypto.stored_length(2000), written out so that this migration keeps building the same schema
# whatever that function becomes.
_PLAIN, _STORED = 2000, 10693


def upgrade() -> None:
    width = _PLAIN if op.get_bind().dialect.name == "sqlite" else _STORED
    op.create_table(
        "complaints",
        sa.Column("complaint_key", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("case_key", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("attempt_key", sa.BigInteger(), nullable=True),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("description", sa.String(length=width), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolution_note", sa.String(length=width), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_key"], ["accounts.account_key"]),
        sa.ForeignKeyConstraint(["case_key"], ["cases.case_key"]),
        sa.ForeignKeyConstraint(
            ["attempt_key"], ["contact_attempts.attempt_key"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("complaint_key"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index("ix_complaints_account", ["account_key", "received_at"])
        batch_op.create_index("ix_complaints_received", ["received_at"])
        batch_op.create_index("ix_complaints_status", ["status", "received_at"])


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_status")
        batch_op.drop_index("ix_complaints_received")
        batch_op.drop_index("ix_complaints_account")
    op.drop_table("complaints")

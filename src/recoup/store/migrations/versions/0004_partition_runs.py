"""partition runs: the account range a first-close or recompute partition covered

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batch_runs") as batch:
        batch.add_column(sa.Column("first_account_key", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("last_account_key", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch_runs") as batch:
        batch.drop_column("last_account_key")
        batch.drop_column("first_account_key")

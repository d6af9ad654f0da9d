"""the accounts in arrears indexed: the daily close finds them without reading every account

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in recoup.store.tables.ACCOUNTS_IN_ARREARS when this revision was written.
_IN_ARREARS = "overdue_cents > 0 OR dpd > 0"


def upgrade() -> None:
    op.create_index(
        "ix_accounts_in_arrears",
        "accounts",
        ["account_key"],
        postgresql_where=sa.text(_IN_ARREARS),
        sqlite_where=sa.text(_IN_ARREARS),
    )


def downgrade() -> None:
    op.drop_index("ix_accounts_in_arrears", table_name="accounts")

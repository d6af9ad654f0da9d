"""incremental close: outstanding principal on accounts, indexes on the close's day ranges

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column(
                "outstanding_principal_cents", sa.BigInteger(), nullable=False, server_default="0"
            )
        )
    op.create_index(
        "ix_installments_open_due",
        "installments",
        ["due_date"],
        postgresql_where=sa.text("settled = 0"),
        sqlite_where=sa.text("settled = 0"),
    )
    op.create_index("ix_plans_start_date", "plans", ["start_date"])
    op.create_index("ix_payments_paid_on", "payments", ["paid_on"])


def downgrade() -> None:
    op.drop_index("ix_payments_paid_on", table_name="payments")
    op.drop_index("ix_plans_start_date", table_name="plans")
    op.drop_index("ix_installments_open_due", table_name="installments")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("outstanding_principal_cents")

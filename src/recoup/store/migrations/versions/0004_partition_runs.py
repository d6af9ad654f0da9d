"""partition runs and watermarks: the account range a first-close or recompute partition
covered, and the highest payment and plan keys each run had seen (instead of marking every
payment and plan with the run that first closed it)

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
        batch.add_column(sa.Column("max_payment_key", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("max_plan_key", sa.BigInteger(), nullable=True))
    # A store closed before: every row a close had seen carries its run; keys grow with each
    # import, so the highest seen keys are the watermark of the runs so far.
    op.execute(
        "UPDATE batch_runs SET "
        "max_payment_key = (SELECT COALESCE(MAX(payment_key), 0) FROM payments"
        " WHERE closed_run_id IS NOT NULL), "
        "max_plan_key = (SELECT COALESCE(MAX(plan_key), 0) FROM plans"
        " WHERE closed_run_id IS NOT NULL)"
    )
    op.drop_index("ix_payments_unclosed", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("closed_run_id")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("closed_run_id")


def downgrade() -> None:
    for table in ("plans", "payments"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("closed_run_id", sa.Integer(), nullable=True))
    op.create_index("ix_payments_unclosed", "payments", ["closed_run_id"])
    with op.batch_alter_table("batch_runs") as batch:
        batch.drop_column("max_plan_key")
        batch.drop_column("max_payment_key")
        batch.drop_column("last_account_key")
        batch.drop_column("first_account_key")

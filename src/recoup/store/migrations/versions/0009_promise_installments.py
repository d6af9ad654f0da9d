"""promises to pay in installments: each promise's installments with their own status, and
the channel a promise was taken on; each existing promise becomes its one installment

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
    op.create_table(
        "promise_installments",
        sa.Column("promise_key", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["promise_key"], ["promises.promise_key"]),
        sa.PrimaryKeyConstraint("promise_key", "number"),
    )
    # A promise made before installments is one installment: its amount by its date. What
    # was paid towards an installment is at most its amount.
    op.execute(
        "INSERT INTO promise_installments "
        "(promise_key, number, due_on, amount_cents, paid_cents, status, resolved_on) "
        "SELECT promise_key, 1, promised_for, amount_cents, "
        "CASE WHEN paid_cents > amount_cents THEN amount_cents "
        "WHEN paid_cents < 0 THEN 0 ELSE paid_cents END, "
        "status, resolved_on FROM promises"
    )


def downgrade() -> None:
    op.drop_table("promise_installments")
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_column("channel")

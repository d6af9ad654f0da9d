"""arrangements: every ask for a concession (waiver, settlement, plan) and its approval
record, step by step

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "arrangement_requests",
        sa.Column(
            "request_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.String(length=32), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("share", sa.String(length=40), nullable=True),
        sa.Column("term_months", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requester_role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("approvals_needed", sa.Integer(), nullable=False),
        sa.Column("matrix_version", sa.String(length=16), nullable=False),
        sa.Column("verdict_allowed", sa.Integer(), nullable=False),
        sa.Column("verdict_rule", sa.String(length=80), nullable=False),
        sa.Column("verdict_reason", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_key"],
            ["accounts.account_key"],
        ),
        sa.PrimaryKeyConstraint("request_key"),
    )
    with op.batch_alter_table("arrangement_requests", schema=None) as batch_op:
        batch_op.create_index("ix_arrangement_requests_account", ["account_key"], unique=False)
        batch_op.create_index(
            "ix_arrangement_requests_status", ["status", "created_at"], unique=False
        )

    op.create_table(
        "arrangement_steps",
        sa.Column(
            "step_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("request_key", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_key"],
            ["arrangement_requests.request_key"],
        ),
        sa.PrimaryKeyConstraint("step_key"),
    )
    with op.batch_alter_table("arrangement_steps", schema=None) as batch_op:
        batch_op.create_index("ix_arrangement_steps_request", ["request_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("arrangement_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_arrangement_steps_request")

    op.drop_table("arrangement_steps")
    with op.batch_alter_table("arrangement_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_arrangement_requests_status")
        batch_op.drop_index("ix_arrangement_requests_account")

    op.drop_table("arrangement_requests")

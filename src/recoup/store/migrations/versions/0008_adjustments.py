"""arrangements in the ledger: adjusted amounts on installments, the adjustments (waivers,
settlement discounts, restructures) and the arrangements in force; longer run kinds

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADJUSTED = (
    "adjusted_principal_cents",
    "adjusted_fee_cents",
    "adjusted_late_fee_cents",
    "adjusted_penalty_cents",
)
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # "cycle-arrangements" is the longest run kind: the daily cycle's new step.
    with op.batch_alter_table("collection_runs", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=16), type_=sa.String(length=32)
        )
    with op.batch_alter_table("installments", schema=None) as batch_op:
        for name in _ADJUSTED:
            batch_op.add_column(
                sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            )
    op.create_table(
        "arrangements",
        sa.Column("arrangement_key", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_key", sa.BigInteger(), nullable=True),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("plan_key", sa.BigInteger(), nullable=True),
        sa.Column("aged_from", sa.Date(), nullable=True),
        sa.Column("re_age_through", sa.Date(), nullable=True),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_on", sa.Date(), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["account_key"], ["accounts.account_key"]),
        sa.ForeignKeyConstraint(["request_key"], ["arrangement_requests.request_key"]),
        sa.ForeignKeyConstraint(["plan_key"], ["plans.plan_key"]),
        sa.PrimaryKeyConstraint("arrangement_key"),
    )
    with op.batch_alter_table("arrangements", schema=None) as batch_op:
        batch_op.create_index("ix_arrangements_account", ["account_key"], unique=False)
        batch_op.create_index("ix_arrangements_status", ["kind", "status"], unique=False)
    op.create_table(
        "adjustments",
        sa.Column("adjustment_key", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("plan_key", sa.BigInteger(), nullable=True),
        sa.Column("component", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("arrangement_key", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_cents", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["account_key"], ["accounts.account_key"]),
        sa.ForeignKeyConstraint(["plan_key"], ["plans.plan_key"]),
        sa.ForeignKeyConstraint(["arrangement_key"], ["arrangements.arrangement_key"]),
        sa.PrimaryKeyConstraint("adjustment_key"),
    )
    with op.batch_alter_table("adjustments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_adjustments_account", ["account_key", "effective_on"], unique=False
        )
        batch_op.create_index("ix_adjustments_effective_on", ["effective_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("adjustments", schema=None) as batch_op:
        batch_op.drop_index("ix_adjustments_effective_on")
        batch_op.drop_index("ix_adjustments_account")
    op.drop_table("adjustments")
    with op.batch_alter_table("arrangements", schema=None) as batch_op:
        batch_op.drop_index("ix_arrangements_status")
        batch_op.drop_index("ix_arrangements_account")
    op.drop_table("arrangements")
    with op.batch_alter_table("installments", schema=None) as batch_op:
        for name in reversed(_ADJUSTED):
            batch_op.drop_column(name)
    with op.batch_alter_table("collection_runs", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=32), type_=sa.String(length=16)
        )

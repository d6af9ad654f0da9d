"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 22:27:16.990014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("closed_from", sa.Date(), nullable=False),
        sa.Column("closed_through", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accounts", sa.BigInteger(), nullable=False),
        sa.Column("recomputed_accounts", sa.BigInteger(), nullable=False),
        sa.Column("moves", sa.BigInteger(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_table(
        "borrowers",
        sa.Column("borrower_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("borrower_key"),
        sa.UniqueConstraint("borrower_id"),
    )
    op.create_table(
        "buckets",
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("min_dpd", sa.Integer(), nullable=False),
        sa.Column("max_dpd", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("ordinal"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "products",
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("product_id"),
    )
    op.create_table(
        "account_states",
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=32), nullable=False),
        sa.Column("overdue_principal_cents", sa.BigInteger(), nullable=False),
        sa.Column("overdue_fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("overdue_late_fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("overdue_penalty_cents", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_principal_cents", sa.BigInteger(), nullable=False),
        sa.Column("credit_balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["batch_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("account_key", "as_of"),
    )
    with op.batch_alter_table("account_states", schema=None) as batch_op:
        batch_op.create_index("ix_account_states_as_of", ["as_of"], unique=False)

    op.create_table(
        "accounts",
        sa.Column("account_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("borrower_key", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("credit_balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=32), nullable=False),
        sa.Column("overdue_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_key"],
            ["borrowers.borrower_key"],
        ),
        sa.PrimaryKeyConstraint("account_key"),
        sa.UniqueConstraint("account_id"),
    )
    op.create_table(
        "bucket_moves",
        sa.Column(
            "move_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("moved_on", sa.Date(), nullable=False),
        sa.Column("from_bucket", sa.String(length=32), nullable=False),
        sa.Column("to_bucket", sa.String(length=32), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["batch_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("move_key"),
    )
    with op.batch_alter_table("bucket_moves", schema=None) as batch_op:
        batch_op.create_index("ix_moves_account", ["account_key", "moved_on"], unique=False)

    op.create_table(
        "charges",
        sa.Column(
            "charge_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("plan_key", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("accrued_from", sa.Date(), nullable=False),
        sa.Column("accrued_through", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["batch_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("charge_key"),
    )
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index("ix_charges_account", ["account_key"], unique=False)

    op.create_table(
        "contact_points",
        sa.Column("contact_point_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("borrower_key", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=400), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_key"],
            ["borrowers.borrower_key"],
        ),
        sa.PrimaryKeyConstraint("contact_point_key"),
        sa.UniqueConstraint("borrower_key", "kind", "value", name="uq_contact_point"),
    )
    op.create_table(
        "payments",
        sa.Column("payment_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reverses_payment_id", sa.String(length=64), nullable=True),
        sa.Column("reversed_on", sa.Date(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_key"],
            ["accounts.account_key"],
        ),
        sa.PrimaryKeyConstraint("payment_key"),
        sa.UniqueConstraint("payment_id"),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_account", ["account_key", "paid_on"], unique=False)
        batch_op.create_index("ix_payments_unclosed", ["closed_run_id"], unique=False)

    op.create_table(
        "plans",
        sa.Column("plan_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("principal_cents", sa.BigInteger(), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("closed_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_key"],
            ["accounts.account_key"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.product_id"],
        ),
        sa.PrimaryKeyConstraint("plan_key"),
        sa.UniqueConstraint("plan_id"),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index("ix_plans_account", ["account_key"], unique=False)

    op.create_table(
        "installments",
        sa.Column("plan_key", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal_cents", sa.BigInteger(), nullable=False),
        sa.Column("fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("late_fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("penalty_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_principal_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_late_fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_penalty_cents", sa.BigInteger(), nullable=False),
        sa.Column("settled", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_key"],
            ["plans.plan_key"],
        ),
        sa.PrimaryKeyConstraint("plan_key", "period"),
    )
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.create_index("ix_installments_account", ["account_key", "settled"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.drop_index("ix_installments_account")

    op.drop_table("installments")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index("ix_plans_account")

    op.drop_table("plans")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_unclosed")
        batch_op.drop_index("ix_payments_account")

    op.drop_table("payments")
    op.drop_table("contact_points")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index("ix_charges_account")

    op.drop_table("charges")
    with op.batch_alter_table("bucket_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_moves_account")

    op.drop_table("bucket_moves")
    op.drop_table("accounts")
    with op.batch_alter_table("account_states", schema=None) as batch_op:
        batch_op.drop_index("ix_account_states_as_of")

    op.drop_table("account_states")
    op.drop_table("products")
    op.drop_table("buckets")
    op.drop_table("borrowers")
    op.drop_table("batch_runs")

"""contact: the gate's decisions, contact attempts and outcomes, the outbox, delivery
callbacks, borrower flags (holds), contact-point status, and the gate's word on each action

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_attempts",
        sa.Column(
            "attempt_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("borrower_key", sa.BigInteger(), nullable=False),
        sa.Column("case_key", sa.BigInteger(), nullable=True),
        sa.Column("contact_point_key", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("to_value", sa.String(length=400), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("collector", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decision_key", sa.BigInteger(), nullable=True),
        sa.Column("message_key", sa.BigInteger(), nullable=True),
        sa.Column("promise_key", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retain_until", sa.Date(), nullable=True),
        sa.Column("until_settled", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("attempt_key"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("contact_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_contact_attempts_account", ["account_key", "at"], unique=False)
        batch_op.create_index("ix_contact_attempts_borrower", ["borrower_key", "at"], unique=False)

    op.create_table(
        "contact_decisions",
        sa.Column(
            "decision_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("case_key", sa.BigInteger(), nullable=True),
        sa.Column("action_key", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("to_value", sa.String(length=400), nullable=False),
        sa.Column("contact_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("profile", sa.String(length=16), nullable=False),
        sa.Column("profile_version", sa.String(length=16), nullable=False),
        sa.Column("allowed", sa.Integer(), nullable=False),
        sa.Column("violations", sa.Text(), nullable=False),
        sa.Column("next_allowed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retain_until", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("decision_key"),
    )
    with op.batch_alter_table("contact_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_decisions_account", ["account_key", "contact_at"], unique=False
        )

    op.create_table(
        "delivery_events",
        sa.Column(
            "event_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("message_key", sa.BigInteger(), nullable=True),
        sa.Column("from_value", sa.String(length=400), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opt_out", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("event_key"),
        sa.UniqueConstraint("provider_id", "status", name="ux_delivery_events_provider_status"),
    )
    op.create_table(
        "messages",
        sa.Column(
            "message_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("case_key", sa.BigInteger(), nullable=True),
        sa.Column("action_key", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("to_value", sa.String(length=400), nullable=False),
        sa.Column("template", sa.String(length=128), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision_key", sa.BigInteger(), nullable=True),
        sa.Column("provider_id", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retain_until", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("message_key"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_provider", ["provider_id"], unique=False)
        batch_op.create_index("ix_messages_status", ["status", "send_at"], unique=False)

    op.create_table(
        "borrower_flags",
        sa.Column(
            "flag_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("borrower_key", sa.BigInteger(), nullable=False),
        sa.Column("flag", sa.String(length=32), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_key"],
            ["borrowers.borrower_key"],
        ),
        sa.PrimaryKeyConstraint("flag_key"),
    )
    with op.batch_alter_table("borrower_flags", schema=None) as batch_op:
        batch_op.create_index(
            "ux_borrower_flags_active",
            ["borrower_key", "flag"],
            unique=True,
            postgresql_where=sa.text("cleared_at IS NULL"),
            sqlite_where=sa.text("cleared_at IS NULL"),
        )

    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decision_key", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("contact_points", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="unverified", nullable=False)
        )
        batch_op.add_column(sa.Column("source", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("verified_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
    # Every contact point so far came from the lender's files.
    op.execute("UPDATE contact_points SET source = 'import'")


def downgrade() -> None:
    with op.batch_alter_table("contact_points", schema=None) as batch_op:
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("verified_on")
        batch_op.drop_column("source")
        batch_op.drop_column("status")

    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_column("decision_key")
        batch_op.drop_column("planned_at")

    with op.batch_alter_table("borrower_flags", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_borrower_flags_active",
            postgresql_where=sa.text("cleared_at IS NULL"),
            sqlite_where=sa.text("cleared_at IS NULL"),
        )

    op.drop_table("borrower_flags")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_status")
        batch_op.drop_index("ix_messages_provider")

    op.drop_table("messages")
    op.drop_table("delivery_events")
    with op.batch_alter_table("contact_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_decisions_account")

    op.drop_table("contact_decisions")
    with op.batch_alter_table("contact_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_attempts_borrower")
        batch_op.drop_index("ix_contact_attempts_account")

    op.drop_table("contact_attempts")

"""collection: cases, strategy runs, actions, promises, allocation

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "collection_runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("strategy_id", sa.String(length=64), nullable=True),
        sa.Column("strategy_version", sa.Integer(), nullable=True),
        sa.Column("inputs", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_table(
        "strategy_versions",
        sa.Column("strategy_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("strategy_id", "version"),
    )
    op.create_table(
        "cases",
        sa.Column(
            "case_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("opened_because", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closed_because", sa.String(length=24), nullable=True),
        sa.Column("strategy_id", sa.String(length=64), nullable=True),
        sa.Column("strategy_version", sa.Integer(), nullable=True),
        sa.Column("segment", sa.String(length=64), nullable=True),
        sa.Column("path", sa.String(length=64), nullable=True),
        sa.Column("path_override", sa.String(length=64), nullable=True),
        sa.Column("path_since", sa.Date(), nullable=True),
        sa.Column("last_event", sa.String(length=32), nullable=True),
        sa.Column("last_event_on", sa.Date(), nullable=True),
        sa.Column("dispute", sa.Integer(), nullable=False),
        sa.Column("vulnerable", sa.Integer(), nullable=False),
        sa.Column("last_contact_on", sa.Date(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("owner_kind", sa.String(length=16), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("owned_since", sa.Date(), nullable=True),
        sa.Column("last_progress_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_key"],
            ["accounts.account_key"],
        ),
        sa.PrimaryKeyConstraint("case_key"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_account", ["account_key"], unique=False)
        batch_op.create_index(
            "ux_cases_open_account",
            ["account_key"],
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "actions",
        sa.Column(
            "action_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_key", sa.BigInteger(), nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("planned_for", sa.Date(), nullable=False),
        sa.Column("strategy_id", sa.String(length=64), nullable=False),
        sa.Column("strategy_version", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=128), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("window_start", sa.String(length=5), nullable=False),
        sa.Column("window_end", sa.String(length=5), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("test_id", sa.String(length=64), nullable=True),
        sa.Column("arm", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_key"],
            ["cases.case_key"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["collection_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("action_key"),
        sa.UniqueConstraint("case_key", "planned_for", "step", name="ux_actions_case_day_step"),
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index("ix_actions_day", ["planned_for"], unique=False)

    op.create_table(
        "allocations",
        sa.Column("case_key", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("owner_kind", sa.String(length=16), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("commission_ppm", sa.BigInteger(), nullable=True),
        sa.Column("previous_owner", sa.String(length=64), nullable=True),
        sa.Column("previous_owner_kind", sa.String(length=16), nullable=True),
        sa.Column("previous_team", sa.String(length=64), nullable=True),
        sa.Column("previous_owned_since", sa.Date(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_key"],
            ["cases.case_key"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["collection_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("case_key", "as_of"),
    )
    op.create_table(
        "case_events",
        sa.Column(
            "event_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_key", sa.BigInteger(), nullable=False),
        sa.Column("happened_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_key"],
            ["cases.case_key"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["collection_runs.run_id"],
        ),
        sa.PrimaryKeyConstraint("event_key"),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index("ix_case_events_case", ["case_key", "happened_on"], unique=False)

    op.create_table(
        "payment_credits",
        sa.Column("payment_key", sa.BigInteger(), nullable=False),
        sa.Column("case_key", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("credited_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_key"],
            ["cases.case_key"],
        ),
        sa.ForeignKeyConstraint(
            ["payment_key"],
            ["payments.payment_key"],
        ),
        sa.PrimaryKeyConstraint("payment_key"),
    )
    with op.batch_alter_table("payment_credits", schema=None) as batch_op:
        batch_op.create_index("ix_payment_credits_owner", ["owner", "credited_on"], unique=False)

    op.create_table(
        "promises",
        sa.Column(
            "promise_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_key", sa.BigInteger(), nullable=False),
        sa.Column("account_key", sa.BigInteger(), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("promised_for", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("made_by", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_key"],
            ["cases.case_key"],
        ),
        sa.PrimaryKeyConstraint("promise_key"),
    )
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.create_index("ix_promises_case", ["case_key"], unique=False)
        batch_op.create_index("ix_promises_status", ["status", "promised_for"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_index("ix_promises_status")
        batch_op.drop_index("ix_promises_case")

    op.drop_table("promises")
    with op.batch_alter_table("payment_credits", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_credits_owner")

    op.drop_table("payment_credits")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index("ix_case_events_case")

    op.drop_table("case_events")
    op.drop_table("allocations")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_day")

    op.drop_table("actions")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_cases_open_account",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index("ix_cases_account")

    op.drop_table("cases")
    op.drop_table("strategy_versions")
    op.drop_table("collection_runs")

"""the gate's decisions indexed by when they were made: /metrics counts today's refusals

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_contact_decisions_decided", "contact_decisions", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_contact_decisions_decided", table_name="contact_decisions")

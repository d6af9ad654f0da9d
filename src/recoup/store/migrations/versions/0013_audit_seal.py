"""audit log keyed and sealed: a MAC on every entry, and the chain's head in audit_seal

``audit_log`` gains ``mac`` (HMAC-SHA-256 under the audit key, derived from the data key in
force; see ``recoup.web.audit``). The entries already there keep no MAC: they stay verifiable
by their hashes and are reported as unkeyed. ``audit_seal`` holds one row, the chain's head
(last sequence number and hash) and its number of entries, sealed here with the key in force;
``unkeyed_through`` names the last entry written before this migration, so that an entry
after it without a MAC is caught. The downgrade drops both.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from recoup.web.audit import EMPTY, SEAL_KEY, Head, Seal, audit_key

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_seal",
        sa.Column("seal_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("unkeyed_through", sa.BigInteger(), nullable=False),
        sa.Column("broken_at", sa.BigInteger(), nullable=True),
        sa.Column("broken_reason", sa.Text(), nullable=True),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.CheckConstraint("seal_key = 1", name="ck_audit_seal_one_row"),
        sa.PrimaryKeyConstraint("seal_key"),
    )
    # Seal the chain as it stands; every entry in it is written before the key.
    bind = op.get_bind()
    log = sa.table("audit_log", sa.column("seq", sa.BigInteger()), sa.column("hash", sa.String()))
    last = bind.execute(
        sa.select(log.c.seq, log.c.hash).order_by(log.c.seq.desc()).limit(1)
    ).first()
    entries = bind.execute(sa.select(sa.func.count()).select_from(log)).scalar_one()
    head = EMPTY if last is None else Head(int(last.seq), last.hash)
    seal = Seal(head, int(entries), unkeyed_through=head.seq)
    seal_table = sa.table(
        "audit_seal",
        *(
            sa.column(name)
            for name in ("seal_key", "last_seq", "last_hash", "entries", "unkeyed_through", "mac")
        ),
    )
    bind.execute(
        seal_table.insert().values(
            seal_key=SEAL_KEY,
            last_seq=head.seq,
            last_hash=head.hash,
            entries=seal.entries,
            unkeyed_through=seal.unkeyed_through,
            mac=seal.mac(audit_key()),
        )
    )


def downgrade() -> None:
    op.drop_table("audit_seal")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("mac")

"""The index of unsettled installments by due date, kept only once a store has been closed.

Only the incremental close reads ``ix_installments_open_due``: it finds there the
installments falling due in the days it closes. Before a store's first close every imported
installment is unsettled, so the index would hold all of them; a load into a store already
holding some puts its installments into it at one place per due date (about 1,100 for a
portfolio two years old), each a page split away from the end of the tree, which made
loading the installments two to three times slower than with the other indexes alone (see
bench/README.md). The first close then settles most of them and takes them out again.

So an import into a store never closed drops the index, and the first close builds it in
the transaction that records the day closed, over the installments still unsettled. An
incremental close builds it first if it is missing (dropped by hand, say), so none runs
without it.
"""

from __future__ import annotations

import sqlalchemy as sa

from recoup.store import tables as t

OPEN_DUE_INDEX = next(i for i in t.installments.indexes if i.name == "ix_installments_open_due")


def has_open_due_index(conn: sa.Connection) -> bool:
    names = {index["name"] for index in sa.inspect(conn).get_indexes(t.installments.name)}
    return OPEN_DUE_INDEX.name in names


def drop_open_due_index(conn: sa.Connection) -> None:
    """Drop the index if the store has it, in the caller's transaction."""
    OPEN_DUE_INDEX.drop(conn, checkfirst=True)


def build_open_due_index(conn: sa.Connection) -> None:
    """Build the index if the store lacks it, in the caller's transaction."""
    OPEN_DUE_INDEX.create(conn, checkfirst=True)

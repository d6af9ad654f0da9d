"""The daily cycle on a real store: every step in order, each recorded, and a rerun of the
same day resuming instead of repeating."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from recoup.allocation import default_teams_path, load_teams
from recoup.close import last_closed_day
from recoup.collection.cycle import STEPS, run_cycle
from recoup.collection.daily import RunRefused
from recoup.compliance import shipped_profile
from recoup.contact.templates import TemplateSet
from recoup.store import tables as t
from tests.integration.test_collection import FIRST_DUE, book  # noqa: F401  (fixture)

DAY = FIRST_DUE + timedelta(days=3)


def _cycle(store: sa.Engine, **options: object) -> object:
    return run_cycle(
        store,
        DAY,
        policy=shipped_profile("cn"),
        teams=load_teams(default_teams_path()),
        templates=TemplateSet(),
        senders={},
        **options,  # type: ignore[arg-type]
    )


def _runs(store: sa.Engine, kind: str) -> int:
    r = t.collection_runs
    with store.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(r).where(r.c.kind == kind)
            ).scalar_one()
        )


def test_cycle__runs_every_step_in_order_and_a_rerun_resumes(book: sa.Engine) -> None:  # noqa: F811
    lines: list[str] = []
    first = _cycle(book, progress=lines.append)
    assert [s.step for s in first.steps] == list(STEPS)  # type: ignore[attr-defined]
    statuses = {s.step: s.status for s in first.steps}  # type: ignore[attr-defined]
    assert statuses == {
        "close": "done",
        "arrangements": "done",  # none to judge: said so
        "score": "done",  # no champion: scored nothing, said so
        "strategy": "done",
        "allocate": "done",
        "outbox": "done",
        "dispatch": "skipped",  # no transport configured
    }
    assert lines[0] == "close ..." and lines[-1].startswith("dispatch: skipped")
    with book.connect() as conn:
        closed = last_closed_day(conn)
        actions = conn.execute(sa.select(sa.func.count()).select_from(t.actions)).scalar_one()
    assert closed == DAY and actions > 0
    assert _runs(book, "strategy") == 1

    again = _cycle(book)
    assert {s.status for s in again.steps} == {"resumed"}  # type: ignore[attr-defined]
    assert _runs(book, "strategy") == 1  # nothing was run twice

    redo = _cycle(book, redo=["strategy"])
    assert {s.step: s.status for s in redo.steps}["strategy"] == "done"  # type: ignore[attr-defined]
    assert _runs(book, "strategy") == 2
    with book.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(t.actions)).scalar_one() == actions
        )

    with pytest.raises(RunRefused, match="no cycle step 'sleep'"):
        _cycle(book, redo=["sleep"])

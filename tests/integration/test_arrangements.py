"""Arrangement asks on a real store (SQLite and PostgreSQL): what an account owes by
component, and the approval record of waivers and settlements, step by step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from recoup.arrangements import ArrangementKind, Ask, Granted, StepAction, default_authority
from recoup.close import close_through
from recoup.collection.arrangements import (
    ArrangementRefused,
    decide,
    list_requests,
    load_request,
    open_request,
    owed_now,
)
from recoup.store import tables as t
from tests.integration.test_collection import FIRST_DUE, book  # noqa: F401  (fixture)

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_owed__components_add_up_to_what_the_close_says_is_overdue_and_outstanding(
    book: sa.Engine,  # noqa: F811
) -> None:
    close_through(book, FIRST_DUE + timedelta(days=40))
    with book.connect() as conn:
        account = owed_now(conn, "A1")
        overdue, principal = conn.execute(
            sa.select(t.accounts.c.overdue_cents, t.accounts.c.outstanding_principal_cents).where(
                t.accounts.c.account_id == "A1"
            )
        ).one()
    owed = account.owed
    assert owed.late_fee > 0 and owed.penalty > 0  # A1 never pays: charges accrue
    assert owed.principal_overdue + owed.fee_overdue + owed.late_fee + owed.penalty == overdue
    assert owed.principal_overdue + owed.principal_not_due == principal
    assert account.bucket == "M2"
    with book.connect() as conn, pytest.raises(ArrangementRefused, match="'A9'"):
        owed_now(conn, "A9")


def _waiver(account: object, amount: int) -> Ask:
    owed = account.owed  # type: ignore[attr-defined]
    return Ask(
        ArrangementKind.WAIVER,
        account.bucket,  # type: ignore[attr-defined]
        amount,
        owed.total,
        share=Decimal(amount) / Decimal(owed.penalty),
    )


def test_requests__granted_within_authority_and_approved_beyond_it_every_step_kept(
    book: sa.Engine,  # noqa: F811
) -> None:
    close_through(book, FIRST_DUE + timedelta(days=40))
    matrix = default_authority()
    with book.begin() as conn:
        account = owed_now(conn, "A1")
        small = min(account.owed.penalty, 100)
        key, granted = open_request(
            conn, matrix, account, _waiver(account, small), {"component": "penalty"}, "c-li",
            "collector", NOW,
        )  # fmt: skip
        assert isinstance(granted, Granted)
        big = account.owed.penalty  # all of it: over a collector's 50% share
        big_key, pending = open_request(
            conn, matrix, account, _waiver(account, big), {"component": "penalty"}, "c-li",
            "collector", NOW,
        )  # fmt: skip
    assert not isinstance(pending, Granted) and pending.status.value == "pending"
    with book.begin() as conn, pytest.raises(ArrangementRefused, match="own request"):
        decide(conn, matrix, big_key, "c-li", "team_lead", StepAction.APPROVE, "", NOW)
    with book.begin() as conn:
        approved = decide(
            conn, matrix, big_key, "t-wang", "team_lead", StepAction.APPROVE, "hardship", NOW
        )
    assert approved.status.value == "approved"
    with book.begin() as conn:
        with pytest.raises(ArrangementRefused):
            decide(conn, matrix, big_key, "m-zhao", "manager", StepAction.REJECT, "no", NOW)
        stored = load_request(conn, big_key)
        rows = {r["request_key"]: r["status"] for r in list_requests(conn)}
        steps = conn.execute(
            sa.select(t.arrangement_steps.c.action, t.arrangement_steps.c.actor).order_by(
                t.arrangement_steps.c.step_key
            )
        ).all()
    assert rows == {key: "granted", big_key: "approved"}
    assert [tuple(s) for s in steps] == [("grant", "c-li"), ("approve", "t-wang")]
    assert stored == approved  # what is kept reads back as the same record


def test_requests__a_request_is_decided_under_the_matrix_it_was_made_under(
    book: sa.Engine,  # noqa: F811
) -> None:
    from recoup.arrangements import parse_authority
    from recoup.arrangements.authority import default_authority_path

    close_through(book, FIRST_DUE + timedelta(days=40))
    matrix = default_authority()
    with book.begin() as conn:
        account = owed_now(conn, "A1")
        key, _ = open_request(
            conn, matrix, account, _waiver(account, account.owed.penalty), {}, "c-li",
            "collector", NOW,
        )  # fmt: skip
    text = default_authority_path().read_text(encoding="utf-8")
    changed = parse_authority(text.replace('"50000.00"', '"40000.00"'), "changed.yaml")
    assert changed.version != matrix.version
    with book.begin() as conn, pytest.raises(ArrangementRefused, match="matrix"):
        decide(conn, changed, key, "t-wang", "team_lead", StepAction.APPROVE, "", NOW)

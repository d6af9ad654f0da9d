"""Personal data at rest, on SQLite and PostgreSQL: names, contact points and recipients are
stored encrypted (``enc2:``), read back plain through the application, found by value, and
refused under another key; the migration encrypts a store written before it.

The book is the three hand-made accounts of ``test_collection``: borrowers ``Borrower 1..3``
with mobile numbers ``+86138000000{1,2,3}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from recoup.close import close_through
from recoup.collection.daily import run_daily_strategy
from recoup.compliance import Channel, Outcome, shipped_profile
from recoup.contact.flags import contact_story
from recoup.contact.outcomes import OutcomeReport, record_outcomes
from recoup.importer import import_directory
from recoup.store import crypto
from recoup.store import tables as t
from recoup.store.bulk import read_frame, update_from_frame
from recoup.store.crypto import DataKeyError
from recoup.store.engine import migrate_schema, upgrade_schema
from recoup.strategy import load_default_strategy
from tests.integration.test_collection import FIRST_DUE, book  # noqa: F401  (fixture)
from tests.integration.test_web_api import _login, workbench  # noqa: F401  (fixture)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = FIRST_DUE + timedelta(days=3)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
PHONE = "+8613800000001"  # borrower B1's, as imported


@pytest.fixture(autouse=True)
def environment_key() -> Iterator[None]:
    """Every test starts and ends on the environment's key (the development key here)."""
    crypto.set_data_key(None)
    yield
    crypto.set_data_key(None)


def _raw(conn: sa.Connection, sql: str) -> list[str]:
    return [row[0] for row in conn.exec_driver_sql(sql)]


def test_import__names_and_contact_points_are_stored_encrypted_and_read_back_plain(
    book: sa.Engine,  # noqa: F811
) -> None:
    with book.connect() as conn:
        names = _raw(conn, "SELECT name FROM borrowers ORDER BY borrower_key")
        values = _raw(conn, "SELECT value FROM contact_points ORDER BY contact_point_key")
        story = contact_story(conn, "A1")
    assert len(names) == 3 and len(values) == 3
    for stored in names + values:
        assert stored.startswith("enc2:")
        assert "Borrower" not in stored and "13800000" not in stored
    assert "138" not in values[0] and "0001" not in values[0]  # not even the masked digits
    assert [p["value"] for p in story["points"]] == [PHONE]
    assert crypto.decrypt(names[0]) == "Borrower 1"


def test_import__the_same_files_again_find_the_stored_borrowers_and_points_by_value(
    book: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    directory = tmp_path / "book"  # written by the fixture
    borrowers = pl.read_csv(directory / "borrowers.csv")
    borrowers.with_columns(
        pl.when(pl.col("borrower_id") == "B2")
        .then(pl.lit("Borrower Two"))
        .otherwise(pl.col("name"))
        .alias("name")
    ).write_csv(directory / "borrowers.csv")
    summary = import_directory(book, directory, show_progress=False)
    assert summary is not None
    b, cp = t.borrowers, t.contact_points
    with book.connect() as conn:
        names = dict(conn.execute(sa.select(b.c.borrower_id, b.c.name)).all())
        points = conn.execute(sa.select(sa.func.count()).select_from(cp)).scalar_one()
        stored = _raw(conn, "SELECT name FROM borrowers WHERE borrower_id = 'B2'")
    assert names == {"B1": "Borrower 1", "B2": "Borrower Two", "B3": "Borrower 3"}
    assert points == 3  # nothing added twice: the stored points were recognised
    assert stored[0].startswith("enc2:") and "Two" not in stored[0]


def test_bulk__reads_decrypt_selected_columns_and_encrypt_the_values_they_compare_with(
    book: sa.Engine,  # noqa: F811
) -> None:
    cp, b = t.contact_points, t.borrowers
    schema = {"key": pl.Int64(), "value": pl.Utf8()}
    with book.begin() as conn:
        one = read_frame(
            conn, sa.select(cp.c.borrower_key, cp.c.value).where(cp.c.value == PHONE), schema
        )
        some = read_frame(
            conn,
            sa.select(cp.c.borrower_key, cp.c.value)
            .where(cp.c.value.in_([PHONE, "+8613800000003", "+0"]))
            .order_by(cp.c.borrower_key),
            schema,
        )
        raw = read_frame(conn, "SELECT borrower_key, value FROM contact_points", schema)
        update_from_frame(
            conn, b, pl.DataFrame({"borrower_key": [1], "name": ["李四"]}), ["borrower_key"]
        )
        renamed = conn.execute(sa.select(b.c.name).where(b.c.name == "李四")).scalar_one()
        stored = _raw(conn, "SELECT name FROM borrowers WHERE borrower_key = 1")
    assert one.rows() == [(1, PHONE)]
    assert some.get_column("value").to_list() == [PHONE, "+8613800000003"]
    assert all(v.startswith("enc2:") for v in raw.get_column("value"))  # a text query: as stored
    assert renamed == "李四" and stored[0].startswith("enc2:")


def test_outcomes__an_outcome_to_a_number_finds_its_encrypted_contact_point(
    book: sa.Engine,  # noqa: F811
) -> None:
    close_through(book, DAY)
    run_daily_strategy(book, load_default_strategy(), DAY)  # the gate's decisions, in bulk
    report = OutcomeReport(
        account_id="A1",
        channel=Channel.CALL,
        to=PHONE,
        at=datetime(DAY.year, DAY.month, DAY.day, 10, 0, tzinfo=SHANGHAI),
        outcome=Outcome.WRONG_NUMBER,
        collector="c-li",
    )
    with book.begin() as conn:
        record_outcomes(conn, [report], shipped_profile("cn"), NOW)
        story = contact_story(conn, "A1")
        recipients = _raw(conn, "SELECT to_value FROM contact_attempts")
        decisions = _raw(
            conn,
            "SELECT d.to_value FROM contact_decisions d JOIN accounts a"
            " ON a.account_key = d.account_key WHERE a.account_id = 'A1'",
        )
    assert [(p["value"], p["status"]) for p in story["points"]] == [(PHONE, "wrong_number")]
    assert [a["to"] for a in story["attempts"]] == [PHONE]
    assert recipients == [crypto.encrypt(PHONE)]  # equal texts, equal stored forms
    assert decisions and all(v == crypto.encrypt(PHONE) for v in decisions)


def test_api__the_account_page_masks_the_decrypted_phone_as_before(
    workbench: tuple[TestClient, sa.Engine, dict[str, str]],  # noqa: F811
) -> None:
    client, _, _ = workbench
    body = client.get("/api/v1/accounts/A1", headers=_login(client, "lead")).json()
    assert body["borrower"]["name"] == "Borrower 1"
    phones = [p["value"] for p in body["borrower"]["contact_points"] if p["kind"] == "phone"]
    assert phones == ["+86138****0001"]


def test_key__another_key_cannot_read_the_stored_personal_data(
    book: sa.Engine,  # noqa: F811
) -> None:
    crypto.set_data_key("A" * 43 + "=")  # 32 zero-ish bytes: any key but the one used
    with book.connect() as conn, pytest.raises(DataKeyError, match="another key"):
        contact_story(conn, "A1")


# --------------------------------------------------------------------------- migration


def test_migration__encrypts_a_store_written_before_it_and_the_downgrade_decrypts(
    store: sa.Engine,
) -> None:
    migrate_schema(store, "0010", downgrade=True)
    # Plain tables: the columns as they were, without the encrypting type.
    borrowers = sa.table(
        "borrowers", *(sa.column(c) for c in ("borrower_key", "borrower_id", "name"))
    )
    points = sa.table(
        "contact_points",
        *(sa.column(c) for c in ("contact_point_key", "borrower_key", "kind", "value", "party")),
        sa.column("contact_name"),
    )
    events = sa.table(
        "delivery_events",
        *(sa.column(c) for c in ("provider_id", "status", "from_value", "at", "received_at")),
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    already = crypto.encrypt("+8613900000009")
    with store.begin() as conn:
        conn.execute(
            borrowers.insert(),
            [{"borrower_key": k, "borrower_id": f"B{k}", "name": f"Borrower {k}"} for k in (1, 2)],
        )
        conn.execute(
            points.insert(),
            [
                {"contact_point_key": 1, "borrower_key": 1, "kind": "phone", "value": PHONE,
                 "party": "self", "contact_name": None},
                {"contact_point_key": 2, "borrower_key": 1, "kind": "phone", "value": already,
                 "party": "guarantor", "contact_name": "王五"},
                {"contact_point_key": 3, "borrower_key": 2, "kind": "address",
                 "value": "上海市浦东新区" + "路" * 390, "party": "self", "contact_name": None},
            ],
        )  # fmt: skip
        conn.execute(
            events.insert(),
            [
                {"provider_id": "p1", "status": "inbound", "from_value": PHONE, "at": at,
                 "received_at": at},
                {"provider_id": "p2", "status": "delivered", "from_value": None, "at": at,
                 "received_at": at},
            ],
        )  # fmt: skip

    upgrade_schema(store)

    with store.connect() as conn:
        names = _raw(conn, "SELECT name FROM borrowers ORDER BY borrower_key")
        values = _raw(conn, "SELECT value FROM contact_points ORDER BY contact_point_key")
        contact_names = _raw(
            conn, "SELECT contact_name FROM contact_points ORDER BY contact_point_key"
        )
        senders = _raw(conn, "SELECT from_value FROM delivery_events ORDER BY provider_id")
        read = conn.execute(
            sa.select(t.contact_points.c.value, t.contact_points.c.contact_name).order_by(
                t.contact_points.c.contact_point_key
            )
        ).all()
    assert all(v.startswith("enc2:") for v in names + values)
    assert values[1] == already  # not encrypted twice
    assert contact_names[0] is None and contact_names[1].startswith("enc2:")
    assert senders[0] == crypto.encrypt(PHONE) and senders[1] is None
    assert [tuple(r) for r in read] == [
        (PHONE, None),
        ("+8613900000009", "王五"),
        ("上海市浦东新区" + "路" * 390, None),
    ]

    migrate_schema(store, "0010", downgrade=True)
    with store.connect() as conn:
        assert _raw(conn, "SELECT name FROM borrowers ORDER BY borrower_key") == [
            "Borrower 1",
            "Borrower 2",
        ]
        assert _raw(conn, "SELECT value FROM contact_points ORDER BY contact_point_key")[:2] == [
            PHONE,
            "+8613900000009",
        ]
    upgrade_schema(store)  # and up again, for the fixture's teardown


def test_migration__an_empty_store_upgrades_and_downgrades(store: sa.Engine) -> None:
    migrate_schema(store, "0010", downgrade=True)
    upgrade_schema(store)
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.borrowers)).scalar() == 0


def test_bulk__a_small_read_gives_the_frame_the_bulk_read_gives(
    book: sa.Engine,  # noqa: F811
) -> None:
    """``few=True`` skips PostgreSQL's COPY for an ordinary query: the same rows, types,
    nulls and decrypted personal columns."""
    i, cp, ca = t.installments, t.contact_points, t.contact_attempts
    reads = [
        (
            sa.select(i.c.plan_key, i.c.period, i.c.due_date, i.c.penalty_cents, i.c.settled)
            .order_by(i.c.plan_key, i.c.period)
            .limit(50),
            {
                "plan_key": pl.Int64,
                "period": pl.Int32,
                "due_date": pl.Date,
                "penalty_cents": pl.Int64,
                "settled": pl.Int32,
            },
        ),
        (
            sa.select(cp.c.borrower_key, cp.c.value, cp.c.status).order_by(cp.c.contact_point_key),
            {"borrower_key": pl.Int64, "value": pl.String, "status": pl.String},
        ),
        (
            sa.select(ca.c.attempt_key, ca.c.at, ca.c.note).order_by(ca.c.attempt_key),
            {"attempt_key": pl.Int64, "at": pl.Datetime("us", "UTC"), "note": pl.String},
        ),
    ]
    heights = []
    with book.connect() as conn:
        for query, schema in reads:
            bulk = read_frame(conn, query, schema)
            few = read_frame(conn, query, schema, few=True)
            assert few.schema == bulk.schema
            assert few.equals(bulk)
            heights.append(few.height)
        values = read_frame(conn, reads[1][0], reads[1][1], few=True)["value"].to_list()
    assert heights[0] > 0 and heights[1] > 0
    assert PHONE in values and not any(v.startswith("enc2:") for v in values)

"""Complaints on a real store (SQLite and PostgreSQL): recorded idempotently with their case
and attempt, refused with the field named, resolved once, listed, kept encrypted, outliving
a purged attempt; the migration; the report's complaint tables read from the store; the
command line.

The book is the three hand-made accounts of ``test_collection`` closed and worked on day 3:
A1 and A3 never pay and have open cases, A2 pays on time and has none.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
import sqlalchemy as sa

from recoup.allocation import default_teams_path, load_teams
from recoup.analytics.report import build_report, render_html
from recoup.cli.main import main
from recoup.collection.allocation_run import run_allocation
from recoup.compliance import Channel, Outcome
from recoup.contact.complaints import (
    ComplaintCategory,
    ComplaintChannel,
    ComplaintConflict,
    ComplaintNotFound,
    ComplaintRefused,
    ComplaintResolution,
    ComplaintSpec,
    ComplaintStatus,
    list_complaints,
    record_complaint,
    record_complaints,
    resolve_complaint,
)
from recoup.contact.outcomes import OutcomeReport, record_outcomes
from recoup.contact.records import purge_expired
from recoup.store import crypto
from recoup.store import tables as t
from recoup.store.analytics_reads import read_report_inputs
from recoup.store.engine import migrate_schema, upgrade_schema
from tests.integration.conftest import store_url
from tests.integration.test_collection import book  # noqa: F401  (fixture)
from tests.integration.test_contact import CN, DAY, _phone, _run

CALL_AT = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=2)
RECEIVED = CALL_AT + timedelta(hours=1)  # 11:00 in Shanghai, the day after the run
NOW = CALL_AT + timedelta(days=2)
WORDS = "催收员一天打了十次电话，还打给了我的同事"


@pytest.fixture
def worked(book: sa.Engine) -> sa.Engine:  # noqa: F811
    """The book closed and worked on day 3, allocated, and a call to A1 and to A3 recorded
    (keys ``call-A1`` and ``call-A3``)."""
    _run(book)
    run_allocation(book, load_teams(default_teams_path()), DAY)
    with book.begin() as conn:
        record_outcomes(
            conn,
            [
                OutcomeReport(
                    "A1", Channel.CALL, _phone(1), CALL_AT, Outcome.RIGHT_PARTY_CONTACT,
                    key="call-A1",
                ),
                OutcomeReport(
                    "A3", Channel.CALL, _phone(3), CALL_AT, Outcome.NO_ANSWER, key="call-A3"
                ),
            ],
            CN,
            CALL_AT,
        )  # fmt: skip
    return book


def _spec(account: str = "A1", **changes: object) -> ComplaintSpec:
    fields: dict[str, object] = {
        "account_id": account,
        "received_at": RECEIVED,
        "channel": ComplaintChannel.CALL,
        "category": ComplaintCategory.CONTACT_PRESSURE,
        "created_by": "comp",
        "description": WORDS,
        "attempt_ref": f"call-{account}",
        **changes,
    }
    return ComplaintSpec(**fields)  # type: ignore[arg-type]


def _key(store: sa.Engine, table: sa.Table, column: str, **where: object) -> int:
    with store.connect() as conn:
        return int(
            conn.execute(
                sa.select(table.c[column]).where(*(table.c[k] == v for k, v in where.items()))
            ).scalar_one()
        )


def _count(store: sa.Engine) -> int:
    with store.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.complaints)).scalar_one())


def _raw(store: sa.Engine, column: str) -> list[str | None]:
    with store.connect() as conn:
        return [
            r[0]
            for r in conn.exec_driver_sql(
                f"SELECT {column} FROM complaints ORDER BY complaint_key"
            ).all()
        ]


def _account_key(store: sa.Engine, account: str) -> int:
    return _key(store, t.accounts, "account_key", account_id=account)


# --------------------------------------------------------------------------- recording


def test_record__a_complaint_about_an_attempt_takes_its_case_and_its_words_are_encrypted(
    worked: sa.Engine,
) -> None:
    with worked.begin() as conn:
        complaint, added = record_complaint(conn, _spec(), NOW)

    a1 = _account_key(worked, "A1")
    assert added
    assert complaint.account_id == "A1" and complaint.status == "open"
    assert complaint.case_key == _key(worked, t.cases, "case_key", account_key=a1, status="open")
    assert complaint.attempt_key == _key(
        worked, t.contact_attempts, "attempt_key", idempotency_key="call-A1"
    )
    assert complaint.received_at == RECEIVED
    assert (complaint.channel, complaint.category) == ("call", "contact_pressure")
    assert complaint.description == WORDS
    [stored] = _raw(worked, "description")
    assert stored is not None and stored.startswith("enc2:") and "催收" not in stored
    assert crypto.decrypt(stored) == WORDS


def test_record__an_account_without_an_open_case_and_without_an_attempt_has_no_case(
    worked: sa.Engine,
) -> None:
    with worked.begin() as conn:
        complaint, _ = record_complaint(
            conn, _spec("A2", attempt_ref=None, channel=ComplaintChannel.WEB), NOW
        )
    assert (complaint.case_key, complaint.attempt_key, complaint.channel) == (None, None, "web")


def test_record__the_same_key_again_changes_nothing_and_another_complaint_under_it_conflicts(
    worked: sa.Engine,
) -> None:
    with worked.begin() as conn:
        first, added = record_complaint(conn, _spec(key="K-1"), NOW)
    with worked.begin() as conn:
        again, added_again = record_complaint(conn, _spec(key="K-1"), NOW + timedelta(hours=1))
    assert added and not added_again
    assert again == first  # the stored complaint, its recording time unchanged
    with pytest.raises(ComplaintConflict) as refused, worked.begin() as conn:
        record_complaint(conn, _spec(key="K-1", category=ComplaintCategory.CONDUCT), NOW)
    assert refused.value.field == "key"
    # Without a key, one is made from the complaint: the same complaint twice is one row.
    with worked.begin() as conn:
        record_complaint(conn, _spec(), NOW)
        record_complaint(conn, _spec(), NOW)
        record_complaint(conn, _spec(description="another matter"), NOW)
    assert _count(worked) == 3


@pytest.mark.parametrize(
    ("spec", "field", "kind"),
    [
        (_spec("A9"), "account_id", ComplaintNotFound),
        (_spec(attempt_ref="call-A3"), "attempt_ref", ComplaintRefused),  # A3's call, not A1's
        (_spec(attempt_ref=None, attempt_key=999_999), "attempt_key", ComplaintRefused),
        (_spec(attempt_ref="nope"), "attempt_ref", ComplaintRefused),
        (_spec(attempt_key=1), "attempt_key", ComplaintRefused),  # both ways at once
        (_spec(received_at=RECEIVED.replace(tzinfo=None)), "received_at", ComplaintRefused),
        (_spec(received_at=NOW + timedelta(minutes=1)), "received_at", ComplaintRefused),
        (_spec(description="bad\x00text"), "description", ComplaintRefused),
        (_spec(description="x" * 2001), "description", ComplaintRefused),
        (_spec(created_by=""), "created_by", ComplaintRefused),
    ],
)
def test_record__a_complaint_that_cannot_be_recorded_is_refused_naming_the_field(
    worked: sa.Engine, spec: ComplaintSpec, field: str, kind: type[ComplaintRefused]
) -> None:
    with pytest.raises(kind) as refused, worked.begin() as conn:
        record_complaint(conn, spec, NOW)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")
    assert _count(worked) == 0


def test_record__a_batch_is_all_or_nothing_and_names_the_complaint_at_fault(
    worked: sa.Engine,
) -> None:
    batch = [_spec(key="B-1"), _spec(key="B-2", attempt_ref="x")]
    with (
        pytest.raises(ComplaintRefused, match=r"^attempt_ref: complaint 2: ") as refused,
        worked.begin() as conn,
    ):
        record_complaints(conn, batch, NOW)
    assert refused.value.field == "attempt_ref"
    assert _count(worked) == 0


def test_record__a_batch_takes_a_fixed_number_of_statements_whatever_its_size(
    worked: sa.Engine,
) -> None:
    def statements(size: int, prefix: str) -> int:
        executed: list[str] = []

        def count(*args: object) -> None:
            executed.append(str(args[2]))

        specs = [
            _spec(
                "A1" if n % 2 else "A3",
                key=f"{prefix}-{n}",
                attempt_ref=None if n % 3 else f"call-{'A1' if n % 2 else 'A3'}",
            )
            for n in range(size)
        ]
        with worked.begin() as conn:
            sa.event.listen(conn, "before_cursor_execute", count)
            recorded = record_complaints(conn, specs, NOW)
            sa.event.remove(conn, "before_cursor_execute", count)
        assert recorded.recorded == size and len(set(recorded.complaint_keys)) == size
        return len(executed)

    assert statements(40, "big") == statements(4, "small")
    assert _count(worked) == 44


def test_record__a_repeated_key_within_a_batch_is_recorded_once(worked: sa.Engine) -> None:
    with worked.begin() as conn:
        recorded = record_complaints(
            conn, [_spec(key="D"), _spec("A2", key="E", attempt_ref=None), _spec(key="D")], NOW
        )
    assert recorded.added == (True, True, False)
    assert recorded.complaint_keys[0] == recorded.complaint_keys[2]
    assert _count(worked) == 2


# --------------------------------------------------------------------------- resolving


def test_resolve__once_the_same_again_changes_nothing_and_another_way_conflicts(
    worked: sa.Engine,
) -> None:
    with worked.begin() as conn:
        complaint, _ = record_complaint(conn, _spec(), NOW)
    key, on = complaint.complaint_key, RECEIVED.date() + timedelta(days=1)
    with worked.begin() as conn:
        resolved, changed = resolve_complaint(
            conn, key, ComplaintResolution.UPHELD, on, "calls capped; apology sent", "comp", NOW
        )
    assert changed
    assert (resolved.status, resolved.resolution, resolved.resolved_on) == (
        "resolved",
        "upheld",
        on,
    )
    assert (resolved.resolution_note, resolved.resolved_by) == (
        "calls capped; apology sent",
        "comp",
    )
    assert _raw(worked, "resolution_note")[0].startswith("enc2:")  # type: ignore[union-attr]
    with worked.begin() as conn:
        again, changed_again = resolve_complaint(
            conn, key, ComplaintResolution.UPHELD, on, None, "lead", NOW
        )
    assert not changed_again and again == resolved
    with pytest.raises(ComplaintConflict) as conflict, worked.begin() as conn:
        resolve_complaint(conn, key, ComplaintResolution.NOT_UPHELD, on, None, "lead", NOW)
    assert conflict.value.field == "resolution"


@pytest.mark.parametrize(
    ("key", "on", "field", "kind"),
    [
        (None, RECEIVED.date() - timedelta(days=1), "resolved_on", ComplaintRefused),
        (None, NOW.date() + timedelta(days=1), "resolved_on", ComplaintRefused),
        (999, RECEIVED.date(), "complaint_key", ComplaintNotFound),
    ],
)
def test_resolve__a_day_out_of_range_or_an_unknown_complaint_is_refused(
    worked: sa.Engine, key: int | None, on: date, field: str, kind: type[ComplaintRefused]
) -> None:
    with worked.begin() as conn:
        complaint, _ = record_complaint(conn, _spec(), NOW)
    with pytest.raises(kind) as refused, worked.begin() as conn:
        resolve_complaint(
            conn, key or complaint.complaint_key, ComplaintResolution.UPHELD, on, None, "c", NOW
        )
    assert refused.value.field == field
    with worked.connect() as conn:
        assert list_complaints(conn)[0].status == "open"


# --------------------------------------------------------------------------- listing, purge


def test_list__filters_by_account_status_category_and_days_received(worked: sa.Engine) -> None:
    later = RECEIVED + timedelta(days=1)
    with worked.begin() as conn:
        first, _ = record_complaint(conn, _spec(key="L1"), NOW)
        record_complaint(conn, _spec("A3", key="L2", category=ComplaintCategory.CONDUCT), NOW)
        record_complaint(conn, _spec("A2", key="L3", attempt_ref=None, received_at=later), NOW)
        resolve_complaint(
            conn, first.complaint_key, ComplaintResolution.WITHDRAWN, later.date(), None, "c", NOW
        )
    with worked.connect() as conn:

        def keys(**filters: object) -> list[str]:
            return [c.key for c in list_complaints(conn, **filters)]  # type: ignore[arg-type]

        assert keys() == ["L3", "L2", "L1"]  # latest received first (L2 after L1 by key)
        assert keys(account_id="A3") == ["L2"]
        assert keys(status=ComplaintStatus.OPEN) == ["L3", "L2"]
        assert keys(category=ComplaintCategory.CONDUCT) == ["L2"]
        assert keys(received_from=later.date()) == ["L3"]
        assert keys(received_to=RECEIVED.date()) == ["L2", "L1"]
        assert keys(limit=1) == ["L3"]


def test_purge__a_complaint_outlives_the_attempt_it_is_about(worked: sa.Engine) -> None:
    with worked.begin() as conn:
        complaint, _ = record_complaint(conn, _spec(), NOW)
        purged = purge_expired(conn, date(2099, 1, 1))
    assert purged.attempts >= 2
    with worked.connect() as conn:
        [kept] = list_complaints(conn)
    assert kept.complaint_key == complaint.complaint_key
    assert kept.attempt_key is None and kept.case_key == complaint.case_key


# --------------------------------------------------------------------------- migration


def test_migration__0012_adds_the_complaints_table_to_a_store_with_contacts_and_removes_it(
    worked: sa.Engine,
) -> None:
    migrate_schema(worked, "0011", downgrade=True)
    assert "complaints" not in sa.inspect(worked).get_table_names()
    with worked.connect() as conn:  # the contact history before it is untouched
        assert conn.execute(sa.select(sa.func.count()).select_from(t.contact_attempts)).scalar()

    upgrade_schema(worked)

    inspector = sa.inspect(worked)
    assert "complaints" in inspector.get_table_names()
    [unique] = inspector.get_unique_constraints("complaints")
    assert unique["column_names"] == ["idempotency_key"]
    by_target = {fk["referred_table"]: fk for fk in inspector.get_foreign_keys("complaints")}
    assert set(by_target) == {"accounts", "cases", "contact_attempts"}
    assert by_target["contact_attempts"]["options"].get("ondelete") == "SET NULL"
    assert {i["name"] for i in inspector.get_indexes("complaints")} >= {
        "ix_complaints_account",
        "ix_complaints_received",
        "ix_complaints_status",
    }
    with worked.begin() as conn:  # and it takes complaints about the stored attempts
        complaint, _ = record_complaint(conn, _spec(), NOW)
    assert complaint.attempt_key is not None


# --------------------------------------------------------------------------- the report


def test_report__complaint_tables_from_the_store_count_what_was_recorded(
    worked: sa.Engine,
) -> None:
    """Two complaints about A1's call and one by web on A3, one of A1's resolved; A1's and
    A3's calls are the range's two contacts."""
    with worked.begin() as conn:
        first, _ = record_complaint(conn, _spec(key="R1"), NOW)
        record_complaint(conn, _spec(key="R2", category=ComplaintCategory.CONDUCT), NOW)
        record_complaint(
            conn,
            _spec("A3", key="R3", attempt_ref=None, channel=ComplaintChannel.WEB),
            NOW,
        )
        resolve_complaint(
            conn, first.complaint_key, ComplaintResolution.UPHELD, RECEIVED.date(), None, "c", NOW
        )
        record_complaint(  # outside the range: not counted
            conn, _spec(key="R4", received_at=RECEIVED - timedelta(days=40)), NOW
        )
        owners = dict(
            conn.execute(
                sa.select(t.accounts.c.account_id, t.cases.c.owner)
                .join(t.cases, t.cases.c.account_key == t.accounts.c.account_key)
                .where(t.cases.c.status == "open")
            ).all()
        )
        inputs = read_report_inputs(conn, RECEIVED.date() - timedelta(days=5), RECEIVED.date())

    report = build_report(inputs)

    by_category = report.tables["complaints_by_category"]
    assert by_category.select("category", "complaints", "open", "resolved").rows() == [
        ("contact_pressure", 2, 1, 1),  # R1 (resolved) and R3
        ("conduct", 1, 1, 0),
        ("(all)", 3, 2, 1),
    ]
    [total] = by_category.filter(pl.col("category") == "(all)").rows(named=True)
    assert total["complaints_per_1000_contacts"] == pytest.approx(1500.0)
    by_channel = {r["channel"]: r for r in report.tables["complaints_by_channel"].rows(named=True)}
    assert (by_channel["call"]["contacts"], by_channel["call"]["complaints"]) == (2, 2)
    assert by_channel["call"]["complaints_per_1000_contacts"] == pytest.approx(1000.0)
    assert (by_channel["web"]["contacts"], by_channel["web"]["complaints"]) == (0, 1)
    assert by_channel["web"]["complaints_per_1000_contacts"] is None
    by_owner = {
        r["owner"]: (r["contacts"], r["complaints"])
        for r in report.tables["complaints_by_owner"].rows(named=True)
    }
    contacts = Counter([owners["A1"], owners["A3"]])
    complaints = Counter([owners["A1"], owners["A1"], owners["A3"]])
    assert by_owner == {o: (contacts[o], complaints[o]) for o in contacts}
    page = render_html(report, "en")
    assert "3 complaints received in the range, 1,500.0 per 1,000 contacts; 2 still open." in page
    assert "contact pressure" in page


# --------------------------------------------------------------------------- command line


def test_cli__add_resolve_and_list(
    worked: sa.Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECOUP_DATABASE_URL", store_url(worked))
    args = ("complaint", "add", "A1", "--category", "conduct", "--channel", "call")
    at = ("--at", RECEIVED.isoformat(), "--attempt-ref", "call-A1", "--key", "C-1")
    words = ("--description", WORDS)
    assert main([*args, *at, *words, "--by", "C001"]) == 0
    added = capsys.readouterr().out
    key = int(re.search(r"complaint (\d+) recorded", added).group(1))  # type: ignore[union-attr]
    assert main([*args, *at, *words]) == 0
    assert "already recorded" in capsys.readouterr().out
    assert main([*args, *at]) == 2  # the same key for another complaint (no description)
    assert "--key: 'C-1' was used for another complaint" in capsys.readouterr().err

    assert main([*args, "--at", "2025-02-14T10:00"]) == 2
    assert "--at: '2025-02-14T10:00' has no UTC offset" in capsys.readouterr().err
    assert main([*args, "--attempt-ref", "nope"]) == 2
    assert "--attempt-ref: no contact attempt was recorded as 'nope'" in capsys.readouterr().err

    resolve = ("complaint", "resolve", str(key), "--resolution", "not_upheld", "--by", "comp")
    assert main([*resolve, "--on", RECEIVED.date().isoformat()]) == 0
    assert "resolved" in capsys.readouterr().out
    assert main([*resolve, "--on", "2020-01-01"]) == 2
    assert "--on: " in capsys.readouterr().err

    assert main(["complaint", "list", "A1", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["key"], listed["status"], listed["resolution"]) == (
        "C-1",
        "resolved",
        "not_upheld",
    )
    assert listed["description"] == WORDS and listed["created_by"] == "C001"
    assert main(["complaint", "list", "--status", "open"]) == 0
    assert capsys.readouterr().out.strip() == "no complaints"


def test_cli__the_choices_are_the_services_vocabulary() -> None:
    from recoup.cli import complaints as cli

    assert tuple(c.value for c in ComplaintCategory) == cli.CATEGORIES
    assert tuple(c.value for c in ComplaintChannel) == cli.CHANNELS
    assert tuple(s.value for s in ComplaintStatus) == cli.STATUSES
    assert tuple(r.value for r in ComplaintResolution) == cli.RESOLUTIONS

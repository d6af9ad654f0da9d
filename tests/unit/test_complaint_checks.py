"""The pure part of complaints: the key made for a complaint without one, and the checks
that need no store."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone

from recoup.contact.complaints import (
    ComplaintCategory,
    ComplaintChannel,
    ComplaintSpec,
    check_complaint,
    check_resolution,
)

NOW = datetime(2026, 3, 5, 12, tzinfo=UTC)
SPEC = ComplaintSpec(
    account_id="A1",
    received_at=datetime(2026, 3, 5, 9, tzinfo=timezone(timedelta(hours=8))),
    channel=ComplaintChannel.CALL,
    category=ComplaintCategory.CONTACT_PRESSURE,
    created_by="C001",
    description="too many calls",
)


def test_idempotency_key__the_same_complaint_gets_the_same_key_whoever_records_it() -> None:
    same_instant = dataclasses.replace(SPEC, received_at=SPEC.received_at.astimezone(UTC))
    assert SPEC.idempotency_key() == same_instant.idempotency_key()
    assert SPEC.idempotency_key() == dataclasses.replace(SPEC, created_by="T01").idempotency_key()
    assert SPEC.idempotency_key().startswith("auto-")


def test_idempotency_key__what_the_complaint_says_makes_another_key() -> None:
    others = [
        dataclasses.replace(SPEC, description="rude collector"),
        dataclasses.replace(SPEC, category=ComplaintCategory.CONDUCT),
        dataclasses.replace(SPEC, channel=ComplaintChannel.SMS),
        dataclasses.replace(SPEC, attempt_key=7),
        dataclasses.replace(SPEC, account_id="A2"),
        dataclasses.replace(SPEC, received_at=SPEC.received_at + timedelta(minutes=1)),
    ]
    keys = {SPEC.idempotency_key(), *(o.idempotency_key() for o in others)}
    assert len(keys) == len(others) + 1
    assert dataclasses.replace(SPEC, key="K-9").idempotency_key() == "K-9"


def test_check_complaint__a_complaint_received_now_passes_one_from_the_future_does_not() -> None:
    assert check_complaint(SPEC, NOW) is None
    assert check_complaint(dataclasses.replace(SPEC, received_at=NOW), NOW) is None
    late = check_complaint(dataclasses.replace(SPEC, received_at=NOW + timedelta(seconds=1)), NOW)
    assert late is not None and late.field == "received_at"
    # a tab and a newline are text; other control characters are not
    assert check_complaint(dataclasses.replace(SPEC, description="a\tb\nc"), NOW) is None
    bell = check_complaint(dataclasses.replace(SPEC, description="a\x07"), NOW)
    assert bell is not None and bell.field == "description"
    long_key = check_complaint(dataclasses.replace(SPEC, key="k" * 129), NOW)
    assert long_key is not None and long_key.field == "key"


def test_check_resolution__from_the_utc_day_received_up_to_today() -> None:
    received = datetime(2026, 3, 5, 1, tzinfo=timezone(timedelta(hours=8)))  # 4 March in UTC
    today = date(2026, 3, 10)
    assert check_resolution(received, date(2026, 3, 4), None, today) is None
    assert check_resolution(received, today, None, today) is None
    early = check_resolution(received, date(2026, 3, 3), None, today)
    assert early is not None and early.field == "resolved_on" and "2026-03-04" in str(early)
    late = check_resolution(received, date(2026, 3, 11), None, today)
    assert late is not None and late.field == "resolved_on"
    note = check_resolution(received, today, "x" * 2001, today)
    assert note is not None and note.field == "resolution_note"

"""Complaint measures on a small hand-made portfolio whose counts are worked out below.

Three cases in March 2024 (Shanghai time, UTC+8):

- case 1: collector C1 from 1 March;
- case 2: agency AG1 from 1 March, recalled on 10 March (no owner), then collector C2 from
  12 March;
- case 3: never allocated.

Contacts (10): case 1 has 4 calls and 1 SMS; case 2 has 2 calls on 5 March (AG1), 1 call
on 11 March (nobody holds it) and 1 call on 12 March (C2); case 3 has 1 SMS.

Complaints (6):

==  =======  ==================================  ================  ========  ==========
#   case     received (UTC -> Shanghai day)      category          channel   status
==  =======  ==================================  ================  ========  ==========
1   1        3 Mar 02:00 -> 3 Mar                contact_pressure  call      open
2   1        3 Mar 20:00 -> 4 Mar                contact_pressure  sms       resolved
3   2        5 Mar 03:00 -> 5 Mar (AG1)          conduct           call      open
4   2        11 Mar 15:00 -> 11 Mar (nobody)     contact_pressure  regulator open
5   2        11 Mar 17:00 -> 12 Mar (C2)         amount_disputed   web       resolved
6   none     6 Mar 01:00 -> 6 Mar                data_privacy      web       open
==  =======  ==================================  ================  ========  ==========

So: 6 complaints, 600 per 1,000 contacts; contact_pressure 3 (2 open), call 2 of 8 calls,
sms 1 of 2; C1 2 complaints on 5 contacts (400), AG1 1 on 2 (500), C2 1 on 1 (1,000).
Complaint 5 is received at 17:00 UTC on the 11th, 01:00 on the 12th in Shanghai: it counts
for C2, not for the gap after the recall; in UTC it would have gone to nobody.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from recoup.analytics.performance import (
    ALL_CATEGORIES,
    ALL_CHANNELS,
    complaints_by_category,
    complaints_by_channel,
    complaints_by_owner,
)


def _at(day: int, hour: int) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


ALLOCATIONS = pl.DataFrame(
    [
        (1, date(2024, 3, 1), "C1", "collector"),
        (2, date(2024, 3, 1), "AG1", "agency"),
        (2, date(2024, 3, 10), None, None),
        (2, date(2024, 3, 12), "C2", "collector"),
    ],
    schema={"case_key": pl.Int64, "as_of": pl.Date, "owner": pl.String, "owner_kind": pl.String},
    orient="row",
)
ATTEMPTS = pl.DataFrame(
    [
        *[("call", _at(2, 2), 1)] * 4,
        ("sms", _at(2, 1), 1),
        *[("call", _at(5, 2), 2)] * 2,
        ("call", _at(11, 2), 2),
        ("call", _at(12, 2), 2),
        ("sms", _at(6, 1), 3),
    ],
    schema={"channel": pl.String, "at": pl.Datetime("us", "UTC"), "case_key": pl.Int64},
    orient="row",
)
COMPLAINTS = pl.DataFrame(
    [
        (1, _at(3, 2), "contact_pressure", "call", "open"),
        (1, _at(3, 20), "contact_pressure", "sms", "resolved"),
        (2, _at(5, 3), "conduct", "call", "open"),
        (2, _at(11, 15), "contact_pressure", "regulator", "open"),
        (2, _at(11, 17), "amount_disputed", "web", "resolved"),
        (None, _at(6, 1), "data_privacy", "web", "open"),
    ],
    schema={
        "case_key": pl.Int64,
        "received_at": pl.Datetime("us", "UTC"),
        "category": pl.String,
        "channel": pl.String,
        "status": pl.String,
    },
    orient="row",
)


def test_complaints_by_category__counts_open_and_resolved_per_1000_contacts() -> None:
    table = complaints_by_category(COMPLAINTS, ATTEMPTS.height)

    assert table.rows() == [
        ("contact_pressure", 3, 2, 1, 300.0),
        ("amount_disputed", 1, 0, 1, 100.0),  # ties by name
        ("conduct", 1, 1, 0, 100.0),
        ("data_privacy", 1, 1, 0, 100.0),
        (ALL_CATEGORIES, 6, 4, 2, 600.0),
    ]


def test_complaints_by_category__without_contacts_there_is_no_rate() -> None:
    table = complaints_by_category(COMPLAINTS.head(1), 0)

    assert table.get_column("complaints_per_1000_contacts").to_list() == [None, None]
    empty = complaints_by_category(COMPLAINTS.clear(), 0)
    assert empty.rows() == [(ALL_CATEGORIES, 0, 0, 0, None)]


def test_complaints_by_channel__per_1000_contacts_of_the_channel_and_none_for_other_ways() -> None:
    table = complaints_by_channel(COMPLAINTS, ATTEMPTS)

    assert table.rows() == [
        ("call", 8, 2, 250.0),
        ("web", 0, 2, None),  # no contact is made by web: no rate
        ("sms", 2, 1, 500.0),
        ("regulator", 0, 1, None),
        (ALL_CHANNELS, 10, 6, 600.0),
    ]


def test_complaints_by_owner__who_held_the_case_on_the_local_day_received() -> None:
    table = complaints_by_owner(COMPLAINTS, ATTEMPTS, ALLOCATIONS, "Asia/Shanghai")

    assert table.rows() == [
        ("collector", "C1", 5, 2, 400.0),
        ("collector", "C2", 1, 1, 1000.0),  # complaint 5: the 12th in Shanghai
        ("agency", "AG1", 2, 1, 500.0),
    ]


def test_complaints_by_owner__read_in_utc_a_late_complaint_falls_in_the_gap_of_a_recall() -> None:
    table = complaints_by_owner(COMPLAINTS, ATTEMPTS, ALLOCATIONS, "UTC")

    owners = {r["owner"]: r["complaints"] for r in table.rows(named=True)}
    assert owners == {"C1": 2, "AG1": 1, "C2": 0}


def test_complaints_by_owner__no_allocation_gives_an_empty_table() -> None:
    table = complaints_by_owner(COMPLAINTS, ATTEMPTS, ALLOCATIONS.clear(), "Asia/Shanghai")

    assert table.height == 0
    assert table.columns == [
        "owner_kind",
        "owner",
        "contacts",
        "complaints",
        "complaints_per_1000_contacts",
    ]

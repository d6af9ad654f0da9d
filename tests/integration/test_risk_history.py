"""The risk history read from a real store (SQLite and PostgreSQL): a simulated portfolio
imported as it would arrive (payments through D before D is closed, later ones and one
backdated payment after), closed, and read back; features and targets on it.

Reading the history through D and computing the features as of D gives the same frame as
reading everything and computing as of D: the edge and the core agree on what was known.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from recoup.close import close_through
from recoup.importer import import_directory
from recoup.risk.features import FEATURES, History, features_as_of
from recoup.risk.targets import (
    TargetKind,
    collection_target,
    early_warning_target,
    training_snapshots,
)
from recoup.scoring.history import read_history
from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.store import tables as t
from recoup.store.bulk import read_frame

SINCE = date(2024, 1, 1)
D = date(2025, 9, 30)
AS_OF = date(2025, 12, 31)
CONTACTED = 7  # the account that gets a case, promises and contact attempts
BACKDATED = 12  # the account paying on Sep 20 a payment posted after Sep 30 was closed


def _evening(day: date) -> datetime:
    return datetime.combine(day, time(20), UTC)


@pytest.fixture
def book(store: sa.Engine, tmp_path: Path) -> sa.Engine:
    portfolio = simulate_portfolio(300, 11, AS_OF)
    first = tmp_path / "first"
    write_portfolio(portfolio, first)
    paid_on = pl.col("paid_on")
    portfolio.payments.filter(paid_on <= D).write_csv(first / "payments.csv")
    import_directory(store, first, show_progress=False, now=_evening(D))
    close_through(store, D)
    later = tmp_path / "later"
    later.mkdir()
    backdated = pl.DataFrame(
        {"payment_id": ["LATE1"], "account_id": [f"A{BACKDATED:07d}"], "amount": ["123.45"],
         "paid_on": [date(2025, 9, 20)], "reverses": [None]},
        schema=portfolio.payments.schema,
    )  # fmt: skip
    pl.concat([portfolio.payments.filter(paid_on > D), backdated]).write_csv(later / "payments.csv")
    import_directory(store, later, show_progress=False, now=_evening(AS_OF))
    close_through(store, AS_OF)
    _contact_history(store)
    return store


def _contact_history(store: sa.Engine) -> None:
    """A case on one account, two promises (one decided after D) and three calls around
    the end of D (UTC)."""
    with store.begin() as conn:
        borrower = conn.execute(
            sa.select(t.accounts.c.borrower_key).where(t.accounts.c.account_key == CONTACTED)
        ).scalar_one()
        case = conn.execute(
            t.cases.insert()
            .values(
                account_key=CONTACTED,
                opened_on=date(2025, 8, 20),
                opened_because="delinquent",
                status="open",
            )
            .returning(t.cases.c.case_key)
        ).scalar_one()
        promise = {"case_key": case, "account_key": CONTACTED, "amount_cents": 50_000}
        conn.execute(
            t.promises.insert(),
            [
                promise | {"made_on": date(2025, 9, 1), "promised_for": date(2025, 9, 20),
                           "grace_days": 2, "status": "broken", "paid_cents": 0,
                           "resolved_on": date(2025, 9, 23)},
                promise | {"made_on": date(2025, 9, 10), "promised_for": date(2025, 10, 3),
                           "grace_days": 2, "status": "kept", "paid_cents": 50_000,
                           "resolved_on": date(2025, 10, 5)},
            ],
        )  # fmt: skip
        calls = [
            (datetime(2025, 9, 15, 10, 0, tzinfo=UTC), "promise_to_pay"),
            (datetime(2025, 9, 30, 23, 30, tzinfo=UTC), "right_party_contact"),
            (datetime(2025, 10, 1, 0, 0, tzinfo=UTC), "refusal"),  # the day after D, UTC
        ]
        conn.execute(
            t.contact_attempts.insert(),
            [
                {"idempotency_key": f"risk-{n}", "account_key": CONTACTED,
                 "borrower_key": borrower, "case_key": case, "channel": "call", "party": "self",
                 "to_value": "+8613800000000", "at": at, "outcome": outcome,
                 "recorded_at": at}
                for n, (at, outcome) in enumerate(calls)
            ],
        )  # fmt: skip


def _stored_states_on(conn: sa.Connection, day: date) -> pl.DataFrame:
    s = t.account_states
    return read_frame(
        conn,
        sa.select(s.c.account_key, s.c.dpd).where(s.c.as_of == day),
        {"account_key": pl.Int64, "dpd_now": pl.Int64},
    )


def test_risk_history__features_as_of_d_are_the_same_read_through_d_or_through_today(
    book: sa.Engine,
) -> None:
    with book.connect() as conn:
        everything = read_history(conn, SINCE, AS_OF)
        through_d = read_history(conn, SINCE, D)
        opened_by_d = conn.execute(
            sa.select(sa.func.count()).where(t.accounts.c.opened_on <= D)
        ).scalar_one()
        states_at_d = _stored_states_on(conn, D)
    assert (everything.until, through_d.until) == (AS_OF, D)
    # What was learnt after D is not in the history read through D.
    assert through_d.payments.get_column("known_on").max() == D
    late = everything.payments.filter(
        pl.col("amount_cents") == 12_345, pl.col("account_key") == BACKDATED
    )
    assert late.select("paid_on", "known_on").row(0) == (date(2025, 9, 20), date(2025, 10, 1))
    assert (
        through_d.payments.filter(
            pl.col("amount_cents") == 12_345, pl.col("account_key") == BACKDATED
        ).height
        == 0
    )
    assert (
        through_d.promises.filter(pl.col("made_on") == date(2025, 9, 10)).row(0, named=True)[
            "status"
        ]
        == "open"
    )

    features = features_as_of(everything, D)
    assert_frame_equal(features, features_as_of(through_d, D))
    assert features.columns == ["account_key", *FEATURES]
    assert features.height == opened_by_d == 300 - _opened_after(everything, D)
    # Every account with a state has a row, and its DPD now is the stored one.
    assert_frame_equal(
        features.join(states_at_d, on="account_key", how="semi").select("account_key", "dpd_now"),
        states_at_d.sort("account_key"),
    )
    assert features.select(pl.col("dpd_now").gt(0).sum()).item() > 0
    assert features.select(pl.col("days_since_payment").lt(40).sum()).item() > 100

    contacted = features.filter(pl.col("account_key") == CONTACTED).row(0, named=True)
    assert {name: contacted[name] for name in (
        "promises_made_12m", "promises_broken_12m", "promises_open_now", "attempts_30d",
        "rpc_rate_30d", "days_since_rpc",
    )} == {
        "promises_made_12m": 2, "promises_broken_12m": 1, "promises_open_now": 1,
        "attempts_30d": 2, "rpc_rate_30d": 1.0, "days_since_rpc": 0,
    }  # fmt: skip


def _opened_after(history: History, day: date) -> int:
    return history.accounts.filter(pl.col("opened_on") > day).height


def test_risk_history__reads_only_the_accounts_asked_for(book: sa.Engine) -> None:
    keys = [3, 7, 50, 120, 299]
    with book.connect() as conn:
        some = read_history(conn, SINCE, AS_OF, accounts=keys)
        everything = read_history(conn, SINCE, AS_OF)
        later_than_closed = read_history(conn, SINCE, date(2026, 3, 1))
    assert set(some.states.get_column("account_key").unique()) <= set(keys)
    assert later_than_closed.until == AS_OF  # nothing past the last closed day
    expected = features_as_of(everything, D).filter(pl.col("account_key").is_in(keys))
    assert_frame_equal(features_as_of(some, D), expected)


def test_risk_history__targets_on_the_stored_history(book: sa.Engine) -> None:
    with book.connect() as conn:
        history = read_history(conn, SINCE, AS_OF)
    standing = features_as_of(history, D).select("account_key", "dpd_now")

    collection = collection_target(history, D)
    delinquent = standing.filter(pl.col("dpd_now") > 0).get_column("account_key")
    assert collection.get_column("account_key").to_list() == delinquent.to_list()
    assert set(collection.get_column("target").unique()) <= {0, 1}
    assert collection.get_column("horizon_end").unique().to_list() == [date(2025, 10, 30)]

    early = early_warning_target(history, D)
    current = set(standing.filter(pl.col("dpd_now") == 0).get_column("account_key"))
    assert early.height > 50 and set(early.get_column("account_key")) <= current
    assert set(early.get_column("target").unique()) <= {0, 1}
    assert early.get_column("horizon_end").max() <= AS_OF
    # A bad early-warning account is past due at the horizon's end in the stored history.
    bad = early.filter(pl.col("target") == 1)
    if bad.height:
        with book.connect() as conn:
            row = bad.row(0, named=True)
            dpd = conn.execute(
                sa.select(t.bucket_moves.c.dpd)
                .where(
                    t.bucket_moves.c.account_key == row["account_key"],
                    t.bucket_moves.c.moved_on <= row["horizon_end"],
                )
                .order_by(t.bucket_moves.c.moved_on.desc())
                .limit(1)
            ).scalar_one()
        assert dpd > 0

    assert training_snapshots(history, AS_OF, 3, TargetKind.COLLECTION) == [
        date(2025, 9, 30), date(2025, 10, 31), date(2025, 11, 30),
    ]  # fmt: skip

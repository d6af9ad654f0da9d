"""A champion/challenger test's results read from a real store (SQLite and PostgreSQL):
the complaints received on each case while it was in the test, per arm and against the
champion, as the command line and the strategy page show them.

The store is hand-made: four accounts in the shipped test ``m1-call-timing``, A1 and A2 in
the champion arm, A3 and A4 in the challenger; each case opened on 1 March 2025 and entered
the test with its first action on 3 March; A4's case closed cured on 6 March. A5 has a case
outside the test. The results are read through 15 March.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from recoup.cli.main import main
from recoup.collection.queries import test_outcomes as read_outcomes
from recoup.contact.complaints import (
    ComplaintCategory,
    ComplaintChannel,
    ComplaintSpec,
    record_complaints,
)
from recoup.store import tables as t
from recoup.strategy import compare_arms, load_default_strategy, rate_difference_interval
from recoup.web.app import create_app
from recoup.web.page_data import strategy_story
from recoup.web.settings import settings_from_env
from recoup.web.users import add_user, issue_token
from tests.integration.conftest import store_url

TEST_ID = "m1-call-timing"
OPENED = date(2025, 3, 1)
ENTERED = date(2025, 3, 3)  # the first action under the test
AS_OF = date(2025, 3, 15)
NOW = datetime(2025, 4, 1, tzinfo=UTC)
ARMS = {"A1": "champion", "A2": "champion", "A3": "challenger", "A4": "challenger"}


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def _complain(store: sa.Engine, account_id: str, received_at: datetime) -> None:
    spec = ComplaintSpec(
        account_id,
        received_at,
        ComplaintChannel.CALL,
        ComplaintCategory.CONTACT_PRESSURE,
        created_by="C001",
    )
    with store.begin() as conn:
        record_complaints(conn, [spec], NOW)


@pytest.fixture
def tested(store: sa.Engine) -> sa.Engine:
    strategy = load_default_strategy()
    with store.begin() as conn:
        run_id = conn.execute(
            t.collection_runs.insert()
            .values(
                kind="strategy",
                as_of=ENTERED,
                strategy_id=strategy.id,
                strategy_version=strategy.version,
                started_at=datetime(2025, 3, 3, 1, tzinfo=UTC),
            )
            .returning(t.collection_runs.c.run_id)
        ).scalar_one()
        for key in range(1, 6):
            account_id = f"A{key}"
            conn.execute(
                t.borrowers.insert().values(borrower_key=key, borrower_id=f"B{key}", name="Li")
            )
            conn.execute(
                t.accounts.insert().values(
                    account_key=key,
                    account_id=account_id,
                    borrower_key=key,
                    currency="CNY",
                    opened_on=date(2024, 9, 1),
                )
            )
            conn.execute(
                t.cases.insert().values(
                    case_key=key,
                    account_key=key,
                    opened_on=OPENED,
                    opened_because="delinquent",
                    status="open",
                )
            )
            days = [ENTERED] if key != 3 else [ENTERED, date(2025, 3, 5)]
            for day in days:
                conn.execute(
                    t.actions.insert().values(
                        case_key=key,
                        account_key=key,
                        planned_for=day,
                        strategy_id=strategy.id,
                        strategy_version=strategy.version,
                        segment="m1",
                        path="m1-standard",
                        step=f"call-{day.day}",
                        channel="call",
                        template="t_call",
                        window_start="09:00",
                        window_end="20:00",
                        priority=60,
                        test_id=TEST_ID if account_id in ARMS else None,
                        arm=ARMS.get(account_id),
                        reason="hand-made",
                        status="allowed",
                        run_id=run_id,
                    )
                )
    _complain(store, "A1", _at(2))  # before A1's case entered the test: not counted
    _complain(store, "A3", _at(4))
    _complain(store, "A3", _at(10))
    _complain(store, "A3", _at(20))  # after the results' day: not counted
    _complain(store, "A4", _at(5))
    _complain(store, "A5", _at(5))  # a case outside the test
    with store.begin() as conn:
        conn.execute(
            t.cases.update()
            .where(t.cases.c.case_key == 4)
            .values(status="closed", closed_on=date(2025, 3, 6), closed_because="cured")
        )
    _complain(store, "A4", _at(7))  # after A4's case closed: on no case
    return store


def test_strategy_results__complaints_are_counted_per_case_within_its_time_in_the_test(
    tested: sa.Engine,
) -> None:
    with tested.connect() as conn:
        outcomes = read_outcomes(conn, TEST_ID, AS_OF)
    assert outcomes.select("case_key", "arm", "complaints").rows() == [
        (1, "champion", 0),
        (2, "champion", 0),
        (3, "challenger", 2),
        (4, "challenger", 1),
    ]
    assert outcomes.schema["complaints"] == pl.Int64


def test_strategy_results__the_challenger_s_complaints_stand_next_to_the_champion_s(
    tested: sa.Engine,
) -> None:
    test = load_default_strategy().tests[0]
    with tested.connect() as conn:
        results = compare_arms(read_outcomes(conn, TEST_ID, AS_OF), test)
    champion, challenger = results.arms
    # None recorded on the champion's cases: zero, not unknown.
    assert (champion.complaints, champion.complaints_per_1000_cases) == (0, 0.0)
    assert (challenger.complaints, challenger.complaints_per_1000_cases) == (3, 1500.0)
    assert champion.complaints_interval is not None and champion.complaints_interval.low == 0.0
    [versus] = results.comparisons
    assert versus.complaints_difference_per_1000 == 1500.0
    expected = rate_difference_interval((0, 2), (3, 2))
    interval = versus.complaints_difference_interval
    assert interval is not None
    assert (interval.low, interval.high) == pytest.approx(
        (1000 * expected.low, 1000 * expected.high)
    )
    assert not versus.complaints_significant  # two cases an arm prove nothing


def test_strategy_results__a_test_without_complaints_counts_zero(store: sa.Engine) -> None:
    # No action under the test yet: no case, so no complaint figures at all.
    test = load_default_strategy().tests[0]
    with store.connect() as conn:
        outcomes = read_outcomes(conn, TEST_ID, AS_OF)
    assert outcomes.is_empty() and "complaints" in outcomes.columns
    results = compare_arms(outcomes, test)
    assert [arm.complaints for arm in results.arms] == [None, None]
    assert results.comparisons[0].complaints_difference_per_1000 is None


def test_strategy_results__the_strategy_page_shows_complaints_per_arm_and_their_difference(
    tested: sa.Engine,
) -> None:
    with tested.connect() as conn:
        story = strategy_story(conn, AS_OF)
    [test] = story["tests"]
    arms = {arm["arm"]: arm for arm in test["arms"]}
    assert (arms["champion"]["complaints"], arms["champion"]["complaints_per_1000"]) == (0, "0.0")
    assert (arms["challenger"]["complaints"], arms["challenger"]["complaints_per_1000"]) == (
        3,
        "1500.0",
    )
    [versus] = test["comparisons"]
    assert versus["complaints_difference"].startswith("+1500.0 [")
    assert versus["complaints_significant"] is False


def test_strategy_results__a_strategy_manager_reads_the_complaints_on_the_strategy_page(
    tested: sa.Engine,
) -> None:
    with tested.begin() as conn:
        user = add_user(conn, "strat", "correct horse battery", "strategy_manager")
        session = issue_token(conn, user, "session", datetime.now(UTC))
    client = TestClient(create_app(tested, settings_from_env({})), raise_server_exceptions=False)
    client.cookies.set("recoup_session", session.token)
    page = client.get("/strategy")
    assert page.status_code == 200, page.text
    # No day is closed in this store, so the page reads through today: the complaint of
    # 20 March counts too (four on the challenger's two cases).
    assert "Complaints per 1,000 cases" in page.text
    assert "2000.0" in page.text
    assert "Complaints per 1,000 cases +2000.0 [" in page.text


def test_strategy_results__the_command_line_prints_complaints_per_arm(
    tested: sa.Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECOUP_DATABASE_URL", store_url(tested))
    # No day is closed in this store, so the command reads through today: the complaint
    # of 20 March now counts too.
    assert main(["strategy", "results", TEST_ID, "--json"]) == 0
    arms = {arm["arm"]: arm for arm in json.loads(capsys.readouterr().out)["arms"]}
    assert (arms["champion"]["complaints"], arms["challenger"]["complaints"]) == (0, 4)
    assert main(["strategy", "results", TEST_ID]) == 0
    text = capsys.readouterr().out
    assert "complaints 0 (0.0 per 1,000 cases)" in text
    assert "complaints 4 (2000.0 per 1,000 cases)" in text
    assert "challenger vs champion: complaints per 1,000 cases +2000.0 [" in text

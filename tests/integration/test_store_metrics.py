"""/metrics reports the batch and the day's contacts from the store: after a daily cycle on
a real store, every step's duration, the last closed day, messages sent today by channel and
the gate's refusals by rule, cached between scrapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from recoup.collection.cycle import STEPS
from recoup.compliance import Channel, Party, shipped_profile
from recoup.contact.gatekeeping import judge_manual_contact
from recoup.store import tables as t
from recoup.web.app import create_app
from recoup.web.settings import settings_from_env
from recoup.web.store_metrics import StoreCollector, blocked_rules, read_store_figures
from tests.integration.test_collection import book  # noqa: F401  (fixture)
from tests.integration.test_cycle import DAY, _cycle


def test_blocked_rules__a_refusal_counts_once_for_each_rule_it_broke() -> None:
    stored = [
        json.dumps([{"rule": "CN-HOURS", "message": "m"}, {"rule": "CN-ATTEMPTS", "message": "m"}]),
        json.dumps(
            [{"rule": "CN-HOURS", "message": "m"}, {"rule": "CN-HOURS", "message": "again"}]
        ),
    ]
    assert blocked_rules(stored) == {"CN-HOURS": 2, "CN-ATTEMPTS": 1}


def test_store_metrics__steps_last_day_sent_and_blocked_after_a_daily_cycle(
    book: sa.Engine,  # noqa: F811
) -> None:
    _cycle(book)
    now = datetime.now(UTC)
    m, d = t.messages, t.contact_decisions
    with book.begin() as conn:
        # Calls at 3 in the morning, Beijing time: refused (quiet hours), decided now.
        night = datetime(2026, 3, 4, 19, 0, tzinfo=UTC)
        for account_id in ("A1", "A3"):
            judged = judge_manual_contact(
                conn, account_id, Channel.CALL, Party.SELF, None, night, shipped_profile("cn"), now
            )
            assert judged["allowed"] is False
        queued = conn.execute(sa.select(m.c.message_key, m.c.channel).limit(2)).all()
        assert len(queued) == 2
        conn.execute(
            m.update()
            .where(m.c.message_key.in_([k for k, _ in queued]))
            .values(status="sent", send_at=now)
        )
        # A refusal decided yesterday is not today's.
        old = conn.execute(
            sa.select(d.c.decision_key).where(d.c.allowed == 0).limit(1)
        ).scalar_one_or_none()
        refused_today = conn.execute(
            sa.select(d.c.violations).where(d.c.allowed == 0, d.c.decision_key != (old or -1))
        ).scalars()
        expected_rules: dict[str, int] = {}
        for text in refused_today:
            for rule in {v["rule"] for v in json.loads(text)}:
                expected_rules[rule] = expected_rules.get(rule, 0) + 1
        if old is not None:
            conn.execute(
                d.update().where(d.c.decision_key == old).values(decided_at=now - timedelta(days=1))
            )

    assert expected_rules, "the cycle refused no contact: nothing to count"
    figures = read_store_figures(book, now)

    finished_steps = set(figures.step_seconds) - {"ledger_close"}
    assert finished_steps <= set(STEPS) and {"close", "strategy", "allocate"} <= finished_steps
    assert "ledger_close" in figures.step_seconds
    assert all(seconds >= 0 for seconds in figures.step_seconds.values())
    assert all(abs(at - now.timestamp()) < 600 for at in figures.step_finished.values())
    assert figures.last_closed_day == DAY
    sent: dict[str, int] = {}
    for _, channel in queued:
        sent[channel] = sent.get(channel, 0) + 1
    assert figures.sent_by_channel == sent
    assert figures.blocked_by_rule == expected_rules

    client = TestClient(create_app(book, settings_from_env({})))
    text = client.get("/metrics").text
    assert 'recoup_batch_step_seconds{step="close"}' in text
    assert 'recoup_batch_step_finished_timestamp_seconds{step="ledger_close"}' in text
    assert "recoup_ledger_last_closed_day_timestamp_seconds " in text
    for channel, count in sent.items():
        assert f'recoup_contacts_sent{{channel="{channel}"}} {float(count)}' in text


def test_store_metrics__cached_for_the_ttl_then_read_again(book: sa.Engine) -> None:  # noqa: F811
    _cycle(book)
    now = datetime.now(UTC)
    ticks = [0.0]
    collector = StoreCollector(book, ttl=30, clock=lambda: ticks[0], now=lambda: now)
    m = t.messages
    first = collector.figures()
    assert first is not None and first.sent_by_channel == {}
    with book.begin() as conn:
        key, channel = conn.execute(sa.select(m.c.message_key, m.c.channel).limit(1)).one()
        conn.execute(m.update().where(m.c.message_key == key).values(status="sent", send_at=now))
    ticks[0] = 29.0
    assert collector.figures() is first  # within the TTL: the store is not read again
    ticks[0] = 31.0
    again = collector.figures()
    assert again is not None and again.sent_by_channel == {channel: 1}

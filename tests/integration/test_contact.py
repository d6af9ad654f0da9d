"""Contact on a real store: the gate's word on the strategy's actions, outcomes recorded
through the one service, the outbox sending each message once, and retention.

The book is the three hand-made accounts of ``test_collection`` (A1 and A3 never pay, A2
pays on time); their borrowers have one mobile number each and no postal address.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from recoup.close import close_through
from recoup.collection.daily import run_daily_strategy
from recoup.compliance import Channel, Outcome, Party, load_profile, shipped_profile
from recoup.contact.flags import change_flags, contact_story
from recoup.contact.gatekeeping import NO_CONTACT_POINT, judge_manual_contact
from recoup.contact.message import OutboundMessage, SendResult
from recoup.contact.outbox import dispatch, queue_day_messages, record_delivery, record_inbound
from recoup.contact.outcomes import OutcomeReport, record_outcomes
from recoup.contact.records import purge_expired
from recoup.contact.templates import TemplateSet
from recoup.store import tables as t
from recoup.strategy import load_default_strategy
from tests.integration.test_collection import FIRST_DUE, book  # noqa: F401  (fixture)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = FIRST_DUE + timedelta(days=3)  # both defaulting accounts are on day 3: a call is due
CN = shipped_profile("cn")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _phone(account: int) -> str:
    return f"+86138{account:08d}"


def _run(store: sa.Engine, day: date = DAY, profile: object = None) -> None:
    close_through(store, day)
    run_daily_strategy(store, load_default_strategy(), day, profile or CN)  # type: ignore[arg-type]


def _actions(store: sa.Engine, day: date = DAY) -> list[dict[str, object]]:
    ac, a = t.actions, t.accounts
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(a.c.account_id, ac)
            .join(a, a.c.account_key == ac.c.account_key)
            .where(ac.c.planned_for == day)
            .order_by(ac.c.action_key)
        ).mappings()
        return [dict(r) for r in rows]


def _decision(store: sa.Engine, key: object) -> dict[str, object]:
    d = t.contact_decisions
    with store.connect() as conn:
        row = conn.execute(sa.select(d).where(d.c.decision_key == key)).mappings().one()
        return dict(row)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_strategy_run__every_planned_action_gets_the_gates_word_and_a_stored_decision(
    book: sa.Engine,  # noqa: F811
) -> None:
    _run(book)
    actions = _actions(book)
    assert actions, "the default strategy plans actions on day 3"
    with book.connect() as conn:
        summary = json.loads(
            conn.execute(
                sa.select(t.collection_runs.c.summary).order_by(t.collection_runs.c.run_id.desc())
            )
            .scalars()
            .first()
        )
    unsendable = sum(a["channel"] in {"letter", "field_visit"} for a in actions)
    assert summary["gate"]["rules"].get(NO_CONTACT_POINT, 0) == unsendable
    assert {a["status"] for a in actions} <= {"allowed", "blocked", "rescheduled"}
    for action in actions:
        if action["channel"] in {"letter", "field_visit"}:
            # No postal address on file: nothing can be sent, and no policy was asked.
            assert action["status"] == "blocked" and action["decision_key"] is None
            continue
        decision = _decision(book, action["decision_key"])
        assert decision["source"] == "strategy"
        assert decision["profile"] == "cn" and decision["profile_version"] == CN.version
        assert decision["to_value"] == _phone(int(str(action["account_id"])[1:]))
        assert bool(decision["allowed"]) == (action["status"] == "allowed")
        # Carried out the day after the run, at the window's start in Shanghai, inside CN-HOURS.
        planned = _utc(action["planned_at"]).astimezone(SHANGHAI)  # type: ignore[arg-type]
        assert planned.date() == DAY + timedelta(days=1)
        assert planned.time().isoformat() == f"{action['window_start']}:00"
        assert action["status"] == "allowed"


def test_strategy_run__a_dispute_hold_blocks_the_days_actions_with_its_rule(
    book: sa.Engine,  # noqa: F811
) -> None:
    _run(book)
    with book.begin() as conn:
        change_flags(conn, "A1", ["dispute"], [], "compliance", "disputed in writing", NOW)
    _run(book)  # the same day again: planned again, judged again
    actions = {a["account_id"]: a for a in _actions(book) if a["channel"] == "call"}
    assert actions["A1"]["status"] == "blocked"
    violations = json.loads(str(_decision(book, actions["A1"]["decision_key"])["violations"]))
    assert [v["rule"] for v in violations] == ["CN-LETTER"]
    assert actions["A3"]["status"] == "allowed"  # A3's borrower has no hold
    with book.begin() as conn:
        change_flags(conn, "A1", [], ["dispute"], "compliance", "verified", NOW)
        assert contact_story(conn, "A1")["flags"] == []


def test_strategy_run__an_action_before_the_permitted_hours_is_rescheduled_to_their_start(
    book: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    text = CN.text.replace('start: "08:00"', 'start: "10:00"', 1)
    assert text != CN.text
    later_hours = tmp_path / "cn-late.yaml"
    later_hours.write_text(text, encoding="utf-8")
    _run(book, profile=load_profile(later_hours))
    calls = [a for a in _actions(book) if a["channel"] == "call"]
    assert calls and all(a["status"] == "rescheduled" for a in calls)
    for call in calls:
        planned = _utc(call["planned_at"]).astimezone(SHANGHAI)  # type: ignore[arg-type]
        assert (planned.date(), planned.hour, planned.minute) == (DAY + timedelta(days=1), 10, 0)


def _calls(account: int, day: date, outcomes: list[Outcome]) -> list[OutcomeReport]:
    start = datetime(day.year, day.month, day.day, 8, 30, tzinfo=SHANGHAI)
    return [
        OutcomeReport(
            account_id=f"A{account}",
            channel=Channel.CALL,
            to=_phone(account),
            at=start + timedelta(minutes=20 * n),
            outcome=outcome,
            collector="c-li",
        )
        for n, outcome in enumerate(outcomes)
    ]


def test_outcomes__six_unanswered_calls_today_stop_the_seventh_and_recording_twice_adds_nothing(
    book: sa.Engine,  # noqa: F811
) -> None:
    _run(book)
    reports = _calls(1, DAY, [Outcome.NO_ANSWER] * 6)
    with book.begin() as conn:
        first = record_outcomes(conn, reports, CN, NOW)
        again = record_outcomes(conn, reports, CN, NOW)
    assert (first.recorded, again.recorded, again.already_recorded) == (6, 0, 6)
    at = datetime(DAY.year, DAY.month, DAY.day, 15, 0, tzinfo=SHANGHAI)
    with book.begin() as conn:
        seventh = judge_manual_contact(
            conn, "A1", Channel.CALL, Party.SELF, None, at, CN, NOW, source="queue"
        )
        other = judge_manual_contact(conn, "A3", Channel.CALL, Party.SELF, None, at, CN, NOW)
    assert seventh["allowed"] is False
    assert [v["rule"] for v in seventh["violations"]] == ["CN-ATTEMPTS"]  # type: ignore[attr-defined]
    next_day = datetime.fromisoformat(str(seventh["next_allowed_at"])).astimezone(SHANGHAI)
    assert (next_day.date(), next_day.hour) == (DAY + timedelta(days=1), 8)
    assert other["allowed"] is True
    assert _decision(book, seventh["decision_key"])["source"] == "queue"


def test_outcomes__a_wrong_number_makes_the_borrower_unreachable_until_a_conversation(
    book: sa.Engine,  # noqa: F811
) -> None:
    _run(book)
    with book.begin() as conn:
        summary = record_outcomes(conn, _calls(1, DAY, [Outcome.WRONG_NUMBER]), CN, NOW)
        story = contact_story(conn, "A1")
    assert summary.now_unreachable == ("B1",)
    assert story["flags"] == ["unreachable"]
    assert [p["status"] for p in story["points"]] == ["wrong_number"]

    new_number = "+8613900000001"  # found by skip tracing
    talk = OutcomeReport(
        account_id="A1",
        channel=Channel.CALL,
        to=new_number,
        at=datetime(DAY.year, DAY.month, DAY.day, 11, 0, tzinfo=SHANGHAI),
        outcome=Outcome.PROMISE_TO_PAY,
        collector="c-li",
        promise_cents=50_000,
        promise_date=DAY + timedelta(days=5),
    )
    with book.begin() as conn:
        summary = record_outcomes(conn, [talk], CN, NOW)
        story = contact_story(conn, "A1")
        promise = conn.execute(sa.select(t.promises.c.amount_cents, t.promises.c.status)).one()
        attempt = conn.execute(
            sa.select(t.contact_attempts.c.until_settled).where(
                t.contact_attempts.c.to_value == new_number
            )
        ).scalar_one()
        last_contact = conn.execute(
            sa.select(t.cases.c.last_contact_on)
            .join(t.accounts, t.accounts.c.account_key == t.cases.c.account_key)
            .where(t.accounts.c.account_id == "A1")
        ).scalar_one()
    assert summary.promises == 1 and tuple(promise) == (50_000, "open")
    assert attempt == 1  # a repayment agreement: kept until the debt is settled
    assert story["flags"] == []
    points = {p["value"]: p for p in story["points"]}
    assert points[new_number]["status"] == "verified"
    assert points[new_number]["source"] == "contact"
    assert points[new_number]["verified_on"] == DAY.isoformat()
    assert last_contact == DAY


class RecordingGateway:
    """A stand-in for an SMS gateway that remembers every message it was handed."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        return SendResult.accepted(f"gw-{message.idempotency_key}", "accepted", attempts=1)


def _day_with_sms(store: sa.Engine) -> date:
    """The first day from the first due date on which the strategy plans an SMS."""
    for offset in range(1, 12):
        day = FIRST_DUE + timedelta(days=offset)
        _run(store, day)
        if any(a["channel"] == "sms" and a["status"] == "allowed" for a in _actions(store, day)):
            return day
    raise AssertionError("the default strategy planned no SMS in the first 11 days")


def test_outbox__each_message_is_queued_once_and_sent_once_even_after_a_crash(
    book: sa.Engine,  # noqa: F811
) -> None:
    day = _day_with_sms(book)
    templates = TemplateSet()
    with book.begin() as conn:
        first = queue_day_messages(conn, day, templates, CN, NOW)
    with book.begin() as conn:
        again = queue_day_messages(conn, day, templates, CN, NOW)
    assert first.queued > 0 and not first.failed
    assert (again.queued, again.already_queued) == (0, first.queued)

    gateway = RecordingGateway()
    early = datetime(day.year, day.month, day.day, 23, 0, tzinfo=SHANGHAI)
    assert dispatch(book, {"sms": gateway}, CN, early).sent == 0  # due the next morning
    at = datetime(day.year, day.month, day.day, 12, 0, tzinfo=SHANGHAI) + timedelta(days=1)
    summary = dispatch(book, {"sms": gateway}, CN, at)
    assert summary.sent == len(gateway.sent) > 0
    assert all("退订" in m.body for m in gateway.sent)
    assert dispatch(book, {"sms": gateway}, CN, at).sent == 0  # nothing is sent twice

    # A dispatcher killed after marking a message `sending` resends it with the same key.
    m = t.messages
    key = gateway.sent[0].idempotency_key
    with book.begin() as conn:
        conn.execute(m.update().where(m.c.idempotency_key == key).values(status="sending"))
    dispatch(book, {"sms": gateway}, CN, at)
    assert [g.idempotency_key for g in gateway.sent].count(key) == 2
    with book.connect() as conn:
        status, attempts = conn.execute(
            sa.select(m.c.status, m.c.attempts).where(m.c.idempotency_key == key)
        ).one()
        sms_attempts = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.contact_attempts)
            .where(t.contact_attempts.c.channel == "sms")
        ).scalar_one()
    assert (status, attempts) == ("sent", 2)
    assert sms_attempts == summary.sent  # the resend did not count as a second contact

    # The gateway's callbacks: a duplicate is kept once.
    provider = f"gw-{key}"
    with book.begin() as conn:
        assert record_delivery(conn, provider, "delivered", at, at) is True
        assert record_delivery(conn, provider, "delivered", at, at) is False
        assert conn.execute(sa.select(m.c.status).where(m.c.idempotency_key == key)).scalar() == (
            "delivered"
        )


def test_outbox__a_stop_reply_blocks_every_queued_sms_to_that_number_at_once(
    book: sa.Engine,  # noqa: F811
) -> None:
    day = _day_with_sms(book)
    with book.begin() as conn:
        queue_day_messages(conn, day, TemplateSet(), CN, NOW)
        numbers = [
            row[0]
            for row in conn.execute(
                sa.select(t.messages.c.to_value).where(t.messages.c.channel == "sms")
            )
        ]
        at = datetime(day.year, day.month, day.day, 11, 0, tzinfo=SHANGHAI) + timedelta(days=1)
        for n, number in enumerate(numbers):
            record_inbound(conn, f"in-{n}", number, "退订", at, at, opt_out=True)
    gateway = RecordingGateway()
    summary = dispatch(book, {"sms": gateway}, CN, at + timedelta(hours=1))
    assert gateway.sent == []
    assert summary.blocked == len(numbers) > 0
    with book.connect() as conn:
        violations = conn.execute(
            sa.select(t.contact_decisions.c.violations).where(
                t.contact_decisions.c.source == "outbox"
            )
        ).scalars()
        assert all("CN-OPTOUT" in v for v in violations)


def test_records__purge_removes_only_what_is_past_its_retention(
    book: sa.Engine,  # noqa: F811
) -> None:
    _run(book)
    d, ca = t.contact_decisions, t.contact_attempts
    with book.begin() as conn:
        record_outcomes(conn, _calls(1, DAY, [Outcome.NO_ANSWER]), CN, NOW)
        kept = conn.execute(sa.select(sa.func.count()).select_from(d)).scalar_one()
        decisions_until = conn.execute(sa.select(sa.func.max(d.c.retain_until))).scalar_one()
        attempt_until = conn.execute(sa.select(ca.c.retain_until)).scalar_one()
    # An attempt is kept two years (731 days, CN-RECORD) from the day it was made.
    assert attempt_until == DAY + timedelta(days=CN.retention.decisions_days)
    with book.begin() as conn:
        on_last_day = purge_expired(conn, min(decisions_until, attempt_until))
        assert (on_last_day.decisions, on_last_day.attempts) == (0, 0)
        after = purge_expired(conn, max(decisions_until, attempt_until) + timedelta(days=1))
    assert (after.decisions, after.attempts) == (kept, 1)


@pytest.mark.parametrize("flag", ["bankruptcy", "deceased"])
def test_flags__setting_a_hold_twice_is_harmless_and_unknown_flags_are_refused(
    book: sa.Engine,  # noqa: F811
    flag: str,
) -> None:
    from recoup.contact.flags import FlagRefused

    with book.begin() as conn:
        change_flags(conn, "A3", [flag], [], None, None, NOW)
        text = change_flags(conn, "A3", [flag], [], None, None, NOW)
        assert "no change" in text and flag in text
        with pytest.raises(FlagRefused, match="unknown flag 'sick'"):
            change_flags(conn, "A3", ["sick"], [], None, None, NOW)


def _post(app: object, body: bytes, signature: str) -> str:
    """Call a WSGI app with one POST, as a server would; return the status line."""
    import io

    answer: list[str] = []
    environ = {
        "PATH_INFO": "/callbacks",
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_X_RECOUP_SIGNATURE": signature,
    }
    b"".join(app(environ, lambda status, headers: answer.append(status)))  # type: ignore[operator]
    return answer[0]


def test_callbacks__signed_gateway_reports_reach_the_store_once_and_stop_opts_out(
    book: sa.Engine,  # noqa: F811
) -> None:
    from recoup.contact.callbacks import store_callbacks
    from recoup.contact.webhook import callback_app, sign

    day = _day_with_sms(book)
    with book.begin() as conn:
        queue_day_messages(conn, day, TemplateSet(), CN, NOW)
    gateway = RecordingGateway()
    at = datetime(day.year, day.month, day.day, 12, 0, tzinfo=SHANGHAI) + timedelta(days=1)
    dispatch(book, {"sms": gateway}, CN, at)
    sent = gateway.sent[0]
    app = callback_app("s3cret", store_callbacks(book, clock=lambda: at))

    delivered = json.dumps(
        {
            "type": "delivery",
            "id": "gw-other-id",  # the gateway's own id: the message is found by our key
            "idempotency_key": sent.idempotency_key,
            "status": "failed",
            "at": at.isoformat(),
        }
    ).encode()
    assert _post(app, delivered, sign(delivered, "s3cret")).startswith("204")
    assert _post(app, delivered, sign(delivered, "s3cret")).startswith("204")  # a retry
    assert _post(app, delivered, sign(delivered, "wrong")).startswith("401")
    stop = json.dumps(
        {"type": "inbound", "id": "in-1", "from": sent.to, "text": "退订", "at": at.isoformat()}
    ).encode()
    assert _post(app, stop, sign(stop, "s3cret")).startswith("204")

    m, ca, cp, de = t.messages, t.contact_attempts, t.contact_points, t.delivery_events
    with book.connect() as conn:
        status, key = conn.execute(
            sa.select(m.c.status, m.c.message_key).where(
                m.c.idempotency_key == sent.idempotency_key
            )
        ).one()
        outcome = conn.execute(sa.select(ca.c.outcome).where(ca.c.message_key == key)).scalar()
        events = conn.execute(sa.select(sa.func.count()).select_from(de)).scalar()
        point = conn.execute(sa.select(cp.c.status).where(cp.c.value == sent.to)).scalar()
    assert (status, outcome) == ("undeliverable", "failed")  # the attempt failed after all
    assert events == 2  # one delivery report (its retry kept once) and one reply
    assert point == "opted_out"


def test_allocation__an_agency_placement_waits_for_the_outsourcing_notice(
    book: sa.Engine,  # noqa: F811
) -> None:
    from recoup.allocation import default_teams_path, load_teams
    from recoup.collection.allocation_run import OUTSOURCING_NOTICES, run_allocation

    day = FIRST_DUE + timedelta(days=100)  # A1 and A3 are M4: the shipped teams place them
    _run(book, day)
    teams = load_teams(default_teams_path())
    held = run_allocation(book, teams, day, CN).allocation.cases
    assert held.get_column("decision").to_list().count("placed") == 0
    assert all("CN-OUTSOURCE" in reason for reason in held.get_column("reason").to_list())

    c, a = t.cases, t.accounts
    with book.begin() as conn:  # the notice letter went out a week ago
        case_key, account_key = conn.execute(
            sa.select(c.c.case_key, c.c.account_key)
            .join(a, a.c.account_key == c.c.account_key)
            .where(a.c.account_id == "A1", c.c.status == "open")
        ).one()
        sent_at = datetime.combine(day - timedelta(days=7), datetime.min.time(), UTC)
        conn.execute(
            t.messages.insert().values(
                idempotency_key="notice-A1",
                account_key=account_key,
                case_key=case_key,
                channel="letter",
                party="self",
                to_value="上海市人民路1号",
                template=OUTSOURCING_NOTICES[1],
                lang="zh-CN",
                body="...",
                status="sent",
                send_at=sent_at,
                created_at=sent_at,
                sent_at=sent_at,
            )
        )
    again = run_allocation(book, teams, day, CN).allocation.cases  # the same day, again
    decisions = dict(zip(again["case_key"].to_list(), again["decision"].to_list(), strict=True))
    assert decisions[case_key] == "placed"
    assert len(decisions) == 2
    assert all(d != "placed" for k, d in decisions.items() if k != case_key)  # A3: no notice


def test_strategy__a_borrower_left_without_a_working_number_goes_to_skip_trace_next_day(
    book: sa.Engine,  # noqa: F811
) -> None:
    _run(book)
    with book.begin() as conn:
        record_outcomes(conn, _calls(1, DAY, [Outcome.WRONG_NUMBER]), CN, NOW)
    # The flag is set now (NOW): the threshold counts as reached that day.
    with book.begin() as conn:
        conn.execute(
            t.borrower_flags.update().values(set_at=datetime.combine(DAY, datetime.min.time(), UTC))
        )
    _run(book, DAY + timedelta(days=1))
    c, a = t.cases, t.accounts
    with book.connect() as conn:
        paths = dict(
            conn.execute(
                sa.select(a.c.account_id, c.c.path).join(a, a.c.account_key == c.c.account_key)
            ).all()
        )
    assert paths["A1"] == "skip-trace"
    assert paths["A3"] != "skip-trace"  # A3's number works: ten days have not passed

"""The outbox: every message and task, written before it is sent and sent at most once.

Two steps, each its own command:

1. :func:`queue_day_messages` renders the day's allowed (and rescheduled) strategy actions
   into rows of ``messages`` (status ``queued``), one per action, keyed by the action's case,
   day and step, so queueing a day again adds nothing. A call or a field visit becomes a task
   for the collector's queue, with its script.
2. :func:`dispatch` sends what is due. Each message is judged by the gate again at the
   moment it goes (a reply STOP or a dispute may have arrived since it was queued): blocked
   with a time that lifts it, it waits; blocked for good, it stays unsent as ``blocked``. The
   row is marked ``sending`` and committed *before* the adapter is called, and the adapter
   puts the message's key on the wire (``Idempotency-Key``, ``Message-ID``), so a dispatcher
   killed mid-send retries with the same key and the gateway recognises the duplicate.
   The database work goes by batches of due messages (:data:`BATCH_SIZE`), a fixed number
   of statements each (judge, hold or mark ``sending``; record the results), never a query
   per message; only the adapter is called once per message.

A sent message is also a contact attempt (outcome ``delivered`` when the adapter accepted
it, ``failed`` otherwise), counted by the gate's caps; a delivery callback can turn it into a
failure later (:func:`record_callback`). An inbound reply with an opt-out keyword opts the
number out at once: every queued SMS to it is blocked at its next dispatch.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from recoup.compliance import Channel, ContactRequest, Outcome, Party, Profile, decide_many
from recoup.contact.book import HISTORY_DAYS, borrower_files
from recoup.contact.gatekeeping import violations_json
from recoup.contact.message import OutboundMessage, Sender, SendResult
from recoup.contact.records import retain_until
from recoup.contact.templates import TemplateError, TemplateSet
from recoup.money import format_cents
from recoup.store import tables as t
from recoup.store.bulk import insert_frame, read_frame

#: The template kind each channel's message is rendered from.
TEMPLATE_KIND: Mapping[str, str] = {
    "sms": "sms",
    "email": "email",
    "app_push": "app_push",
    "voicemail": "voicemail",
    "letter": "letter",
    "call": "script",
    "field_visit": "script",
}

#: Channels whose "sending" puts a task in a person's queue: their outcome is what the
#: collector records, not the adapter's acceptance.
TASK_CHANNELS = frozenset({"call", "field_visit"})

#: How long a retryable failure waits before the next try.
RETRY_AFTER = timedelta(minutes=15)
MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Lender:
    """Who the messages come from: the names, numbers and instructions templates print."""

    name: str
    phone: str
    address: str
    unsubscribe_url: str
    dispute_instructions: str
    account_check_instructions: str


#: The example lender of the demo and the tests, in each template language.
LENDERS: Mapping[str, Lender] = {
    "zh-CN": Lender(
        name="瑞可消费金融有限公司",
        phone="400-000-0000",
        address="上海市浦东新区世纪大道100号",
        unsubscribe_url="https://example.com/unsubscribe",
        dispute_instructions="如对欠款有异议，请携带合同、还款凭证等证据致电400-000-0000或在App内提交，"
        "核实期间我们将暂停催收",
        account_check_instructions="登录App“我的账单”或致电400-000-0000查询账户明细",
    ),
    "en": Lender(
        name="Recoup Consumer Finance Ltd",
        phone="+1 800 555 0100",
        address="100 Main Street, Springfield",
        unsubscribe_url="https://example.com/unsubscribe",
        dispute_instructions="To dispute this debt, send us your evidence in writing or call "
        "+1 800 555 0100; we pause collection while we verify it",
        account_check_instructions="See your statement in the app or call +1 800 555 0100",
    ),
}


@dataclass(frozen=True, slots=True)
class QueueSummary:
    queued: int = 0
    already_queued: int = 0
    failed: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        text = f"queued {self.queued:,} messages and tasks; {self.already_queued:,} already queued"
        if self.failed:
            text += "; not rendered: " + ", ".join(f"{n:,} {w}" for w, n in self.failed.items())
        return text


def language_of(profile: Profile) -> str:
    """The language the profile's messages are written in."""
    return "zh-CN" if profile.id == "cn" else "en"


def queue_day_messages(
    conn: Connection,
    as_of: date,
    templates: TemplateSet,
    profile: Profile,
    created_at: datetime,
    lender: Lender | None = None,
) -> QueueSummary:
    """Render the actions the gate let through for ``as_of`` into queued messages."""
    actions = _actions_to_queue(conn, as_of)
    if actions.height == 0:
        return QueueSummary()
    m = t.messages
    existing = set(
        conn.execute(
            sa.select(m.c.idempotency_key).where(
                m.c.action_key.in_(actions.get_column("action_key").to_list())
                | m.c.idempotency_key.in_(actions.get_column("key").to_list())
            )
        )
        .scalars()
        .all()
    )
    lang = language_of(profile)
    lender = lender or LENDERS[lang]
    keep = retain_until(profile, created_at.date(), "messages")
    rows: list[dict[str, object]] = []
    failed: Counter[str] = Counter()
    for row in actions.iter_rows(named=True):
        if row["key"] in existing:
            continue
        context = _context(row, lender, as_of)
        kind = TEMPLATE_KIND[row["channel"]]
        try:
            rendered = templates.render(row["template"], lang, kind, context)
            subject, body, status, error = rendered.subject, rendered.body, "queued", None
        except TemplateError as exc:
            subject, body, status, error = None, "", "failed", str(exc)
            failed[f"{row['template']} ({kind})"] += 1
        rows.append(
            {
                "idempotency_key": row["key"],
                "account_key": row["account_key"],
                "case_key": row["case_key"],
                "action_key": row["action_key"],
                "channel": row["channel"],
                "party": Party.SELF.value,
                "to_value": row["to_value"],
                "template": row["template"],
                "lang": lang,
                "subject": subject,
                "body": body,
                "status": status,
                "decision_key": row["decision_key"],
                "attempts": 0,
                "last_error": error,
                "send_at": row["planned_at"],
                "created_at": created_at.astimezone(UTC),
                "retain_until": keep,
            }
        )
    if rows:
        insert_frame(conn, m, pl.DataFrame(rows, schema=_MESSAGE_SCHEMA))
    return QueueSummary(
        queued=len(rows) - sum(failed.values()),
        already_queued=actions.height - len(rows),
        failed=failed,
    )


_MESSAGE_SCHEMA: dict[str, Any] = {
    "idempotency_key": pl.String,
    "account_key": pl.Int64,
    "case_key": pl.Int64,
    "action_key": pl.Int64,
    "channel": pl.String,
    "party": pl.String,
    "to_value": pl.String,
    "template": pl.String,
    "lang": pl.String,
    "subject": pl.String,
    "body": pl.String,
    "status": pl.String,
    "decision_key": pl.Int64,
    "attempts": pl.Int64,
    "last_error": pl.String,
    "send_at": pl.Datetime("us", "UTC"),
    "created_at": pl.Datetime("us", "UTC"),
    "retain_until": pl.Date,
}


def _actions_to_queue(conn: Connection, as_of: date) -> pl.DataFrame:
    ac, a, b, d, i = t.actions, t.accounts, t.borrowers, t.contact_decisions, t.installments
    oldest_unpaid = (
        sa.select(sa.func.min(i.c.due_date))
        .where(i.c.account_key == ac.c.account_key, i.c.settled == 0)
        .scalar_subquery()
    )
    key = (
        sa.cast(ac.c.case_key, sa.String)
        + ":"
        + sa.cast(ac.c.planned_for, sa.String)
        + ":"
        + ac.c.step
    )
    return read_frame(
        conn,
        sa.select(
            ac.c.action_key,
            key,
            ac.c.case_key,
            ac.c.account_key,
            a.c.account_id,
            b.c.name,
            a.c.dpd,
            a.c.overdue_cents,
            a.c.outstanding_principal_cents,
            ac.c.channel,
            ac.c.template,
            ac.c.planned_at,
            ac.c.decision_key,
            d.c.to_value,
            oldest_unpaid,
        )
        .join(a, a.c.account_key == ac.c.account_key)
        .join(b, b.c.borrower_key == a.c.borrower_key)
        .join(d, d.c.decision_key == ac.c.decision_key)
        .where(ac.c.planned_for == as_of, ac.c.status.in_(["allowed", "rescheduled"]))
        .order_by(ac.c.action_key),
        {
            "action_key": pl.Int64,
            "key": pl.String,
            "case_key": pl.Int64,
            "account_key": pl.Int64,
            "account_id": pl.String,
            "borrower_name": pl.String,
            "dpd": pl.Int64,
            "overdue_cents": pl.Int64,
            "outstanding_principal_cents": pl.Int64,
            "channel": pl.String,
            "template": pl.String,
            "planned_at": pl.Datetime("us", "UTC"),
            "decision_key": pl.Int64,
            "to_value": pl.String,
            "due_date": pl.Date,
        },
    )


def _context(row: Mapping[str, Any], lender: Lender, as_of: date) -> dict[str, object]:
    """The variables every template may use (and no others)."""
    overdue = int(row["overdue_cents"])
    principal = int(row["outstanding_principal_cents"])
    due: date | None = row["due_date"]
    return {
        "borrower_name": row["borrower_name"],
        "account_id": row["account_id"],
        "contract_ref": row["account_id"],
        "overdue_amount": format_cents(overdue),
        "amount_due": format_cents(overdue),
        "balance": format_cents(overdue + principal),
        "dpd": row["dpd"],
        "due_date": due.isoformat() if due else as_of.isoformat(),
        "letter_date": as_of.isoformat(),
        "lender_name": lender.name,
        "lender_phone": lender.phone,
        "lender_address": lender.address,
        "unsubscribe_url": lender.unsubscribe_url,
        "dispute_instructions": lender.dispute_instructions,
        "account_check_instructions": lender.account_check_instructions,
    }


# --------------------------------------------------------------------------- dispatch


@dataclass(frozen=True, slots=True)
class DispatchSummary:
    sent: int = 0
    failed: int = 0
    retry_later: int = 0
    blocked: int = 0
    waiting: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    no_transport: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        channels = ", ".join(f"{n:,} {c}" for c, n in sorted(self.by_channel.items())) or "none"
        text = (
            f"sent {self.sent:,} ({channels}); failed {self.failed:,}; "
            f"to retry {self.retry_later:,}; blocked by the gate {self.blocked:,}; "
            f"waiting for an allowed time {self.waiting:,}"
        )
        if self.no_transport:
            left = ", ".join(f"{n:,} {c}" for c, n in sorted(self.no_transport.items()))
            text += f"; left queued, no transport configured: {left}"
        return text


#: Due messages handled together: each batch is judged, marked ``sending`` and recorded in
#: one transaction each, with a fixed number of statements; the transport still takes its
#: messages one at a time.
BATCH_SIZE = 1_000


def dispatch(
    engine: Engine,
    senders: Mapping[str, Sender],
    profile: Profile,
    now: datetime,
    limit: int | None = None,
    clock: Callable[[], datetime] | None = None,
    *,
    batch_size: int = BATCH_SIZE,
) -> DispatchSummary:
    """Send the queued messages due by ``now`` (and resend those left ``sending``).

    The due messages go in batches of ``batch_size``, in the order they fell due. For each
    batch: one transaction judges them again and stores the decisions, holds the refused
    ones and marks the rest ``sending``; then the transport is called once per message; then
    one transaction records every result (status, retry, attempt and its outcome). A
    dispatcher stopped inside the transport loop (an exception, ``SystemExit``) still records
    the results it has and puts the messages it never handed over back as they were, so
    only the message in flight is resent, with its key, by the next run.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    clock = clock or (lambda: now)
    with engine.begin() as conn:
        every = _due(conn, now, limit)
    has_sender = pl.col("channel").is_in(sorted(senders))
    due = every.filter(has_sender)
    no_transport: Counter[str] = Counter(every.filter(~has_sender).get_column("channel").to_list())
    counts: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    for batch in due.iter_slices(batch_size):
        rows = list(batch.iter_rows(named=True))
        with engine.begin() as conn:
            verdicts = _judge_again(conn, rows, profile, now)
            to_send = _hold_or_mark_sending(conn, rows, verdicts)
        counts["waiting"] += sum(1 for allowed, later, _ in verdicts if not allowed and later)
        counts["blocked"] += sum(1 for allowed, later, _ in verdicts if not allowed and not later)
        sent_now = _send_batch(engine, to_send, senders, clock, profile)
        for row, verdict in zip(to_send, sent_now, strict=True):
            counts[verdict] += 1
            if verdict == "sent":
                channels[row["channel"]] += 1
    return DispatchSummary(
        sent=counts["sent"],
        failed=counts["failed"],
        retry_later=counts["retry"],
        blocked=counts["blocked"],
        waiting=counts["waiting"],
        by_channel=channels,
        no_transport=no_transport,
    )


def _due(conn: Connection, now: datetime, limit: int | None) -> pl.DataFrame:
    m, a = t.messages, t.accounts
    query = (
        sa.select(
            m.c.message_key,
            m.c.idempotency_key,
            m.c.account_key,
            a.c.account_id,
            a.c.borrower_key,
            m.c.case_key,
            m.c.channel,
            m.c.party,
            m.c.to_value,
            m.c.subject,
            m.c.body,
            m.c.lang,
            m.c.status,
            m.c.attempts,
            m.c.send_at,
        )
        .join(a, a.c.account_key == m.c.account_key)
        .where(
            sa.or_(
                sa.and_(m.c.status == "queued", m.c.send_at <= now.astimezone(UTC)),
                m.c.status == "sending",  # left by a dispatcher that was stopped mid-send
            )
        )
        .order_by(m.c.send_at, m.c.message_key)
    )
    if limit is not None:
        query = query.limit(limit)
    return read_frame(
        conn,
        query,
        {
            "message_key": pl.Int64,
            "idempotency_key": pl.String,
            "account_key": pl.Int64,
            "account_id": pl.String,
            "borrower_key": pl.Int64,
            "case_key": pl.Int64,
            "channel": pl.String,
            "party": pl.String,
            "to_value": pl.String,
            "subject": pl.String,
            "body": pl.String,
            "lang": pl.String,
            "status": pl.String,
            "attempts": pl.Int64,
            "send_at": pl.Datetime("us", "UTC"),
        },
    )


Row = Mapping[str, Any]


def _judge_again(
    conn: Connection, rows: Sequence[Row], profile: Profile, now: datetime
) -> list[tuple[bool, datetime | None, int]]:
    """The gate's word on each message at ``now``, stored as decisions (source outbox), one
    insert for the batch; each verdict is (allowed, next allowed time, decision key)."""
    files = borrower_files(
        conn, [row["borrower_key"] for row in rows], since=now - timedelta(days=HISTORY_DAYS)
    )
    requests = []
    for row in rows:
        file = files[row["borrower_key"]]
        channel = Channel(row["channel"])
        requests.append(
            ContactRequest(
                channel=channel,
                at=now,
                party=Party(row["party"]),
                to=row["to_value"],
                timezone=file.timezone,
                flags=file.flags_for(channel, row["to_value"]),
                history=tuple(file.history),
            )
        )
    decisions = decide_many(requests, profile)
    keep = retain_until(profile, now.date(), "decisions")
    # The same values as recoup.contact.gatekeeping.store_decision, for every row at once.
    values = [
        {
            "source": "outbox",
            "account_key": row["account_key"],
            "case_key": row["case_key"],
            "action_key": None,
            "channel": request.channel.value,
            "party": request.party.value,
            "to_value": request.to,
            "contact_at": request.at.astimezone(UTC),
            "profile": profile.id,
            "profile_version": profile.version,
            "allowed": int(decision.allowed),
            "violations": violations_json(decision.violations),
            "next_allowed_at": decision.next_allowed_at,
            "decided_at": now.astimezone(UTC),
            "retain_until": keep,
        }
        for row, request, decision in zip(rows, requests, decisions, strict=True)
    ]
    d = t.contact_decisions
    about = (d.c.account_key, d.c.case_key, d.c.channel, d.c.party, d.c.to_value)
    returned = conn.execute(d.insert().returning(d.c.decision_key, *about), values).all()
    # RETURNING promises no order (and asking SQLAlchemy for one makes SQLite insert row by
    # row), so each key is matched to its row by what the decision is about. Rows about the
    # same contact at the same moment are the same decision; among those the keys go in
    # ascending order, as inserting them one by one would have given them.
    free: dict[tuple[object, ...], deque[int]] = defaultdict(deque)
    for key, *contact in sorted(returned, key=lambda r: int(r[0])):
        free[tuple(contact)].append(int(key))
    return [
        (
            decision.allowed,
            decision.next_allowed_at,
            free[tuple(value[c.name] for c in about)].popleft(),
        )
        for decision, value in zip(decisions, values, strict=True)
    ]


def _hold_or_mark_sending(
    conn: Connection, rows: Sequence[Row], verdicts: Sequence[tuple[bool, datetime | None, int]]
) -> list[Row]:
    """Keep the refused messages back (queued until the time that lifts the block, or
    blocked for good) and mark the others ``sending``; the rows to send."""
    waiting: list[dict[str, object]] = []
    blocked: list[dict[str, object]] = []
    sending: list[dict[str, object]] = []
    to_send: list[Row] = []
    for row, (allowed, later, decision_key) in zip(rows, verdicts, strict=True):
        ids = {"k_message": row["message_key"], "v_decision": decision_key}
        if allowed:
            sending.append(ids)
            to_send.append(row)
        elif later is not None:
            waiting.append({**ids, "v_send_at": later.astimezone(UTC)})
        else:
            blocked.append(ids)
    m = t.messages
    by_key = m.update().where(m.c.message_key == sa.bindparam("k_message"))
    decision: sa.BindParameter[int] = sa.bindparam("v_decision")
    if waiting:
        conn.execute(
            by_key.values(
                status="queued", send_at=sa.bindparam("v_send_at"), decision_key=decision
            ),
            waiting,
        )
    if blocked:
        conn.execute(by_key.values(status="blocked", decision_key=decision), blocked)
    if sending:
        conn.execute(
            by_key.values(status="sending", attempts=m.c.attempts + 1, decision_key=decision),
            sending,
        )
    return to_send


def _send_batch(
    engine: Engine,
    rows: Sequence[Row],
    senders: Mapping[str, Sender],
    clock: Callable[[], datetime],
    profile: Profile,
) -> list[str]:
    """Hand each message (marked ``sending``) to its transport, then record the results in
    one transaction; the verdict of each (sent, retry, failed)."""
    if not rows:
        return []
    answers: list[tuple[SendResult, datetime]] = []
    try:
        for row in rows:
            message = OutboundMessage(
                idempotency_key=row["idempotency_key"],
                channel=row["channel"],
                to=row["to_value"],
                subject=row["subject"],
                body=row["body"],
                lang=row["lang"],
            )
            result = senders[row["channel"]].send(message)
            answers.append((result, clock()))
    except BaseException:
        # Stopped mid-batch: keep the answers already given, so the next run neither sends
        # those messages again nor counts them twice, and put back the messages never handed
        # over. The message in flight stays `sending`: the next run resends it with its key.
        with engine.begin() as conn:
            _record_sends(conn, rows[: len(answers)], answers, profile)
            _put_back(conn, rows[len(answers) + 1 :])
        raise
    with engine.begin() as conn:
        return _record_sends(conn, rows, answers, profile)


def _put_back(conn: Connection, rows: Sequence[Row]) -> None:
    """Undo the marking ``sending`` of messages the transport never saw."""
    if not rows:
        return
    m = t.messages
    conn.execute(
        m.update()
        .where(m.c.message_key == sa.bindparam("k_message"), m.c.status == "sending")
        .values(status=sa.bindparam("v_status"), attempts=m.c.attempts - 1),
        [{"k_message": row["message_key"], "v_status": row["status"]} for row in rows],
    )


def _record_sends(
    conn: Connection,
    rows: Sequence[Row],
    answers: Sequence[tuple[SendResult, datetime]],
    profile: Profile,
) -> list[str]:
    """Store what the transport answered for each message (sent; queued again after
    :data:`RETRY_AFTER`; failed for good) and, for a message that is a contact, the attempt
    and its outcome; the verdict of each."""
    from recoup.contact.outcomes import OutcomeReport, record_plain_outcomes

    sent: list[dict[str, object]] = []
    retry: list[dict[str, object]] = []
    failed: list[dict[str, object]] = []
    reports: list[OutcomeReport] = []
    times: list[datetime] = []
    verdicts: list[str] = []
    for row, (result, now) in zip(rows, answers, strict=True):
        key = int(row["message_key"])
        attempts = int(row["attempts"]) + 1
        if result.ok:
            sent.append(
                {
                    "k_message": key,
                    "v_provider_id": result.provider_id,
                    "v_sent_at": now.astimezone(UTC),
                }
            )
            verdict = "sent"
        elif result.retryable and attempts < MAX_ATTEMPTS:
            retry.append(
                {
                    "k_message": key,
                    "v_send_at": (now + RETRY_AFTER).astimezone(UTC),
                    "v_last_error": result.detail,
                }
            )
            verdict = "retry"
        else:
            failed.append({"k_message": key, "v_last_error": result.detail})
            verdict = "failed"
        verdicts.append(verdict)
        if row["channel"] not in TASK_CHANNELS and verdict != "retry":
            reports.append(
                OutcomeReport(
                    account_id=str(row["account_id"]),
                    channel=Channel(str(row["channel"])),
                    to=str(row["to_value"]),
                    at=now,
                    outcome=Outcome.DELIVERED if result.ok else Outcome.FAILED,
                    party=Party(str(row["party"])),
                    key=f"message-{key}",
                    message_key=key,
                )
            )
            times.append(now)
    m = t.messages
    by_key = m.update().where(m.c.message_key == sa.bindparam("k_message"))
    if sent:
        conn.execute(
            by_key.values(
                status="sent",
                provider_id=sa.bindparam("v_provider_id"),
                sent_at=sa.bindparam("v_sent_at"),
                last_error=None,
            ),
            sent,
        )
    if retry:
        conn.execute(
            by_key.values(
                status="queued",
                send_at=sa.bindparam("v_send_at"),
                last_error=sa.bindparam("v_last_error"),
            ),
            retry,
        )
    if failed:
        conn.execute(
            by_key.values(status="failed", last_error=sa.bindparam("v_last_error")), failed
        )
    if reports:
        record_plain_outcomes(conn, reports, profile, times)
    return verdicts


# --------------------------------------------------------------------------- callbacks


def record_delivery(
    conn: Connection,
    provider_id: str,
    status: str,
    at: datetime,
    received_at: datetime,
    idempotency_key: str | None = None,
) -> bool:
    """A gateway's delivery status for a sent message, found by the gateway's id or by our
    key; False for a duplicate callback."""
    de, m, ca = t.delivery_events, t.messages, t.contact_attempts
    if conn.execute(
        sa.select(de.c.event_key).where(de.c.provider_id == provider_id, de.c.status == status)
    ).first():
        return False
    found = m.c.provider_id == provider_id
    if idempotency_key:
        found = found | (m.c.idempotency_key == idempotency_key)
    message = conn.execute(sa.select(m.c.message_key).where(found)).scalars().first()
    conn.execute(
        de.insert().values(
            provider_id=provider_id,
            status=status,
            message_key=message,
            at=at.astimezone(UTC),
            received_at=received_at.astimezone(UTC),
        )
    )
    if message is None:
        return True
    if status == "delivered":
        conn.execute(
            m.update()
            .where(m.c.message_key == message)
            .values(status="delivered", delivered_at=at.astimezone(UTC))
        )
    elif status in {"failed", "undeliverable", "rejected", "expired"}:
        conn.execute(m.update().where(m.c.message_key == message).values(status="undeliverable"))
        conn.execute(
            ca.update().where(ca.c.message_key == message).values(outcome=Outcome.FAILED.value)
        )
    return True


def record_inbound(
    conn: Connection,
    provider_id: str,
    from_number: str,
    text: str,
    at: datetime,
    received_at: datetime,
    opt_out: bool,
) -> bool:
    """An inbound reply; an opt-out opts the number out at once. False for a duplicate."""
    de, cp = t.delivery_events, t.contact_points
    if conn.execute(
        sa.select(de.c.event_key).where(de.c.provider_id == provider_id, de.c.status == "inbound")
    ).first():
        return False
    conn.execute(
        de.insert().values(
            provider_id=provider_id,
            status="inbound",
            from_value=from_number,
            text=text,
            at=at.astimezone(UTC),
            received_at=received_at.astimezone(UTC),
            opt_out=int(opt_out),
        )
    )
    if opt_out:
        conn.execute(
            cp.update()
            .where(cp.c.kind == "phone", cp.c.value == from_number)
            .values(status="opted_out", status_changed_at=received_at.astimezone(UTC))
        )
    return True


def outbox_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Messages by channel and status, for ``recoup outbox status``."""
    m = t.messages
    counts: dict[str, dict[str, int]] = {}
    for channel, status, n in conn.execute(
        sa.select(m.c.channel, m.c.status, sa.func.count()).group_by(m.c.channel, m.c.status)
    ):
        counts.setdefault(channel, {})[status] = int(n)
    return counts

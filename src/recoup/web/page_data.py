"""What the web app's pages show, read from the store in a few queries per page.

The account and the queue come from the REST API's own functions (:mod:`recoup.web.api`),
so both show the same numbers; this module adds what only the pages show. "Can I contact
now" is the compliance gate's verdict (:func:`recoup.compliance.decide_many`, the same rules
the batch and ``recoup contact check`` use) on a contact at this moment, for the rows of the
page only, read in one pass over their borrowers. A page view is not a contact, so these
previews are not stored as decisions; the contact itself is judged and recorded where it
is made.
"""

from __future__ import annotations

import calendar
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.compliance import Channel, ContactRequest, Party, Profile, decide_many
from recoup.contact.book import HISTORY_DAYS, borrower_files
from recoup.money import format_cents
from recoup.store import tables as t
from recoup.store.bulk import read_frame
from recoup.web.security import mask

if TYPE_CHECKING:
    from recoup.allocation import TeamsConfig


@cache
def gate_profile(name: str | None = None) -> Profile:
    """The compliance profile of the gate: ``RECOUP_POLICY`` (a shipped name or a file), or
    the shipped ``cn`` profile, as for the command line."""
    from recoup.compliance import PROFILE_NAMES, load_profile, shipped_profile

    chosen = name or os.environ.get("RECOUP_POLICY") or "cn"
    return shipped_profile(chosen) if chosen in PROFILE_NAMES else load_profile(chosen)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer for one contact now, in words for the page."""

    channel: str
    allowed: bool
    violations: tuple[tuple[str, str], ...]  # (rule, message)
    next_allowed_at: str | None  # local time of the borrower
    no_point: bool = False


def contact_now(
    conn: Connection,
    accounts: Sequence[tuple[str, int]],
    channels: Sequence[Channel],
    at: datetime,
    profile: Profile,
) -> dict[tuple[str, Channel], Verdict]:
    """The gate's verdict on contacting the borrower of each ``(account_id, borrower_key)``
    on each channel at ``at``: one read of the borrowers' files, one call of the gate."""
    files = borrower_files(
        conn, [key for _, key in accounts], since=at - timedelta(days=HISTORY_DAYS)
    )
    asked: list[tuple[str, Channel, str]] = []
    requests: list[ContactRequest] = []
    verdicts: dict[tuple[str, Channel], Verdict] = {}
    for account_id, borrower_key in accounts:
        file = files.get(borrower_key)
        for channel in channels:
            point = None if file is None else file.best_point(channel)
            if file is None or (point is None and channel is not Channel.APP_PUSH):
                verdicts[(account_id, channel)] = Verdict(channel.value, False, (), None, True)
                continue
            to = f"app:{account_id}" if point is None else point.value
            zone = file.timezone or profile.timezones[0]
            asked.append((account_id, channel, zone))
            requests.append(
                ContactRequest(
                    channel=channel,
                    at=at,
                    party=Party.SELF,
                    to=to,
                    timezone=file.timezone,
                    flags=file.flags_for(channel, to),
                    history=tuple(file.history),
                )
            )
    for (account_id, channel, zone), decision in zip(
        asked, decide_many(requests, profile), strict=True
    ):
        later = decision.next_allowed_at
        verdicts[(account_id, channel)] = Verdict(
            channel.value,
            decision.allowed,
            tuple((v.rule, v.message) for v in decision.violations),
            None
            if later is None or decision.allowed
            else later.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z"),
        )
    return verdicts


def borrower_keys(conn: Connection, account_ids: Sequence[str]) -> dict[str, int]:
    a = t.accounts
    return {
        str(account_id): int(key)
        for account_id, key in conn.execute(
            sa.select(a.c.account_id, a.c.borrower_key).where(a.c.account_id.in_(account_ids))
        )
    }


def open_promises(conn: Connection, case_keys: Sequence[int]) -> dict[int, str]:
    """The latest open promise of each case, as ``amount by date``."""
    pr = t.promises
    found: dict[int, str] = {}
    for row in conn.execute(
        sa.select(pr.c.case_key, pr.c.amount_cents, pr.c.promised_for)
        .where(pr.c.case_key.in_(case_keys), pr.c.status == "open")
        .order_by(pr.c.promise_key)
    ):
        found[int(row.case_key)] = f"{format_cents(row.amount_cents)} / {row.promised_for}"
    return found


# --------------------------------------------------------------------------- account


def contact_points(conn: Connection, account_key: int, reveal: bool) -> list[dict[str, Any]]:
    """The borrower's contact points with their keys (the forms name a point by its key)."""
    cp, a = t.contact_points, t.accounts
    return [
        {
            "key": int(row.contact_point_key),
            "kind": row.kind,
            "value": row.value if reveal else mask(row.kind, row.value),
            "party": row.party,
            "status": row.status,
        }
        for row in conn.execute(
            sa.select(cp.c.contact_point_key, cp.c.kind, cp.c.value, cp.c.party, cp.c.status)
            .join(a, a.c.borrower_key == cp.c.borrower_key)
            .where(a.c.account_key == account_key)
            .order_by(cp.c.contact_point_key)
        )
    ]


def account_extras(conn: Connection, account_key: int) -> dict[str, Any]:
    """What the account page shows beyond the API's account document: payments, charges,
    scores with reason codes, case events, contact attempts (recipients masked) and the
    requests for concessions."""
    p, ch, rs = t.payments, t.charges, t.risk_scores
    payments = [
        {
            "id": row.payment_id,
            "paid_on": row.paid_on.isoformat(),
            "amount": format_cents(row.amount_cents),
            "reversal": row.reverses_payment_id,
            "reversed_on": row.reversed_on.isoformat() if row.reversed_on else None,
        }
        for row in conn.execute(
            sa.select(p)
            .where(p.c.account_key == account_key)
            .order_by(p.c.paid_on, p.c.payment_key)
        )
    ]
    charges = [
        {
            "period": row.period,
            "kind": row.kind,
            "amount": format_cents(row.total),
            "from": row.first.isoformat(),
            "through": row.last.isoformat(),
        }
        for row in conn.execute(
            sa.select(
                ch.c.period,
                ch.c.kind,
                sa.func.sum(ch.c.amount_cents).label("total"),
                sa.func.min(ch.c.accrued_from).label("first"),
                sa.func.max(ch.c.accrued_through).label("last"),
            )
            .where(ch.c.account_key == account_key)
            .group_by(ch.c.period, ch.c.kind)
            .order_by(ch.c.period, ch.c.kind)
        )
    ]
    latest = (
        sa.select(rs.c.kind, sa.func.max(rs.c.as_of).label("as_of"))
        .where(rs.c.account_key == account_key)
        .group_by(rs.c.kind)
        .subquery()
    )
    scores = [
        {
            "kind": row.kind,
            "as_of": row.as_of.isoformat(),
            "model": row.model_id,
            "score": row.score,
            "probability": f"{row.probability:.1%}",
            "grade": row.grade,
            "reasons": _reasons(row.reasons),
        }
        for row in conn.execute(
            sa.select(rs)
            .join(latest, sa.and_(latest.c.kind == rs.c.kind, latest.c.as_of == rs.c.as_of))
            .where(rs.c.account_key == account_key)
            .order_by(rs.c.kind)
        )
    ]
    c, ev = t.cases, t.case_events
    events = [
        {"on": row.happened_on.isoformat(), "kind": row.kind, "detail": row.detail}
        for row in conn.execute(
            sa.select(ev.c.happened_on, ev.c.kind, ev.c.detail)
            .join(c, c.c.case_key == ev.c.case_key)
            .where(c.c.account_key == account_key)
            .order_by(ev.c.happened_on.desc(), ev.c.event_key.desc())
            .limit(100)
        )
    ]
    ca = t.contact_attempts
    attempts = [
        {
            "at": row.at.strftime("%Y-%m-%d %H:%M"),
            "channel": row.channel,
            "to": _masked_recipient(row.channel, row.to_value),
            "outcome": row.outcome,
            "collector": row.collector or "",
            "note": row.note or "",
        }
        for row in conn.execute(
            sa.select(ca)
            .where(ca.c.account_key == account_key)
            .order_by(ca.c.at.desc(), ca.c.attempt_key.desc())
            .limit(100)
        )
    ]
    r = t.arrangement_requests
    requests = [
        {
            "request": f"R{row.request_key}",
            "kind": row.kind,
            "amount": format_cents(row.amount_cents),
            "status": row.status,
            "by": row.requested_by,
            "reason": row.verdict_reason,
        }
        for row in conn.execute(
            sa.select(r).where(r.c.account_key == account_key).order_by(r.c.request_key)
        )
    ]
    return {
        "payments": payments,
        "charges": charges,
        "scores": scores,
        "events": events,
        "attempts": attempts,
        "requests": requests,
    }


def _masked_recipient(channel: str, value: str) -> str:
    return mask("phone" if channel in ("call", "sms", "voicemail") else channel, value)


def _reasons(text: str) -> list[str]:
    try:
        reasons = json.loads(text)
    except json.JSONDecodeError:
        return [text]
    shown = []
    for reason in reasons if isinstance(reasons, list) else [reasons]:
        if isinstance(reason, dict):
            shown.append(" ".join(str(v) for v in reason.values()))
        elif isinstance(reason, list):
            shown.append(" ".join(str(v) for v in reason))
        else:
            shown.append(str(reason))
    return shown


# --------------------------------------------------------------------------- team


def bucket_table(conn: Connection) -> list[dict[str, Any]]:
    """Accounts, outstanding principal and overdue amount per bucket, in the catalog's order."""
    from recoup.store.repository import load_catalog_from_store

    a = t.accounts
    totals = {
        row.bucket: row
        for row in conn.execute(
            sa.select(
                a.c.bucket,
                sa.func.count().label("accounts"),
                sa.func.sum(a.c.outstanding_principal_cents).label("principal"),
                sa.func.sum(a.c.overdue_cents).label("overdue"),
            ).group_by(a.c.bucket)
        )
    }
    names = [b.name for b in load_catalog_from_store(conn).buckets]
    names += sorted(set(totals) - set(names))
    return [
        {
            "bucket": name,
            "accounts": int(totals[name].accounts) if name in totals else 0,
            "principal": format_cents(int(totals[name].principal or 0) if name in totals else 0),
            "overdue": format_cents(int(totals[name].overdue or 0) if name in totals else 0),
        }
        for name in names
    ]


def _month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def roll_rates(conn: Connection) -> dict[str, Any] | None:
    """The roll-rate matrix by accounts between the last two month ends with states, from
    :func:`recoup.analytics.collection.roll_rate_matrix`; None without two month ends."""
    from recoup.analytics.collection import CLOSED, roll_rate_matrix
    from recoup.store.repository import load_catalog_from_store

    s = t.account_states
    days = [
        d
        for d in conn.execute(
            sa.select(s.c.as_of).distinct().order_by(s.c.as_of.desc()).limit(400)
        ).scalars()
        if _month_end(d)
    ][:2]
    if len(days) < 2:
        return None
    to_day, from_day = days
    states = read_frame(
        conn,
        sa.select(s.c.account_key, s.c.as_of, s.c.bucket).where(s.c.as_of.in_([from_day, to_day])),
        {"account_key": pl.Int64, "as_of": pl.Date, "bucket": pl.String},
    )
    buckets = [b.name for b in load_catalog_from_store(conn).buckets]
    matrix = roll_rate_matrix(states, from_day, to_day, "count", buckets)
    columns = [*buckets, CLOSED]
    return {
        "from": from_day.isoformat(),
        "to": to_day.isoformat(),
        "columns": columns,
        "rows": [
            {"bucket": row["from_bucket"], "shares": [f"{row[c]:.0%}" for c in columns]}
            for row in matrix.iter_rows(named=True)
        ],
    }


def performance(conn: Connection) -> list[dict[str, Any]]:
    """Per collector and agency: open cases and their overdue amount, money collected
    (payments credited to them) and their cases' promises by status."""
    c, a, pc, pr = t.cases, t.accounts, t.payment_credits, t.promises
    owners: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(owner: str, kind: str) -> dict[str, Any]:
        return owners.setdefault(
            (owner, kind),
            {
                "owner": owner,
                "kind": kind,
                "cases": 0,
                "overdue": 0,
                "collected": 0,
                "open": 0,
                "kept": 0,
                "broken": 0,
            },
        )

    for row in conn.execute(
        sa.select(c.c.owner, c.c.owner_kind, sa.func.count(), sa.func.sum(a.c.overdue_cents))
        .join(a, a.c.account_key == c.c.account_key)
        .where(c.c.status == "open", c.c.owner.is_not(None))
        .group_by(c.c.owner, c.c.owner_kind)
    ):
        e = entry(row[0], row[1] or "")
        e["cases"], e["overdue"] = int(row[2]), int(row[3] or 0)
    for row in conn.execute(
        sa.select(pc.c.owner, pc.c.owner_kind, sa.func.sum(pc.c.amount_cents)).group_by(
            pc.c.owner, pc.c.owner_kind
        )
    ):
        entry(row[0], row[1])["collected"] = int(row[2] or 0)
    for row in conn.execute(
        sa.select(c.c.owner, c.c.owner_kind, pr.c.status, sa.func.count())
        .join(c, c.c.case_key == pr.c.case_key)
        .where(c.c.owner.is_not(None))
        .group_by(c.c.owner, c.c.owner_kind, pr.c.status)
    ):
        status = "kept" if row[2] in ("kept",) else "broken" if "broken" in row[2] else "open"
        entry(row[0], row[1] or "")[status] += int(row[3])
    return [
        e | {"overdue": format_cents(e["overdue"]), "collected": format_cents(e["collected"])}
        for _, e in sorted(owners.items())
    ]


def allocation_view(conn: Connection, config: TeamsConfig) -> dict[str, Any]:
    """Who holds the open cases: every collector and agency of the teams file (with their
    capacity: a collector's ``max_open_cases``, an agency's ``capacity``, and the room left)
    and any other owner the store names, each with their open cases and the overdue balance
    of those cases; and the open cases no one holds."""
    c, a = t.cases, t.accounts
    held: dict[str, tuple[str | None, int, int]] = {}
    unallocated = (0, 0)
    for owner, kind, cases, overdue in conn.execute(
        sa.select(c.c.owner, c.c.owner_kind, sa.func.count(), sa.func.sum(a.c.overdue_cents))
        .join(a, a.c.account_key == c.c.account_key)
        .where(c.c.status == "open")
        .group_by(c.c.owner, c.c.owner_kind)
    ):
        if owner is None:
            unallocated = (unallocated[0] + int(cases), unallocated[1] + int(overdue or 0))
            continue
        _, before_cases, before_overdue = held.get(owner, (kind, 0, 0))
        held[owner] = (kind, before_cases + int(cases), before_overdue + int(overdue or 0))

    def row(
        owner: str, kind: str, name: str, team: str | None, capacity: int | None
    ) -> dict[str, Any]:
        _, cases, overdue = held.pop(owner, (kind, 0, 0))
        return {
            "owner": owner,
            "kind": kind,
            "name": name,
            "team": team or "",
            "cases": cases,
            "overdue": format_cents(overdue),
            "capacity": capacity,
            "room": None if capacity is None else capacity - cases,
        }

    owners = [row(x.id, "collector", x.name, x.team, x.max_open_cases) for x in config.collectors]
    owners += [row(x.id, "agency", x.name, None, x.capacity) for x in config.agencies]
    owners += [
        row(owner, kind or "", "", None, None) for owner, (kind, _, _) in sorted(held.items())
    ]
    return {
        "owners": owners,
        "unallocated_cases": unallocated[0],
        "unallocated_overdue": format_cents(unallocated[1]),
        "choices": [
            {"id": x.id, "label": f"{x.id} · {x.name} ({x.team})"} for x in config.collectors
        ]
        + [{"id": x.id, "label": f"{x.id} · {x.name}"} for x in config.agencies],
    }


def approvals(conn: Connection) -> list[dict[str, Any]]:
    """The pending requests for concessions, with who may decide each."""
    from recoup.arrangements import default_authority, who_can_approve
    from recoup.collection.arrangements import list_requests, load_request

    matrix = default_authority()
    found = []
    for row in list_requests(conn, "pending")[:200]:
        detail = json.loads(row["detail"]) if row["detail"] else {}
        request = load_request(conn, int(row["request_key"]))
        found.append(
            {
                "key": int(row["request_key"]),
                "account_id": row["account_id"],
                "kind": row["kind"],
                "amount": format_cents(row["amount_cents"]),
                "detail": ", ".join(f"{k}: {v}" for k, v in detail.items() if k != "payments"),
                "by": f"{row['requested_by']} ({row['requester_role']})",
                "approvers": ", ".join(who_can_approve(matrix, request)),
                "reason": row["verdict_reason"],
            }
        )
    return found


# --------------------------------------------------------------------------- compliance


def blocked_contacts(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    d, a = t.contact_decisions, t.accounts
    return [
        {
            "at": row.contact_at.strftime("%Y-%m-%d %H:%M"),
            "account_id": row.account_id,
            "channel": row.channel,
            "to": _masked_recipient(row.channel, row.to_value),
            "source": row.source,
            "violations": [(v["rule"], v["message"]) for v in json.loads(row.violations)],
            "next": row.next_allowed_at.strftime("%Y-%m-%d %H:%M UTC")
            if row.next_allowed_at
            else None,
        }
        for row in conn.execute(
            sa.select(d, a.c.account_id)
            .join(a, a.c.account_key == d.c.account_key)
            .where(d.c.allowed == 0)
            .order_by(d.c.decision_key.desc())
            .limit(limit)
        )
    ]


def quality(conn: Connection, since: date) -> dict[str, Any]:
    """Quality inspection of the notes recorded since ``since``."""
    from recoup.contact.quality import inspect_stored_notes

    report = inspect_stored_notes(conn, since=since)
    return {
        "collectors": [
            {"collector": s.collector, "notes": s.notes, "flagged": s.flagged, "score": s.score}
            for s in report.per_collector
        ],
        "flagged": [
            {
                "contact": f.contact_id,
                "collector": f.collector,
                "violations": [(v.rule, v.term, v.message) for v in f.violations],
            }
            for f in report.flagged[:100]
        ],
    }


def audit_search(
    conn: Connection, actor: str, action: str, target: str, limit: int = 200
) -> list[dict[str, Any]]:
    """Audit entries, newest first: ``actor`` exactly, ``action`` by prefix, ``target`` by
    substring (each optional)."""
    log = t.audit_log
    query = sa.select(log).order_by(log.c.seq.desc()).limit(limit)
    if actor:
        query = query.where(log.c.actor == actor)
    if action:
        query = query.where(log.c.action.startswith(action, autoescape=True))
    if target:
        query = query.where(log.c.target.contains(target, autoescape=True))
    return [
        {
            "seq": row.seq,
            "at": row.at.strftime("%Y-%m-%d %H:%M:%S"),
            "actor": row.actor,
            "action": row.action,
            "target": row.target,
            "detail": row.detail,
        }
        for row in conn.execute(query)
    ]


# --------------------------------------------------------------------------- strategy


def strategy_story(conn: Connection, as_of: date | None) -> dict[str, Any]:
    """The strategy in force (or the shipped default before any run) in plain words, and
    the results of its champion/challenger tests through ``as_of``."""
    from recoup.collection.daily import strategy_in_force
    from recoup.collection.queries import test_outcomes
    from recoup.strategy import compare_arms, load_default_strategy
    from recoup.strategy.explain import explain

    strategy = strategy_in_force(conn) or load_default_strategy()
    tests = []
    for test in strategy.tests:
        results = compare_arms(test_outcomes(conn, test.id, as_of or date.today()), test)
        tests.append(
            {
                "id": test.id,
                "arms": [
                    {
                        "arm": arm.arm,
                        "cases": arm.cases,
                        "cure_rate": "" if arm.cure_rate is None else f"{arm.cure_rate:.1%}",
                        "interval": ""
                        if arm.cure_interval is None
                        else f"[{arm.cure_interval.low:.1%}, {arm.cure_interval.high:.1%}]",
                        "recovered": format_cents(arm.recovered_cents),
                        "cost": format_cents(arm.cost_cents),
                        "contacts": arm.contacts,
                        # None: no case of the arm has a known complaint count
                        "complaints": arm.complaints,
                        "complaints_per_1000": ""
                        if arm.complaints_per_1000_cases is None
                        else f"{arm.complaints_per_1000_cases:.1f}",
                        "complaints_interval": ""
                        if arm.complaints_interval is None
                        else f"[{arm.complaints_interval.low:.1f}, "
                        f"{arm.complaints_interval.high:.1f}]",
                    }
                    for arm in results.arms
                ],
                "comparisons": [
                    {
                        "arm": comp.arm,
                        "champion": comp.champion,
                        "difference": _difference(
                            comp.cure_rate_difference, comp.cure_rate_interval
                        ),
                        "significant": comp.cure_rate_significant,
                        "complaints_difference": _per_1000_difference(
                            comp.complaints_difference_per_1000,
                            comp.complaints_difference_interval,
                        ),
                        "complaints_significant": comp.complaints_significant,
                    }
                    for comp in results.comparisons
                ],
            }
        )
    return {
        "id": strategy.id,
        "version": strategy.version,
        "text": explain(strategy),
        "tests": tests,
    }


def _difference(difference: float | None, interval: Any) -> str | None:
    if difference is None or interval is None:
        return None
    return f"{difference:+.1%} [{interval.low:+.1%}, {interval.high:+.1%}]"


def _per_1000_difference(difference: float | None, interval: Any) -> str | None:
    if difference is None or interval is None:
        return None
    return f"{difference:+.1f} [{interval.low:+.1f}, {interval.high:+.1f}]"


def models(conn: Connection) -> list[dict[str, Any]]:
    from recoup.scoring.registry import list_models

    return [
        {
            "model_id": m.model_id,
            "kind": m.kind,
            "family": m.family,
            "version": m.version,
            "status": m.status,
            "trained_at": m.trained_at.strftime("%Y-%m-%d"),
        }
        for m in list_models(conn)
    ]


def model_card_page(conn: Connection, model_id: str) -> str:
    """The model card HTML of :func:`recoup.risk.report.model_card` (``ModelRefused`` when
    there is no such model)."""
    from recoup.risk.report import model_card
    from recoup.scoring.registry import get_model

    model = get_model(conn, model_id)
    return model_card({**model.summary(), "metrics": model.metrics, "libraries": model.libraries})

"""Putting contacts through the compliance gate and keeping its word.

Three kinds of contact reach the gate: the actions the daily strategy run planned, the calls
in a collector's queue, and contacts started by hand. Each is judged at the moment it would
happen (:func:`recoup.compliance.decide`), and every decision is stored in
``contact_decisions`` with the policy profile and its version, so an auditor can see why any
contact went ahead or did not.

The strategy runs after the close of day D and plans that day's steps; they are carried out
the next day, D + 1, in their window (the batch runs overnight). So a planned action is judged
at the start of its window on D + 1 in the borrower's zone (:data:`CARRIED_OUT_AFTER`).

A planned action the gate blocks is *rescheduled* when waiting lifts the block within the
action's own window that day (the gate's ``next_allowed_at``), and *blocked* otherwise: the
strategy plans the case again on its next step.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection

from recoup.compliance import (
    Channel,
    ContactRequest,
    Decision,
    Party,
    Profile,
    Violation,
    decide_many,
)
from recoup.contact.book import HISTORY_DAYS, BorrowerFile, borrower_files
from recoup.contact.records import retain_until
from recoup.store import tables as t
from recoup.store.bulk import insert_frame, read_frame, update_from_frame

#: The block given when a borrower has no working contact point for the channel: not a rule
#: of the policy, but no contact can happen either.
NO_CONTACT_POINT = "NO-CONTACT-POINT"

#: The strategy's actions for the closed day D are carried out on D + 1.
CARRIED_OUT_AFTER = timedelta(days=1)

#: Strategy channels that are placements, not contacts: they do not pass the contact gate.
PLACEMENTS = frozenset({"agency", "legal"})


@dataclass(frozen=True, slots=True)
class GateSummary:
    actions: int
    statuses: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(self.statuses.items())) or "none"
        rules = ", ".join(f"{r} {n:,}" for r, n in self.rules.most_common()) or "none"
        return f"contact gate: {self.actions:,} actions ({statuses}); blocking rules: {rules}"


def judge_day_actions(
    conn: Connection, run_id: int, as_of: date, profile: Profile, decided_at: datetime
) -> GateSummary:
    """Judge the actions strategy run ``run_id`` planned on the closed day ``as_of``, as they
    would happen on the next day: set each action's status (allowed, rescheduled, blocked),
    the time it would happen, and its decision."""
    actions = _day_actions(conn, run_id)
    if actions.height == 0:
        return GateSummary(actions=0)
    files = borrower_files(
        conn,
        actions.get_column("borrower_key").to_list(),
        since=datetime.combine(as_of, time(), UTC) - timedelta(days=HISTORY_DAYS),
    )
    day = as_of + CARRIED_OUT_AFTER
    default_zone = profile.timezones[0]
    requests: list[ContactRequest] = []
    judged: list[int] = []  # indexes of the actions that go through the gate
    planned_at: list[datetime | None] = []
    recipients: list[str] = []
    statuses: list[str] = []
    rows = actions.iter_rows(named=True)
    for index, row in enumerate(rows):
        file = files[row["borrower_key"]]
        zone = ZoneInfo(file.timezone or default_zone)
        start = time.fromisoformat(row["window_start"])
        when = datetime.combine(day, start, zone)
        planned_at.append(when)
        channel_name = row["channel"]
        if channel_name in PLACEMENTS:
            recipients.append("")
            statuses.append("allowed")
            continue
        channel = Channel(channel_name)
        to = _recipient(file, channel, row["account_id"])
        recipients.append(to or "")
        if to is None:
            statuses.append("blocked")
            continue
        statuses.append("")
        judged.append(index)
        requests.append(
            ContactRequest(
                channel=channel,
                at=when,
                party=Party.SELF,
                to=to,
                timezone=file.timezone,
                flags=file.flags_for(channel, to),
                history=tuple(file.history),
            )
        )
    decisions = decide_many(requests, profile)

    decision_of: dict[int, Decision] = dict(zip(judged, decisions, strict=True))
    rules: Counter[str] = Counter()
    ends = actions.get_column("window_end").to_list()
    for index, decision in decision_of.items():
        if decision.allowed:
            statuses[index] = "allowed"
            continue
        rules.update(v.rule for v in decision.violations)
        planned = planned_at[index]
        assert planned is not None
        later = decision.next_allowed_at
        window_end = datetime.combine(day, time.fromisoformat(ends[index]), planned.tzinfo)
        if later is not None and later < window_end:
            statuses[index] = "rescheduled"
            planned_at[index] = later
        else:
            statuses[index] = "blocked"
    for index, status in enumerate(statuses):
        if status == "blocked" and index not in decision_of:
            rules[NO_CONTACT_POINT] += 1

    _store_decisions(conn, actions, judged, requests, decisions, recipients, profile, decided_at)
    update_from_frame(
        conn,
        t.actions,
        pl.DataFrame(
            {
                "action_key": actions.get_column("action_key"),
                "status": statuses,
                "planned_at": [p.astimezone(UTC) if p else None for p in planned_at],
            },
            schema={
                "action_key": pl.Int64,
                "status": pl.String,
                "planned_at": pl.Datetime("us", "UTC"),
            },
        ),
        ["action_key"],
    )
    _link_decisions(conn, run_id)
    return GateSummary(actions=actions.height, statuses=Counter(statuses), rules=rules)


def _recipient(file: BorrowerFile, channel: Channel, account_id: str) -> str | None:
    if channel is Channel.APP_PUSH:
        return f"app:{account_id}"
    point = file.best_point(channel)
    return point.value if point is not None else None


def _day_actions(conn: Connection, run_id: int) -> pl.DataFrame:
    ac, c, a = t.actions, t.cases, t.accounts
    return read_frame(
        conn,
        sa.select(
            ac.c.action_key,
            ac.c.case_key,
            ac.c.account_key,
            a.c.account_id,
            a.c.borrower_key,
            ac.c.channel,
            ac.c.window_start,
            ac.c.window_end,
        )
        .join(c, c.c.case_key == ac.c.case_key)
        .join(a, a.c.account_key == ac.c.account_key)
        .where(ac.c.run_id == run_id)
        .order_by(ac.c.action_key),
        {
            "action_key": pl.Int64,
            "case_key": pl.Int64,
            "account_key": pl.Int64,
            "account_id": pl.String,
            "borrower_key": pl.Int64,
            "channel": pl.String,
            "window_start": pl.String,
            "window_end": pl.String,
        },
    )


def _store_decisions(
    conn: Connection,
    actions: pl.DataFrame,
    judged: Sequence[int],
    requests: Sequence[ContactRequest],
    decisions: Sequence[Decision],
    recipients: Sequence[str],
    profile: Profile,
    decided_at: datetime,
) -> None:
    if not judged:
        return
    picked = actions[list(judged)]
    keep = retain_until(profile, decided_at.date(), "decisions")
    frame = picked.select("account_key", "case_key", "action_key", "channel").with_columns(
        source=pl.lit("strategy"),
        party=pl.lit(Party.SELF.value),
        to_value=pl.Series([recipients[i] for i in judged], dtype=pl.String),
        contact_at=pl.Series(
            [r.at.astimezone(UTC) for r in requests],
            dtype=pl.Datetime("us", "UTC"),
        ),
        profile=pl.lit(profile.id),
        profile_version=pl.lit(profile.version),
        allowed=pl.Series([int(d.allowed) for d in decisions], dtype=pl.Int64),
        violations=pl.Series([violations_json(d.violations) for d in decisions]),
        next_allowed_at=pl.Series(
            [d.next_allowed_at.astimezone(UTC) if d.next_allowed_at else None for d in decisions],
            dtype=pl.Datetime("us", "UTC"),
        ),
        decided_at=pl.lit(decided_at.astimezone(UTC)).cast(pl.Datetime("us", "UTC")),
        retain_until=pl.lit(keep, dtype=pl.Date),
    )
    insert_frame(conn, t.contact_decisions, frame)


def _link_decisions(conn: Connection, run_id: int) -> None:
    d, ac = t.contact_decisions, t.actions
    latest = (
        sa.select(sa.func.max(d.c.decision_key))
        .where(d.c.action_key == ac.c.action_key)
        .scalar_subquery()
    )
    conn.execute(sa.update(ac).where(ac.c.run_id == run_id).values(decision_key=latest))


def violations_json(violations: Sequence[Violation]) -> str:
    return json.dumps(
        [{"rule": v.rule, "message": v.message} for v in violations], ensure_ascii=False
    )


def store_decision(
    conn: Connection,
    source: str,
    account_key: int,
    case_key: int | None,
    request: ContactRequest,
    decision: Decision,
    profile: Profile,
    decided_at: datetime,
) -> int:
    """Keep one decision (the batch path stores its decisions in bulk instead)."""
    d = t.contact_decisions
    key = conn.execute(
        d.insert()
        .values(
            source=source,
            account_key=account_key,
            case_key=case_key,
            action_key=None,
            channel=request.channel.value,
            party=request.party.value,
            to_value=request.to,
            contact_at=request.at.astimezone(UTC),
            profile=profile.id,
            profile_version=profile.version,
            allowed=int(decision.allowed),
            violations=violations_json(decision.violations),
            next_allowed_at=decision.next_allowed_at,
            decided_at=decided_at.astimezone(UTC),
            retain_until=retain_until(profile, decided_at.date(), "decisions"),
        )
        .returning(d.c.decision_key)
    ).scalar_one()
    return int(key)


class GateRefused(ValueError):
    """A contact the gate cannot even judge: unknown account, no contact point."""


def judge_manual_contact(
    conn: Connection,
    account_id: str,
    channel: Channel,
    party: Party,
    to: str | None,
    at: datetime,
    profile: Profile,
    decided_at: datetime,
    source: str = "manual",
) -> dict[str, object]:
    """The gate's decision on one contact a person is about to make, stored; the same JSON
    as ``recoup policy check`` plus the recipient and the stored decision's key."""
    from recoup.compliance import decision_document

    a, c = t.accounts, t.cases
    row = conn.execute(
        sa.select(a.c.account_key, a.c.borrower_key, c.c.case_key)
        .select_from(
            a.outerjoin(c, sa.and_(c.c.account_key == a.c.account_key, c.c.status == "open"))
        )
        .where(a.c.account_id == account_id)
    ).first()
    if row is None:
        raise GateRefused(f"account {account_id!r} is not in the store")
    account_key, borrower_key, case_key = row
    file = borrower_files(conn, [borrower_key], since=at - timedelta(days=HISTORY_DAYS))[
        borrower_key
    ]
    if to is None:
        if party is not Party.SELF:
            raise GateRefused("--to is needed for a contact with a guarantor or third party")
        to = _recipient(file, channel, account_id)
        if to is None:
            raise GateRefused(
                f"the borrower of {account_id} has no working contact point for {channel.value}"
            )
    request = ContactRequest(
        channel=channel,
        at=at,
        party=party,
        to=to,
        timezone=file.timezone,
        flags=file.flags_for(channel, to),
        history=tuple(file.history),
    )
    decision = decide_many([request], profile)[0]
    key = store_decision(
        conn, source, account_key, case_key, request, decision, profile, decided_at
    )
    document: dict[str, object] = dict(decision_document(decision, at))
    document["to"] = to
    document["decision_key"] = int(key)
    return document

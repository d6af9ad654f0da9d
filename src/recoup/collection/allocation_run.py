"""The daily allocation (分案): give every open case its owner for the day, and record why.

It runs after the strategy run of the same day (a case's queue comes from that day's
actions) in one transaction and one ``collection_runs`` record. Each decision is kept in
``allocations`` with the owner the case had before, so running the same day again first
puts every case back where it was and then decides afresh: the same inputs give the same
owners, never a second rotation.

``allocations`` is the case's whole ownership history: a team lead's reassignment
(:mod:`recoup.collection.reassignment`) is a decision there too, dated the ledger's open day,
the day after the run's. Such a decision comes after the run of the day before, whenever that
run happens: a run of the day (again, or for the first time after the lead acted) starts from
the owners as they stood before the lead's decision, decides as it would have, and then gives
the case back to the owner the lead chose. A lead's decision is undone by another decision,
never by a run of an earlier day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from recoup.allocation import Allocation, TeamsConfig, allocate
from recoup.allocation.allocate import Decision
from recoup.close import last_closed_day
from recoup.collection.case_book import accounts_in_collection, oldest_unpaid, open_cases
from recoup.collection.daily import RunRefused
from recoup.compliance import Profile, check_notice, shipped_profile
from recoup.store import tables as t
from recoup.store.bulk import insert_frame, read_frame, update_from_frame

#: Decisions that change a case's owner, recorded as case events.
_OWNER_CHANGES = ("assigned", "rotated", "placed", "recalled")


@dataclass(frozen=True, slots=True)
class AllocationRun:
    run_id: int
    as_of: date
    allocation: Allocation
    #: Cases a team lead reassigned after the day (dated the open day): they stay with the
    #: owner the lead gave them, whatever the run decided.
    kept_by_lead: int = 0

    def describe(self) -> str:
        counts = ", ".join(f"{n:,} {d}" for d, n in sorted(self.allocation.counts().items()))
        kept = (
            f"; {self.kept_by_lead:,} reassigned by a team lead since stay with their new owner"
            if self.kept_by_lead
            else ""
        )
        return f"allocation run {self.run_id} for {self.as_of}: {counts or 'no open cases'}{kept}"


def run_allocation(
    engine: Engine, config: TeamsConfig, as_of: date, policy: Profile | None = None
) -> AllocationRun:
    """Allocate the open cases of ``as_of``; a placement with an agency waits until the
    borrower was told (the outsourcing notice of ``policy``, default the shipped ``cn``)."""
    policy = policy or shipped_profile("cn")
    with engine.begin() as conn:
        closed = last_closed_day(conn)
        if closed is None or as_of != closed:
            raise RunRefused(
                f"allocation runs on the last closed day ({closed or 'none yet'}), after that "
                "day's strategy run"
            )
        run_id = int(
            conn.execute(
                t.collection_runs.insert()
                .values(
                    kind="allocation",
                    as_of=as_of,
                    inputs=json.dumps({"teams_sha256": config.digest}),
                    started_at=datetime.now(UTC),
                )
                .returning(t.collection_runs.c.run_id)
            ).scalar_one()
        )
        leads = _undo_same_day(conn, as_of)
        cases = allocation_cases(conn, as_of)
        allocation = _hold_placements_without_notice(
            conn, allocate(cases, config, as_of), cases, as_of, policy
        )
        _write(conn, allocation, cases, as_of, run_id, leads.of_the_day)
        # A lead's reassignment dated after the day stands over the day's run.
        update_from_frame(conn, t.cases, leads.later, ["case_key"])
        conn.execute(
            t.collection_runs.update()
            .where(t.collection_runs.c.run_id == run_id)
            .values(finished_at=datetime.now(UTC), summary=json.dumps(allocation.counts()))
        )
    return AllocationRun(run_id, as_of, allocation, leads.later.height)


#: The templates whose sending tells a borrower their case may go to an agency (CN-OUTSOURCE).
OUTSOURCING_NOTICES = ("outsourcing_notice", "cn_letter_agency_notice")


def _hold_placements_without_notice(
    conn: Connection,
    allocation: Allocation,
    cases: pl.DataFrame,
    as_of: date,
    policy: Profile,
) -> Allocation:
    """CN-OUTSOURCE: a case is placed with an agency only after an outsourcing notice was
    sent to the borrower (``notice_days`` before, per the profile). A placement without one
    is held: the case stays with its owner, and the reason says why."""
    placed = allocation.cases.filter(pl.col("decision") == Decision.PLACED.value)
    if placed.height == 0:
        return allocation
    at = datetime.combine(as_of, time(23, 59), UTC)
    held = {
        case_key: f"placement held: {why}"
        for case_key, why in placements_without_notice(
            conn, placed.get_column("case_key").to_list(), at, policy
        ).items()
    }
    if not held:
        return allocation
    teams = read_frame(
        conn,
        sa.select(t.cases.c.case_key, t.cases.c.team).where(t.cases.c.case_key.in_(list(held))),
        {"case_key": pl.Int64, "_team": pl.String},
    )
    previous = cases.select(
        "case_key", pl.col("current_owner").alias("_owner"), pl.col("owner_kind").alias("_kind")
    ).join(teams, on="case_key", how="left")
    reasons = pl.DataFrame(
        {"case_key": list(held), "_reason": list(held.values())},
        schema={"case_key": pl.Int64, "_reason": pl.String},
    )
    is_held = pl.col("_reason").is_not_null()
    frame = (
        allocation.cases.join(reasons, on="case_key", how="left")
        .join(previous, on="case_key", how="left")
        .with_columns(
            decision=pl.when(is_held)
            .then(
                pl.when(pl.col("_owner").is_not_null())
                .then(pl.lit(Decision.KEPT.value))
                .otherwise(pl.lit(Decision.UNALLOCATED.value))
            )
            .otherwise(pl.col("decision")),
            owner=pl.when(is_held).then(pl.col("_owner")).otherwise(pl.col("owner")),
            owner_kind=pl.when(is_held).then(pl.col("_kind")).otherwise(pl.col("owner_kind")),
            team=pl.when(is_held).then(pl.col("_team")).otherwise(pl.col("team")),
            commission_ppm=pl.when(is_held).then(None).otherwise(pl.col("commission_ppm")),
            reason=pl.when(is_held).then(pl.col("_reason")).otherwise(pl.col("reason")),
        )
        .select(allocation.cases.columns)
    )
    return replace(allocation, cases=frame)


def placements_without_notice(
    conn: Connection, case_keys: list[int], at: datetime, policy: Profile
) -> dict[int, str]:
    """The cases of ``case_keys`` that may not be placed with an agency at ``at`` because
    the borrower was not sent an outsourcing notice in time (CN-OUTSOURCE), each with the
    rule and its message: the nightly allocation and a team lead's placement ask the same."""
    m = t.messages
    sent = read_frame(
        conn,
        sa.select(m.c.case_key, m.c.sent_at).where(
            m.c.case_key.in_(case_keys),
            m.c.template.in_(OUTSOURCING_NOTICES),
            m.c.status.in_(["sent", "delivered"]),
        ),
        {"case_key": pl.Int64, "sent_at": pl.Datetime("us", "UTC")},
    )
    notices: dict[int, list[datetime]] = {}
    for case_key, sent_at in sent.iter_rows():
        notices.setdefault(case_key, []).append(sent_at)
    held: dict[int, str] = {}
    for case_key in case_keys:
        blocked = check_notice("outsourcing", notices.get(case_key, []), at, policy)
        if blocked:
            held[case_key] = f"{blocked[0].rule}: {blocked[0].message}"
    return held


def day_queues(conn: Connection, as_of: date, case_keys: list[int] | None = None) -> pl.DataFrame:
    """``case_key, queue``: the queue of each case's most urgent action of ``as_of`` that
    names one (of ``case_keys`` only, when given)."""
    ac = t.actions
    where = [ac.c.planned_for == as_of, ac.c.queue.is_not(None)]
    if case_keys is not None:
        where.append(ac.c.case_key.in_(case_keys))
    return (
        read_frame(
            conn,
            sa.select(ac.c.case_key, ac.c.queue, ac.c.priority).where(*where),
            {"case_key": pl.Int64, "queue": pl.String, "priority": pl.Int64},
        )
        .sort("case_key", "priority", "queue", descending=[False, True, False])
        .group_by("case_key", maintain_order=True)
        .first()
        .drop("priority")
    )


def allocation_cases(conn: Connection, as_of: date) -> pl.DataFrame:
    """Every open case of a past-due account, with what the allocation reads
    (:data:`recoup.allocation.CASE_COLUMNS`); the queue is that of the case's most urgent
    action today, if any names one."""
    queues = day_queues(conn, as_of)
    # An early-warning case of a current account is worked by automated reminders: it needs
    # an owner only once the account falls past due.
    return (
        open_cases(conn)
        .join(accounts_in_collection(conn), on="account_key", how="inner")
        .filter(pl.col("dpd") > 0)
        .join(oldest_unpaid(conn), on="account_key", how="left")
        .join(queues, on="case_key", how="left")
        .select(
            "case_key",
            "account_key",
            "bucket",
            "dpd",
            pl.col("outstanding_principal_cents").alias("balance_cents"),
            pl.col("product_id").fill_null(""),
            pl.lit(None, pl.String).alias("language"),
            pl.col("owner").alias("current_owner"),
            "owner_kind",
            "owned_since",
            "last_progress_on",
            "queue",
        )
        .sort("case_key")
    )


@dataclass(frozen=True, slots=True)
class _LeadsDecisions:
    """The team leads' reassignments around a run of the day (see :func:`_undo_same_day`)."""

    #: ``case_key, last_seq``: the highest ``seq`` of each case's decisions dated the day
    #: (a lead's, made before the day closed): the run's decision comes after them.
    of_the_day: pl.DataFrame
    #: ``case_key, owner, owner_kind, team, owned_since``: each case's last decision dated
    #: after the day, for ``cases`` once the run has decided.
    later: pl.DataFrame


def _undo_same_day(conn: Connection, as_of: date) -> _LeadsDecisions:
    """Put every case back as it stood before the allocation of ``as_of``, and forget an
    earlier run of the day; the team leads' decisions stay recorded.

    A case an earlier run of the day decided goes back to the owner it had before that run. A
    case a lead moved after the day (a decision dated later) that no earlier run decided (the
    lead acted before the day's first run) goes back to the owner it had before the lead's
    first move. One read of the day's and later decisions.
    """
    al = t.allocations
    rows = read_frame(
        conn,
        sa.select(
            al.c.case_key,
            al.c.as_of,
            al.c.seq,
            al.c.decided_by,
            al.c.owner,
            al.c.owner_kind,
            al.c.team,
            al.c.previous_owner,
            al.c.previous_owner_kind,
            al.c.previous_team,
            al.c.previous_owned_since,
        ).where(al.c.as_of >= as_of),
        {
            "case_key": pl.Int64,
            "as_of": pl.Date,
            "seq": pl.Int64,
            "decided_by": pl.String,
            "owner": pl.String,
            "owner_kind": pl.String,
            "team": pl.String,
            "previous_owner": pl.String,
            "previous_owner_kind": pl.String,
            "previous_team": pl.String,
            "previous_owned_since": pl.Date,
        },
    ).sort("case_key", "as_of", "seq")
    day, by_lead = pl.col("as_of") == as_of, pl.col("decided_by").is_not_null()
    before = [
        "case_key",
        pl.col("previous_owner").alias("owner"),
        pl.col("previous_owner_kind").alias("owner_kind"),
        pl.col("previous_team").alias("team"),
        pl.col("previous_owned_since").alias("owned_since"),
    ]
    earlier = rows.filter(day, ~by_lead).select(before)
    later = rows.filter(~day, by_lead)
    before_leads = (
        later.group_by("case_key", maintain_order=True)
        .first()
        .join(earlier, on="case_key", how="anti")
        .select(before)
    )
    update_from_frame(conn, t.cases, pl.concat([earlier, before_leads]), ["case_key"])
    if earlier.height:
        conn.execute(al.delete().where(al.c.as_of == as_of, al.c.run_id.is_not(None)))
        ev = t.case_events
        conn.execute(ev.delete().where(ev.c.happened_on == as_of, ev.c.kind.in_(_OWNER_CHANGES)))
    return _LeadsDecisions(
        of_the_day=rows.filter(day, by_lead)
        .group_by("case_key")
        .agg(pl.col("seq").max().alias("last_seq")),
        later=later.group_by("case_key", maintain_order=True)
        .last()
        .select("case_key", "owner", "owner_kind", "team", pl.col("as_of").alias("owned_since")),
    )


def _write(
    conn: Connection,
    allocation: Allocation,
    cases: pl.DataFrame,
    as_of: date,
    run_id: int,
    leads_of_the_day: pl.DataFrame,
) -> None:
    decided = allocation.cases.join(
        cases.select(
            "case_key",
            pl.col("current_owner").alias("previous_owner"),
            pl.col("owner_kind").alias("previous_owner_kind"),
            pl.col("owned_since").alias("previous_owned_since"),
        ),
        on="case_key",
        how="left",
    )
    teams = read_frame(
        conn,
        sa.select(t.cases.c.case_key, t.cases.c.team).where(t.cases.c.status == "open"),
        {"case_key": pl.Int64, "previous_team": pl.String},
    )
    # The run decides after the day's close: after any decision a lead made on the day.
    decided = decided.join(teams, on="case_key", how="left").join(
        leads_of_the_day, on="case_key", how="left"
    )
    insert_frame(
        conn,
        t.allocations,
        decided.select(
            "case_key",
            pl.lit(as_of).alias("as_of"),
            (pl.col("last_seq") + 1).fill_null(0).cast(pl.Int32).alias("seq"),
            "owner",
            "owner_kind",
            "team",
            "decision",
            "reason",
            "commission_ppm",
            "previous_owner",
            "previous_owner_kind",
            "previous_team",
            "previous_owned_since",
            pl.lit(run_id).alias("run_id"),
        ),
    )
    changed = pl.col("owner").ne_missing(pl.col("previous_owner"))
    update_from_frame(
        conn,
        t.cases,
        decided.select(
            "case_key",
            "owner",
            "owner_kind",
            "team",
            pl.when(changed)
            .then(pl.lit(as_of))
            .otherwise(pl.col("previous_owned_since"))
            .alias("owned_since"),
        ),
        ["case_key"],
    )
    events = decided.filter(pl.col("decision").is_in(_OWNER_CHANGES)).select(
        "case_key",
        pl.lit(as_of).alias("happened_on"),
        pl.col("decision").alias("kind"),
        "reason",
    )
    if events.height:
        insert_frame(
            conn,
            t.case_events,
            events.rename({"reason": "detail"}).with_columns(run_id=pl.lit(run_id)),
        )


def collector_queue(conn: Connection, owner: str, as_of: date) -> pl.DataFrame:
    """An owner's open cases with today's actions, most urgent first, each with the contact
    gate's word on it (a blocked call stays listed, so the collector sees why not)."""
    c, a, ac = t.cases, t.accounts, t.actions
    cases = read_frame(
        conn,
        sa.select(
            c.c.case_key, a.c.account_id, a.c.bucket, a.c.dpd, a.c.overdue_cents, c.c.owned_since
        )
        .select_from(c.join(a, c.c.account_key == a.c.account_key))
        .where(c.c.status == "open", c.c.owner == owner),
        {
            "case_key": pl.Int64,
            "account_id": pl.String,
            "bucket": pl.String,
            "dpd": pl.Int64,
            "overdue_cents": pl.Int64,
            "owned_since": pl.Date,
        },
    )
    actions = read_frame(
        conn,
        sa.select(
            ac.c.case_key,
            ac.c.step,
            ac.c.channel,
            ac.c.window_start,
            ac.c.window_end,
            ac.c.priority,
            ac.c.status,
        ).where(
            ac.c.planned_for == as_of,
            ac.c.case_key.in_(
                sa.select(c.c.case_key).where(c.c.status == "open", c.c.owner == owner)
            ),
        ),
        {
            "case_key": pl.Int64,
            "step": pl.String,
            "channel": pl.String,
            "window_start": pl.String,
            "window_end": pl.String,
            "priority": pl.Int64,
            "status": pl.String,  # the contact gate's word: allowed, rescheduled, blocked
        },
    )
    return cases.join(actions, on="case_key", how="left").sort(
        ["priority", "dpd", "overdue_cents", "case_key"],
        descending=[True, True, True, False],
        nulls_last=True,
    )

"""The daily strategy run: after the close, open and close cases, follow up promises, and
plan each open case's actions for the day.

One run is one transaction and one ``collection_runs`` record; every action and case event
it writes points to it. Running the same day again gives the same actions, not more: the
day's planned actions are replaced, and an event already recorded for a case on a day is
not recorded twice.

The run happens on the last closed day: a case's state is the account's state at the end
of that day, which the close has just written.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from recoup.cases import (
    INSTALLMENT_SCHEMA,
    PROMISE_OUTCOMES,
    case_changes,
    credit_payments,
    early_warning_flags,
    follow_up_installments,
    ownership_spans,
)
from recoup.cases.early_warning import LEAD_DAYS as EARLY_WARNING_LEAD_DAYS
from recoup.cases.early_warning import LOOKBACK_DAYS as EARLY_WARNING_LOOKBACK_DAYS
from recoup.close import last_closed_day
from recoup.collection.case_book import (
    account_state,
    accounts_in_collection,
    oldest_unpaid,
    open_cases,
    promises_to_follow,
)
from recoup.compliance import Profile, shipped_profile
from recoup.contact.gatekeeping import GateSummary, judge_day_actions
from recoup.ledger.kernel import effective_payments
from recoup.scoring.run import latest_scores
from recoup.store import tables as t
from recoup.store.bulk import insert_frame, read_frame, update_from_frame
from recoup.store.ledger_queries import PAYMENT_SCHEMA, payments_query
from recoup.strategy.evaluate import PathSource
from recoup.strategy.evaluate import run_strategy as plan_day
from recoup.strategy.spec import Strategy, parse_strategy

#: The early-warning grades that open a pre-due case (the riskiest two of the A-E bands).
EARLY_WARNING_HIGH_GRADES = ("D", "E")

#: An action's status from planning through the contact gate (a later step marks it done).
GATE_STATUSES = ("planned", "allowed", "blocked", "rescheduled")


class RunRefused(ValueError):
    """A run that cannot happen as asked (the message says why and what to do)."""


@dataclass(frozen=True, slots=True)
class StrategyRun:
    run_id: int
    as_of: date
    strategy: str  # "<id> v<version>"
    cases_open: int
    opened: int
    closed: Counter[str] = field(default_factory=Counter)
    promises: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    without_segment: int = 0
    gate: GateSummary | None = None

    def describe(self) -> str:
        channels = ", ".join(f"{n:,} {c}" for c, n in sorted(self.actions.items())) or "none"
        closed = ", ".join(f"{n:,} {why}" for why, n in sorted(self.closed.items())) or "none"
        promises = ", ".join(f"{n:,} {s}" for s, n in sorted(self.promises.items())) or "none"
        return (
            f"strategy run {self.run_id} for {self.as_of} ({self.strategy}): "
            f"{self.cases_open:,} open cases "
            f"({self.opened:,} opened; closed: {closed}); promises resolved: {promises}; "
            f"actions: {sum(self.actions.values()):,} ({channels}); "
            f"{self.without_segment:,} cases matched no segment"
            + (f"\n{self.gate.describe()}" if self.gate is not None else "")
        )


def run_daily_strategy(
    engine: Engine, strategy: Strategy, as_of: date, policy: Profile | None = None
) -> StrategyRun:
    """Run ``strategy`` for ``as_of`` (the last closed day) in one transaction, and put
    every planned action through the contact gate of ``policy`` (default: the shipped
    ``cn`` profile)."""
    policy = policy or shipped_profile("cn")
    with engine.begin() as conn:
        closed = last_closed_day(conn)
        if closed is None:
            raise RunRefused("no day has been closed yet: run `recoup close --through DATE` first")
        if as_of != closed:
            raise RunRefused(
                f"the ledger is closed through {closed}; the strategy runs on the last closed "
                f"day, so run it for {closed} (or close through {as_of} first)"
            )
        record_strategy_version(conn, strategy)
        run_id = _start_run(conn, strategy, as_of)
        previous = _previous_run_day(conn, run_id)

        opened, closed_counts = _open_and_close_cases(conn, strategy, as_of, run_id)
        promise_counts = _follow_up(conn, as_of, previous, run_id)
        cases = strategy_cases(conn, as_of, strategy.unreachable_after_days)
        planned = plan_day(cases, strategy, as_of)
        _write_actions(conn, planned.actions, as_of, run_id)
        _write_decisions(conn, planned.decisions, strategy)
        gate = judge_day_actions(conn, run_id, as_of, policy, datetime.now(UTC))

        result = StrategyRun(
            run_id=run_id,
            as_of=as_of,
            strategy=f"{strategy.id} v{strategy.version}",
            cases_open=cases.height,
            opened=opened,
            closed=closed_counts,
            promises=promise_counts,
            actions=Counter(planned.actions["channel"].to_list()),
            without_segment=planned.decisions.filter(pl.col("status") == "unmatched").height,
            gate=gate,
        )
        _finish_run(conn, run_id, result)
    return result


# --------------------------------------------------------------------------- the run record


def record_strategy_version(conn: Connection, strategy: Strategy) -> None:
    """Keep the text of each strategy version the first time it runs; a version's text never
    changes afterwards (a changed file needs a new version number)."""
    sv = t.strategy_versions
    stored = conn.execute(
        sa.select(sv.c.source).where(
            sv.c.strategy_id == strategy.id, sv.c.version == strategy.version
        )
    ).scalar()
    if stored is None:
        conn.execute(
            sv.insert().values(
                strategy_id=strategy.id,
                version=strategy.version,
                source=strategy.text,
                loaded_at=datetime.now(UTC),
                active=1,
            )
        )
    elif stored != strategy.text:
        raise RunRefused(
            f"strategy {strategy.id!r} version {strategy.version} already ran with a different "
            "text; give the changed file a new version number"
        )
    # The strategy in force: the one that ran last, used when a run names no file.
    this_one = sa.and_(sv.c.strategy_id == strategy.id, sv.c.version == strategy.version)
    conn.execute(sv.update().values(active=sa.case((this_one, 1), else_=0)))


def strategy_in_force(conn: Connection) -> Strategy | None:
    """The strategy that ran last (``None`` before any run)."""
    sv = t.strategy_versions
    row = conn.execute(
        sa.select(sv.c.strategy_id, sv.c.version, sv.c.source).where(sv.c.active == 1)
    ).first()
    if row is None:
        return None
    return parse_strategy(row.source, f"stored strategy {row.strategy_id} v{row.version}")


def _start_run(conn: Connection, strategy: Strategy, as_of: date) -> int:
    return int(
        conn.execute(
            t.collection_runs.insert()
            .values(
                kind="strategy",
                as_of=as_of,
                strategy_id=strategy.id,
                strategy_version=strategy.version,
                started_at=datetime.now(UTC),
            )
            .returning(t.collection_runs.c.run_id)
        ).scalar_one()
    )


def _previous_run_day(conn: Connection, run_id: int) -> date | None:
    r = t.collection_runs
    return conn.execute(
        sa.select(sa.func.max(r.c.as_of)).where(
            r.c.kind == "strategy", r.c.run_id != run_id, r.c.finished_at.is_not(None)
        )
    ).scalar()


def _finish_run(conn: Connection, run_id: int, result: StrategyRun) -> None:
    summary = {
        "cases_open": result.cases_open,
        "opened": result.opened,
        "closed": dict(result.closed),
        "promises": dict(result.promises),
        "actions": dict(result.actions),
        "without_segment": result.without_segment,
    }
    if result.gate is not None:
        summary["gate"] = {
            "statuses": dict(result.gate.statuses),
            "rules": dict(result.gate.rules),
        }
    conn.execute(
        t.collection_runs.update()
        .where(t.collection_runs.c.run_id == run_id)
        .values(finished_at=datetime.now(UTC), summary=json.dumps(summary, sort_keys=True))
    )


# --------------------------------------------------------------------------- cases


def _open_and_close_cases(
    conn: Connection, strategy: Strategy, as_of: date, run_id: int
) -> tuple[int, Counter[str]]:
    accounts = accounts_in_collection(conn)
    cases = open_cases(conn)
    flagged = (
        _early_warning(conn, as_of)
        if any(segment.early_warning for segment in strategy.segments)
        else None
    )
    if flagged is not None:
        accounts = pl.concat([accounts, flagged]).unique("account_key", keep="first")
    changes = case_changes(accounts, cases, as_of, flagged)

    if changes.opened.height:
        insert_frame(
            conn,
            t.cases,
            changes.opened.with_columns(
                status=pl.lit("open"), dispute=pl.lit(0), vulnerable=pl.lit(0)
            ),
        )
        new_cases = read_frame(
            conn,
            sa.select(t.cases.c.case_key, t.cases.c.opened_because).where(
                t.cases.c.status == "open",
                t.cases.c.account_key.in_(changes.opened["account_key"].to_list()),
            ),
            {"case_key": pl.Int64, "opened_because": pl.String},
        )
        _record_events(
            conn,
            new_cases.select(
                "case_key",
                pl.lit(as_of).alias("happened_on"),
                pl.lit("opened").alias("kind"),
                pl.format("case opened: {}", pl.col("opened_because").str.replace("_", " ")).alias(
                    "detail"
                ),
            ),
            run_id,
        )
    if changes.closed.height:
        update_from_frame(
            conn,
            t.cases,
            changes.closed.select(
                "case_key",
                pl.lit("closed").alias("status"),
                pl.lit(as_of).alias("closed_on"),
                "closed_because",
            ),
            ["case_key"],
        )
        _record_events(
            conn,
            changes.closed.select(
                "case_key",
                pl.lit(as_of).alias("happened_on"),
                pl.lit("closed").alias("kind"),
                pl.format("case closed: {}", pl.col("closed_because").str.replace("_", " ")).alias(
                    "detail"
                ),
            ),
            run_id,
        )
    if changes.escalated.height:
        update_from_frame(
            conn,
            t.cases,
            changes.escalated.with_columns(opened_because=pl.lit("delinquent")),
            ["case_key"],
        )
        _record_events(
            conn,
            changes.escalated.select(
                "case_key",
                pl.lit(as_of).alias("happened_on"),
                pl.lit("past_due").alias("kind"),
                pl.lit("the early-warning case's account fell past due").alias("detail"),
            ),
            run_id,
        )
    return changes.opened.height, Counter(changes.closed["closed_because"].to_list())


def _early_warning(conn: Connection, as_of: date) -> pl.DataFrame:
    """The current accounts flagged by early warning, with their state. Only accounts with
    an installment due within the lead days are read (a few percent of the book).

    With early-warning scores of the last week (``recoup score``), the flag is the model's:
    grades EARLY_WARNING_HIGH_GRADES. Without, the interim rule of ``recoup.cases``."""
    i, m, a = t.installments, t.bucket_moves, t.accounts
    due_soon = sa.and_(
        i.c.settled == 0,
        i.c.due_date > as_of,
        i.c.due_date <= as_of + timedelta(days=EARLY_WARNING_LEAD_DAYS),
    )
    next_due = read_frame(
        conn,
        sa.select(i.c.account_key, i.c.due_date).where(due_soon),
        {"account_key": pl.Int64, "due_date": pl.Date},
    )
    moves = read_frame(
        conn,
        sa.select(m.c.account_key, m.c.moved_on, m.c.dpd).where(
            m.c.moved_on > as_of - timedelta(days=EARLY_WARNING_LOOKBACK_DAYS), m.c.dpd > 0
        ),
        {"account_key": pl.Int64, "moved_on": pl.Date, "dpd": pl.Int64},
    )
    current = account_state(
        conn, sa.and_(a.c.dpd == 0, a.c.account_key.in_(sa.select(i.c.account_key).where(due_soon)))
    )
    scores = latest_scores(conn, as_of).filter(pl.col("kind") == "early_warning")
    if scores.height:
        # The early-warning model replaces the interim rule once it scores the book: the
        # accounts in its high grades are flagged.
        high = scores.filter(pl.col("grade").is_in(EARLY_WARNING_HIGH_GRADES))
        return current.join(high, on="account_key", how="semi")
    flagged = early_warning_flags(current.select("account_key", "dpd"), next_due, moves, as_of)
    return current.join(flagged, on="account_key", how="semi")


def _record_events(conn: Connection, events: pl.DataFrame, run_id: int) -> None:
    """Record ``case_key, happened_on, kind, detail`` rows not already recorded (a re-run of
    the same day records nothing twice)."""
    if not events.height:
        return
    days = events["happened_on"].unique().to_list()
    known = read_frame(
        conn,
        sa.select(
            t.case_events.c.case_key, t.case_events.c.happened_on, t.case_events.c.kind
        ).where(t.case_events.c.happened_on.in_(days)),
        {"case_key": pl.Int64, "happened_on": pl.Date, "kind": pl.String},
    )
    new = events.join(known, on=["case_key", "happened_on", "kind"], how="anti")
    insert_frame(conn, t.case_events, new.with_columns(run_id=pl.lit(run_id)))


# --------------------------------------------------------------------------- follow-up


def _follow_up(conn: Connection, as_of: date, previous: date | None, run_id: int) -> Counter[str]:
    """Judge open promises on the payments made, record payments on open cases as progress
    (and partial payments as events), and credit payments to the case owners."""
    promises = promises_to_follow(conn)
    accounts = promises["account_key"].unique().to_list()
    since = previous if previous is not None and previous < as_of else as_of - timedelta(days=1)
    pay = t.payments
    recent_or_promised = sa.or_(
        pay.c.paid_on > since,
        pay.c.account_key.in_(accounts) if accounts else sa.false(),
    )
    payments = effective_payments(
        read_frame(
            conn, payments_query([recent_or_promised, pay.c.paid_on <= as_of]), PAYMENT_SCHEMA
        ),
        as_of,
    )
    counts: Counter[str] = Counter()
    if promises.height:
        stored = _open_promise_installments(conn)
        judged = follow_up_installments(promises, stored, payments, as_of)
        standing = judged.promises
        update_from_frame(conn, t.promises, standing, ["promise_key"])
        _write_installments(conn, judged.installments, stored, promises, run_id)
        resolved = standing.filter(pl.col("status") != "open").join(
            promises.select("promise_key", "case_key", "amount_cents"), on="promise_key"
        )
        counts.update(resolved["status"].to_list())
        _record_events(
            conn,
            resolved.select(
                "case_key",
                pl.col("resolved_on").alias("happened_on"),
                pl.concat_str(pl.lit("promise_"), pl.col("status")).alias("kind"),
                pl.format(
                    "promise of {} cents: {}, {} cents paid",
                    "amount_cents",
                    pl.col("status").str.replace("_", " "),
                    "paid_cents",
                ).alias("detail"),
            ),
            run_id,
        )
        broken = resolved.filter(pl.col("status") != "kept").select(
            "case_key",
            pl.lit("promise_broken").alias("last_event"),
            pl.col("resolved_on").alias("last_event_on"),
        )
        if broken.height:
            update_from_frame(conn, t.cases, broken, ["case_key"])

    cases = open_cases(conn).select("case_key", "account_key")
    recent = payments.filter(pl.col("paid_on") > since).join(cases, on="account_key")
    if recent.height:
        progress = recent.group_by("case_key").agg(
            pl.col("paid_on").max().alias("last_progress_on")
        )
        update_from_frame(conn, t.cases, progress, ["case_key"])
        state = read_frame(
            conn,
            sa.select(t.accounts.c.account_key, t.accounts.c.dpd),
            {"account_key": pl.Int64, "dpd": pl.Int64},
        )
        partial = (
            recent.join(state, on="account_key")
            .filter(pl.col("dpd") > 0)
            .group_by("case_key")
            .agg(pl.col("paid_on").max().alias("last_event_on"), pl.col("amount_cents").sum())
        )
        if partial.height:
            update_from_frame(
                conn,
                t.cases,
                partial.select(
                    "case_key", pl.lit("partial_payment").alias("last_event"), "last_event_on"
                ),
                ["case_key"],
            )
            _record_events(
                conn,
                partial.select(
                    "case_key",
                    pl.col("last_event_on").alias("happened_on"),
                    pl.lit("partial_payment").alias("kind"),
                    pl.format("paid {} cents; still past due", "amount_cents").alias("detail"),
                ),
                run_id,
            )
    _credit(conn, since, as_of)
    return counts


def _open_promise_installments(conn: Connection) -> pl.DataFrame:
    """The stored installments of the open promises (a promise stored without any is one
    installment of its amount by its date)."""
    pi, pr = t.promise_installments, t.promises
    return read_frame(
        conn,
        sa.select(pi.c.promise_key, pi.c.number, pi.c.due_on, pi.c.amount_cents)
        .join(pr, pr.c.promise_key == pi.c.promise_key)
        .where(pr.c.status == "open"),
        INSTALLMENT_SCHEMA,
    )


def _write_installments(
    conn: Connection,
    judged: pl.DataFrame,
    stored: pl.DataFrame,
    promises: pl.DataFrame,
    run_id: int,
) -> None:
    """Store the installments' standing next to their promises' (adding the one installment
    of a promise stored without any), and record an event for each installment of a promise
    of several that is resolved (kept, partly kept or broken)."""
    keys = ["promise_key", "number"]
    pi = t.promise_installments
    was_open = read_frame(
        conn,
        sa.select(pi.c.promise_key, pi.c.number).where(
            pi.c.promise_key.in_(stored["promise_key"].unique().to_list()), pi.c.status == "open"
        ),
        {"promise_key": pl.Int64, "number": pl.Int64},
    )
    known = judged.join(stored.select(keys), on=keys, how="semi")
    update_from_frame(
        conn,
        t.promise_installments,
        known.select(*keys, "paid_cents", "status", "resolved_on"),
        keys,
    )
    insert_frame(conn, t.promise_installments, judged.join(known.select(keys), on=keys, how="anti"))
    # An event when an installment is resolved: it was open (or not stored) before this run.
    newly = pl.concat(
        [
            judged.join(was_open, on=keys, how="semi"),
            judged.join(known.select(keys), on=keys, how="anti"),
        ]
    )
    several = (
        newly.join(judged.group_by("promise_key").agg(pl.len().alias("count")), on="promise_key")
        .filter((pl.col("count") > 1) & pl.col("status").is_in(PROMISE_OUTCOMES))
        .join(promises.select("promise_key", "case_key"), on="promise_key")
    )
    _record_events(
        conn,
        several.select(
            "case_key",
            pl.col("resolved_on").alias("happened_on"),
            pl.concat_str(pl.lit("installment_"), pl.col("status")).alias("kind"),
            pl.format(
                "promise installment {} of {} ({} cents by {}): {}, {} cents paid",
                "number",
                "count",
                "amount_cents",
                "due_on",
                pl.col("status").str.replace("_", " "),
                "paid_cents",
            ).alias("detail"),
        ),
        run_id,
    )


def _credit(conn: Connection, since: date, as_of: date) -> None:
    pay, al, c, pc = t.payments, t.allocations, t.cases, t.payment_credits
    payments = read_frame(
        conn,
        sa.select(pay.c.payment_key, pay.c.account_key, pay.c.paid_on, pay.c.amount_cents).where(
            pay.c.paid_on > since,
            pay.c.paid_on <= as_of,
            pay.c.reverses_payment_id.is_(None),
            pay.c.reversed_on.is_(None),
            ~pay.c.payment_key.in_(sa.select(pc.c.payment_key)),
        ),
        {
            "payment_key": pl.Int64,
            "account_key": pl.Int64,
            "paid_on": pl.Date,
            "amount_cents": pl.Int64,
        },
    )
    if not payments.height:
        return
    # Every ownership decision on the accounts' cases: the nightly run's and the leads'.
    decisions = read_frame(
        conn,
        sa.select(al.c.case_key, c.c.account_key, al.c.owner, al.c.owner_kind, al.c.as_of, al.c.seq)
        .select_from(al.join(c, al.c.case_key == c.c.case_key))
        .where(c.c.account_key.in_(payments["account_key"].unique().to_list())),
        {
            "case_key": pl.Int64,
            "account_key": pl.Int64,
            "owner": pl.String,
            "owner_kind": pl.String,
            "as_of": pl.Date,
            "seq": pl.Int64,
        },
    )
    credits = credit_payments(payments, ownership_spans(decisions))
    insert_frame(conn, pc, credits)


# --------------------------------------------------------------------------- planning


def strategy_cases(
    conn: Connection, as_of: date, unreachable_after_days: int | None = None
) -> pl.DataFrame:
    """One row per open case with the columns :func:`recoup.strategy.plan_actions` reads.

    With ``unreachable_after_days`` (the strategy's threshold), a borrower the contact
    outcomes flagged ``unreachable`` (no working number of their own left) counts as having
    reached it on the day the flag was set: the case takes the skip-trace path at once.
    """
    cases = open_cases(conn)
    accounts = accounts_in_collection(conn)
    unpaid = oldest_unpaid(conn)
    promises = read_frame(
        conn,
        sa.select(t.promises.c.case_key, sa.func.max(t.promises.c.promised_for))
        .where(t.promises.c.status == "open", t.promises.c.promised_for >= as_of)
        .group_by(t.promises.c.case_key),
        {"case_key": pl.Int64, "promise_until": pl.Date},
    )
    # Unreachable (失联): days without a successful contact since the first call was
    # planned, or since the last successful contact. Until calls are planned nobody has
    # tried, so nobody is unreachable.
    ac = t.actions
    first_call = read_frame(
        conn,
        sa.select(ac.c.case_key, sa.func.min(ac.c.planned_for))
        .where(ac.c.channel.in_(["call", "field_visit"]), ac.c.planned_for < as_of)
        .group_by(ac.c.case_key),
        {"case_key": pl.Int64, "first_call_on": pl.Date},
    )
    days_unreached = (
        (pl.lit(as_of) - pl.coalesce("last_contact_on", "first_call_on"))
        .dt.total_days()
        .fill_null(0)
    )
    if unreachable_after_days is not None:
        flagged = _flagged_unreachable(conn)
        cases = cases.join(flagged, on="account_key", how="left")
        since_flag = (pl.lit(as_of) - pl.col("flagged_on")).dt.total_days()
        days_unreached = pl.max_horizontal(
            days_unreached, (since_flag + unreachable_after_days).fill_null(0)
        )
    # The grade and score of the account's latest score of the fitting kind (collection for
    # an account past due, early warning for a current one), if it was scored this week.
    scores = latest_scores(conn, as_of)
    graded = (
        accounts.select("account_key", "dpd")
        .with_columns(
            kind=pl.when(pl.col("dpd") > 0)
            .then(pl.lit("collection"))
            .otherwise(pl.lit("early_warning"))
        )
        .join(scores, on=["account_key", "kind"], how="left")
        .select(
            "account_key",
            pl.col("grade").alias("risk_grade"),
            pl.col("score").cast(pl.Float64).alias("score"),
        )
    )
    return (
        cases.join(accounts, on="account_key", how="inner")
        .join(graded, on="account_key", how="left")
        .join(first_call, on="case_key", how="left")
        .join(unpaid, on="account_key", how="left")
        .join(promises, on="case_key", how="left")
        .select(
            "case_key",
            "account_key",
            "account_id",
            "opened_on",
            "due_date",
            "bucket",
            "dpd",
            "overdue_cents",
            pl.col("outstanding_principal_cents").alias("balance_cents"),
            pl.col("product_id").fill_null(""),
            "region",
            pl.lit(None, pl.String).alias("language"),
            "risk_grade",
            "score",
            ((pl.col("opened_because") == "early_warning") & (pl.col("dpd") == 0)).alias(
                "early_warning"
            ),
            (pl.col("dispute") == 1).alias("dispute"),
            (pl.col("vulnerable") == 1).alias("vulnerable"),
            days_unreached.alias("unreachable_days"),
            "promise_until",
            "last_event",
            "last_event_on",
            "path_override",
            "path_since",
        )
        .sort("case_key")
    )


def _flagged_unreachable(conn: Connection) -> pl.DataFrame:
    """Accounts whose borrower carries an active ``unreachable`` flag, with the flag's day."""
    f, a = t.borrower_flags, t.accounts
    return read_frame(
        conn,
        sa.select(a.c.account_key, sa.func.min(f.c.set_at))
        .join(f, f.c.borrower_key == a.c.borrower_key)
        .where(f.c.flag == "unreachable", f.c.cleared_at.is_(None))
        .group_by(a.c.account_key),
        {"account_key": pl.Int64, "flagged_at": pl.Datetime("us", "UTC")},
    ).select("account_key", pl.col("flagged_at").dt.date().alias("flagged_on"))


def _write_actions(conn: Connection, actions: pl.DataFrame, as_of: date, run_id: int) -> None:
    a = t.actions
    # The day's actions are planned again; the contact gate judges them again.
    conn.execute(a.delete().where(a.c.planned_for == as_of, a.c.status.in_(GATE_STATUSES)))
    if actions.height:
        rows = actions.rename({"as_of": "planned_for"}).with_columns(
            status=pl.lit("planned"), run_id=pl.lit(run_id)
        )
        insert_frame(conn, a, rows.select([c for c in rows.columns if c in a.c]))


def _write_decisions(conn: Connection, decisions: pl.DataFrame, strategy: Strategy) -> None:
    """Each case's segment and path as decided today (``recoup strategy trace`` explains it).
    A path an event moved the case to is kept as its override, with the day it started, so
    a later event (a partial payment after a broken promise) does not lose it."""
    if not decisions.height:
        return
    by_event = ~pl.col("path_source").is_in([PathSource.SEGMENT.value, PathSource.ARM.value])
    update_from_frame(
        conn,
        t.cases,
        decisions.select(
            "case_key",
            pl.lit(strategy.id).alias("strategy_id"),
            pl.lit(strategy.version).alias("strategy_version"),
            "segment",
            "path",
            pl.when(by_event).then(pl.col("path")).otherwise(None).alias("path_override"),
            pl.when(by_event).then(pl.col("path_since")).otherwise(None).alias("path_since"),
        ),
        ["case_key"],
    )

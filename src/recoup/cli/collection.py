"""The collection commands: ``strategy``, ``allocate``, ``queue``, ``promise`` and ``case``.

``strategy check`` and ``strategy explain`` read only the file; the others work on the store
(``RECOUP_DATABASE_URL``) after the day's close. A run with ``--strategy FILE`` puts that
strategy in force; without it, a run uses the strategy in force (the shipped one before any
run). ``trace`` and ``results`` use the version that ran.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recoup.money import format_cents, parse_cents

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from recoup.strategy import ArmResult, ChallengerResults, Strategy


#: The values of :class:`recoup.cases.PromiseChannel` (not imported: the parser stays light).
PROMISE_CHANNELS = ("call", "sms", "email", "letter", "visit", "app", "other")


class CommandRefused(Exception):
    """What the user asked cannot be done; the message says why (exit status 2)."""


def _strategy(path: Path | None) -> Strategy:
    from recoup.strategy import load_strategy, parse_strategy
    from recoup.strategy.spec import default_strategy_text

    if path is None:
        return parse_strategy(default_strategy_text(), "recoup/strategy/default.yaml")
    return load_strategy(path)


def _stored_strategy(conn: Connection, strategy_id: str, version: int) -> Strategy | None:
    import sqlalchemy as sa

    from recoup.store import tables as t
    from recoup.strategy import parse_strategy

    sv = t.strategy_versions
    text = conn.execute(
        sa.select(sv.c.source).where(sv.c.strategy_id == strategy_id, sv.c.version == version)
    ).scalar()
    if text is None:
        return None
    return parse_strategy(text, f"stored strategy {strategy_id} v{version}")


def _engine() -> Any:
    from recoup.store.engine import open_store

    return open_store()


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


# --------------------------------------------------------------------------- strategy


def cmd_strategy_check(args: argparse.Namespace) -> int:
    strategy = _strategy(args.file)
    print(
        f"{args.file}: strategy {strategy.id!r} version {strategy.version} is valid: "
        f"{len(strategy.segments)} segments, {len(strategy.paths)} paths, "
        f"{sum(len(p.steps) for p in strategy.paths.values())} steps, "
        f"{len(strategy.tests)} champion/challenger tests"
    )
    return 0


def cmd_strategy_explain(args: argparse.Namespace) -> int:
    from recoup.strategy import explain

    print(explain(_strategy(args.file)))
    return 0


def cmd_strategy_run(args: argparse.Namespace) -> int:
    from recoup.collection.daily import RunRefused, run_daily_strategy, strategy_in_force

    engine = _engine()
    if args.strategy is not None:
        strategy = _strategy(args.strategy)
    else:
        with engine.connect() as conn:
            strategy = strategy_in_force(conn) or _strategy(None)
    from recoup.cli.contact import profile_named

    try:
        result = run_daily_strategy(engine, strategy, args.as_of, profile_named(args.policy))
    except RunRefused as exc:
        raise CommandRefused(str(exc)) from None
    if args.json:
        _print_json(
            {
                "run_id": result.run_id,
                "as_of": result.as_of.isoformat(),
                "strategy": result.strategy,
                "cases_open": result.cases_open,
                "opened": result.opened,
                "closed": dict(result.closed),
                "promises": dict(result.promises),
                "actions": dict(result.actions),
                "without_segment": result.without_segment,
                "gate": {
                    "statuses": dict(result.gate.statuses),
                    "rules": dict(result.gate.rules),
                }
                if result.gate
                else None,
            }
        )
    else:
        print(result.describe())
    return 0


def cmd_strategy_trace(args: argparse.Namespace) -> int:
    from recoup.collection.queries import UnknownAccount, trace_account

    engine = _engine()
    with engine.connect() as conn:
        strategy = _strategy(args.strategy)
        if args.strategy is None:
            strategy = _strategy_of_account(conn, args.account_id) or strategy
        try:
            trace = trace_account(conn, strategy, args.account_id)
        except UnknownAccount as exc:
            raise CommandRefused(str(exc)) from None
    decision = trace.plan.decisions.row(0, named=True) if trace.plan is not None else None
    actions = trace.plan.actions.to_dicts() if trace.plan is not None else []
    if args.json:
        _print_json(
            {
                "account_id": trace.account_id,
                "as_of": trace.as_of,
                "strategy": f"{strategy.id} v{strategy.version}",
                "case": trace.case,
                "decision": decision,
                "actions": actions,
                "planned": trace.planned.to_dicts(),
                "events": trace.events.to_dicts(),
            }
        )
        return 0
    print(
        f"account {trace.account_id} on {trace.as_of}, strategy {strategy.id} v{strategy.version}"
    )
    if trace.case is None:
        print("  no collection case: the account has never been past due")
        return 0
    case = trace.case
    print(
        f"  case {case['case_key']}: {case['status']} since {case['opened_on']} "
        f"({case['opened_because']})"
        + (f", closed {case['closed_on']} ({case['closed_because']})" if case["closed_on"] else "")
        + (f"; owner {case['owner']} ({case['owner_kind']})" if case["owner"] else "")
    )
    if decision is not None:
        print(f"  decision: {decision['status']}")
        print(f"  why: {decision['reason']}")
        if decision["skipped"]:
            print(f"  skipped today: {decision['skipped']}")
        if decision["next_step"]:
            print(f"  next: {decision['next_step']} on {decision['next_on']}")
    print("  actions today:" if actions else "  no action today")
    for action in actions:
        print(
            f"    - {action['channel']} {action['template']} ({action['step']}): {action['reason']}"
        )
    if trace.events.height:
        print("  history:")
        for event in trace.events.iter_rows(named=True):
            print(f"    {event['happened_on']} {event['kind']}: {event['detail']}")
    return 0


def _strategy_of_account(conn: Connection, account_id: str) -> Strategy | None:
    import sqlalchemy as sa

    from recoup.store import tables as t

    c, a = t.cases, t.accounts
    row = conn.execute(
        sa.select(c.c.strategy_id, c.c.strategy_version)
        .select_from(c.join(a, c.c.account_key == a.c.account_key))
        .where(a.c.account_id == account_id, c.c.strategy_id.is_not(None))
        .order_by(c.c.case_key.desc())
        .limit(1)
    ).first()
    return None if row is None else _stored_strategy(conn, row[0], int(row[1]))


def cmd_strategy_results(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from recoup.close import last_closed_day
    from recoup.collection.queries import test_outcomes
    from recoup.store import tables as t
    from recoup.strategy import compare_arms

    engine = _engine()
    with engine.connect() as conn:
        strategy = _strategy(args.strategy)
        if args.strategy is None:
            ac = t.actions
            ran = conn.execute(
                sa.select(ac.c.strategy_id, ac.c.strategy_version)
                .where(ac.c.test_id == args.test)
                .order_by(ac.c.strategy_version.desc())
                .limit(1)
            ).first()
            if ran is not None:
                strategy = _stored_strategy(conn, ran[0], int(ran[1])) or strategy
        test = next((x for x in strategy.tests if x.id == args.test), None)
        if test is None:
            known = ", ".join(x.id for x in strategy.tests) or "none"
            raise CommandRefused(
                f"strategy {strategy.id!r} v{strategy.version} has no test {args.test!r} "
                f"(its tests: {known})"
            )
        as_of = last_closed_day(conn) or date.today()
        outcomes = test_outcomes(conn, args.test, as_of)
    results = compare_arms(outcomes, test)
    if args.json:
        _print_json(_results_json(results))
        return 0
    print(
        f"test {test.id} ({strategy.id} v{strategy.version}) through {as_of}: "
        f"{outcomes.height:,} cases"
    )
    for arm in results.arms:
        if arm.cure_rate is None or arm.cure_interval is None:
            print(f"  {arm.arm:<12} no cases yet")
            continue
        print(
            f"  {arm.arm:<12} {arm.cases:>8,} cases  cured {arm.cure_rate:6.1%} "
            f"[{arm.cure_interval.low:.1%}, {arm.cure_interval.high:.1%}]  "
            f"recovered {format_cents(arm.recovered_cents)}  cost {format_cents(arm.cost_cents)}  "
            f"contacts {arm.contacts:,}  complaints {_arm_complaints(arm)}"
        )
    for comparison in results.comparisons:
        if comparison.cure_rate_difference is None or comparison.cure_rate_interval is None:
            continue
        verdict = "significant" if comparison.cure_rate_significant else "not significant"
        print(
            f"  {comparison.arm} vs {comparison.champion}: cure rate "
            f"{comparison.cure_rate_difference:+.1%} [{comparison.cure_rate_interval.low:+.1%}, "
            f"{comparison.cure_rate_interval.high:+.1%}] ({verdict} at "
            f"{results.confidence:.0%})"
        )
        difference = comparison.complaints_difference_per_1000
        interval = comparison.complaints_difference_interval
        if difference is not None and interval is not None:
            verdict = "significant" if comparison.complaints_significant else "not significant"
            print(
                f"  {comparison.arm} vs {comparison.champion}: complaints per 1,000 cases "
                f"{difference:+.1f} [{interval.low:+.1f}, {interval.high:+.1f}] ({verdict} at "
                f"{results.confidence:.0%})"
            )
    return 0


def _arm_complaints(arm: ArmResult) -> str:
    """An arm's complaints and their rate, or 'unknown' when no case's count is known."""
    if arm.complaints is None or arm.complaints_per_1000_cases is None:
        return "unknown"
    return f"{arm.complaints:,} ({arm.complaints_per_1000_cases:.1f} per 1,000 cases)"


def _results_json(results: ChallengerResults) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(results)


# --------------------------------------------------------------------------- allocation


def cmd_allocate(args: argparse.Namespace) -> int:
    from recoup.allocation import format_summary, load_teams, summarise, teams_path_in_force
    from recoup.collection.allocation_run import run_allocation
    from recoup.collection.daily import RunRefused

    config = load_teams(args.teams or teams_path_in_force(os.environ))
    try:
        from recoup.cli.contact import profile_named

        run = run_allocation(_engine(), config, args.as_of, profile_named(args.policy))
    except RunRefused as exc:
        raise CommandRefused(str(exc)) from None
    print(run.describe())
    for line in format_summary(summarise(run.allocation, config)):
        print(f"  {line}")
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    from recoup.close import last_closed_day
    from recoup.collection.allocation_run import collector_queue

    engine = _engine()
    with engine.connect() as conn:
        as_of = args.as_of or last_closed_day(conn)
        if as_of is None:
            raise CommandRefused("no day has been closed yet")
        queue = collector_queue(conn, args.collector, as_of)
    if args.json:
        _print_json({"owner": args.collector, "as_of": as_of, "cases": queue.to_dicts()})
        return 0
    if queue.is_empty():
        print(f"{args.collector}: no open cases")
        return 0
    print(f"{args.collector} on {as_of}: {queue['case_key'].n_unique():,} open cases")
    for row in queue.iter_rows(named=True):
        todo = (
            f"{row['channel']} ({row['step']}) {row['window_start']}-{row['window_end']}"
            if row["channel"]
            else "nothing due today"
        )
        if row["channel"] and row["status"] not in (None, "allowed"):
            todo += f" [{row['status']} by the contact gate]"
        print(
            f"  {row['account_id']:<12} {row['bucket']:<4} DPD {row['dpd']:>4}  "
            f"overdue {format_cents(row['overdue_cents']):>12}  {todo}"
        )
    return 0


# --------------------------------------------------------------------------- cases


def cmd_promise(args: argparse.Namespace) -> int:
    from recoup.collection.promises import record_promise

    amounts = [parse_cents(text) for text in args.amount]
    if len(amounts) != len(args.date):
        raise CommandRefused(
            f"give one --date for each --amount, in order ({len(amounts)} amounts, "
            f"{len(args.date)} dates)"
        )
    single = len(amounts) == 1
    if single and amounts[0] <= 0:
        raise CommandRefused("--amount: must be positive")
    engine = _engine()
    with engine.begin() as conn:
        case = _open_case(conn, args.account_id)
        made_on = args.made_on or _last_closed(conn)
        if single and args.date[0] < made_on:
            raise CommandRefused(
                f"--date {args.date[0]} is before the promise was made ({made_on})"
            )
        try:
            record_promise(
                conn,
                case,
                made_on,
                grace_days=args.grace,
                made_by=args.by,
                installments=list(zip(args.date, amounts, strict=True)),
                channel=args.channel,
            )
        except ValueError as exc:
            raise CommandRefused(str(exc)) from None
    if single:
        print(f"promise recorded on case {case}: {format_cents(amounts[0])} by {args.date[0]}")
        return 0
    print(
        f"promise recorded on case {case}: {format_cents(sum(amounts))} "
        f"in {len(amounts)} installments"
    )
    for number, (due_on, amount) in enumerate(zip(args.date, amounts, strict=True), start=1):
        print(f"  {number:>2}. {format_cents(amount):>12} by {due_on}")
    return 0


def cmd_promise_list(args: argparse.Namespace) -> int:
    import polars as pl
    import sqlalchemy as sa

    from recoup.analytics.collection import promise_kept_rate
    from recoup.store import tables as t

    if not args.account_id and not args.by:
        raise CommandRefused("give an account, or --by COLLECTOR")
    pr, pi, a = t.promises, t.promise_installments, t.accounts
    chosen = []
    if args.account_id:
        chosen.append(a.c.account_id == args.account_id)
    if args.by:
        chosen.append(pr.c.made_by == args.by)
    query = (
        sa.select(
            a.c.account_id,
            pr.c.made_on,
            pr.c.promised_for,
            pr.c.amount_cents,
            pr.c.paid_cents,
            pr.c.status,
            pr.c.resolved_on,
            pr.c.made_by,
            pr.c.promise_key,
            pr.c.channel,
            pr.c.grace_days,
        )
        .join(a, a.c.account_key == pr.c.account_key)
        .where(*chosen)
        .order_by(pr.c.made_on, pr.c.promise_key)
    )
    parts_query = (
        sa.select(
            pi.c.promise_key,
            pi.c.number,
            pi.c.due_on,
            pi.c.amount_cents,
            pi.c.paid_cents,
            pi.c.status,
            pi.c.resolved_on,
        )
        .join(pr, pr.c.promise_key == pi.c.promise_key)
        .join(a, a.c.account_key == pr.c.account_key)
        .where(*chosen)
        .order_by(pi.c.promise_key, pi.c.number)
    )
    with _engine().connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
        parts: dict[int, list[dict[str, Any]]] = {}
        for part in conn.execute(parts_query).mappings():
            parts.setdefault(part["promise_key"], []).append(
                {k: v for k, v in part.items() if k != "promise_key"}
            )
    for r in rows:
        r["installments"] = parts.get(r["promise_key"], [])
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no promises")
        return 0
    kept = sum(r["status"] == "kept" for r in rows)
    judged = sum(r["status"] in ("kept", "partly_kept", "broken") for r in rows)
    for r in rows:
        print(
            f"{r['account_id']:<12} made {r['made_on']} for {r['promised_for']} "
            f"{format_cents(r['amount_cents']):>12} paid {format_cents(r['paid_cents']):>12} "
            f"{r['status']:<12} {r['made_by'] or ''}"
        )
        if len(r["installments"]) > 1:
            for part in r["installments"]:
                print(
                    f"  {part['number']:>2}. by {part['due_on']} "
                    f"{format_cents(part['amount_cents']):>12} "
                    f"paid {format_cents(part['paid_cents']):>12} {part['status']}"
                    + (f" on {part['resolved_on']}" if part["resolved_on"] else "")
                )
    if judged:
        print(f"kept {kept} of {judged} judged promises ({kept / judged:.0%})")
    # Per collector, when the listing is not one collector's already.
    if not args.by:
        frame = pl.DataFrame(
            {"status": [r["status"] for r in rows], "made_by": [r["made_by"] for r in rows]},
            schema={"status": pl.String, "made_by": pl.String},
        ).with_columns(made_on=pl.lit(None, pl.Date))
        rates = promise_kept_rate(frame, "collector").filter(
            pl.col("collector").is_not_null() & (pl.col("judged") > 0)
        )
        for rate in rates.iter_rows(named=True):
            print(
                f"  {rate['collector']}: kept {rate['kept']} of {rate['judged']} judged "
                f"promises ({rate['kept'] / rate['judged']:.0%})"
            )
    return 0


def cmd_case_flag(args: argparse.Namespace) -> int:
    from recoup.store import tables as t

    values: dict[str, Any] = {}
    if args.dispute is not None:
        values["dispute"] = int(args.dispute == "on")
    if args.vulnerable is not None:
        values["vulnerable"] = int(args.vulnerable == "on")
    if args.contacted is not None:
        values["last_contact_on"] = args.contacted
    if not values:
        raise CommandRefused("give --dispute, --vulnerable or --contacted")
    engine = _engine()
    with engine.begin() as conn:
        case = _open_case(conn, args.account_id)
        conn.execute(t.cases.update().where(t.cases.c.case_key == case).values(**values))
        day = _last_closed(conn)
        conn.execute(
            t.case_events.insert().values(
                case_key=case,
                happened_on=day,
                kind="flags",
                detail=", ".join(f"{k} {v}" for k, v in values.items()),
            )
        )
    print(f"case {case}: " + ", ".join(f"{k} = {v}" for k, v in values.items()))
    return 0


def _open_case(conn: Connection, account_id: str) -> int:
    import sqlalchemy as sa

    from recoup.store import tables as t

    c, a = t.cases, t.accounts
    case = conn.execute(
        sa.select(c.c.case_key)
        .select_from(c.join(a, c.c.account_key == a.c.account_key))
        .where(a.c.account_id == account_id, c.c.status == "open")
    ).scalar()
    if case is None:
        raise CommandRefused(f"account {account_id!r} has no open collection case")
    return int(case)


def _last_closed(conn: Connection) -> date:
    from recoup.close import last_closed_day

    day = last_closed_day(conn)
    if day is None:
        raise CommandRefused("no day has been closed yet")
    return day


# --------------------------------------------------------------------------- parser


def add_commands(commands: Any, parse_date: Any) -> None:
    """Add the collection commands to the ``recoup`` parser's sub-commands."""
    strategy = commands.add_parser("strategy", help="collection strategies: check, run, trace")
    sub = strategy.add_subparsers(dest="strategy_command", required=True)

    check = sub.add_parser("check", help="validate a strategy file")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=cmd_strategy_check)

    explain = sub.add_parser("explain", help="a strategy file in plain words")
    explain.add_argument("file", type=Path, nargs="?", help="default: the shipped strategy")
    explain.set_defaults(handler=cmd_strategy_explain)

    run = sub.add_parser("run", help="open and close cases and plan the day's actions")
    run.add_argument("--as-of", type=parse_date, required=True, help="the last closed day")
    run.add_argument(
        "--strategy",
        type=Path,
        help="strategy file; it stays in force for later runs (default: the one in force, "
        "else the shipped one)",
    )
    run.add_argument(
        "--policy", help="contact policy profile: cn, us, uk or a file (default RECOUP_POLICY, cn)"
    )
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=cmd_strategy_run)

    trace = sub.add_parser("trace", help="why an account's case gets its actions")
    trace.add_argument("account_id")
    trace.add_argument("--strategy", type=Path, help="default: the version that last ran")
    trace.add_argument("--json", action="store_true")
    trace.set_defaults(handler=cmd_strategy_trace)

    results = sub.add_parser("results", help="a champion/challenger test's results by arm")
    results.add_argument("test")
    results.add_argument("--strategy", type=Path, help="default: the version that ran it")
    results.add_argument("--json", action="store_true")
    results.set_defaults(handler=cmd_strategy_results)

    allocate = commands.add_parser("allocate", help="give each open case its owner (分案)")
    allocate.add_argument("--as-of", type=parse_date, required=True, help="the last closed day")
    allocate.add_argument(
        "--teams", type=Path, help="teams file (default: RECOUP_TEAMS, else the shipped example)"
    )
    allocate.add_argument(
        "--policy", help="contact policy profile (outsourcing notice): cn, us, uk or a file"
    )
    allocate.set_defaults(handler=cmd_allocate)

    queue = commands.add_parser("queue", help="a collector's or agency's work")
    queue.add_argument("collector")
    queue.add_argument("--as-of", type=parse_date, help="default: the last closed day")
    queue.add_argument("--json", action="store_true")
    queue.set_defaults(handler=cmd_queue)

    promise = commands.add_parser("promise", help="promises to pay (承诺还款): add, list")
    promise_sub = promise.add_subparsers(dest="promise_command", required=True)
    add = promise_sub.add_parser("add", help="record a promise to pay on an open case")
    add.add_argument("account_id")
    add.add_argument(
        "--amount",
        action="append",
        required=True,
        help="amount of an installment; repeat with --date for each installment, in order",
    )
    add.add_argument("--date", type=parse_date, action="append", required=True, help="promised for")
    add.add_argument("--made-on", type=parse_date, help="default: the last closed day")
    add.add_argument("--grace", type=int, default=1, help="days of grace (default 1)")
    add.add_argument("--channel", choices=PROMISE_CHANNELS, help="how the promise was taken")
    add.add_argument("--by", help="who took the promise")
    add.set_defaults(handler=cmd_promise)
    listing = promise_sub.add_parser("list", help="promises of an account or a collector")
    listing.add_argument("account_id", nargs="?")
    listing.add_argument("--by", help="the collector who took them")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_promise_list)

    case = commands.add_parser("case", help="an open case's flags")
    case_sub = case.add_subparsers(dest="case_command", required=True)
    flag = case_sub.add_parser("flag", help="set dispute, vulnerable, or the last contact")
    flag.add_argument("account_id")
    flag.add_argument("--dispute", choices=["on", "off"])
    flag.add_argument("--vulnerable", choices=["on", "off"])
    flag.add_argument("--contacted", type=parse_date, help="day of the last successful contact")
    flag.set_defaults(handler=cmd_case_flag)


# --------------------------------------------------------------------------- the daily cycle


def cmd_daily(args: argparse.Namespace) -> int:
    from recoup.allocation import load_teams, teams_path_in_force
    from recoup.cli.contact import _senders, profile_named
    from recoup.collection.cycle import cycle_document, run_cycle
    from recoup.collection.daily import RunRefused
    from recoup.contact.templates import TemplateSet

    strategy = _strategy(args.strategy) if args.strategy else None
    progress = (lambda line: None) if args.json else (lambda line: print(line, flush=True))
    try:
        result = run_cycle(
            _engine(),
            args.as_of,
            policy=profile_named(args.policy),
            teams=load_teams(args.teams or teams_path_in_force(os.environ)),
            templates=TemplateSet(args.templates),
            senders=_senders(args) if args.send else {},
            strategy=strategy,
            redo=args.redo or (),
            progress=progress,
        )
    except RunRefused as exc:
        raise CommandRefused(str(exc)) from None
    if args.json:
        _print_json(cycle_document(result))
    else:
        print()
        print(result.describe())
    return 0


def add_daily_command(commands: Any, parse_date: Any) -> None:
    daily = commands.add_parser("daily", help="the whole day: close, score, strategy, gate, ...")
    daily.add_argument("--as-of", type=parse_date, required=True, help="the day to close")
    daily.add_argument("--strategy", type=Path, help="default: the strategy in force")
    daily.add_argument(
        "--teams", type=Path, help="default: RECOUP_TEAMS, else the shipped example teams file"
    )
    daily.add_argument("--templates", type=Path, help="default: the shipped templates")
    daily.add_argument("--policy", help="contact policy: cn, us, uk or a file")
    daily.add_argument("--redo", action="append", help="run a finished step again (repeatable)")
    daily.add_argument("--send", action="store_true", help="dispatch through the transports below")
    daily.add_argument("--smtp", help="HOST:PORT of the SMTP server for email")
    daily.add_argument("--from", dest="sender", help="the sender address for email")
    daily.add_argument("--gateway", help="URL of the SMS/voice gateway webhook")
    daily.add_argument("--gateway-secret")
    daily.add_argument("--letters-to", type=Path, help="folder for letters rendered to PDF")
    daily.add_argument("--json", action="store_true")
    daily.set_defaults(handler=cmd_daily)

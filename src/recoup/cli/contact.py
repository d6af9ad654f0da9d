"""The contact commands: ``policy``, ``content``, ``templates``, ``contact``, ``outbox`` and
``records``.

``policy check`` and ``content check`` read only their files (stable interfaces: compliance
officers, auditors and outside tests call them); the others work on the store. The policy
profile in force is ``--policy`` (a shipped name, ``cn``, ``us`` or ``uk``, or a profile
file), else ``RECOUP_POLICY``, else ``cn``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recoup.cli.collection import CommandRefused
from recoup.money import MoneyError, parse_cents

if TYPE_CHECKING:
    from recoup.compliance import Profile


def _print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def profile_named(name: str | None) -> Profile:
    """A shipped profile by name, or a profile file by path."""
    from recoup.compliance import PROFILE_NAMES, load_profile, shipped_profile

    chosen = name or os.environ.get("RECOUP_POLICY") or "cn"
    if chosen in PROFILE_NAMES:
        return shipped_profile(chosen)
    path = Path(chosen)
    if not path.is_file():
        raise CommandRefused(
            f"--profile {chosen!r}: neither a shipped profile ({', '.join(PROFILE_NAMES)}) "
            "nor a profile file"
        )
    return load_profile(path)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandRefused(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandRefused(
            f"{path}, line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}"
        ) from None


def _aware(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CommandRefused(f"{option}: not an ISO date and time: {text!r}") from None
    if value.tzinfo is None:
        raise CommandRefused(f"{option}: {text!r} has no UTC offset (e.g. +08:00)")
    return value


# --------------------------------------------------------------------------- policy


def cmd_policy_check(args: argparse.Namespace) -> int:
    from recoup.compliance import RequestError, check_document

    profile = profile_named(args.profile)
    document = _read_json(args.file)
    try:
        _print_json(check_document(profile, document))
    except RequestError as exc:
        raise CommandRefused(f"{args.file}: {exc}") from None
    return 0


def cmd_policy_show(args: argparse.Namespace) -> int:
    from recoup.compliance import describe_profile

    print(describe_profile(profile_named(args.profile)))
    return 0


def cmd_policy_validate(args: argparse.Namespace) -> int:
    from recoup.compliance import load_profile

    profile = load_profile(args.file)
    print(
        f"profile {profile.id!r} ({profile.name}, version {profile.version}) is valid: "
        f"{len(profile.rules)} rules"
    )
    return 0


# --------------------------------------------------------------------------- content


def cmd_content_check(args: argparse.Namespace) -> int:
    from recoup.compliance.content import check_template, check_text, report_document

    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandRefused(f"{args.file}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandRefused(f"{args.file}: not UTF-8 text") from None
    if args.template:
        report = check_template(text, args.lang, args.template)
    else:
        report = check_text(text, args.lang)
    _print_json(report_document(report))
    return 0


def cmd_templates_check(args: argparse.Namespace) -> int:
    from recoup.compliance.content import check_template, report_document
    from recoup.contact.templates import TemplateSet

    templates = TemplateSet(args.folder)
    failures = 0
    results = []
    for template in templates.available():
        lang = "zh" if template.lang.startswith("zh") else "en"
        source = (templates.folder / template.path).read_text(encoding="utf-8")
        report = check_template(source, lang, template.kind)
        failures += not report.ok
        results.append({"template": template.path, **report_document(report)})
    if args.json:
        _print_json(results)
    else:
        for result in results:
            mark = "ok " if result["ok"] else "BAD"
            print(f"{mark} {result['template']}")
            for v in result["violations"]:
                print(f"      {v['rule']}: {v['message']} ({v['term']})")
        print(f"{len(results) - failures} of {len(results)} templates pass")
    return 1 if failures else 0


def cmd_content_inspect(args: argparse.Namespace) -> int:
    from recoup.contact.quality import inspect_stored_notes

    with _engine().connect() as conn:
        report = inspect_stored_notes(conn, args.since, args.until)
    if args.json:
        _print_json(
            {
                "collectors": [
                    {
                        "collector": s.collector,
                        "notes": s.notes,
                        "flagged": s.flagged,
                        "score": s.score,
                    }
                    for s in report.per_collector
                ],
                "flagged": [
                    {
                        "contact": f.contact_id,
                        "collector": f.collector,
                        "violations": [
                            {"rule": v.rule, "term": v.term, "message": v.message}
                            for v in f.violations
                        ],
                    }
                    for f in report.flagged
                ],
            }
        )
        return 0
    print(f"{'collector':<20} {'notes':>6} {'flagged':>8} {'score':>6}")
    for s in report.per_collector:
        print(f"{s.collector:<20} {s.notes:>6} {s.flagged:>8} {s.score:>6.1f}")
    for f in report.flagged:
        terms = ", ".join(f"{v.rule} '{v.term}'" for v in f.violations)
        print(f"  flagged: attempt {f.contact_id} by {f.collector}: {terms}")
    return 0


# --------------------------------------------------------------------------- contact


def _engine() -> Any:
    from recoup.store.engine import open_store

    return open_store()


def cmd_contact_record(args: argparse.Namespace) -> int:
    from recoup.compliance import Channel, Outcome, Party
    from recoup.contact.outcomes import OutcomeRefused, OutcomeReport, record_outcomes

    at = _aware(args.at, "--at")
    promise_cents = None
    if args.amount is not None:
        try:
            promise_cents = parse_cents(args.amount)
        except MoneyError as exc:
            raise CommandRefused(f"--amount: {exc}") from None
    report = OutcomeReport(
        account_id=args.account_id,
        channel=Channel(args.channel),
        to=args.to,
        at=at,
        outcome=Outcome(args.outcome),
        party=Party(args.party),
        collector=args.collector,
        note=args.note,
        promise_cents=promise_cents,
        promise_date=args.promised_for,
        key=args.key,
    )
    profile = profile_named(args.policy)
    try:
        with _engine().begin() as conn:
            summary = record_outcomes(conn, [report], profile, datetime.now(UTC))
    except (OutcomeRefused, ValueError) as exc:
        raise CommandRefused(str(exc)) from None
    print(summary.describe())
    return 0


def cmd_contact_check(args: argparse.Namespace) -> int:
    from recoup.compliance import Channel, Party
    from recoup.contact.gatekeeping import GateRefused, judge_manual_contact

    at = _aware(args.at, "--at") if args.at else datetime.now(UTC)
    profile = profile_named(args.policy)
    try:
        with _engine().begin() as conn:
            result = judge_manual_contact(
                conn,
                account_id=args.account_id,
                channel=Channel(args.channel),
                party=Party(args.party),
                to=args.to,
                at=at,
                profile=profile,
                decided_at=datetime.now(UTC),
                source=args.source,
            )
    except GateRefused as exc:
        raise CommandRefused(str(exc)) from None
    _print_json(result)
    return 0


def cmd_contact_flag(args: argparse.Namespace) -> int:
    from recoup.contact.flags import FlagRefused, change_flags

    if not args.set and not args.clear:
        raise CommandRefused("give --set FLAG or --clear FLAG")
    try:
        with _engine().begin() as conn:
            text = change_flags(
                conn, args.account_id, args.set, args.clear, args.by, args.note, datetime.now(UTC)
            )
    except FlagRefused as exc:
        raise CommandRefused(str(exc)) from None
    print(text)
    return 0


def cmd_contact_history(args: argparse.Namespace) -> int:
    from recoup.contact.flags import FlagRefused, contact_story

    try:
        with _engine().connect() as conn:
            story = contact_story(conn, args.account_id)
    except FlagRefused as exc:
        raise CommandRefused(str(exc)) from None
    if args.json:
        _print_json(story)
        return 0
    print(f"account {story['account_id']} (borrower {story['borrower_id']})")
    print("flags: " + (", ".join(story["flags"]) or "none"))
    print("contact points:")
    for p in story["points"]:
        verified = f", verified {p['verified_on']}" if p["verified_on"] else ""
        print(f"  {p['kind']:<8} {p['value']:<32} {p['party']:<12} {p['status']}{verified}")
    print("attempts:")
    for a in story["attempts"]:
        who = f" by {a['collector']}" if a["collector"] else ""
        print(f"  {a['at']}  {a['channel']:<11} {a['to']:<24} {a['outcome']}{who}")
    return 0


# --------------------------------------------------------------------------- outbox


def cmd_outbox_queue(args: argparse.Namespace) -> int:
    from recoup.contact.outbox import queue_day_messages
    from recoup.contact.templates import TemplateSet

    profile = profile_named(args.policy)
    with _engine().begin() as conn:
        summary = queue_day_messages(
            conn, args.as_of, TemplateSet(args.templates), profile, datetime.now(UTC)
        )
    print(summary.describe())
    return 0


def cmd_outbox_send(args: argparse.Namespace) -> int:
    from recoup.contact.outbox import dispatch

    profile = profile_named(args.policy)
    now = _aware(args.now, "--now") if args.now else datetime.now(UTC)
    senders = _senders(args)
    clock = None if args.now else (lambda: datetime.now(UTC))
    summary = dispatch(_engine(), senders, profile, now, limit=args.limit, clock=clock)
    print(summary.describe())
    return 0


def _senders(args: argparse.Namespace) -> dict[str, Any]:
    """The adapters per channel: the recording outbox for everything not configured."""
    from recoup.contact.smtp import SmtpSender
    from recoup.contact.tasks import TaskSender
    from recoup.contact.webhook import WebhookGateway

    senders: dict[str, Any] = {channel: TaskSender() for channel in ("call", "field_visit")}
    if args.letters_to:
        from recoup.contact.letters import PrintFolderSender

        senders["letter"] = PrintFolderSender(args.letters_to)
    if args.smtp:
        host, _, port = args.smtp.rpartition(":")
        if not host or not port.isdigit():
            raise CommandRefused(f"--smtp: expected HOST:PORT, got {args.smtp!r}")
        if not args.sender:
            raise CommandRefused("--smtp needs --from ADDRESS")
        senders["email"] = SmtpSender(host, int(port), args.sender)
    if args.gateway:
        secret = args.gateway_secret or os.environ.get("RECOUP_GATEWAY_SECRET")
        if not secret:
            raise CommandRefused("--gateway needs --gateway-secret or RECOUP_GATEWAY_SECRET")
        gateway = WebhookGateway(args.gateway, secret)
        for channel in ("sms", "voicemail", "app_push"):
            senders[channel] = gateway
    return senders


def cmd_outbox_callbacks(args: argparse.Namespace) -> int:
    from wsgiref.simple_server import make_server

    from recoup.contact.callbacks import store_callbacks
    from recoup.contact.webhook import callback_app

    secret = args.secret or os.environ.get("RECOUP_GATEWAY_SECRET")
    if not secret:
        raise CommandRefused("give --secret or set RECOUP_GATEWAY_SECRET")
    app = callback_app(secret, store_callbacks(_engine()))
    with make_server(args.host, args.port, app) as server:
        print(f"receiving gateway callbacks on http://{args.host}:{args.port}/callbacks")
        server.serve_forever()
    return 0


def cmd_outbox_status(args: argparse.Namespace) -> int:
    from recoup.contact.outbox import outbox_counts

    with _engine().connect() as conn:
        counts = outbox_counts(conn)
    if args.json:
        _print_json(counts)
        return 0
    for channel, statuses in sorted(counts.items()):
        print(f"{channel:<12} " + ", ".join(f"{n:,} {s}" for s, n in sorted(statuses.items())))
    return 0


# --------------------------------------------------------------------------- records


def cmd_records_purge(args: argparse.Namespace) -> int:
    from recoup.contact.records import purge_expired

    with _engine().begin() as conn:
        print(purge_expired(conn, args.as_of).describe())
    return 0


# --------------------------------------------------------------------------- parser

CHANNELS = ["sms", "email", "app_push", "call", "voicemail", "letter", "field_visit"]
PARTIES = ["self", "guarantor", "third_party"]
OUTCOMES = [
    "no_answer",
    "busy",
    "wrong_number",
    "right_party_contact",
    "promise_to_pay",
    "refusal",
    "dispute",
    "third_party_reached",
    "unreachable",
    "delivered",
    "failed",
]


def add_commands(commands: Any, parse_date: Any) -> None:
    """Add the contact commands to the ``recoup`` parser's sub-commands."""
    policy = commands.add_parser("policy", help="contact policy profiles: check a contact")
    sub = policy.add_subparsers(dest="policy_command", required=True)
    check = sub.add_parser("check", help="the gate's decision on one proposed contact (JSON)")
    check.add_argument("--profile", default=None, help="cn (default), us, uk, or a profile file")
    check.add_argument("file", type=Path, help='{"action": ..., "borrower": ..., "history": ...}')
    check.set_defaults(handler=cmd_policy_check)
    show = sub.add_parser("show", help="a profile's rules in plain words")
    show.add_argument("--profile", default=None)
    show.set_defaults(handler=cmd_policy_show)
    validate = sub.add_parser("validate", help="validate a profile file")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=cmd_policy_validate)

    content = commands.add_parser("content", help="prohibited language and quality inspection")
    csub = content.add_subparsers(dest="content_command", required=True)
    ccheck = csub.add_parser("check", help="check a text file (JSON)")
    ccheck.add_argument("--lang", choices=["zh", "en"], required=True)
    ccheck.add_argument(
        "--template",
        choices=["sms", "email", "voicemail", "letter", "app_push"],
        help="check the file as a message template of this kind",
    )
    ccheck.add_argument("file", type=Path)
    ccheck.set_defaults(handler=cmd_content_check)
    inspect = csub.add_parser("inspect", help="质检: collectors' notes scanned, a score each")
    inspect.add_argument("--since", type=parse_date)
    inspect.add_argument("--until", type=parse_date)
    inspect.add_argument("--json", action="store_true")
    inspect.set_defaults(handler=cmd_content_inspect)

    templates = commands.add_parser("templates", help="message templates")
    tsub = templates.add_subparsers(dest="templates_command", required=True)
    tcheck = tsub.add_parser("check", help="check every template's content rules")
    tcheck.add_argument("folder", type=Path, nargs="?", help="default: the shipped templates")
    tcheck.add_argument("--json", action="store_true")
    tcheck.set_defaults(handler=cmd_templates_check)

    contact = commands.add_parser("contact", help="contact attempts, outcomes and holds")
    ksub = contact.add_subparsers(dest="contact_command", required=True)
    record = ksub.add_parser("record", help="record an attempt and its outcome")
    record.add_argument("account_id")
    record.add_argument("--channel", choices=CHANNELS, required=True)
    record.add_argument("--to", required=True, help="the number, address or email reached")
    record.add_argument("--at", required=True, help="ISO time with offset")
    record.add_argument("--outcome", choices=OUTCOMES, required=True)
    record.add_argument("--party", choices=PARTIES, default="self")
    record.add_argument("--collector")
    record.add_argument("--note")
    record.add_argument("--amount", help="promise to pay: the amount")
    record.add_argument("--promised-for", type=parse_date, help="promise to pay: the date")
    record.add_argument("--key", help="idempotency key (default: made from the report)")
    record.add_argument("--policy", default=None)
    record.set_defaults(handler=cmd_contact_record)

    kcheck = ksub.add_parser("check", help="ask the gate before a contact by hand; stored")
    kcheck.add_argument("account_id")
    kcheck.add_argument("--channel", choices=CHANNELS, required=True)
    kcheck.add_argument("--to", help="default: the borrower's best contact point")
    kcheck.add_argument("--party", choices=PARTIES, default="self")
    kcheck.add_argument("--at", help="ISO time with offset (default now)")
    kcheck.add_argument("--source", choices=["manual", "queue"], default="manual")
    kcheck.add_argument("--policy", default=None)
    kcheck.set_defaults(handler=cmd_contact_check)

    flag = ksub.add_parser("flag", help="set or clear a borrower's holds")
    flag.add_argument("account_id")
    flag.add_argument("--set", action="append", default=[], metavar="FLAG")
    flag.add_argument("--clear", action="append", default=[], metavar="FLAG")
    flag.add_argument("--by")
    flag.add_argument("--note")
    flag.set_defaults(handler=cmd_contact_flag)

    history = ksub.add_parser("history", help="an account's contact points, holds, attempts")
    history.add_argument("account_id")
    history.add_argument("--json", action="store_true")
    history.set_defaults(handler=cmd_contact_history)

    outbox = commands.add_parser("outbox", help="messages and tasks: queue, send, status")
    osub = outbox.add_subparsers(dest="outbox_command", required=True)
    queue = osub.add_parser("queue", help="render the day's allowed actions into the outbox")
    queue.add_argument("--as-of", type=parse_date, required=True)
    queue.add_argument("--templates", type=Path, help="template folder (default: shipped)")
    queue.add_argument("--policy", default=None)
    queue.set_defaults(handler=cmd_outbox_queue)
    send = osub.add_parser("send", help="send what is due, each judged again by the gate")
    send.add_argument("--now", help="ISO time with offset (default: the clock)")
    send.add_argument("--limit", type=int)
    send.add_argument("--smtp", help="HOST:PORT of the SMTP server for email")
    send.add_argument("--from", dest="sender", help="the sender address for email")
    send.add_argument("--gateway", help="URL of the SMS/voice gateway webhook")
    send.add_argument("--gateway-secret")
    send.add_argument("--letters-to", type=Path, help="folder for letters rendered to PDF")
    send.add_argument("--policy", default=None)
    send.set_defaults(handler=cmd_outbox_send)
    callbacks = osub.add_parser("callbacks", help="serve the gateways' delivery callbacks")
    callbacks.add_argument("--host", default="127.0.0.1")
    callbacks.add_argument("--port", type=int, default=8081)
    callbacks.add_argument("--secret", help="default RECOUP_GATEWAY_SECRET")
    callbacks.set_defaults(handler=cmd_outbox_callbacks)
    status = osub.add_parser("status", help="messages by channel and status")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_outbox_status)

    records = commands.add_parser("records", help="contact records and their retention")
    rsub = records.add_subparsers(dest="records_command", required=True)
    purge = rsub.add_parser("purge", help="remove records past their retention date")
    purge.add_argument("--as-of", type=parse_date, required=True)
    purge.set_defaults(handler=cmd_records_purge)

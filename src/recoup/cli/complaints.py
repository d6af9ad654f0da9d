"""The complaint commands: ``complaint add``, ``complaint resolve`` and ``complaint list``.

    recoup complaint add A0000042 --category contact_pressure --channel call \\
        [--at 2026-11-28T10:00+08:00] [--attempt N | --attempt-ref KEY] [--description TEXT] \\
        [--key KEY] [--by NAME]
    recoup complaint resolve 12 --resolution upheld [--on 2026-11-30] [--note TEXT] --by NAME
    recoup complaint list [A0000042] [--status open] [--category C] [--from D] [--to D] [--json]

The service is :mod:`recoup.contact.complaints`: recording is idempotent by ``--key``
(default: one made from the complaint), errors name the field.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from recoup.cli.collection import CommandRefused

if TYPE_CHECKING:
    from recoup.contact.complaints import Complaint

# The service's vocabulary (recoup.contact.complaints), written out so that building the
# parser imports no database library; a test keeps them equal.
CATEGORIES = ("contact_pressure", "conduct", "amount_disputed", "data_privacy", "other")
CHANNELS = ("call", "sms", "email", "app_push", "voicemail", "letter", "field_visit", "web",
            "branch", "regulator", "other")  # fmt: skip
STATUSES = ("open", "resolved")
RESOLUTIONS = ("upheld", "partly_upheld", "not_upheld", "withdrawn")


def _engine() -> Any:
    from recoup.store.engine import open_store

    return open_store()


def _aware(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CommandRefused(f"{option}: not an ISO date and time: {text!r}") from None
    if value.tzinfo is None:
        raise CommandRefused(f"{option}: {text!r} has no UTC offset (e.g. +08:00)")
    return value


def _document(complaint: Complaint) -> dict[str, Any]:
    return {
        "complaint_key": complaint.complaint_key,
        "key": complaint.key,
        "account_id": complaint.account_id,
        "case_key": complaint.case_key,
        "received_at": complaint.received_at.isoformat(),
        "channel": complaint.channel,
        "attempt_key": complaint.attempt_key,
        "category": complaint.category,
        "description": complaint.description,
        "status": complaint.status,
        "resolved_on": None if complaint.resolved_on is None else complaint.resolved_on.isoformat(),
        "resolution": complaint.resolution,
        "resolution_note": complaint.resolution_note,
        "resolved_by": complaint.resolved_by,
        "created_by": complaint.created_by,
    }


def _line(complaint: Complaint) -> str:
    about = f", attempt {complaint.attempt_key}" if complaint.attempt_key is not None else ""
    case = f", case {complaint.case_key}" if complaint.case_key is not None else ""
    state = complaint.status
    if complaint.resolved_on is not None:
        state += f" {complaint.resolved_on} ({complaint.resolution})"
    return (
        f"{complaint.complaint_key:>6}  {complaint.received_at.isoformat()}  "
        f"{complaint.account_id}  {complaint.category} via {complaint.channel}{about}{case}  "
        f"{state}"
    )


def cmd_complaint_add(args: argparse.Namespace) -> int:
    from recoup.contact.complaints import (
        ComplaintCategory,
        ComplaintChannel,
        ComplaintRefused,
        ComplaintSpec,
        record_complaint,
    )

    now = datetime.now(UTC)
    spec = ComplaintSpec(
        account_id=args.account_id,
        received_at=_aware(args.at, "--at") if args.at else now,
        channel=ComplaintChannel(args.channel),
        category=ComplaintCategory(args.category),
        created_by=args.by,
        description=args.description,
        attempt_key=args.attempt,
        attempt_ref=args.attempt_ref,
        key=args.key,
    )
    try:
        with _engine().begin() as conn:
            complaint, added = record_complaint(conn, spec, now)
    except ComplaintRefused as exc:
        raise CommandRefused(_option(str(exc))) from None
    if args.json:
        json.dump({**_document(complaint), "recorded": added}, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    verb = "recorded" if added else "already recorded (same key), nothing changed"
    print(f"complaint {complaint.complaint_key} {verb}: {_line(complaint).strip()}")
    return 0


def cmd_complaint_resolve(args: argparse.Namespace) -> int:
    from recoup.contact.complaints import ComplaintRefused, ComplaintResolution, resolve_complaint

    now = datetime.now(UTC)
    try:
        with _engine().begin() as conn:
            complaint, changed = resolve_complaint(
                conn,
                args.complaint_key,
                ComplaintResolution(args.resolution),
                args.on or now.date(),
                args.note,
                args.by,
                now,
            )
    except ComplaintRefused as exc:
        raise CommandRefused(_option(str(exc))) from None
    verb = "resolved" if changed else "was already resolved so, nothing changed"
    print(f"complaint {complaint.complaint_key} {verb}: {_line(complaint).strip()}")
    return 0


def cmd_complaint_list(args: argparse.Namespace) -> int:
    from recoup.contact.complaints import ComplaintCategory, ComplaintStatus, list_complaints

    if args.limit is not None and args.limit < 1:
        raise CommandRefused(f"--limit: must be at least 1, got {args.limit}")
    if args.from_day and args.to_day and args.from_day > args.to_day:
        raise CommandRefused(f"--from {args.from_day} is after --to {args.to_day}")
    with _engine().connect() as conn:
        complaints = list_complaints(
            conn,
            account_id=args.account_id,
            status=None if args.status is None else ComplaintStatus(args.status),
            category=None if args.category is None else ComplaintCategory(args.category),
            received_from=args.from_day,
            received_to=args.to_day,
            limit=args.limit,
        )
    if args.json:
        json.dump([_document(c) for c in complaints], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    if not complaints:
        print("no complaints")
    for complaint in complaints:
        print(_line(complaint))
        if complaint.description:
            print(f"        {complaint.description}")
    return 0


#: The service names fields as the API does; the command line calls them by their options.
_OPTIONS = {
    "received_at": "--at",
    "attempt_key": "--attempt",
    "attempt_ref": "--attempt-ref",
    "created_by": "--by",
    "resolved_by": "--by",
    "resolved_on": "--on",
    "resolution_note": "--note",
    "description": "--description",
    "key": "--key",
    "account_id": "account",
    "complaint_key": "complaint",
}


def _option(message: str) -> str:
    field, _, rest = message.partition(": ")
    return f"{_OPTIONS.get(field, field)}: {rest}" if rest else message


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parse_date: Any,
) -> None:
    """Add ``recoup complaint`` to the ``recoup`` parser's sub-commands."""
    complaint = commands.add_parser("complaint", help="complaints: record, resolve, list")
    sub = complaint.add_subparsers(dest="complaint_command", required=True)

    add = sub.add_parser("add", help="record a complaint (idempotent by --key)")
    add.add_argument("account_id")
    add.add_argument("--category", choices=CATEGORIES, required=True)
    add.add_argument(
        "--channel",
        choices=CHANNELS,
        required=True,
        help="how the complaint came in",
    )
    add.add_argument("--at", help="when it was received: ISO time with offset (default now)")
    add.add_argument("--attempt", type=int, help="the contact attempt it is about, by number")
    add.add_argument("--attempt-ref", help="or by the key the attempt was recorded under")
    add.add_argument("--description", help="the borrower's words (stored encrypted)")
    add.add_argument("--key", help="idempotency key (default: made from the complaint)")
    add.add_argument("--by", default="cli", help="who records it")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=cmd_complaint_add)

    resolve = sub.add_parser("resolve", help="resolve a complaint, once")
    resolve.add_argument("complaint_key", type=int)
    resolve.add_argument("--resolution", choices=RESOLUTIONS, required=True)
    resolve.add_argument("--on", type=parse_date, help="the day it was resolved (default today)")
    resolve.add_argument("--note", help="what was found and done (stored encrypted)")
    resolve.add_argument("--by", required=True, help="who resolves it")
    resolve.set_defaults(handler=cmd_complaint_resolve)

    listing = sub.add_parser("list", help="complaints, latest received first")
    listing.add_argument("account_id", nargs="?")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--category", choices=CATEGORIES)
    listing.add_argument("--from", dest="from_day", type=parse_date, help="received from (UTC)")
    listing.add_argument("--to", dest="to_day", type=parse_date, help="received up to (UTC)")
    listing.add_argument("--limit", type=int)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_complaint_list)

"""The workbench commands: ``serve``, ``user add``, ``audit verify`` and ``audit head``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from recoup.cli.collection import CommandRefused


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the workbench. With nothing configured (no RECOUP_DATABASE_URL and an empty
    embedded store) it first builds the demo portfolio and the demo users."""
    from recoup.store.engine import open_store
    from recoup.web.settings import SettingsError, settings_from_env

    if args.new_data_key:
        from recoup.store.crypto import new_data_key

        print(new_data_key())
        return 0
    try:
        settings = settings_from_env()
    except SettingsError as exc:
        raise CommandRefused(str(exc)) from None
    configured = bool(os.environ.get("RECOUP_DATABASE_URL"))
    from recoup.web.app import SERVER_CONNECTIONS

    engine = open_store(connections=SERVER_CONNECTIONS)
    from recoup.close import last_closed_day

    with engine.connect() as conn:
        empty = last_closed_day(conn) is None
    if empty and not configured and not settings.production:
        from recoup.demo import run_demo

        out = Path("demo-portfolio")
        if not (out / "recoup.db").exists():
            print("recoup serve: an empty embedded store: building the demo portfolio first")
            run_demo(args.demo_accounts, 7, out, as_of=date.today())
        engine = open_store(f"sqlite:///{out / 'recoup.db'}")  # the demo's own store
    from recoup.web.setup import create_demo_users, has_users

    if not has_users(engine):
        if settings.production:
            raise CommandRefused("no users: create them with `recoup user add` first")
        print("demo users (the passwords are shown this once; only their hashes are kept):")
        for user, password in create_demo_users(engine):
            owner = f" ({user.owner_id})" if user.owner_id else ""
            print(f"  {user.username:<11} {password}  {user.role.value}{owner}")
    if not settings.production:
        print("development mode: the data key is the public development key")
    import logging

    import uvicorn

    from recoup.web.app import create_app

    # One JSON object per request (recoup.web.app), on standard error.
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")

    print(f"the workbench: http://{args.host}:{args.port}/  (API: /api/v1, /openapi.json)")
    if args.workers > 1:
        # Each worker process opens the store itself: name it for them.
        os.environ["RECOUP_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
        uvicorn.run(
            "recoup.web.asgi:create",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
        )
        return 0
    uvicorn.run(create_app(engine, settings), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from recoup.store.engine import open_store
    from recoup.web.users import UserRefused, add_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
    try:
        with open_store().begin() as conn:
            user = add_user(
                conn,
                args.username,
                password,
                args.role,
                display_name=args.name,
                owner_id=args.owner,
                by=os.environ.get("USER", "recoup"),
                now=datetime.now(UTC),
            )
    except UserRefused as exc:
        raise CommandRefused(str(exc)) from None
    print(f"user {user.username} added: {user.role.value}")
    return 0


def _audit_head(text: str) -> Any:
    from recoup.web.audit import Head

    try:
        return Head.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from recoup.store.crypto import DataKeyError
    from recoup.store.engine import open_store
    from recoup.web.audit import audit_key_is_public, verify

    try:
        with open_store().connect() as conn:
            verdict = verify(conn, expect_head=args.expect_head)
        public = audit_key_is_public()
    except DataKeyError as exc:
        raise CommandRefused(str(exc)) from None
    print(("audit log: " if verdict.intact else "audit log BROKEN: ") + verdict.reason)
    if verdict.intact and verdict.head is not None:
        print(f"head: {verdict.head}  (sealed; publish it with `recoup audit head`)")
        if args.expect_head is not None:
            print(f"the chain passes through the expected head {args.expect_head}")
    if verdict.unkeyed:
        print(
            f"unkeyed: {verdict.unkeyed} entries written before the audit key, checked by "
            "their hashes only"
        )
    if public:
        print(
            "warning: the audit key derives from the public development data key, so anyone "
            "could have recomputed the MACs: set RECOUP_DATA_KEY"
        )
    return 0 if verdict.intact else 1


def cmd_audit_head(args: argparse.Namespace) -> int:
    from recoup.store.crypto import DataKeyError
    from recoup.store.engine import open_store
    from recoup.web.audit import SealError, current_head

    try:
        with open_store().connect() as conn:
            head = current_head(conn)
    except (DataKeyError, SealError) as exc:
        raise CommandRefused(str(exc)) from None
    print(head)
    return 0


def add_commands(commands: Any, parse_date: Any) -> None:
    from recoup.web.security import Role

    serve = commands.add_parser("serve", help="the workbench: web app and REST API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes (e.g. one per core)"
    )
    serve.add_argument(
        "--demo-accounts", type=int, default=5_000, help="size of the demo portfolio, if built"
    )
    serve.add_argument(
        "--new-data-key", action="store_true", help="print a new RECOUP_DATA_KEY and stop"
    )
    serve.set_defaults(handler=cmd_serve)

    user = commands.add_parser("user", help="workbench users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--owner", help="collector or agency id (collectors, agency collectors)")
    add.add_argument("--name", help="display name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=cmd_user_add)

    audit = commands.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    check = audit_sub.add_parser(
        "verify", help="check the audit log's hash chain, its MACs and its seal"
    )
    check.add_argument(
        "--expect-head",
        type=_audit_head,
        metavar="SEQ:HASH",
        help="a head published earlier (recoup audit head): the chain must still pass through it",
    )
    check.set_defaults(handler=cmd_audit_verify)
    head = audit_sub.add_parser(
        "head", help="print the audit log's sealed head (SEQ:HASH), to publish elsewhere"
    )
    head.set_defaults(handler=cmd_audit_head)

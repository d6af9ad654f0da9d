"""``recoup``: the command line.

Each sub-command parses its arguments, opens what it needs (files, the store), calls the
capability packages and prints the result. Errors a user can fix are printed as one line
naming what is wrong and where, with exit status 2; nothing is half-written. A failure of
the database itself (a full disk, an unreachable server) is one line with exit status 3.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recoup.cli.collection import CommandRefused
from recoup.money import MoneyError, parse_cents, parse_rate
from recoup.products.spec import FeeModel, Product, ProductError, load_catalog
from recoup.yamlfile import YamlFileError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

    from recoup.close import WindowResult
    from recoup.close.run import Rules


class UsageError(Exception):
    """A mistake in what the user asked for; printed without a traceback."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


# --------------------------------------------------------------------------- quote


def cmd_quote(args: argparse.Namespace) -> int:
    from recoup.ledger.quote import make_quote

    try:
        principal_cents = parse_cents(args.principal)
    except MoneyError as exc:
        raise UsageError(f"--principal: {exc}") from None
    if principal_cents <= 0:
        raise UsageError("--principal: must be positive")
    if not 1 <= args.term <= 60:
        raise UsageError("--term: must be 1..60 months")
    if args.product:
        product = _find_product(args.product, args.products)
        if args.term not in product.terms:
            offered = list(product.terms)
            raise UsageError(
                f"--term: product {product.id!r} offers terms {offered}, not {args.term}"
            )
        rate, fee_model = product.monthly_rate, product.fee_model
    else:
        if args.monthly_fee_rate is None:
            raise UsageError("give --monthly-fee-rate or --product")
        try:
            rate = parse_rate(args.monthly_fee_rate)
        except MoneyError as exc:
            raise UsageError(f"--monthly-fee-rate: {exc}") from None
        fee_model = FeeModel(args.fee_model)
    quote = make_quote(principal_cents, args.term, args.start, rate, fee_model)
    if args.json:
        _print_json(quote.to_json())
    else:
        payload = quote.to_json()
        print(f"APR {payload['apr']}  total fee {payload['total_fee']}")
        print(f"{'period':>6} {'due date':>10} {'principal':>12} {'fee':>10} {'amount':>12}")
        for row in payload["schedule"]:
            print(
                f"{row['period']:>6} {row['due_date']:>10} {row['principal']:>12} "
                f"{row['fee']:>10} {row['amount']:>12}"
            )
    return 0


def _find_product(product_id: str, products_file: Path | None) -> Product:
    if products_file is not None:
        return load_catalog(products_file).get(product_id)
    from recoup.store.engine import open_store
    from recoup.store.repository import load_catalog_from_store

    catalog = load_catalog_from_store(open_store())
    return catalog.get(product_id)


# --------------------------------------------------------------------------- store commands


def _store() -> Engine:
    from recoup.store.engine import open_store

    return open_store()


def cmd_init(args: argparse.Namespace) -> int:
    from recoup.store.engine import database_url

    _store()
    print(f"database ready: {_redact(database_url())}")
    return 0


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


def cmd_import(args: argparse.Namespace) -> int:
    from recoup.importer import ImportFailed, import_directory

    if not args.directory.is_dir():
        raise UsageError(f"{args.directory}: not a directory")
    engine = _store()
    try:
        summary = import_directory(engine, args.directory, show_progress=not args.quiet)
    except ImportFailed as exc:
        print(f"recoup import: {len(exc.errors)} error(s); nothing was imported", file=sys.stderr)
        for issue in exc.errors:
            print(f"  {issue}", file=sys.stderr)
        return 1
    print(summary.describe() if hasattr(summary, "describe") else summary)
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    from recoup.close import CloseInProgress, last_closed_day
    from recoup.ledger.kernel import run_rules

    # Arguments first: a refused command opens no store (a new one would be created) and
    # starts no Spark session.
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.partition_accounts is not None and args.partition_accounts < 1:
        raise UsageError("--partition-accounts must be at least 1")
    if args.engine == "spark" and args.workers > 1:
        raise UsageError("--workers is for the local engine; Spark spreads the work itself")
    if args.spark_partitions < 1:
        raise UsageError("--spark-partitions must be at least 1")
    if args.engine == "spark" and importlib.util.find_spec("pyspark") is None:
        raise UsageError(
            "--engine spark needs PySpark and Java 17: pip install -e '.[spark]' "
            "(see 'The close on Apache Spark' in the README)"
        )
    if args.recompute:
        if args.through is not None:
            raise UsageError("--recompute recomputes through the last closed day; drop --through")
    elif args.through is None:
        raise UsageError("give --through DATE (or --recompute)")

    rules = run_rules if args.engine == "local" else _rules_on_spark(args)
    engine = _store()
    with engine.connect() as conn:
        before = last_closed_day(conn)

    def report(window: WindowResult) -> None:
        recompute = before is not None and window.closed_from <= before
        label = "recomputed" if recompute else "closed"
        print(
            f"run {window.run_id}: {label} {window.closed_from} .. {window.closed_through}: "
            f"{window.accounts} accounts ({window.recomputed_accounts} recomputed), "
            f"{window.moves} bucket moves, {window.charges} charge rows",
            flush=True,
        )

    try:
        results = _close_or_recompute(engine, args, report, rules)
    except CloseInProgress as exc:
        raise CommandRefused(str(exc)) from None
    if results:
        return 0
    if args.recompute:
        print("nothing to recompute: no day has been closed yet")
    else:
        print(f"nothing to close: closed through {before}" if before else "nothing to close")
    return 0


def _rules_on_spark(args: argparse.Namespace) -> Rules:
    """The close's rules on a Spark session started now, before the store is opened, so that a
    Spark that cannot start (no Java, a master that refuses) leaves nothing behind."""
    from functools import partial

    from pyspark.errors import PySparkException

    from recoup.close.spark import run_rules_on_spark, spark_session

    try:
        spark = spark_session(args.spark_master)
    except PySparkException as exc:
        raise CommandRefused(
            f"Spark did not start ({exc}); the engine needs Java 17 (JAVA_HOME) and a "
            f"reachable --spark-master (here {args.spark_master})"
        ) from None
    return partial(run_rules_on_spark, spark, partitions=args.spark_partitions)


def _close_or_recompute(
    engine: Engine,
    args: argparse.Namespace,
    report: Callable[[WindowResult], None],
    rules: Rules,
) -> list[WindowResult]:
    from recoup.close import PARTITION_ACCOUNTS, close_through, recompute_all

    partition_accounts = args.partition_accounts or PARTITION_ACCOUNTS
    if args.recompute:
        return recompute_all(
            engine,
            partition_accounts=partition_accounts,
            on_partition=report,
            rules=rules,
            workers=args.workers,
        )
    return close_through(
        engine,
        args.through,
        on_window=report,
        rules=rules,
        partition_accounts=partition_accounts,
        workers=args.workers,
    )


def cmd_account_show(args: argparse.Namespace) -> int:
    from recoup.close import last_closed_day
    from recoup.ledger.account_view import view_account
    from recoup.store.account_reads import UnknownAccount, load_account
    from recoup.store.repository import load_catalog_from_store

    engine = _store()
    with engine.connect() as conn:
        try:
            stored = load_account(conn, args.account_id)
        except UnknownAccount as exc:
            raise UsageError(str(exc)) from None
        catalog = load_catalog_from_store(conn)
        as_of = args.as_of or last_closed_day(conn)
    if as_of is None:
        raise UsageError("nothing has been closed yet: give --as-of DATE")
    view = view_account(
        stored.account_key,
        stored.account_id,
        stored.currency,
        stored.installments,
        stored.payments,
        catalog.products,
        as_of,
        catalog.buckets,
        adjustments=stored.adjustments,
        reaging=stored.reaging,
    )
    payload = view.to_json()
    if args.json:
        _print_json(payload)
        return 0
    overdue = payload["overdue"]
    print(
        f"account {payload['account_id']} as of {payload['as_of']}: {payload['bucket']}, "
        f"DPD {payload['dpd']}, overdue {overdue['total']} {payload['currency']} "
        f"(principal {overdue['principal']}, fee {overdue['fee']}, late fee "
        f"{overdue['late_fee']}, penalty {overdue['penalty_interest']})"
    )
    print(
        f"outstanding principal {payload['outstanding_principal']}, credit "
        f"{payload['credit_balance']}, next due {payload['next_due_date'] or 'none'}"
    )
    print(
        f"{'plan':<14} {'#':>3} {'due date':>10} {'principal':>11} {'fee':>9} {'paid':>11}  status"
    )
    for row in payload["installments"]:
        print(
            f"{row['plan_id']:<14} {row['period']:>3} {row['due_date']:>10} "
            f"{row['principal']:>11} {row['fee']:>9} {row['paid']:>11}  {row['status']}"
        )
    return 0


def cmd_account_moves(args: argparse.Namespace) -> int:
    from recoup.store.account_reads import UnknownAccount, load_moves

    engine = _store()
    with engine.connect() as conn:
        try:
            moves = load_moves(conn, args.account_id)
        except UnknownAccount as exc:
            raise UsageError(str(exc)) from None
    rows = [
        {
            "moved_on": row["moved_on"].isoformat(),
            "from_bucket": row["from_bucket"],
            "to_bucket": row["to_bucket"],
            "dpd": row["dpd"],
            "run_id": row["run_id"],
        }
        for row in moves.iter_rows(named=True)
    ]
    if args.json:
        _print_json({"account_id": args.account_id, "moves": rows})
        return 0
    if not rows:
        print(f"account {args.account_id}: no bucket moves")
    for row in rows:
        print(
            f"{row['moved_on']}  {row['from_bucket']:>4} -> {row['to_bucket']:<4} DPD {row['dpd']}"
        )
    return 0


# --------------------------------------------------------------------------- simulate, demo


def cmd_simulate(args: argparse.Namespace) -> int:
    from recoup.simulator import simulate_portfolio, write_portfolio

    if args.accounts < 1:
        raise UsageError("--accounts: must be at least 1")
    as_of = args.as_of or date.today()
    portfolio = simulate_portfolio(args.accounts, args.seed, as_of)
    write_portfolio(portfolio, args.out)
    print(
        f"wrote {portfolio.plans.height} plans of {args.accounts} accounts and "
        f"{portfolio.payments.height} payments as of {as_of} to {args.out}"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from recoup.demo import run_demo

    return run_demo(args.accounts, args.seed, args.out, as_of=args.as_of or date.today())


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recoup", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    quote = commands.add_parser("quote", help="schedule and APR of a plan")
    quote.add_argument("--principal", required=True)
    quote.add_argument("--term", type=int, required=True)
    quote.add_argument("--start", type=_date, required=True)
    quote.add_argument("--monthly-fee-rate")
    quote.add_argument(
        "--fee-model", choices=[m.value for m in FeeModel], default=FeeModel.FLAT_FEE.value
    )
    quote.add_argument("--product", help="use this product's rate and fee model")
    quote.add_argument("--products", type=Path, help="products.yaml (default: the store's)")
    quote.add_argument("--json", action="store_true")
    quote.set_defaults(handler=cmd_quote)

    init = commands.add_parser("init", help="create or upgrade the database")
    init.set_defaults(handler=cmd_init)

    load = commands.add_parser("import", help="import products, borrowers, plans, payments")
    load.add_argument("directory", type=Path)
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(handler=cmd_import)

    close = commands.add_parser("close", help="close every day through a date")
    close.add_argument("--through", type=_date, help="the last day to close")
    close.add_argument(
        "--recompute",
        action="store_true",
        help="recompute every account from its first plan through the last closed day",
    )
    close.add_argument(
        "--engine",
        choices=["local", "spark"],
        default="local",
        help="where the rules run: this process, or Apache Spark over account partitions",
    )
    close.add_argument(
        "--spark-master",
        default=os.environ.get("RECOUP_SPARK_MASTER", "local[2]"),
        help="Spark master URL (default local[2], or RECOUP_SPARK_MASTER)",
    )
    close.add_argument(
        "--spark-partitions",
        type=int,
        default=8,
        help="account partitions, one Spark task each (default 8)",
    )
    close.add_argument(
        "--partition-accounts",
        type=int,
        default=None,  # recoup.close.PARTITION_ACCOUNTS, not imported to build the parser
        help="accounts per partition of a recompute or a first close (default 125,000; "
        "bounds each process's memory)",
    )
    close.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes replaying partitions side by side in a recompute or a first close "
        "(default 1; each holds one partition in memory)",
    )
    close.set_defaults(handler=cmd_close)

    account = commands.add_parser("account", help="one account")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    show = account_commands.add_parser("show", help="the account as of a day")
    show.add_argument("account_id")
    show.add_argument("--as-of", type=_date, help="default: the last closed day")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_account_show)
    moves = account_commands.add_parser("moves", help="the account's bucket moves")
    moves.add_argument("account_id")
    moves.add_argument("--json", action="store_true")
    moves.set_defaults(handler=cmd_account_moves)

    simulate = commands.add_parser("simulate", help="write a synthetic portfolio")
    simulate.add_argument("--accounts", type=int, required=True)
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--out", type=Path, required=True)
    simulate.add_argument("--as-of", type=_date, help="last day of activity (default today)")
    simulate.set_defaults(handler=cmd_simulate)

    demo = commands.add_parser("demo", help="simulate, import and close a portfolio; summarise")
    demo.add_argument("--accounts", type=int, default=20_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--out", type=Path, default=Path("demo-portfolio"))
    demo.add_argument("--as-of", type=_date, help="default today")
    demo.set_defaults(handler=cmd_demo)

    from recoup.cli import arrangements, collection, contact, risk

    collection.add_commands(commands, _date)
    collection.add_daily_command(commands, _date)
    arrangements.add_commands(commands, _date)
    contact.add_commands(commands, _date)
    risk.add_commands(commands, _date)
    from recoup.cli import web

    web.add_commands(commands, _date)
    from recoup.cli import report

    report.add_commands(commands, _date)
    from recoup.cli import lab

    lab.add_commands(commands, _date)
    from recoup.cli import complaints

    complaints.add_commands(commands, _date)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (UsageError, ProductError, MoneyError, YamlFileError, CommandRefused) as exc:
        print(f"recoup {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except Exception as exc:
        failure = _store_failure(exc)
        if failure is None:
            raise  # a fault in Recoup itself: the traceback is what a developer needs
        print(f"recoup {args.command}: error: {failure}", file=sys.stderr)
        return 3


def _store_failure(exc: Exception) -> str | None:
    """One line for a failure of the database itself (a full disk, a file that cannot be
    opened, a server that cannot be reached), or None for anything else.

    The operator can fix these, and the store is as the last commit left it: every write is
    one transaction, and a close keeps the windows and partitions it finished. Without this
    the driver's error would come with the statement and, for a bulk write, thousands of
    parameters."""
    if "sqlalchemy" not in sys.modules:  # no store was opened
        return None
    from sqlalchemy.exc import OperationalError

    if not isinstance(exc, OperationalError):
        return None
    reason = " ".join(str(exc.orig).split()) or type(exc.orig).__name__
    return (
        f"the database failed ({reason}); what was not committed is rolled back and nothing "
        "else is lost: fix the cause and run the command again (a close resumes where it stopped)"
    )


if __name__ == "__main__":
    sys.exit(main())

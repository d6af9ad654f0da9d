"""The risk commands: ``model train | list | promote | retire | report | monitor`` and
``score``.

``model train --data FILE --target COLUMN`` works on any table and prints its stable JSON;
the others work on the store's history and the model registry.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recoup.cli.collection import CommandRefused


def _print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _engine() -> Any:
    from recoup.store.engine import open_store

    return open_store()


def _last_closed(conn: Any) -> Any:
    from recoup.close import last_closed_day

    day = last_closed_day(conn)
    if day is None:
        raise CommandRefused("no day has been closed yet: run `recoup close --through DATE`")
    return day


def cmd_model_train(args: argparse.Namespace) -> int:
    if args.data is not None:
        return _train_on_file(args)
    if args.kind is None:
        raise CommandRefused("give --kind early_warning|collection, or --data FILE --target COL")
    from recoup.scoring.registry import ModelRefused
    from recoup.scoring.training import train_from_store

    engine = _engine()
    with engine.connect() as conn:
        as_of = args.as_of or _last_closed(conn)
    try:
        run = train_from_store(engine, args.kind, as_of, datetime.now(UTC), months=args.months)
    except ModelRefused as exc:
        raise CommandRefused(str(exc)) from None
    print(run.describe())
    return 0


def _train_on_file(args: argparse.Namespace) -> int:
    from recoup.risk.tabular import TableError, report_document, save_models, train_on_file

    if not args.target:
        raise CommandRefused("--data needs --target COLUMN (the binary target, 1 = bad)")
    try:
        report = train_on_file(args.data, args.target, seed=args.seed)
    except TableError as exc:
        raise CommandRefused(str(exc)) from None
    if args.out is not None:
        save_models(report, args.out)
    _print_json(report_document(report))
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    from recoup.scoring.registry import list_models

    with _engine().connect() as conn:
        models = list_models(conn, args.kind)
    if args.json:
        _print_json([m.summary() for m in models])
        return 0
    if not models:
        print("no models trained yet: recoup model train --kind collection")
        return 0
    for m in models:
        test = m.metrics.get("splits", {}).get("test", {})
        auc = f"test AUC {test['auc']:.3f}" if test else ""
        print(f"{m.model_id:<32} {m.status:<10} trained {m.trained_at:%Y-%m-%d %H:%M}  {auc}")
    return 0


def cmd_model_status(args: argparse.Namespace) -> int:
    """``model promote`` and ``model retire``: one status change in the registry."""
    from recoup.scoring import registry

    change = registry.promote if args.model_command == "promote" else registry.retire
    try:
        with _engine().begin() as conn:
            print(change(conn, args.model_id, datetime.now(UTC)))
    except registry.ModelRefused as exc:
        raise CommandRefused(str(exc)) from None
    return 0


def cmd_model_report(args: argparse.Namespace) -> int:
    from recoup.risk.report import model_card
    from recoup.scoring.registry import ModelRefused, get_model

    try:
        with _engine().connect() as conn:
            model = get_model(conn, args.model_id)
    except ModelRefused as exc:
        raise CommandRefused(str(exc)) from None
    page = model_card({**model.summary(), "metrics": model.metrics, "libraries": model.libraries})
    out = args.out or Path(f"{model.model_id}.html")
    out.write_text(page, encoding="utf-8")
    print(f"model card of {model.model_id} written to {out}")
    return 0


def cmd_model_monitor(args: argparse.Namespace) -> int:
    from recoup.scoring.monitor import monitor

    engine = _engine()
    with engine.connect() as conn:
        as_of = args.as_of or _last_closed(conn)
    report = monitor(engine, as_of, watch=args.watch, drift=args.drift)
    if args.json:
        _print_json(report.document())
    else:
        print(report.describe())
    return 1 if report.drifted and args.fail_on_drift else 0


def cmd_score(args: argparse.Namespace) -> int:
    from recoup.scoring.run import score_book

    engine = _engine()
    with engine.connect() as conn:
        as_of = args.as_of or _last_closed(conn)
    run = score_book(engine, as_of, datetime.now(UTC))
    print(run.describe())
    return 0


def add_commands(commands: Any, parse_date: Any) -> None:
    """Add the risk commands to the ``recoup`` parser's sub-commands."""
    model = commands.add_parser("model", help="risk models: train, register, report, monitor")
    sub = model.add_subparsers(dest="model_command", required=True)

    train = sub.add_parser("train", help="train a scorecard and a LightGBM challenger")
    train.add_argument("--kind", choices=["early_warning", "collection"])
    train.add_argument("--as-of", type=parse_date, help="default: the last closed day")
    train.add_argument("--months", type=int, default=12, help="month ends of history to learn from")
    train.add_argument("--data", type=Path, help="a CSV or Parquet table instead of the store")
    train.add_argument("--target", help="with --data: the binary target column (1 = bad)")
    train.add_argument("--out", type=Path, help="with --data: a folder for the models")
    train.add_argument("--seed", type=int, default=7)
    train.set_defaults(handler=cmd_model_train)

    listing = sub.add_parser("list", help="the registry: models, status, test AUC")
    listing.add_argument("--kind")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_model_list)

    promote = sub.add_parser("promote", help="make a model its kind's champion")
    promote.add_argument("model_id")
    promote.set_defaults(handler=cmd_model_status)

    retire = sub.add_parser("retire", help="take a model out of use")
    retire.add_argument("model_id")
    retire.set_defaults(handler=cmd_model_status)

    report = sub.add_parser("report", help="write a model's HTML model card")
    report.add_argument("model_id")
    report.add_argument("--out", type=Path, help="default: MODEL_ID.html")
    report.set_defaults(handler=cmd_model_report)

    monitor = sub.add_parser("monitor", help="PSI of every feature and score against training")
    monitor.add_argument("--as-of", type=parse_date, help="default: the last closed day")
    monitor.add_argument("--watch", type=float, default=0.10, help="PSI worth watching")
    monitor.add_argument("--drift", type=float, default=0.25, help="PSI flagged as drift")
    monitor.add_argument("--fail-on-drift", action="store_true", help="exit 1 on drift")
    monitor.add_argument("--json", action="store_true")
    monitor.set_defaults(handler=cmd_model_monitor)

    score = commands.add_parser("score", help="score the book with the champion models")
    score.add_argument("--as-of", type=parse_date, help="default: the last closed day")
    score.set_defaults(handler=cmd_score)

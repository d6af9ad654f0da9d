"""``recoup report``: the collection report of a date range as one self-contained HTML file.

    recoup report --from DATE --to DATE --out FILE.html [--lang en|zh-CN]
                  [--tables DIR] [--format csv|parquet] [--costs FILE]

The measures are read from the store (``RECOUP_DATABASE_URL``) in bulk; ``--tables`` also
writes each table of the report as one CSV or Parquet file; ``--costs`` prices the contacts
with a cost table of your own (the shipped one: ``recoup/analytics/default_costs.yaml``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recoup.cli.collection import CommandRefused

if TYPE_CHECKING:
    import sqlalchemy as sa

    from recoup.analytics.performance import CostTable
    from recoup.analytics.report import Report

LANGS = ("en", "zh-CN")
FORMATS = ("csv", "parquet")


def write_report(
    engine: sa.Engine,
    from_day: date,
    to_day: date,
    out: Path,
    lang: str = "en",
    costs: CostTable | None = None,
) -> Report:
    """Read the range from the store, build the report and write it to ``out``."""
    from recoup.analytics.report import build_report, render_html
    from recoup.store.analytics_reads import read_report_inputs

    with engine.connect() as conn:
        inputs = read_report_inputs(conn, from_day, to_day, costs)
    report = build_report(inputs)
    out.write_text(render_html(report, lang), encoding="utf-8")
    return report


def write_tables(report: Report, directory: Path, file_format: str) -> list[Path]:
    """One file per table of ``report`` in ``directory`` (created): ``<name>.<format>``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in report.tables.items():
        path = directory / f"{name}.{file_format}"
        if file_format == "csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
        written.append(path)
    return written


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise CommandRefused(f"--out {out}: is a folder; give a file name, e.g. report.html")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise CommandRefused(f"--out {out}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise CommandRefused(f"--out {out}: cannot write there (permission denied)")


def cmd_report(args: argparse.Namespace) -> int:
    if args.from_day > args.to_day:
        raise CommandRefused(f"--from {args.from_day} is after --to {args.to_day}")
    if args.lang not in LANGS:
        raise CommandRefused(f"--lang {args.lang!r}: unknown language; use one of en, zh-CN")
    if args.format not in FORMATS:
        raise CommandRefused(f"--format {args.format!r}: use csv or parquet")
    _check_out(args.out)
    if args.tables is not None and args.tables.exists() and not args.tables.is_dir():
        raise CommandRefused(f"--tables {args.tables}: is a file; give a folder")
    costs = None
    if args.costs is not None:
        from recoup.analytics.performance import load_costs

        costs = load_costs(args.costs)  # a YamlFileError names the file and line (exit 2)

    from recoup.store.engine import open_store

    engine: Any = open_store()
    try:
        report = write_report(engine, args.from_day, args.to_day, args.out, args.lang, costs)
    except OSError as exc:
        raise CommandRefused(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
    print(f"report {args.from_day} to {args.to_day} written to {args.out.resolve()}")
    if args.tables is not None:
        try:
            written = write_tables(report, args.tables, args.format)
        except OSError as exc:
            raise CommandRefused(f"--tables {args.tables}: {exc.strerror or exc}") from None
        print(f"{len(written)} tables written to {args.tables.resolve()} ({args.format})")
    return 0


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    parse_date: Callable[[str], date],
) -> None:
    report = commands.add_parser(
        "report", help="the collection report of a date range (HTML, and tables)"
    )
    report.add_argument("--from", dest="from_day", type=parse_date, required=True)
    report.add_argument("--to", dest="to_day", type=parse_date, required=True)
    report.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    report.add_argument("--lang", default="en", help="en (default) or zh-CN")
    report.add_argument("--tables", type=Path, help="also write each table into this folder")
    report.add_argument("--format", default="csv", help="of the --tables files: csv or parquet")
    report.add_argument("--costs", type=Path, help="a cost table (default: the shipped one)")
    report.set_defaults(handler=cmd_report)

"""``recoup lab``: test a strategy (or two, side by side) on simulated borrowers.

    recoup lab --strategy A.yaml [--vs B.yaml] --accounts N --days D --seed S [--seeds K]

runs the production daily cycle for ``D`` days on a simulated portfolio of ``N`` accounts
whose borrowers respond to contact, once per strategy on the same borrowers, for the seeds
``S .. S+K-1``, and prints recovery, cures, contacts and cost, complaints, compliance blocks
and collector utilisation with 95% intervals over the seeds (``--json`` for the figures).
Nothing touches the configured database: every run has its own temporary store.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from recoup.cli.collection import CommandRefused


def cmd_lab(args: argparse.Namespace) -> int:
    from recoup.lab import DEFAULT_START, LabRefused, run_lab
    from recoup.simulator.response import load_response_params

    for option, value, least in (
        ("--accounts", args.accounts, 1),
        ("--days", args.days, 1),
        ("--seeds", args.seeds, 1),
    ):
        if value < least:
            raise CommandRefused(f"{option} must be at least {least}, got {value}")
    paths = [args.strategy] + ([args.vs] if args.vs else [])
    for option, path in zip(("--strategy", "--vs"), paths, strict=False):
        if not path.is_file():
            raise CommandRefused(f"{option} {path}: no such strategy file")
    for option, path in (("--teams", args.teams), ("--params", args.params)):
        if path is not None and not path.is_file():
            raise CommandRefused(f"{option} {path}: no such file")
    policy = None
    if args.policy:
        from recoup.cli.contact import profile_named

        policy = profile_named(args.policy)
    progress = (lambda line: None) if args.json else (lambda line: print(line, flush=True))
    try:
        report = run_lab(
            paths,
            args.accounts,
            args.days,
            list(range(args.seed, args.seed + args.seeds)),
            start=args.start or DEFAULT_START,
            teams_path=args.teams,
            policy=policy,
            params=load_response_params(args.params) if args.params else None,
            progress=progress,
        )
    except LabRefused as exc:
        raise CommandRefused(str(exc)) from None
    if args.json:
        json.dump(report.document(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print()
        print(report.describe())
    return 0


def add_commands(commands: Any, parse_date: Any) -> None:
    lab = commands.add_parser(
        "lab", help="test a strategy on simulated borrowers who respond to contact"
    )
    lab.add_argument("--strategy", type=Path, required=True, help="the strategy file to test")
    lab.add_argument("--vs", type=Path, help="a second strategy, run on the same borrowers")
    lab.add_argument("--accounts", type=int, default=5_000, help="simulated accounts (5,000)")
    lab.add_argument("--days", type=int, default=30, help="days of collection (30)")
    lab.add_argument("--seed", type=int, default=1, help="the first seed (1)")
    lab.add_argument("--seeds", type=int, default=1, help="how many seeds, from --seed (1)")
    lab.add_argument("--start", type=parse_date, help="the portfolio's last day of history")
    lab.add_argument("--teams", type=Path, help="teams file (default: the shipped example)")
    lab.add_argument("--policy", help="contact policy: cn (default), us, uk or a file")
    lab.add_argument("--params", type=Path, help="response parameters (default: shipped)")
    lab.add_argument("--json", action="store_true", help="the figures as JSON")
    lab.set_defaults(handler=cmd_lab)

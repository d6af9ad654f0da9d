"""``recoup``: the command line.

Each sub-command parses its arguments, opens what it needs (files, the store), calls the
capability packages and prints the result. Errors a user can fix are printed as one line
naming what is wrong and where, with exit status 2; nothing is half-written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from recoup.money import MoneyError, format_cents, parse_cents, parse_rate
from recoup.products.spec import FeeModel, ProductError, load_catalog


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
            raise UsageError(
                f"--term: product {product.id!r} offers terms {list(product.terms)}, not {args.term}"
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


def _find_product(product_id: str, products_file: Path | None):  # type: ignore[no-untyped-def]
    if products_file is not None:
        return load_catalog(products_file).get(product_id)
    from recoup.store.engine import open_store
    from recoup.store.repository import load_catalog_from_store

    catalog = load_catalog_from_store(open_store())
    return catalog.get(product_id)


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

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (UsageError, ProductError, MoneyError) as exc:
        print(f"recoup {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

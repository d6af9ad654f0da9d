"""The arrangement commands: ``plan propose | sign | show``, ``settle offer | accept``,
``waive request | approve | reject | list``, ``offers``.

Proposals and offers are worked out from what the account owes at the end of the last closed
day. Asks for a concession go through the authority matrix (``--authority FILE``, default the
shipped example): within the requester's authority they are granted at once, beyond it they
wait for an approver; every step is recorded. A granted or approved waiver is posted to the
ledger at once, a settlement when the borrower accepts it, a plan when it is signed
(:mod:`recoup.collection.postings`).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from recoup.cli.collection import CommandRefused
from recoup.money import MoneyError, format_cents, parse_cents


def _print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def _engine() -> Any:
    from recoup.store.engine import open_store

    return open_store()


def _cents(text: str, option: str) -> int:
    try:
        return parse_cents(text)
    except MoneyError as exc:
        raise CommandRefused(f"{option}: {exc}") from None


def _share(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise CommandRefused(f"{option}: not a share such as 20% or 0.2: {text!r}") from None
    if not Decimal(0) <= value <= Decimal(1):
        raise CommandRefused(f"{option}: a share is between 0% and 100%, got {text}")
    return value


def _owed(conn: Any, account_id: str) -> Any:
    from recoup.collection.arrangements import ArrangementRefused, owed_now

    try:
        return owed_now(conn, account_id)
    except ArrangementRefused as exc:
        raise CommandRefused(str(exc)) from None


def _owed_json(owed: Any) -> dict[str, str]:
    names = ("principal_overdue", "principal_not_due", "fee_overdue", "fee_not_due")
    amounts = {name: format_cents(getattr(owed, name)) for name in names}
    amounts |= {
        "late_fee": format_cents(owed.late_fee),
        "penalty": format_cents(owed.penalty),
        "total": format_cents(owed.total),
    }
    return amounts


def _matrix(path: Path | None) -> Any:
    from recoup.arrangements import default_authority, load_authority

    return load_authority(path) if path else default_authority()


# --------------------------------------------------------------------------- plan


def cmd_plan_propose(args: argparse.Namespace) -> int:
    with _engine().connect() as conn:
        account = _owed(conn, args.account_id)
    proposal = _proposal(args, account)
    document = _proposal_json(account, proposal)
    if args.json:
        _print_json(document)
        return 0
    _print_proposal(account, proposal, document)
    return 0


def _proposal(args: argparse.Namespace, account: Any) -> Any:
    """The plan the command's terms give for what ``account`` owes."""
    from recoup.arrangements.plans import (
        ChargeTreatment,
        FutureFees,
        PlanAsk,
        PlanRefused,
        proposal_for,
    )

    income = args.income is not None  # spending and debts count only with an income
    ask = PlanAsk(
        term_months=args.term or 12,
        start=args.start,
        monthly_rate=_share(args.monthly_rate, "--monthly-rate"),
        down_payment_cents=_cents(args.down, "--down"),
        penalty=ChargeTreatment(args.penalty),
        late_fee=ChargeTreatment(args.late_fee),
        fees_not_due=FutureFees(args.future_fees),
        re_age_after=args.re_age_after,
        income_cents=_cents(args.income, "--income") if income else None,
        spending_cents=_cents(args.spending or "0", "--spending") if income else 0,
        debts_cents=_cents(args.debts or "0", "--debts") if income else 0,
    )
    try:
        return proposal_for(account.owed, account.as_of, ask)
    except (PlanRefused, ValueError) as exc:  # NoAffordablePlan says "no affordable plan: ..."
        raise CommandRefused(str(exc)) from None


def _proposal_json(account: Any, proposal: Any) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "as_of": account.as_of.isoformat(),
        "owed": _owed_json(account.owed),
        "term_months": proposal.term_months,
        "down_payment": format_cents(proposal.down_payment_cents),
        "restructured": format_cents(proposal.restructured_cents),
        "waived": format_cents(proposal.waived_cents),
        "frozen": format_cents(proposal.frozen_cents),
        "apr": str(proposal.apr),
        "installments": [
            {"due_date": i.due_date.isoformat(), "amount": format_cents(amount)}
            for i, amount in zip(proposal.schedule, proposal.installment_amounts, strict=True)
        ],
        "total_payable": format_cents(proposal.total_payable_cents),
        "re_age_from": proposal.re_age_from.isoformat() if proposal.re_age_from else "signing",
    }


def _print_proposal(account: Any, proposal: Any, document: dict[str, Any]) -> None:
    print(
        f"plan for {account.account_id} (owes {document['owed']['total']} on {account.as_of}): "
        f"{proposal.term_months} months, down payment {document['down_payment']}, "
        f"restructured {document['restructured']}, waived {document['waived']}, "
        f"frozen {document['frozen']}, APR {Decimal(proposal.apr) * 100:.2f}%"
    )
    for n, row in enumerate(document["installments"], start=1):
        print(f"  {n:>3}  {row['due_date']}  {row['amount']:>12}")
    print(f"  total payable {document['total_payable']}; re-aged from {document['re_age_from']}")


def cmd_plan_sign(args: argparse.Namespace) -> int:
    """Sign a plan: within the signer's authority (or under an approved request) it is
    posted at once; beyond it, it becomes a request for approval."""
    from recoup.arrangements import ArrangementKind, Ask, Granted
    from recoup.collection.arrangements import ArrangementRefused, load_request, open_request
    from recoup.collection.postings import sign_plan

    matrix = _matrix(args.authority)
    now = datetime.now(UTC)
    with _engine().begin() as conn:
        account = _owed(conn, args.account_id)
        proposal = _proposal(args, account)
        ask = Ask(
            ArrangementKind.PLAN,
            account.bucket,
            proposal.waived_cents,
            account.owed.total,
            term_months=proposal.term_months,
        )
        try:
            if args.request:
                request_key = _request_key(args.request)
                request = load_request(conn, request_key)
                _matches(request, ask, request_key, account)
            else:
                request_key, outcome = open_request(
                    conn, matrix, account, ask, _proposal_json(account, proposal), args.by,
                    args.role, now,
                )  # fmt: skip
                if not isinstance(outcome, Granted):
                    approvers = ", ".join(_approvers(matrix, outcome))
                    print(
                        f"R{request_key} plan on {account.account_id}: pending approval by "
                        f"{approvers}; sign it with --request R{request_key} once approved"
                    )
                    print(f"  {outcome.verdict.reason}")
                    return 0
            signed = sign_plan(
                conn,
                account,
                proposal,
                by=args.by,
                now=now,
                on_break=args.on_break,
                grace_days=args.grace,
                request_key=request_key,
            )
        except ArrangementRefused as exc:
            raise CommandRefused(str(exc)) from None
    print(
        f"A{signed.arrangement_key} plan {signed.plan_id} signed for {account.account_id}: "
        f"{signed.installments} installments from {signed.effective_on}, "
        f"{format_cents(signed.moved_cents)} moved from the old installments, "
        f"{format_cents(signed.waived_cents)} waived; collection is held while it is honoured"
    )
    return 0


def _matches(request: Any, ask: Any, request_key: int, account: Any) -> None:
    """An approved plan request covers this plan: same account and kind, a term no longer
    and a concession no larger than approved."""
    from recoup.arrangements import ArrangementKind, RequestStatus
    from recoup.collection.arrangements import ArrangementRefused

    if request.ask.kind is not ArrangementKind.PLAN:
        raise ArrangementRefused(
            f"R{request_key} is a {request.ask.kind.value} request, not a plan"
        )
    if request.status is not RequestStatus.APPROVED:
        raise ArrangementRefused(f"R{request_key} is {request.status.value}, not approved")
    if (ask.term_months or 0) > (request.ask.term_months or 0):
        raise ArrangementRefused(
            f"R{request_key} approved {request.ask.term_months} months; this plan runs "
            f"{ask.term_months}"
        )
    if ask.amount_cents > request.ask.amount_cents:
        raise ArrangementRefused(
            f"R{request_key} approved giving up {format_cents(request.ask.amount_cents)}; this "
            f"plan gives up {format_cents(ask.amount_cents)}"
        )


def cmd_plan_show(args: argparse.Namespace) -> int:
    import polars as pl
    import sqlalchemy as sa

    from recoup.collection.postings import arrangements_of
    from recoup.store import tables as t
    from recoup.store.bulk import read_frame

    with _engine().connect() as conn:
        account = _owed(conn, args.account_id)
        found = arrangements_of(conn, account.account_key)
        i = t.installments
        rows = read_frame(
            conn,
            sa.select(
                i.c.plan_key,
                i.c.period,
                i.c.due_date,
                (
                    i.c.principal_cents + i.c.fee_cents + i.c.late_fee_cents + i.c.penalty_cents
                ).label("amount_cents"),
                (
                    i.c.paid_principal_cents
                    + i.c.paid_fee_cents
                    + i.c.paid_late_fee_cents
                    + i.c.paid_penalty_cents
                ).label("paid_cents"),
                i.c.settled,
            ).where(i.c.plan_key.in_([a["plan_key"] for a in found if a["plan_key"]] or [-1])),
            {
                "plan_key": pl.Int64,
                "period": pl.Int32,
                "due_date": pl.Date,
                "amount_cents": pl.Int64,
                "paid_cents": pl.Int64,
                "settled": pl.Int32,
            },
        ).sort("plan_key", "period")
    document = {
        "account_id": account.account_id,
        "as_of": account.as_of.isoformat(),
        "owed": _owed_json(account.owed),
        "arrangements": [
            {
                "arrangement": f"A{a['arrangement_key']}",
                "kind": a["kind"],
                "status": a["status"],
                "request": f"R{a['request_key']}" if a["request_key"] else None,
                "effective_on": str(a["effective_on"]),
                "expires_on": str(a["expires_on"]) if a["expires_on"] else None,
                "amount": format_cents(a["amount_cents"]),
                "status_on": str(a["status_on"]) if a["status_on"] else None,
                "status_reason": a["status_reason"],
                "terms": json.loads(a["terms"]),
                "installments": [
                    {
                        "period": r["period"],
                        "due_date": r["due_date"].isoformat(),
                        "amount": format_cents(r["amount_cents"]),
                        "paid": format_cents(r["paid_cents"]),
                        "status": "paid"
                        if r["settled"]
                        else ("open" if r["due_date"] >= account.as_of else "late"),
                    }
                    for r in rows.filter(pl.col("plan_key") == a["plan_key"]).iter_rows(named=True)
                ]
                if a["plan_key"]
                else [],
            }
            for a in found
        ],
    }
    if args.json:
        _print_json(document)
        return 0
    owed = document["owed"]
    print(f"{account.account_id} on {account.as_of}: owes {owed['total']}")
    if not found:
        print("  no arrangements")
    for a in document["arrangements"]:
        until = f" until {a['expires_on']}" if a["expires_on"] else ""
        why = f" ({a['status_reason']})" if a["status_reason"] else ""
        print(f"  {a['arrangement']} {a['kind']} {a['status']}{why}: {a['amount']} from "
              f"{a['effective_on']}{until}")  # fmt: skip
        for row in a["installments"]:
            print(f"    {row['period']:>3}  {row['due_date']}  {row['amount']:>12}  paid "
                  f"{row['paid']:>12}  {row['status']}")  # fmt: skip
    return 0


def cmd_settle_accept(args: argparse.Namespace) -> int:
    from recoup.collection.arrangements import ArrangementRefused
    from recoup.collection.postings import accept_settlement

    key = _request_key(args.request)
    try:
        with _engine().begin() as conn:
            arrangement = accept_settlement(conn, key, args.by, datetime.now(UTC))
            row = conn.execute(_arrangement_query(arrangement)).one()
    except ArrangementRefused as exc:
        raise CommandRefused(str(exc)) from None
    print(
        f"A{arrangement} settlement accepted (R{key}): pay {format_cents(row.amount_cents)} "
        f"from {row.effective_on} to {row.expires_on}; the rest is written off once paid"
    )
    return 0


def _arrangement_query(key: int) -> Any:
    import sqlalchemy as sa

    from recoup.store import tables as t

    ar = t.arrangements
    return sa.select(ar).where(ar.c.arrangement_key == key)


# --------------------------------------------------------------------------- concessions


def _ask_and_record(args: argparse.Namespace, kind: str) -> int:
    from recoup.arrangements import ArrangementKind, Ask, Granted
    from recoup.arrangements.settlements import (
        WaiverComponent,
        WaiverRefused,
        settlement_offer,
        waiver_of,
    )
    from recoup.collection.arrangements import ArrangementRefused, open_request
    from recoup.collection.postings import post_waiver

    matrix = _matrix(args.authority)
    now = datetime.now(UTC)
    with _engine().begin() as conn:
        account = _owed(conn, args.account_id)
        expires = args.expires or account.as_of + timedelta(days=14)
        try:
            if kind == "waiver":
                component = WaiverComponent(args.component)
                amount: int | Decimal = (
                    _share(args.share, "--share") if args.share else _cents(args.amount, "--amount")
                )
                waiver = waiver_of(
                    account.owed, component, amount, expires_on=expires, reason=args.reason or ""
                )
                from recoup.arrangements.settlements import owed_on

                on_component = owed_on(account.owed, component)
                ask = Ask(
                    ArrangementKind.WAIVER,
                    account.bucket,
                    waiver.amount_cents,
                    account.owed.total,
                    share=Decimal(waiver.amount_cents) / Decimal(on_component),
                )
                detail: dict[str, Any] = {
                    "component": component.value,
                    "amount": format_cents(waiver.amount_cents),
                    "expires_on": expires.isoformat(),
                    "reason": args.reason or "",
                }
            else:
                offer = settlement_offer(
                    account.owed.total,
                    _share(args.discount, "--discount"),
                    expires,
                    installments=args.installments,
                )
                ask = Ask(
                    ArrangementKind.SETTLEMENT,
                    account.bucket,
                    offer.discount_cents,
                    account.owed.total,
                )
                detail = {
                    "pay": format_cents(offer.amount_cents),
                    "discount": format_cents(offer.discount_cents),
                    "payments": [
                        {"due_date": p.due_date.isoformat(), "amount": format_cents(p.amount_cents)}
                        for p in offer.payments
                    ],
                    "expires_on": expires.isoformat(),
                }
            key, outcome = open_request(conn, matrix, account, ask, detail, args.by, args.role, now)
            posted = (
                post_waiver(conn, key, args.by, now)
                if kind == "waiver" and isinstance(outcome, Granted)
                else None
            )
        except (WaiverRefused, ArrangementRefused, ValueError) as exc:
            raise CommandRefused(str(exc)) from None
    granted = isinstance(outcome, Granted)
    record = outcome.request if isinstance(outcome, Granted) else outcome
    status = (
        "granted" if granted else f"pending approval by {', '.join(_approvers(matrix, record))}"
    )
    print(f"R{key} {kind} on {account.account_id}: {status}")
    print(f"  {record.verdict.reason}")
    if posted is not None:
        print(f"  posted as A{posted}: the close applies it from the next open day")
    for name, value in detail.items():
        if name != "payments":
            print(f"  {name}: {value}")
    return 0


def _approvers(matrix: Any, request: Any) -> list[str]:
    from recoup.arrangements import who_can_approve

    return who_can_approve(matrix, request)


def cmd_waive_request(args: argparse.Namespace) -> int:
    if bool(args.amount) == bool(args.share):
        raise CommandRefused("give --amount or --share (one of them)")
    return _ask_and_record(args, "waiver")


def cmd_settle_offer(args: argparse.Namespace) -> int:
    return _ask_and_record(args, "settlement")


def cmd_request_decide(args: argparse.Namespace) -> int:
    from recoup.arrangements import ArrangementKind, RequestStatus, StepAction
    from recoup.collection.arrangements import ArrangementRefused, decide
    from recoup.collection.postings import post_waiver

    key = _request_key(args.request)
    action = StepAction.APPROVE if args.decision == "approve" else StepAction.REJECT
    now = datetime.now(UTC)
    posted = None
    try:
        with _engine().begin() as conn:
            request = decide(
                conn, _matrix(args.authority), key, args.by, args.role, action,
                args.reason or "", now,
            )  # fmt: skip
            if (
                request.status is RequestStatus.APPROVED
                and request.ask.kind is ArrangementKind.WAIVER
            ):
                posted = post_waiver(conn, key, args.by, now)
    except ArrangementRefused as exc:
        raise CommandRefused(str(exc)) from None
    print(f"R{key}: {request.status.value} ({len(request.approvals)} of "
          f"{request.approvals_needed} approvals)")  # fmt: skip
    if posted is not None:
        print(f"  posted as A{posted}: the close applies it from the next open day")
    return 0


def _request_key(text: str) -> int:
    digits = text[1:] if text[:1] in ("R", "r") else text
    if not digits.isdigit():
        raise CommandRefused(f"not a request id such as R12: {text!r}")
    return int(digits)


def cmd_request_list(args: argparse.Namespace) -> int:
    from recoup.collection.arrangements import list_requests

    with _engine().connect() as conn:
        rows = list_requests(conn, args.status)
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        print(
            f"R{r['request_key']:<5} {r['account_id']:<12} {r['kind']:<10} "
            f"{format_cents(r['amount_cents']):>12}  {r['status']:<9} by {r['requested_by']} "
            f"({r['requester_role']})"
        )
    return 0


def cmd_offers(args: argparse.Namespace) -> int:
    from recoup.arrangements.plans import PlanTerms, affordability
    from recoup.arrangements.settlements import OfferRules, suggest_offers
    from recoup.scoring.run import latest_scores

    with _engine().connect() as conn:
        account = _owed(conn, args.account_id)
        scores = latest_scores(conn, account.as_of)
    mine = scores.filter(
        (scores["account_key"] == account.account_key) & (scores["kind"] == "collection")
    )
    p_cure = 1.0 - float(mine["probability"][0]) if mine.height else None
    affordable = (
        affordability(
            _cents(args.income, "--income"),
            _cents(args.spending or "0", "--spending"),
            _cents(args.debts or "0", "--debts"),
        )
        if args.income
        else None
    )
    options = suggest_offers(
        account.owed,
        account.bucket,
        p_cure,
        _share(args.max_discount, "--max-discount"),
        affordable,
        OfferRules(),
        as_of=account.as_of,
        plan_template=PlanTerms(term_months=12, start=account.as_of + timedelta(days=30)),
    )
    cure = f"P(cure) {p_cure:.0%} from the collection score" if p_cure is not None else (
        "no collection score: the bucket's prior is used"
    )  # fmt: skip
    print(f"offers for {account.account_id} ({account.bucket}, owes "
          f"{format_cents(account.owed.total)}; {cure}):")  # fmt: skip
    for option in options:
        print(
            f"  {option.kind.value:<22} pay {format_cents(option.payable_cents):>12}  "
            f"expected {format_cents(option.expected_recovery_cents):>12}  {option.explanation}"
        )
    return 0


# --------------------------------------------------------------------------- parser


def _plan_options(parser: Any, parse_date: Any) -> None:
    parser.add_argument("account_id")
    parser.add_argument("--term", type=int, help="months (default 12; up to 60, CN-PLAN)")
    parser.add_argument("--start", type=parse_date, help="first due date (default in 30 days)")
    parser.add_argument("--monthly-rate", default="0", help="the plan's monthly rate, e.g. 0.5%%")
    parser.add_argument("--down", default="0", help="down payment, due on signing")
    for charge in ("penalty", "late-fee"):
        parser.add_argument(
            f"--{charge}", choices=["waive", "freeze", "capitalise"], default="capitalise"
        )
    parser.add_argument("--future-fees", choices=["keep", "waive"], default="keep")
    parser.add_argument("--re-age-after", type=int, help="re-age after N on-time payments")
    parser.add_argument("--income", help="monthly income: propose the shortest affordable term")
    parser.add_argument("--spending", help="essential monthly spending")
    parser.add_argument("--debts", help="other debts' monthly payments")


def add_commands(commands: Any, parse_date: Any) -> None:
    plan = commands.add_parser("plan", help="personalised repayment plans (个性化分期)")
    psub = plan.add_subparsers(dest="plan_command", required=True)
    propose = psub.add_parser("propose", help="the plan some terms would give, from today's owed")
    sign = psub.add_parser("sign", help="sign a plan: posted at once within authority")
    for parser in (propose, sign):
        _plan_options(parser, parse_date)
    propose.add_argument("--json", action="store_true")
    propose.set_defaults(handler=cmd_plan_propose)
    sign.add_argument("--by", required=True)
    sign.add_argument("--role", required=True)
    sign.add_argument("--authority", type=Path, help="authority matrix (default: shipped)")
    sign.add_argument("--request", help="an approved plan request (R12) this plan carries out")
    sign.add_argument(
        "--on-break",
        choices=["resume", "revert"],
        help="when broken: collection resumes on the plan, or the old terms return "
        "(default: the product's plan_break)",
    )
    sign.add_argument("--grace", type=int, default=5, help="days late before the plan breaks")
    sign.set_defaults(handler=cmd_plan_sign)
    show = psub.add_parser("show", help="an account's arrangements and plan schedules")
    show.add_argument("account_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_plan_show)

    settle = commands.add_parser("settle", help="settlement offers (a discounted lump sum)")
    ssub = settle.add_subparsers(dest="settle_command", required=True)
    offer = ssub.add_parser("offer", help="offer a settlement; beyond authority: a request")
    offer.add_argument("account_id")
    offer.add_argument("--discount", required=True, help="share of the balance, e.g. 20%%")
    offer.add_argument("--installments", type=int, default=1, help="1 = lump sum; up to 6")
    offer.add_argument("--expires", type=parse_date)
    offer.add_argument("--by", required=True)
    offer.add_argument("--role", required=True)
    offer.add_argument("--authority", type=Path, help="authority matrix (default: shipped)")
    offer.set_defaults(handler=cmd_settle_offer)
    accept = ssub.add_parser("accept", help="the borrower accepts a granted or approved offer")
    accept.add_argument("request", help="R12")
    accept.add_argument("--by", required=True)
    accept.set_defaults(handler=cmd_settle_accept)

    waive = commands.add_parser("waive", help="waivers of penalty interest, late fees, fees")
    wsub = waive.add_subparsers(dest="waive_command", required=True)
    request = wsub.add_parser("request", help="ask for a waiver; beyond authority: a request")
    request.add_argument("account_id")
    request.add_argument("--component", choices=["penalty", "late_fee", "fee"], required=True)
    request.add_argument("--amount")
    request.add_argument("--share", help="share of the component, e.g. 50%%")
    request.add_argument("--expires", type=parse_date)
    request.add_argument("--reason")
    request.add_argument("--by", required=True)
    request.add_argument("--role", required=True)
    request.add_argument("--authority", type=Path)
    request.set_defaults(handler=cmd_waive_request)
    for decision in ("approve", "reject"):
        step = wsub.add_parser(decision, help=f"{decision} a request (waiver or settlement)")
        step.add_argument("request", help="R12")
        step.add_argument("--by", required=True)
        step.add_argument("--role", required=True)
        step.add_argument("--reason", required=decision == "reject")
        step.add_argument("--authority", type=Path)
        step.set_defaults(handler=cmd_request_decide, decision=decision)
    listing = wsub.add_parser("list", help="requests and their status")
    listing.add_argument("--status", choices=["pending", "approved", "rejected", "granted"])
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_request_list)

    offers = commands.add_parser("offers", help="the arrangements policy allows, by recovery")
    offers.add_argument("account_id")
    offers.add_argument("--max-discount", default="20%")
    offers.add_argument("--income")
    offers.add_argument("--spending")
    offers.add_argument("--debts")
    offers.set_defaults(handler=cmd_offers)

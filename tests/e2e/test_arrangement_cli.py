"""The arrangement commands as a collector and a team lead run them: a plan proposal, the
60-month limit, a waiver beyond the collector's authority approved by a team lead."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tests.differential.portfolio import RandomAccount
from tests.e2e.test_cli import recoup
from tests.integration.portfolio_files import write_accounts, write_payments, write_products
from tests.integration.test_collection import FIRST_DUE, _plan


def _book(tmp_path: Path) -> None:
    files = tmp_path / "book"
    files.mkdir()
    write_products(files)
    write_accounts(files, [RandomAccount(1, [_plan(1)], [])])
    write_payments(files, [])
    assert recoup("import", str(files), "--quiet", cwd=tmp_path).returncode == 0
    day = (FIRST_DUE + timedelta(days=40)).isoformat()
    assert recoup("close", "--through", day, cwd=tmp_path).returncode == 0


def test_arrangement_commands__a_plan_a_refused_term_and_an_approved_waiver(
    tmp_path: Path,
) -> None:
    _book(tmp_path)
    plan = recoup("plan", "propose", "A1", "--term", "12", "--penalty", "waive", "--json",
                  cwd=tmp_path)  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    proposal = json.loads(plan.stdout)
    assert len(proposal["installments"]) == 12 and proposal["apr"] == "0"
    assert proposal["waived"] == proposal["owed"]["penalty"]

    too_long = recoup("plan", "propose", "A1", "--term", "61", cwd=tmp_path)
    assert (
        too_long.returncode == 2 and "CN-PLAN" in too_long.stderr and "60 months" in too_long.stderr
    )

    asked = recoup("waive", "request", "A1", "--component", "penalty", "--share", "100%",
                   "--by", "c-li", "--role", "collector", "--reason", "hospital stay",
                   cwd=tmp_path)  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith("R1 waiver on A1: pending approval by team_lead")

    own = recoup("waive", "approve", "R1", "--by", "c-li", "--role", "team_lead", cwd=tmp_path)
    assert own.returncode == 2 and "own request" in own.stderr
    reject = recoup("waive", "reject", "R1", "--by", "t-wang", "--role", "team_lead", cwd=tmp_path)
    assert reject.returncode != 0  # a rejection needs a reason
    approved = recoup("waive", "approve", "R1", "--by", "t-wang", "--role", "team_lead",
                      cwd=tmp_path)  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    assert "R1: approved (1 of 1 approvals)" in approved.stdout
    listed = json.loads(recoup("waive", "list", "--json", cwd=tmp_path).stdout)
    assert [(r["request_key"], r["status"]) for r in listed] == [(1, "approved")]


def test_arrangement_commands__approved_waiver_is_posted_and_the_close_applies_it(
    tmp_path: Path,
) -> None:
    _book(tmp_path)
    owed = json.loads(recoup("plan", "propose", "A1", "--json", cwd=tmp_path).stdout)["owed"]
    asked = recoup("waive", "request", "A1", "--component", "late_fee", "--amount", "10.00",
                   "--reason", "first late payment", "--by", "c-li", "--role", "collector",
                   cwd=tmp_path)  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    assert "R1 waiver on A1: granted" in asked.stdout  # within a collector's authority
    assert "posted as A1" in asked.stdout
    again = recoup("waive", "approve", "R1", "--by", "m-zhao", "--role", "manager", cwd=tmp_path)
    assert again.returncode == 2  # granted already: nothing is posted twice
    day = (FIRST_DUE + timedelta(days=41)).isoformat()
    assert recoup("close", "--through", day, cwd=tmp_path).returncode == 0
    shown = json.loads(recoup("plan", "show", "A1", "--json", cwd=tmp_path).stdout)
    assert Decimal(shown["owed"]["late_fee"]) == Decimal(owed["late_fee"]) - Decimal("10.00")
    assert [(a["kind"], a["status"], a["amount"]) for a in shown["arrangements"]] == [
        ("waiver", "posted", "10.00")
    ]
    account = json.loads(recoup("account", "show", "A1", "--json", cwd=tmp_path).stdout)
    assert sum(Decimal(i["adjusted"]) for i in account["installments"]) == Decimal("10.00")


def test_arrangement_commands__a_plan_signed_shown_and_a_settlement_accepted(
    tmp_path: Path,
) -> None:
    _book(tmp_path)
    over = recoup("plan", "sign", "A1", "--term", "36", "--by", "c-li", "--role", "collector",
                  cwd=tmp_path)  # fmt: skip
    assert over.returncode == 0, over.stderr
    assert "R1 plan on A1: pending approval" in over.stdout  # 36 months: beyond a collector
    early = recoup("plan", "sign", "A1", "--term", "36", "--request", "R1", "--by", "c-li",
                   "--role", "collector", cwd=tmp_path)  # fmt: skip
    assert early.returncode == 2 and "pending, not approved" in early.stderr
    recoup("waive", "approve", "R1", "--by", "m-zhao", "--role", "manager", cwd=tmp_path)
    longer = recoup("plan", "sign", "A1", "--term", "48", "--request", "R1", "--by", "c-li",
                    "--role", "collector", cwd=tmp_path)  # fmt: skip
    assert longer.returncode == 2 and "approved 36 months" in longer.stderr
    signed = recoup("plan", "sign", "A1", "--term", "36", "--request", "R1", "--by", "c-li",
                    "--role", "collector", "--on-break", "revert", cwd=tmp_path)  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert "36 installments" in signed.stdout and "collection is held" in signed.stdout
    before = json.loads(recoup("plan", "propose", "A1", "--json", cwd=tmp_path).stdout)
    shown = json.loads(recoup("plan", "show", "A1", "--json", cwd=tmp_path).stdout)
    assert shown["owed"] == before["owed"]  # the plan takes over at the next close
    (plan,) = shown["arrangements"]
    assert (plan["kind"], plan["status"], plan["request"]) == ("plan", "active", "R1")
    assert len(plan["installments"]) == 36 and plan["terms"]["on_break"] == "revert"
    total = sum(Decimal(i["amount"]) for i in plan["installments"])
    assert total == Decimal(shown["owed"]["total"])  # 0% plan: what is owed, spread
    flags = recoup("contact", "history", "A1", "--json", cwd=tmp_path)
    assert "repayment_plan" in flags.stdout

    offered = recoup("settle", "offer", "A1", "--discount", "10%", "--by", "m-zhao", "--role",
                     "manager", cwd=tmp_path)  # fmt: skip
    assert offered.returncode == 0 and "granted" in offered.stdout
    accepted = recoup("settle", "accept", "R2", "--by", "m-zhao", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    assert "settlement accepted (R2)" in accepted.stdout
    twice = recoup("settle", "accept", "R2", "--by", "m-zhao", cwd=tmp_path)
    assert twice.returncode == 2 and "already carried out" in twice.stderr

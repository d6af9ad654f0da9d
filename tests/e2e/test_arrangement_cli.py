"""The arrangement commands as a collector and a team lead run them: a plan proposal, the
60-month limit, a waiver beyond the collector's authority approved by a team lead."""

from __future__ import annotations

import json
from datetime import timedelta
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

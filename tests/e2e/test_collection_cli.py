"""The collection commands as a user runs them: check and explain a strategy file, run the
day's strategy and allocation, read a trace and a collector's queue."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.strategy import default_strategy_text
from tests.differential.portfolio import RandomAccount
from tests.e2e.test_cli import recoup
from tests.integration.portfolio_files import write_accounts, write_payments, write_products
from tests.integration.test_collection import FIRST_DUE, _on_time_payments, _plan

AS_OF = date(2026, 3, 18)  # a Wednesday: the shipped teams work


def test_strategy_check__a_bad_file_is_refused_with_its_line_and_field(tmp_path: Path) -> None:
    text = default_strategy_text().replace("path: m2-senior", "path: m2-nowhere")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    line = text.splitlines().index("    path: m2-nowhere") + 1
    done = recoup("strategy", "check", str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert f"bad.yaml, line {line}, segments[" in done.stderr
    assert "m2-nowhere" in done.stderr

    good = tmp_path / "good.yaml"
    good.write_text(default_strategy_text())
    done = recoup("strategy", "check", str(good), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "strategy 'cn-default' version 1 is valid" in done.stdout


def test_strategy_explain__says_each_segment_and_step_in_words(tmp_path: Path) -> None:
    done = recoup("strategy", "explain", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "M4" in done.stdout and "agency" in done.stdout
    assert "broken-promise" in done.stdout


def test_collection_commands__a_day_from_close_to_a_collectors_queue(tmp_path: Path) -> None:
    write_portfolio(simulate_portfolio(600, 5, AS_OF), tmp_path / "files")
    assert recoup("import", str(tmp_path / "files"), "--quiet", cwd=tmp_path).returncode == 0
    day = AS_OF.isoformat()
    assert recoup("close", "--through", day, cwd=tmp_path).returncode == 0

    refused = recoup("strategy", "run", "--as-of", "2026-03-19", cwd=tmp_path)
    assert refused.returncode == 2 and "closed through 2026-03-18" in refused.stderr

    run = recoup("strategy", "run", "--as-of", day, "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["cases_open"] > 0 and sum(summary["actions"].values()) > 0

    allocated = recoup("allocate", "--as-of", day, cwd=tmp_path)
    assert allocated.returncode == 0, allocated.stderr
    assert "assigned" in allocated.stdout

    queue_owner = next(
        line.split()[0] for line in allocated.stdout.splitlines()[2:] if line.split()[0][0] == "C"
    )
    queue = recoup("queue", queue_owner, "--json", cwd=tmp_path)
    assert queue.returncode == 0, queue.stderr
    cases = json.loads(queue.stdout)["cases"]
    assert cases and all(c["dpd"] > 0 for c in cases)

    traced = recoup("strategy", "trace", cases[0]["account_id"], "--json", cwd=tmp_path)
    assert traced.returncode == 0, traced.stderr
    trace = json.loads(traced.stdout)
    assert trace["case"]["owner"] == queue_owner
    assert trace["decision"]["segment"] is not None
    assert "segment" in trace["decision"]["reason"]


GOLDEN_STRATEGY = """\
strategy: {id: golden, version: 3}
segments:
  - id: small
    when: {bucket: [M1], overdue: {max: "50.00"}}
    path: gentle
  - id: m1
    when: {bucket: [M1]}
    path: calls
  - id: rest
    path: gentle
paths:
  gentle:
    steps:
      - {id: sms, day: 1, from: due_date, channel: sms, template: t_sms}
  calls:
    steps:
      - {id: sms, day: 1, from: due_date, channel: sms, template: t_sms}
      - {id: call, day: 3, from: due_date, every: 2, until: 29, channel: call,
         template: t_call, queue: m1-team, priority: 60}
"""


def test_strategy_trace__golden_cases_of_a_small_book(tmp_path: Path) -> None:
    """Three accounts on one 6-month plan: A1 never pays, A2 pays on time, A3 never pays and
    has promised to pay. Each trace is worked out by hand from GOLDEN_STRATEGY."""
    files = tmp_path / "book"
    files.mkdir()
    accounts = [
        RandomAccount(1, [_plan(1)], []),
        RandomAccount(2, [_plan(2)], _on_time_payments(2)),
        RandomAccount(3, [_plan(3)], []),
    ]
    write_products(files)
    write_accounts(files, accounts)
    write_payments(files, [(a.account_key, p) for a in accounts for p in a.payments])
    (tmp_path / "golden.yaml").write_text(GOLDEN_STRATEGY)
    day = FIRST_DUE + timedelta(days=5)
    assert recoup("import", str(files), "--quiet", cwd=tmp_path).returncode == 0
    assert recoup("close", "--through", day.isoformat(), cwd=tmp_path).returncode == 0
    promised = recoup(
        "promise",
        "add",
        "A3",
        "--amount",
        "100.00",
        "--date",
        (day + timedelta(days=2)).isoformat(),
        cwd=tmp_path,
    )
    assert promised.returncode == 2  # no case before the first strategy run
    run = ("strategy", "run", "--as-of", day.isoformat(), "--strategy", "golden.yaml")
    assert recoup(*run, cwd=tmp_path).returncode == 0
    assert (
        recoup(
            "promise",
            "add",
            "A3",
            "--amount",
            "100.00",
            "--date",
            (day + timedelta(days=2)).isoformat(),
            cwd=tmp_path,
        ).returncode
        == 0
    )
    assert recoup(*run, cwd=tmp_path).returncode == 0
    # Without --strategy the strategy in force runs: the one that ran last.
    again = recoup("strategy", "run", "--as-of", day.isoformat(), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["strategy"] == "golden v3"

    def trace(account: str) -> dict[str, Any]:
        done = recoup("strategy", "trace", account, "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    # A1: five days after its first due date, past due (M1) and owing far more than 50.00,
    # so segment m1 (not 'small'); the call repeats on days 3, 5, 7 ... of the due date.
    a1 = trace("A1")
    assert a1["strategy"] == "golden v3"
    decision = a1["decision"]
    assert (decision["status"], decision["segment"], decision["path"]) == ("act", "m1", "calls")
    assert [
        (a["step"], a["channel"], a["template"], a["queue"], a["priority"]) for a in a1["actions"]
    ] == [("call", "call", "t_call", "m1-team", 60)]
    assert (decision["next_step"], decision["next_on"]) == ("call", str(day + timedelta(days=2)))
    assert "segment 'm1'" in decision["reason"]
    assert [a["step"] for a in a1["planned"]] == ["call"]  # what the run stored
    # A2 pays on time: never a case.
    assert trace("A2")["case"] is None
    # A3 is like A1 but promised to pay in two days: paused, nothing planned.
    a3 = trace("A3")
    assert a3["decision"]["status"] == "paused" and a3["actions"] == []
    assert a3["planned"] == []
    assert [e["kind"] for e in a3["events"]] == ["opened", "promise_made"]


def test_strategy_results__reports_each_arm_of_the_shipped_test(tmp_path: Path) -> None:
    write_portfolio(simulate_portfolio(1500, 8, AS_OF), tmp_path / "files")
    assert recoup("import", str(tmp_path / "files"), "--quiet", cwd=tmp_path).returncode == 0
    for offset in (1, 0):
        day = (AS_OF - timedelta(days=offset)).isoformat()
        assert recoup("close", "--through", day, cwd=tmp_path).returncode == 0
        assert recoup("strategy", "run", "--as-of", day, cwd=tmp_path).returncode == 0

    done = recoup("strategy", "results", "m1-call-timing", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    arms = {arm["arm"]: arm for arm in results["arms"]}
    assert set(arms) == {"champion", "challenger"}
    assert sum(arm["cases"] for arm in arms.values()) > 0
    for arm in arms.values():
        assert arm["cases"] == 0 or 0 <= arm["cure_interval"]["low"] <= arm["cure_rate"]
        # No complaint was recorded: zero, not unknown.
        assert arm["cases"] == 0 or arm["complaints"] == 0

    unknown = recoup("strategy", "results", "no-such-test", cwd=tmp_path)
    assert unknown.returncode == 2 and "m1-call-timing" in unknown.stderr

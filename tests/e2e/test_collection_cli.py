"""The collection commands as a user runs them: check and explain a strategy file, run the
day's strategy and allocation, read a trace and a collector's queue."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.strategy import default_strategy_text
from tests.e2e.test_cli import recoup

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

"""``recoup lab`` as a user runs it: two strategies side by side on a small simulated
portfolio, the figures as JSON, and clear refusals of what it cannot run."""

from __future__ import annotations

import json
from pathlib import Path

from recoup.strategy import default_strategy_text
from tests.e2e.test_cli import recoup


def _strategies(folder: Path) -> tuple[Path, Path]:
    default = folder / "default.yaml"
    default.write_text(default_strategy_text(), encoding="utf-8")
    quiet = folder / "quiet.yaml"
    text = default_strategy_text().replace("every: 2", "every: 7").replace("every: 3", "every: 7")
    quiet.write_text(text.replace("id: cn-default", "id: cn-quiet"), encoding="utf-8")
    return default, quiet


def test_lab__compares_two_strategies_and_prints_the_figures_as_json(tmp_path: Path) -> None:
    default, quiet = _strategies(tmp_path)
    done = recoup(
        "lab",
        "--strategy", str(default),
        "--vs", str(quiet),
        "--accounts", "250",
        "--days", "6",
        "--seed", "4",
        "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["accounts"] == 250 and report["days"] == 6 and report["seeds"] == [4]
    assert report["interval"].startswith("one seed")
    first, second = report["strategies"]
    assert (first["strategy_id"], second["strategy_id"]) == ("cn-default", "cn-quiet")
    for strategy in (first, second):
        summary = strategy["summary"]
        assert summary["contacts.total"]["runs"] == 1 and summary["contacts.total"]["low"] is None
        assert {"recovered_cents", "complaints", "utilisation", "cost_cents.total"} <= set(summary)
        assert any(k.startswith("cure_rate.") for k in summary)
    assert second["summary"]["contacts.total"]["mean"] < first["summary"]["contacts.total"]["mean"]
    assert report["difference"]["contacts.total"]["mean"] < 0
    assert not (tmp_path / "recoup.db").exists()  # the lab never touches the configured store


def test_lab__prints_a_table_without_json(tmp_path: Path) -> None:
    default, _ = _strategies(tmp_path)
    done = recoup(
        "lab", "--strategy", str(default), "--accounts", "80", "--days", "2", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "amount recovered (yuan)" in done.stdout
    assert "one seed: no confidence interval" in done.stdout


def test_lab__refuses_bad_input_with_a_clear_message(tmp_path: Path) -> None:
    default, _ = _strategies(tmp_path)
    missing = recoup("lab", "--strategy", "nowhere.yaml", cwd=tmp_path)
    assert missing.returncode == 2
    assert "--strategy nowhere.yaml: no such strategy file" in missing.stderr

    for option, value in (("--accounts", "0"), ("--days", "-1"), ("--seeds", "0")):
        done = recoup("lab", "--strategy", str(default), option, value, cwd=tmp_path)
        assert done.returncode == 2, option
        assert f"{option} must be at least 1, got {value}" in done.stderr

    broken = tmp_path / "broken.yaml"
    broken.write_text(default_strategy_text().replace("path: m2-senior", "path: m2-nowhere"))
    done = recoup("lab", "--strategy", str(default), "--vs", str(broken), cwd=tmp_path)
    assert done.returncode == 2 and "broken.yaml, line" in done.stderr
    assert "m2-nowhere" in done.stderr

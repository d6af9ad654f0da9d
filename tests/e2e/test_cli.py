"""The ``recoup`` command as a user runs it: a real process, a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from recoup.cli.main import main
from recoup.store.engine import open_store
from tests.differential.portfolio import random_portfolio
from tests.integration.ledger_rows import stored_ledger
from tests.integration.portfolio_files import write_accounts, write_payments, write_products
from tests.oracle import run_oracle

FIRST_DAY = date(2025, 1, 1)


def recoup(*args: str, cwd: Path, database: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["RECOUP_DATABASE_URL"] = f"sqlite:///{database or cwd / 'recoup.db'}"
    return subprocess.run(
        [sys.executable, "-m", "recoup.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_quote__prints_the_documented_json(tmp_path: Path) -> None:
    done = recoup(
        "quote",
        "--principal",
        "12000",
        "--term",
        "12",
        "--monthly-fee-rate",
        "0.006",
        "--start",
        "2026-01-15",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["apr"] == "0.1303"
    assert payload["total_fee"] == "864.00"
    assert len(payload["schedule"]) == 12
    assert payload["schedule"][0] == {
        "period": 1,
        "due_date": "2026-02-15",
        "principal": "1000.00",
        "fee": "72.00",
        "amount": "1072.00",
    }


def test_quote__with_a_product_from_a_products_file(tmp_path: Path) -> None:
    write_products(tmp_path)
    done = recoup(
        "quote",
        "--principal",
        "1000",
        "--term",
        "3",
        "--product",
        "card",
        "--products",
        str(tmp_path / "products.yaml"),
        "--start",
        "2026-01-31",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    dues = [row["due_date"] for row in json.loads(done.stdout)["schedule"]]
    assert dues == ["2026-02-28", "2026-03-31", "2026-04-30"]


def test_import__a_bad_row_names_file_line_and_column_and_writes_nothing(tmp_path: Path) -> None:
    portfolio = random_portfolio(5, accounts=5, first_day=FIRST_DAY, days=100)
    write_products(tmp_path)
    write_accounts(tmp_path, portfolio)
    write_payments(tmp_path, [(a.account_key, p) for a in portfolio for p in a.payments])
    lines = (tmp_path / "payments.csv").read_text().splitlines()
    fields = lines[2].split(",")
    fields[2] = "12.345"
    lines[2] = ",".join(fields)
    (tmp_path / "payments.csv").write_text("\n".join(lines) + "\n")
    done = recoup("import", str(tmp_path), "--quiet", cwd=tmp_path)
    assert done.returncode != 0
    assert "payments.csv" in done.stderr and "line 3" in done.stderr and "amount" in done.stderr
    shown = recoup("account", "show", "A1", "--as-of", "2025-03-01", "--json", cwd=tmp_path)
    assert shown.returncode != 0 and "no account 'A1'" in shown.stderr


@pytest.fixture(scope="module")
def closed_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:  # type: ignore[type-arg]
    root = tmp_path_factory.mktemp("closed")
    portfolio = random_portfolio(6, accounts=60, first_day=FIRST_DAY, days=300)
    write_products(root)
    write_accounts(root, portfolio)
    write_payments(root, [(a.account_key, p) for a in portfolio for p in a.payments])
    assert recoup("init", cwd=root).returncode == 0
    done = recoup("import", str(root), "--quiet", cwd=root)
    assert done.returncode == 0, done.stderr
    done = recoup("close", "--through", (FIRST_DAY + timedelta(days=300)).isoformat(), cwd=root)
    assert done.returncode == 0, done.stderr
    return root, portfolio


def test_account_show__json_has_the_stable_fields_and_the_oracle_amounts(
    closed_store: tuple[Path, list],  # type: ignore[type-arg]
) -> None:
    root, portfolio = closed_store
    account = max(portfolio, key=lambda a: len(a.plans))
    for as_of in (None, FIRST_DAY + timedelta(days=180)):
        args = ["account", "show", f"A{account.account_key}", "--json"]
        if as_of is not None:
            args += ["--as-of", as_of.isoformat()]
        done = recoup(*args, cwd=root)
        assert done.returncode == 0, done.stderr
        payload = json.loads(done.stdout)
        day = as_of or FIRST_DAY + timedelta(days=300)
        expected = run_oracle(account.plans, account.payments, day)
        assert payload["as_of"] == day.isoformat()
        assert payload["dpd"] == expected.dpd
        assert payload["bucket"] == expected.bucket
        assert set(payload["overdue"]) == {
            "principal",
            "fee",
            "late_fee",
            "penalty_interest",
            "total",
        }
        total = expected.overdue["total"]
        assert payload["overdue"]["total"] == f"{total // 100}.{total % 100:02d}"
        assert {"outstanding_principal", "credit_balance", "next_due_date"} <= set(payload)
        assert [(i["plan_id"], i["period"]) for i in payload["installments"]] == [
            (i.plan_id, i.period) for i in expected.installments
        ]
        for row in payload["installments"]:
            assert {"period", "plan_id", "due_date", "principal", "fee", "paid", "status"} <= set(
                row
            )


def test_account_moves__lists_the_bucket_history(
    closed_store: tuple[Path, list],  # type: ignore[type-arg]
) -> None:
    root, portfolio = closed_store
    expected_by_account = {
        a.account_key: run_oracle(a.plans, a.payments, FIRST_DAY + timedelta(days=300)).moves
        for a in portfolio
    }
    key = max(expected_by_account, key=lambda k: len(expected_by_account[k]))
    done = recoup("account", "moves", f"A{key}", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    moves = json.loads(done.stdout)["moves"]
    assert [(m["moved_on"], m["from_bucket"], m["to_bucket"]) for m in moves] == [
        (m.moved_on.isoformat(), m.from_bucket, m.to_bucket) for m in expected_by_account[key]
    ]
    assert len(moves) > 0


def test_close__twice_on_the_same_day_reports_nothing_to_close(
    closed_store: tuple[Path, list],  # type: ignore[type-arg]
) -> None:
    root, _ = closed_store
    done = recoup("close", "--through", (FIRST_DAY + timedelta(days=300)).isoformat(), cwd=root)
    assert done.returncode == 0
    assert "nothing to close" in done.stdout


def test_close__recompute_in_two_worker_processes_reports_each_partition(
    closed_store: tuple[Path, list],  # type: ignore[type-arg]
) -> None:
    root, _ = closed_store
    done = recoup("close", "--recompute", "--workers", "2", "--partition-accounts", "25", cwd=root)
    assert done.returncode == 0, done.stderr
    lines = sorted(line for line in done.stdout.splitlines() if "recomputed" in line)
    assert len(lines) == 3  # accounts 1..25, 26..50, 51..60
    assert sorted(int(line.split(": ")[2].split(" ")[0]) for line in lines) == [10, 25, 25]
    refused = recoup("close", "--recompute", "--workers", "0", cwd=root)
    assert refused.returncode != 0
    assert "--workers must be at least 1" in refused.stderr
    refused = recoup("close", "--recompute", "--partition-accounts", "0", cwd=root)
    assert refused.returncode == 2
    assert "--partition-accounts must be at least 1" in refused.stderr


def test_close__on_spark_from_the_command_line_stores_the_local_ledger(
    closed_store: tuple[Path, list],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    """`recoup close --engine spark` (a first close, then an incremental one) and
    `--engine spark --recompute` leave the ledger the local engine left."""
    local_root, portfolio = closed_store
    write_products(tmp_path)
    write_accounts(tmp_path, portfolio)
    write_payments(tmp_path, [(a.account_key, p) for a in portfolio for p in a.payments])
    assert recoup("import", str(tmp_path), "--quiet", cwd=tmp_path).returncode == 0
    last_day = FIRST_DAY + timedelta(days=300)
    spark = ("--engine", "spark", "--spark-partitions", "3")
    for through in (last_day - timedelta(days=30), last_day):
        done = recoup("close", *spark, "--through", through.isoformat(), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f".. {through}:" in done.stdout

    local = stored_ledger(open_store(f"sqlite:///{local_root / 'recoup.db'}"))

    def assert_same_ledger() -> None:
        on_spark = stored_ledger(open_store(f"sqlite:///{tmp_path / 'recoup.db'}"))
        assert on_spark[0] == local[0]
        for mine, theirs, order in (
            (on_spark[1], local[1], ("plan_id", "period")),
            (on_spark[2], local[2], ("account_id", "moved_on")),
        ):
            assert mine.sort(order).equals(theirs.sort(order))

    assert_same_ledger()
    done = recoup("close", *spark, "--recompute", "--partition-accounts", "25", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len([line for line in done.stdout.splitlines() if "recomputed" in line]) == 3
    assert_same_ledger()


def test_close__refused_arguments_create_no_store(tmp_path: Path) -> None:
    refusals = [
        (("--through", "2026-11-28", "--workers", "0"), "--workers must be at least 1"),
        (("--recompute", "--partition-accounts", "0"), "--partition-accounts must be at least 1"),
        (("--recompute", "--through", "2026-11-28"), "drop --through"),
        ((), "give --through DATE"),
        (
            ("--through", "2026-11-28", "--engine", "spark", "--spark-partitions", "0"),
            "--spark-partitions must be at least 1",
        ),
    ]
    for arguments, message in refusals:
        refused = recoup("close", *arguments, cwd=tmp_path)
        assert refused.returncode == 2, (arguments, refused.stderr)
        assert message in refused.stderr
    assert not (tmp_path / "recoup.db").exists()


def test_close__on_spark_without_pyspark_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if the spark extra were missing
    monkeypatch.setenv("RECOUP_DATABASE_URL", f"sqlite:///{tmp_path / 'recoup.db'}")
    assert main(["close", "--engine", "spark", "--through", "2026-11-28"]) == 2
    error = capsys.readouterr().err
    assert "needs PySpark" in error and "pip install -e '.[spark]'" in error
    assert not (tmp_path / "recoup.db").exists()


def test_close__on_spark_that_cannot_start_is_one_line_and_leaves_no_store(
    tmp_path: Path,
) -> None:
    env = dict(
        os.environ,
        JAVA_HOME=str(tmp_path / "no-java"),
        RECOUP_DATABASE_URL=f"sqlite:///{tmp_path / 'recoup.db'}",
    )
    command = ["close", "--engine", "spark", "--through", "2026-11-28"]
    done = subprocess.run(
        [sys.executable, "-m", "recoup.cli.main", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Spark did not start" in done.stderr and "Java 17" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "recoup.db").exists()


def test_close__help_gives_the_default_partition_the_close_uses(tmp_path: Path) -> None:
    from recoup.close import PARTITION_ACCOUNTS

    done = recoup("close", "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert f"default {PARTITION_ACCOUNTS:,}" in " ".join(done.stdout.split())


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite:///{tmp}/no-such-folder/recoup.db", "unable to open database file"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/test", "Connection refused"),
    ],
    ids=["sqlite-file-cannot-be-opened", "postgresql-server-unreachable"],
)
def test_cli__a_database_failure_is_one_line_with_its_reason_not_a_traceback(
    tmp_path: Path, url: str, reason: str
) -> None:
    env = dict(os.environ, RECOUP_DATABASE_URL=url.format(tmp=tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "recoup.cli.main", "close", "--through", "2026-01-31"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("recoup close: error: the database failed (")
    assert reason in lines[0]


def test_demo__runs_the_whole_cycle_on_a_small_book(tmp_path: Path) -> None:
    done = recoup(
        "demo", "--accounts", "3000", "--out", str(tmp_path / "demo"), "--as-of", "2026-03-18",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for part in (
        "closed through 2026-03-18",
        "roll rates",
        "scoring run",
        "strategy run",
        "contact gate:",
        "allocation run",
        "outbox: queued",
    ):
        assert part in out, part
    assert (tmp_path / "demo" / "recoup.db").exists()

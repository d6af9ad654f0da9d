"""``recoup report`` as a user runs it: a small store closed, collected for two days, reported."""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from recoup.analytics.report import SECTIONS
from recoup.simulator import simulate_portfolio, write_portfolio
from tests.e2e.test_cli import recoup

AS_OF = date(2026, 3, 18)  # a Wednesday: the shipped teams work
FIRST = date(2026, 3, 16)
RANGE = ("--from", "2025-12-19", "--to", AS_OF.isoformat())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 simulated accounts closed to the 16th; strategy and allocation on the 16th and the
    18th (which credits the payments between to the cases' owners); a call and a promise
    recorded by a collector, and a complaint about the call."""
    root = tmp_path_factory.mktemp("report")
    write_portfolio(simulate_portfolio(600, 5, AS_OF), root / "files")
    assert recoup("import", str(root / "files"), "--quiet", cwd=root).returncode == 0
    for day in (FIRST.isoformat(), AS_OF.isoformat()):
        for step in (("close", "--through", day), ("strategy", "run", "--as-of", day)):
            done = recoup(*step, cwd=root)
            assert done.returncode == 0, done.stderr
        done = recoup("allocate", "--as-of", day, cwd=root)
        assert done.returncode == 0, done.stderr

    with sqlite3.connect(root / "recoup.db") as db:
        account, owner, phone = db.execute(
            "SELECT a.account_id, c.owner, p.value FROM cases c"
            " JOIN accounts a ON a.account_key = c.account_key"
            " JOIN contact_points p ON p.borrower_key = a.borrower_key AND p.kind = 'phone'"
            " WHERE c.status = 'open' AND c.owner_kind = 'collector'"
            " ORDER BY c.case_key LIMIT 1"
        ).fetchone()
    done = recoup(
        *("contact", "record", account, "--channel", "call", "--to", phone),
        *("--at", f"{AS_OF}T10:00:00+08:00", "--outcome", "right_party_contact"),
        *("--collector", owner),
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    done = recoup(
        *("promise", "add", account, "--amount", "100.00", "--date", "2026-03-25"),
        *("--by", owner),
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    done = recoup(
        *("complaint", "add", account, "--category", "contact_pressure", "--channel", "call"),
        *("--at", f"{AS_OF}T10:30:00+08:00", "--description", "too many calls"),
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    return root


def test_report__writes_one_self_contained_page_with_every_section(store: Path) -> None:
    done = recoup("report", *RANGE, "--out", "report.html", cwd=store)

    assert done.returncode == 0, done.stderr
    assert "report.html" in done.stdout
    page = (store / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page
    for section in SECTIONS:
        assert f'id="{section}"' in page, section
    assert "roll rate" in page  # the commentary
    assert "<svg" in page
    assert "right_party" not in page  # column names are translated, not shown raw


def test_report__in_chinese(store: Path) -> None:
    done = recoup("report", *RANGE, "--out", "zh.html", "--lang", "zh-CN", cwd=store)

    assert done.returncode == 0, done.stderr
    page = (store / "zh.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "迁徙率矩阵" in page


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_report__tables_writes_one_file_per_table(store: Path, file_format: str) -> None:
    tables = store / f"tables-{file_format}"
    done = recoup(
        *("report", *RANGE, "--out", "t.html", "--tables", str(tables)),
        *("--format", file_format),
        cwd=store,
    )

    assert done.returncode == 0, done.stderr
    names = sorted(path.name for path in tables.iterdir())
    assert names == sorted(
        f"{name}.{file_format}"
        for name in (
            "roll_rates_count",
            "roll_rates_balance",
            "flow_rates",
            "cure_rates",
            "recovery_curves",
            "vintage_curves",
            "promise_kept",
            "contact_rates",
            "cost_per_channel",
            "collectors",
            "agencies",
            "compliance_blocks",
            "complaints_by_category",
            "complaints_by_channel",
            "complaints_by_owner",
        )
    )
    if file_format == "csv":
        collectors = (tables / "collectors.csv").read_text(encoding="utf-8").splitlines()
        assert collectors[0].startswith("owner,amount_credited_cents,cases_worked")
        assert len(collectors) > 1
        contacts = (tables / "cost_per_channel.csv").read_text(encoding="utf-8")
        assert "call,1,250,250" in contacts
        complaints = (tables / "complaints_by_category.csv").read_text(encoding="utf-8")
        assert complaints.splitlines()[:2] == [
            "category,complaints,open,resolved,complaints_per_1000_contacts",
            "contact_pressure,1,1,0,1000.0",  # the one complaint over the one call
        ]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--from", "2026-03-18", "--to", "2026-03-01", "--out", "x.html"), "--from"),
        ((*RANGE, "--out", "x.html", "--lang", "fr"), "--lang"),
        ((*RANGE, "--out", "missing/x.html"), "--out"),
        ((*RANGE, "--out", "."), "--out"),
        ((*RANGE, "--out", "x.html", "--format", "xlsx"), "--format"),
    ],
)
def test_report__bad_input_is_refused_naming_the_option(
    store: Path, args: tuple[str, ...], option: str
) -> None:
    done = recoup("report", *args, cwd=store)

    assert done.returncode == 2
    assert f"recoup report: error: {option}" in done.stderr
    assert not (store / "x.html").exists()

"""``recoup demo`` ends with the report of the simulated portfolio's last 90 days."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli import recoup


def test_demo__ends_with_the_report_of_the_last_90_days(tmp_path: Path) -> None:
    done = recoup(
        "demo", "--accounts", "3000", "--out", str(tmp_path / "demo"), "--as-of", "2026-03-18",
        cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    report = tmp_path / "demo" / "report.html"
    assert "report of 2025-12-19 to 2026-03-18" in done.stdout
    assert report.resolve().as_uri() in done.stdout
    page = report.read_text(encoding="utf-8")
    assert 'id="roll-rates"' in page
    assert "Roll-rate matrices" in page
    assert "https://" not in page and "http://" not in page

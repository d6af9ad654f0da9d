"""The contact commands as compliance officers, auditors and collectors run them:
``policy check`` and ``content check`` (stable JSON interfaces), ``templates check``, and a
day from the strategy run to the outbox with outcomes recorded in between."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from recoup.simulator import simulate_portfolio, write_portfolio
from tests.e2e.test_cli import recoup
from tests.e2e.test_collection_cli import AS_OF


def _check(tmp_path: Path, document: Any, *options: str) -> Any:
    path = tmp_path / "contact.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    done = recoup("policy", "check", *options, str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _call(at: str, to: str = "+8613812345678") -> dict[str, Any]:
    return {"channel": "call", "at": at, "party": "self", "to": to}


def test_policy_check__a_call_at_2200_in_china_waits_for_0800_and_2159_goes(
    tmp_path: Path,
) -> None:
    late = _check(
        tmp_path,
        {"action": _call("2026-03-02T22:00:00+08:00"), "borrower": {}, "history": []},
        "--profile",
        "cn",
    )
    assert late["allowed"] is False
    assert [v["rule"] for v in late["violations"]] == ["CN-HOURS"]
    assert late["violations"][0]["message"]
    assert late["next_allowed_at"] == "2026-03-03T08:00:00+08:00"

    in_time = _check(tmp_path, {"action": _call("2026-03-02T21:59:00+08:00")})  # cn: default
    assert in_time == {
        "allowed": True,
        "violations": [],
        "next_allowed_at": "2026-03-02T21:59:00+08:00",
    }


def test_policy_check__the_us_profile_blocks_the_eighth_call_in_seven_days(
    tmp_path: Path,
) -> None:
    first = datetime.fromisoformat("2026-03-10T10:00:00-04:00")
    history = [
        {
            "channel": "call",
            "at": (first + timedelta(days=n)).isoformat(),
            "to": "+12125550123",
            "party": "self",
            "outcome": "no_answer",
        }
        for n in range(7)
    ]
    eighth = _check(
        tmp_path,
        {
            "action": _call("2026-03-16T15:00:00-04:00", "+12125550123"),
            "borrower": {"timezone": "America/New_York", "flags": []},
            "history": history,
        },
        "--profile",
        "us",
    )
    assert eighth["allowed"] is False
    assert [v["rule"] for v in eighth["violations"]] == ["US-7IN7"]
    # The 10 March attempt leaves the 7-day window on 17 March.
    assert eighth["next_allowed_at"] == "2026-03-17T08:00:00-04:00"


def test_policy_check__a_bad_file_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"action": _call("2026-03-02T21:59")}), encoding="utf-8")
    done = recoup("policy", "check", "--profile", "uk", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert "action.at" in done.stderr and "offset" in done.stderr

    path.write_text('{"action": {"channel": "call",\n "at": }', encoding="utf-8")
    done = recoup("policy", "check", str(path), cwd=tmp_path)
    assert done.returncode == 2 and "line 2" in done.stderr and "not JSON" in done.stderr

    done = recoup("policy", "check", "--profile", "fr", str(path), cwd=tmp_path)
    assert done.returncode == 2 and "'fr'" in done.stderr


def test_policy_show__prints_every_rule_with_its_source(tmp_path: Path) -> None:
    done = recoup("policy", "show", "--profile", "uk", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for rule in ("UK-CONTACT", "UK-VULN", "UK-BREATHING", "UK-DISPUTE", "UK-FORBEAR"):
        assert rule in done.stdout
    assert "SI 2020/1311" in done.stdout


def _content(tmp_path: Path, text: str, lang: str) -> Any:
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    done = recoup("content", "check", "--lang", lang, str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_content_check__a_plain_reminder_passes_and_a_disguised_threat_does_not(
    tmp_path: Path,
) -> None:
    assert _content(tmp_path, "您的账单已逾期，请尽快还款", "zh") == {"ok": True, "violations": []}
    threat = _content(tmp_path, "再不还钱就让你坐 . 牢", "zh")
    assert threat["ok"] is False
    assert threat["violations"][0]["rule"] == "CN-CONDUCT"
    assert threat["violations"][0]["term"] and threat["violations"][0]["message"]

    assert _content(tmp_path, "Your payment is 5 days overdue.", "en")["ok"] is True
    police = _content(tmp_path, "This is the p0lice: pay now or go to jаil", "en")  # Cyrillic а
    assert police["ok"] is False and len(police["violations"]) >= 1


def test_templates_check__every_shipped_template_passes_the_content_rules(tmp_path: Path) -> None:
    done = recoup("templates", "check", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    passed, _, total = done.stdout.strip().splitlines()[-1].split()[:3]
    assert passed == total and int(total) >= 50


def test_contact_commands__record_outcomes_then_the_gate_and_the_outbox_follow(
    tmp_path: Path,
) -> None:
    write_portfolio(simulate_portfolio(400, 5, AS_OF), tmp_path / "files")
    assert recoup("import", str(tmp_path / "files"), "--quiet", cwd=tmp_path).returncode == 0
    day = AS_OF.isoformat()
    assert recoup("close", "--through", day, cwd=tmp_path).returncode == 0
    run = recoup("strategy", "run", "--as-of", day, "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    gate = json.loads(run.stdout)["gate"]
    assert sum(gate["statuses"].values()) == sum(json.loads(run.stdout)["actions"].values())
    assert gate["statuses"].get("allowed", 0) > 0

    account = _an_account_with_a_case(tmp_path)
    history = json.loads(recoup("contact", "history", account, "--json", cwd=tmp_path).stdout)
    phone = next(p["value"] for p in history["points"] if p["kind"] == "phone")
    for minute in range(6):
        done = recoup(
            "contact",
            "record",
            account,
            "--channel",
            "call",
            "--to",
            phone,
            "--at",
            f"{day}T09:{minute:02d}:00+08:00",
            "--outcome",
            "no_answer",
            "--collector",
            "c-wang",
            "--note",
            "无人接听",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
    checked = recoup(
        "contact", "check", account, "--channel", "call", "--at", f"{day}T15:00:00+08:00",
        cwd=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    decision = json.loads(checked.stdout)
    assert decision["allowed"] is False and decision["to"] == phone
    assert [v["rule"] for v in decision["violations"]] == ["CN-ATTEMPTS"]

    queued = recoup("outbox", "queue", "--as-of", day, cwd=tmp_path)
    assert queued.returncode == 0, queued.stderr
    assert "queued" in queued.stdout and "not rendered" not in queued.stdout
    status = json.loads(recoup("outbox", "status", "--json", cwd=tmp_path).stdout)
    assert sum(status.get("sms", {}).values()) + sum(status.get("call", {}).values()) > 0

    inspected = recoup("content", "inspect", "--json", cwd=tmp_path)
    assert inspected.returncode == 0, inspected.stderr
    collectors = json.loads(inspected.stdout)["collectors"]
    assert collectors == [{"collector": "c-wang", "notes": 6, "flagged": 0, "score": 100.0}]


def _an_account_with_a_case(tmp_path: Path) -> str:
    import sqlite3

    with sqlite3.connect(tmp_path / "recoup.db") as db:
        row = db.execute(
            "SELECT a.account_id FROM cases c JOIN accounts a USING (account_key) "
            "WHERE c.status = 'open' ORDER BY a.account_id LIMIT 1"
        ).fetchone()
    assert row is not None
    return str(row[0])

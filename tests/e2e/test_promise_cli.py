"""Promises to pay as a user records and reads them: a promise in installments taken on a
call, judged by the daily strategy run on the payments made, listed per account and per
collector; a store made before installments keeps its promises as one installment each."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from recoup.store import tables as t
from recoup.store.engine import create_store_engine, migrate_schema
from tests.differential.portfolio import RandomAccount
from tests.e2e.test_cli import recoup
from tests.integration.portfolio_files import write_accounts, write_payments, write_products
from tests.integration.test_collection import FIRST_DUE, _plan
from tests.oracle import OraclePayment

DAY = FIRST_DUE + timedelta(days=5)  # A1 and A3 are past due, with open cases


def _day(offset: int) -> str:
    return (DAY + timedelta(days=offset)).isoformat()


def _book(tmp_path: Path) -> None:
    """A1 and A3 never pay their plan; A3 pays 120.00 two days after DAY and 80.00 a week
    after it (the payments are in the files from the start, and count once closed)."""
    files = tmp_path / "book"
    files.mkdir()
    accounts = [
        RandomAccount(1, [_plan(1)], []),
        RandomAccount(
            3,
            [_plan(3)],
            [
                OraclePayment("Y3-1", 12_000, DAY + timedelta(days=2)),
                OraclePayment("Y3-2", 8_000, DAY + timedelta(days=7)),
            ],
        ),
    ]
    write_products(files)
    write_accounts(files, accounts)
    write_payments(files, [(a.account_key, p) for a in accounts for p in a.payments])
    assert recoup("import", str(files), "--quiet", cwd=tmp_path).returncode == 0
    assert recoup("close", "--through", DAY.isoformat(), cwd=tmp_path).returncode == 0
    run = recoup("strategy", "run", "--as-of", DAY.isoformat(), cwd=tmp_path)
    assert run.returncode == 0, run.stderr


def test_promise_cli__installments_are_recorded_judged_and_listed(tmp_path: Path) -> None:
    _book(tmp_path)
    two = recoup(
        "promise",
        "add",
        "A3",
        *("--amount", "100.00", "--date", _day(3)),
        *("--amount", "100.00", "--date", _day(7)),
        *("--grace", "1", "--channel", "call", "--by", "c-li"),
        cwd=tmp_path,
    )
    assert two.returncode == 0, two.stderr
    case = two.stdout.split()[4].rstrip(":")
    assert two.stdout.splitlines() == [
        f"promise recorded on case {case}: 200.00 in 2 installments",
        f"   1.       100.00 by {_day(3)}",
        f"   2.       100.00 by {_day(7)}",
    ]
    # The one-amount form prints what it always printed.
    one = recoup("promise", "add", "A1", "--amount", "50.00", "--date", _day(2), cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith("promise recorded on case ")
    assert one.stdout.rstrip().endswith(f": 50.00 by {_day(2)}")

    # Closed through a week and a half later and run once: the late run judges as daily
    # runs would have. A3 paid 120.00 by the first date (20.00 counts towards the second)
    # and 80.00 on the second date: both kept. A1 paid nothing: broken after its grace day.
    assert recoup("close", "--through", _day(9), cwd=tmp_path).returncode == 0
    run = recoup("strategy", "run", "--as-of", _day(9), "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["promises"] == {"broken": 1, "kept": 1}

    listed = recoup("promise", "list", "A3", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [promise] = json.loads(listed.stdout)
    assert (promise["amount_cents"], promise["promised_for"], promise["channel"]) == (
        20_000,
        _day(7),
        "call",
    )
    assert (promise["status"], promise["resolved_on"], promise["paid_cents"]) == (
        "kept",
        _day(7),
        20_000,
    )
    assert [
        (p["number"], p["due_on"], p["amount_cents"], p["paid_cents"], p["status"])
        for p in promise["installments"]
    ] == [(1, _day(3), 10_000, 10_000, "kept"), (2, _day(7), 10_000, 10_000, "kept")]
    assert [p["resolved_on"] for p in promise["installments"]] == [_day(2), _day(7)]

    text = recoup("promise", "list", "A3", cwd=tmp_path).stdout.splitlines()
    assert text[0].startswith(f"A3           made {DAY} for {_day(7)}")
    assert text[0].split()[-2:] == ["kept", "c-li"]
    assert text[1].split() == [
        "1.",
        "by",
        _day(3),
        "100.00",
        "paid",
        "100.00",
        "kept",
        "on",
        _day(2),
    ]
    assert text[2].split() == [
        "2.",
        "by",
        _day(7),
        "100.00",
        "paid",
        "100.00",
        "kept",
        "on",
        _day(7),
    ]
    assert text[3:] == [
        "kept 1 of 1 judged promises (100%)",
        "  c-li: kept 1 of 1 judged promises (100%)",
    ]

    # A1's promise of one amount: no installment lines beneath it; broken the day after
    # its date plus one day of grace.
    [a1] = json.loads(recoup("promise", "list", "A1", "--json", cwd=tmp_path).stdout)
    assert (a1["status"], a1["resolved_on"], a1["channel"], a1["made_by"]) == (
        "broken",
        _day(4),
        None,
        None,
    )
    assert [(p["number"], p["status"]) for p in a1["installments"]] == [(1, "broken")]
    a1_text = recoup("promise", "list", "A1", cwd=tmp_path).stdout.splitlines()
    assert len(a1_text) == 2 and a1_text[1] == "kept 0 of 1 judged promises (0%)"

    by = recoup("promise", "list", "--by", "c-li", cwd=tmp_path)
    assert by.returncode == 0, by.stderr
    assert by.stdout.splitlines()[-1] == "kept 1 of 1 judged promises (100%)"

    # The case history says what became of each installment.
    trace = json.loads(recoup("strategy", "trace", "A3", "--json", cwd=tmp_path).stdout)
    kinds = [e["kind"] for e in trace["events"]]
    assert kinds.count("installment_kept") == 2 and "promise_kept" in kinds
    made = next(e for e in trace["events"] if e["kind"] == "promise_made")
    assert made["detail"] == (
        f"promise to pay 200.00 in 2 installments: 100.00 by {_day(3)}, 100.00 by {_day(7)} "
        "(call) (taken by c-li)"
    )


def test_promise_cli__a_bad_promise_is_refused_and_names_the_problem(tmp_path: Path) -> None:
    _book(tmp_path)

    def refused(*args: str) -> str:
        done = recoup("promise", "add", "A3", *args, cwd=tmp_path)
        assert done.returncode == 2, done.stdout
        return done.stderr

    assert "one --date for each --amount" in refused(
        "--amount", "100.00", "--date", _day(3), "--amount", "100.00"
    )
    assert "installment 2: a promise's amount must be positive, not 0.00" in refused(
        "--amount", "100.00", "--date", _day(3), "--amount", "0", "--date", _day(7)
    )
    assert "installment 2: " + _day(3) + " is not after installment 1" in refused(
        "--amount", "100.00", "--date", _day(3), "--amount", "100.00", "--date", _day(3)
    )
    assert "installment 1: a promise for " + _day(-1) + " is before it was made" in refused(
        "--amount", "100.00", "--date", _day(-1), "--amount", "100.00", "--date", _day(3)
    )
    thirteen = [x for n in range(13) for x in ("--amount", "10.00", "--date", _day(n + 1))]
    assert "at most 12 installments, not 13" in refused(*thirteen)
    assert "invalid choice: 'fax'" in refused(
        "--amount", "100.00", "--date", _day(3), "--channel", "fax"
    )
    # The one-amount form refuses as it always did.
    assert "--amount: must be positive" in refused("--amount", "0", "--date", _day(3))
    assert "is before the promise was made" in refused("--amount", "1.00", "--date", _day(-1))
    listed = recoup("promise", "list", "A3", cwd=tmp_path)
    assert listed.stdout.strip() == "no promises"


def test_promise_cli__a_store_made_before_installments_keeps_its_promises(
    tmp_path: Path,
) -> None:
    """A store at revision 0008 with a kept promise: the next command upgrades it, and the
    promise is one installment of its amount by its date, with what was paid towards it."""
    database = tmp_path / "recoup.db"
    engine = create_store_engine(f"sqlite:///{database}")
    opened, made, due = date(2026, 1, 5), date(2026, 2, 1), date(2026, 2, 5)
    migrate_schema(engine, "0008")
    with engine.begin() as conn:
        conn.execute(t.borrowers.insert().values(borrower_key=1, borrower_id="B1", name="Li"))
        conn.execute(
            t.accounts.insert().values(
                account_key=1, account_id="A1", borrower_key=1, currency="CNY", opened_on=opened
            )
        )
        conn.execute(
            t.cases.insert().values(
                case_key=1,
                account_key=1,
                opened_on=opened,
                opened_because="delinquent",
                status="open",
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO promises (case_key, account_key, made_on, promised_for, "
                "amount_cents, grace_days, made_by, status, paid_cents, resolved_on) "
                "VALUES (1, 1, :made, :due, 50000, 1, 'c-li', 'kept', 60000, :due)"
            ),
            {"made": made, "due": due},
        )
    engine.dispose()

    listed = recoup("promise", "list", "A1", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [promise] = json.loads(listed.stdout)
    assert (promise["status"], promise["paid_cents"], promise["channel"]) == ("kept", 60_000, None)
    assert promise["installments"] == [
        {
            "number": 1,
            "due_on": due.isoformat(),
            "amount_cents": 50_000,
            "paid_cents": 50_000,
            "status": "kept",
            "resolved_on": due.isoformat(),
        }
    ]
    text = recoup("promise", "list", "A1", cwd=tmp_path).stdout.splitlines()
    assert text == [
        f"A1           made {made} for {due}       500.00 paid       600.00 kept         c-li",
        "kept 1 of 1 judged promises (100%)",
        "  c-li: kept 1 of 1 judged promises (100%)",
    ]

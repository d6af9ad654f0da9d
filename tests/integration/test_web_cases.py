"""Cases through the workbench, on a real store (SQLite and PostgreSQL): the case list and its
filters, one case with its history, a team lead's reassignment (and that the next allocation
run keeps it), every endpoint's access by role, and the team page's allocation section."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from recoup.allocation import default_teams_path, load_teams
from recoup.close import close_through
from recoup.collection.allocation_run import run_allocation
from recoup.collection.daily import run_daily_strategy
from recoup.collection.reassignment import REASSIGNED
from recoup.money import format_cents
from recoup.store import tables as t
from recoup.strategy import load_default_strategy
from recoup.web.users import add_user, issue_token
from tests.integration.test_collection import book  # noqa: F401
from tests.integration.test_web_api import DAY, PASSWORD, _audit, _login, workbench  # noqa: F401
from tests.integration.test_web_api_more import (  # noqa: F401
    DAYTIME,
    OPEN_DAY,
    ROLES,
    USERS,
    crew,
)

Crew = tuple[TestClient, sa.Engine, dict[str, dict[str, str]]]
ALL = set(ROLES)
LEADS = {"team_lead", "admin"}


def _case_of(engine: sa.Engine, account_id: str) -> int:
    c, a = t.cases, t.accounts
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(c.c.case_key)
                .join(a, a.c.account_key == c.c.account_key)
                .where(a.c.account_id == account_id)
            ).scalar_one()
        )


def _owner(engine: sa.Engine, case_key: int) -> tuple[Any, ...]:
    c = t.cases
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(c.c.owner, c.c.owner_kind, c.c.team, c.c.owned_since).where(
                c.c.case_key == case_key
            )
        ).one()
    return tuple(row)


def _events(engine: sa.Engine, case_key: int, kind: str) -> list[str]:
    ev = t.case_events
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(ev.c.detail)
                .where(ev.c.case_key == case_key, ev.c.kind == kind)
                .order_by(ev.c.event_key)
            ).scalars()
        )


def _decisions(engine: sa.Engine, case_key: int) -> list[tuple[Any, ...]]:
    """The case's ownership decisions in order: day, owner, decision, owner before, who."""
    al = t.allocations
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(
                    al.c.as_of, al.c.owner, al.c.decision, al.c.previous_owner, al.c.decided_by
                )
                .where(al.c.case_key == case_key)
                .order_by(al.c.as_of, al.c.seq)
            )
        ]


def _credits(engine: sa.Engine) -> list[tuple[Any, ...]]:
    pc = t.payment_credits
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(pc.c.owner, pc.c.amount_cents, pc.c.credited_on).order_by(
                    pc.c.payment_key
                )
            )
        ]


# --------------------------------------------------------------------------- access by role


def test_cases__every_endpoint_lets_in_exactly_the_roles_that_may_use_it(crew: Crew) -> None:  # noqa: F811
    client, engine, headers = crew
    cases = {account: _case_of(engine, account) for account in ("A1", "A3")}
    owners = {account: _owner(engine, key)[0] for account, key in cases.items()}
    endpoints: list[tuple[str, str, Any, set[str]]] = [
        ("GET", "/api/v1/cases", None, ALL),
        ("GET", "/api/v1/cases/{c}", None, ALL),
        # to the owner the case has: allowed roles change nothing, so the matrix stays put
        ("POST", "/api/v1/cases/{c}/assignment", lambda a: {"owner": owners[a]}, LEADS),
    ]
    for method, path, body, allowed in endpoints:
        for role in ROLES:
            account = USERS[role][1]
            url = path.format(c=cases[account])
            payload = body(account) if callable(body) else body
            response = client.request(method, url, json=payload, headers=headers[role])
            where = f"{role} {method} {url}: {response.status_code} {response.text[:200]}"
            if role in allowed:
                assert response.status_code == 200, where
            else:
                assert response.status_code == 403, where
                assert response.json()["error"]["code"] == "forbidden", where
        anonymous = client.request(method, path.format(c=cases["A1"]), json={"owner": "C002"})
        assert anonymous.status_code == 401, f"{method} {path}"
    assert _audit(engine, "case.reassign") == []  # nothing changed hands


def test_cases__a_collector_reads_only_their_own_cases_and_refusals_are_logged(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    a1, a3 = _case_of(engine, "A1"), _case_of(engine, "A3")
    wang, agent = headers["collector"], headers["agency_collector"]

    mine = client.get("/api/v1/cases", headers=wang).json()
    assert [c["account_id"] for c in mine["cases"]] == ["A1"] and mine["total"] == 1
    placed = client.get("/api/v1/cases", headers=agent).json()
    assert [c["account_id"] for c in placed["cases"]] == ["A3"]
    assert client.get("/api/v1/cases?status=all", headers=wang).json()["total"] == 1
    nobody = client.get("/api/v1/cases", headers=_login(client, "other")).json()
    assert (nobody["total"], nobody["cases"]) == (0, [])
    own = client.get("/api/v1/cases?owner=C002", headers=wang)
    assert own.status_code == 200 and own.json()["total"] == 1

    before = len(_audit(engine, "access.refused"))
    theirs = client.get("/api/v1/cases?owner=AG1", headers=wang)
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (403, "forbidden")
    assert client.get(f"/api/v1/cases/{a3}", headers=wang).status_code == 403
    assert client.get(f"/api/v1/cases/{a1}", headers=agent).status_code == 403
    assert client.get(f"/api/v1/cases/{a3}", headers=agent).status_code == 200
    refusals = _audit(engine, "access.refused")[before:]
    assert [(r["actor"], r["target"]) for r in refusals] == [
        ("wang", "cases:owner=AG1"),
        ("wang", f"case:{a3}"),
        ("agent", f"case:{a1}"),
    ]
    missing = client.get("/api/v1/cases/999999", headers=headers["team_lead"])
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


# --------------------------------------------------------------------------- the list


def test_cases__the_list_filters_pages_in_a_stable_order_and_shows_the_case_state(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    lead = headers["team_lead"]
    a1, a3 = _case_of(engine, "A1"), _case_of(engine, "A3")
    a = t.accounts
    with engine.connect() as conn:
        overdue = conn.execute(
            sa.select(a.c.overdue_cents).where(a.c.account_id == "A1")
        ).scalar_one()

    everything = client.get("/api/v1/cases", headers=lead).json()
    assert everything["as_of"] == DAY.isoformat()
    assert [c["case_id"] for c in everything["cases"]] == sorted([a1, a3])
    first = next(c for c in everything["cases"] if c["case_id"] == a1)
    assert {k: first[k] for k in ("account_id", "status", "bucket", "dpd", "owner")} == {
        "account_id": "A1",
        "status": "open",
        "bucket": "M1",
        "dpd": 3,
        "owner": "C002",
    }
    assert (first["owner_kind"], first["team"], first["overdue"]) == (
        "collector",
        "T-EARLY",
        format_cents(overdue),
    )
    assert first["closed_on"] is None and first["opened_on"] <= DAY.isoformat()
    assert first["next_action"]["on"] >= DAY.isoformat() and first["next_action"]["channel"]

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v1/cases?{query}", headers=lead)
        assert response.status_code == 200, response.text
        return [c["account_id"] for c in response.json()["cases"]]

    assert ids("owner=C002") == ["A1"]
    assert ids("owner_kind=agency") == ["A3"]
    assert ids("owner_kind=collector") == ["A1"]
    assert ids("owner_kind=none") == []
    assert ids("bucket=M1") == ["A1", "A3"]
    assert ids("bucket=M2") == []
    assert ids("status=closed") == []

    pages = [client.get(f"/api/v1/cases?limit=1&page={n}", headers=lead).json() for n in (1, 2, 3)]
    assert [p["total"] for p in pages] == [2, 2, 2]
    assert [[c["case_id"] for c in p["cases"]] for p in pages] == [[min(a1, a3)], [max(a1, a3)], []]

    c = t.cases
    with engine.begin() as conn:  # a closed case leaves the default list and joins status=closed
        conn.execute(
            c.update()
            .where(c.c.case_key == a3)
            .values(status="closed", closed_on=DAY, closed_because="cured")
        )
    assert ids("") == ["A1"]
    closed = client.get("/api/v1/cases?status=closed", headers=lead).json()["cases"]
    assert [(x["account_id"], x["closed_because"]) for x in closed] == [("A3", "cured")]
    assert ids("status=all") == ["A1", "A3"]
    for bad in ("limit=0", "page=0", "status=pending", "owner_kind=robot", "limit=501"):
        response = client.get(f"/api/v1/cases?{bad}", headers=lead)
        assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")


# --------------------------------------------------------------------------- one case


def test_cases__one_case_carries_its_allocations_actions_contacts_promises_and_events(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    wang = headers["collector"]
    a1 = _case_of(engine, "A1")
    promised = client.post(
        "/api/v1/accounts/A1/promises",
        json={"amount": "10.00", "promised_for": (OPEN_DAY + timedelta(days=3)).isoformat()},
        headers=wang,
    )
    assert promised.status_code == 201, promised.text
    contact = client.post(
        "/api/v1/accounts/A1/contacts",
        json={"channel": "call", "at": DAYTIME.isoformat(), "outcome": "no_answer"},
        headers=wang,
    )
    assert contact.status_code == 201, contact.text
    other = client.post(  # on A3's case: not in A1's history
        "/api/v1/accounts/A3/promises",
        json={"amount": "20.00", "promised_for": (OPEN_DAY + timedelta(days=3)).isoformat()},
        headers=headers["agency_collector"],
    )
    assert other.status_code == 201, other.text

    detail = client.get(f"/api/v1/cases/{a1}", headers=wang)
    assert detail.status_code == 200, detail.text
    case = detail.json()
    assert (case["case_id"], case["account_id"], case["owner"]) == (a1, "A1", "C002")
    assert [(x["as_of"], x["decision"], x["owner"]) for x in case["allocations"]] == [
        (DAY.isoformat(), "assigned", "C002")
    ]
    assert "assigned to C002" in case["allocations"][0]["reason"]
    assert case["actions"] and all(x["planned_for"] <= DAY.isoformat() for x in case["actions"])
    assert [(p["amount"], p["status"]) for p in case["promises"]] == [("10.00", "open")]
    [attempt] = case["contacts"]
    assert (attempt["outcome"], attempt["collector"]) == ("no_answer", "C002")
    assert "****" in attempt["to"]  # masked
    kinds = [e["kind"] for e in case["events"]]
    assert "promise_made" in kinds
    assert case["dispute"] is False and case["last_progress_on"] == OPEN_DAY.isoformat()


# --------------------------------------------------------------------------- reassignment


def test_cases__a_team_lead_reassigns_a_case_once_audited_and_the_case_follows(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    lead = headers["team_lead"]
    a1 = _case_of(engine, "A1")
    body = {"owner": "C008", "reason": "speaks Tibetan", "from_owner": "C002"}
    moved = client.post(f"/api/v1/cases/{a1}/assignment", json=body, headers=lead)
    assert moved.status_code == 200, moved.text
    answer = moved.json()
    assert answer["changed"] is True and answer["decision"] == "assigned"
    assert (answer["previous_owner"], answer["previous_owner_kind"]) == ("C002", "collector")
    assert answer["effective_on"] == OPEN_DAY.isoformat()
    assert answer["reason"] == "assigned to C008 (team T-MID), was with C002"
    assert (answer["case"]["owner"], answer["case"]["team"]) == ("C008", "T-MID")
    assert _owner(engine, a1) == ("C008", "collector", "T-MID", OPEN_DAY)
    assert _events(engine, a1, REASSIGNED) == [
        "assigned to C008 (team T-MID), was with C002, by lead: speaks Tibetan"
    ]
    [entry] = _audit(engine, "case.reassign")
    assert (entry["actor"], entry["target"]) == ("lead", "account:A1")
    detail = json.loads(str(entry["detail"]))
    assert (detail["from"], detail["to"], detail["case_key"], detail["why"]) == (
        "C002",
        "C008",
        a1,
        "speaks Tibetan",
    )
    # the ownership history holds the nightly run's decision and the lead's, after it
    assert _decisions(engine, a1) == [
        (DAY, "C002", "assigned", None, None),
        (OPEN_DAY, "C008", "assigned", "C002", "lead"),
    ]
    lead_view = client.get(f"/api/v1/cases/{a1}", headers=lead).json()["allocations"]
    assert [(x["owner"], x["decided_by"], x["run_id"] is None) for x in lead_view] == [
        ("C002", None, False),
        ("C008", "lead", True),
    ]

    again = client.post(f"/api/v1/cases/{a1}/assignment", json=body, headers=lead)
    assert again.status_code == 200, again.text
    assert again.json()["changed"] is False and again.json()["case"]["owner"] == "C008"
    assert len(_audit(engine, "case.reassign")) == 1
    assert len(_events(engine, a1, REASSIGNED)) == 1

    # access follows the case: C002's collector loses it, C008's collector gains it
    assert client.get("/api/v1/accounts/A1", headers=headers["collector"]).status_code == 403
    assert client.get(f"/api/v1/cases/{a1}", headers=headers["collector"]).status_code == 403
    with engine.begin() as conn:
        add_user(conn, "tenzin", PASSWORD, "collector", owner_id="C008")
    tenzin = _login(client, "tenzin")
    assert [c["case_id"] for c in client.get("/api/v1/cases", headers=tenzin).json()["cases"]] == [
        a1
    ]
    queue = client.get("/api/v1/queue", headers=tenzin).json()
    assert [c["account_id"] for c in queue["cases"]] == ["A1"]


def test_cases__a_refused_reassignment_changes_nothing_and_says_why(crew: Crew) -> None:  # noqa: F811
    client, engine, headers = crew
    lead = headers["admin"]
    a1, a3 = _case_of(engine, "A1"), _case_of(engine, "A3")
    before = _owner(engine, a1)

    def post(case: int, body: dict[str, Any]) -> tuple[int, str, str]:
        response = client.post(f"/api/v1/cases/{case}/assignment", json=body, headers=lead)
        error = response.json()["error"]
        return response.status_code, error["code"], error["message"]

    assert post(a1, {"owner": "C003"}) == (409, "refused", "C003 does not work product card")
    status, code, message = post(a1, {"owner": "C006"})
    assert (status, code) == (409, "refused") and "does not work bucket M1" in message
    status, code, message = post(a1, {"owner": "AG-HUAXIA"})
    assert (status, code) == (409, "refused")
    assert message == "bucket M1 is not placed with agencies (from M4)"
    status, code, message = post(a1, {"owner": "NOPE"})
    assert (status, code) == (422, "invalid_request") and "NOPE" in message
    status, code, message = post(a1, {"owner": "C008", "from_owner": "C001"})
    assert (status, code) == (409, "conflict") and "now with C002, not C001" in message
    assert post(999_999, {"owner": "C008"})[:2] == (404, "not_found")
    for bad in ({}, {"owner": ""}, {"owner": "C008", "reason": "x\x00"}):
        response = client.post(f"/api/v1/cases/{a1}/assignment", json=bad, headers=lead)
        assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")
    c = t.cases
    with engine.begin() as conn:
        conn.execute(c.update().where(c.c.case_key == a3).values(status="closed", closed_on=DAY))
    status, code, message = post(a3, {"owner": "C008"})
    assert (status, code) == (409, "conflict") and "closed" in message

    assert _owner(engine, a1) == before
    assert _events(engine, a1, REASSIGNED) == []
    assert _audit(engine, "case.reassign") == []


def test_reassignment__the_next_allocation_run_keeps_the_case_with_its_new_owner(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    a1 = _case_of(engine, "A1")
    moved = client.post(
        f"/api/v1/cases/{a1}/assignment", json={"owner": "C008"}, headers=headers["team_lead"]
    )
    assert moved.status_code == 200, moved.text
    close_through(engine, OPEN_DAY)
    run_daily_strategy(engine, load_default_strategy(), OPEN_DAY)
    run_allocation(engine, load_teams(default_teams_path()), OPEN_DAY)
    al = t.allocations
    with engine.connect() as conn:
        night = conn.execute(
            sa.select(al.c.decision, al.c.owner, al.c.previous_owner, al.c.reason).where(
                al.c.case_key == a1, al.c.as_of == OPEN_DAY, al.c.run_id.is_not(None)
            )
        ).one()
    assert (night.decision, night.owner, night.previous_owner) == ("kept", "C008", "C008")
    assert "continuity" in night.reason
    assert _owner(engine, a1)[:3] == ("C008", "collector", "T-MID")
    # a re-run of the day starts from the reassigned owner, and the event stays
    run_allocation(engine, load_teams(default_teams_path()), OPEN_DAY)
    assert _owner(engine, a1)[0] == "C008"
    assert len(_events(engine, a1, REASSIGNED)) == 1


def test_reassignment__a_rerun_of_the_last_closed_day_keeps_the_team_leads_decision(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    a1 = _case_of(engine, "A1")
    body = {"owner": "C008", "reason": "speaks Tibetan"}
    moved = client.post(f"/api/v1/cases/{a1}/assignment", json=body, headers=headers["team_lead"])
    assert moved.status_code == 200, moved.text
    history = _decisions(engine, a1)
    config = load_teams(default_teams_path())

    for _ in range(2):  # the last closed day again, and again: the lead's move stands
        again = run_allocation(engine, config, DAY)
        assert _owner(engine, a1) == ("C008", "collector", "T-MID", OPEN_DAY)
        assert again.kept_by_lead == 1 and "1 reassigned by a team lead" in again.describe()
        # the run decided as it did before the lead acted; the lead's decision follows it
        assert _decisions(engine, a1) == history
        assert history[0][:3] == (DAY, "C002", "assigned")
        assert len(_events(engine, a1, REASSIGNED)) == 1
        assert len(_events(engine, a1, "assigned")) == 1


def test_reassignment__a_move_before_the_days_run_stands_over_that_run(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    a1 = _case_of(engine, "A1")
    close_through(engine, OPEN_DAY)  # the nightly batch is under way: closed, not allocated
    run_daily_strategy(engine, load_default_strategy(), OPEN_DAY)
    moved = client.post(
        f"/api/v1/cases/{a1}/assignment", json={"owner": "C008"}, headers=headers["team_lead"]
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["effective_on"] == (OPEN_DAY + timedelta(days=1)).isoformat()
    config = load_teams(default_teams_path())
    for _ in range(2):
        run_allocation(engine, config, OPEN_DAY)
        assert _owner(engine, a1) == (
            "C008",
            "collector",
            "T-MID",
            OPEN_DAY + timedelta(days=1),
        )
        # the day's run starts from the owner before the lead's move and keeps it; the
        # lead's decision, dated the next day, comes after it
        assert _decisions(engine, a1) == [
            (DAY, "C002", "assigned", None, None),
            (OPEN_DAY, "C002", "kept", "C002", None),
            (OPEN_DAY + timedelta(days=1), "C008", "assigned", "C002", "lead"),
        ]


def test_credit__a_payment_on_the_day_of_a_reassignment_goes_to_the_new_owner(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    lead = headers["team_lead"]
    a1 = _case_of(engine, "A1")
    moved = client.post(f"/api/v1/cases/{a1}/assignment", json={"owner": "C008"}, headers=lead)
    assert moved.status_code == 200, moved.text
    paid = client.post(
        "/api/v1/accounts/A1/payments",
        json={"amount": "10.00", "paid_on": OPEN_DAY.isoformat()},
        headers=lead | {"Idempotency-Key": "PAY-OPEN-DAY"},
    )
    assert paid.status_code == 201, paid.text
    close_through(engine, OPEN_DAY)
    run_daily_strategy(engine, load_default_strategy(), OPEN_DAY)  # credits the day's payments
    assert _credits(engine) == [("C008", 1_000, OPEN_DAY)]
    # the allocation of the day keeps the case with C008 and credits nothing again
    run_allocation(engine, load_teams(default_teams_path()), OPEN_DAY)
    run_daily_strategy(engine, load_default_strategy(), OPEN_DAY)
    assert _credits(engine) == [("C008", 1_000, OPEN_DAY)]


TEAMS_WITH_AN_EARLY_AGENCY = """
teams: [{id: T1, name: Team one}]
collectors:
  - id: C002
    name: Li Na
    team: T1
    daily_capacity: 10
    max_open_cases: 10
    skills: {languages: [zh], buckets: {from: M1, to: M3}, products: all}
agencies:
  - id: AGX
    name: Early agency
    capacity: 10
    buckets: {from: M1, to: M7+}
    commission: {M1: "0.10", M2: "0.12", M3: "0.14", M4: "0.16", M5: "0.18", M6: "0.2", M7+: "0.25"}
rules: {method: even_count, continuity: true, agency_from_bucket: M1}
"""


def test_reassignment__a_placement_waits_for_the_outsourcing_notice(
    crew: Crew,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, engine, headers = crew
    teams_file = tmp_path / "teams.yaml"
    teams_file.write_text(TEAMS_WITH_AN_EARLY_AGENCY)
    monkeypatch.setenv("RECOUP_TEAMS", str(teams_file))
    a1 = _case_of(engine, "A1")
    lead = headers["team_lead"]

    held = client.post(f"/api/v1/cases/{a1}/assignment", json={"owner": "AGX"}, headers=lead)
    assert (held.status_code, held.json()["error"]["code"]) == (409, "refused")
    assert held.json()["error"]["message"].startswith("placement held: CN-OUTSOURCE")
    assert _owner(engine, a1)[0] == "C002"

    sent = datetime.now(UTC) - timedelta(days=2)
    with engine.begin() as conn:
        account_key = conn.execute(
            sa.select(t.cases.c.account_key).where(t.cases.c.case_key == a1)
        ).scalar_one()
        conn.execute(
            t.messages.insert().values(
                idempotency_key="notice-A1",
                account_key=account_key,
                case_key=a1,
                channel="sms",
                party="self",
                to_value="+8613800000001",
                template="outsourcing_notice",
                lang="zh-CN",
                body="notice",
                status="sent",
                send_at=sent,
                created_at=sent,
                sent_at=sent,
            )
        )
        add_user(conn, "agx", PASSWORD, "agency_collector", owner_id="AGX")
    placed = client.post(f"/api/v1/cases/{a1}/assignment", json={"owner": "AGX"}, headers=lead)
    assert placed.status_code == 200, placed.text
    assert placed.json()["decision"] == "placed"
    assert placed.json()["reason"] == (
        "placed with agency AGX (bucket M1; commission 10%), was with C002"
    )
    assert _owner(engine, a1)[:3] == ("AGX", "agency", None)
    agx = _login(client, "agx")
    assert client.get(f"/api/v1/cases/{a1}", headers=agx).status_code == 200


# --------------------------------------------------------------------------- the team page


def _session(
    engine: sa.Engine, username: str, role: str, owner_id: str | None = None
) -> tuple[str, str]:
    """A web session (its cookie and CSRF token) of a new user."""
    with engine.begin() as conn:
        user = add_user(conn, username, PASSWORD, role, owner_id=owner_id)
        issued = issue_token(conn, user, "session", datetime.now(UTC))
    return issued.token, str(issued.csrf_token)


def _owner_row(html: str, owner: str) -> str:
    found = re.search(rf'<tr data-owner="{re.escape(owner)}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, f"no row for {owner}"
    return found.group(1)


def _cell(row: str, name: str) -> str:
    found = re.search(rf'<td class="num {name}">(.*?)</td>', row, re.S)
    assert found, f"no {name} cell in {row}"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_team_page__shows_who_holds_the_open_cases_and_reassigns_through_the_service(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, _ = crew
    a1 = _case_of(engine, "A1")
    a = t.accounts
    with engine.connect() as conn:
        overdue = conn.execute(
            sa.select(a.c.overdue_cents).where(a.c.account_id == "A1")
        ).scalar_one()
    token, csrf = _session(engine, "pagelead", "team_lead")
    client.cookies.set("recoup_session", token)

    page = client.get("/team")
    assert page.status_code == 200, page.text
    assert 'id="allocation"' in page.text and 'id="reassign-form"' in page.text
    c002 = _owner_row(page.text, "C002")  # the shipped teams file: max_open_cases 450
    assert (_cell(c002, "cases"), _cell(c002, "capacity"), _cell(c002, "room")) == (
        "1",
        "450",
        "449",
    )
    assert _cell(c002, "overdue") == format_cents(overdue)
    assert _cell(_owner_row(page.text, "C008"), "cases") == "0"
    assert _cell(_owner_row(page.text, "AG-HUAXIA"), "capacity") == "4000"
    ag1 = _owner_row(page.text, "AG1")  # placed by hand, not in the teams file
    assert _cell(ag1, "cases") == "1" and "not in the teams file" in ag1
    assert f'name="csrf_token" value="{csrf}"' in page.text
    assert "分案：在催案件归属" in client.get("/team?lang=zh-CN").text

    form = {"account_id": "A1", "owner": "C008", "reason": "workload"}
    assert client.post("/team/assignment", data=form).status_code == 403  # no CSRF token
    assert _owner(engine, a1)[0] == "C002"
    done = client.post("/team/assignment", data=form | {"csrf_token": csrf}, follow_redirects=False)
    assert (
        done.status_code == 303 and done.headers["location"] == "/team?done=reassigned#allocation"
    )
    assert _owner(engine, a1)[:3] == ("C008", "collector", "T-MID")
    [entry] = _audit(engine, "case.reassign")
    assert (entry["actor"], entry["target"]) == ("pagelead", "account:A1")
    after = client.get("/team?done=reassigned&lang=en").text
    assert "The case is reassigned." in after
    assert _cell(_owner_row(after, "C008"), "cases") == "1"
    assert _cell(_owner_row(after, "C002"), "room") == "450"
    same = client.post("/team/assignment", data=form | {"csrf_token": csrf}, follow_redirects=False)
    assert same.headers["location"] == "/team?done=unchanged#allocation"
    assert len(_audit(engine, "case.reassign")) == 1

    refused = client.post(
        "/team/assignment", data=form | {"owner": "C003", "csrf_token": csrf, "lang": "en"}
    )
    assert refused.status_code == 422
    assert "C003 does not work product card" in refused.text
    assert 'value="C003" selected' in refused.text  # the form keeps what was asked
    nothing = client.post("/team/assignment", data=form | {"account_id": "A2", "csrf_token": csrf})
    assert nothing.status_code == 422 and "has no open case" in nothing.text
    assert _owner(engine, a1)[0] == "C008"


def test_team_page__readers_see_the_allocation_but_only_leads_reassign(crew: Crew) -> None:  # noqa: F811
    client, engine, _ = crew
    token, csrf = _session(engine, "pageanalyst", "risk_analyst")
    client.cookies.set("recoup_session", token)
    page = client.get("/team")
    assert page.status_code == 200 and 'id="allocation"' in page.text
    assert 'id="reassign-form"' not in page.text
    before = len(_audit(engine, "access.refused"))
    refused = client.post(
        "/team/assignment", data={"account_id": "A1", "owner": "C008", "csrf_token": csrf}
    )
    assert refused.status_code == 403
    [entry] = _audit(engine, "access.refused")[before:]
    assert (entry["actor"], entry["target"]) == ("pageanalyst", "page:/team/assignment")
    assert _owner(engine, _case_of(engine, "A1"))[0] == "C002"

    token, _ = _session(engine, "pagecollector", "collector", "C002")
    client.cookies.set("recoup_session", token)
    assert client.get("/team").status_code == 403

"""The workbench API beyond accounts and the queue, on a real store (SQLite and PostgreSQL):
payments, contacts through the compliance gate, promises, arrangements and approvals,
scores, strategies and the portfolio report; every endpoint's access by role."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from recoup.store import tables as t
from recoup.strategy import load_default_strategy
from recoup.web.users import add_user
from tests.integration.test_collection import book  # noqa: F401
from tests.integration.test_web_api import DAY, PASSWORD, _audit, _login, workbench  # noqa: F401

Workbench = tuple[TestClient, sa.Engine, dict[str, str]]
OPEN_DAY = DAY + timedelta(days=1)
#: A Friday, no holiday: 10:00 in Shanghai is inside CN-HOURS, 03:00 is not.
DAYTIME = datetime(2025, 2, 14, 10, 0, tzinfo=UTC) - timedelta(hours=8)
NIGHT = datetime(2025, 2, 14, 3, 0, tzinfo=UTC) - timedelta(hours=8)

ROLES = (
    "collector",
    "agency_collector",
    "team_lead",
    "strategy_manager",
    "risk_analyst",
    "compliance_officer",
    "admin",
)
#: The user of each role in :func:`crew`, and the account each works on.
USERS = {
    "collector": ("wang", "A1"),
    "agency_collector": ("agent", "A3"),
    "team_lead": ("lead", "A1"),
    "strategy_manager": ("strat", "A1"),
    "risk_analyst": ("analyst", "A1"),
    "compliance_officer": ("comp", "A1"),
    "admin": ("root", "A1"),
}


@pytest.fixture
def crew(workbench: Workbench) -> tuple[TestClient, sa.Engine, dict[str, dict[str, str]]]:  # noqa: F811
    """The workbench with a user of every role (A3's case placed with agency AG1) and a
    bearer token for each role."""
    client, engine, _ = workbench
    c, a = t.cases, t.accounts
    with engine.begin() as conn:
        a3 = conn.execute(sa.select(a.c.account_key).where(a.c.account_id == "A3")).scalar_one()
        conn.execute(
            c.update().where(c.c.account_key == a3).values(owner="AG1", owner_kind="agency")
        )
        add_user(conn, "agent", PASSWORD, "agency_collector", owner_id="AG1")
        add_user(conn, "strat", PASSWORD, "strategy_manager")
        add_user(conn, "comp", PASSWORD, "compliance_officer")
        add_user(conn, "root", PASSWORD, "admin")
    headers = {role: _login(client, user) for role, (user, _) in USERS.items()}
    return client, engine, headers


def _pending_waiver(client: TestClient, headers: dict[str, str], account: str = "A1") -> int:
    response = client.post(
        f"/api/v1/accounts/{account}/waivers",
        json={"component": "fee", "amount": "150.00", "reason": "hardship"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    return int(response.json()["request_key"])


# --------------------------------------------------------------------------- access by role

ALL = set(ROLES)
CONTACT = {"collector", "agency_collector", "team_lead", "admin"}
REPORTS = {"team_lead", "strategy_manager", "risk_analyst", "compliance_officer", "admin"}
LEADS = {"team_lead", "admin"}
STRATEGY = {"strategy_manager", "admin"}


def _endpoints(request_key: int) -> list[tuple[str, str, dict[str, Any] | None, set[str]]]:
    """(method, path with {a} for the role's account, JSON body, roles allowed)."""
    strategy = load_default_strategy().text
    return [
        ("GET", "/api/v1/accounts/{a}/payments", None, ALL),
        (
            "POST",
            "/api/v1/accounts/{a}/payments",
            {"amount": "1.00", "paid_on": "2025-02-14"},
            LEADS,
        ),
        ("POST", "/api/v1/accounts/{a}/payments/NOPE/reversal", {"paid_on": "2025-02-14"}, LEADS),
        ("POST", "/api/v1/accounts/{a}/contact-check", {"channel": "call"}, CONTACT),
        (
            "POST",
            "/api/v1/accounts/{a}/contacts",
            {"channel": "call", "at": DAYTIME.isoformat(), "outcome": "no_answer"},
            CONTACT,
        ),
        ("GET", "/api/v1/accounts/{a}/contacts", None, ALL),
        ("GET", "/api/v1/accounts/{a}/promises", None, ALL),
        (
            "POST",
            "/api/v1/accounts/{a}/promises",
            {"amount": "10.00", "promised_for": (OPEN_DAY + timedelta(days=3)).isoformat()},
            CONTACT,
        ),
        ("GET", "/api/v1/accounts/{a}/owed", None, ALL),
        ("POST", "/api/v1/accounts/{a}/plan-proposals", {"term_months": 6}, CONTACT),
        ("POST", "/api/v1/accounts/{a}/plans", {"term_months": 36}, CONTACT),
        ("POST", "/api/v1/accounts/{a}/waivers", {"component": "fee", "amount": "1.00"}, CONTACT),
        ("POST", "/api/v1/accounts/{a}/settlements", {"discount": "10%"}, CONTACT),
        ("GET", "/api/v1/accounts/{a}/arrangements", None, ALL),
        ("GET", "/api/v1/accounts/{a}/scores", None, ALL),
        ("GET", "/api/v1/arrangement-requests", None, LEADS),
        ("GET", f"/api/v1/arrangement-requests/{request_key}", None, ALL - {"agency_collector"}),
        (
            "POST",
            f"/api/v1/arrangement-requests/{request_key}/decision",
            {"decision": "reject", "reason": "not now"},
            LEADS,
        ),
        (
            "POST",
            f"/api/v1/arrangement-requests/{request_key}/acceptance",
            None,
            CONTACT - {"agency_collector"},
        ),
        ("GET", "/api/v1/strategies/current", None, REPORTS),
        ("GET", "/api/v1/strategies", None, REPORTS),
        ("POST", "/api/v1/strategies/validation", {"source": strategy}, STRATEGY),
        ("POST", "/api/v1/strategies", {"source": strategy}, STRATEGY),
        ("GET", "/api/v1/reports/portfolio", None, REPORTS),
    ]


def test_api_more__every_endpoint_lets_in_exactly_the_roles_that_may_use_it(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, _, headers = crew
    request_key = _pending_waiver(client, headers["collector"])  # a request on A1
    for method, path, body, allowed in _endpoints(request_key):
        for role in ROLES:
            url = path.format(a=USERS[role][1])
            extra = {"Idempotency-Key": f"K-{role}"} if "payments" in path else {}
            response = client.request(method, url, json=body, headers={**headers[role], **extra})
            where = f"{role} {method} {url}: {response.status_code} {response.text[:200]}"
            assert response.status_code < 500, where
            if role in allowed:
                assert response.status_code not in (401, 403), where
            else:
                assert response.status_code == 403, where
                assert response.json()["error"]["code"] == "forbidden", where
            if method == "GET" and role in allowed:
                assert response.status_code == 200, where
        anonymous = client.request(method, path.format(a="A1"), json=body)
        assert anonymous.status_code == 401, f"{method} {path}"


def test_api_more__a_collector_is_refused_accounts_not_theirs_and_the_refusal_is_logged(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, engine, headers = crew
    stranger = _login(client, "other")
    before = len(_audit(engine, "access.refused"))
    for method, path, body, _ in _endpoints(1):
        if "{a}" not in path:
            continue
        extra = {"Idempotency-Key": "K-other"} if "payments" in path else {}
        response = client.request(
            method, path.format(a="A1"), json=body, headers={**stranger, **extra}
        )
        assert response.status_code == 403, f"{method} {path}: {response.text}"
    assert len(_audit(engine, "access.refused")) > before
    # the agency collector reads its placed case (A3) and not A1
    agent = headers["agency_collector"]
    assert client.get("/api/v1/accounts/A3/owed", headers=agent).status_code == 200
    assert client.get("/api/v1/accounts/A1/owed", headers=agent).status_code == 403


# --------------------------------------------------------------------------- payments


def test_api_more__a_payment_is_idempotent_by_its_key_and_can_be_reversed(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, engine, headers = crew
    lead = headers["team_lead"]
    body = {"amount": "100.00", "paid_on": OPEN_DAY.isoformat()}
    first = client.post(
        "/api/v1/accounts/A1/payments", json=body, headers={**lead, "Idempotency-Key": "PAY-1"}
    )
    assert first.status_code == 201, first.text
    assert first.json() == {
        "payment_id": "PAY-1",
        "account_id": "A1",
        "amount": "100.00",
        "paid_on": OPEN_DAY.isoformat(),
        "reverses": None,
        "reversed_on": None,
    }
    again = client.post(
        "/api/v1/accounts/A1/payments", json=body, headers={**lead, "Idempotency-Key": "PAY-1"}
    )
    assert (again.status_code, again.json()) == (200, first.json())
    other = client.post(
        "/api/v1/accounts/A1/payments",
        json={**body, "amount": "99.00"},
        headers={**lead, "Idempotency-Key": "PAY-1"},
    )
    assert (other.status_code, other.json()["error"]["code"]) == (409, "conflict")
    elsewhere = client.post(
        "/api/v1/accounts/A3/payments", json=body, headers={**lead, "Idempotency-Key": "PAY-1"}
    )
    assert elsewhere.status_code == 409
    assert len(_audit(engine, "payment.post")) == 1

    reversal = client.post(
        "/api/v1/accounts/A1/payments/PAY-1/reversal",
        json={"paid_on": (OPEN_DAY + timedelta(days=2)).isoformat()},
        headers={**lead, "Idempotency-Key": "PAY-1-R"},
    )
    assert reversal.status_code == 201, reversal.text
    assert (reversal.json()["reverses"], reversal.json()["amount"]) == ("PAY-1", "100.00")
    twice = client.post(
        "/api/v1/accounts/A1/payments/PAY-1/reversal",
        json={"paid_on": (OPEN_DAY + timedelta(days=2)).isoformat()},
        headers={**lead, "Idempotency-Key": "PAY-1-R2"},
    )
    assert (twice.status_code, twice.json()["error"]["code"]) == (422, "invalid_payment")
    assert "already reversed" in twice.json()["error"]["message"]
    listed = client.get("/api/v1/accounts/A1/payments", headers=headers["collector"]).json()
    mine = {p["payment_id"]: p for p in listed["payments"]}
    assert mine["PAY-1"]["reversed_on"] == (OPEN_DAY + timedelta(days=2)).isoformat()
    assert mine["PAY-1-R"]["reverses"] == "PAY-1"
    assert len(_audit(engine, "payment.reverse")) == 1

    for bad_body, bad_key in (
        ({"amount": "abc", "paid_on": "2025-02-14"}, "PAY-2"),
        ({"amount": "0", "paid_on": "2025-02-14"}, "PAY-2"),
        ({"amount": "1.005", "paid_on": "2025-02-14"}, "PAY-2"),
        ({"amount": "1.00", "paid_on": "0001-01-01"}, "PAY-2"),
        ({"amount": "1.00", "paid_on": "2025-02-14"}, "bad key with spaces"),
    ):
        bad = client.post(
            "/api/v1/accounts/A1/payments",
            json=bad_body,
            headers={**lead, "Idempotency-Key": bad_key},
        )
        assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_request"), bad.text
    missing = client.post(
        "/api/v1/accounts/NOPE/payments", json=body, headers={**lead, "Idempotency-Key": "PAY-3"}
    )
    assert missing.status_code == 404


# --------------------------------------------------------------------------- contacts


def test_api_more__a_blocked_contact_answers_with_its_violations_and_is_not_recorded(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, engine, headers = crew
    wang = headers["collector"]
    check = client.post(
        "/api/v1/accounts/A1/contact-check",
        json={"channel": "call", "at": NIGHT.isoformat()},
        headers=wang,
    )
    assert check.status_code == 200, check.text
    decision = check.json()
    assert decision["allowed"] is False
    assert "CN-HOURS" in [v["rule"] for v in decision["violations"]]
    assert decision["next_allowed_at"] is not None and "****" in decision["to"]

    blocked = client.post(
        "/api/v1/accounts/A1/contacts",
        json={"channel": "call", "at": NIGHT.isoformat(), "outcome": "no_answer"},
        headers=wang,
    )
    assert blocked.status_code == 409, blocked.text
    error = blocked.json()["error"]
    assert error["code"] == "contact_blocked"
    assert "CN-HOURS" in [v["rule"] for v in error["violations"]]
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(t.contact_attempts)).scalar() == 0
        )
    assert _audit(engine, "contact.blocked")

    fine = client.post(
        "/api/v1/accounts/A1/contact-check",
        json={"channel": "call", "at": DAYTIME.isoformat()},
        headers=wang,
    )
    assert fine.json()["allowed"] is True and fine.json()["violations"] == []


def test_api_more__an_outcome_with_a_promise_is_recorded_once_and_shows_in_the_account(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, engine, headers = crew
    wang = headers["collector"]
    body = {
        "channel": "call",
        "at": DAYTIME.isoformat(),
        "outcome": "promise_to_pay",
        "promise_amount": "300.00",
        "promise_date": (OPEN_DAY + timedelta(days=5)).isoformat(),
        "note": "will pay on payday",
        "key": "call-1",
    }
    recorded = client.post("/api/v1/accounts/A1/contacts", json=body, headers=wang)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["recorded"] is True and recorded.json()["promises"] == 1
    again = client.post("/api/v1/accounts/A1/contacts", json=body, headers=wang)
    assert (again.status_code, again.json()["recorded"]) == (200, False)
    history = client.get("/api/v1/accounts/A1/contacts", headers=wang).json()
    [attempt] = history["attempts"]
    assert attempt["outcome"] == "promise_to_pay" and "****" in attempt["to"]
    assert attempt["collector"] == "C002" or attempt["collector"]  # the allocation's owner id
    assert history["decisions"][0]["allowed"] is True
    promises = client.get("/api/v1/accounts/A1", headers=wang).json()["promises"]
    assert [p["amount"] for p in promises] == ["300.00"]
    assert len(_audit(engine, "contact.record")) == 1

    inconsistent = client.post(
        "/api/v1/accounts/A1/contacts",
        json={**body, "key": "call-2", "outcome": "no_answer"},
        headers=wang,
    )
    assert (inconsistent.status_code, inconsistent.json()["error"]["code"]) == (
        422,
        "invalid_request",
    )


def test_api_more__a_collectors_promise_with_installments_shows_in_the_account(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, engine, headers = crew
    wang = headers["collector"]
    made = client.post(
        "/api/v1/accounts/A1/promises",
        json={
            "installments": [
                {"due_on": (OPEN_DAY + timedelta(days=3)).isoformat(), "amount": "200.00"},
                {"due_on": (OPEN_DAY + timedelta(days=17)).isoformat(), "amount": "400.00"},
            ],
            "channel": "call",
        },
        headers=wang,
    )
    assert made.status_code == 201, made.text
    promise = made.json()
    assert (promise["amount"], promise["made_on"], promise["status"]) == (
        "600.00",
        OPEN_DAY.isoformat(),
        "open",
    )
    assert [i["amount"] for i in promise["installments"]] == ["200.00", "400.00"]
    account = client.get("/api/v1/accounts/A1", headers=headers["team_lead"]).json()
    assert [p["promise_key"] for p in account["promises"]] == [promise["promise_key"]]
    listed = client.get("/api/v1/accounts/A1/promises", headers=wang).json()["promises"]
    assert listed[0]["made_by"] == promise["made_by"] and listed[0]["channel"] == "call"
    [entry] = _audit(engine, "promise.record")
    assert (entry["actor"], entry["target"]) == ("wang", "account:A1")

    for bad in (
        {"amount": "10.00"},  # no date
        {"amount": "10.00", "promised_for": (DAY - timedelta(days=3)).isoformat()},  # past
        {"amount": "-1", "promised_for": OPEN_DAY.isoformat()},
        {"amount": "10.00", "promised_for": OPEN_DAY.isoformat(), "channel": "pigeon"},
    ):
        refused = client.post("/api/v1/accounts/A1/promises", json=bad, headers=wang)
        assert refused.status_code == 422, (bad, refused.text)
    no_case = client.post(
        "/api/v1/accounts/A2/promises",
        json={"amount": "10.00", "promised_for": OPEN_DAY.isoformat()},
        headers=headers["team_lead"],
    )
    assert (no_case.status_code, no_case.json()["error"]["code"]) == (409, "conflict")


# --------------------------------------------------------------------------- arrangements


def test_api_more__a_waiver_within_authority_is_granted_and_one_beyond_waits_for_a_lead(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, engine, headers = crew
    wang, lead = headers["collector"], headers["team_lead"]
    owed = client.get("/api/v1/accounts/A1/owed", headers=wang).json()
    assert owed["owed"]["fee_overdue"] == "36.00" and owed["bucket"] == "M1"

    small = client.post(
        "/api/v1/accounts/A1/waivers",
        json={"component": "fee", "amount": "50.00", "reason": "goodwill"},
        headers=wang,
    )
    assert small.status_code == 201, small.text
    assert small.json()["status"] == "granted" and small.json()["arrangement_key"] is not None

    key = _pending_waiver(client, wang)
    pending = client.get(f"/api/v1/arrangement-requests/{key}", headers=wang).json()
    assert pending["approvers"] == ["team_lead", "manager", "head_of_collections"] or (
        "team_lead" in pending["approvers"]
    )
    assert pending["arrangement_key"] is None
    waiting = client.get("/api/v1/arrangement-requests?status=pending", headers=lead).json()
    assert [r["request_key"] for r in waiting["requests"]] == [key]
    assert (
        client.post(
            f"/api/v1/arrangement-requests/{key}/decision",
            json={"decision": "approve"},
            headers=wang,
        ).status_code
        == 403
    )
    approved = client.post(
        f"/api/v1/arrangement-requests/{key}/decision",
        json={"decision": "approve", "reason": "hardship checked"},
        headers=lead,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["arrangement_key"] is not None
    assert [s["action"] for s in approved.json()["steps"]][-1] == "approve"
    again = client.post(
        f"/api/v1/arrangement-requests/{key}/decision",
        json={"decision": "approve"},
        headers=lead,
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "refused")
    arrangements = client.get("/api/v1/accounts/A1/arrangements", headers=wang).json()
    assert [a["kind"] for a in arrangements["arrangements"]] == ["waiver", "waiver"]
    assert len(arrangements["requests"]) == 2
    assert [e["action"] for e in _audit(engine, "request.approve")] == ["request.approve"]
    assert len(_audit(engine, "waiver.request")) == 2

    too_much = client.post(
        "/api/v1/accounts/A1/waivers", json={"component": "penalty", "amount": "5.00"}, headers=wang
    )
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (422, "invalid_request")
    both = client.post(
        "/api/v1/accounts/A1/waivers",
        json={"component": "fee", "amount": "5.00", "share": "10%"},
        headers=wang,
    )
    assert both.status_code == 422


def test_api_more__a_plan_is_proposed_signed_within_authority_and_asked_for_beyond_it(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, engine, headers = crew
    wang = headers["collector"]
    proposal = client.post(
        "/api/v1/accounts/A1/plan-proposals", json={"term_months": 12}, headers=wang
    )
    assert proposal.status_code == 200, proposal.text
    plan = proposal.json()
    assert plan["term_months"] == 12 and len(plan["installments"]) == 12
    assert plan["waived"] == "0.00" and plan["as_of"] == DAY.isoformat()

    long = client.post("/api/v1/accounts/A1/plans", json={"term_months": 36}, headers=wang)
    assert long.status_code == 201, long.text
    assert long.json()["signed"] is False and long.json()["request"]["status"] == "pending"

    signed = client.post("/api/v1/accounts/A1/plans", json={"term_months": 12}, headers=wang)
    assert signed.status_code == 201, signed.text
    assert signed.json()["signed"] is True and signed.json()["plan_id"]
    assert signed.json()["effective_on"] == OPEN_DAY.isoformat()
    kinds = client.get("/api/v1/accounts/A1/arrangements", headers=wang).json()["arrangements"]
    assert [a["kind"] for a in kinds] == ["plan"]
    assert _audit(engine, "plan.sign") and _audit(engine, "plan.request")
    twice = client.post("/api/v1/accounts/A1/plans", json={"term_months": 12}, headers=wang)
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "refused")
    bad = client.post("/api/v1/accounts/A1/plan-proposals", json={"term_months": 61}, headers=wang)
    assert bad.status_code == 422


def test_api_more__a_settlement_is_offered_approved_and_accepted(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, engine, headers = crew
    offered = client.post(
        "/api/v1/accounts/A1/settlements", json={"discount": "10%"}, headers=headers["collector"]
    )
    assert offered.status_code == 201, offered.text
    offer = offered.json()
    assert offer["kind"] == "settlement" and offer["status"] == "pending"  # M1: beyond a collector
    key = offer["request_key"]
    decided = client.post(
        f"/api/v1/arrangement-requests/{key}/decision",
        json={"decision": "approve", "reason": "ok"},
        headers=headers["admin"],
    )
    assert decided.status_code == 200, decided.text
    accepted = client.post(
        f"/api/v1/arrangement-requests/{key}/acceptance", headers=headers["collector"]
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["arrangement_key"] is not None
    assert _audit(engine, "settlement.accept")


# --------------------------------------------------------------------------- scores, strategy


def test_api_more__scores_come_with_their_reason_codes(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, engine, headers = crew
    assert (
        client.get("/api/v1/accounts/A1/scores", headers=headers["collector"]).json()["scores"]
        == []
    )
    with engine.begin() as conn:
        run_id = conn.execute(sa.select(sa.func.max(t.collection_runs.c.run_id))).scalar_one()
        conn.execute(
            t.risk_models.insert().values(
                model_id="collection-scorecard-v1",
                kind="collection",
                family="scorecard",
                version=1,
                status="champion",
                trained_at=datetime.now(UTC),
                data_fingerprint="0" * 64,
                features="[]",
                params="{}",
                metrics="{}",
                libraries="{}",
                artifact="{}",
            )
        )
        for as_of, grade in ((DAY - timedelta(days=1), "C"), (DAY, "D")):
            conn.execute(
                t.risk_scores.insert().values(
                    account_key=1,
                    as_of=as_of,
                    kind="collection",
                    model_id="collection-scorecard-v1",
                    score=512,
                    probability=0.31,
                    grade=grade,
                    reasons=json.dumps(
                        ["days_since_payment: [30, 60) (−35)", "dpd: [1, 30) (−12)"]
                    ),
                    run_id=run_id,
                )
            )
    body = client.get("/api/v1/accounts/A1/scores", headers=headers["collector"]).json()
    [score] = body["scores"]
    assert (score["grade"], score["as_of"], score["score"]) == ("D", DAY.isoformat(), 512)
    assert score["reasons"][0].startswith("days_since_payment")


def test_api_more__strategies_are_read_validated_and_uploaded_as_a_new_version(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, engine, headers = crew
    strat = headers["strategy_manager"]
    current = client.get("/api/v1/strategies/current", headers=strat).json()
    assert current["in_force"] is True and current["version"] == 1 and current["explanation"]
    invalid = client.post(
        "/api/v1/strategies/validation", json={"source": "strategy: {id: x}\n"}, headers=strat
    ).json()
    assert invalid["valid"] is False and invalid["message"]
    text = re.sub(r"(?m)^(\s+version:) 1$", r"\1 2", current["source"], count=1)
    valid = client.post("/api/v1/strategies/validation", json={"source": text}, headers=strat)
    assert valid.json()["valid"] is True and valid.json()["strategy"]["version"] == 2
    uploaded = client.post("/api/v1/strategies", json={"source": text}, headers=strat)
    assert uploaded.status_code == 201, uploaded.text
    assert client.get("/api/v1/strategies/current", headers=strat).json()["version"] == 2
    versions = client.get("/api/v1/strategies", headers=strat).json()["versions"]
    assert sorted((v["version"], v["active"]) for v in versions) == [(1, False), (2, True)]
    changed = client.post(
        "/api/v1/strategies", json={"source": text + "\n# changed\n"}, headers=strat
    )
    assert (changed.status_code, changed.json()["error"]["code"]) == (409, "conflict")
    bad = client.post("/api/v1/strategies", json={"source": "[1, 2"}, headers=strat)
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_strategy")
    [entry] = _audit(engine, "strategy.upload")
    assert entry["actor"] == "strat"


def test_api_more__the_portfolio_report_summarises_buckets_rolls_and_blocks(
    crew: tuple[TestClient, sa.Engine, dict[str, dict[str, str]]],
) -> None:
    client, _, headers = crew
    client.post(
        "/api/v1/accounts/A1/contact-check",
        json={"channel": "call", "at": NIGHT.isoformat()},
        headers=headers["collector"],
    )
    report = client.get("/api/v1/reports/portfolio", headers=headers["risk_analyst"])
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["as_of"] == DAY.isoformat()
    buckets = {b["bucket"]: b["accounts"] for b in body["buckets"]}
    assert (buckets["M0"], buckets["M1"]) == (1, 2)
    assert body["roll_from"] is None and body["roll_rates"] == []  # one month end so far
    assert "CN-HOURS" in {b["rule"] for b in body["blocks_by_rule"]}
    assert isinstance(body["blocks_since"], str) and date.fromisoformat(body["blocks_since"])

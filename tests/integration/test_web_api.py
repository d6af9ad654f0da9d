"""The workbench API on a real store (SQLite and PostgreSQL): logins and throttling, roles,
row-level access, masking and reveal, the queue, errors as JSON, the audit chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from recoup.allocation import default_teams_path, load_teams
from recoup.close import close_through
from recoup.collection.allocation_run import run_allocation
from recoup.collection.daily import run_daily_strategy
from recoup.store import tables as t
from recoup.strategy import load_default_strategy
from recoup.web import audit
from recoup.web.app import create_app
from recoup.web.settings import settings_from_env
from recoup.web.users import add_user, issue_token
from tests.integration.test_collection import FIRST_DUE, book  # noqa: F401

DAY = FIRST_DUE + timedelta(days=3)
PASSWORD = "correct horse battery"


@pytest.fixture
def workbench(book: sa.Engine) -> tuple[TestClient, sa.Engine, dict[str, str]]:  # noqa: F811
    """The book closed, worked by the strategy and allocated; a user per role; the owner of
    each account's case."""
    close_through(book, DAY)
    run_daily_strategy(book, load_default_strategy(), DAY)
    run_allocation(book, load_teams(default_teams_path()), DAY)
    c, a = t.cases, t.accounts
    with book.begin() as conn:
        owners = dict(
            conn.execute(
                sa.select(a.c.account_id, c.c.owner)
                .join(a, a.c.account_key == c.c.account_key)
                .where(c.c.status == "open")
            ).all()
        )
        assert owners["A1"] and owners["A3"]
        add_user(conn, "wang", PASSWORD, "collector", owner_id=owners["A1"])
        add_user(conn, "other", PASSWORD, "collector", owner_id="NOBODY")
        add_user(conn, "lead", PASSWORD, "team_lead")
        add_user(conn, "analyst", PASSWORD, "risk_analyst")
    client = TestClient(create_app(book, settings_from_env({})), raise_server_exceptions=False)
    return client, book, owners


def _login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _audit(engine: sa.Engine, action: str) -> list[dict[str, object]]:
    log = t.audit_log
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                sa.select(log).where(log.c.action == action).order_by(log.c.seq)
            ).mappings()
        ]


def test_api__a_collector_reads_their_own_accounts_masked_and_is_refused_the_rest(
    workbench: tuple[TestClient, sa.Engine, dict[str, str]],
) -> None:
    client, engine, owners = workbench
    wang = _login(client, "wang")
    mine = client.get("/api/v1/accounts/A1", headers=wang)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["account_id"] == "A1" and body["dpd"] == 3 and body["case"]["owner"] == owners["A1"]
    phones = [p["value"] for p in body["borrower"]["contact_points"] if p["kind"] == "phone"]
    assert phones and all("****" in p for p in phones)  # masked by default
    assert len(body["installments"]) == 6

    others = [a for a, owner in owners.items() if owner != owners["A1"]]
    if others:  # an account whose case someone else works
        refused = client.get(f"/api/v1/accounts/{others[0]}", headers=wang)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
    stranger = client.get("/api/v1/accounts/A1", headers=_login(client, "other"))
    assert stranger.status_code == 403  # a collector with no case on it
    refusals = _audit(engine, "access.refused")
    assert [r["actor"] for r in refusals][-1] == "other"
    assert refusals[-1]["target"] == "account:A1"


def test_api__revealing_personal_data_is_allowed_to_some_roles_and_always_recorded(
    workbench: tuple[TestClient, sa.Engine, dict[str, str]],
) -> None:
    client, engine, _ = workbench
    shown = client.post("/api/v1/accounts/A1/reveal", headers=_login(client, "wang"))
    assert shown.status_code == 200, shown.text
    phones = [p["value"] for p in shown.json()["contact_points"] if p["kind"] == "phone"]
    assert phones and not any("*" in p for p in phones)
    [entry] = _audit(engine, "personal_data.reveal")
    assert (entry["actor"], entry["target"]) == ("wang", "account:A1")
    analyst = client.post("/api/v1/accounts/A1/reveal", headers=_login(client, "analyst"))
    assert analyst.status_code == 403
    assert "risk_analyst may not reveal personal data" in analyst.json()["error"]["message"]
    assert client.get("/api/v1/accounts/A1", headers=_login(client, "analyst")).status_code == 200


def test_api__the_queue_holds_only_the_collectors_cases_and_a_lead_sees_all(
    workbench: tuple[TestClient, sa.Engine, dict[str, str]],
) -> None:
    client, _, owners = workbench
    mine = client.get("/api/v1/queue", headers=_login(client, "wang")).json()
    expected = sorted(a for a, owner in owners.items() if owner == owners["A1"])
    assert sorted(c["account_id"] for c in mine["cases"]) == expected
    everything = client.get("/api/v1/queue", headers=_login(client, "lead")).json()
    assert sorted(c["account_id"] for c in everything["cases"]) == sorted(owners)
    first = everything["cases"][0]
    assert first["next_action"] is None or first["next_action"]["on"] >= everything["as_of"]
    # Priority order: the cases with an action planned first, then the largest overdue.
    order = [
        (c["next_action"] is None, -Decimal(c["overdue"].replace(",", "")))
        for c in everything["cases"]
    ]
    assert order == sorted(order)
    assert any(c["next_action"] is not None for c in everything["cases"])
    assert client.get("/api/v1/queue", headers=_login(client, "analyst")).status_code == 200


def test_api__logins_are_throttled_and_tokens_checked(
    workbench: tuple[TestClient, sa.Engine, dict[str, str]],
) -> None:
    client, engine, _ = workbench
    assert client.get("/api/v1/me").json()["error"]["code"] == "unauthorised"
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    for _ in range(5):
        wrong = client.post("/api/v1/auth/token", data={"username": "lead", "password": "nope"})
        assert wrong.status_code == 401
    locked = client.post("/api/v1/auth/token", data={"username": "lead", "password": PASSWORD})
    assert locked.status_code == 401  # five failures: locked for 15 minutes, even with it right
    assert len(_audit(engine, "login.failed")) == 5 and _audit(engine, "login.locked")
    me = client.get("/api/v1/me", headers=_login(client, "wang")).json()
    assert me["role"] == "collector" and "reveal_personal_data" in me["permissions"]
    headers = _login(client, "analyst")
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401  # revoked


def test_api__a_session_cookie_needs_the_csrf_token_to_change_anything(
    workbench: tuple[TestClient, sa.Engine, dict[str, str]],
) -> None:
    client, engine, _ = workbench
    with engine.begin() as conn:
        user = add_user(conn, "cookie", PASSWORD, "team_lead")
        session = issue_token(conn, user, "session", datetime.now(UTC))
    client.cookies.set("recoup_session", session.token)
    assert client.get("/api/v1/me").status_code == 200
    assert client.post("/api/v1/accounts/A1/reveal").status_code == 403
    ok = client.post(
        "/api/v1/accounts/A1/reveal", headers={"X-CSRF-Token": str(session.csrf_token)}
    )
    assert ok.status_code == 200
    bearer_as_cookie = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {session.token}"}
    )
    assert bearer_as_cookie.status_code == 401  # a session is not an API token


def test_api__errors_are_json_with_a_stable_code(
    workbench: tuple[TestClient, sa.Engine, dict[str, str]],
) -> None:
    client, _, _ = workbench
    lead = _login(client, "lead")
    missing = client.get("/api/v1/accounts/NOPE", headers=lead)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    invalid = client.get("/api/v1/queue?limit=0", headers=lead)
    assert (invalid.status_code, invalid.json()["error"]["code"]) == (422, "invalid_request")
    assert "limit" in invalid.json()["error"]["message"]
    assert "X-Request-ID" in missing.headers
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    metrics = client.get("/metrics").text
    assert (
        'recoup_http_request_seconds_count{method="GET",route="/api/v1/accounts/{account_id}"'
        in (metrics)
    )
    assert client.get("/openapi.json").json()["info"]["title"] == "Recoup workbench API"


def test_audit__verify_finds_an_edited_and_a_deleted_entry(book: sa.Engine) -> None:  # noqa: F811
    log = t.audit_log
    with book.begin() as conn:
        for n in range(5):
            audit.append(conn, "tester", "test.entry", f"thing:{n}", {"n": n})
        assert audit.verify(conn).intact and audit.verify(conn).entries == 5
        seqs = conn.execute(sa.select(log.c.seq).order_by(log.c.seq)).scalars().all()
        conn.execute(log.update().where(log.c.seq == seqs[2]).values(detail=json.dumps({"n": 99})))
        edited = audit.verify(conn)
        assert (edited.intact, edited.broken_at) == (False, seqs[2])
        assert "edited" in edited.reason
        conn.execute(log.update().where(log.c.seq == seqs[2]).values(detail='{"n": 2}'))
        assert audit.verify(conn).intact  # put back exactly: the chain holds again
        conn.execute(log.delete().where(log.c.seq == seqs[1]))
        deleted = audit.verify(conn)
        assert (deleted.intact, deleted.broken_at) == (False, seqs[2])
        assert "deleted" in deleted.reason


def test_pages__team_leads_open_the_collection_report_and_collectors_may_not(
    workbench: tuple[TestClient, sa.Engine, dict[str, str]],
) -> None:
    client, engine, owners = workbench
    with engine.begin() as conn:
        lead = issue_token(
            conn, add_user(conn, "reporter", PASSWORD, "team_lead"), "session", datetime.now(UTC)
        )
        wang = issue_token(
            conn,
            add_user(conn, "wang2", PASSWORD, "collector", owner_id=owners["A1"]),
            "session",
            datetime.now(UTC),
        )
    client.cookies.set("recoup_session", lead.token)
    report = client.get("/reports/collection")
    assert report.status_code == 200, report.text
    assert report.headers["content-type"].startswith("text/html")
    assert "<svg" in report.text or "<table" in report.text
    assert "http://" not in report.text and "https://" not in report.text  # self-contained
    chinese = client.get("/reports/collection?lang=zh-CN")
    assert chinese.status_code == 200 and 'lang="zh-CN"' in chinese.text
    assert client.get("/reports/collection?days=3").status_code == 422
    client.cookies.set("recoup_session", wang.token)
    assert client.get("/reports/collection").status_code == 403

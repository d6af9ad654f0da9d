"""Complaints through the workbench API on a real store (SQLite and PostgreSQL): who may
record, read, list and resolve them; row-level access; idempotency; the personal text kept
from roles that may not read it and every reveal and change in the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from recoup.store import tables as t
from recoup.web import audit
from tests.integration.test_collection import book  # noqa: F401
from tests.integration.test_web_api import _audit, _login, workbench  # noqa: F401
from tests.integration.test_web_api_more import DAYTIME, ROLES, USERS, crew  # noqa: F401

Crew = tuple[TestClient, sa.Engine, dict[str, dict[str, str]]]
WORDS = "催收员一天打了十次电话"
#: After the book's contacts (February 2025) and before the clock of the test run.
RECEIVED = DAYTIME + timedelta(hours=1)

ALL = set(ROLES)
RECORDERS = {"collector", "agency_collector", "team_lead", "compliance_officer", "admin"}
HANDLERS = {"team_lead", "compliance_officer", "admin"}


def _add(client: TestClient, headers: dict[str, str], account: str = "A1", **body: Any) -> Any:
    payload = {
        "category": "contact_pressure",
        "channel": "call",
        "received_at": RECEIVED.isoformat(),
        "description": WORDS,
        **body,
    }
    return client.post(f"/api/v1/accounts/{account}/complaints", json=payload, headers=headers)


def _complaints(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                sa.select(t.complaints).order_by(t.complaints.c.complaint_key)
            ).mappings()
        ]


def test_api_complaints__every_endpoint_lets_in_exactly_the_roles_that_may_use_it(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    first = _add(client, headers["team_lead"], key="FIRST")
    assert first.status_code == 201, first.text
    key = first.json()["complaint"]["complaint_key"]
    endpoints: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
        (
            "POST",
            "/api/v1/accounts/{a}/complaints",
            {"category": "conduct", "channel": "call", "key": "K-{role}"},
            RECORDERS,
        ),
        ("GET", "/api/v1/accounts/{a}/complaints", None, ALL),
        ("GET", "/api/v1/complaints", None, HANDLERS),
        ("POST", f"/api/v1/complaints/{key}/resolution", {"resolution": "upheld"}, HANDLERS),
    ]
    for method, path, body, allowed in endpoints:
        for role in ROLES:
            url = path.format(a=USERS[role][1])
            sent = None if body is None else {k: v.format(role=role) for k, v in body.items()}
            response = client.request(method, url, json=sent, headers=headers[role])
            where = f"{role} {method} {url}: {response.status_code} {response.text[:200]}"
            if role in allowed:
                assert response.status_code in (200, 201), where
            else:
                assert response.status_code == 403, where
                assert response.json()["error"]["code"] == "forbidden", where
        anonymous = client.request(method, path.format(a="A1"), json=body)
        assert anonymous.status_code == 401, f"{method} {path}"
    # one complaint per recording role, each on the account that role works on
    recorded = {c["idempotency_key"]: c for c in _complaints(engine)}
    assert set(recorded) == {"FIRST"} | {f"K-{role}" for role in RECORDERS}
    assert recorded["K-agency_collector"]["created_by"] == USERS["agency_collector"][0]
    resolved = [c for c in _complaints(engine) if c["status"] == "resolved"]
    assert [c["complaint_key"] for c in resolved] == [key]
    assert len(_audit(engine, "complaint.resolve")) == 1  # the same again changed nothing


def test_api_complaints__a_collector_is_refused_accounts_not_theirs_and_it_is_logged(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    stranger = _login(client, "other")
    before = len(_audit(engine, "access.refused"))
    assert _add(client, stranger).status_code == 403
    assert client.get("/api/v1/accounts/A1/complaints", headers=stranger).status_code == 403
    assert _add(client, headers["agency_collector"], "A1").status_code == 403
    assert len(_audit(engine, "access.refused")) == before + 3
    assert _complaints(engine) == []
    # Handlers read the whole book: for them only a complaint that does not exist is refused.
    missing = client.post(
        "/api/v1/complaints/999/resolution",
        json={"resolution": "upheld"},
        headers=headers["compliance_officer"],
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def test_api_complaints__recorded_once_by_key_about_an_attempt_on_the_accounts_case(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    wang = headers["collector"]
    call = client.post(
        "/api/v1/accounts/A1/contacts",
        json={"channel": "call", "at": DAYTIME.isoformat(), "outcome": "refusal", "key": "C-1"},
        headers=wang,
    )
    assert call.status_code == 201, call.text

    first = _add(client, wang, key="K1", attempt_ref="C-1")
    assert first.status_code == 201, first.text
    complaint = first.json()["complaint"]
    with engine.connect() as conn:
        attempt, case = conn.execute(
            sa.select(t.contact_attempts.c.attempt_key, t.contact_attempts.c.case_key).where(
                t.contact_attempts.c.idempotency_key == "C-1"
            )
        ).one()
    assert first.json()["recorded"] is True
    assert (complaint["attempt_key"], complaint["case_key"]) == (attempt, case)
    assert complaint["status"] == "open" and complaint["description"] == WORDS
    assert datetime.fromisoformat(complaint["received_at"]) == RECEIVED

    again = _add(client, wang, key="K1", attempt_ref="C-1")
    assert (again.status_code, again.json()["recorded"]) == (200, False)
    assert again.json()["complaint"] == complaint
    other = _add(client, wang, key="K1", category="conduct")
    assert (other.status_code, other.json()["error"]["code"]) == (409, "conflict")
    assert len(_complaints(engine)) == 1
    [entry] = _audit(engine, "complaint.record")
    detail = json.loads(str(entry["detail"]))
    assert (
        detail["complaint_key"] == complaint["complaint_key"] and detail["attempt_key"] == attempt
    )
    assert WORDS not in str(entry["detail"])  # the audit log never holds the borrower's words
    stored = _complaints(engine)[0]["description"]
    assert stored == WORDS  # read back through the encrypting type
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT description FROM complaints").scalar_one()
    assert raw.startswith("enc2:")


def test_api_complaints__refusals_are_json_with_stable_codes_naming_the_field(
    crew: Crew,  # noqa: F811
) -> None:
    client, _, headers = crew
    lead = headers["team_lead"]
    future = datetime.now(UTC) + timedelta(days=2)
    for body, status, field in (
        ({"attempt_ref": "nope"}, 422, "attempt_ref"),
        ({"attempt_key": 999_999}, 422, "attempt_key"),
        ({"received_at": future.isoformat()}, 422, "received_at"),
        ({"received_at": "2025-02-14T10:00:00"}, 422, "received_at"),  # no offset
        ({"category": "rudeness"}, 422, "category"),
        ({"channel": "pigeon"}, 422, "channel"),
        ({"description": "x" * 2001}, 422, "description"),
        ({"key": "has spaces"}, 422, "key"),
    ):
        response = _add(client, lead, **body)
        error = response.json()["error"]
        assert (response.status_code, error["code"]) == (status, "invalid_request"), body
        assert field in error["message"], (body, error)
    missing = _add(client, lead, "NOPE")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def test_api_complaints__the_words_are_withheld_from_roles_that_may_not_read_them(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    key = _add(client, headers["collector"]).json()["complaint"]["complaint_key"]
    reveals = len(_audit(engine, "personal_data.reveal"))

    analyst = client.get("/api/v1/accounts/A1/complaints", headers=headers["risk_analyst"])
    [seen] = analyst.json()["complaints"]
    assert (seen["description"], seen["text_withheld"]) == (None, True)
    assert len(_audit(engine, "personal_data.reveal")) == reveals  # nothing was shown

    officer = client.get("/api/v1/accounts/A1/complaints", headers=headers["compliance_officer"])
    [read] = officer.json()["complaints"]
    assert (read["description"], read["text_withheld"]) == (WORDS, False)
    entry = _audit(engine, "personal_data.reveal")[-1]
    assert entry["actor"] == "comp" and entry["target"] == "account:A1"
    assert json.loads(str(entry["detail"]))["complaints"] == [key]


def test_api_complaints__listed_with_filters_for_those_who_handle_them(
    crew: Crew,  # noqa: F811
) -> None:
    client, _, headers = crew
    comp = headers["compliance_officer"]
    later = RECEIVED + timedelta(days=3)
    _add(client, headers["collector"], key="L1")
    _add(client, headers["agency_collector"], "A3", key="L2", category="conduct")
    resolved = _add(client, comp, "A2", key="L3", received_at=later.isoformat(), channel="web")
    done = client.post(
        f"/api/v1/complaints/{resolved.json()['complaint']['complaint_key']}/resolution",
        json={"resolution": "partly_upheld", "resolved_on": later.date().isoformat()},
        headers=comp,
    )
    assert done.status_code == 200, done.text

    def keys(**query: str) -> list[str]:
        response = client.get("/api/v1/complaints", params=query, headers=comp)
        assert response.status_code == 200, response.text
        return [c["key"] for c in response.json()["complaints"]]

    assert keys() == ["L3", "L2", "L1"]
    assert keys(status="open") == ["L2", "L1"]
    assert keys(status="resolved") == ["L3"]
    assert keys(category="conduct") == ["L2"]
    assert keys(**{"from": later.date().isoformat()}) == ["L3"]
    assert keys(to=RECEIVED.date().isoformat(), limit="1") == ["L2"]
    for bad in (
        {"status": "closed"},
        {"from": later.date().isoformat(), "to": RECEIVED.date().isoformat()},
        {"limit": "0"},
    ):
        response = client.get("/api/v1/complaints", params=bad, headers=comp)
        assert (response.status_code, response.json()["error"]["code"]) == (
            422,
            "invalid_request",
        ), bad


def test_api_complaints__resolved_once_audited_and_a_different_resolution_is_a_conflict(
    crew: Crew,  # noqa: F811
) -> None:
    client, engine, headers = crew
    comp = headers["compliance_officer"]
    key = _add(client, headers["collector"]).json()["complaint"]["complaint_key"]
    url = f"/api/v1/complaints/{key}/resolution"
    body = {
        "resolution": "upheld",
        "resolved_on": RECEIVED.date().isoformat(),
        "note": "calls capped at one a day",
    }

    done = client.post(url, json=body, headers=comp)
    assert done.status_code == 200, done.text
    resolved = done.json()
    assert (resolved["status"], resolved["resolution"], resolved["resolved_by"]) == (
        "resolved",
        "upheld",
        "comp",
    )
    assert resolved["resolution_note"] == "calls capped at one a day"
    again = client.post(url, json=body, headers=headers["team_lead"])
    assert (again.status_code, again.json()) == (200, resolved)
    other = client.post(url, json={**body, "resolution": "not_upheld"}, headers=comp)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "conflict")
    [entry] = _audit(engine, "complaint.resolve")
    assert json.loads(str(entry["detail"])) == {
        "complaint_key": key,
        "resolution": "upheld",
        "resolved_on": RECEIVED.date().isoformat(),
    }

    fresh = _add(client, headers["collector"], key="F").json()["complaint"]["complaint_key"]
    early = (RECEIVED - timedelta(days=1)).date().isoformat()
    too_early = client.post(
        f"/api/v1/complaints/{fresh}/resolution",
        json={"resolution": "upheld", "resolved_on": early},
        headers=comp,
    )
    assert (too_early.status_code, too_early.json()["error"]["code"]) == (422, "invalid_request")
    assert too_early.json()["error"]["message"].startswith("resolved_on: ")
    with engine.connect() as conn:
        assert audit.verify(conn).intact

"""The account, reveal and queue answers as the OpenAPI document describes them: concrete
schemas, not an untyped object, and real answers on a store (SQLite and PostgreSQL) that
conform to them. Other systems of the bank build clients from the document, so a regression
to an untyped answer, or a field leaving it, must fail here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
import sqlalchemy as sa
from fastapi.testclient import TestClient

from recoup.store import tables as t
from recoup.web.app import create_app
from recoup.web.settings import settings_from_env
from tests.integration.test_collection import book  # noqa: F401
from tests.integration.test_web_api import DAY, _login, workbench  # noqa: F401

Workbench = tuple[TestClient, sa.Engine, dict[str, str]]
ACCOUNT = ("/api/v1/accounts/{account_id}", "GET")
REVEAL = ("/api/v1/accounts/{account_id}/reveal", "POST")
QUEUE = ("/api/v1/queue", "GET")


def _document() -> dict[str, Any]:
    client = TestClient(create_app(sa.create_engine("sqlite://"), settings_from_env({})))
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def _object(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The object schema behind ``schema``: through a nullable ``anyOf`` and a ``$ref``."""
    if "anyOf" in schema:
        [schema] = [s for s in schema["anyOf"] if s.get("type") != "null"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert schema.get("type") == "object" and schema.get("properties"), schema
    return schema


def _answer(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation = document["paths"][path][method.lower()]
    return _object(document, operation["responses"]["200"]["content"]["application/json"]["schema"])


def _nullable(schema: dict[str, Any]) -> bool:
    return any(s.get("type") == "null" for s in schema.get("anyOf", []))


def test_openapi__the_account_reveal_and_queue_answers_have_concrete_schemas() -> None:
    document = _document()
    account = _answer(document, *ACCOUNT)
    fields = account["properties"]
    assert set(account["required"]) >= {
        "account_id",
        "as_of",
        "dpd",
        "bucket",
        "overdue",
        "outstanding_principal",
        "credit_balance",
        "next_due_date",
        "installments",
        "borrower",
        "moves",
        "case",
        "promises",
        "arrangements",
    }
    # The state at the last close, as AccountView.to_json gives it: flat fields and `overdue`.
    assert fields["dpd"]["type"] == "integer" and fields["bucket"]["type"] == "string"
    assert fields["as_of"]["format"] == "date" and _nullable(fields["next_due_date"])
    overdue = _object(document, fields["overdue"])
    assert set(overdue["required"]) == {"principal", "fee", "late_fee", "penalty_interest", "total"}
    assert overdue["properties"]["total"]["type"] == "string"  # money as text, never a number
    row = _object(document, fields["installments"]["items"])
    assert set(row["required"]) >= {"period", "plan_id", "due_date", "paid", "adjusted", "status"}
    assert row["properties"]["paid"]["type"] == "string"
    assert row["additionalProperties"] is False
    borrower = _object(document, fields["borrower"])
    point = _object(document, borrower["properties"]["contact_points"]["items"])
    assert set(point["required"]) >= {"kind", "value", "masked", "party", "status"}
    assert point["properties"]["masked"]["type"] == "boolean"
    assert "from" in _object(document, fields["moves"]["items"])["properties"]
    assert _nullable(fields["case"]) and "owner" in _object(document, fields["case"])["properties"]
    assert "promised_for" in _object(document, fields["promises"]["items"])["properties"]
    assert "arrangement" in _object(document, fields["arrangements"]["items"])["properties"]

    revealed = _answer(document, *REVEAL)
    assert set(revealed["required"]) == {"account_id", "contact_points"}
    assert _object(document, revealed["properties"]["contact_points"]["items"]) == point

    queue = _answer(document, *QUEUE)
    assert queue["properties"]["as_of"]["format"] == "date"
    case = _object(document, queue["properties"]["cases"]["items"])
    assert set(case["required"]) >= {"case_key", "account_id", "overdue", "next_action"}
    assert _nullable(case["properties"]["next_action"])
    next_action = _object(document, case["properties"]["next_action"])
    assert set(next_action["required"]) == {"on", "step", "channel"}


@pytest.fixture
def answers(workbench: Workbench) -> dict[str, httpx.Response]:  # noqa: F811
    """The account A1 with every kind of row (a hold, a promise, a waiver, a bucket move),
    its reveal, and the queue of a lead and of A1's collector."""
    client, engine, _ = workbench
    wang, lead = _login(client, "wang"), _login(client, "lead")
    a = t.accounts
    with engine.begin() as conn:
        borrower = conn.execute(sa.select(a.c.borrower_key).where(a.c.account_id == "A1")).scalar()
        conn.execute(
            t.borrower_flags.insert().values(
                borrower_key=borrower, flag="dispute", set_at=datetime.now(UTC), set_by="lead"
            )
        )
    open_day = DAY + timedelta(days=1)
    promise = {"amount": "300.00", "due_on": (open_day + timedelta(days=5)).isoformat()}
    made = client.post(
        "/api/v1/accounts/A1/promises", json={"installments": [promise]}, headers=wang
    )
    assert made.status_code == 201, made.text
    waiver = {"component": "fee", "amount": "10.00", "reason": "goodwill"}
    waived = client.post("/api/v1/accounts/A1/waivers", json=waiver, headers=wang)
    assert waived.status_code == 201, waived.text
    return {
        "account": client.get("/api/v1/accounts/A1", headers=lead),
        "reveal": client.post("/api/v1/accounts/A1/reveal", headers=wang),
        "queue": client.get("/api/v1/queue", headers=lead),
        "own queue": client.get("/api/v1/queue", headers=wang),
    }


def test_openapi__real_answers_conform_to_their_schemas(
    answers: dict[str, httpx.Response],
) -> None:
    schema = schemathesis.openapi.from_dict(_document())
    operations = {
        "account": schema[ACCOUNT[0]][ACCOUNT[1]],
        "reveal": schema[REVEAL[0]][REVEAL[1]],
        "queue": schema[QUEUE[0]][QUEUE[1]],
        "own queue": schema[QUEUE[0]][QUEUE[1]],
    }
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.text)
        operations[name].validate_response(response)  # raises when it breaks the schema

    account = answers["account"].json()
    assert account["borrower"]["holds"] == ["dispute"]
    assert account["moves"] and account["case"] and account["promises"]
    assert [r["kind"] for r in account["arrangements"]] == ["waiver"]
    assert all(p["masked"] for p in account["borrower"]["contact_points"])
    assert not any(p["masked"] for p in answers["reveal"].json()["contact_points"])
    assert any(c["next_action"] for c in answers["queue"].json()["cases"])

    # The check bites: an answer with a number for money, without a field or with one the
    # document does not know is refused.
    request = answers["account"].request
    row = account["installments"][0]
    for broken in (
        account | {"installments": [row | {"paid": 12.5}]},
        {k: v for k, v in account.items() if k != "bucket"},
        account | {"state": {}},
    ):
        tampered = httpx.Response(200, json=broken, request=request)
        tampered.elapsed = timedelta(0)  # as if it had been read from the wire
        assert not operations["account"].is_valid_response(tampered)

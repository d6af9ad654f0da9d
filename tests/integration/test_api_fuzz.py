"""Property-based fuzzing of the REST API from its own OpenAPI document (Schemathesis).

Every operation gets generated requests, each sent as a team lead and as a collector (the
login endpoint without a token, logout with a token of its own so the others stay valid).
Checks: no 5xx, and every response conforms to the schema the document gives for its status.
The store is SQLite, built once for the module; examples are bounded so the run stays short.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from recoup.allocation import default_teams_path, load_teams
from recoup.close import close_through
from recoup.collection.allocation_run import run_allocation
from recoup.collection.daily import run_daily_strategy
from recoup.importer import import_directory
from recoup.store import tables as t
from recoup.store.engine import open_store
from recoup.strategy import load_default_strategy
from recoup.web.app import create_app
from recoup.web.settings import settings_from_env
from recoup.web.users import User, add_user, issue_token
from tests.integration.portfolio_files import write_accounts, write_payments, write_products
from tests.integration.test_collection import FIRST_DUE, RandomAccount, _on_time_payments, _plan

EXAMPLES = 12
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """The integration tests' small book, closed, worked by the strategy and allocated."""
    folder = tmp_path_factory.mktemp("fuzz")
    engine = open_store(f"sqlite:///{folder / 'store.db'}")
    accounts = [
        RandomAccount(1, [_plan(1)], []),
        RandomAccount(2, [_plan(2)], _on_time_payments(2)),
        RandomAccount(3, [_plan(3)], []),
    ]
    book = folder / "book"
    book.mkdir()
    write_products(book)
    write_accounts(book, accounts)
    write_payments(book, [(a.account_key, p) for a in accounts for p in a.payments])
    import_directory(engine, book, show_progress=False)
    day = FIRST_DUE + timedelta(days=3)
    close_through(engine, day)
    run_daily_strategy(engine, load_default_strategy(), day)
    run_allocation(engine, load_teams(default_teams_path()), day)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def users(fuzz_store: sa.Engine) -> dict[str, tuple[User, str]]:
    """A team lead and the collector of A1's case, each with an API token."""
    c, a = t.cases, t.accounts
    now = datetime.now(UTC)
    with fuzz_store.begin() as conn:
        owner = conn.execute(
            sa.select(c.c.owner)
            .join(a, a.c.account_key == c.c.account_key)
            .where(a.c.account_id == "A1", c.c.status == "open")
        ).scalar_one()
        lead = add_user(conn, "fuzz-lead", "correct horse battery", "team_lead")
        collector = add_user(
            conn, "fuzz-collector", "correct horse battery", "collector", owner_id=owner
        )
        return {
            "lead": (lead, issue_token(conn, lead, "api", now).token),
            "collector": (collector, issue_token(conn, collector, "api", now).token),
        }


#: The application, made at import so its OpenAPI document can parametrise the test; its
#: store is set by the ``app_store`` fixture (routes read ``app.state.engine`` per request).
APP = create_app(sa.create_engine("sqlite://"), settings_from_env({}))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def app_store(fuzz_store: sa.Engine) -> None:
    APP.state.engine = fuzz_store


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_api_fuzz__no_input_gives_a_server_error_or_breaks_the_schema(
    case: schemathesis.Case, users: dict[str, tuple[User, str]], fuzz_store: sa.Engine
) -> None:
    if case.path == "/api/v1/auth/token":
        case.call_and_validate(checks=CHECKS)
        return
    for who in ("lead", "collector"):
        user, token = users[who]
        if case.path == "/api/v1/auth/logout":  # a token of its own: the others stay valid
            with fuzz_store.begin() as conn:
                token = issue_token(conn, user, "api", datetime.now(UTC)).token
        headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        case.call_and_validate(headers=headers, checks=CHECKS)


def test_api_fuzz__the_document_covers_every_operation() -> None:
    paths = schema.raw_schema["paths"]
    operations = sum(len(methods) for methods in paths.values())
    assert operations >= 30

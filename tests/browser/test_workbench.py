"""The web app in a real browser: headless Chromium (Debian's ``chromium`` package) driven by
Playwright, against the app served by uvicorn over a store that was closed, worked by the
strategy and allocated.

Chromium is part of the project's setup (``make test`` installs it), so a missing browser is
a failure with a message, never a skip. Screenshots of the main pages are written to
``test-artifacts/screenshots/`` (``RECOUP_SCREENSHOTS`` to put them elsewhere).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from recoup.allocation import default_teams_path, load_teams
from recoup.close import close_through
from recoup.collection.allocation_run import run_allocation
from recoup.collection.daily import run_daily_strategy
from recoup.store import tables as t
from recoup.store.engine import open_store
from recoup.strategy import load_default_strategy
from recoup.web.app import create_app
from recoup.web.settings import settings_from_env
from recoup.web.users import add_user
from tests.integration.test_collection import FIRST_DUE, book  # noqa: F401

DAY = FIRST_DUE + timedelta(days=3)
PASSWORD = "correct horse battery"
SCREENSHOTS = Path(
    os.environ.get("RECOUP_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
)


def chromium_path() -> str:
    """Debian's Chromium, or ``RECOUP_CHROMIUM``; a clear failure when there is none."""
    for candidate in (
        os.environ.get("RECOUP_CHROMIUM"),
        shutil.which("chromium"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(
        "the browser tests need Debian's chromium package (apt-get install chromium; "
        "`make test` installs it when run as root) or RECOUP_CHROMIUM=/path/to/chromium",
        pytrace=False,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def server(book: sa.Engine) -> Iterator[tuple[str, sa.Engine]]:  # noqa: F811
    """The workbench on a free port, over the book closed, worked and allocated, with a
    collector for account A1's case, a team lead, a compliance officer and a risk analyst."""
    close_through(book, DAY)
    run_daily_strategy(book, load_default_strategy(), DAY)
    run_allocation(book, load_teams(default_teams_path()), DAY)
    c, a = t.cases, t.accounts
    with book.begin() as conn:
        owner = conn.execute(
            sa.select(c.c.owner)
            .join(a, a.c.account_key == c.c.account_key)
            .where(a.c.account_id == "A1", c.c.status == "open")
        ).scalar_one()
        add_user(conn, "wang", PASSWORD, "collector", owner_id=owner, display_name="Wang Fang")
        add_user(conn, "lead", PASSWORD, "team_lead", display_name="Li Lead")
        add_user(conn, "audit", PASSWORD, "compliance_officer")
        add_user(conn, "analyst", PASSWORD, "risk_analyst")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(book, settings_from_env({})), host="127.0.0.1", port=port, log_level="warning"
    )
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not served.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the workbench did not start", pytrace=False)
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", book
    served.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True)
        yield launched
        launched.close()


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _log_in(browser: Browser, base: str, username: str, shot: str | None = None) -> Page:
    page = browser.new_context(base_url=base, viewport={"width": 1360, "height": 900}).new_page()
    page.goto("/")  # no session: sent to the login page
    expect(page).to_have_url(f"{base}/login?next=/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    if shot:
        _shot(page, shot)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/")
    return page


def test_browser__a_collector_opens_the_top_case_sees_it_masked_and_records_a_promise(
    server: tuple[str, sa.Engine], browser: Browser
) -> None:
    base, engine = server
    page = _log_in(browser, base, "wang", shot="login")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "recoup_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    rows = page.locator("#queue tbody tr")
    expect(rows.first).to_contain_text("A1")  # only the cases allocated to wang
    assert rows.count() == 1
    expect(rows.first.locator(".promise")).to_have_text("—")
    _shot(page, "queue")

    rows.first.locator("a.account-link").click()
    expect(page).to_have_url(f"{base}/accounts/A1")
    points = page.locator("#contact-points")
    expect(points).to_contain_text("138****")
    assert "13800000001" not in points.inner_text()  # masked: the digits are not on the page
    expect(page.locator("#gate")).to_contain_text("call")
    _shot(page, "account")

    page.fill("#promise-form input[name=amount]", "300.00")
    page.click("#promise-form button[type=submit]")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#promises")).to_contain_text("300.00")

    page.click("header nav >> text=My queue")
    expect(page.locator("#queue tbody tr").first.locator(".promise")).to_contain_text("300.00")

    log = t.audit_log
    with engine.connect() as conn:
        actions = conn.execute(
            sa.select(log.c.action).where(log.c.actor == "wang").order_by(log.c.seq)
        ).scalars()
        assert "promise.record" in list(actions)

    for path in ("/team", "/accounts/A3"):  # not a collector's page; someone else's case
        refused = page.goto(path)
        assert refused is not None and refused.status == 403
        expect(page.locator("h1")).to_contain_text("403")
    with engine.connect() as conn:
        targets = conn.execute(
            sa.select(log.c.target).where(log.c.action == "access.refused", log.c.actor == "wang")
        ).scalars()
        assert set(targets) == {"page:/team", "account:A3"}

    page.click("header form button")  # log out: the session is revoked
    expect(page).to_have_url(f"{base}/login")
    page.goto("/")
    expect(page).to_have_url(f"{base}/login?next=/")


def test_browser__a_team_lead_approves_the_waiver_a_collector_asked_for(
    server: tuple[str, sa.Engine], browser: Browser
) -> None:
    base, engine = server
    collector = _log_in(browser, base, "wang")
    collector.goto("/accounts/A1")
    collector.locator("#forms summary", has_text="Ask for a waiver").click()
    collector.select_option("#waiver-form select[name=component]", "fee")
    collector.fill("#waiver-form input[name=amount]", "100%")  # a collector may waive 50%
    collector.fill("#waiver-form input[name=reason]", "hardship: hospital stay")
    collector.click("#waiver-form button[type=submit]")
    expect(collector.locator("#done")).to_contain_text("needs approval")
    expect(collector.locator("#requests")).to_contain_text("pending")

    lead = _log_in(browser, base, "lead")
    expect(lead.locator("#queue tbody tr")).to_have_count(2)  # a lead sees every open case
    lead.click("header nav >> text=Team")
    row = lead.locator("#approvals tr", has_text="A1")
    expect(row).to_contain_text("wang (collector)")
    _shot(lead, "team")
    row.locator("button[value=approve]").click()
    expect(lead.locator("#done")).to_be_visible()
    expect(lead.locator("#approvals")).not_to_contain_text("A1")

    collector.goto("/accounts/A1")
    expect(collector.locator("#requests .status")).to_have_text("approved")
    r = t.arrangement_requests
    with engine.connect() as conn:
        assert conn.execute(sa.select(r.c.status)).scalar_one() == "approved"
        assert conn.execute(sa.select(sa.func.count()).select_from(t.arrangements)).scalar() == 1

    lead.goto("/?lang=zh-CN")
    expect(lead.locator("h1")).to_have_text("我的队列")
    _shot(lead, "queue-zh")


def test_browser__compliance_reveals_and_searches_the_audit_log_and_risk_reads_the_strategy(
    server: tuple[str, sa.Engine], browser: Browser
) -> None:
    base, _ = server
    officer = _log_in(browser, base, "audit")
    officer.goto("/accounts/A1")
    officer.click("#reveal")
    expect(officer.locator("#contact-points")).to_contain_text("13800000001")
    officer.goto("/compliance?action=personal_data.")
    expect(officer.locator("#audit")).to_contain_text("account:A1")
    _shot(officer, "compliance")

    analyst = _log_in(browser, base, "analyst")
    analyst.goto("/strategy")
    expect(analyst.locator("#strategy-text")).to_contain_text("Segments")
    _shot(analyst, "strategy")
    analyst.goto("/accounts/A1")
    expect(analyst.locator("#reveal")).to_have_count(0)  # a risk analyst may not reveal

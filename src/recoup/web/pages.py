"""The web app: server-rendered pages for collectors, team leads, compliance and strategy.

Pages are Jinja2 templates (``templates/``) with a small script and style sheet of our own
(``static/``, no CDN: the machines are offline). Forms are plain HTML forms that post and
redirect; every form carries the session's CSRF token, and the login form a token of its own
(a cookie it must match), since there is no session yet.

Authentication is the ``recoup_session`` cookie the login page sets (HttpOnly, SameSite=Lax,
Secure in production). Access is the API's: role permissions (:mod:`recoup.web.security`)
and, for collectors, the cases allocated to them (:mod:`recoup.web.access`); a refused page
is a plain HTML 403 page, and the refusal is in the audit log. A page without a session
sends the browser to the login page. The words are English or Chinese
(:mod:`recoup.web.page_text`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from recoup.compliance import Channel, Outcome
from recoup.money import format_cents
from recoup.store import tables as t
from recoup.web import audit, page_actions, page_data
from recoup.web.access import readable_account
from recoup.web.app import ApiError, engine_of
from recoup.web.auth import SESSION_COOKIE, current_session
from recoup.web.page_text import LANG_COOKIE, LANGUAGES, choose_language, translator
from recoup.web.security import Permission, allowed, same_secret
from recoup.web.users import Session, User, UserRefused, authenticate, issue_token, revoke_token

HERE = Path(__file__).parent
LOGIN_CSRF_COOKIE = "recoup_login_csrf"

router = APIRouter(include_in_schema=False)
_TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

#: Sent with every page: no framing, scripts and styles from this server only.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class PageRefused(Exception):
    """A page that cannot be shown: 401 sends the browser to the login page, anything else
    is a plain HTML error page with the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def mount(app: FastAPI) -> None:
    """Serve the static files and answer page errors with HTML (the API keeps its JSON)."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        if exc.status == 401:
            target = request.url.path
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        page = getattr(request.state, "page", None)  # the error page keeps the menu
        context = {"status": exc.status, "message": exc.message}
        return render(request, "error.html", context, page=page, status=exc.status)

    app.add_exception_handler(PageRefused, refused)


# --------------------------------------------------------------------------- rendering


def language(request: Request) -> str:
    return choose_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    page: Page | None = None,
    status: int = 200,
) -> HTMLResponse:
    lang = language(request)
    other = "en" if lang == "zh-CN" else "zh-CN"
    html = _TEMPLATES.get_template(template).render(
        **context,
        t=translator(lang),
        lang=lang,
        switch_url=f"{request.url.path}?lang={other}",
        user=page.user if page else None,
        csrf=page.csrf if page else "",
        can=(lambda p: allowed(page.user.role, Permission(p))) if page else (lambda p: False),
        path=request.url.path,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


@contextmanager
def _as_page() -> Iterator[None]:
    """The API's refusals (403 not allocated, 404 no such account) as page errors."""
    try:
        yield
    except ApiError as exc:
        raise PageRefused(exc.status_code, str(exc.detail)) from None


# --------------------------------------------------------------------------- who is asking


@dataclass(frozen=True, slots=True)
class Page:
    user: User
    csrf: str


async def page_session(request: Request) -> Page:
    """The web session of the request (the cookie, with the CSRF token on forms)."""
    if SESSION_COOKIE not in request.cookies:
        raise PageRefused(401, "log in first")
    try:
        session: Session = await current_session(request)
    except ApiError as exc:
        raise PageRefused(exc.status_code, str(exc.detail)) from None
    if session.kind != "session" or not session.csrf_token:
        raise PageRefused(401, "log in first")
    page = Page(session.user, session.csrf_token)
    request.state.page = page
    return page


PageDep = Annotated[Page, Depends(page_session)]


def _require(request: Request, page: Page, *permissions: Permission) -> None:
    """Refuse (and record) a page the user's role may not see: any of ``permissions``."""
    if any(allowed(page.user.role, p) for p in permissions):
        return
    with engine_of(request).begin() as conn:
        audit.append(
            conn,
            page.user.username,
            "access.refused",
            f"page:{request.url.path}",
            {"role": page.user.role.value},
        )
    raise PageRefused(403, f"a {page.user.role.value} may not open {request.url.path}")


# --------------------------------------------------------------------------- login


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", {"login_csrf": token, "next": _safe_next(next)})
    settings = request.app.state.settings
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/login",
    )
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    t = translator(language(request))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not csrf_token or not same_secret(expected, csrf_token):
        return _login_again(request, t("login.expired"), next)
    now = datetime.now(UTC)
    issued = None
    with engine_of(request).begin() as conn:
        try:
            user = authenticate(conn, username, password, now)
        except UserRefused:
            pass  # the failure and its audit entry are committed
        else:
            issued = issue_token(conn, user, "session", now)
    if issued is None:
        return _login_again(request, t("login.refused"), next)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=int((issued.expires_at - now).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure_cookies,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _login_again(request: Request, message: str, next: str) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next": _safe_next(next), "error": message},
        status=401,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.secure_cookies,
        path="/login",
    )
    return response


@router.post("/logout")
def logout(request: Request, page: PageDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    with engine_of(request).begin() as conn:
        revoke_token(conn, token, datetime.now(UTC))
        audit.append(conn, page.user.username, "logout", f"user:{page.user.username}", {})
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- queue


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request, page: PageDep) -> Response:
    from recoup.web import api

    with _as_page():
        found = api.queue(request=request, user=page.user, owner=None, limit=50)
    cases = found["cases"]
    engine = engine_of(request)
    with engine.connect() as conn:
        borrowers = page_data.borrower_keys(conn, [c["account_id"] for c in cases])
        verdicts = page_data.contact_now(
            conn,
            [(c["account_id"], borrowers[c["account_id"]]) for c in cases],
            (Channel.CALL, Channel.SMS),
            datetime.now(UTC),
            page_data.gate_profile(),
        )
        promises = page_data.open_promises(conn, [c["case_key"] for c in cases])
    rows = []
    for case in cases:
        step = case["next_action"]
        channel = Channel.SMS if step and step["channel"] == "sms" else Channel.CALL
        rows.append(
            case
            | {
                "verdict": verdicts[(case["account_id"], channel)],
                "promise": promises.get(case["case_key"]),
            }
        )
    return render(request, "queue.html", {"as_of": found["as_of"], "rows": rows}, page=page)


# --------------------------------------------------------------------------- account


def _account_page(
    request: Request,
    page: Page,
    account_id: str,
    *,
    revealed: bool = False,
    error: str | None = None,
    done: str | None = None,
    plan: page_actions.PlanPreview | None = None,
    plan_form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    from recoup.collection.arrangements import ArrangementRefused, owed_now
    from recoup.web import api

    engine = engine_of(request)
    with _as_page():
        document = api.account(account_id, request, page.user)
    with engine.connect() as conn:
        a = t.accounts
        key, borrower_key = conn.execute(
            sa.select(a.c.account_key, a.c.borrower_key).where(a.c.account_id == account_id)
        ).one()
        points = page_data.contact_points(conn, key, reveal=revealed)
        extras = page_data.account_extras(conn, key)
        channels = (Channel.CALL, Channel.SMS, Channel.EMAIL)
        verdicts = page_data.contact_now(
            conn,
            [(account_id, borrower_key)],
            channels,
            datetime.now(UTC),
            page_data.gate_profile(),
        )
        try:
            owed = owed_now(conn, account_id).owed
        except ArrangementRefused:
            owed = None
    context = {
        "doc": document,
        "account_id": account_id,
        "points": points,
        "revealed": revealed,
        "extras": extras,
        "gate": [verdicts[(account_id, c)] for c in channels],
        "owed": None
        if owed is None
        else {
            "penalty": format_cents(owed.penalty),
            "late_fee": format_cents(owed.late_fee),
            "fee": format_cents(owed.fee_overdue),
        },
        "error": error,
        "done": done,
        "plan": plan,
        "plan_form": plan_form or {"term": "12", "down": "0"},
        "channels": [c.value for c in page_actions.LOGGED_CHANNELS],
        "outcomes": [o.value for o in page_actions.LOGGED_OUTCOMES],
        "today": datetime.now(UTC).date().isoformat(),
        "promise_by": (datetime.now(UTC).date() + timedelta(days=7)).isoformat(),
    }
    return render(request, "account.html", context, page=page, status=status)


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    request: Request,
    account_id: str,
    page: PageDep,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return _account_page(request, page, account_id, done=done)


@router.post("/accounts/{account_id}/reveal", response_class=HTMLResponse)
def reveal(request: Request, account_id: str, page: PageDep) -> Response:
    _require(request, page, Permission.REVEAL_PERSONAL_DATA)
    engine = engine_of(request)
    with _as_page(), engine.begin() as conn:
        key = readable_account(engine, conn, page.user, account_id)
        kinds = sorted({p["kind"] for p in page_data.contact_points(conn, key, reveal=False)})
        audit.append(
            conn,
            page.user.username,
            "personal_data.reveal",
            f"account:{account_id}",
            {"fields": kinds, "via": "web"},
        )
    return _account_page(request, page, account_id, revealed=True)


def _change(request: Request, page: Page, account_id: str, permission: Permission) -> sa.Engine:
    """Checks before a change to an account: the role may, and the account is theirs."""
    _require(request, page, permission)
    engine = engine_of(request)
    with _as_page(), engine.connect() as conn:
        readable_account(engine, conn, page.user, account_id)
    return engine


def _done(account_id: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"/accounts/{quote(account_id)}?done={what}", status_code=303)


@router.post("/accounts/{account_id}/outcome", response_class=HTMLResponse)
def log_outcome(
    request: Request,
    account_id: str,
    page: PageDep,
    channel: Annotated[str, Form(max_length=16)],
    point: Annotated[int, Form()],
    outcome: Annotated[str, Form(max_length=32)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    engine = _change(request, page, account_id, Permission.CONTACT)
    try:
        if channel not in {c.value for c in page_actions.LOGGED_CHANNELS}:
            raise page_actions.ActionRefused(f"unknown channel {channel!r}")
        if outcome not in {o.value for o in page_actions.LOGGED_OUTCOMES}:
            raise page_actions.ActionRefused(f"unknown outcome {outcome!r}")
        with engine.begin() as conn:
            page_actions.log_outcome(
                conn,
                page.user,
                account_id,
                channel=Channel(channel),
                point_key=point,
                outcome=Outcome(outcome),
                note=note,
                profile=page_data.gate_profile(),
                now=datetime.now(UTC),
            )
    except page_actions.ActionRefused as exc:
        return _account_page(request, page, account_id, error=str(exc), status=422)
    return _done(account_id, "outcome")


@router.post("/accounts/{account_id}/promise", response_class=HTMLResponse)
def record_promise(
    request: Request,
    account_id: str,
    page: PageDep,
    point: Annotated[int, Form()],
    amount: Annotated[str, Form(max_length=32)],
    promised_for: Annotated[str, Form(max_length=10)],
    channel: Annotated[str, Form(max_length=16)] = "call",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    engine = _change(request, page, account_id, Permission.CONTACT)
    try:
        try:
            by = date.fromisoformat(promised_for)
        except ValueError:
            raise page_actions.ActionRefused(f"not a date: {promised_for!r}") from None
        if channel not in {c.value for c in page_actions.LOGGED_CHANNELS}:
            raise page_actions.ActionRefused(f"unknown channel {channel!r}")
        cents = page_actions.cents(amount, "amount")
        with engine.begin() as conn:
            page_actions.log_outcome(
                conn,
                page.user,
                account_id,
                channel=Channel(channel),
                point_key=point,
                outcome=Outcome.PROMISE_TO_PAY,
                note=note,
                profile=page_data.gate_profile(),
                now=datetime.now(UTC),
                promise=(cents, by),
            )
    except page_actions.ActionRefused as exc:
        return _account_page(request, page, account_id, error=str(exc), status=422)
    return _done(account_id, "promise")


@router.post("/accounts/{account_id}/waiver", response_class=HTMLResponse)
def ask_waiver(
    request: Request,
    account_id: str,
    page: PageDep,
    component: Annotated[str, Form(max_length=16)],
    amount: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    engine = _change(request, page, account_id, Permission.CONTACT)
    try:
        with engine.begin() as conn:
            asked = page_actions.ask_waiver(
                conn,
                page.user,
                account_id,
                component=component,
                amount=amount,
                reason=reason,
                now=datetime.now(UTC),
            )
    except page_actions.ActionRefused as exc:
        return _account_page(request, page, account_id, error=str(exc), status=422)
    return _done(account_id, "waiver_granted" if asked.granted else "waiver_pending")


@router.post("/accounts/{account_id}/plan", response_class=HTMLResponse)
def plan(
    request: Request,
    account_id: str,
    page: PageDep,
    term: Annotated[int, Form(ge=1, le=60)] = 12,
    down: Annotated[str, Form(max_length=32)] = "0",
    sign: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    engine = _change(request, page, account_id, Permission.CONTACT)
    form = {"term": str(term), "down": down}
    try:
        if not sign:
            with engine.connect() as conn:
                preview = page_actions.preview_plan(conn, account_id, term, down)
            return _account_page(request, page, account_id, plan=preview, plan_form=form)
        with engine.begin() as conn:
            asked = page_actions.sign_plan(
                conn, page.user, account_id, term, down, datetime.now(UTC)
            )
    except page_actions.ActionRefused as exc:
        return _account_page(request, page, account_id, error=str(exc), plan_form=form, status=422)
    return _done(account_id, "plan_signed" if asked.granted else "plan_pending")


# --------------------------------------------------------------------------- team


#: The team page's confirmations, by the ``done`` query parameter.
TEAM_DONE = ("decided", "reassigned", "unchanged")


def _team_page(
    request: Request,
    page: Page,
    *,
    done: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    from recoup.web.api_cases import teams_in_force

    with _as_page():
        teams = teams_in_force()
    with engine_of(request).connect() as conn:
        context = {
            "buckets": page_data.bucket_table(conn),
            "roll": page_data.roll_rates(conn),
            "performance": page_data.performance(conn),
            "approvals": page_data.approvals(conn),
            "allocation": page_data.allocation_view(conn, teams),
            "done": done if done in TEAM_DONE else None,
            "error": error,
            "reassign_form": form or {},
        }
    return render(request, "team.html", context, page=page, status=status)


@router.get("/team", response_class=HTMLResponse)
def team_page(
    request: Request, page: PageDep, done: Annotated[str | None, Query(max_length=16)] = None
) -> Response:
    _require(request, page, Permission.READ_REPORTS, Permission.APPROVE)
    return _team_page(request, page, done=done)


@router.post("/team/assignment", response_class=HTMLResponse)
def reassign_case(
    request: Request,
    page: PageDep,
    account_id: Annotated[str, Form(max_length=64)],
    owner: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """A team lead gives an account's open case to another collector or an agency."""
    from recoup.web.api_cases import teams_in_force

    _require(request, page, Permission.ASSIGN_CASES)
    form = {"account_id": account_id, "owner": owner, "reason": reason}
    with _as_page():
        teams = teams_in_force()
    try:
        with engine_of(request).begin() as conn:
            done = page_actions.reassign_case(
                conn,
                page.user,
                account_id,
                owner,
                reason,
                config=teams,
                profile=page_data.gate_profile(),
                now=datetime.now(UTC),
            )
    except page_actions.ActionRefused as exc:
        return _team_page(request, page, error=str(exc), form=form, status=422)
    what = "reassigned" if done.changed else "unchanged"
    return RedirectResponse(f"/team?done={what}#allocation", status_code=303)


@router.post("/team/requests/{request_key}")
def decide_request(
    request: Request,
    request_key: int,
    page: PageDep,
    decision: Annotated[str, Form(max_length=8)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _require(request, page, Permission.APPROVE)
    if decision not in ("approve", "reject"):
        raise PageRefused(422, f"a decision is approve or reject, not {decision!r}")
    try:
        with engine_of(request).begin() as conn:
            page_actions.decide_request(
                conn, page.user, request_key, decision == "approve", reason, datetime.now(UTC)
            )
    except page_actions.ActionRefused as exc:
        raise PageRefused(422, str(exc)) from None
    return RedirectResponse("/team?done=decided", status_code=303)


@router.get("/reports/collection", response_class=HTMLResponse)
def collection_report(request: Request, page: PageDep, days: int = 90) -> Response:
    """The collection report of ``recoup report`` (docs/analytics.md) for the ``days`` up to
    the last closed day, in the page's language: the same charts as the HTML file."""
    _require(request, page, Permission.READ_REPORTS)
    if not 7 <= days <= 730:
        raise PageRefused(422, f"a report covers 7 to 730 days, not {days}")
    from datetime import timedelta

    from recoup.analytics.report import build_report, render_html
    from recoup.close import last_closed_day
    from recoup.store.analytics_reads import read_report_inputs

    with engine_of(request).connect() as conn:
        to_day = last_closed_day(conn)
        if to_day is None:
            raise PageRefused(409, "no day has been closed yet: there is nothing to report")
        inputs = read_report_inputs(conn, to_day - timedelta(days=days - 1), to_day, None)
    return HTMLResponse(render_html(build_report(inputs), language(request)))


# --------------------------------------------------------------------------- compliance


@router.get("/compliance", response_class=HTMLResponse)
def compliance_page(
    request: Request,
    page: PageDep,
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    target: Annotated[str, Query(max_length=120)] = "",
) -> Response:
    _require(request, page, Permission.READ_AUDIT)
    from recoup.close import last_closed_day

    with engine_of(request).connect() as conn:
        as_of = last_closed_day(conn) or datetime.now(UTC).date()
        context = {
            "blocked": page_data.blocked_contacts(conn),
            "quality": page_data.quality(conn, as_of - timedelta(days=90)),
            "entries": page_data.audit_search(conn, actor.strip(), action.strip(), target.strip()),
            "search": {"actor": actor, "action": action, "target": target},
        }
    return render(request, "compliance.html", context, page=page)


# --------------------------------------------------------------------------- strategy


@router.get("/strategy", response_class=HTMLResponse)
def strategy_page(request: Request, page: PageDep) -> Response:
    _require(request, page, Permission.READ_REPORTS, Permission.READ_MODELS)
    from recoup.close import last_closed_day

    with engine_of(request).connect() as conn:
        context = {
            "strategy": page_data.strategy_story(conn, last_closed_day(conn)),
            "models": page_data.models(conn),
        }
    return render(request, "strategy.html", context, page=page)


@router.get("/strategy/models/{model_id}", response_class=HTMLResponse)
def model_card(request: Request, model_id: str, page: PageDep) -> Response:
    _require(request, page, Permission.READ_MODELS)
    from recoup.scoring.registry import ModelRefused

    try:
        with engine_of(request).connect() as conn:
            html = page_data.model_card_page(conn, model_id)
    except ModelRefused as exc:
        raise PageRefused(404, str(exc)) from None
    # The card carries its own inline style: allow it for this page only.
    headers = SECURITY_HEADERS | {
        "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'"
    }
    return HTMLResponse(html, headers=headers)

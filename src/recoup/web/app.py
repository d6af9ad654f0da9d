"""The workbench's HTTP application: the REST API under ``/api/v1`` and the web pages.

One FastAPI application, served by ``recoup serve``. Around every request: a request id
(``X-Request-ID``, made up when absent) in the response and in the one JSON log line the
request writes; its latency in the Prometheus histogram at ``/metrics``; and errors as JSON
``{"error": {"code", "message"}}`` with a stable code (``invalid_request``, ``unauthorised``,
``forbidden``, ``not_found``, ``conflict``, ``refused``, ``internal``), never a stack trace.

Authentication: ``Authorization: Bearer <token>`` (from ``POST /api/v1/auth/token``) for the
API, the ``recoup_session`` cookie (from the login page) for the web app; forms of the web app
carry the session's CSRF token. Authorisation is by role (:mod:`recoup.web.security`) and, for
collectors, by the cases allocated to them (:mod:`recoup.web.access`).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import Engine

from recoup.store.crypto import set_data_key
from recoup.web.settings import Settings
from recoup.web.store_metrics import StoreCollector

LOG = logging.getLogger("recoup.web")

#: Database connections a server process keeps (and as many more in a burst): about one per
#: request in flight, which AnyIO's thread pool bounds at 40 per process.
SERVER_CONNECTIONS = 20

#: HTTP status -> the stable error code of the JSON body.
ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorised",
    403: "forbidden",
    404: "not_found",
    405: "invalid_request",
    409: "conflict",
    422: "invalid_request",
    423: "refused",
    429: "refused",
}


class ApiError(HTTPException):
    """An error with a stable code and a plain message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status_code=status, detail=message)
        self.code = code


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class Metrics:
    """The application's Prometheus metrics, in a registry of its own (tests make many apps)."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        # The batch's step durations and the day's contacts sent and blocked, from the store.
        self.registry.register(StoreCollector(engine))
        self.latency = Histogram(
            "recoup_http_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
        )
        self.contacts = Counter(
            "recoup_contact_decisions_total",
            "Contacts judged by the compliance gate, by outcome and rule",
            ["allowed", "rule"],
            registry=self.registry,
        )


def create_app(engine: Engine, settings: Settings) -> FastAPI:
    """The application over ``engine`` (a migrated store)."""
    app = FastAPI(
        title="Recoup workbench API",
        version="1",
        description="Collections for overdue installment credit: accounts, cases, contacts "
        "through the compliance gate, promises, arrangements and approvals.",
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.settings = settings
    set_data_key(settings.data_key)  # personal data at rest (recoup.store.crypto)
    app.state.metrics = Metrics(engine)

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
        except Exception:  # the JSON 500 below; never a stack trace to the client
            LOG.exception("unhandled error", extra={"request_id": request_id})
            response = JSONResponse(
                error_body("internal", f"internal error; quote request id {request_id}"),
                status_code=500,
            )
        seconds = time.perf_counter() - started
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        app.state.metrics.latency.labels(request.method, path, str(status)).observe(seconds)
        response.headers["X-Request-ID"] = request_id
        LOG.info(
            json.dumps(
                {
                    "at": datetime.now(UTC).isoformat(),
                    "request_id": request_id,
                    "method": request.method,
                    "route": path,
                    "status": status,
                    "ms": round(seconds * 1000, 2),
                    "user": getattr(request.state, "username", None),
                }
            )
        )
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or ERROR_CODES.get(exc.status_code, "invalid_request")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return JSONResponse(error_body("invalid_request", problems), status_code=422)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            return JSONResponse(
                error_body("not_ready", f"the store is unreachable: {type(exc).__name__}"),
                status_code=503,
            )
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(
            generate_latest(app.state.metrics.registry).decode(),
            media_type="text/plain; version=0.0.4",
        )

    from recoup.web import (
        api,
        api_arrangements,
        api_cases,
        api_complaints,
        api_contacts,
        api_models,
        api_payments,
    )
    from recoup.web.api_common import ERROR_RESPONSES

    app.include_router(api.router, responses=ERROR_RESPONSES)
    app.include_router(api_payments.router)
    app.include_router(api_contacts.router)
    app.include_router(api_arrangements.router)
    app.include_router(api_cases.router)
    app.include_router(api_models.router)
    app.include_router(api_complaints.router)
    from recoup.web import pages

    app.include_router(pages.router)
    pages.mount(app)
    return app


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Depends(engine_of)

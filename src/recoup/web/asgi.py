"""The workbench as an ASGI application factory, for servers that start several processes
(``recoup serve --workers N``, or ``uvicorn --factory recoup.web.asgi:create`` behind a
process manager): each process opens the store named by ``RECOUP_DATABASE_URL``."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from recoup.store.engine import open_store
from recoup.web.app import SERVER_CONNECTIONS, create_app
from recoup.web.settings import settings_from_env


def create() -> FastAPI:
    settings = settings_from_env()
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    return create_app(open_store(connections=SERVER_CONNECTIONS), settings)

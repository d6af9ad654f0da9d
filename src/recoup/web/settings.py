"""The workbench's configuration, from environment variables (documented in the README).

- ``RECOUP_DATABASE_URL``: the store (default: the embedded SQLite store, as for every command).
- ``RECOUP_ENV``: ``development`` (default) or ``production``. In production the workbench
  refuses to start without its own ``RECOUP_DATA_KEY``, marks cookies ``Secure`` and never
  creates demo users.
- ``RECOUP_DATA_KEY``: the key that encrypts personal data at rest (URL-safe base64 of 32
  bytes; see ``recoup.store.crypto``). In development a fixed, published key is used and
  said so.
- ``RECOUP_LOG_LEVEL``: ``INFO`` by default; logs are one JSON object per line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# The development key is public (it is in the source), so production refuses it.
from recoup.store.crypto import DEVELOPMENT_DATA_KEY

__all__ = ["DEVELOPMENT_DATA_KEY", "Settings", "SettingsError", "settings_from_env"]


class SettingsError(ValueError):
    """The environment does not make a safe configuration (the message says what to set)."""


@dataclass(frozen=True, slots=True)
class Settings:
    production: bool
    data_key: str
    log_level: str = "INFO"

    @property
    def secure_cookies(self) -> bool:
        return self.production


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    mode = env.get("RECOUP_ENV", "development")
    if mode not in ("development", "production"):
        raise SettingsError(f"RECOUP_ENV is development or production, not {mode!r}")
    production = mode == "production"
    key = env.get("RECOUP_DATA_KEY", "")
    if production and (not key or key == DEVELOPMENT_DATA_KEY):
        raise SettingsError(
            "RECOUP_ENV=production needs its own RECOUP_DATA_KEY (the development key is "
            "public): generate one with `recoup serve --new-data-key`"
        )
    return Settings(
        production=production,
        data_key=key or DEVELOPMENT_DATA_KEY,
        log_level=env.get("RECOUP_LOG_LEVEL", "INFO"),
    )

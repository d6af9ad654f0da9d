"""The gateways' callbacks, kept in the store: delivery reports and inbound replies.

:func:`recoup.contact.webhook.callback_app` checks each callback's signature and parses it;
the handler made here records it in its own transaction (a duplicate callback is kept once,
an opt-out reply opts the number out at once). ``recoup outbox callbacks`` serves the two
together over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine

from recoup.contact.outbox import record_delivery, record_inbound
from recoup.contact.webhook import Callback, DeliveryStatus


def store_callbacks(
    engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Callback], None]:
    """A handler for :func:`callback_app` that records each callback in ``engine``."""

    def handle(callback: Callback) -> None:
        with engine.begin() as conn:
            if isinstance(callback, DeliveryStatus):
                record_delivery(
                    conn,
                    callback.provider_id,
                    callback.status,
                    callback.at,
                    clock(),
                    idempotency_key=callback.idempotency_key,
                )
            else:
                record_inbound(
                    conn,
                    callback.provider_id,
                    callback.from_number,
                    callback.text,
                    callback.at,
                    clock(),
                    opt_out=callback.opt_out,
                )

    return handle

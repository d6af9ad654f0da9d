"""Calls, field visits and letters handled by people: the "send" is a task in a queue.

A call by a collector or a field visit is not a message on a wire: sending it means putting a
task with its script into the queue the strategy named (``m2-senior``, ``skip-trace``), within
the hours it named. A letter likewise is a task for whoever prints and posts it (the PDF comes
from `recoup.contact.letters`). The task's id is the message's idempotency key, so recording
the same task twice (a retried dispatch) finds the one already there instead of adding a
second call.

Nothing here touches the network or the database: the builders are pure, and `TaskSender`
only checks the message and answers "accepted"; the dispatcher records the task with the
message. Dialling itself (an automated dialer) goes through `recoup.contact.webhook`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from recoup.contact.message import OutboundMessage, SendResult

TASK_CHANNELS = frozenset({"call", "field_visit", "letter"})

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Local hours for a task, ``[start, end)``, e.g. "10:00-18:00" from the strategy file.

    The contact gate still judges the actual call or visit; the window only tells the
    collector when the strategy wants it done.
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"window {self}: the start must be before the end")

    @classmethod
    def parse(cls, text: str) -> TimeWindow:
        match = _WINDOW.match(text)
        if not match:
            raise ValueError(f"window {text!r} is not of the form HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            return cls(time(h1, m1), time(h2, m2))
        except ValueError as exc:
            raise ValueError(f"window {text!r}: {exc}") from exc

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class CallTask:
    """A call for a collector: whom to call about which account, from which queue, when,
    and the script (a rendered ``.script.j2`` template)."""

    idempotency_key: str
    account_id: str
    to: str
    queue: str
    window: TimeWindow | None
    script: str

    def __post_init__(self) -> None:
        _check(self.idempotency_key, self.account_id, self.queue, self.script, "call")
        if not self.to.strip():
            raise ValueError(f"call task {self.idempotency_key}: no number to call")


@dataclass(frozen=True, slots=True)
class VisitTask:
    """A field visit: the address, the queue of the field team, when, and the script."""

    idempotency_key: str
    account_id: str
    address: str
    queue: str
    window: TimeWindow | None
    script: str

    def __post_init__(self) -> None:
        _check(self.idempotency_key, self.account_id, self.queue, self.script, "visit")
        if not self.address.strip():
            raise ValueError(f"visit task {self.idempotency_key}: no address")


def call_task(
    message: OutboundMessage, *, account_id: str, queue: str, window: str | None = None
) -> CallTask:
    """The call task for a ``call`` message: its key, number and script (the body)."""
    if message.channel != "call":
        raise ValueError(f"message {message.idempotency_key} is {message.channel}, not call")
    return CallTask(
        idempotency_key=message.idempotency_key,
        account_id=account_id,
        to=message.to,
        queue=queue,
        window=TimeWindow.parse(window) if window else None,
        script=message.body,
    )


def visit_task(
    message: OutboundMessage, *, account_id: str, queue: str, window: str | None = None
) -> VisitTask:
    """The visit task for a ``field_visit`` message: its key, address and script."""
    if message.channel != "field_visit":
        raise ValueError(f"message {message.idempotency_key} is {message.channel}, not field_visit")
    return VisitTask(
        idempotency_key=message.idempotency_key,
        account_id=account_id,
        address=message.to,
        queue=queue,
        window=TimeWindow.parse(window) if window else None,
        script=message.body,
    )


class TaskSender:
    """The `Sender` for calls, visits and letters handled by people: accepted at once, with
    the idempotency key as the task id, since queueing the task is the dispatcher's record."""

    def send(self, message: OutboundMessage) -> SendResult:
        if message.channel not in TASK_CHANNELS:
            raise ValueError(f"TaskSender queues {sorted(TASK_CHANNELS)}, not {message.channel!r}")
        if not message.body.strip():
            return SendResult.failed(
                f"{message.channel} task {message.idempotency_key} has no text",
                attempts=1,
                retryable=False,
            )
        return SendResult.accepted(
            message.idempotency_key, f"queued as a {message.channel} task", attempts=1
        )


def _check(key: str, account_id: str, queue: str, script: str, what: str) -> None:
    for name, value in (("idempotency_key", key), ("account_id", account_id), ("queue", queue)):
        if not value.strip():
            raise ValueError(f"{what} task {key or '?'}: {name} is empty")
    if not script.strip():
        raise ValueError(f"{what} task {key}: no script")

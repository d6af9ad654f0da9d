"""What a channel adapter takes and what it gives back.

An adapter (SMTP, the SMS/voice webhook, the collectors' task queue) takes one
`OutboundMessage` and returns one `SendResult`; it touches no database. The dispatcher gives
every message a stable ``idempotency_key`` (``"msg-123"``) before the first attempt and reuses
it on every retry, and each adapter puts that key on the wire (a deterministic ``Message-ID``,
an ``Idempotency-Key`` header, the task id), so a retry after a crash or a lost answer is
recognised downstream instead of reaching the borrower twice.

A send that failed says whether trying again later can help (``retryable``): a 4xx answer, a
refused connection or a timeout can; a rejected address or a malformed message cannot, and
retrying it only repeats the failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

# The channels of the contact gate (docs/compliance.md); letters and field visits are sent by
# people, so they reach an adapter only as a PDF to print or a task in a queue.
CHANNELS = frozenset({"sms", "email", "app_push", "call", "voicemail", "letter", "field_visit"})

SendStatus = Literal["accepted", "failed"]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message, e.g. a letter rendered to PDF."""

    filename: str
    content_type: str  # "application/pdf"
    data: bytes

    def __post_init__(self) -> None:
        if not self.filename or "/" in self.filename or "\\" in self.filename:
            raise ValueError(f"attachment filename {self.filename!r} must be a bare file name")
        if self.content_type.count("/") != 1:
            raise ValueError(
                f"attachment {self.filename!r}: content type {self.content_type!r} "
                "is not of the form type/subtype"
            )


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to one recipient, already rendered.

    ``to`` is an email address for email, a phone number (E.164) for sms, voice and calls, a
    device or user token for app_push, a postal address for letters and visits. ``subject`` is
    used by email (and as a letter's title); other channels leave it None.
    """

    idempotency_key: str
    channel: str
    to: str
    subject: str | None
    body: str
    lang: str
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        if not self.idempotency_key.strip():
            raise ValueError("a message needs an idempotency_key: retries are matched on it")
        if self.channel not in CHANNELS:
            raise ValueError(
                f"unknown channel {self.channel!r}; expected one of {sorted(CHANNELS)}"
            )
        if not self.to.strip():
            raise ValueError(f"message {self.idempotency_key}: no recipient")


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one `Sender.send` call, after the adapter's own retries.

    ``provider_id`` is the id the other side gave the message (the gateway's id, the email's
    Message-ID, the task id), None when it gave none. ``attempts`` counts the attempts this
    call made on the wire. ``retryable`` is meaningful only for a failure: True when the
    dispatcher may try again later with the same idempotency key.
    """

    status: SendStatus
    provider_id: str | None
    detail: str
    attempts: int
    retryable: bool

    @classmethod
    def accepted(cls, provider_id: str | None, detail: str, attempts: int) -> SendResult:
        return cls("accepted", provider_id, detail, attempts, retryable=False)

    @classmethod
    def failed(cls, detail: str, attempts: int, *, retryable: bool) -> SendResult:
        return cls("failed", None, detail, attempts, retryable=retryable)

    @property
    def ok(self) -> bool:
        return self.status == "accepted"


class Sender(Protocol):
    """A channel adapter: sends one message, returns what happened, never raises for a
    failure of the other side (a refused address, a down gateway). It raises only for a
    programming error, such as a message on a channel it does not handle."""

    def send(self, message: OutboundMessage) -> SendResult: ...

"""Email over SMTP, with retries that a downstream system can recognise.

SMTP has no idempotency key: a server that received the whole message but whose "250 OK"
was lost looks, to the client, exactly like one that received nothing. The rules, and why:

- Every message carries a ``Message-ID`` derived only from its idempotency key
  (`message_id_for`), so the same message sent twice has the same id, and mail stores,
  archives and bounce handling see one message, not two.
- A failure *before* the message was handed over (the connection refused or dropped, a 4xx
  answer to MAIL, RCPT or DATA) is transient: the server does not have the message, so it is
  retried here, up to ``max_attempts`` times with doubling pauses.
- A 5xx answer is permanent (a rejected address, a refused message): failed, not retryable.
- A connection lost *after* the message was handed over is "outcome unknown": it is not
  retried here (that could deliver twice within seconds); it comes back failed and
  retryable, saying so, and the dispatcher decides. A later resend keeps the Message-ID.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from typing import Literal

from recoup.contact.message import OutboundMessage, SendResult

IDEMPOTENCY_HEADER = "X-Recoup-Idempotency-Key"

_Kind = Literal["accepted", "transient", "permanent", "unknown"]


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The ``Message-ID`` of the message with this key: the same key, the same id.

    The key is hashed rather than copied so that any key (spaces, non-ASCII) makes a valid
    id, and so that the id does not expose the key's internal numbering.
    """
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}.recoup@{domain}>"


class SmtpSender:
    """Sends ``email`` messages through one SMTP server (a relay or the provider's submission
    port). ``sleep`` is the pause between attempts, injectable so tests do not wait."""

    def __init__(
        self,
        host: str,
        port: int,
        sender_address: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
        *,
        max_attempts: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.host = host
        self.port = port
        self.sender_address = sender_address
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep
        self.ssl_context = ssl_context
        _, _, domain = sender_address.rpartition("@")
        self.domain = domain or "recoup.invalid"

    def build(self, message: OutboundMessage) -> EmailMessage:
        """The email as it goes on the wire: UTF-8 text, attachments, deterministic id."""
        email = EmailMessage()
        email["From"] = self.sender_address
        email["To"] = message.to
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = message_id_for(message.idempotency_key, self.domain)
        email[IDEMPOTENCY_HEADER] = message.idempotency_key
        email["Content-Language"] = message.lang
        email.set_content(message.body, charset="utf-8")
        for attachment in message.attachments:
            maintype, subtype = attachment.content_type.split("/")
            email.add_attachment(
                attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
        return email

    def send(self, message: OutboundMessage) -> SendResult:
        if message.channel != "email":
            raise ValueError(f"SmtpSender sends email, not {message.channel!r}")
        if not message.to.isascii() or not self.sender_address.isascii():
            # SMTPUTF8 addresses are rare and need server support; refuse clearly instead
            # of failing inside smtplib with an encoding error.
            return SendResult.failed(
                f"address {message.to!r} is not ASCII; internationalised addresses are "
                "not supported",
                attempts=0,
                retryable=False,
            )
        try:
            email = self.build(message)
            data = email.as_bytes(policy=SMTP_POLICY)
        except (ValueError, TypeError) as exc:  # e.g. a line break inside a header value
            return SendResult.failed(f"cannot build the email: {exc}", attempts=0, retryable=False)
        message_id = str(email["Message-ID"])
        detail = ""
        for attempt in range(1, self.max_attempts + 1):
            kind, detail = self._attempt(message.to, data)
            if kind == "accepted":
                return SendResult.accepted(message_id, detail, attempts=attempt)
            if kind == "permanent":
                return SendResult.failed(detail, attempts=attempt, retryable=False)
            if kind == "unknown":
                return SendResult.failed(
                    f"outcome unknown: {detail}; the message may have been delivered, and "
                    f"a resend carries the same Message-ID {message_id}",
                    attempts=attempt,
                    retryable=True,
                )
            if attempt < self.max_attempts:
                self.sleep(self.backoff * 2 ** (attempt - 1))
        return SendResult.failed(
            f"gave up after {self.max_attempts} attempts: {detail}",
            attempts=self.max_attempts,
            retryable=True,
        )

    def _attempt(self, recipient: str, data: bytes) -> tuple[_Kind, str]:
        """One connection, one message: what happened and the server's words."""
        handed_over = False
        conn: smtplib.SMTP | None = None
        try:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo_or_helo_if_needed()
            if self.starttls:
                conn.starttls(context=self.ssl_context or ssl.create_default_context())
                conn.ehlo()
            if self.username is not None and self.password is not None:
                conn.login(self.username, self.password)
            code, reply = conn.mail(self.sender_address)
            if code != 250:
                return _classify(code, reply, "MAIL FROM")
            code, reply = conn.rcpt(recipient)
            if code not in (250, 251):
                return _classify(code, reply, "RCPT TO")
            # From here the server may hold the whole message even if no answer arrives.
            handed_over = True
            code, reply = conn.data(data)
            return _classify(code, reply, "DATA")
        except smtplib.SMTPResponseException as exc:
            # Raised before the body is sent (a refused greeting, login or DATA command).
            return _classify(exc.smtp_code, exc.smtp_error, "session")
        except ssl.SSLCertVerificationError as exc:
            return "permanent", f"TLS certificate of {self.host} not trusted: {exc}"
        except smtplib.SMTPNotSupportedError as exc:
            return "permanent", f"{self.host}:{self.port} does not support it: {exc}"
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            what = f"{type(exc).__name__}: {exc}".rstrip(": ")
            if handed_over:
                return "unknown", f"connection lost after the message was handed over ({what})"
            return "transient", f"cannot reach {self.host}:{self.port} ({what})"
        finally:
            if conn is not None:
                _close(conn)


def _classify(code: int, reply: bytes | str, step: str) -> tuple[_Kind, str]:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    detail = f"{code} {text} ({step})"
    if 200 <= code < 300:
        return "accepted", detail
    if 400 <= code < 500:
        return "transient", detail
    return "permanent", detail


def _close(conn: smtplib.SMTP) -> None:
    # Not ``with smtplib.SMTP(...)``: its exit raises when QUIT is answered badly, which
    # would turn a message the server already accepted into a failure.
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        conn.close()

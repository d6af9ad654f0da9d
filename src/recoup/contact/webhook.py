"""SMS, voice and app push through an HTTP gateway; its delivery reports and inbound replies.

Sending. One JSON POST per message to the gateway's URL with two headers:

- ``Idempotency-Key``: the dispatcher's key for the message. The gateway keeps the keys it
  has seen; a retry with a known key is answered with the first answer or with 409, and never
  sends a second SMS. That is what makes retrying a timeout safe: the gateway may have got the
  request even though its answer never came back.
- ``X-Recoup-Signature: sha256=<hex>``: the HMAC-SHA256 of the exact body with the shared
  secret, so the gateway can refuse requests that did not come from us.

The body is serialised deterministically (sorted keys, no spaces), so a retry is the same
bytes with the same signature. Answers: 2xx is accepted (the provider id is ``id`` in the
answer's JSON); 409 is accepted too (the gateway already has this key); 429, 5xx, refused
connections and timeouts are retried with doubling pauses (``Retry-After`` honoured up to a
cap), then reported failed and retryable; any other 4xx is failed and not retryable, since
the same request would be refused again. Redirects are not followed: urllib would turn the
POST into a GET without its body.

Callbacks. The gateway POSTs JSON, signed the same way, to ``/callbacks``:

- a delivery report: ``{"type": "delivery", "id": ..., "idempotency_key": ..., "status":
  ..., "at": "2026-03-02T10:00:05+08:00", "detail": ...}``;
- an inbound reply: ``{"type": "inbound", "id": ..., "from": "+86...", "text": ..., "at":
  ...}``. A reply that is an opt-out keyword (`is_opt_out`) comes back with ``opt_out``
  True, so the handler can set the borrower's opt-out flag at once (US-TCPA, CN-OPTOUT)
  rather than at the next batch.

Gateways deliver callbacks at least once, so the same callback may arrive twice; each one is
passed to the handler. The store de-duplicates: a delivery report on (provider_id, status), an
inbound reply on provider_id. Setting an opt-out flag twice is harmless.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from http.client import HTTPException
from typing import IO, Literal
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from recoup.contact.message import OutboundMessage, SendResult

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Recoup-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CHANNELS = frozenset({"sms", "voicemail", "call", "app_push"})

# US-TCPA: revocation "by any reasonable means"; these are the words FCC 24-18 names, plus
# the carriers' usual STOPALL and OPTOUT. CN-OPTOUT: 退订 and TD are what "回复TD退订" asks
# for; T, 取消 and 停止 are the other replies Chinese senders conventionally honour.
EN_OPT_OUT_KEYWORDS = (
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPT OUT",
    "OPTOUT",
)
ZH_OPT_OUT_KEYWORDS = ("退订", "TD", "T", "取消", "停止")
OPT_OUT_KEYWORDS = EN_OPT_OUT_KEYWORDS + ZH_OPT_OUT_KEYWORDS

DeliveryState = Literal[
    "queued", "sent", "delivered", "undelivered", "failed", "answered", "no_answer", "busy"
]
DELIVERY_STATES: tuple[DeliveryState, ...] = (
    "queued",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "answered",
    "no_answer",
    "busy",
)

MAX_CALLBACK_BYTES = 64 * 1024
_MAX_ANSWER_BYTES = 64 * 1024


class CallbackError(ValueError):
    """A callback that cannot be used: malformed JSON, a missing or wrong field."""


class CallbackSignatureError(CallbackError):
    """A callback whose signature is missing or does not match: not from our gateway."""


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    provider_id: str
    idempotency_key: str
    status: DeliveryState
    at: datetime
    detail: str = ""


@dataclass(frozen=True, slots=True)
class InboundReply:
    from_number: str
    text: str
    at: datetime
    provider_id: str
    opt_out: bool = False


Callback = DeliveryStatus | InboundReply


def sign(body: bytes, secret: str | bytes) -> str:
    """The ``X-Recoup-Signature`` value of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def encode_message(message: OutboundMessage) -> bytes:
    """The JSON body for ``message``: the same message always gives the same bytes."""
    payload: dict[str, object] = {
        "idempotency_key": message.idempotency_key,
        "channel": message.channel,
        "to": message.to,
        "subject": message.subject,
        "body": message.body,
        "lang": message.lang,
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "data": base64.b64encode(a.data).decode("ascii"),
            }
            for a in message.attachments
        ],
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None  # urllib then raises HTTPError with the 3xx code


class WebhookGateway:
    """Sends ``sms``, ``voicemail``, ``call`` (a task for the dialer) and ``app_push``
    messages to one gateway URL. ``sleep`` is the pause between attempts, injectable so
    tests do not wait; ``max_delay`` caps any pause, including a gateway's Retry-After."""

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        timeout: float = 10,
        max_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        *,
        backoff: float = 1.0,
        max_delay: float = 30.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not secret:
            raise ValueError("a webhook gateway needs a signing secret")
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.backoff = backoff
        self.max_delay = max_delay
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, message: OutboundMessage) -> SendResult:
        if message.channel not in CHANNELS:
            raise ValueError(f"WebhookGateway sends {sorted(CHANNELS)}, not {message.channel!r}")
        body = encode_message(message)
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                IDEMPOTENCY_HEADER: message.idempotency_key,
                SIGNATURE_HEADER: sign(body, self.secret),
            },
        )
        detail = ""
        for attempt in range(1, self.max_attempts + 1):
            outcome, detail, provider_id, retry_after = self._attempt(request)
            if outcome == "accepted":
                return SendResult.accepted(provider_id, detail, attempts=attempt)
            if outcome == "permanent":
                return SendResult.failed(detail, attempts=attempt, retryable=False)
            if attempt < self.max_attempts:
                delay = self.backoff * 2 ** (attempt - 1)
                if retry_after is not None:
                    delay = max(delay, retry_after)
                self.sleep(min(delay, self.max_delay))
        return SendResult.failed(
            f"gave up after {self.max_attempts} attempts: {detail}",
            attempts=self.max_attempts,
            retryable=True,
        )

    def _attempt(
        self, request: urllib.request.Request
    ) -> tuple[Literal["accepted", "transient", "permanent"], str, str | None, float | None]:
        """One POST: the outcome, a detail, the provider id, and the Retry-After pause."""
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = int(response.status)
                answer = response.read(_MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:
            status = exc.code
            answer = exc.read(_MAX_ANSWER_BYTES) if exc.fp is not None else b""
            retry_after = _retry_after(exc.headers.get("Retry-After"))
            text = _snippet(answer)
            if status == 409:
                return "accepted", f"409 {text}".strip(), _provider_id(answer), None
            if status == 429 or status >= 500:
                return "transient", f"{status} {text}".strip(), None, retry_after
            if 300 <= status < 400:
                where = exc.headers.get("Location", "?")
                return (
                    "permanent",
                    f"{status} redirect to {where}; configure the final URL",
                    None,
                    None,
                )
            return "permanent", f"{status} {text}".strip(), None, None
        except (HTTPException, OSError) as exc:  # refused, reset, timed out, DNS
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            return (
                "transient",
                f"cannot reach {self.url} ({type(reason).__name__}: {reason})",
                None,
                None,
            )
        if 200 <= status < 300:
            return "accepted", f"{status} {_snippet(answer)}".strip(), _provider_id(answer), None
        return "permanent", f"unexpected answer {status}", None, None


def _provider_id(answer: bytes) -> str | None:
    try:
        data = json.loads(answer)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    value = data.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


def _retry_after(value: str | None) -> float | None:
    # Only the delay-seconds form; an HTTP date is rare from gateways and falls back to the
    # exponential pause.
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _snippet(answer: bytes, limit: int = 200) -> str:
    text = answer.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


def _normalise(text: str) -> str:
    # NFKC folds full-width letters and spaces (ＳＴＯＰ, ＴＤ) to ASCII; casefold handles
    # "Stop"; surrounding punctuation ("STOP.", "退订！") is not part of the intent.
    # "OPT-OUT" and "opt_out" are the same request as "opt out".
    folded = unicodedata.normalize("NFKC", text).casefold().replace("-", " ").replace("_", " ")
    return " ".join(folded.split()).strip(_PUNCTUATION + " ")


_PUNCTUATION = ".,!?;:'\"()[]{}-~。，！？；：、“”‘’（）【】…·"


def is_opt_out(
    text: str,
    keywords: Iterable[str] = OPT_OUT_KEYWORDS,
    *,
    first_words: Iterable[str] = ("STOP",),
) -> bool:
    """True when the reply asks to stop messages.

    The whole reply, after trimming and folding case, full-width characters, spaces and
    surrounding punctuation, must be one of ``keywords`` ("退订", "ＴＤ", " stop! "); or its
    first word must be one of ``first_words`` ("STOP texting me"). Other words are matched
    only whole, since "end of month I will pay" is not a request to stop.
    """
    normal = _normalise(text)
    if not normal:
        return False
    if normal in {_normalise(k) for k in keywords}:
        return True
    first = normal.split(" ", 1)[0].strip(_PUNCTUATION)
    return first in {_normalise(w) for w in first_words}


def verify_signature(body: bytes, signature_header: str | None, secret: str | bytes) -> None:
    """Raises `CallbackSignatureError` unless ``signature_header`` is the body's signature."""
    if not signature_header:
        raise CallbackSignatureError(f"missing {SIGNATURE_HEADER} header")
    if not signature_header.startswith("sha256="):
        raise CallbackSignatureError(f"{SIGNATURE_HEADER} must be 'sha256=<hex>'")
    if not hmac.compare_digest(signature_header.strip(), sign(body, secret)):
        raise CallbackSignatureError(f"{SIGNATURE_HEADER} does not match the body")


def parse_callback(
    body: bytes,
    signature_header: str | None,
    secret: str | bytes,
    keywords: Iterable[str] = OPT_OUT_KEYWORDS,
) -> Callback:
    """A gateway callback, verified and parsed.

    Raises:
        CallbackSignatureError: the signature is missing or wrong (checked first, so nothing
            of an unsigned body is interpreted).
        CallbackError: not JSON, not an object, an unknown ``type`` or ``status``, a missing
            field, a time without an offset; the message names the field.
    """
    verify_signature(body, signature_header, secret)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CallbackError(f"callback body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CallbackError("callback body must be a JSON object")
    kind = data.get("type")
    if kind == "delivery":
        status = _field(data, "status")
        if status not in DELIVERY_STATES:
            raise CallbackError(
                f"field 'status': {status!r} is not one of {', '.join(DELIVERY_STATES)}"
            )
        return DeliveryStatus(
            provider_id=_field(data, "id"),
            idempotency_key=_field(data, "idempotency_key"),
            status=status,
            at=_time(data),
            detail=_optional(data, "detail"),
        )
    if kind == "inbound":
        text = _field(data, "text", allow_empty=True)
        return InboundReply(
            from_number=_field(data, "from"),
            text=text,
            at=_time(data),
            provider_id=_field(data, "id"),
            opt_out=is_opt_out(text, keywords),
        )
    raise CallbackError(f"field 'type': {kind!r} is not 'delivery' or 'inbound'")


def _field(data: Mapping[str, object], name: str, *, allow_empty: bool = False) -> str:
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and name == "id":
        return str(value)  # some gateways number their messages
    if not isinstance(value, str):
        raise CallbackError(f"field {name!r} is missing or not a string")
    if not value.strip() and not allow_empty:
        raise CallbackError(f"field {name!r} is empty")
    return value


def _optional(data: Mapping[str, object], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CallbackError(f"field {name!r} must be a string")
    return value


def _time(data: Mapping[str, object]) -> datetime:
    text = _field(data, "at")
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CallbackError(f"field 'at': {text!r} is not an ISO 8601 time") from exc
    if at.tzinfo is None:
        raise CallbackError(f"field 'at': {text!r} has no UTC offset")
    return at


def callback_app(
    secret: str | bytes,
    handle: Callable[[Callback], None],
    keywords: Iterable[str] = OPT_OUT_KEYWORDS,
    path: str = "/callbacks",
) -> WSGIApplication:
    """A WSGI app for the gateway's callbacks: ``POST /callbacks``.

    Answers 204 once ``handle`` has returned (so the gateway stops retrying only when the
    callback was taken), 401 on a missing or wrong signature, 400 with a JSON error on a
    malformed body, 413 on a body over 64 KiB, 500 when ``handle`` raised (the gateway then
    retries, which is harmless because the store de-duplicates).
    """
    words = tuple(keywords)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != path:
            return _answer(start_response, "404 Not Found", {"error": "not found"})
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(
                start_response,
                "405 Method Not Allowed",
                {"error": "use POST"},
                [("Allow", "POST")],
            )
        try:
            length = int(environ.get("CONTENT_LENGTH") or "0")
        except ValueError:
            return _answer(start_response, "400 Bad Request", {"error": "bad Content-Length"})
        if length > MAX_CALLBACK_BYTES:
            return _answer(
                start_response, "413 Content Too Large", {"error": "callback body too large"}
            )
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            callback = parse_callback(body, environ.get("HTTP_X_RECOUP_SIGNATURE"), secret, words)
        except CallbackSignatureError as exc:
            return _answer(start_response, "401 Unauthorized", {"error": str(exc)})
        except CallbackError as exc:
            return _answer(start_response, "400 Bad Request", {"error": str(exc)})
        try:
            handle(callback)
        except Exception:
            log.exception("callback handler failed for %r", callback)
            return _answer(start_response, "500 Internal Server Error", {"error": "handler failed"})
        start_response("204 No Content", [])
        return []

    return app


def _answer(
    start_response: StartResponse,
    status: str,
    payload: Mapping[str, str],
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-Length", str(len(body))),
        *(extra or []),
    ]
    start_response(status, headers)
    return [body]

"""The SMS/voice gateway adapter against a local HTTP server on 127.0.0.1: the key and the
signature on the wire, which answers are retried and which are final, the gateway's
callbacks, and the callback app answering a duplicate callback twice."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from recoup.contact.message import OutboundMessage
from recoup.contact.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Callback,
    CallbackError,
    CallbackSignatureError,
    DeliveryStatus,
    InboundReply,
    WebhookGateway,
    callback_app,
    is_opt_out,
    parse_callback,
    sign,
)

SECRET = "test-secret"


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # the server waits this long first (to make the client time out)


@dataclass
class Seen:
    headers: dict[str, str]
    body: bytes


class Gateway:
    """A scripted gateway: answers in order (the last one repeats) and records requests."""

    def __init__(self) -> None:
        self.answers: list[Answer] = [Answer(200, b'{"id": "gw-1"}')]
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def next_answer(self, seen: Seen) -> Answer:
        with self.lock:
            self.seen.append(seen)
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            answer = gateway.next_answer(Seen(dict(self.headers.items()), body))
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the client gave up waiting, as the timeout test intends

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def gateway() -> Iterator[tuple[Gateway, str]]:
    state = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/send"
    finally:
        server.shutdown()
        server.server_close()


class Pauses:
    def __init__(self) -> None:
        self.taken: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


def _sms(key: str = "msg-123") -> OutboundMessage:
    return OutboundMessage(
        key, "sms", "+8613800000000", None, "【示例】您好，请尽快还款。回复TD退订", "zh-CN"
    )


def _send(url: str, pauses: Pauses, timeout: float = 2) -> WebhookGateway:
    return WebhookGateway(url, SECRET, timeout=timeout, max_attempts=3, sleep=pauses)


def test_webhook__the_post_carries_the_key_and_a_valid_signature(
    gateway: tuple[Gateway, str],
) -> None:
    state, url = gateway
    result = _send(url, Pauses()).send(_sms())
    assert (result.status, result.provider_id, result.attempts) == ("accepted", "gw-1", 1)
    [seen] = state.seen
    assert seen.headers[IDEMPOTENCY_HEADER] == "msg-123"
    assert seen.headers[SIGNATURE_HEADER] == sign(seen.body, SECRET)
    payload = json.loads(seen.body)
    assert payload["to"] == "+8613800000000"
    assert payload["body"].endswith("回复TD退订")
    assert payload["idempotency_key"] == "msg-123"


def test_webhook__a_500_then_200_is_retried_with_the_same_bytes_and_accepted(
    gateway: tuple[Gateway, str],
) -> None:
    state, url = gateway
    state.answers = [Answer(500, b"oops"), Answer(200, b'{"id": 77}')]
    pauses = Pauses()
    result = _send(url, pauses).send(_sms())
    assert (result.status, result.provider_id, result.attempts) == ("accepted", "77", 2)
    first, second = state.seen
    assert first.body == second.body
    assert first.headers[IDEMPOTENCY_HEADER] == second.headers[IDEMPOTENCY_HEADER]
    assert first.headers[SIGNATURE_HEADER] == second.headers[SIGNATURE_HEADER]
    assert pauses.taken == [1.0]


def test_webhook__a_409_means_the_gateway_already_has_it_and_counts_as_accepted(
    gateway: tuple[Gateway, str],
) -> None:
    state, url = gateway
    state.answers = [Answer(409, b'{"id": "gw-first"}')]
    result = _send(url, Pauses()).send(_sms())
    assert (result.status, result.provider_id, result.attempts) == ("accepted", "gw-first", 1)


def test_webhook__a_400_fails_without_retry(gateway: tuple[Gateway, str]) -> None:
    state, url = gateway
    state.answers = [Answer(400, b'{"error": "bad number"}')]
    pauses = Pauses()
    result = _send(url, pauses).send(_sms())
    assert (result.status, result.retryable, result.attempts) == ("failed", False, 1)
    assert "400" in result.detail and "bad number" in result.detail
    assert len(state.seen) == 1 and pauses.taken == []


def test_webhook__a_timeout_is_retried_under_the_same_key(gateway: tuple[Gateway, str]) -> None:
    state, url = gateway
    state.answers = [Answer(200, b'{"id": "late"}', delay=0.3), Answer(200, b'{"id": "gw-2"}')]
    result = _send(url, Pauses(), timeout=0.1).send(_sms())
    assert (result.status, result.provider_id, result.attempts) == ("accepted", "gw-2", 2)
    assert [s.headers[IDEMPOTENCY_HEADER] for s in state.seen] == ["msg-123", "msg-123"]


def test_webhook__a_429_waits_as_long_as_retry_after_asks_within_the_cap(
    gateway: tuple[Gateway, str],
) -> None:
    state, url = gateway
    state.answers = [
        Answer(429, headers={"Retry-After": "7"}),
        Answer(429, headers={"Retry-After": "600"}),
        Answer(200, b'{"id": "gw-3"}'),
    ]
    pauses = Pauses()
    result = _send(url, pauses).send(_sms())
    assert (result.status, result.attempts) == ("accepted", 3)
    assert pauses.taken == [7.0, 30.0]


def test_webhook__a_gateway_that_stays_down_leaves_the_message_retryable(
    gateway: tuple[Gateway, str],
) -> None:
    state, url = gateway
    state.answers = [Answer(503, b"maintenance")]
    pauses = Pauses()
    result = _send(url, pauses).send(_sms())
    assert (result.status, result.retryable, result.attempts) == ("failed", True, 3)
    assert result.detail == "gave up after 3 attempts: 503 maintenance"
    assert pauses.taken == [1.0, 2.0]


def test_webhook__a_redirect_is_not_followed(gateway: tuple[Gateway, str]) -> None:
    state, url = gateway
    state.answers = [Answer(302, headers={"Location": "http://127.0.0.1:1/elsewhere"})]
    result = _send(url, Pauses()).send(_sms())
    assert (result.status, result.retryable) == ("failed", False)
    assert "redirect" in result.detail and len(state.seen) == 1


def test_webhook__only_gateway_channels_are_sent() -> None:
    with pytest.raises(ValueError, match="not 'email'"):
        WebhookGateway("http://127.0.0.1:1/", SECRET).send(
            OutboundMessage("m", "email", "a@b.example", "s", "b", "en")
        )


# ------------------------------------------------------------------------------ callbacks


def _signed(payload: object) -> tuple[bytes, str]:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return body, sign(body, SECRET)


DELIVERY = {
    "type": "delivery",
    "id": "gw-1",
    "idempotency_key": "msg-123",
    "status": "delivered",
    "at": "2026-03-02T10:00:05+08:00",
}


def test_callback__a_delivery_status_is_parsed() -> None:
    parsed = parse_callback(*_signed(DELIVERY), SECRET)
    assert parsed == DeliveryStatus(
        provider_id="gw-1",
        idempotency_key="msg-123",
        status="delivered",
        at=datetime(2026, 3, 2, 10, 0, 5, tzinfo=timezone(timedelta(hours=8))),
    )


@pytest.mark.parametrize(("text", "opt_out"), [("STOP", True), (" 退订 ", True), ("好的", False)])
def test_callback__an_inbound_reply_says_whether_it_opts_out(text: str, opt_out: bool) -> None:
    payload = {
        "type": "inbound",
        "id": "in-9",
        "from": "+8613800000000",
        "text": text,
        "at": "2026-03-02T02:00:00Z",
    }
    parsed = parse_callback(*_signed(payload), SECRET)
    assert parsed == InboundReply(
        "+8613800000000", text, datetime(2026, 3, 2, 2, tzinfo=UTC), "in-9", opt_out
    )


def test_callback__a_bad_or_missing_signature_is_refused() -> None:
    body, _ = _signed(DELIVERY)
    with pytest.raises(CallbackSignatureError, match="does not match"):
        parse_callback(body, sign(body, "another-secret"), SECRET)
    with pytest.raises(CallbackSignatureError, match="missing"):
        parse_callback(body, None, SECRET)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not json", "not JSON"),
        ([1, 2], "JSON object"),
        ({**DELIVERY, "type": "receipt"}, "field 'type'"),
        ({**DELIVERY, "status": "read"}, "field 'status'"),
        ({k: v for k, v in DELIVERY.items() if k != "idempotency_key"}, "'idempotency_key'"),
        ({**DELIVERY, "at": "2026-03-02T10:00:05"}, "no UTC offset"),
    ],
)
def test_callback__a_malformed_callback_names_what_is_wrong(payload: object, message: str) -> None:
    body = payload.encode() if isinstance(payload, str) else _signed(payload)[0]
    with pytest.raises(CallbackError, match=message) as caught:
        parse_callback(body, sign(body, SECRET), SECRET)
    assert not isinstance(caught.value, CallbackSignatureError)


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        " stop ",
        "Stop.",
        "ＳＴＯＰ",
        "STOP texting me",
        "opt  out",
        "OptOut",
        "OPT-OUT",
        "unsubscribe!",
        "退订",
        "ＴＤ",
        "td",
        "T",
        "取消！",
        "停止",
    ],
)
def test_opt_out__keywords_match_whole_after_normalising(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "stopped paying, sorry",
        "I will pay at the end of the month",
        "T 恤",
        "不要取消我的分期",
        "Please don't stop my plan",
        "TDD",
    ],
)
def test_opt_out__other_replies_do_not_opt_out(text: str) -> None:
    assert not is_opt_out(text)


# --------------------------------------------------------------------------- callback app


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def callbacks() -> Iterator[tuple[list[Callback], str]]:
    got: list[Callback] = []
    server: WSGIServer = make_server(
        "127.0.0.1", 0, callback_app(SECRET, got.append), handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield got, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _post(url: str, body: bytes, signature: str | None, method: str = "POST") -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_callback_app__a_duplicate_callback_is_answered_204_twice_and_handled_twice(
    callbacks: tuple[list[Callback], str],
) -> None:
    got, base = callbacks
    body, signature = _signed(DELIVERY)
    assert _post(f"{base}/callbacks", body, signature) == (204, b"")
    assert _post(f"{base}/callbacks", body, signature) == (204, b"")
    assert len(got) == 2 and got[0] == got[1]
    assert isinstance(got[0], DeliveryStatus) and got[0].provider_id == "gw-1"


def test_callback_app__an_inbound_stop_reaches_the_handler_flagged_as_opt_out(
    callbacks: tuple[list[Callback], str],
) -> None:
    got, base = callbacks
    payload = {
        "type": "inbound",
        "id": "in-1",
        "from": "+15551234567",
        "text": "stop",
        "at": "2026-03-02T02:00:00Z",
    }
    assert _post(f"{base}/callbacks", *_signed(payload))[0] == 204
    [reply] = got
    assert isinstance(reply, InboundReply) and reply.opt_out


def test_callback_app__refuses_bad_signatures_bad_bodies_and_wrong_routes(
    callbacks: tuple[list[Callback], str],
) -> None:
    got, base = callbacks
    body, _ = _signed(DELIVERY)
    status, answer = _post(f"{base}/callbacks", body, sign(body, "wrong"))
    assert status == 401 and "does not match" in json.loads(answer)["error"]
    bad = b"{not json"
    status, answer = _post(f"{base}/callbacks", bad, sign(bad, SECRET))
    assert status == 400 and "not JSON" in json.loads(answer)["error"]
    assert _post(f"{base}/elsewhere", body, sign(body, SECRET))[0] == 404
    assert _post(f"{base}/callbacks", b"", None, method="PUT")[0] == 405
    assert got == []

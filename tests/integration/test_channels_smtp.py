"""Email through a real SMTP server on 127.0.0.1 (aiosmtpd): what arrives, what is retried and
what is not, and the Message-ID that makes a resend recognisable."""

from __future__ import annotations

import email
import socket
import socketserver
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from recoup.contact.message import Attachment, OutboundMessage
from recoup.contact.smtp import IDEMPOTENCY_HEADER, SmtpSender, message_id_for

PDF = b"%PDF-1.4\n% a tiny stand-in for a letter\n%%EOF\n"


class Mailbox:
    """An aiosmtpd handler: stores what it accepts; ``rcpt_answers`` scripts RCPT replies."""

    def __init__(self, rcpt_answers: list[str] | None = None) -> None:
        self.rcpt_answers = list(rcpt_answers or [])
        self.rcpt_calls = 0
        self.received: list[EmailMessage] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.rcpt_calls += 1
        if self.rcpt_answers:
            answer = self.rcpt_answers.pop(0)
            if not answer.startswith("250"):
                return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        return "250 2.0.0 queued"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()


class Pauses:
    """Stands in for time.sleep: records the pauses, waits for none."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


def _sender(port: int, pauses: Pauses) -> SmtpSender:
    return SmtpSender("127.0.0.1", port, "collections@lender.example", timeout=2, sleep=pauses)


def _message(key: str = "msg-123") -> OutboundMessage:
    return OutboundMessage(
        idempotency_key=key,
        channel="email",
        to="wang.xiaoming@example.com",
        subject="示例消费金融：分期账户A0000042还款提醒",
        body="王小明您好：\n\n您的分期账户A0000042已逾期35天。\n\n退订：请访问 https://example.invalid/u",
        lang="zh-CN",
        attachments=(Attachment("逾期还款通知函.pdf", "application/pdf", PDF),),
    )


def test_smtp__an_email_arrives_with_subject_chinese_body_pdf_and_deterministic_id(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    pauses = Pauses()
    result = _sender(port, pauses).send(_message())

    expected_id = message_id_for("msg-123", "lender.example")
    assert (result.status, result.attempts, result.provider_id) == ("accepted", 1, expected_id)
    assert "queued" in result.detail
    [got] = mailbox.received
    assert got["Subject"] == "示例消费金融：分期账户A0000042还款提醒"
    assert got["Message-ID"] == expected_id
    assert got[IDEMPOTENCY_HEADER] == "msg-123"
    assert got["From"] == "collections@lender.example"
    body = got.get_body(preferencelist=("plain",))
    assert body is not None
    assert "您的分期账户A0000042已逾期35天" in body.get_content()
    [attachment] = list(got.iter_attachments())
    assert attachment.get_filename() == "逾期还款通知函.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF
    assert pauses.taken == []


def test_smtp__a_resend_of_the_same_message_carries_the_same_message_id(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    sender = _sender(port, Pauses())
    sender.send(_message("msg-123"))
    sender.send(_message("msg-123"))
    sender.send(_message("msg-124"))
    ids = [m["Message-ID"] for m in mailbox.received]
    assert ids[0] == ids[1] != ids[2]


def test_smtp__a_451_is_retried_after_a_pause_and_delivered_once(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    mailbox.rcpt_answers = ["451 4.3.0 try again later"]
    pauses = Pauses()
    result = _sender(port, pauses).send(_message())
    assert (result.status, result.attempts) == ("accepted", 2)
    assert len(mailbox.received) == 1
    assert mailbox.rcpt_calls == 2
    assert pauses.taken == [1.0]


def test_smtp__a_550_fails_at_once_and_is_not_retryable(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    mailbox.rcpt_answers = ["550 5.1.1 no such mailbox"]
    pauses = Pauses()
    result = _sender(port, pauses).send(_message())
    assert (result.status, result.retryable, result.attempts) == ("failed", False, 1)
    assert "550" in result.detail and "RCPT TO" in result.detail
    assert mailbox.received == [] and mailbox.rcpt_calls == 1
    assert pauses.taken == []


def test_smtp__a_server_that_stays_down_is_tried_max_attempts_times_then_left_retryable() -> None:
    pauses = Pauses()
    result = _sender(_free_port(), pauses).send(_message())  # nothing listens there
    assert (result.status, result.retryable, result.attempts) == ("failed", True, 3)
    assert "gave up after 3 attempts" in result.detail
    assert pauses.taken == [1.0, 2.0]


class _HangUpAfterData(socketserver.StreamRequestHandler):
    """A server that takes the whole message and hangs up before answering: the one case
    where the client cannot know whether the message was delivered."""

    def handle(self) -> None:
        self.wfile.write(b"220 fake ESMTP\r\n")
        in_data = False
        for line in self.rfile:
            if in_data:
                if line == b".\r\n":
                    return
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 fake\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                in_data = True
            else:
                self.wfile.write(b"250 OK\r\n")


def test_smtp__a_connection_lost_after_the_message_is_not_resent_on_the_spot() -> None:
    server = socketserver.TCPServer(("127.0.0.1", 0), _HangUpAfterData)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        pauses = Pauses()
        result = _sender(server.server_address[1], pauses).send(_message())
    finally:
        server.shutdown()
        server.server_close()
    assert (result.status, result.retryable, result.attempts) == ("failed", True, 1)
    assert result.detail.startswith("outcome unknown")
    assert message_id_for("msg-123", "lender.example") in result.detail
    assert pauses.taken == []


def test_smtp__a_header_with_a_line_break_is_refused_before_connecting() -> None:
    message = OutboundMessage("msg-1", "email", "a@example.com", "Hi\r\nBcc: x@evil", "b", "en")
    result = _sender(_free_port(), Pauses()).send(message)
    assert (result.status, result.retryable, result.attempts) == ("failed", False, 0)


def test_smtp__only_email_is_sent() -> None:
    with pytest.raises(ValueError, match="sends email"):
        _sender(_free_port(), Pauses()).send(
            OutboundMessage("msg-1", "sms", "+86138", None, "b", "en")
        )

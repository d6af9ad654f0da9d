"""Letters rendered to PDF: a PDF, the same bytes for the same input (a retry renders the same
letter), Chinese text that survives the round trip, page numbers, and a clear error naming
the package to install when there is no CJK font."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from recoup.contact.letters import (
    CJK_FONT_ENV,
    CJK_FONT_PACKAGE,
    LetterError,
    find_cjk_font,
    render_letter_pdf,
)
from recoup.contact.templates import TemplateSet

try:
    find_cjk_font()
    HAVE_CJK = True
except LetterError:
    HAVE_CJK = False

needs_cjk = pytest.mark.skipif(
    not HAVE_CJK, reason=f"no CJK font: apt-get install {CJK_FONT_PACKAGE}"
)
PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(
    PDFTOTEXT is None, reason="pdftotext missing: apt-get install poppler-utils"
)

CONTEXT = {
    "borrower_name": "王小明",
    "account_id": "A0000042",
    "overdue_amount": "¥1,250.00",
    "balance": "¥8,400.00",
    "due_date": "2026-11-15",
    "dpd": 35,
    "lender_name": "示例消费金融",
    "lender_phone": "400-000-0000",
    "lender_address": "上海市示例路1号",
    "dispute_instructions": "请致电400-000-0000或在App中提交异议",
    "account_check_instructions": "登录App查看“我的账单”",
    "contract_ref": "HT-2025-000042",
    "letter_date": "2026-12-20",
}


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    assert PDFTOTEXT is not None
    out = subprocess.run(
        [PDFTOTEXT, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=10
    )
    return "".join(out.stdout.decode("utf-8").split())  # line wrapping aside


def test_letter__an_english_letter_is_a_pdf_and_the_same_bytes_every_time() -> None:
    first = render_letter_pdf("Notice of overdue payment", "Dear Ms Smith,\n\nPlease pay.", "en")
    again = render_letter_pdf("Notice of overdue payment", "Dear Ms Smith,\n\nPlease pay.", "en")
    assert first.startswith(b"%PDF-")
    assert first.rstrip().endswith(b"%%EOF")
    assert first == again
    assert render_letter_pdf("Notice", "Dear Mr Smith,", "en") != first


@needs_cjk
def test_letter__a_chinese_letter_from_the_template_is_deterministic(tmp_path: Path) -> None:
    rendered = TemplateSet().render("cn_letter_m2", "zh-CN", "letter", CONTEXT)
    assert rendered.subject is not None
    first = render_letter_pdf(rendered.subject, rendered.body, "zh-CN")
    assert first.startswith(b"%PDF-")
    assert render_letter_pdf(rendered.subject, rendered.body, "zh-CN") == first


@needs_cjk
@needs_pdftotext
def test_letter__chinese_text_round_trips_through_the_pdf(tmp_path: Path) -> None:
    rendered = TemplateSet().render("cn_letter_m2", "zh-CN", "letter", CONTEXT)
    assert rendered.subject is not None
    text = _text(render_letter_pdf(rendered.subject, rendered.body, "zh-CN"), tmp_path)
    for expected in ("逾期还款通知函", "王小明", "¥8,400.00", "如何提出异议", "上海市示例路1号"):
        assert expected in text
    assert "第1页，共1页" in text


@needs_cjk
@needs_pdftotext
def test_letter__a_long_letter_wraps_onto_numbered_pages(tmp_path: Path) -> None:
    body = "\n\n".join(f"第{i}段：您的分期账户已逾期，请通过官方渠道还款。" * 4 for i in range(40))
    text = _text(render_letter_pdf("通知", body, "zh-CN"), tmp_path)
    assert "第1页，共" in text and "第2页，共" in text
    assert "第39段" in text


@needs_cjk
@needs_pdftotext
def test_letter__an_english_letter_with_a_chinese_name_uses_the_cjk_font(tmp_path: Path) -> None:
    text = _text(render_letter_pdf("Notice", "Dear 王小明,\n\nPlease pay.", "en"), tmp_path)
    assert "Dear王小明," in text and "Page1of1" in text


def test_letter__no_cjk_font_names_the_package_to_install(tmp_path: Path) -> None:
    with pytest.raises(LetterError, match=CJK_FONT_PACKAGE):
        find_cjk_font(environ={}, candidates=[tmp_path / "nothing.ttc"])


def test_letter__a_wrong_font_variable_is_an_error_not_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CJK_FONT_ENV, str(tmp_path / "missing.ttf"))
    with pytest.raises(LetterError, match=CJK_FONT_ENV):
        render_letter_pdf("通知", "您好", "zh-CN")


def test_letter__an_empty_body_is_refused() -> None:
    with pytest.raises(LetterError, match="body"):
        render_letter_pdf("Notice", "  \n", "en")


def test_print_folder__a_resent_letter_overwrites_itself_with_the_same_bytes(
    tmp_path: Path,
) -> None:
    from recoup.contact.letters import PrintFolderSender
    from recoup.contact.message import OutboundMessage

    letter = OutboundMessage(
        idempotency_key="12:2026-03-18:letter-m2",
        channel="letter",
        to="100 Main Street, Springfield",
        subject="Your account",
        body="Dear customer,\n\nYour account is overdue.",
        lang="en",
    )
    sender = PrintFolderSender(tmp_path / "print")
    first = sender.send(letter)
    pdf = (tmp_path / "print" / "12_2026-03-18_letter-m2.pdf").read_bytes()
    again = sender.send(letter)
    assert first.ok and again.ok and first.provider_id == again.provider_id
    assert pdf.startswith(b"%PDF")
    assert sorted(p.name for p in (tmp_path / "print").iterdir()) == ["12_2026-03-18_letter-m2.pdf"]
    assert (tmp_path / "print" / "12_2026-03-18_letter-m2.pdf").read_bytes() == pdf

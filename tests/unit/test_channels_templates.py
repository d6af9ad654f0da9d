"""The shipped message templates: they render in both languages, refuse a missing variable by
name, carry the opt-out text SMS and email need, and keep to the content rules
(docs/compliance.md: CN-LETTER, US-VOICEMAIL, US-OPTOUT, CN-CONDUCT). Also the tasks a
rendered call script becomes."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from recoup.contact.message import OutboundMessage
from recoup.contact.tasks import TaskSender, TimeWindow, call_task, visit_task
from recoup.contact.templates import LANGS, TemplateError, TemplateId, TemplateSet
from recoup.contact.webhook import is_opt_out

SAMPLE = {
    "borrower_name": "王小明",
    "account_id": "A0000042",
    "amount_due": "¥1,200.00",
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
    "unsubscribe_url": "https://example.invalid/u/A0000042",
}

SHIPPED_NAMES = {
    ("cn_sms_d1", "sms"),
    ("cn_call_m1", "script"),
    ("cn_letter_m2", "letter"),
    ("cn_email_reminder", "email"),
    ("cn_voicemail", "voicemail"),
    ("outsourcing_notice", "letter"),
    ("outsourcing_notice", "sms"),
    ("credit_report_notice", "letter"),
    ("credit_report_notice", "sms"),
}

# Words that would threaten or exaggerate (CN-CONDUCT) or speak of third parties; none belongs
# in a reminder, letter or script.
FORBIDDEN = {
    "zh-CN": ("起诉", "坐牢", "拘留", "黑名单", "公安", "法院", "通讯录", "曝光", "家人", "单位"),
    "en": ("arrest", "jail", "prison", "lawsuit", " sue ", "blacklist", "police", "court"),
}

TEMPLATES = TemplateSet()
SHIPPED = TEMPLATES.available()


def _id(t: TemplateId) -> str:
    return t.path


def test_templates__the_strategy_names_are_shipped_in_both_languages() -> None:
    languages = [{(t.name, t.kind) for t in SHIPPED if t.lang == lang} for lang in LANGS]
    for found in languages:
        assert found >= SHIPPED_NAMES
    assert all(found == languages[0] for found in languages)  # no language lacks one


@pytest.mark.parametrize("template", SHIPPED, ids=_id)
def test_templates__every_shipped_template_renders_with_a_sample_context(
    template: TemplateId,
) -> None:
    rendered = TEMPLATES.render(template.name, template.lang, template.kind, SAMPLE)
    assert rendered.body
    assert "{{" not in rendered.body and "{%" not in rendered.body
    assert str(SAMPLE["lender_name"]) in rendered.body
    if template.kind in ("email", "letter"):
        assert rendered.subject
        assert not rendered.body.startswith("Subject:")
    else:
        assert rendered.subject is None


@pytest.mark.parametrize("template", SHIPPED, ids=_id)
def test_templates__no_threats_exaggerations_or_third_parties(template: TemplateId) -> None:
    body = TEMPLATES.render(template.name, template.lang, template.kind, SAMPLE).body
    text = f" {body.lower()} "
    assert [w for w in FORBIDDEN[template.lang] if w in text] == []


@pytest.mark.parametrize("template", [t for t in SHIPPED if t.kind == "sms"], ids=_id)
def test_templates__every_sms_says_how_to_opt_out_with_a_keyword_we_honour(
    template: TemplateId,
) -> None:
    body = TEMPLATES.render(template.name, template.lang, template.kind, SAMPLE).body
    instruction, keyword = (
        ("回复TD退订", "TD") if template.lang == "zh-CN" else ("Reply STOP to opt out", "STOP")
    )
    assert body.endswith(instruction) or body.endswith(instruction + ".")
    assert is_opt_out(keyword)


@pytest.mark.parametrize("template", [t for t in SHIPPED if t.kind == "email"], ids=_id)
def test_templates__every_email_says_how_to_unsubscribe(template: TemplateId) -> None:
    body = TEMPLATES.render(template.name, template.lang, template.kind, SAMPLE).body
    phrase = "退订" if template.lang == "zh-CN" else "To unsubscribe"
    assert phrase in body
    assert str(SAMPLE["unsubscribe_url"]) in body


@pytest.mark.parametrize("lang", LANGS)
def test_templates__voicemail_holds_only_name_company_and_callback_number(lang: str) -> None:
    assert TEMPLATES.variables("cn_voicemail", lang, "voicemail") == {
        "borrower_name",
        "lender_name",
        "lender_phone",
    }
    body = TEMPLATES.render("cn_voicemail", lang, "voicemail", SAMPLE).body
    for word in ("逾期", "欠款", "还款", "overdue", "debt", "payment", "¥"):
        assert word not in body


@pytest.mark.parametrize("lang", LANGS)
def test_templates__the_collection_letter_states_what_cn_letter_requires(lang: str) -> None:
    body = TEMPLATES.render("cn_letter_m2", lang, "letter", SAMPLE).body
    # name and balance; reason and legal basis; how to check; how to dispute; contact details
    for key in (
        "borrower_name",
        "balance",
        "overdue_amount",
        "contract_ref",
        "account_check_instructions",
        "dispute_instructions",
        "lender_phone",
        "lender_address",
    ):
        assert str(SAMPLE[key]) in body, key
    headings = {
        "zh-CN": (
            "欠款情况",
            "催收原因及依据",
            "权利和义务",
            "如何查询账户",
            "如何提出异议",
            "联系方式",
        ),
        "en": (
            "What you owe",
            "on what basis",
            "rights and obligations",
            "check your account",
            "How to dispute",
            "contact us",
        ),
    }[lang]
    for heading in headings:
        assert heading in body
    assert ("证据" if lang == "zh-CN" else "evidence") in body


@pytest.mark.parametrize("lang", LANGS)
def test_templates__the_outsourcing_notice_says_when_and_that_the_same_rules_bind(
    lang: str,
) -> None:
    body = TEMPLATES.render("outsourcing_notice", lang, "letter", SAMPLE).body
    assert str(SAMPLE["lender_phone"]) in body
    assert "7" in body  # no sooner than 7 days after the notice (CN-OUTSOURCE)
    assert ("名单" if lang == "zh-CN" else "published list") in body


@pytest.mark.parametrize("lang", LANGS)
def test_templates__the_credit_report_notice_gives_the_wait_and_the_retention(lang: str) -> None:
    body = TEMPLATES.render("credit_report_notice", lang, "letter", SAMPLE).body
    assert "14" in body  # reported no sooner than 14 days after the notice
    assert "5" in body  # negative records are kept 5 years (CN-CREDIT)


def test_render__a_missing_variable_names_the_template_and_the_variable() -> None:
    context = {k: v for k, v in SAMPLE.items() if k != "amount_due"}
    with pytest.raises(TemplateError) as caught:
        TEMPLATES.render("cn_sms_d1", "zh-CN", "sms", context)
    assert "zh-CN/cn_sms_d1.sms.j2" in str(caught.value)
    assert "'amount_due'" in str(caught.value)


def test_render__an_unknown_template_or_language_is_an_error_saying_what_exists() -> None:
    with pytest.raises(TemplateError, match="it exists in en, zh-CN"):
        TEMPLATES.render("cn_sms_d1", "fr", "sms", SAMPLE)
    with pytest.raises(TemplateError, match="no template"):
        TEMPLATES.render("cn_nothing", "en", "sms", SAMPLE)
    with pytest.raises(TemplateError, match="unknown kind"):
        TEMPLATES.render("cn_sms_d1", "en", "fax", SAMPLE)
    with pytest.raises(TemplateError, match="not a plain name"):
        TEMPLATES.render("../zh-CN/cn_sms_d1", "en", "sms", SAMPLE)


def test_render__text_is_not_html_escaped_and_the_subject_line_is_taken_off(
    tmp_path: Path,
) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "note.email.j2").write_text(
        "Subject: Hi {{ name }}\n\nDear {{ name }},\n\n\n\nbye  \n", encoding="utf-8"
    )
    (tmp_path / "en" / "bare.email.j2").write_text("Dear {{ name }}\n", encoding="utf-8")
    templates = TemplateSet(tmp_path)
    rendered = templates.render("note", "en", "email", {"name": "Smith & <Sons>"})
    assert rendered.subject == "Hi Smith & <Sons>"
    assert rendered.body == "Dear Smith & <Sons>,\n\nbye"
    with pytest.raises(TemplateError, match="Subject"):
        templates.render("bare", "en", "email", {"name": "x"})


def test_render__a_syntax_error_names_the_template_and_line(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "broken.sms.j2").write_text("ok\n{{ name \n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"en/broken\.sms\.j2, line \d"):
        TemplateSet(tmp_path).render("broken", "en", "sms", {"name": "x"})


def test_tasks__a_rendered_call_script_becomes_a_call_task_in_the_named_queue() -> None:
    script = TEMPLATES.render("cn_call_m1", "zh-CN", "script", SAMPLE).body
    message = OutboundMessage("msg-7", "call", "+8613800000000", None, script, "zh-CN")
    task = call_task(message, account_id="A0000042", queue="m2-senior", window="10:00-18:00")
    assert task.idempotency_key == "msg-7"
    assert task.to == "+8613800000000"
    assert task.window == TimeWindow(time(10), time(18))
    assert str(task.window) == "10:00-18:00"
    assert "本次通话将被录音" in task.script
    result = TaskSender().send(message)
    assert (result.status, result.provider_id, result.retryable) == ("accepted", "msg-7", False)
    # the same message again is the same task id: the dispatcher finds it already recorded
    assert TaskSender().send(message).provider_id == "msg-7"


def test_tasks__a_visit_task_needs_an_address_and_a_sane_window() -> None:
    message = OutboundMessage("msg-8", "field_visit", "上海市示例路2号", None, "脚本", "zh-CN")
    task = visit_task(message, account_id="A1", queue="field-east")
    assert (task.address, task.window) == ("上海市示例路2号", None)
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        visit_task(message, account_id="A1", queue="field-east", window="morning")
    with pytest.raises(ValueError, match="start must be before the end"):
        TimeWindow.parse("18:00-10:00")
    with pytest.raises(ValueError, match="not field_visit"):
        visit_task(
            OutboundMessage("msg-9", "sms", "+86138", None, "x", "zh-CN"),
            account_id="A1",
            queue="q",
        )
    with pytest.raises(ValueError, match="TaskSender queues"):
        TaskSender().send(OutboundMessage("msg-9", "sms", "+86138", None, "x", "zh-CN"))

"""Every message a step of the shipped strategy sends has its template, in both languages.

For each contact step of ``recoup/strategy/default.yaml`` (every channel but ``agency`` and
``legal``, which are placements, not messages) the template named by the step exists under
``contact/templates/<lang>/`` with the kind its channel is rendered from (the outbox's
TEMPLATE_KIND: ``call`` and ``field_visit`` are scripts), and renders with exactly the
variables the outbox provides. No shipped template may use any other variable: it would fail
at send time. SMS and email carry their opt-out text (US-OPTOUT), and, when the content
checker is installed, every shipped template passes it (CN-CONDUCT, CN-LETTER, US-VOICEMAIL,
CN-IDENTITY).
"""

from __future__ import annotations

import importlib.util

import pytest

from recoup.contact.outbox import TEMPLATE_KIND
from recoup.contact.templates import LANGS, TemplateId, TemplateSet
from recoup.strategy.spec import Channel, load_default_strategy

#: The variables the outbox gives every template (recoup.contact.outbox._context), and no
#: others: anything else is undefined at send time.
CONTEXT_VARIABLES = frozenset(
    {
        "borrower_name",
        "account_id",
        "contract_ref",
        "overdue_amount",
        "amount_due",
        "balance",
        "dpd",
        "due_date",
        "letter_date",
        "lender_name",
        "lender_phone",
        "lender_address",
        "unsubscribe_url",
        "dispute_instructions",
        "account_check_instructions",
    }
)

SAMPLE: dict[str, object] = {
    "borrower_name": "王小明",
    "account_id": "A0000042",
    "contract_ref": "HT-2025-000042",
    "overdue_amount": "¥1,250.00",
    "amount_due": "¥1,200.00",
    "balance": "¥8,400.00",
    "dpd": 35,
    "due_date": "2026-11-15",
    "letter_date": "2026-12-20",
    "lender_name": "示例消费金融",
    "lender_phone": "400-000-0000",
    "lender_address": "上海市示例路1号",
    "unsubscribe_url": "https://example.invalid/u/A0000042",
    "dispute_instructions": "请致电400-000-0000或在App中提交异议",
    "account_check_instructions": "登录App查看“我的账单”",
}

#: Steps on these channels hand the case to someone else; they send no message.
PLACEMENTS = frozenset({Channel.AGENCY, Channel.LEGAL})

#: The opt-out instruction an SMS ends with, by language (the keywords the webhook honours).
SMS_OPT_OUT = {"zh-CN": "回复TD退订", "en": "Reply STOP to opt out"}
#: What an email says, with the unsubscribe link, by language.
EMAIL_OPT_OUT = {"zh-CN": "退订", "en": "To unsubscribe"}

#: The content checker's language code for each template folder.
CHECKER_LANG = {"zh-CN": "zh", "en": "en"}

TEMPLATES = TemplateSet()
SHIPPED = TEMPLATES.available()


def _strategy_templates() -> list[tuple[str, str]]:
    """(template name, kind) of every contact step of the shipped strategy, sorted."""
    strategy = load_default_strategy()
    found = {
        (step.template, TEMPLATE_KIND[step.channel.value])
        for path in strategy.paths.values()
        for step in path.steps
        if step.channel not in PLACEMENTS
    }
    return sorted(found)


STRATEGY_TEMPLATES = _strategy_templates()


def _id(t: TemplateId) -> str:
    return t.path


def test_sample__holds_exactly_the_context_variables() -> None:
    assert set(SAMPLE) == CONTEXT_VARIABLES


def test_strategy__every_contact_step_channel_has_a_template_kind() -> None:
    strategy = load_default_strategy()
    channels = {step.channel for path in strategy.paths.values() for step in path.steps}
    assert {c.value for c in channels - PLACEMENTS} <= set(TEMPLATE_KIND)
    assert STRATEGY_TEMPLATES, "the shipped strategy has no contact step"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("name", "kind"), STRATEGY_TEMPLATES, ids=lambda v: str(v))
def test_strategy__every_contact_step_has_a_template_that_renders(
    name: str, kind: str, lang: str
) -> None:
    rendered = TEMPLATES.render(name, lang, kind, SAMPLE)
    assert rendered.body
    assert "{{" not in rendered.body and "{%" not in rendered.body
    assert str(SAMPLE["lender_name"]) in rendered.body
    if kind in ("email", "letter"):
        assert rendered.subject
    else:
        assert rendered.subject is None


def test_strategy__placements_have_no_template() -> None:
    strategy = load_default_strategy()
    placed = {
        step.template
        for path in strategy.paths.values()
        for step in path.steps
        if step.channel in PLACEMENTS
    }
    assert placed
    assert not placed & {t.name for t in SHIPPED}


@pytest.mark.parametrize("template", SHIPPED, ids=_id)
def test_templates__use_only_the_context_variables(template: TemplateId) -> None:
    used = TEMPLATES.variables(template.name, template.lang, template.kind)
    assert sorted(used - CONTEXT_VARIABLES) == []


@pytest.mark.parametrize("template", SHIPPED, ids=_id)
def test_templates__render_with_exactly_the_context_variables(template: TemplateId) -> None:
    assert TEMPLATES.render(template.name, template.lang, template.kind, SAMPLE).body


def test_templates__every_name_is_shipped_in_both_languages() -> None:
    by_lang = {lang: {(t.name, t.kind) for t in SHIPPED if t.lang == lang} for lang in LANGS}
    assert by_lang["zh-CN"] == by_lang["en"]


@pytest.mark.parametrize("template", [t for t in SHIPPED if t.kind == "sms"], ids=_id)
def test_templates__every_sms_ends_with_its_opt_out_text(template: TemplateId) -> None:
    body = TEMPLATES.render(template.name, template.lang, template.kind, SAMPLE).body
    assert body.rstrip(".").endswith(SMS_OPT_OUT[template.lang])


@pytest.mark.parametrize("template", [t for t in SHIPPED if t.kind == "email"], ids=_id)
def test_templates__every_email_says_how_to_unsubscribe(template: TemplateId) -> None:
    body = TEMPLATES.render(template.name, template.lang, template.kind, SAMPLE).body
    assert EMAIL_OPT_OUT[template.lang] in body
    assert str(SAMPLE["unsubscribe_url"]) in body


@pytest.mark.parametrize("template", [t for t in SHIPPED if t.kind == "letter"], ids=_id)
def test_templates__every_letter_states_what_cn_letter_requires(template: TemplateId) -> None:
    body = TEMPLATES.render(template.name, template.lang, template.kind, SAMPLE).body
    # name and balance; legal basis; how to check; how to dispute; the lender's contacts
    for key in (
        "borrower_name",
        "balance",
        "overdue_amount",
        "contract_ref",
        "account_check_instructions",
        "dispute_instructions",
        "lender_name",
        "lender_phone",
        "lender_address",
    ):
        assert str(SAMPLE[key]) in body, key
    # rights and obligations; evidence with a dispute
    words = {
        "zh-CN": ("权利", "义务", "证据"),
        "en": ("rights and obligations", "evidence"),
    }[template.lang]
    for word in words:
        assert word in body, word


@pytest.mark.parametrize("template", [t for t in SHIPPED if t.kind == "voicemail"], ids=_id)
def test_templates__a_voicemail_holds_only_name_company_and_callback_number(
    template: TemplateId,
) -> None:
    used = TEMPLATES.variables(template.name, template.lang, template.kind)
    assert used <= {"borrower_name", "lender_name", "lender_phone"}


# --------------------------------------------------------------------------- content checker

_HAS_CHECKER = importlib.util.find_spec("recoup.compliance.content") is not None


@pytest.mark.skipif(not _HAS_CHECKER, reason="recoup.compliance.content is not installed")
@pytest.mark.parametrize("template", SHIPPED, ids=_id)
def test_templates__pass_the_content_checker(template: TemplateId) -> None:
    from recoup.compliance import content

    if not (hasattr(content, "check_template") and hasattr(content, "check_text")):
        pytest.skip("recoup.compliance.content has no check_template and check_text")
    source = (TEMPLATES.folder / template.path).read_text(encoding="utf-8")
    lang = CHECKER_LANG[template.lang]
    found: list[content.ContentViolation] = []
    if template.kind == "script":
        # A script is shown to a collector, never sent: its whole text is held to the
        # prohibited-language lexicon.
        found.extend(content.check_text(source, lang).violations)
    kinds = {k.value for k in content.TemplateKind}
    if template.kind in kinds:
        report = content.check_template(source, lang, template.kind, variables=CONTEXT_VARIABLES)
        found.extend(v for v in report.violations if v not in found)
    assert [(v.rule, v.term, v.message) for v in found] == []

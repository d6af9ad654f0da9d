"""Message templates checked when saved: opt-out on SMS and email (US-OPTOUT, CN-OPTOUT),
limited-content voicemail (US-VOICEMAIL), the elements of a collection letter (CN-LETTER),
the institution's name in a call script (CN-IDENTITY), prohibited language in any kind,
and Jinja2 syntax errors."""

from __future__ import annotations

import pytest

from recoup.compliance.content import (
    ContentReport,
    TemplateKind,
    check_template,
)


def rules(report: ContentReport) -> list[tuple[str, str]]:
    return [(v.rule, v.term) for v in report.violations]


# --------------------------------------------------------------------------- opt-out


def test_template__an_english_sms_without_opt_out_fails() -> None:
    source = "Hello {{ borrower_name }}, your installment is overdue. Call {{ lender_phone }}."
    assert rules(check_template(source, "en", "sms")) == [("US-OPTOUT", "opt_out")]


@pytest.mark.parametrize(
    "ending", ["Reply STOP to opt out.", "Text STOP to end.", "{{ opt_out_text }}"]
)
def test_template__an_english_sms_with_opt_out_passes(ending: str) -> None:
    source = f"Hello {{{{ borrower_name }}}}, your installment is overdue. {ending}"
    assert check_template(source, "en", "sms").ok


def test_template__a_chinese_sms_needs_unsubscribe_text() -> None:
    source = "【{{ lender_name }}】{{ borrower_name }}您好，您的账单已逾期，请尽快还款。"
    assert rules(check_template(source, "zh", TemplateKind.SMS)) == [("CN-OPTOUT", "opt_out")]
    assert check_template(source + "回复TD退订", "zh", "sms").ok


def test_template__an_email_needs_an_unsubscribe_instruction() -> None:
    source = "Dear {{ borrower_name }},\n\nYour installment of {{ amount_due }} is overdue.\n"
    assert rules(check_template(source, "en", "email")) == [("US-OPTOUT", "opt_out")]
    assert check_template(source + "To unsubscribe, visit {{ unsubscribe_url }}.", "en", "email").ok


def test_template__an_app_push_needs_no_opt_out() -> None:
    assert check_template("您的账单已逾期，请尽快还款", "zh", "app_push").ok


# --------------------------------------------------------------------------- voicemail

VOICEMAIL_EN = (
    "This message is for {{ borrower_name }}. This is {{ lender_name }}; "
    "please call us back at {{ lender_phone }}. Thank you."
)
VOICEMAIL_ZH = (
    "这是给{{ borrower_name }}的留言。这里是{{ lender_name }}，请回电{{ lender_phone }}。"
)


def test_template__a_limited_content_voicemail_passes() -> None:
    assert check_template(VOICEMAIL_EN, "en", "voicemail").ok
    assert check_template(VOICEMAIL_ZH, "zh", "voicemail").ok


def test_template__a_voicemail_that_mentions_the_debt_fails() -> None:
    source = VOICEMAIL_EN + " It is about your overdue balance."
    assert rules(check_template(source, "en", "voicemail")) == [
        ("US-VOICEMAIL", "overdue"),
        ("US-VOICEMAIL", "balance"),
    ]


def test_template__a_voicemail_with_an_amount_variable_fails() -> None:
    source = VOICEMAIL_EN + " Please have {{ amount_due }} ready."
    assert rules(check_template(source, "en", "voicemail")) == [("US-VOICEMAIL", "amount_due")]


def test_template__a_voicemail_with_a_written_amount_fails() -> None:
    source = VOICEMAIL_EN + " Ref $120."
    assert rules(check_template(source, "en", "voicemail")) == [("US-VOICEMAIL", "$120")]


def test_template__a_chinese_voicemail_that_mentions_the_debt_fails() -> None:
    source = VOICEMAIL_ZH + "关于您的欠款，请尽快处理。"
    assert rules(check_template(source, "zh", "voicemail")) == [("US-VOICEMAIL", "欠款")]


def test_template__a_voicemail_word_inside_a_longer_word_is_fine() -> None:
    # "late" is not a voicemail term, "late payment" is; "later" must not trip either.
    assert check_template(VOICEMAIL_EN + " Call us later.", "en", "voicemail").ok


# --------------------------------------------------------------------------- letter

LETTER_ZH = {
    "name_and_balance": "{{ borrower_name }}您好：您的欠款余额为{{ balance }}。",
    "reason_and_legal_basis": "您未按借款合同按期还款，根据《中华人民共和国民法典》特此通知。",
    "rights_and_obligations": "您有权依法向人民法院提起诉讼，也有义务按期还款。",
    "how_to_check_account": "您可登录App查询账户明细。",
    "dispute_with_evidence": "如有异议，请提供相关证据。",
    "lender_contact": "联系电话：{{ lender_phone }}。",
}
LETTER_EN = {
    "name_and_balance": "Dear {{ borrower_name }},\nThe balance of your account is {{ balance }}.",
    "reason_and_legal_basis": "Your installment is overdue, and under your loan agreement "
    "we ask you to pay it.",
    "rights_and_obligations": "You have the right to fair treatment and the obligation to "
    "repay the loan. You may also take the matter to court.",
    "how_to_check_account": "To check your account, log in to our app.",
    "dispute_with_evidence": "If you disagree, you may dispute it and send us evidence.",
    "lender_contact": "Phone: {{ lender_phone }}",
}
LETTERS = {"zh": LETTER_ZH, "en": LETTER_EN}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_template__a_complete_letter_passes(lang: str) -> None:
    source = "\n".join(LETTERS[lang].values())
    assert check_template(source, lang, "letter") == ContentReport(())


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("element", list(LETTER_ZH))
def test_template__a_letter_missing_an_element_fails_naming_it(lang: str, element: str) -> None:
    source = "\n".join(text for name, text in LETTERS[lang].items() if name != element)
    assert rules(check_template(source, lang, "letter")) == [("CN-LETTER", element)]


def test_template__every_missing_letter_element_is_its_own_violation() -> None:
    report = check_template("{{ borrower_name }}您好。", "zh", "letter")
    assert rules(report) == [
        ("CN-LETTER", "name_and_balance"),
        ("CN-LETTER", "reason_and_legal_basis"),
        ("CN-LETTER", "rights_and_obligations"),
        ("CN-LETTER", "how_to_check_account"),
        ("CN-LETTER", "dispute_with_evidence"),
        ("CN-LETTER", "lender_contact"),
    ]


def test_template__an_element_may_be_given_by_a_variable() -> None:
    letter = dict(LETTER_EN, dispute_with_evidence="{{ dispute_instructions }}")
    assert check_template("\n".join(letter.values()), "en", "letter").ok


# --------------------------------------------------------------------------- any kind


@pytest.mark.parametrize("kind", [k.value for k in TemplateKind])
def test_template__prohibited_language_fails_in_every_kind(kind: str) -> None:
    source = "{{ borrower_name }}，你这个老赖，回复TD退订。这里是{{ lender_name }}"
    report = check_template(source, "zh", kind)
    assert ("CN-CONDUCT", "老赖") in rules(report)


def test_template__prohibited_language_in_any_branch_fails() -> None:
    source = "{% if dpd > 30 %}You will go to jail.{% else %}Please pay.{% endif %} Reply STOP."
    assert rules(check_template(source, "en", "sms")) == [("CONDUCT", "jail")]


def test_template__a_term_split_by_a_variable_still_fails() -> None:
    source = "你会坐{{ borrower_name }}牢。回复TD退订"
    assert ("CN-CONDUCT", "坐 牢") in rules(check_template(source, "zh", "sms"))


def test_template__variable_values_are_not_judged() -> None:
    # What the renderer fills in is data, not the template's words.
    source = "{{ borrower_name }}, Reply STOP to opt out."
    assert check_template(source, "en", "sms").ok


def test_template__a_syntax_error_names_its_line() -> None:
    source = "Hello {{ borrower_name }},\n{% endif %} your installment is overdue.\nReply STOP."
    report = check_template(source, "en", "sms")
    assert [(v.rule, v.term) for v in report.violations] == [("TEMPLATE-SYNTAX", "line 2")]
    assert report.violations[0].message.startswith("Template syntax error at line 2:")


def test_template__a_syntax_error_does_not_hide_prohibited_language() -> None:
    source = "{% if %}You will go to jail."
    assert rules(check_template(source, "en", "sms")) == [
        ("TEMPLATE-SYNTAX", "line 1"),
        ("CONDUCT", "jail"),
    ]


def test_template__an_unknown_filter_is_a_syntax_error() -> None:
    source = "Hello {{ borrower_name | shout }}. Reply STOP to opt out."
    assert rules(check_template(source, "en", "sms")) == [("TEMPLATE-SYNTAX", "line 1")]


def test_template__an_unknown_variable_is_reported() -> None:
    source = "Hello {{ borower_name }}. Reply STOP to opt out."
    assert rules(check_template(source, "en", "sms")) == [("TEMPLATE-VARIABLE", "borower_name")]
    assert check_template(source, "en", "sms", variables=None).ok
    assert check_template(source, "en", "sms", variables={"borower_name"}).ok


def test_template__a_call_script_must_name_the_institution() -> None:
    source = "您好，请问是{{ borrower_name }}本人吗？"
    assert rules(check_template(source, "zh", "script")) == [("CN-IDENTITY", "identity")]
    assert check_template("您好，我是{{ lender_name }}的工作人员。" + source, "zh", "script").ok


def test_template__an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown template kind 'fax'"):
        check_template("hello", "en", "fax")

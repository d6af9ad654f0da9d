"""Prohibited language in messages, notes and transcripts (CN-CONDUCT; CONDUCT for English,
standing for FDCPA 1692d–e and FCA CONC 7.9): plain reminders pass, threats, insults and
false claims fail, also when split by spaces or punctuation, written full-width, in
traditional characters or with look-alike letters."""

from __future__ import annotations

import pytest

from recoup.compliance.content import (
    ContentReport,
    ContentViolation,
    check_text,
    normalise,
    report_document,
)


def terms(report: ContentReport) -> list[str]:
    return [v.term for v in report.violations]


# --------------------------------------------------------------------------- Chinese

PLAIN_ZH = [
    "您的账单已逾期，请尽快还款",
    "尊敬的客户，您本期账单已逾期3天，请及时还款，如有疑问请致电400-000-0000。回复TD退订",
    "您好，您的分期账户已逾期15天，逾期金额为1,250.00元。如已还款请忽略。",
    "如您对欠款有异议，可提供证据向我司申请核实；您也有权依法向人民法院提起诉讼。",
    "我们将按规定向中国人民银行征信中心报送逾期信息，报送前会提前告知您。",
    "请向下滚动页面查看还款计划。",
    "请只通过官方渠道还款，谨防骗子冒充客服。",
    "请勿回复垃圾短信，谨防诈骗。",
    "客户表示本周五发工资后还款，已约定还款日期。",
]


@pytest.mark.parametrize("text", PLAIN_ZH)
def test_content__a_plain_chinese_reminder_passes(text: str) -> None:
    assert check_text(text, "zh") == ContentReport(())


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("你再不还钱就去坐牢吧", "坐牢"),
        ("我们马上派人上门抓你", "抓你"),
        ("小心我们让你全家不得安宁", "让你全家"),
        ("你这个老赖", "老赖"),
        ("你就是个骗子", "骗子"),
        ("真不要脸", "不要脸"),
        ("你去死吧", "去死"),
        ("我们是法院的，今天来通知你", "我们是法院"),
        ("警方已经介入调查", "警方已"),
        ("你已被拉入黑名单", "拉入黑名单"),
        ("你已经是征信黑户了", "征信黑户"),
        ("再不还就把你的欠款发给你所有联系人", "发给你所有联系人"),
        ("我们会打你通讯录", "通讯录"),
        ("明天就把你曝光到网上", "把你曝光"),
        ("你可以去借网贷先还上", "借网贷"),
        ("需要另外支付催收费300元", "催收费"),
        ("逾期会产生滞纳金", "滞纳金"),
        ("你要承担刑事责任", "刑事责任"),
        ("你给我滚", "滚"),
    ],
)
def test_content__chinese_threats_insults_and_false_claims_fail(text: str, term: str) -> None:
    report = check_text(text, "zh")
    assert not report.ok
    assert term in terms(report)


def test_content__a_violation_names_the_rule_the_term_and_a_message() -> None:
    report = check_text("你这个老赖", "zh")
    assert report.violations == (
        ContentViolation("CN-CONDUCT", "老赖", "侮辱、谩骂用语：对借款人须使用文明礼貌用语。"),
    )


def test_content__the_court_may_be_named_but_not_impersonated() -> None:
    assert check_text("您有权依法向人民法院提起诉讼，并有义务按合同约定还款。", "zh").ok
    assert not check_text("我们是法院的", "zh").ok
    report = check_text("法院已经立案要抓你", "zh")
    assert terms(report) == ["法院已经立案", "抓你"]


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("不还就坐 牢", "坐 牢"),
        ("不还就坐-牢", "坐-牢"),
        ("不还就坐.牢", "坐.牢"),
        ("不还就坐\u3000牢", "坐\u3000牢"),  # ideographic space
        ("不还就坐\u200b牢", "坐\u200b牢"),  # zero-width space
        ("不还就坐😡牢", "坐😡牢"),
        ("不还就坐／牢", "坐／牢"),  # full-width slash
    ],
)
def test_content__a_chinese_term_split_by_spaces_or_punctuation_still_fails(
    text: str, written: str
) -> None:
    report = check_text(text, "zh")
    # "不还就坐牢" is itself an exaggeration term: the longer match is the one reported.
    assert terms(report) == [f"不还就{written}"]


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("你這個騙子", "騙子"),
        ("老賴", "老賴"),
        ("你已被列入黑名單", "列入黑名單"),
        ("我殺了你", "殺了你"),
        ("我要讓你全家好看", "讓你全家"),
    ],
)
def test_content__traditional_characters_read_as_simplified(text: str, written: str) -> None:
    assert terms(check_text(text, "zh")) == [written]


def test_content__the_term_is_reported_as_written() -> None:
    report = check_text("哈哈，你这个 老 - 赖！", "zh")
    assert terms(report) == ["老 - 赖"]


def test_content__a_one_character_term_matches_only_as_a_word() -> None:
    assert not check_text("你给我滚", "zh").ok
    assert not check_text("你真是蠢", "zh").ok
    assert check_text("请滚动屏幕查看", "zh").ok
    assert check_text("本金不会利滚利", "zh").ok


def test_content__an_allowed_phrase_does_not_excuse_the_same_term_elsewhere() -> None:
    report = check_text("谨防骗子冒充，你这个骗子", "zh")
    assert terms(report) == ["骗子"]


def test_content__overlapping_terms_are_reported_once_as_the_longer() -> None:
    assert terms(check_text("你已被拉入黑名单", "zh")) == ["拉入黑名单"]


def test_content__a_term_repeated_is_one_violation() -> None:
    assert terms(check_text("老赖，老赖，你就是老赖", "zh")) == ["老赖"]


def test_content__violations_come_in_the_order_of_the_text() -> None:
    report = check_text("骗子！不还就让你全家不得安宁，还要曝光你", "zh")
    assert terms(report) == ["骗子", "让你全家", "全家不得安宁", "曝光你"]


# --------------------------------------------------------------------------- English

PLAIN_EN = [
    "Your payment of $120.00 is 5 days overdue. Please pay at your earliest convenience.",
    "Dear customer, your installment is overdue. If you have already paid, please ignore this.",
    "You have the right to dispute this debt. You may also take the matter to court.",
    "If you are a victim of identity theft, please send us a copy of your police report.",
    "Our staff will check their records and theirs. Please call us back later today.",
    "Build your skills: our app shows your statement and your payment history.",
    "Check your spam or trash folder if our email did not arrive.",
]


@pytest.mark.parametrize("text", PLAIN_EN)
def test_content__a_plain_english_reminder_passes(text: str) -> None:
    assert check_text(text, "en").ok, check_text(text, "en")


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Pay today or you will go to jail.", "jail"),
        ("You will be arrested.", "arrested"),
        ("A warrant for your arrest has been issued.", "warrant for your arrest"),
        ("I am calling from the police.", "from the police"),
        ("This is the court calling about your case.", "this is the court"),
        ("We will tell your employer.", "tell your employer"),
        ("We will tell your neighbours about this.", "tell your neighbours"),
        ("You will be put on a blacklist.", "blacklist"),
        ("Listen, you deadbeat.", "deadbeat"),
        ("You are a loser and an idiot.", "loser"),
        ("We will press criminal charges.", "criminal charges"),
        ("We will sue your family.", "we will sue your family"),
        ("We will garnish your wages tomorrow.", "garnish"),
        ("Everyone in your phone will get a message.", "everyone in your phone"),
        ("Take out a payday loan and pay us.", "payday loan"),
    ],
)
def test_content__english_threats_insults_and_false_claims_fail(text: str, term: str) -> None:
    report = check_text(text, "en")
    assert not report.ok
    assert term in [t.lower() for t in terms(report)]
    assert {v.rule for v in report.violations} == {"CONDUCT"}


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("You will go to j\u0430il", "j\u0430il"),  # Cyrillic а
        ("You will go to j@il", "j@il"),
        ("Call the p0lice", "p0lice"),
        ("You will go to JAIL", "JAIL"),
        ("You will go to ｊａｉｌ", "ｊａｉｌ"),  # full-width
        ("You will go to j\u200bail", "j\u200bail"),  # zero-width space
        ("You will go to jàil", "jàil"),  # accent
        ("You will go to j.a.i.l", "j.a.i.l"),
        ("You will go to j-a-i-l", "j-a-i-l"),
        ("You will go to j a i l", "j a i l"),
        ("You 1d10t", "1d10t"),
        ("You $cum", "$cum"),
        ("I will k!ll", "k!ll"),
        ("We will tell.your.employer", "tell.your.employer"),
        ("The \u0440\u043eli\u0441e are coming", "\u0440\u043eli\u0441e"),  # Cyrillic р, о, с
    ],
)
def test_content__english_evasions_are_caught(text: str, written: str) -> None:
    assert terms(check_text(text, "en")) == [written]


def test_content__an_english_evasion_is_reported_as_written() -> None:
    assert terms(check_text("You will go to j@il, j.a.i.l!", "en")) == ["j@il", "j.a.i.l"]


def test_content__english_terms_match_whole_words_only() -> None:
    assert check_text("Build your skills with our budgeting guide.", "en").ok
    assert not check_text("We will kill you.", "en").ok


def test_content__an_allowed_phrase_lets_a_term_through() -> None:
    assert check_text("Please file a police report.", "en").ok
    assert not check_text("The police are on their way.", "en").ok


# --------------------------------------------------------------------------- the document


def test_content__the_report_document_has_exactly_ok_and_violations() -> None:
    document = report_document(check_text("你这个老赖", "zh"))
    assert document == {
        "ok": False,
        "violations": [
            {
                "rule": "CN-CONDUCT",
                "term": "老赖",
                "message": "侮辱、谩骂用语：对借款人须使用文明礼貌用语。",
            }
        ],
    }
    assert report_document(check_text("您的账单已逾期，请尽快还款", "zh")) == {
        "ok": True,
        "violations": [],
    }


def test_content__an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        check_text("bonjour", "fr")


def test_content__normalise_shows_what_the_matcher_reads() -> None:
    assert normalise("坐 牢，ＴＤ退訂", "zh") == "坐牢td退订"
    assert normalise("J@IL, k.i.l.l", "en") == "jail k i l l"

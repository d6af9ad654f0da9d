"""The lexicon files a compliance officer edits: the shipped ones are substantial and
consistent, a custom one can be loaded, and every error names the file, the line and the
field."""

from __future__ import annotations

from pathlib import Path

import pytest

from recoup.compliance.content import (
    Language,
    check_template,
    check_text,
    load_lexicon,
    parse_lexicon,
    shipped_lexicon,
)
from recoup.yamlfile import YamlFileError


def test_lexicon__the_shipped_lexicons_are_substantial() -> None:
    zh, en = shipped_lexicon("zh"), shipped_lexicon("en")
    assert zh.language is Language.ZH and en.language is Language.EN
    assert sum(len(c.terms) for c in zh.categories) >= 80
    assert sum(len(c.terms) for c in en.categories) >= 60
    required = {"threat", "insult", "impersonation", "false_blacklist", "exaggeration", "shaming"}
    assert required <= {c.name for c in zh.categories}
    assert required <= {c.name for c in en.categories}
    assert {c.rule for c in zh.categories} == {"CN-CONDUCT", "CN-PRICING"}
    assert {c.rule for c in en.categories} == {"CONDUCT"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_lexicon__every_shipped_term_catches_itself(lang: str) -> None:
    # A term that its own normalisation cannot find would never fire.
    for category in shipped_lexicon(lang).categories:
        for term in category.terms:
            text = term.text.rstrip("*")
            assert not check_text(text, lang).ok, (category.name, term.text)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_lexicon__no_allowed_phrase_is_itself_prohibited(lang: str) -> None:
    for category in shipped_lexicon(lang).categories:
        for phrase in category.allow:
            assert check_text(phrase.text, lang).ok, (category.name, phrase.text)


VALID = """\
language: zh
categories:
  threat:
    rule: CN-CONDUCT
    message: 威胁
    terms:
      - 坐牢
      - {term: 死, match: word}
      - {term: 打你, match: word}
"""


def test_lexicon__a_custom_lexicon_is_used_in_place_of_the_shipped_one(tmp_path: Path) -> None:
    path = tmp_path / "house.yaml"
    path.write_text(VALID, encoding="utf-8")
    lexicon = load_lexicon(path)
    assert [c.name for c in lexicon.categories] == ["threat"]
    assert not check_text("不还就坐牢", "zh", lexicon).ok
    assert check_text("你这个老赖", "zh", lexicon).ok  # not in this lexicon


def test_lexicon__match_word_asks_for_whole_words_on_a_longer_term() -> None:
    lexicon = parse_lexicon(VALID)
    assert not check_text("我打你", "zh", lexicon).ok
    # 打你 is in the text, but jieba reads 拨打/你/的: not the word 打你.
    assert "打你" in "我们会拨打你的电话"
    assert check_text("我们会拨打你的电话", "zh", lexicon).ok


def test_lexicon__a_lexicon_for_another_language_is_refused() -> None:
    with pytest.raises(ValueError, match="is for zh, not en"):
        check_text("hello", "en", parse_lexicon(VALID))


def test_lexicon__without_requirement_sections_no_template_requirement_applies() -> None:
    lexicon = parse_lexicon(VALID)
    assert check_template("您的账单已逾期", "zh", "sms", lexicon=lexicon).ok
    assert check_template("您的账单已逾期", "zh", "letter", lexicon=lexicon).ok


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("language: zh", "language: fr"), "line 1, language: must be zh or en, got 'fr'"),
        (
            ("    rule: CN-CONDUCT\n", ""),
            "line 3, categories.threat.rule: must be non-empty text, got nothing",
        ),
        (
            ("    terms:", "    term:"),
            "line 6, categories.threat.term: unknown field (expected one of rule, message,",
        ),
        (
            ("      - 坐牢", "      - [坐, 牢]"),
            "line 7, categories.threat.terms[0]: must be text or {term, match}, got list",
        ),
        (
            ("match: word}\n      - {term: 打你", "match: exact}\n      - {term: 打你"),
            "line 8, categories.threat.terms[1].match: 'exact' is not a match mode",
        ),
        (
            ("      - 坐牢", "      - 坐牢\n      - 坐 牢"),
            "line 8, categories.threat.terms[1]: '坐 牢' is listed twice "
            "(reads the same as '坐牢')",
        ),
        (
            ("      - 坐牢", "      - '。。'"),
            "line 7, categories.threat.terms[0]: '。。' has no letters or digits left to match",
        ),
        (
            ("    terms:\n      - 坐牢", "    allow: [坐牢]\n    terms:\n      - 坐牢"),
            None,
        ),
        (("  threat:", "  Threat:"), "line 3, categories.Threat: a category name is lower-case"),
    ],
)
def test_lexicon__an_error_names_the_line_and_the_field(
    change: tuple[str, str], expected: str | None
) -> None:
    old, new = change
    assert old in VALID
    text = VALID.replace(old, new, 1)
    if expected is None:
        parse_lexicon(text, "house.yaml")
        return
    with pytest.raises(YamlFileError) as caught:
        parse_lexicon(text, "house.yaml")
    assert str(caught.value).startswith(f"house.yaml, {expected}"), str(caught.value)


def test_lexicon__an_error_in_a_letter_element_names_it() -> None:
    text = VALID + (
        "letter_elements:\n"
        "  rule: CN-LETTER\n"
        "  elements:\n"
        "    lender_contact:\n"
        "      message: 联系方式\n"
        "      require:\n"
        "        - terms: [电话]\n"
        "        - {}\n"
    )
    with pytest.raises(YamlFileError) as caught:
        parse_lexicon(text, "house.yaml")
    assert str(caught.value) == (
        "house.yaml, line 17, letter_elements.elements.lender_contact.require[1]: "
        "needs terms or variables (or both)"
    )


def test_lexicon__a_file_that_is_not_yaml_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("language: zh\ncategories: [unclosed\n", encoding="utf-8")
    with pytest.raises(YamlFileError, match=r"broken\.yaml, line \d+: not valid YAML"):
        load_lexicon(path)

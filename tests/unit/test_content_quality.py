"""Quality inspection (质检): collectors' notes and call transcripts scanned with the content
rules; a score per collector (100 × share of their notes with no violation), worst first,
and the contacts to review."""

from __future__ import annotations

from recoup.compliance.content import (
    CollectorScore,
    ContentViolation,
    Note,
    guess_language,
    inspect_notes,
)

CLEAN_ZH = "客户表示周五发工资后还款，已约定还款日期。"
CLEAN_EN = "Customer promised to pay on Friday."


def test_quality__scores_are_the_share_of_clean_notes_worst_first() -> None:
    notes = [
        Note("c1", "wang", CLEAN_ZH),
        Note("c2", "wang", "客户不接电话，告诉他不还就坐牢"),
        Note("c3", "wang", CLEAN_ZH),
        Note("c4", "wang", CLEAN_ZH),
        Note("c5", "li", CLEAN_ZH),
        Note("c6", "li", CLEAN_ZH),
        Note("c7", "smith", "Told the customer he is a deadbeat."),
    ]
    report = inspect_notes(notes)
    assert report.per_collector == (
        CollectorScore("smith", notes=1, flagged=1, score=0.0),
        CollectorScore("wang", notes=4, flagged=1, score=75.0),
        CollectorScore("li", notes=2, flagged=0, score=100.0),
    )
    assert [(f.contact_id, f.collector) for f in report.flagged] == [
        ("c2", "wang"),
        ("c7", "smith"),
    ]
    assert report.flagged[1].violations[0].term == "deadbeat"


def test_quality__a_score_is_rounded_to_one_decimal() -> None:
    notes = [Note(f"c{i}", "wang", CLEAN_ZH) for i in range(2)]
    notes.append(Note("c9", "wang", "你这个老赖"))
    (score,) = inspect_notes(notes).per_collector
    assert score.score == 66.7


def test_quality__ties_go_to_more_flagged_notes_then_the_collector_id() -> None:
    notes = [
        Note("c1", "b", "老赖"),
        Note("c2", "b", CLEAN_ZH),
        Note("c3", "a", "老赖"),
        Note("c4", "a", CLEAN_ZH),
        Note("c5", "c", "老赖"),
        Note("c6", "c", "骗子"),
        Note("c7", "c", CLEAN_ZH),
        Note("c8", "c", CLEAN_ZH),
    ]
    assert [s.collector for s in inspect_notes(notes).per_collector] == ["c", "a", "b"]


def test_quality__notes_on_one_contact_are_flagged_once_with_all_their_violations() -> None:
    notes = [
        Note("c1", "wang", "老赖"),
        Note("c1", "wang", "老赖，我们会打你通讯录"),
    ]
    (flagged,) = inspect_notes(notes).flagged
    assert flagged.violations == (
        ContentViolation("CN-CONDUCT", "老赖", "侮辱、谩骂用语：对借款人须使用文明礼貌用语。"),
        ContentViolation(
            "CN-CONDUCT",
            "通讯录",
            "泄露个人信息或骚扰无关第三人：不得向借款人以外的人透露欠款信息，不得使用通讯录。",
        ),
    )


def test_quality__a_note_in_each_language_is_read_with_its_own_lexicon() -> None:
    notes = [
        Note("c1", "wang", "Customer said: you jail me? 老赖", lang="en"),
        Note("c2", "wang", CLEAN_EN),
    ]
    report = inspect_notes(notes)
    assert [v.term for v in report.flagged[0].violations] == ["jail"]
    assert guess_language("Call back later") == "en"
    assert guess_language("请回电") == "zh"


def test_quality__the_language_can_be_chosen_by_the_caller() -> None:
    notes = [Note("c1", "wang", "Customer said: you jail me? 老赖")]
    report = inspect_notes(notes, lang_of=lambda note: "zh")
    assert [v.term for v in report.flagged[0].violations] == ["老赖"]


def test_quality__no_notes_give_an_empty_report() -> None:
    report = inspect_notes([])
    assert report.per_collector == () and report.flagged == ()

"""Content rules: what a collection message, note or call transcript may and must say.

The rules, and where they come from (see ``shared/reference/compliance.md``):

- **CN-CONDUCT** (CBA 《金融机构个人消费类贷款催收工作指引（试行）》 2026, eight prohibitions;
  criminal law Art. 293-1): no threats, insults or violence, no impersonating officials or
  courts, no spreading private information, no invented blacklists, no exaggerated amounts
  or legal consequences, no extra fees in the name of collection, no pushing new borrowing,
  no public notices. English text is held to the same list under the house id **CONDUCT**,
  which stands for FDCPA 15 USC 1692d–e (harassment, false or misleading representations)
  and FCA CONC 7.9.
- **CN-LETTER** (《商业银行信用卡业务监督管理办法》 Art. 69): a collection letter states the
  name and balance, the reason and legal basis, the holder's rights and obligations, how to
  check the account, how to dispute with evidence, and the lender's contact details.
- **US-VOICEMAIL** (12 CFR 1006.2(j)): a voicemail is a limited-content message: a name, the
  company, a number to call back and a request to call, nothing about a debt.
- **US-OPTOUT** (12 CFR 1006.6(e)) and its Chinese counterpart **CN-OPTOUT** (a house
  rule, after the MIIT rule that commercial SMS offer a way to refuse them, 回复TD退订;
  whether it binds collection reminders is unconfirmed): every SMS and email says how to
  stop receiving them.
- **CN-IDENTITY** (CBA 指引 2026): a call script names the institution.

Words and phrases live in lexicon files that a compliance officer edits
(``lexicons/zh.yaml``, ``lexicons/en.yaml``; :func:`load_lexicon` reads another). This
module only applies them; it is pure: no database, no clock, no network.

Matching is done after normalisation, so that the usual evasions do not slip through:
Unicode NFKC (full-width to ASCII), case folding, accents and zero-width characters removed,
Cyrillic and Greek look-alike letters read as the Latin letter they imitate, traditional
Chinese characters read as simplified, and spaces, punctuation and symbols between
characters removed ("坐 牢", "坐-牢", "k.i.l.l"). English also reads digits and symbols used
as letters ("p0lice", "j@il"). Every normalised character remembers the position of the
character it came from, so a violation reports the words as they were written.

Chinese is matched on the text with all separators removed; a one-character term (or one
marked ``match: word``) must also be a whole word after jieba segmentation, so 滚 matches
in "你给我滚" but not in "滚动". English is matched word by word, with common endings
(-s, -ed, -ing, -er) allowed, on two readings of the text: words split at every separator,
and words joined where they were split only by punctuation or were spelled out letter by
letter ("k i l l").
"""

from __future__ import annotations

import enum
import functools
import logging
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from recoup.yamlfile import LocatedYaml, YamlFileError, YamlPath, load_located, load_located_file

_T = TypeVar("_T")

__all__ = [
    "KNOWN_VARIABLES",
    "Category",
    "CollectorScore",
    "ContentReport",
    "ContentViolation",
    "FlaggedContact",
    "Language",
    "LetterElement",
    "Lexicon",
    "Note",
    "QualityReport",
    "RequiredText",
    "TemplateKind",
    "Term",
    "VoicemailRule",
    "check_template",
    "check_text",
    "guess_language",
    "inspect_notes",
    "load_lexicon",
    "normalise",
    "parse_lexicon",
    "report_document",
    "shipped_lexicon",
]

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"

#: Rule ids of the template checks that are not in a lexicon.
SYNTAX_RULE = "TEMPLATE-SYNTAX"
VARIABLE_RULE = "TEMPLATE-VARIABLE"

#: The variables a message template may use (``check_template``'s default): the names the
#: renderer fills in. Any other name is reported (TEMPLATE-VARIABLE), because StrictUndefined
#: would fail at send time and a misspelt name is better caught when the template is saved.
KNOWN_VARIABLES: frozenset[str] = frozenset(
    {
        "account_check_instructions",
        "account_id",
        "agency_name",
        "agency_phone",
        "amount_due",
        "balance",
        "borrower_name",
        "bureau_name",
        "collector_name",
        "company_name",
        "contract_id",
        "contract_ref",
        "currency",
        "dispute_instructions",
        "dpd",
        "due_date",
        "handover_date",
        "installment_number",
        "legal_basis",
        "lender_address",
        "lender_email",
        "lender_name",
        "lender_phone",
        "lender_website",
        "letter_date",
        "minimum_payment",
        "opt_out_text",
        "overdue_amount",
        "payment_link",
        "product_name",
        "report_date",
        "retention_years",
        "unsubscribe_link",
        "unsubscribe_url",
    }
)


class Language(enum.StrEnum):
    ZH = "zh"
    EN = "en"


class TemplateKind(enum.StrEnum):
    """The form a message template takes; each has its own required content."""

    SMS = "sms"
    EMAIL = "email"
    VOICEMAIL = "voicemail"
    LETTER = "letter"
    APP_PUSH = "app_push"
    #: What a collector reads on a call: must name the institution (CN-IDENTITY).
    SCRIPT = "script"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ContentViolation:
    """One rule broken: ``term`` is the offending text as written (or, for something
    missing, the name of what is missing)."""

    rule: str
    term: str
    message: str


@dataclass(frozen=True, slots=True)
class ContentReport:
    violations: tuple[ContentViolation, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations


def report_document(report: ContentReport) -> dict[str, Any]:
    """The stable JSON shape: ``{"ok": bool, "violations": [{"rule", "term", "message"}]}``."""
    return {
        "ok": report.ok,
        "violations": [
            {"rule": v.rule, "term": v.term, "message": v.message} for v in report.violations
        ],
    }


# --------------------------------------------------------------------------- normalisation

# Letters from other scripts that look like Latin ones (after case folding), and Latin
# letters that NFD does not split into base + accent. Used by both languages: a Cyrillic
# "а" inside "jаil" is an evasion, never a Russian word, in these messages.
_LOOKALIKES = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "ԁ": "d",
    "һ": "h",
    "н": "h",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "ӏ": "l",
    "м": "m",
    "о": "o",
    "р": "p",
    "ԛ": "q",
    "ѕ": "s",
    "т": "t",
    "с": "c",
    "у": "y",
    "ԝ": "w",
    "х": "x",
    # Greek
    "α": "a",
    "β": "b",
    "ϲ": "c",
    "ε": "e",
    "γ": "y",
    "η": "n",
    "ι": "i",
    "ϳ": "j",
    "κ": "k",
    "μ": "u",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "ω": "w",
    "χ": "x",
    # Latin letters without a decomposition
    "ı": "i",
    "ł": "l",
    "ø": "o",
    "đ": "d",
    "ħ": "h",
    "ŧ": "t",
    "ɡ": "g",
    "ʏ": "y",
}

# Traditional -> simplified, for the characters the shipped lexicons use (and a few common
# neighbours). Each pair is "traditional simplified"; a lexicon term written in simplified
# characters then also matches text written in traditional ones.
_TRADITIONAL_PAIRS = """
殺杀 們们 這这 單单 讓让 給给 說说 錢钱 還还 債债 騙骗 賴赖 臉脸 頭头 斷断 鬧闹 門门
訊讯 錄录 聯联 係系 繫系 發发 實实 員员 關关 戶户 徵征 報报 罰罚 責责 訴诉 親亲 點点
樣样 對对 嗎吗 會会 處处 個个 職职 網网 貼贴 傳传 狀状 紙纸 廣广 佈布 麼么 見见 車车
爛烂 賤贱 豬猪 貨货 廢废 滾滚 媽妈 腦脑 殘残 東东 兒儿 過过 窮穷 盡尽 壞坏 凍冻 結结
產产 財财 執执 奪夺 權权 強强 動动 師师 專专 隊队 團团 帶带 監监 獄狱 緝缉 檢检 據据
證证 蹤踪 將将 後后 嚴严 場场 輩辈 幹干 斃毙 屍尸 體体 紀纪 郵邮 碼码 費费 諮咨 詢询
話话 電电 務务 額额 總总 計计 條条 規规 範范 約约 義义 議议 異异 問问 題题 應应 認认
訂订 復复 銀银 貸贷 餘余 帳账 賬账 歸归 償偿 錯错 誤误 為为 與与 從从 號号 絡络
線线 機机 構构 稱称 詳详 細细 適适 請请 賠赔 鎖锁 謾谩 罵骂 嚇吓 脅胁 侮侮 辱辱 蠻蛮
畢毕 筆笔 敗败 類类 癡痴 獃呆 狽狈 蟲虫 誰谁 飯饭 裡里 裏里 書书 遠远 輕轻 鬥斗 槍枪
擊击 傷伤 衝冲 燒烧 漆漆 潑泼 噴喷 懸悬 賞赏 戲戏 現现 態态 羣群 群群 圈圈 臺台 檯台
區区 鄰邻 門门 縣县 鄉乡 鎮镇 學学 考考 審审 飛飞 鐵铁 坐坐 乘乘 鐘钟 時时 間间 億亿
萬万 塊块 圓圆 張张 貼贴 鑒鉴 驗验 憑凭 據据 資资 訊讯 鏈链 聽听 講讲 視视 頻频 傳传
錄录 語语 標标 寫写 顯显 顯显 屬属 級级 別别 種种 幫帮 齊齐 減减 選选 擇择 攤摊 還还
輸输 贏赢 買买 賣卖 腎肾 鍋锅 頭头 戶户 黃黄 紅红 綠绿 藍蓝 導导 誘诱 惡恶 罪罪 犯犯
嫌嫌 偵侦 審审 判判 決决 庭庭 辦办 處处 託托 託托 續续 紐纽 勞劳 務务 費费 額额 稅税
滯滞 納纳 銷销 訂订 閱阅 掛挂 揚扬 貪贪 撈捞 騷骚 擾扰 逼逼 迫迫 綁绑 卸卸 剁剁
剝剥 凱凯 檔档 案案 卷卷 傘伞 莊庄 驅驱 趕赶 進进 獎奖 勵励 狀状 協协 談谈 調调 補补
歲岁 齡龄 婦妇 夥伙 盜盗 竊窃 誆诳 詐诈 謊谎 偽伪 冒冒 充充 稱称 號号 碼码 兇凶 狠狠
瘋疯 啞哑 瞎瞎 聾聋 醜丑 髒脏 賊贼 畜畜 牲牲 癩癞 癟瘪 痞痞 氓氓 無无 恥耻 孫孙 雜杂
種种 狗狗 娘娘 養养 鳥鸟 龜龟 蛋蛋 蠢蠢 貨货 滾滚 們们 總总 統统 雙双 親亲 屬属 鄰邻
居居 領领 導导 闆板 單单 位位 廠厂 醫医 療疗 險险 聲声 譽誉 淨净 盤盘 圖图 觸触 緊紧
急急 絡络 錶表 囉啰 嘍喽 豈岂 儘尽 拋抛 壓压 擋挡 龍龙 風风 氣气 災灾 難难 禍祸 門门
"""


def _build_char_map() -> dict[int, str]:
    mapping: dict[int, str] = {ord(k): v for k, v in _LOOKALIKES.items()}
    for pair in _TRADITIONAL_PAIRS.split():
        traditional, simplified = pair[0], pair[1]
        if traditional != simplified:
            mapping[ord(traditional)] = simplified
    return mapping


_CHAR_MAP = _build_char_map()

# Symbols that stand for letters in English evasions when written inside a word: "j@il",
# "$cum", "k!ll". Digits are handled in the term patterns instead (a "1" may be an i or an l).
_LEET_ADJACENT = {"@": "a", "$": "s"}
_LEET_BETWEEN = {"!": "1", "|": "1"}
# Which text characters may stand for a letter of an English term.
_LEET_CLASSES = {
    "a": "a4",
    "b": "b8",
    "e": "e3",
    "g": "g9",
    "i": "i1",
    "l": "l1",
    "o": "o0",
    "s": "s5",
    "t": "t7",
}
# The probe form folds each letter class into one character, so that a term's probe is a
# substring of a text's probe whenever the term's pattern can match the text.
_PROBE_MAP = str.maketrans("4l18e30s5t79", "aiibeeossttg")
# Endings an English term may take without being listed: "arrest" matches "arrested".
_ENGLISH_ENDINGS = "(?:s|es|d|ed|ing|er|ers)?"


@functools.lru_cache(maxsize=65536)
def _fold_char(char: str) -> str:
    """One character as the matcher sees it (possibly several, possibly none)."""
    if unicodedata.category(char) == "Cf":  # zero-width spaces and joiners, BOM, bidi marks
        return ""
    text = unicodedata.normalize("NFKC", char).casefold()
    text = "".join(
        c for c in unicodedata.normalize("NFD", text) if not unicodedata.category(c).startswith("M")
    )
    return unicodedata.normalize("NFC", text).translate(_CHAR_MAP)


def _probe(text: str) -> str:
    return text.translate(_PROBE_MAP)


def _fold(text: str) -> list[tuple[str, int]]:
    """Each normalised character with the index of the original character it came from."""
    return [(c, index) for index, char in enumerate(text) for c in _fold_char(char)]


def normalise(text: str, lang: str) -> str:
    """The text as the matcher reads it (for a lexicon author checking a term): for Chinese
    every separator removed; for English the words split at every separator."""
    return _Document(text, _language(lang)).readings[0].text


class _Reading:
    """Normalised text, the original index of each of its characters, and (Chinese) the
    word boundaries of its jieba segmentation, computed on first use."""

    __slots__ = ("_bounds", "origin", "probe", "text")

    def __init__(self, chars: list[tuple[str, int]]) -> None:
        self.text = "".join(c for c, _ in chars)
        self.probe = _probe(self.text)
        self.origin = [i for _, i in chars]
        self._bounds: frozenset[int] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1

    def on_word_bounds(self, start: int, end: int) -> bool:
        if self._bounds is None:
            self._bounds = _word_bounds(self.text)
        return start in self._bounds and end in self._bounds


class _Document:
    """A text prepared for matching in one language."""

    __slots__ = ("language", "readings", "text")

    def __init__(self, text: str, language: Language) -> None:
        self.text = text
        self.language = language
        chars = _fold(text)
        if language is Language.ZH:
            self.readings: tuple[_Reading, ...] = (_Reading([p for p in chars if p[0].isalnum()]),)
        else:
            self.readings = _english_readings(chars)

    def spans(self, term: Term) -> set[tuple[int, int]]:
        """The spans of the original text where ``term`` occurs."""
        found: set[tuple[int, int]] = set()
        for reading in self.readings:
            if term.probe not in reading.probe:
                continue
            for match in term.pattern.finditer(reading.text):
                start, end = match.span()
                if end == start:
                    continue
                if (
                    term.whole_word
                    and self.language is Language.ZH
                    and not reading.on_word_bounds(start, end)
                ):
                    continue
                found.add(reading.span(start, end))
        return found

    def has(self, terms: Iterable[Term]) -> bool:
        return any(self.spans(term) for term in terms)


def _english_readings(chars: list[tuple[str, int]]) -> tuple[_Reading, ...]:
    """Two readings of English text: words split at every separator, and words joined where
    only punctuation split them ("ja.il") or where single letters were spaced out ("k i l l").
    Matches in either count; the joined one alone would miss "police.Call"."""
    chars = _leet_symbols(chars)
    # Words: runs of letters and digits; gaps: whether the separator held a space.
    words: list[list[tuple[str, int]]] = []
    spaced: list[bool] = []  # spaced[k]: a space between words[k-1] and words[k]
    gap_has_space = False
    current: list[tuple[str, int]] = []
    for char, index in chars:
        if char.isalnum():
            if not current:
                spaced.append(gap_has_space)
                gap_has_space = False
            current.append((char, index))
        else:
            if current:
                words.append(current)
                current = []
            gap_has_space = gap_has_space or char.isspace()
    if current:
        words.append(current)
    split = _join_words(words, [True] * len(words))
    space_before = [
        k > 0 and spaced[k] and not (len(words[k]) == 1 and len(words[k - 1]) == 1)
        for k in range(len(words))
    ]
    if all(space_before[1:]):
        return (split,)
    return split, _join_words(words, space_before)


def _join_words(words: list[list[tuple[str, int]]], space_before: list[bool]) -> _Reading:
    chars: list[tuple[str, int]] = []
    for k, word in enumerate(words):
        if k and space_before[k]:
            chars.append((" ", word[0][1]))
        chars.extend(word)
    return _Reading(chars)


def _leet_symbols(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Read "@" and "$" next to a letter or digit, and "!" or "|" between two, as letters."""
    out = list(chars)
    for k, (char, index) in enumerate(chars):
        before = k > 0 and chars[k - 1][0].isalnum()
        after = k + 1 < len(chars) and chars[k + 1][0].isalnum()
        if char in _LEET_ADJACENT and (before or after):
            out[k] = (_LEET_ADJACENT[char], index)
        elif char in _LEET_BETWEEN and before and after:
            out[k] = (_LEET_BETWEEN[char], index)
    return out


@functools.cache
def _segmenter() -> Any:
    """jieba's tokenizer, loaded once and quietly (its dictionary takes about a second)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def _word_bounds(text: str) -> frozenset[int]:
    # HMM off: only dictionary words, so an unknown pair of characters is not glued into a
    # "word" that would hide a one-character term next to it.
    bounds = {0}
    position = 0
    for token in _segmenter().cut(text, HMM=False):
        position += len(token)
        bounds.add(position)
    return frozenset(bounds)


# --------------------------------------------------------------------------- lexicon


class MatchMode(enum.StrEnum):
    WORD = "word"
    SUBSTRING = "substring"


@dataclass(frozen=True, slots=True)
class Term:
    """A lexicon term compiled for one language."""

    text: str
    normalised: str
    whole_word: bool
    pattern: re.Pattern[str] = field(compare=False, repr=False)
    #: A piece that any text matching ``pattern`` holds (in ``_probe`` form): a plain
    #: substring test that skips the regular expression for most terms on most texts.
    probe: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Category:
    """Prohibited language of one kind (threat, insult, ...), with the rule it breaks."""

    name: str
    rule: str
    message: str
    terms: tuple[Term, ...]
    allow: tuple[Term, ...] = ()


@dataclass(frozen=True, slots=True)
class RequiredText:
    """Something a message of some kind must contain: one of ``terms`` in its text, or one
    of ``variables`` among the template's variables."""

    rule: str
    message: str
    terms: tuple[Term, ...]
    variables: frozenset[str]


@dataclass(frozen=True, slots=True)
class VoicemailRule:
    """What a limited-content voicemail must not contain."""

    rule: str
    message: str
    terms: tuple[Term, ...]
    variables: frozenset[str]
    amounts: bool  # also refuse a written money amount ("$120", "500元")


@dataclass(frozen=True, slots=True)
class LetterElement:
    """One CN-LETTER element; present when every group is satisfied (a group by any of its
    terms in the text or any of its variables in the template)."""

    name: str
    message: str
    groups: tuple[RequiredText, ...]


@dataclass(frozen=True, slots=True)
class Lexicon:
    source: str
    language: Language
    categories: tuple[Category, ...]
    opt_out: RequiredText | None = None
    voicemail: VoicemailRule | None = None
    letter_rule: str = "CN-LETTER"
    letter_elements: tuple[LetterElement, ...] = ()
    identity: RequiredText | None = None


def shipped_lexicon(lang: str) -> Lexicon:
    """The lexicon shipped for ``lang`` ("zh" or "en"), read once."""
    return _shipped(_language(lang))


@functools.cache
def _shipped(language: Language) -> Lexicon:
    return load_lexicon(LEXICON_DIR / f"{language.value}.yaml")


def load_lexicon(path: str | Path) -> Lexicon:
    """Read a lexicon file; a :class:`~recoup.yamlfile.YamlFileError` names the file, the
    line and the field of any error."""
    return _read_lexicon(load_located_file(Path(path)))


def parse_lexicon(text: str, source: str = "<lexicon>") -> Lexicon:
    """A lexicon from YAML text (``source`` names it in error messages)."""
    return _read_lexicon(load_located(text, source))


def _language(lang: str) -> Language:
    try:
        return Language(lang)
    except ValueError:
        raise ValueError(f"unknown language {lang!r}: expected zh or en") from None


def _compile_term(text: str, language: Language, mode: MatchMode | None) -> Term | None:
    """``text`` normalised like the texts it will be matched in; None if nothing is left."""
    prefix = language is Language.EN and text.endswith("*")
    body = text[:-1] if prefix else text
    document = _Document(body, language)
    normalised = document.readings[0].text
    if not normalised.strip():
        return None
    if language is Language.ZH:
        whole_word = mode is MatchMode.WORD or (mode is None and len(normalised) == 1)
        literal = re.compile(re.escape(normalised))
        return Term(text, normalised, whole_word, literal, _probe(normalised))
    words = normalised.split(" ")
    # Words of a phrase stay separate words: an optional space would let "the irs" match
    # "theirs".
    pattern = " ".join(
        "".join(f"[{_LEET_CLASSES[c]}]" if c in _LEET_CLASSES else re.escape(c) for c in word)
        for word in words
    )
    whole_word = mode is not MatchMode.SUBSTRING
    if whole_word:
        ending = r"\w*" if prefix else _ENGLISH_ENDINGS
        pattern = rf"(?<!\w){pattern}{ending}(?!\w)"
    return Term(text, normalised, whole_word, re.compile(pattern), _probe(max(words, key=len)))


class _LexiconReader:
    """Validates a parsed lexicon file; every error names the file, line and field."""

    def __init__(self, located: LocatedYaml) -> None:
        self.located = located
        self.language = Language.ZH

    def fail(self, path: YamlPath, message: str) -> YamlFileError:
        return self.located.error(path, message)

    def mapping(self, value: Any, path: YamlPath, fields: Collection[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a mapping, got {_kind(value)}")
        for key in value:
            if key not in fields:
                expected = ", ".join(fields)
                raise self.fail((*path, str(key)), f"unknown field (expected one of {expected})")
        return value

    def text(self, value: Any, path: YamlPath, *, required: bool = True) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be non-empty text, got {_kind(value)}")
        return value.strip()

    def terms(self, value: Any, path: YamlPath, *, required: bool) -> tuple[Term, ...]:
        if value is None:
            if required:
                raise self.fail(path, "missing: list at least one term")
            return ()
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list, got {_kind(value)}")
        if required and not value:
            raise self.fail(path, "is empty: list at least one term")
        terms: list[Term] = []
        seen: dict[str, str] = {}
        for i, item in enumerate(value):
            item_path = (*path, i)
            mode: MatchMode | None = None
            if isinstance(item, dict):
                spec = self.mapping(item, item_path, ("term", "match"))
                raw = self.text(spec.get("term"), (*item_path, "term"))
                if "match" in spec:
                    try:
                        mode = MatchMode(spec["match"])
                    except ValueError:
                        raise self.fail(
                            (*item_path, "match"),
                            f"{spec['match']!r} is not a match mode (word or substring)",
                        ) from None
            elif isinstance(item, str | int) and not isinstance(item, bool):
                raw = self.text(str(item), item_path)
            else:
                raise self.fail(item_path, f"must be text or {{term, match}}, got {_kind(item)}")
            term = _compile_term(raw, self.language, mode)
            if term is None:
                raise self.fail(item_path, f"{raw!r} has no letters or digits left to match")
            key = f"{term.normalised}|{term.pattern.pattern}"
            if key in seen:
                raise self.fail(
                    item_path, f"{raw!r} is listed twice (reads the same as {seen[key]!r})"
                )
            seen[key] = raw
            terms.append(term)
        return tuple(terms)

    def variables(self, value: Any, path: YamlPath) -> frozenset[str]:
        if value is None:
            return frozenset()
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list of variable names, got {_kind(value)}")
        names: set[str] = set()
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.isidentifier():
                raise self.fail((*path, i), f"must be a variable name, got {item!r}")
            names.add(item)
        return frozenset(names)

    def required_text(self, value: Any, path: YamlPath) -> RequiredText:
        spec = self.mapping(value, path, ("rule", "message", "terms", "variables"))
        terms = self.terms(spec.get("terms"), (*path, "terms"), required=False)
        variables = self.variables(spec.get("variables"), (*path, "variables"))
        if not terms and not variables:
            raise self.fail(path, "needs terms or variables (or both)")
        return RequiredText(
            rule=self.text(spec.get("rule"), (*path, "rule")),
            message=self.text(spec.get("message"), (*path, "message")),
            terms=terms,
            variables=variables,
        )

    def read(self) -> Lexicon:
        root = self.mapping(
            self.located.data,
            (),
            ("language", "categories", "opt_out", "voicemail", "letter_elements", "identity"),
        )
        lang = root.get("language")
        if lang not in ("zh", "en"):
            raise self.fail(("language",), f"must be zh or en, got {lang!r}")
        self.language = Language(lang)
        categories = root.get("categories")
        if not isinstance(categories, dict) or not categories:
            raise self.fail(("categories",), "must be a mapping of at least one category")
        read_categories = tuple(
            self.category(str(name), spec, ("categories", str(name)))
            for name, spec in categories.items()
        )
        letter_rule = "CN-LETTER"
        elements: tuple[LetterElement, ...] = ()
        if root.get("letter_elements") is not None:
            letter_rule, elements = self.letter(root["letter_elements"], ("letter_elements",))
        return Lexicon(
            source=self.located.source,
            language=self.language,
            categories=read_categories,
            opt_out=self.optional(root, "opt_out", self.required_text),
            voicemail=self.optional(root, "voicemail", self.voicemail),
            letter_rule=letter_rule,
            letter_elements=elements,
            identity=self.optional(root, "identity", self.required_text),
        )

    def optional(
        self, root: dict[str, Any], key: str, reader: Callable[[Any, YamlPath], _T]
    ) -> _T | None:
        return None if root.get(key) is None else reader(root[key], (key,))

    def category(self, name: str, value: Any, path: YamlPath) -> Category:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise self.fail(path, "a category name is lower-case letters, digits and _")
        spec = self.mapping(value, path, ("rule", "message", "terms", "allow"))
        return Category(
            name=name,
            rule=self.text(spec.get("rule"), (*path, "rule")),
            message=self.text(spec.get("message"), (*path, "message")),
            terms=self.terms(spec.get("terms"), (*path, "terms"), required=True),
            allow=self.terms(spec.get("allow"), (*path, "allow"), required=False),
        )

    def voicemail(self, value: Any, path: YamlPath) -> VoicemailRule:
        spec = self.mapping(value, path, ("rule", "message", "terms", "variables", "amounts"))
        amounts = spec.get("amounts", True)
        if not isinstance(amounts, bool):
            raise self.fail((*path, "amounts"), f"must be true or false, got {amounts!r}")
        return VoicemailRule(
            rule=self.text(spec.get("rule"), (*path, "rule")),
            message=self.text(spec.get("message"), (*path, "message")),
            terms=self.terms(spec.get("terms"), (*path, "terms"), required=True),
            variables=self.variables(spec.get("variables"), (*path, "variables")),
            amounts=amounts,
        )

    def letter(self, value: Any, path: YamlPath) -> tuple[str, tuple[LetterElement, ...]]:
        spec = self.mapping(value, path, ("rule", "elements"))
        rule = self.text(spec.get("rule"), (*path, "rule"))
        elements = spec.get("elements")
        if not isinstance(elements, dict) or not elements:
            raise self.fail((*path, "elements"), "must be a mapping of at least one element")
        read: list[LetterElement] = []
        for name, element in elements.items():
            element_path = (*path, "elements", str(name))
            body = self.mapping(element, element_path, ("message", "require"))
            message = self.text(body.get("message"), (*element_path, "message"))
            groups = body.get("require")
            if not isinstance(groups, list) or not groups:
                raise self.fail(
                    (*element_path, "require"),
                    "must be a list of at least one {terms, variables} group",
                )
            read.append(
                LetterElement(
                    name=str(name),
                    message=message,
                    groups=tuple(
                        self.group(group, (*element_path, "require", i), rule, message)
                        for i, group in enumerate(groups)
                    ),
                )
            )
        return rule, tuple(read)

    def group(self, value: Any, path: YamlPath, rule: str, message: str) -> RequiredText:
        spec = self.mapping(value, path, ("terms", "variables"))
        terms = self.terms(spec.get("terms"), (*path, "terms"), required=False)
        variables = self.variables(spec.get("variables"), (*path, "variables"))
        if not terms and not variables:
            raise self.fail(path, "needs terms or variables (or both)")
        return RequiredText(rule, message, terms, variables)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value)
    return type(value).__name__


def _read_lexicon(located: LocatedYaml) -> Lexicon:
    return _LexiconReader(located).read()


# --------------------------------------------------------------------------- text


def check_text(text: str, lang: str, lexicon: Lexicon | None = None) -> ContentReport:
    """Prohibited language in ``text`` (a message, a note, a transcript).

    ``lexicon`` defaults to the shipped one for ``lang``. The result has one violation per
    distinct rule and term as written, in the order they appear in the text; a term found
    inside a longer one ("坐牢" in "不还就坐牢") is reported only as the longer one.
    """
    language = _language(lang)
    lexicon = _lexicon_for(language, lexicon)
    return ContentReport(tuple(_prohibited(_Document(text, language), lexicon)))


def _lexicon_for(language: Language, lexicon: Lexicon | None) -> Lexicon:
    if lexicon is None:
        return _shipped(language)
    if lexicon.language is not language:
        raise ValueError(f"lexicon {lexicon.source} is for {lexicon.language}, not {language}")
    return lexicon


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    order: int
    category: Category


def _prohibited(document: _Document, lexicon: Lexicon) -> list[ContentViolation]:
    hits: list[_Hit] = []
    for order, category in enumerate(lexicon.categories):
        found = {span for term in category.terms for span in document.spans(term)}
        if found and category.allow:
            allowed = {span for term in category.allow for span in document.spans(term)}
            found = {(s, e) for s, e in found if not any(a <= s and e <= b for a, b in allowed)}
        hits.extend(_Hit(s, e, order, category) for s, e in found)
    # A term inside a longer one ("坐牢" in "不还就坐牢") is the same offence said once.
    kept = [
        h
        for h in hits
        if not any(
            o.start <= h.start and h.end <= o.end and o.end - o.start > h.end - h.start
            for o in hits
        )
    ]
    kept.sort(key=lambda h: (h.start, h.start - h.end, h.order))
    violations: list[ContentViolation] = []
    seen: set[tuple[str, str]] = set()
    for hit in kept:
        term = document.text[hit.start : hit.end].strip()
        if (hit.category.rule, term) not in seen:
            seen.add((hit.category.rule, term))
            violations.append(ContentViolation(hit.category.rule, term, hit.category.message))
    return violations


# --------------------------------------------------------------------------- templates

# A written money amount, refused in a voicemail: "$120", "¥ 500", "500元", "12.50 dollars".
_AMOUNT = re.compile(
    r"[$¥£€＄￥￡]\s*\d+(?:[,.]\d+)*"
    r"|\d+(?:[,.]\d+)*\s*(?:元|块|万|dollars?\b|usd\b|rmb\b|cny\b|yuan\b|pounds?\b|gbp\b)",
    re.IGNORECASE,
)


def check_template(
    source: str,
    lang: str,
    kind: str,
    *,
    lexicon: Lexicon | None = None,
    variables: Collection[str] | None = KNOWN_VARIABLES,
) -> ContentReport:
    """Check a Jinja2 message template when it is saved.

    The template is parsed and compiled, never rendered, in a sandboxed environment, so
    checking runs none of its code. Checked are its literal text (every branch of every
    ``if``, so a violation in a rarely taken branch is still found) and the names of the
    variables it uses:

    - a syntax error: TEMPLATE-SYNTAX with its line (the rest is then checked on the raw
      source for prohibited language only);
    - a variable not in ``variables`` (None: any name is fine): TEMPLATE-VARIABLE;
    - prohibited language, as :func:`check_text`;
    - ``sms``, ``email``: an opt-out instruction (the lexicon's ``opt_out``);
    - ``voicemail``: limited content (the lexicon's ``voicemail``: no debt words, no amount
      variables, no written amounts);
    - ``letter``: each CN-LETTER element (the lexicon's ``letter_elements``), one violation
      per missing element, named in ``term``;
    - ``script``: the institution's name (the lexicon's ``identity``).
    """
    language = _language(lang)
    lexicon = _lexicon_for(language, lexicon)
    try:
        template_kind = TemplateKind(kind)
    except ValueError:
        expected = ", ".join(k.value for k in TemplateKind)
        raise ValueError(f"unknown template kind {kind!r}: expected one of {expected}") from None
    environment = SandboxedEnvironment(autoescape=False)
    try:
        tree = environment.parse(source)
        environment.compile(tree)  # unknown filters and tests are reported here
    except TemplateSyntaxError as exc:
        line = exc.lineno
        syntax = ContentViolation(
            SYNTAX_RULE, f"line {line}", f"Template syntax error at line {line}: {exc.message}"
        )
        return ContentReport((syntax, *_prohibited(_Document(source, language), lexicon)))
    used = meta.find_undeclared_variables(tree)
    text = _literal_text(tree)
    document = _Document(text, language)
    violations: list[ContentViolation] = []
    if variables is not None:
        violations.extend(
            ContentViolation(
                VARIABLE_RULE,
                name,
                f"Unknown template variable {name!r}: the renderer does not provide it.",
            )
            for name in sorted(used - set(variables))
        )
    violations.extend(_prohibited(document, lexicon))
    if template_kind in (TemplateKind.SMS, TemplateKind.EMAIL) and lexicon.opt_out:
        violations.extend(_missing(lexicon.opt_out, "opt_out", document, used))
    elif template_kind is TemplateKind.VOICEMAIL and lexicon.voicemail:
        violations.extend(_voicemail(lexicon.voicemail, document, used))
    elif template_kind is TemplateKind.LETTER:
        for element in lexicon.letter_elements:
            if not all(_present(group, document, used) for group in element.groups):
                violations.append(
                    ContentViolation(lexicon.letter_rule, element.name, element.message)
                )
    elif template_kind is TemplateKind.SCRIPT and lexicon.identity:
        violations.extend(_missing(lexicon.identity, "identity", document, used))
    return ContentReport(tuple(_unique(violations)))


def _literal_text(tree: nodes.Template) -> str:
    """The text the template writes itself: its literal parts and string constants it
    outputs, in document order. Pieces are joined with a space: for Chinese the matcher
    removes it, for English it keeps words on either side of a variable apart."""
    pieces: list[str] = []
    for output in tree.find_all(nodes.Output):
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                pieces.append(node.data)
            elif isinstance(node, nodes.Const) and isinstance(node.value, str):
                pieces.append(node.value)
    return " ".join(pieces)


def _present(required: RequiredText, document: _Document, used: Collection[str]) -> bool:
    return bool(required.variables & set(used)) or document.has(required.terms)


def _missing(
    required: RequiredText, name: str, document: _Document, used: Collection[str]
) -> list[ContentViolation]:
    if _present(required, document, used):
        return []
    return [ContentViolation(required.rule, name, required.message)]


def _voicemail(
    rule: VoicemailRule, document: _Document, used: Collection[str]
) -> list[ContentViolation]:
    spans = {span for term in rule.terms for span in document.spans(term)}
    if rule.amounts:
        spans.update(m.span() for m in _AMOUNT.finditer(document.text))
    found = [
        ContentViolation(rule.rule, document.text[s:e].strip(), rule.message)
        for s, e in sorted(spans)
    ]
    found.extend(
        ContentViolation(rule.rule, name, rule.message)
        for name in sorted(rule.variables & set(used))
    )
    return found


def _unique(violations: Iterable[ContentViolation]) -> Iterator[ContentViolation]:
    seen: set[tuple[str, str]] = set()
    for violation in violations:
        if (violation.rule, violation.term) not in seen:
            seen.add((violation.rule, violation.term))
            yield violation


# --------------------------------------------------------------------------- 质检


@dataclass(frozen=True, slots=True)
class Note:
    """A collector's note or a call transcript about one contact. ``lang`` None: guessed
    from the text (see :func:`guess_language`)."""

    contact_id: str
    collector: str
    text: str
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class CollectorScore:
    """``score`` = 100 × (notes − flagged) / notes, rounded to one decimal: the share of
    the collector's notes with no violation. 100 is clean; every flagged note costs the
    same, however many terms it holds, so one bad call does not outweigh a month's work."""

    collector: str
    notes: int
    flagged: int
    score: float


@dataclass(frozen=True, slots=True)
class FlaggedContact:
    contact_id: str
    collector: str
    violations: tuple[ContentViolation, ...]


@dataclass(frozen=True, slots=True)
class QualityReport:
    per_collector: tuple[CollectorScore, ...]
    flagged: tuple[FlaggedContact, ...]


def guess_language(text: str) -> Language:
    """Chinese when the text holds a CJK ideograph, else English."""
    if any("\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" for c in text):
        return Language.ZH
    return Language.EN


def _note_language(note: Note) -> str:
    return note.lang or guess_language(note.text)


def inspect_notes(
    notes: Iterable[Note],
    lang_of: Callable[[Note], str] = _note_language,
    *,
    lexicons: Mapping[str, Lexicon] | None = None,
) -> QualityReport:
    """Quality inspection (质检): scan every note with :func:`check_text`.

    ``lang_of`` gives a note's language (default: ``note.lang``, else guessed from the
    text); ``lexicons`` maps "zh"/"en" to a lexicon (default: the shipped ones).

    Returns a score per collector (see :class:`CollectorScore`), worst first (lowest score,
    then most flagged notes, then collector id), and the flagged contacts in the order of
    their first note, one per contact and collector, with the distinct violations of all
    their notes.
    """
    counts: dict[str, list[int]] = {}
    flagged: dict[tuple[str, str], list[ContentViolation]] = {}
    for note in notes:
        language = _language(lang_of(note))
        lexicon = lexicons.get(language.value) if lexicons else None
        report = check_text(note.text, language, lexicon)
        count = counts.setdefault(note.collector, [0, 0])
        count[0] += 1
        if not report.ok:
            count[1] += 1
            found = flagged.setdefault((note.contact_id, note.collector), [])
            found.extend(v for v in report.violations if v not in found)
    scores = [
        CollectorScore(collector, total, bad, round(100 * (total - bad) / total, 1))
        for collector, (total, bad) in counts.items()
    ]
    scores.sort(key=lambda s: (s.score, -s.flagged, s.collector))
    return QualityReport(
        per_collector=tuple(scores),
        flagged=tuple(
            FlaggedContact(contact, collector, tuple(violations))
            for (contact, collector), violations in flagged.items()
        ),
    )

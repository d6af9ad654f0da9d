"""The teams file: the shipped example reads, and every mistake is named by line and field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from recoup.allocation import (
    Method,
    default_teams_path,
    describe_teams,
    load_teams,
    parse_teams,
)
from recoup.yamlfile import YamlFileError

TEAMS = """\
teams:
  - {id: T1, name: Early}
collectors:
  - id: C1
    name: Wang Fang
    team: T1
    daily_capacity: 40
    max_open_cases: 400
    skills:
      languages: [zh, en]
      buckets: {from: M1, to: M2}
      products: all
    working_days: [mon, tue, wed, thu, fri]
agencies:
  - id: AG1
    name: Huaxia
    capacity: 3000
    buckets: {from: M4, to: M5}
    commission: {M4: "0.18", M5: "0.22"}
rules:
  method: even_count
  continuity: true
  rotate_after_days: 30
  agency_from_bucket: M4
  recall_after_days: 90
"""


def test_teams__reads_a_valid_file() -> None:
    config = parse_teams(TEAMS, "teams.yaml")
    (c1,) = config.collectors
    assert c1.languages == ("zh", "en")
    assert str(c1.buckets) == "M1–M2"
    assert c1.products is None
    assert c1.working_days == frozenset(range(5))
    (ag1,) = config.agencies
    assert ag1.commission == {"M4": Decimal("0.18"), "M5": Decimal("0.22")}
    assert config.agency_recall_days(ag1) == 90
    assert config.rules.method is Method.EVEN_COUNT
    assert config.rules.rotate_after_days == 30
    assert len(config.digest) == 64


def test_teams__the_shipped_example_is_valid_and_described_in_plain_words() -> None:
    config = load_teams(
        default_teams_path(), known_products={"card-fenqi", "cash-loan", "reno-loan"}
    )
    assert len(config.teams) == 3
    assert len(config.collectors) == 12
    assert {lang for c in config.collectors for lang in c.languages} >= {"zh", "en", "ug", "bo"}
    assert len(config.agencies) == 3
    assert config.rules.agency_from_bucket == "M4"
    text = "\n".join(describe_teams(config))
    assert "C004 Aygul Tursun 阿依古丽·吐尔逊: speaks ug, zh; buckets M1–M2" in text
    assert "commission M4 18%, M5 22%, M6 25%, M7+ 30%" in text


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "daily_capacity: 40",
            "daily_capacity: -1",
            "teams.yaml, line 7, collectors[0].daily_capacity: must be between 0 and",
        ),
        (
            "daily_capacity: 40",
            "daily_capacity: lots",
            "line 7, collectors[0].daily_capacity: must be a whole number, got 'lots'",
        ),
        (
            "    daily_capacity: 40\n",
            "",
            "line 4, collectors[0].daily_capacity: missing",
        ),
        ("team: T1", "team: T9", "line 6, collectors[0].team: no team 'T9'; teams: T1"),
        (
            "languages: [zh, en]",
            "languages: [zh, EN]",
            "line 10, collectors[0].skills.languages[1]: a language is a lower-case code",
        ),
        (
            "buckets: {from: M1, to: M2}",
            "buckets: {from: M2, to: M1}",
            "line 11, collectors[0].skills.buckets.to: M1 comes before M2",
        ),
        (
            "buckets: {from: M1, to: M2}",
            "buckets: {from: M1, to: M10}",
            "line 11, collectors[0].skills.buckets.to: must be one of the buckets",
        ),
        (
            "products: all",
            "products: everything",
            "line 12, collectors[0].skills.products: must be a non-empty list",
        ),
        (
            "working_days: [mon, tue, wed, thu, fri]",
            "working_days: [mon, tue, wed, thu, friday]",
            "line 13, collectors[0].working_days[4]: days are mon, tue, wed, thu, fri, sat, sun",
        ),
        (
            "    working_days:",
            "    shift: night\n    working_days:",
            "line 13, collectors[0].shift: unknown field; allowed:",
        ),
        (
            'M5: "0.22"',
            "M5: 0.22",
            'line 19, agencies[0].commission.M5: write the rate as quoted text ("0.22")',
        ),
        (
            'M5: "0.22"',
            'M5: "1.5"',
            "line 19, agencies[0].commission.M5: must be at most 1 (100%)",
        ),
        (
            '{M4: "0.18", M5: "0.22"}',
            '{M4: "0.18"}',
            "line 19, agencies[0].commission: no rate for bucket(s) M5",
        ),
        (
            '{M4: "0.18", M5: "0.22"}',
            '{M4: "0.18", M5: "0.22", M6: "0.25"}',
            "line 19, agencies[0].commission.M6: not one of the agency's buckets M4, M5",
        ),
        ("id: AG1", "id: C1", "line 15, agencies[0].id: 'C1' is already a collector's id"),
        (
            "method: even_count",
            "method: round_robin",
            "line 21, rules.method: must be one of even_count, even_balance, skill",
        ),
        (
            "continuity: true",
            "continuity: yes please",
            "line 22, rules.continuity: must be true or false",
        ),
        (
            "rotate_after_days: 30",
            "rotate_after_days: 0",
            "line 23, rules.rotate_after_days: must be between 1 and 3650, got 0",
        ),
        (
            "  agency_from_bucket: M4\n",
            "",
            "line 20, rules.agency_from_bucket: missing; agencies are listed",
        ),
        ("rules:", "rules:\n  speed: fast", "line 21, rules.speed: unknown field"),
        ("teams:\n", "teams:\n  - {id: T1, name: Again}\n", "line 3, teams[1].id: team 'T1'"),
        ("id: C1", "id: C1\n    id: C2", "line 5, collectors[0].id: appears twice"),
        ("rules:", "rules: [", "teams.yaml, line 22: not valid YAML"),
    ],
)
def test_teams__a_mistake_is_named_by_line_and_field(old: str, new: str, message: str) -> None:
    assert old in TEAMS
    with pytest.raises(YamlFileError) as error:
        parse_teams(TEAMS.replace(old, new, 1), "teams.yaml")
    assert message in str(error.value)


def test_teams__product_names_are_checked_when_the_catalog_is_given() -> None:
    text = TEAMS.replace("products: all", "products: [card, cahs]")
    assert parse_teams(text).collectors[0].products == frozenset({"card", "cahs"})
    with pytest.raises(YamlFileError, match=r"line 12, collectors\[0\].skills.products\[1\]: "):
        parse_teams(text, known_products={"card", "cash"})


def test_teams__custom_bucket_names_are_used_for_ranges() -> None:
    text = "buckets: [C, S1, S2, S3, X]\n" + TEAMS.replace("M1", "S1").replace("M2", "S2")
    with pytest.raises(YamlFileError, match=r"line 19, agencies\[0\].buckets.from: must be one"):
        parse_teams(text)
    text = text.replace("M4", "S3").replace("M5", "X")
    config = parse_teams(text)
    assert config.buckets == ("C", "S1", "S2", "S3", "X")
    assert str(config.collectors[0].buckets) == "S1–S2"


def test_teams__a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(YamlFileError, match=r"nowhere\.yaml: cannot be read"):
        load_teams(tmp_path / "nowhere.yaml")

"""The contact gate against hand-written scenarios, one JSON file each.

Every file under ``tests/compliance_scenarios/<profile>/`` is a contact check as
``recoup policy check`` reads it (``request``) and the decision docs/compliance.md implies for the
shipped profile named by the folder (``expected``). The expected decisions were worked out by hand
from the docs and the compliance reference, never copied from the gate's output, so a
disagreement means either the gate or the scenario misreads the docs.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from recoup.compliance import check_document, shipped_profile

SCENARIOS = Path(__file__).resolve().parent.parent / "compliance_scenarios"
PROFILES = ("cn", "us", "uk")
MIN_SCENARIOS_PER_PROFILE = 60
FILES = sorted(SCENARIOS.glob("*/*.json"))


def _load(path: Path) -> dict[str, Any]:
    scenario: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return scenario


@cache
def _profile_rule_ids(name: str) -> tuple[str, ...]:
    """The rule ids of the shipped profile file, in file order, each once."""
    text = (resources.files("recoup.compliance") / "profiles" / f"{name}.yaml").read_text("utf-8")
    ids: list[str] = []
    for rule in yaml.safe_load(text)["rules"]:
        if rule["id"] not in ids:
            ids.append(rule["id"])
    return tuple(ids)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None, f"{text!r} has no UTC offset"
    return moment


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_scenario__gate_decides_as_the_docs_say(path: Path) -> None:
    scenario = _load(path)
    expected = scenario["expected"]
    result = check_document(shipped_profile(path.parent.name), scenario["request"])

    got_rules = sorted(v["rule"] for v in result["violations"])
    assert (result["allowed"], got_rules) == (expected["allowed"], expected["rules"]), (
        scenario["description"],
        result,
    )
    for violation in result["violations"]:
        assert isinstance(violation["message"], str), violation
        assert violation["message"].strip(), violation
    if "next_allowed_at" in expected:
        want = expected["next_allowed_at"]
        got = result["next_allowed_at"]
        if want is None:
            assert got is None, (scenario["description"], result)
        else:
            assert got is not None, (scenario["description"], result)
            assert _instant(got) == _instant(want), (scenario["description"], got, want)
            at = _instant(scenario["request"]["action"]["at"])
            assert _instant(got).utcoffset() == at.utcoffset(), (
                "next_allowed_at is written with the offset of `at`",
                got,
            )


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if len(_load(p)["expected"]["rules"]) > 1],
    ids=lambda p: p.name,
)
def test_scenario__violations_follow_the_profile_order(path: Path) -> None:
    scenario = _load(path)
    profile_name = path.parent.name
    result = check_document(shipped_profile(profile_name), scenario["request"])
    got = [v["rule"] for v in result["violations"]]
    order = _profile_rule_ids(profile_name)
    assert got == sorted(got, key=lambda rule: order.index(rule) if rule in order else len(order))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_scenario_file__is_well_formed(path: Path) -> None:
    scenario = _load(path)
    assert set(scenario) == {"description", "request", "expected"}
    assert scenario["description"].strip()
    assert path.name.startswith(f"{path.parent.name}-")
    request, expected = scenario["request"], scenario["expected"]
    assert set(request) == {"action", "borrower", "history"}
    _instant(request["action"]["at"])
    for entry in request["history"]:
        _instant(entry["at"])
    assert expected["rules"] == sorted(set(expected["rules"]))
    assert expected["allowed"] == (not expected["rules"])
    if expected["allowed"]:
        # The docs: next_allowed_at equals `at` when the contact is allowed.
        assert _instant(expected["next_allowed_at"]) == _instant(request["action"]["at"])
    elif expected.get("next_allowed_at") is not None:
        assert _instant(expected["next_allowed_at"]) > _instant(request["action"]["at"])


@pytest.mark.parametrize("name", PROFILES)
def test_scenarios__each_profile_has_enough(name: str) -> None:
    count = len(list((SCENARIOS / name).glob("*.json")))
    assert count >= MIN_SCENARIOS_PER_PROFILE, f"{name}: {count} scenarios"


@pytest.mark.parametrize("name", PROFILES)
def test_scenarios__every_profile_rule_blocks_in_some_scenario(name: str) -> None:
    blocking: set[str] = set()
    for path in sorted((SCENARIOS / name).glob("*.json")):
        blocking.update(_load(path)["expected"]["rules"])
    profile_ids = set(_profile_rule_ids(name))
    assert profile_ids - blocking == set(), "rules no scenario shows blocking"
    assert blocking - profile_ids == set(), "scenarios expect rules the profile does not have"

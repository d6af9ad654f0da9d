"""The gate's JSON question and answer (``recoup policy check``; a stable interface).

The question (``docs/compliance.md``, "The question and the answer")::

    {"action":   {"channel": "call", "at": "2026-03-02T21:59:00+08:00", "party": "self",
                  "to": "+8613800000000"},
     "borrower": {"timezone": "Asia/Shanghai", "flags": ["vulnerable"]},
     "history":  [{"channel": "call", "at": "2026-03-02T09:10:00+08:00",
                   "to": "+8613800000000", "party": "self", "outcome": "no_answer"}]}

``at`` must carry a UTC offset; ``borrower`` (and its ``timezone`` and ``flags``) and
``history`` may be missing or null. Other top-level fields (a scenario's name, say) are left
alone, but an unknown field inside ``action``, ``borrower`` or a history entry is an error: a
misspelt ``flag`` must not silently drop a hold. Every error names the field's path
(``history[2].outcome: 'maybe' is not one of ...``), so a command can exit with status 2 and
say what to fix.

The answer::

    {"allowed": false,
     "violations": [{"rule": "CN-HOURS", "message": "..."}],
     "next_allowed_at": "2026-03-03T08:00:00+08:00"}

with ``next_allowed_at`` written with the UTC offset of the action's ``at``, or null.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from recoup.compliance.gate import Attempt, ContactRequest, Decision, decide
from recoup.compliance.policy import Channel, Flag, Outcome, Party, Profile, zone_info

E = TypeVar("E", bound=enum.StrEnum)

_ACTION = ("channel", "at", "party", "to")
_BORROWER = ("timezone", "flags")
_ATTEMPT = ("channel", "at", "to", "party", "outcome")
_EXAMPLE_TIME = "2026-03-02T21:59:00+08:00"


class RequestError(ValueError):
    """A malformed gate question; the message starts with the path of the bad field."""


def parse_request(document: Mapping[str, Any]) -> ContactRequest:
    """The contact a JSON question (already decoded) asks about; raises :class:`RequestError`."""
    if not isinstance(document, Mapping):
        raise RequestError(f"document: must be a JSON object, got {_kind(document)}")
    if "action" not in document:
        raise RequestError("action: missing")
    action = _object(document["action"], "action", _ACTION, required=_ACTION)
    borrower_value = document.get("borrower")
    borrower: Mapping[str, Any] = (
        {} if borrower_value is None else _object(borrower_value, "borrower", _BORROWER)
    )
    history_value = document.get("history")
    if history_value is None:
        history_value = []
    if not isinstance(history_value, list):
        raise RequestError(f"history: must be a list, got {_kind(history_value)}")
    return ContactRequest(
        channel=_choice(action["channel"], "action.channel", Channel),
        at=_time(action["at"], "action.at"),
        party=_choice(action["party"], "action.party", Party),
        to=_text(action["to"], "action.to"),
        timezone=_zone(borrower.get("timezone"), "borrower.timezone"),
        flags=_flags(borrower.get("flags"), "borrower.flags"),
        history=tuple(_attempt(item, f"history[{i}]") for i, item in enumerate(history_value)),
    )


def decision_document(decision: Decision, at: datetime) -> dict[str, Any]:
    """The JSON answer for ``decision`` about a contact at ``at``."""
    next_at = decision.next_allowed_at
    offset = at.utcoffset()
    written: str | None = None
    if next_at is not None:
        written = next_at.astimezone(timezone(offset or timedelta(0))).isoformat()
    return {
        "allowed": decision.allowed,
        "violations": [{"rule": v.rule, "message": v.message} for v in decision.violations],
        "next_allowed_at": written,
    }


def check_document(profile: Profile, document: Mapping[str, Any]) -> dict[str, Any]:
    """Answer a JSON question against ``profile``; raises :class:`RequestError` when malformed."""
    request = parse_request(document)
    return decision_document(decide(request, profile), request.at)


# ---------------------------------------------------------------------------------- fields


def _attempt(value: Any, path: str) -> Attempt:
    body = _object(value, path, _ATTEMPT, required=_ATTEMPT)
    return Attempt(
        channel=_choice(body["channel"], f"{path}.channel", Channel),
        at=_time(body["at"], f"{path}.at"),
        to=_text(body["to"], f"{path}.to"),
        party=_choice(body["party"], f"{path}.party", Party),
        outcome=_choice(body["outcome"], f"{path}.outcome", Outcome),
    )


def _object(
    value: Any, path: str, allowed: Collection[str], required: Collection[str] = ()
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RequestError(f"{path}: must be an object, got {_kind(value)}")
    for key in value:
        if key not in allowed:
            raise RequestError(f"{path}.{key}: unknown field; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in value:
            raise RequestError(f"{path}.{key}: missing")
    return value


def _choice(value: Any, path: str, enum_type: type[E]) -> E:
    try:
        return enum_type(value)
    except ValueError:
        names = ", ".join(member.value for member in enum_type)
        raise RequestError(f"{path}: {value!r} is not one of {names}") from None


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"{path}: must be a non-empty text, got {value!r}")
    return value


def _time(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise RequestError(f"{path}: must be a time text such as {_EXAMPLE_TIME}, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RequestError(f"{path}: {value!r} is not a time such as {_EXAMPLE_TIME}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RequestError(f"{path}: {value!r} has no UTC offset")
    return moment


def _zone(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or zone_info(value) is None:
        raise RequestError(f"{path}: {value!r} is not a known IANA time zone such as Asia/Shanghai")
    return value


def _flags(value: Any, path: str) -> frozenset[Flag]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise RequestError(f"{path}: must be a list, got {_kind(value)}")
    return frozenset(_choice(item, f"{path}[{i}]", Flag) for i, item in enumerate(value))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, Mapping) else type(value).__name__

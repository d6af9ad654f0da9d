"""Hypothesis: contacts performed only when the gate allows them never break a cap.

A loop proposes random contacts at random increasing times, performs (adds to the history, with
a random outcome) only those the gate allows, and then checks the history it built with plain
counting, independent of the gate: CN-ATTEMPTS (unanswered calls and voicemails per number per
local day), CN-ANSWERED (answered calls with the borrower per local day), US-7IN7 (call attempts
to the borrower in any 7 consecutive local days, and no call within 7 days of a conversation,
its day being day 1), and every performed contact inside its window.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from recoup.compliance import (
    Attempt,
    Channel,
    ContactRequest,
    Outcome,
    Party,
    Profile,
    WindowRule,
    decide,
    shipped_profile,
)

UNANSWERED = {Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED, Outcome.UNREACHABLE}
ANSWERED = {
    Outcome.RIGHT_PARTY_CONTACT,
    Outcome.PROMISE_TO_PAY,
    Outcome.REFUSAL,
    Outcome.DISPUTE,
}
PHONE_CALLS = {Channel.CALL, Channel.VOICEMAIL}
#: Own numbers (two) and a guarantor's, per profile.
RECIPIENTS = {
    "cn": [
        (Party.SELF, "+8613800000000"),
        (Party.SELF, "+8613900000000"),
        (Party.GUARANTOR, "+8613700000000"),
    ],
    "us": [
        (Party.SELF, "+12125550100"),
        (Party.SELF, "+12125550101"),
        (Party.GUARANTOR, "+12125550199"),
    ],
}
ZONES = {
    "cn": ["Asia/Shanghai", None],  # None: the +86 number's zone, Asia/Shanghai
    "us": ["America/New_York", "America/Los_Angeles", "Pacific/Honolulu", None],
}
#: Starts around the US clock changes (2026-03-08 and 2026-11-01) and China's National Day.
STARTS = ["2026-03-04T06:00:00+00:00", "2026-09-28T06:00:00+00:00", "2026-10-28T06:00:00+00:00"]
OUTCOMES = [
    *[Outcome.NO_ANSWER] * 4,
    Outcome.BUSY,
    Outcome.FAILED,
    Outcome.RIGHT_PARTY_CONTACT,
    Outcome.PROMISE_TO_PAY,
    Outcome.REFUSAL,
    Outcome.DELIVERED,
]

proposals = st.lists(
    st.tuples(
        st.one_of(st.integers(1, 120), st.integers(120, 4000)),  # minutes since the last one
        st.sampled_from([Channel.CALL, Channel.CALL, Channel.VOICEMAIL, Channel.SMS]),
        st.integers(0, 2),  # which recipient
        st.sampled_from(OUTCOMES),
    ),
    min_size=10,
    max_size=150,
)


def _simulate(
    profile: Profile,
    zone: str | None,
    start: datetime,
    steps: list[tuple[int, Channel, int, Outcome]],
) -> list[Attempt]:
    history: list[Attempt] = []
    moment = start
    for gap, channel, who, outcome in steps:
        moment += timedelta(minutes=gap)
        party, to = RECIPIENTS[profile.id][who]
        request = ContactRequest(channel, moment, party, to, zone, frozenset(), tuple(history))
        if decide(request, profile).allowed:
            history.append(Attempt(channel, moment, to, party, outcome))
    return history


@settings(max_examples=120, deadline=None)
@given(
    profile_name=st.sampled_from(["cn", "us"]),
    zone_index=st.integers(0, 3),
    start=st.sampled_from(STARTS),
    steps=proposals,
)
def test_caps__contacts_performed_through_the_gate_never_break_a_cap_or_a_window(
    profile_name: str,
    zone_index: int,
    start: str,
    steps: list[tuple[int, Channel, int, Outcome]],
) -> None:
    profile = shipped_profile(profile_name)
    zone_name = ZONES[profile_name][zone_index % len(ZONES[profile_name])]
    history = _simulate(profile, zone_name, datetime.fromisoformat(start), steps)
    zone = ZoneInfo(zone_name or ("Asia/Shanghai" if profile_name == "cn" else "America/New_York"))

    def day(attempt: Attempt) -> date:
        return attempt.at.astimezone(zone).date()

    for rule in profile.rules:
        if isinstance(rule, WindowRule):
            for attempt in history:
                if attempt.channel in rule.channels:
                    local = attempt.at.astimezone(zone).time()
                    assert rule.window.start <= local < rule.window.end, attempt

    calls = [a for a in history if a.channel in PHONE_CALLS]
    if profile_name == "cn":
        unanswered = Counter((a.to, day(a)) for a in calls if a.outcome in UNANSWERED)
        assert max(unanswered.values(), default=0) <= 6, unanswered
        answered = Counter(
            day(a)
            for a in calls
            if a.channel is Channel.CALL and a.party is Party.SELF and a.outcome in ANSWERED
        )
        assert max(answered.values(), default=0) <= 3, answered
    else:
        own = [a for a in calls if a.party is Party.SELF]
        per_day = Counter(day(a) for a in own)
        for first in per_day:
            week = sum(per_day[first + timedelta(days=i)] for i in range(7))
            assert week <= 7, (first, per_day)
        for talk in (a for a in own if a.outcome in ANSWERED):
            for later in (a for a in own if a.at > talk.at):
                assert (day(later) - day(talk)).days >= 7, (talk, later)


def test_caps__the_simulation_reaches_the_caps() -> None:
    """The property is not vacuous: a burst of unanswered calls stops at the cap."""
    cn = shipped_profile("cn")
    steps = [(10, Channel.CALL, 0, Outcome.NO_ANSWER)] * 20
    history = _simulate(cn, "Asia/Shanghai", datetime.fromisoformat(STARTS[0]), steps)
    assert len(history) == 6
    us = shipped_profile("us")
    steps = [(600, Channel.CALL, 0, Outcome.NO_ANSWER)] * 40
    history = _simulate(us, "America/New_York", datetime.fromisoformat(STARTS[0]), steps)
    per_week = Counter(a.at.isocalendar()[1] for a in history)
    assert max(per_week.values()) == 7

"""The contact gate, worked by hand: each rule kind at its edges, the time zones, the earliest
allowed time, and the JSON question and answer.

Dates used: 2026-03-02 is a Monday. The US changes to summer time on Sunday 2026-03-08 (02:00
EST becomes 03:00 EDT) and back on Sunday 2026-11-01 (02:00 EDT becomes 01:00 EST). China's
National Day break is 2026-10-01 to 10-07; Saturday 10-10 is a make-up working day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recoup.compliance import (
    Attempt,
    Channel,
    ContactRequest,
    Decision,
    Flag,
    HolidayRule,
    Outcome,
    Party,
    Profile,
    RequestError,
    WindowRule,
    borrower_unreachable,
    candidate_zones,
    check_document,
    check_notice,
    decide,
    decide_many,
    parse_profile,
    parse_request,
    shipped_profile,
)

CN = shipped_profile("cn")
US = shipped_profile("us")
UK = shipped_profile("uk")

MOBILE = "+8613800000000"
OTHER_MOBILE = "+8613900000000"
NEW_YORK = "+12125550100"  # area code 212: America/New_York only
TOLL_FREE = "+18005550100"  # 800: no place, every NANP zone
LONDON = "+447700900123"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def attempt(
    channel: str,
    when: str,
    outcome: str,
    to: str = MOBILE,
    party: str = "self",
) -> Attempt:
    return Attempt(Channel(channel), at(when), to, Party(party), Outcome(outcome))


def request(
    channel: str,
    when: str,
    *,
    to: str = MOBILE,
    party: str = "self",
    timezone: str | None = "Asia/Shanghai",
    flags: Iterable[str] = (),
    history: Sequence[Attempt] = (),
) -> ContactRequest:
    return ContactRequest(
        channel=Channel(channel),
        at=at(when),
        party=Party(party),
        to=to,
        timezone=timezone,
        flags=frozenset(Flag(flag) for flag in flags),
        history=tuple(history),
    )


def rules(decision: Decision) -> list[str]:
    return [violation.rule for violation in decision.violations]


def calls(
    day: str, times: Sequence[str], outcome: str, to: str = MOBILE, party: str = "self"
) -> list[Attempt]:
    """Calls on ``day`` (China time) at each of ``times``."""
    return [attempt("call", f"{day}T{t}:00+08:00", outcome, to, party) for t in times]


SIX_TIMES = ("08:10", "09:10", "10:10", "11:10", "12:10", "13:10")


# ---------------------------------------------------------------------------------- window


def test_window__allows_a_call_at_21_59_borrower_time() -> None:
    decision = decide(request("call", "2026-03-02T21:59:00+08:00"), CN)
    assert decision == Decision(True, (), at("2026-03-02T21:59:00+08:00"))


def test_window__blocks_a_call_at_22_00_and_says_when_it_may_happen() -> None:
    decision = decide(request("call", "2026-03-02T22:00:00+08:00"), CN)
    assert not decision.allowed
    (violation,) = decision.violations
    assert violation.rule == "CN-HOURS"
    assert violation.message == (
        "Calls are allowed 08:00-22:00 borrower local time (Asia/Shanghai); it is 22:00 there."
    )
    assert decision.next_allowed_at == at("2026-03-03T08:00:00+08:00")


def test_window__blocks_07_59_and_allows_08_00() -> None:
    early = decide(request("sms", "2026-03-02T07:59:00+08:00"), CN)
    assert rules(early) == ["CN-HOURS"]
    assert early.next_allowed_at == at("2026-03-02T08:00:00+08:00")
    assert decide(request("sms", "2026-03-02T08:00:00+08:00"), CN).allowed


def test_window__judges_the_borrowers_own_time_zone_not_the_offset_written() -> None:
    # 22:30 in Shanghai is 14:30 in London, where the borrower lives.
    decision = decide(request("call", "2026-03-02T22:30:00+08:00", timezone="Europe/London"), CN)
    assert decision.allowed
    late = decide(request("call", "2026-03-02T22:00:00+00:00", timezone="Europe/London"), CN)
    assert "(Europe/London); it is 22:00 there" in late.violations[0].message
    assert late.next_allowed_at == at("2026-03-03T08:00:00+00:00")


def test_window__channels_outside_the_rule_have_no_hours() -> None:
    assert decide(request("letter", "2026-03-02T03:00:00+08:00", to="Beijing"), CN).allowed
    assert decide(request("email", "2026-03-02T23:00:00+08:00", to="a@b.cn"), CN).allowed
    us_email = request("email", "2026-03-02T23:00:00-05:00", to="a@b.com", timezone=None)
    assert rules(decide(us_email, US)) == ["US-HOURS"]


# ---------------------------------------------------------------------------------- holidays


def test_holiday__blocks_a_field_visit_on_national_day_until_the_break_ends() -> None:
    decision = decide(request("field_visit", "2026-10-01T10:00:00+08:00", to="Beijing"), CN)
    assert rules(decision) == ["CN-HOURS"]
    assert decision.violations[0].message == (
        "No field visits on statutory holidays: 2026-10-01 is National Day (Asia/Shanghai)."
    )
    assert decision.next_allowed_at == at("2026-10-08T08:00:00+08:00")


def test_holiday__the_weekend_inside_a_break_counts_and_a_make_up_saturday_does_not() -> None:
    sunday = decide(request("field_visit", "2026-10-04T10:00:00+08:00", to="Beijing"), CN)
    assert "2026-10-04 is part of the National Day break" in sunday.violations[0].message
    make_up_saturday = request("field_visit", "2026-10-10T10:00:00+08:00", to="Beijing")
    assert decide(make_up_saturday, CN).allowed


def test_holiday__without_whole_breaks_only_the_listed_days_count() -> None:
    profile = parse_profile(CN.text.replace("whole_breaks: true", "whole_breaks: false"))
    national_day = request("field_visit", "2026-10-01T10:00:00+08:00", to="Beijing")
    # The holidays package lists 10-01..10-03 and 10-05..10-07, not Sunday 10-04.
    assert decide(national_day, profile).next_allowed_at == at("2026-10-04T08:00:00+08:00")


def test_holiday__calls_are_allowed_on_a_holiday_in_china() -> None:
    assert decide(request("call", "2026-10-01T10:00:00+08:00"), CN).allowed


def test_holiday__the_uk_has_no_field_visits_on_sundays_or_bank_holidays() -> None:
    def visit(when: str) -> Decision:
        return decide(request("field_visit", when, to="1 High St", timezone=None), UK)

    sunday = visit("2026-03-08T11:00:00+00:00")
    assert rules(sunday) == ["UK-CONTACT"]
    assert "2026-03-08 is a Sunday (Europe/London)" in sunday.violations[0].message
    assert sunday.next_allowed_at == at("2026-03-09T08:00:00+00:00")
    assert rules(visit("2026-04-06T11:00:00+01:00")) == ["UK-CONTACT"]  # Easter Monday
    assert visit("2026-03-07T11:00:00+00:00").allowed  # a Saturday


def test_holiday__a_holiday_window_allows_its_hours_and_the_search_finds_its_start() -> None:
    profile = parse_profile(
        CN.text.replace(
            "    whole_breaks: true\n    window: none",
            '    window: {start: "10:00", end: "12:00"}',
        )
    )
    assert decide(request("field_visit", "2026-10-01T10:30:00+08:00", to="x"), profile).allowed
    early = decide(request("field_visit", "2026-10-01T09:00:00+08:00", to="x"), profile)
    assert early.next_allowed_at == at("2026-10-01T10:00:00+08:00")
    late = decide(request("field_visit", "2026-10-01T12:00:00+08:00", to="x"), profile)
    assert late.next_allowed_at == at("2026-10-02T10:00:00+08:00")


def test_holiday__the_us_has_no_holiday_rule() -> None:
    visit = request("field_visit", "2026-07-04T10:00:00-04:00", to="x", timezone="America/New_York")
    assert decide(visit, US).allowed


# ---------------------------------------------------------------------------------- caps


def test_cap__allows_the_sixth_unanswered_call_to_one_number() -> None:
    history = calls("2026-03-02", SIX_TIMES[:5], "no_answer")
    assert decide(request("call", "2026-03-02T15:00:00+08:00", history=history), CN).allowed


def test_cap__blocks_the_seventh_unanswered_call_to_one_number() -> None:
    history = calls("2026-03-02", SIX_TIMES, "no_answer")
    decision = decide(request("call", "2026-03-02T15:00:00+08:00", history=history), CN)
    assert rules(decision) == ["CN-ATTEMPTS"]
    assert decision.violations[0].message == (
        "At most 6 unanswered call or voicemail attempts a day to one number: +8613800000000 "
        "already had 6 on 2026-03-02 (Asia/Shanghai)."
    )
    assert decision.next_allowed_at == at("2026-03-03T08:00:00+08:00")


def test_cap__counts_busy_failed_and_voicemail_but_not_answered_calls_or_texts() -> None:
    history = [
        *calls("2026-03-02", ("08:10", "09:10"), "busy"),
        *calls("2026-03-02", ("10:10",), "failed"),
        attempt("voicemail", "2026-03-02T11:10:00+08:00", "unreachable"),
        attempt("sms", "2026-03-02T11:20:00+08:00", "failed"),
        *calls("2026-03-02", ("12:10",), "right_party_contact"),
        *calls("2026-03-02", ("13:10",), "no_answer"),
    ]
    when = "2026-03-02T15:00:00+08:00"
    assert decide(request("call", when, history=history), CN).allowed  # 5 unanswered
    history.append(attempt("call", "2026-03-02T14:00:00+08:00", "no_answer"))
    assert rules(decide(request("voicemail", when, history=history), CN)) == ["CN-ATTEMPTS"]
    assert decide(request("sms", when, history=history), CN).allowed  # texts are not capped


def test_cap__counts_per_number_however_the_number_is_written() -> None:
    history = calls("2026-03-02", SIX_TIMES, "no_answer", to="138 0000 0000")
    when = "2026-03-02T15:00:00+08:00"
    assert rules(decide(request("call", when, history=history), CN)) == ["CN-ATTEMPTS"]
    assert decide(request("call", when, to=OTHER_MOBILE, history=history), CN).allowed


def test_cap__counts_the_borrowers_local_day_whatever_offset_the_history_uses() -> None:
    # 16:30 UTC on 03-01 is 00:30 on 03-02 in Shanghai: the same local day as the action.
    history = [
        attempt("call", "2026-03-01T16:30:00+00:00", "no_answer"),
        *calls("2026-03-02", SIX_TIMES[:5], "no_answer"),
    ]
    blocked = decide(request("call", "2026-03-02T15:00:00+08:00", history=history), CN)
    assert rules(blocked) == ["CN-ATTEMPTS"]
    yesterday = [attempt("call", "2026-03-01T15:30:00+00:00", "no_answer"), *history[1:]]
    assert decide(request("call", "2026-03-02T15:00:00+08:00", history=yesterday), CN).allowed


def test_cap__ignores_history_at_or_after_the_action() -> None:
    history = calls("2026-03-02", ("15:00", "16:00", "17:00", "18:00", "19:00", "20:00"), "busy")
    assert decide(request("call", "2026-03-02T15:00:00+08:00", history=history), CN).allowed


def test_cap__blocks_the_fourth_call_to_a_borrower_answered_three_times_today() -> None:
    history = [
        *calls("2026-03-02", ("09:00",), "right_party_contact"),
        *calls("2026-03-02", ("10:00",), "promise_to_pay", to=OTHER_MOBILE),
        *calls("2026-03-02", ("11:00",), "refusal"),
    ]
    when = "2026-03-02T15:00:00+08:00"
    decision = decide(request("call", when, history=history), CN)
    assert rules(decision) == ["CN-ANSWERED"]
    assert "there were already 3 on 2026-03-02" in decision.violations[0].message
    guarantor = request("call", when, to="+8613700000000", party="guarantor", history=history)
    assert decide(guarantor, CN).allowed
    assert decide(request("call", when, history=history[:2]), CN).allowed


def test_cap__a_limit_of_zero_never_lifts() -> None:
    profile = parse_profile(CN.text.replace("limit: 6", "limit: 0"))
    decision = decide(request("call", "2026-03-02T10:00:00+08:00"), profile)
    assert rules(decision) == ["CN-ATTEMPTS"]
    assert decision.next_allowed_at is None


def _daily_us_calls(first: str, count: int, outcome: str = "no_answer") -> list[Attempt]:
    start = at(first)
    return [
        Attempt(Channel.CALL, start + timedelta(days=i), NEW_YORK, Party.SELF, Outcome(outcome))
        for i in range(count)
    ]


def test_7in7__blocks_the_eighth_call_in_seven_days_across_the_spring_dst_change() -> None:
    # One call a day at 10:00 New York time from Monday 03-02 to Sunday 03-08 (DST day).
    history = [
        Attempt(
            Channel.CALL,
            datetime.fromisoformat(f"2026-03-0{2 + i}T10:00:00").replace(
                tzinfo=candidate_zones(Channel.CALL, NEW_YORK, "America/New_York", US)[0]
            ),
            NEW_YORK,
            Party.SELF,
            Outcome.NO_ANSWER,
        )
        for i in range(7)
    ]
    day_7 = request(
        "call", "2026-03-08T18:00:00-04:00", to=NEW_YORK, timezone=None, history=history
    )
    decision = decide(day_7, US)
    assert rules(decision) == ["US-7IN7"]
    assert decision.violations[0].message == (
        "At most 7 call attempts to the consumer in 7 consecutive days: there were already 7 "
        "from 2026-03-02 to 2026-03-08 (America/New_York)."
    )
    assert decision.next_allowed_at == at("2026-03-09T08:00:00-04:00")
    day_8 = replace(day_7, at=at("2026-03-09T08:00:00-04:00"))
    assert decide(day_8, US).allowed


def test_7in7__allows_the_seventh_call_and_does_not_count_other_parties() -> None:
    history = _daily_us_calls("2026-03-02T10:00:00-05:00", 6)
    when = "2026-03-07T18:00:00-05:00"
    assert decide(request("call", when, to=NEW_YORK, timezone=None, history=history), US).allowed
    history.append(
        Attempt(
            Channel.CALL,
            at("2026-03-07T11:00:00-05:00"),
            "+12125550199",
            Party.GUARANTOR,
            Outcome.NO_ANSWER,
        )
    )
    assert decide(request("call", when, to=NEW_YORK, timezone=None, history=history), US).allowed
    history.append(
        Attempt(
            Channel.VOICEMAIL,
            at("2026-03-07T12:00:00-05:00"),
            NEW_YORK,
            Party.SELF,
            Outcome.DELIVERED,
        )
    )
    blocked = decide(request("call", when, to=NEW_YORK, timezone=None, history=history), US)
    assert rules(blocked) == ["US-7IN7"]


def test_7in7__no_call_on_day_seven_after_a_conversation_and_allowed_on_day_eight() -> None:
    history = _daily_us_calls("2026-03-02T10:00:00-05:00", 1, "right_party_contact")
    day_7 = request(
        "call", "2026-03-08T12:00:00-04:00", to=NEW_YORK, timezone=None, history=history
    )
    decision = decide(day_7, US)
    assert rules(decision) == ["US-7IN7"]
    assert decision.violations[0].message == (
        "No call for 7 days after a telephone conversation with the consumer (the conversation "
        "day is day 1): they were spoken to on 2026-03-02, so calls resume on 2026-03-09 "
        "(America/New_York)."
    )
    # Midnight lifts the cool-off, but the hours still wait for 08:00.
    assert decision.next_allowed_at == at("2026-03-09T08:00:00-04:00")
    assert decide(replace(day_7, at=at("2026-03-09T08:00:00-04:00")), US).allowed


def test_7in7__the_conversation_day_itself_is_day_one() -> None:
    history = _daily_us_calls("2026-03-02T10:00:00-05:00", 1, "promise_to_pay")
    later = request(
        "call", "2026-03-02T16:00:00-05:00", to=NEW_YORK, timezone=None, history=history
    )
    assert rules(decide(later, US)) == ["US-7IN7"]
    text = replace(later, channel=Channel.SMS)
    assert decide(text, US).allowed  # the cool-off is for calls


def test_7in7__the_cool_off_counts_local_days_across_the_autumn_dst_change() -> None:
    history = _daily_us_calls("2026-10-26T10:00:00-04:00", 1, "dispute")
    day_7 = request(
        "call", "2026-11-01T10:00:00-05:00", to=NEW_YORK, timezone=None, history=history
    )
    decision = decide(day_7, US)
    assert rules(decision) == ["US-7IN7"]
    assert decision.next_allowed_at == at("2026-11-02T08:00:00-05:00")


# ---------------------------------------------------------------------------------- DST


def test_dst__the_hours_follow_new_york_summer_time() -> None:
    spring = "America/New_York"
    assert rules(
        decide(request("call", "2026-03-08T07:59:00-04:00", to=NEW_YORK, timezone=spring), US)
    ) == ["US-HOURS"]
    assert decide(
        request("call", "2026-03-08T08:00:00-04:00", to=NEW_YORK, timezone=spring), US
    ).allowed
    assert decide(
        request("call", "2026-11-01T08:00:00-05:00", to=NEW_YORK, timezone=spring), US
    ).allowed
    assert not decide(
        request("call", "2026-11-01T07:30:00-05:00", to=NEW_YORK, timezone=spring), US
    ).allowed


def test_dst__next_allowed_at_crosses_a_change_and_keeps_the_offset_written() -> None:
    spring = check_document(
        US,
        {
            "action": {
                "channel": "call",
                "at": "2026-03-07T22:00:00-05:00",
                "party": "self",
                "to": NEW_YORK,
            }
        },
    )
    assert spring["next_allowed_at"] == "2026-03-08T07:00:00-05:00"  # 08:00 EDT
    autumn = check_document(
        US,
        {
            "action": {
                "channel": "call",
                "at": "2026-10-31T21:30:00-04:00",
                "party": "self",
                "to": NEW_YORK,
            }
        },
    )
    assert autumn["next_allowed_at"] == "2026-11-01T09:00:00-04:00"  # 08:00 EST


# ---------------------------------------------------------------------------------- zones


def test_zones__an_area_code_in_one_zone_is_judged_there() -> None:
    zones = candidate_zones(Channel.CALL, NEW_YORK, None, US)
    assert [zone.key for zone in zones] == ["America/New_York"]
    assert decide(
        request("call", "2026-03-02T20:30:00-05:00", to=NEW_YORK, timezone=None), US
    ).allowed


def test_zones__a_toll_free_number_must_be_allowed_in_every_zone_it_may_be_in() -> None:
    zones = candidate_zones(Channel.CALL, TOLL_FREE, None, US)
    assert len(zones) > 8
    assert {"Pacific/Guam", "Pacific/Pago_Pago", "America/St_Johns"} <= {z.key for z in zones}
    decision = decide(request("call", "2026-03-02T20:30:00-05:00", to=TOLL_FREE, timezone=None), US)
    assert rules(decision) == ["US-HOURS"]
    assert f"one of {len(zones)} possible zones" in decision.violations[0].message
    # 08:00 in Guam (UTC+10) is 22:00 UTC; 21:00 in St John's (UTC-3:30) is 00:30 UTC.
    assert decision.next_allowed_at == at("2026-03-03T22:00:00+00:00")
    assert decide(
        request("call", "2026-03-04T00:29:00+00:00", to=TOLL_FREE, timezone=None), US
    ).allowed
    assert not decide(
        request("call", "2026-03-04T00:30:00+00:00", to=TOLL_FREE, timezone=None), US
    ).allowed


def test_zones__an_alaska_area_code_has_two_zones() -> None:
    zones = candidate_zones(Channel.CALL, "+19075550100", None, US)
    assert {zone.key for zone in zones} == {"America/Anchorage", "America/Adak"}


def test_zones__a_number_without_plus_is_read_in_the_profiles_region() -> None:
    assert [z.key for z in candidate_zones(Channel.CALL, "(212) 555-0100", None, US)] == [
        "America/New_York"
    ]
    assert [z.key for z in candidate_zones(Channel.SMS, "07700 900123", None, UK)] == [
        "Europe/London"
    ]


def test_zones__an_unparsable_number_or_a_non_phone_channel_uses_the_profiles_zones() -> None:
    assert candidate_zones(Channel.CALL, "not a number", None, US) == US.zones
    assert candidate_zones(Channel.EMAIL, "a@b.com", None, US) == US.zones
    assert candidate_zones(Channel.FIELD_VISIT, NEW_YORK, None, US) == US.zones
    # 08:30 in New York is 03:30 in Honolulu.
    decision = decide(request("call", "2026-03-02T08:30:00-05:00", to="???", timezone=None), US)
    assert "one of 8 possible zones" in decision.violations[0].message
    assert decision.next_allowed_at == at("2026-03-02T13:00:00-05:00")


def test_zones__the_borrowers_own_zone_wins_over_the_number() -> None:
    zones = candidate_zones(Channel.CALL, TOLL_FREE, "America/Chicago", US)
    assert [zone.key for zone in zones] == ["America/Chicago"]


# ---------------------------------------------------------------------------------- holds


def test_hold__a_dispute_blocks_every_channel_and_waiting_does_not_help() -> None:
    decision = decide(request("letter", "2026-03-02T10:00:00+08:00", to="x", flags=["dispute"]), CN)
    assert rules(decision) == ["CN-LETTER"]
    assert decision.next_allowed_at is None
    assert rules(
        decide(
            request(
                "call", "2026-03-02T10:00:00-05:00", to=NEW_YORK, flags=["dispute"], timezone=None
            ),
            US,
        )
    ) == ["US-VALIDATION"]
    assert rules(
        decide(
            request(
                "call", "2026-03-02T10:00:00+00:00", to=LONDON, flags=["dispute"], timezone=None
            ),
            UK,
        )
    ) == ["UK-DISPUTE"]


def test_hold__vulnerable_pauses_automated_channels_but_not_a_person_calling() -> None:
    text = decide(request("sms", "2026-03-02T10:00:00+08:00", flags=["vulnerable"]), CN)
    assert rules(text) == ["CN-HOLD"]
    assert text.violations[0].message == (
        "Automated contact is paused for a vulnerable borrower: no text messages."
    )
    assert decide(request("call", "2026-03-02T10:00:00+08:00", flags=["vulnerable"]), CN).allowed
    uk = decide(
        request(
            "voicemail", "2026-03-02T10:00:00+00:00", to=LONDON, flags=["vulnerable"], timezone=None
        ),
        UK,
    )
    assert rules(uk) == ["UK-VULN"]


def test_hold__every_blocking_rule_is_listed_once_in_profile_order() -> None:
    decision = decide(
        request(
            "sms",
            "2026-03-02T23:00:00+08:00",
            flags=["vulnerable", "bankruptcy", "dispute", "opted_out_sms"],
        ),
        CN,
    )
    assert rules(decision) == ["CN-HOURS", "CN-LETTER", "CN-HOLD", "CN-OPTOUT"]
    hold = decision.violations[2].message
    assert "(bankruptcy)" in hold and "vulnerable borrower" in hold  # two entries, one violation
    assert decision.next_allowed_at is None


@pytest.mark.parametrize(
    ("profile", "flag", "rule"),
    [
        (CN, "repayment_plan", "CN-PLAN"),
        (CN, "breathing_space", "CN-HOLD"),
        (CN, "attorney", "CN-HOLD"),
        (US, "repayment_plan", "US-HOLD"),
        (US, "deceased", "US-HOLD"),
        (US, "cease", "US-CEASE"),
        (US, "attorney", "US-CEASE"),
        (UK, "repayment_plan", "UK-FORBEAR"),
        (UK, "breathing_space", "UK-BREATHING"),
        (UK, "bankruptcy", "UK-HOLD"),
        (UK, "cease", "UK-CONTACT"),
    ],
)
def test_hold__each_flag_is_held_by_the_rule_of_the_docs_table(
    profile: Profile, flag: str, rule: str
) -> None:
    decision = decide(
        request("call", "2026-03-02T12:00:00+00:00", flags=[flag], timezone="UTC"), profile
    )
    assert rules(decision) == [rule]
    assert decision.next_allowed_at is None


def test_hold__the_unreachable_flag_holds_nothing() -> None:
    assert decide(request("call", "2026-03-02T10:00:00+08:00", flags=["unreachable"]), CN).allowed


# ---------------------------------------------------------------------------------- opt-outs


def test_opt_out__blocks_texts_and_emails_separately() -> None:
    def us(channel: str, to: str, flag: str) -> Decision:
        return decide(
            request(
                channel,
                "2026-03-02T12:00:00-05:00",
                to=to,
                flags=[flag],
                timezone="America/New_York",
            ),
            US,
        )

    assert rules(us("sms", NEW_YORK, "opted_out_sms")) == ["US-TCPA"]
    assert us("email", "a@b.com", "opted_out_sms").allowed
    assert us("call", NEW_YORK, "opted_out_sms").allowed
    assert rules(us("email", "a@b.com", "opted_out_email")) == ["US-OPTOUT"]
    assert us("sms", "a@b.com", "opted_out_email").allowed
    assert us("sms", NEW_YORK, "opted_out_sms").next_allowed_at is None
    cn = decide(
        request("email", "2026-03-02T12:00:00+08:00", to="a@b.cn", flags=["opted_out_email"]), CN
    )
    assert rules(cn) == ["CN-OPTOUT"]


# ---------------------------------------------------------------------------------- third parties


def _failed_own_calls(outcomes: Sequence[str]) -> list[Attempt]:
    return [
        attempt("call", f"2026-03-01T{9 + i:02d}:00:00+08:00", outcome)
        for i, outcome in enumerate(outcomes)
    ]


FRIEND = "+8613600000000"


def test_third_party__china_only_when_the_borrower_is_unreachable() -> None:
    when = "2026-03-02T10:00:00+08:00"
    decision = decide(request("call", when, to=FRIEND, party="third_party"), CN)
    assert rules(decision) == ["CN-PARTIES"]
    assert "the borrower is not unreachable" in decision.violations[0].message
    assert decision.next_allowed_at is None
    failed = _failed_own_calls(["no_answer", "busy", "failed"])
    assert decide(request("call", when, to=FRIEND, party="third_party", history=failed), CN).allowed
    flagged = request("call", when, to=FRIEND, party="third_party", flags=["unreachable"])
    assert decide(flagged, CN).allowed


def test_third_party__a_conversation_among_the_last_three_attempts_means_reachable() -> None:
    history = _failed_own_calls(["no_answer", "right_party_contact", "busy", "failed"])
    assert not borrower_unreachable(history, frozenset(), CN)
    history.append(attempt("call", "2026-03-01T20:00:00+08:00", "no_answer"))
    assert borrower_unreachable(history, frozenset(), CN)  # busy, failed, no_answer


def test_third_party__every_own_number_wrong_makes_the_borrower_unreachable() -> None:
    history = [
        attempt("call", "2026-03-01T09:00:00+08:00", "wrong_number"),
        attempt("sms", "2026-03-01T09:30:00+08:00", "delivered", to=OTHER_MOBILE),
        attempt("call", "2026-03-01T10:00:00+08:00", "wrong_number", to=OTHER_MOBILE),
    ]
    assert borrower_unreachable(history[:3], frozenset(), CN)
    assert not borrower_unreachable(history[:2], frozenset(), CN)
    decision = decide(
        request(
            "call", "2026-03-02T10:00:00+08:00", to=FRIEND, party="third_party", history=history
        ),
        CN,
    )
    assert decision.allowed


def test_third_party__never_again_after_that_person_objects() -> None:
    history = [
        *_failed_own_calls(["no_answer", "no_answer", "no_answer"]),
        attempt("call", "2026-03-01T15:00:00+08:00", "refusal", to=FRIEND, party="third_party"),
    ]
    # The failures are before the refusal, but the last three own attempts still all failed.
    when = "2026-03-02T10:00:00+08:00"
    decision = decide(request("call", when, to=FRIEND, party="third_party", history=history), CN)
    assert rules(decision) == ["CN-PARTIES"]
    assert f"{FRIEND} objected on 2026-03-01" in decision.violations[0].message
    other = request("call", when, to="+8613500000000", party="third_party", history=history)
    assert decide(other, CN).allowed
    uk = request(
        "call",
        "2026-03-02T10:00:00+00:00",
        to=FRIEND,
        party="third_party",
        history=history,
        timezone="Europe/London",
    )
    assert rules(decide(uk, UK)) == ["UK-CONTACT"]


def test_third_party__the_us_allows_each_person_once_without_waiting_for_unreachable() -> None:
    when = "2026-03-02T12:00:00-05:00"
    friend = "+13125550100"
    first = request("call", when, to=friend, party="third_party", timezone="America/Chicago")
    assert decide(first, US).allowed
    reached = [
        Attempt(
            Channel.CALL,
            at("2026-03-01T12:00:00-06:00"),
            friend,
            Party.THIRD_PARTY,
            Outcome.THIRD_PARTY_REACHED,
        )
    ]
    again = decide(replace(first, history=tuple(reached)), US)
    assert rules(again) == ["US-THIRD"]
    assert "was already reached on 2026-03-01" in again.violations[0].message
    assert again.next_allowed_at is None


def test_third_party__rules_do_not_apply_to_the_borrower_or_a_guarantor() -> None:
    when = "2026-03-02T10:00:00+08:00"
    assert decide(request("call", when, to=FRIEND, party="guarantor"), CN).allowed


# ---------------------------------------------------------------------------------- notices


def test_notice__us_credit_reporting_waits_fourteen_days_after_a_notice() -> None:
    report = at("2026-03-16T12:00:00-05:00")
    assert check_notice("credit_reporting", [at("2026-03-02T12:00:00-05:00")], report, US) == ()
    (violation,) = check_notice("credit_reporting", [at("2026-03-03T12:00:00-05:00")], report, US)
    assert violation.rule == "US-REPORT"
    assert "waiting 14 days" in violation.message
    assert "allows it from 2026-03-17T12:00:00-05:00" in violation.message


def test_notice__a_conversation_also_allows_us_credit_reporting() -> None:
    report = at("2026-03-16T12:00:00-05:00")
    assert (
        check_notice("credit_reporting", [], report, US, spoke_at=[at("2026-03-15T09:00:00-05:00")])
        == ()
    )
    (violation,) = check_notice("credit_reporting", [], report, US)
    assert "no notice has been sent and the borrower has not been spoken to" in violation.message
    # China's rule asks for a notice; a conversation is not enough.
    (cn,) = check_notice(
        "credit_reporting", [], report, CN, spoke_at=[at("2026-03-15T09:00:00-05:00")]
    )
    assert cn.rule == "CN-CREDIT"


def test_notice__outsourcing_in_china_needs_a_notice_and_the_uk_profile_has_no_such_rule() -> None:
    when = at("2026-03-16T12:00:00+08:00")
    assert [v.rule for v in check_notice("outsourcing", [], when, CN)] == ["CN-OUTSOURCE"]
    assert check_notice("outsourcing", [when], when, CN) == ()
    assert check_notice("outsourcing", [], when, UK) == ()
    with pytest.raises(ValueError, match="no notice kind"):
        check_notice("letters", [], when, CN)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- search


def test_next_allowed__is_none_when_nothing_in_366_days_is_allowed() -> None:
    every_day = CN.text.replace(
        "    calendar: CN\n    whole_breaks: true\n",
        "    weekdays: [mon, tue, wed, thu, fri, sat, sun]\n    calendar: none\n",
    )
    profile = parse_profile(every_day)
    decision = decide(request("field_visit", "2026-03-02T10:00:00+08:00", to="x"), profile)
    assert rules(decision) == ["CN-HOURS"]
    assert decision.next_allowed_at is None


def test_next_allowed__a_cap_and_a_window_both_wait_for_the_later_of_them() -> None:
    history = calls("2026-03-02", SIX_TIMES, "no_answer")
    decision = decide(request("call", "2026-03-02T23:00:00+08:00", history=history), CN)
    assert rules(decision) == ["CN-HOURS", "CN-ATTEMPTS"]
    assert decision.next_allowed_at == at("2026-03-03T08:00:00+08:00")


def test_next_allowed__decide_many_answers_like_decide() -> None:
    requests = [
        request("call", "2026-03-02T22:00:00+08:00"),
        request("sms", "2026-03-02T12:00:00+08:00", flags=["vulnerable"]),
        request("call", "2026-03-02T12:00:00+08:00"),
    ]
    assert decide_many(requests, CN) == [decide(r, CN) for r in requests]


def _slow_next_allowed(req: ContactRequest, profile: Profile) -> datetime | None:
    """The docs' search, literally: try ``at``, then each candidate zone's local midnight and
    window starts of each local day up to 366 days ahead, in increasing order."""
    zones = candidate_zones(req.channel, req.to, req.timezone, profile)
    starts = {
        rule.window.start
        for rule in profile.rules_for(req.channel, req.party)
        if isinstance(rule, WindowRule | HolidayRule) and rule.window is not None
    }
    candidates = {req.at}
    for zone in zones:
        first = req.at.astimezone(zone).date()
        for offset in range(367):
            day = first + timedelta(days=offset)
            for moment in {datetime.min.time(), *starts}:
                instant = datetime.combine(day, moment, tzinfo=zone)
                if instant >= req.at:
                    candidates.add(instant)
    for candidate in sorted(candidates):
        if decide(replace(req, at=candidate, history=req.history), profile).allowed:
            return candidate
    return None


@settings(max_examples=80, deadline=None)
@given(
    profile_name=st.sampled_from(["cn", "us"]),
    channel=st.sampled_from(["call", "sms", "field_visit", "email"]),
    minute=st.integers(0, 60 * 24 * 20),
    zone=st.sampled_from(["Asia/Shanghai", "America/New_York", "Pacific/Honolulu", None]),
    to=st.sampled_from([MOBILE, NEW_YORK, TOLL_FREE]),
    history=st.lists(
        st.tuples(
            st.integers(1, 60 * 24 * 9),
            st.sampled_from(["no_answer", "busy", "right_party_contact", "promise_to_pay"]),
        ),
        max_size=12,
    ),
)
def test_next_allowed__matches_the_literal_search_over_candidate_instants(
    profile_name: str,
    channel: str,
    minute: int,
    zone: str | None,
    to: str,
    history: list[tuple[int, str]],
) -> None:
    profile = shipped_profile(profile_name)
    when = at("2026-02-25T00:00:00+00:00") + timedelta(minutes=minute)
    req = ContactRequest(
        Channel(channel),
        when,
        Party.SELF,
        to,
        zone,
        frozenset(),
        tuple(
            Attempt(Channel.CALL, when - timedelta(minutes=back), to, Party.SELF, Outcome(outcome))
            for back, outcome in history
        ),
    )
    expected = _slow_next_allowed(req, profile)
    found = decide(req, profile).next_allowed_at
    assert found == expected


# ---------------------------------------------------------------------------------- JSON


DOC_EXAMPLE: dict[str, Any] = {
    "action": {"channel": "call", "at": "2026-03-02T21:59:00+08:00", "party": "self", "to": MOBILE},
    "borrower": {"timezone": "Asia/Shanghai", "flags": ["vulnerable"]},
    "history": [
        {
            "channel": "call",
            "at": "2026-03-02T09:10:00+08:00",
            "to": MOBILE,
            "party": "self",
            "outcome": "no_answer",
        }
    ],
}


def test_json__the_docs_example_is_allowed_at_21_59_and_blocked_at_22_00() -> None:
    assert check_document(CN, DOC_EXAMPLE) == {
        "allowed": True,
        "violations": [],
        "next_allowed_at": "2026-03-02T21:59:00+08:00",
    }
    late = {**DOC_EXAMPLE, "action": {**DOC_EXAMPLE["action"], "at": "2026-03-02T22:00:00+08:00"}}
    assert check_document(CN, late) == {
        "allowed": False,
        "violations": [
            {
                "rule": "CN-HOURS",
                "message": "Calls are allowed 08:00-22:00 borrower local time (Asia/Shanghai); "
                "it is 22:00 there.",
            }
        ],
        "next_allowed_at": "2026-03-03T08:00:00+08:00",
    }


def test_json__next_allowed_at_is_written_with_the_offset_of_at() -> None:
    utc = {**DOC_EXAMPLE, "action": {**DOC_EXAMPLE["action"], "at": "2026-03-02T14:00:00Z"}}
    assert check_document(CN, utc)["next_allowed_at"] == "2026-03-03T00:00:00+00:00"


def test_json__borrower_history_timezone_and_flags_may_be_missing_or_null() -> None:
    parsed = parse_request(
        {"action": DOC_EXAMPLE["action"], "borrower": {"timezone": None, "flags": None}}
    )
    assert (parsed.timezone, parsed.flags, parsed.history) == (None, frozenset(), ())
    assert (
        parse_request({"action": DOC_EXAMPLE["action"], "borrower": None, "history": None}).history
        == ()
    )
    assert parse_request({**DOC_EXAMPLE, "name": "a scenario"}).flags == {Flag.VULNERABLE}


def _history(**changes: Any) -> list[dict[str, Any]]:
    entry = DOC_EXAMPLE["history"][0]
    return [entry, entry, {**entry, **changes}]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {**DOC_EXAMPLE, "action": {**DOC_EXAMPLE["action"], "at": "2026-03-02T21:59"}},
            "action.at: '2026-03-02T21:59' has no UTC offset",
        ),
        (
            {**DOC_EXAMPLE, "history": _history(outcome="maybe")},
            "history[2].outcome: 'maybe' is not one of no_answer, busy, wrong_number, "
            "right_party_contact, promise_to_pay, refusal, dispute, third_party_reached, "
            "unreachable, delivered, failed",
        ),
        (
            {**DOC_EXAMPLE, "action": {**DOC_EXAMPLE["action"], "channel": "fax"}},
            "action.channel: 'fax' is not one of sms, email, app_push, call, voicemail, letter, "
            "field_visit",
        ),
        (
            {**DOC_EXAMPLE, "action": {**DOC_EXAMPLE["action"], "at": "yesterday"}},
            "action.at: 'yesterday' is not a time such as 2026-03-02T21:59:00+08:00",
        ),
        (
            {**DOC_EXAMPLE, "action": {**DOC_EXAMPLE["action"], "at": 1772459940}},
            "action.at: must be a time text",
        ),
        ({"borrower": {}}, "action: missing"),
        (
            {"action": {k: v for k, v in DOC_EXAMPLE["action"].items() if k != "party"}},
            "action.party: missing",
        ),
        (
            {**DOC_EXAMPLE, "action": {**DOC_EXAMPLE["action"], "to": ""}},
            "action.to: must be a non-empty text",
        ),
        (
            {**DOC_EXAMPLE, "borrower": {"flags": ["sad"]}},
            "borrower.flags[0]: 'sad' is not one of dispute",
        ),
        (
            {**DOC_EXAMPLE, "borrower": {"flags": "vulnerable"}},
            "borrower.flags: must be a list, got a text",
        ),
        (
            {**DOC_EXAMPLE, "borrower": {"flag": ["cease"]}},
            "borrower.flag: unknown field; allowed: timezone, flags",
        ),
        (
            {**DOC_EXAMPLE, "borrower": {"timezone": "Mars/Base"}},
            "borrower.timezone: 'Mars/Base' is not a known IANA time zone",
        ),
        ({**DOC_EXAMPLE, "history": {"channel": "call"}}, "history: must be a list, got an object"),
        ({**DOC_EXAMPLE, "history": ["call"]}, "history[0]: must be an object, got a text"),
        (
            {**DOC_EXAMPLE, "history": _history(at="2026-03-02 09:10")},
            "history[2].at: '2026-03-02 09:10' has no UTC offset",
        ),
        ([1, 2], "document: must be a JSON object, got a list"),
    ],
)
def test_json__a_malformed_question_names_the_field(document: Any, message: str) -> None:
    with pytest.raises(RequestError) as error:
        parse_request(document)
    assert str(error.value).startswith(message)


def test_json__a_contact_request_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="needs a UTC offset"):
        ContactRequest(Channel.CALL, datetime(2026, 3, 2, 10), Party.SELF, MOBILE)

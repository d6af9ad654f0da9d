"""Contact-gate benchmark: the gate's decisions on one day's planned actions.

    python bench/gate.py [--actions 100000] [--profile cn|us|uk] [--seed 1]

Synthetic actions like a strategy run's: a channel mix of SMS, calls, app pushes, letters
and visits, planned at times spread over the day (some outside the permitted hours), each
borrower with a recent history of 0–10 attempts over the last week (a few with many
unanswered calls today, some with a conversation), 3% with a hold flag and 1% opted out of
SMS. The figure is the time of :func:`recoup.compliance.decide_many` alone; building the
requests is timed apart. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from recoup.compliance import (
    Attempt,
    Channel,
    ContactRequest,
    Flag,
    Outcome,
    Party,
    decide_many,
    shipped_profile,
)

ZONES = {"cn": "Asia/Shanghai", "us": "America/New_York", "uk": "Europe/London"}
PHONE = {"cn": "+86138{:08d}", "us": "+1212{:07d}", "uk": "+447700{:06d}"}
CHANNEL_MIX = [
    (Channel.SMS, 40),
    (Channel.CALL, 40),
    (Channel.APP_PUSH, 10),
    (Channel.LETTER, 5),
    (Channel.FIELD_VISIT, 5),
]
HOLDS = [Flag.DISPUTE, Flag.REPAYMENT_PLAN, Flag.VULNERABLE, Flag.CEASE, Flag.BANKRUPTCY]
UNANSWERED = [Outcome.NO_ANSWER, Outcome.BUSY]
ANSWERED = [Outcome.RIGHT_PARTY_CONTACT, Outcome.PROMISE_TO_PAY, Outcome.REFUSAL]


def synthetic_requests(count: int, profile_name: str, seed: int) -> list[ContactRequest]:
    rng = random.Random(seed)
    zone = ZoneInfo(ZONES[profile_name])
    day = datetime(2026, 3, 18, tzinfo=zone)
    channels = [c for c, _ in CHANNEL_MIX]
    weights = [w for _, w in CHANNEL_MIX]
    requests = []
    for index in range(count):
        phone = PHONE[profile_name].format(index)
        channel = rng.choices(channels, weights)[0]
        at = day + timedelta(minutes=rng.randrange(7 * 60, 22 * 60 + 30))
        history = []
        for _ in range(rng.randrange(0, 11)):
            when = at - timedelta(minutes=rng.randrange(10, 7 * 24 * 60))
            outcome = rng.choice(ANSWERED) if rng.random() < 0.15 else rng.choice(UNANSWERED)
            history.append(Attempt(Channel.CALL, when, phone, Party.SELF, outcome))
        if rng.random() < 0.05:  # a busy day: many unanswered calls already today
            for minute in range(6):
                history.append(
                    Attempt(
                        Channel.CALL,
                        day + timedelta(hours=8, minutes=minute * 10),
                        phone,
                        Party.SELF,
                        Outcome.NO_ANSWER,
                    )
                )
        history.sort(key=lambda a: a.at)
        flags = set()
        if rng.random() < 0.03:
            flags.add(rng.choice(HOLDS))
        if rng.random() < 0.01:
            flags.add(Flag.OPTED_OUT_SMS)
        to = {
            Channel.APP_PUSH: f"app:A{index}",
            Channel.LETTER: f"Address {index}",
            Channel.FIELD_VISIT: f"Address {index}",
        }.get(channel, phone)
        requests.append(
            ContactRequest(
                channel=channel,
                at=at,
                party=Party.SELF,
                to=to,
                timezone=ZONES[profile_name],
                flags=frozenset(flags),
                history=tuple(history),
            )
        )
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=100_000)
    parser.add_argument("--profile", choices=sorted(ZONES), default="cn")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    profile = shipped_profile(args.profile)
    started = time.perf_counter()
    requests = synthetic_requests(args.actions, args.profile, args.seed)
    built = time.perf_counter() - started
    attempts = sum(len(r.history) for r in requests)
    started = time.perf_counter()
    decisions = decide_many(requests, profile)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    allowed = sum(d.allowed for d in decisions)
    later = sum(1 for d in decisions if not d.allowed and d.next_allowed_at is not None)
    rules = Counter(v.rule for d in decisions for v in d.violations)
    print(
        f"profile {args.profile}: {args.actions:,} planned actions, {attempts:,} history "
        f"attempts (built in {built:.1f} s)"
    )
    print(
        f"gate: {elapsed:.2f} s, {args.actions / elapsed:,.0f} decisions/s; "
        f"peak memory {peak_mb:,.0f} MB"
    )
    print(
        f"allowed {allowed:,}; blocked {args.actions - allowed:,} "
        f"(of which {later:,} with a next allowed time)"
    )
    print("blocking rules: " + ", ".join(f"{r} {n:,}" for r, n in rules.most_common()))


if __name__ == "__main__":
    main()

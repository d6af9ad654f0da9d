"""The behavioural response model: reproducible by seed, effects in the right direction, and
rates within the ranges its parameters file documents, on large samples."""

from __future__ import annotations

import numpy as np
import pytest

from recoup.simulator import response as model
from recoup.simulator.behaviour import draw_traits, miss_probability
from recoup.simulator.response import (
    CHANNELS,
    KEPT,
    PROMISE,
    RIGHT_PARTY,
    Borrowers,
    Treatment,
    load_response_params,
    parse_response_params,
    respond,
)
from recoup.simulator.response import DEFAULT_PARAMS_FILE as PARAMS_FILE
from recoup.yamlfile import YamlFileError

PARAMS = load_response_params()
SAMPLE = 100_000


def _arrears_borrowers(count: int, seed: int = 5) -> Borrowers:
    """Borrowers who just missed a payment: the simulator's trait mix, each kept with their
    own chance of missing (the population the lab contacts)."""
    rng = np.random.default_rng(seed)
    traits = draw_traits(rng, count * 30)
    missed = rng.random(len(traits.ability)) < miss_probability(traits.ability, traits.willingness)
    ability, willingness = traits.ability[missed][:count], traits.willingness[missed][:count]
    assert len(ability) == count
    return Borrowers(ability, willingness, model.draw_phone_works(rng, count, PARAMS))


def _uniform(count: int, ability: float, willingness: float) -> Borrowers:
    return Borrowers(
        np.full(count, ability), np.full(count, willingness), np.ones(count, dtype=bool)
    )


def _calls(count: int, pressure: int = 3, hour: int | None = None, seed: int = 1) -> Treatment:
    hours = np.random.default_rng(seed).integers(9, 20, count) if hour is None else [hour] * count
    return Treatment.of(["call"] * count, list(hours), [pressure] * count)


OWED = 150_000


def test_respond__the_same_seed_gives_the_same_responses_and_another_seed_others() -> None:
    borrowers = _arrears_borrowers(5_000)
    treatment = _calls(5_000)
    owed = np.full(5_000, OWED)
    first = respond(np.random.default_rng(42), PARAMS, borrowers, treatment, owed)
    again = respond(np.random.default_rng(42), PARAMS, borrowers, treatment, owed)
    other = respond(np.random.default_rng(43), PARAMS, borrowers, treatment, owed)
    for name in first.__slots__:
        assert np.array_equal(getattr(first, name), getattr(again, name)), name
    assert not np.array_equal(first.outcome, other.outcome)


def test_respond__rates_on_borrowers_in_arrears_fall_in_the_documented_ranges() -> None:
    borrowers = _arrears_borrowers(SAMPLE)
    r = respond(np.random.default_rng(7), PARAMS, borrowers, _calls(SAMPLE), np.full(SAMPLE, OWED))
    conversations = int((r.outcome >= RIGHT_PARTY).sum())
    promises = int((r.outcome == PROMISE).sum())
    rates = {
        "call_answer_rate": r.answered.mean(),
        "right_party_rate": conversations / SAMPLE,
        "promise_rate": promises / conversations,
        "promise_kept_rate": (r.promise_fate == KEPT).sum() / promises,
        "complaints_per_1000_calls": 1000 * r.complaint.mean(),
    }
    assert set(rates) == set(PARAMS.targets)
    for name, rate in rates.items():
        low, high = PARAMS.targets[name]
        assert low <= rate <= high, f"{name} {rate:.4f} outside [{low}, {high}]"


def test_respond__more_willing_borrowers_keep_more_promises() -> None:
    kept = []
    for willingness in (0.2, 0.5, 0.8):
        r = respond(
            np.random.default_rng(3),
            PARAMS,
            _uniform(SAMPLE, 0.5, willingness),
            _calls(SAMPLE),
            np.full(SAMPLE, OWED),
        )
        promised = r.outcome == PROMISE
        kept.append((r.promise_fate[promised] == KEPT).mean())
    assert kept[0] < kept[1] < kept[2]
    assert kept[2] - kept[0] > 0.3


def test_respond__more_contact_pressure_brings_more_complaints() -> None:
    borrowers = _arrears_borrowers(SAMPLE)
    complaints = [
        int(
            respond(
                np.random.default_rng(11),
                PARAMS,
                borrowers,
                _calls(SAMPLE, pressure=pressure),
                np.full(SAMPLE, OWED),
            ).complaint.sum()
        )
        for pressure in (0, 5, 15)
    ]
    assert complaints[0] < complaints[1] < complaints[2]
    assert complaints[2] > 5 * complaints[0]


def test_respond__evening_calls_are_answered_more_than_mid_morning_calls() -> None:
    borrowers = _arrears_borrowers(SAMPLE)
    owed = np.full(SAMPLE, OWED)
    morning = respond(np.random.default_rng(2), PARAMS, borrowers, _calls(SAMPLE, hour=10), owed)
    evening = respond(np.random.default_rng(2), PARAMS, borrowers, _calls(SAMPLE, hour=19), owed)
    night = respond(np.random.default_rng(2), PARAMS, borrowers, _calls(SAMPLE, hour=23), owed)
    assert evening.answered.mean() > morning.answered.mean() * 1.3
    assert not night.answered.any()  # hours outside the table: nobody answers


def test_respond__a_wrong_number_never_reaches_the_borrower_and_messages_take_no_promise() -> None:
    count = 20_000
    borrowers = Borrowers(np.full(count, 0.6), np.full(count, 0.6), np.zeros(count, dtype=bool))
    r = respond(np.random.default_rng(1), PARAMS, borrowers, _calls(count), np.full(count, OWED))
    assert (r.outcome == model.WRONG_NUMBER).all() and not r.pays.any()

    sms = Treatment.of(["sms"] * count, [9] * count, [0] * count)
    r = respond(
        np.random.default_rng(1), PARAMS, _uniform(count, 0.6, 0.6), sms, np.full(count, OWED)
    )
    assert not (r.outcome == PROMISE).any()
    assert 0.45 < r.right_party.mean() < 0.75  # read
    assert r.pays.any() and (r.payment_day <= PARAMS.message_payment_days[1]).all()


def test_respond__payments_are_whole_and_never_more_than_owed_or_promised() -> None:
    borrowers = _arrears_borrowers(50_000)
    owed = np.random.default_rng(9).integers(5_000, 2_000_000, 50_000)
    r = respond(np.random.default_rng(4), PARAMS, borrowers, _calls(50_000), owed)
    promised = r.outcome == PROMISE
    assert (r.promise_cents[promised] <= owed[promised]).all()
    assert (r.promise_cents[promised] > 0).all()
    assert (r.payment_cents[r.pays] <= owed[r.pays]).all()
    whole_or_all = (r.payment_cents % 100 == 0) | (r.payment_cents == owed)
    assert whole_or_all[r.pays].all()
    kept = r.promise_fate == KEPT
    assert (r.payment_cents[kept] == r.promise_cents[kept]).all()
    assert (r.payment_day[kept] <= r.promise_day[kept]).all()
    broken = r.promise_fate == model.BROKEN
    assert not r.pays[broken].any()


def test_self_cure__the_able_pay_more_and_older_buckets_less() -> None:
    rng = np.random.default_rng(8)
    owed = np.full(SAMPLE, OWED)

    def rate(ability: float, bucket: int) -> float:
        pays, cents = model.self_cure(
            rng,
            PARAMS,
            np.full(SAMPLE, ability),
            np.full(SAMPLE, 0.5),
            np.full(SAMPLE, bucket),
            owed,
        )
        assert (cents[pays] > 0).all() and (cents[~pays] == 0).all()
        return float(pays.mean())

    assert rate(0.2, 0) < rate(0.5, 0) < rate(0.8, 0)
    assert rate(0.5, 0) > rate(0.5, 1) > rate(0.5, 6)


def test_scheduled_payments__most_current_borrowers_pay_on_time() -> None:
    rng = np.random.default_rng(3)
    traits = draw_traits(rng, SAMPLE)
    paid = model.scheduled_payments(rng, traits.ability, traits.willingness).mean()
    assert 0.95 < paid < 0.99  # M0 -> M1 is 2-4% a month (domain.md)


def test_treatment__an_unknown_channel_is_named() -> None:
    with pytest.raises(ValueError, match="unknown channel 'pigeon'"):
        Treatment.of(["sms", "pigeon"], [9, 9], [0, 0])
    assert len(CHANNELS) == 7


def _shipped_text() -> str:
    from importlib import resources

    return resources.files("recoup.simulator").joinpath(PARAMS_FILE).read_text("utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("right_party: 0.78", "right_party: 1.78"), r"line \d+, right_party: must be between 0"),
        (("  call: 0.33 ", "  call: high "), r"reach\.call: must be a number, got 'high'"),
        (("  days: [1, 7] ", "  days: [7, 1] "), r"promise\.days: the first number must not"),
        (("    M7+: 0.0004", "    M8: 0.0004"), r"self_cure\.daily\.M8: unknown field"),
        (("refusal_share: 0.40", "refusals: 0.40"), r"refusals: unknown field"),
        (("  12: 1.15", "  25: 1.15"), r"hour_factor\.25: not an hour 0-23"),
    ],
)
def test_parse_response_params__a_bad_file_names_the_line_and_the_key(
    change: tuple[str, str], message: str
) -> None:
    text = _shipped_text()
    assert change[0] in text, change[0]
    with pytest.raises(YamlFileError, match=message):
        parse_response_params(text.replace(change[0], change[1], 1), "response.yaml")


def test_parse_response_params__a_missing_key_is_named() -> None:
    text = "\n".join(
        line for line in _shipped_text().splitlines() if not line.startswith("right_party:")
    )
    with pytest.raises(YamlFileError, match="right_party: missing"):
        parse_response_params(text)


def test_load_response_params__the_shipped_file_is_valid() -> None:
    params = load_response_params()
    assert set(params.reach) == set(CHANNELS) and params.promise_days == (1, 7)
    assert params.self_cure["M1"] > params.self_cure["M7+"]

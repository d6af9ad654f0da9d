"""How simulated borrowers respond to collection: the lab's behavioural response model.

The portfolio simulator (:mod:`recoup.simulator.behaviour`) gives every borrower two hidden
traits in (0, 1), *ability* (can they pay) and *willingness* (will they). This module turns a
day's treatment of the contacted accounts (the channel, the borrower's local hour, the
contact pressure of the last 7 days) into what the borrowers do, drawn with a seeded numpy
``Generator`` and vectorised over all contacts of the day:

1. **reach**: a message is delivered and read, a call answered, a door opened, with the
   channel's rate, the hour's factor (voice channels and visits), more for willing
   borrowers and less under heavy contact (fatigue); a call to a number that does not work
   (a hidden, lasting property of the borrower) ends in a *wrong number*;
2. **right party**: an answered call or visit reaches the borrower, not a relative;
3. in a conversation, a **promise to pay** (more likely for able and willing borrowers) of
   the whole arrears or a part, for a day 1 to 7 days on; otherwise a dispute, a refusal
   or a plain right-party contact;
4. the promise is **kept** (paid by its date), **partly kept** (a part paid on the date) or
   **broken** (nothing), from the traits; broken promises are common for the unwilling;
5. a read message makes a **payment** within a few days more likely (a letter more so);
6. a **complaint**, for contacts that reached the borrower, rises steeply with the contacts
   of the last 7 days and with unwillingness.

Without contact, :func:`self_cure` draws the payments of borrowers in arrears (a daily
chance by bucket), and :func:`scheduled_payments` the payments of current borrowers on the day
an installment falls due (:func:`recoup.simulator.behaviour.miss_probability`, per cycle).

Every probability is a logistic around the parameter given for an average borrower
(ability = willingness = 0.5): ``p = sigmoid(logit(base) + w_a (2a - 1) + w_w (2w - 1) ...)``.
The parameters live in ``response.yaml`` beside this module, each with its typical value and
its source (or the word *assumption*); :func:`parse_response_params` checks a file and names
the key of the first problem. Money is integer cents throughout; a part payment is a whole
percentage of what is owed, rounded down to the yuan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from recoup.simulator.behaviour import miss_probability
from recoup.yamlfile import FieldReader, YamlPath, load_located, load_located_file

#: The channels the model knows, in the order of the codes a :class:`Treatment` uses.
CHANNELS: tuple[str, ...] = ("sms", "email", "app_push", "voicemail", "letter", "call",
                             "field_visit")  # fmt: skip
#: Channels where a person talks with the borrower: the only ones that take promises.
CONVERSATION_CHANNELS = frozenset({"call", "field_visit"})
#: Channels whose answer depends on the hour (a person must pick up or open the door).
HOURLY_CHANNELS = frozenset({"call", "voicemail", "field_visit"})
#: The buckets the self-cure rates are given for (M0 borrowers pay on schedule instead).
ARREARS_BUCKETS: tuple[str, ...] = ("M1", "M2", "M3", "M4", "M5", "M6", "M7+")

#: The promise's fate, as :attr:`Responses.promise_fate` codes.
NO_PROMISE, KEPT, PARTLY_KEPT, BROKEN = -1, 0, 1, 2
#: What a conversation or an attempt ended as, as :attr:`Responses.outcome` codes.
(NOT_REACHED, READ, WRONG_NUMBER, THIRD_PARTY, RIGHT_PARTY, PROMISE, REFUSAL,
 DISPUTE) = range(8)  # fmt: skip

DEFAULT_PARAMS_FILE = "response.yaml"


@dataclass(frozen=True, slots=True)
class Logistic:
    """A probability for an average borrower and the logit weights of the traits."""

    base: float
    ability_weight: float = 0.0
    willingness_weight: float = 0.0

    def probability(
        self, ability: np.ndarray, willingness: np.ndarray, shift: np.ndarray | float = 0.0
    ) -> np.ndarray:
        return _sigmoid(
            _logit(self.base)
            + self.ability_weight * (2 * ability - 1)
            + self.willingness_weight * (2 * willingness - 1)
            + shift
        )


@dataclass(frozen=True, slots=True)
class ResponseParams:
    """The parameters of ``response.yaml`` (see the file for each one's meaning and source)."""

    phone_invalid_share: float
    reach: Mapping[str, float]
    reach_willingness_weight: float
    reach_pressure_weight: float
    hour_factor: Mapping[int, float]
    right_party: float
    promise: Logistic
    promise_days: tuple[int, int]
    dispute_share: float
    refusal_share: float
    kept: Logistic
    partly_kept_share: float
    message_payment: Logistic
    message_payment_days: tuple[int, int]
    letter_weight: float
    full_payment: Logistic
    part_percent: tuple[int, int]
    self_cure: Mapping[str, float]
    self_cure_ability_weight: float
    self_cure_willingness_weight: float
    agency_weight: float
    complaint: Mapping[str, float]
    complaint_pressure_weight: float
    complaint_unwillingness_weight: float
    targets: Mapping[str, tuple[float, float]]
    source: str = DEFAULT_PARAMS_FILE


# --------------------------------------------------------------------------- the file


class _Reader(FieldReader):
    def number(self, value: Any, path: YamlPath, *, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, got {value!r}")
        if not low <= float(value) <= high:
            raise self.fail(path, f"must be between {low} and {high}, got {value}")
        return float(value)

    def probability(self, value: Any, path: YamlPath) -> float:
        return self.number(value, path, low=0.0, high=1.0)

    def weight(self, value: Any, path: YamlPath) -> float:
        return self.number(value, path, low=-20.0, high=20.0)

    def interval(self, value: Any, path: YamlPath, *, low: int, high: int) -> tuple[int, int]:
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(path, f"must be a list of two whole numbers [from, to], got {value!r}")
        first = self.count(value[0], (*path, 0), minimum=low, maximum=high)
        last = self.count(value[1], (*path, 1), minimum=low, maximum=high)
        if first > last:
            raise self.fail(path, f"the first number must not exceed the second, got {value}")
        return first, last

    def per_channel(self, value: Any, path: YamlPath) -> dict[str, float]:
        body = self.mapping(value, path, CHANNELS, CHANNELS)
        return {c: self.probability(body[c], (*path, c)) for c in CHANNELS}

    def logistic(self, body: Mapping[str, Any], path: YamlPath) -> Logistic:
        return Logistic(
            base=self.open_probability(body["base"], (*path, "base")),
            ability_weight=self.weight(body.get("ability_weight", 0.0), (*path, "ability_weight")),
            willingness_weight=self.weight(
                body.get("willingness_weight", 0.0), (*path, "willingness_weight")
            ),
        )

    def open_probability(self, value: Any, path: YamlPath) -> float:
        p = self.probability(value, path)
        if not 0.0 < p < 1.0:
            raise self.fail(path, f"must be strictly between 0 and 1, got {value}")
        return p

    def params(self, source: str) -> ResponseParams:
        top = (
            "phone_invalid_share", "reach", "reach_willingness_weight", "reach_pressure_weight",
            "hour_factor", "right_party", "promise", "dispute_share", "refusal_share", "kept",
            "partly_kept_share", "message_payment", "full_payment", "part_percent",
            "self_cure", "complaint", "targets",
        )  # fmt: skip
        root = self.mapping(self.located.data, (), top, top)
        promise = self.mapping(
            root["promise"], ("promise",), ("base", "days"),
            ("base", "ability_weight", "willingness_weight", "days"),
        )  # fmt: skip
        kept = self.mapping(
            root["kept"], ("kept",), ("base",), ("base", "ability_weight", "willingness_weight")
        )
        message = self.mapping(
            root["message_payment"], ("message_payment",), ("base", "days", "letter_weight"),
            ("base", "ability_weight", "willingness_weight", "days", "letter_weight"),
        )  # fmt: skip
        full = self.mapping(
            root["full_payment"], ("full_payment",), ("base",), ("base", "ability_weight")
        )
        cure_keys = ("daily", "ability_weight", "willingness_weight", "agency_weight")
        cure = self.mapping(root["self_cure"], ("self_cure",), cure_keys, cure_keys)
        daily = self.mapping(cure["daily"], ("self_cure", "daily"), ARREARS_BUCKETS,
                             ARREARS_BUCKETS)  # fmt: skip
        complaint_keys = ("base", "pressure_weight", "unwillingness_weight")
        complaint = self.mapping(root["complaint"], ("complaint",), complaint_keys, complaint_keys)
        return ResponseParams(
            phone_invalid_share=self.probability(
                root["phone_invalid_share"], ("phone_invalid_share",)
            ),
            reach=self.per_channel(root["reach"], ("reach",)),
            reach_willingness_weight=self.weight(
                root["reach_willingness_weight"], ("reach_willingness_weight",)
            ),
            reach_pressure_weight=self.weight(
                root["reach_pressure_weight"], ("reach_pressure_weight",)
            ),
            hour_factor=self.hours(root["hour_factor"], ("hour_factor",)),
            right_party=self.probability(root["right_party"], ("right_party",)),
            promise=self.logistic(promise, ("promise",)),
            promise_days=self.interval(promise["days"], ("promise", "days"), low=1, high=60),
            dispute_share=self.probability(root["dispute_share"], ("dispute_share",)),
            refusal_share=self.probability(root["refusal_share"], ("refusal_share",)),
            kept=self.logistic(kept, ("kept",)),
            partly_kept_share=self.probability(root["partly_kept_share"], ("partly_kept_share",)),
            message_payment=self.logistic(message, ("message_payment",)),
            message_payment_days=self.interval(
                message["days"], ("message_payment", "days"), low=0, high=30
            ),
            letter_weight=self.weight(
                message["letter_weight"], ("message_payment", "letter_weight")
            ),
            full_payment=self.logistic(full, ("full_payment",)),
            part_percent=self.interval(root["part_percent"], ("part_percent",), low=1, high=99),
            self_cure={
                b: self.probability(daily[b], ("self_cure", "daily", b)) for b in ARREARS_BUCKETS
            },
            self_cure_ability_weight=self.weight(
                cure["ability_weight"], ("self_cure", "ability_weight")
            ),
            self_cure_willingness_weight=self.weight(
                cure["willingness_weight"], ("self_cure", "willingness_weight")
            ),
            agency_weight=self.weight(cure["agency_weight"], ("self_cure", "agency_weight")),
            complaint=self.per_channel(complaint["base"], ("complaint", "base")),
            complaint_pressure_weight=self.weight(
                complaint["pressure_weight"], ("complaint", "pressure_weight")
            ),
            complaint_unwillingness_weight=self.weight(
                complaint["unwillingness_weight"], ("complaint", "unwillingness_weight")
            ),
            targets=self.targets(root["targets"], ("targets",)),
            source=source,
        )

    def hours(self, value: Any, path: YamlPath) -> dict[int, float]:
        if not isinstance(value, Mapping) or not value:
            raise self.fail(path, "must be a mapping of local hours (0-23) to factors")
        factors: dict[int, float] = {}
        for key, factor in value.items():
            if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key <= 23:
                raise self.fail((*path, str(key)), f"not an hour 0-23: {key!r}")
            factors[key] = self.number(factor, (*path, str(key)), low=0.0, high=3.0)
        return factors

    def targets(self, value: Any, path: YamlPath) -> dict[str, tuple[float, float]]:
        if not isinstance(value, Mapping):
            raise self.fail(path, "must be a mapping of a rate's name to [low, high]")
        ranges: dict[str, tuple[float, float]] = {}
        for key, pair in value.items():
            where = (*path, str(key))
            if not isinstance(pair, list) or len(pair) != 2:
                raise self.fail(where, f"must be [low, high], got {pair!r}")
            low = self.number(pair[0], (*where, 0), low=0.0, high=1000.0)
            high = self.number(pair[1], (*where, 1), low=low, high=1000.0)
            ranges[str(key)] = (low, high)
        return ranges


def parse_response_params(text: str, source: str = DEFAULT_PARAMS_FILE) -> ResponseParams:
    """Validate the text of a response parameters file (named ``source`` in messages).

    Raises :class:`~recoup.yamlfile.YamlFileError` naming the line and the key of the first
    problem: a missing or unknown key, a probability outside 0..1, a day range backwards.
    """
    return _Reader(load_located(text, source)).params(source)


def load_response_params(path: Path | None = None) -> ResponseParams:
    """The parameters in ``path``, or the shipped ``response.yaml`` when None."""
    if path is None:
        text = resources.files("recoup.simulator").joinpath(DEFAULT_PARAMS_FILE).read_text("utf-8")
        return parse_response_params(text, f"recoup/simulator/{DEFAULT_PARAMS_FILE}")
    located = load_located_file(path)
    return _Reader(located).params(str(path))


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class Treatment:
    """One row per contact of the day (aligned arrays).

    ``channel`` codes index :data:`CHANNELS`; ``hour`` is the borrower's local hour of the
    contact; ``pressure`` counts the contacts of the 7 days before, this one not included.
    """

    channel: np.ndarray  # int64
    hour: np.ndarray  # int64, 0..23
    pressure: np.ndarray  # int64, >= 0

    @classmethod
    def of(
        cls, channels: Sequence[str], hours: Sequence[int], pressure: Sequence[int]
    ) -> Treatment:
        code = {c: i for i, c in enumerate(CHANNELS)}
        unknown = sorted(set(channels) - set(code))
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r}; expected one of {list(CHANNELS)}")
        return cls(
            channel=np.asarray([code[c] for c in channels], dtype=np.int64),
            hour=np.asarray(hours, dtype=np.int64),
            pressure=np.asarray(pressure, dtype=np.int64),
        )


@dataclass(frozen=True, slots=True)
class Borrowers:
    """The hidden traits of the contacted borrowers, one row per contact."""

    ability: np.ndarray  # float64 in (0, 1)
    willingness: np.ndarray  # float64 in (0, 1)
    phone_works: np.ndarray  # bool: their own number reaches them


@dataclass(frozen=True, slots=True)
class Responses:
    """What each contact led to (aligned with the treatment's rows).

    ``outcome`` codes: :data:`NOT_REACHED`, :data:`READ` (a message read), :data:`WRONG_NUMBER`,
    :data:`THIRD_PARTY`, :data:`RIGHT_PARTY`, :data:`PROMISE`, :data:`REFUSAL`, :data:`DISPUTE`.
    ``promise_cents`` and ``promise_day`` (days after the contact) are 0 without a promise;
    ``promise_fate`` is what the borrower will do about it (:data:`KEPT`, :data:`PARTLY_KEPT`,
    :data:`BROKEN`, :data:`NO_PROMISE`). ``pays`` marks a payment ``payment_cents`` made
    ``payment_day`` days after the contact (0: the same day).
    """

    reached: np.ndarray  # bool
    answered: np.ndarray  # bool: a call or visit answered (messages: read)
    right_party: np.ndarray  # bool
    outcome: np.ndarray  # int8
    promise_cents: np.ndarray  # int64
    promise_day: np.ndarray  # int64
    promise_fate: np.ndarray  # int8
    pays: np.ndarray  # bool
    payment_cents: np.ndarray  # int64
    payment_day: np.ndarray  # int64
    complaint: np.ndarray  # bool


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
    return result


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _logit_array(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, 1e-9, 1 - 1e-9)
    result: np.ndarray = np.log(clipped / (1.0 - clipped))
    return result


def draw_phone_works(rng: np.random.Generator, count: int, params: ResponseParams) -> np.ndarray:
    """Each borrower's hidden: does their own number reach them (drawn once per borrower)."""
    works: np.ndarray = rng.random(count) >= params.phone_invalid_share
    return works


def reach_probability(
    params: ResponseParams, borrowers: Borrowers, treatment: Treatment
) -> np.ndarray:
    """The chance each contact reaches the borrower (before the wrong-number check)."""
    base = np.asarray([params.reach[c] for c in CHANNELS])[treatment.channel]
    hourly = np.asarray([c in HOURLY_CHANNELS for c in CHANNELS])[treatment.channel]
    hour_factor = np.asarray([params.hour_factor.get(h, 0.0) for h in range(24)])
    factor = np.where(hourly, hour_factor[np.clip(treatment.hour, 0, 23)], 1.0)
    logit = (
        _logit_array(np.minimum(base * factor, 0.999))
        + params.reach_willingness_weight * (2 * borrowers.willingness - 1)
        + params.reach_pressure_weight * treatment.pressure * hourly
    )
    return np.where(factor > 0, _sigmoid(logit), 0.0)


def complaint_probability(
    params: ResponseParams, willingness: np.ndarray, treatment: Treatment
) -> np.ndarray:
    """The chance that a contact which reached the borrower ends in a complaint."""
    base = np.asarray([params.complaint[c] for c in CHANNELS])[treatment.channel]
    return _sigmoid(
        _logit_array(base)
        + params.complaint_pressure_weight * treatment.pressure
        + params.complaint_unwillingness_weight * (1 - 2 * willingness)
    )


def _amounts(
    rng: np.random.Generator, params: ResponseParams, ability: np.ndarray, owed: np.ndarray
) -> np.ndarray:
    """What a payer pays: the whole ``owed``, or a whole-yuan part of it (at least a yuan)."""
    n = len(owed)
    full = rng.random(n) < params.full_payment.probability(ability, np.full(n, 0.5))
    low, high = params.part_percent
    percent = rng.integers(low, high + 1, n)
    part = np.maximum(owed * percent // 100 // 100 * 100, np.minimum(owed, 100))
    amount: np.ndarray = np.where(full, owed, part)
    return amount


def respond(
    rng: np.random.Generator,
    params: ResponseParams,
    borrowers: Borrowers,
    treatment: Treatment,
    owed_cents: np.ndarray,
) -> Responses:
    """Draw every contact's response (see the module docstring).

    Args:
        rng: the day's stream; the same stream and inputs give the same responses.
        params: the response parameters.
        borrowers: the contacted borrowers' hidden traits, one row per contact.
        treatment: channel, local hour and pressure of each contact.
        owed_cents: what the account must pay to be current (whole arrears and charges).

    Returns:
        The responses, one row per contact.
    """
    n = len(treatment.channel)
    a, w = borrowers.ability, borrowers.willingness
    owed = np.asarray(owed_cents, dtype=np.int64)
    # Every draw is made for every row, in a fixed order, so a row's fate does not depend
    # on which rows came before it.
    u_reach, u_party, u_promise, u_other, u_fate, u_part, u_pay, u_complaint = rng.random((8, n))
    promise_days = rng.integers(params.promise_days[0], params.promise_days[1] + 1, n)
    message_days = rng.integers(
        params.message_payment_days[0], params.message_payment_days[1] + 1, n
    )
    early = rng.integers(0, promise_days)  # a kept promise may be paid before its day
    on_the_day = rng.random(n) < 0.6
    amounts = _amounts(rng, params, a, owed)

    names = np.asarray(CHANNELS)[treatment.channel]
    conversation = np.isin(names, sorted(CONVERSATION_CHANNELS))
    phone = np.isin(names, ["call", "voicemail"])
    answered = u_reach < reach_probability(params, borrowers, treatment)
    wrong = phone & ~borrowers.phone_works
    answered &= ~wrong
    right_party = answered & (~conversation | (u_party < params.right_party))
    talked = right_party & conversation

    promised = talked & (u_promise < params.promise.probability(a, w)) & (owed > 0)
    dispute = talked & ~promised & (u_other < params.dispute_share)
    refusal = (
        talked
        & ~promised
        & ~dispute
        & (u_other < params.dispute_share + (1 - params.dispute_share) * params.refusal_share)
    )
    outcome = np.full(n, NOT_REACHED, dtype=np.int8)
    outcome[right_party & ~conversation] = READ
    outcome[wrong] = WRONG_NUMBER
    outcome[answered & conversation & ~right_party] = THIRD_PARTY
    outcome[talked] = RIGHT_PARTY
    outcome[promised] = PROMISE
    outcome[refusal] = REFUSAL
    outcome[dispute] = DISPUTE

    promise_cents = np.where(promised, amounts, 0)
    kept = promised & (u_fate < params.kept.probability(a, w))
    partly = promised & ~kept & (u_part < params.partly_kept_share)
    fate = np.full(n, NO_PROMISE, dtype=np.int8)
    fate[promised] = BROKEN
    fate[kept] = KEPT
    fate[partly] = PARTLY_KEPT

    letter = names == "letter"
    read_message = right_party & ~conversation
    message_pays = (
        read_message
        & (owed > 0)
        & (u_pay < params.message_payment.probability(a, w, params.letter_weight * letter))
    )
    part_of_promise = np.maximum(promise_cents // 2 // 100 * 100, np.minimum(promise_cents, 100))
    payment_cents = np.select(
        [kept, partly, message_pays], [promise_cents, part_of_promise, amounts], 0
    ).astype(np.int64)
    payment_day = np.select(
        [kept, partly, message_pays],
        [np.where(on_the_day, promise_days, early), promise_days, message_days],
        0,
    ).astype(np.int64)
    complaint = answered & (u_complaint < complaint_probability(params, w, treatment))
    return Responses(
        reached=answered | wrong,
        answered=answered,
        right_party=right_party,
        outcome=outcome,
        promise_cents=promise_cents.astype(np.int64),
        promise_day=np.where(promised, promise_days, 0).astype(np.int64),
        promise_fate=fate,
        pays=(payment_cents > 0),
        payment_cents=payment_cents,
        payment_day=payment_day,
        complaint=complaint,
    )


def self_cure(
    rng: np.random.Generator,
    params: ResponseParams,
    ability: np.ndarray,
    willingness: np.ndarray,
    bucket: np.ndarray,
    owed_cents: np.ndarray,
    with_agency: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The day's payments of borrowers in arrears that no contact prompted.

    ``bucket`` indexes :data:`ARREARS_BUCKETS` (0 is M1); ``with_agency`` marks cases held by
    an outside agency (their own work raises the chance). Returns ``(pays, cents)``.
    """
    n = len(bucket)
    daily = np.asarray([params.self_cure[b] for b in ARREARS_BUCKETS])[
        np.clip(bucket, 0, len(ARREARS_BUCKETS) - 1)
    ]
    agency = np.zeros(n, dtype=bool) if with_agency is None else with_agency
    p = _sigmoid(
        _logit_array(daily)
        + params.self_cure_ability_weight * (2 * ability - 1)
        + params.self_cure_willingness_weight * (2 * willingness - 1)
        + params.agency_weight * agency
    )
    u = rng.random(n)
    owed = np.asarray(owed_cents, dtype=np.int64)
    amounts = _amounts(rng, params, ability, owed)
    pays = (u < p) & (owed > 0)
    return pays, np.where(pays, amounts, 0).astype(np.int64)


def scheduled_payments(
    rng: np.random.Generator, ability: np.ndarray, willingness: np.ndarray
) -> np.ndarray:
    """Which current borrowers pay the installment falling due today (the others miss it
    and enter M1), with the portfolio simulator's own miss probability per cycle."""
    pays: np.ndarray = rng.random(len(ability)) >= miss_probability(ability, willingness)
    return pays

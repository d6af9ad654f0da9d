"""The simulation lab: a strategy run against simulated borrowers who respond to collection.

For each seed the lab simulates one portfolio (:func:`recoup.simulator.simulate_portfolio`,
history up to ``start``), the same borrowers for every strategy. For each strategy it makes a
fresh SQLite store in a temporary folder, loads the portfolio through the importer, and then
lives ``days`` days:

1. the evening of day ``d``: the production daily cycle
   (:func:`recoup.collection.cycle.run_cycle`: close, arrangements, score, strategy with the
   compliance gate, allocation, outbox, dispatch), with the strategy under test, the shipped
   teams and the China contact policy. Its clock is 09:00 borrower time on day ``d + 1``,
   when the strategy's actions are planned, so the dispatch step sends that morning's messages
   and call tasks through an in-memory transport (:class:`MemorySender`) that records them;
2. day ``d + 1``: the collectors make the day's call tasks in priority order up to the
   capacity of the collectors working that weekday (the rest are not made); field visits are
   made; the behavioural model (:mod:`recoup.simulator.response`) turns every message read
   and every call or visit into outcomes, recorded through
   :func:`recoup.contact.outcomes.record_outcomes` (attempts, right-party contacts, promises,
   wrong numbers, disputes), into complaints about contact pressure, recorded through
   :func:`recoup.contact.complaints.record_complaints` (each about the attempt that drew it,
   received on that channel at the attempt's time), and into payments on later days;
   borrowers in arrears also pay without contact (self-cure), and current borrowers pay the
   installments falling due;
3. the payments dated ``d + 1`` are written as one ``payments.csv`` and imported (one import
   a day), so the next evening's close sees them.

After the last day the store is closed through the last contact day and the figures are read:
amount recovered (payments by accounts in arrears), cure rate by starting bucket, contacts
and their cost by channel (:data:`UNIT_COST_YUAN`), complaints (the store's ``complaints``),
compliance blocks by rule (``contact_decisions``), promises and the share kept (as the cycle
judged them), and collector utilisation.

Every random draw comes from ``numpy`` generators seeded by the seed (and the day), and every
store read is ordered, so the same seed gives the same figures.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time as clock
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import sqlalchemy as sa

from recoup.allocation import TeamsConfig, default_teams_path, load_teams
from recoup.close import close_through
from recoup.collection.cycle import run_cycle
from recoup.compliance import Channel, Outcome, Profile, shipped_profile
from recoup.contact.complaints import (
    ComplaintCategory,
    ComplaintChannel,
    ComplaintSpec,
    record_complaints,
)
from recoup.contact.message import OutboundMessage, SendResult
from recoup.contact.outcomes import OutcomeReport, record_outcomes
from recoup.contact.templates import TemplateSet
from recoup.importer import import_directory
from recoup.lab.report import LabReport, StrategyResult
from recoup.money import format_cents
from recoup.simulator import response as model
from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.store import tables as t
from recoup.store.bulk import read_frame
from recoup.store.engine import open_store
from recoup.strategy import Strategy, load_strategy

#: The default first day: the portfolio's history ends here and the lab's cycles begin.
DEFAULT_START = date(2026, 3, 2)  # a Monday
#: The borrowers' zone (the simulator's borrowers all live in China), and when the day's
#: dispatch runs: a minute after 09:00, the start of the strategy's windows, when the gate
#: plans the day's actions.
ZONE = ZoneInfo("Asia/Shanghai")
MORNING = time(9, 1)

#: Cost of one contact in yuan, to compare strategies (assumptions; put your own):
#: bulk SMS 0.03-0.06; e-mail and push next to nothing; a letter printed and posted; a call
#: as a collector's loaded day (about 250 yuan) over about 60 calls; a field visit of two
#: collectors (CN-IDENTITY) with travel.
UNIT_COST_YUAN: Mapping[str, Decimal] = {
    "sms": Decimal("0.05"),
    "email": Decimal("0.01"),
    "app_push": Decimal("0.005"),
    "voicemail": Decimal("0.10"),
    "letter": Decimal("6.00"),
    "call": Decimal("4.00"),
    "field_visit": Decimal("200.00"),
}

#: What the response model's outcomes are recorded as.
_OUTCOMES: Mapping[int, Outcome] = {
    model.NOT_REACHED: Outcome.NO_ANSWER,
    model.WRONG_NUMBER: Outcome.WRONG_NUMBER,
    model.THIRD_PARTY: Outcome.THIRD_PARTY_REACHED,
    model.RIGHT_PARTY: Outcome.RIGHT_PARTY_CONTACT,
    model.PROMISE: Outcome.PROMISE_TO_PAY,
    model.REFUSAL: Outcome.REFUSAL,
    model.DISPUTE: Outcome.DISPUTE,
}
#: Buckets the cure rate is reported for.
_BUCKETS = model.ARREARS_BUCKETS


class LabRefused(ValueError):
    """A lab run that cannot be made as asked; the message says why."""


class MemorySender:
    """The lab's transport: records every message it is given and accepts it."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        return SendResult.accepted(
            message.idempotency_key, f"recorded by the lab ({message.channel})", attempts=1
        )

    def take(self) -> list[OutboundMessage]:
        sent, self.sent = self.sent, []
        return sent


@dataclass(frozen=True, slots=True)
class LabSetup:
    """What every run of a lab shares: the operation, the policy, the behaviour."""

    teams: TeamsConfig
    policy: Profile
    templates: TemplateSet
    params: model.ResponseParams
    unit_cost_yuan: Mapping[str, Decimal] = field(default_factory=lambda: dict(UNIT_COST_YUAN))


@dataclass(frozen=True, slots=True)
class _World:
    """One seed's simulated borrowers: the import files and what only the lab knows."""

    files: Path
    ability: np.ndarray
    willingness: np.ndarray
    phone_works: np.ndarray


def run_lab(
    strategy_paths: Sequence[Path],
    accounts: int,
    days: int,
    seeds: Sequence[int],
    *,
    start: date = DEFAULT_START,
    teams_path: Path | None = None,
    policy: Profile | None = None,
    params: model.ResponseParams | None = None,
    workdir: Path | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> LabReport:
    """Run every strategy on the same simulated portfolio for each seed (module docstring).

    Args:
        strategy_paths: strategy files; each is validated before anything runs.
        accounts: accounts in the simulated portfolio (at least 1).
        days: days of collection to simulate (at least 1).
        seeds: one portfolio and one stream of responses per seed (at least one).
        start: the last day of the portfolio's history; the first cycle closes it.
        teams_path: the teams file (default: the shipped example teams).
        policy: the contact policy (default: the shipped China profile).
        params: the response parameters (default: the shipped ``response.yaml``).
        workdir: where the temporary stores go (default: the system's temporary folder);
            each run's folder is removed when it ends.
        progress: called with a line of text as the lab goes.

    Raises:
        LabRefused: a count out of range or no strategy.
        recoup.yamlfile.YamlFileError: a strategy, teams or parameters file that is not valid.
    """
    if accounts < 1:
        raise LabRefused(f"accounts must be at least 1, got {accounts}")
    if days < 1:
        raise LabRefused(f"days must be at least 1, got {days}")
    if not seeds:
        raise LabRefused("give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise LabRefused(f"seeds must differ, got {list(seeds)}")
    if not strategy_paths:
        raise LabRefused("give at least one strategy file")
    strategies = [(Path(p), load_strategy(Path(p))) for p in strategy_paths]
    setup = LabSetup(
        teams=load_teams(teams_path or default_teams_path()),
        policy=policy or shipped_profile("cn"),
        templates=TemplateSet(),
        params=params or model.load_response_params(),
    )
    began = clock.perf_counter()
    runs: list[list[dict[str, float]]] = [[] for _ in strategies]
    seconds: list[dict[str, float]] = [{} for _ in strategies]
    with tempfile.TemporaryDirectory(prefix="recoup-lab-", dir=workdir) as tmp:
        root = Path(tmp)
        for seed in seeds:
            world = _simulate(root / f"seed-{seed}", accounts, seed, start, setup.params)
            for index, (path, strategy) in enumerate(strategies):
                folder = root / f"seed-{seed}" / f"strategy-{index}"
                progress(f"seed {seed}, {path.name}: {days} days on {accounts:,} accounts")
                runs[index].append(
                    run_strategy(
                        world, strategy, seed, days, start, setup, folder, progress, seconds[index]
                    )
                )
                shutil.rmtree(folder, ignore_errors=True)
    names = _names([p for p, _ in strategies])
    return LabReport(
        accounts=accounts,
        days=days,
        start=start,
        seeds=tuple(seeds),
        strategies=tuple(
            StrategyResult(
                name=name,
                path=str(path),
                strategy_id=strategy.id,
                version=strategy.version,
                runs=tuple(runs[index]),
                seconds=dict(seconds[index]),
            )
            for index, ((path, strategy), name) in enumerate(zip(strategies, names, strict=True))
        ),
        seconds=clock.perf_counter() - began,
    )


def _names(paths: Sequence[Path]) -> list[str]:
    """Short names for the report: file stems, numbered when two are the same."""
    stems = [p.stem for p in paths]
    return [f"{s} ({i + 1})" if stems.count(s) > 1 else s for i, s in enumerate(stems)]


def _simulate(
    folder: Path, accounts: int, seed: int, start: date, params: model.ResponseParams
) -> _World:
    portfolio = simulate_portfolio(accounts, seed, start)
    files = folder / "portfolio"
    write_portfolio(portfolio, files)
    (files / "traits.csv").unlink()  # hidden from the store: the lab keeps them
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1AB]))
    return _World(
        files=files,
        ability=portfolio.traits.get_column("ability").to_numpy(),
        willingness=portfolio.traits.get_column("willingness").to_numpy(),
        phone_works=model.draw_phone_works(rng, accounts, params),
    )


# --------------------------------------------------------------------------- one run


@dataclass
class _Tally:
    """What the lab counts as a run goes (figures the store does not hold)."""

    contacts: Counter[str] = field(default_factory=Counter)
    calls_queued: int = 0
    calls_not_made: int = 0
    capacity: int = 0
    promises: int = 0
    recovered_cents: int = 0
    payments_in_arrears: int = 0


def run_strategy(
    world: _World,
    strategy: Strategy,
    seed: int,
    days: int,
    start: date,
    setup: LabSetup,
    folder: Path,
    progress: Callable[[str], None] = lambda line: None,
    seconds: dict[str, float] | None = None,
) -> dict[str, float]:
    """One strategy for ``days`` days on one seed's portfolio, in a new store in ``folder``;
    returns the run's figures (see :mod:`recoup.lab.report`). ``seconds`` gets the time
    spent in each part (the cycle's steps, the responses, the imports), added to it."""
    folder.mkdir(parents=True, exist_ok=True)
    timer = _Timer({} if seconds is None else seconds)
    engine = open_store(f"sqlite:///{folder / 'lab.db'}")
    try:
        with timer("portfolio import"):
            import_directory(engine, world.files, show_progress=False, now=_at(start, time(23, 0)))
        return _live(engine, world, strategy, seed, days, start, setup, folder, progress, timer)
    finally:
        engine.dispose()


def _live(
    engine: sa.Engine,
    world: _World,
    strategy: Strategy,
    seed: int,
    days: int,
    start: date,
    setup: LabSetup,
    folder: Path,
    progress: Callable[[str], None],
    timer: _Timer,
) -> dict[str, float]:
    accounts = len(world.ability)
    sender = MemorySender()
    senders = {channel: sender for channel in model.CHANNELS}
    tally = _Tally()
    pressure = np.zeros((7, accounts), dtype=np.int64)  # contacts per day, a ring of 7 days
    pending: dict[int, tuple[date, int]] = {}  # account index -> (day, cents) to pay
    start_bucket = np.full(accounts, -1, dtype=np.int64)
    for k in range(days):
        as_of = start + timedelta(days=k)
        today = as_of + timedelta(days=1)
        morning = _at(today, MORNING)
        cycle = run_cycle(
            engine,
            as_of,
            policy=setup.policy,
            teams=setup.teams,
            templates=setup.templates,
            senders=senders,
            strategy=strategy,
            clock=lambda m=morning: m,  # type: ignore[misc]
        )
        for step in cycle.steps:
            timer.add(f"cycle: {step.step}", step.seconds)
        with timer("responses"):
            book = _book(engine, today, accounts)
            if k == 0:
                start_bucket = book["bucket"]
            sent = sender.take()
            rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1AB, k + 1]))
            contacts = _contacts(engine, sent)
            made = _make_calls(contacts, setup.teams, today, tally)
            _respond(engine, rng, world, setup, made, book, today, pressure, tally, pending)
            _pay_without_contact(rng, world, setup.params, book, today, pending)
        with timer("payments import"):
            _import_day(engine, folder, seed, today, book, pending, tally)
        if (k + 1) % 10 == 0 or k + 1 == days:
            progress(f"  day {k + 1}/{days} ({today}): {len(sent):,} messages and tasks")
    end = start + timedelta(days=days)
    with timer("final close and figures"):
        close_through(engine, end)
        final = _book(engine, end, accounts)
        return _figures(engine, setup, tally, start_bucket, final["bucket"])


class _Timer:
    """Adds the seconds spent in each ``with timer(name):`` block to ``seconds[name]``."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self._name = ""
        self._began = 0.0

    def __call__(self, name: str) -> _Timer:
        self._name = name
        return self

    def __enter__(self) -> None:
        self._began = clock.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.add(self._name, clock.perf_counter() - self._began)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


def _at(day: date, hour: time) -> datetime:
    return datetime.combine(day, hour, ZONE).astimezone(UTC)


def _book(engine: sa.Engine, day: date, accounts: int) -> dict[str, np.ndarray]:
    """Every account's state after the last close (in account order): its bucket index (the
    store's bucket: -1 for M0, 0 for M1 ... 6 for M7+), what it owes to be current on ``day``
    (overdue plus the installments falling due that day), whether an agency holds its case."""
    a, i, c = t.accounts, t.installments, t.cases
    index = (pl.col("account_id").str.slice(1).cast(pl.Int64) - 1).alias("index")
    with engine.connect() as conn:
        rows = read_frame(
            conn,
            sa.select(a.c.account_id, a.c.dpd, a.c.bucket, a.c.overdue_cents).order_by(
                a.c.account_key
            ),
            {
                "account_id": pl.String,
                "dpd": pl.Int64,
                "bucket": pl.String,
                "overdue_cents": pl.Int64,
            },
        )
        due = read_frame(
            conn,
            sa.select(
                a.c.account_id,
                sa.func.sum(
                    i.c.principal_cents
                    + i.c.fee_cents
                    - i.c.paid_principal_cents
                    - i.c.paid_fee_cents
                ),
            )
            .join(a, a.c.account_key == i.c.account_key)
            .where(i.c.due_date == day, i.c.settled == 0)
            .group_by(a.c.account_id)
            .order_by(a.c.account_id),
            {"account_id": pl.String, "due_cents": pl.Int64},
        )
        agency = read_frame(
            conn,
            sa.select(a.c.account_id)
            .join(c, c.c.account_key == a.c.account_key)
            .where(c.c.status == "open", c.c.owner_kind == "agency")
            .order_by(a.c.account_id),
            {"account_id": pl.String},
        )
    dpd = np.zeros(accounts, dtype=np.int64)
    bucket = np.full(accounts, -1, dtype=np.int64)
    overdue = np.zeros(accounts, dtype=np.int64)
    due_today = np.zeros(accounts, dtype=np.int64)
    with_agency = np.zeros(accounts, dtype=bool)
    at = rows.select(index).to_series().to_numpy()
    dpd[at] = rows.get_column("dpd").to_numpy()
    position = {name: index for index, name in enumerate(_BUCKETS)}
    bucket[at] = rows.get_column("bucket").replace_strict(position, default=-1).to_numpy()
    overdue[at] = rows.get_column("overdue_cents").to_numpy()
    due_today[due.select(index).to_series().to_numpy()] = due.get_column("due_cents").to_numpy()
    with_agency[agency.select(index).to_series().to_numpy()] = True
    # A payment a few days on also meets the charges accrued meanwhile: 2% and 5 yuan more,
    # rounded up to the yuan (an overpayment stays as a credit).
    owed = overdue + due_today
    owed = np.where(owed > 0, -(-(owed * 102 // 100 + 500) // 100) * 100, 0)
    return {
        "dpd": dpd,
        "bucket": bucket,
        "owed": owed.astype(np.int64),
        "due_today": due_today,
        "agency": with_agency,
    }


def _contacts(engine: sa.Engine, sent: Sequence[OutboundMessage]) -> pl.DataFrame:
    """The messages and tasks the dispatch sent this morning, with their action and case."""
    m, a, ac, c = t.messages, t.accounts, t.actions, t.cases
    keys = [message.idempotency_key for message in sent]
    schema = {
        "message_key": pl.Int64,
        "account_id": pl.String,
        "channel": pl.String,
        "to_value": pl.String,
        "priority": pl.Int64,
        "window_start": pl.String,
        "window_end": pl.String,
        "owner": pl.String,
        "owner_kind": pl.String,
    }
    parts = [pl.DataFrame(schema=schema)]
    with engine.connect() as conn:
        for first in range(0, len(keys), 5_000):  # within SQLite's bound parameter limit
            parts.append(
                read_frame(
                    conn,
                    sa.select(
                        m.c.message_key,
                        a.c.account_id,
                        m.c.channel,
                        m.c.to_value,
                        sa.func.coalesce(ac.c.priority, 0),
                        sa.func.coalesce(ac.c.window_start, "09:00"),
                        sa.func.coalesce(ac.c.window_end, "20:00"),
                        c.c.owner,
                        c.c.owner_kind,
                    )
                    .join(a, a.c.account_key == m.c.account_key)
                    .outerjoin(ac, ac.c.action_key == m.c.action_key)
                    .outerjoin(c, c.c.case_key == m.c.case_key)
                    .where(m.c.idempotency_key.in_(keys[first : first + 5_000])),
                    schema,
                )
            )
    frame = pl.concat(parts).sort("message_key")
    if frame.height != len(keys):
        raise RuntimeError(
            f"the lab's transport took {len(keys)} messages but the store has {frame.height}"
        )
    return frame.with_columns((pl.col("account_id").str.slice(1).cast(pl.Int64) - 1).alias("index"))


def _make_calls(
    contacts: pl.DataFrame, teams: TeamsConfig, today: date, tally: _Tally
) -> pl.DataFrame:
    """The contacts that happen: every message and visit, and the call tasks in priority
    order up to the capacity of the collectors working ``today``."""
    capacity = sum(c.daily_capacity for c in teams.collectors if c.works_on(today.weekday()))
    calls = contacts.filter(pl.col("channel") == "call").sort(
        ["priority", "message_key"], descending=[True, False]
    )
    tally.calls_queued += calls.height
    tally.capacity += capacity
    tally.calls_not_made += max(calls.height - capacity, 0)
    others = contacts.filter(pl.col("channel") != "call")
    return pl.concat([calls.head(capacity), others]).sort("message_key")


def _respond(
    engine: sa.Engine,
    rng: np.random.Generator,
    world: _World,
    setup: LabSetup,
    made: pl.DataFrame,
    book: Mapping[str, np.ndarray],
    today: date,
    pressure: np.ndarray,
    tally: _Tally,
    pending: dict[int, tuple[date, int]],
) -> None:
    """Draw the responses to the day's contacts; record the calls' and visits' outcomes;
    schedule the payments they lead to."""
    ring = today.toordinal() % 7
    pressure[ring] = 0  # the slot of 7 days ago
    if made.height == 0:
        return
    index = made.get_column("index").to_numpy()
    channels = made.get_column("channel").to_list()
    starts = np.asarray([int(w[:2]) for w in made.get_column("window_start").to_list()])
    ends = np.asarray([int(w[:2]) for w in made.get_column("window_end").to_list()])
    person = np.isin(np.asarray(channels), sorted(model.HOURLY_CHANNELS))
    hour = np.where(person, rng.integers(starts, np.maximum(ends, starts + 1)), MORNING.hour)
    minute = rng.integers(0, 60, len(index))
    treatment = model.Treatment.of(channels, hour.tolist(), pressure.sum(axis=0)[index].tolist())
    borrowers = model.Borrowers(
        world.ability[index], world.willingness[index], world.phone_works[index]
    )
    responses = model.respond(rng, setup.params, borrowers, treatment, book["owed"][index])
    np.add.at(pressure[ring], index, 1)
    tally.contacts.update(channels)

    reports: list[OutcomeReport] = []
    complained: list[tuple[int, str, str]] = []  # message key, account, channel
    rows = made.select("message_key", "account_id", "channel", "to_value", "owner", "owner_kind")
    for row, code, cents, days, complaint, h, mi in zip(
        rows.iter_rows(),
        responses.outcome.tolist(),
        responses.promise_cents.tolist(),
        responses.promise_day.tolist(),
        responses.complaint.tolist(),
        hour.tolist(),
        minute.tolist(),
        strict=True,
    ):
        message_key, account_id, channel, to, owner, owner_kind = row
        if complaint:
            complained.append((message_key, account_id, channel))
        if channel not in model.CONVERSATION_CHANNELS:
            continue  # a message: the dispatch recorded it as delivered
        outcome = _OUTCOMES[code]
        promised = outcome is Outcome.PROMISE_TO_PAY
        reports.append(
            OutcomeReport(
                account_id=account_id,
                channel=Channel(channel),
                to=to,
                at=_at(today, time(h, mi)),
                outcome=outcome,
                collector=owner if owner_kind == "collector" else None,
                promise_cents=cents if promised else None,
                promise_date=today + timedelta(days=days) if promised else None,
                key=f"lab-{message_key}",
                message_key=message_key,
            )
        )
    evening = _at(today, time(21, 0))
    if reports or complained:
        with engine.begin() as conn:
            if reports:
                tally.promises += record_outcomes(conn, reports, setup.policy, evening).promises
            _complain(conn, complained, evening)
    for account, cents, days in zip(
        index[responses.pays].tolist(),
        responses.payment_cents[responses.pays].tolist(),
        responses.payment_day[responses.pays].tolist(),
        strict=True,
    ):
        pending[account] = (today + timedelta(days=days), cents)  # the latest word counts


def _complain(
    conn: sa.Connection, complained: Sequence[tuple[int, str, str]], now: datetime
) -> None:
    """Record the day's complaints, each about the attempt of the contact that drew it (the
    dispatch recorded a message's, :func:`_respond` a call's or visit's): one read of the
    attempts and one batch through the complaint service."""
    if not complained:
        return
    ca = t.contact_attempts
    attempts: dict[int, tuple[int, datetime]] = {}
    keys = sorted(message_key for message_key, _, _ in complained)
    for first in range(0, len(keys), 5_000):  # within SQLite's bound parameter limit
        for message_key, attempt_key, at in conn.execute(
            sa.select(ca.c.message_key, ca.c.attempt_key, ca.c.at)
            .where(ca.c.message_key.in_(keys[first : first + 5_000]))
            .order_by(ca.c.attempt_key)  # a message's first attempt, whatever the store's order
        ):
            attempts.setdefault(int(message_key), (int(attempt_key), at))
    missing = sorted(set(keys) - set(attempts))
    if missing:
        raise RuntimeError(f"no contact attempt was recorded for messages {missing[:5]}")
    specs: list[ComplaintSpec] = []
    for message_key, account_id, channel in complained:
        attempt_key, at = attempts[message_key]
        specs.append(
            ComplaintSpec(
                account_id=account_id,
                received_at=at if at.tzinfo else at.replace(tzinfo=UTC),
                channel=ComplaintChannel(channel),
                # the response model's complaints rise with the contacts of the last 7 days
                category=ComplaintCategory.CONTACT_PRESSURE,
                created_by="lab",
                attempt_key=attempt_key,
                key=f"lab-complaint-{message_key}",
            )
        )
    record_complaints(conn, specs, now)


def _pay_without_contact(
    rng: np.random.Generator,
    world: _World,
    params: model.ResponseParams,
    book: Mapping[str, np.ndarray],
    today: date,
    pending: dict[int, tuple[date, int]],
) -> None:
    """Self-cure of accounts in arrears, and the installments current accounts pay."""
    free = np.ones(len(world.ability), dtype=bool)
    free[list(pending)] = False
    arrears = np.flatnonzero(free & (book["bucket"] >= 0))
    pays, cents = model.self_cure(
        rng,
        params,
        world.ability[arrears],
        world.willingness[arrears],
        book["bucket"][arrears],
        book["owed"][arrears],
        book["agency"][arrears],
    )
    for account, amount in zip(arrears[pays].tolist(), cents[pays].tolist(), strict=True):
        pending[account] = (today, amount)
    current = np.flatnonzero(free & (book["bucket"] < 0) & (book["due_today"] > 0))
    on_time = model.scheduled_payments(rng, world.ability[current], world.willingness[current])
    for account, amount in zip(
        current[on_time].tolist(), book["due_today"][current[on_time]].tolist(), strict=True
    ):
        pending[account] = (today, amount)


def _import_day(
    engine: sa.Engine,
    folder: Path,
    seed: int,
    today: date,
    book: Mapping[str, np.ndarray],
    pending: dict[int, tuple[date, int]],
    tally: _Tally,
) -> None:
    """Import the payments dated ``today`` (one ``payments.csv``, one import)."""
    due = sorted(account for account, (day, _cents) in pending.items() if day <= today)
    if not due:
        return
    amounts = [pending.pop(account)[1] for account in due]
    for account, cents in zip(due, amounts, strict=True):
        if book["bucket"][account] >= 0:
            tally.recovered_cents += cents
            tally.payments_in_arrears += 1
    day_folder = folder / "payments"
    day_folder.mkdir(exist_ok=True)
    pl.DataFrame(
        {
            "payment_id": [f"LAB{seed}-{today:%Y%m%d}-{n:06d}" for n in range(1, len(due) + 1)],
            "account_id": [f"A{account + 1:07d}" for account in due],
            "amount": [format_cents(cents) for cents in amounts],
            "paid_on": [today] * len(due),
            "reverses": [None] * len(due),
        },
        schema={
            "payment_id": pl.String,
            "account_id": pl.String,
            "amount": pl.String,
            "paid_on": pl.Date,
            "reverses": pl.String,
        },
    ).write_csv(day_folder / "payments.csv")
    import_directory(engine, day_folder, show_progress=False, now=_at(today, time(22, 0)))


def _figures(
    engine: sa.Engine,
    setup: LabSetup,
    tally: _Tally,
    start_bucket: np.ndarray,
    end_bucket: np.ndarray,
) -> dict[str, float]:
    figures: dict[str, float] = {
        "recovered_cents": float(tally.recovered_cents),
        "payments_in_arrears": float(tally.payments_in_arrears),
    }
    for position, name in enumerate(_BUCKETS):
        started = start_bucket == position
        count = int(started.sum())
        figures[f"start_accounts.{name}"] = float(count)
        if count:
            figures[f"cure_rate.{name}"] = float((end_bucket[started] < 0).sum()) / count
    total_cost = Decimal(0)
    for channel in model.CHANNELS:
        count = tally.contacts.get(channel, 0)
        cost = setup.unit_cost_yuan.get(channel, Decimal(0)) * count * 100
        total_cost += cost
        if count:
            figures[f"contacts.{channel}"] = float(count)
            figures[f"cost_cents.{channel}"] = float(_cents(cost))
    contacts = sum(tally.contacts.values())
    figures["contacts.total"] = float(contacts)
    figures["cost_cents.total"] = float(_cents(total_cost))
    figures["cost_per_yuan_recovered"] = (
        float(_cents(total_cost)) / tally.recovered_cents if tally.recovered_cents else 0.0
    )
    complaints = _complaints(engine)
    figures["complaints"] = float(complaints)
    figures["complaints_per_1000_contacts"] = 1000.0 * complaints / contacts if contacts else 0.0
    for rule, count in _blocks(engine).items():
        figures[f"blocks.{rule}"] = float(count)
    kept, resolved = _promises(engine)
    figures["promises"] = float(tally.promises)
    figures["promise_kept_rate"] = kept / resolved if resolved else 0.0
    figures["calls_queued"] = float(tally.calls_queued)
    figures["calls_not_made"] = float(tally.calls_not_made)
    made = tally.contacts.get("call", 0)
    figures["utilisation"] = made / tally.capacity if tally.capacity else 0.0
    return figures


def _cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _blocks(engine: sa.Engine) -> Counter[str]:
    """Decisions of the gate that blocked a contact, by rule (a decision counts once per
    rule it broke)."""
    d = t.contact_decisions
    counts: Counter[str] = Counter()
    with engine.connect() as conn:
        for (violations,) in conn.execute(
            sa.select(d.c.violations).where(d.c.allowed == 0).order_by(d.c.decision_key)
        ):
            counts.update({v["rule"] for v in json.loads(violations)})
    return counts


def _complaints(engine: sa.Engine) -> int:
    """The complaints the run recorded."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.complaints)).scalar_one())


def _promises(engine: sa.Engine) -> tuple[int, int]:
    """Promises kept, and promises resolved (kept, partly kept or broken)."""
    p = t.promises
    with engine.connect() as conn:
        rows: dict[str, int] = {
            str(status): int(count)
            for status, count in conn.execute(
                sa.select(p.c.status, sa.func.count()).group_by(p.c.status).order_by(p.c.status)
            )
        }
    kept = int(rows.get("kept", 0))
    resolved = kept + int(rows.get("partly_kept", 0)) + int(rows.get("broken", 0))
    return kept, resolved

"""Metrics of the batch and of the day's contacts, read from the store when ``/metrics`` is
scraped.

The nightly batch (``recoup daily``, ``recoup close``) and the outbox run in processes of
their own, often on another machine; what they did is recorded in the store (each step a
run with its start and end, each message and each gate decision a row). So the workbench's
``/metrics`` reports them from there, rather than each batch process keeping counters that
vanish when it exits:

- ``recoup_batch_step_seconds{step}``: how long the latest finished run of each daily-cycle
  step took (``close``, ``scoring``, ``strategy``, ...), and the ledger close's latest run as
  ``step="ledger_close"``;
- ``recoup_batch_step_finished_timestamp_seconds{step}``: when it finished (alert on a
  batch that did not run);
- ``recoup_ledger_last_closed_day_timestamp_seconds``: the last closed day (midnight UTC);
- ``recoup_contacts_sent{channel}``: messages sent or delivered that were due to go out
  today (UTC);
- ``recoup_contacts_blocked{rule}``: the gate's refusals decided today (UTC), once per rule
  broken.

The figures are cached for ``ttl`` seconds, so a scraper polling every few seconds (or
several) does not turn into a query load on the store; the queries read indexed ranges of
one day.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock_time

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from recoup.store import tables as t

SENT = ("sent", "delivered")


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """What the store says, at one moment."""

    step_seconds: dict[str, float] = field(default_factory=dict)
    step_finished: dict[str, float] = field(default_factory=dict)
    last_closed_day: date | None = None
    sent_by_channel: dict[str, int] = field(default_factory=dict)
    blocked_by_rule: dict[str, int] = field(default_factory=dict)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def blocked_rules(violations: list[str]) -> Counter[str]:
    """Each refusal counted once per rule it broke (``violations`` as stored: JSON lists of
    ``{rule, message}``)."""
    rules: Counter[str] = Counter()
    for text in violations:
        rules.update({v["rule"] for v in json.loads(text)})
    return rules


def read_store_figures(engine: Engine, now: datetime) -> StoreFigures:
    """The batch's latest step runs and today's contacts (``now``'s UTC day)."""
    from recoup.close import last_closed_day

    day_start = datetime.combine(now.astimezone(UTC).date(), clock_time(0), UTC)
    r, b, m, d = t.collection_runs, t.batch_runs, t.messages, t.contact_decisions
    latest_step = (
        sa.select(r.c.kind, sa.func.max(r.c.run_id).label("run_id"))
        .where(r.c.kind.like("cycle-%"), r.c.finished_at.is_not(None))
        .group_by(r.c.kind)
        .subquery()
    )
    with engine.connect() as conn:
        steps = conn.execute(
            sa.select(r.c.kind, r.c.started_at, r.c.finished_at).join(
                latest_step, latest_step.c.run_id == r.c.run_id
            )
        ).all()
        close = conn.execute(
            sa.select(b.c.started_at, b.c.finished_at)
            .where(b.c.kind == "close", b.c.finished_at.is_not(None))
            .order_by(b.c.run_id.desc())
            .limit(1)
        ).first()
        closed = last_closed_day(conn)
        sent = conn.execute(
            sa.select(m.c.channel, sa.func.count())
            .where(m.c.status.in_(SENT), m.c.send_at >= day_start)
            .group_by(m.c.channel)
        ).all()
        refusals = (
            conn.execute(
                sa.select(d.c.violations).where(d.c.decided_at >= day_start, d.c.allowed == 0)
            )
            .scalars()
            .all()
        )
    runs = [(kind.removeprefix("cycle-"), started, finished) for kind, started, finished in steps]
    if close is not None:
        runs.append(("ledger_close", close.started_at, close.finished_at))
    return StoreFigures(
        step_seconds={
            step: (_utc(finished) - _utc(started)).total_seconds()
            for step, started, finished in runs
        },
        step_finished={step: _utc(finished).timestamp() for step, _, finished in runs},
        last_closed_day=closed,
        sent_by_channel={channel: int(n) for channel, n in sent},
        blocked_by_rule=dict(blocked_rules(list(refusals))),
    )


class StoreCollector(Collector):
    """A Prometheus collector over :func:`read_store_figures`, cached for ``ttl`` seconds.
    A store that cannot be read yields no store figures (``/readyz`` reports that), never an
    error page for the scraper."""

    def __init__(
        self,
        engine: Engine,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self.clock = clock
        self.now = now
        self._cached: tuple[float, StoreFigures] | None = None

    def figures(self) -> StoreFigures | None:
        if self._cached is not None and self.clock() - self._cached[0] < self.ttl:
            return self._cached[1]
        try:
            figures = read_store_figures(self.engine, self.now())
        except sa.exc.SQLAlchemyError:
            return None
        self._cached = (self.clock(), figures)
        return figures

    def collect(self) -> Iterator[Metric]:
        figures = self.figures()
        if figures is None:
            return
        seconds = GaugeMetricFamily(
            "recoup_batch_step_seconds",
            "Duration of the latest finished run of each batch step",
            labels=["step"],
        )
        finished = GaugeMetricFamily(
            "recoup_batch_step_finished_timestamp_seconds",
            "When the latest run of each batch step finished (Unix time)",
            labels=["step"],
        )
        for step in sorted(figures.step_seconds):
            seconds.add_metric([step], figures.step_seconds[step])
            finished.add_metric([step], figures.step_finished[step])
        yield seconds
        yield finished
        if figures.last_closed_day is not None:
            yield GaugeMetricFamily(
                "recoup_ledger_last_closed_day_timestamp_seconds",
                "The last day the ledger is closed through (midnight UTC, Unix time)",
                value=datetime.combine(figures.last_closed_day, clock_time(0), UTC).timestamp(),
            )
        sent = GaugeMetricFamily(
            "recoup_contacts_sent",
            "Messages sent or delivered that were due today (UTC), by channel",
            labels=["channel"],
        )
        for channel in sorted(figures.sent_by_channel):
            sent.add_metric([channel], figures.sent_by_channel[channel])
        yield sent
        blocked = GaugeMetricFamily(
            "recoup_contacts_blocked",
            "Contacts the compliance gate refused today (UTC), by rule broken",
            labels=["rule"],
        )
        for rule in sorted(figures.blocked_by_rule):
            blocked.add_metric([rule], figures.blocked_by_rule[rule])
        yield blocked

"""The daily cycle an operator schedules: every step of a collection day, in order, resumable.

1. **close** the ledger through the day (itself resumable: a killed close goes on from the
   last closed day or partition);
2. **arrangements**: settlements paid in full are written off and unpaid ones lapse, plans
   paid off complete and plans paid late break
   (:func:`recoup.collection.postings.judge_arrangements`);
3. **score** the book with each kind's champion model (skipped while no model is trained);
4. **strategy**: cases, follow-up and the day's actions, each through the contact gate;
5. **allocate** the open cases (agency placements wait for the outsourcing notice);
6. **outbox**: the allowed actions rendered into messages and tasks;
7. **dispatch** what is due now through the configured transports (skipped when none is).

Each step that finishes is recorded as a ``collection_runs`` row of kind ``cycle-<step>`` with
its summary, so running the cycle again for the same day resumes after the last finished step
instead of repeating the day's work; ``redo`` names steps to run again (each step is itself
idempotent: a rerun replaces its own rows, never adds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from recoup.allocation import TeamsConfig
from recoup.close import close_through, last_closed_day
from recoup.collection.allocation_run import run_allocation
from recoup.collection.daily import RunRefused, run_daily_strategy, strategy_in_force
from recoup.collection.postings import judge_arrangements
from recoup.compliance import Profile
from recoup.contact.message import Sender
from recoup.contact.outbox import dispatch, queue_day_messages
from recoup.contact.templates import TemplateSet
from recoup.scoring.run import score_book
from recoup.store import tables as t
from recoup.strategy import Strategy, load_default_strategy

STEPS = ("close", "arrangements", "score", "strategy", "allocate", "outbox", "dispatch")


@dataclass(frozen=True, slots=True)
class StepResult:
    step: str
    status: str  # done | skipped | resumed (finished by an earlier run)
    seconds: float
    summary: str


@dataclass(frozen=True, slots=True)
class CycleResult:
    as_of: date
    steps: list[StepResult] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"daily cycle for {self.as_of}"]
        for s in self.steps:
            first, *rest = s.summary.splitlines() or [""]
            lines.append(f"  {s.step:<9} {s.status:<8} {s.seconds:6.1f} s  {first}")
            lines.extend(f"  {'':<9} {'':<8} {'':>8}  {line}" for line in rest)
        total = sum(s.seconds for s in self.steps)
        lines.append(f"  {'total':<9} {'':<8} {total:6.1f} s")
        return "\n".join(lines)


def _finished_steps(engine: Engine, as_of: date) -> dict[str, str]:
    r = t.collection_runs
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(r.c.kind, r.c.summary)
            .where(r.c.as_of == as_of, r.c.kind.like("cycle-%"), r.c.finished_at.is_not(None))
            .order_by(r.c.run_id)
        ).all()
    return {kind.removeprefix("cycle-"): json.loads(summary)["text"] for kind, summary in rows}


def _record(engine: Engine, as_of: date, step: str, started: datetime, text: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            t.collection_runs.insert().values(
                kind=f"cycle-{step}",
                as_of=as_of,
                started_at=started,
                finished_at=datetime.now(UTC),
                summary=json.dumps({"text": text}, ensure_ascii=False),
            )
        )


def run_cycle(
    engine: Engine,
    as_of: date,
    *,
    policy: Profile,
    teams: TeamsConfig,
    templates: TemplateSet,
    senders: Mapping[str, Sender],
    strategy: Strategy | None = None,
    redo: Sequence[str] = (),
    progress: Callable[[str], None] = lambda line: None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CycleResult:
    """Run the day's cycle through ``as_of`` (see the module docstring)."""
    unknown = set(redo) - set(STEPS)
    if unknown:
        raise RunRefused(f"no cycle step {sorted(unknown)[0]!r}; steps: {', '.join(STEPS)}")
    finished = {k: v for k, v in _finished_steps(engine, as_of).items() if k not in redo}
    result = CycleResult(as_of)

    def close() -> str:
        runs = close_through(engine, as_of)
        with engine.connect() as conn:
            return f"closed through {last_closed_day(conn)} ({len(runs)} runs)"

    def judge() -> str:
        with engine.begin() as conn:
            return judge_arrangements(conn, as_of, clock()).describe()

    def score() -> str:
        return score_book(engine, as_of, clock()).describe()

    def strategy_step() -> str:
        chosen = strategy
        if chosen is None:
            with engine.connect() as conn:
                chosen = strategy_in_force(conn) or load_default_strategy()
        return run_daily_strategy(engine, chosen, as_of, policy).describe()

    def allocate() -> str:
        return run_allocation(engine, teams, as_of, policy).describe()

    def outbox() -> str:
        with engine.begin() as conn:
            return queue_day_messages(conn, as_of, templates, policy, clock()).describe()

    def send() -> str:
        if not senders:
            return "skipped: no transport configured (--smtp, --gateway, --letters-to)"
        return dispatch(engine, senders, policy, clock()).describe()

    actions: dict[str, Callable[[], str]] = {
        "close": close,
        "arrangements": judge,
        "score": score,
        "strategy": strategy_step,
        "allocate": allocate,
        "outbox": outbox,
        "dispatch": send,
    }
    for step in STEPS:
        if step in finished:
            result.steps.append(StepResult(step, "resumed", 0.0, finished[step]))
            progress(f"{step}: finished earlier, not repeated")
            continue
        progress(f"{step} ...")
        started = datetime.now(UTC)
        clock_start = time.perf_counter()
        text = actions[step]()
        seconds = time.perf_counter() - clock_start
        status = "skipped" if text.startswith("skipped") else "done"
        _record(engine, as_of, step, started, text)
        result.steps.append(StepResult(step, status, seconds, text))
        progress(f"{step}: {status} in {seconds:.1f} s")
    return result


def cycle_document(result: CycleResult) -> dict[str, Any]:
    return {
        "as_of": result.as_of.isoformat(),
        "steps": [
            {
                "step": s.step,
                "status": s.status,
                "seconds": round(s.seconds, 2),
                "summary": s.summary,
            }
            for s in result.steps
        ],
    }

"""The lab on a small portfolio: the production cycle day after day, borrowers responding,
the same numbers for the same seed, and a strategy that contacts less making fewer contacts."""

from __future__ import annotations

import dataclasses
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from recoup.allocation import default_teams_path, load_teams
from recoup.compliance import shipped_profile
from recoup.contact.templates import TemplateSet
from recoup.lab import LabRefused, LabReport, MemorySender, run_lab
from recoup.lab import run as lab_run
from recoup.simulator import response as model
from recoup.store import tables as t
from recoup.strategy import default_strategy_text, load_default_strategy, parse_strategy

ACCOUNTS = 300
DAYS = 10
SEED = 3


def _light_strategy(tmp_path: Path) -> Path:
    """The shipped strategy with fewer contacts: calls every 6 days instead of every 2 or 3,
    and no weekly SMS in M1."""
    text = default_strategy_text()
    weekly = (
        "      - {id: sms-weekly, day: 8, from: due_date, every: 7, until: 29, channel: sms,\n"
        "         template: cn_sms_overdue_reminder, priority: 30}\n"
    )
    assert weekly in text and "every: 2" in text
    text = text.replace(weekly, "").replace("every: 2", "every: 6").replace("every: 3", "every: 6")
    text = text.replace("id: cn-default", "id: cn-light")
    parse_strategy(text, "light.yaml")  # still a valid strategy
    path = tmp_path / "light.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _default_strategy(tmp_path: Path) -> Path:
    path = tmp_path / "default.yaml"
    path.write_text(default_strategy_text(), encoding="utf-8")
    return path


def _numbers(report: LabReport) -> list[dict[str, float]]:
    return [dict(run) for s in report.strategies for run in s.runs]


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[LabReport, Path, Path]:
    folder = tmp_path_factory.mktemp("lab")
    default, light = _default_strategy(folder), _light_strategy(folder)
    report = run_lab([default, light], ACCOUNTS, DAYS, [SEED], workdir=folder)
    return report, default, light


def test_lab__runs_the_cycle_and_borrowers_respond(compared: tuple[LabReport, Path, Path]) -> None:
    report, _, _ = compared
    default = report.strategies[0].runs[0]
    assert report.accounts == ACCOUNTS and report.days == DAYS and report.seeds == (SEED,)
    assert [s.strategy_id for s in report.strategies] == ["cn-default", "cn-light"]
    assert default["contacts.call"] > 0 and default["contacts.sms"] > 0
    assert default["recovered_cents"] > 0 and default["payments_in_arrears"] > 0
    assert default["promises"] > 0
    assert sum(v for k, v in default.items() if k.startswith("start_accounts.")) > 0
    assert 0 < default["utilisation"] <= 1
    assert default["cost_cents.total"] > 0


def test_lab__the_same_seed_gives_the_same_numbers(
    compared: tuple[LabReport, Path, Path], tmp_path: Path
) -> None:
    report, default, light = compared
    again = run_lab([default, light], ACCOUNTS, DAYS, [SEED], workdir=tmp_path)
    assert _numbers(again) == _numbers(report)


def test_lab__a_strategy_that_contacts_less_makes_fewer_contacts(
    compared: tuple[LabReport, Path, Path],
) -> None:
    report, _, _ = compared
    default, light = (s.runs[0] for s in report.strategies)
    assert light["contacts.total"] < default["contacts.total"]
    assert light["contacts.call"] < default["contacts.call"]
    assert light["cost_cents.total"] < default["cost_cents.total"]
    difference = report.difference()
    assert difference is not None
    assert difference["contacts.total"].mean < 0
    assert difference["contacts.total"].low is None  # one seed: no interval, and it says so
    assert "one seed: no confidence interval" in report.describe()


def test_lab__two_seeds_give_an_interval_over_seeds(tmp_path: Path) -> None:
    report = run_lab([_default_strategy(tmp_path)], 120, 3, [1, 2], workdir=tmp_path)
    summary = report.strategies[0].summary()
    assert summary["contacts.total"].n == 2
    low, high = summary["contacts.total"].low, summary["contacts.total"].high
    assert low is not None and high is not None and low <= summary["contacts.total"].mean <= high
    assert report.document()["interval"] == "95% t interval over seeds"
    assert [p.name for p in tmp_path.iterdir()] == ["default.yaml"]  # the stores are gone


def test_lab__refuses_what_it_cannot_run(tmp_path: Path) -> None:
    strategy = _default_strategy(tmp_path)
    with pytest.raises(LabRefused, match="accounts must be at least 1"):
        run_lab([strategy], 0, 5, [1])
    with pytest.raises(LabRefused, match="days must be at least 1"):
        run_lab([strategy], 10, 0, [1])
    with pytest.raises(LabRefused, match="seeds must differ"):
        run_lab([strategy], 10, 1, [1, 1])


def test_memory_sender__records_and_accepts_every_message() -> None:
    from recoup.contact.message import OutboundMessage

    sender = MemorySender()
    result = sender.send(OutboundMessage("msg-1", "sms", "+86 13800000000", None, "hi", "zh-CN"))
    assert result.ok and result.provider_id == "msg-1"
    assert [m.idempotency_key for m in sender.take()] == ["msg-1"] and sender.take() == []


def test_lab__every_complaint_drawn_is_recorded_and_the_figure_is_read_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Complaints made frequent (half the contacts that reach the borrower, before pressure;
    nine in ten contacts reach): the complaints the response model draws, counted as it draws
    them, are the complaints in the run's store and the run's figure; each is about the
    attempt of its contact."""
    drawn: list[int] = []
    respond = model.respond

    def counting(*args: Any, **kwargs: Any) -> model.Responses:
        responses = respond(*args, **kwargs)
        drawn.append(int(responses.complaint.sum()))
        return responses

    monkeypatch.setattr(model, "respond", counting)
    params = dataclasses.replace(
        model.load_response_params(),
        complaint={c: 0.5 for c in model.CHANNELS},
        reach={c: 0.9 for c in model.CHANNELS},
    )
    world = lab_run._simulate(tmp_path / "world", 300, SEED, lab_run.DEFAULT_START, params)
    setup = lab_run.LabSetup(
        teams=load_teams(default_teams_path()),
        policy=shipped_profile("cn"),
        templates=TemplateSet(),
        params=params,
    )
    folder = tmp_path / "run"
    figures = lab_run.run_strategy(
        world, load_default_strategy(), SEED, 5, lab_run.DEFAULT_START, setup, folder
    )

    engine = sa.create_engine(f"sqlite:///{folder / 'lab.db'}")
    co, ca = t.complaints, t.contact_attempts
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                co.c.idempotency_key,
                co.c.account_key,
                co.c.channel,
                co.c.category,
                co.c.received_at,
                co.c.case_key,
                ca.c.account_key,
                ca.c.channel,
                ca.c.at,
                ca.c.message_key,
                ca.c.case_key,
            ).join(ca, ca.c.attempt_key == co.c.attempt_key, isouter=True)
        ).all()
    engine.dispose()
    assert sum(drawn) >= 10
    assert figures["complaints"] == len(rows) == sum(drawn)
    assert figures["complaints_per_1000_contacts"] == pytest.approx(
        1000 * len(rows) / figures["contacts.total"]
    )
    channels = set()
    for key, account, channel, category, received, case, *attempt in rows:
        a_account, a_channel, a_at, a_message, a_case = attempt
        assert a_account == account, key  # about an attempt of its own account
        assert (channel, category) == (a_channel, "contact_pressure"), key
        assert received.replace(tzinfo=UTC) == a_at.replace(tzinfo=UTC), key
        assert key == f"lab-complaint-{a_message}" and case == a_case, key
        channels.add(channel)
    assert "call" in channels and channels - model.CONVERSATION_CHANNELS  # and messages'

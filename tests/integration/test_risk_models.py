"""The risk models on a real store (SQLite and PostgreSQL): trained on the store's history,
registered, promoted and retired, the book scored with the champions, the scores read by the
strategy as risk grades, and drift measured against the training sample."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from recoup.close import close_through
from recoup.collection.daily import run_daily_strategy, strategy_cases
from recoup.importer import import_directory
from recoup.risk.grades import COLLECTION_BANDS
from recoup.scoring.monitor import monitor
from recoup.scoring.registry import ModelRefused, champion, list_models, promote, retire
from recoup.scoring.run import population, score_book
from recoup.scoring.training import train_from_store
from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.store import tables as t
from recoup.strategy import load_default_strategy

AS_OF = date(2025, 12, 31)
NOW = datetime(2026, 1, 1, 6, tzinfo=UTC)


@pytest.fixture
def book(store: sa.Engine, tmp_path: Path) -> sa.Engine:
    write_portfolio(simulate_portfolio(1_500, 5, AS_OF), tmp_path / "files")
    import_directory(store, tmp_path / "files", show_progress=False)
    close_through(store, AS_OF)
    return store


def _scores(store: sa.Engine, kind: str) -> list[dict[str, object]]:
    rs = t.risk_scores
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(rs).where(rs.c.kind == kind).order_by(rs.c.account_key)
        ).mappings()
        return [{k: v for k, v in r.items() if k != "run_id"} for r in rows]


def test_risk__train_register_score_and_grade_the_strategy_reads(book: sa.Engine) -> None:
    run = train_from_store(book, "collection", AS_OF, NOW, months=6)
    scorecard, gbm = run.models
    assert (scorecard.model_id, gbm.model_id) == (
        "collection-scorecard-v1",
        "collection-lightgbm-v1",
    )
    assert scorecard.status == "champion" and gbm.status == "candidate"
    test = scorecard.metrics["splits"]["test"]
    assert test["auc"] > 0.7  # the simulator's cures are predictable from the history
    assert scorecard.data_fingerprint == gbm.data_fingerprint
    assert scorecard.libraries["lightgbm"] and scorecard.features
    days = scorecard.metrics["days"]
    assert max(days["train"]) < min(days["validation"]) <= max(days["validation"])
    assert max(days["validation"]) < min(days["test"])  # out of time, in that order

    first = score_book(book, AS_OF, NOW)
    assert "early_warning" in first.skipped  # no early-warning model trained
    scores = _scores(book, "collection")
    with book.connect() as conn:
        expected = population(conn, "collection", AS_OF).to_list()
    assert [s["account_key"] for s in scores] == expected
    for s in scores[:50]:
        assert s["model_id"] == "collection-scorecard-v1" and s["score"] is not None
        assert s["grade"] == COLLECTION_BANDS.grade([s["probability"]])[0]
        assert 0 < len(json.loads(str(s["reasons"]))) <= 3
    again = score_book(book, AS_OF, NOW)  # the same day again replaces, never adds
    assert again.scored == first.scored and _scores(book, "collection") == scores

    run_daily_strategy(book, load_default_strategy(), AS_OF)  # opens the cases
    with book.connect() as conn:
        cases = strategy_cases(conn, AS_OF)
    graded = {s["account_key"]: s["grade"] for s in scores}
    delinquent = cases.filter(cases["dpd"] > 0)
    assert delinquent.height > 0
    for account, grade in delinquent.select("account_key", "risk_grade").iter_rows():
        assert grade == graded.get(account)

    with book.begin() as conn:
        promote(conn, gbm.model_id, NOW)
        assert champion(conn, "collection").model_id == gbm.model_id  # type: ignore[union-attr]
        statuses = {m.model_id: m.status for m in list_models(conn, "collection")}
    assert statuses == {scorecard.model_id: "candidate", gbm.model_id: "champion"}
    score_book(book, AS_OF, NOW)
    by_gbm = _scores(book, "collection")
    assert {s["model_id"] for s in by_gbm} == {gbm.model_id}
    assert all(s["score"] is None for s in by_gbm)  # points belong to scorecards

    report = monitor(book, AS_OF)
    assert [k.kind for k in report.kinds] == ["collection"]
    assert set(report.kinds[0].psi) >= {"(score)"}

    with book.begin() as conn:
        retire(conn, gbm.model_id, NOW)
        with pytest.raises(ModelRefused, match="retired"):
            promote(conn, gbm.model_id, NOW)
    assert "collection" in score_book(book, AS_OF, NOW).skipped


def test_risk__training_refuses_a_history_too_short_for_out_of_time_splits(
    store: sa.Engine, tmp_path: Path
) -> None:
    write_portfolio(simulate_portfolio(200, 3, date(2025, 2, 28)), tmp_path / "files")
    import_directory(store, tmp_path / "files", show_progress=False)
    close_through(store, date(2025, 2, 28))
    with pytest.raises(ModelRefused, match="at least 3"):
        train_from_store(store, "collection", date(2024, 3, 31), NOW, months=2)


def test_risk__early_warning_cases_open_for_the_models_high_grades(book: sa.Engine) -> None:
    from recoup.cases.early_warning import LEAD_DAYS as EARLY_WARNING_LEAD_DAYS
    from recoup.collection.daily import EARLY_WARNING_HIGH_GRADES

    train_from_store(book, "early_warning", AS_OF, NOW, months=6)
    score_book(book, AS_OF, NOW)
    high = {
        s["account_key"]
        for s in _scores(book, "early_warning")
        if s["grade"] in EARLY_WARNING_HIGH_GRADES
    }
    run_daily_strategy(book, load_default_strategy(), AS_OF)
    c = t.cases
    with book.connect() as conn:
        opened = set(
            conn.execute(
                sa.select(c.c.account_key).where(c.c.opened_because == "early_warning")
            ).scalars()
        )
    i = t.installments
    with book.connect() as conn:
        due_soon = set(
            conn.execute(
                sa.select(i.c.account_key).where(
                    i.c.settled == 0,
                    i.c.due_date > AS_OF,
                    i.c.due_date <= AS_OF + timedelta(days=EARLY_WARNING_LEAD_DAYS),
                )
            ).scalars()
        )
    assert high & due_soon, "the simulated book has high grades due within the lead days"
    assert opened == high & due_soon  # the model's flag, not the interim rule

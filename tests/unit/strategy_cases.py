"""Shared by the strategy tests: a small strategy file, hand-written case rows, synthetic frames."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from recoup.strategy import CASE_COLUMNS

AS_OF = date(2026, 3, 10)

#: A small strategy file. Line numbers matter: the error tests of the spec point at them.
SMALL = textwrap.dedent(
    """\
    strategy:
      id: small
      version: 2
      description: A small strategy for tests.
    events:
      promise_broken: {goto: escalate}
    segments:
      - id: m1
        when: {bucket: [M1], overdue: {min: "50.00"}}
        path: standard
      - id: rest
        path: standard
    paths:
      standard:
        steps:
          - id: sms
            day: 1
            from: due_date
            channel: sms
            template: sms_d1
          - id: call
            day: 3
            from: due_date
            channel: call
            template: call_m1
            queue: m1-collectors
      escalate:
        steps:
          - {id: call, day: 1, from: case_open, channel: call, template: call_x, queue: senior}
        on:
          partial_payment: restart
    tests:
      - id: t
        population: [m1]
        arms:
          - {name: champion, share: 80}
          - {name: challenger, share: 20, path: escalate}
    """
)


def bucket_of(dpd: int) -> str:
    if dpd <= 0:
        return "M0"
    if dpd > 180:
        return "M7+"
    return f"M{(dpd - 1) // 30 + 1}"


def case(key: int, dpd: int, /, **changes: Any) -> dict[str, Any]:
    """An open delinquent case ``dpd`` days past due on :data:`AS_OF`, opened the day after
    its due date, in Guangdong, reachable, with no event; ``changes`` override any column."""
    row: dict[str, Any] = {
        "case_key": key,
        "account_key": 1000 + key,
        "account_id": f"ACC{key:06d}",
        "opened_on": AS_OF - timedelta(days=max(dpd, 1) - 1),
        "due_date": AS_OF - timedelta(days=dpd),
        "bucket": bucket_of(dpd),
        "dpd": max(dpd, 0),
        "overdue_cents": 107_200,
        "balance_cents": 1_072_000,
        "product_id": "fenqi-card",
        "region": "广东省",
        "language": "zh",
        "risk_grade": "C",
        "score": 600.0,
        "early_warning": False,
        "dispute": False,
        "vulnerable": False,
        "unreachable_days": 0,
        "promise_until": None,
        "last_event": None,
        "last_event_on": None,
        "path_override": None,
    }
    unknown = set(changes) - set(row) - {"path_since"}
    assert not unknown, f"not a case column: {unknown}"
    row.update(changes)
    return row


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    schema = dict(CASE_COLUMNS)
    if any("path_since" in row for row in rows):
        schema["path_since"] = pl.Date()
        rows = tuple({"path_since": None, **row} for row in rows)
    return pl.DataFrame(list(rows), schema=schema)


def synthetic(count: int, seed: int = 7) -> pl.DataFrame:
    """``count`` open cases with a spread of buckets, flags, events and regions."""
    rng = np.random.default_rng(seed)
    keys = np.arange(1, count + 1, dtype=np.int64)
    dpd = rng.integers(-3, 240, count)
    early = dpd <= 0
    due = np.datetime64(AS_OF) - dpd.astype("timedelta64[D]")
    opened = np.where(early, due - np.timedelta64(5, "D"), due + np.timedelta64(1, "D"))
    events = np.array([None, "promise_broken", "partial_payment", "full_payment", "promise_made"])
    event = events[rng.choice(len(events), count, p=[0.7, 0.1, 0.1, 0.02, 0.08])]
    event_age = rng.integers(0, 30, count)
    promise_age = rng.integers(-5, 10, count)
    regions = np.array(["广东省", "上海市", "西藏自治区", "河南省", None], dtype=object)
    grades = np.array(["A", "B", "C", "D", "E"])
    return pl.DataFrame(
        {
            "case_key": keys,
            "account_key": keys + 1_000_000,
            "account_id": [f"ACC{k:08d}" for k in keys],
            "opened_on": opened.astype("datetime64[D]"),
            "due_date": due.astype("datetime64[D]"),
            "bucket": [bucket_of(int(d)) for d in dpd],
            "dpd": np.maximum(dpd, 0),
            "overdue_cents": rng.integers(1_000, 500_000, count),
            "balance_cents": rng.integers(10_000, 5_000_000, count),
            "product_id": np.where(rng.random(count) < 0.8, "fenqi-card", "fenqi-cash"),
            "region": regions[rng.integers(0, len(regions), count)].tolist(),
            "language": np.where(rng.random(count) < 0.95, "zh", "en"),
            "risk_grade": grades[rng.integers(0, len(grades), count)],
            "score": rng.normal(600, 80, count),
            "early_warning": early,
            "dispute": rng.random(count) < 0.02,
            "vulnerable": rng.random(count) < 0.01,
            "unreachable_days": rng.integers(0, 30, count),
            "promise_until": np.where(
                event == "promise_made",
                (np.datetime64(AS_OF) + promise_age.astype("timedelta64[D]")).astype(
                    "datetime64[D]"
                ),
                np.datetime64("NaT"),
            ).astype("datetime64[D]"),
            "last_event": event.tolist(),
            "last_event_on": np.where(
                event == None,  # noqa: E711 (numpy element-wise comparison)
                np.datetime64("NaT"),
                np.datetime64(AS_OF) - event_age.astype("timedelta64[D]"),
            ).astype("datetime64[D]"),
            "path_override": pl.Series([None] * count, dtype=pl.String),
        },
        schema_overrides=dict(CASE_COLUMNS),
    )

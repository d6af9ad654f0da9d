"""Builders for allocation tests and the allocation benchmark: small hand-made case tables,
teams files written as text, and large synthetic portfolios of open cases."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
import yaml

from recoup.allocation import CASE_COLUMNS, Agency, Collector, TeamsConfig, parse_teams

MONDAY = date(2026, 3, 2)
SATURDAY = date(2026, 3, 7)
BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")


def collector(
    id: str,
    *,
    team: str = "T1",
    daily: int = 100,
    max_open: int = 1000,
    languages: tuple[str, ...] = ("zh",),
    buckets: tuple[str, str] = ("M1", "M3"),
    products: str | list[str] = "all",
    days: list[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": id,
        "name": f"Collector {id}",
        "team": team,
        "daily_capacity": daily,
        "max_open_cases": max_open,
        "skills": {
            "languages": list(languages),
            "buckets": {"from": buckets[0], "to": buckets[1]},
            "products": products,
        },
    }
    if days is not None:
        body["working_days"] = days
    return body


def agency(
    id: str,
    *,
    capacity: int = 100,
    buckets: tuple[str, str] = ("M4", "M7+"),
    rate: str = "0.20",
    recall: int | None = None,
    products: str | list[str] = "all",
) -> dict[str, Any]:
    lo, hi = BUCKETS.index(buckets[0]), BUCKETS.index(buckets[1])
    body: dict[str, Any] = {
        "id": id,
        "name": f"Agency {id}",
        "capacity": capacity,
        "buckets": {"from": buckets[0], "to": buckets[1]},
        "commission": {b: rate for b in BUCKETS[lo : hi + 1]},
        "products": products,
    }
    if recall is not None:
        body["recall_after_days"] = recall
    return body


def teams(
    collectors: list[dict[str, Any]],
    agencies: list[dict[str, Any]] | None = None,
    *,
    method: str = "even_count",
    continuity: bool = True,
    rotate: int | None = None,
    agency_from: str | None = "M4",
    recall: int | None = None,
    team_ids: tuple[str, ...] = ("T1", "T2"),
) -> TeamsConfig:
    """A teams file as a config, written as YAML text and parsed as a user's file would be."""
    rules: dict[str, Any] = {"method": method, "continuity": continuity}
    if rotate is not None:
        rules["rotate_after_days"] = rotate
    if agencies:
        rules["agency_from_bucket"] = agency_from
    if recall is not None:
        rules["recall_after_days"] = recall
    document = {
        "teams": [{"id": t, "name": f"Team {t}"} for t in team_ids],
        "collectors": collectors,
        "agencies": agencies or [],
        "rules": rules,
    }
    return parse_teams(yaml.safe_dump(document, sort_keys=False), "teams.yaml")


def cases(*rows: dict[str, Any]) -> pl.DataFrame:
    """Open cases from short dicts; case_key counts from 1 and other fields have defaults."""
    defaults: dict[str, Any] = {
        "account_key": None,
        "bucket": "M1",
        "dpd": None,
        "balance_cents": 100_000,
        "product_id": "card",
        "language": None,
        "current_owner": None,
        "owner_kind": None,
        "owned_since": None,
        "last_progress_on": None,
        "queue": None,
    }
    records = []
    for key, row in enumerate(rows, start=1):
        record = {"case_key": key, **defaults, **row}
        record["account_key"] = record["account_key"] or 1000 + record["case_key"]
        position = BUCKETS.index(record["bucket"]) if record["bucket"] in BUCKETS else 8
        record["dpd"] = record["dpd"] or max(0, 30 * position - 5)
        records.append(record)
    return pl.DataFrame(records, schema=CASE_COLUMNS)


def days_ago(as_of: date, days: int) -> date:
    return as_of - timedelta(days=days)


# ---------------------------------------------------------------------- at scale


def synthetic_teams(
    collectors: int = 300, agencies: int = 6, teams_count: int = 10, *, initial_load: bool = False
) -> TeamsConfig:
    """A large operation: ``collectors`` spread over bucket ranges, languages and products.

    With ``initial_load`` a collector may take as many new cases in a day as it may hold:
    the first allocation of a whole book."""
    rng = np.random.default_rng(7)
    ranges = [("M1", "M1"), ("M1", "M2"), ("M2", "M3"), ("M3", "M4"), ("M2", "M4")]
    people = []
    for i in range(collectors):
        languages = ["zh"]
        roll = rng.random()
        if roll < 0.25:
            languages.append("en")
        elif roll < 0.32:
            languages.insert(0, "ug")
        elif roll < 0.36:
            languages.insert(0, "bo")
        products: str | list[str] = "all"
        if rng.random() < 0.3:
            products = sorted(rng.choice(["card", "cash", "reno"], 2, replace=False).tolist())
        max_open = int(rng.integers(2000, 4500))
        people.append(
            collector(
                f"C{i:04d}",
                team=f"T{i % teams_count}",
                daily=max_open if initial_load else int(rng.integers(20, 80)),
                max_open=max_open,
                languages=tuple(languages),
                buckets=ranges[i % len(ranges)],
                products=products,
                days=["mon", "tue", "wed", "thu", "fri"] if i % 7 else ["sat", "sun", "mon"],
            )
        )
    firms = [
        agency(
            f"AG{j}",
            capacity=int(rng.integers(20_000, 60_000)),
            buckets=("M4", "M7+") if j % 2 == 0 else ("M4", "M6"),
            rate=f"0.{15 + j:02d}",
            recall=90 if j % 3 == 0 else None,
        )
        for j in range(agencies)
    ]
    return teams(
        people,
        firms,
        rotate=30,
        recall=60,
        team_ids=tuple(f"T{t}" for t in range(teams_count)),
    )


def synthetic_cases(
    count: int, config: TeamsConfig, as_of: date, seed: int = 1, *, owned: bool = True
) -> pl.DataFrame:
    """``count`` open cases in a steady state: most owned (some by owners that no longer fit,
    some stale), a few new; Mandarin mostly, some English, Uyghur, Tibetan or unknown.
    With ``owned=False`` no case has an owner yet (a first allocation)."""
    rng = np.random.default_rng(seed)
    bucket_index = rng.choice(np.arange(1, 8), count, p=[0.35, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05])
    dpd = 30 * (bucket_index - 1) + rng.integers(1, 31, count)
    languages = np.array(["zh", "en", "ug", "bo", ""], dtype=object)
    language = languages[rng.choice(5, count, p=[0.85, 0.05, 0.04, 0.02, 0.04])]
    # Owners that mostly fit the bucket (a few do not: the case rolled on), or none yet.
    owner = np.full(count, "", dtype=object)
    from_pos = config.agency_from_position or len(BUCKETS)
    for position in range(1, len(BUCKETS)):
        rows = np.flatnonzero(bucket_index == position)
        fit = [c.id for c in config.collectors if c.buckets.covers(position)]
        if position >= from_pos:
            fit = [a.id for a in config.agencies if a.buckets.covers(position)] or fit
        pool = np.array(fit or [c.id for c in config.collectors], dtype=object)
        owner[rows] = pool[rng.integers(0, len(pool), len(rows))]
    everyone = np.array([c.id for c in config.collectors], dtype=object)
    roll = rng.random(count)
    owner = np.where(roll < 0.05, everyone[rng.integers(0, len(everyone), count)], owner)
    owner = np.where((roll > 0.9) | (not owned), "", owner)
    held_days = rng.integers(0, 150, count)
    progress_days = np.minimum(held_days + 30, rng.integers(0, 120, count))
    no_progress = rng.random(count) < 0.2
    queue = np.where(rng.random(count) < 0.03, "T1", "")
    frame = pl.DataFrame(
        {
            "case_key": np.arange(1, count + 1, dtype=np.int64),
            "account_key": rng.permutation(count).astype(np.int64) + 1,
            "bucket": np.array(BUCKETS, dtype=object)[bucket_index],
            "dpd": dpd.astype(np.int64),
            "balance_cents": np.rint(rng.lognormal(10.5, 0.9, count) * 100).astype(np.int64),
            "product_id": np.array(["card", "cash", "reno"], dtype=object)[
                rng.choice(3, count, p=[0.6, 0.3, 0.1])
            ],
            "language": language,
            "current_owner": owner,
            "owned_days": held_days,
            "progress_days": np.where(no_progress, -1, progress_days),
            "queue": queue,
        }
    )
    return frame.select(
        "case_key",
        "account_key",
        "bucket",
        "dpd",
        "balance_cents",
        "product_id",
        pl.when(pl.col("language") != "").then(pl.col("language")).alias("language"),
        pl.when(pl.col("current_owner") != "").then(pl.col("current_owner")).alias("current_owner"),
        pl.lit(None, pl.String).alias("owner_kind"),
        pl.when(pl.col("current_owner") != "")
        .then(pl.lit(as_of) - pl.duration(days=pl.col("owned_days")))
        .cast(pl.Date)
        .alias("owned_since"),
        pl.when(pl.col("progress_days") >= 0)
        .then(pl.lit(as_of) - pl.duration(days=pl.col("progress_days")))
        .cast(pl.Date)
        .alias("last_progress_on"),
        pl.when(pl.col("queue") != "").then(pl.col("queue")).alias("queue"),
    )


# ---------------------------------------------------------------------- invariants


def violations(
    cases: pl.DataFrame, config: TeamsConfig, as_of: date, result: pl.DataFrame
) -> list[str]:
    """Every way ``result`` breaks the allocation's promises, checked row by row in plain
    Python (a slow, obvious oracle): one row per case, only eligible owners, no capacity
    exceeded, kept means the same owner, and nobody unallocated while an owner who could
    take the case has room."""
    problems: list[str] = []
    if sorted(result["case_key"].to_list()) != sorted(cases["case_key"].to_list()):
        problems.append("the result does not have exactly one row per case")
        return problems
    weekday = as_of.weekday()
    collectors = {c.id: c for c in config.collectors}
    agencies = {a.id: a for a in config.agencies}
    teams = {t.id for t in config.teams}
    from_pos = config.agency_from_position
    rows = {
        r["case_key"]: {"language": None, "queue": None, "current_owner": None, **r}
        for r in cases.iter_rows(named=True)
    }

    def position(row: dict[str, Any]) -> int | None:
        return config.bucket_position(row["bucket"])

    def team_of(row: dict[str, Any]) -> str | None:
        return row["queue"] if row["queue"] in teams else None

    def collector_fits(c: Collector, row: dict[str, Any]) -> bool:
        pos = position(row)
        return pos is not None and c.can_take(pos, row["product_id"], row["language"], team_of(row))

    def agency_fits(a: Agency, row: dict[str, Any]) -> bool:
        pos = position(row)
        if pos is None or team_of(row) is not None or from_pos is None:
            return False
        bound = pos >= from_pos or row["queue"] == "agency"
        return bound and a.can_take(pos, row["product_id"])

    open_count: dict[str, int] = {}
    new_count: dict[str, int] = {}
    for out in result.iter_rows(named=True):
        row = rows[out["case_key"]]
        owner = out["owner"]
        if out["decision"] == "kept" and owner != row["current_owner"]:
            problems.append(f"case {out['case_key']}: kept but the owner changed")
        if owner is None:
            if out["decision"] not in ("unallocated", "recalled"):
                problems.append(f"case {out['case_key']}: no owner but {out['decision']}")
            continue
        open_count[owner] = open_count.get(owner, 0) + 1
        if out["decision"] != "kept":
            new_count[owner] = new_count.get(owner, 0) + 1
        if owner in collectors:
            if out["owner_kind"] != "collector" or not collector_fits(collectors[owner], row):
                problems.append(f"case {out['case_key']}: {owner} is not an eligible collector")
        elif owner in agencies:
            if out["owner_kind"] != "agency" or not agency_fits(agencies[owner], row):
                problems.append(f"case {out['case_key']}: {owner} is not an eligible agency")
        else:
            problems.append(f"case {out['case_key']}: unknown owner {owner}")

    def full(owner: str) -> bool:
        if owner in agencies:
            return open_count.get(owner, 0) >= agencies[owner].capacity
        c = collectors[owner]
        return (
            not c.works_on(weekday)
            or new_count.get(owner, 0) >= c.daily_capacity
            or open_count.get(owner, 0) >= c.max_open_cases
        )

    for owner, count in open_count.items():
        limit = agencies[owner].capacity if owner in agencies else collectors[owner].max_open_cases
        if count > limit:
            problems.append(f"{owner} holds {count} open cases, more than {limit}")
    for owner, count in new_count.items():
        if owner in collectors:
            c = collectors[owner]
            if not c.works_on(weekday):
                problems.append(f"{owner} got {count} new cases on a day off")
            if count > c.daily_capacity:
                problems.append(f"{owner} got {count} new cases, more than {c.daily_capacity}")
    for out in result.filter(pl.col("owner").is_null()).iter_rows(named=True):
        row = rows[out["case_key"]]
        could = [
            c.id
            for c in config.collectors
            if c.id != row["current_owner"] and collector_fits(c, row) and not full(c.id)
        ] + [
            a.id
            for a in config.agencies
            if a.id != row["current_owner"] and agency_fits(a, row) and not full(a.id)
        ]
        if could:
            problems.append(f"case {out['case_key']}: unallocated while {could} have room")
    return problems

"""Scores, strategies and the portfolio report through the API.

- ``GET .../scores``: the account's latest score of each kind (within the week up to the last
  closed day, as :func:`recoup.scoring.run.latest_scores` picks them) with the reason codes
  stored with it.
- Strategies: the one in force (the one the daily run used last, else the shipped one), the
  stored versions, a YAML text validated by the strategy parser without storing anything, and
  the upload of a new version, which puts it in force for the next run
  (:func:`recoup.collection.daily.record_strategy_version`, as ``recoup strategy run
  --strategy FILE`` does). A version's text never changes: uploading an id and version already
  stored with another text is 409.
- ``GET /reports/portfolio``: accounts by bucket now, the roll-rate matrix (by count) between
  the last two month ends the store holds states for, and the compliance gate's blocks by rule
  since the earlier of them (:mod:`recoup.analytics.collection`).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import polars as pl
import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from recoup.store import tables as t
from recoup.web import audit
from recoup.web.access import readable_account
from recoup.web.api_common import ERROR_RESPONSES, AccountId, Stamp, last_closed, money
from recoup.web.api_common import ReportReader as Reader
from recoup.web.api_common import StrategyManager as Manager
from recoup.web.app import ApiError, engine_of
from recoup.web.auth import CurrentUser

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)

#: How far back a score still counts as the account's latest (as ``latest_scores``).
SCORE_DAYS = 7


# --------------------------------------------------------------------------- scores


class ScoreOut(BaseModel):
    kind: str = Field(description="early_warning, collection or custom")
    as_of: date
    model_id: str
    score: int | None = Field(description="scorecard points, higher is safer")
    probability: float = Field(description="calibrated P(bad)")
    grade: str
    reasons: list[str] = Field(description="the reason codes, most important first")


class ScoresOut(BaseModel):
    account_id: str
    as_of: date
    scores: list[ScoreOut]


@router.get("/accounts/{account_id}/scores", response_model=ScoresOut, tags=["scores"])
def scores(account_id: AccountId, request: Request, user: CurrentUser) -> ScoresOut:
    """The account's latest score of each kind and its reason codes."""
    engine = engine_of(request)
    rs = t.risk_scores
    with engine.connect() as conn:
        key = readable_account(engine, conn, user, account_id)
        as_of = last_closed(conn)
        rows = conn.execute(
            sa.select(rs)
            .where(
                rs.c.account_key == key,
                rs.c.as_of <= as_of,
                rs.c.as_of > as_of - timedelta(days=SCORE_DAYS),
            )
            .order_by(rs.c.kind, rs.c.as_of.desc())
        ).all()
    latest: dict[str, Any] = {}
    for row in rows:
        latest.setdefault(row.kind, row)
    return ScoresOut(
        account_id=account_id,
        as_of=as_of,
        scores=[
            ScoreOut(
                kind=row.kind,
                as_of=row.as_of,
                model_id=row.model_id,
                score=row.score,
                probability=row.probability,
                grade=row.grade,
                reasons=[str(r) for r in json.loads(row.reasons or "[]")],
            )
            for row in latest.values()
        ],
    )


# --------------------------------------------------------------------------- strategies


class StrategySummary(BaseModel):
    id: str
    version: int
    description: str
    segments: int
    paths: int
    steps: int
    tests: int


class StrategyOut(StrategySummary):
    in_force: bool = Field(description="false: nothing has run yet; the shipped one would")
    explanation: str = Field(description="the strategy in plain words")
    source: str = Field(description="the YAML text")


class StrategyVersionOut(BaseModel):
    id: str
    version: int
    loaded_at: Stamp
    active: bool


class StrategyVersionsOut(BaseModel):
    versions: list[StrategyVersionOut]


class StrategySource(BaseModel):
    source: Annotated[str, Field(min_length=1, max_length=200_000)] = Field(
        description="the strategy file's YAML text"
    )


class ValidationOut(BaseModel):
    valid: bool
    message: str = Field(description="the first problem (line and field), or a summary")
    strategy: StrategySummary | None


def _summary(strategy: Any) -> StrategySummary:
    return StrategySummary(
        id=strategy.id,
        version=strategy.version,
        description=strategy.description,
        segments=len(strategy.segments),
        paths=len(strategy.paths),
        steps=sum(len(p.steps) for p in strategy.paths.values()),
        tests=len(strategy.tests),
    )


def _bucket_names(conn: sa.Connection) -> list[str]:
    from recoup.store.repository import load_catalog_from_store

    return [b.name for b in load_catalog_from_store(conn).buckets]


def _parse(text: str, buckets: list[str]) -> Any:
    """The strategy of ``text``, or the parser's message as an exception of ours."""
    from recoup.strategy import parse_strategy
    from recoup.yamlfile import YamlFileError

    if "\x00" in text:
        raise _Invalid("the text holds a NUL character")
    try:
        return parse_strategy(text, "strategy.yaml", buckets=buckets)
    except (YamlFileError, ValueError, TypeError, RecursionError) as exc:
        raise _Invalid(str(exc)) from None


class _Invalid(Exception):
    pass


@router.get("/strategies/current", response_model=StrategyOut, tags=["strategies"])
def current_strategy(request: Request, user: Reader) -> StrategyOut:
    """The strategy in force: the one the daily run used last (or the shipped one)."""
    from recoup.collection.daily import strategy_in_force
    from recoup.strategy import explain, load_default_strategy

    with engine_of(request).connect() as conn:
        strategy = strategy_in_force(conn)
    in_force = strategy is not None
    strategy = strategy or load_default_strategy()
    return StrategyOut(
        **_summary(strategy).model_dump(),
        in_force=in_force,
        explanation=explain(strategy),
        source=strategy.text,
    )


@router.get("/strategies", response_model=StrategyVersionsOut, tags=["strategies"])
def strategy_versions(request: Request, user: Reader) -> StrategyVersionsOut:
    """Every strategy version stored, newest first."""
    sv = t.strategy_versions
    with engine_of(request).connect() as conn:
        rows = conn.execute(
            sa.select(sv.c.strategy_id, sv.c.version, sv.c.loaded_at, sv.c.active).order_by(
                sv.c.loaded_at.desc(), sv.c.strategy_id, sv.c.version.desc()
            )
        ).all()
    return StrategyVersionsOut(
        versions=[
            StrategyVersionOut(
                id=r.strategy_id, version=r.version, loaded_at=r.loaded_at, active=bool(r.active)
            )
            for r in rows
        ]
    )


@router.post("/strategies/validation", response_model=ValidationOut, tags=["strategies"])
def validate(body: StrategySource, request: Request, user: Manager) -> ValidationOut:
    """Check a strategy file's text; nothing is stored. An invalid file is a normal answer
    (``valid: false`` and the first problem)."""
    with engine_of(request).connect() as conn:
        buckets = _bucket_names(conn)
    try:
        strategy = _parse(body.source, buckets)
    except _Invalid as exc:
        return ValidationOut(valid=False, message=str(exc), strategy=None)
    summary = _summary(strategy)
    return ValidationOut(
        valid=True,
        message=f"strategy {strategy.id!r} version {strategy.version} is valid",
        strategy=summary,
    )


@router.post("/strategies", response_model=StrategyOut, status_code=201, tags=["strategies"])
def upload(body: StrategySource, request: Request, user: Manager) -> StrategyOut:
    """Store a new strategy version and put it in force for the next daily run. The same
    id and version again with the same text changes nothing; with another text it is 409."""
    from recoup.collection.daily import RunRefused, record_strategy_version
    from recoup.strategy import explain

    with engine_of(request).begin() as conn:
        try:
            strategy = _parse(body.source, _bucket_names(conn))
        except _Invalid as exc:
            raise ApiError(422, "invalid_strategy", str(exc)) from None
        try:
            record_strategy_version(conn, strategy)
        except RunRefused as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        audit.append(
            conn,
            user.username,
            "strategy.upload",
            f"strategy:{strategy.id}",
            {"version": strategy.version},
        )
    return StrategyOut(
        **_summary(strategy).model_dump(),
        in_force=True,
        explanation=explain(strategy),
        source=strategy.text,
    )


# --------------------------------------------------------------------------- reports


class BucketCount(BaseModel):
    bucket: str
    accounts: int
    overdue: str


class RollRow(BaseModel):
    from_bucket: str
    to: dict[str, float] = Field(description="share of the row's accounts in each bucket")


class RuleBlocks(BaseModel):
    rule: str
    blocked: int


class PortfolioOut(BaseModel):
    as_of: date
    buckets: list[BucketCount]
    roll_from: date | None = Field(description="the earlier month end (null: fewer than two)")
    roll_to: date | None
    roll_rates: list[RollRow]
    blocks_since: date
    blocks_by_rule: list[RuleBlocks]


@router.get("/reports/portfolio", response_model=PortfolioOut, tags=["reports"])
def portfolio(request: Request, user: Reader) -> PortfolioOut:
    """A small portfolio summary: accounts by bucket, the roll rates between the last two
    month ends, the compliance gate's blocks by rule."""
    from recoup.analytics.collection import blocks_by_rule, roll_rate_matrix
    from recoup.store.bulk import read_frame

    a, s, d = t.accounts, t.account_states, t.contact_decisions
    with engine_of(request).connect() as conn:
        as_of = last_closed(conn)
        names = _bucket_names(conn)
        by_bucket = {
            r.bucket: (int(r.n), int(r.overdue or 0))
            for r in conn.execute(
                sa.select(
                    a.c.bucket,
                    sa.func.count().label("n"),
                    sa.func.sum(a.c.overdue_cents).label("overdue"),
                ).group_by(a.c.bucket)
            )
        }
        days = sorted(
            day
            for day in conn.execute(sa.select(s.c.as_of).distinct()).scalars()
            if day <= as_of and (day + timedelta(days=1)).day == 1
        )
        pair = days[-2:] if len(days) >= 2 else []
        states = read_frame(
            conn,
            sa.select(s.c.account_key, s.c.as_of, s.c.bucket).where(s.c.as_of.in_(pair or [as_of])),
            {"account_key": pl.Int64, "as_of": pl.Date, "bucket": pl.String},
        )
        since = pair[0] if pair else as_of - timedelta(days=30)
        decisions = read_frame(
            conn,
            sa.select(d.c.allowed, d.c.violations).where(
                d.c.contact_at >= datetime.combine(since, time(), UTC)
            ),
            {"allowed": pl.Int64, "violations": pl.String},
        )
    known = [*names, *sorted(set(by_bucket) - set(names))]
    rows: list[RollRow] = []
    if pair:
        matrix = roll_rate_matrix(
            states, pair[0], pair[1], "count", [*names, *sorted(set(states["bucket"]) - set(names))]
        )
        rows = [
            RollRow(
                from_bucket=row["from_bucket"],
                to={k: float(v) for k, v in row.items() if k != "from_bucket"},
            )
            for row in matrix.iter_rows(named=True)
        ]
    blocks = blocks_by_rule(decisions)
    return PortfolioOut(
        as_of=as_of,
        buckets=[
            BucketCount(
                bucket=b,
                accounts=by_bucket.get(b, (0, 0))[0],
                overdue=money(by_bucket.get(b, (0, 0))[1]),
            )
            for b in known
        ],
        roll_from=pair[0] if pair else None,
        roll_to=pair[1] if pair else None,
        roll_rates=rows,
        blocks_since=since,
        blocks_by_rule=[
            RuleBlocks(rule=r["rule"], blocked=int(r["blocked"]))
            for r in blocks.iter_rows(named=True)
        ],
    )

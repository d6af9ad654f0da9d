"""The teams file: who can work which collection cases, how many, and the allocation rules.

The format (a stable interface; ``default_teams.yaml`` is a commented example)::

    buckets: [M0, M1, M2, M3, M4, M5, M6, M7+]   # optional; the default delinquency buckets
    teams:
      - {id: T-EARLY, name: Early collections}
    collectors:
      - id: C001
        name: Wang Fang
        team: T-EARLY
        daily_capacity: 40          # most new cases a day (assigned or rotated to them)
        max_open_cases: 400         # most open cases at once, kept ones included
        skills:
          languages: [zh, en]       # the first is the collector's first language
          buckets: {from: M1, to: M2}
          products: all             # or a list of product ids
        working_days: [mon, tue, wed, thu, fri]   # optional; Monday to Friday
    agencies:                       # outside collection agencies (委外)
      - id: AG1
        name: Huaxia Recovery
        capacity: 3000              # most open cases at once
        buckets: {from: M4, to: M7+}
        commission: {M4: "0.18", M5: "0.22", M6: "0.25", M7+: "0.30"}
        products: all               # optional
        recall_after_days: 90       # optional; else rules.recall_after_days
        # An agency whose buckets start before rules.agency_from_bucket takes those earlier
        # cases only when the strategy's queue for the case is "agency".
    rules:
      method: even_count            # even_count | even_balance | skill
      continuity: true              # keep a case with its collector while it works
      rotate_after_days: 30         # optional; rotate after N days without progress
      agency_from_bucket: M4        # required when there are agencies
      recall_after_days: 90         # optional; recall from an agency after N days without progress

Rates are quoted decimal text (``"0.18"``), never YAML floats, so they stay exact. Collector
and agency ids share one namespace, because a case's owner is named by its id alone. Every
error names the file, the line and the field, and a file with any error is rejected whole:
nothing downstream ever sees a half-valid configuration.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from recoup.money import MoneyError, parse_rate
from recoup.products import DEFAULT_BUCKETS
from recoup.yamlfile import (
    FieldReader,
    LocatedYaml,
    YamlPath,
    load_located,
    read_text_file,
)

#: The days of the week as the file names them, Monday first (``date.weekday()`` order).
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WORKING_DAYS: frozenset[int] = frozenset(range(5))
DEFAULT_BUCKET_NAMES: tuple[str, ...] = tuple(b.name for b in DEFAULT_BUCKETS)
#: A ``queue`` value (from the strategy) that asks for agency placement whatever the bucket.
AGENCY_QUEUE = "agency"


class Method(enum.StrEnum):
    """How new and rotated cases are spread over the collectors who can take them."""

    EVEN_COUNT = "even_count"  # even number of open cases per collector
    EVEN_BALANCE = "even_balance"  # even total balance per collector
    SKILL = "skill"  # the best-matching collector first, evenly among equals


class OwnerKind(enum.StrEnum):
    COLLECTOR = "collector"
    AGENCY = "agency"


@dataclass(frozen=True, slots=True)
class BucketRange:
    """The buckets ``first`` to ``last`` inclusive; ``lo``/``hi`` are their positions."""

    first: str
    last: str
    lo: int
    hi: int

    def covers(self, position: int) -> bool:
        return self.lo <= position <= self.hi

    def __str__(self) -> str:
        return self.first if self.first == self.last else f"{self.first}–{self.last}"


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Collector:
    id: str
    name: str
    team: str
    daily_capacity: int
    max_open_cases: int
    languages: tuple[str, ...]  # the first is the collector's first language
    buckets: BucketRange
    products: frozenset[str] | None  # None: every product
    working_days: frozenset[int]  # 0 = Monday

    def works_on(self, weekday: int) -> bool:
        return weekday in self.working_days

    def can_take(
        self, bucket_position: int, product: str, language: str | None, team: str | None
    ) -> bool:
        """Whether this collector's skills (and team, when the strategy names one) fit a case."""
        return (
            self.buckets.covers(bucket_position)
            and (self.products is None or product in self.products)
            and (language is None or language in self.languages)
            and (team is None or team == self.team)
        )


@dataclass(frozen=True, slots=True)
class Agency:
    id: str
    name: str
    capacity: int  # most open cases at once
    buckets: BucketRange
    commission: Mapping[str, Decimal]  # bucket -> rate of the amount recovered
    products: frozenset[str] | None  # None: every product
    recall_after_days: int | None  # None: the rules' recall_after_days

    def can_take(self, bucket_position: int, product: str) -> bool:
        return self.buckets.covers(bucket_position) and (
            self.products is None or product in self.products
        )


@dataclass(frozen=True, slots=True)
class Rules:
    method: Method
    continuity: bool
    rotate_after_days: int | None  # None: never rotate
    agency_from_bucket: str | None  # None: no agencies, nothing is placed
    recall_after_days: int | None  # None: agencies keep their cases until they leave the range


@dataclass(frozen=True, slots=True)
class TeamsConfig:
    """A validated teams file. ``digest`` identifies the file's text, for the run's record."""

    teams: tuple[Team, ...]
    collectors: tuple[Collector, ...]
    agencies: tuple[Agency, ...]
    rules: Rules
    buckets: tuple[str, ...] = DEFAULT_BUCKET_NAMES
    source: str = "<teams>"
    digest: str = ""

    def bucket_position(self, name: str) -> int | None:
        try:
            return self.buckets.index(name)
        except ValueError:
            return None

    @property
    def agency_from_position(self) -> int | None:
        if self.rules.agency_from_bucket is None:
            return None
        return self.bucket_position(self.rules.agency_from_bucket)

    def agency_recall_days(self, agency: Agency) -> int | None:
        if agency.recall_after_days is not None:
            return agency.recall_after_days
        return self.rules.recall_after_days


def load_teams(path: Path, known_products: Collection[str] | None = None) -> TeamsConfig:
    """Read and validate a teams file (see the module docstring for the format).

    ``known_products``, when given, are the product ids a collector's or agency's
    ``products`` may name; a typo then fails instead of silently matching no case.
    Raises :class:`YamlFileError` naming the file, line and field.
    """
    text = read_text_file(path)
    return parse_teams(text, str(path), known_products)


def parse_teams(
    text: str, source: str = "<teams>", known_products: Collection[str] | None = None
) -> TeamsConfig:
    """Validate the text of a teams file named ``source`` in messages."""
    located = load_located(text, source)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return _Reader(located, known_products).config(digest)


_TOP = {"buckets", "teams", "collectors", "agencies", "rules"}
_COLLECTOR = {
    "id",
    "name",
    "team",
    "daily_capacity",
    "max_open_cases",
    "skills",
    "working_days",
}
_SKILLS = {"languages", "buckets", "products"}
_AGENCY = {"id", "name", "capacity", "buckets", "commission", "products", "recall_after_days"}
_RULES = {"method", "continuity", "rotate_after_days", "agency_from_bucket", "recall_after_days"}
_MAX_COUNT = 10_000_000  # a sanity bound on capacities
_MAX_DAYS = 3650


class _Reader(FieldReader):
    """Walks the parsed document; every check raises an error naming line and field."""

    def __init__(self, located: LocatedYaml, known_products: Collection[str] | None) -> None:
        super().__init__(located)
        self.known_products = None if known_products is None else frozenset(known_products)
        self.buckets: tuple[str, ...] = DEFAULT_BUCKET_NAMES

    # ------------------------------------------------------------------ shapes

    def optional_days(self, body: Mapping[str, Any], key: str, path: YamlPath) -> int | None:
        value = body.get(key)
        if value is None:
            return None
        return self.count(value, (*path, key), minimum=1, maximum=_MAX_DAYS)

    def bucket(self, value: Any, path: YamlPath) -> int:
        if not isinstance(value, str) or value not in self.buckets:
            raise self.fail(
                path, f"must be one of the buckets {_join(self.buckets)}, got {value!r}"
            )
        return self.buckets.index(value)

    def bucket_range(self, value: Any, path: YamlPath) -> BucketRange:
        body = self.mapping(value, path, {"from", "to"}, {"from", "to"})
        lo = self.bucket(body["from"], (*path, "from"))
        hi = self.bucket(body["to"], (*path, "to"))
        if hi < lo:
            raise self.fail((*path, "to"), f"{body['to']} comes before {body['from']}")
        return BucketRange(self.buckets[lo], self.buckets[hi], lo, hi)

    def products(self, value: Any, path: YamlPath) -> frozenset[str] | None:
        if value == "all":
            return None
        names = self.items(value, path, non_empty=True)
        result: set[str] = set()
        for i, item in enumerate(names):
            name = self.text(item, (*path, i))
            if self.known_products is not None and name not in self.known_products:
                raise self.fail((*path, i), f"no product named {name!r}")
            if name in result:
                raise self.fail((*path, i), f"{name!r} is listed twice")
            result.add(name)
        return frozenset(result)

    def rate(self, value: Any, path: YamlPath) -> Decimal:
        if isinstance(value, float):
            raise self.fail(path, f'write the rate as quoted text ("{value}") so it stays exact')
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(path, f'must be a rate as quoted text such as "0.18", got {value!r}')
        try:
            rate = parse_rate(value)
        except MoneyError as exc:
            raise self.fail(path, str(exc)) from None
        if rate > 1:
            raise self.fail(path, f"must be at most 1 (100%), got {value!r}")
        return rate

    # ------------------------------------------------------------------ sections

    def config(self, digest: str) -> TeamsConfig:
        root = self.mapping(self.located.data, (), {"teams", "collectors", "rules"}, _TOP)
        if "buckets" in root:
            self.buckets = self.bucket_names(root["buckets"])
        teams = self.teams(root["teams"])
        collectors = self.collectors(root["collectors"], {t.id for t in teams})
        agencies = self.agencies(root.get("agencies") or [])
        rules = self.rules(root["rules"], has_agencies=bool(agencies))
        taken = {c.id: ("collectors", i) for i, c in enumerate(collectors)}
        for i, agency in enumerate(agencies):
            if agency.id in taken:
                raise self.fail(("agencies", i, "id"), f"{agency.id!r} is already a collector's id")
        return TeamsConfig(
            teams=teams,
            collectors=collectors,
            agencies=agencies,
            rules=rules,
            buckets=self.buckets,
            source=self.located.source,
            digest=digest,
        )

    def bucket_names(self, value: Any) -> tuple[str, ...]:
        names = self.items(value, ("buckets",), non_empty=True)
        result: list[str] = []
        for i, item in enumerate(names):
            name = self.text(item, ("buckets", i))
            if name in result:
                raise self.fail(("buckets", i), f"{name!r} is listed twice")
            result.append(name)
        return tuple(result)

    def teams(self, value: Any) -> tuple[Team, ...]:
        teams: list[Team] = []
        for i, raw in enumerate(self.items(value, ("teams",), non_empty=True)):
            path: YamlPath = ("teams", i)
            body = self.mapping(raw, path, {"id", "name"}, {"id", "name"})
            team = Team(
                self.text(body["id"], (*path, "id")), self.text(body["name"], (*path, "name"))
            )
            if any(t.id == team.id for t in teams):
                raise self.fail((*path, "id"), f"team {team.id!r} is declared twice")
            teams.append(team)
        return tuple(teams)

    def collectors(self, value: Any, team_ids: set[str]) -> tuple[Collector, ...]:
        collectors: list[Collector] = []
        for i, raw in enumerate(self.items(value, ("collectors",), non_empty=True)):
            path: YamlPath = ("collectors", i)
            body = self.mapping(raw, path, _COLLECTOR - {"working_days"}, _COLLECTOR)
            collector_id = self.text(body["id"], (*path, "id"))
            if any(c.id == collector_id for c in collectors):
                raise self.fail((*path, "id"), f"collector {collector_id!r} is declared twice")
            team = self.text(body["team"], (*path, "team"))
            if team not in team_ids:
                raise self.fail((*path, "team"), f"no team {team!r}; teams: {_join(team_ids)}")
            daily = self.count(
                body["daily_capacity"], (*path, "daily_capacity"), minimum=0, maximum=_MAX_COUNT
            )
            max_open = self.count(
                body["max_open_cases"], (*path, "max_open_cases"), minimum=0, maximum=_MAX_COUNT
            )
            skills_path: YamlPath = (*path, "skills")
            skills = self.mapping(body["skills"], skills_path, _SKILLS, _SKILLS)
            languages = self.languages(skills["languages"], (*skills_path, "languages"))
            collectors.append(
                Collector(
                    id=collector_id,
                    name=self.text(body["name"], (*path, "name")),
                    team=team,
                    daily_capacity=daily,
                    max_open_cases=max_open,
                    languages=languages,
                    buckets=self.bucket_range(skills["buckets"], (*skills_path, "buckets")),
                    products=self.products(skills["products"], (*skills_path, "products")),
                    working_days=self.working_days(body, path),
                )
            )
        return tuple(collectors)

    def languages(self, value: Any, path: YamlPath) -> tuple[str, ...]:
        result: list[str] = []
        for i, item in enumerate(self.items(value, path, non_empty=True)):
            code = self.text(item, (*path, i))
            if code != code.lower() or not code.replace("-", "").isalpha():
                raise self.fail(
                    (*path, i), f"a language is a lower-case code such as zh, got {code!r}"
                )
            if code in result:
                raise self.fail((*path, i), f"{code!r} is listed twice")
            result.append(code)
        return tuple(result)

    def working_days(self, body: Mapping[str, Any], path: YamlPath) -> frozenset[int]:
        if "working_days" not in body:
            return DEFAULT_WORKING_DAYS
        days_path: YamlPath = (*path, "working_days")
        days: set[int] = set()
        for i, item in enumerate(self.items(body["working_days"], days_path, non_empty=True)):
            if item not in WEEKDAYS:
                raise self.fail(
                    (*days_path, i), f"days are {_join(WEEKDAYS, sort=False)}, got {item!r}"
                )
            if WEEKDAYS.index(item) in days:
                raise self.fail((*days_path, i), f"{item!r} is listed twice")
            days.add(WEEKDAYS.index(item))
        return frozenset(days)

    def agencies(self, value: Any) -> tuple[Agency, ...]:
        agencies: list[Agency] = []
        for i, raw in enumerate(self.items(value, ("agencies",), non_empty=False)):
            path: YamlPath = ("agencies", i)
            required = _AGENCY - {"products", "recall_after_days"}
            body = self.mapping(raw, path, required, _AGENCY)
            agency_id = self.text(body["id"], (*path, "id"))
            if any(a.id == agency_id for a in agencies):
                raise self.fail((*path, "id"), f"agency {agency_id!r} is declared twice")
            buckets = self.bucket_range(body["buckets"], (*path, "buckets"))
            agencies.append(
                Agency(
                    id=agency_id,
                    name=self.text(body["name"], (*path, "name")),
                    capacity=self.count(
                        body["capacity"], (*path, "capacity"), minimum=0, maximum=_MAX_COUNT
                    ),
                    buckets=buckets,
                    commission=self.commission(body["commission"], (*path, "commission"), buckets),
                    products=self.products(body.get("products", "all"), (*path, "products")),
                    recall_after_days=self.optional_days(body, "recall_after_days", path),
                )
            )
        return tuple(agencies)

    def commission(self, value: Any, path: YamlPath, buckets: BucketRange) -> dict[str, Decimal]:
        in_range = self.buckets[buckets.lo : buckets.hi + 1]
        if not isinstance(value, Mapping):
            raise self.fail(
                path, f'must map each bucket {_join(in_range, sort=False)} to a rate such as "0.18"'
            )
        rates: dict[str, Decimal] = {}
        for key, raw in value.items():
            name = str(key)
            if name not in in_range:
                raise self.fail(
                    (*path, name),
                    f"not one of the agency's buckets {_join(in_range, sort=False)}",
                )
            rates[name] = self.rate(raw, (*path, name))
        missing = [b for b in in_range if b not in rates]
        if missing:
            raise self.fail(path, f"no rate for bucket(s) {_join(missing, sort=False)}")
        return {b: rates[b] for b in in_range}

    def rules(self, value: Any, *, has_agencies: bool) -> Rules:
        path: YamlPath = ("rules",)
        body = self.mapping(value, path, {"method", "continuity"}, _RULES)
        try:
            method = Method(body["method"])
        except ValueError:
            raise self.fail(
                (*path, "method"),
                f"must be one of {_join([m.value for m in Method], sort=False)}, "
                f"got {body['method']!r}",
            ) from None
        continuity = body["continuity"]
        if not isinstance(continuity, bool):
            raise self.fail((*path, "continuity"), f"must be true or false, got {continuity!r}")
        agency_from: str | None = None
        if body.get("agency_from_bucket") is not None:
            position = self.bucket(body["agency_from_bucket"], (*path, "agency_from_bucket"))
            agency_from = self.buckets[position]
        elif has_agencies:
            raise self.fail(
                (*path, "agency_from_bucket"),
                "missing; agencies are listed, so say from which bucket cases are placed",
            )
        return Rules(
            method=method,
            continuity=continuity,
            rotate_after_days=self.optional_days(body, "rotate_after_days", path),
            agency_from_bucket=agency_from,
            recall_after_days=self.optional_days(body, "recall_after_days", path),
        )


def percent_text(rate: Decimal) -> str:
    """A rate as a percentage: ``Decimal("0.18")`` -> ``18%``, ``Decimal("0.185")`` -> ``18.5%``."""
    return f"{(rate * 100).normalize():f}%"


def _join(names: Collection[str] | Sequence[str], *, sort: bool = True) -> str:
    values = sorted(names) if sort else list(names)
    return ", ".join(values)

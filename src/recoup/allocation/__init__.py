"""Allocation (分案): putting each open collection case in front of a collector or an agency.

A teams file (:mod:`recoup.allocation.config`) declares the teams, collectors, outside
agencies and rules; :func:`allocate` decides every case's owner for a day with continuity,
rotation, agency placement and recall, exact capacities and a balancing rule solved by
min-cost flow (:mod:`recoup.allocation.solver`); every decision carries its reason, and
:func:`summarise` totals the result per owner. Pure: no database, no files except the teams
file a caller asks to load, no clock.
"""

from importlib import resources
from pathlib import Path

from recoup.allocation.allocate import (
    ALLOCATION_COLUMNS,
    CASE_COLUMNS,
    OPTIONAL_CASE_COLUMNS,
    Allocation,
    AllocationInputError,
    Decision,
    allocate,
)
from recoup.allocation.config import (
    AGENCY_QUEUE,
    Agency,
    BucketRange,
    Collector,
    Method,
    OwnerKind,
    Rules,
    Team,
    TeamsConfig,
    load_teams,
    parse_teams,
)
from recoup.allocation.explain import SUMMARY_COLUMNS, describe_teams, format_summary, summarise


def default_teams_path() -> Path:
    """The example teams file shipped with Recoup and used by ``recoup demo``."""
    return Path(str(resources.files("recoup.allocation") / "default_teams.yaml"))


__all__ = [
    "AGENCY_QUEUE",
    "ALLOCATION_COLUMNS",
    "CASE_COLUMNS",
    "OPTIONAL_CASE_COLUMNS",
    "SUMMARY_COLUMNS",
    "Agency",
    "Allocation",
    "AllocationInputError",
    "BucketRange",
    "Collector",
    "Decision",
    "Method",
    "OwnerKind",
    "Rules",
    "Team",
    "TeamsConfig",
    "allocate",
    "default_teams_path",
    "describe_teams",
    "format_summary",
    "load_teams",
    "parse_teams",
    "summarise",
]

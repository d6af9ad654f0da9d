"""Allocation (分案): putting each open collection case in front of a collector or an agency.

A teams file (:mod:`recoup.allocation.config`) declares the teams, collectors, outside
agencies and rules; :func:`allocate` decides every case's owner for a day with continuity,
rotation, agency placement and recall, exact capacities and a balancing rule solved by
min-cost flow (:mod:`recoup.allocation.solver`); every decision carries its reason, and
:func:`summarise` totals the result per owner; :func:`judge_reassignment` judges a team lead's
move of one case between runs by the same file. Pure: no database, no files except the teams
file a caller asks to load, no clock.
"""

from collections.abc import Mapping
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
from recoup.allocation.reassign import (
    CaseToMove,
    Reassignment,
    ReassignmentRefused,
    UnknownOwner,
    judge_reassignment,
)


def default_teams_path() -> Path:
    """The example teams file shipped with Recoup and used by ``recoup demo``."""
    return Path(str(resources.files("recoup.allocation") / "default_teams.yaml"))


def teams_path_in_force(environ: Mapping[str, str]) -> Path:
    """The operation's teams file: ``RECOUP_TEAMS`` when set, else the shipped example. The
    nightly allocation, ``recoup allocate`` and a team lead's reassignment read the same
    file, so a reassignment is judged by the rules the next run applies."""
    return Path(environ["RECOUP_TEAMS"]) if environ.get("RECOUP_TEAMS") else default_teams_path()


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
    "CaseToMove",
    "Collector",
    "Decision",
    "Method",
    "OwnerKind",
    "Reassignment",
    "ReassignmentRefused",
    "Rules",
    "Team",
    "TeamsConfig",
    "UnknownOwner",
    "allocate",
    "default_teams_path",
    "describe_teams",
    "format_summary",
    "judge_reassignment",
    "load_teams",
    "parse_teams",
    "summarise",
    "teams_path_in_force",
]

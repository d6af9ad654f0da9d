"""Setting up the workbench: the demo users a fresh store gets, and what ``recoup serve``
checks before it starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from recoup.store import tables as t
from recoup.web.security import Role, new_password
from recoup.web.users import add_user


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: Role
    owner_id: str | None
    display_name: str


def demo_users(engine: Engine) -> tuple[DemoUser, ...]:
    """One user per role; the collector works the collector with the most open cases (so the
    queue is not empty), the agency collector the agency with the most."""
    c = t.cases
    with engine.connect() as conn:

        def busiest(kind: str) -> str | None:
            row = conn.execute(
                sa.select(c.c.owner)
                .where(c.c.status == "open", c.c.owner_kind == kind, c.c.owner.is_not(None))
                .group_by(c.c.owner)
                .order_by(sa.func.count().desc(), c.c.owner)
                .limit(1)
            ).first()
            return None if row is None else str(row[0])

        collector = busiest("collector") or "C001"
        agency = busiest("agency") or "AG01"
    return (
        DemoUser("collector", Role.COLLECTOR, collector, f"Demo collector ({collector})"),
        DemoUser("agency", Role.AGENCY_COLLECTOR, agency, f"Demo agency collector ({agency})"),
        DemoUser("lead", Role.TEAM_LEAD, None, "Demo team lead"),
        DemoUser("strategist", Role.STRATEGY_MANAGER, None, "Demo strategy manager"),
        DemoUser("analyst", Role.RISK_ANALYST, None, "Demo risk analyst"),
        DemoUser("compliance", Role.COMPLIANCE_OFFICER, None, "Demo compliance officer"),
        DemoUser("admin", Role.ADMIN, None, "Demo administrator"),
    )


def has_users(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.users.c.user_key).limit(1)).first() is not None


def create_demo_users(engine: Engine) -> list[tuple[DemoUser, str]]:
    """Create the demo users with random passwords; returns each with its password, which is
    shown once and stored only as its hash."""
    created = []
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for user in demo_users(engine):
            password = new_password()
            add_user(
                conn,
                user.username,
                password,
                user.role,
                display_name=user.display_name,
                owner_id=user.owner_id,
                by="recoup serve",
                now=now,
            )
            created.append((user, password))
    return created

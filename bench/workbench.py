"""Workbench load: the queue and the account page under concurrent users.

    python bench/workbench.py --database-url postgresql://postgres@127.0.0.1:5432/test \\
        [--accounts 100000] [--users 50] [--seconds 60]

With an empty store it first builds one: the demo portfolio of ``--accounts`` accounts
(simulated, imported, closed, scored, worked by the strategy and allocated: ``recoup demo``'s
steps), and staffs it with ``--collectors`` synthetic collectors when the demo's ten are
too few for its size (see :func:`_staff`). Then it starts the workbench (``uvicorn``,
``--workers`` processes) on a free port, creates a collector user for each of the ``--users``
busiest collectors plus a team lead, and runs ``--users`` concurrent clients for
``--seconds``: each logs in, then loops over its queue (``GET /api/v1/queue``) and the
accounts in it (``GET /api/v1/accounts/{id}``), waiting ``--think`` seconds between requests
(0: back to back, the worst case). The users arrive spread over the first think time. Latencies are
measured by the clients, end to end. It prints p50/p95/p99 per endpoint and the throughput.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _staff(engine: object, collectors: int) -> None:
    """Give the book an operation of its size. The demo's teams (ten collectors, most working
    Monday to Friday) own a few thousand cases at most, so at scale most open cases would have
    no owner and a collector's queue would not be a collector's day. Unless the last closed
    day's allocation already used it, that allocation is run again with ``collectors``
    synthetic collectors and six agencies (the allocation benchmark's operation, with
    first-allocation capacities, every collector on the rota that day), as a bank working a
    book of this size staffs it."""
    import dataclasses
    import json

    import sqlalchemy as sa

    from recoup.close import last_closed_day
    from recoup.collection.allocation_run import run_allocation
    from recoup.store import tables as t

    sys.path.insert(0, str(ROOT))
    from tests.allocation_cases import synthetic_teams

    assert isinstance(engine, sa.Engine)
    synthetic = synthetic_teams(collectors, 6, initial_load=True)
    # The store's products by their simulated names, and a rota that covers every day of the
    # week: the queue is measured on the day the store was closed, whatever day that is.
    products = {"card": "card-fenqi", "cash": "cash-loan", "reno": "reno-loan"}
    config = dataclasses.replace(
        synthetic,
        collectors=tuple(
            dataclasses.replace(
                c,
                products=None if c.products is None else frozenset(products[p] for p in c.products),
                working_days=frozenset(range(7)),
            )
            for c in synthetic.collectors
        ),
        digest=f"bench-workbench-{collectors}-{synthetic.digest}",
    )
    r = t.collection_runs
    with engine.connect() as conn:
        as_of = last_closed_day(conn)
        inputs = conn.execute(
            sa.select(r.c.inputs)
            .where(r.c.kind == "allocation", r.c.as_of == as_of)
            .order_by(r.c.run_id.desc())
            .limit(1)
        ).scalar()
    if as_of is None or (inputs and json.loads(inputs).get("teams_sha256") == config.digest):
        return
    clock = time.perf_counter()
    run_allocation(engine, config, as_of)
    print(
        f"allocated with {collectors} synthetic collectors in {time.perf_counter() - clock:.0f} s"
    )


def _prepare(url: str, accounts: int, collectors: int) -> list[str]:
    """Build the store if it is empty; create the users; return the collectors' usernames."""
    from datetime import UTC, date, datetime

    import sqlalchemy as sa

    from recoup.close import last_closed_day
    from recoup.store import tables as t
    from recoup.store.engine import open_store

    os.environ["RECOUP_DATABASE_URL"] = url
    engine = open_store(url)
    with engine.connect() as conn:
        empty = last_closed_day(conn) is None
    if empty:
        from recoup.allocation import default_teams_path, load_teams
        from recoup.close import close_through
        from recoup.collection.allocation_run import run_allocation
        from recoup.collection.daily import run_daily_strategy
        from recoup.importer import import_directory
        from recoup.simulator import simulate_portfolio, write_portfolio
        from recoup.strategy import load_default_strategy

        clock = time.perf_counter()
        as_of = date.today()
        files = ROOT / "bench" / "out-workbench"
        write_portfolio(simulate_portfolio(accounts, 7, as_of), files)
        import_directory(engine, files, show_progress=False)
        close_through(engine, as_of)
        run_daily_strategy(engine, load_default_strategy(), as_of)
        run_allocation(engine, load_teams(default_teams_path()), as_of)
        print(f"built the store: {accounts:,} accounts in {time.perf_counter() - clock:.0f} s")
    from recoup.web.users import add_user

    c, u = t.cases, t.users
    _staff(engine, collectors)
    with engine.begin() as conn:
        owners = (
            conn.execute(
                sa.select(c.c.owner)
                .where(c.c.status == "open", c.c.owner_kind == "collector")
                .group_by(c.c.owner)
                .order_by(sa.func.count().desc())
            )
            .scalars()
            .all()
        )
        existing = set(conn.execute(sa.select(u.c.username)).scalars())
        names = []
        for owner in owners:
            name = f"bench-{owner}".lower()
            if name not in existing:
                add_user(conn, name, PASSWORD, "collector", owner_id=owner, now=datetime.now(UTC))
            names.append(name)
        if "bench-lead" not in existing:
            add_user(conn, "bench-lead", PASSWORD, "team_lead", now=datetime.now(UTC))
        cases = conn.execute(
            sa.select(sa.func.count()).select_from(c).where(c.c.status == "open")
        ).scalar_one()
        total = conn.execute(sa.select(sa.func.count()).select_from(t.accounts)).scalar_one()
    print(f"store: {total:,} accounts, {cases:,} open cases, {len(owners)} collectors with cases")
    return names


async def _login(http: object, username: str) -> dict[str, str]:
    import httpx

    assert isinstance(http, httpx.AsyncClient)
    login = await http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['token']}"}


async def _client(
    http: object,
    headers: dict[str, str],
    start: float,
    until: float,
    think: float,
    samples: dict[str, list[float]],
) -> None:
    import httpx

    assert isinstance(http, httpx.AsyncClient)
    await asyncio.sleep(start)
    while time.perf_counter() < until:
        clock = time.perf_counter()
        queue = await http.get("/api/v1/queue", params={"limit": 20}, headers=headers)
        samples["queue"].append(time.perf_counter() - clock)
        queue.raise_for_status()
        await asyncio.sleep(think)
        for case in queue.json()["cases"][:5]:
            if time.perf_counter() >= until:
                break
            clock = time.perf_counter()
            page = await http.get(f"/api/v1/accounts/{case['account_id']}", headers=headers)
            samples["account"].append(time.perf_counter() - clock)
            page.raise_for_status()
            await asyncio.sleep(think)


async def _load(
    base: str, users: list[str], seconds: float, think: float
) -> dict[str, list[float]]:
    """Every user logs in first (Argon2 makes logins deliberately slow, and they are not
    what is measured); then the clock starts."""
    import httpx

    samples: dict[str, list[float]] = {"queue": [], "account": []}
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        tokens = [await _login(http, name) for name in users]
        until = time.perf_counter() + seconds
        # Users arrive spread over one think time, as a ramp-up does, rather than all in the
        # same millisecond (a burst no real team makes); with no think time they start at once.
        starts = [think * n / len(tokens) for n in range(len(tokens))]
        await asyncio.gather(
            *(
                _client(http, h, s, until, think, samples)
                for h, s in zip(tokens, starts, strict=True)
            )
        )
    return samples


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument(
        "--collectors",
        type=int,
        default=300,
        help="the operation's size when the demo's is too small",
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds a user waits between requests"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    collectors = _prepare(args.database_url, args.accounts, args.collectors)
    if not collectors:
        print("no collector has open cases: nothing to load")
        return 1
    users = [collectors[i % len(collectors)] for i in range(args.users)]
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recoup.cli.main",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=os.environ | {"RECOUP_DATABASE_URL": args.database_url, "RECOUP_LOG_LEVEL": "WARNING"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(100):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        clock = time.perf_counter()
        samples = asyncio.run(_load(base, users, args.seconds, args.think))
        elapsed = time.perf_counter() - clock
    finally:
        server.terminate()
        server.wait(timeout=30)
    requests = sum(len(v) for v in samples.values())
    print(
        f"{args.users} concurrent users (think {args.think} s) for {elapsed:.0f} s: "
        f"{requests:,} requests, "
        f"{requests / elapsed:.1f} requests/s"
    )
    print("| endpoint | requests | p50 | p95 | p99 | mean |")
    print("|---|---|---|---|---|---|")
    for name, values in samples.items():
        if values:
            print(
                f"| {name} | {len(values):,} | {_percentile(values, 0.5):.0f} ms | "
                f"{_percentile(values, 0.95):.0f} ms | {_percentile(values, 0.99):.0f} ms | "
                f"{statistics.mean(values) * 1000:.0f} ms |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

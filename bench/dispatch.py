"""Benchmark of the outbox's dispatch step: a store with N queued messages, sent at once.

    .venv/bin/python bench/dispatch.py --messages 10000
    .venv/bin/python bench/dispatch.py --messages 10000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/recoup_dispatch

Simulates N accounts (one borrower each), imports them, queues one message per account
(60% SMS to the borrower's phone, 20% e-mail, 20% app push), due before ``now``, and times
:func:`recoup.contact.outbox.dispatch` with an in-memory transport that accepts every
message except about 3% (a retryable failure) and 1% (a rejected address), so every path
of the dispatch is taken. Prints the seconds, the statements the dispatch issued through
SQLAlchemy, the summary and the machine. On PostgreSQL the database is emptied first.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sqlite3
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from recoup.compliance import shipped_profile
from recoup.contact.message import OutboundMessage, SendResult
from recoup.contact.outbox import dispatch
from recoup.importer import import_directory
from recoup.simulator import simulate_portfolio, write_portfolio
from recoup.store import tables as t
from recoup.store.bulk import insert_frame, read_frame
from recoup.store.engine import open_store

AS_OF = datetime(2026, 3, 2, tzinfo=UTC).date()
#: When the dispatch runs: 10:00 in Shanghai on the next day, inside CN-HOURS.
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


class BenchSender:
    """Accepts every message but about 3% (retryable) and 1% (rejected), by the key's hash."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: OutboundMessage) -> SendResult:
        self.calls += 1
        bucket = zlib.crc32(message.idempotency_key.encode()) % 100
        if bucket < 3:
            return SendResult.failed("gateway busy", attempts=1, retryable=True)
        if bucket == 3:
            return SendResult.failed("rejected address", attempts=1, retryable=False)
        return SendResult.accepted(f"gw-{message.idempotency_key}", "accepted", attempts=1)


def _store(url: str | None, accounts: int, folder: Path) -> sa.Engine:
    if url and url.startswith("postgresql"):
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    store = open_store(url or f"sqlite:///{folder / 'dispatch.db'}")
    write_portfolio(simulate_portfolio(accounts, 1, AS_OF), folder / "portfolio")
    import_directory(store, folder / "portfolio", show_progress=False, now=NOW)
    return store


def _queue(store: sa.Engine, count: int) -> None:
    a, b = t.accounts, t.borrowers
    with store.begin() as conn:
        book = read_frame(
            conn,
            sa.select(a.c.account_key, a.c.account_id, b.c.borrower_key)
            .join(b, b.c.borrower_key == a.c.borrower_key)
            .order_by(a.c.account_key)
            .limit(count),
            {"account_key": pl.Int64, "account_id": pl.String, "borrower_key": pl.Int64},
        )
        cp = t.contact_points
        points = read_frame(
            conn,
            sa.select(cp.c.borrower_key, cp.c.kind, cp.c.value).where(cp.c.party == "self"),
            {"borrower_key": pl.Int64, "kind": pl.String, "value": pl.String},
        )
        phone = dict(
            points.filter(pl.col("kind") == "phone").select("borrower_key", "value").rows()
        )
        email = dict(
            points.filter(pl.col("kind") == "email").select("borrower_key", "value").rows()
        )
        rows: list[dict[str, Any]] = []
        due = NOW.astimezone(UTC) - timedelta(minutes=30)
        for n, (account_key, account_id, borrower_key) in enumerate(book.iter_rows()):
            pick = int(hashlib.blake2b(account_id.encode(), digest_size=2).hexdigest(), 16) % 10
            if pick < 2 and borrower_key in email:
                channel, to, subject = "email", email[borrower_key], "您的账单"
            elif pick < 4:
                channel, to, subject = "app_push", f"app:{account_id}", None
            else:
                channel, to, subject = "sms", phone[borrower_key], None
            rows.append(
                {
                    "idempotency_key": f"bench-{n}",
                    "account_key": account_key,
                    "channel": channel,
                    "party": "self",
                    "to_value": to,
                    "template": "bench",
                    "lang": "zh-CN",
                    "subject": subject,
                    "body": "【瑞可】您的账单已逾期，请尽快还款。回复TD退订",
                    "status": "queued",
                    "attempts": 0,
                    "send_at": due,
                    "created_at": due,
                }
            )
        frame = pl.DataFrame(rows).with_columns(
            pl.col("send_at", "created_at").cast(pl.Datetime("us", "UTC"))
        )
        insert_frame(conn, t.messages, frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = _store(args.database_url, args.messages, Path(tmp))
        _queue(store, args.messages)
        statements = 0

        def count(*_: object) -> None:
            nonlocal statements
            statements += 1

        sender = BenchSender()
        senders = {"sms": sender, "email": sender, "app_push": sender}
        sa.event.listen(store, "before_cursor_execute", count)
        began = time.perf_counter()
        summary = dispatch(store, senders, shipped_profile("cn"), NOW)
        seconds = time.perf_counter() - began
        sa.event.remove(store, "before_cursor_execute", count)
        store.dispose()

    print(summary.describe())
    print(
        f"{args.messages:,} messages: dispatch {seconds:.2f} s "
        f"({seconds / args.messages * 1000:.2f} ms per message), "
        f"{statements:,} statements through SQLAlchemy, {sender.calls:,} transport calls"
    )
    database = "PostgreSQL" if args.database_url else f"SQLite {sqlite3.sqlite_version}"
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, Polars {pl.__version__}, {database}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The close's rules on Apache Spark (local[2]) give exactly the local kernel's results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from recoup.close import close_through, recompute_all
from recoup.close.spark import run_rules_on_spark, spark_session
from recoup.ledger.kernel import effective_payments, run_rules
from recoup.store.engine import open_store
from tests.differential.portfolio import PRODUCTS, kernel_frames, random_portfolio, started
from tests.integration.ledger_rows import stored_ledger
from tests.integration.test_close import _load

FIRST_DAY = date(2025, 1, 1)


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = spark_session("local[2]")
    yield session
    session.stop()


def test_spark__partitioned_rules_equal_the_local_kernel(spark: object) -> None:
    portfolio = random_portfolio(21, accounts=400, first_day=FIRST_DAY, days=300)
    installments, accounts, payments = kernel_frames(portfolio)
    as_of = FIRST_DAY + timedelta(days=300)
    arguments = (
        started(installments, as_of),
        accounts,
        effective_payments(payments, as_of),
        PRODUCTS.products,
        as_of,
    )
    local = run_rules(*arguments, snapshot_days=[date(2025, 6, 30)])
    distributed = run_rules_on_spark(
        spark,  # type: ignore[arg-type]
        *arguments,
        snapshot_days=[date(2025, 6, 30)],
        partitions=5,
    )
    for name in ("installments", "accounts", "charges", "moves", "snapshots"):
        mine, theirs = getattr(local, name), getattr(distributed, name)
        columns = mine.columns
        assert mine.height > 0, name
        assert mine.sort(columns).equals(theirs.select(columns).sort(columns)), name


def test_spark__a_close_on_spark_stores_the_same_ledger(spark: object, tmp_path: Path) -> None:
    portfolio = random_portfolio(22, accounts=150, first_day=FIRST_DAY, days=200)
    local_store = open_store(f"sqlite:///{tmp_path / 'local.db'}")
    spark_store = open_store(f"sqlite:///{tmp_path / 'spark.db'}")
    _load(local_store, tmp_path, portfolio, "local")
    _load(spark_store, tmp_path, portfolio, "spark")
    through = FIRST_DAY + timedelta(days=200)
    close_through(local_store, through - timedelta(days=30))
    close_through(local_store, through)
    rules = partial(run_rules_on_spark, spark, partitions=3)
    close_through(spark_store, through - timedelta(days=30), rules=rules)
    close_through(spark_store, through, rules=rules)
    local, distributed = stored_ledger(local_store), stored_ledger(spark_store)
    assert local[0] == distributed[0]
    assert local[1].sort("plan_id", "period").equals(distributed[1].sort("plan_id", "period"))
    assert (
        local[2]
        .sort("account_id", "moved_on")
        .equals(distributed[2].sort("account_id", "moved_on"))
    )
    with spark_store.connect() as conn:
        assert conn.execute(sa.text("select count(*) from batch_runs")).scalar_one() > 1

    # A full recompute on Spark, in partitions, leaves the same ledger.
    assert len(recompute_all(spark_store, partition_accounts=60, rules=rules)) == 3
    recomputed = stored_ledger(spark_store)
    assert local[0] == recomputed[0]
    assert local[1].sort("plan_id", "period").equals(recomputed[1].sort("plan_id", "period"))

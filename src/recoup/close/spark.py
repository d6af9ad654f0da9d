"""The close's rules on Apache Spark, for portfolios that outgrow one machine.

The rules are not written again: each Spark task runs :func:`recoup.ledger.kernel.run_rules`
on one partition of accounts. The driver writes the kernel's four inputs as Parquet, one
file per account partition (``account_key % partitions``); Spark schedules one task per
partition (``mapInArrow``), which reads its partition with Polars, runs the rules and writes
its six results as Parquet; the driver reads them back. Accounts never share state, so the
partitioned result equals the local one exactly.

The work folder must be visible to the driver and to every executor: a local folder in
``local[N]`` mode, or shared storage (for example an ``s3://`` or ``hdfs://`` path that Polars
can read and write) on a cluster.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from recoup.ledger.kernel import ADJUSTMENT_INPUT, KernelResult, run_rules
from recoup.products.spec import DEFAULT_BUCKETS, Bucket, Product

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_RESULTS = ("installments", "accounts", "charges", "moves", "snapshots", "adjustments")
_INPUTS = ("installments", "accounts", "payments", "adjustments")


def spark_session(master: str = "local[2]") -> SparkSession:
    """A Spark session for the close (``master`` as for ``spark-submit``)."""
    import os

    from pyspark.sql import SparkSession

    # Executors run the same interpreter (and so the same installed recoup) as the driver; on
    # a cluster, install recoup on the executors' Python and set PYSPARK_PYTHON to it.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(master)
        .appName("recoup-close")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        # Executors run the same interpreter (and so the same installed recoup) as the driver;
        # on a cluster, install recoup on the executors' Python.
        .config("spark.pyspark.python", sys.executable)
        .getOrCreate()
    )


def run_rules_on_spark(
    spark: SparkSession,
    installments: pl.DataFrame,
    accounts: pl.DataFrame,
    payments: pl.DataFrame,
    products: Mapping[str, Product],
    through: date,
    buckets: Sequence[Bucket] = DEFAULT_BUCKETS,
    snapshot_days: Sequence[date] = (),
    adjustments: pl.DataFrame | None = None,
    *,
    partitions: int = 8,
    work_folder: str | None = None,
) -> KernelResult:
    """:func:`recoup.ledger.kernel.run_rules`, run by Spark over account partitions."""
    with tempfile.TemporaryDirectory(prefix="recoup-spark-") as scratch:
        root = Path(work_folder or scratch)
        inputs = {
            "installments": installments,
            "accounts": accounts,
            "payments": payments,
            "adjustments": pl.DataFrame(schema=ADJUSTMENT_INPUT)
            if adjustments is None
            else adjustments,
        }
        for name, frame in inputs.items():
            folder = root / "in" / name
            folder.mkdir(parents=True, exist_ok=True)
            tagged = frame.with_columns((pl.col("account_key") % partitions).alias("_part"))
            for part in range(partitions):
                tagged.filter(pl.col("_part") == part).drop("_part").write_parquet(
                    folder / f"{part}.parquet"
                )
        for name in _RESULTS:
            (root / "out" / name).mkdir(parents=True, exist_ok=True)

        task = _PartitionTask(
            str(root), dict(products), through, tuple(buckets), tuple(snapshot_days)
        )
        done = (
            spark.range(partitions, numPartitions=partitions)
            .mapInArrow(task, "part long, rows long")
            .collect()
        )
        if len(done) != partitions:
            raise RuntimeError(f"Spark ran {len(done)} of {partitions} partitions")
        results = [
            pl.concat(
                [pl.read_parquet(root / "out" / name / f"{p}.parquet") for p in range(partitions)]
            )
            for name in _RESULTS
        ]
    installments_out, accounts_out, charges, moves, snapshots, applied = results
    return KernelResult(
        installments_out.sort("account_key", "due_date", "plan_id", "period"),
        accounts_out.sort("account_key"),
        charges.sort("account_key", "plan_key", "period", "kind"),
        moves.sort("account_key", "moved_on"),
        snapshots.sort("account_key", "as_of"),
        applied.sort("adjustment_key"),
    )


class _PartitionTask:
    """What each Spark task runs: the rules on the partitions it is given."""

    def __init__(
        self,
        root: str,
        products: dict[str, Product],
        through: date,
        buckets: tuple[Bucket, ...],
        snapshot_days: tuple[date, ...],
    ) -> None:
        self.root = root
        self.products = products
        self.through = through
        self.buckets = buckets
        self.snapshot_days = snapshot_days

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        root = Path(self.root)
        for batch in batches:
            for part in batch.column("id").to_pylist():
                read = {
                    name: pl.read_parquet(root / "in" / name / f"{part}.parquet")
                    for name in _INPUTS
                }
                result = run_rules(
                    read["installments"],
                    read["accounts"],
                    read["payments"],
                    self.products,
                    self.through,
                    self.buckets,
                    self.snapshot_days,
                    read["adjustments"],
                )
                for name in _RESULTS:
                    getattr(result, name).write_parquet(root / "out" / name / f"{part}.parquet")
                yield pa.RecordBatch.from_pydict(
                    {"part": [part], "rows": [result.accounts.height]},
                    schema=pa.schema([("part", pa.int64()), ("rows", pa.int64())]),
                )

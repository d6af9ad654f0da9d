"""A business day's close on a copy of a store that does not fit in memory.

    python bench/cold_day.py STORE.db --through 2026-11-27 --memory-mb 2700 [--repeat 3]

At 10,000,000 accounts the store (57 GB) is more than twice this machine's memory, so a
business day reads most of its pages from the disk; at 1,000,000 (5.3 GB) the store stays in
the page cache, and the day took a twentieth of the time, not a tenth. Building a 10,000,000
store takes well over an hour, so this script reproduces its condition on a smaller one:
each run copies ``STORE`` (a closed SQLite store, checkpointed: no ``-wal`` beside it), drops
the copy's pages from the page cache, and closes ``--through`` in a child process held to
``--memory-mb`` by a memory cgroup, which limits the page cache the child can fill as well
as its own memory. About 2,700 MB for a 1,000,000-account store leaves the cache the share
of the store that 24 GB leaves of 57 GB (a third), beside the close's own 800 MB.

Each run prints its time, the CPU time it used (user and system: the rest of the time it
waited for the disk), the bytes the child read from and wrote to the disk
(``/proc/self/io``; "cancelled" is the part of the written bytes the kernel dropped before
they reached the disk, such as a deleted temporary file's) and its peak memory. ``--code``
closes with another checkout's ``src`` (a ``git worktree`` of a change), so that two versions
of the close can be compared on the same copy. The memory cgroup needs root (cgroup v1 or
v2); without ``--memory-mb`` the child runs unconstrained, still from a cold copy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

BENCH = Path(__file__).resolve().parent
_CGROUP_V1 = Path("/sys/fs/cgroup/memory")
_CGROUP_V2 = Path("/sys/fs/cgroup")
_GROUP = "recoup-cold-day"

# Runs in the child: the close, then what it cost.
_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from datetime import date
from recoup.close import close_through
from recoup.store.engine import create_store_engine

started = time.perf_counter()
results = close_through(create_store_engine(sys.argv[2]), date.fromisoformat(sys.argv[3]))
seconds = time.perf_counter() - started
io = dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "seconds": seconds,
    "accounts": sum(r.accounts for r in results),
    "read_gb": int(io["read_bytes"]) / 1e9,
    "written_gb": int(io["write_bytes"]) / 1e9,
    "cancelled_gb": int(io["cancelled_write_bytes"]) / 1e9,
    "cpu_seconds": usage.ru_utime + usage.ru_stime,
    "sys_seconds": usage.ru_stime,
    "peak_mb": usage.ru_maxrss / 1024,
}))
"""


def _memory_group(limit_mb: int) -> Path:
    """A memory cgroup limited to ``limit_mb``; its ``cgroup.procs`` takes the child."""
    limit = str(limit_mb * 1024 * 1024)
    if _CGROUP_V1.is_dir():
        group = _CGROUP_V1 / _GROUP
        group.mkdir(exist_ok=True)
        (group / "memory.limit_in_bytes").write_text(limit)
    elif (_CGROUP_V2 / "cgroup.controllers").is_file():
        group = _CGROUP_V2 / _GROUP
        group.mkdir(exist_ok=True)
        (group / "memory.max").write_text(limit)
    else:
        raise SystemExit("cold_day: no memory cgroup here; run without --memory-mb")
    return group


def _cold_copy(store: Path, copy: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(store, copy)
    fd = os.open(copy, os.O_RDONLY)
    try:
        os.fsync(fd)
        # Clean pages of the copy leave the page cache: the close starts from the disk.
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a closed, checkpointed SQLite store")
    parser.add_argument("--through", type=date.fromisoformat, required=True)
    parser.add_argument("--memory-mb", type=int, help="the child's memory and page cache")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--code", type=Path, default=BENCH.parent, help="a checkout to run")
    parser.add_argument("--copy", type=Path, help="where the copy goes (default beside STORE)")
    args = parser.parse_args()
    if not args.store.is_file():
        raise SystemExit(f"cold_day: {args.store} is not a file")
    if Path(f"{args.store}-wal").exists():
        raise SystemExit(f"cold_day: {args.store}-wal exists; checkpoint the store first")
    copy = args.copy or args.store.with_name(f"{args.store.stem}-cold.db")
    group = _memory_group(args.memory_mb) if args.memory_mb else None

    def enter_group() -> None:
        if group is not None:
            (group / "cgroup.procs").write_text(str(os.getpid()))

    print(
        "| run | time | CPU | accounts in play | read from disk | written (of which cancelled) "
        "| peak memory |"
    )
    print("|---|---|---|---|---|---|---|")
    day = args.through.isoformat()
    for run in range(1, args.repeat + 1):
        _cold_copy(args.store, copy)
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, str(args.code / "src"), f"sqlite:///{copy}", day],
            check=True,
            capture_output=True,
            text=True,
            preexec_fn=enter_group,
        )
        figures = json.loads(child.stdout.splitlines()[-1])
        print(
            f"| {run} | {figures['seconds']:.1f} s | {figures['cpu_seconds']:.1f} s "
            f"({figures['sys_seconds']:.1f} s system) "
            f"| {figures['accounts']:,} | {figures['read_gb']:.2f} GB "
            f"| {figures['written_gb']:.2f} GB ({figures['cancelled_gb']:.2f} GB) "
            f"| {figures['peak_mb']:,.0f} MB |",
            flush=True,
        )
    for suffix in ("", "-wal", "-shm", ".close-lock"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()

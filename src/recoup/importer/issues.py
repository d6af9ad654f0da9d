"""What is wrong with an import, said so the user can find and fix it.

Each problem is an :class:`ImportIssue` naming the file, the row and the column. Rows are
counted as the user sees them: in a CSV file, ``row`` is the line number in the file, with
the header on line 1, so the first data row is line 2 (this assumes no line breaks inside
quoted fields); in a Parquet file it is the 1-based number of the data row. ``str()`` of an
issue reads ``payments.csv line 7, column amount: more than two decimals: '12.345'``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: An import stops collecting after this many problems; the first ones are usually enough.
MAX_ISSUES = 50


@dataclass(frozen=True, slots=True)
class ImportIssue:
    file: str
    #: CSV: the line number in the file (header = line 1); Parquet: the 1-based row number;
    #: None when the problem is the file as a whole.
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            unit = "row" if self.file.endswith(".parquet") else "line"
            where += f" {unit} {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class ImportFailed(Exception):
    """The import was refused; nothing of it was written. ``errors`` says why."""

    def __init__(self, errors: Iterable[ImportIssue], truncated: bool = False) -> None:
        self.errors: list[ImportIssue] = list(errors)
        self.truncated = truncated
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [str(issue) for issue in self.errors]
        if self.truncated:
            lines.append(f"(stopped after {len(self.errors)} errors)")
        return "\n".join(lines)


class IssueLog:
    """The problems found so far, kept in file and row order, at most ``limit`` of them."""

    def __init__(self, file_order: Iterable[str] = (), limit: int = MAX_ISSUES) -> None:
        self.limit = limit
        self._order = {name: index for index, name in enumerate(file_order)}
        self._issues: list[ImportIssue] = []
        #: Files with a problem of the whole file (unreadable, a missing column ...).
        self.broken_files: set[str] = set()

    def add(self, issue: ImportIssue) -> None:
        self._issues.append(issue)
        if issue.row is None or (issue.row == 1 and not issue.file.endswith(".parquet")):
            self.broken_files.add(issue.file.rsplit(".", 1)[0])

    def extend(self, issues: Iterable[ImportIssue]) -> None:
        for issue in issues:
            self.add(issue)

    def __bool__(self) -> bool:
        return bool(self._issues)

    def __len__(self) -> int:
        return len(self._issues)

    def sorted(self) -> list[ImportIssue]:
        def key(item: tuple[int, ImportIssue]) -> tuple[int, str, int, int]:
            seq, issue = item
            stem = issue.file.rsplit(".", 1)[0]
            return (self._order.get(stem, len(self._order)), issue.file, issue.row or 0, seq)

        return [issue for _, issue in sorted(enumerate(self._issues), key=key)]

    def failure(self) -> ImportFailed:
        ordered = self.sorted()
        return ImportFailed(ordered[: self.limit], truncated=len(ordered) > self.limit)

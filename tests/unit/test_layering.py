"""The capability packages compute; only the edges talk to the database, files and network.

A core module importing an edge (the store, the command line, the close's orchestration) or a
database library would tie the rules to I/O, so that they could no longer be tested alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src" / "recoup"
CORES = [
    "money.py",
    "yamlfile.py",
    "products",
    "ledger",
    "analytics",
    "simulator",
    "strategy",
    "allocation",
    "cases",
    "compliance",
    "risk",
    "arrangements",
]
EDGES = (
    "recoup.store",
    "recoup.cli",
    "recoup.close",
    "recoup.importer",
    "recoup.demo",
    "recoup.collection",
    "recoup.contact",
    "recoup.scoring",
)
IO_LIBRARIES = ("sqlalchemy", "alembic", "psycopg", "smtplib", "urllib", "http")


def _modules() -> list[Path]:
    paths: list[Path] = []
    for core in CORES:
        target = SOURCE / core
        paths.extend([target] if target.is_file() else sorted(target.rglob("*.py")))
    return paths


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SOURCE)))
def test_layering__a_core_module_imports_no_edge_and_no_database(path: Path) -> None:
    forbidden = {
        name for name in _imports(path) if name.startswith(EDGES) or name.startswith(IO_LIBRARIES)
    }
    assert not forbidden, f"{path.relative_to(SOURCE)} imports {sorted(forbidden)}"

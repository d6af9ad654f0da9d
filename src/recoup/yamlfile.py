"""YAML files that people edit by hand, read so that an error can name the line.

Strategy and allocation files are long and nested; "field steps[3].channel" alone makes a
user count list items. :func:`load_located` parses the text (safe YAML only) into plain
Python values and remembers the line of every mapping key and list item, so a validator
can say ``strategy.yaml, line 42, segments[1].path: no path named 'fast'``.

Paths are tuples of keys and list indexes, e.g. ``("segments", 1, "path")``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

YamlPath = tuple[str | int, ...]


class YamlFileError(ValueError):
    """A file that is not valid YAML, or whose content fails validation. The message names
    the file, the line when known, and the field."""


@dataclass(frozen=True, slots=True)
class LocatedYaml:
    """A parsed YAML document and the line (1-based) where each path starts."""

    source: str
    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line_of(self, path: YamlPath) -> int | None:
        """The line of ``path``, or of its nearest enclosing path that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: YamlPath, message: str) -> YamlFileError:
        """An error that names the file, the line and the field: raise it."""
        line = self.line_of(path)
        where = f"{self.source}, line {line}" if line is not None else self.source
        return YamlFileError(f"{where}, {format_path(path) or 'file'}: {message}")


def format_path(path: YamlPath) -> str:
    """``("segments", 1, "path")`` as ``segments[1].path``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def load_located(text: str, source: str) -> LocatedYaml:
    """Parse ``text`` (named ``source`` in messages) keeping every key's and item's line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}, line {mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlFileError(f"{where}: not valid YAML: {problem}") from exc
    lines: dict[YamlPath, int] = {}
    if root is None:
        return LocatedYaml(source, None, lines)
    data = _build(root, (), lines, source)
    return LocatedYaml(source, data, lines)


def load_located_file(path: Path) -> LocatedYaml:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlFileError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise YamlFileError(f"{path}: not UTF-8 text") from exc
    return load_located(text, str(path))


def _build(node: yaml.Node, path: YamlPath, lines: dict[YamlPath, int], source: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in mapping:
                line = key_node.start_mark.line + 1
                raise YamlFileError(
                    f"{source}, line {line}, {format_path((*path, str(key)))}: "
                    "appears twice in the same mapping"
                )
            child = (*path, str(key))
            mapping[key] = _build(value_node, child, lines, source)
            lines[child] = key_node.start_mark.line + 1
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines, source) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    """A scalar node's value, with YAML's safe typing (ints, bools, dates, null)."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()

"""YAML files that people edit by hand, read so that an error can name the line.

Strategy and allocation files are long and nested; "field steps[3].channel" alone makes a
user count list items. :func:`load_located` parses the text (safe YAML only) into plain
Python values and remembers the line of every mapping key and list item, so a validator
can say ``strategy.yaml, line 42, segments[1].path: no path named 'fast'``.

Paths are tuples of keys and list indexes, e.g. ``("segments", 1, "path")``.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping
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


def read_text_file(path: Path) -> str:
    """A configuration file's text; an unreadable or non-UTF-8 file is a YamlFileError that
    names it."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlFileError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise YamlFileError(f"{path}: not UTF-8 text") from exc


def load_located_file(path: Path) -> LocatedYaml:
    return load_located(read_text_file(path), str(path))


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


class FieldReader:
    """The checks every hand-edited file shares: a mapping with its allowed and required
    fields, a list, a text, a true/false, a whole number in a range. Each failure raises an
    error naming the file, the line and the field. A file's own reader subclasses it and adds
    the checks of its domain (buckets, time windows, rule ids ...)."""

    def __init__(self, located: LocatedYaml) -> None:
        self.located = located

    def fail(self, path: YamlPath, message: str) -> YamlFileError:
        return self.located.error(path, message)

    def mapping(
        self, value: Any, path: YamlPath, required: Collection[str], allowed: Collection[str]
    ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            fields = ", ".join(sorted(required)) or "its fields"
            raise self.fail(path, f"must be a mapping with {fields}")
        for key in value:
            if str(key) not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail((*path, str(key)), f"unknown field; allowed: {known}")
        for key in sorted(required):
            if key not in value:
                raise self.fail((*path, key), "missing")
        return {str(k): v for k, v in value.items()}

    def items(self, value: Any, path: YamlPath, *, non_empty: bool) -> list[Any]:
        if not isinstance(value, list) or (non_empty and not value):
            raise self.fail(path, "must be a non-empty list" if non_empty else "must be a list")
        return value

    def text(self, value: Any, path: YamlPath) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be a non-empty text, got {value!r}")
        return value.strip()

    def boolean(self, value: Any, path: YamlPath) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {value!r}")
        return value

    def count(self, value: Any, path: YamlPath, *, minimum: int, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number, got {value!r}")
        if not minimum <= value <= maximum:
            raise self.fail(path, f"must be between {minimum} and {maximum}, got {value}")
        return value

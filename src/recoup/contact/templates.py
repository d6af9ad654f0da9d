"""Message templates: one Jinja2 file per template, language and kind.

Layout: ``<folder>/<lang>/<name>.<kind>.j2``, e.g. ``zh-CN/cn_sms_d1.sms.j2``. ``kind`` is
the form the text takes: ``sms``, ``email``, ``voicemail``, ``letter``, ``app_push``, or
``script`` for what a collector reads on a call (a script is shown, never sent).

Rules, and why:

- A missing variable is an error that names the template and the variable (StrictUndefined):
  a reminder that reads "您的逾期金额为" with the amount left blank is worse than no reminder.
- No autoescaping: the output is plain text (SMS, a plain-text email, a PDF letter), where an
  HTML entity such as ``&amp;`` would reach the borrower verbatim.
- An email template starts with ``Subject: ...`` (letters may, for the letter's title); the
  line is taken off the body.
- No fallback to another language: a borrower gets the language asked for or an error, never
  a silently substituted one.

The content rules for the shipped templates (opt-out text on every SMS and email, limited
content on voicemail, what a collection letter must state) are in docs/compliance.md and are
checked by tests/unit/test_channels_templates.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2 import meta

SHIPPED = Path(__file__).resolve().parent / "templates"

KINDS = ("sms", "email", "voicemail", "letter", "app_push", "script")
LANGS = ("zh-CN", "en")

_SUBJECT = re.compile(r"\ASubject:[ \t]*(?P<subject>[^\r\n]*)\r?\n")


class TemplateError(Exception):
    """A template that does not exist, does not parse, or needs a variable it was not given."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str | None
    body: str


@dataclass(frozen=True, slots=True)
class TemplateId:
    name: str
    lang: str
    kind: str

    @property
    def path(self) -> str:
        return f"{self.lang}/{self.name}.{self.kind}.j2"


class TemplateSet:
    """The templates under one folder (by default the shipped ones)."""

    def __init__(self, folder: Path | str | None = None) -> None:
        self.folder = Path(folder) if folder is not None else SHIPPED
        if not self.folder.is_dir():
            raise TemplateError(f"template folder {self.folder} does not exist")
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.folder, encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def available(self) -> list[TemplateId]:
        """Every template in the folder, sorted by name, language and kind."""
        found: list[TemplateId] = []
        for path in sorted(self.folder.glob("*/*.j2")):
            parts = path.name[: -len(".j2")].rsplit(".", 1)
            if len(parts) == 2 and parts[1] in KINDS:
                found.append(TemplateId(parts[0], path.parent.name, parts[1]))
        return sorted(found, key=lambda t: (t.name, t.lang, t.kind))

    def variables(self, name: str, lang: str, kind: str) -> frozenset[str]:
        """The context variables a template refers to (all branches, not only the taken one)."""
        tid = TemplateId(name, lang, kind)
        source = self._source(tid)
        try:
            return frozenset(meta.find_undeclared_variables(self._env.parse(source)))
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template {tid.path}, line {exc.lineno}: {exc.message}") from exc

    def render(self, name: str, lang: str, kind: str, context: Mapping[str, object]) -> Rendered:
        """The template ``name`` in ``lang`` for ``kind``, filled in with ``context``.

        Raises:
            TemplateError: no such template; a syntax error; a variable missing from
                ``context`` (the message names the template and the variable); an email
                template without its ``Subject:`` line.
        """
        tid = TemplateId(name, lang, kind)
        for part, value in (("name", name), ("lang", lang)):
            # Names come from strategy files; keep them inside the template folder.
            if not value or value.startswith(".") or "/" in value or "\\" in value:
                raise TemplateError(f"template {part} {value!r} is not a plain name")
        if kind not in KINDS:
            raise TemplateError(
                f"template {name!r}: unknown kind {kind!r}; expected one of {KINDS}"
            )
        self._source(tid)  # a clear "no such template" before Jinja's own message
        try:
            text = self._env.get_template(tid.path).render(dict(context))
        except jinja2.UndefinedError as exc:
            raise TemplateError(self._explain_undefined(tid, context, exc)) from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template {tid.path}, line {exc.lineno}: {exc.message}") from exc
        subject: str | None = None
        match = _SUBJECT.match(text)
        if match:
            subject = match.group("subject").strip()
            text = text[match.end() :]
        if kind == "email" and not subject:
            raise TemplateError(f"template {tid.path}: an email template starts with 'Subject: '")
        return Rendered(subject, _tidy(text))

    def _source(self, tid: TemplateId) -> str:
        path = self.folder / tid.path
        if not path.is_file():
            langs = sorted(p.parent.name for p in self.folder.glob(f"*/{tid.name}.{tid.kind}.j2"))
            where = f"; it exists in {', '.join(langs)}" if langs else ""
            raise TemplateError(f"no template {tid.path} under {self.folder}{where}")
        return path.read_text(encoding="utf-8")

    def _explain_undefined(
        self, tid: TemplateId, context: Mapping[str, object], exc: jinja2.UndefinedError
    ) -> str:
        # Jinja's own message ("'amount_due' is undefined") names neither the template nor,
        # for an attribute, the top-level variable; the names the template uses and the
        # context lacks are the useful answer.
        missing = sorted(self.variables(tid.name, tid.lang, tid.kind) - set(context))
        if len(missing) == 1:
            return f"template {tid.path}: variable {missing[0]!r} is not defined in the context"
        if missing:
            names = ", ".join(repr(name) for name in missing)
            return f"template {tid.path}: variables {names} are not defined in the context"
        return f"template {tid.path}: {exc.message}"


def _tidy(text: str) -> str:
    """Trailing spaces off every line, at most one blank line in a row, no blank edges."""
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()

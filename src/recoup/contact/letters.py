"""Collection letters rendered to PDF (A4) for printing and posting, or attaching to email.

Rules, and why:

- The same title, body and language always give the same bytes: the creation date is fixed
  and nothing random goes into the file, so a retried send renders an identical letter and
  the archived copy can be checked against what was sent by its hash. The letter's own date
  belongs in its text (the template's ``letter_date``).
- Chinese needs a CJK TrueType font, which is not bundled (it is several megabytes). It is
  looked up in ``$RECOUP_CJK_FONT`` and then in the usual Debian, Ubuntu and Fedora places;
  when none is there, `LetterError` names the package to install. A set but wrong
  ``RECOUP_CJK_FONT`` is an error rather than silently falling back to another font.
- A letter in English whose text is all Latin-1 uses the PDF's built-in Helvetica; any other
  character (a borrower's name in Chinese, say) switches it to the CJK font, which also has
  Latin glyphs, rather than failing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos

from recoup.contact.message import OutboundMessage, SendResult

CJK_FONT_ENV = "RECOUP_CJK_FONT"
CJK_FONT_PACKAGE = "fonts-wqy-microhei"
CJK_FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
)

# Any fixed instant will do; this one is obviously not a real creation time.
FIXED_CREATION_DATE = datetime(2000, 1, 1, tzinfo=UTC)

_MARGIN_MM = 20
_BODY_SIZE = 11
_LINE_MM = 6.5


class LetterError(Exception):
    """A letter that cannot be rendered: no font for its language, or nothing to render."""


def find_cjk_font(
    environ: Mapping[str, str] | None = None,
    candidates: Sequence[Path] = CJK_FONT_CANDIDATES,
) -> Path:
    """The CJK font to use: ``$RECOUP_CJK_FONT`` when set, else the first known one present.

    Raises:
        LetterError: the variable names a missing file, or no known font is installed; the
            message says what to install.
    """
    env = os.environ if environ is None else environ
    chosen = env.get(CJK_FONT_ENV)
    if chosen:
        if not Path(chosen).is_file():
            raise LetterError(f"{CJK_FONT_ENV}={chosen} is not a file")
        return Path(chosen)
    for path in candidates:
        if path.is_file():
            return path
    raise LetterError(
        "no CJK font found for Chinese letters; install one "
        f"(Debian/Ubuntu: apt-get install {CJK_FONT_PACKAGE}) or set {CJK_FONT_ENV} to a "
        f"TrueType font file; looked in: {', '.join(str(p) for p in candidates)}"
    )


class _Letter(FPDF):
    """A4 with margins and a page number at the foot of every page."""

    def __init__(self, family: str, lang: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._family = family
        self._chinese = lang.lower().startswith("zh")

    def footer(self) -> None:
        self.set_y(-_MARGIN_MM + 5)
        self.set_font(self._family, size=9)
        # "{nb}" is fpdf's alias for the page count, filled in when the file is written.
        if self._chinese:
            label = f"第 {self.page_no()} 页，共 {{nb}} 页"
        else:
            label = f"Page {self.page_no()} of {{nb}}"
        self.cell(0, 5, label, align=Align.C)


def render_letter_pdf(
    title: str, body: str, lang: str, *, font_path: Path | str | None = None
) -> bytes:
    """The letter as PDF bytes.

    Args:
        title: the heading, e.g. the rendered template's subject.
        body: plain text; blank lines separate paragraphs, single line breaks are kept.
        lang: ``zh-CN`` (or any ``zh``) for Chinese, anything else for a Latin script.
        font_path: the CJK font to use instead of looking one up.

    Raises:
        LetterError: an empty body, or Chinese text and no CJK font.
    """
    if not body.strip():
        raise LetterError("a letter needs a body")
    chinese = lang.lower().startswith("zh")
    needs_cjk = chinese or not _latin1(title + body)
    family = "cjk" if needs_cjk else "helvetica"

    pdf = _Letter(family, lang)
    if needs_cjk:
        pdf.add_font(family, "", str(font_path or find_cjk_font()))
    pdf.set_creation_date(FIXED_CREATION_DATE)
    pdf.set_creator("Recoup")
    pdf.set_title(title)
    pdf.set_lang(lang)
    pdf.set_margins(_MARGIN_MM, _MARGIN_MM, _MARGIN_MM)
    pdf.set_auto_page_break(auto=True, margin=_MARGIN_MM)
    pdf.add_page()

    # Chinese has no spaces to break at, so lines break between characters.
    wrap = WrapMode.CHAR if chinese else WrapMode.WORD
    if title.strip():
        pdf.set_font(family, size=16)
        pdf.multi_cell(
            0, 9, title.strip(), align=Align.C, wrapmode=wrap, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.ln(4)
    pdf.set_font(family, size=_BODY_SIZE)
    for paragraph in _paragraphs(body):
        pdf.multi_cell(
            0,
            _LINE_MM,
            paragraph,
            align=Align.L,
            wrapmode=wrap,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.ln(_LINE_MM / 2)
    return bytes(pdf.output())


def _paragraphs(body: str) -> list[str]:
    paragraphs: list[list[str]] = [[]]
    for line in body.strip().splitlines():
        if line.strip():
            paragraphs[-1].append(line.rstrip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return ["\n".join(p) for p in paragraphs if p]


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class PrintFolderSender:
    """Letters go to print as PDF files in ``folder``, one per message, named by its key.

    Rendering is deterministic, so a resend after a crash writes the same bytes to the same
    file: the print run never holds two copies of one letter.
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def send(self, message: OutboundMessage) -> SendResult:
        if message.channel != "letter":
            raise ValueError(f"the print folder takes letters, not {message.channel}")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in message.idempotency_key)
        target = self.folder / f"{safe}.pdf"
        try:
            pdf = render_letter_pdf(message.subject or "", message.body, message.lang)
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".pdf.partial")
            partial.write_bytes(pdf)
            partial.replace(target)  # a reader never sees half a letter
        except LetterError as exc:
            return SendResult.failed(str(exc), attempts=1, retryable=False)
        except OSError as exc:
            return SendResult.failed(f"{target}: {exc.strerror}", attempts=1, retryable=True)
        return SendResult.accepted(str(target), f"{len(pdf):,} bytes to print", attempts=1)

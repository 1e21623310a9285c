"""A PDF's lines, read with pypdf: each line's text with its font size, weight, position
and direction on the page, in content-stream order (which keeps the two columns of a paper
apart), and the document-information entries (title, author) the file carries.

pypdf was kept after comparing text layers on the real corpus (``benchmarks.real_pdfs``,
41 PDFs): pypdf and pypdfium2 both held every title and abstract as contiguous text in 40
files (the 41st is a broken font, repaired by `ingest.pdf_fonts`), pdfminer.six and
docling-parse 39, pdfplumber 36. pypdfium2 reads ~20x faster, but pypdf is already a
dependency and gives the same text.

A PDF without a text layer, encrypted, truncated or corrupt raises `IngestError` with
the reason; pypdf itself is imported only when a PDF is read.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core.errors import IngestError

from .pdf_fonts import repair_fonts
from .records import clean_text, limit_bytes, too_large

log = logging.getLogger(__name__)

MAX_PDF_BYTES = 200 * 1024 * 1024  # the default of `IngestSettings.max_pdf_mb`
NO_TEXT = "no extractable text; OCR is not supported"
ENCRYPTED = "encrypted PDF (needs a password); save a decrypted copy and ingest that"
TRUNCATED = "truncated PDF (no end-of-file marker); the file is incomplete"
CORRUPT = "corrupt PDF (cannot be parsed)"
NOT_PDF = "not a PDF (no %PDF header)"
# Below this many letters in the whole document there is no usable text layer.
_MIN_LETTERS = 40


@dataclass(frozen=True)
class DocInfo:
    """What the PDF's document-information dictionary says (None where it is empty)."""

    title: str | None = None
    author: str | None = None


@dataclass
class Line:
    """One extracted line and how it was set."""

    text: str
    page: int  # 1-based
    size: float  # font size in points (0 when unknown)
    bold: bool
    y: float | None  # height above the page bottom, when known
    height: float  # page height
    x: float | None = None  # where the line starts from the page's left edge, when known
    width: float = 612.0  # page width
    upright: bool = True  # False for text set rotated (an arXiv stamp in the margin)


def _check_bytes(path: Path, max_mb: float) -> None:
    try:
        size = path.stat().st_size
        if size == 0:
            raise IngestError(str(path), "empty file")
        if size > limit_bytes(max_mb):
            raise IngestError(str(path), too_large(size, max_mb, "PAPERLENS_INGEST__MAX_PDF_MB"))
        with path.open("rb") as fh:
            head = fh.read(1024)
            fh.seek(max(0, size - 2048))
            tail = fh.read()
    except OSError as exc:
        raise IngestError(str(path), f"unreadable ({exc.strerror or exc})") from exc
    if b"%PDF-" not in head:
        raise IngestError(str(path), NOT_PDF)
    if b"%%EOF" not in tail:
        # pypdf would try to rebuild such a file and yield part of it: report it instead.
        raise IngestError(str(path), TRUNCATED)


def extract_lines(path: Path, max_mb: float = MAX_PDF_BYTES / 2**20) -> tuple[list[Line], DocInfo]:
    """The lines of every page with their font size/weight and position, and the
    document information; `IngestError` when the PDF cannot give text."""
    _check_bytes(path, max_mb)
    from pypdf import PdfReader

    # pypdf's warnings are about the file, reported below.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")  # many "protected" PDFs open with an empty password
            except Exception as exc:  # missing crypto backend, unknown algorithm
                raise IngestError(str(path), ENCRYPTED) from exc
            if not ok:
                raise IngestError(str(path), ENCRYPTED)
        pages = list(reader.pages)
        info = _doc_info(reader)
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(str(path), CORRUPT) from exc
    lines: list[Line] = []
    failed = 0
    for number, page in enumerate(pages, 1):
        try:
            repair_fonts(page)
            lines.extend(_page_lines(page, number))
        except Exception as exc:  # one bad page costs that page only
            log.debug("page %d of %s: %s", number, path, exc)
            failed += 1
    if pages and failed == len(pages):
        raise IngestError(str(path), CORRUPT)
    letters = sum(ch.isalpha() for line in lines for ch in line.text)
    if letters < _MIN_LETTERS:
        raise IngestError(str(path), NO_TEXT)
    return lines, info


def _doc_info(reader: Any) -> DocInfo:
    try:
        info = reader.metadata or {}
        values = {k: info.get(f"/{k.title()}") for k in ("title", "author")}
    except Exception:  # a broken info dictionary costs only what it would have said
        return DocInfo()
    clean = {k: " ".join(str(v).split()) or None for k, v in values.items() if v}
    return DocInfo(**clean)


def _page_lines(page: Any, number: int) -> list[Line]:
    try:
        box = page.mediabox
        height, width = float(box.height), float(box.width)
        left, bottom = float(box.left), float(box.bottom)
    except Exception:
        height, width, left, bottom = 792.0, 612.0, 0.0, 0.0
    lines: list[Line] = []
    # Parts of the current line: (text, size, bold, x, y, upright).
    parts: list[tuple[str, float, bool, float, float, bool]] = []

    def close() -> None:
        text = "".join(p[0] for p in parts)
        text = " ".join(unicodedata.normalize("NFKC", clean_text(text)).split())
        if text:
            weight: Counter[tuple[float, bool]] = Counter()
            for t, size, bold, *_ in parts:
                weight[(size, bold)] += len(t.strip())
            size, bold = weight.most_common(1)[0][0]
            first = next(p for p in parts if p[0].strip())
            upright = sum(len(p[0]) for p in parts if p[5]) * 2 >= len(text)
            lines.append(Line(text, number, size, bold, first[4], height, first[3], width, upright))
        parts.clear()

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text:
            return
        scale = (tm[2] ** 2 + tm[3] ** 2) ** 0.5 * ((cm[2] ** 2 + cm[3] ** 2) ** 0.5 or 1.0)
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4] - left
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5] - bottom
        # The text's baseline direction: rotated text (a margin stamp) runs up or down.
        dx = tm[0] * cm[0] + tm[1] * cm[2]
        dy = tm[0] * cm[1] + tm[1] * cm[3]
        upright = abs(dy) <= abs(dx) * 0.1 and dx > 0
        name = str(font.get("/BaseFont", "")) if font else ""
        bold = bool(re.search(r"bold|black|heavy|semibold|\.B\b|-B\b|CMBX", name, re.I))
        pieces = text.split("\n")
        for i, piece in enumerate(pieces):
            if piece:
                parts.append((piece, round(float(size) * scale, 1), bold, x, y, upright))
            if i < len(pieces) - 1:
                close()

    page.extract_text(visitor_text=visit)
    close()
    return lines

"""Read one file into papers: the reader registered for its suffix does the work.

Every reader reports problems instead of raising for a bad entry: a file yields the
papers it could read plus one line per entry it skipped. A file that cannot be read at
all raises `IngestError` with a one-line reason. Text formats are size-checked and
decoded here, once, before their reader sees them.
"""

from __future__ import annotations

from pathlib import Path

from assistant.core.errors import IngestError, UnsupportedFormatError
from assistant.core.settings import IngestSettings

# Each reader module registers its suffixes on import (bibtexparser and pypdf themselves
# load only when a .bib or a PDF is read).
from . import bibtex, pdf, textfiles, zotero  # noqa: F401
from .readers import FILE_READERS, TEXT_READERS
from .records import ParseResult, clean_text, limit_bytes, too_large

MAX_FILE_BYTES = 50 * 1024 * 1024  # the default of `IngestSettings.max_file_mb`
_SNIFF_BYTES = 8192


def supported_suffixes() -> list[str]:
    """Every file suffix paperlens reads, sorted."""
    return sorted([*TEXT_READERS, *FILE_READERS])


def read_text(path: Path, max_mb: float = MAX_FILE_BYTES / 2**20) -> str:
    """Text of a file, or `IngestError` saying in one line why it is not usable text."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise IngestError(str(path), "empty file")
        if size > limit_bytes(max_mb):
            raise IngestError(str(path), too_large(size, max_mb, "PAPERLENS_INGEST__MAX_FILE_MB"))
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(str(path), f"unreadable ({exc.strerror or exc})") from exc
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise IngestError(str(path), "binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise IngestError(str(path), "not UTF-8 or Windows-1252 text") from exc
    text = clean_text(text)
    if not text.strip():
        raise IngestError(str(path), "empty file (only whitespace)")
    return text


def parse_file(
    path: Path, source: str | None = None, limits: IngestSettings | None = None
) -> ParseResult:
    """Read one file into papers; `IngestError` if the whole file is unusable.

    ``limits`` sets the largest file read (default: `IngestSettings()`'s).
    """
    source = source or path.name
    suffix = path.suffix.lower()
    limits = limits or IngestSettings()
    if suffix in FILE_READERS:
        return FILE_READERS[suffix](path, source, limits.max_pdf_mb)
    reader = TEXT_READERS.get(suffix)
    if reader is None:
        raise UnsupportedFormatError(
            str(path),
            f"unsupported format {suffix or '(no extension)'!r} "
            f"(paperlens reads {', '.join(supported_suffixes())})",
        )
    return reader(read_text(path, limits.max_file_mb), source)

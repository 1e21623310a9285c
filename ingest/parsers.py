"""Readers for the file formats paperlens ingests, each turning a file into `Paper`s.

Every reader reports problems instead of raising for a bad entry: a file yields the
papers it could read plus one line per entry it skipped. A file that cannot be read at
all raises `IngestError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import IngestError, UnsupportedFormatError
from assistant.settings import IngestSettings
from assistant.types import Paper

MAX_FILE_BYTES = 50 * 1024 * 1024  # the default of `IngestSettings.max_file_mb`
MAX_TITLE_CHARS = 300
MAX_ABSTRACT_CHARS = 20_000
_SNIFF_BYTES = 8192

# Boilerplate lines of the daily-papers page dumps.
_PAGE_MARKERS = ("Get trending papers in your email inbox", "byAK and the research community")
_BOILERPLATE = {
    "new",
    "subscribe",
    "get trending papers in your email inbox!",
    "get trending papers in your email inbox once a day!",
    "byak and the research community",
}
_DATE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2}(, \d{4})?$")
# Zero-width and bidi control characters that break matching but carry no text.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalize_title(title: str) -> str:
    """Case-, accent-form- and punctuation-insensitive form of a title."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return re.sub(r"[\W_]+", " ", text).strip()


def paper_id(title: str) -> str:
    """Stable id of a paper, derived from its normalised title.

    Example:
        >>> paper_id("SpecTr: Fast Speculative Decoding via Optimal Transport") == paper_id(
        ...     "spectr  fast speculative decoding via optimal transport")
        True
    """
    return "p" + hashlib.sha1(normalize_title(title).encode("utf-8")).hexdigest()[:12]


def clean_text(text: str) -> str:
    """Drop invisible/control characters and normalise spaces; keeps the words intact."""
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = text.replace("\u00a0", " ").replace("\r\n", "\n").replace("\r", "\n")
    return text


@dataclass(frozen=True)
class MetadataRecord:
    """What a metadata entry (BibTeX, or JSON without an abstract) says about a paper.

    It attaches to a paper matched by DOI, arXiv id or title; only when nothing matches
    does an entry with title and abstract become a paper of its own, and one without is
    reported as ``problem``.
    """

    source: str
    problem: str
    title: str = ""
    abstract: str = ""
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    url: str | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    # Attached files (a BibTeX ``file`` field, Zotero's storage/): paths as the entry gives
    # them, relative ones to the listing file's folder. The first readable one is the
    # paper's text; ``label`` names the entry in reports ("entry 'key'").
    files: tuple[str, ...] = ()
    label: str = ""
    # Set once an attachment was read: the paper the entry's metadata belongs to.
    paper_id: str | None = None

    def fields(self) -> dict[str, Any]:
        """The metadata fields this entry sets (empty ones left out)."""
        values = {
            "authors": self.authors, "year": self.year, "venue": self.venue, "url": self.url,
            "arxiv_id": self.arxiv_id, "doi": self.doi, "tags": self.tags,
            "collections": self.collections,
        }
        return {k: v for k, v in values.items() if v}


@dataclass
class ParseResult:
    """Papers read from one file, and the entries skipped with their reasons."""

    papers: list[Paper] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    metadata: list[MetadataRecord] = field(default_factory=list)


def limit_bytes(max_mb: float) -> int:
    """A size limit in MiB (as set) in bytes."""
    return int(max_mb * 2**20)


def too_large(size: int, max_mb: float, setting: str) -> str:
    """The reason a file over its size limit is skipped, in exact bytes: rounded to MB, a
    file one byte over the 50 MiB limit read "file too large (52 MB > 52 MB)"."""
    return (
        f"file too large: {size:,} bytes, over the limit of {limit_bytes(max_mb):,} bytes "
        f"({max_mb:g} MiB) - raise the limit with {setting}"
    )


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


def _entry_paper(
    title: str,
    abstract: str,
    source: str,
    problems: list[str],
    where: str,
    **meta: Any,
) -> Paper | None:
    title = " ".join(title.split()).lstrip("#").strip()
    abstract = " ".join(abstract.split())
    label = f"{where} {title[:60]!r}" if title else where
    if not title:
        problems.append(f"{source}: {where}: no title - skipped")
        return None
    if len(title) > MAX_TITLE_CHARS:
        problems.append(f"{source}: {where}: title of {len(title)} characters is not a title - skipped")
        return None
    if not normalize_title(title):
        problems.append(f"{source}: {label}: title has no letters or digits - skipped")
        return None
    if not abstract:
        problems.append(f"{source}: {label}: title but no abstract - skipped")
        return None
    if len(abstract) > MAX_ABSTRACT_CHARS:
        problems.append(
            f"{source}: {label}: abstract of {len(abstract)} characters exceeds {MAX_ABSTRACT_CHARS} - skipped"
        )
        return None
    return Paper(id=paper_id(title), title=title, abstract=abstract, sources=(source,), **meta)


def is_daily_papers_page(text: str) -> bool:
    head = text[:2000]
    return any(marker in head for marker in _PAGE_MARKERS)


def _looks_like_title(block: str) -> bool:
    return "\n" not in block and len(block) <= MAX_TITLE_CHARS and not block.endswith(".")


def parse_daily_papers(text: str, source: str) -> ParseResult:
    """Both layouts of the daily-papers page dumps.

    Blank-line layout: header blocks, a date heading, then title / abstract blocks.
    Line layout: header lines, "Subscribe" glued to the first title, then one title
    line and one abstract line per paper, no date.
    """
    result = ParseResult()
    if "\n\n" in text.strip():
        blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    else:
        blocks = [line.strip() for line in text.split("\n") if line.strip()]
    date: str | None = None
    items: list[str] = []
    for block in blocks:
        low = block.lower()
        if low in _BOILERPLATE:
            continue
        if low.startswith("subscribe") and not items and len(block) > len("subscribe"):
            block = block[len("subscribe") :].strip()  # header glued to the first title
        if not items and date is None and _DATE.match(block):
            date = block
            continue
        items.append(block)
    i = 0
    n_entry = 0
    while i < len(items):
        n_entry += 1
        title = items[i]
        nxt = items[i + 1] if i + 1 < len(items) else ""
        if not _looks_like_title(title) and len(title) > MAX_TITLE_CHARS:
            result.problems.append(
                f"{source}: entry {n_entry}: text of {len(title)} characters without a title - skipped"
            )
            i += 1
            continue
        if not nxt or (_looks_like_title(nxt) and len(nxt) < 100):
            # A title followed by another title (or the end): the entry has no abstract.
            _entry_paper(title, "", source, result.problems, f"entry {n_entry}")
            i += 1
            continue
        paper = _entry_paper(title, nxt, source, result.problems, f"entry {n_entry}", date=date)
        if paper:
            result.papers.append(paper)
        i += 2
    if not result.papers and not result.problems:
        result.problems.append(f"{source}: page has no papers - skipped")
    return result


def parse_plain(text: str, source: str) -> ParseResult:
    """One paper per text/Markdown file: the first line is the title, the rest the abstract."""
    result = ParseResult()
    lines = text.strip().split("\n")
    title = lines[0].strip().lstrip("#").strip()
    body = "\n".join(lines[1:]).strip()
    # A Markdown "## Abstract" heading is layout, not text.
    body = re.sub(r"^#*\s*abstract\s*:?\s*\n", "", body, flags=re.IGNORECASE)
    paper = _entry_paper(title, body, source, result.problems, "file")
    if paper:
        result.papers.append(paper)
    return result


def _authors(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        parts = re.split(r"\s+and\s+|;|,(?=\s*[A-Z][^,]*\s[A-Z])", value)
        return tuple(p.strip() for p in parts if p.strip())
    if isinstance(value, list):
        return tuple(str(a).strip() for a in value if str(a).strip())
    return ()


def _year(value: Any) -> int | None:
    if value is None or value == "":
        return None
    m = re.search(r"\b(1[89]\d\d|20\d\d)\b", str(value))
    return int(m.group(1)) if m else None


def _json_paper(obj: Any, source: str, where: str, problems: list[str]) -> Paper | MetadataRecord | None:
    if not isinstance(obj, dict):
        problems.append(f"{source}: {where}: not a JSON object - skipped")
        return None
    def text(key: str) -> str | None:
        value = obj.get(key)
        return clean_text(str(value)).strip() or None if value not in (None, "") else None
    title = " ".join(clean_text(str(obj.get("title") or "")).split())
    meta: dict[str, Any] = {
        "authors": _authors(obj.get("authors")),
        "year": _year(obj.get("year")),
        **{key: text(key) for key in ("venue", "url", "arxiv_id", "doi")},
    }
    if title and len(title) <= MAX_TITLE_CHARS and normalize_title(title) and not text("abstract"):
        # Metadata only: it may attach to a paper already known; reported if none matches.
        return MetadataRecord(
            source=source,
            problem=f"{source}: {where} {title[:60]!r}: title but no abstract - skipped",
            title=title,
            **meta,
        )
    return _entry_paper(
        clean_text(str(obj.get("title") or "")),
        clean_text(str(obj.get("abstract") or "")),
        source,
        problems,
        where,
        date=text("date"),
        **meta,
    )


def parse_json(text: str, source: str) -> ParseResult:
    """A JSON list of papers, ``{"papers": [...]}``, or one paper object."""
    result = ParseResult()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(source, f"invalid JSON (line {exc.lineno}: {exc.msg})") from exc
    if isinstance(data, dict) and isinstance(data.get("papers"), list):
        data = data["papers"]
    items = data if isinstance(data, list) else [data]
    for n, obj in enumerate(items, 1):
        _add(result, _json_paper(obj, source, f"item {n}", result.problems))
    if not items:
        result.problems.append(f"{source}: no papers in the JSON - skipped")
    return result


def parse_jsonl(text: str, source: str) -> ParseResult:
    """One JSON paper object per line; a bad line is reported and skipped."""
    result = ParseResult()
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            result.problems.append(f"{source}: line {n}: invalid JSON ({exc.msg}) - skipped")
            continue
        _add(result, _json_paper(obj, source, f"line {n}", result.problems))
    return result


def _add(result: ParseResult, item: Paper | MetadataRecord | None) -> None:
    if isinstance(item, Paper):
        result.papers.append(item)
    elif isinstance(item, MetadataRecord):
        result.metadata.append(item)


def _parse_text_file(text: str, source: str) -> ParseResult:
    if is_daily_papers_page(text):
        return parse_daily_papers(text, source)
    return parse_plain(text, source)


def _parse_bibtex(text: str, source: str) -> ParseResult:
    from .bibtex import parse_bibtex  # imports bibtexparser only when a .bib is read

    return parse_bibtex(text, source)


def _read_zotero(path: Path, source: str, max_mb: float) -> ParseResult:
    from .zotero import read_zotero

    return read_zotero(path, source, max_mb)


def _read_pdf(path: Path, source: str, max_mb: float) -> ParseResult:
    from .pdf import read_pdf  # imports pypdf only when a PDF is read

    return read_pdf(path, source, max_mb=max_mb)


TEXT_READERS: dict[str, Callable[[str, str], ParseResult]] = {
    ".txt": _parse_text_file,
    ".md": _parse_text_file,
    ".markdown": _parse_text_file,
    ".json": parse_json,
    ".jsonl": parse_jsonl,
    ".bib": _parse_bibtex,
}
# Binary formats: the reader opens the file itself.
FILE_READERS: dict[str, Callable[[Path, str, float], ParseResult]] = {
    ".pdf": _read_pdf,
    ".sqlite": _read_zotero,  # a Zotero data folder's zotero.sqlite
}


def supported_suffixes() -> list[str]:
    return sorted([*TEXT_READERS, *FILE_READERS])


def parse_file(path: Path, source: str | None = None, limits: IngestSettings | None = None) -> ParseResult:
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

"""What every reader produces, and the helpers they share.

A reader turns one file into a `ParseResult`: papers, metadata entries (`MetadataRecord`)
still to attach to a paper, and one line per entry it skipped. The identity of a paper
(`paper_id`, from its normalised title) and the text clean-up live here too, so readers
and the pipeline share them without importing each other.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from assistant.core.types import META_FIELDS, Paper

MAX_TITLE_CHARS = 300
# Zero-width and bidi control characters that break matching but carry no text.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


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


def parse_year(value: Any) -> int | None:
    """The first plausible year (1800-2099) in a field's text, or None."""
    if value is None or value == "":
        return None
    m = _YEAR.search(str(value))
    return int(m.group(1)) if m else None


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


@dataclass(frozen=True)
class MetadataRecord:
    """What a metadata entry (BibTeX, Zotero, or JSON without an abstract) says about a paper.

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
        return {k: v for k in META_FIELDS if (v := getattr(self, k))}


@dataclass
class ParseResult:
    """Papers read from one file, and the entries skipped with their reasons."""

    papers: list[Paper] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    metadata: list[MetadataRecord] = field(default_factory=list)

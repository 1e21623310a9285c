"""Readers of the text formats: plain text and Markdown (one paper a file), the
daily-papers page dumps (many papers a file), and JSON / JSON Lines paper lists.
"""

from __future__ import annotations

import json
import re
from typing import Any

from assistant.core.errors import IngestError
from assistant.core.types import Paper

from .readers import text_reader
from .records import (
    MAX_TITLE_CHARS,
    MetadataRecord,
    ParseResult,
    clean_text,
    normalize_title,
    paper_id,
    parse_year,
)

MAX_ABSTRACT_CHARS = 20_000

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
        problems.append(
            f"{source}: {where}: title of {len(title)} characters is not a title - skipped"
        )
        return None
    if not normalize_title(title):
        problems.append(f"{source}: {label}: title has no letters or digits - skipped")
        return None
    if not abstract:
        problems.append(f"{source}: {label}: title but no abstract - skipped")
        return None
    if len(abstract) > MAX_ABSTRACT_CHARS:
        problems.append(
            f"{source}: {label}: abstract of {len(abstract)} characters exceeds "
            f"{MAX_ABSTRACT_CHARS} - skipped"
        )
        return None
    return Paper(id=paper_id(title), title=title, abstract=abstract, sources=(source,), **meta)


def is_daily_papers_page(text: str) -> bool:
    """Whether a text file is a daily-papers page dump (its header names the page)."""
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
                f"{source}: entry {n_entry}: text of {len(title)} characters without a title "
                "- skipped"
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


def _json_paper(
    obj: Any, source: str, where: str, problems: list[str]
) -> Paper | MetadataRecord | None:
    if not isinstance(obj, dict):
        problems.append(f"{source}: {where}: not a JSON object - skipped")
        return None

    def text(key: str) -> str | None:
        value = obj.get(key)
        return clean_text(str(value)).strip() or None if value not in (None, "") else None

    title = " ".join(clean_text(str(obj.get("title") or "")).split())
    meta: dict[str, Any] = {
        "authors": _authors(obj.get("authors")),
        "year": parse_year(obj.get("year")),
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


@text_reader(".json")
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


@text_reader(".jsonl")
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


@text_reader(".txt", ".md", ".markdown")
def parse_text_file(text: str, source: str) -> ParseResult:
    """A daily-papers page dump, or else one paper (`parse_plain`)."""
    if is_daily_papers_page(text):
        return parse_daily_papers(text, source)
    return parse_plain(text, source)

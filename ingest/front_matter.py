"""A paper's title, authors and abstract read from the layout of its first pages.

Lines arrive in content-stream order with their font size, position and direction
(`ingest.pdf_lines`). On the first page:

- the title is the block of lines set in the largest type (consecutive lines of one size,
  so a title set over two or three lines is one title) in the upper part of the page, that
  is not rotated margin text (the arXiv stamp), a journal banner or logo (a few words
  starting right of the page centre), a label ("Accepted Manuscript", "Article",
  "Research"...), a drop cap or a figure's axis label (too few letters). When the PDF's
  own title entry is plausible and matches a block of the page, that block is the title;
- the abstract is the text under an "Abstract"/"Summary"/"Résumé" label (or after an
  inline "Abstract:"), in the size of its first line, up to a change of size, a gap
  wider than a paragraph break, a heading, a keywords line or the end of the column:
  footnotes, keywords and "Submitted to" lines stay out. Without a label it is the first
  block of running prose after the title (affiliations, names and dates are not prose);
- the authors are the names between the title and the abstract, without affiliations,
  e-mails and footnote marks.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from . import pdf_ids
from .pdf_lines import DocInfo, Line

_LABEL = re.compile(r"^(?:abstract|summary|résumé|a\s?bstract)\s*[.:\u2014\u2013-]?$", re.I)
_INLINE = re.compile(
    r"^(?:abstract|summary|résumé)\s*(?:[.:\u2014\u2013-]\s*|\s+(?=(?-i:[A-Z])))(\S.*)$", re.I
)
_STOP = re.compile(
    r"^(?:key\s?words?|mots[- ]cl[ée]s|palabras clave|schlüsselwörter|index terms|pacs"
    r"|ccs concepts|jel|msc|subject areas|general terms"
    r"|submitted to|received|accepted|published|preprint submitted|categories and subject"
    r"|\d{1,2}\.?\s+introduction|introduction|i\.\s+introduction)\b",
    re.I,
)
_BANNER = re.compile(
    r"^(?:accepted manuscript|manuscript|preprint|a preprint|article|research(?: article)?"
    r"|original (?:article|research)|review|letter|open access|guidelines?|technical report"
    r"|draft version\b.*|journal of\b.*|proceedings\b.*|vol(?:ume)?\.?\s*\d.*|issn\b.*"
    r"|doi\b.*|https?://.*|www\..*|.*@.*|abstract|contents)$",
    re.I,
)
_NAME_TOKEN = re.compile(
    r"^(?:[A-ZÀ-Þ][\w'’.\-]*|[A-Z]\.(?:-?[A-Z]\.)*|van|von|de|der|den|da|di|del|la|le|du|dos|y)$"
)
_AFFILIATION = re.compile(
    r"universit|universität|université|institut|department|dept\.|laborator|school|college"
    r"|faculty|cent(?:er|re)\b|research\b|inc\.|ltd|gmbh|corporation|hospital|academy"
    r"|\bteam\b|\bgroup\b|avenue|street|road|\busa\b|china|germany|france|japan|e-?mail"
    r"|@|\bdated\b|\d{3,}",
    re.I,
)
_MARKS = r"[*∗†‡§¶‖∥⋆♯♭,\d]"
_MIN_TITLE_LETTERS = 8


@dataclass(frozen=True)
class FrontMatter:
    """What the first pages say about the paper, and where the front matter ends."""

    title: str
    authors: tuple[str, ...]
    year: int | None
    arxiv_id: str | None
    doi: str | None
    abstract: str
    end: int  # index (in the lines) of the first line after the title or the abstract


def read_front_matter(lines: Sequence[Line], info: DocInfo, body: float) -> FrontMatter:
    """The front matter of a paper from its lines (see the module docstring)."""
    first = lines[0].page
    page1 = [i for i, line in enumerate(lines) if line.page == first]
    title_span = _title_block(lines, page1, info, body)
    title = _title_text(lines, title_span, info)
    after = title_span[1] if title_span else 0
    abstract_span = _labelled_abstract(lines, after, body) or _prose_abstract(lines, after)
    abstract = ""
    end = after
    if abstract_span:
        start, stop, text = abstract_span
        abstract, end = text, stop
    authors_end = abstract_span[0] if abstract_span else min(after + 12, len(lines))
    authors = _authors(lines[after:authors_end]) if title_span else ()
    stamp_id, stamp_year = pdf_ids.arxiv_stamp([lines[i] for i in page1])
    page_lines = [lines[i] for i in page1]
    dated = [lines[i] for i in page1 if i < end or _in_margin(lines[i], body)]
    return FrontMatter(
        title=title,
        authors=authors,
        year=pdf_ids.year(page_lines, dated, stamp_year),
        arxiv_id=stamp_id or pdf_ids.arxiv_id(page_lines),
        doi=pdf_ids.doi(page_lines),
        abstract=abstract,
        end=end,
    )


def _in_margin(line: Line, body: float) -> bool:
    """Header, footer, footnote or margin text: where a page prints dates and licences."""
    if line.y is None or not line.upright:
        return True
    share = line.y / line.height
    return share > 0.9 or share < 0.1 or (share < 0.3 and body > 0 and line.size < body)


def fold(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


# --- title ---------------------------------------------------------------------------
def _blocks(lines: Sequence[Line], idx: Sequence[int]) -> list[tuple[int, int]]:
    """Runs of consecutive lines set in one size, each below the last (index spans)."""
    spans: list[tuple[int, int]] = []
    start = None
    for k, i in enumerate(idx):
        prev = lines[idx[k - 1]] if k else None
        line = lines[i]
        joined = (
            prev is not None
            and start is not None
            and idx[k - 1] == i - 1
            and abs(prev.size - line.size) <= max(0.5, 0.04 * line.size)
            and prev.y is not None
            and line.y is not None
            and 0 < prev.y - line.y <= 2.0 * max(line.size, 1.0)
        )
        if not joined:
            if start is not None:
                spans.append((start, idx[k - 1] + 1))
            start = i
    if start is not None and idx:
        spans.append((start, idx[-1] + 1))
    return spans


def _candidate(line: Line) -> bool:
    text = line.text.strip()
    letters = sum(ch.isalpha() for ch in text)
    if pdf_ids.is_stamp(line) or letters < 2 or _BANNER.match(text):
        return False
    # A logo or journal banner: a few words starting right of the page centre.
    return not (line.x is not None and line.x > line.width * 0.5 and len(text.split()) <= 4)


def _title_block(
    lines: Sequence[Line], page1: Sequence[int], info: DocInfo, body: float
) -> tuple[int, int] | None:
    idx = [i for i in page1 if _candidate(lines[i])]
    blocks = [
        (s, e)
        for s, e in _blocks(lines, idx)
        if sum(ch.isalpha() for k in range(s, e) for ch in lines[k].text) >= _MIN_TITLE_LETTERS
    ]
    if not blocks:
        return None
    meta = _plausible_title(info.title)
    if meta:
        for s, e in blocks:
            if _similar(" ".join(lines[k].text for k in range(s, e)), meta):
                return s, e
    upper = [(s, e) for s, e in blocks if (lines[s].y or 0.0) >= lines[s].height * 0.3]
    upper = upper or blocks
    top = max(lines[s].size for s, _ in upper)
    if top <= body * 1.1 and meta:
        return None
    return next((s, e) for s, e in upper if lines[s].size == top)


def _plausible_title(title: str | None) -> str | None:
    if not title or len(fold(title)) < 8 or len(title.split()) < 2:
        return None
    if re.search(r"(?i)^untitled|microsoft word|\.(?:docx?|pdf|xps|dvi|tex)\b|^slide", title):
        return None
    return title


def _similar(a: str, b: str) -> bool:
    fa, fb = fold(a), fold(b)
    if not fa or not fb:
        return False
    return SequenceMatcher(None, fa, fb).ratio() >= 0.85


def _title_text(lines: Sequence[Line], span: tuple[int, int] | None, info: DocInfo) -> str:
    if span is None:
        meta = _plausible_title(info.title)
        return meta or (lines[0].text if lines else "")
    text = _join([lines[k].text for k in range(span[0], span[1])])
    return re.sub(r"[\s*∗†‡§¶]+$", "", text)


def _join(texts: Sequence[str]) -> str:
    """Lines as one text: a word hyphenated at a line end rejoined, else a space."""
    out = ""
    for text in texts:
        text = text.strip()
        if out.endswith("-") and text[:1].islower() and re.search(r"[^\W\d_]-$", out):
            out = out[:-1] + text
        else:
            out = f"{out} {text}" if out else text
    return out


# --- abstract ------------------------------------------------------------------------
def _labelled_abstract(
    lines: Sequence[Line], after: int, body: float
) -> tuple[int, int, str] | None:
    """(first index, end index, text) of the abstract under its label, if labelled."""
    first_page = lines[after].page if after < len(lines) else 0
    for i in range(after, len(lines)):
        line = lines[i]
        if (
            line.page > first_page + 4
            or _STOP.match(line.text)
            and "introduction" in (line.text.lower())
        ):
            return None
        run = None
        if _LABEL.match(line.text):
            run = _run(lines, i + 1, None)
        elif m := _INLINE.match(line.text):
            run = _run(lines, i, m.group(1))
        if run:
            return run
    return None


def _run(lines: Sequence[Line], start: int, first_text: str | None) -> tuple[int, int, str] | None:
    """The block of abstract lines from ``start``: one size, paragraph gaps at most."""
    if start >= len(lines):
        return None
    size = lines[start].size
    texts = [first_text if first_text is not None else lines[start].text]
    gaps: list[float] = []
    end = start + 1
    while end < len(lines):
        prev, line = lines[end - 1], lines[end]
        if line.page != prev.page or _STOP.match(line.text) or _LABEL.match(line.text):
            break
        if abs(line.size - size) > max(0.6, 0.06 * size):
            break
        if prev.y is not None and line.y is not None:
            gap = prev.y - line.y
            pitch = statistics.median(gaps) if gaps else size * 1.25
            if gap <= 0 or gap > max(pitch * 2.2, size * 2.0):
                break
            if gap <= pitch * 1.3:
                gaps.append(gap)
        texts.append(line.text)
        end += 1
    text = _join(texts)
    return (start, end, text) if len(text) >= 80 else None


def _prose(text: str) -> bool:
    words = [w for w in text.split() if w[:1].isalpha()]
    if len(words) < 6 or "@" in text:
        return False
    return sum(w[:1].islower() for w in words) / len(words) >= 0.45


def _prose_abstract(lines: Sequence[Line], after: int) -> tuple[int, int, str] | None:
    """The first block of running prose after the title (an unlabelled abstract)."""
    if after >= len(lines):
        return None
    first_page = lines[after].page
    idx = [
        i for i in range(after, len(lines)) if lines[i].page <= first_page + 1 and lines[i].upright
    ]
    for s, e in _blocks(lines, idx):
        while s < e and not _prose(lines[s].text):
            s += 1  # affiliations, dates and names set in the abstract's size
        text = " ".join(lines[k].text for k in range(s, e))
        # A subtitle or a two-line note is not an abstract: a paragraph at least.
        if e - s < 2 or len(text) < 250 or not _prose(text):
            continue
        if _STOP.match(lines[s].text):
            continue
        run = _run(lines, s, None)
        if run:
            return run
    return None


# --- authors -------------------------------------------------------------------------
def _authors(lines: Sequence[Line]) -> tuple[str, ...]:
    """Names from the lines between the title and the abstract: the lines set like the
    first line that holds a name (names are often bold or larger than affiliations),
    joined within a block (a name may break across lines) and cut at affiliations."""
    style: tuple[float, bool] | None = None
    names: list[str] = []
    for s, e in _blocks(lines, range(len(lines))):
        chunk: list[str] = []
        chunk_style = (lines[s].size, lines[s].bold)
        for line in lines[s:e]:
            if pdf_ids.is_stamp(line) or _LABEL.match(line.text) or _INLINE.match(line.text):
                return tuple(dict.fromkeys(names))
            if style is not None and (abs(line.size - style[0]) > 0.3 or line.bold != style[1]):
                continue
            text = re.sub(r"^by\s+", "", line.text.strip(), flags=re.I)
            text = re.sub(rf"\s+on\s+(?:{pdf_ids._MONTHS})\b.*$", "", text, flags=re.I)
            if _AFFILIATION.search(re.sub(r"\d", "", text)) and not re.search(
                r"collaboration", text, re.I
            ):
                # An affiliation ends a run of names; "Name, Affiliation" keeps the name.
                head = text.split(",")[0]
                if _name(head) and not _AFFILIATION.search(head):
                    chunk_style = (line.size, line.bold) if not chunk else chunk_style
                    chunk.append(head)
                found = _split_names(" ".join(chunk))
                chunk = []
            else:
                chunk_style = (line.size, line.bold) if not chunk else chunk_style
                chunk.append(text)
                found = []
            if found and style is None:
                style = chunk_style
            names.extend(found)
        found = _split_names(" ".join(chunk))
        if found and style is None:
            style = chunk_style
        names.extend(found)
    return tuple(dict.fromkeys(names))


def _split_names(text: str) -> list[str]:
    if re.search(r"collaboration", text, re.I):
        return [re.sub(rf"{_MARKS}+$", "", text).strip()]
    parts = re.split(r",|;|&|\band\b|\bet\b|\s{2,}", text)
    out = []
    for part in parts:
        part = re.sub(rf"^\s*{_MARKS}+\s*", "", part)
        part = re.sub(rf"(?<=[^\W\d_]){_MARKS}+", " ", part)
        part = re.sub(rf"\s+{_MARKS}+(?=\s|$)", " ", part)
        part = " ".join(part.split())
        if _name(part):
            out.append(part)
    return out


def _name(text: str) -> bool:
    tokens = text.split()
    if not 2 <= len(tokens) <= 5 or not tokens[-1][:1].isupper():
        return False
    return all(_NAME_TOKEN.match(t) and not t.endswith("-") for t in tokens)

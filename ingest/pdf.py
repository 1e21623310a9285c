"""PDFs with a text layer: title, abstract and the body as sections.

Lines come from pypdf's text extraction in content-stream order (which keeps the two
columns of a paper apart), with each line's font size, weight and height on the page
taken from the same pass (`ingest.pdf_lines`). From those:

- running headers and footers (lines in the top/bottom margin repeated on most pages,
  page numbers) and rotated margin text are dropped from the body, and a chart's labels
  are kept out of the running text (`ingest.pdf_figures`);
- title, authors, year, arXiv id, DOI and abstract come from the layout of the first
  pages (`ingest.front_matter`, `ingest.pdf_ids`): the arXiv margin stamp, banners,
  footnotes and keywords are none of them; the body starts after the abstract;
- headings (numbered or well-known names, set larger or bold) start new sections; the
  reference list is dropped up to an appendix;
- words hyphenated across lines are rejoined and line breaks become spaces, with every
  section remembering on which page each part of its text lies.

A PDF without a text layer, encrypted or corrupt raises `IngestError` with the reason.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from assistant.core.errors import IngestError
from assistant.core.types import Paper, Section
from assistant.store.pdf_files import file_sha256

from .front_matter import read_front_matter
from .pdf_figures import without_figures
from .pdf_lines import MAX_PDF_BYTES, NO_TEXT, DocInfo, Line, extract_lines
from .readers import file_reader
from .records import (
    MAX_TITLE_CHARS,
    ParseResult,
    clean_text,
    normalize_title,
    paper_id,
)

_MARGIN = 0.08  # top/bottom share of the page where running headers and footers live
_MAX_ABSTRACT = 3000

_KNOWN = (
    r"abstract|introduction|related work|background|preliminaries"
    r"|problem (?:statement|setup|formulation)"
    r"|methods?|methodology|approach|our approach|proposed method|model|framework|experiments?"
    r"|experimental (?:setup|results|evaluation)|evaluation|results(?: and discussion)?|analysis"
    r"|discussion|conclusions?(?: and future work)?|limitations|future work|broader impacts?"
    r"|ethics statement|acknowledge?ments?|references|bibliography|works cited"
    r"|appendix(?:\s+[a-z])?|appendices|supplementary materials?"
)
_NUMBER = r"(?:\d{1,2}(?:\.\d{1,2}){0,3}|[IVX]{1,5}|[A-H](?:\.\d{1,2}){0,3})"
_KNOWN_HEADING = re.compile(rf"^(?:{_NUMBER}\.?\s+)?(?:{_KNOWN})\s*:?$", re.I)
_NUMBERED_HEADING = re.compile(rf"^{_NUMBER}\.?\s+[A-Z][^.;,]*$")
_REFERENCES = re.compile(r"^(?:\d{1,2}\.?\s+)?(?:references|bibliography|works cited)\s*:?$", re.I)
_APPENDIX = re.compile(
    r"^(?:appendix|appendices|supplementary|[A-H](?:\.\d{1,2})*\.?\s+[A-Z])", re.I
)
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)


@file_reader(".pdf")
def read_pdf(
    path: Path, source: str | None = None, max_mb: float = MAX_PDF_BYTES / 2**20
) -> ParseResult:
    """One paper from a PDF, with its body as sections (see the module docstring).

    Example:
        >>> result = read_pdf(Path("paper.pdf"))       # doctest: +SKIP
        >>> [s.heading for s in result.papers[0].sections]  # doctest: +SKIP
        ['1 Introduction', '2 Method', ...]
    """
    source = source or path.name
    lines, info = extract_lines(path, max_mb)
    result = ParseResult()
    paper = build_paper(lines, info, source, file_sha256(path), path.stem)
    result.papers.append(paper)
    return result


# --- structure -----------------------------------------------------------------------
def _body_size(lines: list[Line]) -> float:
    sizes: Counter[float] = Counter()
    for line in lines:
        sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def drop_running_lines(lines: list[Line]) -> list[Line]:
    """Without running headers/footers: margin lines repeated on most pages, page numbers."""
    n_pages = len({line.page for line in lines})

    def in_margin(line: Line) -> bool:
        return line.y is not None and (
            line.y > line.height * (1 - _MARGIN) or line.y < line.height * _MARGIN
        )

    def key(line: Line) -> str:
        return re.sub(r"\d+", "#", line.text.casefold())

    pages_of: dict[str, set[int]] = {}
    for line in lines:
        if in_margin(line):
            pages_of.setdefault(key(line), set()).add(line.page)
    repeated = {k for k, pages in pages_of.items() if len(pages) >= max(2, (n_pages + 1) // 2)}
    return [
        line
        for line in lines
        if not (in_margin(line) and (key(line) in repeated or _PAGE_NUMBER.match(line.text)))
    ]


def _styled(line: Line, body: float) -> bool:
    return line.bold or (body > 0 and line.size > body * 1.05)


def is_heading(line: Line, body: float) -> bool:
    """Whether a line is a section heading: short, and a well-known name or numbered
    and set larger or bold (plain body lines that start with a number are not)."""
    text = line.text
    if len(text) > 100 or len(text.split()) > 12 or text.endswith((".", ",", ";")):
        return False
    if _KNOWN_HEADING.match(text):
        return True
    if _NUMBERED_HEADING.match(text) and (_styled(line, body) or not line.size):
        return True
    # Unnumbered headings set clearly larger (bold alone is too common in running text).
    return body > 0 and line.size >= body * 1.15 and text[:1].isupper() and len(text.split()) <= 8


def join_lines(lines: list[tuple[str, int]]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Lines (text, page) as running text: words hyphenated at a line end rejoined
    ("extrac-" + "tion"), other breaks as spaces; with the (offset, page) where each
    page's part starts."""
    out: list[str] = []
    length = 0
    pages: list[tuple[int, int]] = []
    for text, page in lines:
        text = text.strip()
        if not text:
            continue
        sep = " " if out else ""
        if out and text[:1].islower() and re.search(r"[^\W\d_]-$", out[-1]):
            word = re.search(r"(\S+)-$", out[-1])
            if word and "-" not in word.group(1):  # "state-of-" + "the-art" keeps its hyphen
                out[-1] = out[-1][:-1]
                length -= 1
            sep = ""
        if not pages or pages[-1][1] != page:
            pages.append((length + len(sep), page))
        out.append(sep + text)
        length += len(sep) + len(text)
    return "".join(out), tuple(pages)


@dataclass
class _Part:
    heading: str
    page: int
    lines: list[Line]


def build_paper(lines: list[Line], info: DocInfo, source: str, file_hash: str, stem: str) -> Paper:
    """A `Paper` (title, authors, year, identifiers, abstract, sections) from the lines."""
    if not lines:
        raise IngestError(source, NO_TEXT)
    body = _body_size(lines)
    front = read_front_matter(lines, info, body)
    kept = {id(line) for line in drop_running_lines(lines)}
    rest = [line for line in lines[front.end :] if id(line) in kept and line.upright]
    rest = without_figures(rest, body)
    sections = _sections(_parts(rest, body)) if rest else []
    abstract = front.abstract
    if not abstract and sections:
        # No abstract found: the opening of the body stands in for it.
        abstract = _opening(sections[0].text)
    if len(abstract) > _MAX_ABSTRACT:
        abstract = _opening(abstract)
    if not abstract:
        raise IngestError(source, NO_TEXT)
    title = clean_text(front.title)[:MAX_TITLE_CHARS]
    if not normalize_title(title):
        title = stem
    return Paper(
        id=paper_id(title),
        title=title,
        abstract=abstract,
        sources=(source,),
        authors=front.authors,
        year=front.year,
        arxiv_id=front.arxiv_id,
        doi=front.doi,
        sections=tuple(sections),
        file_hash=file_hash,
    )


def _parts(lines: list[Line], body: float) -> list[_Part]:
    """The body's lines cut at headings (the reference list dropped up to an appendix)."""
    parts: list[_Part] = [_Part("", lines[0].page, [])]
    in_references = False
    for line in lines:
        if in_references:
            if _styled(line, body) and _APPENDIX.match(line.text) and is_heading(line, body):
                in_references = False
                parts.append(_Part(line.text, line.page, []))
            continue
        if is_heading(line, body):
            if _REFERENCES.match(line.text):
                in_references = True
                continue
            parts.append(_Part(line.text.rstrip(":"), line.page, []))
        else:
            parts[-1].lines.append(line)
    return parts


def _sections(parts: list[_Part]) -> list[Section]:
    """The body's sections from the parts (parts without text left out)."""
    sections: list[Section] = []
    for part in parts:
        text, pages = join_lines([(line.text, line.page) for line in part.lines])
        if text:
            sections.append(Section(part.heading, text, pages[0][1] if pages else part.page, pages))
    return sections


def _opening(text: str, limit: int = 1500) -> str:
    """The first sentences of ``text``, up to about ``limit`` characters."""
    from assistant.text.sentences import split_sentences

    end = 0
    for s, e in split_sentences(text):
        if e > limit and end:
            break
        end = e
        if s > limit:
            break
    return text[: end or limit].strip()

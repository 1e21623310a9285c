"""The answer as the chat shows it: text with linked [n], then its source cards.

Each cited paper is a card (the target of its [n] links) with the quoted span marked in
its abstract, its related papers and a badge for text aimed at AI readers. A paper whose
PDF the library keeps links to the PDF viewer instead: its [n] opens the PDF at the cited
page (``pdf_links``, from `paperlens.web.viewer.pdf_links`), and so does each of its quoted
passages. Source files are named as `source_names` names them.

Example:
    >>> from paperlens.web.cards import answer_html
    >>> html = answer_html(answer, papers, key="a1b2")              # doctest: +SKIP
    >>> 'href="#pl-a1b2-1"' in html and 'id="pl-a1b2-1"' in html   # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assistant import Answer, Citation, Paper, RelatedPaper, Source

from .html import anchor_id, esc, excerpt, highlight, mode_line, notices_html, text_html
from .source_names import name_of


def _spans(paper: Paper | None, cites: Sequence[Citation]) -> list[tuple[int, int]]:
    spans = []
    for c in cites:
        if c.section is not None or c.page is not None:
            continue  # a full-text passage: shown on its own, with section and page
        if paper is not None and paper.abstract[c.start : c.end] == c.quote:
            spans.append((c.start, c.end))
        elif paper is not None and c.quote and c.quote in paper.abstract:
            # Offsets that drifted from the stored abstract: fall back to the quote itself.
            i = paper.abstract.index(c.quote)
            spans.append((i, i + len(c.quote)))
    return spans


def _paper_meta(
    paper: Paper | None, source: Source, names: Mapping[str, str], pdf: str | None
) -> str:
    bits = []
    credit = source.byline  # "Smith & Doe, 2024", or the year alone
    if credit:
        bits.append(f'<span class="pl-byline">{esc(credit)}</span>')
    if paper is not None and paper.venue:
        bits.append(esc(paper.venue))
    if paper is not None and paper.url and paper.url.startswith(("https://", "http://")):
        url = esc(paper.url)
        bits.append(f'<a href="{url}" target="_blank" rel="noopener noreferrer">link</a>')
    files = paper.sources if paper is not None else source.sources
    if files:
        bits.append("from " + ", ".join(esc(name_of(f, names)) for f in files))
    if pdf is not None:
        bits.append(_open_pdf(pdf, "open the PDF"))
    return " · ".join(bits)


def _open_pdf(url: str, label: str) -> str:
    return (
        f'<a class="pl-open-pdf" href="{esc(url)}" target="_blank" rel="noopener">{esc(label)}</a>'
    )


def source_pdf_links(
    citations: Sequence[Citation], pdf_links: Mapping[Citation, str]
) -> dict[int, list[tuple[str, str]]]:
    """Source number -> (quote, viewer address) of each of its quotes in the PDF viewer,
    full-text passages (a page of the body) before abstract quotes (found by the viewer)."""
    out: dict[int, list[tuple[str, str]]] = {}
    for c in sorted((c for c in citations if c in pdf_links), key=lambda c: c.page is None):
        out.setdefault(c.n, []).append((c.quote, pdf_links[c]))
    return out


def sources_html(
    answer: Answer,
    papers: Mapping[str, Paper],
    key: str,
    related: Mapping[str, Sequence[RelatedPaper]] | None = None,
    *,
    pdf_links: Mapping[Citation, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """The sources panel of one answer: cited papers with their quoted spans marked.

    Each cited paper is an ``<li id="pl-{key}-{n}">`` (the target of the ``[n]`` links):
    its title, retrieval score, and abstract with the quoted span(s) in ``<mark>``.
    "May also be relevant" papers (``Source.tier == "second"``) follow in their own
    block labelled uncertain; papers considered but not cited, in a short list.
    """
    by_n: dict[int, list[Citation]] = {}
    for c in answer.citations:
        by_n.setdefault(c.n, []).append(c)
    cited = [s for s in answer.sources if s.n in by_n and s.tier != "second"]
    # Listed whether or not the text quotes them (an LLM answer does not).
    second = [s for s in answer.sources if s.tier == "second"]
    others = [s for s in answer.sources if s.n not in by_n and s.tier != "second"]
    if not cited and not others and not second:
        return ""
    related = related or {}
    view = _View(pdf_links or {}, names or {})
    items = [
        _source_item(s, by_n[s.n], papers, key, related.get(s.paper_id, ()), view) for s in cited
    ]
    parts = [f'<details class="pl-sources" open><summary>Sources · {len(cited)} cited</summary>']
    if items:
        parts.append('<ol class="pl-source-list">' + "".join(items) + "</ol>")
    if second:
        # Shown apart and labelled: these papers do not support the answer's sentences.
        parts.append(
            '<div class="pl-second"><div class="pl-second-head">May also be relevant '
            '<span class="pl-warn" title="an uncertain match: not cited as supporting the answer">'
            "uncertain</span></div>"
            '<ol class="pl-source-list">'
            + "".join(
                _source_item(s, by_n.get(s.n, []), papers, key, related.get(s.paper_id, ()), view)
                for s in second
            )
            + "</ol></div>"
        )
    if others:
        rows = "".join(
            f'<li><span class="pl-n">[{s.n}]</span> {esc(s.title)} '
            f'<span class="pl-score">score {s.score:.2f}</span>'
            f"{_flag_html(s, papers.get(s.paper_id))}</li>"
            for s in others
        )
        parts.append(
            '<details class="pl-considered">'
            f"<summary>{len(others)} more considered, not cited</summary>"
            f"<ul>{rows}</ul></details>"
        )
    parts.append("</details>")
    return "".join(parts)


@dataclass(frozen=True)
class _View:
    """How a card names files and which quotes open in the PDF viewer."""

    pdf_links: Mapping[Citation, str]
    names: Mapping[str, str]


def _source_item(
    s: Source,
    cites: list[Citation],
    papers: Mapping[str, Paper],
    key: str,
    related: Sequence[RelatedPaper] = (),
    view: _View = _View({}, {}),
) -> str:
    """One source's ``<li>``: title, score, check badge, abstract with the quoted spans marked."""
    paper = papers.get(s.paper_id)
    if paper is not None and cites:
        spans = _spans(paper, cites)
        body, whole = excerpt(paper.abstract, spans)
        if spans:  # said like a passage's place, so each quote says where it is from
            body = f'<span class="pl-where">Abstract:</span> {body}'
        if not whole:
            body += (
                '<details class="pl-full"><summary>full abstract</summary>'
                f"{highlight(paper.abstract, spans)}</details>"
            )
    else:
        body = esc(s.snippet)
    for c in cites:
        if c.section is not None or c.page is not None:
            where = esc(c.location("page"))
            url = view.pdf_links.get(c)
            opener = f" {_open_pdf(url, f'open the PDF at page {c.page or 1}')}" if url else ""
            body += (
                f'<div class="pl-passage"><span class="pl-where">Full text, {where}:</span> '
                f"<mark>{esc(c.quote)}</mark>{opener}</div>"
            )
    checked = all(c.verified for c in cites)
    badge = (
        ""
        if not cites
        else '<span class="pl-ok" title="the quoted span was checked to support the sentence">'
        "checked</span>"
        if checked
        else '<span class="pl-warn" title="not checked against the sentence">unchecked</span>'
    )
    abstract_pdf = next(
        (view.pdf_links[c] for c in cites if c in view.pdf_links and c.page is None), None
    )
    meta = _paper_meta(paper, s, view.names, abstract_pdf)
    badge += _flag_html(s, paper)
    return (
        f'<li class="pl-source" id="{anchor_id(key, s.n)}">'
        f'<div class="pl-source-head"><span class="pl-n">[{s.n}]</span> '
        f'<strong class="pl-title">{esc(s.title)}</strong></div>'
        f'<div class="pl-source-meta"><span class="pl-score">score {s.score:.2f}</span> {badge}'
        + (f" · {meta}" if meta else "")
        + f'</div><div class="pl-abstract">{body}</div>{related_html(related)}</li>'
    )


def related_html(items: Sequence[RelatedPaper]) -> str:
    """A source card's "related" action: a closed ``<details>`` listing the library's
    closest papers, each with its sentence that links it to the card's paper."""
    if not items:
        return ""
    rows = "".join(
        f'<li class="pl-related-item"><strong>{esc(r.title)}</strong> '
        f'<span class="pl-score">similarity {r.score:.2f}</span>'
        + (f'<div class="pl-abstract pl-link">{esc(r.sentence)}</div>' if r.sentence else "")
        + "</li>"
        for r in items
    )
    return (
        '<details class="pl-related"><summary title="the closest papers of the library, and the '
        f'sentence that links each">Related papers ({len(items)})</summary>'
        f"<ol>{rows}</ol></details>"
    )


def export_html(links: Sequence[tuple[str, str]]) -> str:
    """The download links under an answer: ``(label, url)`` pairs, e.g. ("BibTeX", url)."""
    if not links:
        return ""
    anchors = " · ".join(
        f'<a class="pl-export-link" href="{esc(url)}" download target="_blank" '
        f'rel="noopener">{esc(label)}</a>'
        for label, url in links
    )
    return f'<div class="pl-export">Download the cited papers: {anchors}</div>'


def _flag_html(s: Source, paper: Paper | None) -> str:
    """A warning badge for a paper carrying text aimed at AI readers (never used as evidence)."""
    n = max(s.injected, len(paper.injected) if paper is not None else 0)
    if not n:
        return ""
    return (
        f' <span class="pl-warn pl-injected" title="{n} sentence(s) of this paper address an AI '
        'reader (hidden instructions); they are excluded from answers and prompts">'
        "contains instructions to AI</span>"
    )


def answer_html(
    answer: Answer,
    papers: Mapping[str, Paper],
    key: str,
    seconds: float | None = None,
    *,
    related: Mapping[str, Sequence[RelatedPaper]] | None = None,
    exports: Sequence[tuple[str, str]] = (),
    pdf_links: Mapping[Citation, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """The whole assistant message: text with linked citations, mode, notices, sources.

    One ``<div>`` with no blank line, so a Markdown renderer passes it through as HTML.
    ``exports`` are ``(label, url)`` download links shown under the answer; ``related``
    maps a source's paper id to its related papers, listed in its card (`related_html`);
    ``pdf_links`` maps a citation to the PDF viewer's address, ``names`` a source file to
    the name shown for it.
    """
    valid = {s.n for s in answer.sources}
    pdf_links = pdf_links or {}
    return (
        f'<div class="pl-answer" data-answer="{esc(key)}">'
        + text_html(answer.text, key, valid, source_pdf_links(answer.citations, pdf_links))
        + notices_html(answer.notices)
        + mode_line(answer, seconds)
        + export_html(exports)
        + sources_html(answer, papers, key, related, pdf_links=pdf_links, names=names)
        + "</div>"
    )

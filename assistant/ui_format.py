"""HTML for the web UI: an `Answer` with linked citations and its sources panel.

Pure string building (no gradio), so it is unit-tested directly. Every piece of user or
paper text is escaped here before it becomes HTML: the chat renders what this returns.

Example:
    >>> from assistant.ui_format import answer_html
    >>> html = answer_html(answer, papers, key="a1b2")              # doctest: +SKIP
    >>> 'href="#pl-a1b2-1"' in html and 'id="pl-a1b2-1"' in html   # doctest: +SKIP
    True
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

from .types import Answer, Citation, Paper, RelatedPaper, Source

# What the chat shows of a very long question (the assistant itself cuts at 2,000).
MAX_SHOWN_QUESTION = 600
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_NUMBERED = re.compile(r"^(\d+)\.\s+(.*)$")
_BULLET = re.compile(r"^[-*]\s+(.*)$")


def esc(text: object) -> str:
    """Escape any text for HTML (quotes included, so it is safe in attributes too)."""
    return html.escape(str(text), quote=True)


def anchor_id(key: str, n: int) -> str:
    """The element id of source ``n`` of the answer ``key``."""
    return f"pl-{key}-{n}"


def _inline(line: str, key: str | None, valid: set[int]) -> str:
    """One escaped line with **bold** and, when ``key`` is set, [n] turned into links."""
    out = _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", esc(line))
    if key is None:
        return out

    def link(m: re.Match[str]) -> str:
        nums = [int(x) for x in re.split(r"\s*,\s*", m.group(1))]
        if not all(n in valid for n in nums):
            return m.group(0)
        return "".join(
            f'<a class="pl-cite" href="#{anchor_id(key, n)}" title="source {n}">[{n}]</a>'
            for n in nums
        )

    return _CITE.sub(link, out)


def text_html(text: str, key: str | None = None, valid: Iterable[int] = ()) -> str:
    """The answer's text (the small Markdown the answerers write) as HTML.

    Numbered and bulleted lines become lists, other lines paragraphs. With ``key``,
    each ``[n]`` whose ``n`` is in ``valid`` becomes a link to that source's entry.
    """
    valid_set = set(valid)
    parts: list[str] = []
    open_list: str | None = None
    for raw in text.split("\n"):
        line = raw.strip()
        numbered = _NUMBERED.match(line)
        bullet = _BULLET.match(line)
        kind = "ol" if numbered else "ul" if bullet else None
        if open_list and kind != open_list:
            parts.append(f"</{open_list}>")
            open_list = None
        if not line:
            continue
        if numbered:
            if open_list is None:
                parts.append(f'<ol start="{int(numbered.group(1))}">')
                open_list = "ol"
            parts.append(f"<li>{_inline(numbered.group(2), key, valid_set)}</li>")
        elif bullet:
            if open_list is None:
                parts.append("<ul>")
                open_list = "ul"
            parts.append(f"<li>{_inline(bullet.group(1), key, valid_set)}</li>")
        else:
            parts.append(f"<p>{_inline(line, key, valid_set)}</p>")
    if open_list:
        parts.append(f"</{open_list}>")
    return "".join(parts)


def highlight(abstract: str, spans: Sequence[tuple[int, int]]) -> str:
    """The abstract, escaped, with each ``(start, end)`` span wrapped in ``<mark>``."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        start, end = max(0, start), min(len(abstract), end)
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, pos = [], 0
    for start, end in merged:
        out.append(esc(abstract[pos:start]))
        out.append(f"<mark>{esc(abstract[start:end])}</mark>")
        pos = end
    out.append(esc(abstract[pos:]))
    return "".join(out)


def excerpt(abstract: str, spans: Sequence[tuple[int, int]], context: int = 160) -> tuple[str, bool]:
    """The part of the abstract around the marked spans (cut at words), marks kept.

    Returns the HTML and whether it is the whole abstract.
    """
    if not spans:
        whole = len(abstract) <= 2 * context
        return highlight(abstract[: 2 * context], []) + ("" if whole else "…"), whole
    lo = max(0, min(s for s, _ in spans) - context)
    hi = min(len(abstract), max(e for _, e in spans) + context)
    if lo > 0:
        cut = abstract.find(" ", lo)
        lo = cut + 1 if 0 <= cut < min(s for s, _ in spans) else lo
    if hi < len(abstract):
        cut = abstract.rfind(" ", 0, hi)
        hi = cut if cut > max(e for _, e in spans) else hi
    shifted = [(s - lo, e - lo) for s, e in spans]
    whole = lo == 0 and hi == len(abstract)
    body = highlight(abstract[lo:hi], shifted)
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(abstract) else ""), whole


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


def _paper_meta(paper: Paper | None, source: Source) -> str:
    bits = []
    if paper is not None and paper.year:
        bits.append(esc(paper.year))
    if paper is not None and paper.venue:
        bits.append(esc(paper.venue))
    if paper is not None and paper.url and paper.url.startswith(("https://", "http://")):
        bits.append(f'<a href="{esc(paper.url)}" target="_blank" rel="noopener noreferrer">link</a>')
    files = paper.sources if paper is not None else source.sources
    if files:
        bits.append("from " + ", ".join(esc(f) for f in files))
    return " · ".join(bits)


def sources_html(
    answer: Answer, papers: Mapping[str, Paper], key: str,
    related: Mapping[str, Sequence[RelatedPaper]] | None = None,
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
    items = [_source_item(s, by_n[s.n], papers, key, related.get(s.paper_id, ())) for s in cited]
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
            + "".join(_source_item(s, by_n.get(s.n, []), papers, key, related.get(s.paper_id, ()))
                      for s in second)
            + "</ol></div>"
        )
    if others:
        rows = "".join(
            f'<li><span class="pl-n">[{s.n}]</span> {esc(s.title)} '
            f'<span class="pl-score">score {s.score:.2f}</span>{_flag_html(s, papers.get(s.paper_id))}</li>'
            for s in others
        )
        parts.append(
            f'<details class="pl-considered"><summary>{len(others)} more considered, not cited</summary>'
            f"<ul>{rows}</ul></details>"
        )
    parts.append("</details>")
    return "".join(parts)


def _source_item(
    s: Source, cites: list[Citation], papers: Mapping[str, Paper], key: str,
    related: Sequence[RelatedPaper] = (),
) -> str:
    """One source's ``<li>``: title, score, check badge, abstract with the quoted spans marked."""
    paper = papers.get(s.paper_id)
    if paper is not None and cites:
        spans = _spans(paper, cites)
        body, whole = excerpt(paper.abstract, spans)
        if not whole:
            body += (
                '<details class="pl-full"><summary>full abstract</summary>'
                f"{highlight(paper.abstract, spans)}</details>"
            )
    else:
        body = esc(s.snippet)
    for c in cites:
        if c.section is not None or c.page is not None:
            where = ", ".join(x for x in (
                f"section {esc(c.section)}" if c.section else "", f"page {c.page}" if c.page else ""
            ) if x)
            body += f'<div class="pl-passage"><span class="pl-where">Full text, {where}:</span> <mark>{esc(c.quote)}</mark></div>'
    checked = all(c.verified for c in cites)
    badge = (
        ""
        if not cites
        else '<span class="pl-ok" title="the quoted span was checked to support the sentence">checked</span>'
        if checked
        else '<span class="pl-warn" title="not checked against the sentence">unchecked</span>'
    )
    meta = _paper_meta(paper, s)
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
        f'sentence that links each">Related papers ({len(items)})</summary><ol>{rows}</ol></details>'
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


def mode_line(answer: Answer, seconds: float | None = None) -> str:
    """Which answerer answered, said plainly (and that the LLM fell back, when it did)."""
    fell_back = any(n.startswith("The LLM") for n in answer.notices)
    if answer.mode == "llm":
        label = f"Answered by the LLM <code>{esc(answer.model or 'unknown model')}</code>, every sentence checked against its cited abstract"
    elif answer.mode == "extractive" and fell_back:
        label = "Extractive answer (fallback: the LLM's answer could not be used)"
    elif answer.mode == "extractive":
        label = "Extractive answer: sentences quoted from the papers' abstracts"
    else:
        label = "No answer"
    if seconds is not None:
        label += f" · {seconds:.1f} s"
    return f'<div class="pl-mode pl-mode-{esc(answer.mode)}">{label}</div>'


def notices_html(notices: Iterable[str]) -> str:
    items = "".join(f"<li>{esc(n)}</li>" for n in notices)
    return f'<ul class="pl-notices">{items}</ul>' if items else ""


def answer_html(
    answer: Answer, papers: Mapping[str, Paper], key: str, seconds: float | None = None,
    *, related: Mapping[str, Sequence[RelatedPaper]] | None = None,
    exports: Sequence[tuple[str, str]] = (),
) -> str:
    """The whole assistant message: text with linked citations, mode, notices, sources.

    One ``<div>`` with no blank line, so a Markdown renderer passes it through as HTML.
    ``exports`` are ``(label, url)`` download links shown under the answer; ``related``
    maps a source's paper id to its related papers, listed in its card (`related_html`).
    """
    valid = {s.n for s in answer.sources}
    return (
        f'<div class="pl-answer" data-answer="{esc(key)}">'
        + text_html(answer.text, key, valid)
        + notices_html(answer.notices)
        + mode_line(answer, seconds)
        + export_html(exports)
        + sources_html(answer, papers, key, related)
        + "</div>"
    )


def draft_html(text: str, draft: bool) -> str:
    """A partly streamed answer (no links yet: citations are checked at the end)."""
    note = "drafting, citations are checked when it ends…" if draft else "answering…"
    return (
        f'<div class="pl-answer pl-streaming">{text_html(text)}'
        f'<div class="pl-mode">{note}</div></div>'
    )


def message_html(text: str, kind: str = "info") -> str:
    """A short message from the app itself (empty library, errors)."""
    return f'<div class="pl-answer pl-{esc(kind)}"><p>{esc(text)}</p></div>'


def question_html(question: str) -> str:
    """The user's question as shown in the chat: escaped, and shortened when huge."""
    q = " ".join(question.split())
    if len(q) > MAX_SHOWN_QUESTION:
        q = f"{q[:MAX_SHOWN_QUESTION]}… ({len(q):,} characters in all)"
    return f'<div class="pl-question">{esc(q)}</div>'


def search_html(papers: Sequence[Paper], query: str, total: int, limit: int) -> str:
    """Library search results: titles with a snippet around the first match."""
    if not query.strip():
        return ""
    if not papers:
        return f"<p>No paper's title or abstract contains <em>{esc(query)}</em>.</p>"
    head = f"<p>{total} paper{'s' if total != 1 else ''} match <em>{esc(query)}</em>"
    head += f" (first {limit} shown)</p>" if total > limit else "</p>"
    words = query.lower().split()
    rows = []
    for p in papers:
        i = p.abstract.lower().find(words[0]) if words else -1
        start = p.abstract.rfind(" ", 0, max(0, i - 80)) + 1 if i > 80 else 0
        snippet = p.abstract[start : start + 240]
        spans = []
        low = snippet.lower()
        for w in words:
            j = low.find(w)
            while j >= 0:
                spans.append((j, j + len(w)))
                j = low.find(w, j + len(w))
        body = ("…" if start else "") + highlight(snippet, spans) + "…"
        rows.append(
            f'<li><strong>{esc(p.title)}</strong>'
            f'<div class="pl-source-meta">{esc(", ".join(p.sources))}</div>'
            f'<div class="pl-abstract">{body}</div></li>'
        )
    return head + '<ol class="pl-search">' + "".join(rows) + "</ol>"


def search_papers(papers: Iterable[Paper], query: str) -> list[Paper]:
    """Papers whose title or abstract contains every word of ``query`` (case-insensitive)."""
    words = query.lower().split()
    if not words:
        return []
    hits = []
    for p in papers:
        hay = f"{p.title}\n{p.abstract}".lower()
        if all(w in hay for w in words):
            hits.append(p)
    # Title matches first: they are what a researcher scanning the list looks for.
    hits.sort(key=lambda p: (not all(w in p.title.lower() for w in words), p.title.lower()))
    return hits


__all__ = [
    "answer_html",
    "draft_html",
    "esc",
    "excerpt",
    "export_html",
    "highlight",
    "message_html",
    "question_html",
    "related_html",
    "search_html",
    "search_papers",
    "sources_html",
    "text_html",
]

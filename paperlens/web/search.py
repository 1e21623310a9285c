"""The Library tab's search: papers matching every word, and their result list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from assistant import Paper

from .html import esc, highlight
from .source_names import name_of


def search_html(
    papers: Sequence[Paper],
    query: str,
    total: int,
    limit: int,
    names: Mapping[str, str] | None = None,
) -> str:
    """Library search results: titles with a snippet around the first match, and their
    sources (named by ``names``, `source_names`)."""
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
            f"<li><strong>{esc(p.title)}</strong>"
            f'<div class="pl-source-meta">'
            f"{esc(', '.join(name_of(f, names or {}) for f in p.sources))}</div>"
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

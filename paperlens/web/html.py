"""HTML pieces of the web UI: escaping, the answers' small Markdown, marked abstracts.

Pure string building (no gradio), so it is unit-tested directly. Every piece of user or
paper text is escaped here before it becomes HTML: the chat renders what this returns.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

from assistant import CITATION_MARKER, Answer

# What the chat shows of a very long question (the assistant itself cuts at 2,000).
MAX_SHOWN_QUESTION = 600
_CITE = CITATION_MARKER
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_NUMBERED = re.compile(r"^(\d+)\.\s+(.*)$")
_BULLET = re.compile(r"^[-*]\s+(.*)$")
_TAG = re.compile(r"<[^>]+>")
# Source number -> (quote, PDF viewer address) of each of its quotes, the preferred first.
PdfLinks = Mapping[int, Sequence[tuple[str, str]]]


def esc(text: object) -> str:
    """Escape any text for HTML (quotes included, so it is safe in attributes too)."""
    return html.escape(str(text), quote=True)


def anchor_id(key: str, n: int) -> str:
    """The element id of source ``n`` of the answer ``key``."""
    return f"pl-{key}-{n}"


def cite_link(key: str, n: int, pdf_url: str | None = None) -> str:
    """``[n]`` as a link: to the PDF viewer at ``pdf_url`` when source ``n``'s PDF is kept,
    else to its entry under the answer."""
    if pdf_url:
        return (
            f'<a class="pl-cite pl-cite-pdf" href="{esc(pdf_url)}" target="_blank" '
            f'rel="noopener" title="source {n}: open the PDF at the cited page">[{n}]</a>'
        )
    return f'<a class="pl-cite" href="#{anchor_id(key, n)}" title="source {n}">[{n}]</a>'


def _squash(text: str) -> str:
    return " ".join(text.split()).casefold()


def _pick(options: Sequence[tuple[str, str]], before: str) -> str | None:
    """The viewer address of the quote that the text before a marker states (an extractive
    answer quotes it whole), else the first (a paraphrase, as an LLM writes)."""
    said = _squash(before)
    for quote, url in options:
        if _squash(quote) in said:
            return url
    return options[0][1] if options else None


def _inline(line: str, key: str | None, valid: set[int], pdf: PdfLinks | None = None) -> str:
    """One escaped line with **bold** and, when ``key`` is set, [n] turned into links."""
    out = _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", esc(line))
    if key is None:
        return out
    last = 0

    def link(m: re.Match[str]) -> str:
        nonlocal last
        before = html.unescape(_TAG.sub("", out[last : m.start()]))
        last = m.end()
        nums = [int(x) for x in re.split(r"\s*,\s*", m.group(1))]
        if not all(n in valid for n in nums):
            return m.group(0)
        return "".join(cite_link(key, n, _pick((pdf or {}).get(n, ()), before)) for n in nums)

    return _CITE.sub(link, out)


def text_html(
    text: str,
    key: str | None = None,
    valid: Iterable[int] = (),
    pdf: PdfLinks | None = None,
) -> str:
    """The answer's text (the small Markdown the answerers write) as HTML.

    Numbered and bulleted lines become lists, other lines paragraphs. With ``key``,
    each ``[n]`` whose ``n`` is in ``valid`` becomes a link to that source's entry or, when
    ``pdf`` holds source ``n``'s quotes, to the PDF viewer at the quote the text before
    the marker states (`cite_link`).
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
            parts.append(f"<li>{_inline(numbered.group(2), key, valid_set, pdf)}</li>")
        elif bullet:
            if open_list is None:
                parts.append("<ul>")
                open_list = "ul"
            parts.append(f"<li>{_inline(bullet.group(1), key, valid_set, pdf)}</li>")
        else:
            parts.append(f"<p>{_inline(line, key, valid_set, pdf)}</p>")
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


def excerpt(
    abstract: str, spans: Sequence[tuple[int, int]], context: int = 160
) -> tuple[str, bool]:
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


PLACES_NAMED = 3  # full-text places the footer names; more are counted


def quote_places(answer: Answer) -> str:
    """Where the answer's quotes come from, for its footer: "the papers' abstracts", "the
    full text (section 7, p. 12)", or both ("2 abstracts and the full text (...)")."""
    cites = [c for c in answer.citations if c.tier != "second"]
    places = list(
        dict.fromkeys(
            c.location() or "the text" for c in cites if c.section is not None or c.page is not None
        )
    )
    abstracts = len({c.paper_id for c in cites if c.section is None and c.page is None})
    if not places:
        return "the papers' abstracts"
    named = "; ".join(places[:PLACES_NAMED])
    if len(places) > PLACES_NAMED:
        named += f"; {len(places) - PLACES_NAMED} more"
    body = f"the full text ({esc(named)})"
    if not abstracts:
        return body
    return f"{abstracts} abstract{'s' if abstracts != 1 else ''} and {body}"


def mode_line(answer: Answer, seconds: float | None = None) -> str:
    """Which answerer answered, said plainly (and that the LLM fell back, when it did)."""
    fell_back = any(n.startswith("The LLM") for n in answer.notices)
    if answer.mode == "llm":
        label = (
            f"Answered by the LLM <code>{esc(answer.model or 'unknown model')}</code>, "
            "every sentence checked against its cited abstract"
        )
    elif answer.mode == "extractive" and fell_back:
        label = "Extractive answer (fallback: the LLM's answer could not be used)"
    elif answer.mode == "extractive":
        label = f"Extractive answer: sentences quoted from {quote_places(answer)}"
    else:
        label = "No answer"
    if seconds is not None:
        label += f" · {seconds:.1f} s"
    return f'<div class="pl-mode pl-mode-{esc(answer.mode)}">{label}</div>'


def notices_html(notices: Iterable[str]) -> str:
    items = "".join(f"<li>{esc(n)}</li>" for n in notices)
    return f'<ul class="pl-notices">{items}</ul>' if items else ""


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

"""What the MCP tools do (`LibraryTools`), in plain Python: `mcp_server.py` exposes them.

Each method validates its arguments (a bad one raises `ArgumentError`, a `PaperLensError`
the server turns into a tool error) and returns JSON-ready dicts; every call reads the one
`Assistant` the process loads, and ``ask`` gets a conversation of its own.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assistant import (
    Assistant,
    Filters,
    LibraryEmptyError,
    Paper,
    PaperLensError,
    PaperNotFoundError,
    Settings,
    get_settings,
    resolve_paper,
)

MAX_K = 50


class PaperFilters(BaseModel):
    """Restrict which papers may be returned; every field is optional and they combine (AND)."""

    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(
        default_factory=list,
        description="Only papers with at least one of these tags (BibTeX keywords, Zotero "
        "tags; any case).",
    )
    collections: list[str] = Field(
        default_factory=list, description="Only papers in at least one of these Zotero collections."
    )
    year_from: int | None = Field(None, description="Only papers published in or after this year.")
    year_to: int | None = Field(None, description="Only papers published in or before this year.")
    paper_ids: list[str] = Field(
        default_factory=list, description="Only these papers (ids as returned by search_papers)."
    )
    sources: list[str] = Field(
        default_factory=list, description="Only papers ingested from these file names."
    )

    def to_filters(self) -> Filters:
        return Filters(
            sources=tuple(self.sources),
            paper_ids=tuple(self.paper_ids),
            year_from=self.year_from,
            year_to=self.year_to,
            tags=tuple(self.tags),
            collections=tuple(self.collections),
        )


class ArgumentError(PaperLensError):
    """A tool was called with an argument it cannot use."""


class LibraryTools:
    """What the MCP tools do, over one lazily loaded `Assistant`; plain Python, no protocol.

    Example:
        >>> tools = LibraryTools()                                   # doctest: +SKIP
        >>> tools.search_papers("speculative decoding", k=3)["results"][0]  # doctest: +SKIP
    """

    def __init__(self, settings: Settings | None = None, *, assistant: Assistant | None = None):
        self.settings = get_settings(settings)
        self._assistant = assistant
        self._loading = threading.Lock()  # held only while loading, never while answering

    @property
    def assistant(self) -> Assistant:
        """The process's loaded library and models (loaded by the first call that needs them)."""
        if self._assistant is None:
            with self._loading:
                if self._assistant is None:
                    self._assistant = Assistant(self.settings)
        return self._assistant

    def search_papers(
        self, query: str, k: int = 10, filters: PaperFilters | None = None
    ) -> dict[str, Any]:
        """The ``search_papers`` tool: the ``k`` papers ranked best for ``query``."""
        query = " ".join(str(query).split())
        if not query:
            raise ArgumentError(
                "query is empty - pass the words to search for, e.g. 'speculative decoding'."
            )
        if not 1 <= k <= MAX_K:
            raise ArgumentError(f"k must be between 1 and {MAX_K}, got {k}.")
        # Ranked deeper than ``k`` so that the count of papers an answer would list is whole.
        ranked = self.assistant.search(
            query, k=max(k, MAX_K), filters=filters.to_filters() if filters else None
        )
        papers = self.assistant.papers()
        results = [
            {
                "rank": h.rank,
                "paper_id": h.paper_id,
                "title": h.title,
                "score": h.score,
                "dense": h.dense,
                "lexical": h.lexical,
                "relevant": h.tier == "main",
                "tier": h.tier,
                "sentence": h.sentence,
                **_short_metadata(papers.get(h.paper_id)),
            }
            for h in ranked[:k]
        ]
        return {
            "query": query,
            "relevant_count": sum(h.tier == "main" for h in ranked),
            "note": "relevant: the papers the answer to this query would list; tier 'second': "
            "may also be relevant; other results only ranked.",
            "results": results,
        }

    def ask(
        self, question: str, mode: str | None = None, filters: PaperFilters | None = None
    ) -> dict[str, Any]:
        """The ``ask`` tool: a cited answer, from a conversation of its own."""
        if not " ".join(str(question).split()):
            raise ArgumentError(
                "question is empty - ask about the papers, e.g. 'Which papers study "
                "speculative decoding?'"
            )
        if mode not in (None, "extractive", "llm"):
            raise ArgumentError(f"mode must be 'extractive' or 'llm', got {mode!r}.")
        # A conversation of its own per call, over the shared loaded retriever.
        answer = self.assistant.new_conversation().ask(
            question,
            mode=mode,  # type: ignore[arg-type]
            filters=filters.to_filters() if filters else None,
        )
        data = answer.to_dict()
        data.pop("timings", None)
        # The sources that answered or may: the considered-only ones are noise for a reader.
        data["sources"] = [s for s in data["sources"] if s.get("relevant") or s.get("tier")]
        return data

    def get_paper(self, paper_id: str) -> dict[str, Any]:
        paper_id = str(paper_id).strip()
        paper = self.assistant.papers().get(paper_id)
        if paper is None:
            raise ArgumentError(
                f"No paper with id {paper_id!r} in the library - use an id returned by "
                "search_papers or ask (paper_id)."
            )
        data = paper.to_dict()
        data.pop("sections", None)
        data.pop("injected", None)
        data["flagged_sentences"] = len(paper.injected)  # text aimed at AI readers: never evidence
        data["sections"] = paper_sections(self.assistant, paper_id)
        data["full_text"] = bool(data["sections"])
        return data

    def related_papers(self, paper_id: str, k: int = 5) -> dict[str, Any]:
        ref = " ".join(str(paper_id).split())
        if not ref:
            raise ArgumentError(
                "paper_id is empty - pass an id returned by search_papers or ask (paper_id)."
            )
        if not 1 <= k <= MAX_K:
            raise ArgumentError(f"k must be between 1 and {MAX_K}, got {k}.")
        papers = self.assistant.papers()
        if not papers:
            raise _empty(self.settings)
        try:
            paper = resolve_paper(papers, ref)
        except PaperNotFoundError as exc:
            if not str(exc).startswith("No paper"):
                raise  # several titles match: its message lists their ids
            # resolve_paper's own message points at the CLI; a model needs the tool to use.
            raise ArgumentError(
                f"No paper with id {ref!r} in the library - use an id returned by search_papers "
                "or ask (paper_id), an arXiv id, a DOI or words of its title."
            ) from exc
        results = []
        for rank, r in enumerate(self.assistant.related(paper.id, k), 1):
            results.append(
                {
                    "rank": rank,
                    "paper_id": r.paper_id,
                    "title": r.title,
                    "score": r.score,
                    "sentence": r.sentence,
                    "start": r.start,
                    "end": r.end,
                    "anchor": r.anchor,
                    "anchor_start": r.anchor_start,
                    "anchor_end": r.anchor_end,
                    "link": r.link,
                    **_short_metadata(papers[r.paper_id]),
                }
            )
        return {"paper_id": paper.id, "title": paper.title, "results": results}

    def library_stats(self) -> dict[str, Any]:
        stats = self.assistant.stats().to_dict()
        papers = self.assistant.papers().values()
        tags: dict[str, int] = {}
        collections: dict[str, int] = {}
        years = sorted(p.year for p in papers if p.year)
        for p in papers:
            for t in p.tags:
                tags[t] = tags.get(t, 0) + 1
            for c in p.collections:
                collections[c] = collections.get(c, 0) + 1
        stats.update(
            tags=dict(sorted(tags.items())),
            collections=dict(sorted(collections.items())),
            years={"from": years[0], "to": years[-1]} if years else None,
            full_text_papers=len(self.assistant.library.fulltext_ids),
        )
        return stats


def _empty(settings: Settings) -> PaperLensError:
    return LibraryEmptyError(settings.store_location)


def _short_metadata(paper: Paper | None) -> dict[str, Any]:
    if paper is None:  # removed since it was ranked
        return {}
    fields = {
        "authors": list(paper.authors),
        "year": paper.year,
        "venue": paper.venue,
        "url": paper.url,
        "doi": paper.doi,
        "arxiv_id": paper.arxiv_id,
        "tags": list(paper.tags),
        "collections": list(paper.collections),
    }
    return {k: v for k, v in fields.items() if v}


def paper_sections(bot: Assistant, paper_id: str) -> list[dict[str, Any]]:
    """A full-text paper's sections rebuilt from its stored chunks (heading, first page, text).

    Chunks overlap and carry the title and heading in front of their span; ``start``/``end``
    place each span in its section's text, so the text is laid back together by offset. A
    section starts where the heading changes or the offsets start over.
    """
    chunks = sorted(
        (c for c, _ in bot.library.fulltext_chunks([paper_id]).get(paper_id, [])),
        key=lambda c: c.position,
    )
    sections: list[dict[str, Any]] = []
    text = ""
    last_start = -1
    for c in chunks:
        span = c.text[len(c.text) - (c.end - c.start) :] if c.end > c.start else ""
        if not sections or c.section != sections[-1]["heading"] or c.start <= last_start:
            if sections:
                sections[-1]["text"] = text.strip()
            sections.append({"heading": c.section, "page": c.page, "text": ""})
            text = ""
        if c.end > len(text):
            text = text[: c.start].ljust(c.start) + span
        last_start = c.start
    if sections:
        sections[-1]["text"] = text.strip()
    return sections

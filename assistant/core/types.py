"""Small typed values that flow through paperlens, each with a wire form (`to_dict`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from .bylines import Credited
from .wire import Wire

Mode = Literal["extractive", "llm", "none"]
QuestionKind = Literal["list", "single", "comparison", "metadata", "follow_up"]

# How many ranked candidates an `Answer` carries: enough for recall@20.
RANKING_DEPTH = 20

# A paper's metadata beside its text: the bibliographic fields and the reference manager's
# tags and collections. Ingest attaches and updates them without re-embedding (they are not
# what gets embedded), and the store keeps them in each paper's chunk-0 metadata.
META_FIELDS: tuple[str, ...] = (
    "authors",
    "year",
    "venue",
    "url",
    "arxiv_id",
    "doi",
    "tags",
    "collections",
)


def page_at(first: int, breaks: tuple[tuple[int, int], ...], offset: int) -> int:
    """The page of character ``offset`` of a text that starts on page ``first`` and has
    page ``breaks`` as (offset, page) pairs in order (a `Section`'s or a `Chunk`'s)."""
    page = first
    for start, number in breaks:
        if start > offset:
            break
        page = number
    return page


@dataclass(frozen=True)
class Section(Wire):
    """A section of a paper's full text (from a PDF), references excluded.

    ``pages`` maps character offsets of ``text`` to page numbers: ``(offset, page)``
    pairs, the first at offset 0, so a span's page is the last entry at or before it.
    """

    heading: str
    text: str
    page: int
    pages: tuple[tuple[int, int], ...] = ()

    def page_at(self, offset: int) -> int:
        """The (1-based) page on which character ``offset`` of ``text`` lies."""
        return page_at(self.page, self.pages, offset)


@dataclass(frozen=True)
class Paper(Wire):
    """One paper of the library: its text and what is known about it.

    ``sections`` holds the body of a full-text paper (a PDF) and ``file_hash`` the
    sha256 of that file; both are empty for title+abstract papers.
    """

    id: str
    title: str
    abstract: str
    sources: tuple[str, ...] = ()
    date: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str | None = None
    url: str | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    sections: tuple[Section, ...] = ()
    file_hash: str | None = None
    # Sentences addressed to a model (hidden instructions, see assistant/text/injection.py),
    # set at ingest: kept in the text, never used as evidence or put in a prompt.
    injected: tuple[str, ...] = ()
    # From a reference manager (BibTeX keywords, Zotero tags and collections): filterable.
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()

    @property
    def body_hash(self) -> str:
        """Hash of the full text and its file ("" for title+abstract papers)."""
        if not self.sections and not self.file_hash:
            return ""
        payload = json.dumps(
            [self.file_hash, [[s.heading, s.page, s.text, list(s.pages)] for s in self.sections]],
            ensure_ascii=False,
        )
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()[:16]

    @property
    def content_hash(self) -> str:
        """Hash of what gets embedded plus the metadata stored with it (not the sources)."""
        return self.hash_with_body(self.body_hash)

    def hash_with_body(self, body_hash: str) -> str:
        """`content_hash` given the body's hash: lets the store rehash a paper whose
        body it does not load (a metadata update)."""
        fields: list[object] = [
            self.title,
            self.abstract,
            list(self.authors),
            self.year,
            self.venue,
            self.url,
            self.arxiv_id,
            self.doi,
            self.date,
        ]
        # Each optional part joins only when present, so a paper without it keeps the hash
        # of a stored copy that lacks the part, and re-ingesting it writes nothing.
        if body_hash:  # a paper with a full text
            fields.append(body_hash)
        if self.injected:  # flags differ from a stored copy without them: it is rewritten
            fields.append(list(self.injected))
        if self.tags or self.collections:
            fields.append([list(self.tags), list(self.collections)])
        payload = json.dumps(fields, ensure_ascii=False)
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Sentence(Wire):
    """A sentence of an abstract with its character span in the abstract."""

    paper_id: str
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk(Wire):
    """A retrievable piece of a paper: the title plus a span of its text.

    Abstract chunks have ``section`` None and ``start``/``end`` in the abstract; full-text
    chunks name their ``section`` heading and the ``page`` they start on, with
    ``start``/``end`` in that section's text. ``text`` is a header (title, heading) and
    then the body, ``text[len(text) - (end - start):]``, which is ``section.text[start:end]``.
    ``pages`` holds the page breaks inside the body as ``(offset in the body, page)`` pairs,
    ascending: empty when the body lies on one page, and in chunks stored before chunks
    kept their breaks (`page_at` then gives ``page`` for every offset).
    """

    paper_id: str
    position: int
    text: str
    start: int
    end: int
    section: str | None = None
    page: int | None = None
    pages: tuple[tuple[int, int], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.paper_id}:c{self.position}"

    def page_at(self, offset: int) -> int | None:
        """The page on which character ``offset`` of the body lies (section offset
        ``start + offset``); None for an abstract chunk.

        Example:
            >>> Chunk("p1", 3, "Title: ab cd", 40, 45, "H", 3, ((3, 4),)).page_at(3)
            4
        """
        return page_at(self.page, self.pages, offset) if self.page is not None else None


@dataclass(frozen=True)
class Source(Credited):
    """A paper considered for an answer, with the scores that ranked it."""

    n: int
    paper_id: str
    title: str
    score: float
    dense: float
    lexical: float
    snippet: str
    date: str | None = None
    sources: tuple[str, ...] = ()
    relevant: bool = True
    # "main": the answer's list; "second": "may also be relevant", an uncertain match
    # shown apart and never cited as supporting the answer; "": considered only.
    tier: str = "main"
    injected: int = 0  # sentences of the paper addressed to a model, never used as evidence
    authors: tuple[str, ...] = ()
    year: int | None = None


@dataclass(frozen=True)
class Citation(Credited):
    """A numbered citation: the paper and the exact span that supports the sentence.

    ``start``/``end`` are character offsets of ``quote`` in the paper's abstract or, for
    a full-text (PDF) passage, in the text of ``section``, which is on page ``page``.
    ``verified`` is True only when the cited span was checked to support the sentence.
    """

    n: int
    paper_id: str
    title: str
    quote: str
    start: int
    end: int
    verified: bool
    support: float = 0.0
    section: str | None = None
    page: int | None = None
    # "second": the quote that made a "may also be relevant" paper a candidate; it
    # supports no sentence of the answer (see `Source.tier`).
    tier: str = "main"
    authors: tuple[str, ...] = ()
    year: int | None = None

    def location(self, page: str = "p.") -> str:
        """Where a full-text quote is, e.g. "section 2 Method, p. 3" ("" for an abstract
        quote); ``page`` is the word before the page number."""
        parts = [
            f"section {self.section}" if self.section else "",
            f"{page} {self.page}" if self.page else "",
        ]
        return ", ".join(x for x in parts if x)


@dataclass(frozen=True)
class RankedPaper(Wire):
    """A paper of the ranking an answer was drawn from (`Answer.ranking`).

    ``rank`` is 1-based; ``score`` the fused retrieval score that ordered it; ``tier`` what
    the list decision made of it: "main" (relevant), "second" (may also be relevant) or ""
    (a candidate only).
    """

    paper_id: str
    rank: int
    score: float
    tier: str = ""


@dataclass(frozen=True)
class SearchHit(Wire):
    """A paper ranked for a query by `Assistant.search`, with its best-matching sentence.

    ``tier`` is what an answer to the query would make of it: "main" (listed), "second"
    (may also be relevant) or "" (ranked only); ``sentence`` is None for a paper with no
    usable sentence.
    """

    rank: int
    paper_id: str
    title: str
    score: float
    dense: float
    lexical: float
    tier: str = ""
    sentence: str | None = None


@dataclass(frozen=True)
class Answer(Wire):
    """What `ask` returns: the text, its citations and how it was produced.

    ``ranking`` is the retrieval's ranking of candidate papers behind the answer (its first
    `RANKING_DEPTH`), so an evaluation can score retrieval from the answer alone.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    sources: tuple[Source, ...]
    mode: Mode
    kind: QuestionKind = "list"
    answerable: bool = True
    notices: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    config_hash: str = ""
    model: str | None = None
    ranking: tuple[RankedPaper, ...] = ()
    # LLM mode: the papers the LLM moved relative to the offline lists
    # ("added" to the main list, "removed" from it to the second tier, "second_added" found
    # by its search), and its calls, tokens and seconds per step (rewrite, judging, answer).
    llm_changes: dict[str, list[str]] = field(default_factory=dict)
    llm_usage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer.

    ``delta`` is new text. While ``draft`` is True the text is the LLM's unverified
    output; the last event has ``answer`` set, whose text replaces the draft.
    """

    delta: str
    answer: Answer | None = None
    draft: bool = False


@dataclass(frozen=True)
class RelatedPaper(Wire):
    """A paper of the library close to another one, and the sentences that link them.

    ``sentence`` (the related paper's) and ``anchor`` (the first paper's) are the pair of
    abstract sentences that links them best: closest in meaning, sharing rare terms
    (``start``/``end`` and ``anchor_start``/``anchor_end`` are their offsets in each
    abstract). ``score`` is the two papers' similarity (dense and term cosines averaged),
    ``link`` the two sentences' cosine.
    """

    paper_id: str
    title: str
    score: float
    sentence: str
    start: int
    end: int
    anchor: str
    anchor_start: int
    anchor_end: int
    link: float


@dataclass
class IngestReport(Wire):
    """What an ingest run did, paper by paper."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    sources_updated: list[str] = field(default_factory=list)
    metadata_updated: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    files_read: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: counts of each outcome."""
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, "
            f"unchanged {len(self.unchanged)}, skipped {len(self.skipped)} "
            f"({self.chunks_embedded} chunks embedded from {self.files_read} files "
            f"in {self.seconds:.1f}s)"
        ) + (
            f"; metadata attached to {len(self.metadata_updated)}" if self.metadata_updated else ""
        )


@dataclass(frozen=True)
class LibraryStats(Wire):
    """What `paperlens library` shows."""

    papers: int
    chunks: int
    sentences: int
    sources: dict[str, int]
    model: str
    location: str
    collection: str
    flagged: dict[str, str] = field(default_factory=dict)  # id -> title: text aimed at a model

"""`paperlens mcp`: the library as Model Context Protocol tools for agents and desktop
assistants, built on the official `mcp` SDK's high-level server (`MCPServer`, the SDK 2
name of FastMCP).

Tools: ``search_papers``, ``ask``, ``get_paper``, ``related_papers``, ``library_stats``;
resources: ``paper://{paper_id}``.

One `Assistant` (library, embedding model, index) is loaded per server process and shared:
the SDK runs each call of these synchronous tools on a worker thread, and every ``ask``
gets its own conversation-less `Assistant.new_conversation()` over the shared retriever,
so calls run side by side. A bad argument or a `PaperLensError` comes back as a tool error
with a one-line message; it never stops the server.

Transports: stdio (the default, what desktop clients launch) or streamable HTTP on
127.0.0.1, guarded by the web UI's basic-auth setting (``PAPERLENS_UI__AUTH_USER`` /
``PAPERLENS_UI__AUTH_PASSWORD``) when it is set.
"""

# No `from __future__ import annotations` here: the SDK reads the tools' annotations at
# registration to build their JSON schemas, and resolves string annotations less reliably.

import base64
import binascii
import hmac
import json
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.chat import Assistant
from assistant.errors import ConfigError, PaperLensError, PaperNotFoundError
from assistant.related import resolve_paper
from assistant.retrieval import Filters
from assistant.settings import Settings, get_settings
from assistant.types import Paper

log = logging.getLogger(__name__)

DEFAULT_HTTP_PORT = 8765
MAX_K = 50
_LOOPBACK = ("127.0.0.1", "localhost", "::1")

INSTRUCTIONS = (
    "paperlens answers questions from the user's own library of research papers, offline. "
    "Use search_papers to find which papers in the library are about something (ranked, "
    "with scores and the sentence that matched); ask for a written answer whose every "
    "claim cites [n] a paper in the library with the exact quoted span; get_paper (or the "
    "resource paper://{paper_id}) for one paper's metadata, abstract and, for PDFs, its "
    "sections; related_papers for the papers closest to one paper, with the sentences "
    "that link them; library_stats to learn what the library holds and which tags, "
    "collections and years can be used in filters. Paper ids come from search_papers and ask."
)


class PaperFilters(BaseModel):
    """Restrict which papers may be returned; every field is optional and they combine (AND)."""

    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(
        default_factory=list,
        description="Only papers with at least one of these tags (BibTeX keywords, Zotero tags; any case).",
    )
    collections: list[str] = Field(
        default_factory=list, description="Only papers in at least one of these Zotero collections."
    )
    year_from: int | None = Field(None, description="Only papers published in or after this year.")
    year_to: int | None = Field(None, description="Only papers published in or before this year.")
    paper_ids: list[str] = Field(default_factory=list, description="Only these papers (ids as returned by search_papers).")
    sources: list[str] = Field(default_factory=list, description="Only papers ingested from these file names.")

    def to_filters(self) -> Filters:
        return Filters(
            sources=tuple(self.sources), paper_ids=tuple(self.paper_ids), year_from=self.year_from,
            year_to=self.year_to, tags=tuple(self.tags), collections=tuple(self.collections),
        )


class ArgumentError(PaperLensError):
    """A tool was called with an argument it cannot use."""


class LibraryTools:
    """What the MCP tools do, over one lazily loaded `Assistant`; plain Python, no protocol.

    Example:
        >>> tools = LibraryTools()                                   # doctest: +SKIP
        >>> tools.search_papers("speculative decoding", k=3)["results"][0]["title"]  # doctest: +SKIP
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

    def search_papers(self, query: str, k: int = 10, filters: PaperFilters | None = None) -> dict[str, Any]:
        query = " ".join(str(query).split())
        if not query:
            raise ArgumentError("query is empty - pass the words to search for, e.g. 'speculative decoding'.")
        if not 1 <= k <= MAX_K:
            raise ArgumentError(f"k must be between 1 and {MAX_K}, got {k}.")
        retriever = self.assistant.retriever
        snapshot = retriever.refresh()
        if not snapshot.papers:
            raise _empty(self.settings)
        retrieval = retriever.retrieve(
            query, filters=filters.to_filters() if filters else None, snapshot=snapshot
        )
        main = {h.paper.id for h in retrieval.relevant}
        second = {h.paper.id for h in retrieval.second}
        hits = retrieval.hits[:k]
        # The best sentence of papers the retriever did not score sentence by sentence.
        missing = [h.paper.id for h in hits if h.sentence_scores is None or not len(h.sentence_scores)]
        stored = retriever.library.sentences_for(missing) if missing else {}
        results = []
        for rank, h in enumerate(hits, 1):
            best = h.best_sentences(1)
            sentence = best[0].text if best else None
            if sentence is None and h.paper.id in stored:
                sents, vecs = stored[h.paper.id]
                if sents:
                    sentence = sents[int((vecs @ retrieval.query_vector).argmax())].text
            tier = "main" if h.paper.id in main else "second" if h.paper.id in second else ""
            results.append({
                "rank": rank, "paper_id": h.paper.id, "title": h.paper.title,
                "score": round(float(h.score), 4), "dense": round(float(h.dense), 4),
                "lexical": round(float(h.lexical), 4), "relevant": tier == "main", "tier": tier,
                "sentence": sentence, **_short_metadata(h.paper),
            })
        return {
            "query": query,
            "relevant_count": len(main),
            "note": "relevant: the papers the answer to this query would list; tier 'second': "
                    "may also be relevant; other results only ranked.",
            "results": results,
        }

    def ask(self, question: str, mode: str | None = None, filters: PaperFilters | None = None) -> dict[str, Any]:
        if not " ".join(str(question).split()):
            raise ArgumentError("question is empty - ask about the papers, e.g. 'Which papers study speculative decoding?'")
        if mode not in (None, "extractive", "llm"):
            raise ArgumentError(f"mode must be 'extractive' or 'llm', got {mode!r}.")
        # A conversation of its own per call, over the shared loaded retriever.
        answer = self.assistant.new_conversation().ask(
            question, mode=mode,  # type: ignore[arg-type]
            filters=filters.to_filters() if filters else None,
        )
        data = answer.to_dict()
        data.pop("timings", None)
        # The sources that answered or may: the considered-only ones are noise for a reader.
        data["sources"] = [s for s in data["sources"] if s.get("relevant") or s.get("tier")]
        return data

    def get_paper(self, paper_id: str) -> dict[str, Any]:
        paper_id = str(paper_id).strip()
        papers = self.assistant.retriever.refresh().papers
        paper = papers.get(paper_id)
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
            raise ArgumentError("paper_id is empty - pass an id returned by search_papers or ask (paper_id).")
        if not 1 <= k <= MAX_K:
            raise ArgumentError(f"k must be between 1 and {MAX_K}, got {k}.")
        papers = self.assistant.retriever.refresh().papers
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
            results.append({
                "rank": rank, "paper_id": r.paper_id, "title": r.title, "score": r.score,
                "sentence": r.sentence, "start": r.start, "end": r.end,
                "anchor": r.anchor, "anchor_start": r.anchor_start, "anchor_end": r.anchor_end,
                "link": r.link, **_short_metadata(papers[r.paper_id]),
            })
        return {"paper_id": paper.id, "title": paper.title, "results": results}

    def library_stats(self) -> dict[str, Any]:
        stats = self.assistant.library.stats().to_dict()
        papers = self.assistant.retriever.refresh().papers.values()
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
    from assistant.errors import LibraryEmptyError

    return LibraryEmptyError(settings.store_location)


def _short_metadata(paper: Paper) -> dict[str, Any]:
    fields = {
        "authors": list(paper.authors), "year": paper.year, "venue": paper.venue, "url": paper.url,
        "doi": paper.doi, "arxiv_id": paper.arxiv_id, "tags": list(paper.tags),
        "collections": list(paper.collections),
    }
    return {k: v for k, v in fields.items() if v}


def paper_sections(bot: Assistant, paper_id: str) -> list[dict[str, Any]]:
    """A full-text paper's sections rebuilt from its stored chunks (heading, first page, text).

    Chunks overlap and carry the title and heading in front of their span; ``start``/``end``
    place each span in its section's text, so the text is laid back together by offset. A
    section starts where the heading changes or the offsets start over.
    """
    chunks = sorted((c for c, _ in bot.library.fulltext_chunks([paper_id]).get(paper_id, [])),
                    key=lambda c: c.position)
    sections: list[dict[str, Any]] = []
    text = ""
    last_start = -1
    for c in chunks:
        span = c.text[len(c.text) - (c.end - c.start):] if c.end > c.start else ""
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


def _guard(call: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A tool body whose anticipated failures become tool errors the model can read."""
    from mcp.server.mcpserver.exceptions import ToolError

    def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return call(*args, **kwargs)
        except PaperLensError as exc:
            raise ToolError(str(exc)) from exc

    return run


def build_server(tools: LibraryTools | None = None) -> Any:
    """The MCP server (an `mcp.server.mcpserver.MCPServer`) exposing ``tools``."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ResourceError
    from mcp.types import ToolAnnotations

    tools = tools or LibraryTools()
    server = MCPServer("paperlens", instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(annotations=read_only)
    def search_papers(
        query: Annotated[str, Field(description="Words or a question describing the topic.")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="How many ranked papers to return.")] = 10,
        filters: Annotated[PaperFilters | None, Field(description="Optional restrictions.")] = None,
    ) -> dict[str, Any]:
        """Find the papers in the user's library that are about a topic, best first.

        Returns up to k papers, each with its paper_id, title, score (higher is closer;
        comparable across queries), relevant (true for the papers an answer would list),
        tier ('main', 'second' = may also be relevant, '' = only ranked), the sentence of
        the paper that best matches the query, and known metadata (authors, year, venue,
        tags, collections). Use it to see what the library has on a topic or to get ids for
        get_paper; use ask when you need a written, cited answer.
        """
        return _guard(tools.search_papers)(query, k, filters)

    @server.tool(annotations=read_only)
    def ask(
        question: Annotated[str, Field(description="A question about the papers in the library.")],
        mode: Annotated[
            Literal["extractive", "llm"] | None,
            Field(description="'extractive' quotes the papers verbatim (always available); 'llm' "
                              "writes prose with the configured LLM, every sentence checked against "
                              "the sources. Default: llm when configured, else extractive."),
        ] = None,
        filters: Annotated[PaperFilters | None, Field(description="Optional restrictions.")] = None,
    ) -> dict[str, Any]:
        """Answer a question from the user's library, with citations that point at exact spans.

        Returns: text (the answer; [n] marks cite sources), citations (n, paper_id, title,
        quote = the exact supporting span, start/end = its character offsets in the
        abstract or in the named PDF section, page, verified = the span was checked to
        support the sentence), sources (the papers considered, with scores; tier 'second'
        = may also be relevant, never cited as support), notices (caveats to pass on, e.g.
        an LLM fallback), unsupported (sentences removed because nothing supported them),
        answerable (false when the library has nothing on the question), kind and mode.
        Each call is independent: no conversation is kept between calls.
        """
        return _guard(tools.ask)(question, mode, filters)

    @server.tool(annotations=read_only)
    def get_paper(
        paper_id: Annotated[str, Field(description="A paper id from search_papers or ask, e.g. 'p1a2b3c4d5e6'.")],
    ) -> dict[str, Any]:
        """One paper of the library: title, abstract, authors, year, venue, DOI, URL, tags,
        collections, the files it came from and, for a PDF, its sections (heading, page,
        text; references excluded). Use it to read a paper found by search_papers or cited
        by ask.
        """
        return _guard(tools.get_paper)(paper_id)

    @server.tool(annotations=read_only)
    def related_papers(
        paper_id: Annotated[str, Field(description="The paper: an id from search_papers or ask "
                                                   "(e.g. 'p1a2b3c4d5e6'), an arXiv id, a DOI or "
                                                   "words of its title.")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="How many related papers to return.")] = 5,
    ) -> dict[str, Any]:
        """The papers of the user's library closest to one paper, best first, each with the
        pair of abstract sentences that links them.

        Returns paper_id and title of the paper asked about, and results: up to k papers
        (fewer in a small library), each with rank, paper_id, title, score (the two papers'
        similarity, higher is closer), sentence (the related paper's abstract sentence that
        links them; start/end = its offsets in that abstract), anchor (the asked paper's
        sentence it pairs with; anchor_start/anchor_end in its abstract), link (the two
        sentences' similarity) and known metadata. Near duplicates (one paper listed twice)
        are left out. Use it to widen from one paper to its neighbours (follow-up reading,
        prior work); use search_papers to find papers on a topic given in words.
        """
        return _guard(tools.related_papers)(paper_id, k)

    @server.tool(annotations=read_only)
    def library_stats() -> dict[str, Any]:
        """What the library holds: paper, chunk and sentence counts, the embedding model,
        where it is stored, the files papers came from, and the tags, collections and range
        of years usable in the filters of search_papers and ask.
        """
        return _guard(tools.library_stats)()

    @server.resource("paper://{paper_id}", mime_type="application/json",
                     description="One paper as JSON: metadata, abstract and, for a PDF, its sections.")
    def paper(paper_id: str) -> str:
        try:
            return json.dumps(tools.get_paper(paper_id), ensure_ascii=False)
        except PaperLensError as exc:
            raise ResourceError(str(exc)) from exc

    return server


ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def basic_auth(app: ASGIApp, user: str, password: str) -> ASGIApp:
    """``app`` behind HTTP basic auth (the web UI's credentials); 401 otherwise."""
    expected = f"{user}:{password}".encode()

    def allowed(scope: MutableMapping[str, Any]) -> bool:
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization" and value[:6].lower() == b"basic ":
                try:
                    given = base64.b64decode(value[6:].strip(), validate=True)
                except (binascii.Error, ValueError):
                    return False
                return hmac.compare_digest(given, expected)
        return False

    async def guarded(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Any]],
                      send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] == "http" and not allowed(scope):
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"www-authenticate", b'Basic realm="paperlens"'), (b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"paperlens: authentication required\n"})
            return
        await app(scope, receive, send)

    return guarded


def serve(transport: Literal["stdio", "http"] = "stdio", *, host: str = "127.0.0.1",
          port: int = DEFAULT_HTTP_PORT, settings: Settings | None = None) -> None:
    """Run the MCP server until its client disconnects (stdio) or it is stopped (HTTP)."""
    settings = get_settings(settings)
    auth = None
    if settings.ui.auth_user or settings.ui.auth_password:
        if not (settings.ui.auth_user and settings.ui.auth_password):
            raise ConfigError("Basic auth needs both PAPERLENS_UI__AUTH_USER and PAPERLENS_UI__AUTH_PASSWORD.")
        auth = (settings.ui.auth_user, settings.ui.auth_password.get_secret_value())
    if transport == "http" and host not in _LOOPBACK and auth is None:
        raise ConfigError(
            f"Serving MCP on {host} would open the library to the network without a password - "
            "set PAPERLENS_UI__AUTH_USER and PAPERLENS_UI__AUTH_PASSWORD, or use --host 127.0.0.1."
        )
    tools = LibraryTools(settings)
    server = build_server(tools)
    # Load the library and models while the client connects, not on its first call.
    threading.Thread(target=_warm, args=(tools,), name="paperlens-mcp-load", daemon=True).start()
    if transport == "stdio":
        server.run("stdio")
        return
    import anyio
    import uvicorn

    app: Any = server.streamable_http_app(host=host)
    if auth is not None:
        app = basic_auth(app, *auth)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    anyio.run(uvicorn.Server(config).serve)


def _warm(tools: LibraryTools) -> None:
    try:
        tools.assistant.retriever.refresh()
    except Exception as exc:  # reported again, as a tool error, by the first call
        log.warning("could not load the library: %s", exc)

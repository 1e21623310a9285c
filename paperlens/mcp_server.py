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

from pydantic import Field

from assistant import ConfigError, PaperLensError, Settings, get_settings

from .auth import ui_credentials
from .mcp_tools import MAX_K, LibraryTools, PaperFilters

log = logging.getLogger(__name__)

DEFAULT_HTTP_PORT = 8765
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
    from mcp.types import ToolAnnotations

    tools = tools or LibraryTools()
    server = MCPServer("paperlens", instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    _add_question_tools(server, tools, read_only)
    _add_paper_tools(server, tools, read_only)
    return server


def _add_question_tools(server: Any, tools: LibraryTools, read_only: Any) -> None:
    """search_papers and ask: what the library says about a topic or a question."""

    @server.tool(annotations=read_only)
    def search_papers(
        query: Annotated[str, Field(description="Words or a question describing the topic.")],
        k: Annotated[
            int, Field(ge=1, le=MAX_K, description="How many ranked papers to return.")
        ] = 10,
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
            Field(
                description="'extractive' quotes the papers verbatim (always available); "
                "'llm' writes prose with the configured LLM, every sentence "
                "checked against the sources. Default: llm when configured, "
                "else extractive."
            ),
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


def _add_paper_tools(server: Any, tools: LibraryTools, read_only: Any) -> None:
    """get_paper, related_papers, library_stats and the paper:// resource."""
    from mcp.server.mcpserver.exceptions import ResourceError

    @server.tool(annotations=read_only)
    def get_paper(
        paper_id: Annotated[
            str, Field(description="A paper id from search_papers or ask, e.g. 'p1a2b3c4d5e6'.")
        ],
    ) -> dict[str, Any]:
        """One paper of the library: title, abstract, authors, year, venue, DOI, URL, tags,
        collections, the files it came from and, for a PDF, its sections (heading, page,
        text; references excluded). Use it to read a paper found by search_papers or cited
        by ask.
        """
        return _guard(tools.get_paper)(paper_id)

    @server.tool(annotations=read_only)
    def related_papers(
        paper_id: Annotated[
            str,
            Field(
                description="The paper: an id from search_papers or ask "
                "(e.g. 'p1a2b3c4d5e6'), an arXiv id, a DOI or "
                "words of its title."
            ),
        ],
        k: Annotated[
            int, Field(ge=1, le=MAX_K, description="How many related papers to return.")
        ] = 5,
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

    @server.resource(
        "paper://{paper_id}",
        mime_type="application/json",
        description="One paper as JSON: metadata, abstract and, for a PDF, its sections.",
    )
    def paper(paper_id: str) -> str:
        try:
            return json.dumps(tools.get_paper(paper_id), ensure_ascii=False)
        except PaperLensError as exc:
            raise ResourceError(str(exc)) from exc


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


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

    async def guarded(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http" and not allowed(scope):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"www-authenticate", b'Basic realm="paperlens"'),
                        (b"content-type", b"text/plain"),
                    ],
                }
            )
            await send(
                {"type": "http.response.body", "body": b"paperlens: authentication required\n"}
            )
            return
        await app(scope, receive, send)

    return guarded


def serve(
    transport: Literal["stdio", "http"] = "stdio",
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_HTTP_PORT,
    settings: Settings | None = None,
) -> None:
    """Run the MCP server until its client disconnects (stdio) or it is stopped (HTTP)."""
    settings = get_settings(settings)
    auth = ui_credentials(settings)
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
        tools.assistant.papers()
    except Exception as exc:  # reported again, as a tool error, by the first call
        log.warning("could not load the library: %s", exc)

"""The PDF viewer: a citation of a PDF paper opens the PDF at the cited page, quote marked.

Two routes join the Gradio app (`add_viewer_routes`, called by `serve`):

- ``paperlens/viewer/``: the viewer page (``static/index.html``, ``viewer.js``) with pdf.js
  (``static/pdfjs/``, fetched from the npm registry by ``make pdfjs``, never from a CDN).
  The page reads what to show from its URL fragment (`viewer_url`): the paper's id, the
  cited page, the quote (found in the page's text layer and highlighted) and a name.
- ``paperlens/pdf/<paper id>``: the PDF of a paper of the library, from the library's
  kept copy (`PdfFiles`). The id is looked up among the library's papers and the file
  found by the hash the paper carries; nothing of the request becomes a path, and any
  other id is a 404. Behind the app's login when one is set (Gradio's own check).

Example:
    >>> viewer_url("p1", 3, "Heads halve the cost.", "Heads (heads.pdf)")
    'paperlens/viewer/#paper=p1&page=3&q=Heads%20halve%20the%20cost.&name=Heads%20%28heads.pdf%29'
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from assistant import Assistant, Citation, Paper, PdfFiles

from .source_names import name_of, source_names

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
PDFJS = STATIC / "pdfjs"
VIEWER_PATH = "paperlens/viewer/"
PDF_PATH = "paperlens/pdf/"
# Gradio's own login check, reused so the PDFs are guarded exactly as the app is.
_LOGIN_CHECK = "/gradio_api/login_check"


def viewer_ready() -> bool:
    """Whether pdf.js is in place (``make pdfjs``); without it citations link as before."""
    return (PDFJS / "build" / "pdf.min.mjs").is_file()


def viewer_url(paper_id: str, page: int | None, text: str, name: str) -> str:
    """The viewer's address for ``paper_id`` at ``page`` with ``text`` highlighted.

    Relative to the app's page, so the app works under a path prefix; the fragment never
    reaches the server.
    """
    fragment = urlencode(
        {"paper": paper_id, "page": page or 1, "q": text, "name": name}, quote_via=quote
    )
    return f"{VIEWER_PATH}#{fragment}"


def pdf_file(paper: Paper) -> str | None:
    """The name of the PDF ``paper`` was read from, if any."""
    return next((s for s in paper.sources if s.lower().endswith(".pdf")), None)


class KeptPdfs:
    """The copies of the library's PDFs that ingest keeps, by paper: what the viewer
    serves and what a citation may open."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.files = PdfFiles(assistant.settings)
        self._hashes: tuple[int, dict[str, str]] | None = None

    def hashes(self) -> dict[str, str]:
        """Paper id -> the sha256 of its PDF, for the library's PDF papers (read again only
        when the library's version moved: every write bumps it)."""
        library = self.assistant.library
        version = library.version()
        cached = self._hashes
        if cached is None or cached[0] != version:
            states = library.paper_states()
            cached = self._hashes = (
                version,
                {pid: st.file_hash for pid, st in states.items() if st.file_hash and st.complete},
            )
        return cached[1]

    def path(self, paper_id: str) -> Path | None:
        """The kept copy of the paper's PDF, if the library keeps one."""
        return self.files.path_for(self.hashes().get(paper_id))


def pdf_links(
    citations: Iterable[Citation], papers: Mapping[str, Paper], kept: KeptPdfs
) -> dict[Citation, str]:
    """The viewer's address for each citation of a paper whose PDF the library keeps
    (none when pdf.js is missing): its page, its quote, the PDF's name."""
    cites = [c for c in citations if c.paper_id in papers and pdf_file(papers[c.paper_id])]
    if not cites or not viewer_ready():
        return {}
    names = source_names(papers.values())
    out = {}
    for c in cites:
        if kept.path(c.paper_id) is not None:
            name = name_of(pdf_file(papers[c.paper_id]) or "", names)
            out[c] = viewer_url(c.paper_id, c.page, c.quote, name)
    return out


def _login_dependency(app: Any) -> Callable[..., Any] | None:
    """Gradio's login check as a dependency; one that refuses everyone when auth is on and
    the check cannot be found (a Gradio that moved it must not leave the PDFs open)."""
    routes = list(app.router.routes)
    while routes:
        route = routes.pop()
        if getattr(route, "path", None) == _LOGIN_CHECK:
            return route.endpoint  # type: ignore[no-any-return]
        # FastAPI 0.1xx keeps an included router (Gradio's /gradio_api one) whole.
        routes += getattr(getattr(route, "original_router", None), "routes", [])
    if getattr(app, "auth", None) is None and getattr(app, "auth_dependency", None) is None:
        return None
    log.warning("Gradio's login check was not found: the PDF viewer is refused to everyone")

    def refuse() -> None:
        raise HTTPException(status_code=401, detail="Not authenticated")

    return refuse


def add_viewer_routes(app: FastAPI, kept: KeptPdfs) -> None:
    """Serve the viewer page, pdf.js and the library's PDFs from the running Gradio app."""

    def pdf(paper_id: str) -> FileResponse:
        # Both looked up in the library: a paper it holds, and the hash of that paper's file.
        paper = kept.assistant.papers().get(paper_id)
        path = kept.path(paper_id) if paper is not None else None
        if paper is None or path is None:
            raise HTTPException(status_code=404, detail="No PDF of this paper in the library.")
        name = pdf_file(paper) or path.name
        return FileResponse(
            path,
            media_type="application/pdf",
            filename=name,
            content_disposition_type="inline",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"},
        )

    login = _login_dependency(app)
    app.add_api_route(
        f"/{PDF_PATH}{{paper_id}}",
        pdf,
        methods=["GET"],
        include_in_schema=False,
        dependencies=[Depends(login)] if login is not None else None,
    )
    # The page and pdf.js hold nothing of the library: served to anyone who reaches the app.
    if STATIC.is_dir():  # an install without the viewer's files links citations as before
        app.mount(
            f"/{VIEWER_PATH.rstrip('/')}",
            StaticFiles(directory=STATIC, html=True),
            name="paperlens-viewer",
        )

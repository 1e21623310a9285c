"""The cited page one click away (issue 22 §5), in a real headless Chromium.

A library of PDFs made here with reportlab, plus a real paper (the Qwen2 technical report
from ``benchmarks.real_pdfs``) when its corpus can be fetched, added through the web app's
own upload path. A question answered by a PDF's body is asked in the chat; its [n] opens
pdf.js (served by the app, fetched from npm by ``make pdfjs``) at the cited page, and the
highlight is checked against the text layer and the rendered page. Also: the PDF route
serves library papers only, behind the app's login; a title+abstract paper keeps its
in-page link; sources are named as a reader names them (the bundled daily pages by date).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from app_server import ServedApp, free_port, served_app_fixture  # noqa: F401 - fixture
from conftest import BUNDLED_PAPERS, REPO_ROOT
from test_browser import (  # noqa: F401 - fixtures
    ANSWER_TIMEOUT_MS,
    ARTIFACTS,
    _answers,
    _ask,
    _assert_all_local,
    browser,
    page,
)
from test_pdf import _wrap  # the PDF maker's line wrapping

from assistant import Answer, Assistant, Citation, Settings, Source

PDFJS = REPO_ROOT / "paperlens" / "web" / "static" / "pdfjs" / "build" / "pdf.min.mjs"
REAL_PDF = "qwen2-technical-report.pdf"
FILLER = (
    "Streaming recognisers must emit words while the speaker is still talking, so they "
    "cannot wait for the end of an utterance before decoding it."
)
# The sentence the answer must quote: its own paragraph on page 2 of lantern_caches.pdf,
# over two lines, not in the abstract.
LANTERN_QUOTE = (
    "The lantern cache keeps the last 40 acoustic frames of every utterance in a ring "
    "buffer, which cuts the memory of the streaming decoder by a factor of 6 on a phone."
)
LANTERN_Q = "How much does the lantern cache cut the memory of the streaming decoder?"
LANTERN_PAGE = 2
REAL_Q = "How many regular tokens are in the vocabulary of Qwen2?"
REAL_QUOTE_WORDS = "151,643 regular tokens"

# Every highlight span with its text-layer span (its parent), as page rectangles.
MARKS = """
() => [...document.querySelectorAll('#pl-pdf-sheet .textLayer .highlight')].map(m => {
  const box = e => { const r = e.getBoundingClientRect();
                     return [r.left, r.top, r.right, r.bottom]; };
  return {text: m.textContent, box: box(m), span: box(m.parentElement),
          spanText: m.parentElement.textContent};
})
"""
# The rendered canvas: the share of dark pixels inside each given page rectangle.
INK = """
boxes => {
  const c = document.querySelector('#pl-pdf-sheet canvas');
  const at = c.getBoundingClientRect();
  const k = c.width / at.width;
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  return boxes.map(([l, t, r, b]) => {
    let dark = 0, all = 0;
    for (let y = Math.round((t - at.top) * k); y < Math.round((b - at.top) * k); y++)
      for (let x = Math.round((l - at.left) * k); x < Math.round((r - at.left) * k); x++) {
        const i = 4 * (y * c.width + x);
        all += 1;
        if (data[i] + data[i + 1] + data[i + 2] < 3 * 128) dark += 1;
      }
    return all ? dark / all : 0;
  });
}
"""


def fold(text: str) -> str:
    """Letters and digits, case-folded (as the viewer compares texts)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


# --- the library ----------------------------------------------------------------------------
def make_pdf(
    path: Path, title: str, abstract: str, pages: list[list[tuple[str, list[str]]]]
) -> None:
    """A single-column paper: title and abstract on page 1, then each page's sections."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=letter)
    c.setTitle(title)
    width, height = letter
    for number, sections in enumerate(pages, 1):
        y = height - 72
        if number == 1:
            c.setFont("Helvetica-Bold", 16)
            c.drawString(72, y, title)
            c.setFont("Times-Roman", 10)
            c.drawString(72, y - 22, "Jane Doe and John Roe, University of Examples")
            c.setFont("Helvetica-Bold", 11)
            c.drawString(72, y - 46, "Abstract")
            y -= 60
            c.setFont("Times-Roman", 10)
            for line in _wrap(abstract, 95):
                c.drawString(72, y, line)
                y -= 12
            y -= 10
        for heading, paragraphs in sections:
            c.setFont("Helvetica-Bold", 12)
            c.drawString(72, y, heading)
            y -= 16
            c.setFont("Times-Roman", 10)
            for paragraph in paragraphs:
                for line in _wrap(paragraph, 95):
                    c.drawString(72, y, line)
                    y -= 12
                y -= 6
        c.setFont("Helvetica", 8)
        c.drawRightString(width - 72, 30, str(number))
        c.showPage()
    c.save()


def make_library_files(folder: Path) -> list[Path]:
    """Two PDFs on far-apart topics and one title+abstract paper (Markdown)."""
    lantern = folder / "lantern_caches.pdf"
    make_pdf(
        lantern,
        "Lantern Caches for Streaming Speech Recognition",
        "We present lantern caches, a small memory for streaming speech recognition on "
        "phones. They keep what a streaming recogniser needs from the recent past and "
        "nothing more.",
        [
            [
                (
                    "1 Introduction",
                    [
                        FILLER,
                        "Phones have little memory to spare for a recogniser "
                        "that runs all day, and every megabyte the decoder holds is taken from the "
                        "applications around it.",
                    ],
                )
            ],
            [
                (
                    "2 Method",
                    [
                        "A lantern cache sits between the acoustic encoder and the decoder "
                        "of a streaming recogniser.",
                        LANTERN_QUOTE,
                        "Frames older than the buffer are summarised by a single running "
                        "mean that the decoder reads when a word spans the boundary.",
                    ],
                )
            ],
            [
                (
                    "3 Experiments",
                    [
                        "On three dictation benchmarks the cached recogniser loses "
                        "less than half a point of word error rate."
                    ],
                ),
                (
                    "4 Conclusion",
                    ["Lantern caches make all-day streaming recognition affordable on phones."],
                ),
            ],
        ],
    )
    tidal = folder / "tidal_microgrids.pdf"
    make_pdf(
        tidal,
        "Tidal Scheduling for Photovoltaic Microgrids",
        "We schedule the batteries of photovoltaic microgrids with a tidal model of demand. "
        "The schedule shifts charging to the hours of surplus sunshine.",
        [
            [
                (
                    "1 Introduction",
                    [
                        "Microgrids in remote villages run on solar panels and a bank "
                        "of batteries that must last through the night."
                    ],
                )
            ],
            [
                (
                    "2 Method",
                    [
                        "The tidal model predicts demand as the sum of a daily and a weekly "
                        "wave fitted to the last month of meter readings."
                    ],
                )
            ],
        ],
    )
    note = folder / "quiet_tokenizers.md"
    note.write_text(
        "# Quiet Tokenizers for Noisy Transcripts\n\n## Abstract\n\n"
        "We tokenize noisy transcripts with a vocabulary that ignores filler words. Quiet "
        "tokenizers shorten transcripts by a fifth without losing content.\n",
        encoding="utf-8",
    )
    return [lantern, tidal, note]


def real_pdf() -> tuple[Path | None, str]:
    """The real paper of the library, or None and why it is missing."""
    if str(REPO_ROOT) not in sys.path:  # benchmarks/ is a checkout folder, not installed
        sys.path.insert(0, str(REPO_ROOT))
    from benchmarks.real_pdfs import DEFAULT_DEST, CorpusError, ensure_corpus

    dest = REPO_ROOT / DEFAULT_DEST
    try:
        ensure_corpus(dest)
    except CorpusError as exc:
        if not (dest / REAL_PDF).is_file():
            return None, f"the real PDF corpus could not be fetched ({exc})"
    return dest / REAL_PDF, ""


class PdfLibrary(ServedApp):
    files: dict[str, Path]
    real_missing: str


@pytest.fixture(scope="module")
def pdf_app(embedder, tmp_path_factory) -> Iterator[PdfLibrary]:
    """The app over a library of the PDFs above (and the real one), added as an upload is."""
    if not PDFJS.is_file():
        pytest.skip("pdf.js is not in place (run `make pdfjs`)")
    from paperlens.web import build_app, serve
    from paperlens.web.app import WebApp

    folder = tmp_path_factory.mktemp("pdfs")
    files = make_library_files(folder)
    real, missing = real_pdf()
    files += [real] if real is not None else []
    settings = Settings(data_dir=tmp_path_factory.mktemp("pdf-ui") / "data")
    bot = Assistant(settings, embedder=embedder)
    report = WebApp(settings, bot).add_papers([str(f) for f in files])[0]
    assert f"added {len(files)}," in report, report
    demo = build_app(settings, bot)
    _, url, _ = serve(demo, settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    served = PdfLibrary(url.rstrip("/") + "/", settings, bot, demo)
    served.files = {f.name: f for f in files}
    served.real_missing = missing
    try:
        yield served
    finally:
        demo.close()


@pytest.fixture
def chat(browser, pdf_app) -> Iterator[Any]:  # noqa: F811
    """The chat of the PDF library, recording requests, console errors and dialogs."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    context.requests = []  # type: ignore[attr-defined]
    context.errors = []  # type: ignore[attr-defined]
    context.on("request", lambda r: context.requests.append(r.url))
    context.on("weberror", lambda e: context.errors.append(str(e.error)))
    context.on(
        "console",
        lambda m: m.type == "error" and context.errors.append(m.text),
    )
    pg.goto(pdf_app.url)
    pg.wait_for_selector("#pl-question textarea")
    yield pg
    context.close()


# --- helpers --------------------------------------------------------------------------------
def _fragment(link) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(link.get_attribute("href")).fragment).items()}


def _open_citation(chat, question: str, words: str) -> tuple[Any, dict[str, str]]:
    """Ask, click the answer's [n] that follows the quote holding ``words`` (the first [n]
    when none does), and wait for the viewer it opens; the viewer's page and the fragment of
    the address the link carried."""
    _ask(chat, question, 0)
    links = _answers(chat).nth(0).locator("a.pl-cite")
    assert links.count(), "the answer cites nothing"
    link = next(
        (
            links.nth(i)
            for i in range(links.count())
            if words in _fragment(links.nth(i)).get("q", "")
        ),
        links.first,
    )
    assert "pl-cite-pdf" in (link.get_attribute("class") or ""), "[n] does not open the PDF"
    assert link.get_attribute("target") == "_blank"
    fragment = _fragment(link)
    with chat.context.expect_page() as opened:
        link.click()
    viewer = opened.value
    viewer.wait_for_function(
        "() => document.body.dataset.state === 'ready' || document.body.dataset.state === 'error'",
        timeout=60_000,
    )
    assert viewer.evaluate("document.body.dataset.state") == "ready", viewer.locator(
        "#pl-pdf-status"
    ).inner_text()
    return viewer, fragment


def _check_highlight(viewer, quote: str) -> list[dict[str, Any]]:
    """The highlight marks exactly the quote, inside the text-layer spans that hold it, over
    the page's rendered text; the marks, in reading order."""
    marks = viewer.evaluate(MARKS)
    assert marks, "nothing is highlighted"
    assert fold("".join(m["text"] for m in marks)) == fold(quote)
    # The spans holding the marks hold the quote: nothing before its first word or after
    # its last is marked, and each mark lies on its own span.
    spans = fold("".join(m["spanText"] for m in marks))
    assert fold(quote) in spans
    tol = 2.5  # pdf.js draws its highlight 1px beyond the text on every side
    for m in marks:
        left, top, right, bottom = m["box"]
        s_left, s_top, s_right, s_bottom = m["span"]
        assert right - left > 2 and bottom - top > 4, m
        assert left >= s_left - tol and right <= s_right + tol, m
        assert top >= s_top - tol and bottom <= s_bottom + tol, m
        if m["text"].strip() == m["spanText"].strip():  # a whole line of the quote
            assert right - left >= 0.95 * (s_right - s_left), m
    # The marks cover the page's printed words: ink under each mark, none in the page's
    # left margin beside the first.
    first = marks[0]["box"]
    sheet = viewer.locator("#pl-pdf-sheet").bounding_box()
    margin = [sheet["x"] + 6, first[1], sheet["x"] + 30, first[3]]
    ink = viewer.evaluate(INK, [m["box"] for m in marks] + [margin])
    assert all(share > 0.04 for share in ink[:-1]), ink
    assert ink[-1] < 0.005, ink
    # Scrolled into view.
    assert first[1] >= 0 and first[3] <= viewer.viewport_size["height"]
    return marks


def _page_text(path: Path, number: int) -> str:
    from pypdf import PdfReader

    return PdfReader(path).pages[number - 1].extract_text() or ""


# --- the viewer -----------------------------------------------------------------------------
@pytest.mark.browser
def test_citation_opens_the_pdf_at_the_cited_page_with_the_quote_highlighted(chat, pdf_app):
    viewer, fragment = _open_citation(chat, LANTERN_Q, "40 acoustic frames")
    cited = int(fragment["page"])
    # The viewer shows the page the citation names, the citation's quote highlighted there
    # (whichever sentence the answerer chose: its own checks follow below).
    assert viewer.evaluate("document.body.dataset.page") == str(cited)
    assert viewer.evaluate("document.body.dataset.found") == str(cited)
    assert viewer.locator("#pl-pdf-where").inner_text() == f"Page {cited} of 3"
    assert f"highlighted on page {cited}." in viewer.locator("#pl-pdf-status").inner_text()
    marks = _check_highlight(viewer, fragment["q"])
    ARTIFACTS.mkdir(exist_ok=True)
    viewer.screenshot(path=str(ARTIFACTS / "app-pdf-viewer.png"))

    # The answer quotes the body sentence that answers, on page 2, over its two lines.
    assert (cited, fold(fragment["q"])) == (LANTERN_PAGE, fold(LANTERN_QUOTE))
    assert len(marks) == 2 and all(m["text"] == m["spanText"] for m in marks)
    answer = _answers(chat).nth(0)
    assert "Lantern Caches for Streaming Speech Recognition (lantern_caches.pdf)" in (
        answer.locator(".pl-source-meta").first.inner_text()
    )

    # Paging away shows no highlight; coming back shows it again.
    viewer.locator("#pl-pdf-next").click()
    viewer.wait_for_function(
        "() => document.body.dataset.page === '3' && document.body.dataset.state === 'ready'"
    )
    assert viewer.evaluate(MARKS) == []
    viewer.keyboard.press("ArrowLeft")
    viewer.wait_for_function(
        "() => document.body.dataset.page === '2' && document.body.dataset.state === 'ready'"
    )
    assert len(viewer.evaluate(MARKS)) == 2

    _assert_all_local(chat.context)
    assert not chat.context.errors


@pytest.mark.browser
def test_real_pdf_citation_opens_at_its_page_with_the_quote_highlighted(chat, pdf_app):
    if pdf_app.real_missing:
        pytest.skip(pdf_app.real_missing)
    viewer, fragment = _open_citation(chat, REAL_Q, REAL_QUOTE_WORDS)
    cited = int(fragment["page"])
    quote = fragment["q"]
    # The citation's page is the page of the file that prints the quote, and it is shown.
    assert fold(quote) in fold(_page_text(pdf_app.files[REAL_PDF], cited))
    assert viewer.evaluate("document.body.dataset.page") == str(cited)
    assert viewer.evaluate("document.body.dataset.found") == str(cited)
    _check_highlight(viewer, quote)
    viewer.screenshot(path=str(ARTIFACTS / "app-pdf-viewer-real.png"))
    _assert_all_local(chat.context)
    assert not chat.context.errors
    assert REAL_QUOTE_WORDS in quote, "the answer does not quote the body sentence that answers"


# --- the PDF route --------------------------------------------------------------------------
def test_pdf_route_serves_library_papers_only(pdf_app):
    papers = pdf_app.assistant.papers()
    by_source = {p.sources[0]: pid for pid, p in papers.items()}
    pdf_id, note_id = by_source["lantern_caches.pdf"], by_source["quiet_tokenizers.md"]
    got = httpx.get(f"{pdf_app.url}paperlens/pdf/{pdf_id}")
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert got.content == pdf_app.files["lantern_caches.pdf"].read_bytes()
    kept = next((pdf_app.settings.data_dir / "pdfs").glob("*.pdf"))
    for wrong in (
        note_id,  # a title+abstract paper has no PDF
        "p000000000000",
        kept.stem,  # a file hash is not a paper id
        "..%2F..%2F..%2Fetc%2Fpasswd",
        f"..%2Fpdfs%2F{kept.name}",
        f"{pdf_id}%2F..%2F..%2Fpdfs%2F{kept.name}",
    ):
        response = httpx.get(f"{pdf_app.url}paperlens/pdf/{wrong}")
        assert response.status_code == 404, wrong
        assert not response.content.startswith(b"%PDF"), wrong


def test_pdf_route_is_behind_the_login_when_one_is_set(pdf_app):
    from paperlens.web import build_app, serve

    settings = Settings(
        data_dir=pdf_app.settings.data_dir, ui={"auth_user": "ada", "auth_password": "lovelace"}
    )
    demo = build_app(settings, pdf_app.assistant)
    _, url, _ = serve(demo, settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    pid = next(
        pid for pid, p in pdf_app.assistant.papers().items() if p.sources == ("lantern_caches.pdf",)
    )
    try:
        assert httpx.get(f"{url}paperlens/pdf/{pid}").status_code == 401
        with httpx.Client() as web:
            login = web.post(url + "login", data={"username": "ada", "password": "lovelace"})
            assert login.status_code == 200
            assert web.get(f"{url}paperlens/pdf/{pid}").content.startswith(b"%PDF")
    finally:
        demo.close()


# --- PDFs kept by ingest ---------------------------------------------------------------------
# A "2 Method" section that runs from page 2 onto page 3 (no heading there).
METHOD_ON_2 = [
    "A lantern cache sits between the acoustic encoder and the decoder of a streaming recogniser.",
    "Its ring buffer is filled by the encoder and read by the decoder at every step.",
]
METHOD_ON_3 = "Frames older than the buffer are summarised by a single running mean."


def _python_library(tmp_path: Path, embedder) -> tuple[Settings, dict[str, Path], Any]:
    """Two PDFs (and a Markdown paper) ingested with the Python `ingest()`, not uploaded."""
    from ingest import ingest

    folder = tmp_path / "papers"
    folder.mkdir()
    files = {f.name: f for f in make_library_files(folder)}
    lantern = files["lantern_caches.pdf"]
    make_pdf(
        lantern,
        "Lantern Caches for Streaming Speech Recognition",
        "We present lantern caches, a small memory for streaming speech recognition on phones.",
        [[("1 Introduction", [FILLER])], [("2 Method", METHOD_ON_2)], [("", [METHOD_ON_3])]],
    )
    settings = Settings(data_dir=tmp_path / "data")
    report = ingest([folder], settings, embedder=embedder)
    assert len(report.added) == 3 and report.skipped == [], report
    return settings, files, report


def _kept(settings: Settings) -> dict[str, tuple[int, int]]:
    """Every file in the data directory's pdfs/ folder: (inode, mtime)."""
    folder = settings.data_dir / "pdfs"
    return {f.name: (f.stat().st_ino, f.stat().st_mtime_ns) for f in folder.iterdir()}


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_pdf_ingested_from_python_is_kept_served_and_removed_with_its_paper(tmp_path, embedder):
    from assistant import Library
    from ingest import ingest, remove
    from paperlens.web import build_app, serve

    settings, files, _ = _python_library(tmp_path, embedder)
    lantern, tidal = files["lantern_caches.pdf"], files["tidal_microgrids.pdf"]
    # One copy per PDF paper, named by its hash: no Markdown, no temporary file left.
    kept = _kept(settings)
    assert sorted(kept) == sorted(f"{_sha256(f)}.pdf" for f in (lantern, tidal))
    copy = settings.data_dir / "pdfs" / f"{_sha256(lantern)}.pdf"
    assert copy.read_bytes() == lantern.read_bytes()

    # Re-runs copy nothing: the normal path (a library given) and the manifest's fast path.
    folder = lantern.parent
    again = ingest([folder], settings, embedder=embedder, library=Library(settings))
    assert again.added == [] and again.chunks_embedded == 0
    assert ingest([folder], settings, embedder=embedder).added == []
    assert _kept(settings) == kept
    # A copy deleted by hand is not trusted to the manifest: the next run restores it.
    copy.unlink()
    assert ingest([folder], settings, embedder=embedder).added == []
    assert copy.read_bytes() == lantern.read_bytes()

    bot = Assistant(settings, embedder=embedder)
    by_source = {p.sources[0]: pid for pid, p in bot.papers().items()}
    lantern_id = by_source["lantern_caches.pdf"]
    # A changed file of the same paper replaces its copy.
    make_pdf(
        lantern,
        "Lantern Caches for Streaming Speech Recognition",
        "Lantern caches, revised: a smaller memory for streaming speech recognition.",
        [[("1 Introduction", [FILLER])], [("2 Method", METHOD_ON_2)]],
    )
    assert ingest([folder], settings, embedder=embedder).updated == [lantern_id]
    assert not copy.exists()
    copy = settings.data_dir / "pdfs" / f"{_sha256(lantern)}.pdf"
    assert copy.read_bytes() == lantern.read_bytes() and len(_kept(settings)) == 2
    demo = build_app(settings, bot)
    _, url, _ = serve(demo, settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        got = httpx.get(f"{url}paperlens/pdf/{lantern_id}")
        assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
        assert got.content == lantern.read_bytes()
        # Removed with its paper (by id, or by its only source file); the route is a 404.
        assert remove([lantern_id], settings=settings) == [lantern_id]
        assert not copy.exists()
        assert httpx.get(f"{url}paperlens/pdf/{lantern_id}").status_code == 404
    finally:
        demo.close()
    assert remove(sources=["tidal_microgrids.pdf"], settings=settings) == [
        by_source["tidal_microgrids.pdf"]
    ]
    assert _kept(settings) == {}


def test_a_sentence_after_a_page_break_in_its_chunk_gets_the_later_page(tmp_path, embedder):
    from assistant import Library

    settings, _, _ = _python_library(tmp_path, embedder)
    library = Library(settings)
    pid = next(pid for pid, p in library.papers().items() if p.sources == ("lantern_caches.pdf",))
    chunks = [c for c, _ in library.fulltext_chunks([pid])[pid] if c.section == "2 Method"]
    assert len(chunks) == 1  # one chunk holds the whole section, over the page break
    chunk = chunks[0]
    body = chunk.text[len(chunk.text) - (chunk.end - chunk.start) :]
    assert chunk.page == 2 and chunk.pages
    assert chunk.page_at(body.index(METHOD_ON_2[1])) == 2
    assert chunk.page_at(body.index(METHOD_ON_3)) == 3


def test_title_and_abstract_citation_keeps_its_in_page_link(pdf_app):
    from paperlens.web.cards import answer_html
    from paperlens.web.layout import web_app_of
    from paperlens.web.viewer import pdf_links

    papers = pdf_app.assistant.papers()
    web = web_app_of(pdf_app.demo)
    assert web is not None
    cites, sources = [], []
    for n, name in enumerate(("quiet_tokenizers.md", "tidal_microgrids.pdf"), 1):
        paper = next(p for p in papers.values() if p.sources == (name,))
        quote = paper.abstract.split(". ")[0] + "."
        cites.append(Citation(n, paper.id, paper.title, quote, 0, len(quote), True))
        sources.append(Source(n, paper.id, paper.title, 0.8, 0.7, 0.5, quote))
    answer = Answer("q", "Quiet. [1] Tidal. [2]", tuple(cites), tuple(sources), "extractive")
    links = pdf_links(answer.citations, papers, web.pdfs)
    assert list(links) == [cites[1]]
    html = answer_html(answer, papers, "k", pdf_links=links)
    assert re.search(r'<a class="pl-cite" href="#pl-k-1"', html)
    # An abstract quote of a PDF paper opens the PDF too (the viewer finds its page).
    assert re.search(
        r'<a class="pl-cite pl-cite-pdf" href="paperlens/viewer/#paper=\w+&amp;'
        r"page=1&amp;q=We%20schedule",
        html,
    )
    assert 'class="pl-open-pdf"' in html


def test_each_marker_opens_the_quote_it_follows(pdf_app):
    from paperlens.web.cards import answer_html
    from paperlens.web.layout import web_app_of
    from paperlens.web.viewer import pdf_links

    papers = pdf_app.assistant.papers()
    paper = next(p for p in papers.values() if p.sources == ("lantern_caches.pdf",))
    abstract = paper.abstract.split(". ")[0] + "."
    cites = (
        Citation(1, paper.id, paper.title, LANTERN_QUOTE, 0, 10, True, 0.9, "2 Method", 2),
        Citation(1, paper.id, paper.title, abstract, 0, len(abstract), True),
    )
    text = f"{LANTERN_QUOTE} [1] {abstract} [1] In short, lanterns. [1]"
    answer = Answer(
        "q", text, cites, (Source(1, paper.id, paper.title, 0.8, 0.7, 0.5, "s"),), "extractive"
    )
    web = web_app_of(pdf_app.demo)
    assert web is not None
    html = answer_html(answer, papers, "k", pdf_links=pdf_links(answer.citations, papers, web.pdfs))
    opened = [
        {k: v[0] for k, v in parse_qs(urlparse(href.replace("&amp;", "&")).fragment).items()}
        for href in re.findall(r'class="pl-cite pl-cite-pdf" href="([^"]+)"', html)
    ]
    assert [(o["page"], o["q"]) for o in opened] == [
        ("2", LANTERN_QUOTE),
        ("1", abstract),
        ("2", LANTERN_QUOTE),  # a paraphrase: the body's
    ]


# --- naming sources -------------------------------------------------------------------------
def test_bundled_daily_pages_are_named_by_their_date_heading():
    from ingest import parse_file
    from paperlens.web.source_names import source_counts, source_names

    papers = [p for f in sorted(BUNDLED_PAPERS.glob("*.txt")) for p in parse_file(f).papers]
    assert source_names(papers) == {
        "000_b9901c8c1c455724.txt": "Daily papers, Mar 13",
        "001_f45d45220cbf9783.txt": "Daily papers, no date",
        "002_44d1e5d38125c694.txt": "Daily papers, Mar 14",
        "003_eaf6fee32701ab9b.txt": "Daily papers, Mar 14",
        "004_cc92b33e8c7677da.txt": "Daily papers, Mar 11",
    }
    rows = source_counts(papers)
    assert [name for name, _ in rows] == [
        "Daily papers, Mar 11",
        "Daily papers, Mar 13",
        "Daily papers, Mar 14",
        "Daily papers, no date",
    ]
    # Two pages of one day are one row, a paper listed on both counted once.
    assert dict(rows)["Daily papers, Mar 14"] == len(
        {p.id for p in papers if p.sources[0].startswith(("002_", "003_"))}
    )


def test_a_page_is_dated_by_most_of_its_papers_not_by_those_listed_elsewhere_too():
    from assistant import Paper
    from paperlens.web.source_names import source_names

    def paper(n: int, date: str | None, *sources: str) -> Paper:
        return Paper(f"p{n}", f"T{n}", "A.", sources=sources, date=date)

    # p1 was listed on the dated page first; the undated page lists it too.
    papers = [
        paper(1, "Mar 14", "dated.txt", "undated.txt"),
        paper(2, None, "undated.txt"),
        paper(3, None, "undated.txt"),
        paper(4, "Mar 14", "dated.txt"),
    ]
    assert source_names(papers) == {
        "dated.txt": "Daily papers, Mar 14",
        "undated.txt": "Daily papers, no date",
    }
    # One plain text file is one undated paper: it keeps its name.
    assert source_names([paper(5, None, "notes.txt")]) == {"notes.txt": "notes.txt"}


def test_a_pdf_is_named_by_its_title_and_file_and_other_files_keep_their_names(pdf_app):
    from paperlens.web.source_names import source_names

    names = source_names(pdf_app.assistant.papers().values())
    assert names["lantern_caches.pdf"] == (
        "Lantern Caches for Streaming Speech Recognition (lantern_caches.pdf)"
    )
    assert names["quiet_tokenizers.md"] == "quiet_tokenizers.md"


@pytest.mark.browser
def test_library_tab_and_source_cards_name_the_daily_pages_by_date(page, served_app):  # noqa: F811
    _ask(page, "Which papers study speculative decoding?", 0)
    meta = _answers(page).nth(0).locator(".pl-source-meta").all_inner_texts()
    assert meta and all(re.search(r"from Daily papers, (Mar 1[134]|no date)", m) for m in meta)
    assert not any(".txt" in m for m in meta)
    page.get_by_role("tab", name="Library").click()
    page.wait_for_function(
        "() => (document.querySelector('#pl-sources')?.innerText || '').includes('Mar 11')",
        timeout=30_000,
    )
    text = page.locator("#pl-sources").inner_text()
    for day in ("Mar 11", "Mar 13", "Mar 14", "no date"):
        assert f"Daily papers, {day}" in text
    assert ".txt" not in text
    _assert_all_local(page)

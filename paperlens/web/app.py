"""The web UI's callbacks: one `WebApp` per served app, its methods wired to the page.

`WebApp` holds what every browser session shares (the loaded `Assistant`: library,
embedder, index) and what is per session (conversations, last answers); `layout.py`
builds the page and wires its events to these methods.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant import (
    EXPORT_SUFFIXES,
    Answer,
    Assistant,
    LibraryEmptyError,
    PaperLensError,
    RelatedPaper,
    Settings,
    digest_paper_md,
    export_papers,
    get_settings,
    render_svg,
)
from ingest import supported_suffixes

from .cards import answer_html
from .exports import export_links, write_export
from .html import draft_html, esc, message_html, question_html
from .search import search_html, search_papers
from .sessions import AnsweredPapers, Sessions, plain_history
from .source_names import source_counts, source_names
from .viewer import KeptPdfs, pdf_links
from .warmup import EXAMPLES_SHOWN, Warmup

log = logging.getLogger("paperlens.app")

FORMATS = " ".join(supported_suffixes())  # what `paperlens ingest` reads
EMPTY_LIBRARY = (
    "The library is empty. Add papers in the Library tab (" + FORMATS + "), "
    "or run `paperlens ingest data/papers` and reload this page."
)
FAILED = "Something went wrong while answering; the server log has the details."
SEARCH_LIMIT = 50
HISTORY_KEPT = 40  # messages restored after a reload
LOAD_WAIT_S = 120.0  # how long a page load waits for the warm-up before it stops updating
REDRAW_WAIT_S = 10.0  # how long an upload waits for the examples of the grown library
RELATED_SHOWN = 5  # related papers listed in a source card
Chat = list[dict[str, str]]


class WebApp:
    """The callbacks of the paperlens page, over one shared `Assistant`.

    Args:
        settings: the settings to use (default: the environment's).
        assistant: an already loaded `Assistant` to share (its library and embedder
            serve every browser session); built from ``settings`` when None.
    """

    formats = FORMATS
    empty_library = EMPTY_LIBRARY

    def __init__(self, settings: Settings | None = None, assistant: Assistant | None = None):
        self.shared = assistant or Assistant(get_settings(settings))
        self.settings = self.shared.settings
        ui = self.settings.ui  # per-session state bounded by these (sessions.py)
        self.sessions = Sessions(self.shared, ui.max_sessions, ui.session_ttl_s)
        self.answered = AnsweredPapers(ui.max_sessions, ui.session_ttl_s)
        self.max_bytes = int(self.settings.ui.max_upload_mb * 1024 * 1024)
        self.pdfs = KeptPdfs(self.shared)
        self.warmup = Warmup(self.shared)  # started by `serve`

    # -- chat -----------------------------------------------------------------------------
    def respond(
        self, question: str, history: list[Any], store: dict[str, Any]
    ) -> Iterator[tuple[Chat, str]]:
        """Stream the answer to ``question`` into the chat, then show it with its sources."""
        chat = plain_history(history)
        question = question or ""
        if not question.strip():
            gr.Warning("Please type a question about the papers in the library.")
            yield chat, question
            return
        sid = (store or {}).get("sid") or uuid.uuid4().hex
        chat.append({"role": "user", "content": question_html(question)})
        chat.append({"role": "assistant", "content": draft_html("", False)})
        yield chat, ""
        t0 = time.perf_counter()
        bot = self.sessions.get(sid)
        text = ""
        answer = None
        try:
            for event in bot.stream(question):
                if event.answer is not None:
                    answer = event.answer
                    break
                text += event.delta
                chat[-1] = {"role": "assistant", "content": draft_html(text, event.draft)}
                yield chat, ""
        except LibraryEmptyError:
            chat[-1] = {"role": "assistant", "content": message_html(EMPTY_LIBRARY, "error")}
        except PaperLensError as exc:
            chat[-1] = {"role": "assistant", "content": message_html(str(exc), "error")}
        except Exception:  # the chat must say so, not hang on "answering…"
            log.exception("answering %r failed", question[:200])
            chat[-1] = {"role": "assistant", "content": message_html(FAILED, "error")}
        if answer is not None:
            html = self._answer_html(bot, answer, time.perf_counter() - t0)
            chat[-1] = {"role": "assistant", "content": html}
            cited = [c.paper_id for c in answer.citations] or [x.paper_id for x in answer.sources]
            self.answered.remember(sid, cited)
        yield chat, ""

    def _answer_html(self, bot: Assistant, answer: Answer, seconds: float) -> str:
        key = uuid.uuid4().hex[:8]
        papers = bot.papers()
        try:
            exports = export_links(answer, papers)
        except OSError as exc:  # a full or read-only temp dir costs the links, not the answer
            log.warning("could not write the answer's exports: %s", exc)
            exports = []
        return answer_html(
            answer,
            papers,
            key,
            seconds,
            related=self._related_cards(bot, answer),
            exports=exports,
            pdf_links=pdf_links(answer.citations, papers, self.pdfs),
            names=source_names(papers.values()),
        )

    def _related_cards(self, bot: Assistant, answer: Answer) -> dict[str, list[RelatedPaper]]:
        """Paper id -> its related papers, for each source shown as a card (cited or second
        tier)."""
        cited = {c.paper_id for c in answer.citations}
        out = {}
        for s in answer.sources:
            if s.paper_id in cited or s.tier == "second":
                try:
                    out[s.paper_id] = bot.related(s.paper_id, RELATED_SHOWN)
                except PaperLensError:  # removed since it was retrieved: no related list
                    continue
        return out

    def remember(self, history: list[Any], store: dict[str, Any]) -> dict[str, Any]:
        """The browser's saved state after an answer: its session id and recent chat."""
        store = dict(store or {})
        store["sid"] = store.get("sid") or uuid.uuid4().hex  # the initial state holds None
        store["history"] = plain_history(history)[-HISTORY_KEPT:]
        return store

    def new_chat(self, store: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Forget the session's conversation and clear the chat."""
        store = dict(store or {})
        if store.get("sid"):
            self.sessions.reset(store["sid"])
        store["history"] = []
        return [], store

    def on_load(self, store: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
        """A page (re)load: the saved chat, the library's status and its sources; then,
        once the warm-up has loaded what answers need, the status and the examples."""
        store = dict(store or {})
        store["sid"] = store.get("sid") or uuid.uuid4().hex  # the initial state holds None
        head, rows = self.library_md()
        # An empty saved chat leaves the chat as it is: a question asked while the page was
        # still loading must not be wiped when this (slower) load event returns.
        yield (
            store.get("history") or gr.update(),
            store,
            self.status_md(),
            gr.update(visible=self.paper_count() == 0),
            head,
            rows,
            *self._examples_update(),
        )
        keep = gr.update()
        for part in self.warmup.pending():
            part.wait(LOAD_WAIT_S)
            yield keep, keep, self.status_md(), keep, keep, keep, *self._examples_update()

    def _examples_update(self) -> list[Any]:
        """One update per example button: its question, or hidden."""
        shown = self.warmup.examples()[:EXAMPLES_SHOWN]
        return [
            gr.update(value=shown[i], visible=True) if i < len(shown) else gr.update(visible=False)
            for i in range(EXAMPLES_SHOWN)
        ]

    # -- the library ----------------------------------------------------------------------
    def paper_count(self) -> int:
        """Papers in the library: from the store, not the retriever's copy (which trusts
        itself for a second)."""
        return self.shared.stats().papers

    def status_md(self) -> str:
        """The line above the tabs: how many papers, and which answerer (or that the
        library is still loading)."""
        papers = f"**{self.paper_count()} papers** in the library"
        if self.warmup.loading:
            return f"{papers} · loading the library…"
        if self.shared.llm is not None:
            answerer = (
                f"LLM `{self.settings.llm.model}`, falling back to extractive answers when it fails"
            )
        else:
            answerer = "extractive (quotes from the papers; set `OPENAI_BASE_URL` for an LLM)"
        return f"{papers} · answers: {answerer}"

    def library_md(self) -> tuple[str, list[list[Any]]]:
        """The Library tab's head line and its table of sources, named as a reader names
        them (`source_names`)."""
        stats = self.shared.stats()
        head = (
            f'<span id="pl-paper-count">{stats.papers} papers</span> · {stats.chunks} chunks · '
            f"model {esc(stats.model)} · stored in {esc(stats.location)}"
        )
        rows = [[name, count] for name, count in source_counts(self.shared.papers().values())]
        return head, rows

    def refresh_library(self) -> tuple[Any, ...]:
        """Everything that shows the library's size, and its examples, after it changed."""
        head, rows = self.library_md()
        return (
            head,
            rows,
            self.status_md(),
            gr.update(visible=self.paper_count() == 0),
            *self._examples_update(),
        )

    def search(self, query: str) -> str:
        """Papers whose title or abstract holds every word of ``query``."""
        query = (query or "")[:500]
        papers = self.shared.papers()
        hits = search_papers(papers.values(), query)
        return search_html(
            hits[:SEARCH_LIMIT], query, len(hits), SEARCH_LIMIT, source_names(papers.values())
        )

    def export_selection(self, query: str, fmt: str) -> Any:
        """The papers matching the search (all of them, not only those shown) as a file."""
        query = (query or "")[:500]
        hits = search_papers(self.shared.papers().values(), query)
        if not hits:
            return gr.update(value=None, label="Download", interactive=False)
        text = export_papers(hits, fmt, heading=f"Library papers matching: {query}")
        path = write_export(text, f"library-selection{EXPORT_SUFFIXES[fmt]}")
        n = len(hits)
        return gr.update(
            value=str(path), label=f"Download {n} paper{'s' if n != 1 else ''}", interactive=True
        )

    def add_papers(
        self,
        files: list[str] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        """Ingest the uploaded files (those within the size limit); a report of what was
        added and skipped."""
        from ingest import ingest

        if not files:
            return "Choose one or more files first (" + FORMATS + ").", *self.refresh_library()
        limit = f"larger than the {self.settings.ui.max_upload_mb:g} MB upload limit"
        paths = [Path(f) for f in files if Path(f).stat().st_size <= self.max_bytes]
        skipped = [(Path(f).name, limit) for f in files if Path(f).stat().st_size > self.max_bytes]
        progress(0, desc="Reading files")

        def step(p: Any) -> None:
            progress((p.papers_done, p.papers_total), desc="Embedding papers", unit="papers")

        try:  # ingest keeps a copy of each PDF it adds (Gradio's upload folder is temporary)
            report = (
                ingest(
                    paths,
                    self.settings,
                    library=self.shared.library,
                    embedder=self.shared.embedder,
                    progress=step,
                )
                if paths
                else None
            )
        except PaperLensError as exc:
            return f"**Could not add the papers:** {esc(exc)}", *self.refresh_library()
        lines = []
        if report is not None:  # the next question of any session sees what was written
            self.shared.retriever.refresh(check=True)
            self.warmup.redraw()  # shown now if drawn in time (a small library's map is)
            self.warmup.drawn.wait(REDRAW_WAIT_S)
            skipped += [(Path(p).name, why) for p, why in report.skipped]
            lines.append(f"**Added to the library:** {esc(report.summary())}\n")
        if skipped:
            lines.append("**Skipped:**\n")
            lines += [f"- `{esc(name)}`: {esc(why)}" for name, why in skipped]
        return "\n".join(lines), *self.refresh_library()

    # -- the library's map and digest -----------------------------------------------------
    def show_map(self, store: dict[str, Any]) -> tuple[str, str]:
        """The library map as SVG, the session's last answer's papers ringed; a note."""
        if self.paper_count() == 0:
            return "", EMPTY_LIBRARY
        lmap = self.shared.library_map()  # cached per library content
        marked = self.answered.get((store or {}).get("sid") or "")
        note = (
            f"{len(lmap.paper_ids)} papers in {len(lmap.topics)} topics. Hover a point for "
            "its title; click it to open the paper."
        )
        if marked:
            note += f" Ringed: the {len(marked)} papers of your last answer."
        return render_svg(lmap, marked), note

    def open_paper(self, evt: gr.EventData) -> str:
        """The paper whose point on the map was clicked, as Markdown."""
        pid = str(getattr(evt, "paper", "") or "")
        paper = self.shared.papers().get(pid)
        if paper is None:
            return "That paper is no longer in the library."
        return digest_paper_md(self.shared.retriever, paper)

    def show_digest(self, when: str, since: bool) -> str:
        """What's new on a day (or since it), grouped by topic, as Markdown."""
        when = (when or "").strip()[:40]
        try:
            got = self.shared.digest(
                date=None if since else (when or None), since=when if since and when else None
            )
        except PaperLensError as exc:
            return f"**{esc(exc)}**"
        return got.to_markdown()

    # -- API: question in, answer out (no conversation kept between calls) ----------------
    def ask(self, question: str) -> dict[str, Any]:
        """Answer one question about the library.

        Returns the answer as JSON: its text with [n] markers, citations (paper, quoted
        span and its offsets in the abstract), sources with scores, mode and notices.
        """
        # Each call its own empty conversation over the shared library: calls run side by
        # side, and none sees another's question as its previous turn.
        try:
            answer = self.shared.new_conversation().ask(question or "")
        except LibraryEmptyError as exc:
            raise gr.Error(EMPTY_LIBRARY) from exc
        except PaperLensError as exc:
            raise gr.Error(str(exc)) from exc
        return answer.to_dict()

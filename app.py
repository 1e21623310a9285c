"""paperlens web UI: a chat over your paper library, with cited, checkable answers.

Run ``make app`` (ingests ``data/papers`` first, then launches) or ``python app.py``.
Binds to 127.0.0.1:7860 unless ``PAPERLENS_HOST``/``PAPERLENS_PORT`` say otherwise.

Example:
    >>> from app import build_app, serve
    >>> demo = build_app()                                   # doctest: +SKIP
    >>> serve(demo, prevent_thread_lock=True)                # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

# Before gradio is imported: it reads these once, and nothing may leave the machine.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(tempfile.gettempdir()) / "paperlens-gradio"))

import gradio as gr  # noqa: E402

from assistant import (  # noqa: E402
    Assistant,
    ConfigError,
    LibraryEmptyError,
    PaperLensError,
    Settings,
    get_settings,
)
from assistant.export import FORMATS as EXPORT_FORMATS  # noqa: E402
from assistant.export import SUFFIXES as EXPORT_SUFFIXES  # noqa: E402
from assistant.ui_format import (  # noqa: E402
    answer_html,
    draft_html,
    esc,
    message_html,
    question_html,
    search_html,
    search_papers,
)
from ingest.parsers import supported_suffixes  # noqa: E402

log = logging.getLogger("paperlens.app")

EXAMPLES = [
    "Which papers study speculative decoding?",
    "Which papers propose benchmarks for LLM agents?",
    "How do diffusion language models compare to autoregressive ones?",
    "Which papers reduce the KV cache memory of long-context inference?",
]
FORMATS = " ".join(supported_suffixes())  # what `paperlens ingest` reads
EMPTY_LIBRARY = (
    "The library is empty. Add papers in the Library tab (" + FORMATS + "), "
    "or run `paperlens ingest data/papers` and reload this page."
)
SEARCH_LIMIT = 50
HISTORY_KEPT = 40  # messages restored after a reload
SESSIONS_KEPT = 64  # conversations kept in memory (least recently used dropped)
# Each answer's export files (BibTeX, RIS, CSL-JSON, Markdown), served by gradio from here
# (`serve` allows this folder alone); the newest EXPORTS_KEPT answers' files are kept.
EXPORT_DIR = Path(os.environ["GRADIO_TEMP_DIR"]) / "paperlens-exports"
EXPORTS_KEPT = 256
EXPORT_LABELS = {"bibtex": "BibTeX", "ris": "RIS", "csl-json": "CSL-JSON", "markdown": "Markdown"}
RELATED_SHOWN = 5  # related papers listed in a source card
# The map: a hover label follows the pointer; a click on a point opens that paper below the
# map (one delegated listener on the component root, which survives re-renders of the SVG).
MAP_TEMPLATE = "<div class='pl-map-hover' aria-live='polite'></div>${value}"
MAP_JS = """
element.addEventListener('click', (e) => {
  const pt = e.target.closest('[data-paper]');
  if (pt) trigger('click', {paper: pt.dataset.paper});
});
element.addEventListener('mouseover', (e) => {
  const pt = e.target.closest('[data-paper]');
  const label = element.querySelector('.pl-map-hover');
  if (pt && label) label.textContent = pt.querySelector('title').textContent;
});
"""
MAP_CSS = """
.pl-map-hover { min-height: 1.4em; font-size: 0.9em; color: var(--body-text-color-subdued); }
.pl-map-svg { width: 100%; max-height: 70vh; }
.pl-pt { cursor: pointer; }
.pl-pt:hover { stroke: #111; stroke-width: 2; }
"""

# System fonts only: a Google font would be fetched from fonts.googleapis.com.
THEME = gr.themes.Default(
    primary_hue="indigo",
    font=["system-ui", "-apple-system", "'Segoe UI'", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "'SFMono-Regular'", "Menlo", "monospace"],
)

CSS = """
.pl-answer p { margin: 0.3em 0; }
.pl-answer ol, .pl-answer ul { margin: 0.3em 0 0.3em 1.2em; }
.pl-cite { text-decoration: none; font-weight: 600; font-size: 0.85em; padding: 0 1px; }
.pl-mode { font-size: 0.8em; opacity: 0.75; margin-top: 0.5em; }
.pl-notices { font-size: 0.85em; margin: 0.4em 0; padding: 0.3em 0.6em 0.3em 1.6em;
  border-left: 3px solid #d97706; background: rgba(217, 119, 6, 0.08); }
.pl-sources { margin-top: 0.6em; padding-top: 0.4em;
  border-top: 1px solid var(--border-color-primary); }
.pl-sources > summary, .pl-considered > summary { cursor: pointer; font-weight: 600;
  font-size: 0.9em; }
.pl-source-list { padding-left: 0; list-style: none; margin: 0.3em 0 0 0 !important; }
.pl-source { margin: 0.5em 0; padding: 0.4em 0.6em; border-radius: 6px;
  background: var(--background-fill-secondary); scroll-margin-top: 1em; }
.pl-source:target { outline: 2px solid var(--color-accent); }
.pl-source-meta { font-size: 0.8em; opacity: 0.8; margin: 0.1em 0 0.2em 0; }
.pl-abstract { font-size: 0.85em; line-height: 1.45; }
.pl-full > summary { cursor: pointer; font-size: 0.9em; opacity: 0.75; }
.pl-full[open] { max-height: 14em; overflow-y: auto; }
.pl-answer mark, .pl-search mark { background: #fde68a; color: #111; padding: 0 1px;
  border-radius: 2px; }
.pl-ok { color: #15803d; font-weight: 600; }
.pl-warn { color: #b45309; font-weight: 600; }
.pl-considered { font-size: 0.85em; margin-top: 0.3em; }
.pl-error p { color: #b91c1c; }
.pl-search li { margin: 0.5em 0; }
.pl-export { font-size: 0.85em; margin: 0.3em 0; }
.pl-export a { font-weight: 600; }
.pl-related { font-size: 0.85em; margin-top: 0.3em; }
.pl-related > summary { cursor: pointer; opacity: 0.8; }
.pl-related ol { margin: 0.2em 0 0 1.2em !important; }
.pl-link { font-style: italic; }
#pl-empty { border: 1px solid #d97706; border-radius: 8px; padding: 0.5em 1em; }
"""


class Sessions:
    """One `Assistant` per browser session, all sharing the library and the embedder.

    The conversation (what follow-ups refer to) is per session; the heavy parts are not:
    every session reads the shared retriever's library snapshot, which an upload replaces
    whole (`Retriever.refresh`), so sessions never wait on one another.
    """

    def __init__(self, shared: Assistant, capacity: int = SESSIONS_KEPT):
        self.shared = shared
        self.capacity = capacity
        self._bots: OrderedDict[str, Assistant] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sid: str) -> Assistant:
        with self._lock:
            bot = self._bots.get(sid)
            if bot is None:
                # One retriever for all sessions: it holds the library's vectors and BM25
                # in memory, and retrieval keeps no per-conversation state.
                bot = self.shared.new_conversation()
                self._bots[sid] = bot
            self._bots.move_to_end(sid)
            while len(self._bots) > self.capacity:
                self._bots.popitem(last=False)
            return bot

    def reset(self, sid: str) -> None:
        with self._lock:
            bot = self._bots.get(sid)
        if bot is not None:
            bot.reset()


def _export_folder() -> Path:
    """A new folder under `EXPORT_DIR` (an unguessable name); the oldest beyond
    `EXPORTS_KEPT` are removed."""
    folder = EXPORT_DIR / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        old = sorted((p for p in EXPORT_DIR.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for stale in old[:-EXPORTS_KEPT]:
            for f in stale.iterdir():
                f.unlink(missing_ok=True)
            stale.rmdir()
    except OSError:  # another session cleaning up at the same moment: it finishes the job
        pass
    return folder


def _write_export(text: str, name: str) -> Path:
    path = _export_folder() / name
    path.write_text(text, encoding="utf-8")
    return path


def _export_links(answer: Any, papers: Any) -> list[tuple[str, str]]:
    """Write the papers ``answer`` cites in every export format; their download links."""
    if not any(c.tier != "second" for c in answer.citations):
        return []
    folder = _export_folder()
    links = []
    for fmt in EXPORT_FORMATS:
        path = folder / f"sources{EXPORT_SUFFIXES[fmt]}"
        path.write_text(answer.export(fmt, papers), encoding="utf-8")
        # Relative to the page, so the app works under a path prefix too.
        links.append((EXPORT_LABELS[fmt], f"gradio_api/file={path}"))
    return links


def _related_cards(bot: Assistant, answer: Any) -> dict[str, Any]:
    """Paper id -> its related papers, for each source shown as a card (cited or second tier)."""
    from assistant.related import related

    cited = {c.paper_id for c in answer.citations}
    snap = bot.retriever.refresh()
    out = {}
    for s in answer.sources:
        if s.paper_id in cited or s.tier == "second":
            try:
                out[s.paper_id] = related(snap, s.paper_id, RELATED_SHOWN, retriever=bot.retriever)
            except PaperLensError:  # removed since it was retrieved: no related list
                continue
    return out


def _paper_count(bot: Assistant) -> int:
    # From the store, not the retriever's copy (which trusts itself for a second).
    return bot.library.stats().papers


def _status_md(bot: Assistant) -> str:
    s = bot.settings
    n = _paper_count(bot)
    if bot.llm is not None:
        answerer = f"LLM `{s.llm.model}`, falling back to extractive answers when it fails"
    else:
        answerer = "extractive (quotes from the abstracts; set `OPENAI_BASE_URL` for an LLM)"
    return f"**{n} papers** in the library · answers: {answerer}"


def _library_md(bot: Assistant) -> tuple[str, list[list[Any]]]:
    stats = bot.library.stats()
    head = (
        f'<span id="pl-paper-count">{stats.papers} papers</span> · {stats.chunks} chunks · '
        f"model {esc(stats.model)} · stored in {esc(stats.location)}"
    )
    rows = [[name, count] for name, count in stats.sources.items()]
    return head, rows


def _content_text(content: Any) -> str:
    """The text of a chat message as gradio hands it back (a string or content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text", "") for c in content if isinstance(c, dict))
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def _plain_history(history: list[Any] | None) -> list[dict[str, str]]:
    return [
        {"role": m["role"], "content": _content_text(m.get("content"))}
        for m in history or []
        if isinstance(m, dict) and m.get("role") in ("user", "assistant")
    ]


def build_app(settings: Settings | None = None, assistant: Assistant | None = None) -> gr.Blocks:
    """The paperlens UI as a `gr.Blocks` (launch it with `serve`).

    Args:
        settings: the settings to use (default: the environment's).
        assistant: an already loaded `Assistant` to share (its library and embedder
            serve every browser session); built from ``settings`` when None.
    """
    shared = assistant or Assistant(get_settings(settings))
    settings = shared.settings
    sessions = Sessions(shared)
    # Each session's last answer's papers, highlighted on the map (bounded like `sessions`).
    answered: OrderedDict[str, tuple[str, ...]] = OrderedDict()
    answered_lock = threading.Lock()
    max_bytes = int(settings.ui.max_upload_mb * 1024 * 1024)

    # -- chat -------------------------------------------------------------------------
    def respond(question: str, history: list[Any], store: dict[str, Any]):
        history = _plain_history(history)
        question = question or ""
        if not question.strip():
            gr.Warning("Please type a question about the papers in the library.")
            yield history, question
            return
        sid = (store or {}).get("sid") or uuid.uuid4().hex
        history.append({"role": "user", "content": question_html(question)})
        history.append({"role": "assistant", "content": draft_html("", False)})
        yield history, ""
        t0 = time.perf_counter()
        bot = sessions.get(sid)
        text = ""
        answer = None
        try:
            for event in bot.stream(question):
                if event.answer is not None:
                    answer = event.answer
                    break
                text += event.delta
                history[-1] = {"role": "assistant", "content": draft_html(text, event.draft)}
                yield history, ""
        except LibraryEmptyError:
            history[-1] = {"role": "assistant", "content": message_html(EMPTY_LIBRARY, "error")}
        except PaperLensError as exc:
            history[-1] = {"role": "assistant", "content": message_html(str(exc), "error")}
        except Exception:  # the chat must say so, not hang on "answering…"
            log.exception("answering %r failed", question[:200])
            history[-1] = {
                "role": "assistant",
                "content": message_html("Something went wrong while answering; the server log has the details.", "error"),
            }
        if answer is not None:
            key = uuid.uuid4().hex[:8]
            papers = bot.retriever.papers
            try:
                exports = _export_links(answer, papers)
            except OSError as exc:  # a full or read-only temp dir costs the links, not the answer
                log.warning("could not write the answer's exports: %s", exc)
                exports = []
            html = answer_html(answer, papers, key, time.perf_counter() - t0,
                               related=_related_cards(bot, answer), exports=exports)
            history[-1] = {"role": "assistant", "content": html}
            cited = [c.paper_id for c in answer.citations] or [x.paper_id for x in answer.sources]
            with answered_lock:  # never held across a yield
                answered[sid] = tuple(dict.fromkeys(cited))
                answered.move_to_end(sid)
                while len(answered) > SESSIONS_KEPT:
                    answered.popitem(last=False)
        yield history, ""

    def remember(history: list[Any], store: dict[str, Any]) -> dict[str, Any]:
        store = dict(store or {})
        store["sid"] = store.get("sid") or uuid.uuid4().hex  # the initial state holds None
        store["history"] = _plain_history(history)[-HISTORY_KEPT:]
        return store

    def new_chat(store: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        store = dict(store or {})
        if store.get("sid"):
            sessions.reset(store["sid"])
        store["history"] = []
        return [], store

    def on_load(store: dict[str, Any]):
        store = dict(store or {})
        store["sid"] = store.get("sid") or uuid.uuid4().hex  # the initial state holds None
        count = _paper_count(shared)
        head, rows = _library_md(shared)
        # An empty saved chat leaves the chat as it is: a question asked while the page was
        # still loading must not be wiped when this (slower) load event returns.
        return (
            store.get("history") or gr.update(),
            store,
            _status_md(shared),
            gr.update(visible=count == 0),
            head,
            rows,
        )

    # -- library ----------------------------------------------------------------------
    def search(query: str) -> str:
        query = (query or "")[:500]
        hits = search_papers(shared.retriever.papers.values(), query)
        return search_html(hits[:SEARCH_LIMIT], query, len(hits), SEARCH_LIMIT)

    def export_selection(query: str, fmt: str) -> Any:
        """The papers matching the search (all of them, not only those shown) as a file."""
        from assistant.export import export_papers

        query = (query or "")[:500]
        hits = search_papers(shared.retriever.papers.values(), query)
        if not hits:
            return gr.update(value=None, label="Download", interactive=False)
        text = export_papers(hits, fmt, heading=f"Library papers matching: {query}")
        path = _write_export(text, f"library-selection{EXPORT_SUFFIXES[fmt]}")
        n = len(hits)
        return gr.update(value=str(path), label=f"Download {n} paper{'s' if n != 1 else ''}",
                         interactive=True)

    def add_papers(files: list[str] | None, progress: gr.Progress = gr.Progress()):  # noqa: B008
        from ingest import ingest

        if not files:
            return "Choose one or more files first (" + FORMATS + ").", *refresh_library()
        too_big: list[tuple[str, str]] = []
        paths: list[Path] = []
        for f in files:
            path = Path(f)
            if path.stat().st_size > max_bytes:
                too_big.append(
                    (path.name, f"larger than the {settings.ui.max_upload_mb:g} MB upload limit")
                )
            else:
                paths.append(path)
        progress(0, desc="Reading files")

        def step(p: Any) -> None:
            progress((p.papers_done, p.papers_total), desc="Embedding papers", unit="papers")

        try:
            report = ingest(paths, settings, library=shared.library, embedder=shared.embedder,
                            progress=step) if paths else None
        except PaperLensError as exc:
            return f"**Could not add the papers:** {esc(exc)}", *refresh_library()
        if report is not None:  # the next question of any session sees what was written
            shared.retriever.refresh(check=True)
        skipped = too_big + [(Path(p).name, why) for p, why in (report.skipped if report else [])]
        lines = []
        if report is not None:
            lines.append(f"**Added to the library:** {esc(report.summary())}\n")
        if skipped:
            lines.append("**Skipped:**\n")
            lines += [f"- `{esc(name)}`: {esc(why)}" for name, why in skipped]
        return "\n".join(lines), *refresh_library()

    def refresh_library():
        head, rows = _library_md(shared)
        return head, rows, _status_md(shared), gr.update(visible=_paper_count(shared) == 0)

    # -- library map and digest -------------------------------------------------------
    def show_map(store: dict[str, Any]) -> tuple[str, str]:
        from assistant.library_map import library_map, render_svg

        if _paper_count(shared) == 0:
            return "", EMPTY_LIBRARY
        lmap = library_map(shared.retriever)  # cached per library content
        with answered_lock:
            marked = answered.get((store or {}).get("sid") or "", ())
        note = (f"{len(lmap.paper_ids)} papers in {len(lmap.topics)} topics. Hover a point for "
                "its title; click it to open the paper.")
        if marked:
            note += f" Ringed: the {len(marked)} papers of your last answer."
        return render_svg(lmap, marked), note

    def open_paper(evt: gr.EventData) -> str:
        from assistant.digest import digest_paper_md

        pid = str(getattr(evt, "paper", "") or "")
        paper = shared.retriever.papers.get(pid)
        if paper is None:
            return "That paper is no longer in the library."
        return digest_paper_md(shared.retriever, paper)

    def show_digest(when: str, since: bool) -> str:
        from assistant.digest import digest

        when = (when or "").strip()[:40]
        try:
            got = digest(shared.retriever, date=None if since else (when or None),
                         since=when if since and when else None)
        except PaperLensError as exc:
            return f"**{esc(exc)}**"
        return got.to_markdown()

    # -- API: question in, answer out (no conversation kept between calls) -------------
    def ask(question: str) -> dict[str, Any]:
        """Answer one question about the library.

        Returns the answer as JSON: its text with [n] markers, citations (paper, quoted
        span and its offsets in the abstract), sources with scores, mode and notices.
        """
        # Each call its own empty conversation over the shared library: calls run side by
        # side, and none sees another's question as its previous turn.
        try:
            answer = shared.new_conversation().ask(question or "")
        except LibraryEmptyError as exc:
            raise gr.Error(EMPTY_LIBRARY) from exc
        except PaperLensError as exc:
            raise gr.Error(str(exc)) from exc
        return answer.to_dict()

    with gr.Blocks(title="paperlens", analytics_enabled=False) as demo:
        store = gr.BrowserState({"sid": None, "history": []}, storage_key="paperlens-chat")
        with gr.Row():
            gr.Markdown("## paperlens · ask your paper library")
        status = gr.Markdown(elem_id="pl-status")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                empty = gr.Markdown(EMPTY_LIBRARY, visible=False, elem_id="pl-empty")
                chatbot = gr.Chatbot(
                    elem_id="pl-chat",
                    height="66vh",
                    show_label=False,
                    buttons=["copy"],
                    feedback_options=None,
                    latex_delimiters=[{"left": "$", "right": "$", "display": False}],
                    placeholder="Ask about the papers in your library. Answers cite the "
                    "exact sentences they rest on; click a [n] to see its source.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Ask a question, e.g. Which papers study speculative decoding?",
                        scale=8,
                        elem_id="pl-question",
                        autofocus=True,
                        submit_btn=True,
                    )
                    clear = gr.Button("New chat", scale=1, variant="secondary")
                gr.Examples(EXAMPLES, inputs=[question], label="Try")
            with gr.Tab("Library", id="library") as library_tab:
                library_head = gr.HTML()
                with gr.Row():
                    with gr.Column(scale=3):
                        query = gr.Textbox(
                            label="Search titles and abstracts",
                            placeholder="e.g. draft tree",
                            elem_id="pl-search",
                        )
                        with gr.Row():
                            export_format = gr.Dropdown(
                                [(EXPORT_LABELS[f], f) for f in EXPORT_FORMATS], value="bibtex",
                                label="Export the matching papers as", scale=3,
                                elem_id="pl-export-format",
                            )
                            export_button = gr.DownloadButton(
                                "Download", interactive=False, scale=1, elem_id="pl-export-selection",
                            )
                        results = gr.HTML(elem_id="pl-search-results")
                    with gr.Column(scale=2):
                        gr.Markdown(
                            f"**Add papers**: {FORMATS} files, up to "
                            f"{settings.ui.max_upload_mb:g} MB each, read as `paperlens ingest` reads them."
                        )
                        files = gr.File(
                            label="Papers to add",
                            file_count="multiple",
                            type="filepath",
                            elem_id="pl-upload",
                        )
                        add = gr.Button("Add to library", variant="primary", elem_id="pl-add")
                        ingest_report = gr.Markdown(elem_id="pl-ingest-report")
                        sources_table = gr.Dataframe(
                            headers=["source file", "papers"],
                            label="Sources",
                            interactive=False,
                            wrap=True,
                        )
                with gr.Accordion("Map of the library", open=True, elem_id="pl-map-section"):
                    map_note = gr.Markdown(elem_id="pl-map-note")
                    library_map_html = gr.HTML(
                        elem_id="pl-map", html_template=MAP_TEMPLATE, js_on_load=MAP_JS,
                        css_template=MAP_CSS,
                    )
                    map_paper = gr.Markdown(elem_id="pl-map-paper")
                with gr.Accordion("What's new", open=False, elem_id="pl-digest-section"):
                    with gr.Row():
                        digest_when = gr.Textbox(
                            label="Day", placeholder="the newest day; or e.g. Mar 13, 2026-03-13",
                            elem_id="pl-digest-date", scale=3,
                        )
                        digest_since = gr.Checkbox(label="and every day since", scale=1,
                                                   elem_id="pl-digest-since")
                        digest_go = gr.Button("Show digest", scale=1, elem_id="pl-digest-go")
                    digest_md = gr.Markdown(elem_id="pl-digest")

        chat_outputs = [chatbot, question]
        question.submit(respond, [question, chatbot, store], chat_outputs,
                        concurrency_limit=2, api_visibility="private").then(
            remember, [chatbot, store], [store], api_visibility="private"
        )
        clear.click(new_chat, [store], [chatbot, store], api_visibility="private")
        query.change(search, [query], [results], api_visibility="private",
                     show_progress="hidden")
        for trigger in (query.change, export_format.change):
            trigger(export_selection, [query, export_format], [export_button],
                    api_visibility="private", show_progress="hidden")
        add.click(add_papers, [files], [ingest_report, library_head, sources_table, status, empty],
                  api_visibility="private")
        library_tab.select(show_map, [store], [library_map_html, map_note], api_visibility="private")
        library_map_html.click(open_paper, None, [map_paper], api_visibility="private")
        digest_go.click(show_digest, [digest_when, digest_since], [digest_md], api_visibility="private")
        digest_when.submit(show_digest, [digest_when, digest_since], [digest_md],
                           api_visibility="private")
        demo.load(on_load, [store], [chatbot, store, status, empty, library_head, sources_table],
                  api_visibility="private")
        gr.api(ask, api_name="ask")
    return demo


def serve(
    demo: gr.Blocks,
    settings: Settings | None = None,
    *,
    port: int | None = None,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> tuple[Any, str, str]:
    """Launch ``demo`` with paperlens' server options (address, auth, upload limit, theme)."""
    settings = get_settings(settings)
    auth = None
    if settings.ui.auth_user or settings.ui.auth_password:
        if not (settings.ui.auth_user and settings.ui.auth_password):
            raise ConfigError(
                "Basic auth needs both PAPERLENS_UI__AUTH_USER and PAPERLENS_UI__AUTH_PASSWORD."
            )
        auth = (settings.ui.auth_user, settings.ui.auth_password.get_secret_value())
    demo.queue(default_concurrency_limit=1)
    return demo.launch(
        server_name=settings.host,
        server_port=port or settings.port,
        auth=auth,
        max_file_size=int(settings.ui.max_upload_mb * 1024 * 1024),
        allowed_paths=[str(EXPORT_DIR)],
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        show_error=True,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        footer_links=["api", "settings"],
        theme=THEME,
        css=CSS,
    )


def main() -> None:
    """Load the library (ingesting nothing) and serve the UI until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    shared = Assistant(settings)
    # Load the model and the lexical index now, not on the first question.
    shared.embedder.encode_query("warm up")
    n = _paper_count(shared)
    print(f"paperlens: {n} papers in {settings.store_location}")
    if n == 0:
        print("paperlens: the library is empty; run `paperlens ingest data/papers` or upload papers.")
    serve(build_app(settings, shared), settings)


if __name__ == "__main__":
    main()

"""The page: its tabs and components, which `WebApp` method each event calls, and
`build_app`, a `WebApp` with its page.

Element ids (``pl-...``) are what the CSS and the browser tests address; keep them.
"""

from __future__ import annotations

import weakref
from importlib.resources import files
from typing import Any

import gradio as gr

from assistant import EXPORT_FORMATS, Assistant, Settings

from .app import WebApp
from .exports import LABELS
from .warmup import EXAMPLES_SHOWN

# The map: a hover label follows the pointer; a click on a point opens that paper below the
# map (one delegated listener on the component root, which survives re-renders of the SVG).
MAP_TEMPLATE = "<div class='pl-map-hover' aria-live='polite'></div>${value}"
PRIVATE: dict[str, Any] = {"api_visibility": "private"}


def asset(name: str) -> str:
    """The text of a file shipped beside this module (``style.css``, ``map.js``...)."""
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


class Page:
    """Builds the page for one `WebApp`; components are kept as attributes to wire them."""

    def __init__(self, app: WebApp):
        self.app = app

    def build(self) -> gr.Blocks:
        """The whole page as a `gr.Blocks`, its events wired to the app's methods."""
        with gr.Blocks(title="paperlens", analytics_enabled=False) as demo:
            self.store = gr.BrowserState({"sid": None, "history": []}, storage_key="paperlens-chat")
            with gr.Row():
                gr.Markdown("## paperlens · ask your paper library")
            self.status = gr.Markdown(elem_id="pl-status")
            with gr.Tabs():
                with gr.Tab("Chat", id="chat"):
                    self._chat_tab()
                with gr.Tab("Library", id="library") as self.library_tab:
                    self.library_head = gr.HTML()
                    with gr.Row():
                        with gr.Column(scale=3):
                            self._search_column()
                        with gr.Column(scale=2):
                            self._upload_column()
                    self._map_section()
                    self._digest_section()
            self._wire_chat()
            self._wire_library()
            # A generator: the page first, then the status and examples once loaded. Not
            # queued behind another page's load (each waits on the same warm-up).
            demo.load(
                self.app.on_load,
                [self.store],
                [
                    self.chatbot,
                    self.store,
                    self.status,
                    self.empty,
                    self.library_head,
                    self.sources_table,
                    *self.examples,
                ],
                concurrency_limit=None,
                show_progress="hidden",
                **PRIVATE,
            )
            gr.api(self.app.ask, api_name="ask")
        return demo

    def _chat_tab(self) -> None:
        self.empty = gr.Markdown(self.app.empty_library, visible=False, elem_id="pl-empty")
        self.chatbot = gr.Chatbot(
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
            self.question = gr.Textbox(
                show_label=False,
                placeholder="Ask a question about the papers in your library",
                scale=8,
                elem_id="pl-question",
                autofocus=True,
                submit_btn=True,
            )
            self.clear = gr.Button("New chat", scale=1, variant="secondary")
        # Drawn from the library (`Warmup`), filled in by the page's load event. Buttons,
        # not gr.Examples: a long question (a paper's title) is shown whole, not cut at 60.
        shown = self.app.warmup.examples()
        with gr.Row(elem_id="pl-examples", equal_height=True):
            gr.Markdown("**Try**", elem_classes="pl-try")
            self.examples = [
                gr.Button(
                    shown[i] if i < len(shown) else "",
                    visible=i < len(shown),
                    size="sm",
                    variant="secondary",
                    elem_classes="pl-example",
                )
                for i in range(EXAMPLES_SHOWN)
            ]

    def _search_column(self) -> None:
        self.query = gr.Textbox(
            label="Search titles and abstracts",
            placeholder="e.g. draft tree",
            elem_id="pl-search",
        )
        with gr.Row():
            self.export_format = gr.Dropdown(
                [(LABELS[f], f) for f in EXPORT_FORMATS],
                value="bibtex",
                label="Export the matching papers as",
                scale=3,
                elem_id="pl-export-format",
            )
            self.export_button = gr.DownloadButton(
                "Download",
                interactive=False,
                scale=1,
                elem_id="pl-export-selection",
            )
        self.results = gr.HTML(elem_id="pl-search-results")

    def _upload_column(self) -> None:
        gr.Markdown(
            f"**Add papers**: {self.app.formats} files, up to "
            f"{self.app.settings.ui.max_upload_mb:g} MB each, read as `paperlens ingest` "
            "reads them."
        )
        self.files = gr.File(
            label="Papers to add",
            file_count="multiple",
            type="filepath",
            elem_id="pl-upload",
        )
        self.add = gr.Button("Add to library", variant="primary", elem_id="pl-add")
        self.ingest_report = gr.Markdown(elem_id="pl-ingest-report")
        self.sources_table = gr.Dataframe(
            headers=["source", "papers"],
            elem_id="pl-sources",
            label="Sources",
            interactive=False,
            wrap=True,
        )

    def _map_section(self) -> None:
        with gr.Accordion("Map of the library", open=True, elem_id="pl-map-section"):
            self.map_note = gr.Markdown(elem_id="pl-map-note")
            self.library_map = gr.HTML(
                elem_id="pl-map",
                html_template=MAP_TEMPLATE,
                js_on_load=asset("map.js"),
                css_template=asset("map.css"),
            )
            self.map_paper = gr.Markdown(elem_id="pl-map-paper")

    def _digest_section(self) -> None:
        with gr.Accordion("What's new", open=False, elem_id="pl-digest-section"):
            with gr.Row():
                self.digest_when = gr.Textbox(
                    label="Day",
                    placeholder="the newest day; or e.g. Mar 13, 2026-03-13",
                    elem_id="pl-digest-date",
                    scale=3,
                )
                self.digest_since = gr.Checkbox(
                    label="and every day since", scale=1, elem_id="pl-digest-since"
                )
                self.digest_go = gr.Button("Show digest", scale=1, elem_id="pl-digest-go")
            self.digest_md = gr.Markdown(elem_id="pl-digest")

    def _wire_chat(self) -> None:
        app = self.app
        self.question.submit(
            app.respond,
            [self.question, self.chatbot, self.store],
            [self.chatbot, self.question],
            concurrency_limit=2,
            **PRIVATE,
        ).then(app.remember, [self.chatbot, self.store], [self.store], **PRIVATE)
        self.clear.click(app.new_chat, [self.store], [self.chatbot, self.store], **PRIVATE)
        for button in self.examples:  # a click puts its question in the box
            button.click(lambda q: q, [button], [self.question], show_progress="hidden", **PRIVATE)

    def _wire_library(self) -> None:
        app = self.app
        self.query.change(
            app.search, [self.query], [self.results], show_progress="hidden", **PRIVATE
        )
        for trigger in (self.query.change, self.export_format.change):
            trigger(
                app.export_selection,
                [self.query, self.export_format],
                [self.export_button],
                show_progress="hidden",
                **PRIVATE,
            )
        self.add.click(
            app.add_papers,
            [self.files],
            [
                self.ingest_report,
                self.library_head,
                self.sources_table,
                self.status,
                self.empty,
                *self.examples,
            ],
            **PRIVATE,
        )
        self.library_tab.select(
            app.show_map, [self.store], [self.library_map, self.map_note], **PRIVATE
        )
        self.library_map.click(app.open_paper, None, [self.map_paper], **PRIVATE)
        digest_in = [self.digest_when, self.digest_since]
        self.digest_go.click(app.show_digest, digest_in, [self.digest_md], **PRIVATE)
        self.digest_when.submit(app.show_digest, digest_in, [self.digest_md], **PRIVATE)


# The `WebApp` behind each page `build_app` made: `serve` adds its PDF viewer routes.
_APPS: weakref.WeakKeyDictionary[gr.Blocks, WebApp] = weakref.WeakKeyDictionary()


def build_app(settings: Settings | None = None, assistant: Assistant | None = None) -> gr.Blocks:
    """The paperlens UI as a `gr.Blocks` (launch it with `serve`).

    Args:
        settings: the settings to use (default: the environment's).
        assistant: an already loaded `Assistant` to share (its library and embedder
            serve every browser session); built from ``settings`` when None.
    """
    web = WebApp(settings, assistant)
    demo = Page(web).build()
    _APPS[demo] = web
    return demo


def web_app_of(demo: gr.Blocks) -> WebApp | None:
    """The `WebApp` behind a page made by `build_app` (None for any other page)."""
    return _APPS.get(demo)

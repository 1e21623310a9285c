"""Serving the web UI: server options from the settings, and the `python app.py` entry."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from assistant import Assistant, Settings, get_settings

from ..auth import ui_credentials
from .exports import EXPORT_DIR
from .layout import asset, build_app, web_app_of
from .viewer import add_viewer_routes

# System fonts only: a Google font would be fetched from fonts.googleapis.com.
THEME = gr.themes.Default(
    primary_hue="indigo",
    font=["system-ui", "-apple-system", "'Segoe UI'", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "'SFMono-Regular'", "Menlo", "monospace"],
)


def serve(
    demo: gr.Blocks,
    settings: Settings | None = None,
    *,
    port: int | None = None,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> tuple[Any, str, str]:
    """Launch ``demo`` with paperlens' server options (address, auth, upload limit, theme),
    and the PDF viewer's routes when ``demo`` is a paperlens app (`build_app`)."""
    settings = get_settings(settings)
    auth = ui_credentials(settings)
    demo.queue(default_concurrency_limit=1)
    # Launched without blocking so the viewer's routes join the app before it is used.
    launched = demo.launch(
        server_name=settings.host,
        server_port=port or settings.port,
        auth=auth,
        max_file_size=int(settings.ui.max_upload_mb * 1024 * 1024),
        allowed_paths=[str(EXPORT_DIR)],
        prevent_thread_lock=True,
        quiet=quiet,
        show_error=True,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        footer_links=["api", "settings"],
        # gradio keeps each browser session's state (its copy of the page's components)
        # for this many sessions (its default: 10,000), least recently used dropped.
        state_session_capacity=settings.ui.max_sessions,
        theme=THEME,
        css=asset("style.css"),
    )
    web = web_app_of(demo)
    if web is not None:
        add_viewer_routes(launched[0], web.pdfs)
        web.warmup.start()  # while the first page loads
    if not prevent_thread_lock:
        demo.block_thread()
    return launched


def main() -> None:
    """Load the library (ingesting nothing) and serve the UI until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    shared = Assistant(settings)  # the model and the rest load once served (`Warmup`)
    n = shared.library.stats().papers
    print(f"paperlens: {n} papers in {settings.store_location}")
    if n == 0:
        print(
            "paperlens: the library is empty; run `paperlens ingest data/papers` or upload papers."
        )
    serve(build_app(settings, shared), settings)

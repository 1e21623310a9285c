"""The paperlens web UI: a chat over your paper library, with cited, checkable answers.

Run ``make app`` (ingests ``data/papers`` first, then launches), ``python app.py`` or
``python -m paperlens.web``. Binds to 127.0.0.1:7860 unless ``PAPERLENS_HOST`` /
``PAPERLENS_PORT`` say otherwise.

Example:
    >>> from paperlens.web import build_app, serve
    >>> demo = build_app()                                   # doctest: +SKIP
    >>> serve(demo, prevent_thread_lock=True)                # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before gradio is imported: it reads these once, and nothing may leave the machine.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(tempfile.gettempdir()) / "paperlens-gradio"))

from .app import WebApp  # noqa: E402
from .layout import build_app  # noqa: E402
from .server import main, serve  # noqa: E402

__all__ = ["WebApp", "build_app", "main", "serve"]

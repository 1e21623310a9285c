"""Files the web UI offers for download: an answer's cited papers, a search's selection.

Gradio serves them from `EXPORT_DIR` (`serve` allows that folder alone); each export gets
a new folder with an unguessable name, and the newest `EXPORTS_KEPT` are kept.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

from assistant import EXPORT_FORMATS, EXPORT_SUFFIXES, Answer, Paper, export_answer

EXPORT_DIR = (
    Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "paperlens-gradio")
    / "paperlens-exports"
)
EXPORTS_KEPT = 256
LABELS = {"bibtex": "BibTeX", "ris": "RIS", "csl-json": "CSL-JSON", "markdown": "Markdown"}


def export_folder() -> Path:
    """A new folder under `EXPORT_DIR`; the oldest beyond `EXPORTS_KEPT` are removed."""
    folder = EXPORT_DIR / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        old = sorted(
            (p for p in EXPORT_DIR.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime
        )
        for stale in old[:-EXPORTS_KEPT]:
            for f in stale.iterdir():
                f.unlink(missing_ok=True)
            stale.rmdir()
    except OSError:  # another session cleaning up at the same moment: it finishes the job
        pass
    return folder


def write_export(text: str, name: str) -> Path:
    """Write ``text`` as ``name`` in a new export folder; its path."""
    path = export_folder() / name
    path.write_text(text, encoding="utf-8")
    return path


def export_links(answer: Answer, papers: Mapping[str, Paper]) -> list[tuple[str, str]]:
    """Write the papers ``answer`` cites in every export format; their download links."""
    if not any(c.tier != "second" for c in answer.citations):
        return []
    folder = export_folder()
    links = []
    for fmt in EXPORT_FORMATS:
        path = folder / f"sources{EXPORT_SUFFIXES[fmt]}"
        path.write_text(export_answer(answer, fmt, papers), encoding="utf-8")
        # Relative to the page, so the app works under a path prefix too.
        links.append((LABELS[fmt], f"gradio_api/file={path}"))
    return links

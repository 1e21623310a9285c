"""paperlens: grounded, cited answers over a library of research papers.

Example:
    >>> from assistant import ask
    >>> answer = ask("Which papers study speculative decoding?")   # doctest: +SKIP
    >>> print(answer.text)                                         # doctest: +SKIP

The public API is `__all__`: what a program using the library needs, and all that the CLI,
the web UI and the MCP server use (a test holds them to it). The evals and benchmarks
measure the library's parts, so they import those from the modules where they live. Its map:

- Asking: `ask` (one question) and `Assistant` (a conversation over a loaded library:
  ``ask``, ``stream``, ``search``, ``papers``, ``stats``, ``related`` -> `RelatedPaper`,
  ``library_map``, ``digest``), restricted by `Filters`.
- Results: `Answer` (text, `Citation`, `Source`) and `Paper`, each value with
  ``to_dict()``; `CITATION_MARKER` finds an answer's ``[n]`` markers.
- The library: `Library` (the store), `resolve_paper` (a paper by id, DOI or words of its
  title), `PdfFiles` (the copies of the library's PDFs that ingest keeps, what the web UI's
  viewer serves). Ingesting is the `ingest` package.
- Output: `export_answer` (an answer's cited papers with their quotes) and `export_papers`,
  in `EXPORT_FORMATS` (file suffixes: `EXPORT_SUFFIXES`); `render_png`/`render_svg` (a
  library map as a picture); `digest_paper_md` (one paper of a digest) and `parse_date`
  (a digest's dates); `example_questions` (questions a library suggests, from its map).
- Settings: `Settings`, `get_settings`, `OFFLINE_ENV`. Errors: `PaperLensError`, the base
  of every error (each message names the fix), and those callers tell apart:
  `ConfigError`, `DateError`, `LibraryEmptyError`, `PaperNotFoundError` (the others are in
  `assistant.core.errors`).

The other values the conversation returns are imported, for type hints, from where they
are defined: `StreamEvent`, `SearchHit`, `LibraryStats`, `RankedPaper` from
`assistant.core.types`; `LibraryMap` and `Digest` from `assistant.explore.library_map` and
`assistant.explore.digest`.

Importing this package is cheap: torch, chromadb and the models load on first use.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .core.errors import (
    ConfigError,
    DateError,
    LibraryEmptyError,
    PaperLensError,
    PaperNotFoundError,
)
from .core.settings import OFFLINE_ENV, Settings, get_settings
from .core.types import Answer, Citation, Paper, RelatedPaper, Source

if TYPE_CHECKING:
    from .answering.verify import CITATION_MARKER
    from .chat import Assistant, ask
    from .explore.digest import digest_paper_md, parse_date
    from .explore.examples import example_questions
    from .explore.export import FORMATS as EXPORT_FORMATS
    from .explore.export import SUFFIXES as EXPORT_SUFFIXES
    from .explore.export import export_answer, export_papers
    from .explore.map_drawing import render_png, render_svg
    from .explore.related import resolve_paper
    from .retrieval.retriever import Filters
    from .store.library import Library
    from .store.pdf_files import PdfFiles

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CITATION_MARKER",
    "EXPORT_FORMATS",
    "EXPORT_SUFFIXES",
    "OFFLINE_ENV",
    "Answer",
    "Assistant",
    "Citation",
    "ConfigError",
    "DateError",
    "Filters",
    "Library",
    "LibraryEmptyError",
    "Paper",
    "PaperLensError",
    "PaperNotFoundError",
    "PdfFiles",
    "RelatedPaper",
    "Settings",
    "Source",
    "ask",
    "digest_paper_md",
    "example_questions",
    "export_answer",
    "export_papers",
    "get_settings",
    "parse_date",
    "render_png",
    "render_svg",
    "resolve_paper",
]

# Loaded on first use: name -> (module, its name there). No name here may be a subpackage's
# name: once imported, the subpackage shadows it (a test checks it).
_LAZY = {
    "Assistant": (".chat", "Assistant"),
    "ask": (".chat", "ask"),
    "CITATION_MARKER": (".answering.verify", "CITATION_MARKER"),
    "digest_paper_md": (".explore.digest", "digest_paper_md"),
    "parse_date": (".explore.digest", "parse_date"),
    "example_questions": (".explore.examples", "example_questions"),
    "EXPORT_FORMATS": (".explore.export", "FORMATS"),
    "EXPORT_SUFFIXES": (".explore.export", "SUFFIXES"),
    "export_answer": (".explore.export", "export_answer"),
    "export_papers": (".explore.export", "export_papers"),
    "render_png": (".explore.map_drawing", "render_png"),
    "render_svg": (".explore.map_drawing", "render_svg"),
    "resolve_paper": (".explore.related", "resolve_paper"),
    "Filters": (".retrieval.retriever", "Filters"),
    "Library": (".store.library", "Library"),
    "PdfFiles": (".store.pdf_files", "PdfFiles"),
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import assistant` loads no torch/chromadb (a test checks it).
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module, __name__), attr)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")

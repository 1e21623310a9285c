"""paperlens: grounded, cited answers over a library of research papers.

Example:
    >>> from assistant import ask
    >>> answer = ask("Which papers study speculative decoding?")   # doctest: +SKIP
    >>> print(answer.text)                                         # doctest: +SKIP

The public API is `__all__`; the CLI, the web UI, the MCP server, the evals and the
benchmarks use nothing else (a test holds them to it). Its map:

- Asking: `ask` (one question) and `Assistant` (a conversation over a loaded library:
  ``ask``, ``stream`` -> `StreamEvent`, ``search`` -> `SearchHit`, ``papers``, ``stats`` ->
  `LibraryStats`, ``related`` -> `RelatedPaper`, ``library_map`` -> `LibraryMap`,
  ``digest`` -> `Digest`), restricted by `Filters`.
- Results: `Answer` (text, `Citation`, `Source`, and the `RankedPaper` ranking it was drawn
  from), each value with ``to_dict()``; `SECOND_TIER_HEAD` opens an answer's "may also be
  relevant" block.
- The library: `Library` (the Chroma store; `Library.write` takes `PaperWrite` records),
  `Paper`, `Chunk`, `Sentence`, `IngestReport` (ingesting is `ingest.ingest`);
  `resolve_paper` finds a paper by id, DOI or words of its title; `PdfFiles`, the copies
  of the library's PDFs that ingest keeps (what the web UI's viewer serves).
- Components to inject or share (``Assistant(library=, embedder=, llm=, retriever=)``):
  `Retriever`, `Embedder`/`get_embedder`/`resolve_model_path`, `LLMClient` (its
  ``complete_usage`` returns a `Completion`) with `load_prompt` (the prompt files), and
  `Verifier`/`SourceText` (the citation check).
- Text helpers shared with the evals, so they read answers as the library writes them:
  `CITATION_MARKER`/`cited_numbers` (``[n]`` markers), `split_sentences`, `text_terms`
  (the tokeniser: `assistant.text.terms.terms`), `numbers` (the figures a claim states).
- Output helpers: `export_answer` (an answer's cited papers with their quotes) and
  `export_papers`, with `EXPORT_FORMATS`/`EXPORT_SUFFIXES`; `build_map` (a
  `LibraryMap` of given papers and vectors), `render_png`/`render_svg`;
  `example_questions` (questions a library suggests, from its map); `digest_paper_md`,
  `parse_date`.
- Settings: `Settings`, `get_settings`, `OFFLINE_ENV`. Errors: `PaperLensError` and its
  subclasses, each message naming the fix.

Importing this package is cheap: torch, chromadb and the models load on first use.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .core.errors import (
    ConfigError,
    DateError,
    ExportFormatError,
    IngestError,
    InvalidQuestionError,
    LibraryEmptyError,
    LLMAuthError,
    LLMUnavailableError,
    ModelUnavailableError,
    PaperLensError,
    PaperNotFoundError,
    PromptError,
    StoreUnavailableError,
    UnsupportedFormatError,
)
from .core.settings import OFFLINE_ENV, Settings, get_settings
from .core.types import (
    Answer,
    Chunk,
    Citation,
    IngestReport,
    LibraryStats,
    Paper,
    RankedPaper,
    RelatedPaper,
    SearchHit,
    Sentence,
    Source,
    StreamEvent,
)

if TYPE_CHECKING:
    from .answering.answer import SECOND_TIER_HEAD
    from .answering.verify import CITATION_MARKER, SourceText, Verifier, cited_numbers, numbers
    from .chat import Assistant, ask
    from .explore.digest import Digest, digest_paper_md, parse_date
    from .explore.examples import example_questions
    from .explore.export import FORMATS as EXPORT_FORMATS
    from .explore.export import SUFFIXES as EXPORT_SUFFIXES
    from .explore.export import export_answer, export_papers
    from .explore.library_map import LibraryMap, build_map
    from .explore.map_drawing import render_png, render_svg
    from .explore.related import resolve_paper
    from .index.embeddings import Embedder, get_embedder, resolve_model_path
    from .llm.client import Completion, LLMClient
    from .llm.prompts import load_prompt
    from .retrieval.retriever import Filters, Retriever
    from .store.library import Library, PaperWrite
    from .store.pdf_files import PdfFiles
    from .text.sentences import split_sentences
    from .text.terms import terms as text_terms

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CITATION_MARKER",
    "EXPORT_FORMATS",
    "EXPORT_SUFFIXES",
    "OFFLINE_ENV",
    "SECOND_TIER_HEAD",
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "Completion",
    "ConfigError",
    "DateError",
    "Digest",
    "Embedder",
    "ExportFormatError",
    "Filters",
    "IngestError",
    "IngestReport",
    "InvalidQuestionError",
    "LLMAuthError",
    "LLMClient",
    "LLMUnavailableError",
    "Library",
    "LibraryEmptyError",
    "LibraryMap",
    "LibraryStats",
    "ModelUnavailableError",
    "Paper",
    "PaperLensError",
    "PaperNotFoundError",
    "PaperWrite",
    "PdfFiles",
    "PromptError",
    "RankedPaper",
    "RelatedPaper",
    "Retriever",
    "SearchHit",
    "Sentence",
    "Settings",
    "Source",
    "SourceText",
    "StoreUnavailableError",
    "StreamEvent",
    "UnsupportedFormatError",
    "Verifier",
    "ask",
    "build_map",
    "cited_numbers",
    "digest_paper_md",
    "example_questions",
    "export_answer",
    "export_papers",
    "get_embedder",
    "get_settings",
    "load_prompt",
    "numbers",
    "parse_date",
    "render_png",
    "render_svg",
    "resolve_model_path",
    "resolve_paper",
    "split_sentences",
    "text_terms",
]

# Loaded on first use: name -> (module, its name there). No name here may be a subpackage's
# name: once imported, the subpackage shadows it. So `assistant.text.terms.terms` is
# `text_terms`, and the map and the digest are `Assistant` methods.
_LAZY = {
    "SECOND_TIER_HEAD": (".answering.answer", "SECOND_TIER_HEAD"),
    "Assistant": (".chat", "Assistant"),
    "ask": (".chat", "ask"),
    "Digest": (".explore.digest", "Digest"),
    "digest_paper_md": (".explore.digest", "digest_paper_md"),
    "parse_date": (".explore.digest", "parse_date"),
    "Embedder": (".index.embeddings", "Embedder"),
    "get_embedder": (".index.embeddings", "get_embedder"),
    "resolve_model_path": (".index.embeddings", "resolve_model_path"),
    "example_questions": (".explore.examples", "example_questions"),
    "EXPORT_FORMATS": (".explore.export", "FORMATS"),
    "EXPORT_SUFFIXES": (".explore.export", "SUFFIXES"),
    "export_answer": (".explore.export", "export_answer"),
    "export_papers": (".explore.export", "export_papers"),
    "LibraryMap": (".explore.library_map", "LibraryMap"),
    "build_map": (".explore.library_map", "build_map"),
    "render_png": (".explore.map_drawing", "render_png"),
    "render_svg": (".explore.map_drawing", "render_svg"),
    "Completion": (".llm.client", "Completion"),
    "LLMClient": (".llm.client", "LLMClient"),
    "PdfFiles": (".store.pdf_files", "PdfFiles"),
    "resolve_paper": (".explore.related", "resolve_paper"),
    "Filters": (".retrieval.retriever", "Filters"),
    "Retriever": (".retrieval.retriever", "Retriever"),
    "load_prompt": (".llm.prompts", "load_prompt"),
    "Library": (".store.library", "Library"),
    "PaperWrite": (".store.library", "PaperWrite"),
    "split_sentences": (".text.sentences", "split_sentences"),
    "text_terms": (".text.terms", "terms"),
    "CITATION_MARKER": (".answering.verify", "CITATION_MARKER"),
    "cited_numbers": (".answering.verify", "cited_numbers"),
    "numbers": (".answering.verify", "numbers"),
    "SourceText": (".answering.verify", "SourceText"),
    "Verifier": (".answering.verify", "Verifier"),
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import assistant` loads no torch/chromadb (a test checks it).
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module, __name__), attr)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")

"""paperlens: grounded, cited answers over a library of research papers.

Example:
    >>> from assistant import ask
    >>> answer = ask("Which papers study speculative decoding?")   # doctest: +SKIP
    >>> print(answer.text)                                         # doctest: +SKIP

Importing this package is cheap: torch, chromadb and the models load on first use.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigError,
    DateError,
    ExportFormatError,
    IngestError,
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
from .settings import Settings, get_settings
from .types import (
    Answer,
    Chunk,
    Citation,
    IngestReport,
    LibraryStats,
    Paper,
    RelatedPaper,
    Sentence,
    Source,
)

if TYPE_CHECKING:
    from .chat import Assistant, ask
    from .digest import Digest
    from .library_map import LibraryMap
    from .store import Library

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "ConfigError",
    "DateError",
    "Digest",
    "ExportFormatError",
    "IngestError",
    "IngestReport",
    "LLMAuthError",
    "LLMUnavailableError",
    "Library",
    "LibraryEmptyError",
    "LibraryMap",
    "LibraryStats",
    "ModelUnavailableError",
    "Paper",
    "PaperLensError",
    "PaperNotFoundError",
    "PromptError",
    "RelatedPaper",
    "Sentence",
    "Settings",
    "Source",
    "StoreUnavailableError",
    "UnsupportedFormatError",
    "ask",
    "get_settings",
]

_LAZY = {
    "Assistant": ".chat", "ask": ".chat", "Library": ".store",
    # Types only: the functions share their modules' names (`assistant.library_map`).
    "Digest": ".digest", "LibraryMap": ".library_map",
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import assistant` loads no torch/chromadb (a test checks it).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")

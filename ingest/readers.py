"""The reader registry: which reader reads which file suffix.

Each reader module registers the suffixes it reads with `text_reader` (the reader gets
the file's text, already size-checked and decoded) or `file_reader` (a binary format: the
reader opens the file itself, within a size limit). `ingest.parsers` imports the reader
modules and dispatches on the suffix, so no reader imports the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .records import ParseResult

TextReader = Callable[[str, str], ParseResult]  # (text, source name)
FileReader = Callable[[Path, str, float], ParseResult]  # (path, source name, max MiB)

TEXT_READERS: dict[str, TextReader] = {}
FILE_READERS: dict[str, FileReader] = {}

_T = TypeVar("_T", TextReader, FileReader)


def _register(table: dict[str, _T], suffixes: tuple[str, ...]) -> Callable[[_T], _T]:
    def add(reader: _T) -> _T:
        for suffix in suffixes:
            if suffix in TEXT_READERS or suffix in FILE_READERS:
                raise ValueError(f"two readers for {suffix!r}")
            table[suffix] = reader
        return reader

    return add


def text_reader(*suffixes: str) -> Callable[[TextReader], TextReader]:
    """Register a reader of text files with these (lower-case, dotted) suffixes."""
    return _register(TEXT_READERS, suffixes)


def file_reader(*suffixes: str) -> Callable[[FileReader], FileReader]:
    """Register a reader that opens files with these suffixes itself."""
    return _register(FILE_READERS, suffixes)

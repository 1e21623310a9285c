"""Ingest papers into a paperlens library: readers, chunking and the incremental pipeline.

Example:
    >>> from ingest import ingest
    >>> report = ingest(["data/papers"])      # doctest: +SKIP
    >>> report.summary()                       # doctest: +SKIP
    'added 467, updated 0, unchanged 0, skipped 0 (972 chunks embedded ...)'

The CLI, the web UI, the evals and the benchmarks import only the names in `__all__`.
"""

from __future__ import annotations

from assistant.core.types import IngestReport

from .chunking import paper_sentences
from .parsers import parse_file, supported_suffixes
from .pipeline import IngestTimings, Progress, ProgressFn, ingest, make_chunker, remove
from .reading import collect_files, read_papers
from .records import ParseResult, normalize_title, paper_id

__all__: list[str] = [
    "IngestReport",  # what a run did, paper by paper (defined in assistant.core.types)
    "IngestTimings",  # where an ingest run's time went, phase by phase
    "ParseResult",  # papers, metadata entries and problems read from one file
    "Progress",  # a progress event of `ingest`
    "ProgressFn",
    "collect_files",  # folders -> the files an ingest would read
    "ingest",  # files/folders -> the library (incremental, idempotent)
    "make_chunker",  # the chunker ingest uses for given settings and embedder
    "normalize_title",
    "paper_id",  # a paper's stable id, from its title
    "paper_sentences",  # a paper's abstract sentences, with their offsets
    "parse_file",  # one file -> ParseResult, by the reader registered for its suffix
    "read_papers",  # files -> papers, without embedding or writing
    "remove",  # delete papers by id or by source file
    "supported_suffixes",  # the file suffixes a reader is registered for
]

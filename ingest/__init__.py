"""Ingest papers into a paperlens library: parsers, chunking and the incremental pipeline."""

from .parsers import normalize_title, paper_id, parse_file
from .pipeline import Progress, ingest, remove

__all__ = ["Progress", "ingest", "normalize_title", "paper_id", "parse_file", "remove"]

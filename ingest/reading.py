"""Files -> papers: folders expanded, each file read by its reader, entries' attached
PDFs read as their papers, and papers listed in several files merged.

A PDF already stored (its sha256 known) is not extracted again unless another file of
the same run lists the same paper.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.core.errors import IngestError
from assistant.core.settings import IngestSettings
from assistant.core.types import IngestReport, Paper
from assistant.store.pdf_files import file_sha256

from .metadata import add_unmatched, attach_metadata, merge_listings
from .parsers import parse_file
from .records import MetadataRecord, ParseResult
from .zotero import DATABASE as ZOTERO_DB

# Attachments read as a paper's text (a reference manager's web snapshots are not papers).
ATTACHMENT_SUFFIXES = (".pdf",)


def collect_files(paths: Iterable[str | Path], report: IngestReport) -> list[Path]:
    """Expand folders (recursively, sorted) into files; missing paths and folders that
    cannot be listed are reported."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        # os.path.isfile, not Path.is_file: in a folder that cannot be listed the latter
        # raises PermissionError, and the walk below is what reports such a folder.
        if path.is_dir() and os.path.isfile(path / ZOTERO_DB):
            # A Zotero data folder: its database says which files in storage/ are papers.
            files.append(path / ZOTERO_DB)
        elif path.is_dir():
            for f in _walk(path, report):
                if f.is_file():
                    files.append(f)
                elif f.is_symlink() and not f.exists():  # reported, not silently dropped
                    report.skipped.append((str(f), "broken link (its target does not exist)"))
        elif path.is_file():
            files.append(path)
        else:
            report.skipped.append((str(path), "no such file or folder"))
    return files


def _walk(folder: Path, report: IngestReport) -> list[Path]:
    """Every non-hidden entry under ``folder`` that is not a folder, sorted as
    ``sorted(folder.rglob("*"))`` sorts them; links to folders are not followed.

    `Path.rglob` drops a folder it may not list without a word (an unreadable folder given
    directly ingested nothing and reported nothing); `os.walk` hands the error over.
    """

    def unreadable(exc: OSError) -> None:
        where = exc.filename if exc.filename is not None else folder
        report.skipped.append((str(where), f"unreadable folder ({exc.strerror or exc})"))

    found: list[Path] = []
    for root, dirs, names in os.walk(folder, onerror=unreadable):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(root, n) for n in names if not n.startswith("."))
    return sorted(found)


@dataclass
class ReadResult:
    """Papers read from files, metadata entries still to attach, and stored PDFs not re-read."""

    papers: dict[str, Paper] = field(default_factory=dict)
    metadata: list[tuple[Path, MetadataRecord]] = field(default_factory=list)
    known: dict[str, str] = field(default_factory=dict)  # paper id -> file name
    # Every PDF read or recognised, by its sha256: the files ingest keeps copies of.
    pdfs: dict[str, Path] = field(default_factory=dict)


def read_files(
    files: Sequence[Path],
    report: IngestReport,
    known_files: Mapping[str, str] | None = None,
    limits: IngestSettings | None = None,
) -> ReadResult:
    """Parse files and merge papers listed more than once (full text beats an abstract,
    else the first text wins; all sources kept, missing metadata filled from the other).

    A PDF whose sha256 is in ``known_files`` (file hash -> paper id) is not extracted
    again, unless another file of this run lists the same paper.
    """
    out = ReadResult()
    deferred: list[tuple[Path, str]] = []
    for f in files:
        if known_files and f.suffix.lower() == ".pdf":
            try:
                file_hash = file_sha256(f)
            except OSError:
                file_hash = ""  # parse_file reports why
            if pid := known_files.get(file_hash):
                out.pdfs.setdefault(file_hash, f)
                deferred.append((f, pid))
                continue
        _read_one(f, report, out, limits, known_files)
    for f, pid in deferred:
        if pid in out.papers or pid in out.known:
            _read_one(f, report, out, limits)  # merge with the other listing, not shadow it
        else:
            out.known[pid] = f.name
            report.files_read += 1
    return out


def _read_one(
    f: Path,
    report: IngestReport,
    out: ReadResult,
    limits: IngestSettings | None,
    known_files: Mapping[str, str] | None = None,
) -> None:
    result = _parse(f, report, limits)
    if result is None:
        return
    for paper in result.papers:
        _keep(out, paper, f)
    out.metadata.extend(
        (
            f,
            _read_attachment(f, record, report, out, limits, known_files)
            if record.files
            else record,
        )
        for record in result.metadata
    )


def _read_attachment(
    f: Path,
    record: MetadataRecord,
    report: IngestReport,
    out: ReadResult,
    limits: IngestSettings | None,
    known_files: Mapping[str, str] | None,
) -> MetadataRecord:
    """Read the first readable attached PDF of an entry (BibTeX ``file``, Zotero storage) as
    its paper; the entry comes back bound to that paper (``paper_id``), or unbound when no
    attachment could be read, to attach by DOI/title or stand on its own abstract.

    A missing file is reported in one line; a PDF already stored (same sha256) is not read again.
    """
    for raw in record.files:
        path = Path(raw).expanduser()
        path = path if path.is_absolute() else f.parent / path  # relative to the listing file
        if path.suffix.lower() not in ATTACHMENT_SUFFIXES:
            continue
        if not path.is_file():
            report.skipped.append(
                (
                    str(f),
                    f"{record.label}: attached file {raw} not found - "
                    "the entry's own metadata is used",
                )
            )
            continue
        try:
            file_hash = file_sha256(path)
        except OSError:
            file_hash = ""  # parse_file reports why
        if pid := (known_files or {}).get(file_hash):
            out.pdfs.setdefault(file_hash, path)
            if pid not in out.papers:
                out.known.setdefault(pid, path.name)
            report.files_read += 1
            return replace(record, paper_id=pid)
        result = _parse(path, report, limits)
        if result is not None and result.papers:
            _keep(out, result.papers[0], path)
            return replace(record, paper_id=result.papers[0].id)
    return record


def _parse(path: Path, report: IngestReport, limits: IngestSettings | None) -> ParseResult | None:
    """``path`` parsed, with its entries' problems reported; None (reported in one line)
    when the file cannot be read at all."""
    try:
        result = parse_file(path, limits=limits)
    except IngestError as exc:
        report.skipped.append((exc.path, exc.reason))
        return None
    report.files_read += 1
    for problem in result.problems:
        report.skipped.append((str(path), problem.split(": ", 1)[-1]))
    return result


def _keep(out: ReadResult, paper: Paper, path: Path) -> None:
    """Add ``paper`` (read from ``path``) to what was read, merged with an earlier listing
    of the same paper."""
    if paper.file_hash:  # a PDF
        out.pdfs.setdefault(paper.file_hash, path)
    seen = out.papers.get(paper.id)
    out.papers[paper.id] = paper if seen is None else merge_listings(seen, paper)


def read_papers(files: Sequence[Path], report: IngestReport) -> list[Paper]:
    """Parse files into papers, with metadata entries attached to papers of these files;
    an entry that matches none is reported (or, with title and abstract, becomes a paper)."""
    got = read_files(files, report)
    for f, record in attach_metadata(got.papers, got.metadata):
        add_unmatched(f, record, got.papers, report)
    return list(got.papers.values())

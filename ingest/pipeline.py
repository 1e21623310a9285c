"""Ingest: files -> papers -> chunks and sentence vectors -> the Chroma library.

Incremental and idempotent: a paper whose content hash is already stored is not
embedded again, and a PDF whose file hash is stored is not even read again; a changed paper is rewritten alone; papers are written in small batches
whose completion marker goes last, so an interrupted run is completed by the next.
A re-run on unchanged files and an unchanged embedded library is answered from a manifest
without reading a file or importing chromadb (`_Manifest`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.errors import IngestError
from assistant.injection import flag_paper, index_view
from assistant.embeddings import Embedder, get_embedder
from assistant.settings import IngestSettings, Settings, get_settings
from assistant.store import Library, PaperWrite
from assistant.types import Chunk, IngestReport, Paper, Sentence

from .chunking import Chunker, paper_sentences, sentence_spans_in_chunks
from .parsers import MetadataRecord, normalize_title, paper_id, parse_file, supported_suffixes
from .pdf import file_sha256
from .zotero import DATABASE as ZOTERO_DB

log = logging.getLogger(__name__)

# Papers written together, their completion markers last: an interruption loses at
# most the batches encoded but not yet written.
WRITE_BATCH_PAPERS = int(os.environ.get("PAPERLENS_INGEST_BATCH", "48"))
# Chunks encoded together (whole write batches, then written one by one): the encoder
# sorts them by length, so a wider window pads less. 8 encoder batches: 158k padded word
# pieces for the bundled library's 149k, against 177k when each batch of 48 papers was
# encoded alone, for at most ~500 chunks of work lost to an interruption.
ENCODE_WINDOW_BATCHES = 8


@dataclass(frozen=True)
class Progress:
    """A progress event: counts so far and totals."""

    papers_done: int
    papers_total: int
    chunks_done: int
    seconds: float


ProgressFn = Callable[[Progress], None]


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


# Metadata fields a metadata entry (BibTeX, JSON without abstract) may set on a paper.
META_FIELDS = ("authors", "year", "venue", "url", "arxiv_id", "doi", "tags", "collections")
# Attachments read as a paper's text (a reference manager's web snapshots are not papers).
ATTACHMENT_SUFFIXES = (".pdf",)


@dataclass
class ReadResult:
    """Papers read from files, metadata entries still to attach, and stored PDFs not re-read."""

    papers: dict[str, Paper] = field(default_factory=dict)
    metadata: list[tuple[Path, MetadataRecord]] = field(default_factory=list)
    known: dict[str, str] = field(default_factory=dict)  # paper id -> file name


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
                pid = known_files.get(file_sha256(f))
            except OSError:
                pid = None  # parse_file reports why
            if pid:
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
    f: Path, report: IngestReport, out: ReadResult, limits: IngestSettings | None,
    known_files: Mapping[str, str] | None = None,
) -> None:
    try:
        result = parse_file(f, limits=limits)
    except IngestError as exc:
        report.skipped.append((exc.path, exc.reason))
        return
    report.files_read += 1
    for problem in result.problems:
        report.skipped.append((str(f), problem.split(": ", 1)[-1]))
    for paper in result.papers:
        seen = out.papers.get(paper.id)
        out.papers[paper.id] = paper if seen is None else _merge(seen, paper)
    out.metadata.extend(
        (f, _read_attachment(f, record, report, out, limits, known_files) if record.files else record)
        for record in result.metadata
    )


def _read_attachment(
    f: Path, record: MetadataRecord, report: IngestReport, out: ReadResult,
    limits: IngestSettings | None, known_files: Mapping[str, str] | None,
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
            report.skipped.append((str(f), f"{record.label}: attached file {raw} not found - "
                                            "the entry's own metadata is used"))
            continue
        try:
            pid = (known_files or {}).get(file_sha256(path))
        except OSError:
            pid = None  # parse_file reports why
        if pid:
            if pid not in out.papers:
                out.known.setdefault(pid, path.name)
            report.files_read += 1
            return replace(record, paper_id=pid)
        try:
            result = parse_file(path, limits=limits)
        except IngestError as exc:
            report.skipped.append((exc.path, exc.reason))
            continue
        report.files_read += 1
        for problem in result.problems:
            report.skipped.append((str(path), problem.split(": ", 1)[-1]))
        if result.papers:
            paper = result.papers[0]
            seen = out.papers.get(paper.id)
            out.papers[paper.id] = paper if seen is None else _merge(seen, paper)
            return replace(record, paper_id=paper.id)
    return record


def read_papers(files: Sequence[Path], report: IngestReport) -> list[Paper]:
    """Parse files into papers, with metadata entries attached to papers of these files;
    an entry that matches none is reported (or, with title and abstract, becomes a paper)."""
    got = read_files(files, report)
    for f, record in attach_metadata(got.papers, got.metadata):
        _unmatched(f, record, got.papers, report)
    return list(got.papers.values())


def _merge(seen: Paper, paper: Paper) -> Paper:
    text, other = (paper, seen) if paper.sections and not seen.sections else (seen, paper)
    fill = {k: getattr(other, k) for k in (*META_FIELDS, "date") if not getattr(text, k) and getattr(other, k)}
    return replace(text, sources=tuple(dict.fromkeys(seen.sources + paper.sources)), **fill)


def _with_sources(paper: Paper, sources: Sequence[str]) -> Paper:
    return replace(paper, sources=tuple(dict.fromkeys(sources)))


def _doi_key(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    return value or None


def _arxiv_key(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower().removeprefix("arxiv:").strip()
    return value.rsplit("v", 1)[0] if value.rsplit("v", 1)[-1].isdigit() and "v" in value else value


def _keys(doi: str | None, arxiv: str | None, title: str) -> list[tuple[str, str]]:
    keys = []
    if d := _doi_key(doi):
        keys.append(("doi", d))
    if a := _arxiv_key(arxiv):
        keys.append(("arxiv", a))
    if title and normalize_title(title):
        keys.append(("id", paper_id(title)))
    return keys


def _matcher(papers: Iterable[Paper]) -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for p in papers:
        for key in _keys(p.doi, p.arxiv_id, p.title):
            index.setdefault(key, p.id)
    return index


def _match(index: Mapping[tuple[str, str], str], record: MetadataRecord) -> str | None:
    if record.paper_id and ("id", record.paper_id) in index:  # the paper its attachment became
        return index[("id", record.paper_id)]
    for key in _keys(record.doi, record.arxiv_id, record.title):
        if key in index:
            return index[key]
    return None


def attach_metadata(
    papers: dict[str, Paper], records: Sequence[tuple[Path, MetadataRecord]]
) -> list[tuple[Path, MetadataRecord]]:
    """Set each record's fields on the paper it matches (DOI, arXiv id, then title), in
    place; returns the records that matched none."""
    index = _matcher(papers.values())
    leftover = []
    for f, record in records:
        pid = _match(index, record)
        if pid is None:
            leftover.append((f, record))
        else:
            papers[pid] = _apply(papers[pid], record)
    return leftover


def _unmatched(f: Path, record: MetadataRecord, papers: dict[str, Paper], report: IngestReport) -> None:
    """A record no paper matched: a paper of its own if it has an abstract, else reported."""
    if record.title and record.abstract:
        pid = paper_id(record.title)
        if pid not in papers:
            papers[pid] = Paper(id=pid, title=record.title, abstract=record.abstract,
                                sources=(f.name,), **record.fields())
            return
    report.skipped.append((str(f), record.problem.split(": ", 1)[-1]))


def _apply(paper: Paper, record: MetadataRecord) -> Paper:
    """The paper with the record's metadata: its authors, year, venue and URL win; its
    identifiers (DOI, arXiv id) only fill in, as the paper's own are how it was matched."""
    fields = record.fields()
    for key in ("doi", "arxiv_id"):
        if getattr(paper, key):
            fields.pop(key, None)
    return replace(paper, **fields)


def _with_metadata(paper: Paper, fields: Mapping[str, Any], only_missing: bool) -> Paper:
    if only_missing:
        fields = {k: v for k, v in fields.items() if v and not getattr(paper, k)}
    return replace(paper, **fields)


@dataclass(frozen=True)
class _Plan:
    """A paper's chunks and sentences, and where its sentences fall in its chunks."""

    paper: Paper
    chunks: list[Chunk]
    sentences: list[Sentence]
    spans: list[list[tuple[int, int]]]  # per chunk, its sentences' spans in its text
    where: list[tuple[int, int]]  # per sentence, (chunk index, position in its spans)


def plan_papers(papers: Sequence[Paper], chunker: Chunker) -> list[_Plan]:
    plans = []
    for paper in papers:
        indexed = index_view(paper)  # flagged sentences blanked: not chunked, not evidence
        chunks = chunker.chunks(indexed)
        sentences = paper_sentences(indexed)
        spans, where = sentence_spans_in_chunks(chunks, sentences, len(chunker.title_prefix(paper)))
        plans.append(_Plan(paper, chunks, sentences, spans, where))
    return plans


def embed_plans(plans: Sequence[_Plan], embedder: Embedder) -> list[PaperWrite]:
    """Embed every chunk of the plans in one encoder call, pooling sentence vectors from
    the same pass."""
    import numpy as np

    texts = [ch.text for plan in plans for ch in plan.chunks]
    spans = [s for plan in plans for s in plan.spans]
    vectors, span_vectors = embedder.encode_with_spans(texts, spans)
    writes = []
    offset = 0
    for plan in plans:
        sent_vecs = np.asarray(
            [span_vectors[offset + ci][k] for ci, k in plan.where], dtype=np.float32
        ).reshape(len(plan.sentences), vectors.shape[1])
        n = len(plan.chunks)
        writes.append(PaperWrite(plan.paper, plan.chunks, vectors[offset : offset + n], plan.sentences, sent_vecs))
        offset += n
    return writes


def embed_papers(papers: Sequence[Paper], embedder: Embedder, chunker: Chunker) -> list[PaperWrite]:
    """Chunk papers and embed every chunk once, pooling sentence vectors from the same pass."""
    return embed_plans(plan_papers(papers, chunker), embedder)


def make_chunker(settings: Settings, embedder: Embedder) -> Chunker:
    return Chunker(
        embedder.count_tokens,
        embedder.tokenize,
        settings.chunking.chunk_size,
        settings.chunking.chunk_overlap,
        embedder.max_tokens,
    )


@dataclass(frozen=True)
class _Changes:
    """The writes an ingest run plans: papers to embed, sources and metadata to rewrite."""

    todo: list[Paper]
    sources: dict[str, tuple[str, ...]]
    metadata: list[Paper]

    def __bool__(self) -> bool:
        return bool(self.todo or self.sources or self.metadata)


def _plan(
    files: Sequence[Path], report: IngestReport, library: Library, limits: IngestSettings | None = None
) -> _Changes:
    """Read the files and compare them with the library; records outcomes in ``report``
    and writes nothing."""
    states = library.paper_states()
    known_files = {s.file_hash: pid for pid, s in states.items() if s.file_hash and s.complete}
    got = read_files(files, report, known_files, limits)
    leftover = attach_metadata(got.papers, got.metadata)

    # Metadata for papers already stored (not re-read in this run), and papers whose
    # text changed: the stored record supplies what the new listing leaves out.
    revisit = [pid for pid, p in got.papers.items()
               if pid in states and states[pid].content_hash != p.content_hash]
    stored = library.papers() if leftover else library.papers(revisit) if revisit else {}
    meta_updates: dict[str, Paper] = {}
    listed: set[str] = set()  # stored papers an entry with an abstract lists again
    index = _matcher(stored.values())
    for f, record in leftover:
        pid = _match(index, record)
        if pid is not None and pid not in got.papers:
            if record.abstract:
                listed.add(pid)
            base = meta_updates.get(pid, stored[pid])
            meta_updates[pid] = _apply(base, record)
        elif pid is not None:
            got.papers[pid] = _apply(got.papers[pid], record)
        else:
            _unmatched(f, record, got.papers, report)

    todo: list[Paper] = []
    source_updates: dict[str, tuple[str, ...]] = {}
    for pid, name in got.known.items():  # PDFs stored before: not even extracted
        report.unchanged.append(pid)
        merged = tuple(dict.fromkeys(states[pid].sources + (name,)))
        if merged != states[pid].sources:
            source_updates[pid] = merged
            report.sources_updated.append(pid)
    for paper in got.papers.values():
        paper = flag_paper(paper)  # text aimed at a model: kept, flagged, never evidence
        state = states.get(paper.id)
        if state and paper.id in stored:
            old = stored[paper.id]
            if state.file_hash and not paper.sections:
                # An abstract-only listing of a stored full-text paper adds metadata, not text.
                fields = {k: getattr(paper, k) for k in META_FIELDS}
                meta_updates[paper.id] = _with_metadata(meta_updates.get(paper.id, old), fields, True)
                paper = replace(old, sources=paper.sources)
                state = replace(state, content_hash=paper.content_hash)  # same: sources only
            else:
                fields = {k: getattr(old, k) for k in (*META_FIELDS, "date")}
                paper = _with_metadata(paper, fields, only_missing=True)
        if state and state.complete and state.content_hash == paper.content_hash:
            merged = tuple(dict.fromkeys(state.sources + paper.sources))
            if merged != state.sources:
                source_updates[paper.id] = merged
                report.sources_updated.append(paper.id)
            report.unchanged.append(paper.id)
            continue
        if state:
            paper = _with_sources(paper, state.sources + paper.sources)
            report.updated.append(paper.id)
        else:
            report.added.append(paper.id)
        todo.append(paper)
    changed = [p for pid, p in meta_updates.items()
               if pid in stored and [getattr(p, k) for k in META_FIELDS] != [getattr(stored[pid], k) for k in META_FIELDS]]
    report.metadata_updated.extend(p.id for p in changed)
    report.unchanged.extend(sorted(listed - set(report.metadata_updated) - set(report.unchanged)))
    return _Changes(todo, source_updates, changed)


def ingest(
    paths: Iterable[str | Path],
    settings: Settings | None = None,
    *,
    library: Library | None = None,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Add the papers in ``paths`` (files or folders) to the library.

    Example:
        >>> report = ingest(["data/papers"])        # doctest: +SKIP
        >>> report.summary()                         # doctest: +SKIP
        'added 467, updated 0, unchanged 0, skipped 0 (972 chunks embedded ...)'
    """
    t0 = time.perf_counter()
    settings = get_settings(settings)
    paths = list(paths)
    report = IngestReport()
    files = collect_files(paths, report)
    # Only a library this call opens itself is known to be the embedded one at the settings' path.
    manifest = _Manifest.open(paths, files, report.skipped, settings) if library is None else None
    if manifest is not None and (known := manifest.replay()) is not None:
        known.seconds = time.perf_counter() - t0
        log.info("files and library unchanged since %s: nothing read", manifest.path)
        return known
    # The INFO lines below name each phase (`paperlens -v ingest`); the kill-9 test keys on them.
    log.info("reading %d files", len(files))
    library = library or Library(settings)
    stamp = _store_stamp(settings) if manifest is not None else None
    changes = _plan(files, report, library, settings.ingest)
    library.update_sources(changes.sources)
    library.update_metadata(changes.metadata)
    todo = changes.todo

    if todo:
        if embedder is None:
            log.info("loading the embedding model")
            embedder = get_embedder(settings)
        chunker = make_chunker(settings, embedder)
        done = 0
        if progress:
            progress(Progress(0, len(todo), 0, time.perf_counter() - t0))
        window_chunks = ENCODE_WINDOW_BATCHES * embedder.batch_size
        window: list[list[_Plan]] = []
        for start in range(0, len(todo), WRITE_BATCH_PAPERS):
            window.append(plan_papers(todo[start : start + WRITE_BATCH_PAPERS], chunker))
            last = start + WRITE_BATCH_PAPERS >= len(todo)
            if not last and sum(len(p.chunks) for batch in window for p in batch) < window_chunks:
                continue
            plans = [p for batch in window for p in batch]
            log.info("embedding %d chunks of %d papers", sum(len(p.chunks) for p in plans), len(plans))
            writes = embed_plans(plans, embedder)
            for batch in window:
                part, writes = writes[: len(batch)], writes[len(batch) :]
                log.info("writing %d papers", len(part))
                library.write(part)
                done += len(part)
                log.info("wrote %d of %d papers", done, len(todo))
                report.chunks_embedded += sum(len(w.chunks) for w in part)
                if progress:
                    progress(Progress(done, len(todo), report.chunks_embedded, time.perf_counter() - t0))
            window = []
    if manifest is not None:
        log.info("recording the ingest manifest")
        _settle(manifest, files, report, changes, library, stamp)
    report.seconds = time.perf_counter() - t0
    return report


# -- the no-op fast path: a re-ingest of unchanged files into an unchanged embedded library
# reads no file and opens no Chroma client (`import chromadb` alone is ~1.2 s of a ~1.8 s
# no-op `paperlens ingest`). A manifest per index records what the last settled run saw:
# each file's stat, the collection's id and version (every write bumps it), and the report
# a run would give again. Anything that differs, or cannot be read, takes the normal path.
MANIFEST_FORMAT = 1
# A file changed this close to its stat may change again without its mtime or ctime
# moving (coarse filesystem clocks; FAT's 2 s): its content hash is recorded too.
_RACY_NS = 2_000_000_000


def _store_stamp(settings: Settings) -> tuple[str, int] | None:
    """The chunks collection's id and version, read from Chroma's SQLite file with the
    stdlib; None when they cannot be read for sure."""
    import sqlite3

    try:
        db = (settings.resolved_chroma_path / "chroma.sqlite3").resolve()
        con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            rows = con.execute(
                "SELECT c.id, m.int_value FROM collections c JOIN collection_metadata m "
                "ON m.collection_id = c.id AND m.key = 'version' WHERE c.name = ?",
                (f"{settings.index_name()}-chunks",),
            ).fetchall()
        finally:
            con.close()
    except Exception as exc:  # no file, another schema, locked: the normal path decides
        log.debug("cannot read the library version from SQLite: %s", exc)
        return None
    if len(rows) != 1 or not isinstance(rows[0][1], int):
        return None
    return str(rows[0][0]), rows[0][1]


def _code_stamp() -> list[list[Any]]:
    """Name, size and mtime of the ingest and assistant sources: an edited parser
    invalidates manifests even where PARSER_VERSION was not bumped."""
    import assistant

    out = []
    for folder in (Path(__file__).parent, Path(assistant.__file__).parent):
        for f in sorted(folder.glob("*.py")):
            st = f.stat()
            out.append([str(f), st.st_size, st.st_mtime_ns])
    return out


@dataclass
class _Manifest:
    """What this run sees of its inputs, and the manifest of the last settled run."""

    path: Path
    settings: Settings
    key: dict[str, Any]
    files: list[list[Any]]  # per file: resolved path, size, mtime_ns, ctime_ns, inode
    hashes: dict[int, str]  # content hashes of files changed just before their stat
    collected: list[tuple[str, str]]  # what collect_files reported

    @classmethod
    def open(
        cls, paths: Sequence[str | Path], files: Sequence[Path], skipped: Sequence[tuple[str, str]], settings: Settings
    ) -> _Manifest | None:
        if settings.chroma_host:  # a server's library can change without a file here changing
            return None
        if any(f.suffix.lower() in (".bib", ".sqlite") for f in files):
            return None  # their attached PDFs are not among the files whose stat it records
        try:
            racy_from = time.time_ns() - _RACY_NS
            stats, hashes = [], {}
            for i, f in enumerate(files):
                st = f.stat()
                stats.append([str(f.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
                if max(st.st_mtime_ns, st.st_ctime_ns) >= racy_from:
                    hashes[i] = file_sha256(f)
            key = {
                "index": settings.index_name(),
                "store": str((settings.resolved_chroma_path / "chroma.sqlite3").resolve()),
                "paths": [str(p) for p in paths],
                "resolved": [str(Path(p).expanduser().resolve()) for p in paths],
                "collected": [list(s) for s in skipped],
                "limits": settings.ingest.model_dump(),  # a raised limit reads skipped files
                "code": _code_stamp(),
            }
        except OSError as exc:  # a file vanished or is unreadable: the normal path reports it
            log.debug("no ingest manifest: %s", exc)
            return None
        name = f"ingest-{settings.index_name()}.json"
        return cls(settings.data_dir / "cache" / name, settings, json.loads(json.dumps(key)), stats, hashes, list(skipped))

    def replay(self) -> IngestReport | None:
        """The settled run's report when nothing it depends on changed, else None."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if saved.get("format") != MANIFEST_FORMAT or saved["key"] != self.key:
                return None
            if [entry[:5] for entry in saved["files"]] != self.files:
                return None
            for entry in saved["files"]:
                if entry[5] is not None and file_sha256(Path(entry[0])) != entry[5]:
                    return None
            if list(_store_stamp(self.settings) or ()) != saved["library"]:
                return None
            data = saved["report"]
            return IngestReport(**{**data, "skipped": [(str(p), str(r)) for p, r in data["skipped"]]})
        except Exception as exc:  # missing, partial or foreign manifest: the normal path
            log.debug("ingest manifest not used: %s", exc)
            return None

    def save(self, report: IngestReport, stamp: tuple[str, int]) -> None:
        data = {
            "format": MANIFEST_FORMAT,
            "key": self.key,
            "files": [[*entry, self.hashes.get(i)] for i, entry in enumerate(self.files)],
            "library": list(stamp),
            "report": {**report.to_dict(), "seconds": 0.0},
        }
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.path)  # readers see the old manifest or the new, never half
        except OSError as exc:  # a read-only data dir only costs the fast path
            log.warning("could not write the ingest manifest %s: %s", self.path, exc)
            tmp.unlink(missing_ok=True)


def _settle(
    manifest: _Manifest, files: Sequence[Path], report: IngestReport, changes: _Changes,
    library: Library, stamp: tuple[str, int] | None,
) -> None:
    """Record the report the next run of the same files would give, when it is certain.

    A run that wrote is planned once more (read-only): the manifest holds that plan's
    report, and only when it has nothing left to write. The library version must not move
    while the settled plan is made (another process writing), and must equal Chroma's own.
    """
    settled = report
    if changes:
        stamp = _store_stamp(manifest.settings)
        settled = IngestReport(skipped=list(manifest.collected))
        if _plan(files, settled, library, manifest.settings.ingest):
            log.info("a re-run would write again: no ingest manifest")
            return
    after = _store_stamp(manifest.settings)
    if stamp is None or after != stamp or after[1] != library.version():
        return
    manifest.save(settled, after)


def remove(
    paper_ids: Sequence[str] = (),
    *,
    sources: Sequence[str] = (),
    settings: Settings | None = None,
    library: Library | None = None,
) -> list[str]:
    """Delete papers by id, or every paper whose only sources are among ``sources``.

    Returns the ids removed. A paper also listed in another source only loses that source.
    """
    settings = get_settings(settings)
    library = library or Library(settings)
    targets = list(paper_ids)
    if sources:
        names = {Path(s).name for s in sources}
        updates = {}
        for pid, state in library.paper_states().items():
            kept = tuple(s for s in state.sources if s not in names)
            if kept == state.sources:
                continue
            if kept:
                updates[pid] = kept
            else:
                targets.append(pid)
        library.update_sources(updates)
    present = set(library.papers(targets)) if targets else set()
    if targets:
        library.remove(targets)
    return [pid for pid in dict.fromkeys(targets) if pid in present]


SUPPORTED = supported_suffixes()

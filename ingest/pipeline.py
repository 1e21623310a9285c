"""Ingest: files -> papers -> chunks and sentence vectors -> the Chroma library.

Incremental and idempotent: a paper whose content hash is already stored is not
embedded again, and a PDF whose file hash is stored is not even read again; a changed
paper is rewritten alone; papers are written in small batches whose completion marker
goes last, so an interrupted run is completed by the next. A re-run on unchanged files
and an unchanged embedded library is answered from a manifest without reading a file or
importing chromadb (`ingest.manifest`).

The steps live beside this module: `reading` (files -> papers), `metadata` (entries
matched to papers), `chunking`, and the embedder (`assistant.index.embeddings`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.core.settings import IngestSettings, Settings, get_settings
from assistant.core.types import META_FIELDS, Chunk, IngestReport, Paper, Sentence
from assistant.index.embeddings import Embedder, get_embedder
from assistant.store.library import Library, PaperState, PaperWrite
from assistant.store.pdf_files import PdfFiles
from assistant.text.injection import flag_paper, index_view

from .chunking import Chunker, paper_sentences, sentence_spans_in_chunks
from .manifest import Manifest, store_stamp
from .metadata import attach_metadata, attach_to_stored, changed_metadata, with_metadata
from .pdf_copies import drop_copies, keep_copies
from .reading import ReadResult, collect_files, read_files

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


@dataclass
class IngestTimings:
    """Where an ingest run's wall-clock seconds went, phase by phase (`ingest(timings=)`).

    ``embed_chunks`` is the model's forward pass (tokenizing and batching included) and
    ``embed_sentences`` the pooling of sentence vectors from its token vectors.
    """

    read: float = 0.0  # files -> papers, compared with the library
    chunk: float = 0.0  # papers -> chunks, sentences placed in them
    embed_chunks: float = 0.0
    embed_sentences: float = 0.0
    write: float = 0.0  # the Chroma writes: chunks, sentences, completion markers
    manifest: float = 0.0  # the settled re-plan and the manifest (no-op fast path)
    query_encoder: float = 0.0  # exporting the ONNX question encoder (first ingest only)

    def to_dict(self) -> dict[str, float]:
        """Seconds per phase, rounded to milliseconds."""
        return {k: round(v, 3) for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class _Plan:
    """A paper's chunks and sentences, and where its sentences fall in its chunks."""

    paper: Paper
    chunks: list[Chunk]
    sentences: list[Sentence]
    spans: list[list[tuple[int, int]]]  # per chunk, its sentences' spans in its text
    where: list[tuple[int, int]]  # per sentence, (chunk index, position in its spans)


def plan_papers(papers: Sequence[Paper], chunker: Chunker) -> list[_Plan]:
    """Chunk each paper and place its sentences in its chunks."""
    plans = []
    for paper in papers:
        indexed = index_view(paper)  # flagged sentences blanked: not chunked, not evidence
        chunks = chunker.chunks(indexed)
        sentences = paper_sentences(indexed)
        prefix = len(chunker.title_prefix(paper))
        spans, where = sentence_spans_in_chunks(chunks, sentences, prefix)
        plans.append(_Plan(paper, chunks, sentences, spans, where))
    return plans


def embed_plans(
    plans: Sequence[_Plan], embedder: Embedder, timings: IngestTimings | None = None
) -> list[PaperWrite]:
    """Embed every chunk of the plans in one encoder call, pooling sentence vectors from
    the same pass."""
    import numpy as np

    texts = [ch.text for plan in plans for ch in plan.chunks]
    spans = [s for plan in plans for s in plan.spans]
    seconds: dict[str, float] = {}
    vectors, span_vectors = embedder.encode_with_spans(texts, spans, seconds)
    t = time.perf_counter()
    writes = []
    offset = 0
    for plan in plans:
        sent_vecs = np.asarray(
            [span_vectors[offset + ci][k] for ci, k in plan.where], dtype=np.float32
        ).reshape(len(plan.sentences), vectors.shape[1])
        n = len(plan.chunks)
        chunk_vecs = vectors[offset : offset + n]
        writes.append(PaperWrite(plan.paper, plan.chunks, chunk_vecs, plan.sentences, sent_vecs))
        offset += n
    if timings is not None:
        timings.embed_chunks += seconds.get("forward", 0.0)
        timings.embed_sentences += seconds.get("pooling", 0.0) + time.perf_counter() - t
    return writes


def make_chunker(settings: Settings, embedder: Embedder) -> Chunker:
    """The chunker the settings and the embedder's tokenizer call for."""
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
    pdfs: dict[str, Path] = field(default_factory=dict)  # the PDFs read: sha256 -> file
    replaced: frozenset[str] = frozenset()  # stored file hashes ``todo`` rewrites away

    def __bool__(self) -> bool:
        return bool(self.todo or self.sources or self.metadata)


def _plan(
    files: Sequence[Path],
    report: IngestReport,
    library: Library,
    limits: IngestSettings | None = None,
) -> _Changes:
    """Read the files and compare them with the library; records outcomes in ``report``
    and writes nothing."""
    states = library.paper_states()
    known_files = {s.file_hash: pid for pid, s in states.items() if s.file_hash and s.complete}
    got = read_files(files, report, known_files, limits)
    leftover = attach_metadata(got.papers, got.metadata)

    # Metadata for papers already stored (not re-read in this run), and papers whose
    # text changed: the stored record supplies what the new listing leaves out.
    revisit = [
        pid
        for pid, p in got.papers.items()
        if pid in states and states[pid].content_hash != p.content_hash
    ]
    stored = library.papers() if leftover else library.papers(revisit) if revisit else {}
    meta_updates, listed = attach_to_stored(leftover, stored, got.papers, report)
    todo, source_updates = _compare(got, states, stored, meta_updates, report)
    changed = changed_metadata(meta_updates, stored)
    report.metadata_updated.extend(p.id for p in changed)
    report.unchanged.extend(sorted(listed - set(report.metadata_updated) - set(report.unchanged)))
    old = {h for p in todo if p.id in states and (h := states[p.id].file_hash)}
    replaced = frozenset(old - {p.file_hash for p in todo})  # their copies may go
    return _Changes(todo, source_updates, changed, got.pdfs, replaced)


def _compare(
    got: ReadResult,
    states: dict[str, PaperState],
    stored: dict[str, Paper],
    meta_updates: dict[str, Paper],
    report: IngestReport,
) -> tuple[list[Paper], dict[str, tuple[str, ...]]]:
    """The papers to embed (added or changed) and the stored papers with new sources;
    fills ``meta_updates`` for abstract-only listings of stored full-text papers."""
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
                base = meta_updates.get(paper.id, old)
                meta_updates[paper.id] = with_metadata(base, fields, only_missing=True)
                paper = replace(old, sources=paper.sources)
                state = replace(state, content_hash=paper.content_hash)  # same: sources only
            else:
                fields = {k: getattr(old, k) for k in (*META_FIELDS, "date")}
                paper = with_metadata(paper, fields, only_missing=True)
        if state and state.complete and state.content_hash == paper.content_hash:
            merged = tuple(dict.fromkeys(state.sources + paper.sources))
            if merged != state.sources:
                source_updates[paper.id] = merged
                report.sources_updated.append(paper.id)
            report.unchanged.append(paper.id)
            continue
        if state:
            paper = replace(paper, sources=tuple(dict.fromkeys(state.sources + paper.sources)))
            report.updated.append(paper.id)
        else:
            report.added.append(paper.id)
        todo.append(paper)
    return todo, source_updates


def ingest(
    paths: Iterable[str | Path],
    settings: Settings | None = None,
    *,
    library: Library | None = None,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
    timings: IngestTimings | None = None,
) -> IngestReport:
    """Add the papers in ``paths`` (files or folders) to the library.

    ``timings``, when given, is filled with the seconds each phase took. A run that
    embeds also exports the ONNX question encoder if it is missing (quietly), so the first
    question does not pay for it.

    Example:
        >>> report = ingest(["data/papers"])        # doctest: +SKIP
        >>> report.summary()                         # doctest: +SKIP
        'added 467, updated 0, unchanged 0, skipped 0 (972 chunks embedded ...)'
    """
    t0 = time.perf_counter()
    clock = timings if timings is not None else IngestTimings()
    settings = get_settings(settings)
    paths = list(paths)
    report = IngestReport()
    files = collect_files(paths, report)
    # Only a library this call opens itself is known to be the embedded one at the
    # settings' path.
    manifest = Manifest.open(paths, files, report.skipped, settings) if library is None else None
    if manifest is not None and (known := manifest.replay()) is not None:
        known.seconds = time.perf_counter() - t0
        log.info("files and library unchanged since %s: nothing read", manifest.path)
        return known
    _run(files, settings, report, manifest, library, embedder, progress, clock, t0)
    report.seconds = time.perf_counter() - t0
    log.debug("ingest phases (s): %s", clock.to_dict())
    return report


def _run(
    files: Sequence[Path],
    settings: Settings,
    report: IngestReport,
    manifest: Manifest | None,
    library: Library | None,
    embedder: Embedder | None,
    progress: ProgressFn | None,
    clock: IngestTimings,
    t0: float,
) -> None:
    """The normal path: plan against the library, write metadata, embed and write papers,
    prepare the question encoder, and record the manifest."""
    # The INFO lines below name each phase (`paperlens -v ingest`); the kill-9 test keys
    # on them.
    log.info("reading %d files", len(files))
    library = library or Library(settings)
    stamp = store_stamp(settings) if manifest is not None else None
    t = time.perf_counter()
    changes = _plan(files, report, library, settings.ingest)
    clock.read += time.perf_counter() - t
    t = time.perf_counter()
    library.update_sources(changes.sources)
    library.update_metadata(changes.metadata)
    clock.write += time.perf_counter() - t
    if changes.todo:
        if embedder is None:
            log.info("loading the embedding model")
            embedder = get_embedder(settings)
        _embed_and_write(changes.todo, settings, library, embedder, report, progress, t0, clock)
        log.info("preparing the question encoder")
        t = time.perf_counter()
        embedder.export_query_encoder()  # the model is loaded now; a question would load it
        clock.query_encoder += time.perf_counter() - t
    t = time.perf_counter()
    kept = keep_copies(changes.pdfs, changes.replaced, library, PdfFiles(settings))
    clock.write += time.perf_counter() - t
    if manifest is not None:
        log.info("recording the ingest manifest")
        t = time.perf_counter()
        _settle(manifest, files, report, changes, library, stamp, kept)
        clock.manifest += time.perf_counter() - t


def _embed_and_write(
    todo: Sequence[Paper],
    settings: Settings,
    library: Library,
    embedder: Embedder,
    report: IngestReport,
    progress: ProgressFn | None,
    t0: float,
    clock: IngestTimings,
) -> None:
    """Chunk, embed and write ``todo`` in windows of write batches (see the constants)."""
    chunker = make_chunker(settings, embedder)
    done = 0
    if progress:
        progress(Progress(0, len(todo), 0, time.perf_counter() - t0))
    window_chunks = ENCODE_WINDOW_BATCHES * embedder.batch_size
    window: list[list[_Plan]] = []
    for start in range(0, len(todo), WRITE_BATCH_PAPERS):
        t = time.perf_counter()
        window.append(plan_papers(todo[start : start + WRITE_BATCH_PAPERS], chunker))
        clock.chunk += time.perf_counter() - t
        last = start + WRITE_BATCH_PAPERS >= len(todo)
        if not last and sum(len(p.chunks) for batch in window for p in batch) < window_chunks:
            continue
        plans = [p for batch in window for p in batch]
        n_chunks = sum(len(p.chunks) for p in plans)
        log.info("embedding %d chunks of %d papers", n_chunks, len(plans))
        writes = embed_plans(plans, embedder, clock)
        for batch in window:
            part, writes = writes[: len(batch)], writes[len(batch) :]
            log.info("writing %d papers", len(part))
            t = time.perf_counter()
            library.write(part)
            clock.write += time.perf_counter() - t
            done += len(part)
            log.info("wrote %d of %d papers", done, len(todo))
            report.chunks_embedded += sum(len(w.chunks) for w in part)
            if progress:
                seconds = time.perf_counter() - t0
                progress(Progress(done, len(todo), report.chunks_embedded, seconds))
        window = []


def _settle(
    manifest: Manifest,
    files: Sequence[Path],
    report: IngestReport,
    changes: _Changes,
    library: Library,
    stamp: tuple[str, int] | None,
    kept: Sequence[str],
) -> None:
    """Record the report the next run of the same files would give, when it is certain.

    A run that wrote is planned once more (read-only): the manifest holds that plan's
    report, and only when it has nothing left to write. The library version must not move
    while the settled plan is made (another process writing), and must equal Chroma's own.
    """
    settled = report
    if changes:
        stamp = store_stamp(manifest.settings)
        settled = IngestReport(skipped=list(manifest.collected))
        if _plan(files, settled, library, manifest.settings.ingest):
            log.info("a re-run would write again: no ingest manifest")
            return
    after = store_stamp(manifest.settings)
    if stamp is None or after != stamp or after[1] != library.version():
        return
    manifest.save(settled, after, kept)


def remove(
    paper_ids: Sequence[str] = (),
    *,
    sources: Sequence[str] = (),
    settings: Settings | None = None,
    library: Library | None = None,
) -> list[str]:
    """Delete papers by id, or every paper whose only sources are among ``sources``.

    Returns the ids removed. A paper also listed in another source only loses that source.
    The library's copies of the removed papers' PDFs are deleted with them.
    """
    settings = get_settings(settings)
    library = library or Library(settings)
    targets = list(paper_ids)
    states = library.paper_states()
    if sources:
        names = {Path(s).name for s in sources}
        updates = {}
        for pid, state in states.items():
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
        drop_copies(states, set(targets), PdfFiles(settings))
    return [pid for pid in dict.fromkeys(targets) if pid in present]

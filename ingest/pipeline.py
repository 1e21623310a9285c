"""Ingest: files -> papers -> chunks and sentence vectors -> the Chroma library.

Incremental and idempotent: a paper whose content hash is already stored is not
embedded again; a changed paper is rewritten alone; papers are written in small batches
whose completion marker goes last, so an interrupted run is completed by the next.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import IngestError
from assistant.providers import Embedder, get_embedder
from assistant.settings import Settings, get_settings
from assistant.store import Library, PaperWrite
from assistant.types import IngestReport, Paper

from .chunking import Chunker, paper_sentences, sentence_spans_in_chunks
from .parsers import parse_file, supported_suffixes

log = logging.getLogger(__name__)

# Papers embedded and written together: small enough that an interruption loses
# little work, large enough to keep the encoder's batches full.
WRITE_BATCH_PAPERS = int(os.environ.get("PAPERLENS_INGEST_BATCH", "48"))


@dataclass(frozen=True)
class Progress:
    """A progress event: counts so far and totals."""

    papers_done: int
    papers_total: int
    chunks_done: int
    seconds: float


ProgressFn = Callable[[Progress], None]


def collect_files(paths: Iterable[str | Path], report: IngestReport) -> list[Path]:
    """Expand folders (recursively, sorted) into files; missing paths are reported."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if any(part.startswith(".") for part in f.relative_to(path).parts):
                    continue
                if f.is_file():
                    files.append(f)
                elif f.is_symlink() and not f.exists():  # reported, not silently dropped
                    report.skipped.append((str(f), "broken link (its target does not exist)"))
        elif path.is_file():
            files.append(path)
        else:
            report.skipped.append((str(path), "no such file or folder"))
    return files


def read_papers(files: Sequence[Path], report: IngestReport) -> list[Paper]:
    """Parse files and merge papers listed more than once (first text wins, all sources kept)."""
    merged: dict[str, Paper] = {}
    for f in files:
        try:
            result = parse_file(f)
        except IngestError as exc:
            report.skipped.append((exc.path, exc.reason))
            continue
        report.files_read += 1
        for problem in result.problems:
            report.skipped.append((str(f), problem.split(": ", 1)[-1]))
        for paper in result.papers:
            seen = merged.get(paper.id)
            if seen is None:
                merged[paper.id] = paper
            elif paper.sources[0] not in seen.sources:
                merged[paper.id] = _with_sources(seen, seen.sources + paper.sources)
    return list(merged.values())


def _with_sources(paper: Paper, sources: Sequence[str]) -> Paper:
    from dataclasses import replace

    return replace(paper, sources=tuple(dict.fromkeys(sources)))


def embed_papers(papers: Sequence[Paper], embedder: Embedder, chunker: Chunker) -> list[PaperWrite]:
    """Chunk papers and embed every chunk once, pooling sentence vectors from the same pass."""
    texts: list[str] = []
    spans: list[list[tuple[int, int]]] = []
    plans = []
    for paper in papers:
        chunks = chunker.chunks(paper)
        sentences = paper_sentences(paper)
        per_chunk, where = sentence_spans_in_chunks(chunks, sentences, len(chunker.title_prefix(paper)))
        plans.append((paper, chunks, sentences, where, len(texts)))
        texts.extend(ch.text for ch in chunks)
        spans.extend(per_chunk)
    vectors, span_vectors = embedder.encode_with_spans(texts, spans)
    writes = []
    import numpy as np

    for paper, chunks, sentences, where, offset in plans:
        sent_vecs = np.asarray(
            [span_vectors[offset + ci][k] for ci, k in where], dtype=np.float32
        ).reshape(len(sentences), vectors.shape[1])
        writes.append(PaperWrite(paper, chunks, vectors[offset : offset + len(chunks)], sentences, sent_vecs))
    return writes


def make_chunker(settings: Settings, embedder: Embedder) -> Chunker:
    return Chunker(
        embedder.count_tokens,
        embedder.tokenize,
        settings.chunking.chunk_size,
        settings.chunking.chunk_overlap,
        embedder.max_tokens,
    )


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
    report = IngestReport()
    files = collect_files(paths, report)
    papers = read_papers(files, report)
    library = library or Library(settings)
    states = library.paper_states()

    todo: list[Paper] = []
    source_updates: dict[str, tuple[str, ...]] = {}
    for paper in papers:
        state = states.get(paper.id)
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
    library.update_sources(source_updates)

    if todo:
        embedder = embedder or get_embedder(settings)
        chunker = make_chunker(settings, embedder)
        done = 0
        if progress:
            progress(Progress(0, len(todo), 0, time.perf_counter() - t0))
        for start in range(0, len(todo), WRITE_BATCH_PAPERS):
            batch = todo[start : start + WRITE_BATCH_PAPERS]
            writes = embed_papers(batch, embedder, chunker)
            library.write(writes)
            done += len(batch)
            report.chunks_embedded += sum(len(w.chunks) for w in writes)
            if progress:
                progress(Progress(done, len(todo), report.chunks_embedded, time.perf_counter() - t0))
    report.seconds = time.perf_counter() - t0
    return report


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

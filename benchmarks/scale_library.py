"""The synthetic libraries of the scale benchmark (benchmarks/scale.py): a corpus of real
abstract sentences with their stored vectors, papers shaped like ingested PDFs built from
it, and each size's library cached under ~/.cache/paperlens-bench/libraries, keyed by
everything that shapes it, since writing the large ones takes minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import bundled_papers, ensure_library, work_dir

CACHE = Path.home() / ".cache" / "paperlens-bench"
LIBRARY_CACHE = CACHE / "libraries"
CACHE_MIN_CHUNKS = 5_000  # the 1k tier writes about as fast as it copies
WRITE_PAPERS = 200  # papers per Library.write call (~2,000 chunks: one Chroma upsert)


# --- the corpus: real sentences, real vectors ----------------------------------------------
def corpus(out: Path | None) -> tuple[list[str], np.ndarray, list[str]]:
    """Abstract sentences of the bundled papers with their vectors, and the titles."""
    from assistant import Library
    from assistant.text.sentences import split_sentences

    papers = bundled_papers()
    titles = [p.title for p in papers]
    texts = [p.abstract[s:e] for p in papers for s, e in split_sentences(p.abstract)]
    key = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:12]
    cached = CACHE / f"sentences-{key}.npy"
    if cached.exists():
        return texts, np.load(cached), titles
    settings = ensure_library(work_dir(out, "library"))
    got = Library(settings).sentences.get(include=["documents", "embeddings"])
    by_text = dict(zip(got["documents"] or [], got["embeddings"], strict=True))
    if all(t in by_text for t in texts):
        vectors = np.asarray([by_text[t] for t in texts], dtype=np.float32)
        source = "stored by ingest"
    else:  # a different chunker or parser: encode them (slow: ~30 texts/s here)
        from assistant.index.embeddings import get_embedder

        vectors = get_embedder(settings).encode(texts)
        source = "encoded"
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cached, vectors)
    print(f"  corpus: {len(texts)} abstract sentences, vectors {source}, cached in {cached}")
    return texts, vectors, titles


def synthetic_papers(
    texts: list[str],
    vectors: np.ndarray,
    titles: list[str],
    start: int,
    n: int,
    chunks_per_paper: int,
    seed: int,
    prefix: str = "syn",
) -> list[Any]:
    """``n`` synthetic `PaperWrite` records (ids ``{prefix}{start}..``)."""
    from assistant import Paper
    from assistant.core.types import Chunk, Sentence
    from assistant.store.library import PaperWrite

    rng = np.random.default_rng(seed + start)
    out = []

    def mean_vec(idx: list[int]) -> np.ndarray:
        v = vectors[idx].mean(axis=0)
        return v / (np.linalg.norm(v) or 1.0)

    for i in range(start, start + n):
        pid = f"{prefix}{i:07d}"
        title = f"{titles[int(rng.integers(len(titles)))]} ({prefix} {i})"
        abs_idx = [int(x) for x in rng.integers(0, len(texts), int(rng.integers(4, 7)))]
        parts, sents, pos = [], [], 0
        for j, k in enumerate(abs_idx):
            parts.append(texts[k])
            sents.append(Sentence(pid, j, pos, pos + len(texts[k]), texts[k]))
            pos += len(texts[k]) + 1
        abstract = " ".join(parts)
        paper = Paper(id=pid, title=title, abstract=abstract, sources=("synthetic",))
        chunks: list[Chunk] = []
        cvecs: list[np.ndarray] = []
        j = 0
        while j < len(abs_idx):  # abstract chunks: consecutive runs of 2-4 sentences
            size = int(rng.integers(2, 5))
            group = list(range(j, min(j + size, len(abs_idx))))
            s0, s1 = sents[group[0]].start, sents[group[-1]].end
            chunks.append(Chunk(pid, len(chunks), f"{title}\n{abstract[s0:s1]}", s0, s1))
            cvecs.append(mean_vec([abs_idx[g] for g in group]))
            j += size
        while len(chunks) < chunks_per_paper:  # body chunks: 2-4 random corpus sentences
            idx = [int(x) for x in rng.integers(0, len(texts), int(rng.integers(2, 5)))]
            body = " ".join(texts[k] for k in idx)
            chunks.append(
                Chunk(
                    pid,
                    len(chunks),
                    f"{title}\nBody\n{body}",
                    0,
                    len(body),
                    section="Body",
                    page=1 + len(chunks) // 3,
                )
            )
            cvecs.append(mean_vec(idx))
        out.append(
            PaperWrite(paper, chunks, np.asarray(cvecs, dtype=np.float32), sents, vectors[abs_idx])
        )
    return out


def write_papers(library: Any, writes: list[Any]) -> None:
    for s in range(0, len(writes), WRITE_PAPERS):
        library.write(writes[s : s + WRITE_PAPERS])


def library_key(corpus_texts: list[str], history: list[int], args: argparse.Namespace) -> str:
    """What a tier's library depends on: the corpus, the sizes written before it (and the
    probes' updates), the generator, the store's write path, the Chroma version."""
    import chromadb

    from assistant import Library, Settings

    # The store's write path: the library, its Chroma connection and its record format -
    # every module of its package, so a module renamed or added there is never missed.
    store_dir = Path(inspect.getfile(Library)).parent
    store_code = [f.read_text() for f in sorted(store_dir.glob("*.py"))]
    parts = [
        "\n".join(corpus_texts),
        json.dumps(history),
        str(args.chunks_per_paper),
        str(args.update_papers),
        *(inspect.getsource(f) for f in (synthetic_papers, write_papers)),
        *store_code,
        chromadb.__version__,
        Settings().index_name(),
    ]
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:16]


def cached_library(key: str, root: Path = LIBRARY_CACHE) -> dict[str, Any] | None:
    """The manifest of a cached library under ``root`` (its write figures), if complete."""
    try:
        return dict(json.loads((root / key / "manifest.json").read_text()))
    except (OSError, ValueError):
        return None


def save_library(src: Path, key: str, manifest: dict[str, Any], root: Path = LIBRARY_CACHE) -> None:
    dest = root / key
    tmp = dest.with_name(dest.name + ".tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp / "chroma")
        # Written last: it marks the copy complete.
        (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        shutil.rmtree(dest, ignore_errors=True)
        tmp.replace(dest)
    except OSError as exc:  # a full disk costs the next run a rebuild, nothing more
        print(f"  could not cache the library: {exc}", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)

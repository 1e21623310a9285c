"""The scale benchmark's probe (benchmarks/scale.py): at each library size a fresh child
process opens the library and measures it, so memory figures do not mix:
- RSS (VmRSS) after imports, after opening the library, after `Retriever.refresh()` (BM25
  + in-memory vectors), and the peak (getrusage);
- `LexicalIndex.build` time over all chunks (and fetching their texts);
- `Retriever.retrieve` p50/p95 with a precomputed question vector and with the question
  encoded; `Assistant.ask` (extractive) p50/p95 over the same retriever; the app's RSS
  after them (``app_rss_mb``: the whole process, model included);
- an update: new papers written, then `refresh()` (only the changed papers re-read into
  BM25 and the in-memory vectors).

Run by `run_probe` as ``python -m benchmarks.scale_probe DATA_DIR RESULT ...``; with
``--chroma-port`` the library is read from a `chroma run` server on 127.0.0.1 at that port
(its caches still under DATA_DIR), as a lab's shared library would be.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import offline_env, peak_rss_mb, questions, rss_mb, stats_ms
from benchmarks.scale_library import corpus, synthetic_papers, write_papers


def run_probe(
    data_dir: Path,
    tmp: Path,
    size: int,
    args: argparse.Namespace,
    chroma_port: int | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """The probe of the library in ``data_dir`` (on the Chroma server at ``chroma_port``
    when given), run in a child process: its figures, or ``error`` (with where it
    happened) when the child failed."""
    result = tmp / f"probe-{size}.json"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.scale_probe",
        str(data_dir),
        str(result),
        "--questions",
        str(args.questions),
        "--update-papers",
        str(args.update_papers),
        "--chunks-per-paper",
        str(args.chunks_per_paper),
        *(["--chroma-port", str(chroma_port)] if chroma_port else []),
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:  # a finding, not a crash of the benchmark: report it
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        where = [ln.strip() for ln in lines if ln.strip().startswith("File ")]
        return {
            "error": lines[-1] if lines else f"exit {proc.returncode}",
            "error_at": where[-3:] if where else [],
            "stderr_tail": proc.stderr[-1500:],
        }
    out: dict[str, Any] = json.loads(result.read_text())
    return out


def probe(
    data_dir: Path,
    result: Path,
    n_questions: int,
    update_papers: int,
    chunks_per_paper: int,
    chroma_port: int | None = None,
) -> None:
    """The child's measurements of the library in ``data_dir``, written to ``result``."""
    offline_env()
    from assistant import Library, Settings
    from assistant.index.embeddings import get_embedder
    from assistant.retrieval.retriever import Retriever

    res: dict[str, Any] = {"rss_after_imports_mb": rss_mb()}
    settings = Settings(data_dir=data_dir)
    if chroma_port:
        settings = settings.model_copy(
            update={"chroma_host": "127.0.0.1", "chroma_port": chroma_port}
        )
    res["store"] = "chroma server" if chroma_port else "embedded"
    t = time.perf_counter()
    library = Library(settings)
    res["open_s"] = round(time.perf_counter() - t, 3)
    res["rss_after_open_mb"] = rss_mb()
    embedder = get_embedder(settings)
    embedder.model  # noqa: B018 - the model's memory is not the library's
    res["rss_after_model_mb"] = rss_mb()
    retriever = Retriever(settings, library, embedder)
    stats = library.stats()
    res.update(papers=stats.papers, chunks=stats.chunks, sentences=stats.sentences)
    res.update(_probe_load(library, retriever))
    res["library_rss_mb"] = round(res["rss_after_refresh_mb"] - res["rss_after_model_mb"], 1)
    res.update(_probe_retrieve(retriever, embedder, n_questions))
    res["ask_extractive_ms"] = _probe_ask(settings, retriever, n_questions)
    res["app_rss_mb"] = rss_mb()  # the whole process once it has answered: what an app holds
    res.update(
        _probe_update(library, retriever, settings, res["papers"], update_papers, chunks_per_paper)
    )
    res["peak_rss_mb"] = peak_rss_mb()
    result.write_text(json.dumps(res, indent=2), encoding="utf-8")


def _probe_load(library: Any, retriever: Any) -> dict[str, Any]:
    """BM25 built by hand (timed) and saved where refresh() looks, then the refresh that
    loads it and the vectors."""
    from assistant.index.lexical import LexicalIndex

    res: dict[str, Any] = {}
    collection, version = library.identity()
    t = time.perf_counter()
    ids, texts, metas = library.chunk_records()
    res["fetch_chunk_texts_s"] = round(time.perf_counter() - t, 2)
    rss_before_bm25 = rss_mb()
    t = time.perf_counter()
    index = LexicalIndex.build(version, ids, texts, metas)
    res["bm25_build_s"] = round(time.perf_counter() - t, 2)
    del ids, texts, metas
    cache = retriever.snapshots.cache_path(collection, version)
    index.save(cache)
    res["bm25_cache_mb"] = round(cache.stat().st_size / 1024 / 1024, 2)
    del index
    res["rss_before_refresh_mb"] = rss_mb()
    t = time.perf_counter()
    retriever.refresh()
    res["refresh_load_s"] = round(time.perf_counter() - t, 2)  # BM25 from cache + vectors
    res["rss_after_refresh_mb"] = rss_mb()
    res["in_memory_vectors"] = retriever.refresh().vectors is not None
    res["bm25_build_transient_mb"] = round(res["rss_before_refresh_mb"] - rss_before_bm25, 1)
    return res


def _probe_retrieve(retriever: Any, embedder: Any, n_questions: int) -> dict[str, Any]:
    """`Retriever.retrieve` timed with the question vector given and with it encoded."""
    qs = questions()[:n_questions]
    qvecs = [embedder.encode_query(q) for q in qs]
    retriever.retrieve(qs[0], query_vector=qvecs[0])
    vec_s, enc_s = [], []
    for q, v in zip(qs, qvecs, strict=True):
        t = time.perf_counter()
        retriever.retrieve(q, query_vector=v)
        vec_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        retriever.retrieve(q)
        enc_s.append(time.perf_counter() - t)
    return {"retrieve_vector_given_ms": stats_ms(vec_s), "retrieve_encoded_ms": stats_ms(enc_s)}


def _probe_ask(settings: Any, retriever: Any, n_questions: int) -> dict[str, float]:
    """`Assistant.ask` (extractive) timed over the loaded retriever, a new conversation each."""
    from assistant import Assistant

    qs = questions()[:n_questions]
    bot = Assistant(settings, retriever=retriever)
    bot.ask(qs[0], mode="extractive")
    samples = []
    for q in qs:
        bot.reset()
        t = time.perf_counter()
        bot.ask(q, mode="extractive")
        samples.append(time.perf_counter() - t)
    return stats_ms(samples)


def _probe_update(
    library: Any,
    retriever: Any,
    settings: Any,
    papers: int,
    update_papers: int,
    chunks_per_paper: int,
) -> dict[str, Any]:
    """An update: a few new papers, then the next question pays for the refresh."""
    res: dict[str, Any] = {}
    texts_c, vectors_c, titles_c = corpus(None)  # from the cache the parent wrote
    writes = synthetic_papers(
        texts_c, vectors_c, titles_c, papers, update_papers, chunks_per_paper, seed=7, prefix="upd"
    )
    t = time.perf_counter()
    write_papers(library, writes)
    res["update_write_s"] = round(time.perf_counter() - t, 2)
    time.sleep(settings.retrieval.version_check_seconds)  # so refresh() asks the store again
    t = time.perf_counter()
    retriever.refresh()
    res["update_refresh_s"] = round(time.perf_counter() - t, 2)
    res["update_papers"] = update_papers
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", type=Path, help="the library's data folder")
    ap.add_argument("result", type=Path, help="where the figures are written (JSON)")
    ap.add_argument("--questions", type=int, required=True)
    ap.add_argument("--update-papers", type=int, required=True)
    ap.add_argument("--chunks-per-paper", type=int, required=True)
    ap.add_argument("--chroma-port", type=int, default=None, help="a `chroma run` on 127.0.0.1")
    args = ap.parse_args(argv)
    probe(
        args.data_dir,
        args.result,
        args.questions,
        args.update_papers,
        args.chunks_per_paper,
        args.chroma_port,
    )


if __name__ == "__main__":
    main()

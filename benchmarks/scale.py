"""How retrieval, the BM25 index, memory and disk grow with the library: 1k -> 10k -> 100k chunks.

Embedding 100k real chunks takes hours on 2 cores, so the libraries are synthetic but
built from real vectors: the bundled papers' abstract sentences, with the vectors our
ingest stored for them (read from the bundled library, or encoded once and cached
under ~/.cache/paperlens-bench). A synthetic paper is shaped like an ingested PDF:
an abstract of 4-6 corpus sentences (abstract chunks of 2-4 sentences, and one sentence
record each) plus body chunks of 2-4 random corpus sentences; a chunk's vector is the
normalised mean of its sentences' vectors. Papers are written with
`assistant.store.Library.write(PaperWrite(...))`, so the real store code is exercised.

The library grows in place (1k, then 9k more, ...); at each size a fresh child process
measures, so memory figures do not mix:
- RSS (VmRSS) after imports, after opening the library, after `Retriever.refresh()` (BM25
  + in-memory vectors), and the peak (getrusage);
- `LexicalIndex.build` time over all chunks (and fetching their texts);
- `Retriever.retrieve` p50/p95 with a precomputed question vector and with the question
  encoded;
- an update: 100 new papers written, then `refresh()` (only the changed papers re-read
  into BM25 and the in-memory vectors);
and the parent records the write time and the on-disk size of the Chroma folder.

Writing is the slow part (Chroma's HNSW inserts: ~350 records/s here, ~7 min for the
100k tier), so a tier's library is kept under ~/.cache/paperlens-bench/libraries, keyed
by everything that shapes it (corpus, sizes so far, generator and store code, Chroma
version): a later run copies it in seconds and reports the write figures measured when it
was built (``library_from_cache``). A clean machine builds it; when the largest size does
not fit the budget there, the next size down is measured (see ``notes``).

Usage: python -m benchmarks.scale --out artifacts/bench [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    Run,
    bundled_papers,
    dir_size_mb,
    ensure_library,
    offline_env,
    peak_rss_mb,
    questions,
    ratio,
    rss_mb,
    stats_ms,
    target,
    work_dir,
)

CACHE = Path.home() / ".cache" / "paperlens-bench"
LIBRARY_CACHE = CACHE / "libraries"
CACHE_MIN_CHUNKS = 5_000  # the 1k tier writes about as fast as it copies
WRITE_PAPERS = 200  # papers per Library.write call (~2,000 chunks: one Chroma upsert)


# --- the corpus: real sentences, real vectors ----------------------------------------------
def corpus(out: Path | None) -> tuple[list[str], np.ndarray, list[str]]:
    """Abstract sentences of the bundled papers with their vectors, and the titles."""
    from assistant import Library, split_sentences

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
        from assistant import get_embedder

        vectors = get_embedder(settings).encode(texts)
        source = "encoded"
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cached, vectors)
    print(f"  corpus: {len(texts)} abstract sentences, vectors {source}, cached in {cached}")
    return texts, vectors, titles


def synthetic_papers(texts: list[str], vectors: np.ndarray, titles: list[str], start: int, n: int,
                     chunks_per_paper: int, seed: int, prefix: str = "syn") -> list[Any]:
    """``n`` synthetic `PaperWrite` records (ids ``{prefix}{start}..``)."""
    from assistant import Chunk, Paper, PaperWrite, Sentence

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
            chunks.append(Chunk(pid, len(chunks), f"{title}\nBody\n{body}", 0, len(body),
                                section="Body", page=1 + len(chunks) // 3))
            cvecs.append(mean_vec(idx))
        out.append(PaperWrite(paper, chunks, np.asarray(cvecs, dtype=np.float32), sents,
                              vectors[abs_idx]))
    return out


def write_papers(library: Any, writes: list[Any]) -> None:
    for s in range(0, len(writes), WRITE_PAPERS):
        library.write(writes[s : s + WRITE_PAPERS])


def library_key(corpus_texts: list[str], history: list[int], args: argparse.Namespace) -> str:
    """What a tier's library depends on: the corpus, the sizes written before it (and the
    probes' updates), the generator, the store's write path, the Chroma version."""
    import chromadb

    from assistant import Library, Settings

    # The store's write path: the library, its Chroma connection and its record format.
    store_dir = Path(inspect.getfile(Library)).parent
    store_code = [(store_dir / f"{m}.py").read_text() for m in ("store", "chroma", "store_records")]
    parts = [
        "\n".join(corpus_texts), json.dumps(history), str(args.chunks_per_paper),
        str(args.update_papers), *(inspect.getsource(f) for f in (synthetic_papers, write_papers)),
        *store_code, chromadb.__version__, Settings().index_name(),
    ]
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:16]


def cached_library(key: str) -> dict[str, Any] | None:
    """The manifest of a cached library (its write figures), if it is complete."""
    try:
        return dict(json.loads((LIBRARY_CACHE / key / "manifest.json").read_text()))
    except (OSError, ValueError):
        return None


def save_library(src: Path, key: str, manifest: dict[str, Any]) -> None:
    dest = LIBRARY_CACHE / key
    tmp = dest.with_name(dest.name + ".tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp / "chroma")
        (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")  # last: marks it complete
        shutil.rmtree(dest, ignore_errors=True)
        tmp.replace(dest)
    except OSError as exc:  # a full disk costs the next run a rebuild, nothing more
        print(f"  could not cache the library: {exc}", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)


# --- the child: one fresh process per size ---------------------------------------------------
def probe(data_dir: Path, result: Path, n_questions: int, update_papers: int, chunks_per_paper: int) -> None:
    offline_env()
    from assistant import Library, Retriever, Settings, get_embedder
    from assistant.lexical import LexicalIndex

    res: dict[str, Any] = {"rss_after_imports_mb": rss_mb()}
    settings = Settings(data_dir=data_dir)
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

    # BM25 built by hand (timed), saved where refresh() looks, so it is built once.
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
    res["library_rss_mb"] = round(res["rss_after_refresh_mb"] - res["rss_after_model_mb"], 1)
    res["bm25_build_transient_mb"] = round(res["rss_before_refresh_mb"] - rss_before_bm25, 1)

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
    res["retrieve_vector_given_ms"] = stats_ms(vec_s)
    res["retrieve_encoded_ms"] = stats_ms(enc_s)

    # An update: a few new papers, then the next question pays for the refresh.
    texts_c, vectors_c, titles_c = corpus(None)  # from the cache the parent wrote
    writes = synthetic_papers(texts_c, vectors_c, titles_c, res["papers"], update_papers,
                              chunks_per_paper, seed=7, prefix="upd")
    t = time.perf_counter()
    write_papers(library, writes)
    res["update_write_s"] = round(time.perf_counter() - t, 2)
    time.sleep(settings.retrieval.version_check_seconds)  # so refresh() asks the store again
    t = time.perf_counter()
    retriever.refresh()
    res["update_refresh_s"] = round(time.perf_counter() - t, 2)
    res["update_papers"] = update_papers
    res["peak_rss_mb"] = peak_rss_mb()
    result.write_text(json.dumps(res, indent=2), encoding="utf-8")


def run_probe(data_dir: Path, tmp: Path, size: int, args: argparse.Namespace) -> dict[str, Any]:
    result = tmp / f"probe-{size}.json"
    cmd = [sys.executable, "-m", "benchmarks.scale", "--probe", str(data_dir), "--result", str(result),
           "--questions", str(args.questions), "--update-papers", str(args.update_papers),
           "--chunks-per-paper", str(args.chunks_per_paper)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:  # a finding, not a crash of the benchmark: report it
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        where = [ln.strip() for ln in lines if ln.strip().startswith("File ")]
        return {"error": lines[-1] if lines else f"exit {proc.returncode}",
                "error_at": where[-3:] if where else [], "stderr_tail": proc.stderr[-1500:]}
    out: dict[str, Any] = json.loads(result.read_text())
    return out


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--sizes", default="1000,10000,100000", help="library sizes in chunks")
    ap.add_argument("--chunks-per-paper", type=int, default=10)
    ap.add_argument("--questions", type=int, default=40, help="questions timed per size")
    ap.add_argument("--update-papers", type=int, default=100)
    ap.add_argument("--budget-s", type=float, default=480,
                    help="if writing the largest size would overrun this, write half of it")
    ap.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe:
        probe(args.probe, args.result, args.questions, args.update_papers, args.chunks_per_paper)
        return None
    offline_env()
    run = Run("scale", args.out)
    t_start = time.perf_counter()
    from chromadb.api.client import SharedSystemClient

    from assistant import Library, Settings

    texts, vectors, titles = corpus(args.out)
    sizes = [int(s) for s in args.sizes.split(",")]
    data_dir = work_dir(args.out, "scale")
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    tiers: list[dict[str, Any]] = []
    history: list[int] = []  # sizes built so far: part of each tier's cache key
    written = 0  # synthetic papers written by this process
    current = 0  # chunks in the library
    notes: list[str] = []
    for size in sizes:
        if tiers:  # will this size fit the budget, at the write and probe times seen so far?
            last = tiers[-1]
            left = args.budget_s - (time.perf_counter() - t_start)

            def eta(n: int, last: dict[str, Any] = last, current: int = current) -> float:
                if cached_library(library_key(texts, [*history, n], args)) is not None:
                    write = 0.1 * n / 1000  # a copy: ~10 s per 100k chunks
                else:  # a chunk costs more to insert the larger the library: ~sqrt(size) here
                    per_chunk = last["write_s"] / max(last["new_chunks"], 1)
                    grown = ((current + n) / 2) / max(last["chunks"] - last["new_chunks"] / 2, 1)
                    write = per_chunk * max(n - current, 0) * max(grown, 1.0) ** 0.5
                # The probe is mostly fixed cost (process, model, 80 questions); the reads,
                # BM25 build and refreshes grow with the library.
                grows = sum(last[k] for k in ("fetch_chunk_texts_s", "bm25_build_s", "refresh_load_s",
                                              "update_refresh_s"))
                probe = last["tier_s"] - last["tier_write_s"] - grows + grows * n / last["chunks"]
                return 1.2 * (write + probe)

            asked = size
            while size > 2 * last["chunks"] and eta(size) > left:
                size //= 2
            if eta(size) > left:
                notes.append(f"{asked} chunks skipped: ~{eta(size):.0f}s needed even for {size}, "
                             f"{left:.0f}s left of the budget")
                print("  " + notes[-1], flush=True)
                break
            if size != asked:
                notes.append(f"{asked} chunks would take ~{eta(asked):.0f}s (budget left {left:.0f}s): "
                             f"measured {size} instead")
                print("  " + notes[-1], flush=True)
        t_tier = time.perf_counter()
        # The probes' update papers stay in the library: count them towards the size.
        want = written + max(0, size - current) // args.chunks_per_paper
        history.append(size)
        key = library_key(texts, history, args)
        manifest = cached_library(key) if size >= CACHE_MIN_CHUNKS else None
        chroma_dir = data_dir / "lib" / "chroma"
        t = time.perf_counter()
        if manifest is not None:  # the same library, built by an earlier run
            shutil.rmtree(chroma_dir, ignore_errors=True)
            shutil.copytree(LIBRARY_CACHE / key / "chroma", chroma_dir)
            for old in (data_dir / "lib" / "cache").glob("bm25-*.pkl"):  # of the state replaced
                old.unlink()
            tier_write_s = time.perf_counter() - t
            write_s = float(manifest["write_s"])
            print(f"  {size} chunks: library copied from {LIBRARY_CACHE / key} in {tier_write_s:.1f}s "
                  f"(written in {write_s:.1f}s when cached)", flush=True)
        else:
            # Embedded Chroma is one process's at a time: the parent closes it before each probe.
            library = Library(Settings(data_dir=data_dir / "lib"))
            for s in range(written, want, 1000):
                n = min(1000, want - s)
                write_papers(library, synthetic_papers(texts, vectors, titles, s, n, args.chunks_per_paper, seed=1))
            write_s = tier_write_s = time.perf_counter() - t
            del library
            SharedSystemClient.clear_system_cache()
            gc.collect()
            if size >= CACHE_MIN_CHUNKS:
                save_library(chroma_dir, key, {"write_s": round(write_s, 1), "papers": want, "history": history})
        written = want
        prev_total = tiers[-1]["write_total_s"] if tiers else 0.0
        probe_res = run_probe(data_dir / "lib", data_dir, size, args)
        if "error" in probe_res:
            failure = {"target_chunks": size, "write_s": round(write_s, 1),
                       "chroma_mb": dir_size_mb(data_dir / "lib" / "chroma"), **probe_res}
            notes.append(f"at ~{size} chunks the library could not be loaded: {probe_res['error']}")
            print("  FAILED " + notes[-1] + f" ({'; '.join(probe_res['error_at'])})", flush=True)
            run["failure"] = failure
            break
        tier = {"target_chunks": size, "write_s": round(write_s, 1), "tier_write_s": round(tier_write_s, 1),
                "library_from_cache": manifest is not None,
                "new_chunks": max(size - current, 0),
                "tier_s": round(time.perf_counter() - t_tier, 1),
                "write_total_s": round(prev_total + write_s, 1),
                "chroma_mb": dir_size_mb(data_dir / "lib" / "chroma"), **probe_res}
        before = (tiers[-1]["chunks"] + tiers[-1]["sentences"]) if tiers else 0
        tier["write_records_per_s"] = round((probe_res["chunks"] + probe_res["sentences"] - before) / write_s, 1)
        tiers.append(tier)
        current = probe_res["chunks"] + args.update_papers * args.chunks_per_paper
        print(f"  {probe_res['chunks']:>7} chunks ({probe_res['papers']} papers, {probe_res['sentences']} sentences): "
              f"written in {write_s:.1f}s; retrieve p50/p95 {probe_res['retrieve_vector_given_ms']['p50']}/"
              f"{probe_res['retrieve_vector_given_ms']['p95']} ms (vector given), "
              f"{probe_res['retrieve_encoded_ms']['p50']}/{probe_res['retrieve_encoded_ms']['p95']} ms (encoded); "
              f"BM25 build {probe_res['bm25_build_s']}s; refresh {probe_res['refresh_load_s']}s; "
              f"update {probe_res['update_write_s']}+{probe_res['update_refresh_s']}s; "
              f"library RSS {probe_res['library_rss_mb']} MB, peak {probe_res['peak_rss_mb']} MB; "
              f"chroma {tier['chroma_mb']} MB", flush=True)
    run["chunks_per_paper"] = args.chunks_per_paper
    run["tiers"] = tiers
    run["notes"] = notes
    growth: list[dict[str, Any]] = []
    for a, b in zip(tiers, tiers[1:], strict=False):
        growth.append({
            "from_to": f"{a['chunks']}->{b['chunks']}",
            "data": ratio(b["chunks"] + b["sentences"], a["chunks"] + a["sentences"], 1),
            "retrieve_p50": ratio(b["retrieve_vector_given_ms"]["p50"], a["retrieve_vector_given_ms"]["p50"], 1),
            "retrieve_p95": ratio(b["retrieve_vector_given_ms"]["p95"], a["retrieve_vector_given_ms"]["p95"], 1),
            "bm25_build": ratio(b["bm25_build_s"], a["bm25_build_s"], 1),
            "update_refresh": ratio(b["update_refresh_s"], a["update_refresh_s"], 1),
            "library_rss": ratio(b["library_rss_mb"], a["library_rss_mb"], 1),
            "chroma_disk": ratio(b["chroma_mb"], a["chroma_mb"], 1),
        })
    run["growth"] = growth
    for g in growth:
        print(f"  growth {g['from_to']}: data x{g['data']}, retrieve p50 x{g['retrieve_p50']}, "
              f"p95 x{g['retrieve_p95']}, BM25 build x{g['bm25_build']}, update x{g['update_refresh']}, "
              f"library RSS x{g['library_rss']}, disk x{g['chroma_disk']}")
    big: dict[str, Any] = tiers[-1] if tiers else {"chunks": 0, "retrieve_encoded_ms": {"p95": None}}
    if "failure" in run.data:  # the target is about the largest size asked for
        big = {**big, "chunks": run["failure"]["target_chunks"],
               "retrieve_encoded_ms": {"p95": None}}
    mem_ok = all(g["library_rss"] is not None and g["data"] is not None and g["library_rss"] <= g["data"] * 1.1
                 for g in growth)
    run["targets"] = {
        f"retrieve_p95_ms_at_{big['chunks']}_chunks": {
            **target(big["retrieve_encoded_ms"]["p95"], "<", 100),
            **({"met": False, "value": "failed: " + run["failure"]["error"][:80]} if "failure" in run.data else {})},
        "memory_grows_no_faster_than_data": {"value": [g["library_rss"] for g in growth],
                                             "target": "<= data growth", "met": mem_ok},
    }
    return run.finish()


if __name__ == "__main__":
    main()

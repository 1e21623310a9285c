"""Ingest throughput of the bundled library, from empty, against two references.

In one process, on the same chunk texts:
- ``paperlens``: `ingest.ingest` into a fresh data dir (parse, chunk, embed with
  late-chunked sentence vectors, write to embedded Chroma), with the seconds of each phase
  (`ingest.IngestTimings`: read, chunk, embed chunks, embed sentences, write, manifest);
- ``raw encode``: `SentenceTransformer.encode` of exactly our chunk texts at our batch
  size - the practical ceiling of any ingest with this model (``--reference-papers N``:
  the chunks of an even sample of N papers, to save time on a slow machine);
- ``llama-index``: plain `VectorStoreIndex.from_documents` (default node parser,
  `HuggingFaceEmbedding` with its default batch size) into a `ChromaVectorStore`.
Then the re-ingest of the unchanged library, in-process and as `paperlens ingest`.

The three do not embed the same amount of text, so each reports its word pieces: real
ones, and padded (what the model actually runs; batches pad to their longest text).
`SentenceTransformer.encode` orders texts by characters, ours by word pieces, so ours
pads less; plain llama-index keeps each abstract whole and the model truncates it at
256 word pieces, so it embeds less text than we do (we embed all of it).

Models are loaded (and warmed with one small batch) before any timing: model load is
not ingest throughput; it is reported on its own, as is the one-time export of the ONNX
question encoder (which a first ingest does once it has loaded the model). CPU seconds
(all threads of this process) are reported next to wall seconds: on a shared machine the
CPU-time ratio is the steadier of the two.

Usage: python -m benchmarks.ingest_throughput --out artifacts/bench
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    MODEL,
    PAPERS,
    Run,
    bundled_papers,
    clean_env,
    offline_env,
    ratio,
    target,
    work_dir,
)


class Clock:
    """Wall and process-CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0


def paperlens_cli() -> list[str]:
    exe = Path(sys.executable).parent / "paperlens"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "paperlens"]


def word_pieces(texts: list[str], emb: Any, batch_size: int = 0) -> tuple[int, int]:
    """(real, padded) word pieces the model runs on ``texts``, special tokens included,
    truncated at its maximum; padded as `SentenceTransformer.encode` batches them (by
    character length) when ``batch_size`` is given."""
    lengths = [min(emb.count_tokens(t) + 2, emb.max_tokens) for t in texts]
    if not batch_size:
        return sum(lengths), sum(lengths)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    padded = sum(
        max(lengths[i] for i in order[s : s + batch_size]) * len(order[s : s + batch_size])
        for s in range(0, len(order), batch_size)
    )
    return sum(lengths), padded


def llama_index_ingest(
    papers: list[Any], chroma_dir: Path, embed: Any, chunk_size: int | None = None
) -> tuple[Clock, int, list[str]]:
    """Plain `VectorStoreIndex.from_documents` into Chroma; ``chunk_size`` sets its
    SentenceSplitter (default 1024 tokens: one node per abstract, cut by the model at 256)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    docs = [
        Document(
            text=f"{p.title}\n\n{p.abstract}",
            metadata={"paper_id": p.id},
            excluded_embed_metadata_keys=["paper_id"],
            excluded_llm_metadata_keys=["paper_id"],
        )
        for p in papers
    ]
    with Clock() as clock:
        client = chromadb.PersistentClient(
            path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False)
        )
        coll = client.get_or_create_collection("llamaindex-bench")
        store = ChromaVectorStore(chroma_collection=coll)
        ctx = StorageContext.from_defaults(vector_store=store)
        kw: dict[str, Any] = {}
        if chunk_size is not None:
            from llama_index.core.node_parser import SentenceSplitter

            kw["transformations"] = [SentenceSplitter(chunk_size=chunk_size, chunk_overlap=20)]
        VectorStoreIndex.from_documents(docs, storage_context=ctx, embed_model=embed, **kw)
    return clock, coll.count(), list(coll.get(include=["documents"])["documents"] or [])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="write ingest_throughput.json here")
    ap.add_argument("--skip-llama-index", action="store_true")
    ap.add_argument(
        "--reference-papers",
        type=int,
        default=0,
        help="run the raw-encode reference on the chunks of an even sample of this "
        "many papers (chunks/s are compared; default: all papers)",
    )
    args = ap.parse_args(argv)
    offline_env()
    run = Run("ingest_throughput", args.out)

    from assistant import Settings

    lib_dir = work_dir(args.out, "library")
    shutil.rmtree(lib_dir, ignore_errors=True)  # from empty
    settings = Settings(data_dir=lib_dir)
    emb, papers, chunk_texts, ref_texts = _prepare(run, settings, args.reference_papers)
    raw = _raw_encode(run, emb, ref_texts)
    ours, report, phases = _ours(run, settings, emb, chunk_texts)
    li = {} if args.skip_llama_index else _llama_index(papers, emb, args.out)
    run["llama_index"] = li
    again, cli_s = _reingest(run, settings, emb, lib_dir)
    _ratios(run, raw, len(ref_texts), ours, report, phases, li)
    run["targets"] = {
        "ours_over_raw_encode": target(run["ratios"]["ours_over_raw_encode"], ">=", 0.8),
        "ours_over_llama_index": target(run["ratios"]["ours_over_llama_index_papers"], ">=", 1.0),
        "ours_over_llama_index_whole_text": target(
            run["ratios"]["ours_over_llama_index_whole_text_papers"], ">=", 1.0
        ),
        "reingest_in_process_s": target(round(again, 2), "<", 2.0),
        "reingest_cli_s": target(round(cli_s, 2), "<", 2.0),
    }
    return run.finish()


def _prepare(
    run: Run, settings: Any, reference_papers: int
) -> tuple[Any, list[Any], list[str], list[str]]:
    """Load and warm the model, export the question encoder, and chunk the bundled papers
    (untimed setup); the embedder, the papers, all chunk texts and the reference's."""
    from assistant.index.embeddings import get_embedder
    from ingest import make_chunker

    with Clock() as load:
        emb = get_embedder(settings)
        emb.model.encode(["warm up"], show_progress_bar=False)
    with Clock() as export:
        emb.export_query_encoder()  # once per install: not throughput, reported on its own
    papers = bundled_papers()
    chunker = make_chunker(settings, emb)
    chunker.chunks(papers[0])  # imports llama-index's splitter before timing
    with Clock() as chunking:
        chunk_texts = [c.text for p in papers for c in chunker.chunks(p)]
    n_ref = reference_papers if 0 < reference_papers < len(papers) else len(papers)
    step = len(papers) / n_ref
    ref_texts = (
        chunk_texts
        if n_ref == len(papers)
        else [c.text for i in range(n_ref) for c in chunker.chunks(papers[int(i * step)])]
    )
    run["model_load_s"] = round(load.wall, 2)
    run["query_encoder_export_s"] = round(export.wall, 2)
    run["papers"] = len(papers)
    run["chunks"] = len(chunk_texts)
    run["chunking_s"] = round(chunking.wall, 2)
    run["reference_papers"] = n_ref
    run["reference_chunks"] = len(ref_texts)
    print(
        f"  model loaded in {load.wall:.1f}s, question encoder exported in {export.wall:.1f}s "
        f"(neither counted below); {len(papers)} papers -> {len(chunk_texts)} chunks "
        f"(chunking alone {chunking.wall:.2f}s); references on {n_ref} papers "
        f"({len(ref_texts)} chunks)",
        flush=True,
    )
    return emb, papers, chunk_texts, ref_texts


def _raw_encode(run: Run, emb: Any, ref_texts: list[str]) -> Clock:
    """The ceiling: the model alone on our chunk texts, our batch size."""
    with Clock() as raw:
        emb.model.encode(
            ref_texts,
            batch_size=emb.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    raw_cps = len(ref_texts) / raw.wall
    print(
        f"  raw SentenceTransformer.encode: {raw_cps:.1f} chunks/s ({raw.wall:.1f}s, "
        f"batch {emb.batch_size})",
        flush=True,
    )
    ref_real, ref_padded = word_pieces(ref_texts, emb, emb.batch_size)
    run["raw_encode"] = {
        "seconds": round(raw.wall, 2),
        "cpu_s": round(raw.cpu, 2),
        "chunks_per_s": round(raw_cps, 2),
        "batch_size": emb.batch_size,
        "word_pieces": ref_real,
        "padded_word_pieces": ref_padded,
    }
    return raw


def _ours(
    run: Run, settings: Any, emb: Any, chunk_texts: list[str]
) -> tuple[Clock, Any, dict[str, float]]:
    """`ingest` from empty, with where its time went (seconds per phase)."""
    from ingest import IngestTimings, ingest

    emb.padded_tokens = 0
    phases = IngestTimings()
    with Clock() as ours:
        report = ingest([PAPERS], settings, embedder=emb, timings=phases)
    pps = len(report.added) / ours.wall
    cps = report.chunks_embedded / ours.wall
    print(
        f"  paperlens ingest from empty: {pps:.1f} papers/s, {cps:.1f} chunks/s "
        f"({ours.wall:.1f}s; {report.summary()})",
        flush=True,
    )
    breakdown = phases.to_dict()
    breakdown["other"] = round(ours.wall - sum(breakdown.values()), 3)
    print(
        "  where it went (s): " + ", ".join(f"{k} {v:.2f}" for k, v in breakdown.items()),
        flush=True,
    )
    run["paperlens"] = {
        "seconds": round(ours.wall, 2),
        "cpu_s": round(ours.cpu, 2),
        "papers_per_s": round(pps, 2),
        "chunks_per_s": round(cps, 2),
        "chunks": report.chunks_embedded,
        "added": len(report.added),
        "word_pieces": word_pieces(chunk_texts, emb)[0],
        "padded_word_pieces": emb.padded_tokens,
        "phases_s": breakdown,
    }
    return ours, report, breakdown


def _llama_index(papers: list[Any], emb: Any, out: Path | None) -> dict[str, Any]:
    """Plain llama-index into Chroma: with its defaults, then sized like for like."""
    from llama_index.core import Settings as LISettings
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from assistant.index.embeddings import resolve_model_path

    with contextlib.redirect_stdout(io.StringIO()):  # "LLM is explicitly disabled"
        LISettings.llm = None
    embed = HuggingFaceEmbedding(model_name=str(resolve_model_path(MODEL)), device="cpu")
    embed.get_text_embedding("warm up")
    li_dir = work_dir(out, "llamaindex")
    shutil.rmtree(li_dir, ignore_errors=True)
    clock, nodes, node_texts = llama_index_ingest(papers, li_dir / "chroma", embed)
    truncated = sum(1 for t in node_texts if emb.count_tokens(t) + 2 > emb.max_tokens)
    li: dict[str, Any] = {
        "seconds": round(clock.wall, 2),
        "cpu_s": round(clock.cpu, 2),
        "nodes": nodes,
        "word_pieces": word_pieces(node_texts, emb)[0],
        "truncated_nodes": truncated,
        "papers": len(papers),
        "papers_per_s": round(len(papers) / clock.wall, 2),
        "cpu_s_per_paper": round(clock.cpu / len(papers), 4),
        "nodes_per_s": round(nodes / clock.wall, 2),
        "embed_batch_size": embed.embed_batch_size,
        "description": "VectorStoreIndex.from_documents, default SentenceSplitter, "
        "HuggingFaceEmbedding defaults, ChromaVectorStore on PersistentClient",
    }
    print(
        f"  llama-index from_documents -> Chroma: {li['papers_per_s']} papers/s, "
        f"{li['nodes_per_s']} nodes/s ({clock.wall:.1f}s, batch {embed.embed_batch_size}; "
        f"{truncated} of {nodes} nodes cut at the model's {emb.max_tokens} word pieces)",
        flush=True,
    )
    # Like for like: the same plain pipeline with its splitter sized so the model sees
    # every word (160 of its tokens stay under 256 word pieces), as ours does.
    # (a new folder: Chroma keeps the first one open in this process)
    clock, nodes, node_texts = llama_index_ingest(
        papers, li_dir / "chroma-whole", embed, chunk_size=160
    )
    truncated = sum(1 for t in node_texts if emb.count_tokens(t) + 2 > emb.max_tokens)
    li["whole_text"] = {
        "seconds": round(clock.wall, 2),
        "cpu_s": round(clock.cpu, 2),
        "nodes": nodes,
        "word_pieces": word_pieces(node_texts, emb)[0],
        "truncated_nodes": truncated,
        "papers_per_s": round(len(papers) / clock.wall, 2),
        "cpu_s_per_paper": round(clock.cpu / len(papers), 4),
        "description": "the same, with SentenceSplitter(chunk_size=160, chunk_overlap=20)",
    }
    print(
        f"  llama-index, splitter sized to the model: {li['whole_text']['papers_per_s']} "
        f"papers/s ({clock.wall:.1f}s, {nodes} nodes, {truncated} cut)",
        flush=True,
    )
    return li


def _reingest(run: Run, settings: Any, emb: Any, lib_dir: Path) -> tuple[float, float]:
    """Re-ingest of the unchanged library (nothing to embed): in-process and by the CLI."""
    from ingest import ingest

    with Clock() as again:
        report = ingest([PAPERS], settings, embedder=emb)
    t = time.perf_counter()
    cli = subprocess.run(
        [*paperlens_cli(), "ingest", str(PAPERS), "-q"],
        env=clean_env(lib_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    cli_s = time.perf_counter() - t
    print(
        f"  re-ingest unchanged: in-process {again.wall:.2f}s ({report.summary()}); "
        f"CLI subprocess {cli_s:.2f}s (rc {cli.returncode})",
        flush=True,
    )
    run["reingest"] = {
        "in_process_s": round(again.wall, 3),
        "cli_s": round(cli_s, 2),
        "cli_rc": cli.returncode,
        "embedded": report.chunks_embedded,
        "cli_stderr_tail": cli.stderr[-400:] if cli.returncode else "",
    }
    return again.wall, cli_s


def _ratios(
    run: Run,
    raw: Clock,
    n_ref: int,
    ours: Clock,
    report: Any,
    phases: dict[str, float],
    li: dict[str, Any],
) -> None:
    """Ours against each reference, wall and CPU time; and without the phases the plain
    pipeline does not have (reading files, the manifest), like for like."""
    n = len(report.added)
    pps = n / ours.wall
    # llama-index is handed parsed papers and keeps no manifest: the same work of ours.
    core_s = ours.wall - phases["read"] - phases["manifest"]
    whole = li.get("whole_text", {})
    run["ratios"] = {
        "ours_over_raw_encode": ratio(report.chunks_embedded / ours.wall, n_ref / raw.wall),
        "ours_over_raw_encode_cpu": ratio(raw.cpu / n_ref, ours.cpu / report.chunks_embedded),
        "ours_over_llama_index_papers": ratio(pps, li.get("papers_per_s")),
        "ours_over_llama_index_cpu": ratio(li["cpu_s_per_paper"], ours.cpu / n) if li else None,
        "ours_over_llama_index_whole_text_papers": ratio(pps, whole.get("papers_per_s")),
        "ours_over_llama_index_whole_text_cpu": (
            ratio(whole["cpu_s_per_paper"], ours.cpu / n) if whole else None
        ),
        "ours_chunk_embed_write_over_llama_index_whole_text": ratio(
            n / core_s, whole.get("papers_per_s")
        ),
    }
    r = run["ratios"]
    print(
        f"  ratios: ours/raw-encode {r['ours_over_raw_encode']} "
        f"(CPU-time {r['ours_over_raw_encode_cpu']}), "
        f"ours/llama-index {r['ours_over_llama_index_papers']} "
        f"(CPU-time {r['ours_over_llama_index_cpu']}), "
        "ours/llama-index embedding the whole text "
        f"{r['ours_over_llama_index_whole_text_papers']} "
        f"(CPU-time {r['ours_over_llama_index_whole_text_cpu']}; without reading files and "
        f"the manifest, which it does not do: "
        f"{r['ours_chunk_embed_write_over_llama_index_whole_text']})",
        flush=True,
    )


if __name__ == "__main__":
    main()

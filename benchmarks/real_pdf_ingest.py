"""Ingest throughput of real PDFs: paperlens against plain llama-index, same files, same model.

On the real third-party corpus (`benchmarks.real_pdfs`), in one process, after the model is
loaded and warmed (not counted):
- ``paperlens read``: `ingest.parse_file` of each PDF alone (layout, front matter, sections);
- ``paperlens ingest``: `ingest.ingest(pdfs, settings, embedder=...)` into a fresh data
  dir: read, chunk, embed (chunks and late-chunked sentence vectors), write to Chroma;
- ``llama-index read``: `SimpleDirectoryReader(input_files=pdfs).load_data()` with its
  default PDF reader (pypdf, one Document per page);
- ``llama-index ingest``: that read plus `VectorStoreIndex.from_documents` (default
  SentenceSplitter) into a `ChromaVectorStore`, embedding with `HuggingFaceEmbedding` of
  the same bundled model, as `benchmarks.ingest_throughput` does.
Each reports pages/s, chunks (nodes)/s, seconds, CPU seconds and its peak RSS (the
process's high-water mark reset before it; the loaded model is part of it), and the
ratios paperlens/llama-index follow.

The two do not embed the same text: llama-index's default nodes run up to 1024 of its
tokens and the model cuts each at 256 word pieces, so it embeds less of every page than
paperlens, which embeds all of it. Word pieces embedded per second are reported too.

llama-index's default PDF reader lives in ``llama-index-readers-file``, which pins
``pypdf<7`` while paperlens needs ``pypdf>=7.1``. When that package is not installed,
a stand-in below does: the same steps as its ``PDFReader.load_data`` (pypdf,
``extract_text`` per page, metadata ``page_label`` and ``file_name``), handed to
`SimpleDirectoryReader` as its ``.pdf`` extractor (on this corpus it gives the same
Documents as that reader, text and metadata); the JSON names which reader ran.

``--pages N`` takes a fixed subset, the first PDFs by file name until they hold N pages,
so `make bench` stays within its time on a 2-core machine (default: all 41 PDFs). When the
corpus cannot be fetched, the part prints one "skipped" line, writes that reason to its
JSON and exits 0.

Usage: python -m benchmarks.real_pdf_ingest --out artifacts/bench [--pages 200]
(``--out`` a folder writes FOLDER/real_pdf_ingest.json; a path ending .json writes there)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import MODEL, REPO, Run, load_avg, offline_env, peak_rss_mb, ratio, status_mb
from benchmarks.ingest_throughput import Clock, word_pieces

NAME = "real_pdf_ingest"
CORPUS = REPO / ".cache" / "real_pdfs"  # where tests and evals cache it too


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"a folder (writes {NAME}.json in it) or a .json file",
    )
    ap.add_argument(
        "--pages",
        type=int,
        default=0,
        help="only the first PDFs by file name that hold this many pages "
        "(default: the whole corpus)",
    )
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="where the PDFs are cached")
    ap.add_argument("--skip-llama-index", action="store_true")
    args = ap.parse_args(argv)
    offline_env()
    # pypdf warns of every repaired cross-reference in these files, for both readers alike.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    to_file = args.out is not None and args.out.suffix == ".json"
    run = Run(NAME, None if to_file else args.out)

    pdfs, why = _corpus(args.corpus.resolve(), args.pages)
    if pdfs is None:
        print(f"== {NAME}: skipped ({why})", flush=True)
        run["skipped"] = why
        return _finish(run, args.out if to_file else None)
    pages = sum(pdfs.values())
    run["corpus"] = {
        "pdfs": len(pdfs),
        "pages": pages,
        "subset": why,
        "files": [{"file": p.name, "pages": n} for p, n in pdfs.items()],
    }
    print(f"  {len(pdfs)} real PDFs, {pages} pages ({why})", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="paperlens-real-pdf-ingest-"))
    try:
        emb = _load_model(run, tmp / "library")
        files = list(pdfs)
        read, papers = _read(files, pages)
        ours = _ours(files, pages, tmp / "library", emb, papers)
        run["paperlens"] = {"read": read, "ingest": ours}
        li = {} if args.skip_llama_index else _llama_index(files, pages, tmp / "llamaindex", emb)
        run["llama_index"] = li
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    run["ratios"] = _ratios(read, ours, li)
    _print_table(run)
    return _finish(run, args.out if to_file else None)


def _corpus(dest: Path, max_pages: int) -> tuple[dict[Path, int] | None, str]:
    """The PDFs to time and their pages, and which subset they are; (None, why) when the
    corpus cannot be had."""
    from benchmarks.real_pdfs import PDFS, CorpusError, ensure_corpus

    try:
        paths = ensure_corpus(dest)
    except CorpusError as exc:
        first = exc.failures[0] if exc.failures else "no reason given"
        return None, (
            f"real-PDF corpus unavailable: {len(exc.missing)} of {len(PDFS)} PDFs "
            f"missing ({first}); fetch it with `python -m benchmarks.real_pdfs`"
        )
    except OSError as exc:
        return None, f"real-PDF corpus unavailable: {exc}"
    pages = {spec.file: spec.pages for spec in PDFS}
    chosen: dict[Path, int] = {}
    for path in sorted(paths, key=lambda p: p.name):
        if max_pages and sum(chosen.values()) >= max_pages:
            break
        chosen[path] = pages[path.name]
    if len(chosen) == len(paths):
        return chosen, f"the whole corpus of {len(paths)}"
    return chosen, (
        f"the first {len(chosen)} of {len(paths)} by file name, at least {max_pages} pages"
    )


def _load_model(run: Run, data_dir: Path) -> Any:
    """Load and warm the model, export the question encoder and import what the timed
    parts use (untimed setup: none of it is ingest throughput)."""
    import chromadb  # noqa: F401 - imported here so neither side's time includes it

    from assistant import Settings
    from assistant.index.embeddings import get_embedder

    with contextlib.suppress(ImportError):  # reported where llama-index runs
        from llama_index.core import SimpleDirectoryReader, VectorStoreIndex  # noqa: F401

    with Clock() as load:
        emb = get_embedder(Settings(data_dir=data_dir))
        emb.model.encode(["warm up"], show_progress_bar=False)
    with Clock() as export:
        emb.export_query_encoder()  # into this data dir's cache, once: not throughput
    run["model_load_s"] = round(load.wall, 2)
    run["query_encoder_export_s"] = round(export.wall, 2)
    print(
        f"  model loaded in {load.wall:.1f}s, question encoder exported in "
        f"{export.wall:.1f}s (neither counted below)",
        flush=True,
    )
    return emb


def _figures(clock: Clock, pages: int, chunks: int | None, peak: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seconds": round(clock.wall, 2),
        "cpu_s": round(clock.cpu, 2),
        "pages_per_s": round(pages / clock.wall, 2),
        "peak_rss_mb": peak,
        "load_avg": load_avg(),
    }
    if chunks is not None:
        out["chunks"] = chunks
        out["chunks_per_s"] = round(chunks / clock.wall, 2)
    return out


def _read(files: list[Path], pages: int) -> tuple[dict[str, Any], list[Any]]:
    """`ingest.parse_file` of each PDF, nothing else; the figures and the papers read."""
    from ingest import parse_file

    parse_file(files[0])  # imports the PDF stack before timing (the file is read again)
    _reset_peak_rss()
    with Clock() as clock:
        results = [parse_file(path) for path in files]
    read = _figures(clock, pages, None, _peak_rss())
    print(
        f"  paperlens read (parse_file): {read['pages_per_s']} pages/s ({clock.wall:.1f}s)",
        flush=True,
    )
    return read, [paper for r in results for paper in r.papers]


def _ours(
    files: list[Path], pages: int, data_dir: Path, emb: Any, papers: list[Any]
) -> dict[str, Any]:
    """`ingest` of the PDFs into a fresh data dir, with its phases."""
    from assistant import Settings
    from ingest import IngestTimings, ingest, make_chunker

    settings = Settings(data_dir=data_dir)
    chunker = make_chunker(settings, emb)
    chunk_texts = [c.text for p in papers for c in chunker.chunks(p)]  # untimed: word pieces
    emb.padded_tokens = 0
    phases = IngestTimings()
    _reset_peak_rss()
    with Clock() as clock:
        report = ingest(files, settings, embedder=emb, timings=phases)
    ours = _figures(clock, pages, report.chunks_embedded, _peak_rss())
    real = word_pieces(chunk_texts, emb)[0]
    breakdown = phases.to_dict()
    breakdown["other"] = round(clock.wall - sum(breakdown.values()), 3)
    ours.update(
        {
            "added": len(report.added),
            "skipped": [list(s) for s in report.skipped],
            "word_pieces": real,
            "word_pieces_per_s": round(real / clock.wall, 1),
            "padded_word_pieces": emb.padded_tokens,
            "phases_s": breakdown,
        }
    )
    print(
        f"  paperlens ingest: {ours['pages_per_s']} pages/s, {ours['chunks_per_s']} chunks/s "
        f"({clock.wall:.1f}s; {report.summary()})",
        flush=True,
    )
    print(
        "  where it went (s): " + ", ".join(f"{k} {v:.2f}" for k, v in breakdown.items()),
        flush=True,
    )
    return ours


def _llama_index(files: list[Path], pages: int, work: Path, emb: Any) -> dict[str, Any]:
    """SimpleDirectoryReader + VectorStoreIndex.from_documents into Chroma, the same model."""
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.vector_stores.chroma import ChromaVectorStore
    except ImportError as exc:
        print(f"  llama-index: skipped ({exc}; `make dev` installs it)", flush=True)
        return {"skipped": str(exc)}

    from assistant.index.embeddings import resolve_model_path

    extractor, reader_name = _pdf_reader()
    embed = HuggingFaceEmbedding(model_name=str(resolve_model_path(MODEL)), device="cpu")
    embed.get_text_embedding("warm up")

    def load(paths: list[Path]) -> list[Any]:
        reader = SimpleDirectoryReader(
            input_files=[str(f) for f in paths], file_extractor=extractor
        )
        return list(reader.load_data())

    load(files[:1])  # imports its readers' stack before timing
    _reset_peak_rss()
    with Clock() as read_clock:
        docs = load(files)
    read = _figures(read_clock, pages, None, _peak_rss())
    read["documents"] = len(docs)
    print(
        f"  llama-index read (SimpleDirectoryReader, {reader_name}): "
        f"{read['pages_per_s']} pages/s ({read_clock.wall:.1f}s, {len(docs)} documents)",
        flush=True,
    )

    _reset_peak_rss()
    with Clock() as index_clock:
        client = chromadb.PersistentClient(
            path=str(work / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        coll = client.get_or_create_collection("llamaindex-real-pdfs")
        ctx = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=coll))
        VectorStoreIndex.from_documents(docs, storage_context=ctx, embed_model=embed)
    index_peak = _peak_rss()
    nodes = coll.count()
    node_texts = list(coll.get(include=["documents"])["documents"] or [])
    # The whole ingest is the read above plus this: the documents are read once.
    whole = Clock()
    whole.wall, whole.cpu = read_clock.wall + index_clock.wall, read_clock.cpu + index_clock.cpu
    full = _figures(whole, pages, nodes, max(read["peak_rss_mb"], index_peak))
    real = word_pieces(node_texts, emb)[0]
    in_text = sum(emb.count_tokens(t) + 2 for t in node_texts)
    full.update(
        {
            "index_s": round(index_clock.wall, 2),
            "word_pieces": real,
            "word_pieces_per_s": round(real / whole.wall, 1),
            "word_pieces_in_nodes": in_text,
            "share_of_text_embedded": round(real / in_text, 3),
            "truncated_nodes": sum(
                1 for t in node_texts if emb.count_tokens(t) + 2 > emb.max_tokens
            ),
            "embed_batch_size": embed.embed_batch_size,
        }
    )
    print(
        f"  llama-index ingest (read + from_documents -> Chroma): {full['pages_per_s']} "
        f"pages/s, {full['chunks_per_s']} nodes/s ({whole.wall:.1f}s; {nodes} nodes, "
        f"{full['truncated_nodes']} cut at the model's {emb.max_tokens} word pieces: "
        f"{full['share_of_text_embedded']:.0%} of their text embedded)",
        flush=True,
    )
    return {
        "pdf_reader": reader_name,
        "read": read,
        "ingest": full,
        "description": "SimpleDirectoryReader(input_files).load_data() + "
        "VectorStoreIndex.from_documents (default SentenceSplitter), "
        "HuggingFaceEmbedding defaults, ChromaVectorStore on PersistentClient",
    }


def _pdf_reader() -> tuple[dict[str, Any] | None, str]:
    """SimpleDirectoryReader's ``file_extractor`` and the name of the PDF reader it runs:
    its own default when ``llama-index-readers-file`` is installed, else the stand-in."""
    try:
        from llama_index.readers.file import PDFReader  # noqa: F401
    except ImportError:
        return {".pdf": _pages_pdf_reader()}, (
            "the steps of llama_index.readers.file.PDFReader "
            "(llama-index-readers-file is not installed: it pins pypdf<7)"
        )
    return None, "llama_index.readers.file.PDFReader (its default)"


def _pages_pdf_reader() -> Any:
    """What ``llama_index.readers.file.PDFReader().load_data`` does with a local file."""
    from llama_index.core.readers.base import BaseReader
    from llama_index.core.schema import Document

    class PagesPdfReader(BaseReader):
        def load_data(
            self, file: Path, extra_info: dict[str, Any] | None = None, fs: Any = None
        ) -> list[Document]:
            import pypdf

            with open(file, "rb") as fp:
                pdf = pypdf.PdfReader(fp)
                docs = []
                for page in range(len(pdf.pages)):
                    metadata = {"page_label": pdf.page_labels[page], "file_name": Path(file).name}
                    if extra_info is not None:
                        metadata.update(extra_info)
                    docs.append(Document(text=pdf.pages[page].extract_text(), metadata=metadata))
                return docs

    return PagesPdfReader()


def _ratios(read: dict[str, Any], ours: dict[str, Any], li: dict[str, Any]) -> dict[str, Any]:
    full, li_read = li.get("ingest", {}), li.get("read", {})
    return {
        "ingest_pages_per_s": ratio(ours["pages_per_s"], full.get("pages_per_s")),
        "ingest_chunks_per_s": ratio(ours["chunks_per_s"], full.get("chunks_per_s")),
        "ingest_cpu_s": ratio(full.get("cpu_s"), ours["cpu_s"]),
        "ingest_word_pieces_per_s": ratio(ours["word_pieces_per_s"], full.get("word_pieces_per_s")),
        "read_pages_per_s": ratio(read["pages_per_s"], li_read.get("pages_per_s")),
    }


def _print_table(run: Run) -> None:
    ours, li = run["paperlens"], run["llama_index"]
    rows = [("paperlens read (parse_file)", ours["read"]), ("paperlens ingest", ours["ingest"])]
    if li.get("ingest"):
        rows += [
            ("llama-index read (SimpleDirectoryReader)", li["read"]),
            ("llama-index read + VectorStoreIndex", li["ingest"]),
        ]
    print(
        f"\n  {'':42s} {'seconds':>8s} {'pages/s':>8s} {'chunks/s':>9s} {'peak RSS MB':>12s} "
        f"{'load 1m':>8s}"
    )
    for label, r in rows:
        cps = f"{r['chunks_per_s']:.1f}" if "chunks_per_s" in r else "-"
        load = f"{r['load_avg'][0]:.2f}" if r["load_avg"] else "-"
        print(
            f"  {label:42s} {r['seconds']:8.1f} {r['pages_per_s']:8.1f} {cps:>9s} "
            f"{r['peak_rss_mb']:12.0f} {load:>8s}"
        )
    r = run["ratios"]
    print(
        f"  paperlens / llama-index: ingest pages/s {r['ingest_pages_per_s']}, chunks/s "
        f"{r['ingest_chunks_per_s']}, word pieces/s {r['ingest_word_pieces_per_s']}, "
        f"CPU time {r['ingest_cpu_s']}; read pages/s {r['read_pages_per_s']}\n",
        flush=True,
    )


def _finish(run: Run, json_path: Path | None) -> dict[str, Any]:
    data = run.finish()
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"  wrote {json_path}")
    return data


# --- peak memory of one phase ------------------------------------------------------------
def _reset_peak_rss() -> None:
    """Reset this process's resident high-water mark (Linux: /proc/self/clear_refs 5)."""
    with contextlib.suppress(OSError):  # then _peak_rss reports the process's peak so far
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> float:
    """VmHWM in MB: the peak since the last reset (else since the process started)."""
    hwm = status_mb("VmHWM")
    return hwm if hwm == hwm else peak_rss_mb()  # NaN off Linux


if __name__ == "__main__":
    main()

"""Ingest with the real bundled model and embedded Chroma."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import BUNDLED_PAPERS, BUNDLED_TOTAL, REPO_ROOT, SMALL_PAPERS

from assistant.core.settings import Settings
from assistant.core.types import IngestReport
from assistant.store.library import Library
from ingest import (
    collect_files,
    ingest,
    paper_id,
    parse_file,
    read_papers,
    remove,
    supported_suffixes,
)

SEED_COUNTS = {
    "000_b9901c8c1c455724.txt": 49,
    "001_f45d45220cbf9783.txt": 288,
    "002_44d1e5d38125c694.txt": 63,
    "003_eaf6fee32701ab9b.txt": 65,
    "004_cc92b33e8c7677da.txt": 57,
}
SPARSE = paper_id("Sparse Denoisers for Fast Diffusion Sampling")
PLANNING = paper_id("Planning with Tool-Using Language Agents")
DENSE = paper_id("Dense Passage Retrieval for Scientific Question Answering")


def snapshot(settings: Settings) -> dict:
    """Everything an ingest decides, read back from the store: ids, hashes, counts, texts."""
    lib = Library(settings)
    chunk_ids, chunk_docs, chunk_metas = lib.chunk_records()
    sent = lib.sentences.get(include=["documents", "metadatas"])
    heads = {m["paper_id"]: m for m in chunk_metas if m["position"] == 0}
    return {
        "papers": {
            pid: (m["hash"], m["n_chunks"], m["n_sentences"], tuple(m["sources"]))
            for pid, m in heads.items()
        },
        "chunks": dict(zip(chunk_ids, chunk_docs, strict=True)),
        "chunk_spans": {
            cid: (m["start"], m["end"]) for cid, m in zip(chunk_ids, chunk_metas, strict=True)
        },
        "sentences": dict(zip(sent["ids"], sent["documents"], strict=True)),
        "n_chunk_rows": lib.chunks.count(),
        "n_sentence_rows": lib.sentences.count(),
    }


def rows_of(settings: Settings, pid: str) -> tuple[list[str], list[str]]:
    """Chunk ids and sentence ids stored for one paper."""
    lib = Library(settings)
    chunks = lib.chunks.get(where={"paper_id": pid}, include=[])["ids"]
    sentences = lib.sentences.get(where={"paper_id": pid}, include=[])["ids"]
    return sorted(chunks), sorted(sentences)


# --- the bundled library (ingested once per session, read-only here) -----------------
def test_bundled_library_ingests_all_467_papers(bundled_library) -> None:
    settings, report = bundled_library
    assert report.skipped == []
    assert report.files_read == 5
    assert len(report.added) == BUNDLED_TOTAL == len(set(report.added))
    assert report.updated == [] and report.unchanged == []
    stats = Library(settings).stats()
    assert stats.papers == BUNDLED_TOTAL
    assert stats.chunks == report.chunks_embedded > BUNDLED_TOTAL


def test_bundled_chunks_fit_the_model_and_start_with_the_title(bundled_library, embedder) -> None:
    settings, _ = bundled_library
    lib = Library(settings)
    papers = lib.papers()
    _, docs, metas = lib.chunk_records()
    assert len(docs) > BUNDLED_TOTAL
    tokenizer = embedder.model.tokenizer
    lengths = [len(ids) for ids in tokenizer(docs, add_special_tokens=True)["input_ids"]]
    assert embedder.max_tokens == 256
    assert max(lengths) <= embedder.max_tokens
    for doc, meta in zip(docs, metas, strict=True):
        paper = papers[meta["paper_id"]]
        assert doc.startswith(paper.title + "\n")
        span = paper.abstract[meta["start"] : meta["end"]]
        assert span and span in doc
        assert doc == paper.title + "\n" + span


def test_bundled_chunks_cover_each_abstract_in_order(bundled_library) -> None:
    settings, _ = bundled_library
    lib = Library(settings)
    papers = lib.papers()
    _, _, metas = lib.chunk_records()
    spans: dict[str, list[tuple[int, int, int]]] = {}
    for m in metas:
        spans.setdefault(m["paper_id"], []).append((m["position"], m["start"], m["end"]))
    assert set(spans) == set(papers)
    for pid, rows in spans.items():
        rows.sort()
        assert [r[0] for r in rows] == list(range(len(rows)))
        assert rows[0][1] == 0 and rows[-1][2] == len(papers[pid].abstract)
        # Consecutive chunks overlap or are apart by whitespace: no word is left out.
        abstract = papers[pid].abstract
        assert all(not abstract[a[2] : b[1]].strip() for a, b in zip(rows, rows[1:], strict=False))


def test_bundled_sentences_are_stored_with_exact_offsets(bundled_library) -> None:
    settings, _ = bundled_library
    lib = Library(settings)
    papers = lib.papers()
    some = sorted(papers)[:25]
    stored = lib.sentences_for(some)
    for pid in some:
        sentences, vectors = stored[pid]
        heads = lib.chunks.get(ids=[f"{pid}:c0"], include=["metadatas"])["metadatas"][0]
        assert len(sentences) == heads["n_sentences"] == vectors.shape[0]
        assert vectors.shape[1] == 384
        for s in sentences:
            assert papers[pid].abstract[s.start : s.end] == s.text


def test_paper_on_several_pages_lists_every_source_file(bundled_library) -> None:
    settings, _ = bundled_library
    pages_of: dict[str, set[str]] = {}
    for f in sorted(BUNDLED_PAPERS.iterdir()):
        for p in parse_file(f).papers:
            pages_of.setdefault(p.id, set()).add(f.name)
    stored = Library(settings).papers()
    shared = [pid for pid, pages in pages_of.items() if len(pages) > 1]
    assert shared
    for pid in shared:
        assert set(stored[pid].sources) == pages_of[pid]
    for pid, pages in pages_of.items():
        assert len(stored[pid].sources) == len(pages)


def test_library_stats_count_papers_chunks_sentences_and_sources(bundled_library) -> None:
    settings, report = bundled_library
    stats = Library(settings).stats()
    heads = Library(settings).chunks.get(where={"position": 0}, include=["metadatas"])["metadatas"]
    assert stats.papers == BUNDLED_TOTAL
    assert stats.chunks == sum(m["n_chunks"] for m in heads) == report.chunks_embedded
    assert stats.sentences == sum(m["n_sentences"] for m in heads) > stats.chunks
    assert stats.sources == SEED_COUNTS
    assert stats.model == "all-MiniLM-L6-v2"
    assert stats.location == str(settings.data_dir / "chroma")
    assert stats.collection == settings.index_name()


def test_bundled_papers_carry_their_page_date(bundled_library) -> None:
    settings, _ = bundled_library
    papers = Library(settings).papers()
    first_000 = parse_file(BUNDLED_PAPERS / "000_b9901c8c1c455724.txt").papers[0]
    assert papers[first_000.id].date == "Mar 13"
    only_001 = [p for p in papers.values() if p.sources == ("001_f45d45220cbf9783.txt",)]
    assert only_001 and all(p.date is None for p in only_001)


def test_reingest_of_the_same_folder_embeds_nothing(bundled_library) -> None:
    settings, _ = bundled_library
    before = Library(settings).version()
    report = ingest([BUNDLED_PAPERS], settings)
    assert report.added == [] and report.updated == [] and report.sources_updated == []
    assert len(report.unchanged) == BUNDLED_TOTAL
    assert report.chunks_embedded == 0
    assert report.skipped == []
    assert Library(settings).version() == before  # nothing was written


# --- incremental updates on a private library ----------------------------------------
def test_small_library_ingests_five_papers_and_merges_sources(small_library) -> None:
    settings, _, report = small_library
    assert report.skipped == []
    assert report.files_read == 3
    assert sorted(report.added) == sorted(
        {
            PLANNING,
            DENSE,
            SPARSE,
            paper_id("Lexical and Dense Hybrid Ranking"),
            paper_id("Calibrated Abstention for Retrieval-Augmented Generation"),
        }
    )
    stats = Library(settings).stats()
    assert stats.papers == SMALL_PAPERS
    assert stats.sources == {"agents.json": 2, "retrieval.jsonl": 3, "sparse_denoisers.md": 1}
    papers = Library(settings).papers()
    assert papers[DENSE].sources == ("agents.json", "retrieval.jsonl")
    assert papers[PLANNING].authors == ("Ada Lovelace", "Alan Turing")
    assert papers[PLANNING].year == 2024 and papers[PLANNING].venue == "NeurIPS"


def test_changed_abstract_reembeds_only_that_paper(small_library, embedder) -> None:
    settings, folder, _ = small_library
    old = snapshot(settings)
    assert old["papers"][SPARSE][1] == 2  # the long abstract needs two chunks
    new_abstract = (
        "We route each denoising step through a few blocks. Sampling gets 2.7 times faster."
    )
    (folder / "sparse_denoisers.md").write_text(
        "# Sparse Denoisers for Fast Diffusion Sampling\n\n" + new_abstract + "\n", encoding="utf-8"
    )
    report = ingest([folder], settings, embedder=embedder)
    assert report.updated == [SPARSE]
    assert report.added == []
    assert sorted(report.unchanged) == sorted(set(old["papers"]) - {SPARSE})
    new = snapshot(settings)
    assert report.chunks_embedded == new["papers"][SPARSE][1] == 1
    # No stale chunk or sentence of the old abstract is left.
    chunks, sentences = rows_of(settings, SPARSE)
    assert chunks == [f"{SPARSE}:c0"]
    assert sentences == [f"{SPARSE}:s0", f"{SPARSE}:s1"] and new["papers"][SPARSE][2] == 2
    assert (
        new["chunks"][f"{SPARSE}:c0"]
        == "Sparse Denoisers for Fast Diffusion Sampling\n" + new_abstract
    )
    assert Library(settings).papers([SPARSE])[SPARSE].abstract == new_abstract
    assert new["papers"][SPARSE][0] != old["papers"][SPARSE][0]
    # The other papers' records are untouched.
    for pid in set(old["papers"]) - {SPARSE}:
        assert new["papers"][pid] == old["papers"][pid]
    assert new["n_chunk_rows"] == sum(p[1] for p in new["papers"].values())
    assert new["n_sentence_rows"] == sum(p[2] for p in new["papers"].values())


def test_changed_metadata_rewrites_the_paper(small_library, embedder) -> None:
    settings, folder, _ = small_library
    jsonl = folder / "retrieval.jsonl"
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    record["year"] = 2021
    lines[1] = json.dumps(record)
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest([folder], settings, embedder=embedder)
    hybrid = paper_id("Lexical and Dense Hybrid Ranking")
    assert report.updated == [hybrid]
    assert report.chunks_embedded == 1
    assert Library(settings).papers([hybrid])[hybrid].year == 2021


def test_remove_by_id_deletes_chunks_and_sentences(small_library) -> None:
    settings, _, _ = small_library
    assert remove([PLANNING, "pnot-a-paper"], settings=settings) == [PLANNING]
    assert rows_of(settings, PLANNING) == ([], [])
    stats = Library(settings).stats()
    assert stats.papers == SMALL_PAPERS - 1
    assert stats.sources == {"agents.json": 1, "retrieval.jsonl": 3, "sparse_denoisers.md": 1}
    assert remove([PLANNING], settings=settings) == []


def test_remove_by_source_keeps_papers_listed_elsewhere(small_library, embedder) -> None:
    settings, folder, _ = small_library
    removed = remove(sources=[str(folder / "agents.json")], settings=settings)
    assert removed == [PLANNING]
    papers = Library(settings).papers()
    assert set(papers) == {
        SPARSE,
        DENSE,
        paper_id("Lexical and Dense Hybrid Ranking"),
        paper_id("Calibrated Abstention for Retrieval-Augmented Generation"),
    }
    assert papers[DENSE].sources == ("retrieval.jsonl",)
    assert rows_of(settings, PLANNING) == ([], [])
    chunks, sentences = rows_of(settings, DENSE)
    assert chunks and sentences  # the shared paper keeps its vectors
    # Ingesting the folder again restores the source without re-embedding the shared paper.
    report = ingest([folder], settings, embedder=embedder)
    assert report.added == [PLANNING]
    assert report.sources_updated == [DENSE]
    assert report.chunks_embedded == 1
    assert Library(settings).papers([DENSE])[DENSE].sources == ("retrieval.jsonl", "agents.json")


# --- bad input ------------------------------------------------------------------------
DAILY_HEADER = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\n"
    "byAK and the research community\n\nMar 13\n"
)
GOOD_ABSTRACT = "We test ingest on bad input. Good files in the same folder still make it."
ODD_TITLE = "\u200fEmoji \U0001f680 Cafe\u0301 Transformers\u200b for \u200eBidi Text"
ODD_TITLE_CLEAN = "Emoji \U0001f680 Cafe\u0301 Transformers for Bidi Text"
HUGE_LINE = ("word " * 400_000).strip()  # one 2 MB line


@pytest.fixture
def bad_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "messy"
    folder.mkdir()
    (folder / "good.md").write_text("# A Good Paper\n\n" + GOOD_ABSTRACT, encoding="utf-8")
    (folder / "odd_unicode.txt").write_text(
        ODD_TITLE
        + "\nAbstracts may hold emoji \U0001f9ea and accents: na\u0131\u0308ve. They still ingest.",
        encoding="utf-8",
    )
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.md").write_text(" \n\n\t\n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "broken.txt").symlink_to(folder / "target-that-does-not-exist.txt")
    (folder / "header_only.txt").write_text(DAILY_HEADER, encoding="utf-8")
    (folder / "page.txt").write_text(
        DAILY_HEADER + "\nA Title Without Abstract\n\nA Listed Paper\n\n" + GOOD_ABSTRACT + "\n",
        encoding="utf-8",
    )
    (folder / "no_abstract.jsonl").write_text(
        '{"title": "Only A Title"}\n'
        '{"title": "A JSONL Paper", "abstract": "It is fine. Really."}\n',
        encoding="utf-8",
    )
    (folder / "huge.txt").write_text(HUGE_LINE, encoding="utf-8")
    (folder / "emoji_title.md").write_text(
        "\U0001f680\U0001f525 \u2728\nAn abstract under no title.", encoding="utf-8"
    )
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    (folder / ".hidden.txt").write_text("Hidden\nNot ingested, not reported.", encoding="utf-8")
    return folder


def test_bad_files_are_reported_one_line_each_and_good_files_ingest(bad_folder, embedder) -> None:
    settings = Settings(data_dir=bad_folder.parent / "data")
    report = ingest([bad_folder], settings, embedder=embedder)
    skipped = {Path(path).name: reason for path, reason in report.skipped}
    assert skipped == {
        "empty.txt": "empty file",
        "blank.md": "empty file (only whitespace)",
        "binary.txt": "binary file, not text",
        "broken.txt": "broken link (its target does not exist)",
        "header_only.txt": "page has no papers - skipped",
        "page.txt": "entry 1 'A Title Without Abstract': title but no abstract - skipped",
        "no_abstract.jsonl": "line 1 'Only A Title': title but no abstract - skipped",
        "huge.txt": f"file: title of {len(HUGE_LINE)} characters is not a title - skipped",
        "emoji_title.md": "file '\U0001f680\U0001f525 \u2728': title has no letters or digits "
        "- skipped",
        "notes.docx": "unsupported format '.docx' "
        f"(paperlens reads {', '.join(supported_suffixes())})",
    }
    assert len(report.skipped) == len(skipped)
    assert all(Path(path).parent == bad_folder for path, _ in report.skipped)
    assert all("\n" not in reason for _, reason in report.skipped)
    good = {
        paper_id(t) for t in ("A Good Paper", ODD_TITLE_CLEAN, "A Listed Paper", "A JSONL Paper")
    }
    assert set(report.added) == good
    papers = Library(settings).papers()
    assert set(papers) == good
    odd = papers[paper_id(ODD_TITLE)]
    assert odd.title == ODD_TITLE_CLEAN  # zero-width and bidi marks dropped, the rest kept
    assert paper_id(ODD_TITLE) == paper_id("Emoji Caf\u00e9 Transformers for Bidi Text")
    assert papers[paper_id("A Listed Paper")].date == "Mar 13"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    f = tmp_path / "locked.txt"
    f.write_text("Locked Paper\nAn abstract.", encoding="utf-8")
    f.chmod(0)
    try:
        report = IngestReport()
        assert read_papers(collect_files([tmp_path], report), report) == []
        assert report.skipped == [(str(f), "unreadable (Permission denied)")]
    finally:
        f.chmod(0o644)


def test_missing_path_is_reported_not_raised(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    report = ingest([missing], Settings(data_dir=tmp_path / "data"))
    assert report.skipped == [(str(missing), "no such file or folder")]
    assert report.added == [] and report.files_read == 0


# --- an interrupted ingest is completed by the next run --------------------------------
PROGRESS = re.compile(rb"embedding:[^\r\n]*?(\d+)/(\d+) \[")  # the tqdm bar of `paperlens ingest`


def _write_jsonl(folder: Path, n: int) -> int:
    report = IngestReport()
    papers = read_papers(collect_files([BUNDLED_PAPERS], report), report)[:n]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "papers.jsonl", "w", encoding="utf-8") as fh:
        for p in papers:
            fh.write(json.dumps({"title": p.title, "abstract": p.abstract, "date": p.date}) + "\n")
    return len(papers)


def _ingest_and_kill(folder: Path, data_dir: Path, total: int) -> tuple[bool, bytes]:
    """Run `python -m paperlens ingest` and SIGKILL it after the first batch is written.

    Returns (killed mid-way, stderr so far).
    """
    env = {**os.environ, "PAPERLENS_DATA_DIR": str(data_dir), "PAPERLENS_INGEST_BATCH": "8"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperlens", "ingest", str(folder)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    stderr = bytearray()
    mid_way = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        while chunk := os.read(proc.stderr.fileno(), 4096):
            stderr.extend(chunk)
            if any(0 < int(done) < total for done, _ in PROGRESS.findall(bytes(stderr))):
                mid_way.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    try:
        while not mid_way.is_set() and proc.poll() is None and time.monotonic() < deadline:
            mid_way.wait(0.05)
        killed = mid_way.is_set() and proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    return killed, bytes(stderr)


@pytest.mark.slow
def test_interrupted_ingest_is_completed_by_the_next_run(tmp_path: Path, embedder) -> None:
    partial_settings = None
    for n in (40, 160):  # a bigger folder if the first run finished before the kill
        folder = tmp_path / f"corpus-{n}"
        total = _write_jsonl(folder, n)
        data_dir = tmp_path / f"interrupted-{n}"
        killed, stderr = _ingest_and_kill(folder, data_dir, total)
        if not killed:
            assert b"Traceback" not in stderr, stderr.decode(errors="replace")[-3000:]
            continue
        partial_settings = Settings(data_dir=data_dir)
        partial = len(Library(partial_settings).papers())
        if 0 < partial < total:
            break
    else:
        pytest.fail(f"could not interrupt the ingest mid-way; last stderr: {stderr[-2000:]!r}")
    assert partial_settings is not None
    assert partial % 8 == 0  # whole batches only: a paper is complete or absent

    resumed = ingest([folder], partial_settings, embedder=embedder)
    assert resumed.updated == []
    assert len(resumed.unchanged) == partial
    assert len(resumed.added) == total - partial
    again = ingest([folder], partial_settings, embedder=embedder)
    assert len(again.unchanged) == total and again.chunks_embedded == 0

    clean_settings = Settings(data_dir=tmp_path / "clean")
    clean_report = ingest([folder], clean_settings, embedder=embedder)
    assert len(clean_report.added) == total

    got, want = snapshot(partial_settings), snapshot(clean_settings)
    assert len(got["papers"]) == total
    assert got["papers"] == want["papers"]  # same ids, hashes, chunk and sentence counts
    assert got["chunks"] == want["chunks"]
    assert got["chunk_spans"] == want["chunk_spans"]
    assert got["sentences"] == want["sentences"]
    # No duplicated or orphaned rows: the stored rows are exactly the papers' pieces.
    for snap in (got, want):
        assert (
            snap["n_chunk_rows"]
            == len(snap["chunks"])
            == sum(p[1] for p in snap["papers"].values())
        )
        assert (
            snap["n_sentence_rows"]
            == len(snap["sentences"])
            == sum(p[2] for p in snap["papers"].values())
        )
    # The vector index survived the kill: each paper's own title finds it.
    lib = Library(partial_settings)
    papers = lib.papers()
    for pid in sorted(papers)[:: max(1, total // 8)]:
        hits = lib.query_dense(
            embedder.encode_query(papers[pid].title + "\n" + papers[pid].abstract), k=3
        )
        assert hits[0].paper_id == pid


def test_bulk_reads_are_paged_so_large_libraries_load(small_library, monkeypatch) -> None:
    """Chroma fails a get() past ~32k SQL variables; reads must page. Shrink the page to see it."""
    import assistant.store.chroma as chroma
    import assistant.store.library as store
    from assistant.retrieval.retriever import Retriever

    settings, _, _ = small_library
    library = store.Library(settings)
    whole = library.chunk_records()
    states = library.paper_states()
    monkeypatch.setattr(chroma, "READ_PAGE", 2)
    paged = library.chunk_records()
    assert paged == whole and len(whole[0]) > 4
    assert library.paper_states() == states
    assert sorted(library.sentences_for(list(states))) == sorted(states)
    got = chroma.get_all(
        library.chunks, where={"paper_id": {"$in": list(states)}}, include=["metadatas"]
    )
    assert sorted(got["ids"]) == sorted(whole[0])
    retriever = Retriever(
        settings,
        library,
        __import__("assistant.index.embeddings", fromlist=["x"]).get_embedder(settings),
    )
    assert retriever.retrieve("dense passage retrieval").hits


# --- the no-op fast path (manifest) ---------------------------------------------------
FAST = "files and library unchanged"


def took_fast_path(caplog: pytest.LogCaptureFixture) -> bool:
    return any(FAST in r.getMessage() for r in caplog.records if r.name == "ingest.pipeline")


def cli_ingest(folder: Path, data_dir: Path) -> tuple[list[str], list[str], bool]:
    """`paperlens ingest -q FOLDER` in a subprocess: stdout and stderr lines, and whether
    chromadb was imported."""
    code = (
        "import json, sys\n"
        "from paperlens.cli import main\n"
        f"main(['ingest', '-q', {str(folder)!r}])\n"
        "print(json.dumps('chromadb' in sys.modules))\n"
    )
    env = {**os.environ, "PAPERLENS_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    return out[:-1], result.stderr.splitlines(), json.loads(out[-1])


def test_unchanged_reingest_takes_the_fast_path_and_a_changed_file_the_normal_one(
    small_library, embedder, caplog: pytest.LogCaptureFixture
) -> None:
    settings, folder, _ = small_library
    caplog.set_level("INFO", logger="ingest.pipeline")
    again = ingest([folder], settings, embedder=embedder)
    assert took_fast_path(caplog)
    assert (len(again.unchanged), again.added, again.updated, again.files_read) == (
        SMALL_PAPERS,
        [],
        [],
        3,
    )
    caplog.clear()
    # New content in one file: the normal path re-embeds that paper alone.
    (folder / "sparse_denoisers.md").write_text(
        "# Sparse Denoisers for Fast Diffusion Sampling\n\nA new abstract. It is shorter.\n",
        encoding="utf-8",
    )
    report = ingest([folder], settings, embedder=embedder)
    assert not took_fast_path(caplog)
    assert report.updated == [SPARSE] and report.chunks_embedded == 1
    assert Library(settings).papers([SPARSE])[SPARSE].abstract == "A new abstract. It is shorter."
    caplog.clear()
    # That run settled the manifest: the next one is fast again, and counts as before.
    again = ingest([folder], settings, embedder=embedder)
    assert took_fast_path(caplog)
    assert len(again.unchanged) == SMALL_PAPERS and again.updated == []


def test_removed_paper_is_readded_by_the_next_ingest(small_library, embedder, caplog) -> None:
    settings, folder, _ = small_library
    caplog.set_level("INFO", logger="ingest.pipeline")
    assert remove([PLANNING], settings=settings) == [PLANNING]  # bumps the library version
    report = ingest([folder], settings, embedder=embedder)
    assert not took_fast_path(caplog)
    assert report.added == [PLANNING] and report.chunks_embedded == 1
    assert PLANNING in Library(settings).papers()


def test_another_library_never_matches_the_manifest(small_library, embedder, caplog) -> None:
    settings, folder, _ = small_library
    caplog.set_level("INFO", logger="ingest.pipeline")
    other = settings.model_copy(update={"chroma_path": settings.data_dir / "other-chroma"})
    report = ingest([folder], other, embedder=embedder)  # same data dir, same files
    assert not took_fast_path(caplog)
    assert len(report.added) == SMALL_PAPERS


def test_fast_path_reports_the_skipped_files_again(bad_folder, embedder) -> None:
    data_dir = bad_folder.parent / "data"
    first = ingest([bad_folder], Settings(data_dir=data_dir), embedder=embedder)
    assert len(first.skipped) == 10 and len(first.added) == 4
    out, err, chroma_loaded = cli_ingest(bad_folder, data_dir)
    assert not chroma_loaded
    assert re.fullmatch(
        r"added 0, updated 0, unchanged 4, skipped 10 "
        r"\(0 chunks embedded from \d+ files in \d+\.\ds\)",
        out[0],
    ), out
    assert err == [f"skipped: {path}: {reason}" for path, reason in first.skipped]

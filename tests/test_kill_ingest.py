"""`paperlens ingest` killed with SIGKILL again and again leaves a library a re-run completes
to exactly what a clean run writes (issue 11, part 5).

The real CLI in a subprocess, real embedded Chroma in one persistent data folder, the
bundled model. Each run is killed at a point of its own: at start-up, while it reads the
files, loads the model, embeds, between every two steps of a write, and while it records
its manifest. The kill points key on the lines `paperlens -v ingest` logs for each phase
(INFO) and `assistant.store.library` for each step of a write (DEBUG), plus a delay, so they land
in the same phases on a fast or a slow machine alike.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import BUNDLED_PAPERS, FIXTURE_DATA, REPO_ROOT, SMALL_FILES

from assistant.core.settings import Settings
from assistant.store.chroma import get_all
from assistant.store.library import Library

pytestmark = pytest.mark.slow


PAPERLENS = Path(sys.executable).parent / "paperlens"
# The first 16 papers of a bundled page, as the page (its parser), and the fixture corpus
# (5 papers, one listed in two files): small, as every run loads the model and embeds.
PAGE = "000_b9901c8c1c455724.txt"
PAGE_PAPERS = 16
PAPERS = PAGE_PAPERS + 5
QUESTIONS = (
    "Which papers study speculative decoding?",
    "Which papers study sparse denoisers for diffusion sampling?",
    "Which papers study reinforcement learning in Markov decision processes?",
)
# Small write and encode batches: 11 writes of 2 papers, encode windows of 16 chunks (8
# batches of 2; about 7 papers), so kills land between and inside writes, and in an
# embedding pass after papers were written.
CHILD_ENV = {"PAPERLENS_INGEST_BATCH": "2", "PAPERLENS_EMBEDDING__BATCH_SIZE": "2"}


@dataclass(frozen=True)
class Kill:
    """SIGKILL the run ``delay`` seconds after the ``nth`` log line containing ``marker``
    (no marker: ``delay`` seconds after the start)."""

    marker: str | None
    nth: int = 1
    delay: float = 0.0


# What a killed run wrote stays, so the order matters: each kill must still find its
# phase ahead. The 6th run writes the first window (about 4 of the 11 writes); runs 7-11
# die within their first write (at worst just after it), leaving run 12 writes to do
# before it exports the question encoder, and run 13 only its manifest.
KILLS = (
    Kill(None, delay=0.3),  # importing, opening the store
    Kill("reading"),  # reading and parsing the files, planning against the library
    Kill("reading", delay=0.4),
    Kill("loading the embedding model", delay=0.5),
    Kill("embedding", delay=0.2),
    Kill("embedding", nth=2, delay=0.1),  # the second window, after the first is written
    Kill("writing"),  # a write deleting a paper's old pieces
    Kill("write: old pieces"),  # ... writing its sentences
    Kill("write: sentences"),  # ... its chunks but chunk 0
    Kill("write: chunks"),  # ... the chunk 0s, the completion markers
    Kill("write: markers"),  # ... bumping the library version
    Kill("preparing the question encoder", delay=0.5),  # all written, ONNX export under way
    Kill("recording the ingest manifest"),  # everything written, manifest not yet
    Kill("reading", delay=0.2),  # nothing left to write, manifest not yet
)
PHASES = {  # last phase line seen -> the phase the run was in when it died
    "reading": "parsing",
    "loading the embedding model": "model load",
    "embedding": "embedding",
    "writing": "writing: deleting",
    "write: old pieces": "writing: sentences",
    "write: sentences": "writing: chunks",
    "write: chunks": "writing: markers",
    "write: markers": "writing: version",
    "wrote": "between writes",
    "preparing the question encoder": "question encoder",
    "recording the ingest manifest": "manifest",
}


def _corpus(folder: Path) -> Path:
    folder.mkdir()
    # A page is 10 header lines, then per paper a title, a blank, the abstract, a blank.
    lines = (BUNDLED_PAPERS / PAGE).read_text(encoding="utf-8").split("\n")
    (folder / PAGE).write_text("\n".join(lines[: 10 + 4 * PAGE_PAPERS]) + "\n", encoding="utf-8")
    for name in SMALL_FILES:
        shutil.copy(FIXTURE_DATA / name, folder / name)
    return folder


def _phase_line(line: str, marker: str) -> bool:
    # "INFO ingest.pipeline: embedding ..." (not "... loading the embedding model")
    return line.startswith(
        (f"INFO ingest.pipeline: {marker}", f"DEBUG assistant.store.library: {marker}")
    )


# The console script's own code (`paperlens = "paperlens.cli:main"`), with the store's
# write steps logged too: `-v` shows INFO, the steps are DEBUG.
CLI = (
    "import logging, sys\n"
    "logging.getLogger('assistant.store.library').setLevel(logging.DEBUG)\n"
    "from paperlens.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _run_until(kill: Kill, corpus: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run `paperlens -v ingest` and kill it as ``kill`` says; (exit code, phase at death)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CLI, "-v", "ingest", "-q", str(corpus)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stderr is not None
    lines: list[str] = []
    if kill.marker is None:
        time.sleep(kill.delay)
        child.send_signal(signal.SIGKILL)
    else:
        seen = 0
        for line in child.stderr:
            lines.append(line)
            if _phase_line(line, kill.marker):
                seen += 1
                if seen == kill.nth:
                    time.sleep(kill.delay)
                    child.send_signal(signal.SIGKILL)
                    break
    lines.extend(child.stderr)
    code = child.wait(timeout=600)
    phase = "start-up"
    for line in lines:
        for marker, name in PHASES.items():
            if _phase_line(line, marker):
                phase = name
    return code, phase


def _snapshot(settings: Settings) -> dict[str, Any]:
    """Everything the library holds, by record id (vectors separately, compared with a
    tolerance: batches of another composition give last-bit differences)."""
    lib = Library(settings)
    chunks = get_all(lib.chunks, include=["documents", "metadatas", "embeddings"])
    sentences = get_all(lib.sentences, include=["documents", "metadatas", "embeddings"])
    heads = {m["paper_id"]: m for m in chunks["metadatas"] if m["position"] == 0}
    return {
        "papers": {
            pid: (m["hash"], m["n_chunks"], m["n_sentences"], m["complete"], tuple(m["sources"]))
            for pid, m in heads.items()
        },
        "chunk_rows": dict(
            zip(
                chunks["ids"],
                zip(chunks["documents"], [m["hash"] for m in chunks["metadatas"]], strict=True),
                strict=True,
            )
        ),
        "sentence_rows": dict(zip(sentences["ids"], sentences["documents"], strict=True)),
        "counts": (lib.chunks.count(), lib.sentences.count()),
        "chunk_vectors": dict(zip(chunks["ids"], chunks["embeddings"], strict=True)),
        "sentence_vectors": dict(zip(sentences["ids"], sentences["embeddings"], strict=True)),
    }


def _cited_titles(settings: Settings, embedder) -> list[list[str]]:
    from assistant import Assistant

    with Assistant(settings, embedder=embedder) as bot:
        out = []
        for question in QUESTIONS:
            bot.reset()
            out.append([c.title for c in bot.ask(question).citations])
    return out


def test_ingest_killed_at_every_phase_completes_to_the_clean_library(
    tmp_path: Path, embedder
) -> None:
    from ingest import ingest

    corpus = _corpus(tmp_path / "corpus")
    killed = Settings(data_dir=tmp_path / "killed")
    env = {**os.environ, **CHILD_ENV, "PAPERLENS_DATA_DIR": str(killed.data_dir)}

    outcomes = [_run_until(kill, corpus, env) for kill in KILLS]
    kills = [phase for code, phase in outcomes if code == -signal.SIGKILL]
    print("kill-9 loop:", outcomes)  # shown with -s: which phase each kill hit
    assert len(kills) >= 10, outcomes
    wanted = {"parsing", "embedding", "writing: chunks", "writing: markers", "manifest"}
    assert wanted <= set(kills), outcomes

    final = subprocess.run(
        [str(PAPERLENS), "ingest", "-q", str(corpus)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert final.returncode == 0, final.stderr
    assert final.stderr == ""

    clean = Settings(data_dir=tmp_path / "clean")
    report = ingest([corpus], clean, embedder=embedder)
    assert len(report.added) == PAPERS and report.skipped == []

    got, want = _snapshot(killed), _snapshot(clean)
    assert got["papers"] == want["papers"]  # ids, hashes, chunk and sentence counts, sources
    assert got["chunk_rows"] == want["chunk_rows"]  # no chunk lost, none left over
    assert got["sentence_rows"] == want["sentence_rows"]
    assert got["counts"] == want["counts"] == (len(want["chunk_rows"]), len(want["sentence_rows"]))
    for kind in ("chunk_vectors", "sentence_vectors"):
        ids = sorted(want[kind])
        np.testing.assert_allclose(
            np.asarray([got[kind][i] for i in ids]),
            np.asarray([want[kind][i] for i in ids]),
            atol=1e-4,
        )
    # The vector index itself (not only the metadata table): every chunk finds itself.
    lib = Library(killed)
    for cid, vector in want["chunk_vectors"].items():
        assert lib.chunks.query(query_embeddings=[vector], n_results=1, include=[])["ids"][0] == [
            cid
        ]

    titles = _cited_titles(killed, embedder)
    assert all(titles), titles
    assert titles == _cited_titles(clean, embedder)

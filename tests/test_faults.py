"""Faults a user meets, each a one-line `PaperLensError` that names the fix (issue 11, part 4).

- a Chroma server killed mid-ingest, and under a loaded `Assistant` (real `chroma run`,
  this module's own instance, killed by its PID and restarted on the same port and path);
- a folder that cannot be listed (really unreadable, also for root: see the test);
- a file over the size limit: the exact limit and the setting that raises it;
- a question that is not a `str`;
- a question that is not English (the bundled model reads English only).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT, SMALL_PAPERS
from servers import ServerProcess, start_chroma_server

from assistant.answering.questions import looks_english
from assistant.core.errors import IngestError, InvalidQuestionError, StoreUnavailableError
from assistant.core.settings import Settings
from assistant.store.library import Library
from ingest import ingest, parse_file

PAPERLENS = Path(sys.executable).parent / "paperlens"
CHROMA = Path(sys.executable).parent / "chroma"
QUESTION = "Which papers study sparse denoisers for diffusion sampling?"
SPARSE_TITLE = "Sparse Denoisers for Fast Diffusion Sampling"


def unreachable_message(port: int) -> re.Pattern[str]:
    """The one line a lost server gives; the cause depends on when the socket died."""
    return re.compile(
        rf"Cannot reach the Chroma server at 127\.0\.0\.1:{port} "
        r"\((ConnectError|ReadError|WriteError|RemoteProtocolError|ConnectTimeout|ReadTimeout)"
        r"[^()]*\) "
        rf"- start it with 'chroma run --path DIR --host 127\.0\.0\.1 --port {port}' or set "
        r"PAPERLENS_CHROMA_HOST/PAPERLENS_CHROMA_PORT to a running server\."
    )


class ChromaOfOurOwn:
    """A `chroma run` only this test talks to: killed by its PID, restarted on the same
    port and data folder (the session's shared server must not be killed)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server: ServerProcess = start_chroma_server(folder, CHROMA)
        self.port = self.server.port
        self.starts = 1

    def kill(self) -> None:
        os.killpg(self.server.pid, signal.SIGKILL)
        assert self.server.proc is not None
        self.server.proc.wait(timeout=30)

    def restart(self) -> None:
        self.starts += 1
        old = self.server
        self.server = ServerProcess(
            old.cmd,
            old.port,
            old.ready_path,
            self.folder,
            name=f"chroma-{self.starts}",
            env=old.env,
        ).start()

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def own_chroma(tmp_path: Path) -> Iterator[ChromaOfOurOwn]:
    chroma = ChromaOfOurOwn(tmp_path / "own-chroma")
    try:
        yield chroma
    finally:
        chroma.stop()


def server_env(port: int) -> dict[str, str]:
    return {**os.environ, "PAPERLENS_CHROMA_HOST": "127.0.0.1", "PAPERLENS_CHROMA_PORT": str(port)}


@pytest.mark.server
def test_chroma_server_killed_mid_ingest_is_one_line_and_the_rerun_completes(
    own_chroma: ChromaOfOurOwn, small_corpus: Path
) -> None:
    """Before: an 81-line httpx traceback. The server dies while the CLI loads the model,
    after it read the library: the first write finds it gone."""
    env = server_env(own_chroma.port)
    child = subprocess.Popen(
        [str(PAPERLENS), "-v", "ingest", "-q", str(small_corpus)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stderr is not None
    seen = []
    for line in child.stderr:
        seen.append(line)
        if "loading the embedding model" in line:
            own_chroma.kill()
            break
    out, err = child.communicate(timeout=300)
    lines = [*seen, *err.splitlines(keepends=True)]
    assert child.returncode == 1, "".join(lines)
    assert "Traceback" not in "".join(lines)
    last = lines[-1].rstrip("\n")
    assert last.startswith("paperlens: ") and unreachable_message(own_chroma.port).fullmatch(
        last.removeprefix("paperlens: ")
    ), last

    own_chroma.restart()
    again = subprocess.run(
        [str(PAPERLENS), "ingest", "-q", str(small_corpus)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(
        f"added {SMALL_PAPERS}, updated 0, unchanged 0, skipped 0 (6 chunks"
    )
    settings = Settings(chroma_host="127.0.0.1", chroma_port=own_chroma.port)
    stats = Library(settings).stats()
    assert (stats.papers, stats.chunks, stats.sentences) == (SMALL_PAPERS, 6, 20)


@pytest.mark.server
def test_assistant_whose_server_went_down_says_so_and_recovers(
    own_chroma: ChromaOfOurOwn, small_corpus: Path, embedder, tmp_path: Path
) -> None:
    """Before: `Assistant.ask` raised a raw `httpx.ConnectError`."""
    from assistant import Assistant

    settings = Settings(
        chroma_host="127.0.0.1", chroma_port=own_chroma.port, data_dir=tmp_path / "data",
        retrieval={"version_check_seconds": 0.0},  # every question asks the server
    )  # fmt: skip
    ingest([small_corpus], settings, embedder=embedder)
    bot = Assistant(settings, embedder=embedder)
    first = [c.title for c in bot.ask(QUESTION).citations]
    assert SPARSE_TITLE in first

    own_chroma.kill()
    with pytest.raises(StoreUnavailableError) as info:
        bot.ask(QUESTION)
    assert unreachable_message(own_chroma.port).fullmatch(str(info.value)), str(info.value)
    with pytest.raises(StoreUnavailableError):
        bot.library.stats()

    own_chroma.restart()
    assert [c.title for c in bot.ask(QUESTION).citations] == first
    assert bot.library.stats().papers == SMALL_PAPERS


def _unreadable_for_this_process() -> list[str]:
    """A command prefix under which a `chmod 000` folder really cannot be listed.

    Tests run as root here, and root reads a mode-000 folder (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH). `setpriv` drops both from the child's capability bounding set,
    so the kernel refuses it as it would refuse any user: a real EACCES, no fake.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a folder unreadable")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]


def test_unreadable_folder_is_reported_as_skipped(tmp_path: Path) -> None:
    """Before: exit 1 with "added 0, ..., skipped 0" and not a word about the folder."""
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "paper.md").write_text("# A Title\n\nAn abstract.\n", encoding="utf-8")
    parent = tmp_path / "parent"
    (parent / "inner").mkdir(parents=True)
    (parent / "inner" / "paper.md").write_text("# A Title\n\nAn abstract.\n", encoding="utf-8")
    locked.chmod(0)
    (parent / "inner").chmod(0)
    try:
        result = subprocess.run(
            [
                *_unreadable_for_this_process(),
                str(PAPERLENS), "ingest", "-q", str(locked), str(parent),
            ],
            cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        locked.chmod(0o755)
        (parent / "inner").chmod(0o755)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"skipped: {locked}: unreadable folder (Permission denied)",
        f"skipped: {parent / 'inner'}: unreadable folder (Permission denied)",
    ]
    assert result.stdout.startswith(
        "added 0, updated 0, unchanged 0, skipped 2 (0 chunks embedded from 0 files"
    )


def _sparse_file(path: Path, size: int) -> Path:
    with path.open("wb") as fh:  # a hole: no 50 MiB written to disk
        fh.truncate(size)
    return path


def test_file_over_the_size_limit_prints_the_exact_limit_and_its_setting(tmp_path: Path) -> None:
    """Before: "file too large (52 MB > 52 MB)" for a file one byte over, and no setting."""
    big = _sparse_file(tmp_path / "big.jsonl", 50 * 2**20 + 1)
    with pytest.raises(IngestError) as info:
        parse_file(big)
    assert info.value.reason == (
        "file too large: 52,428,801 bytes, over the limit of 52,428,800 bytes (50 MiB) - "
        "raise the limit with PAPERLENS_INGEST__MAX_FILE_MB"
    )
    pdf = _sparse_file(tmp_path / "big.pdf", 200 * 2**20 + 1)
    with pytest.raises(IngestError) as info:
        parse_file(pdf)
    assert info.value.reason == (
        "file too large: 209,715,201 bytes, over the limit of 209,715,200 bytes (200 MiB) - "
        "raise the limit with PAPERLENS_INGEST__MAX_PDF_MB"
    )


def test_raising_the_size_limit_setting_ingests_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder
) -> None:
    """The setting the message names works, and a re-run after raising it is not answered
    from the previous run's manifest (which skipped the file)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    record = {
        "title": SPARSE_TITLE,
        "abstract": "Sparse denoisers cut the cost of diffusion sampling. " * 30,
    }
    paper = corpus / "paper.json"
    paper.write_text(json.dumps(record), encoding="utf-8")
    size = paper.stat().st_size
    monkeypatch.setenv("PAPERLENS_INGEST__MAX_FILE_MB", "0.001")  # 1,048 bytes
    small = ingest([corpus], Settings(), embedder=embedder)
    assert small.skipped == [(str(paper), (
        f"file too large: {size:,} bytes, over the limit of 1,048 bytes (0.001 MiB) - "
        "raise the limit with PAPERLENS_INGEST__MAX_FILE_MB"
    ))]  # fmt: skip
    monkeypatch.setenv("PAPERLENS_INGEST__MAX_FILE_MB", "1")
    raised = ingest([corpus], Settings(), embedder=embedder)
    assert raised.skipped == [] and len(raised.added) == 1


@pytest.mark.parametrize(
    ("question", "got"),
    [(None, "None"), (b"Which papers study RLHF?", "bytes"), (42, "int"), (["RLHF"], "list")],
)
def test_a_question_that_is_not_text_is_a_clear_error(
    small_library, embedder, question: object, got: str
) -> None:
    """Before: raw AttributeError/TypeError from inside `ask` (None was taken as empty)."""
    from assistant import Assistant

    settings, _, _ = small_library
    bot = Assistant(settings, embedder=embedder)
    with pytest.raises(InvalidQuestionError) as info:
        bot.ask(question)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"The question must be text (str), got {got} - pass a string, e.g. "
        'ask("Which papers study speculative decoding?").'
    )
    assert bot.history == []


NON_ENGLISH = [
    "Welche Arbeiten untersuchen spekulatives Dekodieren?",
    "Welche Papiere befassen sich mit der Quantisierung von neuronalen Netzen?",
    "Wie funktioniert die Belohnungsmodellierung bei RLHF?",
    "Quels articles étudient le décodage spéculatif ?",
    "Quelles sont les méthodes pour la quantification des réseaux de neurones ?",
    "Comment fonctionne l'optimisation bayésienne ?",
    "¿Qué artículos estudian la decodificación especulativa?",
    "¿Cuáles son los métodos de cuantización de redes neuronales?",
    "Quali articoli studiano la decodifica speculativa?",
    "Quais artigos estudam decodificação especulativa?",
    "哪些论文研究推测解码？",
    "关于扩散模型的论文有哪些？",
    "Какие статьи изучают спекулятивное декодирование?",
    "Что такое байесовская оптимизация?",
    "投機的デコーディングを研究している論文はどれですか？",
]
LANGUAGE_NOTICE = (
    "This question does not look like English: the embedding model (all-MiniLM-L6-v2) reads "
    "English only, so papers may be missed - ask in English, or set PAPERLENS_EMBEDDING__MODEL "
    "to a multilingual model."
)


def test_language_check_flags_no_english_eval_question_and_every_foreign_one() -> None:
    english = [
        json.loads(line)["question"] for line in (REPO_ROOT / "evals/data/questions.jsonl").open()
    ]
    english += [
        "and which of those use a draft tree?",
        "What is the Schrödinger bridge in Du et al.?",
    ]
    assert [q for q in english if not looks_english(q)] == []
    assert [q for q in NON_ENGLISH if looks_english(q)] == []


def test_a_question_in_another_language_gets_a_notice(small_library, embedder) -> None:
    """Before: a bare "no paper", with no hint that the model reads English only."""
    from assistant import Assistant

    settings, _, _ = small_library
    bot = Assistant(settings, embedder=embedder)
    for question in (NON_ENGLISH[0], NON_ENGLISH[3], NON_ENGLISH[10]):
        assert LANGUAGE_NOTICE in bot.ask(question).notices, question
    assert LANGUAGE_NOTICE not in bot.ask(QUESTION).notices

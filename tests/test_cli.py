"""The `paperlens` command line, run as a user runs it: a subprocess of the console script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from assistant.core.settings import Settings

PAPERLENS = Path(sys.executable).parent / "paperlens"
HEAVY = (
    "torch",
    "chromadb",
    "gradio",
    "sentence_transformers",
    "transformers",
    "llama_index",
    "openai",
)


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # The environment is the test's: PAPERLENS_DATA_DIR points into tmp_path.
    return subprocess.run(
        [str(PAPERLENS), *args],
        cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_help_lists_the_commands() -> None:
    result = run("--help", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: paperlens")
    for command in ("ingest", "library", "remove", "ask", "eval"):
        assert command in result.stdout


def test_importing_the_packages_loads_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import assistant, ingest, paperlens.cli\n"
        "from assistant import Settings, get_settings\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


@pytest.mark.slow
def test_ingest_prints_the_summary_and_library_the_counts(
    isolated_state: Path, small_corpus: Path
) -> None:
    result = run("ingest", str(small_corpus))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        r"added 5, updated 0, unchanged 0, skipped 0 "
        r"\(6 chunks embedded from 3 files in \d+\.\ds\)",
        lines[0],
    ), lines
    assert lines[1] == f"library: {isolated_state / 'chroma'}"
    assert "skipped:" not in result.stderr

    result = run("library")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "papers:     5",
        "chunks:     6",
        "sentences:  20",
        "model:      all-MiniLM-L6-v2",
        f"location:   {isolated_state / 'chroma'}",
        f"collection: {Settings().index_name()}",
        "sources:",
        "  agents.json: 2 papers",
        "  retrieval.jsonl: 3 papers",
        "  sparse_denoisers.md: 1 papers",
    ]

    result = run("ingest", "-q", str(small_corpus))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added 0, updated 0, unchanged 5, skipped 0 (0 chunks embedded")


def test_ingest_of_a_missing_path_is_reported_and_fails(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    result = run("ingest", str(missing))
    assert result.returncode == 1
    assert f"skipped: {missing}: no such file or folder" in result.stderr.splitlines()
    assert result.stdout.startswith(
        "added 0, updated 0, unchanged 0, skipped 1 (0 chunks embedded from 0 files"
    )
    assert "Traceback" not in result.stderr


def test_remove_without_ids_or_source_is_a_usage_error() -> None:
    result = run("remove", timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "paperlens remove: give paper ids or --source FILE"


def test_reingest_of_an_unchanged_folder_loads_no_model_and_no_chroma(small_library) -> None:
    """Nothing to embed, nothing changed since the last run: the manifest answers, so
    neither the model libraries nor chromadb (~1.2 s of import) are loaded."""
    settings, corpus, _ = small_library
    model_libraries = ("torch", "sentence_transformers", "transformers", "llama_index", "tqdm")
    code = (
        "import json, sys\n"
        "from paperlens.cli import main\n"
        f"status = main(['ingest', '-q', {str(corpus)!r}])\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({model_libraries!r}))\n"
        "print(json.dumps([status, loaded, 'chromadb' in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert json.loads(lines[-1]) == [0, [], False]
    # The same line as the normal path's (a library passed in never takes the fast path).
    from assistant.store.library import Library
    from ingest import ingest

    normal = ingest([corpus], settings, library=Library(settings))
    assert len(normal.unchanged) == 5
    timing = re.compile(r" in \d+\.\ds\)")
    assert timing.sub("", lines[0]) == timing.sub("", normal.summary())
    assert lines[1] == f"library: {settings.store_location}"

"""The embedder: ONNX question vectors equal the torch ones, cold asks skip torch, and the
ONNX export happens at ingest, quietly and safely under concurrency."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.core.settings import Settings
from assistant.index import onnx_query
from assistant.index.embeddings import Embedder, resolve_model_path
from assistant.index.onnx_query import OnnxQueryEncoder

TEXTS = [
    "Which papers study speculative decoding?",
    "How do SqueezeLLM and VQ4DiT differ in their quantization approach?",
    "draft-then-verify decoding " * 80,  # longer than the model's 256 word pieces: truncated alike
]


def test_onnx_question_vectors_equal_the_torch_ones(tmp_path):
    onnx = Embedder(cache_dir=tmp_path, query_runtime="onnx")
    torch_only = Embedder(cache_dir=tmp_path, query_runtime="torch")
    for text in TEXTS:
        a, b = onnx.encode_query(text), torch_only.encode_query(text)
        assert float(a @ b) > 0.9999, text[:40]
        assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert isinstance(onnx._query_encoder(), OnnxQueryEncoder)
    assert list(tmp_path.glob("query-encoder-*.onnx"))
    assert torch_only._query_encoder() is None


def test_a_cold_ask_loads_no_torch_once_the_encoder_is_cached(bundled_library):
    settings, _ = bundled_library
    env = {**os.environ, "PAPERLENS_DATA_DIR": str(settings.data_dir)}
    probe = (
        "import sys; from assistant import ask; "
        "a = ask('Which papers study speculative decoding?'); "
        "print(len(a.citations), 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.split()
    run()  # the first ask may export the encoder (that one needs torch)
    cited, torch_loaded, st_loaded = run()
    assert int(cited) >= 5
    assert (torch_loaded, st_loaded) == ("False", "False")


def _warning_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(r"Warning\b", line)]


@pytest.mark.slow
def test_the_first_question_after_a_first_ingest_is_quiet(small_corpus, isolated_state):
    """A new user's first runs: `paperlens ingest` into a fresh data dir exports the ONNX
    question encoder, quietly, so the first `paperlens ask` neither exports it (a torch
    trace) nor prints a warning; neither command shows one."""
    env = dict(os.environ)  # the test's own, fresh PAPERLENS_DATA_DIR
    cli = [sys.executable, "-m", "paperlens"]
    ingest = subprocess.run(
        [*cli, "ingest", str(small_corpus)], env=env, capture_output=True, text=True, timeout=600
    )
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    assert _warning_lines(ingest.stdout + ingest.stderr) == []
    # Keyed by the model folder, its weights' names/sizes/mtimes and the exporter version,
    # under the data dir's cache/ (`onnx_query.cache_path`).
    model_dir = resolve_model_path(Settings().embedding.model)
    exported = onnx_query.cache_path(model_dir, isolated_state / "cache")
    assert exported.is_file()
    assert list(exported.parent.glob("*.tmp")) == []
    stamp = exported.stat().st_mtime_ns

    ask = subprocess.run(
        [*cli, "ask", "Which papers plan with tool-using agents?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ask.returncode == 0, ask.stderr[-2000:]
    assert "Planning with Tool-Using Language Agents" in ask.stdout
    assert _warning_lines(ask.stdout + ask.stderr) == []
    assert exported.stat().st_mtime_ns == stamp  # answered with the ingest's export


@pytest.mark.slow
def test_two_processes_exporting_at_once_leave_one_whole_encoder(tmp_path):
    """Each exporter writes its own temporary file and renames it into place: two
    processes exporting into one cache at once both succeed and leave a loadable file."""
    probe = (
        "import sys; from pathlib import Path; from assistant.index.embeddings import Embedder; "
        "e = Embedder(cache_dir=Path(sys.argv[1])); e.model; "
        "Path(sys.argv[2]).touch(); "  # loaded: wait for the other, then export together
        "import time\nwhile not Path(sys.argv[3]).exists(): time.sleep(0.05)\n"
        "print(e.export_query_encoder())"
    )
    cache = tmp_path / "cache"
    ready = [tmp_path / "a.ready", tmp_path / "b.ready"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", probe, str(cache), str(mine), str(other)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mine, other in (ready, ready[::-1])
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-1000:] for _, err in outputs]
    files = {out.strip() for out, _ in outputs}
    assert len(files) == 1 and files != {"None"}
    assert [f.name for f in cache.iterdir()] == [Path(files.pop()).name]  # no temporary left
    onnx = Embedder(cache_dir=cache)
    torch_only = Embedder(cache_dir=cache, query_runtime="torch")
    assert isinstance(onnx._query_encoder(), OnnxQueryEncoder)
    text = TEXTS[0]
    assert float(onnx.encode_query(text) @ torch_only.encode_query(text)) > 0.9999

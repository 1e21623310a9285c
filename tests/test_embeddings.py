"""The embedding seam: ONNX question vectors equal the torch ones, and cold asks skip torch."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from assistant.onnx_query import OnnxQueryEncoder
from assistant.embeddings import Embedder

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
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300, check=True
    ).stdout.split()
    run()  # the first ask may export the encoder (that one needs torch)
    cited, torch_loaded, st_loaded = run()
    assert int(cited) >= 5
    assert (torch_loaded, st_loaded) == ("False", "False")

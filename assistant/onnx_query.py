"""Question embeddings through ONNX Runtime: the same vectors, a third of the time, no torch.

A question is one short text, where torch's per-call overhead dominates (measured here:
23 ms per question with torch, 7.6 ms with ONNX Runtime, cosine 1.0 between the two). The
model is exported once with torch (`torch.onnx.export`, about 2 s) into the cache folder;
later processes answer questions without importing torch at all, which is most of a cold
start. Only models whose sentence-transformers pipeline is mean pooling + normalisation
are exported; anything else keeps the torch path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EXPORT_VERSION = "1"


def supports(model_dir: Path) -> bool:
    """Whether the model is a transformer + mean pooling (+ normalise) pipeline."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        config = json.loads((model_dir / pooling / "config.json").read_text())
    except (OSError, ValueError, StopIteration, KeyError):
        return False
    mean_only = config.get("pooling_mode_mean_tokens") and not any(
        config.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    )
    return kinds in (["Transformer", "Pooling", "Normalize"],) and bool(mean_only) and (model_dir / "tokenizer.json").exists()


def cache_path(model_dir: Path, cache_dir: Path) -> Path:
    weights = sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin"))
    stamp = "|".join(f"{w.name}:{w.stat().st_size}:{int(w.stat().st_mtime)}" for w in weights)
    digest = hashlib.sha1(f"{model_dir}|{stamp}|{EXPORT_VERSION}".encode()).hexdigest()[:12]
    return cache_dir / f"query-encoder-{digest}.onnx"


def export(st_model: Any, path: Path) -> None:
    """Write the transformer of a loaded SentenceTransformer as ONNX (atomically)."""
    import torch

    bert = st_model[0].auto_model

    class _LastHidden(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    sample = st_model.tokenizer(["a question"], return_tensors="pt")
    axes = {0: "batch", 1: "tokens"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.onnx.export(
        _LastHidden(bert).eval(),
        (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
        str(tmp),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
        opset_version=17,
        dynamo=False,
    )
    tmp.replace(path)


class OnnxQueryEncoder:
    """Mean-pooled, normalised embeddings of single texts with ONNX Runtime."""

    def __init__(self, onnx_path: Path, model_dir: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one short text: a second thread only adds contention
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        max_len = int(json.loads((model_dir / "sentence_bert_config.json").read_text()).get("max_seq_length", 256))
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_len)
        self._lock = threading.Lock()

    def encode(self, text: str) -> np.ndarray:
        enc = self.tokenizer.encode(text)
        ids = np.asarray([enc.ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        with self._lock:
            hidden = self.session.run(None, feeds)[0][0]
        vec = hidden.mean(axis=0)
        return (vec / (np.linalg.norm(vec) or 1.0)).astype(np.float32)

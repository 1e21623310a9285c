"""Warm query latency on the bundled library: `Assistant.ask` (extractive) and
`Retriever.retrieve`, next to plain llama-index retrieval, in one process.

For each question of evals/data/questions.jsonl, in turn (interleaved, so a burst of load
on a shared machine hits all three alike):
- ``retrieve``: `Retriever.retrieve(q)` - question embedding, dense + BM25, paper scoring;
- ``retrieve (vector given)``: the same with the question vector precomputed;
- ``ask``: `Assistant.ask(q, mode="extractive")` after `reset()` - the whole answer;
- ``llama-index``: `VectorStoreIndex(...).as_retriever(similarity_top_k=10).retrieve(q)`
  over the same papers in a `ChromaVectorStore` (reused from ingest_throughput when the
  same --out folder holds it).
Everything is warmed with one question first. ``ask`` is broken down by the per-stage
timings its `Answer` carries.

Usage: python -m benchmarks.query_latency --out artifacts/bench [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    MODEL,
    Run,
    bundled_papers,
    ensure_library,
    fmt_ms,
    offline_env,
    questions,
    ratio,
    stats_ms,
    target,
    work_dir,
)


def llama_index_retriever(out: Path | None, top_k: int = 10) -> tuple[Any, dict[str, Any]]:
    """A llama-index retriever over the bundled papers in Chroma (built if not there yet)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Settings as LISettings
    from llama_index.core import VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.index.embeddings import resolve_model_path
    from benchmarks.ingest_throughput import llama_index_ingest

    with contextlib.redirect_stdout(io.StringIO()):
        LISettings.llm = None
    embed = HuggingFaceEmbedding(model_name=str(resolve_model_path(MODEL)), device="cpu")
    chroma_dir = work_dir(out, "llamaindex") / "chroma"
    info: dict[str, Any] = {"reused": True}
    client = chromadb.PersistentClient(
        path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False)
    )
    coll = client.get_or_create_collection("llamaindex-bench")
    if coll.count() == 0:
        clock, _, _ = llama_index_ingest(bundled_papers(), chroma_dir, embed)
        info = {"reused": False, "build_s": round(clock.wall, 1)}
        coll = client.get_or_create_collection("llamaindex-bench")
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=coll), embed_model=embed
    )
    info["nodes"] = coll.count()
    return index.as_retriever(similarity_top_k=top_k), info


def measure(
    libraries: dict[str, Any],
    qs: list[str],
    rounds: int,
    li_retriever: Any | None = None,
    deadline: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Latency samples and ask's stage breakdown per library (name -> settings).

    Libraries are measured question by question in turn, so a burst of load on a shared
    machine hits them all alike and their ratios stay meaningful. Past ``deadline`` (a
    `time.perf_counter()`) no new question is started: every library has then been timed
    on the same questions, and each one's ``n`` says how many.
    """
    from assistant import Assistant

    bots = {name: Assistant(settings) for name, settings in libraries.items()}
    out: dict[str, dict[str, Any]] = {}
    samples: dict[str, dict[str, list[float]]] = {}
    stages: dict[str, dict[str, list[float]]] = {name: {} for name in bots}
    for name, bot in bots.items():
        # Warm path: the model is loaded first (cold_start measures loading on its own).
        bot.embedder.model  # noqa: B018
        t = time.perf_counter()
        bot.ask(qs[0], mode="extractive")  # loads BM25, the in-memory vectors, the model
        out[name] = {"warmup_s": round(time.perf_counter() - t, 2)}
        samples[name] = {"retrieve": [], "retrieve_vector_given": [], "ask": []}
    any_bot = next(iter(bots.values()))
    vectors = {q: any_bot.embedder.encode_query(q) for q in qs}
    if li_retriever is not None:
        li_retriever.retrieve(qs[0])
        samples["llama_index"] = {"retrieve": []}
    for q in [q for _ in range(rounds) for q in qs]:
        if deadline is not None and time.perf_counter() > deadline:
            break
        for name, bot in bots.items():
            s = samples[name]
            t = time.perf_counter()
            bot.retriever.retrieve(q)
            s["retrieve"].append(time.perf_counter() - t)
            t = time.perf_counter()
            bot.retriever.retrieve(q, query_vector=vectors[q])
            s["retrieve_vector_given"].append(time.perf_counter() - t)
            bot.reset()
            t = time.perf_counter()
            answer = bot.ask(q, mode="extractive")
            s["ask"].append(time.perf_counter() - t)
            for k, v in answer.timings.items():
                stages[name].setdefault(k, []).append(v)
        if li_retriever is not None:
            t = time.perf_counter()
            li_retriever.retrieve(q)
            samples["llama_index"]["retrieve"].append(time.perf_counter() - t)
    for name, per in samples.items():
        out.setdefault(name, {}).update({k: stats_ms(v) for k, v in per.items()})
        if name in stages:
            n = max(len(per["ask"]), 1)
            out[name]["ask_stages_mean_ms"] = {
                k: round(sum(v) / n, 2) for k, v in stages[name].items()
            }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=2, help="passes over the question set")
    ap.add_argument(
        "--budget-s", type=float, default=None, help="time budget; past it: a partial result"
    )
    args = ap.parse_args(argv)
    offline_env()
    run = Run("query_latency", args.out, args.budget_s)
    settings = ensure_library(work_dir(args.out, "library"))
    qs = questions()
    li, li_info = llama_index_retriever(args.out)
    got = measure({"paperlens": settings}, qs, args.rounds, li, deadline=run.deadline(10))
    res = got["paperlens"]
    res["llama_index"] = got["llama_index"]["retrieve"]
    timed = res["ask"].get("n", 0)
    if timed < len(qs) * args.rounds:
        run.partial(f"{timed} questions", f"{len(qs) * args.rounds}")
    run["questions"] = len(qs)
    run["rounds"] = args.rounds
    run["llama_index"] = li_info
    run.data.update(res)
    for key in ("retrieve", "retrieve_vector_given", "ask", "llama_index"):
        s = res[key]
        print(
            f"  {key:24s} p50 {fmt_ms(s.get('p50'))} ms  p95 {fmt_ms(s.get('p95'))} ms  "
            f"(n={s.get('n', 0)})"
        )
    stages = res["ask_stages_mean_ms"]
    print("  ask stages, mean ms: " + ", ".join(f"{k} {v}" for k, v in stages.items()))
    run["ratios"] = {
        "retrieve_over_llama_index_p50": ratio(
            res["retrieve"].get("p50"), res["llama_index"].get("p50")
        ),
        "ask_over_llama_index_p50": ratio(res["ask"].get("p50"), res["llama_index"].get("p50")),
        "embed_share_of_ask": ratio(stages.get("embed"), stages.get("total_ms")),
    }
    print(f"  ratios: {run['ratios']}")
    run["targets"] = {
        "retrieve_p50_ms": target(res["retrieve"].get("p50"), "<", 20),
        "ask_p50_ms": target(res["ask"].get("p50"), "<", 50),
    }
    return run.finish()


if __name__ == "__main__":
    main()

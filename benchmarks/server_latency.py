"""Query latency with the library on a Chroma server (`chroma run`) vs embedded Chroma.

The server is started on 127.0.0.1 with a free port over a *copy* of the embedded
library's folder (the same vectors, no re-embedding) and stopped by its own PID. Both
libraries are then measured question by question in turn, in one process, twice:
- default settings: retrieval holds the vectors in memory, so the store is only asked
  whether the library changed (at most once a second) and for paper records;
- ``memory_max_vectors=0``: every dense search goes to the store - the path a library
  above the in-memory limit takes - so the server's round trips show in full.

Usage: python -m benchmarks.server_latency --out artifacts/bench [--rounds 1]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Run, ensure_library, offline_env, questions, ratio, work_dir
from benchmarks.query_latency import measure


def chroma_exe() -> str:
    exe = Path(sys.executable).parent / "chroma"
    if exe.exists():
        return str(exe)
    found = shutil.which("chroma")
    if not found:
        raise SystemExit("the `chroma` command is missing - it comes with `pip install chromadb`")
    return found


def start_server(tmp: Path, library_chroma: Path) -> Any:
    """`chroma run` over a copy of ``library_chroma`` (tests/servers.py does the waiting)."""
    sys.path.insert(0, str(REPO / "tests"))
    from servers import start_chroma_server

    shutil.copytree(library_chroma, tmp / "chroma-data")
    return start_chroma_server(tmp, chroma_exe(), timeout=120)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args(argv)
    offline_env()
    run = Run("server_latency", args.out)
    embedded = ensure_library(work_dir(args.out, "library"))
    qs = questions()
    with tempfile.TemporaryDirectory(prefix="paperlens-chroma-") as tmp:
        t = time.perf_counter()
        server = start_server(Path(tmp), embedded.resolved_chroma_path)
        run["server_start_s"] = round(time.perf_counter() - t, 2)
        try:
            remote = _server_copy(run, embedded, server, Path(tmp))
            libs = {
                "embedded": embedded,
                "server": remote,
                "embedded_store_query": _store_path(embedded),
                "server_store_query": _store_path(remote),
            }
            res = measure(libs, qs, args.rounds)
        finally:
            server.stop()
    run["questions"] = len(qs)
    run["rounds"] = args.rounds
    run.data.update(res)
    for name, r in res.items():
        print(
            f"  {name:22s} retrieve p50 {r['retrieve']['p50']:7.1f} p95 "
            f"{r['retrieve']['p95']:7.1f} | "
            f"ask p50 {r['ask']['p50']:7.1f} p95 {r['ask']['p95']:7.1f} ms"
        )
    run["ratios"] = _ratios(res)
    print(f"  ratios: {run['ratios']}")
    return run.finish()


def _server_copy(run: Run, embedded: Any, server: Any, tmp: Path) -> Any:
    """Settings for the library on ``server``, checked to hold what the embedded one holds."""
    from assistant import Library

    remote = embedded.model_copy(
        update={
            "chroma_host": "127.0.0.1",
            "chroma_port": server.port,
            "data_dir": tmp / "data",
        }
    )
    # The copy must hold the same library, or the comparison means nothing.
    a, b = Library(embedded).stats(), Library(remote).stats()
    run["library"] = {"papers": a.papers, "chunks": a.chunks, "sentences": a.sentences}
    if (a.papers, a.chunks, a.sentences) != (b.papers, b.chunks, b.sentences):
        raise SystemExit(f"server copy differs: {a} vs {b}")
    print(
        f"  chroma server pid {server.pid} on port {server.port}, ready in "
        f"{run['server_start_s']}s; {a.papers} papers, {a.chunks} chunks"
    )
    return remote


def _store_path(s: Any) -> Any:
    """``s`` with no vectors held in memory: every dense search goes to the store."""
    return s.model_copy(
        update={"retrieval": s.retrieval.model_copy(update={"memory_max_vectors": 0})}
    )


def _ratios(res: dict[str, Any]) -> dict[str, Any]:
    """Server over embedded, and store queries over in-memory search, at the median."""
    return {
        "server_over_embedded_retrieve_p50": ratio(
            res["server"]["retrieve"]["p50"], res["embedded"]["retrieve"]["p50"]
        ),
        "server_over_embedded_ask_p50": ratio(
            res["server"]["ask"]["p50"], res["embedded"]["ask"]["p50"]
        ),
        "server_over_embedded_store_query_retrieve_p50": ratio(
            res["server_store_query"]["retrieve"]["p50"],
            res["embedded_store_query"]["retrieve"]["p50"],
        ),
        "store_query_over_in_memory_retrieve_p50": ratio(
            res["embedded_store_query"]["retrieve"]["p50"], res["embedded"]["retrieve"]["p50"]
        ),
    }


if __name__ == "__main__":
    main()

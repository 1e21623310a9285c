"""Query latency with the library on a Chroma server (`chroma run`) vs embedded Chroma.

The server is started on 127.0.0.1 with a free port over a *copy* of the embedded
library's folder (the same vectors, no re-embedding) and stopped by its own PID. Both
libraries are then measured question by question in turn, in one process, twice:
- default settings: retrieval holds the vectors in memory, so the store is only asked
  whether the library changed (at most once a second) and for paper records;
- ``memory_max_vectors=0``: every dense search goes to the store - the path a library
  above the in-memory limit takes - so the server's round trips show in full.

Within ``--budget-s`` (run_all gives it one): when the time runs out, no new question is
started, the server is stopped and the figures of the questions timed so far are reported,
marked partial (every library timed on the same questions, so the ratios hold).

Usage: python -m benchmarks.server_latency --out artifacts/bench [--rounds 1] [--budget-s 300]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    Run,
    ensure_library,
    fmt_ms,
    offline_env,
    questions,
    ratio,
    work_dir,
)
from benchmarks.query_latency import measure


def chroma_exe() -> str:
    exe = Path(sys.executable).parent / "chroma"
    if exe.exists():
        return str(exe)
    found = shutil.which("chroma")
    if not found:
        raise SystemExit("the `chroma` command is missing - it comes with `pip install chromadb`")
    return found


STOP_RESERVE_S = 20  # kept back from the budget: stopping the server (<= 15 s), the report


def start_server(tmp: Path, library_chroma: Path, timeout: float = 120) -> Any:
    """`chroma run` over a copy of ``library_chroma`` (tests/servers.py does the waiting)."""
    sys.path.insert(0, str(REPO / "tests"))
    from servers import start_chroma_server

    shutil.copytree(library_chroma, tmp / "chroma-data")
    return start_chroma_server(tmp, chroma_exe(), timeout=timeout)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument(
        "--budget-s", type=float, default=None, help="time budget; past it: a partial result"
    )
    args = ap.parse_args(argv)
    offline_env()
    run = Run("server_latency", args.out, args.budget_s)
    embedded = ensure_library(work_dir(args.out, "library"))
    qs = questions()
    with tempfile.TemporaryDirectory(prefix="paperlens-chroma-") as tmp:
        t = time.perf_counter()
        wait = max(30.0, min(120.0, run.time_left() - STOP_RESERVE_S))
        server = start_server(Path(tmp), embedded.resolved_chroma_path, timeout=wait)
        run["server_start_s"] = round(time.perf_counter() - t, 2)
        try:
            remote = _server_copy(run, embedded, server, Path(tmp))
            libs = {
                "embedded": embedded,
                "server": remote,
                "embedded_store_query": _store_path(embedded),
                "server_store_query": _store_path(remote),
            }
            res = measure(libs, qs, args.rounds, deadline=run.deadline(STOP_RESERVE_S))
        finally:
            server.stop()
    run["questions"] = len(qs)
    run["rounds"] = args.rounds
    timed = min(r["ask"].get("n", 0) for r in res.values())
    run["questions_timed"] = timed
    if timed < len(qs) * args.rounds:
        run.partial(f"{timed} questions", f"{len(qs) * args.rounds} (x {len(res)} libraries)")
    run.data.update(res)
    for name, r in res.items():
        print(
            f"  {name:22s} retrieve p50 {fmt_ms(r['retrieve'].get('p50'))} p95 "
            f"{fmt_ms(r['retrieve'].get('p95'))} | "
            f"ask p50 {fmt_ms(r['ask'].get('p50'))} p95 {fmt_ms(r['ask'].get('p95'))} ms "
            f"(n={r['ask'].get('n', 0)})"
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
    """Server over embedded, and store queries over in-memory search, at the median (None
    where no question was timed)."""

    def p50(lib: str, what: str) -> float | None:
        value = res[lib][what].get("p50")
        return float(value) if value is not None else None

    return {
        "server_over_embedded_retrieve_p50": ratio(
            p50("server", "retrieve"), p50("embedded", "retrieve")
        ),
        "server_over_embedded_ask_p50": ratio(p50("server", "ask"), p50("embedded", "ask")),
        "server_over_embedded_store_query_retrieve_p50": ratio(
            p50("server_store_query", "retrieve"), p50("embedded_store_query", "retrieve")
        ),
        "store_query_over_in_memory_retrieve_p50": ratio(
            p50("embedded_store_query", "retrieve"), p50("embedded", "retrieve")
        ),
    }


if __name__ == "__main__":
    main()

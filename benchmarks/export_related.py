"""What export and related papers cost, on the bundled library, warm, in one process.

- ``export``: 50 papers of the library written as BibTeX, RIS, CSL-JSON and Markdown
  (`assistant.explore.export.export_papers`), each format timed separately;
- ``related``: `assistant.explore.related.related(k=5)` for one paper at a time, over 50 papers,
  after a first call that builds the per-snapshot paper matrix and term postings (timed
  apart as ``related_first_ms``: what the first "related" of a new library version costs);
- ``related (store path)``: the same for a library read from the store instead of memory
  (``memory_max_vectors=0``), as a library too large to hold would be.

Usage: python -m benchmarks.export_related --out artifacts/bench [--papers 50]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Run,
    ensure_library,
    offline_env,
    stats_ms,
    target,
    time_each,
    work_dir,
)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--papers", type=int, default=50)
    ap.add_argument(
        "--repeats", type=int, default=5, help="exports of the same 50 papers per format"
    )
    args = ap.parse_args(argv)
    offline_env()
    run = Run("export_related", args.out)
    settings = ensure_library(work_dir(args.out, "library"))

    from assistant import EXPORT_FORMATS, Assistant, Settings, export_papers

    bot = Assistant(settings)
    library = bot.papers()
    papers = [library[pid] for pid in sorted(library)[: args.papers]]
    export_papers(papers[:2], "bibtex")  # imports bibtexparser and rispy outside the timing
    export_papers(papers[:2], "ris")
    exports = {}
    for fmt in EXPORT_FORMATS:

        def write(_i: int, fmt: str = fmt) -> str:
            return export_papers(papers, fmt)

        samples = time_each(write, range(args.repeats))
        exports[fmt] = stats_ms(samples)
        print(f"  export {len(papers)} papers as {fmt:9s} p50 {exports[fmt]['p50']:7.1f} ms")
    run["export_papers"] = len(papers)
    run["export"] = exports

    t = time.perf_counter()
    bot.related(papers[0].id, 5)
    run["related_first_ms"] = round((time.perf_counter() - t) * 1000, 1)
    rel = stats_ms(time_each(lambda p: bot.related(p.id, 5), papers))
    run["related"] = rel
    print(
        f"  related (k=5), first call {run['related_first_ms']} ms; then p50 {rel['p50']:.1f} ms, "
        f"p95 {rel['p95']:.1f} ms"
    )
    store_bot = Assistant(
        Settings(data_dir=settings.data_dir, retrieval={"memory_max_vectors": 0}),
        embedder=bot.embedder,
    )
    some = papers[:10]
    store = stats_ms(time_each(lambda p: store_bot.related(p.id, 5), some))
    run["related_store"] = store
    print(f"  related from the store (no vectors in memory) p50 {store['p50']:.1f} ms")
    worst_export = max(v["p50"] for v in exports.values())
    run["targets"] = {
        "export_50_papers_p50_ms": target(worst_export, "<", 200),
        "related_p50_ms": target(rel["p50"], "<", 50),
    }
    return run.finish()


if __name__ == "__main__":
    main()

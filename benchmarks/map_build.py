"""What the library map costs (issue 15 §3): built cold, read from its cache, drawn.

- cold: a fresh process opens the bundled library, takes its snapshot and builds the map
  (k-means, t-SNE, c-TF-IDF labels) with nothing cached, then draws the SVG the UI shows
  and the PNG `paperlens map` writes. The figure that must stay under 5 s is the map
  itself (build + SVG); the process's imports and snapshot load are reported beside it.
- cached: a second fresh process reads the map from its disk cache; and in the same
  process, the map held by the snapshot.
- scale: the build alone on synthetic paper vectors of the 10k-chunk tier (1,000 papers
  of 10 chunks, as benchmarks/scale.py shapes them) and of 10,000 papers (issue 24: under
  30 s cold), each then read back from its cache form, and the bundled library built in
  the same process as the reference for the machine's load.

Usage: python -m benchmarks.map_build --out artifacts/bench [--scale-papers 1000,10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Run, ensure_library, offline_env, target, work_dir

TARGET_S = 5.0
TARGET_10K_S = 30.0

# Run in a child process: one cold or cached build, timed piece by piece.
CHILD = """
import json, sys, time
t0 = time.perf_counter()
from benchmarks.common import offline_env
offline_env()
from assistant import Assistant, Settings, render_png, render_svg
settings = Settings(data_dir=sys.argv[1])
t1 = time.perf_counter()
bot = Assistant(settings)
bot.papers()  # the library's snapshot, read once
t2 = time.perf_counter()
m = bot.library_map()
t3 = time.perf_counter()
svg = render_svg(m)
t4 = time.perf_counter()
render_png(m, sys.argv[2])
t5 = time.perf_counter()
bot.library_map()
t6 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "snapshot_s": t2 - t1, "map_s": t3 - t2, "svg_s": t4 - t3,
                  "png_s": t5 - t4, "held_s": t6 - t5, "built_s": m.seconds,
                  "papers": len(m.paper_ids), "topics": len(m.topics), "svg_kb": len(svg) / 1024,
                  "total_s": t5 - t0}))
"""


def child(data_dir: Path, png: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(data_dir), str(png)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in got.items()}


def scale(n: int, data_dir: Path) -> dict[str, Any]:
    import numpy as np

    from assistant import Library, Settings
    from assistant.explore.library_map import LibraryMap, build_map
    from evals.map_choice import synthetic

    lib = Library(Settings(data_dir=data_dir))
    papers = lib.papers()
    ids = sorted(papers)
    vecs = lib.chunk_vectors(ids)
    base = np.vstack([vecs[p].mean(axis=0) for p in ids])
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    # The bundled library built in the same process first: the reference for the load.
    t = time.perf_counter()
    build_map(papers, ids, base.astype(np.float32))
    bundled_s = time.perf_counter() - t
    sids, svec = synthetic(ids, base.astype(np.float32), n)
    # Titles and abstracts of the synthetic papers: real ones, reused (labels need text).
    texts = {sid: papers[ids[i % len(ids)]] for i, sid in enumerate(sids)}
    t = time.perf_counter()
    m = build_map(texts, sids, svec)
    build_s = time.perf_counter() - t
    # Cached after: what `library_map` does with its disk cache, write then read back.
    cached = data_dir / "cache" / f"map-bench-{n}.json"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(m.to_dict()), encoding="utf-8")
    t = time.perf_counter()
    back = LibraryMap.from_dict(json.loads(cached.read_text(encoding="utf-8")))
    cached_s = time.perf_counter() - t
    cached.unlink()
    assert len(back.paper_ids) == n
    return {
        "papers": n,
        "build_s": round(build_s, 2),
        "cached_s": round(cached_s, 3),
        "bundled_build_s": round(bundled_s, 2),
        "topics": len(m.topics),
        "labelled": sum(bool(t.terms) for t in m.topics),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--scale-papers", default="1000,10000")
    args = ap.parse_args(argv)
    offline_env()
    run = Run("map_build", args.out)
    settings = ensure_library(work_dir(args.out, "library"))
    cache = Path(settings.data_dir) / "cache"
    for old in cache.glob("map-*.json"):
        old.unlink()
    png_dir = work_dir(args.out, "map")
    cold = child(Path(settings.data_dir), png_dir / "map-cold.png")
    cached = child(Path(settings.data_dir), png_dir / "map-cached.png")
    run["cold"] = cold
    run["cached"] = cached
    print(
        f"  cold: map {cold['map_s']:.2f}s (+ svg {cold['svg_s']:.3f}s, png {cold['png_s']:.2f}s; "
        f"imports {cold['imports_s']:.2f}s, snapshot {cold['snapshot_s']:.2f}s) for "
        f"{cold['papers']} papers"
    )
    print(f"  cached: from disk {cached['map_s']:.3f}s, held {cached['held_s'] * 1000:.2f} ms")
    run["scale"] = [
        scale(int(n), Path(settings.data_dir)) for n in args.scale_papers.split(",") if n
    ]
    for s in run["scale"]:
        print(
            f"  synthetic {s['papers']} papers: build {s['build_s']}s cold, "
            f"{s['cached_s']}s from its cache ({s['topics']} topics, {s['labelled']} labelled); "
            f"the bundled {cold['papers']} papers in the same process "
            f"{s['bundled_build_s']}s"
        )
    run["targets"] = {
        "map_cold_s": target(round(cold["map_s"] + cold["svg_s"], 3), "<", TARGET_S),
    }
    for s in run["scale"]:
        if s["papers"] == 10_000:  # issue 24: the map of 10k papers within 30 s cold
            run["targets"]["map_10k_cold_s"] = target(s["build_s"], "<", TARGET_10K_S)
    return run.finish()


if __name__ == "__main__":
    main()

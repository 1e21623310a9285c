"""Choose the library map's projection and clustering by measurement (issue 15 §3).

For the bundled library (467 papers, real vectors) and a synthetic scale library (papers
made of random bundled sentences, as benchmarks/scale.py makes them; only timing is
meaningful there), every combination of
- clustering: k-means at several k, HDBSCAN, on the full 384-d paper vectors;
- projection: PCA and t-SNE (umap-learn is not installed: not compared);
is scored on
- agreement with the eval set's topic groups: adjusted mutual information (AMI) between
  the clusters and the groups, over the papers relevant to exactly one group, on the
  ``tune`` questions (used to choose) and separately the ``test`` ones (reported only);
- silhouette (cosine) of the clusters on the full vectors;
- trustworthiness (10 neighbours) of the 2-D layout, and the silhouette of the clusters
  in the layout (do the drawn clusters look separate?);
- the time each step takes.

Usage: python -m evals.map_choice --data-dir DIR [--out evals/map_choice.json]
(DIR holds the bundled library, ingested if needed.)
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

QUESTIONS = Path(__file__).parent / "data" / "questions.jsonl"


def topic_groups(split: str) -> dict[str, str]:
    """Paper id -> topic group, for papers relevant to exactly one group of ``split``."""
    groups: dict[str, set[str]] = defaultdict(set)
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        if q.get("split") == split:
            for pid in q.get("relevant") or ():
                groups[pid].add(q["topic_group"])
    return {pid: next(iter(g)) for pid, g in groups.items() if len(g) == 1}


def agreement(ids: list[str], labels: np.ndarray, groups: dict[str, str]) -> float:
    from sklearn.metrics import adjusted_mutual_info_score

    rows = [i for i, pid in enumerate(ids) if pid in groups]
    return float(adjusted_mutual_info_score([groups[ids[i]] for i in rows], labels[rows]))


def measure(ids: list[str], vectors: np.ndarray, ks: list[int], with_eval: bool) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from assistant.explore.library_map import cluster, default_topics

    threadpool_limits(1)  # as build_map runs them (see assistant/explore/library_map.py)

    out: dict[str, Any] = {
        "papers": len(ids),
        "default_k": default_topics(len(ids)),
        "clustering": {},
        "projection": {},
    }
    tune = topic_groups("tune") if with_eval else {}
    test = topic_groups("test") if with_eval else {}
    layouts = _time_projections(ids, vectors, out["projection"])
    options: list[tuple[str, str, int | None]] = [("kmeans", f"kmeans-k{k}", k) for k in ks]
    options.append(("hdbscan", "hdbscan", None))
    for method, name, k in options:
        t0 = time.perf_counter()
        labels = cluster(vectors, method, k)
        secs = time.perf_counter() - t0
        row: dict[str, Any] = {
            "seconds": round(secs, 2),
            "clusters": int(len(set(labels.tolist()))),
        }
        if row["clusters"] > 1:
            row.update(_silhouettes(vectors, labels, layouts))
        if with_eval:
            row["ami_tune"] = round(agreement(ids, labels, tune), 3)
            row["ami_test"] = round(agreement(ids, labels, test), 3)
        out["clustering"][name] = row
        print(name, row, flush=True)
    print(out["projection"], flush=True)
    return out


def _time_projections(
    ids: list[str], vectors: np.ndarray, report: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Each projection's 2-D layout; its time and trustworthiness go into ``report``."""
    from sklearn.manifold import trustworthiness

    from assistant.explore.library_map import project

    layouts = {}
    for proj in ("pca", "tsne"):
        t0 = time.perf_counter()
        xy = project(vectors, proj)
        secs = time.perf_counter() - t0
        layouts[proj] = xy
        sample = slice(None) if len(ids) <= 3000 else slice(0, 3000)
        report[proj] = {
            "seconds": round(secs, 2),
            "trustworthiness@10": round(
                float(trustworthiness(vectors[sample], xy[sample], n_neighbors=10)), 3
            ),
        }
    return layouts


def _silhouettes(
    vectors: np.ndarray, labels: np.ndarray, layouts: dict[str, np.ndarray]
) -> dict[str, float]:
    """Silhouette of the clusters on the full vectors (cosine) and in each 2-D layout."""
    from sklearn.metrics import silhouette_score

    n = min(3000, len(vectors))
    cosine = silhouette_score(vectors, labels, metric="cosine", sample_size=n, random_state=0)
    row = {"silhouette_384d": round(float(cosine), 3)}
    for proj, xy in layouts.items():
        row[f"silhouette_2d_{proj}"] = round(
            float(silhouette_score(xy, labels, sample_size=n, random_state=0)), 3
        )
    return row


def synthetic(
    ids: list[str], vectors: np.ndarray, n: int, seed: int = 7
) -> tuple[list[str], np.ndarray]:
    """``n`` synthetic paper vectors, each the normalised mean of 5-10 random papers'
    vectors plus noise: the scale benchmark's shape (only timing means anything)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        pick = rng.choice(len(ids), size=int(rng.integers(1, 4)), replace=False)
        v = vectors[pick].mean(axis=0) + rng.normal(0, 0.02, vectors.shape[1])
        rows.append(v / np.linalg.norm(v))
    return [f"syn{i:05d}" for i in range(n)], np.asarray(rows, dtype=np.float32)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "map_choice.json")
    ap.add_argument(
        "--scale-papers",
        default="1000,10000",
        help="synthetic library sizes (papers) to time: 1,000 papers is the 10k-chunk tier",
    )
    args = ap.parse_args(argv)
    from benchmarks.common import ensure_library, offline_env

    offline_env()
    from assistant import Library
    from assistant.explore.library_map import paper_vectors
    from assistant.index.embeddings import get_embedder
    from assistant.retrieval.retriever import Retriever

    settings = ensure_library(args.data_dir)
    library = Library(settings)
    snap = Retriever(settings, library, get_embedder(settings)).refresh()
    ids, vectors = paper_vectors(snap, library)
    result: dict[str, Any] = {
        "bundled": measure(ids, vectors, [8, 12, 15, 20, 23, 24, 30, 40], True)
    }
    for n in [int(x) for x in args.scale_papers.split(",") if x]:
        sids, svec = synthetic(ids, vectors, n)
        result[f"synthetic_{n}"] = measure(sids, svec, [24], False)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()

"""A map of the library: every paper as a point in 2-D, clustered by topic, each topic
labelled with the library's own distinctive terms.

- Paper vectors: the normalised mean of each paper's chunk vectors (what ingest stored).
- Topics: k-means on those vectors, one topic per 20 papers, 2 to 24 (`default_topics`),
  each labelled with its most distinctive terms (c-TF-IDF, `assistant.explore.topic_labels`).
- Layout: t-SNE (PCA-initialised, so it is deterministic) of the same vectors.
The choice is measured (evals/map_choice.py; the figures are in evals/MAP.md): on the eval
set's topic groups k-means on the full vectors agrees with the groups better than HDBSCAN,
and t-SNE keeps neighbourhoods better than PCA.

A map is built once per library content: in memory per snapshot, and on disk under
``data_dir/cache`` keyed by the collection id and the content fingerprint
(`assistant.store.versions.LibraryIdentity`), so a restarted app or a second CLI run reads it.

Example:
    >>> from assistant.explore.library_map import library_map              # doctest: +SKIP
    >>> from assistant.explore.map_drawing import render_png                 # doctest: +SKIP
    >>> m = library_map(retriever)                                   # doctest: +SKIP
    >>> render_png(m, "map.png")                                     # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.types import Paper
from .topic_labels import topic_terms

if TYPE_CHECKING:
    from ..index.snapshot import Snapshot
    from ..retrieval.retriever import Retriever
    from ..store.library import Library

log = logging.getLogger(__name__)

# Part of the cache key: a change of method or parameters builds a new map.
MAP_FORMAT = "map-v3"
MAX_TOPICS = 24
SEED = 0
# Above this many papers the map is built for speed, so a lab's 10k-paper library maps in
# under 30 s cold on 2 cores (`python -m benchmarks.map_build`): t-SNE's Barnes-Hut runs
# coarser (angle 0.8, not 0.5; neighbourhoods about as well kept), k-means makes one start,
# not 4, and each topic is labelled from an even sample of LABEL_SAMPLE of its papers.
# Smaller libraries, the bundled one included, are built exactly as before.
LARGE_MAP = 2000
LABEL_SAMPLE = 150


@dataclass(frozen=True)
class Topic:
    """One cluster of the map: its number, label, distinctive terms and papers."""

    id: int
    label: str
    terms: tuple[str, ...]
    paper_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of this topic."""
        return {
            "id": self.id,
            "label": self.label,
            "terms": list(self.terms),
            "paper_ids": list(self.paper_ids),
        }


@dataclass(frozen=True)
class LibraryMap:
    """All papers placed in 2-D with their topic: what the CLI and the UI draw.

    ``key`` names the library content it was built from (collection id and fingerprint).
    """

    key: str
    paper_ids: tuple[str, ...]
    titles: tuple[str, ...]
    xy: np.ndarray  # (n, 2) float32
    topic_of: tuple[int, ...]  # paper row -> topic id
    topics: tuple[Topic, ...]
    seconds: float = 0.0  # how long the build took (0 when read from a cache)

    def topic(self, paper_id: str) -> Topic | None:
        """The topic a paper belongs to, or None when the paper is not on the map."""
        try:
            return self.topics[self.topic_of[self.paper_ids.index(paper_id)]]
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (also the on-disk cache format)."""
        return {
            "key": self.key,
            "papers": [
                {
                    "id": pid,
                    "title": t,
                    "x": round(float(x), 4),
                    "y": round(float(y), 4),
                    "topic": c,
                }
                for pid, t, (x, y), c in zip(
                    self.paper_ids, self.titles, self.xy, self.topic_of, strict=True
                )
            ],
            "topics": [t.to_dict() for t in self.topics],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LibraryMap:
        papers = data["papers"]
        return cls(
            key=str(data["key"]),
            paper_ids=tuple(p["id"] for p in papers),
            titles=tuple(p["title"] for p in papers),
            xy=np.asarray([[p["x"], p["y"]] for p in papers], dtype=np.float32).reshape(-1, 2),
            topic_of=tuple(int(p["topic"]) for p in papers),
            topics=tuple(
                Topic(int(t["id"]), str(t["label"]), tuple(t["terms"]), tuple(t["paper_ids"]))
                for t in data["topics"]
            ),
        )


# --- vectors ---------------------------------------------------------------------------------
def paper_vectors(
    snapshot: Snapshot, library: Library | None = None
) -> tuple[list[str], np.ndarray]:
    """Each paper's normalised mean chunk vector, in paper id order.

    Read from the snapshot's in-memory vectors, or from the store when the library is
    too large to hold them (``library`` is needed then).
    """
    vec = snapshot.vectors
    ids = sorted(snapshot.papers)
    if vec is not None and len(vec.chunk_paper):
        sums = np.zeros((len(vec.paper_ids), vec.chunk_vectors.shape[1]), dtype=np.float64)
        np.add.at(sums, vec.chunk_paper, vec.chunk_vectors)
        rows = [vec.paper_index[pid] for pid in ids if pid in vec.paper_index]
        ids = [pid for pid in ids if pid in vec.paper_index]
        out = sums[rows]
    else:
        if library is None:
            raise ValueError("the library is too large to hold in memory: pass `library`")
        got: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), 500):
            got.update(library.chunk_vectors(ids[start : start + 500]))
        ids = [pid for pid in ids if pid in got]
        out = np.vstack([got[pid].mean(axis=0) for pid in ids]) if ids else np.zeros((0, 0))
    norms = np.linalg.norm(out, axis=1, keepdims=True) if len(out) else np.ones((0, 1))
    return ids, (out / np.maximum(norms, 1e-12)).astype(np.float32)


# --- the pieces (each selectable by name, so evals/map_choice.py can compare them) ------------
def default_topics(n: int) -> int:
    """How many topics a library of ``n`` papers gets: one per 20 papers, within [2, MAX_TOPICS].

    More topics agree better with the eval set's topic groups (evals/MAP.md compares the
    choices); more than ~24 labels do not fit on one picture, so 24 is the cap.
    """
    return max(2, min(MAX_TOPICS, n // 20))


def cluster(vectors: np.ndarray, method: str = "kmeans", k: int | None = None) -> np.ndarray:
    """Topic number per row: ``kmeans`` (k topics) or ``hdbscan`` (noise joins its nearest
    topic)."""
    n = len(vectors)
    if n < 3:
        return np.zeros(n, dtype=np.int64)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        k = min(k or default_topics(n), n - 1)
        # One k-means++ start above LARGE_MAP (sklearn's own default): 4 cost 1.8-5.6 s at 10k.
        starts = 1 if n > LARGE_MAP else 4
        return np.asarray(
            KMeans(k, n_init=starts, random_state=SEED).fit_predict(vectors), dtype=np.int64
        )
    if method == "hdbscan":
        from sklearn.cluster import HDBSCAN

        labels = np.asarray(
            HDBSCAN(min_cluster_size=max(3, n // 100), copy=True).fit_predict(vectors)
        )
        if (labels >= 0).sum() == 0:
            return np.zeros(n, dtype=np.int64)
        # Every paper belongs somewhere on the map: noise goes to the nearest topic centre.
        kept = sorted(set(labels[labels >= 0].tolist()))
        centres = np.vstack([vectors[labels == c].mean(axis=0) for c in kept])
        noise = labels < 0
        if noise.any():
            labels[noise] = np.asarray(kept)[np.argmax(vectors[noise] @ centres.T, axis=1)]
        return np.asarray(labels, dtype=np.int64)
    raise ValueError(f"unknown clustering {method!r}: use 'kmeans' or 'hdbscan'")


def project(vectors: np.ndarray, method: str = "tsne") -> np.ndarray:
    """2-D coordinates per row: ``tsne`` or ``pca``, deterministic, scaled to [-1, 1]."""
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32)
    if n < 4:
        xy = np.zeros((n, 2))
        xy[:, 0] = np.linspace(-1, 1, n) if n > 1 else 0
        return xy.astype(np.float32)
    from sklearn.decomposition import PCA

    if method == "pca":
        xy = PCA(2, random_state=SEED).fit_transform(vectors)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        # PCA to 50 dimensions first: the same picture, several times faster.
        reduced = PCA(min(50, n - 1, vectors.shape[1]), random_state=SEED).fit_transform(vectors)
        # 500 iterations: fewer leave the neighbourhoods unsettled (evals/MAP.md).
        xy = TSNE(
            2,
            perplexity=min(30.0, (n - 1) / 3),
            init="pca",
            random_state=SEED,
            max_iter=500,
            angle=0.8 if n > LARGE_MAP else 0.5,  # 0.5: sklearn's default
        ).fit_transform(reduced)
    else:
        raise ValueError(f"unknown projection {method!r}: use 'tsne' or 'pca'")
    xy = xy - xy.mean(axis=0)
    return (xy / max(float(np.abs(xy).max()), 1e-9)).astype(np.float32)


# --- building and caching ----------------------------------------------------------------
def build_map(
    papers: Mapping[str, Paper],
    ids: Sequence[str],
    vectors: np.ndarray,
    key: str = "",
    *,
    projection: str = "tsne",
    clustering: str = "kmeans",
    k: int | None = None,
) -> LibraryMap:
    """The map of the papers ``ids`` with their ``vectors`` (one row each)."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    t0 = time.perf_counter()
    # One thread: on a busy 2-core machine t-SNE's OpenMP threads contend with everything
    # else and took 26.7 s for the bundled library instead of 2.5 s (measured here).
    with threadpool_limits(limits=1):
        labels = cluster(vectors, clustering, k)
        xy = project(vectors, projection)
    # Topics numbered by size, largest first, so colours and the legend read in that order.
    sizes = Counter(labels.tolist())
    order = {
        old: new
        for new, (old, _) in enumerate(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])))
    }
    topic_of = tuple(order[int(c)] for c in labels)
    members: list[list[str]] = [[] for _ in order]
    for pid, c in zip(ids, topic_of, strict=True):
        members[c].append(pid)
    # A large library's topics are labelled from an even sample of their papers: counting
    # terms is ~1 ms a paper, 8.5 s of the build at 10k papers.
    sample = [m[:: -(-len(m) // LABEL_SAMPLE)] if len(ids) > LARGE_MAP else m for m in members]
    texts = [[f"{papers[p].title}. {papers[p].abstract}" for p in m] for m in sample]
    labels_terms = topic_terms(texts)
    topics = tuple(
        Topic(i, " · ".join(t) or f"topic {i + 1}", tuple(t), tuple(m))
        for i, (t, m) in enumerate(zip(labels_terms, members, strict=True))
    )
    return LibraryMap(
        key,
        tuple(ids),
        tuple(papers[p].title for p in ids),
        xy,
        topic_of,
        topics,
        seconds=time.perf_counter() - t0,
    )


def map_key(snapshot: Snapshot) -> str:
    """The cache key of a snapshot's map: collection id, content fingerprint, map format."""
    ident = snapshot.identity
    return f"{MAP_FORMAT}-{ident.collection}-{ident.fingerprint}"


def library_map(retriever: Retriever, *, snapshot: Snapshot | None = None) -> LibraryMap:
    """The map of the retriever's current library: held, read from disk, or built.

    Held per snapshot in memory and cached on disk by library content, so it is built
    once per library version that changed the papers.
    """
    snap = snapshot or retriever.refresh()
    return snap.derived("library_map", lambda s: _cached_or_built(retriever, s))  # type: ignore[no-any-return]


def _cached_or_built(retriever: Retriever, snap: Snapshot) -> LibraryMap:
    key = map_key(snap)
    path = retriever.settings.data_dir / "cache" / f"{key}.json"
    try:
        return LibraryMap.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no cache, or an unreadable one: build it
    ids, vectors = paper_vectors(snap, retriever.library)
    built = build_map(snap.papers, ids, vectors, key)
    log.info("built the library map of %d papers in %.2fs", len(ids), built.seconds)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(built.to_dict()), encoding="utf-8")
        tmp.replace(path)  # atomic: a reader sees the whole map or none
        for old in path.parent.glob(f"map-*-{snap.identity.collection}-*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only data dir only costs a rebuild next time
        log.warning("could not cache the library map: %s", exc)
    return built

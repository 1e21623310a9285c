"""The library as a question reads it: an immutable `Snapshot` of one library version,
and `LibrarySnapshots`, which keeps it in step with the store and caches its BM25 index.

A snapshot holds the BM25 index (`LexicalIndex`), the papers, the ids of papers with full
text and, up to ``RetrievalSettings.memory_max_vectors``, every chunk and sentence vector
(`Vectors`, a few MB for the bundled library) so a question costs one embedding plus a
few matrix products; above that the store is queried instead. Readers get a paper's
sentences through `quotable_sentences`, without the flagged ones (text aimed at a model).

After a write only the papers whose record changed are re-read (`changed_papers`), and
the BM25 index is cached on disk per collection and version, so a new process neither
rebuilds it nor trusts a cache of other content.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..core.settings import Settings
from ..core.types import Paper
from ..store.chroma import get_all
from ..store.library import Library
from ..store.versions import LibraryIdentity, PaperVersion, changed_papers, content_fingerprint
from .lexical import LexicalIndex
from .vectors import Vectors

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The library as one question reads it: lexical index, vectors and papers of one version.

    Never changed once published: `LibrarySnapshots.current` builds a new snapshot beside
    the old one and swaps a single reference, so readers need no lock, and a question that
    takes its snapshot once never mixes two versions while an ingest writes.

    Example:
        >>> snap = retriever.snapshot()  # doctest: +SKIP
        >>> snap.version, len(snap.papers), snap.vectors is not None  # doctest: +SKIP
        (12, 467, True)
    """

    identity: LibraryIdentity
    lexical: LexicalIndex
    papers: Mapping[str, Paper]  # read-only (a MappingProxyType)
    vectors: Vectors | None  # None: too many to hold, the store is queried instead
    fulltext_ids: frozenset[str]  # papers with PDF sections
    cache_path: Path  # where this version's BM25 index is cached on disk
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def version(self) -> int:
        """The library's version counter this snapshot was read at."""
        return self.identity.version

    def derived(self, key: str, build: Callable[[Snapshot], Any]) -> Any:
        """``build(self)``, made once per snapshot and shared by every conversation reading it
        (e.g. the paper-name matcher). Two threads may both build it; one result is kept."""
        if key not in self._derived:
            self._derived.setdefault(key, build(self))
        return self._derived[key]


class LibrarySnapshots:
    """Keeps one library's published `Snapshot` in step with its store.

    Example:
        >>> snapshots = LibrarySnapshots(settings, Library(settings))  # doctest: +SKIP
        >>> snapshots.current().lexical.search(["specul", "decod"], 5)  # doctest: +SKIP
    """

    def __init__(self, settings: Settings, library: Library):
        self.settings = settings
        self.library = library
        # The published snapshot: replaced whole, never changed in place (see `Snapshot`).
        self._snapshot: Snapshot | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()  # one builder at a time; readers never take it

    def cache_path(self, collection: str, version: int) -> Path:
        """The BM25 cache file of one collection (by id) at one version."""
        loc = self.settings.chroma_host or "local"
        port = self.settings.chroma_port if self.settings.chroma_host else ""
        name = f"bm25-{loc}-{port}-{self.library.name}-{collection}-v{version}.pkl"
        return self.settings.data_dir / "cache" / name

    def current(self, force: bool = False, *, check: bool = False) -> Snapshot:
        """The snapshot of the store's current library (held, updated, loaded or built).

        The store's identity (collection id and version) is read at most once per
        ``version_check_seconds``; ``check`` reads it now (after a write this process made).
        After a write only the papers whose record changed are re-read (`changed_papers`):
        the BM25 index and the in-memory vectors drop their old rows and add the new ones,
        from the snapshot held or the newest index cached on disk for the same collection.
        A cached index is always compared paper by paper with the store, so a cache of other
        content is corrected, never trusted by its version number. ``force`` rebuilds all.
        """
        now = time.monotonic()
        held = self._snapshot
        interval = self.settings.retrieval.version_check_seconds
        if held is not None and not (force or check) and now - self._checked < interval:
            return held
        collection, version = self.library.identity()
        self._checked = now
        if not force and held is not None and _is_at(held, collection, version):
            return held
        with self._lock:  # held while building, never across a yield: readers keep the old one
            held = self._snapshot
            if not force and held is not None and _is_at(held, collection, version):
                return held
            snapshot = self._build(collection, version, None if force else held, force)
            self._snapshot = snapshot  # the one assignment that publishes it
            return snapshot

    def _build(self, collection: str, version: int, held: Snapshot | None, force: bool) -> Snapshot:
        path = self.cache_path(collection, version)
        limit = self.settings.retrieval.memory_max_vectors
        in_memory = self.library.chunks.count() + self.library.sentences.count() <= limit
        # What was read of another collection (a library deleted and made again) is no base.
        same = held is not None and held.identity.collection == collection
        index = held.lexical if same and held is not None else None
        if index is None and not force:
            index = LexicalIndex.load(path) or self._previous_index(path)
        vectors = held.vectors if same and held is not None and in_memory else None
        papers, current = self.library.papers_with_versions()
        fulltext = frozenset(self.library.fulltext_ids)
        index, vectors = self._updated(index, vectors, current, version, path)
        if index is None:
            t0 = time.perf_counter()
            ids, texts, metas = self.library.chunk_records()
            index = LexicalIndex.build(version, ids, texts, metas)
            log.info("built BM25 over %d chunks in %.2fs", len(ids), time.perf_counter() - t0)
            self._save(index, path)
        if in_memory and vectors is None:
            t0 = time.perf_counter()
            vectors = Vectors.load(self.library, version)
            log.info(
                "loaded %d chunk vectors in %.2fs",
                len(vectors.chunk_paper),
                time.perf_counter() - t0,
            )
        identity = LibraryIdentity(collection, version, content_fingerprint(current))
        return Snapshot(
            identity,
            index,
            MappingProxyType(papers),
            vectors if in_memory else None,
            fulltext,
            path,
        )

    def _updated(
        self,
        index: LexicalIndex | None,
        vectors: Vectors | None,
        current: Mapping[str, PaperVersion],
        version: int,
        path: Path,
    ) -> tuple[LexicalIndex | None, Vectors | None]:
        """``index`` and ``vectors`` with the papers that changed re-read (None: read all)."""
        lex_changed = changed_papers(index.paper_versions, current) if index is not None else set()
        vec_changed = (
            changed_papers(vectors.paper_versions, current) if vectors is not None else set()
        )
        changed = lex_changed | vec_changed
        if len(changed) > max(100, len(current) // 4):  # most of it: a full read is cheaper
            return None, None
        if not changed and (index is None or index.version == version):
            return index, vectors
        t0 = time.perf_counter()
        stale = vectors is not None and (bool(vec_changed) or vectors.version != version)
        include = ["documents", "metadatas"] + (["embeddings"] if stale else [])
        got = (
            get_all(
                self.library.chunks, where={"paper_id": {"$in": sorted(changed)}}, include=include
            )
            if changed
            else {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
        )
        if index is not None and (lex_changed or index.version != version):
            index = index.update(
                version, sorted(changed), got["ids"], got["documents"], got["metadatas"]
            )
            self._save(index, path)
        if vectors is not None and stale:
            vectors = vectors.update(self.library, version, changed, got)
        log.info("re-read %d changed papers in %.2fs", len(changed), time.perf_counter() - t0)
        return index, vectors

    def _previous_index(self, path: Path) -> LexicalIndex | None:
        """The newest index cached on disk for the same collection (any older version)."""
        stem = path.name.rsplit("-v", 1)[0]
        older = sorted(
            (int(p.stem.rsplit("-v", 1)[1]), p)
            for p in path.parent.glob(stem + "-v*.pkl")
            if p.stem.rsplit("-v", 1)[1].isdigit()
        )
        return LexicalIndex.load(older[-1][1]) if older else None

    def _save(self, index: LexicalIndex, path: Path) -> None:
        try:
            index.save(path)
            for old in path.parent.glob(path.name.rsplit("-v", 1)[0] + "-v*.pkl"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as exc:  # a read-only data dir only costs a rebuild next time
            log.warning("could not cache the BM25 index: %s", exc)


def _is_at(held: Snapshot, collection: str, version: int) -> bool:
    """Whether ``held`` is the snapshot of ``collection`` at ``version``."""
    return (held.identity.collection, held.version) == (collection, version)

"""The library on Chroma: papers, chunks and sentence vectors, embedded or on a server.

Layout: two collections named from `Settings.index_name()`.
- ``<index>-chunks``: one record per chunk (id ``<paper>:c<i>``); chunk 0 also carries
  the paper record (title, abstract, metadata, content hash, counts) and is written
  **last**, so it marks a paper as complete. A crash mid-write leaves a paper without
  its marker, which the next ingest rewrites; ids are deterministic and writes are
  upserts, so nothing is ever duplicated.
- ``<index>-sentences``: one vector per abstract sentence (id ``<paper>:s<j>``) with its
  character span, used to pick and verify quoted sentences.

Chroma's own embedding function never runs: every write and query passes vectors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import StoreUnavailableError
from ..core.types import Chunk, LibraryStats, Paper, Sentence
from .chroma import ServerCollection, get_all, open_client, server_unreachable, upsert
from .records import (
    DenseHit,
    chunk_from_record,
    chunk_metadata,
    metadata_update,
    paper_from_metadata,
    paper_metadata,
    sentence_from_record,
    sentence_metadata,
)

if TYPE_CHECKING:
    from ..core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaperState:
    """What the store knows of a paper without loading its text."""

    content_hash: str
    sources: tuple[str, ...]
    complete: bool
    file_hash: str | None = None


@dataclass(frozen=True)
class PaperWrite:
    """Everything needed to (re)write one paper."""

    paper: Paper
    chunks: Sequence[Chunk]
    chunk_vectors: np.ndarray
    sentences: Sequence[Sentence]
    sentence_vectors: np.ndarray


_WITH_VECTORS = ("documents", "metadatas", "embeddings")


def _within(paper_ids: Sequence[str]) -> dict[str, Any]:
    """A Chroma filter for the records of these papers."""
    return {"paper_id": {"$in": list(paper_ids)}}


class Library:
    """A paper library stored in Chroma.

    Example:
        >>> lib = Library(Settings(data_dir=tmp))      # doctest: +SKIP
        >>> lib.stats().papers                          # doctest: +SKIP
        467
    """

    def __init__(self, settings: Settings, client: Any | None = None):
        self.settings = settings
        self.name = settings.index_name()
        self.fulltext_ids: set[str] = set()  # papers with PDF sections, refreshed by papers()
        self.client = client if client is not None else open_client(settings)
        meta = {"model": settings.embedding.model, "version": 0}
        try:
            self.chunks = self.client.get_or_create_collection(
                f"{self.name}-chunks",
                configuration={"hnsw": {"space": "cosine"}},
                metadata=meta,
                embedding_function=None,
            )
            # Sentences are read by paper id, never searched by similarity, so their
            # vector index is built as cheaply as Chroma allows: 2.8x faster writes
            # (20k vectors: 29.4 s -> 10.4 s), and sentences are most of the records.
            self.sentences = self.client.get_or_create_collection(
                f"{self.name}-sentences",
                configuration={
                    "hnsw": {"space": "cosine", "ef_construction": 16, "max_neighbors": 4}
                },
                metadata=meta,
                embedding_function=None,
            )
        except Exception as exc:
            raise server_unreachable(settings, exc) or StoreUnavailableError(
                f"Cannot open the library at {settings.store_location}: {exc}"
            ) from exc
        if settings.chroma_host:
            self.chunks = ServerCollection(self.chunks, settings)
            self.sentences = ServerCollection(self.sentences, settings)

    # -- versioning: every write bumps a counter so readers (BM25, caches) can tell
    def version(self) -> int:
        return int((self._current_chunks().metadata or {}).get("version", 0))

    def _current_chunks(self) -> Any:
        """The chunks collection as the store has it now.

        A collection that is gone (a server restarted without its data, a folder deleted
        under a running app) is created again, empty: the running app then reports an
        empty library instead of chromadb's NotFoundError, and sees the next ingest.
        """
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(f"{self.name}-chunks", embedding_function=None)
        except NotFoundError:
            log.warning(
                "the library's collections are gone from %s; reopening them empty",
                self.settings.store_location,
            )
            fresh = Library(self.settings, client=self.client)
            self.chunks, self.sentences = fresh.chunks, fresh.sentences
            return self.client.get_collection(f"{self.name}-chunks", embedding_function=None)
        except Exception as exc:
            error = server_unreachable(self.settings, exc)
            if error is None:
                raise
            raise error from exc

    def identity(self) -> tuple[str, int]:
        """The chunks collection's id and version, from one read.

        The id tells this library apart from an earlier one of the same name (a folder
        deleted and ingested again, a server restarted without its data), whose version
        counts from 0 again. When the id changed, the collections are opened again: the
        ones held belong to the library that is gone.
        """
        coll = self._current_chunks()
        if str(coll.id) != str(self.chunks.id):
            fresh = Library(self.settings, client=self.client)
            self.chunks, self.sentences = fresh.chunks, fresh.sentences
        return str(coll.id), int((coll.metadata or {}).get("version", 0))

    def _bump_version(self) -> None:
        self.chunks.modify(
            metadata={
                "model": self.settings.embedding.model,
                "version": self.version() + 1,
                "updated": time.time(),
            }
        )

    # -- reads
    def paper_states(self) -> dict[str, PaperState]:
        """Every paper record (chunk 0) with its hash and sources."""
        got = get_all(self.chunks, where={"position": 0}, include=["metadatas"])
        return {
            m["paper_id"]: PaperState(
                content_hash=str(m.get("hash", "")),
                sources=tuple(s for s in m.get("sources") or () if s),
                complete=bool(m.get("complete", False)),
                file_hash=m.get("file_hash"),
            )
            for m in got["metadatas"] or []
        }

    def papers_with_versions(self) -> tuple[dict[str, Paper], dict[str, tuple[str, int, int]]]:
        """`papers()` and each paper's (content hash, chunks, sentences), from one read.

        A reader holding a snapshot compares the versions with what it read, and re-reads
        only the papers that differ (`Retriever.refresh`).
        """
        got = get_all(self.chunks, where={"position": 0}, include=["metadatas"])
        metas = [m for m in got["metadatas"] or [] if m.get("complete")]
        self.fulltext_ids = {m["paper_id"] for m in metas if m.get("n_sections")}
        papers = {m["paper_id"]: paper_from_metadata(m["paper_id"], m) for m in metas}
        versions = {
            str(m["paper_id"]): (
                str(m.get("hash", "")),
                int(m.get("n_chunks", 0)),
                int(m.get("n_sentences", 0)),
            )
            for m in metas
        }
        return papers, versions

    def papers(self, ids: Iterable[str] | None = None) -> dict[str, Paper]:
        """Paper records, all of them or those with the given ids."""
        if ids is None:
            got = get_all(self.chunks, where={"position": 0}, include=["metadatas"])
        else:
            wanted = [f"{pid}:c0" for pid in ids]
            if not wanted:
                return {}
            got = get_all(self.chunks, ids=wanted, include=["metadatas"])
        metas = [m for m in got["metadatas"] or [] if m.get("complete")]
        if ids is None:
            self.fulltext_ids = {m["paper_id"] for m in metas if m.get("n_sections")}
        return {m["paper_id"]: paper_from_metadata(m["paper_id"], m) for m in metas}

    def chunk_records(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """All chunk ids, texts and metadata (for the lexical index)."""
        got = get_all(self.chunks, include=["documents", "metadatas"])
        return list(got["ids"]), list(got["documents"] or []), list(got["metadatas"] or [])

    def chunks_by_id(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks by id, with the section and page of full-text chunks (for citations)."""
        if not chunk_ids:
            return {}
        got = get_all(self.chunks, ids=list(chunk_ids), include=["documents", "metadatas"])
        records = zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
        return {cid: chunk_from_record(doc, m) for cid, doc, m in records}

    def fulltext_chunks(
        self, paper_ids: Sequence[str]
    ) -> dict[str, list[tuple[Chunk, np.ndarray]]]:
        """The full-text (section) chunks of the given papers with their vectors."""
        if not paper_ids:
            return {}
        got = get_all(self.chunks, where=_within(paper_ids), include=_WITH_VECTORS)
        out: dict[str, list[tuple[Chunk, np.ndarray]]] = {}
        for doc, m, emb in zip(got["documents"], got["metadatas"], got["embeddings"], strict=True):
            if m.get("section") is None and m.get("page") is None:
                continue
            chunk = chunk_from_record(doc, m)
            out.setdefault(chunk.paper_id, []).append((chunk, np.asarray(emb, dtype=np.float32)))
        return out

    def query_dense(
        self, vector: np.ndarray, k: int, paper_ids: Sequence[str] | None = None
    ) -> list[DenseHit]:
        """Nearest chunks by cosine similarity, optionally within some papers."""
        n = self.chunks.count()
        if n == 0:
            return []
        where = {"paper_id": {"$in": list(paper_ids)}} if paper_ids else None
        res = self.chunks.query(
            query_embeddings=[vector.astype(np.float32)],
            n_results=min(k, n),
            where=where,
            include=["metadatas", "distances"],
        )
        hits = []
        found = zip(res["ids"][0], res["metadatas"][0], res["distances"][0], strict=True)
        for cid, meta, dist in found:
            hits.append(DenseHit(cid, meta["paper_id"], int(meta["position"]), 1.0 - float(dist)))
        return hits

    def chunk_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The chunk vectors of the given papers."""
        if not paper_ids:
            return {}
        got = get_all(self.chunks, where=_within(paper_ids), include=["metadatas", "embeddings"])
        rows: dict[str, list[np.ndarray]] = {}
        for meta, emb in zip(got["metadatas"], got["embeddings"], strict=True):
            rows.setdefault(meta["paper_id"], []).append(np.asarray(emb, dtype=np.float32))
        return {pid: np.vstack(v) for pid, v in rows.items()}

    def sentences_for(
        self, paper_ids: Sequence[str]
    ) -> dict[str, tuple[list[Sentence], np.ndarray]]:
        """Sentences and their vectors for the given papers, in abstract order."""
        if not paper_ids:
            return {}
        got = get_all(self.sentences, where=_within(paper_ids), include=_WITH_VECTORS)
        rows: dict[str, list[tuple[Sentence, np.ndarray]]] = {}
        records = zip(got["documents"], got["metadatas"], got["embeddings"], strict=True)
        for doc, meta, emb in records:
            s = sentence_from_record(doc, meta)
            rows.setdefault(s.paper_id, []).append((s, np.asarray(emb, dtype=np.float32)))
        out = {}
        for pid, items in rows.items():
            items.sort(key=lambda x: x[0].index)
            out[pid] = ([s for s, _ in items], np.vstack([v for _, v in items]))
        return out

    def stats(self) -> LibraryStats:
        states = self.papers()
        sources: dict[str, int] = {}
        for p in states.values():
            for s in p.sources:
                sources[s] = sources.get(s, 0) + 1
        return LibraryStats(
            papers=len(states),
            chunks=self.chunks.count(),
            sentences=self.sentences.count(),
            sources=dict(sorted(sources.items())),
            model=self.settings.embedding.model,
            location=self.settings.store_location,
            collection=self.name,
            flagged={p.id: p.title for p in states.values() if p.injected},
        )

    # -- writes
    def write(self, batch: Sequence[PaperWrite]) -> None:
        """Write papers so that a crash at any point leaves them rewritable, never doubled."""
        if not batch:
            return
        ids = [w.paper.id for w in batch]
        # Stale pieces of a previous version (more chunks/sentences than now) go first.
        self._delete_where(ids)
        # Each step logged, so a kill test can stop a write between any two of them.
        log.debug("write: old pieces of %d papers deleted", len(ids))
        rest_ids, rest_vecs, rest_docs, rest_meta = [], [], [], []
        s_ids, s_vecs, s_docs, s_meta = [], [], [], []
        head_ids, head_vecs, head_docs, head_meta = [], [], [], []
        written = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for w in batch:
            for ch, vec in zip(w.chunks, w.chunk_vectors, strict=True):
                meta = chunk_metadata(ch, w.paper.content_hash)
                if ch.position == 0:
                    meta.update(paper_metadata(w.paper, len(w.chunks), len(w.sentences)))
                    # When this version was written: the digest dates papers without a date by it.
                    meta["ingested"] = written
                    head_ids.append(ch.id)
                    head_vecs.append(vec)
                    head_docs.append(ch.text)
                    head_meta.append(meta)
                else:
                    rest_ids.append(ch.id)
                    rest_vecs.append(vec)
                    rest_docs.append(ch.text)
                    rest_meta.append(meta)
            for s, vec in zip(w.sentences, w.sentence_vectors, strict=True):
                s_ids.append(f"{s.paper_id}:s{s.index}")
                s_vecs.append(vec)
                s_docs.append(s.text)
                s_meta.append(sentence_metadata(s))
        upsert(self.sentences, s_ids, s_vecs, s_docs, s_meta)
        log.debug("write: sentences upserted")
        upsert(self.chunks, rest_ids, rest_vecs, rest_docs, rest_meta)
        log.debug("write: chunks upserted")
        upsert(self.chunks, head_ids, head_vecs, head_docs, head_meta)  # the markers
        log.debug("write: markers upserted")
        self._bump_version()

    def update_sources(self, updates: dict[str, tuple[str, ...]]) -> None:
        """Change the list of files a paper came from, without re-embedding it."""
        if not updates:
            return
        ids = [f"{pid}:c0" for pid in updates]
        got = get_all(self.chunks, ids=ids, include=["metadatas"])
        metas = []
        for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
            meta = dict(meta)
            meta["sources"] = list(updates[cid.rsplit(":", 1)[0]]) or [""]
            metas.append(meta)
        self.chunks.update(ids=list(got["ids"]), metadatas=metas)
        self._bump_version()

    def update_metadata(self, papers: Sequence[Paper]) -> None:
        """Rewrite the stored metadata (authors, year, venue, ...) of papers, no re-embedding.

        The stored hash is recomputed with the stored body hash, so the next ingest of
        the same files with the same metadata finds the papers unchanged.
        """
        if not papers:
            return
        by_id = {p.id: p for p in papers}
        got = get_all(self.chunks, ids=[f"{pid}:c0" for pid in by_id], include=["metadatas"])
        ids, metas = [], []
        for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
            paper = by_id[cid.rsplit(":", 1)[0]]
            meta = dict(meta)
            meta.update(metadata_update(paper))
            meta["hash"] = paper.hash_with_body(str(meta.get("body_hash") or ""))
            ids.append(cid)
            metas.append(meta)
        if ids:
            self.chunks.update(ids=ids, metadatas=metas)
            self._bump_version()

    def remove(self, paper_ids: Sequence[str]) -> int:
        """Delete papers; returns how many were in the library."""
        present = [pid for pid in self.papers(paper_ids)]
        existing = get_all(self.chunks, where={"paper_id": {"$in": list(paper_ids)}}, include=[])
        if not existing["ids"]:
            return 0
        self._delete_where(list(paper_ids))
        self._bump_version()
        return len(present)

    def _delete_where(self, paper_ids: list[str]) -> None:
        for start in range(0, len(paper_ids), 500):
            part = paper_ids[start : start + 500]
            where = {"paper_id": {"$in": part}}
            # Marker (chunk 0) first: a crash after this leaves an incomplete paper.
            self.chunks.delete(ids=[f"{pid}:c0" for pid in part])
            self.chunks.delete(where=where)
            self.sentences.delete(where=where)

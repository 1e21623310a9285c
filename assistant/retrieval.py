"""Hybrid retrieval ranked by paper: dense (Chroma) + lexical (BM25), then a cut.

Chunks nominate candidate papers from both sides; each candidate is then scored on
absolute signals, so the score can say "nothing relevant here":
- ``dense``: best cosine similarity between the question and any chunk of the paper;
- ``sentence``: best cosine similarity with any (late-chunked) abstract sentence;
- ``lexical``: the share of the question's idf-weighted topic terms the paper contains,
  an abbreviation matching its long form and back (learned from the library);
- ``title``: the same share counted in the title alone.
The score is their weighted sum. The list is cut under an absolute floor and where
scores fall below a share (``gap``) of the best score; all are calibrated on the eval
set (evals/CALIBRATION.md) and kept in `RetrievalSettings`.

Chunk and sentence vectors are held in memory per library version (a few MB for the
bundled library) so a question costs one embedding plus a few matrix products; above
``RetrievalSettings.memory_max_vectors`` the store is queried instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .lexical import LexicalIndex, terms
from .providers import Embedder
from .settings import Settings
from .store import Library, get_all
from .types import Paper, Sentence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    """Optional restrictions on which papers may answer."""

    sources: tuple[str, ...] = ()
    paper_ids: tuple[str, ...] = ()
    date: str | None = None
    year_from: int | None = None
    year_to: int | None = None

    def __bool__(self) -> bool:
        return bool(self.sources or self.paper_ids or self.date or self.year_from or self.year_to)

    def allows(self, paper: Paper) -> bool:
        if self.paper_ids and paper.id not in self.paper_ids:
            return False
        if self.sources and not set(self.sources) & set(paper.sources):
            return False
        if self.date and paper.date != self.date:
            return False
        if self.year_from is not None and (paper.year is None or paper.year < self.year_from):
            return False
        return not (self.year_to is not None and (paper.year is None or paper.year > self.year_to))


@dataclass(frozen=True)
class Passage:
    """A sentence of a paper's full text (PDF) that answers the question better than its abstract."""

    section: str | None
    page: int | None
    text: str
    start: int  # offsets in the section's text
    end: int
    score: float


@dataclass
class PaperHit:
    """A candidate paper with its signals; ``sentence_scores`` align with ``sentences``."""

    paper: Paper
    score: float
    dense: float
    lexical: float
    bm25: float
    sentences: list[Sentence] = field(default_factory=list)
    sentence_vectors: np.ndarray | None = None
    sentence_scores: np.ndarray | None = None
    sentence: float = 0.0
    title: float = 0.0
    passage: Passage | None = None

    def best_sentences(self, n: int = 1) -> list[Sentence]:
        if not self.sentences or self.sentence_scores is None:
            return []
        order = np.argsort(-self.sentence_scores)[:n]
        return [self.sentences[i] for i in sorted(order)]


@dataclass
class Retrieval:
    """Ranked candidates, the relevant ones after the cut, and what was measured."""

    question: str
    query_terms: list[str]
    query_vector: np.ndarray
    hits: list[PaperHit]
    relevant: list[PaperHit]
    timings: dict[str, float]

    @property
    def best_score(self) -> float:
        return self.hits[0].score if self.hits else 0.0


@dataclass
class _Vectors:
    """Chunk and sentence vectors of one library version, held in memory."""

    version: int
    chunk_vectors: np.ndarray
    chunk_paper: np.ndarray  # row -> paper index
    sentence_vectors: np.ndarray
    sentence_paper: np.ndarray
    paper_ids: list[str]
    sentences: dict[str, tuple[list[Sentence], np.ndarray]]  # paper -> (sentences, rows)
    sentence_terms: dict[tuple[str, int], frozenset[str]]  # (paper, index) -> terms

    @classmethod
    def load(cls, library: Library, version: int) -> _Vectors:
        got = get_all(library.chunks, include=["metadatas", "embeddings"])
        metas = got["metadatas"] or []
        embs = got["embeddings"]
        paper_ids = sorted({str(m["paper_id"]) for m in metas})
        index = {pid: i for i, pid in enumerate(paper_ids)}
        chunk_vectors = np.asarray(embs if embs is not None and len(embs) else np.zeros((0, 0)), dtype=np.float32)
        chunk_paper = np.asarray([index[str(m["paper_id"])] for m in metas], dtype=np.int64)
        sg = get_all(library.sentences, include=["documents", "metadatas", "embeddings"])
        rows: dict[str, list[tuple[Sentence, int]]] = {}
        s_metas = sg["metadatas"] or []
        for row, (doc, meta) in enumerate(zip(sg["documents"] or [], s_metas, strict=True)):
            sent = Sentence(str(meta["paper_id"]), int(meta["index"]), int(meta["start"]), int(meta["end"]), doc)
            rows.setdefault(sent.paper_id, []).append((sent, row))
        s_embs = sg["embeddings"]
        dim = chunk_vectors.shape[1] if chunk_vectors.ndim == 2 else 0
        sentence_vectors = np.asarray(
            s_embs if s_embs is not None and len(s_embs) else np.zeros((0, dim)), dtype=np.float32
        )
        sentence_paper = np.asarray([index.get(str(m["paper_id"]), -1) for m in s_metas], dtype=np.int64)
        sentences = {}
        for pid, items in rows.items():
            items.sort(key=lambda x: x[0].index)
            sentences[pid] = ([x for x, _ in items], np.asarray([r for _, r in items], dtype=np.int64))
        sentence_terms = {
            (x.paper_id, x.index): frozenset(terms(x.text)) for items in sentences.values() for x in items[0]
        }
        return cls(
            version, chunk_vectors, chunk_paper, sentence_vectors, sentence_paper, paper_ids, sentences,
            sentence_terms,
        )

    def best_per_paper(self, sims: np.ndarray, owners: np.ndarray) -> np.ndarray:
        """Per paper, the highest of ``sims`` over its rows (-1 for a paper with none)."""
        best = np.full(len(self.paper_ids), -1.0, dtype=np.float32)
        keep = owners >= 0
        sims, owners = sims[keep], owners[keep]
        if not len(owners):
            return best
        order = np.argsort(owners, kind="stable")
        owners = owners[order]
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        best[owners[starts]] = np.maximum.reduceat(sims[order], starts)
        return best


class Retriever:
    """Finds the papers that address a question.

    Example:
        >>> r = Retriever(settings, Library(settings), get_embedder(settings))  # doctest: +SKIP
        >>> [h.paper.title for h in r.retrieve("speculative decoding").relevant]  # doctest: +SKIP
    """

    def __init__(self, settings: Settings, library: Library, embedder: Embedder):
        self.settings = settings
        self.library = library
        self.embedder = embedder
        self._lexical: LexicalIndex | None = None
        self._papers: dict[str, Paper] = {}
        self._vectors: _Vectors | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    # -- keeping the lexical side in step with the store
    def _cache_path(self, version: int) -> Any:
        loc = self.settings.chroma_host or "local"
        name = f"bm25-{loc}-{self.settings.chroma_port if self.settings.chroma_host else ''}-{self.library.name}-v{version}.pkl"
        return self.settings.data_dir / "cache" / name

    def refresh(self, force: bool = False) -> LexicalIndex:
        """The lexical index for the store's current version (loaded, cached or built)."""
        now = time.monotonic()
        cached = self._lexical
        interval = self.settings.retrieval.version_check_seconds
        if cached is not None and not force and now - self._checked < interval:
            return cached
        version = self.library.version()
        self._checked = now
        with self._lock:
            if self._lexical is not None and self._lexical.version == version and not force:
                return self._lexical
            path = self._cache_path(version)
            index = None if force else LexicalIndex.load(path)
            if index is None or index.version != version:
                t0 = time.perf_counter()
                ids, texts, metas = self.library.chunk_records()
                index = LexicalIndex.build(version, ids, texts, metas)
                log.info("built BM25 over %d chunks in %.2fs", len(ids), time.perf_counter() - t0)
                try:
                    index.save(path)
                    for old in path.parent.glob(path.name.rsplit("-v", 1)[0] + "-v*.pkl"):
                        if old != path:
                            old.unlink(missing_ok=True)
                except OSError as exc:  # a read-only data dir only costs a rebuild next time
                    log.warning("could not cache the BM25 index: %s", exc)
            self._papers = self.library.papers()
            self._vectors = None
            limit = self.settings.retrieval.memory_max_vectors
            if self.library.chunks.count() + self.library.sentences.count() <= limit:
                t0 = time.perf_counter()
                self._vectors = _Vectors.load(self.library, version)
                log.info("loaded %d chunk vectors in %.2fs", len(self._vectors.chunk_paper), time.perf_counter() - t0)
            self._lexical = index
            return index

    @property
    def papers(self) -> dict[str, Paper]:
        self.refresh()
        return self._papers

    # -- retrieval
    def retrieve(
        self,
        question: str,
        *,
        filters: Filters | None = None,
        within: Collection[str] | None = None,
        extra_terms: list[str] | None = None,
        query_vector: np.ndarray | None = None,
    ) -> Retrieval:
        """Candidates for ``question`` ranked by paper score, and the relevant cut.

        ``within`` restricts to a set of papers (follow-ups); ``extra_terms`` adds
        topic terms carried over from the conversation.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        lex = self.refresh()
        papers = self._papers
        cfg = self.settings.retrieval
        allowed: set[str] | None = None
        if filters:
            allowed = {pid for pid, p in papers.items() if filters.allows(p)}
        if within is not None:
            allowed = set(within) if allowed is None else allowed & set(within)
        qterms = terms(question, question=True) + list(extra_terms or [])
        expanded = lex.expand(qterms)
        timings["lexical_setup"] = time.perf_counter() - t0

        t = time.perf_counter()
        qvec = query_vector if query_vector is not None else self.embedder.encode_query(question)
        timings["embed"] = time.perf_counter() - t

        restrict = sorted(allowed) if allowed is not None else None
        if restrict is not None and not restrict:
            return Retrieval(question, qterms, qvec, [], [], timings)
        vectors = self._vectors
        t = time.perf_counter()
        dense_best: dict[str, float] = {}
        sent_best: dict[str, float] | None = None
        if vectors is not None and len(vectors.chunk_paper):
            chunk_best = vectors.best_per_paper(vectors.chunk_vectors @ qvec, vectors.chunk_paper)
            if len(vectors.sentence_paper):
                sb = vectors.best_per_paper(vectors.sentence_vectors @ qvec, vectors.sentence_paper)
                sent_best = dict(zip(vectors.paper_ids, sb.tolist(), strict=True))
            order = np.argsort(-chunk_best)
            for i in order:
                pid = vectors.paper_ids[i]
                if allowed is not None and pid not in allowed:
                    continue
                dense_best[pid] = float(chunk_best[i])
                if len(dense_best) >= cfg.dense_k:
                    break
            all_dense = dict(zip(vectors.paper_ids, chunk_best.tolist(), strict=True))
        else:
            for dh in self.library.query_dense(qvec, cfg.dense_k, restrict):
                dense_best[dh.paper_id] = max(dense_best.get(dh.paper_id, -1.0), dh.similarity)
            all_dense = dict(dense_best)
        timings["dense"] = time.perf_counter() - t

        t = time.perf_counter()
        bm25_best: dict[str, float] = {}
        for _cid, pid, score in lex.search(lex.search_terms(expanded), cfg.lexical_k * 3):
            if allowed is not None and pid not in allowed:
                continue
            if pid not in bm25_best:
                bm25_best[pid] = score
            if len(bm25_best) >= cfg.lexical_k:
                break
        timings["bm25"] = time.perf_counter() - t

        t = time.perf_counter()
        candidates = [pid for pid in dict.fromkeys([*dense_best, *bm25_best]) if pid in papers]
        # Papers nominated by BM25 alone still need their dense score.
        missing = [pid for pid in candidates if pid not in all_dense]
        if missing:
            for pid, vecs in self.library.chunk_vectors(missing).items():
                all_dense[pid] = float((vecs @ qvec).max())
        hits: list[PaperHit] = []
        coverage = lex.coverages(expanded)
        title_coverage = lex.coverages(expanded, title=True)
        for pid in candidates:
            lexical = coverage.get(pid, 0.0)
            hits.append(
                PaperHit(
                    papers[pid],
                    0.0,
                    all_dense.get(pid, 0.0),
                    lexical,
                    bm25_best.get(pid, 0.0),
                    title=title_coverage.get(pid, 0.0),
                )
            )
        if sent_best is None:
            self._attach_sentences(hits, qvec, qterms)
            for h in hits:
                svecs = h.sentence_vectors
                h.sentence = float(max((svecs @ qvec).max(), 0.0)) if svecs is not None and len(svecs) else 0.0
        else:
            for h in hits:
                h.sentence = max(sent_best.get(h.paper.id, 0.0), 0.0)
        for h in hits:
            h.score = (
                cfg.dense_weight * h.dense
                + cfg.sentence_weight * h.sentence
                + cfg.lexical_weight * h.lexical
                + cfg.title_weight * h.title
            )
        hits.sort(key=lambda h: -h.score)
        if sent_best is not None:
            self._attach_sentences(hits[: cfg.sentence_papers], qvec, qterms)
        timings["score"] = time.perf_counter() - t
        relevant = self.cut(hits)
        timings["retrieve_total"] = time.perf_counter() - t0
        return Retrieval(question, qterms, qvec, hits, relevant, timings)

    def cut(self, hits: list[PaperHit]) -> list[PaperHit]:
        """Keep papers above the floor and within ``gap`` of the best score."""
        cfg = self.settings.retrieval
        if not hits or hits[0].score < cfg.floor:
            return []
        bar = max(cfg.floor, hits[0].score * cfg.gap)
        return [h for h in hits if h.score >= bar][: cfg.max_papers]

    def _attach_sentences(self, hits: list[PaperHit], qvec: np.ndarray, qterms: list[str]) -> None:
        if not hits:
            return
        vectors = self._vectors
        if vectors is not None:
            found = {
                h.paper.id: (sents, vectors.sentence_vectors[rows])
                for h in hits
                for sents, rows in [vectors.sentences.get(h.paper.id, ([], np.zeros(0, dtype=np.int64)))]
            }
        else:
            found = self.library.sentences_for([h.paper.id for h in hits])
        qset = set(qterms)
        for h in hits:
            sents, vecs = found.get(h.paper.id, ([], np.zeros((0, qvec.shape[0]), dtype=np.float32)))
            h.sentences = sents
            h.sentence_vectors = vecs
            if not sents:
                h.sentence_scores = np.zeros(0, dtype=np.float32)
                continue
            cos = vecs @ qvec
            known = vectors.sentence_terms if vectors is not None else {}
            overlap = np.asarray(
                [
                    len(qset & (known.get((s.paper_id, s.index)) or set(terms(s.text)))) / (len(qset) or 1)
                    for s in sents
                ],
                dtype=np.float32,
            )
            h.sentence_scores = cos + 0.5 * overlap

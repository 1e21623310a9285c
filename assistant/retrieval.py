"""Hybrid retrieval ranked by paper: dense (Chroma) + lexical (BM25), then a cut.

Chunks nominate candidate papers from both sides; each candidate is then scored on
absolute signals, so the score can say "nothing relevant here":
- ``dense``: best cosine similarity between the question and any chunk of the paper;
- ``lexical``: the share of the question's idf-weighted topic terms the paper contains.
``score = dense_weight * dense + lexical_weight * lexical``. The list is cut under an
absolute floor and where scores fall below a share (``gap``) of the best score; both
are calibrated on the eval set (evals/) and kept in `RetrievalSettings`.
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
from .store import Library
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
        self._lock = threading.Lock()

    # -- keeping the lexical side in step with the store
    def _cache_path(self, version: int) -> Any:
        loc = self.settings.chroma_host or "local"
        name = f"bm25-{loc}-{self.settings.chroma_port if self.settings.chroma_host else ''}-{self.library.name}-v{version}.pkl"
        return self.settings.data_dir / "cache" / name

    def refresh(self, force: bool = False) -> LexicalIndex:
        """The lexical index for the store's current version (loaded, cached or built)."""
        version = self.library.version()
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
        timings["lexical_setup"] = time.perf_counter() - t0

        t = time.perf_counter()
        qvec = query_vector if query_vector is not None else self.embedder.encode_query(question)
        timings["embed"] = time.perf_counter() - t

        t = time.perf_counter()
        restrict = sorted(allowed) if allowed is not None else None
        if restrict is not None and not restrict:
            return Retrieval(question, qterms, qvec, [], [], timings)
        dense_hits = self.library.query_dense(qvec, cfg.dense_k, restrict)
        timings["dense"] = time.perf_counter() - t

        t = time.perf_counter()
        bm25_best: dict[str, float] = {}
        for _cid, pid, score in lex.search(qterms, cfg.lexical_k * 3):
            if allowed is not None and pid not in allowed:
                continue
            if pid not in bm25_best:
                bm25_best[pid] = score
            if len(bm25_best) >= cfg.lexical_k:
                break
        timings["bm25"] = time.perf_counter() - t

        dense_best: dict[str, float] = {}
        for h in dense_hits:
            dense_best[h.paper_id] = max(dense_best.get(h.paper_id, -1.0), h.similarity)
        candidates = [pid for pid in dict.fromkeys([*dense_best, *bm25_best]) if pid in papers]
        # Papers nominated by BM25 alone still need their dense score.
        t = time.perf_counter()
        missing = [pid for pid in candidates if pid not in dense_best]
        for pid, vecs in self.library.chunk_vectors(missing).items():
            dense_best[pid] = float((vecs @ qvec).max())
        hits: list[PaperHit] = []
        for pid in candidates:
            lexical = lex.coverage(qterms, pid)
            dense = dense_best.get(pid, 0.0)
            hits.append(PaperHit(papers[pid], 0.0, dense, lexical, bm25_best.get(pid, 0.0)))
        self._attach_sentences(hits, qvec, qterms)
        for h in hits:
            h.score = cfg.dense_weight * h.dense + cfg.lexical_weight * h.lexical
        hits.sort(key=lambda h: -h.score)
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
            overlap = np.asarray(
                [len(qset & set(terms(s.text))) / (len(qset) or 1) for s in sents], dtype=np.float32
            )
            h.sentence_scores = cos + 0.5 * overlap

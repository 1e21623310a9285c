"""Hybrid retrieval ranked by paper: dense (Chroma) + lexical (BM25), then the list decision.

A question goes through three steps, each a method of `Retriever`:
1. candidates (`_candidates`): chunks nominate papers from both sides, the best
   ``dense_k`` by cosine similarity and the best ``lexical_k`` by BM25 (with the
   question's abbreviations expanded); extra query texts, if given, nominate more;
2. scoring (`_score`): each candidate is scored on absolute signals, so the score can
   say "nothing relevant here":
   - ``dense``: best cosine similarity between the question and any chunk of the paper;
   - ``sentence``: best cosine similarity with any (late-chunked) abstract sentence;
   - ``lexical``: the share of the question's idf-weighted topic terms the paper
     contains, an abbreviation matching its long form and back (learned from the library);
   - ``title``: the same share counted in the title alone.
   The score is their weighted sum (weights in `RetrievalSettings`);
3. decision (`_decide`): pseudo-relevance feedback re-ranks the candidates, then
   `assistant.retrieval.decision` picks the main list and the "may also be relevant" tier.

The library is read from a `Snapshot` (assistant/index/snapshot.py), taken once per question.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.settings import Settings
from ..core.types import Paper
from ..index.embeddings import Embedder
from ..index.lexical import Expanded, LexicalIndex
from ..index.snapshot import LibrarySnapshots, Snapshot
from ..index.vectors import PaperScores, Vectors
from ..store.library import Library
from ..text.terms import terms
from .decision import accepts, cut, decide, decide_rule
from .hits import PaperHit, Retrieval
from .scoring import attach_sentences, combined_score, concept_share, feedback, sentence_signal


@dataclass(frozen=True)
class Filters:
    """Optional restrictions on which papers may answer."""

    sources: tuple[str, ...] = ()
    paper_ids: tuple[str, ...] = ()
    date: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    # Reference-manager labels (BibTeX keywords, Zotero tags / collections): a paper passes
    # with any one of them, compared without case.
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.sources
            or self.paper_ids
            or self.date
            or self.year_from
            or self.year_to
            or self.tags
            or self.collections
        )

    def allows(self, paper: Paper) -> bool:
        if self.paper_ids and paper.id not in self.paper_ids:
            return False
        if self.sources and not set(self.sources) & set(paper.sources):
            return False
        if self.date and paper.date != self.date:
            return False
        if self.year_from is not None and (paper.year is None or paper.year < self.year_from):
            return False
        if self.tags and not _folded(self.tags) & _folded(paper.tags):
            return False
        if self.collections and not _folded(self.collections) & _folded(paper.collections):
            return False
        return not (self.year_to is not None and (paper.year is None or paper.year > self.year_to))


def _folded(values: tuple[str, ...]) -> set[str]:
    return {v.strip().casefold() for v in values}


# Chunks asked of the store per paper to nominate: a paper's chunks crowd the nearest ones.
STORE_CHUNKS_PER_PAPER = 4


@dataclass
class _Query:
    """A question as retrieval reads it."""

    text: str
    terms: list[str]  # its topic terms, then those carried over from the conversation
    expanded: Expanded  # the distinct terms with their spellings in the library
    vector: np.ndarray
    allowed: set[str] | None  # the papers that may answer (None: any)


@dataclass
class _Candidates:
    """The papers nominated by each side, best first, and what nominating them measured."""

    dense: dict[str, float]  # dense nominees -> best chunk similarity
    bm25: dict[str, float]  # BM25 nominees -> best chunk score
    all_dense: MutableMapping[str, float]  # paper -> best chunk similarity, as known so far
    sentence: MutableMapping[str, float] | None  # paper -> best sentence similarity (in memory)
    extra: list[str]  # papers nominated by the extra query texts alone

    def ids(self) -> list[str]:
        """Every nominee once: dense, then BM25, then the extra queries' nominees."""
        return list(dict.fromkeys([*self.dense, *self.bm25, *self.extra]))


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
        self.snapshots = LibrarySnapshots(settings, library)

    def refresh(self, force: bool = False, *, check: bool = False) -> Snapshot:
        """The snapshot of the store's current library: see `LibrarySnapshots.current`."""
        return self.snapshots.current(force, check=check)

    def snapshot(self) -> Snapshot:
        """The library as a question reads it now: BM25 index (``.lexical``), in-memory
        vectors (``.vectors``), papers and the BM25 cache file (``.cache_path``)."""
        return self.snapshots.current()

    @property
    def papers(self) -> Mapping[str, Paper]:
        """The papers of the current snapshot (read-only)."""
        return self.refresh().papers

    # -- retrieval
    def retrieve(
        self,
        question: str,
        *,
        filters: Filters | None = None,
        within: Collection[str] | None = None,
        extra_terms: list[str] | None = None,
        query_vector: np.ndarray | None = None,
        snapshot: Snapshot | None = None,
        extra_queries: Sequence[str] = (),
    ) -> Retrieval:
        """Candidates for ``question`` ranked by paper score, and the relevant cut.

        Args:
            question: The question as asked.
            filters: Restrictions on which papers may answer.
            within: Restricts to a set of paper ids (follow-ups).
            extra_terms: Topic terms carried over from the conversation.
            query_vector: The question's embedding, if already computed.
            snapshot: The library as the question reads it (default: the current one),
                taken once per question.
            extra_queries: More texts to find candidates with (e.g. keyword queries or a
                hypothetical abstract written by an LLM): each nominates papers by dense
                similarity and by BM25 as the question does; they join the question's
                candidates, each paper once. Every candidate is still scored against
                ``question`` alone.

        Returns:
            The `Retrieval`: every candidate ranked, the main list, the second tier.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        snap = snapshot or self.refresh()
        query = self._query(question, snap, filters, within, extra_terms, query_vector, timings, t0)
        if query.allowed is not None and not query.allowed:
            return Retrieval(question, query.terms, query.vector, [], [], timings)
        candidates = self._candidates(query, snap, extra_queries, timings)
        hits = self._score(query, candidates, snap, timings)
        return self._decide(query, hits, snap.vectors, candidates.sentence is not None, timings, t0)

    def score_sentences(
        self, hits: Sequence[PaperHit], retrieval: Retrieval, snapshot: Snapshot | None = None
    ) -> None:
        """Scores the sentences of those of ``hits`` that have none scored yet.

        The decision scores only its top ``sentence_papers`` candidates (enough for an
        offline answer); an LLM judge reads further down the ranking, and reads each
        candidate's best sentence, and a paper it lists needs one to quote.
        """
        # Without vectors in memory `retrieve` has scored every candidate's sentences already
        # (read from the store for its sentence signal), so nothing is left to do there.
        todo = [h for h in hits if h.sentence_scores is None]
        vectors = (snapshot or self.refresh()).vectors
        attach_sentences(todo, retrieval.query_vector, retrieval.query_terms, vectors, self.library)

    def _query(
        self,
        question: str,
        snap: Snapshot,
        filters: Filters | None,
        within: Collection[str] | None,
        extra_terms: list[str] | None,
        query_vector: np.ndarray | None,
        timings: dict[str, float],
        t0: float,
    ) -> _Query:
        """The question's terms, their spellings, its vector and the papers allowed."""
        allowed: set[str] | None = None
        if filters:
            allowed = {pid for pid, p in snap.papers.items() if filters.allows(p)}
        if within is not None:
            allowed = set(within) if allowed is None else allowed & set(within)
        qterms = terms(question, question=True) + list(extra_terms or [])
        expanded = snap.lexical.expand(qterms)
        timings["lexical_setup"] = time.perf_counter() - t0
        t = time.perf_counter()
        qvec = query_vector if query_vector is not None else self.embedder.encode_query(question)
        timings["embed"] = time.perf_counter() - t
        return _Query(question, qterms, expanded, qvec, allowed)

    # -- step 1: candidates
    def _candidates(
        self, query: _Query, snap: Snapshot, extra_queries: Sequence[str], timings: dict[str, float]
    ) -> _Candidates:
        """The papers nominated by the dense side, then by BM25, then by the extra queries."""
        t = time.perf_counter()
        dense, all_dense, sentence = self._dense_nominees(query.vector, query.allowed, snap.vectors)
        timings["dense"] = time.perf_counter() - t
        t = time.perf_counter()
        bm25 = self._bm25_nominees(snap.lexical, query.expanded, query.allowed)
        timings["bm25"] = time.perf_counter() - t
        extra: list[str] = []
        if extra_queries:
            t = time.perf_counter()
            extra = self._extra_nominees(extra_queries, query.allowed, snap)
            timings["extra_queries"] = time.perf_counter() - t
        return _Candidates(dense, bm25, all_dense, sentence, extra)

    def _dense_nominees(
        self, qvec: np.ndarray, allowed: set[str] | None, vectors: Vectors | None
    ) -> tuple[dict[str, float], MutableMapping[str, float], MutableMapping[str, float] | None]:
        """(the best ``dense_k`` papers by chunk similarity, every paper's best chunk
        similarity as known, every paper's best sentence similarity when in memory)."""
        cfg = self.settings.retrieval
        dense_best: dict[str, float] = {}
        if vectors is None or not len(vectors.chunk_paper):
            # The store ranks chunks, not papers: enough chunks are asked for that
            # ``dense_k`` papers are among them, as in memory, and their best similarity is
            # recomputed exactly from their vectors (the index's distances are approximate).
            restrict = sorted(allowed) if allowed is not None else None
            hits = self.library.query_dense(qvec, cfg.dense_k * STORE_CHUNKS_PER_PAPER, restrict)
            for dh in hits:
                if dh.paper_id in dense_best or len(dense_best) < cfg.dense_k:
                    dense_best[dh.paper_id] = max(dense_best.get(dh.paper_id, -1.0), dh.similarity)
            for pid, vecs in self.library.chunk_vectors(list(dense_best)).items():
                dense_best[pid] = float((vecs @ qvec).max())
            dense_best = dict(sorted(dense_best.items(), key=lambda kv: -kv[1]))
            return dense_best, dict(dense_best), None
        chunk_best = vectors.chunk_best(qvec)
        sent_best: MutableMapping[str, float] | None = None
        if len(vectors.sentence_paper):
            sent_best = PaperScores(vectors.paper_index, vectors.sentence_best_of(qvec))
        for i in np.argsort(-chunk_best):
            pid = vectors.paper_ids[i]
            if allowed is not None and pid not in allowed:
                continue
            dense_best[pid] = float(chunk_best[i])
            if len(dense_best) >= cfg.dense_k:
                break
        all_dense = PaperScores(vectors.paper_index, lambda i: float(chunk_best[i]))
        return dense_best, all_dense, sent_best

    def _bm25_nominees(
        self, lex: LexicalIndex, expanded: Expanded, allowed: set[str] | None
    ) -> dict[str, float]:
        """The best ``lexical_k`` papers by their best chunk's BM25 score."""
        cfg = self.settings.retrieval
        bm25_best: dict[str, float] = {}
        for _cid, pid, score in lex.search(lex.search_terms(expanded), cfg.lexical_k * 3):
            if allowed is not None and pid not in allowed:
                continue
            if pid not in bm25_best:
                bm25_best[pid] = score
            if len(bm25_best) >= cfg.lexical_k:
                break
        return bm25_best

    def _extra_nominees(
        self, extra_queries: Sequence[str], allowed: set[str] | None, snap: Snapshot
    ) -> list[str]:
        """The papers each extra query text nominates (dense, then BM25), in that order."""
        out: list[str] = []
        for text in extra_queries:
            qvec = self.embedder.encode_query(text)
            out += self._dense_nominees(qvec, allowed, snap.vectors)[0]
            expanded = snap.lexical.expand(terms(text, question=True))
            out += self._bm25_nominees(snap.lexical, expanded, allowed)
        return list(dict.fromkeys(out))

    # -- step 2: scoring
    def _score(
        self, query: _Query, cands: _Candidates, snap: Snapshot, timings: dict[str, float]
    ) -> list[PaperHit]:
        """Every candidate with its signals and combined score, best first."""
        t = time.perf_counter()
        lex, qvec = snap.lexical, query.vector
        candidates = [pid for pid in cands.ids() if pid in snap.papers]
        # Papers nominated by BM25 alone still need their dense score.
        missing = [pid for pid in candidates if pid not in cands.all_dense]
        if missing:
            for pid, vecs in self.library.chunk_vectors(missing).items():
                cands.all_dense[pid] = float((vecs @ qvec).max())
        coverage = lex.coverages(query.expanded)
        title_coverage = lex.coverages(query.expanded, title=True)
        hits = [
            PaperHit(
                snap.papers[pid],
                0.0,
                cands.all_dense.get(pid, 0.0),
                coverage.get(pid, 0.0),
                cands.bm25.get(pid, 0.0),
                title=title_coverage.get(pid, 0.0),
            )
            for pid in candidates
        ]
        sentence_signal(hits, qvec, query.terms, cands.sentence, snap.vectors, self.library)
        dense_rank = {pid: i + 1 for i, pid in enumerate(cands.dense)}
        bm25_rank = {pid: i + 1 for i, pid in enumerate(cands.bm25)}
        cfg = self.settings.retrieval
        for h in hits:
            h.score = h.first_score = combined_score(h, cfg)
            h.first_dense = h.dense
            h.dense_rank = dense_rank.get(h.paper.id, 0)
            h.bm25_rank = bm25_rank.get(h.paper.id, 0)
            h.concepts = concept_share(lex, query.expanded, h.paper.id)
        hits.sort(key=lambda h: -h.score)
        timings["score"] = time.perf_counter() - t
        return hits

    # -- step 3: decision
    def _decide(
        self,
        query: _Query,
        hits: list[PaperHit],
        vectors: Vectors | None,
        sentences_in_memory: bool,
        timings: dict[str, float],
        t0: float,
    ) -> Retrieval:
        """Feedback, then the list decision (``list_method``), then the best sentences."""
        cfg = self.settings.retrieval
        if cfg.list_method in ("model", "rule"):
            return self._tiered(query, hits, vectors, sentences_in_memory, timings, t0)
        # Whether the library has anything is decided on the question's own scores;
        # feedback only re-ranks what is kept (it raises every score, the unrelated too).
        accepted = accepts(hits, cfg)
        semantic_only = accepted and hits[0].score < cfg.floor
        if accepted and cfg.feedback_weight > 0 and len(hits) > 1:
            t = time.perf_counter()
            feedback(hits, query.vector, vectors, self.library, cfg)
            timings["feedback"] = time.perf_counter() - t
        top = hits[: cfg.sentence_papers] if sentences_in_memory else []
        attach_sentences(top, query.vector, query.terms, vectors, self.library)
        relevant = cut(hits, cfg, accepted=accepted)
        timings["retrieve_total"] = time.perf_counter() - t0
        return Retrieval(
            query.text,
            query.terms,
            query.vector,
            hits,
            relevant,
            timings,
            semantic_only=semantic_only and bool(relevant),
        )

    def _tiered(
        self,
        query: _Query,
        hits: list[PaperHit],
        vectors: Vectors | None,
        sentences_in_memory: bool,
        timings: dict[str, float],
        t0: float,
    ) -> Retrieval:
        """The two-tier decision: feedback, then `decide_rule` (or the model's `decide`).

        Feedback runs for every question (the decision sees the scores before and after
        it). ``rule``: the ranking's papers within ``gap`` of the best when the question is
        accepted, with the answer's confidence; ``model``: the top ``pool`` candidates
        ordered by the model's probability, those at or over ``main_threshold`` in the main
        list, the next ones at or over ``second_threshold`` in the second tier.
        """
        cfg = self.settings.retrieval
        if cfg.feedback_weight > 0 and len(hits) > 1:
            t = time.perf_counter()
            feedback(hits, query.vector, vectors, self.library, cfg)
            timings["feedback"] = time.perf_counter() - t
        t = time.perf_counter()
        confidence = "sure"
        if cfg.list_method == "rule":
            relevant, second, confidence = decide_rule(hits, cfg)
        else:
            relevant, second = decide(hits, cfg)
        timings["decide"] = time.perf_counter() - t
        top = hits[: cfg.sentence_papers] if sentences_in_memory else []
        attach_sentences(top, query.vector, query.terms, vectors, self.library)
        timings["retrieve_total"] = time.perf_counter() - t0
        return Retrieval(
            query.text,
            query.terms,
            query.vector,
            hits,
            relevant,
            timings,
            second=second,
            confidence=confidence if relevant else "",
        )

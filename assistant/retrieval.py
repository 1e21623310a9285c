"""Hybrid retrieval ranked by paper: dense (Chroma) + lexical (BM25), then a cut.

Chunks nominate candidate papers from both sides; each candidate is then scored on
absolute signals, so the score can say "nothing relevant here":
- ``dense``: best cosine similarity between the question and any chunk of the paper;
- ``sentence``: best cosine similarity with any (late-chunked) abstract sentence;
- ``lexical``: the share of the question's idf-weighted topic terms the paper contains,
  an abbreviation matching its long form and back (learned from the library);
- ``title``: the same share counted in the title alone.
The score is their weighted sum. Which candidates an answer lists is decided per
candidate (`decide`): a logistic model over its signals and its place in the question's
own score distribution (`TIER_FEATURES`) gives a probability of relevance; papers over
``main_threshold`` form the main list, the next ones over ``second_threshold`` a "may
also be relevant" tier shown apart. The weights and thresholds are chosen by grouped
k-fold cross-validation on the tuning half of the eval set (evals/tune_cut.py,
evals/CALIBRATION.md) and kept in `RetrievalSettings`; ``list_method="gap"`` keeps the
older cut (an absolute floor and a share of the best score).

Chunk and sentence vectors are held in memory per library version (a few MB for the
bundled library) so a question costs one embedding plus a few matrix products; above
``RetrievalSettings.memory_max_vectors`` the store is queried instead.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np

from .lexical import LexicalIndex, PaperVersion, changed_papers, terms, versions_read
from .embeddings import Embedder
from .settings import RetrievalSettings, Settings
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
    # Reference-manager labels (BibTeX keywords, Zotero tags / collections): a paper passes
    # with any one of them, compared without case.
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.sources or self.paper_ids or self.date or self.year_from or self.year_to
            or self.tags or self.collections
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
    # Signals for the list decision (see `tier_features`): the score before feedback,
    # each side's rank among nominees (0: not nominated), the share of the question's
    # terms matched, the model's probability that the paper is relevant, and its tier.
    first_score: float = 0.0
    first_dense: float = 0.0
    dense_rank: int = 0
    bm25_rank: int = 0
    concepts: float = 0.0
    prob: float = 0.0
    tier: str = ""

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
    # Kept on meaning alone: the best combined score is under the floor, a chunk's
    # similarity reached `dense_floor` (the question shares few words with the papers).
    semantic_only: bool = False
    # "May also be relevant": candidates under the main list's bar but above the second
    # tier's, shown apart and labelled uncertain (never cited as supporting the answer).
    second: list[PaperHit] = field(default_factory=list)

    @property
    def best_score(self) -> float:
        return self.hits[0].score if self.hits else 0.0


class _PaperScores(MutableMapping[str, float]):
    """Paper id -> score, read from the in-memory vectors when looked up.

    The scoring step looks up a hundred candidates; building a dict over every paper of
    a large library cost more than the lookups. Values set here override.
    """

    def __init__(self, index: dict[str, int], score: Callable[[int], float]):
        self._index, self._score = index, score
        self._set: dict[str, float] = {}

    def __getitem__(self, paper_id: str) -> float:
        if paper_id in self._set:
            return self._set[paper_id]
        i = self._index.get(paper_id)
        if i is None:
            raise KeyError(paper_id)
        return self._score(i)

    def __setitem__(self, paper_id: str, value: float) -> None:
        self._set[paper_id] = value

    def __delitem__(self, paper_id: str) -> None:
        raise TypeError("paper scores cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self._index, *self._set]))

    def __len__(self) -> int:
        return len(self._index) + sum(1 for pid in self._set if pid not in self._index)


def _concept_share(lex: LexicalIndex, expanded: list[tuple[str, list[tuple[str, ...]]]], paper_id: str) -> float:
    """Share of the question's distinct terms the paper contains in any spelling, each
    term counted once whatever its idf (a rare word must not stand in for the rest)."""
    have = lex.paper_terms.get(paper_id)
    if not have or not expanded:
        return 0.0
    got = sum(1 for _t, alts in expanded if any(have.issuperset(a) for a in alts))
    return got / len(expanded)


def _groups(owners: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows by owner: (row order, start of each owner's run in it, the owners); -1 rows left out."""
    order = np.argsort(owners, kind="stable")
    order = order[owners[order] >= 0]
    sorted_owners = owners[order]
    starts = np.flatnonzero(np.r_[True, sorted_owners[1:] != sorted_owners[:-1]]) if len(order) else order
    return order, starts, sorted_owners[starts]


@dataclass
class _Vectors:
    """Chunk and sentence vectors of one library version, held in memory.

    The rows stay in the order read; their grouping by paper is computed once here, so
    a question's best row per paper is one gather and one `np.maximum.reduceat`.
    `update` replaces the rows of the papers that changed and keeps the rest.
    """

    version: int
    chunk_vectors: np.ndarray
    chunk_paper: np.ndarray  # row -> paper index
    sentence_vectors: np.ndarray
    sentence_paper: np.ndarray  # row -> paper index (-1: a paper without chunks)
    paper_ids: list[str]
    sentences: dict[str, tuple[list[Sentence], np.ndarray]]  # paper -> (sentences, rows)
    sentence_terms: dict[tuple[str, int], frozenset[str]]  # (paper, index) -> terms
    paper_versions: dict[str, PaperVersion | None] = field(default_factory=dict)
    _chunk_groups: tuple[np.ndarray, np.ndarray, np.ndarray] = field(init=False, repr=False)
    _sentence_groups: tuple[np.ndarray, np.ndarray, np.ndarray] = field(init=False, repr=False)
    paper_index: dict[str, int] = field(init=False, repr=False)
    _sentence_span: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._chunk_groups = _groups(self.chunk_paper)
        self._sentence_groups = _groups(self.sentence_paper)
        self.paper_index = {pid: i for i, pid in enumerate(self.paper_ids)}
        order, starts, owners = self._sentence_groups
        # Paper index -> its sentence rows, as a slice of the grouped order.
        self._sentence_span = np.zeros((len(self.paper_ids), 2), dtype=np.int64)
        self._sentence_span[owners, 0] = starts
        self._sentence_span[owners, 1] = np.r_[starts[1:], len(order)] if len(starts) else starts

    @classmethod
    def load(cls, library: Library, version: int) -> _Vectors:
        got = get_all(library.chunks, include=["metadatas", "embeddings"])
        sg = get_all(library.sentences, include=["documents", "metadatas", "embeddings"])
        return cls._assemble(version, got["metadatas"], got["embeddings"], *cls._sentence_rows(sg), {}, {})

    @staticmethod
    def _sentence_rows(sg: dict[str, list[Any]]) -> tuple[list[Sentence], Any]:
        sents = [
            Sentence(str(m["paper_id"]), int(m["index"]), int(m["start"]), int(m["end"]), doc)
            for doc, m in zip(sg["documents"] or [], sg["metadatas"] or [], strict=True)
        ]
        return sents, sg["embeddings"]

    @classmethod
    def _assemble(
        cls,
        version: int,
        chunk_metas: list[dict[str, Any]] | list[str],
        chunk_embs: Any,
        sents: list[Sentence],
        sent_embs: Any,
        kept_versions: dict[str, PaperVersion | None],
        kept_terms: dict[tuple[str, int], frozenset[str]],
    ) -> _Vectors:
        """Arrays and groupings from rows (new rows: metadata dicts; kept rows: paper ids)."""
        owners = [m if isinstance(m, str) else str(m["paper_id"]) for m in chunk_metas]
        paper_ids = sorted(set(owners))
        index = {pid: i for i, pid in enumerate(paper_ids)}
        has_embs = chunk_embs is not None and len(chunk_embs)
        chunk_vectors = np.asarray(chunk_embs if has_embs else np.zeros((0, 0)), dtype=np.float32)
        chunk_paper = np.asarray([index[pid] for pid in owners], dtype=np.int64)
        dim = chunk_vectors.shape[1] if chunk_vectors.ndim == 2 else 0
        has_s = sent_embs is not None and len(sent_embs)
        sentence_vectors = np.asarray(sent_embs if has_s else np.zeros((0, dim)), dtype=np.float32)
        sentence_paper = np.asarray([index.get(x.paper_id, -1) for x in sents], dtype=np.int64)
        rows: dict[str, list[tuple[Sentence, int]]] = {}
        for row, sent in enumerate(sents):
            rows.setdefault(sent.paper_id, []).append((sent, row))
        sentences = {}
        for pid, items in rows.items():
            items.sort(key=lambda x: x[0].index)
            sentences[pid] = ([x for x, _ in items], np.asarray([r for _, r in items], dtype=np.int64))
        new_metas = [m for m in chunk_metas if not isinstance(m, str)]
        versions = dict(kept_versions)
        versions.update(
            versions_read([str(m["paper_id"]) for m in new_metas], new_metas,
                          {pid: len(items) for pid, items in rows.items()})
        )
        for pid in rows:  # sentences without chunks: a paper mid-write, re-read next time
            versions.setdefault(pid, None)
        sentence_terms = {}
        for x in sents:
            got = kept_terms.get((x.paper_id, x.index))
            sentence_terms[(x.paper_id, x.index)] = got if got is not None else frozenset(terms(x.text))
        return cls(
            version, chunk_vectors, chunk_paper, sentence_vectors, sentence_paper, paper_ids, sentences,
            sentence_terms, versions,
        )

    def update(self, library: Library, version: int, changed: Collection[str], got: dict[str, list[Any]]) -> _Vectors:
        """These vectors with the papers ``changed`` re-read: ``got`` holds their chunk rows
        (metadatas and embeddings); their sentences are read here."""
        sg = (
            get_all(library.sentences, where={"paper_id": {"$in": sorted(changed)}},
                    include=["documents", "metadatas", "embeddings"])
            if changed else {"documents": [], "metadatas": [], "embeddings": []}
        )
        drop = set(changed)
        dropped_idx = np.asarray([i for i, pid in enumerate(self.paper_ids) if pid in drop], dtype=np.int64)
        keep = ~np.isin(self.chunk_paper, dropped_idx)
        kept_owners = [self.paper_ids[i] for i in self.chunk_paper[keep].tolist()]
        old_sents: list[Sentence | None] = [None] * len(self.sentence_paper)
        for pid, (sents, rows) in self.sentences.items():
            if pid not in drop:
                for x, r in zip(sents, rows.tolist(), strict=True):
                    old_sents[r] = x
        s_keep = np.asarray([x is not None for x in old_sents], dtype=bool)
        new_sents, new_s_embs = self._sentence_rows(sg)
        dim = self.chunk_vectors.shape[1] if self.chunk_vectors.ndim == 2 else 0
        if got["embeddings"] is not None and len(got["embeddings"]):
            dim = len(got["embeddings"][0])
        new_embs = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["metadatas"]), dim)
        s_embs = np.asarray(new_s_embs, dtype=np.float32).reshape(len(new_sents), dim)
        chunk_vectors = np.concatenate([self.chunk_vectors[keep].reshape(-1, dim), new_embs])
        sentence_vectors = np.concatenate([self.sentence_vectors[s_keep].reshape(-1, dim), s_embs])
        kept_versions = {pid: v for pid, v in self.paper_versions.items() if pid not in drop}
        kept_terms = {k: v for k, v in self.sentence_terms.items() if k[0] not in drop}
        return self._assemble(
            version, [*kept_owners, *got["metadatas"]], chunk_vectors,
            [x for x in old_sents if x is not None] + new_sents, sentence_vectors, kept_versions, kept_terms,
        )

    def _best(self, sims: np.ndarray, groups: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Per paper, the highest of ``sims`` over its rows (-1 for a paper with none)."""
        order, starts, owners = groups
        best = np.full(len(self.paper_ids), -1.0, dtype=np.float32)
        if len(order):
            best[owners] = np.maximum.reduceat(sims[order], starts)
        return best

    def chunk_best(self, qvec: np.ndarray) -> np.ndarray:
        return self._best(self.chunk_vectors @ qvec, self._chunk_groups)

    def sentence_best_of(self, qvec: np.ndarray) -> Callable[[int], float]:
        """Paper index -> its best sentence similarity, computed for that paper alone: only
        candidates need it (at 100k chunks, 5 ms instead of 35 for every sentence)."""
        order, span, vecs = self._sentence_groups[0], self._sentence_span, self.sentence_vectors

        def best(i: int) -> float:
            s, e = span[i]
            return float((vecs[order[s:e]] @ qvec).max()) if e > s else -1.0

        return best

    @cached_property
    def chunk_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Chunk rows grouped by paper: (row order, each paper's bounds in it), made on
        first use; two threads may both make it, the same value."""
        order = np.argsort(self.chunk_paper, kind="stable")
        return order, np.searchsorted(self.chunk_paper[order], np.arange(len(self.paper_ids) + 1))


# The list decision's inputs, in the order of `RetrievalSettings.tier_weights` (one weight
# each, then the bias). Chosen and fitted by evals/tune_cut.py on the tuning half.
TIER_FEATURES = (
    "score", "first_score", "dense", "sentence", "lexical", "title", "concepts",
    "bm25_recip", "dense_recip", "rank_recip", "rel_best", "z_top20", "above_gap",
    "agree10", "best_score", "best_first", "gap_next",
)
SIGNALS = (
    "score", "first_score", "dense", "sentence", "lexical", "title", "concepts", "bm25_rank", "dense_rank",
    "first_dense",
)


def hit_signals(hits: list[PaperHit]) -> dict[str, np.ndarray]:
    """The candidates' raw signals as arrays (what `tier_features` and `rank_order` read)."""
    return {name: np.asarray([float(getattr(h, name)) for h in hits], dtype=np.float64) for name in SIGNALS}


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based rank of each value, highest first."""
    out = np.empty(len(values), dtype=np.float64)
    out[np.argsort(-values, kind="stable")] = np.arange(1, len(values) + 1)
    return out


def rank_order(sig: dict[str, np.ndarray], method: str, rrf_k: float = 60.0) -> np.ndarray:
    """Candidate indices, best first: by the weighted score, or by reciprocal-rank fusion.

    ``rrf`` fuses BM25's nomination rank with the dense rank (after feedback); ``rrf3``
    adds the weighted score's rank as a third voter. A side that did not nominate a
    paper gives it nothing.
    """
    score = sig["score"]
    if method == "weighted" or not len(score):
        return np.argsort(-score, kind="stable")
    bm25 = sig["bm25_rank"]
    fused = np.where(bm25 > 0, 1.0 / (rrf_k + np.where(bm25 > 0, bm25, 1.0)), 0.0)
    fused = fused + 1.0 / (rrf_k + _ranks(sig["dense"]))
    if method == "rrf3":
        fused = fused + 1.0 / (rrf_k + _ranks(score))
    elif method != "rrf":
        raise ValueError(f"unknown ranking {method!r}: use 'weighted', 'rrf' or 'rrf3'")
    return np.lexsort((-score, -fused))


def tier_features(sig: dict[str, np.ndarray], order: np.ndarray) -> np.ndarray:
    """One row of `TIER_FEATURES` per candidate (rows aligned with ``sig``).

    Besides each paper's own signals, a row says where the paper stands in its
    question's distribution: its score relative to the best, its z-score among the top
    20, whether it is above the largest drop in the top 20, the gap to the next paper;
    and whether both sides (BM25 and dense) rank it in their top 10.
    """
    score, n = sig["score"], len(sig["score"])
    if not n:
        return np.zeros((0, len(TIER_FEATURES)))
    rank = np.empty(n)
    rank[order] = np.arange(1, n + 1)
    desc = np.sort(score)[::-1]
    top = desc[:20]
    mean, std = float(top.mean()), float(top.std()) or 1.0
    drops = top[:-1] - top[1:]
    bar = top[int(np.argmax(drops))] if len(drops) else top[0]
    nxt = np.searchsorted(-desc, -score, side="right")  # index of the next lower score
    gap_next = score - np.where(nxt < n, desc[np.minimum(nxt, n - 1)], 0.0)
    best = float(desc[0])
    bm25, dense = sig["bm25_rank"], _ranks(sig["dense"])
    cols = [
        score, sig["first_score"], sig["dense"], sig["sentence"], sig["lexical"], sig["title"],
        sig["concepts"], np.where(bm25 > 0, 1.0 / np.maximum(bm25, 1.0), 0.0), 1.0 / dense, 1.0 / rank,
        score / (best if best > 0 else 1.0), (score - mean) / std, (score >= bar).astype(float),
        ((bm25 > 0) & (bm25 <= 10) & (dense <= 10)).astype(float), np.full(n, best),
        np.full(n, float(sig["first_score"].max())), gap_next,
    ]
    return np.stack(cols, axis=1)


def tier_probability(features: np.ndarray, weights: list[float] | tuple[float, ...]) -> np.ndarray:
    """The logistic model's probability that each candidate is relevant (or partial)."""
    w = np.asarray(weights, dtype=np.float64)
    if len(w) != features.shape[1] + 1:
        raise ValueError(f"tier_weights needs {features.shape[1] + 1} numbers (one per feature, then the bias)")
    return 1.0 / (1.0 + np.exp(-(features @ w[:-1] + w[-1])))


def second_evidence(hit: PaperHit, cfg: RetrievalSettings) -> bool:
    """Whether ``hit`` has absolute evidence enough for the "may also be relevant" tier.

    The tier's probability bar is low and the model's features are mostly relative to
    the question's own candidates, so in a small library, or for a topic the library
    lacks, the best of a bad lot passed it (a tool-using-agents paper offered for a
    zeolite question). A paper must also share the question's words (``lexical`` over
    ``second_lexical``) or be close in meaning before feedback (``first_dense`` at or
    over ``second_dense``): feedback pulls the question toward whatever ranked first,
    so the dense score after it is no evidence in such a library.
    """
    return hit.lexical > cfg.second_lexical or hit.first_dense >= cfg.second_dense


def decide(hits: list[PaperHit], cfg: RetrievalSettings) -> tuple[list[PaperHit], list[PaperHit]]:
    """The main list and the "may also be relevant" tier of ``hits``.

    Re-orders ``hits`` in place (the top ``pool`` of the configured ranking by the
    model's probability, then the rest) and sets each hit's ``prob`` and ``tier``.
    A question gets a main list only when accepted (``accept_rule``); without one, a
    paper needs ``uncertain_threshold`` to be offered as an uncertain match.
    """
    if not hits:
        return [], []
    sig = hit_signals(hits)
    order = rank_order(sig, cfg.ranking, cfg.rrf_k)
    prob = tier_probability(tier_features(sig, order), cfg.tier_weights)
    for h, p in zip(hits, prob.tolist(), strict=True):
        h.prob, h.tier = p, ""
    pool = [hits[i] for i in order[: cfg.pool]]
    pool.sort(key=lambda h: -h.prob)
    hits[:] = pool + [hits[i] for i in order[cfg.pool:]]
    if cfg.accept_rule == "floor":  # the question's own scores, before feedback
        accepted = float(sig["first_score"].max()) >= cfg.floor or float(sig["first_dense"].max()) >= cfg.dense_floor
    else:
        accepted = pool[0].prob >= max(cfg.accept_threshold, cfg.main_threshold)
    relevant = [h for h in pool if h.prob >= cfg.main_threshold][: cfg.max_papers] if accepted else []
    # A question the library may not cover at all needs a stronger candidate to be
    # offered even as uncertain (a blockchain question gets no linear-solver paper).
    bar = cfg.second_threshold if accepted else max(cfg.second_threshold, cfg.uncertain_threshold)
    second = [h for h in pool[len(relevant):] if h.prob >= bar and second_evidence(h, cfg)][: cfg.second_max]
    for h in relevant:
        h.tier = "main"
    for h in second:
        h.tier = "second"
    return relevant, second


@dataclass(frozen=True)
class LibraryIdentity:
    """Which library, at which version, with which content: what every cache is keyed by.

    The version counter alone does not tell two libraries apart: a folder deleted and
    re-ingested, or a Chroma server restarted without its data, counts from 0 again. The
    collection id does (Chroma gives a new one to a new collection), and the fingerprint
    (a hash of every paper's content hash and counts) names the content itself.
    """

    collection: str
    version: int
    fingerprint: str


def content_fingerprint(versions: Mapping[str, PaperVersion | None]) -> str:
    """A short hash of each paper's (content hash, chunks, sentences), in paper id order."""
    digest = hashlib.sha256()
    for pid in sorted(versions):
        digest.update(f"{pid}\x00{versions[pid]}\x01".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The library as one question reads it: lexical index, vectors and papers of one version.

    Never changed once published: `Retriever.refresh` builds a new snapshot beside the
    old one and swaps a single reference, so readers need no lock, and a question that
    takes its snapshot once never mixes two versions while an ingest writes.
    """

    identity: LibraryIdentity
    lexical: LexicalIndex
    papers: Mapping[str, Paper]  # read-only (a MappingProxyType)
    vectors: _Vectors | None  # None: too many to hold, the store is queried instead
    fulltext_ids: frozenset[str]  # papers with PDF sections
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def version(self) -> int:
        return self.identity.version

    def derived(self, key: str, build: Callable[[Snapshot], Any]) -> Any:
        """``build(self)``, made once per snapshot and shared by every conversation reading it
        (e.g. the paper-name matcher). Two threads may both build it; one result is kept."""
        if key not in self._derived:
            self._derived.setdefault(key, build(self))
        return self._derived[key]


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
        # The published snapshot: replaced whole, never changed in place (see `Snapshot`).
        self._snapshot: Snapshot | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()  # one builder at a time; readers never take it

    # -- keeping the snapshot in step with the store
    def _cache_path(self, collection: str, version: int) -> Any:
        """The BM25 cache file of one collection (by id) at one version."""
        loc = self.settings.chroma_host or "local"
        port = self.settings.chroma_port if self.settings.chroma_host else ""
        name = f"bm25-{loc}-{port}-{self.library.name}-{collection}-v{version}.pkl"
        return self.settings.data_dir / "cache" / name

    def refresh(self, force: bool = False, *, check: bool = False) -> Snapshot:
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
        if not force and held is not None and (held.identity.collection, held.version) == (collection, version):
            return held
        with self._lock:  # held while building, never across a yield: readers keep the old one
            held = self._snapshot
            if not force and held is not None and (held.identity.collection, held.version) == (collection, version):
                return held
            snapshot = self._build(collection, version, None if force else held, force)
            self._snapshot = snapshot  # the one assignment that publishes it
            return snapshot

    def _build(self, collection: str, version: int, held: Snapshot | None, force: bool) -> Snapshot:
        path = self._cache_path(collection, version)
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
        lex_changed = changed_papers(index.paper_versions, current) if index is not None else set()
        vec_changed = changed_papers(vectors.paper_versions, current) if vectors is not None else set()
        changed = lex_changed | vec_changed
        if len(changed) > max(100, len(current) // 4):  # most of it: a full read is cheaper
            index = vectors = None
        elif changed or (index is not None and index.version != version):
            t0 = time.perf_counter()
            stale = vectors is not None and (bool(vec_changed) or vectors.version != version)
            include = ["documents", "metadatas"] + (["embeddings"] if stale else [])
            got = (
                get_all(self.library.chunks, where={"paper_id": {"$in": sorted(changed)}}, include=include)
                if changed else {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
            )
            if index is not None and (lex_changed or index.version != version):
                index = index.update(version, sorted(changed), got["ids"], got["documents"], got["metadatas"])
                self._save(index, path)
            if vectors is not None and stale:
                vectors = vectors.update(self.library, version, changed, got)
            log.info("re-read %d changed papers in %.2fs", len(changed), time.perf_counter() - t0)
        if index is None:
            t0 = time.perf_counter()
            ids, texts, metas = self.library.chunk_records()
            index = LexicalIndex.build(version, ids, texts, metas)
            log.info("built BM25 over %d chunks in %.2fs", len(ids), time.perf_counter() - t0)
            self._save(index, path)
        if in_memory and vectors is None:
            t0 = time.perf_counter()
            vectors = _Vectors.load(self.library, version)
            log.info("loaded %d chunk vectors in %.2fs", len(vectors.chunk_paper), time.perf_counter() - t0)
        identity = LibraryIdentity(collection, version, content_fingerprint(current))
        return Snapshot(identity, index, MappingProxyType(papers), vectors if in_memory else None, fulltext)

    def _previous_index(self, path: Any) -> LexicalIndex | None:
        """The newest index cached on disk for the same collection (any older version)."""
        stem = path.name.rsplit("-v", 1)[0]
        older = sorted(
            (int(p.stem.rsplit("-v", 1)[1]), p)
            for p in path.parent.glob(stem + "-v*.pkl")
            if p.stem.rsplit("-v", 1)[1].isdigit()
        )
        return LexicalIndex.load(older[-1][1]) if older else None

    def _save(self, index: LexicalIndex, path: Any) -> None:
        try:
            index.save(path)
            for old in path.parent.glob(path.name.rsplit("-v", 1)[0] + "-v*.pkl"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as exc:  # a read-only data dir only costs a rebuild next time
            log.warning("could not cache the BM25 index: %s", exc)

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
    ) -> Retrieval:
        """Candidates for ``question`` ranked by paper score, and the relevant cut.

        ``within`` restricts to a set of papers (follow-ups); ``extra_terms`` adds
        topic terms carried over from the conversation; ``snapshot`` is the library as
        the question reads it (default: the current one), taken once per question.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        snap = snapshot or self.refresh()
        lex, papers = snap.lexical, snap.papers
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
        vectors = snap.vectors
        t = time.perf_counter()
        dense_best: dict[str, float] = {}
        sent_best: MutableMapping[str, float] | None = None
        all_dense: MutableMapping[str, float]
        if vectors is not None and len(vectors.chunk_paper):
            chunk_best = vectors.chunk_best(qvec)
            if len(vectors.sentence_paper):
                sent_best = _PaperScores(vectors.paper_index, vectors.sentence_best_of(qvec))
            order = np.argsort(-chunk_best)
            for i in order:
                pid = vectors.paper_ids[i]
                if allowed is not None and pid not in allowed:
                    continue
                dense_best[pid] = float(chunk_best[i])
                if len(dense_best) >= cfg.dense_k:
                    break
            all_dense = _PaperScores(vectors.paper_index, lambda i: float(chunk_best[i]))
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
            self._attach_sentences(hits, qvec, qterms, vectors)
            for h in hits:
                svecs = h.sentence_vectors
                h.sentence = float(max((svecs @ qvec).max(), 0.0)) if svecs is not None and len(svecs) else 0.0
        else:
            for h in hits:
                h.sentence = max(sent_best.get(h.paper.id, 0.0), 0.0)
        dense_rank = {pid: i + 1 for i, pid in enumerate(dense_best)}
        bm25_rank = {pid: i + 1 for i, pid in enumerate(bm25_best)}
        for h in hits:
            h.score = h.first_score = self._combined(h)
            h.first_dense = h.dense
            h.dense_rank = dense_rank.get(h.paper.id, 0)
            h.bm25_rank = bm25_rank.get(h.paper.id, 0)
            h.concepts = _concept_share(lex, expanded, h.paper.id)
        hits.sort(key=lambda h: -h.score)
        timings["score"] = time.perf_counter() - t
        if cfg.list_method == "model":
            return self._tiered(question, qterms, qvec, hits, timings, t0, vectors, bool(sent_best is not None))
        # Whether the library has anything is decided on the question's own scores;
        # feedback only re-ranks what is kept (it raises every score, the unrelated too).
        accepted = self.accepts(hits)
        semantic_only = accepted and hits[0].score < cfg.floor
        feedback = accepted and cfg.feedback_weight > 0 and len(hits) > 1
        if feedback:
            t = time.perf_counter()
            self._feedback(hits, qvec, vectors)
            timings["feedback"] = time.perf_counter() - t
        self._attach_sentences(hits[: cfg.sentence_papers] if sent_best is not None else [], qvec, qterms, vectors)
        relevant = self.cut(hits, accepted=accepted)
        timings["retrieve_total"] = time.perf_counter() - t0
        return Retrieval(question, qterms, qvec, hits, relevant, timings, semantic_only=semantic_only and bool(relevant))

    def _tiered(
        self, question: str, qterms: list[str], qvec: np.ndarray, hits: list[PaperHit],
        timings: dict[str, float], t0: float, vectors: _Vectors | None, sentences_in_memory: bool,
    ) -> Retrieval:
        """The two-tier decision: feedback, ranking, then each candidate's probability.

        Feedback runs for every question (the model sees the scores before and after
        it); the top ``pool`` candidates of the chosen ranking are ordered by the model's
        probability; those at or over ``main_threshold`` form the main list, the next
        ones at or over ``second_threshold`` the "may also be relevant" tier.
        """
        cfg = self.settings.retrieval
        if cfg.feedback_weight > 0 and len(hits) > 1:
            t = time.perf_counter()
            self._feedback(hits, qvec, vectors)
            timings["feedback"] = time.perf_counter() - t
        t = time.perf_counter()
        relevant, second = decide(hits, cfg)
        timings["decide"] = time.perf_counter() - t
        self._attach_sentences(hits[: cfg.sentence_papers] if sentences_in_memory else [], qvec, qterms, vectors)
        timings["retrieve_total"] = time.perf_counter() - t0
        return Retrieval(question, qterms, qvec, hits, relevant, timings, second=second)

    def _combined(self, h: PaperHit) -> float:
        """The paper score: the weighted sum of its signals (weights in `RetrievalSettings`)."""
        cfg = self.settings.retrieval
        return (
            cfg.dense_weight * h.dense
            + cfg.sentence_weight * h.sentence
            + cfg.lexical_weight * h.lexical
            + cfg.title_weight * h.title
        )

    def accepts(self, hits: list[PaperHit]) -> bool:
        """Whether the best candidates address the question at all.

        Either the combined score reaches ``floor``, or a chunk is close enough in meaning
        (``dense_floor``) for a question worded unlike the library, whose lexical share
        is near zero.
        """
        cfg = self.settings.retrieval
        if not hits:
            return False
        return hits[0].score >= cfg.floor or max(h.dense for h in hits) >= cfg.dense_floor

    def cut(self, hits: list[PaperHit], *, accepted: bool | None = None) -> list[PaperHit]:
        """The papers kept: those within ``gap`` of the best score, when the question is accepted."""
        cfg = self.settings.retrieval
        if not (self.accepts(hits) if accepted is None else accepted):
            return []
        bar = hits[0].score * cfg.gap
        return [h for h in hits if h.score >= bar][: cfg.max_papers]

    def _feedback(self, hits: list[PaperHit], qvec: np.ndarray, vectors: _Vectors | None) -> None:
        """Re-rank ``hits`` with the question vector moved toward its best matches.

        Pseudo-relevance feedback (Rocchio): the best chunk of each of the top
        ``feedback_papers`` papers is averaged and added to the question vector with
        ``feedback_weight``; dense and sentence similarities are recomputed for every
        candidate. A paraphrased question ("a small model guesses tokens the big model
        checks") borrows the library's own wording of the topic from the papers it found
        first. Measured on the eval set: evals/CALIBRATION.md.
        """
        cfg = self.settings.retrieval
        vecs = self._candidate_vectors([h.paper.id for h in hits], vectors)
        top = [vecs[h.paper.id][0] for h in hits[: cfg.feedback_papers] if len(vecs[h.paper.id][0])]
        if not top:
            return
        centroid = np.mean([c[int(np.argmax(c @ qvec))] for c in top], axis=0)
        q2 = qvec + cfg.feedback_weight * centroid
        q2 = (q2 / (np.linalg.norm(q2) or 1.0)).astype(np.float32)
        for h in hits:
            chunks, sents = vecs[h.paper.id]
            if len(chunks):
                h.dense = float((chunks @ q2).max())
            if len(sents):
                h.sentence = max(float((sents @ q2).max()), 0.0)
            h.score = self._combined(h)
        hits.sort(key=lambda h: -h.score)

    def _candidate_vectors(
        self, paper_ids: list[str], vectors: _Vectors | None
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Paper id -> (its chunk vectors, its sentence vectors), from memory or the store."""
        empty = np.zeros((0, 0), dtype=np.float32)
        if vectors is None:
            chunks = self.library.chunk_vectors(paper_ids)
            sents = self.library.sentences_for(paper_ids)
            return {pid: (chunks.get(pid, empty), sents.get(pid, ([], empty))[1]) for pid in paper_ids}
        order, bounds = vectors.chunk_rows
        out = {}
        for pid in paper_ids:
            i = vectors.paper_index.get(pid)
            rows = order[bounds[i]:bounds[i + 1]] if i is not None else order[:0]
            srows = vectors.sentences.get(pid, ([], np.zeros(0, dtype=np.int64)))[1]
            out[pid] = (vectors.chunk_vectors[rows], vectors.sentence_vectors[srows])
        return out

    def _attach_sentences(
        self, hits: list[PaperHit], qvec: np.ndarray, qterms: list[str], vectors: _Vectors | None
    ) -> None:
        if not hits:
            return
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

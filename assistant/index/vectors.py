"""Chunk and sentence vectors of one library version, held in memory (`Vectors`).

Up to ``RetrievalSettings.memory_max_vectors`` (a few MB for the bundled library) a
question then costs one embedding plus a few matrix products; above that the store is
queried instead and a `Snapshot` holds no vectors.

`quotable_sentences` is where every reader gets a paper's sentences (from memory or the
store): the flagged ones (`is_injected`: aimed at a model) are left out there, once, so
nothing downstream quotes them, shows them to a model or needs to check.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..core.types import Paper, Sentence
from ..store.chroma import get_all
from ..store.library import Library
from ..store.versions import PaperVersion, versions_read
from ..text.injection import is_injected
from ..text.terms import terms

# Rows grouped by owner: (row order, start of each owner's run in it, the owners).
_Groups = tuple[np.ndarray, np.ndarray, np.ndarray]


def _groups(owners: np.ndarray) -> _Groups:
    """Rows by owner: (row order, start of each owner's run in it, the owners); -1 rows left out."""
    order = np.argsort(owners, kind="stable")
    order = order[owners[order] >= 0]
    sorted_owners = owners[order]
    if not len(order):
        return order, order, sorted_owners
    starts = np.flatnonzero(np.r_[True, sorted_owners[1:] != sorted_owners[:-1]])
    return order, starts, sorted_owners[starts]


@dataclass
class Vectors:
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
    # paper -> (sentences, rows): every stored one; readers take `quotable`'s
    sentences: dict[str, tuple[list[Sentence], np.ndarray]]
    sentence_terms: dict[tuple[str, int], frozenset[str]]  # (paper, index) -> terms
    paper_versions: dict[str, PaperVersion | None] = field(default_factory=dict)
    _chunk_groups: _Groups = field(init=False, repr=False)
    _sentence_groups: _Groups = field(init=False, repr=False)
    paper_index: dict[str, int] = field(init=False, repr=False)
    _sentence_span: np.ndarray = field(init=False, repr=False)
    _quotable: dict[str, tuple[list[Sentence], np.ndarray]] = field(
        init=False, repr=False, default_factory=dict
    )

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
    def load(cls, library: Library, version: int) -> Vectors:
        got = get_all(library.chunks, include=["metadatas", "embeddings"])
        sg = get_all(library.sentences, include=["documents", "metadatas", "embeddings"])
        sents, sent_embs = cls._sentence_rows(sg)
        return cls._assemble(version, got["metadatas"], got["embeddings"], sents, sent_embs, {}, {})

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
    ) -> Vectors:
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
            rows_of = np.asarray([r for _, r in items], dtype=np.int64)
            sentences[pid] = ([x for x, _ in items], rows_of)
        new_metas = [m for m in chunk_metas if not isinstance(m, str)]
        versions = dict(kept_versions)
        versions.update(
            versions_read(
                [str(m["paper_id"]) for m in new_metas],
                new_metas,
                {pid: len(items) for pid, items in rows.items()},
            )
        )
        for pid in rows:  # sentences without chunks: a paper mid-write, re-read next time
            versions.setdefault(pid, None)
        sentence_terms = {}
        for x in sents:
            got = kept_terms.get((x.paper_id, x.index))
            if got is None:
                got = frozenset(terms(x.text))
            sentence_terms[(x.paper_id, x.index)] = got
        return cls(
            version,
            chunk_vectors,
            chunk_paper,
            sentence_vectors,
            sentence_paper,
            paper_ids,
            sentences,
            sentence_terms,
            versions,
        )

    def update(
        self, library: Library, version: int, changed: Collection[str], got: dict[str, list[Any]]
    ) -> Vectors:
        """These vectors with the papers ``changed`` re-read.

        ``got`` holds their chunk rows (metadatas and embeddings); their sentences are
        read here. The rows of the other papers are kept as they are.
        """
        sg = (
            get_all(
                library.sentences,
                where={"paper_id": {"$in": sorted(changed)}},
                include=["documents", "metadatas", "embeddings"],
            )
            if changed
            else {"documents": [], "metadatas": [], "embeddings": []}
        )
        drop = set(changed)
        dropped_idx = np.asarray(
            [i for i, pid in enumerate(self.paper_ids) if pid in drop], dtype=np.int64
        )
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
        new_embs = np.asarray(got["embeddings"], dtype=np.float32)
        new_embs = new_embs.reshape(len(got["metadatas"]), dim)
        s_embs = np.asarray(new_s_embs, dtype=np.float32).reshape(len(new_sents), dim)
        chunk_vectors = np.concatenate([self.chunk_vectors[keep].reshape(-1, dim), new_embs])
        sentence_vectors = np.concatenate([self.sentence_vectors[s_keep].reshape(-1, dim), s_embs])
        kept_versions = {pid: v for pid, v in self.paper_versions.items() if pid not in drop}
        kept_terms = {k: v for k, v in self.sentence_terms.items() if k[0] not in drop}
        return self._assemble(
            version,
            [*kept_owners, *got["metadatas"]],
            chunk_vectors,
            [x for x in old_sents if x is not None] + new_sents,
            sentence_vectors,
            kept_versions,
            kept_terms,
        )

    def quotable(self, paper: Paper) -> tuple[list[Sentence], np.ndarray]:
        """``paper``'s sentences and their rows without the flagged ones, decided on first
        read and kept (a flag changes only with the paper, whose rows are then re-read)."""
        got = self._quotable.get(paper.id)
        if got is None:
            sents, rows = self.sentences.get(paper.id, ([], np.zeros(0, dtype=np.int64)))
            keep = [i for i, s in enumerate(sents) if not is_injected(s.text, paper)]
            if len(keep) < len(sents):
                sents, rows = [sents[i] for i in keep], rows[keep]
            got = self._quotable.setdefault(paper.id, (sents, rows))
        return got

    def _best(self, sims: np.ndarray, groups: _Groups) -> np.ndarray:
        """Per paper, the highest of ``sims`` over its rows (-1 for a paper with none)."""
        order, starts, owners = groups
        best = np.full(len(self.paper_ids), -1.0, dtype=np.float32)
        if len(order):
            best[owners] = np.maximum.reduceat(sims[order], starts)
        return best

    def chunk_best(self, qvec: np.ndarray) -> np.ndarray:
        """Per paper index, its best chunk similarity with ``qvec`` (-1 for none)."""
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


def quotable_sentences(
    papers: Mapping[str, Paper], vectors: Vectors | None, library: Library | None
) -> dict[str, tuple[list[Sentence], np.ndarray]]:
    """Paper id -> its sentences and their vectors, in abstract order, flagged ones left
    out: from ``vectors`` (every paper, maybe none) or else read from ``library`` (only
    the papers it stores sentences for).

    Ingest already keeps `Paper.injected` out of the stored sentences; this also drops
    what the current detector flags in a library ingested before it.
    """
    if vectors is not None:
        out = {}
        for pid, paper in papers.items():
            sents, rows = vectors.quotable(paper)
            out[pid] = (sents, vectors.sentence_vectors[rows])
        return out
    assert library is not None, "without vectors in memory the sentences are read from the store"
    stored = library.sentences_for(list(papers))
    for pid, (sents, vecs) in stored.items():
        keep = [i for i, s in enumerate(sents) if not is_injected(s.text, papers[pid])]
        if len(keep) < len(sents):
            stored[pid] = ([sents[i] for i in keep], vecs[keep])
    return stored


class PaperScores(MutableMapping[str, float]):
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

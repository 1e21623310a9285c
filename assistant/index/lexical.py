"""The lexical side of retrieval: BM25 over chunks and term coverage per paper.

The index mirrors the store: when the library's version counter moves (every ingest or
removal bumps it, on an embedded store and on a server alike) it is brought up to date,
and cached on disk under that version so a new process does not rebuild it. An update
re-reads and re-tokenizes only the papers whose stored record changed (`LexicalIndex.update`)
and recomputes the BM25 weights from the kept token ids with numpy, so after 100 new
papers in a 100k-chunk library it costs a second or two instead of a full rebuild, and
scores exactly as a rebuild would.
"""

from __future__ import annotations

import math
import pickle
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..store.versions import PaperVersion, versions_read
from ..text.terms import AbbreviationPair, abbreviation_pairs, count_abbreviations, terms

# Bumped when the pickled index's fields change, so an old cache is rebuilt.
INDEX_FORMAT = 4

# BM25 parameters: bm25s's defaults (Lucene variant), which the index used before it
# computed the weights itself; scores are the same to the last bit.
BM25_K1 = 1.5
BM25_B = 0.75

# A question's distinct terms, each with its spellings in the library (`LexicalIndex.expand`).
Expanded = list[tuple[str, list[tuple[str, ...]]]]


@dataclass
class _BM25:
    """BM25 weights of every (term, chunk) pair, stored by term (CSC) for queries.

    Computed as bm25s computes its Lucene variant (same float64 steps, float32 weights),
    but vectorised. The (term, count) pairs are kept chunk by chunk, so an update drops
    the removed chunks' pairs, counts only the new chunks' tokens, and recomputes the
    weights (idf and average length change with every chunk) in well under a second at
    100k chunks.
    """

    terms: np.ndarray  # int32 term id of each (chunk, term) pair, chunk after chunk
    tf: np.ndarray  # int32 occurrences of each pair
    pair_ptr: np.ndarray  # int64, chunk i's pairs are [pair_ptr[i], pair_ptr[i + 1])
    lengths: np.ndarray  # int64 tokens per chunk
    data: np.ndarray = field(init=False, repr=False)  # float32 weights, grouped by term
    indices: np.ndarray = field(init=False, repr=False)  # int32 chunk row of each weight
    indptr: np.ndarray = field(init=False, repr=False)  # term t: data[indptr[t]:indptr[t + 1]]
    n_vocab: int = 0

    def __post_init__(self) -> None:
        n_docs, n_vocab = len(self.lengths), self.n_vocab
        df = np.bincount(self.terms, minlength=n_vocab)
        self.indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(df, out=self.indptr[1:])
        if not len(self.terms):
            self.data, self.indices = np.zeros(0, np.float32), np.zeros(0, np.int32)
            return
        # idf with math.log on Python numbers, exactly as bm25s does.
        idf = np.asarray(
            [math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) if d else 0.0 for d in df.tolist()],
            dtype=np.float32,
        )
        doc = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(self.pair_ptr))
        tf64 = self.tf.astype(np.float64)
        avg_len = self.lengths.mean()
        norm = (1 - BM25_B) + BM25_B * self.lengths[doc].astype(np.float64) / avg_len
        tfc = tf64 / (BM25_K1 * norm + tf64)
        weights = (idf[self.terms] * tfc).astype(np.float32)
        order = np.argsort(self.terms, kind="stable")  # by term, chunks ascending within
        self.data, self.indices = weights[order], doc[order].astype(np.int32)

    @classmethod
    def build(cls, docs: list[list[int]], n_vocab: int) -> _BM25:
        empty = cls(
            np.zeros(0, np.int32),
            np.zeros(0, np.int32),
            np.zeros(1, np.int64),
            np.zeros(0, np.int64),
            0,
        )
        return empty.updated(np.zeros(0, dtype=bool), docs, n_vocab)

    def updated(self, keep: np.ndarray, docs: list[list[int]], n_vocab: int) -> _BM25:
        """The chunks where ``keep`` is set, then ``docs`` (token ids) appended."""
        per_doc = np.diff(self.pair_ptr)
        pair_keep = np.repeat(keep, per_doc)
        lengths = np.asarray([len(d) for d in docs], dtype=np.int64)
        flat = np.fromiter((t for d in docs for t in d), dtype=np.int64, count=int(lengths.sum()))
        doc = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        pairs, tf = np.unique(doc * max(n_vocab, 1) + flat, return_counts=True)
        new_doc, new_terms = np.divmod(pairs, max(n_vocab, 1))
        new_per_doc = np.bincount(new_doc, minlength=len(docs))
        counts = np.concatenate([per_doc[keep], new_per_doc])
        pair_ptr = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=pair_ptr[1:])
        return _BM25(
            np.concatenate([self.terms[pair_keep], new_terms.astype(np.int32)]),
            np.concatenate([self.tf[pair_keep], tf.astype(np.int32)]),
            pair_ptr,
            np.concatenate([self.lengths[keep], lengths]),
            n_vocab,
        )

    def scores(self, token_ids: list[int]) -> np.ndarray:
        """Summed weights per chunk of the given (distinct) terms, in their order."""
        out = np.zeros(len(self.lengths), dtype=np.float32)
        for t in token_ids:
            s, e = self.indptr[t], self.indptr[t + 1]
            out[self.indices[s:e]] += self.data[s:e]
        return out


class Coverages(Mapping[str, float]):
    """Per paper, the share of the question's idf mass it contains in any spelling (0..1).

    Computed when a paper is looked up (see `LexicalIndex.coverages`): a question touches
    a hundred candidate papers while the library may hold ten thousand; a paper without
    any of the terms is absent, as in a dict.
    """

    def __init__(self, index: LexicalIndex, expanded: Expanded, title: bool):
        self._have = index.title_terms if title else index.paper_terms
        self._index, self._expanded, self._title = index, expanded, title
        weights = [index.idf(t) for t, _ in expanded]
        self._total = total = sum(weights)
        # Per term: its one-word spellings, its multi-word ones, and its share of the idf mass.
        self._checks = [
            (
                frozenset(a[0] for a in alts if len(a) == 1),
                [a for a in alts if len(a) > 1],
                w / total if total else 0.0,
            )
            for (_t, alts), w in zip(expanded, weights, strict=True)
        ]
        self._all: dict[str, float] | None = None

    def __getitem__(self, paper_id: str) -> float:
        have = self._have.get(paper_id)
        if not have or not self._total:
            raise KeyError(paper_id)
        got = 0.0
        # Summed in the order and form of the full computation, so the floats are equal.
        for singles, multis, share in self._checks:
            if not have.isdisjoint(singles) or any(have.issuperset(m) for m in multis):
                got = got + share
        if not got:
            raise KeyError(paper_id)
        return got

    def _materialise(self) -> dict[str, float]:
        if self._all is None:
            self._all = self._index._coverages_all(self._expanded, title=self._title)
        return self._all

    def __iter__(self) -> Iterator[str]:
        return iter(self._materialise())

    def __len__(self) -> int:
        return len(self._materialise())


@dataclass
class LexicalIndex:
    """BM25 over chunk texts plus each paper's term set for coverage scores."""

    version: int
    chunk_ids: list[str]
    chunk_papers: list[str]
    paper_terms: dict[str, frozenset[str]]
    df: Counter[str]
    n_papers: int
    bm25: _BM25 = field(repr=False)
    title_terms: dict[str, frozenset[str]] = field(default_factory=dict)
    abbrevs: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    format: int = INDEX_FORMAT
    vocab: dict[str, int] = field(default_factory=dict, repr=False)
    # For updates: what each paper's rows were read as, and the abbreviation
    # definitions per chunk id (only chunks that have some), in chunk order.
    paper_versions: dict[str, PaperVersion | None] = field(default_factory=dict, repr=False)
    chunk_abbrevs: dict[str, list[AbbreviationPair]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls, version: int, chunk_ids: list[str], texts: list[str], metas: list[dict[str, Any]]
    ) -> LexicalIndex:
        empty = cls(version, [], [], {}, Counter(), 0, _BM25.build([], 0))
        return empty.update(version, (), chunk_ids, texts, metas)

    def update(
        self,
        version: int,
        dropped: Sequence[str],
        chunk_ids: list[str],
        texts: list[str],
        metas: list[dict[str, Any]],
    ) -> LexicalIndex:
        """A new index: this one without the papers ``dropped``, plus the chunks given.

        ``dropped`` names papers removed or rewritten since this index was built; the
        chunks given are their current rows (and those of new papers). Scores, coverage
        and abbreviations come out as a full `build` over the same chunks would give.
        """
        drop = set(dropped) | {str(m["paper_id"]) for m in metas}
        keep = np.asarray([pid not in drop for pid in self.chunk_papers], dtype=bool)
        vocab = dict(self.vocab)
        new_tokens: list[list[str]] = [terms(t) for t in texts]
        for toks in new_tokens:
            for t in toks:
                if t not in vocab:
                    vocab[t] = len(vocab)
        token_ids = [[vocab[t] for t in toks] for toks in new_tokens]
        bm25 = self.bm25.updated(keep, token_ids, len(vocab))

        kept_rows = np.flatnonzero(keep).tolist()
        ids = [self.chunk_ids[i] for i in kept_rows] + list(chunk_ids)
        papers = [self.chunk_papers[i] for i in kept_rows] + [str(m["paper_id"]) for m in metas]
        paper_terms, df = self._paper_terms(drop, papers, papers[len(kept_rows) :], new_tokens)
        titles = {pid: ts for pid, ts in self.title_terms.items() if pid not in drop}
        titles.update(
            (str(m["paper_id"]), frozenset(terms(str(m["title"]))))
            for m in metas
            if m.get("title") is not None
        )
        title_terms = {pid: titles[pid] for pid in dict.fromkeys(papers) if pid in titles}

        old = self.chunk_abbrevs
        chunk_abbrevs = {cid: old[cid] for cid in ids[: len(kept_rows)] if cid in old}
        for cid, text in zip(chunk_ids, texts, strict=True):
            pairs = abbreviation_pairs(text)
            if pairs:
                chunk_abbrevs[cid] = pairs
        abbrevs = count_abbreviations(p for cid in ids for p in chunk_abbrevs.get(cid, ()))

        versions = {pid: v for pid, v in self.paper_versions.items() if pid not in drop}
        versions.update(versions_read(papers[len(kept_rows) :], metas))
        return LexicalIndex(
            version,
            ids,
            papers,
            paper_terms,
            df,
            len(paper_terms),
            bm25,
            title_terms,
            abbrevs,
            INDEX_FORMAT,
            vocab,
            versions,
            chunk_abbrevs,
        )

    def _paper_terms(
        self, drop: set[str], papers: list[str], new_papers: list[str], new_tokens: list[list[str]]
    ) -> tuple[dict[str, frozenset[str]], Counter[str]]:
        """Each paper's term set and the terms' paper counts after an update: kept papers
        as they were, the others (``new_papers``, one per new chunk) from their new chunks."""
        per_paper: dict[str, set[str]] = {}
        for pid, toks in zip(new_papers, new_tokens, strict=True):
            per_paper.setdefault(pid, set()).update(toks)
        paper_terms: dict[str, frozenset[str]] = {}
        for pid in dict.fromkeys(papers):
            got = per_paper.get(pid)
            paper_terms[pid] = frozenset(got) if got is not None else self.paper_terms[pid]
        df = Counter(self.df)
        for pid, ts in self.paper_terms.items():
            if pid in drop:
                df.subtract(ts)
        for pid, ts in paper_terms.items():
            if pid in per_paper:
                df.update(ts)
        return paper_terms, Counter({t: n for t, n in df.items() if n > 0})

    def _postings(self, title: bool = False) -> dict[str, set[str]]:
        # Term -> papers containing it (in the title), built on first use.
        key = "_post_title" if title else "_post"
        post: dict[str, set[str]] | None = self.__dict__.get(key)
        if post is None:
            post = {}
            for pid, ts in (self.title_terms if title else self.paper_terms).items():
                for t in ts:
                    post.setdefault(t, set()).add(pid)
            self.__dict__[key] = post
        return post

    def _reverse_abbrevs(self) -> dict[str, set[str]]:
        # Long-form term -> abbreviations it is part of, built on first use.
        rev: dict[str, set[str]] | None = self.__dict__.get("_rev")
        if rev is None:
            rev = {}
            for abbr, forms in self.abbrevs.items():
                for lf in forms:
                    for t in lf:
                        rev.setdefault(t, set()).add(abbr)
            self.__dict__["_rev"] = rev
        return rev

    def expand(self, query_terms: list[str]) -> Expanded:
        """The question's distinct terms, each with alternative spellings from the library.

        An abbreviation in the question may be matched by its long form and a long form
        in the question ("large language model") by its abbreviation ("llm").
        """
        rev = self._reverse_abbrevs()
        qt = list(dict.fromkeys(query_terms))
        qset = set(qt)
        out: Expanded = []
        for t in qt:
            alts: list[tuple[str, ...]] = [(t,)]
            alts += self.abbrevs.get(t, [])
            for abbr in sorted(rev.get(t, ())):
                if abbr != t and any(t in lf and qset.issuperset(lf) for lf in self.abbrevs[abbr]):
                    alts.append((abbr,))
            out.append((t, alts))
        return out

    def coverages(self, expanded: Expanded, *, title: bool = False) -> Mapping[str, float]:
        """Share of the question's idf mass each paper (or its title) contains, any spelling.

        Only papers with any of the terms are present (the others: 0).

        Computed per paper on lookup (`Coverages`): the same values as a dict over all papers.
        """
        return Coverages(self, expanded, title)

    def _coverages_all(self, expanded: Expanded, *, title: bool = False) -> dict[str, float]:
        post = self._postings(title)
        weights = [self.idf(t) for t, _ in expanded]
        total = sum(weights)
        out: dict[str, float] = {}
        if not total:
            return out
        for (_t, alts), w in zip(expanded, weights, strict=True):
            have: set[str] = set()
            for alt in alts:
                sets = [post.get(x) for x in alt]
                if all(sets):
                    have |= set.intersection(*sets)  # type: ignore[arg-type]
            for pid in have:
                out[pid] = out.get(pid, 0.0) + w / total
        return out

    def search_terms(self, expanded: Expanded) -> list[str]:
        """Terms for BM25: the question's own plus single-term alternative spellings."""
        out = [t for t, _ in expanded]
        for _t, alts in expanded:
            out += [alt[0] for alt in alts[1:] if len(alt) == 1]
        return list(dict.fromkeys(out))

    def idf(self, term: str) -> float:
        """Paper-level idf; a term no paper has gets the highest idf."""
        return math.log((self.n_papers + 1) / (self.df.get(term, 0) + 0.5))

    def search(self, query_terms: list[str], k: int) -> list[tuple[str, str, float]]:
        """Top chunks as (chunk id, paper id, BM25 score), best first."""
        known = [t for t in query_terms if t in self.df]
        if not known or not self.chunk_ids:
            return []
        scores = self.bm25.scores([self.vocab[t] for t in known if t in self.vocab])
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [
            (self.chunk_ids[i], self.chunk_papers[i], float(scores[i]))
            for i in top
            if scores[i] > 0
        ]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        state = {k: v for k, v in vars(self).items() if not k.startswith("_")}  # not the lookups
        with tmp.open("wb") as fh:
            pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)  # atomic: a reader never sees half a file

    @staticmethod
    def load(path: Path) -> LexicalIndex | None:
        try:
            with path.open("rb") as fh:
                obj = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None
        if not isinstance(obj, dict) or obj.get("format") != INDEX_FORMAT:
            return None
        try:
            return LexicalIndex(**obj)
        except TypeError:
            return None

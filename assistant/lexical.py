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

import logging
import math
import pickle
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[^\W_]+(?:[-+][^\W_]+)*\+*", re.UNICODE)

# English function words, dropped from documents and questions alike.
STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "been", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for", "from", "had", "has", "have", "having", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "me", "more", "most", "my", "no", "nor", "not", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "via", "also", "each", "both", "between", "among", "about", "against", "during", "before", "after", "above", "below", "again", "further", "here", "just", "any", "all", "few", "many", "much", "may", "might", "must", "shall"]
)

# Words that frame a question about the library rather than name its topic.
QUESTION_WORDS = frozenset(
    ["paper", "papers", "work", "works", "study", "studies", "studied", "studying", "research", "article", "articles", "publication", "publications", "library", "collection", "corpus", "discuss", "discusses", "discussed", "propose", "proposes", "proposed", "address", "addresses", "addressed", "investigate", "investigates", "explore", "explores", "focus", "focuses", "focusing", "tell", "list", "show", "find", "give", "know", "say", "says", "mention", "mentions", "describe", "describes", "look", "looking", "related", "relevant", "regarding", "concerning", "topic", "topics", "present", "presents", "please", "anything", "something", "there", "exist", "exists", "deal", "deals", "dealing", "cover", "covers", "covering", "written", "wrote"]
)

_STEMMER: Any = None

# Bumped when the pickled index's fields change, so an old cache is rebuilt.
INDEX_FORMAT = 4

# BM25 parameters: bm25s's defaults (Lucene variant), which the index used before it
# computed the weights itself; scores are the same to the last bit.
BM25_K1 = 1.5
BM25_B = 0.75

# What identifies a stored paper's content: (content hash, chunks, sentences) from its
# record (chunk 0); None for a paper whose rows were read incomplete (mid-write).
PaperVersion = tuple[str, int, int]

# "long form (ABBR)" in a text; an abbreviation has 2+ capitals or an inner capital.
_PAREN = re.compile(r"\(([A-Za-z][A-Za-z0-9\-]{1,11}?)s?\)")
_LONG_WORD = re.compile(r"[A-Za-z0-9][\w\-]*")


def _stem(words: list[str]) -> list[str]:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return list(_STEMMER.stemWords(words))


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``, hyphenated words also split into parts."""
    out: list[str] = []
    for tok in _TOKEN.findall(text.lower()):
        out.append(tok)
        if "-" in tok:
            out.extend(p for p in tok.split("-") if p)
    return out


def terms(text: str, *, question: bool = False) -> list[str]:
    """Stemmed content terms; with ``question`` the question's framing words go too."""
    drop = STOPWORDS | QUESTION_WORDS if question else STOPWORDS
    kept = [w for w in words(text) if w not in drop and (len(w) > 1 or w.isdigit())]
    return _stem(kept)


def _long_form(abbr: str, before: list[str]) -> list[str] | None:
    """Schwartz-Hearst: the shortest run of words ending ``before`` that spells ``abbr``."""
    letters = [c.lower() for c in abbr if c.isalnum()]
    if len(letters) < 2 or not before:
        return None
    text = " ".join(before).lower()
    si, li = len(letters) - 1, len(text) - 1
    while si >= 0:
        c = letters[si]
        while li >= 0 and (text[li] != c or (si == 0 and li > 0 and text[li - 1].isalnum())):
            li -= 1
        if li < 0:
            return None
        li -= 1
        si -= 1
    start = text.rfind(" ", 0, li + 1) + 1
    long_form = text[start:].split()
    if len(long_form) > len(letters) + 3 or (len(long_form) < 2 and "-" not in text[start:]):
        return None
    return long_form


def _abbreviation_pairs(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """(abbreviation term, long-form terms) for each definition in ``text``, in order."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for m in _PAREN.finditer(text):
        abbr = m.group(1)
        if sum(c.isupper() for c in abbr) < 2:
            continue
        n = len([c for c in abbr if c.isalnum()])
        before = _LONG_WORD.findall(text[max(0, m.start() - 160) : m.start()])
        long_form = _long_form(abbr, before[-min(n + 5, 2 * n) :])
        key = terms(abbr)
        if not long_form or len(key) != 1:
            continue
        # Hyphenated words are matched by their parts (the compound is also a term).
        parts = tuple(t for t in terms(" ".join(long_form).replace("-", " ")) if t != key[0])
        if parts:
            out.append((key[0], parts))
    return out


def _count_abbreviations(
    pairs: Iterator[tuple[str, tuple[str, ...]]], per_abbr: int = 2
) -> dict[str, list[tuple[str, ...]]]:
    counts: dict[str, Counter[tuple[str, ...]]] = {}
    for key, parts in pairs:
        counts.setdefault(key, Counter())[parts] += 1
    return {a: [lf for lf, _ in c.most_common(per_abbr)] for a, c in counts.items()}


def abbreviations(texts: list[str], per_abbr: int = 2) -> dict[str, list[tuple[str, ...]]]:
    """Abbreviations defined in ``texts`` ("large language models (LLMs)") as stemmed terms.

    Maps the abbreviation's term to its most frequent long forms (each a tuple of terms
    that must all be present). Learned from the library itself, nothing hand-coded.
    """
    return _count_abbreviations((p for text in texts for p in _abbreviation_pairs(text)), per_abbr)


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
            [math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) if d else 0.0 for d in df.tolist()], dtype=np.float32
        )
        doc = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(self.pair_ptr))
        tf64 = self.tf.astype(np.float64)
        avg_len = self.lengths.mean()
        tfc = tf64 / (BM25_K1 * ((1 - BM25_B) + BM25_B * self.lengths[doc].astype(np.float64) / avg_len) + tf64)
        weights = (idf[self.terms] * tfc).astype(np.float32)
        order = np.argsort(self.terms, kind="stable")  # by term, chunks ascending within
        self.data, self.indices = weights[order], doc[order].astype(np.int32)

    @classmethod
    def build(cls, docs: list[list[int]], n_vocab: int) -> _BM25:
        return cls(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(0, np.int64), 0).updated(
            np.zeros(0, dtype=bool), docs, n_vocab
        )

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
    """`LexicalIndex.coverage_expanded` per paper, computed when a paper is looked up.

    A question touches a hundred candidate papers while the library may hold ten
    thousand; a paper without any of the terms is absent, as in a dict.
    """

    def __init__(self, index: LexicalIndex, expanded: list[tuple[str, list[tuple[str, ...]]]], title: bool):
        self._have = index.title_terms if title else index.paper_terms
        self._index, self._expanded, self._title = index, expanded, title
        weights = [index.idf(t) for t, _ in expanded]
        self._total = total = sum(weights)
        # Per term: its one-word spellings, its multi-word ones, and its share of the idf mass.
        self._checks = [
            (frozenset(a[0] for a in alts if len(a) == 1), [a for a in alts if len(a) > 1], w / total if total else 0.0)
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
    chunk_abbrevs: dict[str, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict, repr=False)

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
        bm25 = self.bm25.updated(keep, [[vocab[t] for t in toks] for toks in new_tokens], len(vocab))

        kept_rows = np.flatnonzero(keep).tolist()
        ids = [self.chunk_ids[i] for i in kept_rows] + list(chunk_ids)
        papers = [self.chunk_papers[i] for i in kept_rows] + [str(m["paper_id"]) for m in metas]
        # Per-paper term sets: kept papers as they were, the others from their new chunks.
        per_paper: dict[str, set[str]] = {}
        for pid, toks in zip(papers[len(kept_rows) :], new_tokens, strict=True):
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
        df = Counter({t: n for t, n in df.items() if n > 0})
        titles = {pid: ts for pid, ts in self.title_terms.items() if pid not in drop}
        titles.update(
            (str(m["paper_id"]), frozenset(terms(str(m["title"])))) for m in metas if m.get("title") is not None
        )
        title_terms = {pid: titles[pid] for pid in dict.fromkeys(papers) if pid in titles}

        chunk_abbrevs = {cid: self.chunk_abbrevs[cid] for cid in ids[: len(kept_rows)] if cid in self.chunk_abbrevs}
        for cid, text in zip(chunk_ids, texts, strict=True):
            pairs = _abbreviation_pairs(text)
            if pairs:
                chunk_abbrevs[cid] = pairs
        abbrevs = _count_abbreviations(p for cid in ids for p in chunk_abbrevs.get(cid, ()))

        versions = {pid: v for pid, v in self.paper_versions.items() if pid not in drop}
        versions.update(versions_read(papers[len(kept_rows) :], metas))
        return LexicalIndex(
            version, ids, papers, paper_terms, df, len(paper_terms), bm25, title_terms, abbrevs,
            INDEX_FORMAT, vocab, versions, chunk_abbrevs,
        )

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

    def expand(self, query_terms: list[str]) -> list[tuple[str, list[tuple[str, ...]]]]:
        """The question's distinct terms, each with alternative spellings from the library.

        An abbreviation in the question may be matched by its long form and a long form
        in the question ("large language model") by its abbreviation ("llm").
        """
        rev = self._reverse_abbrevs()
        qt = list(dict.fromkeys(query_terms))
        qset = set(qt)
        out: list[tuple[str, list[tuple[str, ...]]]] = []
        for t in qt:
            alts: list[tuple[str, ...]] = [(t,)]
            alts += self.abbrevs.get(t, [])
            for abbr in sorted(rev.get(t, ())):
                if abbr != t and any(t in lf and qset.issuperset(lf) for lf in self.abbrevs[abbr]):
                    alts.append((abbr,))
            out.append((t, alts))
        return out

    def coverage_expanded(
        self, expanded: list[tuple[str, list[tuple[str, ...]]]], paper_id: str, *, title: bool = False
    ) -> float:
        """Share of the question's idf mass the paper (or its title) contains, any spelling."""
        have = (self.title_terms if title else self.paper_terms).get(paper_id, frozenset())
        total = got = 0.0
        for t, alts in expanded:
            w = self.idf(t)
            total += w
            if any(all(x in have for x in alt) for alt in alts):
                got += w
        return got / total if total else 0.0

    def coverages(
        self, expanded: list[tuple[str, list[tuple[str, ...]]]], *, title: bool = False
    ) -> Mapping[str, float]:
        """`coverage_expanded` for every paper that has any of the terms (others: 0).

        Computed per paper on lookup (`Coverages`): the same values as a dict over all papers.
        """
        return Coverages(self, expanded, title)

    def _coverages_all(
        self, expanded: list[tuple[str, list[tuple[str, ...]]]], *, title: bool = False
    ) -> dict[str, float]:
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

    def search_terms(self, expanded: list[tuple[str, list[tuple[str, ...]]]]) -> list[str]:
        """Terms for BM25: the question's own plus single-term alternative spellings."""
        out = [t for t, _ in expanded]
        for _t, alts in expanded:
            out += [alt[0] for alt in alts[1:] if len(alt) == 1]
        return list(dict.fromkeys(out))

    def idf(self, term: str) -> float:
        """Paper-level idf; a term no paper has gets the highest idf."""
        return math.log((self.n_papers + 1) / (self.df.get(term, 0) + 0.5))

    def coverage(self, query_terms: list[str], paper_id: str) -> float:
        """Share of the question's idf mass that the paper contains (0..1)."""
        qt = list(dict.fromkeys(query_terms))
        if not qt:
            return 0.0
        have = self.paper_terms.get(paper_id, frozenset())
        total = sum(self.idf(t) for t in qt)
        return sum(self.idf(t) for t in qt if t in have) / total if total else 0.0

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
            (self.chunk_ids[i], self.chunk_papers[i], float(scores[i])) for i in top if scores[i] > 0
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


def versions_read(
    papers: Sequence[str], metas: Sequence[dict[str, Any]], sentences: Mapping[str, int] | None = None
) -> dict[str, PaperVersion | None]:
    """Each paper's version as its rows were read (``papers``: the paper of each chunk row).

    None unless its record (chunk 0) was read, complete, with as many chunks (and, given
    ``sentences`` read per paper, as many sentences) as it counts: a paper read mid-write
    is then re-read by the next update.
    """
    counts = Counter(papers)
    out: dict[str, PaperVersion | None] = dict.fromkeys(counts)
    for m in metas:
        if m.get("position") == 0 and m.get("complete"):
            pid = str(m["paper_id"])
            version = (str(m.get("hash", "")), int(m.get("n_chunks", -1)), int(m.get("n_sentences", -1)))
            if counts[pid] == version[1] and (sentences is None or sentences.get(pid, 0) == version[2]):
                out[pid] = version
    return out


def changed_papers(known: Mapping[str, PaperVersion | None], current: Mapping[str, PaperVersion]) -> set[str]:
    """Papers to re-read: new, removed, rewritten, or read incomplete last time."""
    stale = {pid for pid, v in known.items() if v is None or current.get(pid) != v}
    return stale | {pid for pid in current if pid not in known}

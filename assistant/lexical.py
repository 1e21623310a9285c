"""The lexical side of retrieval: BM25 over chunks (bm25s) and term coverage per paper.

The index mirrors the store: it is rebuilt when the library's version counter moves
(every ingest or removal bumps it, on an embedded store and on a server alike), and
cached on disk under that version so a new process does not rebuild it.
"""

from __future__ import annotations

import logging
import math
import pickle
import re
from collections import Counter
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
INDEX_FORMAT = 2

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


def abbreviations(texts: list[str], per_abbr: int = 2) -> dict[str, list[tuple[str, ...]]]:
    """Abbreviations defined in ``texts`` ("large language models (LLMs)") as stemmed terms.

    Maps the abbreviation's term to its most frequent long forms (each a tuple of terms
    that must all be present). Learned from the library itself, nothing hand-coded.
    """
    counts: dict[str, Counter[tuple[str, ...]]] = {}
    for text in texts:
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
                counts.setdefault(key[0], Counter())[parts] += 1
    return {a: [lf for lf, _ in c.most_common(per_abbr)] for a, c in counts.items()}


@dataclass
class LexicalIndex:
    """BM25 over chunk texts plus each paper's term set for coverage scores."""

    version: int
    chunk_ids: list[str]
    chunk_papers: list[str]
    paper_terms: dict[str, frozenset[str]]
    df: Counter[str]
    n_papers: int
    bm25: Any = field(repr=False)
    title_terms: dict[str, frozenset[str]] = field(default_factory=dict)
    abbrevs: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    format: int = INDEX_FORMAT

    @classmethod
    def build(
        cls, version: int, chunk_ids: list[str], texts: list[str], metas: list[dict[str, Any]]
    ) -> LexicalIndex:
        import bm25s

        tokenized = [terms(t) for t in texts]
        bm25 = bm25s.BM25()
        if tokenized:
            bm25.index(tokenized, show_progress=False)
        chunk_papers = [str(m["paper_id"]) for m in metas]
        per_paper: dict[str, set[str]] = {}
        for pid, toks in zip(chunk_papers, tokenized, strict=True):
            per_paper.setdefault(pid, set()).update(toks)
        paper_terms = {pid: frozenset(t) for pid, t in per_paper.items()}
        df: Counter[str] = Counter()
        for t in paper_terms.values():
            df.update(t)
        title_terms = {
            str(m["paper_id"]): frozenset(terms(str(m["title"])))
            for m in metas
            if m.get("title") is not None
        }
        return cls(
            version, list(chunk_ids), chunk_papers, paper_terms, df, len(paper_terms), bm25,
            title_terms, abbreviations(list(texts)),
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
            rev: dict[str, set[str]] = {}
            for abbr, forms in self.abbrevs.items():
                for lf in forms:
                    for t in lf:
                        rev.setdefault(t, set()).add(abbr)
            self.__dict__.setdefault("_rev", rev)
        return post

    def expand(self, query_terms: list[str]) -> list[tuple[str, list[tuple[str, ...]]]]:
        """The question's distinct terms, each with alternative spellings from the library.

        An abbreviation in the question may be matched by its long form and a long form
        in the question ("large language model") by its abbreviation ("llm").
        """
        self._postings()
        rev: dict[str, set[str]] = self.__dict__["_rev"]
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
    ) -> dict[str, float]:
        """`coverage_expanded` for every paper that has any of the terms (others: 0)."""
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
        scores = np.asarray(self.bm25.get_scores(known), dtype=np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [
            (self.chunk_ids[i], self.chunk_papers[i], float(scores[i])) for i in top if scores[i] > 0
        ]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)  # atomic: a reader never sees half a file

    @staticmethod
    def load(path: Path) -> LexicalIndex | None:
        try:
            with path.open("rb") as fh:
                obj = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None
        if not isinstance(obj, LexicalIndex) or vars(obj).get("format") != INDEX_FORMAT:
            return None
        return obj

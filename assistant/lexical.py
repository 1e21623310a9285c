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
        return cls(version, list(chunk_ids), chunk_papers, paper_terms, df, len(paper_terms), bm25)

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
        return obj if isinstance(obj, LexicalIndex) else None

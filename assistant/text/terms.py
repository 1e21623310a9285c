"""Tokenisation shared by retrieval, evidence, verification and the map: words, stemmed
terms, and the abbreviations a library defines ("large language models (LLMs)").

Documents and questions go through the same `terms`, so a question's term matches a
paper's whatever its inflection ("decoding" and "decoder" both give "decod").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

_TOKEN = re.compile(r"[^\W_]+(?:[-+][^\W_]+)*\+*", re.UNICODE)

# English function words, dropped from documents and questions alike.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "had",
        "has",
        "have",
        "having",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "via",
        "also",
        "each",
        "both",
        "between",
        "among",
        "about",
        "against",
        "during",
        "before",
        "after",
        "above",
        "below",
        "again",
        "further",
        "here",
        "just",
        "any",
        "all",
        "few",
        "many",
        "much",
        "may",
        "might",
        "must",
        "shall",
    ]
)

# Words that frame a question about the library rather than name its topic.
QUESTION_WORDS = frozenset(
    [
        "paper",
        "papers",
        "work",
        "works",
        "study",
        "studies",
        "studied",
        "studying",
        "research",
        "article",
        "articles",
        "publication",
        "publications",
        "library",
        "collection",
        "corpus",
        "discuss",
        "discusses",
        "discussed",
        "propose",
        "proposes",
        "proposed",
        "address",
        "addresses",
        "addressed",
        "investigate",
        "investigates",
        "explore",
        "explores",
        "focus",
        "focuses",
        "focusing",
        "tell",
        "list",
        "show",
        "find",
        "give",
        "know",
        "say",
        "says",
        "mention",
        "mentions",
        "describe",
        "describes",
        "look",
        "looking",
        "related",
        "relevant",
        "regarding",
        "concerning",
        "topic",
        "topics",
        "present",
        "presents",
        "please",
        "anything",
        "something",
        "there",
        "exist",
        "exists",
        "deal",
        "deals",
        "dealing",
        "cover",
        "covers",
        "covering",
        "written",
        "wrote",
    ]
)

_STEMMER: Any = None

# "long form (ABBR)" in a text; an abbreviation has 2+ capitals or an inner capital.
_PAREN = re.compile(r"\(([A-Za-z][A-Za-z0-9\-]{1,11}?)s?\)")
_LONG_WORD = re.compile(r"[A-Za-z0-9][\w\-]*")

# An abbreviation definition: (the abbreviation's term, the terms of its long form).
AbbreviationPair = tuple[str, tuple[str, ...]]


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
    """Stemmed content terms; with ``question`` the question's framing words go too.

    Example:
        >>> terms("Which papers study speculative decoding?", question=True)
        ['specul', 'decod']
    """
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


def abbreviation_pairs(text: str) -> list[AbbreviationPair]:
    """(abbreviation term, long-form terms) for each definition in ``text``, in order."""
    out: list[AbbreviationPair] = []
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


def count_abbreviations(
    pairs: Iterable[AbbreviationPair], per_abbr: int = 2
) -> dict[str, list[tuple[str, ...]]]:
    """Each abbreviation's ``per_abbr`` most frequent long forms among ``pairs``.

    Learned from the library itself, nothing hand-coded: each long form is a tuple of
    terms that must all be present for it to match.
    """
    counts: dict[str, Counter[tuple[str, ...]]] = {}
    for key, parts in pairs:
        counts.setdefault(key, Counter())[parts] += 1
    return {a: [lf for lf, _ in c.most_common(per_abbr)] for a, c in counts.items()}

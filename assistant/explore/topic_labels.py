"""Topic labels for the library map: each topic's two or three most distinctive terms,
as a person would name the topic ("speculative decoding · draft models · token").

Terms are scored by class-based TF-IDF (c-TF-IDF) over each topic's titles and abstracts,
unigrams and bigrams of the project's stemmed terms (`assistant.text.terms`), and shown in the
library's most frequent spelling. What names no topic is left out: the words of research
writing ("using", "novel"), nouns too broad to name one alone ("models", "learning"), and
words among the top terms of many of this library's topics (`generic_terms`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import pairwise

from ..text.terms import STOPWORDS, abbreviation_pairs, count_abbreviations, terms, words

LABEL_TERMS = 3
# Words that say how research is written, not what about ("we propose a novel..."): never
# in a label, nor in a bigram ("llm based", "existing methods"). Matched by stem.
WRITING_WORDS = frozenset(
    [
        "based", "demonstrate", "existing", "improve", "large", "new", "novel", "paper",
        "propose", "show", "significant", "various",
    ]
)  # fmt: skip
# Words too broad to name a topic alone, though they do in a bigram ("reinforcement
# learning", "reward model", "tool use").
BROAD_WORDS = frozenset(
    [
        "algorithm", "analysis", "approach", "data", "distribution", "effective", "efficient",
        "experiment", "framework", "learning", "method", "model", "objective", "performance",
        "problem", "process", "result", "set", "study", "system", "task", "training", "use",
        "work",
    ]
)  # fmt: skip
# A unigram among the first CANDIDATES terms of more than COMMON_SHARE of the topics is as
# broad in this library ("optimization" among machine-learning papers).
CANDIDATES = 20
COMMON_SHARE = 0.25
# Where a bigram cannot span: punctuation, and TeX commands ("$\\epsilon$-DP").
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”$]|\\[A-Za-z]+")


def topic_terms(
    texts_by_topic: Sequence[Sequence[str]], n_terms: int = LABEL_TERMS
) -> list[list[str]]:
    """Each topic's most distinctive terms (c-TF-IDF), in the library's own spelling.

    A term's weight in a topic is its share of the topic's terms times
    ``log(1 + mean terms per topic / its count in the whole library)``: frequent in this
    topic, rare elsewhere. Unigrams and bigrams of adjacent content words. Terms that name
    no topic are never chosen (`generic_terms`). A word is shown as the bigram it stands
    in at least a quarter of the time ("speculative decoding"), an abbreviation the topic
    defines as its long form ("optimal transport" for "OT"); a term sharing a word with a
    chosen one ("llms" after "llm") is skipped, unless it is a bigram that takes the place
    of that unigram.
    """
    counts, in_papers, spelling, long_forms = _term_counts(texts_by_topic)
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    mean_size = sum(sum(c.values()) for c in counts) / max(len(counts), 1)
    ranked = []
    for c, df, texts in zip(counts, in_papers, texts_by_topic, strict=True):
        size = max(sum(c.values()), 1)
        # A term of one paper says nothing about a topic of several.
        least = min(2, len(texts))
        scored = sorted(
            ((n / size) * math.log(1 + mean_size / total[t]), t)
            for t, n in c.items()
            if n >= 2 and df[t] >= least
        )
        ranked.append([t for _, t in reversed(scored)])
    generic = generic_terms(ranked)
    out: list[list[str]] = []
    used: set[str] = set()  # labels tell topics apart: each term names one topic
    for c, candidates, abbr in zip(counts, ranked, long_forms, strict=True):
        chosen: list[str] = []
        bigrams = [t for t in candidates if " " in t and t not in generic]
        for t in (t for t in candidates if t not in generic):
            t = _shown_as(t, c, bigrams, abbr)
            if t in used:
                continue
            same = [ch for ch in chosen if _same_thing(t, ch, abbr)]
            if not same:
                chosen.append(t)
            elif all(" " not in ch and ch in t.split(" ") for ch in same):
                chosen = [t if ch == same[0] else ch for ch in chosen if ch not in same[1:]]
            if len(chosen) == n_terms:
                break
        used.update(chosen)
        out.append([spelling[t].most_common(1)[0][0] for t in chosen])
    return out


def generic_terms(ranked: Sequence[Sequence[str]]) -> set[str]:
    """The terms of ``ranked`` (each topic's stemmed terms, most distinctive first) that name
    no topic: unigrams of `WRITING_WORDS` or `BROAD_WORDS`, unigrams among the first
    `CANDIDATES` of more than `COMMON_SHARE` of the topics (and of at least 3), bigrams
    with a writing word ("llm based"), and bigrams of two broad or common words
    ("proposed method"; "language models" in a library of language-model papers)."""
    writing = {_stem1(w) for w in WRITING_WORDS}
    broad = {_stem1(w) for w in BROAD_WORDS}
    seen: Counter[str] = Counter()  # singular and plural ("llm", "llms") count as one
    for r in ranked:
        firsts = [t for t in r if " " not in t and t not in writing | broad][:CANDIDATES]
        seen.update({_singular(t) for t in firsts})
    common = {t for t, n in seen.items() if n > max(2, COMMON_SHARE * len(ranked))}
    broad |= {t for r in ranked for t in r if _singular(t) in common}
    return {
        t
        for r in ranked
        for t in r
        if set(t.split(" ")) <= broad | writing or set(t.split(" ")) & writing
    }


def _term_counts(
    texts_by_topic: Sequence[Sequence[str]],
) -> tuple[list[Counter[str]], list[Counter[str]], dict[str, Counter[str]], list[dict[str, str]]]:
    """Per topic: its stemmed unigrams and bigrams counted, the number of its texts each
    is in, and the abbreviations its texts define with a two-word long form ("ot" ->
    "optim transport"); and each term's spellings."""
    counts: list[Counter[str]] = []
    in_papers: list[Counter[str]] = []
    spelling: dict[str, Counter[str]] = {}
    long_forms: list[dict[str, str]] = []
    for texts in texts_by_topic:
        c: Counter[str] = Counter()
        df: Counter[str] = Counter()
        pairs = [p for text in texts for p in abbreviation_pairs(text)]
        for text in texts:
            here: Counter[str] = Counter()
            # A bigram is two content words side by side in one clause, never across a
            # dropped word or punctuation ("reinforcement learning (RL)" has no "learning rl").
            for clause in _CLAUSE_BREAK.split(text):
                _count_clause(clause, here, spelling)
            c.update(here)
            df.update(here.keys())
        counts.append(c)
        in_papers.append(df)
        found = count_abbreviations(pairs, 1).items()
        long_forms.append({a: " ".join(lf[0]) for a, lf in found if len(lf[0]) == 2})
    return counts, in_papers, spelling, long_forms


def _count_clause(clause: str, here: Counter[str], spelling: dict[str, Counter[str]]) -> None:
    """Count a clause's stemmed content words and bigrams into ``here``, with the spellings."""
    tokens = words(clause)
    # Hyphenated words count by their parts (`words` yields both); a bigram of two parts
    # keeps its hyphen ("multi-step").
    joined = {pair for w in tokens if "-" in w for pair in pairwise(w.split("-"))}
    toks = [w for w in tokens if "-" not in w]
    keep = [w not in STOPWORDS and len(w) > 1 and not w.isdigit() for w in toks]
    for i, w in enumerate(toks):
        if not keep[i]:
            continue
        s = _stem1(w)
        here[s] += 1
        spelling.setdefault(s, Counter())[w] += 1
        if i + 1 < len(toks) and keep[i + 1] and _stem1(toks[i + 1]) != s:
            nxt = toks[i + 1]
            bi = f"{s} {_stem1(nxt)}"
            here[bi] += 1
            spelling.setdefault(bi, Counter())[w + ("-" if (w, nxt) in joined else " ") + nxt] += 1


def _shown_as(
    t: str, c: Counter[str], bigrams: Sequence[str], long_forms: Mapping[str, str]
) -> str:
    """How a unigram is shown: as its long form when the topic defines it as an
    abbreviation, else as the bigram it stands in a quarter of the time, else itself;
    ``bigrams`` are the topic's bigrams that may be shown."""
    if " " in t:
        return t
    if long_forms.get(t) in bigrams:
        return long_forms[t]
    best = max((b for b in bigrams if t in b.split(" ")), key=c.__getitem__, default="")
    return best if best and c[best] * 4 >= c[t] else t


def _same_thing(a: str, b: str, long_forms: Mapping[str, str]) -> bool:
    """Whether two terms share a word, singular or plural, or an abbreviation's long form
    ("dp" and "differenti privaci")."""

    def said(term: str) -> set[str]:
        got = {_singular(w) for w in term.split(" ")}
        return got.union(*(long_forms.get(w, "").split() for w in got))

    return bool(said(a) & said(b))


def _singular(stem: str) -> str:
    # The stemmer keeps the plural of an abbreviation ("llms"); other stems have none.
    return stem[:-1] if stem.endswith("s") and len(stem) > 2 else stem


_STEMS: dict[str, str] = {}


def _stem1(word: str) -> str:
    got = _STEMS.get(word)
    if got is None:
        stemmed = terms(word)
        got = _STEMS[word] = stemmed[0] if stemmed else word
    return got

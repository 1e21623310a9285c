"""Evidence for an answer: which papers answer a question, and the passage each one gives.

The conversation (`assistant.chat`) retrieves candidates; this module turns them into the
papers an answerer quotes: the papers a question names, the first few for a comparison,
those whose imported year or venue a metadata question asks about, and, for a full-text
(PDF) paper, the body sentence that answers better than its abstract.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from ..core.types import Chunk, SearchHit
from ..index.snapshot import Snapshot
from ..index.vectors import quotable_sentences
from ..retrieval.hits import PaperHit, Passage, Retrieval
from ..retrieval.retriever import Filters
from ..text.sentences import split_sentences
from ..text.terms import terms
from .questions import VENUES, QuestionInfo

if TYPE_CHECKING:
    from ..index.embeddings import Embedder
    from ..retrieval.retriever import Retriever
    from ..store.library import Library


def metadata_matches(
    question: str, info: QuestionInfo, snap: Snapshot, filters: Filters | None, cap: int
) -> list[PaperHit]:
    """Papers whose imported year or venue is what a metadata question asks about,
    newest first, at most ``cap``."""
    low = question.lower()
    venues = [v for v in VENUES if v in low]
    out = []
    for p in snap.papers.values():
        if filters and not filters.allows(p):
            continue
        by_year = bool(info.years) and p.year in info.years
        by_venue = (
            bool(venues) and bool(p.venue) and any(v in (p.venue or "").lower() for v in venues)
        )
        if by_year or by_venue:
            out.append(p)
    out.sort(key=lambda p: (-(p.year or 0), p.title))
    return [PaperHit(p, 1.0, 0.0, 0.0, 0.0) for p in out[:cap]]


# A question asking for an amount, a size or a date: a sentence with a number answers it
# better ("how many", "what were the dimensions", "what time span", "in which year").
WANTS_NUMBER = re.compile(
    r"\bhow\s+(much|many|long|large|big|fast|often|small)\b|\bwhat\s+(?:(?:is|are|was|were)\s+"
    r"(?:the\s+)?)?(fraction|share|percent|proportion|size|length|rate|value|number|score"
    r"|accuracy|p-value|version|dimensions?|time\s+span|span|period|duration|year)\b"
    r"|\b(which|what)\s+([\w-]+\s+){0,2}(values?|numbers?|percentages?|amounts?|sizes?|years?)\b"
    r"|^\s*when\s+(?:was|were|did|is|does|do)\b",
    re.IGNORECASE,
)
# What a detail question asks for: the noun after its interrogative ("what mini-batch
# size", "how many participants", "what were the dimensions of ..."), up to a preposition
# or verb that starts the rest of the question. "What does X do" asks for no noun.
_ASKED = re.compile(
    r"\b(?:what|which|how\s+(?:many|much|long|large|big|fast|often))\s+(?:(?:is|are|was|were)\s+)?"
    r"(?:the\s+)?(?!(?:do|does|did|can|could|would|should|will)\b)((?:[\w-]+\s+){0,2}[\w-]+)",
    re.IGNORECASE,
)
_ASKED_END = re.compile(
    r"\s+(?:of|in|for|to|on|with|by|from|at|that|when|used|does|do|did|is|are|was|were)\b.*$",
    re.IGNORECASE,
)
# Where the question proper starts, after a lead-in naming the paper or setting the scene
# ("In 'Title', by how much ...", "When gates are mediated by ..., what property ...").
# "When" and "where" are left out: they open a question's lead-in as often as the question.
_INTERROGATIVE = re.compile(
    r"\b(what|which|how|why|who|whom|whose|combien|quel|quelle|quels|quelles|pourquoi"
    r"|comment)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = frozenset(
    [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "fifteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "hundred",
        "hundreds",
        "thousand",
        "thousands",
        "dozen",
        "million",
        "billion",
    ]
)
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W_]+(?:[.,]\d+)*%?")
# Text of a PDF body that is not a sentence of prose: a caption, a line of code or its
# output, an address, a keyword line, a list or a table row.
_CAPTION = re.compile(r"^(?:Table|Figure|Fig\.|Tab\.)\s*\d+[:.]")
_CODE = re.compile(r"<-|(?:^|\s)(?:R>|>)\s*[\w.$]+\s*(?:\(|<-|=)")
_ADDRESS = re.compile(r"@\w+\.\w|https?://|www\.")
_KEYWORDS = re.compile(r"^(?:key\s?words|mots[- ]cl[ée]s)\b", re.IGNORECASE)
_LIST_ITEM = re.compile(r"\(T\d+\)|\s-\s")

# The weights below were chosen on the tuning half of the real-PDF question set
# (python -m evals.real_pdfs --split tune; its test half is the report; evals/BODY_QUOTES.md).
PASSAGE_CHUNKS = 10  # chunks of a paper whose sentences are candidates
COVER_WEIGHT = 0.75  # weight of the question's terms a chunk holds, beside its cosine
PASSAGE_ENCODED = 20  # candidates encoded, the best by everything but their cosine
SENTENCE_COVER = 1.0  # weight of the question's terms a sentence holds
ASKED_WEIGHT = 1.1  # for a sentence holding what the question asks for
NUMBER_BONUS = 0.4  # for a sentence with a number, when the question asks for one
BESIDE_BONUS = 0.6  # ... and a number right before the asked-for noun ("300 nuisance parameters")
FRAGMENT_PENALTY = 0.5  # for a caption, code, address, list or table row
CHUNK_WEIGHT = 0.8  # weight of the score of the chunk a sentence comes from


def asked_terms(question: str) -> set[str]:
    """Terms of what a detail question asks for.

    Example:
        >>> sorted(asked_terms("What were the dimensions of the silicon detector?"))
        ['dimens']
    """
    out: set[str] = set()
    for m in _ASKED.finditer(question):
        out |= set(terms(_ASKED_END.sub("", " " + m.group(1))))
    return out


def question_focus(question: str) -> str:
    """The question from its interrogative on: what a sentence that answers is about (the
    lead-in before it named the paper or set the scene, and chose the chunks)."""
    m = _INTERROGATIVE.search(question)
    return question[m.start() :] if m else question


def is_fragment(text: str) -> bool:
    """Whether a body "sentence" is a caption, code, an address, a keyword line, a list
    or table row, or too short or too symbol-laden to be prose."""
    s = text.strip()
    if _CAPTION.match(s) or _CODE.search(s) or _ADDRESS.search(s) or _KEYWORDS.match(s):
        return True
    if s.count(";") >= 3 or len(_LIST_ITEM.findall(s)) >= 2 or len(s.split()) < 5:
        return True
    return sum(c.isalpha() for c in s) < 0.6 * len(s)


def _numbers(text: str) -> list[tuple[str, bool]]:
    """The words of ``text``, each with whether it is a number: digits standing alone (a
    number joined to a name by a hyphen, "AVX-512", names it) or a number word."""
    low = text.lower()
    return [
        (
            m.group(),
            m.group() in _NUMBER_WORDS
            or (m.group()[0].isdigit() and (m.start() == 0 or low[m.start() - 1] != "-")),
        )
        for m in _WORD.finditer(low)
    ]


def has_number(text: str) -> bool:
    """Whether a sentence states a number, in digits or in words."""
    return bool(_DIGIT.search(text)) or any(w in _NUMBER_WORDS for w, _ in _numbers(text))


def number_beside(text: str, asked: set[str]) -> bool:
    """Whether a number stands within three words before an asked-for term:
    "approximately 300 nuisance parameters", "nine instructions"."""
    words = _numbers(text)
    for i, (word, _) in enumerate(words):
        stem = terms(word)
        if stem and stem[0] in asked and any(num for _, num in words[max(0, i - 3) : i]):
            return True
    return False


def _lexical(texts: list[str], qterms: set[str], asked: set[str], wants_number: bool) -> np.ndarray:
    """Each sentence's score beside its cosine: the question's terms it holds, what the
    question asks for, a number where one is asked for, less a fragment's penalty."""
    out = np.zeros(len(texts), np.float32)
    for i, t in enumerate(texts):
        have = set(terms(t))
        score = SENTENCE_COVER * len(qterms & have) / (len(qterms) or 1)
        if asked:
            score += ASKED_WEIGHT * len(asked & have) / len(asked)
        if wants_number and has_number(t):
            score += NUMBER_BONUS
        if wants_number and asked and number_beside(t, asked):
            score += BESIDE_BONUS
        if is_fragment(t):
            score -= FRAGMENT_PENALTY
        out[i] = score
    return out


def attach_passages(
    hits: list[PaperHit],
    retrieval: Retrieval,
    snap: Snapshot,
    library: Library,
    embedder: Embedder,
) -> None:
    """For PDF papers, find the body sentence that answers better than the abstract.

    The paper's chunks are ranked by closeness plus the share of the question's terms they
    hold (the paper's own title words aside), so a chunk that states the asked-for detail
    in the question's words is read even when its vector is not the closest. The
    sentences of the best ``PASSAGE_CHUNKS`` are scored by the question's terms they hold,
    what the question asks for (`asked_terms`), a number when it asks for one, less a
    penalty for fragments (`is_fragment`), plus ``CHUNK_WEIGHT`` times their chunk's
    score; the best ``PASSAGE_ENCODED`` and the abstract's best three are encoded and add
    their cosine with the question's focus (`question_focus`). The best body sentence is
    set as the hit's ``passage``, with its section and page, and ``beats_abstract`` when
    its own score (without its chunk's) reaches the abstract's best.
    """
    wanted = [h.paper.id for h in hits if h.paper.id in snap.fulltext_ids]
    if not wanted:
        return
    found = library.fulltext_chunks(wanted)
    question, qvec = retrieval.question, retrieval.query_vector
    focus = question_focus(question)
    fvec = qvec if focus == question else embedder.encode_query(focus)
    wants_number = bool(WANTS_NUMBER.search(question))
    asked = asked_terms(question)
    for h in hits:
        chunks = found.get(h.paper.id, [])
        if not chunks:
            continue
        qterms = set(retrieval.query_terms) - set(terms(h.paper.title))

        def cover(text: str, qterms: set[str] = qterms) -> float:
            return len(qterms & set(terms(text))) / (len(qterms) or 1)

        scored = sorted(
            ((float(v @ qvec) + COVER_WEIGHT * cover(c.text), c) for c, v in chunks),
            key=lambda sc: -sc[0],
        )
        # One candidate per sentence: neighbouring chunks overlap, and a sentence in two
        # counts with the better chunk.
        cands: dict[str, tuple[float, Chunk, int, int]] = {}
        for chunk_score, chunk in scored[:PASSAGE_CHUNKS]:
            body = chunk.text[len(chunk.text) - (chunk.end - chunk.start) :]
            for a, b in split_sentences(body):
                cands.setdefault(body[a:b], (chunk_score, chunk, a, b))
        if not cands:
            continue
        texts = list(cands)
        lexical = _lexical(texts, qterms, asked, wants_number)
        context = CHUNK_WEIGHT * np.asarray([cands[t][0] for t in texts], np.float32)
        keep = np.argsort(-(lexical + context), kind="stable")[:PASSAGE_ENCODED]
        abstract = (
            [h.sentences[i].text for i in np.argsort(-h.sentence_scores)[:3]]
            if (h.sentence_scores is not None and len(h.sentence_scores))
            else []
        )
        # One text at a time through the question encoder: for a few short sentences it is
        # faster than a padded batch, and a question then never loads the batch model.
        vecs = np.stack([embedder.encode_query(t) for t in [texts[i] for i in keep] + abstract])
        own = vecs @ fvec + np.concatenate(
            [lexical[keep], _lexical(abstract, qterms, asked, wants_number)]
        )
        best = int(np.argmax(own[: len(keep)] + context[keep]))
        _, chunk, a, b = cands[texts[keep[best]]]
        beats = not abstract or bool(own[best] >= own[len(keep) :].max())
        h.passage = Passage(
            chunk.section,
            chunk.page_at(a),
            texts[keep[best]],
            chunk.start + a,
            chunk.start + b,
            float(own[best]),
            beats,
        )


def search_papers(
    retriever: Retriever, snap: Snapshot, query: str, k: int, filters: Filters | None
) -> list[SearchHit]:
    """The ``k`` best-ranked papers for ``query``, each with the sentence that best matches
    it and the tier an answer would give it."""
    retrieval = retriever.retrieve(query, filters=filters, snapshot=snap)
    main = {h.paper.id for h in retrieval.relevant}
    second = {h.paper.id for h in retrieval.second}
    hits = retrieval.hits[:k]
    # The best sentence of papers the retriever did not score sentence by sentence.
    missing = {
        h.paper.id: h.paper for h in hits if h.sentence_scores is None or not len(h.sentence_scores)
    }
    stored = quotable_sentences(missing, None, retriever.library) if missing else {}
    out = []
    for rank, h in enumerate(hits, 1):
        best = h.best_sentences(1)
        sentence = best[0].text if best else None
        if sentence is None and h.paper.id in stored:
            sents, vecs = stored[h.paper.id]
            if sents:
                sentence = sents[int((vecs @ retrieval.query_vector).argmax())].text
        tier = "main" if h.paper.id in main else "second" if h.paper.id in second else ""
        out.append(
            SearchHit(
                rank,
                h.paper.id,
                h.paper.title,
                round(float(h.score), 4),
                round(float(h.dense), 4),
                round(float(h.lexical), 4),
                tier,
                sentence,
            )
        )
    return out

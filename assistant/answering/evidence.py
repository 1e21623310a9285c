"""Evidence for an answer: which papers answer a question, and the passage each one gives.

The conversation (`assistant.chat`) retrieves candidates; this module turns them into the
papers an answerer quotes: the papers a question names, the first few for a comparison,
those whose imported year or venue a metadata question asks about, and, for a full-text
(PDF) paper, the body sentence that answers better than its abstract.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.types import SearchHit
from ..index.snapshot import Snapshot
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
        by_venue = bool(venues) and bool(p.venue) and any(
            v in (p.venue or "").lower() for v in venues
        )
        if by_year or by_venue:
            out.append(p)
    out.sort(key=lambda p: (-(p.year or 0), p.title))
    return [PaperHit(p, 1.0, 0.0, 0.0, 0.0) for p in out[:cap]]


# A question asking for an amount: a sentence with a number answers it better.
WANTS_NUMBER = re.compile(
    r"\bhow\s+(much|many|long|large|big|fast|often|small)\b|\bwhat\s+(fraction|share|percent"
    r"|proportion|size|length|rate|value|number|score|accuracy|p-value|version|dimensions?)\b"
    r"|\b(which|what)\s+([\w-]+\s+){0,2}(values?|numbers?|percentages?|amounts?|sizes?)\b",
    re.IGNORECASE,
)
# What a detail question asks for: the words after its interrogative ("what mini-batch
# size", "how many participants", "which Geant4 version").
_ASKED = re.compile(
    r"\b(?:what|which|how\s+(?:many|much|long|large|big|fast|often))\s+((?:[\w-]+\s+){0,2}[\w-]+)",
    re.IGNORECASE,
)
# The weights below were chosen on the tuning half of the real-PDF question set
# (python -m evals.real_pdfs --split tune; its test half is the report).
ASKED_WEIGHT = 0.9  # for a sentence holding what the question asks for
PASSAGE_CHUNKS = 10  # chunks of a paper whose sentences are scored
COVER_WEIGHT = 0.75  # weight of the question's terms a sentence holds, beside its cosine
NUMBER_BONUS = 0.1  # for a sentence with a number, when the question asks for one


def attach_passages(
    hits: list[PaperHit], retrieval: Retrieval, snap: Snapshot, library: Library,
    embedder: Embedder,
) -> None:
    """For PDF papers, find the body sentence that answers better than the abstract.

    The paper's chunks are ranked by closeness plus the share of the question's terms they
    hold (the paper's own title words aside), so a chunk that states the asked-for detail
    in the question's words is read even when its vector is not the closest; the
    sentences of the best ``PASSAGE_CHUNKS`` and the abstract's best three are encoded
    together and scored alike (cosine plus term coverage, plus ``NUMBER_BONUS`` for a
    sentence with a number when the question asks "how many" or "what size", and
    ``ASKED_WEIGHT`` times the share it holds of what the question asks for). The best
    body sentence is set as the hit's ``passage``, with its section and page, and
    ``beats_abstract`` when it also beats the abstract's.
    """
    wanted = [h.paper.id for h in hits if h.paper.id in snap.fulltext_ids]
    if not wanted:
        return
    found = library.fulltext_chunks(wanted)
    qvec = retrieval.query_vector
    wants_number = bool(WANTS_NUMBER.search(retrieval.question))
    asked = set().union(*(terms(m.group(1)) for m in _ASKED.finditer(retrieval.question)))
    for h in hits:
        chunks = found.get(h.paper.id, [])
        if not chunks:
            continue
        qterms = set(retrieval.query_terms) - set(terms(h.paper.title))

        def cover(text: str, qterms: set[str] = qterms) -> float:
            return len(qterms & set(terms(text))) / (len(qterms) or 1)

        ranked = sorted(
            chunks, key=lambda cv: -(float(cv[1] @ qvec) + COVER_WEIGHT * cover(cv[0].text))
        )
        body_cands: list[tuple[Any, int, int, str]] = []
        for chunk, _vec in ranked[:PASSAGE_CHUNKS]:
            body = chunk.text[len(chunk.text) - (chunk.end - chunk.start) :]
            body_cands += [(chunk, a, b, body[a:b]) for a, b in split_sentences(body)]
        abstract = [h.sentences[i].text for i in np.argsort(-h.sentence_scores)[:3]] if (
            h.sentence_scores is not None and len(h.sentence_scores)) else []
        texts = [c[3] for c in body_cands] + abstract
        if not body_cands:
            continue
        vecs = embedder.encode(texts)
        scores = vecs @ qvec + COVER_WEIGHT * np.asarray([cover(t) for t in texts], np.float32)
        if asked:
            scores += ASKED_WEIGHT * np.asarray(
                [len(asked & set(terms(t))) / len(asked) for t in texts], np.float32
            )
        if wants_number:
            scores += NUMBER_BONUS * np.asarray([bool(_DIGIT.search(t)) for t in texts], np.float32)
        i = int(np.argmax(scores[: len(body_cands)]))
        chunk, a, b, text = body_cands[i]
        beats = i == int(np.argmax(scores))
        h.passage = Passage(
            chunk.section, chunk.page_at(a), text, chunk.start + a, chunk.start + b,
            float(scores[i]), beats,
        )


_DIGIT = re.compile(r"\d")


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
    missing = [h.paper.id for h in hits if h.sentence_scores is None or not len(h.sentence_scores)]
    stored = retriever.library.sentences_for(missing) if missing else {}
    out = []
    for rank, h in enumerate(hits, 1):
        best = h.best_sentences(1)
        sentence = best[0].text if best else None
        if sentence is None and h.paper.id in stored:
            sents, vecs = stored[h.paper.id]
            if sents:
                sentence = sents[int((vecs @ retrieval.query_vector).argmax())].text
        tier = "main" if h.paper.id in main else "second" if h.paper.id in second else ""
        out.append(SearchHit(
            rank, h.paper.id, h.paper.title, round(float(h.score), 4), round(float(h.dense), 4),
            round(float(h.lexical), 4), tier, sentence,
        ))
    return out

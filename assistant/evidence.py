"""Evidence for an answer: which papers answer a question, and the passage each one gives.

The conversation (`assistant.chat`) retrieves candidates; this module turns them into the
papers an answerer quotes: the papers a question names, the first few for a comparison,
those whose imported year or venue a metadata question asks about, and, for a full-text
(PDF) paper, the body sentence that answers better than its abstract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .hits import PaperHit, Passage, Retrieval
from .questions import VENUES, QuestionInfo
from .retrieval import Filters
from .sentences import split_sentences
from .snapshot import Snapshot
from .terms import terms
from .types import SearchHit

if TYPE_CHECKING:
    from .embeddings import Embedder
    from .retrieval import Retriever
    from .store import Library


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


def attach_passages(
    hits: list[PaperHit], retrieval: Retrieval, snap: Snapshot, library: Library,
    embedder: Embedder,
) -> None:
    """For PDF papers, find the body sentence that answers better than the abstract.

    Body and abstract candidates are encoded together and scored alike (cosine plus
    coverage of the question's terms other than the paper's own title words); a body
    sentence that wins is set as the hit's ``passage``.
    """
    wanted = [h.paper.id for h in hits if h.paper.id in snap.fulltext_ids]
    if not wanted:
        return
    found = library.fulltext_chunks(wanted)
    qvec = retrieval.query_vector
    for h in hits:
        chunks = found.get(h.paper.id, [])
        if not chunks:
            continue
        qterms = set(retrieval.query_terms) - set(terms(h.paper.title))
        body_cands: list[tuple[Any, int, int, str]] = []
        for chunk, _vec in sorted(chunks, key=lambda cv: -float(cv[1] @ qvec))[:3]:
            body = chunk.text[len(chunk.text) - (chunk.end - chunk.start) :]
            body_cands += [(chunk, a, b, body[a:b]) for a, b in split_sentences(body)]
        abstract = [h.sentences[i].text for i in np.argsort(-h.sentence_scores)[:3]] if (
            h.sentence_scores is not None and len(h.sentence_scores)) else []
        texts = [c[3] for c in body_cands] + abstract
        if not body_cands:
            continue
        vecs = embedder.encode(texts)
        cover = np.asarray(
            [len(qterms & set(terms(t))) / (len(qterms) or 1) for t in texts], dtype=np.float32
        )
        scores = vecs @ qvec + 0.5 * cover
        i = int(np.argmax(scores))
        if i < len(body_cands):
            chunk, a, b, text = body_cands[i]
            h.passage = Passage(
                chunk.section, chunk.page, text, chunk.start + a, chunk.start + b, float(scores[i])
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

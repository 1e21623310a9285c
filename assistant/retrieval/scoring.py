"""How a candidate paper is scored: its signals, their weighted sum, and the re-ranking
that moves the question toward its best matches (pseudo-relevance feedback).

Vectors are read from the snapshot's `Vectors` when the library is held in memory,
otherwise from the store (`Library`); both give the same scores.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core.settings import RetrievalSettings
from ..core.types import Sentence
from ..index.lexical import Expanded, LexicalIndex
from ..index.vectors import Vectors, quotable_sentences
from ..store.library import Library
from ..text.terms import terms
from .hits import PaperHit


def combined_score(h: PaperHit, cfg: RetrievalSettings) -> float:
    """The paper score: the weighted sum of its signals (weights in `RetrievalSettings`)."""
    return (
        cfg.dense_weight * h.dense
        + cfg.sentence_weight * h.sentence
        + cfg.lexical_weight * h.lexical
        + cfg.title_weight * h.title
    )


def concept_share(lex: LexicalIndex, expanded: Expanded, paper_id: str) -> float:
    """Share of the question's distinct terms the paper contains in any spelling, each
    term counted once whatever its idf (a rare word must not stand in for the rest)."""
    have = lex.paper_terms.get(paper_id)
    if not have or not expanded:
        return 0.0
    got = sum(1 for _t, alts in expanded if any(have.issuperset(a) for a in alts))
    return got / len(expanded)


def sentence_signal(
    hits: list[PaperHit],
    qvec: np.ndarray,
    qterms: list[str],
    sent_best: Mapping[str, float] | None,
    vectors: Vectors | None,
    library: Library,
) -> None:
    """Sets each hit's best sentence similarity: from ``sent_best`` (in memory) when
    given, otherwise from the hit's sentences read from the store."""
    if sent_best is not None:
        for h in hits:
            h.sentence = max(sent_best.get(h.paper.id, 0.0), 0.0)
        return
    attach_sentences(hits, qvec, qterms, vectors, library)
    for h in hits:
        svecs = h.sentence_vectors
        has = svecs is not None and len(svecs)
        h.sentence = float(max((svecs @ qvec).max(), 0.0)) if has else 0.0


def feedback(
    hits: list[PaperHit],
    qvec: np.ndarray,
    vectors: Vectors | None,
    library: Library,
    cfg: RetrievalSettings,
) -> None:
    """Re-rank ``hits`` with the question vector moved toward its best matches.

    Pseudo-relevance feedback (Rocchio): the best chunk of each of the top
    ``feedback_papers`` papers is averaged and added to the question vector with
    ``feedback_weight``; dense and sentence similarities are recomputed for every
    candidate. A paraphrased question ("a small model guesses tokens the big model
    checks") borrows the library's own wording of the topic from the papers it found
    first. Measured on the eval set: evals/CALIBRATION.md.
    """
    vecs = candidate_vectors([h.paper.id for h in hits], vectors, library)
    top = [vecs[h.paper.id][0] for h in hits[: cfg.feedback_papers] if len(vecs[h.paper.id][0])]
    if not top:
        return
    centroid = np.mean([c[int(np.argmax(c @ qvec))] for c in top], axis=0)
    q2 = qvec + cfg.feedback_weight * centroid
    q2 = (q2 / (np.linalg.norm(q2) or 1.0)).astype(np.float32)
    for h in hits:
        chunks, sents = vecs[h.paper.id]
        if len(chunks):
            h.dense = float((chunks @ q2).max())
        if len(sents):
            h.sentence = max(float((sents @ q2).max()), 0.0)
        h.score = combined_score(h, cfg)
    hits.sort(key=lambda h: -h.score)


def candidate_vectors(
    paper_ids: list[str], vectors: Vectors | None, library: Library
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Paper id -> (its chunk vectors, its sentence vectors), from memory or the store."""
    empty = np.zeros((0, 0), dtype=np.float32)
    if vectors is None:
        chunks = library.chunk_vectors(paper_ids)
        sents = library.sentences_for(paper_ids)
        return {pid: (chunks.get(pid, empty), sents.get(pid, ([], empty))[1]) for pid in paper_ids}
    order, bounds = vectors.chunk_rows
    out = {}
    for pid in paper_ids:
        i = vectors.paper_index.get(pid)
        rows = order[bounds[i] : bounds[i + 1]] if i is not None else order[:0]
        srows = vectors.sentences.get(pid, ([], np.zeros(0, dtype=np.int64)))[1]
        out[pid] = (vectors.chunk_vectors[rows], vectors.sentence_vectors[srows])
    return out


def attach_sentences(
    hits: list[PaperHit],
    qvec: np.ndarray,
    qterms: list[str],
    vectors: Vectors | None,
    library: Library,
) -> None:
    """Gives each hit its sentences (none flagged: `quotable_sentences`), their vectors and
    their scores for the question: cosine similarity plus half the share of the question's
    terms the sentence has."""
    if not hits:
        return
    found = quotable_sentences({h.paper.id: h.paper for h in hits}, vectors, library)
    qset = set(qterms)
    known = vectors.sentence_terms if vectors is not None else {}
    none: tuple[list[Sentence], np.ndarray] = ([], np.zeros((0, qvec.shape[0]), dtype=np.float32))
    for h in hits:
        sents, vecs = found.get(h.paper.id, none)
        h.sentences = sents
        h.sentence_vectors = vecs
        if not sents:
            h.sentence_scores = np.zeros(0, dtype=np.float32)
            continue
        cos = vecs @ qvec
        overlap = np.asarray(
            [
                len(qset & (known.get((s.paper_id, s.index)) or set(terms(s.text))))
                / (len(qset) or 1)
                for s in sents
            ],
            dtype=np.float32,
        )
        h.sentence_overlap = overlap
        h.sentence_scores = cos + 0.5 * overlap

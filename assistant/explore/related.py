"""Related papers: for any paper, the library's closest papers and the sentences that link them.

Everything comes from vectors ingest already stored: a paper's vector is the mean of its
chunk vectors (normalised), so the closest papers are one matrix product over the
library; the linking sentences are the closest pair between the two papers' abstract
sentences. Near duplicates (the same paper listed twice under two titles, near-identical
abstracts) are left out, and so is a result that duplicates an earlier result. The
paper matrix is built once per library snapshot and shared by every conversation.
Above ``RetrievalSettings.memory_max_vectors`` (no vectors in memory) the store is
queried with the paper's vector instead.

How often the top 5 share the paper's topic on the eval set: evals/RELATED.md.

Example:
    >>> from assistant.explore.related import related
    >>> for r in related(bot.retriever, "p90007efee116", k=5):       # doctest: +SKIP
    ...     print(r.title, "-", r.sentence)
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.errors import PaperNotFoundError
from ..core.types import Paper, RelatedPaper, Sentence
from ..index.snapshot import Snapshot
from ..index.vectors import quotable_sentences
from ..retrieval.retriever import Retriever
from ..text.terms import terms

# Two papers this close (cosine of their mean chunk vectors) are one paper listed twice:
# distinct papers of one topic stay well under it (evals/RELATED.md has the measured pairs).
DUPLICATE_SIMILARITY = 0.95
# Or the same words: Jaccard overlap of the abstracts' word 3-grams.
DUPLICATE_SHINGLES = 0.8
# The score: (dense + LEXICAL_WEIGHT * tf-idf cosine) / (1 + LEXICAL_WEIGHT). The shared
# terms raise the same-topic share of the top 5 over dense alone; the weight is chosen on
# the eval set's tuning half (evals/RELATED.md). Duplicates are judged on the dense side alone.
LEXICAL_WEIGHT = 1.0
# Candidates looked at per result, to have enough left after duplicates are dropped.
_OVERFETCH = 4


@dataclass(frozen=True)
class _PaperMatrix:
    """One normalised vector per paper of a snapshot (the mean of its chunk vectors)."""

    ids: list[str]
    index: dict[str, int]
    matrix: np.ndarray


def _paper_matrix(snap: Snapshot) -> _PaperMatrix:
    vectors = snap.vectors
    assert vectors is not None
    order, bounds = vectors.chunk_rows
    n, dim = (
        len(vectors.paper_ids),
        vectors.chunk_vectors.shape[1] if vectors.chunk_vectors.ndim == 2 else 0,
    )
    sums = np.zeros((n, dim), dtype=np.float32)
    counts = np.diff(bounds)
    has = np.flatnonzero(counts)
    if len(order):
        sums[has] = np.add.reduceat(vectors.chunk_vectors[order], bounds[has])
    return _PaperMatrix(list(vectors.paper_ids), dict(vectors.paper_index), _normalise(sums))


@dataclass(frozen=True)
class _PaperTerms:
    """Each paper's idf-weighted terms (from the snapshot's lexical index) as postings, for
    a tf-idf cosine between papers without a term-by-paper matrix (sparse by hand: a large
    library's vocabulary times its papers would not fit)."""

    ids: list[str]
    index: dict[str, int]
    terms: list[list[str]]
    weight: dict[str, float]  # idf squared
    postings: dict[str, np.ndarray]
    norms: np.ndarray

    def similarities(self, paper_id: str) -> np.ndarray:
        """tf-idf cosine of ``paper_id`` with every paper (in `index` order)."""
        sims = np.zeros(len(self.terms), dtype=np.float32)
        i = self.index.get(paper_id)
        if i is None or not self.norms[i]:
            return sims
        for t in self.terms[i]:
            sims[self.postings[t]] += self.weight[t]
        return sims / (self.norms * self.norms[i] + 1e-9)


def _paper_terms(snap: Snapshot) -> _PaperTerms:
    lex = snap.lexical
    ids = sorted(snap.papers)
    index = {pid: i for i, pid in enumerate(ids)}
    # A term of one paper only links it to nothing; it would only lower its other cosines.
    weight = {t: math.log(lex.n_papers / df) ** 2 for t, df in lex.df.items() if df >= 2}
    terms = [sorted(t for t in lex.paper_terms.get(pid, ()) if t in weight) for pid in ids]
    owners: dict[str, list[int]] = {}
    for i, ts in enumerate(terms):
        for t in ts:
            owners.setdefault(t, []).append(i)
    postings = {t: np.asarray(v, dtype=np.int64) for t, v in owners.items()}
    norms = np.sqrt(np.asarray([sum(weight[t] for t in ts) for ts in terms], dtype=np.float32))
    return _PaperTerms(ids, index, terms, weight, postings, norms)


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return (m / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _norm_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return re.sub(r"[\W_]+", " ", text).strip()


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    return {tuple(words[i : i + 3]) for i in range(max(len(words) - 2, 0))}


def near_duplicates(a: Paper, b: Paper, similarity: float) -> bool:
    """Whether ``a`` and ``b`` are one paper twice: the same title, vectors at least
    `DUPLICATE_SIMILARITY` alike, or abstracts sharing `DUPLICATE_SHINGLES` of their 3-grams."""
    if _norm_title(a.title) == _norm_title(b.title) or similarity >= DUPLICATE_SIMILARITY:
        return True
    sa, sb = _shingles(a.abstract), _shingles(b.abstract)
    return bool(sa and sb) and len(sa & sb) / len(sa | sb) >= DUPLICATE_SHINGLES


def resolve_paper(papers: Mapping[str, Paper], ref: str) -> Paper:
    """The paper ``ref`` names: its id, arXiv id, DOI or (a unique part of) its title.

    Raises:
        PaperNotFoundError: nothing matches, or a title fragment matches several papers.
    """
    ref = (ref or "").strip()
    if ref in papers:
        return papers[ref]
    low = ref.lower()
    for p in papers.values():
        if low and low in {(p.arxiv_id or "").lower(), (p.doi or "").lower()}:
            return p
    want = _norm_title(ref)
    exact = [p for p in papers.values() if want and _norm_title(p.title) == want]
    # Whole words: "SpecTr" names SpecTr, not "Reasoning on a Spectrum".
    found = exact or [
        p for p in papers.values() if want and f" {want} " in f" {_norm_title(p.title)} "
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise PaperNotFoundError(
            f"No paper in the library matches {ref!r} - give a paper id (as in 'paperlens ask "
            "--json'), "
            "an arXiv id, a DOI or words of its title."
        )
    shown = ", ".join(f"{p.id} ({p.title[:40]})" for p in sorted(found, key=lambda p: p.id)[:3])
    raise PaperNotFoundError(f"{len(found)} papers match {ref!r} - give one id, e.g. {shown}.")


def _link(
    sents: Sequence[Sentence],
    vecs: np.ndarray,
    o_sents: Sequence[Sentence],
    o_vecs: np.ndarray,
    weight: Mapping[str, float],
    known: Mapping[tuple[str, int], frozenset[str]],
) -> tuple[Sentence | None, Sentence | None, float]:
    """The (other's sentence, paper's sentence) pair that links the two papers, and its
    cosine similarity (the sentences come without flagged ones: `quotable_sentences`).

    The pair is ranked by cosine plus the tf-idf cosine of the two sentences' terms
    (``weight``: idf squared), so two sentences naming the same rare method ("draft
    tree") beat two that share only background ("language models perform well").
    """
    keep = [i for i, s in enumerate(sents) if s.text.strip()]
    o_keep = [i for i, s in enumerate(o_sents) if s.text.strip()]
    if not keep or not o_keep:
        return None, None, 0.0
    sims = o_vecs[o_keep] @ vecs[keep].T

    def weighted(x: Sentence) -> dict[str, float]:
        got = known.get((x.paper_id, x.index))  # terms read at snapshot build, when in memory
        return {
            t: weight[t] for t in (got if got is not None else set(terms(x.text))) if t in weight
        }

    a_terms = [weighted(sents[i]) for i in keep]
    b_terms = [weighted(o_sents[i]) for i in o_keep]
    a_norm = [math.sqrt(sum(x.values())) for x in a_terms]
    lexical = np.zeros_like(sims)
    for r, b in enumerate(b_terms):
        b_norm = math.sqrt(sum(b.values()))
        for c, a in enumerate(a_terms):
            shared = sum(w for t, w in b.items() if t in a)
            if shared:
                lexical[r, c] = shared / (b_norm * a_norm[c])
    best = np.unravel_index(int(np.argmax(sims + LEXICAL_WEIGHT * lexical)), sims.shape)
    row, col = int(best[0]), int(best[1])
    return o_sents[o_keep[row]], sents[keep[col]], float(sims[row, col])


def related(
    source: Retriever | Snapshot, paper_id: str, k: int = 5, *, retriever: Retriever | None = None
) -> list[RelatedPaper]:
    """The ``k`` papers of the library closest to ``paper_id``, near duplicates left out.

    Args:
        source: the retriever (its current snapshot is read) or a snapshot.
        paper_id: the paper's id (see `resolve_paper` for ids, arXiv ids or titles).
        k: how many related papers to return (fewer when the library is smaller).
        retriever: the retriever, when ``source`` is a snapshot without vectors in memory
            (a library above ``memory_max_vectors``), to query its store.

    Raises:
        PaperNotFoundError: ``paper_id`` is not in the library.
    """
    if isinstance(source, Retriever):
        retriever, snap = source, source.refresh()
    else:
        snap = source
    papers = snap.papers
    if paper_id not in papers:
        raise PaperNotFoundError(
            f"No paper with id {paper_id!r} in the library - ids are shown by 'paperlens ask "
            "--json'."
        )
    if k <= 0:
        return []
    paper = papers[paper_id]
    pool = k * _OVERFETCH + 40
    pt: _PaperTerms = snap.derived("related.paper_terms", _paper_terms)
    lexical = pt.similarities(paper_id)
    lex_top = [int(j) for j in np.argsort(-lexical, kind="stable")[: pool + 1]]
    lex_of = {pt.ids[j]: float(lexical[j]) for j in lex_top if lexical[j] > 0}
    dense_of = _dense_nominees(snap, retriever, paper_id, pool, lex_of)
    if dense_of is None:  # a paper without chunks (mid-write): nothing to compare
        return []
    scored = {
        pid: (
            d
            + LEXICAL_WEIGHT
            * lex_of.get(pid, float(lexical[pt.index[pid]]) if pid in pt.index else 0.0)
        )
        / (1.0 + LEXICAL_WEIGHT)
        for pid, d in dense_of.items()
        if pid != paper_id
    }
    candidates = sorted(scored.items(), key=lambda x: (-x[1], x[0]))
    vec_of = _vectors_of(snap, retriever, [pid for pid, _ in candidates[: k * _OVERFETCH + 8]])
    chosen = _choose(papers, paper, candidates, dense_of, vec_of, k)
    return _with_sentences(retriever, snap, paper, chosen)


def _dense_nominees(
    snap: Snapshot,
    retriever: Retriever | None,
    paper_id: str,
    pool: int,
    lex_of: Mapping[str, float],
) -> dict[str, float] | None:
    """Nominees (paper id -> dense similarity) from the paper matrix, or from the store
    when the vectors are not in memory; None for a paper without chunks."""
    if snap.vectors is not None:
        pm: _PaperMatrix = snap.derived("related.paper_matrix", _paper_matrix)
        i = pm.index.get(paper_id)
        if i is None:
            return None
        dense = pm.matrix @ pm.matrix[i]
        # Nominated by either side; each nominee then gets both scores.
        top = np.argsort(-dense, kind="stable")[: pool + 1]
        nominees = {pm.ids[int(j)] for j in top} | set(lex_of)
        return {pid: float(dense[pm.index[pid]]) for pid in nominees if pid in pm.index}
    if retriever is None:
        raise ValueError("a snapshot without vectors in memory needs retriever= to query the store")
    return _from_store(retriever, paper_id, pool, set(lex_of))


def _choose(
    papers: Mapping[str, Paper],
    paper: Paper,
    candidates: list[tuple[str, float]],
    dense_of: Mapping[str, float],
    vec_of: Mapping[str, np.ndarray],
    k: int,
) -> list[tuple[str, float]]:
    """The best ``k`` candidates that are neither the paper again nor an earlier result."""
    chosen: list[tuple[str, float]] = []
    for pid, score in candidates:
        if len(chosen) >= k:
            break
        other = papers.get(pid)
        if other is None or near_duplicates(paper, other, dense_of[pid]):
            continue
        # A result that duplicates one already listed adds nothing (the same paper twice).
        if any(
            near_duplicates(papers[c], other, _cos(vec_of.get(c), vec_of.get(pid)))
            for c, _ in chosen
        ):
            continue
        chosen.append((pid, score))
    return chosen


def _cos(a: np.ndarray | None, b: np.ndarray | None) -> float:
    return float(a @ b) if a is not None and b is not None else 0.0


def _from_store(retriever: Retriever, paper_id: str, pool: int, also: set[str]) -> dict[str, float]:
    """Nominees (paper id -> dense similarity) from the store's nearest chunks to the
    paper's vector, plus the papers ``also`` (the lexical side's): a library too large to
    hold in memory."""
    lib = retriever.library
    own = lib.chunk_vectors([paper_id]).get(paper_id)
    if own is None or not len(own):
        return {}
    qvec = _normalise(own.mean(axis=0))
    hits = lib.query_dense(qvec, pool * 3, None)
    cand = [
        pid
        for pid in dict.fromkeys([*(h.paper_id for h in hits), *sorted(also)])
        if pid != paper_id
    ]
    return {
        pid: float(_normalise(v.mean(axis=0)) @ qvec)
        for pid, v in lib.chunk_vectors(cand).items()
        if len(v)
    }


def _vectors_of(
    snap: Snapshot, retriever: Retriever | None, ids: list[str]
) -> dict[str, np.ndarray]:
    """The paper vectors of ``ids`` (to tell results that duplicate each other)."""
    if snap.vectors is not None:
        pm: _PaperMatrix = snap.derived("related.paper_matrix", _paper_matrix)
        return {pid: pm.matrix[pm.index[pid]] for pid in ids if pid in pm.index}
    assert retriever is not None
    return {
        pid: _normalise(v.mean(axis=0))
        for pid, v in retriever.library.chunk_vectors(ids).items()
        if len(v)
    }


def _with_sentences(
    retriever: Retriever | None, snap: Snapshot, paper: Paper, chosen: list[tuple[str, float]]
) -> list[RelatedPaper]:
    vectors = snap.vectors
    papers = {paper.id: paper, **{pid: snap.papers[pid] for pid, _ in chosen}}
    library = retriever.library if retriever is not None else None
    found = quotable_sentences(papers, vectors, library)
    empty: tuple[list[Sentence], np.ndarray] = ([], np.zeros((0, 0), dtype=np.float32))
    sents, vecs = found.get(paper.id, empty)
    weight = snap.derived("related.paper_terms", _paper_terms).weight
    known = vectors.sentence_terms if vectors is not None else {}
    out = []
    for pid, score in chosen:
        other = snap.papers[pid]
        o_sents, o_vecs = found.get(pid, empty)
        linked, anchor, link = _link(sents, vecs, o_sents, o_vecs, weight, known)
        out.append(
            RelatedPaper(
                paper_id=pid,
                title=other.title,
                score=round(score, 4),
                sentence=linked.text if linked else "",
                start=linked.start if linked else 0,
                end=linked.end if linked else 0,
                anchor=anchor.text if anchor else "",
                anchor_start=anchor.start if anchor else 0,
                anchor_end=anchor.end if anchor else 0,
                link=round(link, 4),
            )
        )
    return out


__all__ = [
    "DUPLICATE_SHINGLES",
    "DUPLICATE_SIMILARITY",
    "near_duplicates",
    "related",
    "resolve_paper",
]

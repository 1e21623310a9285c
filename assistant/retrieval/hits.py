"""What retrieval returns: candidate papers with their signals, and the ranked result."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.types import Paper, Sentence


@dataclass(frozen=True)
class Passage:
    """A sentence of a paper's full text (PDF) answering the question better than its abstract."""

    section: str | None
    page: int | None
    text: str
    start: int  # offsets in the section's text
    end: int
    score: float
    # Whether it answers better than the abstract's best sentences (a list quotes it
    # then; a question about the paper's details always may).
    beats_abstract: bool = True


@dataclass
class PaperHit:
    """A candidate paper with its signals; ``sentence_scores`` align with ``sentences``."""

    paper: Paper
    score: float
    dense: float
    lexical: float
    bm25: float
    sentences: list[Sentence] = field(default_factory=list)
    sentence_vectors: np.ndarray | None = None
    sentence_scores: np.ndarray | None = None
    # Share of the question's terms each sentence has (part of ``sentence_scores``).
    sentence_overlap: np.ndarray | None = None
    sentence: float = 0.0
    title: float = 0.0
    passage: Passage | None = None
    # Signals for the list decision (see `decision.tier_features`): the score before
    # feedback, each side's rank among nominees (0: not nominated), the share of the
    # question's terms matched, the model's probability that the paper is relevant, and
    # its tier.
    first_score: float = 0.0
    first_dense: float = 0.0
    dense_rank: int = 0
    bm25_rank: int = 0
    concepts: float = 0.0
    prob: float = 0.0
    tier: str = ""

    def best_sentences(self, n: int = 1) -> list[Sentence]:
        """The paper's ``n`` sentences that best answer the question, in text order."""
        if not self.sentences or self.sentence_scores is None:
            return []
        order = np.argsort(-self.sentence_scores)[:n]
        return [self.sentences[i] for i in sorted(order)]


@dataclass
class Retrieval:
    """Ranked candidates, the relevant ones after the cut, and what was measured."""

    question: str
    query_terms: list[str]
    query_vector: np.ndarray
    hits: list[PaperHit]
    relevant: list[PaperHit]
    timings: dict[str, float]
    # Kept on meaning alone: the best combined score is under the floor, a chunk's
    # similarity reached `dense_floor` (the question shares few words with the papers).
    semantic_only: bool = False
    # "May also be relevant": candidates under the main list's bar but above the second
    # tier's, shown apart and labelled uncertain (never cited as supporting the answer).
    second: list[PaperHit] = field(default_factory=list)
    # How sure the main list is: "sure" (stated plainly), "likely" (accepted on weaker
    # evidence: "appear to address it"), "judged" (settled by a trusted LLM judge),
    # "" (no main list).
    confidence: str = "sure"

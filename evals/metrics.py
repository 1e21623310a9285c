"""Metric functions of the eval, pure: ranked ids, cited sentences and scores in, numbers out.

Paper-level retrieval (recall@k, nDCG@k, MRR) takes a ranked list of paper ids and the
judged sets. ``partial`` papers (tangential, see evals/README.md) are taken out of the
ranking before scoring: they are never false positives and never needed.

Citation metrics follow ALCE (Gao et al., 2023) with an offline support scorer instead
of an NLI model: a `Scorer` maps (claim, cited paper ids) to one support score per id.
What it measures is *citation relevance* (the cited paper is about the claim), not
faithfulness (see evals/CITATION_CALIBRATION.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant import CITATION_MARKER
from assistant.answering.verify import cited_numbers, numbers
from assistant.text.sentences import split_sentences
from assistant.text.terms import terms

# (claim text, cited paper ids) -> support score of each cited paper, same order.
Scorer = Callable[[str, Sequence[str]], Sequence[float]]

_MARKER = re.compile(r"\s*" + CITATION_MARKER.pattern)  # removed with the space before it
_LEADING_MARKERS = re.compile(r"^(?:\s*" + CITATION_MARKER.pattern + r")+\s*")
_LIST_NUMBER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_BOLD_TITLE = re.compile(r"^\*\*[^*]+\*\*\s*(?:" + CITATION_MARKER.pattern + r")?\s*:\s*")
POINT_SHARE = 0.7


# --- paper-level retrieval -----------------------------------------------------------
def _ranking(ranked: Sequence[str], ignore: Iterable[str] = ()) -> list[str]:
    skip = set(ignore)
    return [p for p in dict.fromkeys(ranked) if p not in skip]


def recall_at_k(
    ranked: Sequence[str], relevant: Iterable[str], k: int, ignore: Iterable[str] = ()
) -> float:
    """Share of ``relevant`` ids among the first ``k`` of ``ranked``."""
    rel = set(relevant)
    if not rel:
        return 0.0
    return len(set(_ranking(ranked, ignore)[:k]) & rel) / len(rel)


def ndcg_at_k(
    ranked: Sequence[str], relevant: Iterable[str], k: int, ignore: Iterable[str] = ()
) -> float:
    """Binary-gain nDCG@k."""
    rel = set(relevant)
    if not rel:
        return 0.0
    dcg = sum(
        1.0 / math.log2(i + 2) for i, p in enumerate(_ranking(ranked, ignore)[:k]) if p in rel
    )
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(rel))))
    return dcg / ideal


def mrr(ranked: Sequence[str], relevant: Iterable[str], ignore: Iterable[str] = ()) -> float:
    """Reciprocal rank of the first relevant id (0 when none is ranked)."""
    rel = set(relevant)
    for i, p in enumerate(_ranking(ranked, ignore)):
        if p in rel:
            return 1.0 / (i + 1)
    return 0.0


def retrieval_metrics(
    ranked: Sequence[str], relevant: Sequence[str], partial: Sequence[str]
) -> dict[str, float]:
    """recall@5/10/20, nDCG@10 and MRR of one question."""
    return {
        "recall@5": recall_at_k(ranked, relevant, 5, partial),
        "recall@10": recall_at_k(ranked, relevant, 10, partial),
        "recall@20": recall_at_k(ranked, relevant, 20, partial),
        "ndcg@10": ndcg_at_k(ranked, relevant, 10, partial),
        "mrr": mrr(ranked, relevant, partial),
    }


def paper_list_metrics(
    cited: Iterable[str], relevant: Sequence[str], partial: Sequence[str]
) -> dict[str, float | None]:
    """Of the papers an answer cites, the share that are on topic (relevant or partial),
    and the share of relevant papers it cites. Precision is None when it cites nothing."""
    cited_set = set(cited)
    ok = set(relevant) | set(partial)
    precision = len(cited_set & ok) / len(cited_set) if cited_set else None
    recall = len(cited_set & set(relevant)) / len(relevant) if relevant else 0.0
    return {"list_precision": precision, "list_recall": recall}


# --- the answer's sentences ----------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """A sentence of an answer, cleaned of list numbering, bold titles and markers."""

    text: str
    cited: tuple[int, ...]


def answer_claims(text: str) -> list[Claim]:
    """The claim sentences of an answer, with the ``[n]`` each one cites.

    A line's leading "1." / "-" and a bold "**Title**:" label are dropped (the list
    number would otherwise read as a number to check). Framing sentences ("6 papers
    address this:", no citation and under three content terms, or ending in ":")
    are not claims.
    """
    out: list[Claim] = []
    for raw in text.split("\n"):
        line = _BOLD_TITLE.sub("", _LIST_NUMBER.sub("", raw.strip()), count=1).strip()
        if not line:
            continue
        first = len(out)
        for s, e in split_sentences(line):
            sentence = line[s:e]
            # "... sentence. [2] Next sentence.": a marker that opens a sentence closes the
            # previous one.
            lead = _LEADING_MARKERS.match(sentence)
            if lead and lead.group(0).strip():
                back = cited_numbers(lead.group(0))
                if len(out) > first:
                    out[-1] = Claim(out[-1].text, tuple(dict.fromkeys([*out[-1].cited, *back])))
                sentence = sentence[lead.end() :]
            cited = cited_numbers(sentence)
            body = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", sentence)).strip()
            if not body:
                continue
            if not cited and (body.endswith(":") or len(terms(body)) < 3):
                continue
            out.append(Claim(body, tuple(dict.fromkeys(cited))))
    return out


@dataclass
class CitationScores:
    """ALCE-style citation figures of one answer."""

    claims: int = 0
    supported: int = 0  # claims with at least one supporting citation
    citations: int = 0  # (claim, cited source) pairs
    supporting: int = 0  # pairs whose source supports the claim
    number_claims: int = 0  # cited claims that contain a number
    numbers_ok: int = 0  # ... whose every number is in each cited source
    details: list[dict[str, object]] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.supporting / self.citations if self.citations else None

    @property
    def recall(self) -> float | None:
        return self.supported / self.claims if self.claims else None


def citation_scores(
    claims: Sequence[Claim],
    source_ids: dict[int, str],
    scorer: Scorer,
    threshold: float,
    source_texts: dict[str, str] | None = None,
) -> CitationScores:
    """Citation precision/recall of one answer.

    Args:
        claims: the answer's claim sentences (`answer_claims`).
        source_ids: the answer's ``[n]`` -> paper id.
        scorer: support of a claim by each cited paper.
        threshold: support at or above which a citation supports its claim.
        source_texts: paper id -> title + abstract, for the number check.
    """
    out = CitationScores()
    for claim in claims:
        out.claims += 1
        ids = [source_ids[n] for n in claim.cited if n in source_ids]
        invalid = len(claim.cited) - len(ids)
        scores = list(scorer(claim.text, ids)) if ids else []
        good = sum(1 for s in scores if s >= threshold)
        out.citations += len(claim.cited)
        out.supporting += good
        out.supported += int(good > 0)
        if ids and source_texts is not None and numbers(claim.text):
            out.number_claims += 1
            nums = numbers(claim.text)
            out.numbers_ok += int(all(not (nums - numbers(source_texts.get(p, ""))) for p in ids))
        out.details.append(
            {
                "claim": claim.text,
                "cited": list(claim.cited),
                "support": [round(float(s), 3) for s in scores],
                "invalid_markers": invalid,
            }
        )
    return out


# --- answer points and summaries -----------------------------------------------------
def point_covered(point: str, answer_terms: set[str], share: float = POINT_SHARE) -> bool:
    """Whether at least ``share`` of the point's content terms occur in the answer."""
    pt = set(terms(point))
    if not pt:
        return False
    return len(pt & answer_terms) / len(pt) >= share


def point_coverage(points: Sequence[str], answer_text: str) -> float:
    """Share of ``points`` stated in ``answer_text`` (stemmed content terms)."""
    if not points:
        return 0.0
    have = set(terms(answer_text))
    return sum(point_covered(p, have) for p in points) / len(points)


def rounded(x: Any) -> Any:
    """``x`` with every float in it (in dicts and lists too) rounded to 3 places, for JSON."""
    if isinstance(x, float):
        return round(x, 3)
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def auroc(
    positives: Sequence[float] | np.ndarray, negatives: Sequence[float] | np.ndarray
) -> float:
    """Area under the ROC curve: P(positive scores above negative), ties count half."""
    pos = np.asarray(positives, dtype=float)
    neg = np.asarray(negatives, dtype=float)
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))

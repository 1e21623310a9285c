"""Calibrate attribution and relevance: the thresholds the Verifier uses for an explicit
[n], for post-hoc attribution, and the question-relevance floor.

Every eligible paper's sentence and title, split by paper into a tuning half (thresholds are
chosen on it) and a held-out half (reported), scored against its own abstract and wrong ones
(closest, random, and the best of the 10 nearest: an answer's sources are a paper's
neighbours); plus the relevance floor, chosen on the eval questions' tune split and reported
on their test split.

Run: ``python -m evals.calibration --attribution``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from pathlib import Path
from typing import Any, cast

import numpy as np

from assistant import Paper
from assistant.answering.verify import SourceText, Verifier, numbers
from assistant.text.terms import terms

from .claim_pairs import TITLE, CachedEmbedder, mean_vectors
from .judge import paper_sentences

# Kinds of the attribution set: claim (a sentence, or the title) against a source.
SUPPORTED = ("own", "title_own")
WRONG = ("closest", "random", "near10", "title_closest", "title_near10")
ATTRIBUTION_KINDS = (*SUPPORTED, "own_rest", *WRONG)
# An explicit [n] passes where at most this share of closest-wrong sentence pairs does.
CITE_MAX_WRONG = 0.02


def paper_split(paper_id: str) -> str:
    """ "tune" or "held" for a paper, fixed by its id (half the papers each)."""
    return "tune" if int(hashlib.sha1(paper_id.encode()).hexdigest(), 16) % 2 == 0 else "held"


def attribution_scores(
    papers: dict[str, Paper],
    vectors: dict[str, np.ndarray],
    embedder: Any,
    seed: int = 0,
    near: int = 10,
) -> dict[str, dict[str, np.ndarray]]:
    """Support per kind and split: {split: {kind: scores}} (number rule applied as a cap)."""
    rng = random.Random(seed)
    order = sorted(p for p in papers if p in vectors)
    mat = np.vstack([vectors[p] for p in order])
    sims = mat @ mat.T
    np.fill_diagonal(sims, -1.0)
    sents = {p: paper_sentences(papers[p]) for p in order}
    cached = embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)
    cached.warm([t for p in order for t in (papers[p].title, *(x.text for x in sents[p]))])
    verifier = Verifier(
        cast(Any, cached), threshold=float("inf"), attribution_threshold=float("inf")
    )

    def support(claim: str, pid: str, drop: int = -1) -> float:
        paper = papers[pid]
        units = [x for x in sents[pid] if x.index != drop]
        if drop == TITLE:
            paper = dataclasses.replace(paper, title="")
        got, _ = verifier.support([claim], [SourceText(1, paper, units)])
        ok = not (numbers(claim) - numbers(paper.title + " " + paper.abstract))
        return float(got[0, 0]) if ok else 0.0

    out: dict[str, dict[str, list[float]]] = {
        s: {k: [] for k in ATTRIBUTION_KINDS} for s in ("tune", "held")
    }
    for i, pid in enumerate(order):
        good = [x for x in sents[pid] if len(terms(x.text)) >= 8]
        if len(sents[pid]) < 3 or not good:
            continue
        x = rng.choice(good)
        title = papers[pid].title
        nearest = [order[k] for k in np.argsort(-sims[i])[:near]]
        other = rng.choice([q for q in order if q != pid])
        r = out[paper_split(pid)]
        r["own"].append(support(x.text, pid))
        r["title_own"].append(support(title, pid, TITLE))
        r["own_rest"].append(support(x.text, pid, x.index))
        r["closest"].append(support(x.text, nearest[0]))
        r["random"].append(support(x.text, other))
        r["near10"].append(max(support(x.text, q) for q in nearest))
        r["title_closest"].append(support(title, nearest[0], TITLE))
        r["title_near10"].append(max(support(title, q, TITLE) for q in nearest))
    return {s: {k: np.asarray(v) for k, v in kinds.items()} for s, kinds in out.items()}


def choose_thresholds(tune: dict[str, np.ndarray]) -> dict[str, float]:
    """Thresholds from the tuning half only (0.01 steps).

    - attribution: the lowest at which no wrong-abstract pair of any kind passes;
    - explicit [n]: the lowest at which at most `CITE_MAX_WRONG` of closest pairs pass.
    """
    grid = np.round(np.arange(0.30, 1.001, 0.01), 2)
    attribution = next(float(t) for t in grid if all((tune[k] >= t).sum() == 0 for k in WRONG))
    cite = next(float(t) for t in grid if (tune["closest"] >= t).mean() <= CITE_MAX_WRONG)
    return {"cite": cite, "attribution": attribution}


def relevance_scores(
    papers: dict[str, Paper], embedder: Any, questions_path: Path, seed: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """Cosine of eval questions with sentences: each relevant paper's best sentence, every
    sentence of the relevant papers, and the best sentence of 10 random other papers."""
    rng = random.Random(seed)
    qs = [
        json.loads(line)
        for line in questions_path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    qs = [
        q
        for q in qs
        if q["kind"] in ("topic", "topic_paraphrase", "single", "comparison") and q["relevant"]
    ]
    order = sorted(papers)
    qvecs = embedder.encode([q["question"] for q in qs])
    svec: dict[str, np.ndarray] = {}

    def cos(qv: np.ndarray, pid: str) -> np.ndarray:
        if pid not in svec:
            texts = [x.text for x in paper_sentences(papers[pid])]
            svec[pid] = (
                embedder.encode(texts) if texts else np.zeros((0, len(qv)), dtype=np.float32)
            )
        return np.asarray(svec[pid] @ qv)

    out: dict[str, dict[str, list[float]]] = {}
    for q, qv in zip(qs, qvecs, strict=True):
        r = out.setdefault(q.get("split") or "tune", {"best": [], "all": [], "random_best": []})
        for pid in q["relevant"]:
            if pid in papers and len(c := cos(qv, pid)):
                r["best"].append(float(c.max()))
                r["all"] += [float(v) for v in c]
        taken = set(q["relevant"]) | set(q.get("partial") or ())
        for pid in rng.sample([p for p in order if p not in taken], 10):
            if len(c := cos(qv, pid)):
                r["random_best"].append(float(c.max()))
    return {s: {k: np.asarray(v) for k, v in kinds.items()} for s, kinds in out.items()}


def calibrate_attribution(
    library: Any, embedder: Any, questions_path: Path, seed: int = 0
) -> dict[str, Any]:
    """The attribution and relevance calibration: thresholds from tune, rates on both halves."""
    papers = library.papers()
    embedder = CachedEmbedder(embedder)  # both parts encode the same sentences
    scores = attribution_scores(papers, mean_vectors(library, list(papers)), embedder, seed)
    chosen = choose_thresholds(scores["tune"])

    def rates(split: str, t: float) -> dict[str, float]:
        return {k: float((v >= t).mean()) for k, v in scores[split].items()}

    rel = relevance_scores(papers, embedder, questions_path, seed)
    # The floor: 0.08 under the lowest best sentence of a relevant paper on the tune questions.
    floor = round(float(rel["tune"]["best"].min()) - 0.08, 2)
    return {
        "pairs": {s: {k: len(v) for k, v in kinds.items()} for s, kinds in scores.items()},
        "thresholds": {**chosen, "relevance": floor},
        "at_cite": {s: rates(s, chosen["cite"]) for s in scores},
        "at_attribution": {s: rates(s, chosen["attribution"]) for s in scores},
        "max_wrong": {s: {k: float(scores[s][k].max()) for k in WRONG} for s in scores},
        "relevance": {
            s: {k: float((v >= floor).mean()) for k, v in kinds.items()}
            | {"n_best": len(kinds["best"])}
            for s, kinds in rel.items()
        },
    }


__all__ = [
    "ATTRIBUTION_KINDS",
    "WRONG",
    "attribution_scores",
    "calibrate_attribution",
    "choose_thresholds",
    "paper_split",
    "relevance_scores",
]

"""Which candidates an answer lists: the main list, a "may also be relevant" tier, or none.

Three methods, chosen by ``RetrievalSettings.list_method``:
- ``rule`` (`decide_rule`, the default): the question is accepted when its best score
  before feedback reaches ``floor`` or a chunk's similarity reaches ``dense_floor``; then
  the ranking's first ``max_papers`` papers scoring at least ``gap`` of the best form the
  main list, and the answer says how sure it is (``confidence``: "sure" at or over
  ``sure_floor``, else "likely"). The "may also be relevant" tier holds only papers with
  evidence of their own (`second_evidence`), with no fixed count. Three settings and an
  evidence bar, chosen by grouped k-fold CV on the tuning half (evals/tune_rule.py): a
  17-feature model fitted to short keyword questions emptied the main list on questions
  described in the asker's own words.
- ``model`` (`decide`): a logistic model over each candidate's signals and its place in
  the question's own score distribution (`TIER_FEATURES`) gives a probability of
  relevance; papers over ``main_threshold`` form the main list, the next ones over
  ``second_threshold`` the second tier. Weights and thresholds are chosen by grouped
  k-fold cross-validation on the tuning half of the eval set (evals/tune_cut.py,
  evals/CALIBRATION.md).
- ``gap`` (`accepts`, then `cut`): the older cut, an absolute floor and a share of the
  best score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.settings import RetrievalSettings
from .hits import PaperHit

# The list decision's inputs, in the order of `RetrievalSettings.tier_weights` (one weight
# each, then the bias). Chosen and fitted by evals/tune_cut.py on the tuning half.
TIER_FEATURES = (
    "score",
    "first_score",
    "dense",
    "sentence",
    "lexical",
    "title",
    "concepts",
    "bm25_recip",
    "dense_recip",
    "rank_recip",
    "rel_best",
    "z_top20",
    "above_gap",
    "agree10",
    "best_score",
    "best_first",
    "gap_next",
)
SIGNALS = (
    "score",
    "first_score",
    "dense",
    "sentence",
    "lexical",
    "title",
    "concepts",
    "bm25_rank",
    "dense_rank",
    "first_dense",
)


def hit_signals(hits: list[PaperHit]) -> dict[str, np.ndarray]:
    """The candidates' raw signals as arrays (what `tier_features` and `rank_order` read)."""
    return {
        name: np.asarray([float(getattr(h, name)) for h in hits], dtype=np.float64)
        for name in SIGNALS
    }


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based rank of each value, highest first."""
    out = np.empty(len(values), dtype=np.float64)
    out[np.argsort(-values, kind="stable")] = np.arange(1, len(values) + 1)
    return out


def rank_order(sig: dict[str, np.ndarray], method: str, rrf_k: float = 60.0) -> np.ndarray:
    """Candidate indices, best first: by the weighted score, or by reciprocal-rank fusion.

    ``rrf`` fuses BM25's nomination rank with the dense rank (after feedback); ``rrf3``
    adds the weighted score's rank as a third voter. A side that did not nominate a
    paper gives it nothing.
    """
    score = sig["score"]
    if method == "weighted" or not len(score):
        return np.argsort(-score, kind="stable")
    bm25 = sig["bm25_rank"]
    fused = np.where(bm25 > 0, 1.0 / (rrf_k + np.where(bm25 > 0, bm25, 1.0)), 0.0)
    fused = fused + 1.0 / (rrf_k + _ranks(sig["dense"]))
    if method == "rrf3":
        fused = fused + 1.0 / (rrf_k + _ranks(score))
    elif method != "rrf":
        raise ValueError(f"unknown ranking {method!r}: use 'weighted', 'rrf' or 'rrf3'")
    return np.lexsort((-score, -fused))


def tier_features(sig: dict[str, np.ndarray], order: np.ndarray) -> np.ndarray:
    """One row of `TIER_FEATURES` per candidate (rows aligned with ``sig``).

    Besides each paper's own signals, a row says where the paper stands in its
    question's distribution: its score relative to the best, its z-score among the top
    20, whether it is above the largest drop in the top 20, the gap to the next paper;
    and whether both sides (BM25 and dense) rank it in their top 10.
    """
    score, n = sig["score"], len(sig["score"])
    if not n:
        return np.zeros((0, len(TIER_FEATURES)))
    rank = np.empty(n)
    rank[order] = np.arange(1, n + 1)
    desc = np.sort(score)[::-1]
    top = desc[:20]
    mean, std = float(top.mean()), float(top.std()) or 1.0
    drops = top[:-1] - top[1:]
    bar = top[int(np.argmax(drops))] if len(drops) else top[0]
    nxt = np.searchsorted(-desc, -score, side="right")  # index of the next lower score
    gap_next = score - np.where(nxt < n, desc[np.minimum(nxt, n - 1)], 0.0)
    best = float(desc[0])
    bm25, dense = sig["bm25_rank"], _ranks(sig["dense"])
    cols = [
        score,
        sig["first_score"],
        sig["dense"],
        sig["sentence"],
        sig["lexical"],
        sig["title"],
        sig["concepts"],
        np.where(bm25 > 0, 1.0 / np.maximum(bm25, 1.0), 0.0),
        1.0 / dense,
        1.0 / rank,
        score / (best if best > 0 else 1.0),
        (score - mean) / std,
        (score >= bar).astype(float),
        ((bm25 > 0) & (bm25 <= 10) & (dense <= 10)).astype(float),
        np.full(n, best),
        np.full(n, float(sig["first_score"].max())),
        gap_next,
    ]
    return np.stack(cols, axis=1)


def tier_probability(features: np.ndarray, weights: list[float] | tuple[float, ...]) -> np.ndarray:
    """The logistic model's probability that each candidate is relevant (or partial)."""
    w = np.asarray(weights, dtype=np.float64)
    if len(w) != features.shape[1] + 1:
        raise ValueError(
            f"tier_weights needs {features.shape[1] + 1} numbers (one per feature, then the bias)"
        )
    return 1.0 / (1.0 + np.exp(-(features @ w[:-1] + w[-1])))


def second_evidence(hit: PaperHit, cfg: RetrievalSettings) -> bool:
    """Whether ``hit`` has absolute evidence enough for the "may also be relevant" tier.

    The tier's probability bar is low and the model's features are mostly relative to
    the question's own candidates, so in a small library, or for a topic the library
    lacks, the best of a bad lot passed it (a tool-using-agents paper offered for a
    zeolite question). A paper must also share the question's words (``lexical`` over
    ``second_lexical``) or be close in meaning before feedback (``first_dense`` at or
    over ``second_dense``): feedback pulls the question toward whatever ranked first,
    so the dense score after it is no evidence in such a library.
    """
    return bool(has_evidence(hit.lexical, hit.first_dense, cfg))


def has_evidence(lexical: Any, first_dense: Any, cfg: RetrievalSettings) -> Any:
    """The second tier's evidence test, on one paper's signals or on arrays of them."""
    return (lexical > cfg.second_lexical) | (first_dense >= cfg.second_dense)


def decide(hits: list[PaperHit], cfg: RetrievalSettings) -> tuple[list[PaperHit], list[PaperHit]]:
    """The main list and the "may also be relevant" tier of ``hits``.

    Re-orders ``hits`` in place (the top ``pool`` of the configured ranking by the
    model's probability, then the rest) and sets each hit's ``prob`` and ``tier``.
    A question gets a main list only when accepted (``accept_rule``); without one, a
    paper needs ``uncertain_threshold`` to be offered as an uncertain match, or the
    second tier's own bar when its best chunk is close in meaning before feedback
    (``uncertain_dense``).
    """
    if not hits:
        return [], []
    sig = hit_signals(hits)
    order = rank_order(sig, cfg.ranking, cfg.rrf_k)
    prob = tier_probability(tier_features(sig, order), cfg.tier_weights)
    for h, p in zip(hits, prob.tolist(), strict=True):
        h.prob, h.tier = p, ""
    pool = [hits[i] for i in order[: cfg.pool]]
    pool.sort(key=lambda h: -h.prob)
    hits[:] = pool + [hits[i] for i in order[cfg.pool :]]
    if cfg.accept_rule == "floor":  # the question's own scores, before feedback
        accepted = (
            float(sig["first_score"].max()) >= cfg.floor
            or float(sig["first_dense"].max()) >= cfg.dense_floor
        )
    else:
        accepted = pool[0].prob >= max(cfg.accept_threshold, cfg.main_threshold)
    relevant = (
        [h for h in pool if h.prob >= cfg.main_threshold][: cfg.max_papers] if accepted else []
    )
    # A question the library may not cover at all needs a stronger candidate to be
    # offered even as uncertain (a blockchain question gets no linear-solver paper).
    bar = cfg.second_threshold if accepted else max(cfg.second_threshold, cfg.uncertain_threshold)
    # ... unless it is close in meaning before feedback: a paraphrased question's relevant
    # papers sit under that bar more often than over it (evals/CALIBRATION.md).
    near = cfg.uncertain_dense
    second = [
        h
        for h in pool[len(relevant) :]
        if second_evidence(h, cfg)
        and (h.prob >= bar or (h.prob >= cfg.second_threshold and h.first_dense >= near))
    ]
    second = second[: cfg.second_max]
    for h in relevant:
        h.tier = "main"
    for h in second:
        h.tier = "second"
    return relevant, second


def rule_tiers(
    sig: dict[str, np.ndarray], cfg: RetrievalSettings
) -> tuple[np.ndarray, list[int], list[int], str]:
    """`decide_rule` on the candidates' signals: (the ranking, the main list's and the second
    tier's indices into ``sig``, the confidence). The tuner (evals/tune_rule.py) calls
    this on stored signals, so what it fits is what the app runs."""
    order = rank_order(sig, cfg.ranking, cfg.rrf_k)
    if not len(order):
        return order, [], [], ""
    score = sig["score"]
    main: list[int] = []
    confidence = ""
    accepted = (
        float(sig["first_score"].max()) >= cfg.floor
        or float(sig["first_dense"].max()) >= cfg.dense_floor
    )
    if accepted:
        best = float(score[order[:3]].max())
        # Optionally, the logistic model's probability as a further bar for list members.
        prob = (
            tier_probability(tier_features(sig, order), cfg.tier_weights)
            if cfg.rule_threshold > 0
            else np.ones(len(score))
        )
        # The ranking's first paper always heads an accepted question's list: telling
        # the user "no paper" above the paper the ranking trusts most is the worst answer.
        main = [int(order[0])] + [
            int(i)
            for i in order[1 : cfg.max_papers]
            if score[i] >= cfg.gap * best
            and score[i] >= cfg.main_floor
            and prob[i] >= cfg.rule_threshold
        ]
        confidence = "sure" if float(sig["first_score"].max()) >= cfg.sure_floor else "likely"
    evidence = has_evidence(sig["lexical"], sig["first_dense"], cfg)
    chosen = set(main)
    second = [int(i) for i in order[: cfg.second_depth] if int(i) not in chosen and evidence[i]][
        : cfg.second_max
    ]
    return order, main, second, confidence


def decide_rule(
    hits: list[PaperHit], cfg: RetrievalSettings
) -> tuple[list[PaperHit], list[PaperHit], str]:
    """The main list, the "may also be relevant" tier and the answer's confidence.

    Re-orders ``hits`` in place by the configured ranking and sets each hit's ``tier``.
    Confidence is "sure" when the best score before feedback reaches ``sure_floor``,
    "likely" when the question is accepted only on weaker evidence, "" when it is not
    accepted (no main list). A question not accepted may still show its nearest papers
    in the second tier, each only with evidence of its own (`second_evidence`).
    """
    if not hits:
        return [], [], ""
    sig = hit_signals(hits)
    order, main, second, confidence = rule_tiers(sig, cfg)
    # The model's probability still travels with each hit: the LLM combination
    # (assistant/retrieval/llm_combine.py) reads it as the offline model's certainty.
    prob = tier_probability(tier_features(sig, order), cfg.tier_weights)
    for h, p in zip(hits, prob.tolist(), strict=True):
        h.prob, h.tier = p, ""
    relevant = [hits[i] for i in main]
    near = [hits[i] for i in second]
    hits[:] = [hits[i] for i in order]
    for h in relevant:
        h.tier = "main"
    for h in near:
        h.tier = "second"
    return relevant, near, confidence


def accepts(hits: list[PaperHit], cfg: RetrievalSettings) -> bool:
    """Whether the best candidates address the question at all (the ``gap`` method).

    Either the combined score reaches ``floor``, or a chunk is close enough in meaning
    (``dense_floor``) for a question worded unlike the library, whose lexical share
    is near zero.
    """
    if not hits:
        return False
    return hits[0].score >= cfg.floor or max(h.dense for h in hits) >= cfg.dense_floor


def cut(
    hits: list[PaperHit], cfg: RetrievalSettings, *, accepted: bool | None = None
) -> list[PaperHit]:
    """The papers kept: those within ``gap`` of the best score, when the question is accepted."""
    if not (accepts(hits, cfg) if accepted is None else accepted):
        return []
    bar = hits[0].score * cfg.gap
    return [h for h in hits if h.score >= bar][: cfg.max_papers]

"""What a setting of the list decision gives: each question's tiers and the figures
`paperlens eval` reports for them, plus the per-question sets and gates the decision's
rules draw on (the second tier's evidence, the floor rule, the largest-gap baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.retrieval.decision import TIER_FEATURES, rank_order, tier_features
from evals.tune_items import Item


def list_figures(
    items: Sequence[Item], mains: Sequence[list[str]], seconds: Sequence[list[str]]
) -> dict[str, Any]:
    """The figures `paperlens eval` reports for lists, from the tiers of each question."""
    ans = [(it, m, s) for it, m, s in zip(items, mains, seconds, strict=True) if it.answerable]
    una = [(it, m, s) for it, m, s in zip(items, mains, seconds, strict=True) if not it.answerable]
    prec = [
        len([p for p in m if p in it.relevant or p in it.partial]) / len(m) for it, m, _ in ans if m
    ]
    cov = [len(set(m) & it.relevant) / len(it.relevant) for it, m, _ in ans if it.relevant]
    cov2 = [len(set(m + s) & it.relevant) / len(it.relevant) for it, m, s in ans if it.relevant]
    return {
        "n_answerable": len(ans),
        "n_unanswerable": len(una),
        "main_precision": float(np.mean(prec)) if prec else None,
        "main_coverage": float(np.mean(cov)) if cov else None,
        "both_coverage": float(np.mean(cov2)) if cov2 else None,
        "no_paper": sum(1 for _, m, s in ans if not m and not s),
        "second_precision": _share(
            [p in it.relevant or p in it.partial for it, _, s in ans for p in s]
        ),
        "main_empty": sum(1 for _, m, _ in ans if not m),
        "unanswerable_refused": float(np.mean([not m for _, m, _ in una])) if una else None,
        "unanswerable_second": float(np.mean([bool(s) for _, m, s in una])) if una else None,
    }


def _share(flags: list[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def recall_at(
    items: Sequence[Item], rankings: Sequence[list[str]], k: int, kinds: Sequence[str]
) -> float | None:
    vals = []
    for it, ranked in zip(items, rankings, strict=True):
        if it.kind in kinds and it.relevant:
            top = [p for p in ranked if p not in it.partial][:k]
            vals.append(len(set(top) & it.relevant) / len(it.relevant))
    return float(np.mean(vals)) if vals else None


def tiers(
    ranked: Sequence[tuple[list[str], np.ndarray]],
    t_main: float,
    t_second: float,
    max_main: int,
    second_max: int,
    t_accept: float = 0.0,
    gate: Sequence[bool] | None = None,
    t_uncertain: float = 0.0,
    evidence: Sequence[set[str]] | None = None,
    near: Sequence[set[str]] | None = None,
) -> tuple[list[list[str]], list[list[str]]]:
    """Main and second tier of each question, as `Retriever.decide` makes them (``gate``:
    the floor rule's acceptance of each question, else the model's ``t_accept``;
    ``evidence``: the papers of each question allowed in the second tier; ``near``: the
    papers a question without a main list may offer at ``t_second``, not ``t_uncertain``)."""
    mains, seconds = [], []
    for q, (ids, p) in enumerate(ranked):
        accepted = len(p) > 0 and (gate[q] if gate is not None else p[0] >= max(t_accept, t_main))
        m = [i for i, v in zip(ids, p, strict=True) if v >= t_main][:max_main] if accepted else []
        rest = ids[len(m) :]
        bar = t_second if accepted else max(t_second, t_uncertain)
        s = [
            i
            for i, v in zip(rest, p[len(m) :], strict=True)
            if (v >= bar or (near is not None and i in near[q] and v >= t_second))
            and (evidence is None or i in evidence[q])
        ][:second_max]
        mains.append(m)
        seconds.append(s)
    return mains, seconds


def objective(fig: dict[str, Any]) -> float:
    """F0.5 of main-list precision and coverage (the main list is for clear evidence; the
    second tier carries the rest); every unanswerable question given a main list costs
    0.1 of it (the target is 1.0 refused)."""
    p, c = fig["main_precision"] or 0.0, fig["main_coverage"] or 0.0
    f = 1.25 * p * c / (0.25 * p + c) if p + c else 0.0
    return f - 0.1 * (1 - (fig["unanswerable_refused"] or 0.0)) * (fig["n_unanswerable"] or 0)


def evidence_sets(items: Sequence[Item], lexical: float, dense: float) -> list[set[str]]:
    """Each question's papers that pass `assistant.retrieval.decision.second_evidence`."""
    return [
        {
            pid
            for pid, lx, fd in zip(it.ids, it.sig["lexical"], it.sig["first_dense"], strict=True)
            if lx > lexical or fd >= dense
        }
        for it in items
    ]


def near_sets(items: Sequence[Item], dense: float) -> list[set[str]]:
    """Each question's papers whose best chunk's cosine before feedback reaches ``dense``."""
    return [
        {pid for pid, fd in zip(it.ids, it.sig["first_dense"], strict=True) if fd >= dense}
        for it in items
    ]


def uncertain_precision(
    items: Sequence[Item], mains: Sequence[list[str]], seconds: Sequence[list[str]]
) -> float | None:
    """On-topic share of the papers offered to answerable questions that got no main list."""
    return _share(
        [
            p in it.relevant or p in it.partial
            for it, m, s in zip(items, mains, seconds, strict=True)
            if it.answerable and not m
            for p in s
        ]
    )


def floor_gate(items: Sequence[Item], floor: float, dense_floor: float) -> list[bool]:
    """The floor rule's acceptance of each question (its scores before feedback)."""
    return [
        bool(len(it.sig["first_score"]))
        and (
            float(it.sig["first_score"].max()) >= floor
            or float(it.sig["first_dense"].max()) >= dense_floor
        )
        for it in items
    ]


def largest_gap_lists(
    items: Sequence[Item], ranking: str, rrf_k: float, max_main: int
) -> list[list[str]]:
    """The per-question normalisation baseline: list everything above the largest score
    drop among the top 20 (no learned weights)."""
    out = []
    for it in items:
        order = rank_order(it.sig, ranking, rrf_k)
        above = tier_features(it.sig, order)[:, TIER_FEATURES.index("above_gap")]
        out.append([it.ids[i] for i in order if above[i] > 0][:max_main])
    return out

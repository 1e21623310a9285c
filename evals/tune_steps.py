"""The steps of ``python -m evals.tune_cut``, in order: each one chooses or measures on the
tuning half, prints its figures and returns what `tier_model.json` records; the test half
is scored last (`score_test`), once everything is fixed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant import Settings
from assistant.retrieval.decision import TIER_FEATURES, rank_order
from evals.tier_choice import choose_evidence, choose_thresholds, choose_uncertain_dense
from evals.tier_figures import (
    evidence_sets,
    floor_gate,
    largest_gap_lists,
    list_figures,
    near_sets,
    objective,
    recall_at,
    tiers,
)
from evals.tier_fit import design, fit_designs, oof_probs, ordered
from evals.tune_items import Item

RANKINGS = ("weighted", "rrf", "rrf3")
Ranked = list[tuple[list[str], np.ndarray]]


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}


def report_head(tune: list[Item], test: list[Item], k: int) -> dict[str, Any]:
    """The run's shape, which `tier_model.json` opens with (after printing it)."""
    print(
        f"{len(tune)} tuning and {len(test)} test list questions; {k}-fold CV "
        "grouped by topic_group"
    )
    return {"folds": k, "n_tune": len(tune), "n_test": len(test), "features": list(TIER_FEATURES)}


def compare_rankings(tune: list[Item], rrf_k: float) -> dict[str, dict[str, float | None]]:
    """1. Candidate rankings (no fitting): recall of the tuning half's relevant papers."""
    rank_rows = {}
    for ranking in RANKINGS:
        ranked = [[it.ids[i] for i in rank_order(it.sig, ranking, rrf_k)] for it in tune]
        rank_rows[ranking] = {
            f"{kind} r@{k}": recall_at(tune, ranked, k, (kind,))
            for kind in ("topic", "topic_paraphrase")
            for k in (10, 20, 30)
        }
        print(ranking, {k: round(v, 3) for k, v in rank_rows[ranking].items() if v is not None})
    return rank_rows


def fit_variants(
    tune: list[Item], settings: Settings, k: int, gate: Sequence[bool]
) -> list[dict[str, Any]]:
    """2. The learned decision, every variant cross-validated on the tuning half; best first."""
    cfg = settings.retrieval
    variants = []
    for ranking in RANKINGS:
        for pool in (20, 30):
            for l2 in (0.3, 3.0, 30.0):
                oof = oof_probs(tune, ranking, pool, l2, k, cfg.rrf_k)
                for rule in ("floor", "model"):
                    ta, t1, t2, tu, fig = choose_thresholds(
                        tune, oof, cfg.max_papers, cfg.second_max, gate if rule == "floor" else None
                    )
                    row = {
                        "ranking": ranking,
                        "pool": pool,
                        "l2": l2,
                        "accept_rule": rule,
                        "accept_threshold": ta,
                        "main_threshold": t1,
                        "uncertain_threshold": tu,
                        "second_threshold": t2,
                        "objective": objective(fig),
                        "topic r@10": recall_at(tune, [ids for ids, _ in oof], 10, ("topic",)),
                        "paraphrase r@10": recall_at(
                            tune, [ids for ids, _ in oof], 10, ("topic_paraphrase",)
                        ),
                        **fig,
                    }
                    variants.append(row)
                    print(json.dumps(_rounded(row)))
    variants.sort(key=lambda r: -r["objective"])
    return variants


EVIDENCE_SHOWN = (
    "second_lexical",
    "second_dense",
    "second_precision",
    "both_coverage",
    "no_paper",
    "unanswerable_second",
)


def second_evidence(
    tune: list[Item],
    best_oof: Ranked,
    best: dict[str, Any],
    settings: Settings,
    k: int,
    gate: Sequence[bool] | None,
    report: dict[str, Any],
) -> tuple[float, float]:
    """2b. The second tier's absolute evidence, on the winner's out-of-fold probabilities.

    The prior, for ties: a paper shares one of the question's topic terms, or one of its
    chunks is as close in meaning as the older rule asked of a question worded unlike
    the library (`dense_floor`, fitted before on the tuning half).
    """
    cfg = settings.retrieval
    (ev_lx, ev_d), curve, check = choose_evidence(
        tune, best_oof, best, cfg.max_papers, cfg.second_max, k, (0.0, cfg.dense_floor), gate
    )
    report["evidence_curve_tune"] = curve
    report["evidence_cv_tune"] = check
    for row in curve:
        print("evidence", {k: v for k, v in _rounded(row).items() if k in EVIDENCE_SHOWN})
    for row in check:
        print(
            "evidence fold",
            row["fold"],
            row["second_lexical"],
            row["second_dense"],
            {
                f"{h} {k}": round(row[h][k] or 0, 3)
                for h in ("held_out", "held_out_no_condition")
                for k in ("second_precision", "both_coverage")
            },
        )
    print("evidence chosen:", ev_lx, ev_d)
    return ev_lx, ev_d


def uncertain_dense(
    tune: list[Item],
    best_oof: Ranked,
    best: dict[str, Any],
    settings: Settings,
    k: int,
    evidence: tuple[float, float],
    gate: Sequence[bool] | None,
    report: dict[str, Any],
) -> float:
    """2c. Questions without a main list: closeness in meaning that lets a paper be offered
    at the second tier's bar (on the same out-of-fold probabilities)."""
    cfg = settings.retrieval
    u_dense, ucurve, ucheck = choose_uncertain_dense(
        tune, best_oof, best, cfg.max_papers, cfg.second_max, k, evidence, gate
    )
    report["uncertain_dense_curve_tune"] = ucurve
    report["uncertain_dense_cv_tune"] = ucheck
    shown = (
        "uncertain_dense",
        "both_coverage",
        "second_precision",
        "uncertain_precision",
        "no_paper",
        "unanswerable_second",
    )
    for row in ucurve:
        print("uncertain dense", {k: v for k, v in _rounded(row).items() if k in shown})
    for h in ("held_out", "held_out_bar_alone"):
        print(
            "uncertain dense, held-out folds,",
            h,
            [r["uncertain_dense"] for r in ucheck],
            {
                k: round(float(np.mean([r[h][k] or 0.0 for r in ucheck])), 3)
                for k in shown[1:6]
                if k != "no_paper"
            },
            "no paper",
            sum(r[h]["no_paper"] for r in ucheck),
        )
    print("uncertain dense chosen:", u_dense)
    return u_dense


def baselines(
    tune: list[Item], best: dict[str, Any], settings: Settings, report: dict[str, Any]
) -> None:
    """3. Baselines on the tuning half (nothing to fit: their settings are the old ones)."""
    cfg = settings.retrieval
    report["older_cut_tune"] = list_figures(tune, [it.gap_list for it in tune], [[] for _ in tune])
    report["largest_gap_tune"] = list_figures(
        tune,
        largest_gap_lists(tune, best["ranking"], cfg.rrf_k, cfg.max_papers),
        [[] for _ in tune],
    )
    print("older cut (tune):", report["older_cut_tune"])
    print("largest gap (tune):", report["largest_gap_tune"])


def refit(
    tune: list[Item],
    best: dict[str, Any],
    settings: Settings,
    evidence: tuple[float, float],
    u_dense: float,
) -> tuple[dict[str, Any], np.ndarray]:
    """4. The winner refitted on the whole tuning half: the settings `tier_model.json` holds,
    and the unrounded weights the test half is scored with."""
    designs = [design(it, best["ranking"], best["pool"], settings.retrieval.rrf_k) for it in tune]
    w = fit_designs(designs, best["l2"])
    chosen = {
        "ranking": best["ranking"],
        "pool": best["pool"],
        "tier_weights": [round(float(v), 5) for v in w],
        "accept_rule": best["accept_rule"],
        "accept_threshold": best["accept_threshold"],
        "main_threshold": best["main_threshold"],
        "second_threshold": best["second_threshold"],
        "uncertain_threshold": best["uncertain_threshold"],
        "second_lexical": evidence[0],
        "second_dense": evidence[1],
        "uncertain_dense": u_dense,
    }
    return chosen, w


def score_test(
    test: list[Item],
    best: dict[str, Any],
    w: np.ndarray,
    settings: Settings,
    evidence: tuple[float, float],
    u_dense: float,
) -> dict[str, Any]:
    """The test half's figures under the fixed choice (with the full rule, with the
    uncertain bar alone, without the evidence condition) beside the older cut."""
    cfg = settings.retrieval
    ranked = [ordered(design(it, best["ranking"], best["pool"], cfg.rrf_k), w) for it in test]
    gate = floor_gate(test, cfg.floor, cfg.dense_floor) if best["accept_rule"] == "floor" else None
    fixed = (
        ranked,
        best["main_threshold"],
        best["second_threshold"],
        cfg.max_papers,
        cfg.second_max,
        best["accept_threshold"],
        gate,
        best["uncertain_threshold"],
    )
    ev = evidence_sets(test, *evidence)
    m, s = tiers(*fixed, ev, near_sets(test, u_dense))
    m1, s1 = tiers(*fixed, ev)
    m0, s0 = tiers(*fixed)
    return {
        "model": list_figures(test, m, s),
        "model_uncertain_bar_alone": list_figures(test, m1, s1),
        "model_without_evidence": list_figures(test, m0, s0),
        "older_cut": list_figures(test, [it.gap_list for it in test], [[] for _ in test]),
        "topic r@10": recall_at(test, [ids for ids, _ in ranked], 10, ("topic",)),
        "paraphrase r@10": recall_at(test, [ids for ids, _ in ranked], 10, ("topic_paraphrase",)),
    }

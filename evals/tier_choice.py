"""The list decision's choices on out-of-fold probabilities: the thresholds, the second
tier's evidence condition, and how close in meaning a paper must be to be offered to a
question without a main list. Each choice comes with its grouped-CV check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from evals.tier_figures import (
    evidence_sets,
    list_figures,
    near_sets,
    objective,
    tiers,
    uncertain_precision,
)
from evals.tier_fit import topic_folds
from evals.tune_items import Item


def choose_thresholds(
    items: Sequence[Item],
    ranked: Sequence[tuple[list[str], np.ndarray]],
    max_main: int,
    second_max: int,
    gate: Sequence[bool] | None = None,
) -> tuple[float, float, float, float, dict[str, Any]]:
    """The (question accept, main) thresholds that maximise `objective` (the accept one
    only without a ``gate``); then the lowest second threshold at which a "may also be
    relevant" paper is on topic at least half the time, lowered further while an
    answerable question would get no paper at all."""
    grid = np.round(np.arange(0.05, 0.96, 0.025), 3)
    pairs = [
        (a, t)
        for t in grid
        for a in (grid if gate is None else [0.0])
        if a >= t or gate is not None
    ]
    acc, best = max(
        pairs,
        key=lambda at: objective(
            list_figures(items, *tiers(ranked, at[1], 1.1, max_main, 0, at[0], gate))
        ),
    )
    cands = sorted([x for x in grid.tolist() + [0.005, 0.01, 0.02] if x < best])
    figs = {
        c: list_figures(items, *tiers(ranked, best, c, max_main, second_max, acc, gate))
        for c in cands
    }
    ok = [c for c in cands if (figs[c]["second_precision"] or 0.0) >= 0.5]
    t2 = ok[0] if ok else best
    while figs.get(t2, {"no_paper": 1})["no_paper"] > 0 and any(c < t2 for c in cands):
        t2 = max(c for c in cands if c < t2)
    # Questions without a main list: the highest bar that still leaves every answerable
    # one a paper (the fewer unanswerable questions shown an uncertain tier, the better).
    tu = t2
    for c in sorted(grid.tolist(), reverse=True):
        if (
            c > t2
            and list_figures(items, *tiers(ranked, best, t2, max_main, second_max, acc, gate, c))[
                "no_paper"
            ]
            == 0
        ):
            tu = c
            break
    fig = list_figures(items, *tiers(ranked, best, t2, max_main, second_max, acc, gate, tu))
    return float(acc), float(best), float(t2), float(tu), fig


EVIDENCE_LEXICAL = (-1.0, 0.0, 0.1, 0.2, 0.3)
EVIDENCE_DENSE = (-1.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 2.0)


def _evidence_grid(prior: tuple[float, float]) -> list[tuple[float, float]]:
    """Every (L, D) tried: the grid plus the prior, less "always and never" at once."""
    dense_grid = sorted({*EVIDENCE_DENSE, prior[1]})
    return [
        (lx, d)
        for lx in sorted({*EVIDENCE_LEXICAL, prior[0]})
        for d in dense_grid
        if not (lx == -1.0 and d == 2.0)
    ]


def _pick_evidence(
    run: Callable[[float, float], dict[str, Any]],
    grid: Sequence[tuple[float, float]],
    prior: tuple[float, float],
    max_loss: float,
) -> tuple[float, float]:
    """`choose_evidence`'s rule over the figures ``run(L, D)`` of some questions."""
    base = run(-1.0, -1.0)
    figs = {g: run(*g) for g in grid}
    ok = [
        g
        for g in grid
        if (figs[g]["both_coverage"] or 0) >= (base["both_coverage"] or 0) - max_loss
        and figs[g]["no_paper"] <= base["no_paper"]
    ]
    return max(
        ok,
        key=lambda g: (
            (figs[g]["second_precision"] or 0.0),
            -(figs[g]["unanswerable_second"] or 0.0),
            g == prior,
            -g[0],
            -g[1],
        ),
    )


def choose_evidence(
    items: Sequence[Item],
    ranked: Sequence[tuple[list[str], np.ndarray]],
    th: dict[str, Any],
    max_main: int,
    second_max: int,
    k: int,
    prior: tuple[float, float],
    gate: Sequence[bool] | None = None,
    max_loss: float = 0.01,
) -> tuple[tuple[float, float], list[dict[str, Any]], list[dict[str, Any]]]:
    """The second tier's evidence condition (``lexical > L or first_dense >= D``).

    On the out-of-fold probabilities, the (L, D) with the highest second-tier precision
    whose main+second coverage is within ``max_loss`` of no condition's and that leaves
    no more answerable questions with no paper (ties: fewer unanswerable questions shown
    a second tier, then ``prior`` where it is among the tied, else the weaker condition:
    where the tuning half cannot tell conditions apart, the stated prior decides).
    Returns the choice, the curve over the grid, and the grouped-CV check of that rule:
    chosen on k-1 folds, scored on the held-out one.
    """

    def run(sub: Sequence[int], lx: float, d: float) -> dict[str, Any]:
        its = [items[i] for i in sub]
        m, s = tiers(
            [ranked[i] for i in sub],
            th["main_threshold"],
            th["second_threshold"],
            max_main,
            second_max,
            th["accept_threshold"],
            None if gate is None else [gate[i] for i in sub],
            th["uncertain_threshold"],
            evidence_sets(its, lx, d),
        )
        return list_figures(its, m, s)

    grid = _evidence_grid(prior)

    def pick(sub: Sequence[int]) -> tuple[float, float]:
        return _pick_evidence(lambda lx, d: run(sub, lx, d), grid, prior, max_loss)

    everyone = list(range(len(items)))
    curve = [{"second_lexical": g[0], "second_dense": g[1], **run(everyone, *g)} for g in grid]
    folds = topic_folds(list(items), k)
    check = []
    for f in range(k):
        train = [i for i in everyone if folds[i] != f]
        held = [i for i in everyone if folds[i] == f]
        g = pick(train)
        check.append(
            {
                "fold": f,
                "second_lexical": g[0],
                "second_dense": g[1],
                "held_out": run(held, *g),
                "held_out_no_condition": run(held, -1.0, -1.0),
            }
        )
    return pick(everyone), curve, check


UNCERTAIN_DENSE = (-1.0, 0.2, 0.25, 0.28, 0.3, 0.32, 0.35, 0.38, 0.42, 2.0)


def _pick_uncertain(figs: dict[float, dict[str, Any]], max_loss: float) -> float:
    """`choose_uncertain_dense`'s rule over some questions' figures at each value."""
    top = max(f["both_coverage"] or 0.0 for f in figs.values())
    fewest = min(f["no_paper"] for f in figs.values())
    return max(
        d
        for d, f in figs.items()
        if (f["both_coverage"] or 0.0) >= top - max_loss and f["no_paper"] <= fewest
    )


def choose_uncertain_dense(
    items: Sequence[Item],
    ranked: Sequence[tuple[list[str], np.ndarray]],
    th: dict[str, Any],
    max_main: int,
    second_max: int,
    k: int,
    evidence: tuple[float, float],
    gate: Sequence[bool] | None = None,
    max_loss: float = 0.01,
) -> tuple[float, list[dict[str, Any]], list[dict[str, Any]]]:
    """How close in meaning (cosine before feedback) a paper must be for a question without
    a main list to offer it at the second tier's bar instead of ``uncertain_threshold``.

    Mostly paraphrased questions: the uncertain bar dropped their relevant papers first.
    Rule: among the values whose main+second coverage is within ``max_loss`` of the best
    and that leave no more answerable questions with no paper, the strictest (a topic the
    library lacks, which the eval set's near-miss questions do not measure, must still get
    no unrelated offers). Returns the choice, the curve, and its grouped-CV check (chosen
    on k-1 folds, scored on the held-out one, beside the bar alone: ``2.0``).
    """

    def run(sub: Sequence[int], d: float) -> dict[str, Any]:
        its = [items[i] for i in sub]
        m, s = tiers(
            [ranked[i] for i in sub],
            th["main_threshold"],
            th["second_threshold"],
            max_main,
            second_max,
            th["accept_threshold"],
            None if gate is None else [gate[i] for i in sub],
            th["uncertain_threshold"],
            evidence_sets(its, *evidence),
            near_sets(its, d),
        )
        return {**list_figures(its, m, s), "uncertain_precision": uncertain_precision(its, m, s)}

    def pick(sub: Sequence[int]) -> float:
        return _pick_uncertain({d: run(sub, d) for d in UNCERTAIN_DENSE}, max_loss)

    everyone = list(range(len(items)))
    curve = [{"uncertain_dense": d, **run(everyone, d)} for d in UNCERTAIN_DENSE]
    folds = topic_folds(list(items), k)
    check = []
    for f in range(k):
        held = [i for i in everyone if folds[i] == f]
        d = pick([i for i in everyone if folds[i] != f])
        check.append(
            {
                "fold": f,
                "uncertain_dense": d,
                "held_out": run(held, d),
                "held_out_bar_alone": run(held, 2.0),
            }
        )
    return pick(everyone), curve, check

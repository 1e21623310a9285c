"""Choose the list rule's settings on the tuning half; report the held-out half per style.

``python -m evals.tune_rule`` retrieves every list question of the eval set once (the
candidates and their signals, `evals.tune_items.collect`), then, with the app's own
`assistant.retrieval.decision.rule_tiers` applied to those signals:

1. chooses the main list's settings (ranking, ``floor``, ``dense_floor``, ``gap``, the
   member bars) and then the second tier's evidence (``second_lexical``, ``second_dense``)
   as the grid point with the best objective averaged over topic-grouped folds of the
   tuning half (`choose`);
2. estimates that procedure honestly by nesting it: for each of 5 outer folds, the choice
   is made on the other four and scored on the held-out one (the out-of-fold figures);
3. makes the choice on the whole tuning half, then sets ``sure_floor`` (the wording "N
   papers address this" against "these papers appear to address it") as the lowest bar
   whose "sure" lists reach ``SURE_PRECISION`` on the tuning half;
4. scores the test half once, per question style, with everything fixed.

The objective puts the user's priorities in order (`objective`): the opening sentence
right (never "no paper" while the ranking's first paper is relevant: a hard limit of
``MAX_WRONG_NO``; few answerable questions without a list; near misses refused), nothing
padded (precision of all that is shown), then the lists (F1 of main precision and
coverage, recall of all shown). A setting that empties lists to look precise loses.
It writes ``evals/rule_model.json`` with ``--write``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant import Settings, get_settings
from assistant.core.settings import RetrievalSettings
from assistant.retrieval.decision import rule_tiers
from evals.metrics import rounded
from evals.tier_fit import topic_folds
from evals.tune_items import Item, collect, load_items, load_questions

HERE = Path(__file__).resolve().parent
MODEL_FILE = HERE / "rule_model.json"
MAX_WRONG_NO = 0.05  # share of answerable questions told "no paper" above a relevant one
SURE_PRECISION = 0.85  # main-list precision a plainly stated ("sure") list must reach
GRID_MAIN: dict[str, list[Any]] = {
    "ranking": ["weighted", "rrf3"],
    "floor": [round(x, 3) for x in np.arange(0.25, 0.601, 0.05)],
    "dense_floor": [0.4, 0.45, 0.5, 2.0],
    "gap": [0.6, 0.7, 0.8, 0.85, 0.9],
    "main_floor": [0.0, 0.55, 0.6],
    "rule_threshold": [0.0, 0.25, 0.4, 0.625],  # 0: the model's probability unused
}
GRID_SECOND: dict[str, list[Any]] = {
    "second_lexical": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0],  # 1.0: off (a share > 1)
    "second_dense": [0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 2.0],
}
SURE_GRID = [round(x, 3) for x in np.arange(0.25, 0.901, 0.025)]
# (main list, second tier, confidence, the ranking's first paper)
Tiers = tuple[list[str], list[str], str, str | None]


def apply(items: Sequence[Item], cfg: RetrievalSettings) -> list[Tiers]:
    """Each question's (main list, second tier, confidence) as the app decides them."""
    out: list[Tiers] = []
    for it in items:
        order, main, second, conf = rule_tiers(it.sig, cfg)
        first = it.ids[int(order[0])] if len(order) else None
        out.append(([it.ids[i] for i in main], [it.ids[i] for i in second], conf, first))
    return out


def _share(flags: Sequence[bool]) -> float:
    return float(np.mean(flags))


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _on_topic(it: Item, pid: str) -> bool:
    return pid in it.relevant or pid in it.partial


def figures(items: Sequence[Item], tiers: Sequence[Tiers]) -> dict[str, Any]:
    """What a user sees, over ``items``: the opening sentence, the lists, the padding."""
    ans = [(it, t) for it, t in zip(items, tiers, strict=True) if it.answerable]
    una = [(it, t) for it, t in zip(items, tiers, strict=True) if not it.answerable]

    # "No paper" while the ranking's first paper is relevant, shown or not: hiding it is
    # no better than showing it under a denial.
    wrong_no = [not t[0] and t[3] in it.relevant for it, t in ans]
    shown = [(it, t[0] + t[1]) for it, t in ans]
    sure = [(it, t) for it, t in ans if t[2] == "sure"]
    return {
        "n_answerable": len(ans),
        "n_unanswerable": len(una),
        "wrong_no_paper": _mean(wrong_no),
        "no_main_list": _mean([not t[0] for _, t in ans]),
        "main_precision": _mean(
            [_share([_on_topic(it, p) for p in t[0]]) for it, t in ans if t[0]]
        ),
        "main_coverage": _mean([len(set(t[0]) & it.relevant) / len(it.relevant) for it, t in ans]),
        "shown_precision": _mean([_share([_on_topic(it, p) for p in s]) for it, s in shown if s]),
        "shown_recall": _mean([len(set(s) & it.relevant) / len(it.relevant) for it, s in shown]),
        "first_relevant": _mean([_on_topic(it, s[0]) for it, s in shown if s]),
        "sure_precision": _mean([_share([_on_topic(it, p) for p in t[0]]) for it, t in sure]),
        "sure_share": _mean([t[2] == "sure" for _, t in ans]),
        "second_size": _mean([len(t[1]) for _, t in ans + una]),
        "unanswerable_refused": _mean([not t[0] for _, t in una]),
        # Refused, or listed only with the hedged wording ("appear to address it").
        "unanswerable_refused_or_hedged": _mean([t[2] != "sure" for _, t in una]),
        "opening_wrong": _mean(
            [float(not t[0]) for _, t in ans]
            + [1.0 if t[2] == "sure" else 0.5 if t[0] else 0.0 for _, t in una]
        ),
        "unanswerable_shown_nothing": _mean([not (t[0] or t[1]) for _, t in una]),
    }


def _f1(p: float | None, r: float | None) -> float:
    p, r = p or 0.0, r or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def objective(fig: dict[str, Any]) -> float:
    """Higher is better; issue #21's priorities in order, each weighted over the next:
    "no paper" while the ranking's first paper is relevant stays under ``MAX_WRONG_NO``
    whatever else is gained; then few answerable questions without a list and near misses
    refused; nothing padded (precision of all shown); the lists; their recall."""
    wrong = fig["wrong_no_paper"] or 0.0
    refused = fig["unanswerable_refused"]
    return (
        -10.0 * max(0.0, wrong - MAX_WRONG_NO)
        - 1.0 * (fig["no_main_list"] or 0.0)  # "no paper" on an answerable question: target 0
        + 0.5 * (refused if refused is not None else 1.0)
        + 1.0 * (fig["shown_precision"] or 0.0)
        + _f1(fig["main_precision"], fig["main_coverage"])
        + 0.25 * (fig["shown_recall"] or 0.0)
    )


def _grid(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(grid, vals, strict=True)) for vals in itertools.product(*grid.values())]


def choose(
    items: Sequence[Item], base: RetrievalSettings, grid: dict[str, list[Any]], k: int = 5
) -> dict[str, Any]:
    """The grid point whose objective, averaged over ``k`` topic-grouped folds of ``items``
    (each fold's questions scored apart), is best (ties: the first in grid order).

    Averaging over folds rather than taking the best on all of ``items`` at once keeps a
    point that wins on one lucky group of topics from being chosen.
    """
    folds = topic_folds(list(items), k)
    parts = [[i for i, g in enumerate(folds) if g == f] for f in range(k)]
    parts = [p for p in parts if p]
    best, best_val = {}, -np.inf
    for point in _grid(grid):
        tiers = apply(items, base.model_copy(update=point))
        val = float(
            np.mean(
                [objective(figures([items[i] for i in p], [tiers[i] for i in p])) for p in parts]
            )
        )
        if val > best_val + 1e-12:
            best, best_val = point, val
    return best


def choose_all(items: Sequence[Item], base: RetrievalSettings) -> dict[str, Any]:
    """The main list's settings, then the second tier's evidence given them."""
    main = choose(items, base, GRID_MAIN)
    second = choose(items, base.model_copy(update=main), GRID_SECOND)
    return {**main, **second}


def choose_sure(items: Sequence[Item], cfg: RetrievalSettings) -> float:
    """The lowest ``sure_floor`` whose plainly stated lists reach ``SURE_PRECISION``."""
    for bar in SURE_GRID:
        fig = figures(items, apply(items, cfg.model_copy(update={"sure_floor": bar})))
        if (fig["sure_precision"] or 0.0) >= SURE_PRECISION:
            return bar
    return SURE_GRID[-1]


def cross_validate(items: list[Item], base: RetrievalSettings, k: int) -> dict[str, Any]:
    """Grouped k-fold: each fold's choice, scored on its held-out part (out-of-fold)."""
    folds = topic_folds(items, k)
    oof: list[Tiers | None] = [None] * len(items)
    chosen = []
    for f in range(k):
        fit = [it for it, g in zip(items, folds, strict=True) if g != f]
        point = choose_all(fit, base)
        chosen.append(point)
        held = [i for i, g in enumerate(folds) if g == f]
        cfg = base.model_copy(update=point)
        for i, t in zip(held, apply([items[i] for i in held], cfg), strict=True):
            oof[i] = t
    tiers = [t for t in oof if t is not None]
    return {"folds": chosen, "out_of_fold": figures(items, tiers)}


def by_style(
    items: Sequence[Item], tiers: Sequence[Tiers], styles: dict[str, str]
) -> dict[str, Any]:
    """The figures of each question style (and of all together)."""
    out = {"all": figures(items, tiers)}
    for style in sorted({styles.get(it.id, "?") for it in items}):
        sub = [(it, t) for it, t in zip(items, tiers, strict=True) if styles.get(it.id) == style]
        out[style] = figures([s[0] for s in sub], [s[1] for s in sub])
    return out


def run(settings: Settings, items: list[Item], styles: dict[str, str], k: int) -> dict[str, Any]:
    base = settings.retrieval.model_copy(update={"list_method": "rule"})
    tune = [it for it in items if it.split == "tune"]
    test = [it for it in items if it.split == "test"]
    cv = cross_validate(tune, base, k)
    chosen = choose_all(tune, base)
    cfg = base.model_copy(update=chosen)
    chosen["sure_floor"] = choose_sure(tune, cfg)
    cfg = cfg.model_copy(update={"sure_floor": chosen["sure_floor"]})
    today = settings.retrieval
    return rounded(
        {
            "chosen": chosen,
            "config_hash": settings.model_copy(update={"retrieval": cfg}).config_hash(),
            "cv_tune": cv,
            "tune": by_style(tune, apply(tune, cfg), styles),
            "test": by_style(test, apply(test, cfg), styles),
            "test_with_current_settings": figures(test, apply(test, today))
            if today.list_method == "rule"
            else None,
        }
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default=str(HERE / "data" / "questions.jsonl"))
    ap.add_argument("--features", default="artifacts/tune_rule/features.json")
    ap.add_argument("--reuse", action="store_true", help="reuse the features of an earlier run")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--write", action="store_true", help=f"write {MODEL_FILE.name}")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = get_settings()
    questions = load_questions(Path(args.set))
    styles = {q["id"]: q.get("style") or q["kind"] for q in questions}
    feats = Path(args.features)
    reuse = args.reuse and feats.exists()
    items = load_items(feats) if reuse else collect(settings, questions, feats)
    report = run(settings, items, styles, args.folds)
    text = json.dumps(report, indent=1)
    print(text)
    if args.write:
        MODEL_FILE.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(main())

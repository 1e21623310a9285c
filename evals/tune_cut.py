"""Choose the candidate ranking and fit the two-tier list decision, on the tuning half only.

``python -m evals.tune_cut`` retrieves every non-metadata question of the eval set once,
keeps each candidate's raw signals (`assistant.retrieval.decision.hit_signals`), then:

1. compares candidate rankings (weighted score, RRF of BM25 and dense, RRF of three)
   by recall@10/20/30 on the tuning half;
2. for each ranking, pool depth and L2 strength, fits a logistic model of "this
   candidate is relevant or partial" with k-fold cross-validation grouped by
   ``topic_group`` (no topic is in both a training fold and its held-out fold) and
   picks the main and second-tier thresholds on the out-of-fold probabilities;
   then, on the winner's out-of-fold probabilities, the absolute evidence a second-tier
   paper needs (`choose_evidence`: lexical share or cosine before feedback);
3. compares with the older cut (`floor`/`gap`) and with the largest-gap cut;
4. refits the chosen setting on the whole tuning half and only then scores the test
   half, once.

It writes ``evals/tier_model.json`` (weights, thresholds, the CV and test figures, the
config hash) and prints the settings to copy into `RetrievalSettings`. The test half
never influences a choice: its figures are computed after everything is fixed.

The parts: `evals.tune_items` (the candidates), `evals.tier_fit` (the grouped-CV model),
`evals.tier_figures` (tiers and their figures), `evals.tier_choice` (thresholds and
evidence), `evals.tune_steps` (each step's figures, in order).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from assistant import Settings, get_settings
from evals import tune_steps
from evals.tier_figures import floor_gate
from evals.tier_fit import oof_probs
from evals.tune_items import collect, load_items, load_questions

HERE = Path(__file__).resolve().parent
MODEL_FILE = HERE / "tier_model.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default=str(HERE / "data" / "questions.jsonl"))
    ap.add_argument("--features", default="artifacts/tune_cut/features.json")
    ap.add_argument(
        "--reuse", action="store_true", help="reuse the features file of an earlier run"
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--write", action="store_true", help=f"write {MODEL_FILE.name}")
    return ap.parse_args(argv)


def _config_hash(settings: Settings, chosen: dict[str, Any]) -> str:
    """The config hash of `settings` with the chosen decision applied."""
    applied = settings.model_copy(
        update={
            "retrieval": settings.retrieval.model_copy(
                update={k: (tuple(v) if k == "tier_weights" else v) for k, v in chosen.items()}
            )
        }
    )
    return applied.config_hash()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = get_settings()
    cfg = settings.retrieval
    questions = load_questions(Path(args.set))
    feats = Path(args.features)
    items = (
        load_items(feats) if args.reuse and feats.exists() else collect(settings, questions, feats)
    )
    tune = [it for it in items if it.split == "tune"]
    test = [it for it in items if it.split == "test"]
    report = tune_steps.report_head(tune, test, args.folds)
    report["rankings_tune"] = tune_steps.compare_rankings(tune, cfg.rrf_k)
    gate = floor_gate(tune, cfg.floor, cfg.dense_floor)
    variants = tune_steps.fit_variants(tune, settings, args.folds, gate)
    report["variants_cv_tune"] = variants
    best = variants[0]
    best_gate = gate if best["accept_rule"] == "floor" else None
    best_oof = oof_probs(tune, best["ranking"], best["pool"], best["l2"], args.folds, cfg.rrf_k)
    evidence = tune_steps.second_evidence(
        tune, best_oof, best, settings, args.folds, best_gate, report
    )
    u_dense = tune_steps.uncertain_dense(
        tune, best_oof, best, settings, args.folds, evidence, best_gate, report
    )
    tune_steps.baselines(tune, best, settings, report)
    chosen, w = tune_steps.refit(tune, best, settings, evidence, u_dense)
    if test:
        report["test"] = tune_steps.score_test(test, best, w, settings, evidence, u_dense)
        print("test half:", json.dumps(report["test"], indent=1))
    report["chosen"] = chosen
    report["config_hash"] = _config_hash(settings, chosen)
    print("chosen:", json.dumps(chosen))
    if args.write:
        MODEL_FILE.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_FILE}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(main())

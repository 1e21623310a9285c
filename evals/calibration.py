"""Calibrate the offline citation judge (the product's `Verifier`) on claim/source pairs
built from the corpus (`evals.claim_pairs`): score distributions per pair kind, AUROCs by
cos_weight, and the support threshold that best separates a paraphrase of the right paper
from the closest wrong one.

Scores are the Verifier's support without its number cap; the number rule (every number
of the claim occurs in the source) is applied as a separate flag, as the Verifier does.

The attribution and relevance thresholds are calibrated in `evals.attribution`; both are
written up by `evals.calibration_report`.

Run: ``python -m evals.calibration [--n 100] [--attribution]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant import Paper
from assistant.answering.verify import SourceText, Verifier, numbers

from .attribution import calibrate_attribution
from .calibration_report import attribution_markdown, markdown, plot
from .claim_pairs import KINDS, NEGATIVES, TITLE, CachedEmbedder, Pair, build_pairs, mean_vectors
from .judge import paper_sentences
from .metrics import auroc

COS_WEIGHTS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)


def score_pairs(
    pairs: Sequence[Pair], papers: dict[str, Paper], embedder: Any, cos_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """(support without the number cap, number rule passed) per pair."""
    verifier = Verifier(embedder, threshold=float("inf"), cos_weight=cos_weight)
    scores = np.zeros(len(pairs), dtype=float)
    num_ok = np.zeros(len(pairs), dtype=bool)
    sentences = {pid: paper_sentences(papers[pid]) for pid in {p.source_paper for p in pairs}}
    for i, pair in enumerate(pairs):
        paper = papers[pair.source_paper]
        sents = [s for s in sentences[pair.source_paper] if s.index != pair.drop_sentence]
        if pair.drop_sentence == TITLE:
            paper = dataclasses.replace(paper, title="")
        got, _ = verifier.support([pair.claim], [SourceText(1, paper, sents)])
        scores[i] = float(got[0, 0])
        num_ok[i] = not (numbers(pair.claim) - numbers(paper.title + " " + paper.abstract))
    return scores, num_ok


def _by_kind(pairs: Sequence[Pair], values: np.ndarray) -> dict[str, np.ndarray]:
    return {k: values[[i for i, p in enumerate(pairs) if p.kind == k]] for k in KINDS}


def threshold_table(
    pos: np.ndarray, neg: np.ndarray, neg_ok: np.ndarray, grid: Sequence[float] | np.ndarray
) -> list[dict[str, float]]:
    """Precision/recall of "support >= t and numbers ok" for own (pos) vs negatives."""
    rows = []
    for t in grid:
        tp = int((pos >= t).sum())
        fp = int(((neg >= t) & neg_ok).sum())
        rows.append(
            {
                "threshold": round(float(t), 3),
                "recall": tp / len(pos) if len(pos) else 0.0,
                "precision": tp / (tp + fp) if tp + fp else 1.0,
                "false_pass": fp / len(neg) if len(neg) else 0.0,
            }
        )
    return rows


def calibrate(
    library: Any,
    embedder: Any,
    *,
    n: int = 100,
    seed: int = 0,
    current_threshold: float = 0.5,
    current_cos_weight: float = 0.6,
    llm_judge: Any = None,
    judge_per_kind: int = 20,
) -> dict[str, Any]:
    """Score the calibration pairs and summarise: distributions, AUROCs, thresholds."""
    papers = library.papers()
    pairs = build_pairs(papers, mean_vectors(library, list(papers)), n=n, seed=seed)
    cached = _warm_embedder(embedder, pairs, papers)
    sweep, scores, num_ok = _sweep(pairs, papers, cached, current_cos_weight)
    result = _summary(pairs, scores, num_ok, sweep, current_threshold, current_cos_weight)
    if llm_judge is not None:
        result["llm_judge"] = judge_agreement(
            pairs, scores, num_ok, papers, llm_judge, current_threshold, judge_per_kind, seed
        )
    return result


def _warm_embedder(
    embedder: Any, pairs: Sequence[Pair], papers: dict[str, Paper]
) -> CachedEmbedder:
    """The embedder with every text the sweep scores encoded once, up front."""
    cached = CachedEmbedder(embedder)
    texts = [p.claim for p in pairs] + [
        papers[pid].title for pid in {p.source_paper for p in pairs}
    ]
    texts += [
        s.text for pid in {p.source_paper for p in pairs} for s in paper_sentences(papers[pid])
    ]
    texts.append("")
    cached.warm(texts)
    return cached


def _sweep(
    pairs: Sequence[Pair], papers: dict[str, Paper], cached: CachedEmbedder, current: float
) -> tuple[dict[str, dict[str, float]], np.ndarray, np.ndarray]:
    """AUROCs per cos_weight, and the scores and number flags at the ``current`` one."""
    sweep: dict[str, dict[str, float]] = {}
    kept: dict[str, Any] = {}
    for w in COS_WEIGHTS:
        scores, num_ok = score_pairs(pairs, papers, cached, w)
        k = _by_kind(pairs, scores)
        sweep[str(w)] = {f"own_vs_{neg}": auroc(k["own"], k[neg]) for neg in NEGATIVES}
        sweep[str(w)]["own_rest_vs_closest"] = auroc(k["own_rest"], k["closest"])
        sweep[str(w)]["title_own_vs_title_closest"] = auroc(k["title_own"], k["title_closest"])
        if w == current:
            kept = {"scores": scores, "num_ok": num_ok}
    return sweep, kept["scores"], kept["num_ok"]


def _summary(
    pairs: Sequence[Pair],
    scores: np.ndarray,
    num_ok: np.ndarray,
    sweep: dict[str, dict[str, float]],
    current_threshold: float,
    current_cos_weight: float,
) -> dict[str, Any]:
    """Distributions, AUROCs, threshold tables and pass rates at the current and recommended
    thresholds, from the scores at the current cos_weight."""
    k, ok = _by_kind(pairs, scores), _by_kind(pairs, num_ok.astype(float))
    wrong = np.concatenate([k["random"], k["closest"]])
    wrong_ok = np.concatenate([ok["random"], ok["closest"]]).astype(bool)
    grid = np.round(np.arange(0.30, 0.96, 0.05), 2)
    table = threshold_table(k["own"], wrong, wrong_ok, grid)
    # The threshold that best separates a paraphrase (the title) of the right paper from
    # the closest wrong paper (Youden's J). Verbatim quotes score 1.0 at any threshold, so
    # the paraphrase regime - the LLM answerer's - is the one the threshold decides.
    fine = np.round(np.arange(0.30, 0.90, 0.01), 2)
    para = threshold_table(
        k["title_own"], k["title_closest"], ok["title_closest"].astype(bool), fine
    )
    best = max(para, key=lambda r: (r["recall"] - r["false_pass"], -r["threshold"]))
    recommended = best["threshold"]
    quantiles = (("p5", 5), ("p25", 25), ("median", 50), ("p75", 75), ("p95", 95))
    return {
        "n_sentences": len({p.claim_paper for p in pairs}),
        "pairs": {kind: int(len(k[kind])) for kind in KINDS},
        "cos_weight": current_cos_weight,
        "distribution": {
            kind: {q: float(np.percentile(k[kind], p)) for q, p in quantiles}
            for kind in KINDS
            if len(k[kind])
        },
        "auroc": sweep[str(current_cos_weight)],
        "auroc_by_cos_weight": sweep,
        "threshold_table": table,
        "paraphrase_table": [r for r in para if round(r["threshold"] * 100) % 5 == 0],
        "paraphrase_at_recommended": best,
        "current_threshold": current_threshold,
        "pass_rate_at_current": _pass_rates(k, ok, current_threshold),
        "recommended_threshold": recommended,
        "pass_rate_at_recommended": _pass_rates(k, ok, recommended),
        "number_rule_catches": float(1 - ok["number"].mean()) if len(ok["number"]) else None,
        "scores": {kind: [round(float(x), 4) for x in k[kind]] for kind in KINDS},
    }


def _pass_rates(k: dict[str, np.ndarray], ok: dict[str, np.ndarray], t: float) -> dict[str, float]:
    """Share of each kind's pairs passing ``support >= t and numbers ok``."""
    return {
        kind: float(((k[kind] >= t) & ok[kind].astype(bool)).mean()) if len(k[kind]) else 0.0
        for kind in KINDS
    }


def judge_agreement(
    pairs: Sequence[Pair],
    scores: np.ndarray,
    num_ok: np.ndarray,
    papers: dict[str, Paper],
    judge: Any,
    threshold: float,
    per_kind: int,
    seed: int,
) -> dict[str, Any]:
    """The LLM judge on a sample of pairs: accuracy against the construction labels
    (own = supported, random/closest/number/negation = not) and agreement with the offline judge."""
    rng = random.Random(seed)
    chosen: list[int] = []
    for kind in ("own", "random", "closest", "number", "negation"):
        idx = [i for i, p in enumerate(pairs) if p.kind == kind]
        chosen += rng.sample(idx, min(per_kind, len(idx)))
    rows = []
    for i in chosen:
        p = pairs[i]
        said = bool(judge(p.claim, [p.source_paper])[0] >= 0.5)
        rows.append(
            {
                "kind": p.kind,
                "llm": said,
                "offline": bool(scores[i] >= threshold and num_ok[i]),
                "gold": p.kind == "own",
            }
        )
    per_kind_acc = {
        kind: float(np.mean([r["llm"] == r["gold"] for r in rows if r["kind"] == kind]))
        for kind in {r["kind"] for r in rows}
    }
    return {
        "pairs": len(rows),
        "llm_accuracy": float(np.mean([r["llm"] == r["gold"] for r in rows])) if rows else None,
        "offline_accuracy": float(np.mean([r["offline"] == r["gold"] for r in rows]))
        if rows
        else None,
        "llm_offline_agreement": float(np.mean([r["llm"] == r["offline"] for r in rows]))
        if rows
        else None,
        "llm_accuracy_by_kind": per_kind_acc,
        "unparsed_replies": getattr(judge, "unparsed", 0),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m evals.calibration``: writes the JSON, Markdown and plot."""
    from assistant import Library, get_settings
    from assistant.index.embeddings import get_embedder

    ap = argparse.ArgumentParser(
        prog="python -m evals.calibration", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--n", type=int, default=100, help="abstract sentences (one per paper)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="artifacts/eval", help="folder for calibration.json and .png")
    ap.add_argument(
        "--attribution", action="store_true", help="the attribution/relevance calibration only"
    )
    args = ap.parse_args(argv)
    settings = get_settings()
    if args.attribution:
        here = Path(__file__).parent / "data" / "questions.jsonl"
        att = calibrate_attribution(Library(settings), get_embedder(settings), here, seed=args.seed)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "attribution.json").write_text(json.dumps(att, indent=2))
        print(attribution_markdown(att))
        return 0
    result = calibrate(Library(settings), get_embedder(settings), n=args.n, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration.json").write_text(json.dumps(result, indent=2))
    (out / "calibration.md").write_text(markdown(result))
    plot(result, out / "calibration.png")
    print(markdown(result))
    return 0


__all__ = [
    "COS_WEIGHTS",
    "calibrate",
    "judge_agreement",
    "score_pairs",
    "threshold_table",
]

if __name__ == "__main__":
    raise SystemExit(main())

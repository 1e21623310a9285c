"""The citation calibration as a reader sees it: the report's Markdown tables and the plot of
support scores per pair kind (from the result dicts of `evals.calibration` and
`evals.attribution`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .attribution import ATTRIBUTION_KINDS
from .claim_pairs import KINDS, NEGATIVES

QUANTILES = ("p5", "p25", "median", "p75", "p95")


def markdown(result: dict[str, Any]) -> str:
    """The calibration section of a report (also the body of CITATION_CALIBRATION.md)."""
    lines = [
        f"Pairs from {result['n_sentences']} abstract sentences: "
        + ", ".join(f"{k} {v}" for k, v in result["pairs"].items())
        + ".",
        "",
        f"Support score distribution (Verifier, cos_weight {result['cos_weight']}, number "
        "cap off):",
        "",
        "| pair | p5 | p25 | median | p75 | p95 |",
        "|---|---|---|---|---|---|",
    ]
    for kind, d in result["distribution"].items():
        lines.append(f"| {kind} | " + " | ".join(f"{d[q]:.3f}" for q in QUANTILES) + " |")
    lines += _auroc_lines(result["auroc_by_cos_weight"])
    lines += [
        "",
        "Own (supported) vs random+closest (wrong paper), deciding `support >= t and numbers ok`:",
        "",
        *_threshold_rows(result["threshold_table"]),
        "",
        "Paraphrase regime: title vs its own abstract (supported) against title vs the closest "
        "other paper's abstract (wrong paper); the recommended threshold maximises recall minus "
        "wrong pairs passing here:",
        "",
        *_threshold_rows(result["paraphrase_table"]),
    ]
    lines += _pass_rate_lines(result)
    return "\n".join(lines) + "\n"


def _auroc_lines(by_weight: dict[str, dict[str, float]]) -> list[str]:
    cols = [
        *(f"own_vs_{n}" for n in NEGATIVES),
        "own_rest_vs_closest",
        "title_own_vs_title_closest",
    ]
    lines = [
        "",
        "AUROC of `own` against each negative, by cos_weight (score alone, no number rule):",
        "",
        "| cos_weight | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for w, row in by_weight.items():
        lines.append(f"| {w} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    return lines


def _threshold_rows(rows: Iterable[dict[str, float]]) -> list[str]:
    """A threshold table (`evals.calibration.threshold_table`) as Markdown."""
    lines = ["| t | recall | precision | wrong pairs passing |", "|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['threshold']:.2f} | {r['recall']:.3f} | {r['precision']:.3f} | "
            f"{r['false_pass']:.3f} |"
        )
    return lines


def _pass_rate_lines(result: dict[str, Any]) -> list[str]:
    """Pass rates at the current and recommended thresholds, the number rule, the LLM judge."""
    lines = []
    for label, key in (
        ("current", "pass_rate_at_current"),
        ("recommended", "pass_rate_at_recommended"),
    ):
        t = result["current_threshold"] if label == "current" else result["recommended_threshold"]
        rates = ", ".join(f"{k} {v:.2f}" for k, v in result[key].items())
        lines.append(
            f"\nPass rate at the {label} threshold {t:.2f} (number rule applied): {rates}."
        )
    if result.get("number_rule_catches") is not None:
        lines.append(
            f"\nThe number rule alone rejects {result['number_rule_catches']:.0%} of the "
            "changed-number pairs."
        )
    if "llm_judge" in result:
        j = result["llm_judge"]
        lines.append(
            f"\nLLM judge on {j['pairs']} pairs: accuracy {j['llm_accuracy']:.3f} "
            f"(offline judge {j['offline_accuracy']:.3f}), agreement with the offline judge "
            f"{j['llm_offline_agreement']:.3f}; by kind: "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(j["llm_accuracy_by_kind"].items()))
            + f"; unparsed replies {j['unparsed_replies']}."
        )
    return lines


def plot(result: dict[str, Any], path: Path) -> None:
    """Histogram of support scores per pair kind, with the current and recommended thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    bins = np.linspace(0, 1.05, 43)
    for kind in KINDS:
        vals = result["scores"].get(kind) or []
        if vals:
            ax.hist(
                vals,
                bins=list(bins),
                histtype="step",
                linewidth=1.6,
                label=f"{kind} (n={len(vals)})",
            )
    ax.axvline(result["current_threshold"], color="grey", linestyle="--", label="current threshold")
    ax.axvline(result["recommended_threshold"], color="black", linestyle=":", label="recommended")
    ax.set_xlabel(f"Verifier support (cos_weight={result['cos_weight']}), number rule not applied")
    ax.set_ylabel("pairs")
    ax.set_title("Citation relevance: support of a sentence by a source")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def attribution_markdown(result: dict[str, Any]) -> str:
    """Tables of the attribution calibration (pass rates per kind, tuning and held-out halves)."""
    t = result["thresholds"]
    lines = [
        f"Thresholds chosen on the tuning half: explicit [n] {t['cite']:.2f}, post-hoc attribution "
        f"{t['attribution']:.2f}, relevance floor {t['relevance']:.2f}.",
        "",
        "Pairs: "
        + "; ".join(
            f"{s} " + ", ".join(f"{k} {v}" for k, v in kinds.items())
            for s, kinds in result["pairs"].items()
        )
        + ".",
    ]
    for label, key in (("explicit [n]", "at_cite"), ("attribution", "at_attribution")):
        thr = t["cite"] if key == "at_cite" else t["attribution"]
        lines += [
            "",
            f"Pass rate at the {label} threshold {thr:.2f}:",
            "",
            "| half | " + " | ".join(ATTRIBUTION_KINDS) + " |",
            "|---" * (len(ATTRIBUTION_KINDS) + 1) + "|",
        ]
        for split, r in result[key].items():
            lines.append(
                f"| {split} | " + " | ".join(f"{r[k]:.3f}" for k in ATTRIBUTION_KINDS) + " |"
            )
    lines += [
        "",
        "Highest wrong-abstract support: "
        + "; ".join(
            f"{s} " + ", ".join(f"{k} {v:.3f}" for k, v in m.items())
            for s, m in result["max_wrong"].items()
        )
        + ".",
    ]
    lines += [
        "",
        f"Relevance floor {t['relevance']:.2f} (cosine of the question and the answer sentence), "
        "share of sentences passing:",
        "",
        "| questions | relevant paper, best sentence | relevant paper, any sentence | "
        "random paper, best sentence |",
        "|---|---|---|---|",
    ]
    for split, r in result["relevance"].items():
        lines.append(
            f"| {split} ({r['n_best']} relevant papers) | {r['best']:.3f} | {r['all']:.3f} "
            f"| {r['random_best']:.3f} |"
        )
    return "\n".join(lines) + "\n"


__all__ = ["attribution_markdown", "markdown", "plot"]

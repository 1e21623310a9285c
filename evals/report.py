"""The eval's Markdown report and its plot, from the results dict of `runner.run_eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RETRIEVAL = ("recall@5", "recall@10", "recall@20", "ndcg@10", "mrr")
# The list figures of issue 12, shown for the tuning and the test half side by side.
HALVES = (
    ("list_precision", "main list on topic (relevant or partial)"),
    ("list_recall", "relevant papers in the main list"),
    ("both_recall", "relevant papers in main + 'may also be relevant'"),
    ("recall@10", "ranking recall@10"),
    ("no_paper", "answerable answered 'no paper' (count)"),
    ("main_refusal_rate", "unanswerable/metadata: nothing in the main list"),
    ("second_tier_rate", "unanswerable/metadata: shown a labelled second tier"),
)
# (key, label): every offline citation figure is named for what it measures.
ANSWER = (
    ("list_precision", "answer's papers on topic (relevant or partial)"),
    ("list_recall", "relevant papers the answer cites"),
    ("citation_precision", "citation precision (citation relevance, offline)"),
    ("citation_recall", "citation recall (citation relevance, offline)"),
    ("groundedness", "sentences supported by their citations (offline)"),
    ("fully_grounded", "answers with every sentence supported (offline)"),
    ("number_check", "cited sentences whose numbers are all in the source"),
    ("point_coverage", "answer points stated"),
    ("refusal_rate", "refusals on unanswerable/metadata"),
    ("false_refusal_rate", "refusals on answerable questions"),
    ("llm_citation_precision", "citation precision (LLM judge)"),
    ("llm_citation_recall", "citation recall (LLM judge)"),
    ("llm_groundedness", "sentences supported by their citations (LLM judge)"),
)


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def write_report(results: dict[str, Any], path: Path) -> None:
    """Write ``report.md``: setup, retrieval ours vs baseline, answers, latency, calibration."""
    s = results["summary"]
    kinds = list(s["by_kind"])
    base = results.get("baseline")
    lines = [
        *_setup(results),
        *_retrieval(s, kinds, base),
        *halves_table(s),
        *_answers(s, kinds),
        *_latency(results, kinds, base),
        "",
        "## Embedding models",
        "",
        results["embedding_models_compared"] + ".",
    ]
    if "calibration" in results:
        from .calibration_report import markdown

        lines += [
            "",
            "## Calibration of the offline citation judge",
            "",
            markdown({**results["calibration"], "scores": {}}),
        ]
    lines += _misses(results["records"])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _setup(results: dict[str, Any]) -> list[str]:
    t = results["timing"]
    return [
        "# paperlens eval",
        "",
        f"{results['questions']} questions from `{results['set']}`, mode **{results['mode']}**, "
        f"judges: {', '.join(results['judge'])}; library of {results['library_papers']} papers, "
        f"index `{results['index']}`, config hash `{results['config_hash']}`"
        + (f"; LLM `{results['llm_model']}`" if results.get("llm_model") else "")
        + ".",
        f"Runtime {t['total_s']:.0f}s (model warm-up {t['warmup_s']:.0f}s, questions "
        f"{t['questions_s'] - t['warmup_s']:.0f}s"
        + (f", baseline {t['baseline_s']:.0f}s" if "baseline_s" in t else "")
        + (f", calibration {t['calibration_s']:.0f}s" if "calibration_s" in t else "")
        + ").",
        "",
        "Offline citation figures come from the product's Verifier (support >= "
        f"{results['judge_threshold']}, cos_weight {results['judge_cos_weight']}): they measure "
        "**citation relevance** (the cited paper is about the sentence), not faithfulness; "
        "a negated sentence passes them (see the calibration below).",
        "",
    ]


def _retrieval(s: dict[str, Any], kinds: list[str], base: dict[str, Any] | None) -> list[str]:
    lines = [
        "## Retrieval (paper level, answerable questions; partial papers left out of the ranking)",
        "",
    ]
    if base:
        lines += [f"Baseline: {base['description']}.", ""]
    header = (
        "| kind | n | "
        + " | ".join(f"{m} ours" + (f" | {m} base" if base else "") for m in RETRIEVAL)
        + " |"
    )
    lines += [header, "|---" * (2 + len(RETRIEVAL) * (2 if base else 1)) + "|"]
    for kind in ["overall", *kinds]:
        g = s["overall"] if kind == "overall" else s["by_kind"][kind]
        if "recall@10" not in g:
            continue
        b = (
            (base["overall"] if kind == "overall" else base["by_kind"].get(kind, {}))
            if base
            else {}
        )
        cells = [f"{_f(g.get(m))}" + (f" | {_f(b.get(m))}" if base else "") for m in RETRIEVAL]
        lines.append(f"| {kind} | {g['n_answerable']} | " + " | ".join(cells) + " |")
    return lines


def _answers(s: dict[str, Any], kinds: list[str]) -> list[str]:
    lines = [
        "",
        "## Answers",
        "",
        "| figure | overall | " + " | ".join(kinds) + " |",
        "|---" * (2 + len(kinds)) + "|",
    ]
    for key, label in ANSWER:
        if all(s["by_kind"][k].get(key) is None for k in kinds) and s["overall"].get(key) is None:
            continue
        lines.append(
            f"| {label} | {_f(s['overall'].get(key))} | "
            + " | ".join(_f(s["by_kind"][k].get(key)) for k in kinds)
            + " |"
        )
    return [*lines, "", f"Cited sentences with numbers: {s['overall'].get('number_claims', 0)}."]


def _latency(results: dict[str, Any], kinds: list[str], base: dict[str, Any] | None) -> list[str]:
    s = results["summary"]
    lines = [
        "",
        "## Latency per question (ms)",
        "",
        "| kind | Answer.timings total p50 | p95 | wall p50 | p95 |",
        "|---|---|---|---|---|",
    ]
    for kind in ["overall", *kinds]:
        g = s["overall"] if kind == "overall" else s["by_kind"][kind]
        lines.append(
            f"| {kind} | {_f(g['total_ms_p50'], 0)} | {_f(g['total_ms_p95'], 0)} | "
            f"{_f(g['wall_ms_p50'], 0)} | {_f(g['wall_ms_p95'], 0)} |"
        )
    if results.get("llm_model"):
        lines += [
            "",
            f"## LLM cost per question (`{results['llm_model']}`)",
            "",
            "| kind | calls | prompt tokens | completion tokens | LLM s | LLM s p95 "
            "| lists changed |",
            "|---|---|---|---|---|---|---|",
        ]
        for kind in ["overall", *kinds]:
            g = s["overall"] if kind == "overall" else s["by_kind"][kind]
            if g.get("llm_calls") is None:
                continue
            lines.append(
                f"| {kind} | {_f(g['llm_calls'], 1)} | {_f(g['llm_prompt_tokens'], 0)} "
                f"| {_f(g['llm_completion_tokens'], 0)} | {_f(g['llm_seconds'], 1)} "
                f"| {_f(g['llm_seconds_p95'], 1)} | {_f(g['llm_changed_rate'])} |"
            )
    if base:
        lines.append(
            f"\nBaseline query latency p50 {_f(base['query_ms_p50'], 0)} ms, p95 "
            f"{_f(base['query_ms_p95'], 0)} ms "
            f"(index {'loaded from cache' if base['cached'] else 'built'} in "
            f"{base['build_s']:.0f}s)."
        )
    return lines


def _misses(records: list[dict[str, Any]]) -> list[str]:
    """Topic questions whose relevant papers are not all in the top 10, and which are not."""
    misses = [
        r
        for r in records
        if r["kind"] in ("topic", "topic_paraphrase") and r["retrieval"]["recall@10"] < 1
    ]
    if not misses:
        return []
    lines = ["", "## Topic questions with relevant papers outside the top 10", ""]
    for r in misses:
        top = set(r["ranked"][:10])
        lost = [p for p in r["relevant"] if p not in top]
        lines.append(
            f"- {r['id']} ({r['kind']}) recall@10 {r['retrieval']['recall@10']:.2f}: "
            f"{r['question']} - missing {', '.join(lost)}"
        )
    return lines


def halves_table(s: dict[str, Any]) -> list[str]:
    """Markdown lines: each list figure per kind, tuning half beside test half."""
    splits = s.get("splits") or {}
    if not splits:
        return []
    names = list(splits)
    kinds = list(dict.fromkeys(k for h in names for k in splits[h]["by_kind"]))
    styles = sorted({st for h in names for st in splits[h].get("by_style", {})})
    groups = [("overall", "overall", "")]
    groups += [(k, "by_kind", k) for k in kinds]
    groups += [(f"style {st}", "by_style", st) for st in styles]
    lines = [
        "",
        "## Tuning half and test half",
        "",
        "Settings were chosen by k-fold cross-validation on the **tune** half only "
        "(evals/tune_rule.py); the **test** half was never tuned on: quote its figures.",
        "",
        "| kind | figure | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]

    def group(h: str, where: str, name: str) -> dict[str, Any]:
        part = splits[h].get(where, {})
        return part if where == "overall" else part.get(name, {})

    for kind, where, name in groups:
        for key, label in HALVES:
            vals = [group(h, where, name).get(key) for h in names]
            if all(v is None for v in vals):
                continue
            n = [group(h, where, name).get("n", 0) for h in names]
            lines.append(
                f"| {kind} (n {'/'.join(map(str, n))}) | {label} | "
                + " | ".join(_f(v) for v in vals)
                + " |"
            )
    return lines


def plot_metrics(results: dict[str, Any], path: Path) -> None:
    """Two panels: retrieval ours vs baseline, and the answer figures per question kind."""
    try:
        import matplotlib
    except ImportError as exc:  # a base dependency: missing only from a partial install
        from assistant import ConfigError

        raise ConfigError(
            "the eval report's plots need matplotlib - pip install matplotlib"
        ) from exc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    s = results["summary"]
    base = results.get("baseline")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [1, 1.6]})
    x = np.arange(len(RETRIEVAL))
    ours = [s["overall"].get(m) or 0 for m in RETRIEVAL]
    width = 0.38 if base else 0.6
    ax1.bar(x - (width / 2 if base else 0), ours, width, label="paperlens")
    if base:
        ax1.bar(
            x + width / 2,
            [base["overall"].get(m) or 0 for m in RETRIEVAL],
            width,
            label="llama-index dense baseline",
        )
    ax1.set_xticks(x, RETRIEVAL)
    ax1.set_ylim(0, 1.05)
    ax1.set_title("Paper-level retrieval (answerable questions)")
    ax1.legend(fontsize=8)

    keys = [(k, lab) for k, lab in ANSWER if s["overall"].get(k) is not None]
    kinds = [k for k in s["by_kind"]]
    y = np.arange(len(keys))
    h = 0.8 / (len(kinds) + 1)
    for i, kind in enumerate(["overall", *kinds]):
        g = s["overall"] if kind == "overall" else s["by_kind"][kind]
        vals = [g.get(k) for k, _ in keys]
        ax2.barh(y + i * h, [v if v is not None else 0 for v in vals], h, label=kind)
    ax2.set_yticks(y + h * len(kinds) / 2, [lab for _, lab in keys], fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xlim(0, 1.05)
    ax2.set_title(f"Answers ({results['mode']}); offline citation figures = citation relevance")
    ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""The eval's figures from its per-question records: grouped overall, per question kind
and per half (tune/test), the baseline's alike, and the CI floors they are held to.
"""

from __future__ import annotations

from typing import Any

from . import metrics as M
from .questions import ANSWERABLE, Question

REFUSE = ("unanswerable", "metadata")
RETRIEVAL_KEYS = ("recall@5", "recall@10", "recall@20", "ndcg@10", "mrr")


def _llm_cost(records: list[dict[str, Any]]) -> dict[str, Any]:
    """LLM mode: calls, tokens and seconds per question, and how often the LLM changed a
    list (`Answer.llm_usage`, `Answer.llm_changes`); empty when no question used the LLM."""
    usage = [r.get("llm_usage") or {} for r in records]
    if not any(usage):
        return {}
    changed = [any((r.get("llm_changes") or {}).values()) for r in records]
    return {
        "llm_calls": M.mean(u.get("calls", 0) for u in usage),
        "llm_prompt_tokens": M.mean(u.get("prompt_tokens", 0) for u in usage),
        "llm_completion_tokens": M.mean(u.get("completion_tokens", 0) for u in usage),
        "llm_seconds": M.mean(u.get("seconds", 0.0) for u in usage),
        "llm_seconds_p95": M.percentile([u.get("seconds", 0.0) for u in usage], 95),
        "llm_changed_rate": M.mean(float(c) for c in changed),
    }


def _group(records: list[dict[str, Any]], judges: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(records)}
    ans = [r for r in records if r["kind"] in ANSWERABLE]
    if ans:
        out["n_answerable"] = len(ans)
        for key in RETRIEVAL_KEYS:
            out[key] = M.mean(r["retrieval"][key] for r in ans)
        out["list_precision"] = M.mean(r.get("list_precision") for r in ans)
        out["list_recall"] = M.mean(r.get("list_recall") for r in ans)
        out["point_coverage"] = M.mean(r.get("point_coverage") for r in ans)
        out["false_refusal_rate"] = M.mean(float(r["refused"]) for r in ans)
        out["both_recall"] = M.mean(r.get("both_recall") for r in ans)
        out["no_paper_rate"] = M.mean(float(r.get("no_paper", r["refused"])) for r in ans)
        out["no_paper"] = sum(bool(r.get("no_paper", r["refused"])) for r in ans)
    ref = [r for r in records if r["kind"] in REFUSE]
    if ref:
        out["refusal_rate"] = M.mean(float(r["refused"]) for r in ref)
        # Refused in the main list: no paper cited as an answer (a labelled second tier allowed).
        out["main_refusal_rate"] = M.mean(float(not r["cited"]) for r in ref)
        out["second_tier_rate"] = M.mean(float(bool(r.get("second"))) for r in ref)
    out.update(_llm_cost(records))
    for name in judges:
        prefix = "" if name == "offline" else f"{name}_"
        cits = [r[prefix + "citation"] for r in records if prefix + "citation" in r]
        if not cits:
            continue
        claims = sum(c["claims"] for c in cits)
        out[prefix + "citation_precision"] = M.mean(c["precision"] for c in cits)
        out[prefix + "citation_recall"] = M.mean(c["recall"] for c in cits)
        out[prefix + "groundedness"] = (
            sum(c["supported"] for c in cits) / claims if claims else None
        )
        out[prefix + "fully_grounded"] = M.mean(
            float(c["supported"] == c["claims"]) for c in cits if c["claims"]
        )
        if name == "offline":
            nc = sum(c["number_claims"] for c in cits)
            out["number_check"] = sum(c["numbers_ok"] for c in cits) / nc if nc else None
            out["number_claims"] = nc
    totals = [r["total_ms"] for r in records]
    walls = [r["wall_ms"] for r in records]
    out.update(
        {
            "total_ms_p50": M.percentile(totals, 50),
            "total_ms_p95": M.percentile(totals, 95),
            "wall_ms_p50": M.percentile(walls, 50),
            "wall_ms_p95": M.percentile(walls, 95),
        }
    )
    return out


def summarise(records: list[dict[str, Any]], judges: list[str]) -> dict[str, Any]:
    """Figures overall and per question kind, for the whole set and for each half.

    ``splits.tune`` is the half every setting was chosen on (k-fold CV, evals/tune_cut.py);
    ``splits.test`` was never tuned on: README figures and CI floors use it.
    """

    def kinds_of(rs: list[dict[str, Any]]) -> dict[str, Any]:
        kinds = list(dict.fromkeys(r["kind"] for r in rs))
        styles = sorted({r["style"] for r in rs if r.get("style")})
        out = {
            "overall": _group(rs, judges),
            "by_kind": {k: _group([r for r in rs if r["kind"] == k], judges) for k in kinds},
        }
        if styles:  # how the questions are asked (evals/README.md)
            out["by_style"] = {
                st: _group([r for r in rs if r.get("style") == st], judges) for st in styles
            }
        return out

    out = kinds_of(records)
    halves = [h for h in ("tune", "test") if any(r.get("split") == h for r in records)]
    if halves:
        out["splits"] = {h: kinds_of([r for r in records if r.get("split") == h]) for h in halves}
    return out


def baseline_summary(questions: list[Question], rankings: list[list[str]]) -> dict[str, Any]:
    """The baseline's retrieval figures, grouped as `summarise` groups ours."""
    rows = [
        {"kind": q.kind, **M.retrieval_metrics(r, q.relevant, q.partial)}
        for q, r in zip(questions, rankings, strict=True)
        if q.answerable
    ]

    def group(rs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"n": len(rs), **{k: M.mean(r[k] for r in rs) for k in RETRIEVAL_KEYS}}

    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    return {
        "overall": group(rows),
        "by_kind": {k: group([r for r in rows if r["kind"] == k]) for k in kinds},
    }


def check_floors(summary: dict[str, Any], floors: dict[str, Any]) -> list[str]:
    """Figures under their floor (``min``) or over their ceiling (``max``).

    Keys are dotted paths into the summary: ``"overall.recall@10"``,
    ``"by_kind.single.mrr"``.
    """
    failures = []
    for bound, sign in (("min", 1), ("max", -1)):
        for path, limit in floors.get(bound, {}).items():
            value: Any = summary
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                failures.append(f"{path}: missing")
            elif sign * (value - limit) < 0:
                failures.append(
                    f"{path} = {value:.3f}, "
                    f"{'under the floor' if sign > 0 else 'over the ceiling'} {limit:.3f}"
                )
    return failures

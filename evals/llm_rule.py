"""What an LLM judge does to the lists, through the real `Assistant` (issues 14 and 25).

`python -m evals.llm_rule --split test` runs one half's list questions through the real
`Assistant` in LLM mode with SIMULATED judges in place of a model (no endpoint needed,
deterministic): the judges of `evals.tune_judge` (an oracle that knows the labels, judges
that agree with them 90/80/70% of the time, and the adversarial always-yes, always-no,
inverted and coin judges). A judge answers the check question asked beside the real one
(which candidate has a given title) the way it answers everything. The rewrite step
returns no queries here, so the judged pool is the offline ranking's.

It prints the figures of `evals.tune_rule.figures` per judge, beside the offline ones: the
table the README quotes. The settings it runs are the app's (chosen by
`python -m evals.tune_judge` on the tuning half); ``--split test`` is the held-out check,
never a way to choose them. ``--decide bounded`` runs the older rule instead (a judge may
only move papers between the offline tiers).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant import Answer, Settings, get_settings
from assistant.llm.client import Completion

from .runner import DEFAULT_SET, Question, _load, load_questions
from .tune_items import LIST_KINDS, Item
from .tune_judge import TABLE_JUDGES, Judge, judges, table
from .tune_rule import Tiers, figures

_CHECK = re.compile(r"Check question: Which paper is titled '(.*)'\?")
_SOURCE = re.compile(r'<source n="(\d+)">(.*?)</source>', re.DOTALL)


class SimulatedLLM:
    """A stand-in for `LLMClient` whose judgments come from a simulated judge.

    It answers the rewrite with no queries and streams an empty answer, so the answer
    shown is the extractive one of the judged lists: exactly the lists the figures score.
    """

    model = "simulated"

    def __init__(self, judge: Judge, questions: dict[str, Question], titles: dict[str, str]):
        self.judge = judge
        self.questions = questions
        self.titles = titles  # title as the prompt shows it -> paper id
        self._by_length = sorted(titles, key=len, reverse=True)

    def _paper(self, shown: str) -> str:
        """The id of the paper whose title ``shown`` ("title: sentence") starts with (the
        longest such title: titles hold colons too)."""
        shown = shown.replace("‹", "<")  # a delimiter the prompt escaped, as it was
        for title in self._by_length:
            if shown.startswith(title + ": "):
                return self.titles[title]
        return ""

    def complete_usage(self, messages: list[dict[str, str]], **_: Any) -> Completion:
        system, user = messages[0]["content"], messages[-1]["content"]
        if "judge which research papers" not in system:
            return Completion('{"queries": []}', 0, 0, 0.0)
        asked = re.search(r"Question: (.*)", user)
        q = self.questions.get(asked.group(1).strip() if asked else "")
        shown = [(n, self._paper(text)) for n, text in _SOURCE.findall(user)]
        ids = [pid for _, pid in shown]
        reply: dict[str, list[int]] = {"relevant": []}
        if q is not None:
            good = set(q.relevant) | set(q.partial) if q.answerable else set(q.relevant)
            reply["relevant"] = [
                int(n)
                for (n, _), pid in zip(shown, ids, strict=True)
                if self.judge(q.id, pid, pid in good)
            ]
        check = _CHECK.search(user)
        if check is not None and q is not None:
            title = check.group(1).replace("‹", "<").replace('"', "'")
            wanted = self.titles.get(title, "")
            reply["check"] = [
                int(n)
                for (n, _), pid in zip(shown, ids, strict=True)
                if self.judge(f"{q.id}/title", pid, pid == wanted)
            ]
        return Completion(json.dumps(reply), 0, 0, 0.0)

    def stream(self, messages: list[dict[str, str]], **_: Any) -> Iterator[str]:
        return iter(())


def _tiers(answer: Answer) -> Tiers:
    main = [s.paper_id for s in answer.sources if s.tier == "main"]
    second = [s.paper_id for s in answer.sources if s.tier == "second"]
    opening = answer.text.split("\n", 1)[0]
    conf = (
        ""
        if not main
        else "judged"
        if "as judged by the LLM" in opening
        else "likely"
        if "appear" in opening
        else "sure"
    )
    first = answer.ranking[0].paper_id if answer.ranking else None
    return main, second, conf, first


def _item(q: Question) -> Item:
    return Item(q.id, q.kind, q.split, "", set(q.relevant), set(q.partial), [], {}, [])


def run(
    settings: Settings, questions: list[Question], judge: Judge | None, real: bool = False
) -> dict[str, Any]:
    """`tune_rule.figures` of ``questions`` with ``judge`` (None: offline, no LLM; with
    ``real``, the configured endpoint instead), with the share of questions whose lists a
    trusted judge settled and the LLM's cost per question."""
    bot, _ = _load(settings)
    usage: list[dict[str, Any]] = []
    if judge is not None:
        titles = {p.title.replace('"', "'"): pid for pid, p in bot.papers().items()}
        bot.llm = SimulatedLLM(judge, {q.question: q for q in questions}, titles)  # type: ignore[assignment]
    tiers, settled = [], []
    for q in questions:
        bot.reset()
        answer = bot.ask(q.question, mode="llm" if judge is not None or real else "extractive")
        tiers.append(_tiers(answer))
        usage.append(answer.llm_usage)
        judged = "judging" in answer.llm_usage.get("steps", {})
        settled.append(judged and not any("judgments were not used" in n for n in answer.notices))
    fig = figures([_item(q) for q in questions], tiers)
    fig["trusted"] = sum(settled) / len(settled) if (judge is not None or real) and settled else 0.0
    if real:
        n = max(1, len(usage))
        for k in ("calls", "prompt_tokens", "completion_tokens", "seconds"):
            fig[f"llm_{k}"] = sum(u.get(k, 0) for u in usage) / n
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", dest="set_path", default=str(DEFAULT_SET))
    parser.add_argument("--out", default="artifacts/llm_rule.json")
    parser.add_argument("--split", default="test", choices=["tune", "test"])
    parser.add_argument("--decide", choices=["judge", "bounded"], help="override llm.decide")
    parser.add_argument("--judges", nargs="*", default=list(TABLE_JUDGES))
    parser.add_argument(
        "--real",
        action="store_true",
        help="judge with the configured endpoint (OPENAI_BASE_URL) instead",
    )
    parser.add_argument("--sample", type=int, help="only N questions, evenly spread over the half")
    args = parser.parse_args(argv)
    questions = [
        q for q in load_questions(args.set_path) if q.split == args.split and q.kind in LIST_KINDS
    ]
    settings = get_settings()
    if args.decide:
        settings = settings.model_copy(
            update={"llm": settings.llm.model_copy(update={"decide": args.decide})}
        )
    if args.sample and args.sample < len(questions):
        step = len(questions) / args.sample
        questions = [questions[int(i * step)] for i in range(args.sample)]
    out: dict[str, Any] = {"offline": run(settings, questions, None)}
    if args.real:
        out[settings.llm.model] = run(settings, questions, None, real=True)
        cost = {k: round(v, 2) for k, v in out[settings.llm.model].items() if k.startswith("llm_")}
        print(f"{settings.llm.model}: per question {cost}")
    for name in [] if args.real else args.judges:
        out[name] = run(settings, questions, judges(0)[name])
    print(
        f"{args.split} half, {len(questions)} list questions, llm.decide="
        f"{settings.llm.decide}\n" + table(out)
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

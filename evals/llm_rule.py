"""How much an LLM judge can help or harm the lists, under the combination rule (issue 14).

`python -m evals.llm_rule` runs the tuning half through the real `Assistant` in LLM mode
with SIMULATED judges in place of a model (no endpoint needed, deterministic): an oracle
that knows the labels (the most a judge can add), one that calls everything relevant (what
the 1.5B model of ``make llm-local`` does on near-misses), one that calls nothing relevant,
one that inverts the labels (the worst a judge can do) and a coin flip. Each is run
under a few settings of the rule (``llm.sure_prob``, ``llm.promote_prob``), and the list
figures are printed beside the offline ones. The rewrite step returns no queries here (a
paper it finds can only join the second tier).

The rule's settings are chosen on the tuning half only; ``--split test`` is a held-out
check of settings already fixed, never a way to choose them.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assistant import Completion, Settings, get_settings

from .runner import (
    DEFAULT_SET,
    Question,
    _load,
    load_questions,
    score_answer,
)
from .summary import RETRIEVAL_KEYS, summarise

Judge = Callable[[Question, list[str]], list[bool]]
FIGURES = ("list_precision", "list_recall", "both_recall", "main_refusal_rate", "no_paper")


class SimulatedLLM:
    """A stand-in for `LLMClient` whose judgments come from a function of the labels.

    It answers the rewrite with no queries and streams an empty answer, so the answer
    shown is the extractive one of the judged lists: exactly the lists the figures score.
    """

    model = "simulated"

    def __init__(self, judge: Judge, questions: dict[str, Question], titles: dict[str, str]):
        self.judge = judge
        self.questions = questions
        self.titles = titles  # title -> paper id

    def complete_usage(self, messages: list[dict[str, str]], **_: Any) -> Completion:
        system, user = messages[0]["content"], messages[-1]["content"]
        if "judge which research papers" not in system:
            return Completion('{"queries": []}', 0, 0, 0.0)
        asked = re.search(r"Question: (.*)", user)
        q = self.questions.get(asked.group(1).strip() if asked else "")
        shown = re.findall(r'<source n="(\d+)">(.*?): ', user)
        ids = [self.titles.get(t, "") for _, t in shown]
        verdicts = self.judge(q, ids) if q is not None else [False] * len(ids)
        yes = [int(n) for (n, _), v in zip(shown, verdicts, strict=True) if v]
        return Completion(json.dumps({"relevant": yes}), 0, 0, 0.0)

    def stream(self, messages: list[dict[str, str]], **_: Any) -> Iterator[str]:
        return iter(())


def _labels(q: Question, ids: list[str]) -> list[bool]:
    good = set(q.relevant) | set(q.partial)
    return [pid in good for pid in ids]


def judges(seed: int = 0) -> dict[str, Judge]:
    """The simulated judges, by name."""
    rng = random.Random(seed)
    return {
        "oracle": _labels,
        "all-relevant": lambda q, ids: [True] * len(ids),
        "none-relevant": lambda q, ids: [False] * len(ids),
        "inverted": lambda q, ids: [not x for x in _labels(q, ids)],
        "coin": lambda q, ids: [rng.random() < 0.5 for _ in ids],
    }


def run(settings: Settings, questions: list[Question], judge: Judge | None) -> dict[str, Any]:
    """The list figures of ``questions`` with ``judge`` (None: offline, no LLM)."""
    bot, _ = _load(settings)
    papers = bot.papers()
    if judge is not None:
        titles = {p.title: pid for pid, p in papers.items()}
        simulated = SimulatedLLM(judge, {q.question: q for q in questions}, titles)
        bot.llm = simulated  # type: ignore[assignment]
    records = []
    for q in questions:
        bot.reset()
        answer = bot.ask(q.question, mode="extractive" if judge is None else "llm")
        rec: dict[str, Any] = {
            "id": q.id, "kind": q.kind, "split": q.split, "total_ms": 0.0, "wall_ms": 0.0,
            "retrieval": dict.fromkeys(RETRIEVAL_KEYS, 0.0),  # not what this measures
            "llm_usage": answer.llm_usage, "llm_changes": answer.llm_changes,
        }
        rec.update(score_answer(q, answer, [], {}))
        records.append(rec)
    return summarise(records, [])["overall"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", dest="set_path", default=str(DEFAULT_SET))
    parser.add_argument("--out", default="artifacts/llm_rule.json")
    parser.add_argument("--variants", nargs="*", help="settings of the rule to run (default: all)")
    parser.add_argument("--split", default="tune", choices=["tune", "test"],
                        help="tune (default; choose settings here) or test (a held-out check "
                        "of settings already fixed, never to choose them)")
    args = parser.parse_args(argv)
    questions = [q for q in load_questions(args.set_path) if q.split == args.split]
    base = get_settings()
    variants: dict[str, dict[str, Any]] = {
        "default": {},
        "no-demotion": {"sure_prob": 0.0},
        "no-promotion": {"max_promoted": 0},
        "promote>=0.4": {"promote_prob": 0.4},
        "sure=0.7": {"sure_prob": 0.7},
        "sure=0.95": {"sure_prob": 0.95},
        "control<0.3": {"control_prob": 0.3},
        "control=untiered": {"control_prob": 1.0},
    }
    out: dict[str, Any] = {"offline": run(base, questions, None)}
    print(_row("offline", out["offline"]))
    chosen = {k: v for k, v in variants.items() if not args.variants or k in args.variants}
    for vname, llm in chosen.items():
        s = base.model_copy(update={"llm": base.llm.model_copy(update=llm)})
        for jname, judge in judges().items():
            key = f"{vname} / {jname}"
            out[key] = run(s, questions, judge)
            print(_row(key, out[key]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


def _row(name: str, g: dict[str, Any]) -> str:
    figs = " ".join(f"{k}={g.get(k, float('nan')):.3f}" if isinstance(g.get(k), float)
                    else f"{k}={g.get(k)}" for k in FIGURES)
    return f"{name:32s} {figs} changed={g.get('llm_changed_rate', 0):.2f}"


if __name__ == "__main__":
    raise SystemExit(main())

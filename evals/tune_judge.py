"""Choose how a trusted LLM judge decides the lists, with simulated judges (issue 25).

``python -m evals.tune_judge`` replays every list question of the eval set from its stored
signals (`evals.tune_items`, as `evals.tune_rule` does): the offline list rule's tiers
(`assistant.retrieval.decision.rule_tiers`), then the judged pool, the checks and the lists
a trusted judge decides (`assistant.retrieval.llm_decide.probe_trust`, `judged_tiers`), the
functions the app runs. No model is called: the judges are SIMULATED from the eval set's labels:

- ``oracle`` knows the labels; ``agree-90``/``-80``/``-70`` agree with them on 90/80/70%
  of verdicts (each verdict flipped with probability 0.1/0.2/0.3, drawn once per question
  and paper, so asking twice gives the same wrong answer, as a real model would);
- the adversarial ones: ``always-yes``, ``always-no``, ``inverted``, ``coin``.

Every judge answers the checks the same way it answers the question (a flipped judge
misses the title check one time in ten), so how often each is trusted is measured, not
assumed. A paper counts as having a sentence to quote here whenever it was a candidate
(the app checks the sentence itself).

The settings (pool size, the evidence a judged paper needs, when an offline-sure paper
stays, the checks' bars) are chosen on the TUNING half only: the best objective of
`evals.tune_rule` for the oracle and agree-90 judges together (`choose` says why),
averaged over topic-grouped folds and over several draws of the errors, among the settings
under which no adversarial judge makes a list figure worse than offline by more than
``MAX_HARM``. The held-out half is scored
once with them; ``--write`` stores them in ``evals/judge_model.json``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant import Settings, get_settings
from assistant.core.settings import LLMSettings
from assistant.retrieval.decision import has_evidence, rule_tiers, tier_features, tier_probability
from assistant.retrieval.llm_decide import judged_tiers, probe_trust
from evals.tier_fit import topic_folds
from evals.tune_items import Item, collect, load_items, load_questions
from evals.tune_rule import Tiers, figures, objective

HERE = Path(__file__).resolve().parent
MODEL_FILE = HERE / "judge_model.json"
MAX_HARM = 0.02  # an adversarial judge may cost a list figure at most this much
HARM_FIGURES = (
    "main_precision",
    "main_coverage",
    "shown_precision",
    "shown_recall",
    "unanswerable_refused",
)
SEEDS = (0, 1, 2)
GRID: dict[str, list[Any]] = {
    "judge_top_n": [20, 40, 60, 80],
    "judge_floor": [0.05, 0.1, 0.15, 0.2, 0.3],  # on the judge_evidence signal
    "judge_evidence": ["prob", "first_score"],
    "keep_prob": [0.825, 0.9, 1.0],  # 1: a judged-irrelevant paper always leaves
    "judge_control_prob": [0.1, 0.3],
    "control_yes_max": [0.2, 0.3],
    "far_wrong_max": [0, 1],
}

# A judge: (question id, paper id or check name, the true answer) -> its verdict.
Judge = Callable[[str, str, bool], bool]


@functools.cache
def _draw(seed: int, *parts: str) -> float:
    """A uniform number fixed by ``parts`` (the same question and paper, the same draw)."""
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def judges(seed: int = 0) -> dict[str, Judge]:
    """The simulated judges, by name (errors drawn with ``seed``)."""

    def agree(rate: float) -> Judge:
        return lambda q, p, truth: truth if _draw(seed, q, p) >= rate else not truth

    return {
        "oracle": lambda q, p, truth: truth,
        "agree-90": agree(0.1),
        "agree-80": agree(0.2),
        "agree-70": agree(0.3),
        "always-yes": lambda q, p, truth: True,
        "always-no": lambda q, p, truth: False,
        "inverted": lambda q, p, truth: not truth,
        "coin": lambda q, p, truth: _draw(seed, q, p, "coin") < 0.5,
    }


@dataclass
class Offline:
    """One question's offline outcome, computed once."""

    item: Item
    order: list[int]
    main: list[int]
    second: list[int]
    confidence: str
    arrays: dict[str, np.ndarray]


def offline(items: Sequence[Item], settings: Settings) -> list[Offline]:
    cfg = settings.retrieval
    out = []
    for it in items:
        order, main, second, conf = rule_tiers(it.sig, cfg)
        prob = tier_probability(tier_features(it.sig, order), cfg.tier_weights)
        arrays = {
            "prob": prob,
            "first_score": it.sig["first_score"],
            "score": it.sig["score"],
            "support": np.ones(len(prob), dtype=bool),
            "has_evidence": np.asarray(has_evidence(it.sig["lexical"], it.sig["first_dense"], cfg)),
        }
        out.append(Offline(it, [int(i) for i in order], main, second, conf, arrays))
    return out


def pool_of(o: Offline, n: int) -> list[int]:
    """The judged candidates as `llm_combine.judge_pool` takes them: the tiers, then the ranking."""
    first = [*o.main, *o.second]
    return [*first, *(i for i in o.order if i not in set(first))][:n]


def decide(o: Offline, judge: Judge, cfg: LLMSettings, second_max: int) -> tuple[Tiers, bool]:
    """The tiers a judge leads to on one question, and whether it was trusted."""
    it = o.item
    # A judge should call relevant what the question asks for; a near miss's partial
    # papers are the neighbouring topic it lacks, which a judge reading the qualifiers rejects.
    good = it.relevant | it.partial if it.answerable else it.relevant
    pool = pool_of(o, cfg.judge_top_n)
    verdict = {i: judge(it.id, it.ids[i], it.ids[i] in good) for i in pool}
    tiers = set(o.main) | set(o.second)
    controls = [
        verdict[i] for i in pool if i not in tiers and o.arrays["prob"][i] < cfg.judge_control_prob
    ]
    far_idx = [i for i in o.order[::-1] if i not in set(pool)][: cfg.far_probes]
    far = [judge(it.id, it.ids[i], it.ids[i] in good) for i in far_idx]
    title_ok = None
    if cfg.title_probe and pool:
        low = [i for i in pool if i not in tiers and o.arrays["prob"][i] < cfg.judge_control_prob]
        probe = low[-1] if low else pool[-1]
        named = judge(f"{it.id}/title", it.ids[probe], True)
        others = [judge(f"{it.id}/title", it.ids[i], False) for i in pool if i != probe]
        title_ok = named and sum(others) <= cfg.control_yes_max * max(1, len(others))
    trust = probe_trust(title_ok, far, controls, cfg)
    first = it.ids[o.order[0]] if o.order else None
    if not trust.yes:
        kept = [it.ids[i] for i in o.main], [it.ids[i] for i in o.second]
        return (*kept, o.confidence, first), False
    main, second, _ = judged_tiers(o.order, o.main, o.second, verdict, o.arrays, cfg, second_max)
    conf = "judged" if main else ""
    return ([it.ids[i] for i in main], [it.ids[i] for i in second], conf, first), True


def run_judge(
    offs: Sequence[Offline], judge: Judge | None, cfg: LLMSettings, second_max: int
) -> dict[str, Any]:
    """`tune_rule.figures` of ``offs`` under ``judge`` (None: offline), plus the trust rate."""
    if judge is None:
        tiers = [
            (
                [o.item.ids[i] for i in o.main],
                [o.item.ids[i] for i in o.second],
                o.confidence,
                o.item.ids[o.order[0]] if o.order else None,
            )
            for o in offs
        ]
        return {**figures([o.item for o in offs], tiers), "trusted": 0.0}
    done = [decide(o, judge, cfg, second_max) for o in offs]
    fig = figures([o.item for o in offs], [t for t, _ in done])
    fig["trusted"] = float(np.mean([ok for _, ok in done])) if done else 0.0
    return fig


def _mean_figs(figs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    keys = figs[0].keys()
    out: dict[str, Any] = {}
    for k in keys:
        vals = [f[k] for f in figs if f[k] is not None]
        out[k] = float(np.mean(vals)) if vals else None
    return out


def evaluate(
    offs: Sequence[Offline], cfg: LLMSettings, second_max: int, names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Figures per judge (the agreeing and coin judges averaged over `SEEDS`)."""
    out: dict[str, dict[str, Any]] = {"offline": run_judge(offs, None, cfg, second_max)}
    for name in names:
        seeds = SEEDS if name.startswith("agree") or name == "coin" else SEEDS[:1]
        out[name] = _mean_figs([run_judge(offs, judges(s)[name], cfg, second_max) for s in seeds])
    return out


def harmless(figs: dict[str, dict[str, Any]]) -> bool:
    """No adversarial judge makes a list figure worse than offline by more than MAX_HARM."""
    base = figs["offline"]
    for name in ("always-yes", "always-no", "inverted", "coin"):
        for k in HARM_FIGURES:
            if base[k] is not None and (figs[name][k] or 0.0) < base[k] - MAX_HARM:
                return False
        if (figs[name]["wrong_no_paper"] or 0.0) > (base["wrong_no_paper"] or 0.0) + MAX_HARM:
            return False
    return True


def choose(
    offs: Sequence[Offline], base: LLMSettings, second_max: int, folds: int = 5
) -> tuple[dict[str, Any], float]:
    """The grid point with the best objective averaged over topic folds and over two judges,
    the oracle and agree-90, among the harmless ones (judged on all of ``offs``).

    Both judges count because the simulated errors are uniform: agree-90 calls a far-off
    paper relevant as often as a borderline one, which a real model does not, so choosing
    for it alone buys a few points of its precision with twenty of a good judge's coverage
    (the evidence floor that stops its random yeses also stops true ones)."""
    fold = topic_folds([o.item for o in offs], folds)
    aim = ("oracle", "agree-90")
    groups = [[i for i, g in enumerate(fold) if g == f] for f in range(folds)]
    groups = [g for g in groups if g]
    best: tuple[float, dict[str, Any]] | None = None
    adversarial = ("always-yes", "always-no", "inverted", "coin")
    for vals in itertools.product(*GRID.values()):
        point = dict(zip(GRID, vals, strict=True))
        cfg = base.model_copy(update=point)
        if not harmless(evaluate(offs, cfg, second_max, adversarial)):
            continue
        score = float(
            np.mean(
                [
                    objective(figs[name])
                    for idx in groups
                    for figs in [evaluate([offs[i] for i in idx], cfg, second_max, aim)]
                    for name in aim
                ]
            )
        )
        if best is None or score > best[0]:
            best = (score, point)
    if best is None:
        raise SystemExit("no setting keeps every adversarial judge harmless")
    return best[1], best[0]


TABLE_JUDGES = (
    "oracle",
    "agree-90",
    "agree-80",
    "agree-70",
    "always-yes",
    "always-no",
    "inverted",
    "coin",
)
TABLE_FIGURES = (
    "trusted",
    "main_precision",
    "main_coverage",
    "wrong_no_paper",
    "no_main_list",
    "shown_precision",
    "shown_recall",
    "unanswerable_refused",
)


def table(figs: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of ``figs`` (judge -> figures)."""
    head = "| judge | " + " | ".join(TABLE_FIGURES) + " |"
    rows = [head, "|" + "---|" * (len(TABLE_FIGURES) + 1)]
    for name, f in figs.items():
        cells = ["-" if f.get(k) is None else f"{f[k]:.2f}" for k in TABLE_FIGURES]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", dest="set_path", default=str(HERE / "data" / "questions.jsonl"))
    parser.add_argument("--features", default="artifacts/tune_rule/features.json")
    parser.add_argument("--reuse", action="store_true", help="reuse stored signals")
    parser.add_argument("--write", action="store_true", help=f"write {MODEL_FILE.name}")
    args = parser.parse_args(argv)
    settings = get_settings()
    features = Path(args.features)
    if args.reuse and features.exists():
        items = load_items(features)
    else:
        items = collect(settings, load_questions(Path(args.set_path)), features)
    offs = offline(items, settings)
    tune = [o for o in offs if o.item.split == "tune"]
    test = [o for o in offs if o.item.split == "test"]
    second_max = settings.retrieval.second_max
    point, score = choose(tune, settings.llm, second_max)
    cfg = settings.llm.model_copy(update=point)
    print("chosen on the tuning half:", point, f"objective {score:.3f}")
    result: dict[str, Any] = {"settings": point, "tuning_objective": round(score, 4)}
    for name, part in (("tuning", tune), ("held_out", test)):
        figs = evaluate(part, cfg, second_max, TABLE_JUDGES)
        result[name] = {j: {k: _round(v) for k, v in f.items()} for j, f in figs.items()}
        print(f"\n{name} half ({len(part)} list questions)\n" + table(figs))
    Path("artifacts").mkdir(exist_ok=True)
    Path("artifacts/tune_judge.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    if args.write:
        MODEL_FILE.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def _round(x: Any) -> Any:
    return round(x, 4) if isinstance(x, float) else x


if __name__ == "__main__":
    raise SystemExit(main())

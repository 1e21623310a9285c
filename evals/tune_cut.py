"""Choose the candidate ranking and fit the two-tier list decision, on the tuning half only.

``python -m evals.tune_cut`` retrieves every non-metadata question of the eval set once,
keeps each candidate's raw signals (`assistant.decision.hit_signals`), then:

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
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant import Settings, get_settings
from assistant.decision import TIER_FEATURES, rank_order, tier_features

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MODEL_FILE = HERE / "tier_model.json"
LIST_KINDS = ("topic", "topic_paraphrase", "unanswerable")
RANKINGS = ("weighted", "rrf", "rrf3")


@dataclass
class Item:
    """One question's candidates as the retriever saw them."""

    id: str
    kind: str
    split: str
    group: str
    relevant: set[str]
    partial: set[str]
    ids: list[str]
    sig: dict[str, np.ndarray]
    gap_list: list[str]  # what the older floor/gap cut listed

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def load_items(path: Path) -> list[Item]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [
        Item(
            r["id"],
            r["kind"],
            r["split"],
            r["group"],
            set(r["relevant"]),
            set(r["partial"]),
            r["ids"],
            {k: np.asarray(v, dtype=np.float64) for k, v in r["sig"].items()},
            r["gap_list"],
        )
        for r in raw
    ]


def collect(settings: Settings, questions: list[dict[str, Any]], out: Path) -> list[Item]:
    """Retrieve each question once (model mode, so feedback always runs) and keep the signals."""
    from assistant import Library, Retriever, get_embedder
    from assistant.decision import hit_signals
    from assistant.questions import PaperNames, classify

    embedder = get_embedder(settings)
    library = Library(settings)
    model = Retriever(
        settings.model_copy(
            update={"retrieval": settings.retrieval.model_copy(update={"list_method": "model"})}
        ),
        library,
        embedder,
    )
    gap = Retriever(
        settings.model_copy(
            update={"retrieval": settings.retrieval.model_copy(update={"list_method": "gap"})}
        ),
        library,
        embedder,
    )
    names = PaperNames(model.papers.values())
    rows = []
    for q in questions:
        info = classify(q["question"], names)
        if info.named or info.kind == "metadata":
            continue  # answered about the named paper, not by a list: not this decision's job
        qvec = embedder.encode_query(q["question"])
        r = model.retrieve(q["question"], query_vector=qvec)
        sig = hit_signals(r.hits)
        g = gap.retrieve(q["question"], query_vector=qvec)
        rows.append(
            {
                "id": q["id"],
                "kind": q["kind"],
                "split": q["split"],
                "group": q["topic_group"],
                "relevant": q.get("relevant", []),
                "partial": q.get("partial", []),
                "ids": [h.paper.id for h in r.hits],
                "sig": {k: v.tolist() for k, v in sig.items()},
                "gap_list": [h.paper.id for h in g.relevant],
            }
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows), encoding="utf-8")
    return load_items(out)


# --- the model -----------------------------------------------------------------------
def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Weights (then the bias) of an L2-regularised logistic regression, by Newton steps
    on standardised features; returned for the raw features."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    raw = w[:-1] / sd
    return np.r_[raw, w[-1] - float((w[:-1] * mu / sd).sum())]


def _design(
    item: Item, ranking: str, pool: int, rrf_k: float
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The pool's feature rows, paper ids and labels (relevant or partial = 1)."""
    order = rank_order(item.sig, ranking, rrf_k)
    x = tier_features(item.sig, order)[order[:pool]]
    ids = [item.ids[i] for i in order[:pool]]
    y = np.asarray([float(p in item.relevant or p in item.partial) for p in ids])
    return x, ids, y


def _folds(items: list[Item], k: int) -> list[int]:
    """Fold of each item: topic groups dealt round-robin in a fixed (hashed) order."""
    groups = sorted({it.group for it in items}, key=lambda g: hashlib.md5(g.encode()).hexdigest())
    fold = {g: i % k for i, g in enumerate(groups)}
    return [fold[it.group] for it in items]


def oof_probs(
    items: list[Item], ranking: str, pool: int, l2: float, k: int, rrf_k: float
) -> list[tuple[list[str], np.ndarray]]:
    """Out-of-fold (ids ordered by probability, probabilities) for every item."""
    designs = [_design(it, ranking, pool, rrf_k) for it in items]
    folds = _folds(items, k)
    out: list[Any] = [None] * len(items)
    for f in range(k):
        train = [d for d, g in zip(designs, folds, strict=True) if g != f]
        w = fit_logistic(
            np.vstack([d[0] for d in train]), np.concatenate([d[2] for d in train]), l2
        )
        for i, (d, g) in enumerate(zip(designs, folds, strict=True)):
            if g == f:
                out[i] = _ordered(d, w)
    return out


def _ordered(
    design: tuple[np.ndarray, list[str], np.ndarray], w: np.ndarray
) -> tuple[list[str], np.ndarray]:
    x, ids, _ = design
    p = 1.0 / (1.0 + np.exp(-(x @ w[:-1] + w[-1])))
    o = np.argsort(-p, kind="stable")
    return [ids[i] for i in o], p[o]


# --- figures -------------------------------------------------------------------------
def list_figures(
    items: Sequence[Item], mains: Sequence[list[str]], seconds: Sequence[list[str]]
) -> dict[str, Any]:
    """The figures `paperlens eval` reports for lists, from the tiers of each question."""
    ans = [(it, m, s) for it, m, s in zip(items, mains, seconds, strict=True) if it.answerable]
    una = [(it, m, s) for it, m, s in zip(items, mains, seconds, strict=True) if not it.answerable]
    prec = [
        len([p for p in m if p in it.relevant or p in it.partial]) / len(m) for it, m, _ in ans if m
    ]
    cov = [len(set(m) & it.relevant) / len(it.relevant) for it, m, _ in ans if it.relevant]
    cov2 = [len(set(m + s) & it.relevant) / len(it.relevant) for it, m, s in ans if it.relevant]
    return {
        "n_answerable": len(ans),
        "n_unanswerable": len(una),
        "main_precision": float(np.mean(prec)) if prec else None,
        "main_coverage": float(np.mean(cov)) if cov else None,
        "both_coverage": float(np.mean(cov2)) if cov2 else None,
        "no_paper": sum(1 for _, m, s in ans if not m and not s),
        "second_precision": _share(
            [p in it.relevant or p in it.partial for it, _, s in ans for p in s]
        ),
        "main_empty": sum(1 for _, m, _ in ans if not m),
        "unanswerable_refused": float(np.mean([not m for _, m, _ in una])) if una else None,
        "unanswerable_second": float(np.mean([bool(s) for _, m, s in una])) if una else None,
    }


def _share(flags: list[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def recall_at(
    items: Sequence[Item], rankings: Sequence[list[str]], k: int, kinds: Sequence[str]
) -> float | None:
    vals = []
    for it, ranked in zip(items, rankings, strict=True):
        if it.kind in kinds and it.relevant:
            top = [p for p in ranked if p not in it.partial][:k]
            vals.append(len(set(top) & it.relevant) / len(it.relevant))
    return float(np.mean(vals)) if vals else None


def tiers(
    ranked: Sequence[tuple[list[str], np.ndarray]],
    t_main: float,
    t_second: float,
    max_main: int,
    second_max: int,
    t_accept: float = 0.0,
    gate: Sequence[bool] | None = None,
    t_uncertain: float = 0.0,
    evidence: Sequence[set[str]] | None = None,
    near: Sequence[set[str]] | None = None,
) -> tuple[list[list[str]], list[list[str]]]:
    """Main and second tier of each question, as `Retriever.decide` makes them (``gate``:
    the floor rule's acceptance of each question, else the model's ``t_accept``;
    ``evidence``: the papers of each question allowed in the second tier; ``near``: the
    papers a question without a main list may offer at ``t_second``, not ``t_uncertain``)."""
    mains, seconds = [], []
    for q, (ids, p) in enumerate(ranked):
        accepted = len(p) > 0 and (gate[q] if gate is not None else p[0] >= max(t_accept, t_main))
        m = [i for i, v in zip(ids, p, strict=True) if v >= t_main][:max_main] if accepted else []
        rest = ids[len(m) :]
        bar = t_second if accepted else max(t_second, t_uncertain)
        s = [
            i
            for i, v in zip(rest, p[len(m) :], strict=True)
            if (v >= bar or (near is not None and i in near[q] and v >= t_second))
            and (evidence is None or i in evidence[q])
        ][:second_max]
        mains.append(m)
        seconds.append(s)
    return mains, seconds


def objective(fig: dict[str, Any]) -> float:
    """F0.5 of main-list precision and coverage (the main list is for clear evidence; the
    second tier carries the rest); every unanswerable question given a main list costs
    0.1 of it (the target is 1.0 refused)."""
    p, c = fig["main_precision"] or 0.0, fig["main_coverage"] or 0.0
    f = 1.25 * p * c / (0.25 * p + c) if p + c else 0.0
    return f - 0.1 * (1 - (fig["unanswerable_refused"] or 0.0)) * (fig["n_unanswerable"] or 0)


def choose_thresholds(
    items: Sequence[Item],
    ranked: Sequence[tuple[list[str], np.ndarray]],
    max_main: int,
    second_max: int,
    gate: Sequence[bool] | None = None,
) -> tuple[float, float, float, float, dict[str, Any]]:
    """The (question accept, main) thresholds that maximise `objective` (the accept one
    only without a ``gate``); then the lowest second threshold at which a "may also be
    relevant" paper is on topic at least half the time, lowered further while an
    answerable question would get no paper at all."""
    grid = np.round(np.arange(0.05, 0.96, 0.025), 3)
    pairs = [
        (a, t)
        for t in grid
        for a in (grid if gate is None else [0.0])
        if a >= t or gate is not None
    ]
    acc, best = max(
        pairs,
        key=lambda at: objective(
            list_figures(items, *tiers(ranked, at[1], 1.1, max_main, 0, at[0], gate))
        ),
    )
    cands = sorted([x for x in grid.tolist() + [0.005, 0.01, 0.02] if x < best])
    figs = {
        c: list_figures(items, *tiers(ranked, best, c, max_main, second_max, acc, gate))
        for c in cands
    }
    ok = [c for c in cands if (figs[c]["second_precision"] or 0.0) >= 0.5]
    t2 = ok[0] if ok else best
    while figs.get(t2, {"no_paper": 1})["no_paper"] > 0 and any(c < t2 for c in cands):
        t2 = max(c for c in cands if c < t2)
    # Questions without a main list: the highest bar that still leaves every answerable
    # one a paper (the fewer unanswerable questions shown an uncertain tier, the better).
    tu = t2
    for c in sorted(grid.tolist(), reverse=True):
        if (
            c > t2
            and list_figures(items, *tiers(ranked, best, t2, max_main, second_max, acc, gate, c))[
                "no_paper"
            ]
            == 0
        ):
            tu = c
            break
    fig = list_figures(items, *tiers(ranked, best, t2, max_main, second_max, acc, gate, tu))
    return float(acc), float(best), float(t2), float(tu), fig


def evidence_sets(items: Sequence[Item], lexical: float, dense: float) -> list[set[str]]:
    """Each question's papers that pass `assistant.decision.second_evidence`."""
    return [
        {
            pid
            for pid, lx, fd in zip(it.ids, it.sig["lexical"], it.sig["first_dense"], strict=True)
            if lx > lexical or fd >= dense
        }
        for it in items
    ]


EVIDENCE_LEXICAL = (-1.0, 0.0, 0.1, 0.2, 0.3)
EVIDENCE_DENSE = (-1.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 2.0)


def choose_evidence(
    items: Sequence[Item],
    ranked: Sequence[tuple[list[str], np.ndarray]],
    th: dict[str, Any],
    max_main: int,
    second_max: int,
    k: int,
    prior: tuple[float, float],
    gate: Sequence[bool] | None = None,
    max_loss: float = 0.01,
) -> tuple[tuple[float, float], list[dict[str, Any]], list[dict[str, Any]]]:
    """The second tier's evidence condition (``lexical > L or first_dense >= D``).

    On the out-of-fold probabilities, the (L, D) with the highest second-tier precision
    whose main+second coverage is within ``max_loss`` of no condition's and that leaves
    no more answerable questions with no paper (ties: fewer unanswerable questions shown
    a second tier, then ``prior`` where it is among the tied, else the weaker condition:
    where the tuning half cannot tell conditions apart, the stated prior decides).
    Returns the choice, the curve over the grid, and the grouped-CV check of that rule:
    chosen on k-1 folds, scored on the held-out one.
    """

    def run(sub: Sequence[int], lx: float, d: float) -> dict[str, Any]:
        its = [items[i] for i in sub]
        m, s = tiers(
            [ranked[i] for i in sub],
            th["main_threshold"],
            th["second_threshold"],
            max_main,
            second_max,
            th["accept_threshold"],
            None if gate is None else [gate[i] for i in sub],
            th["uncertain_threshold"],
            evidence_sets(its, lx, d),
        )
        return list_figures(its, m, s)

    dense_grid = sorted({*EVIDENCE_DENSE, prior[1]})
    grid = [
        (lx, d)
        for lx in sorted({*EVIDENCE_LEXICAL, prior[0]})
        for d in dense_grid
        if not (lx == -1.0 and d == 2.0)
    ]

    def pick(sub: Sequence[int]) -> tuple[float, float]:
        base = run(sub, -1.0, -1.0)
        figs = {g: run(sub, *g) for g in grid}
        ok = [
            g
            for g in grid
            if (figs[g]["both_coverage"] or 0) >= (base["both_coverage"] or 0) - max_loss
            and figs[g]["no_paper"] <= base["no_paper"]
        ]
        return max(
            ok,
            key=lambda g: (
                (figs[g]["second_precision"] or 0.0),
                -(figs[g]["unanswerable_second"] or 0.0),
                g == prior,
                -g[0],
                -g[1],
            ),
        )

    everyone = list(range(len(items)))
    curve = [{"second_lexical": g[0], "second_dense": g[1], **run(everyone, *g)} for g in grid]
    folds = _folds(list(items), k)
    check = []
    for f in range(k):
        train = [i for i in everyone if folds[i] != f]
        held = [i for i in everyone if folds[i] == f]
        g = pick(train)
        check.append(
            {
                "fold": f,
                "second_lexical": g[0],
                "second_dense": g[1],
                "held_out": run(held, *g),
                "held_out_no_condition": run(held, -1.0, -1.0),
            }
        )
    return pick(everyone), curve, check


def near_sets(items: Sequence[Item], dense: float) -> list[set[str]]:
    """Each question's papers whose best chunk's cosine before feedback reaches ``dense``."""
    return [{pid for pid, fd in zip(it.ids, it.sig["first_dense"], strict=True) if fd >= dense}
            for it in items]


UNCERTAIN_DENSE = (-1.0, 0.2, 0.25, 0.28, 0.3, 0.32, 0.35, 0.38, 0.42, 2.0)


def uncertain_precision(
    items: Sequence[Item], mains: Sequence[list[str]], seconds: Sequence[list[str]]
) -> float | None:
    """On-topic share of the papers offered to answerable questions that got no main list."""
    return _share([p in it.relevant or p in it.partial
                   for it, m, s in zip(items, mains, seconds, strict=True)
                   if it.answerable and not m for p in s])


def choose_uncertain_dense(
    items: Sequence[Item], ranked: Sequence[tuple[list[str], np.ndarray]], th: dict[str, Any],
    max_main: int, second_max: int, k: int, evidence: tuple[float, float],
    gate: Sequence[bool] | None = None, max_loss: float = 0.01,
) -> tuple[float, list[dict[str, Any]], list[dict[str, Any]]]:
    """How close in meaning (cosine before feedback) a paper must be for a question without
    a main list to offer it at the second tier's bar instead of ``uncertain_threshold``.

    Mostly paraphrased questions: the uncertain bar dropped their relevant papers first.
    Rule: among the values whose main+second coverage is within ``max_loss`` of the best
    and that leave no more answerable questions with no paper, the strictest (a topic the
    library lacks, which the eval set's near-miss questions do not measure, must still get
    no unrelated offers). Returns the choice, the curve, and its grouped-CV check (chosen
    on k-1 folds, scored on the held-out one, beside the bar alone: ``2.0``).
    """
    def run(sub: Sequence[int], d: float) -> dict[str, Any]:
        its = [items[i] for i in sub]
        m, s = tiers([ranked[i] for i in sub], th["main_threshold"], th["second_threshold"],
                     max_main, second_max, th["accept_threshold"],
                     None if gate is None else [gate[i] for i in sub],
                     th["uncertain_threshold"], evidence_sets(its, *evidence), near_sets(its, d))
        return {**list_figures(its, m, s), "uncertain_precision": uncertain_precision(its, m, s)}

    def pick(sub: Sequence[int]) -> float:
        figs = {d: run(sub, d) for d in UNCERTAIN_DENSE}
        top = max(f["both_coverage"] or 0.0 for f in figs.values())
        fewest = min(f["no_paper"] for f in figs.values())
        return max(d for d, f in figs.items() if (f["both_coverage"] or 0.0) >= top - max_loss
                   and f["no_paper"] <= fewest)

    everyone = list(range(len(items)))
    curve = [{"uncertain_dense": d, **run(everyone, d)} for d in UNCERTAIN_DENSE]
    folds = _folds(list(items), k)
    check = []
    for f in range(k):
        held = [i for i in everyone if folds[i] == f]
        d = pick([i for i in everyone if folds[i] != f])
        check.append({"fold": f, "uncertain_dense": d, "held_out": run(held, d),
                      "held_out_bar_alone": run(held, 2.0)})
    return pick(everyone), curve, check


def floor_gate(items: Sequence[Item], floor: float, dense_floor: float) -> list[bool]:
    """The floor rule's acceptance of each question (its scores before feedback)."""
    return [
        bool(len(it.sig["first_score"]))
        and (
            float(it.sig["first_score"].max()) >= floor
            or float(it.sig["first_dense"].max()) >= dense_floor
        )
        for it in items
    ]


def largest_gap_lists(
    items: Sequence[Item], ranking: str, rrf_k: float, max_main: int
) -> list[list[str]]:
    """The per-question normalisation baseline: list everything above the largest score
    drop among the top 20 (no learned weights)."""
    out = []
    for it in items:
        order = rank_order(it.sig, ranking, rrf_k)
        above = tier_features(it.sig, order)[:, TIER_FEATURES.index("above_gap")]
        out.append([it.ids[i] for i in order if above[i] > 0][:max_main])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default=str(HERE / "data" / "questions.jsonl"))
    ap.add_argument("--features", default="artifacts/tune_cut/features.json")
    ap.add_argument(
        "--reuse", action="store_true", help="reuse the features file of an earlier run"
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--write", action="store_true", help=f"write {MODEL_FILE.name}")
    args = ap.parse_args(argv)
    settings = get_settings()
    cfg = settings.retrieval
    questions = [
        json.loads(x) for x in Path(args.set).read_text(encoding="utf-8").splitlines() if x.strip()
    ]
    questions = [q for q in questions if q["kind"] in LIST_KINDS]
    missing = [q["id"] for q in questions if "split" not in q or "topic_group" not in q]
    if missing:
        raise SystemExit(
            f"{len(missing)} questions lack 'split'/'topic_group' (e.g. {missing[0]}): "
            "split the set first"
        )
    feats = Path(args.features)
    items = (
        load_items(feats) if args.reuse and feats.exists() else collect(settings, questions, feats)
    )
    tune = [it for it in items if it.split == "tune"]
    test = [it for it in items if it.split == "test"]
    print(
        f"{len(tune)} tuning and {len(test)} test list questions; {args.folds}-fold CV "
        "grouped by topic_group"
    )
    report: dict[str, Any] = {
        "folds": args.folds,
        "n_tune": len(tune),
        "n_test": len(test),
        "features": list(TIER_FEATURES),
    }

    # 1. candidate rankings (no fitting): recall of the tuning half's relevant papers
    rank_rows = {}
    for ranking in RANKINGS:
        ranked = [[it.ids[i] for i in rank_order(it.sig, ranking, cfg.rrf_k)] for it in tune]
        rank_rows[ranking] = {
            f"{kind} r@{k}": recall_at(tune, ranked, k, (kind,))
            for kind in ("topic", "topic_paraphrase")
            for k in (10, 20, 30)
        }
        print(ranking, {k: round(v, 3) for k, v in rank_rows[ranking].items() if v is not None})
    report["rankings_tune"] = rank_rows

    # 2. the learned decision, every variant cross-validated on the tuning half
    variants = []
    gate = floor_gate(tune, cfg.floor, cfg.dense_floor)
    for ranking in RANKINGS:
        for pool in (20, 30):
            for l2 in (0.3, 3.0, 30.0):
                oof = oof_probs(tune, ranking, pool, l2, args.folds, cfg.rrf_k)
                for rule in ("floor", "model"):
                    ta, t1, t2, tu, fig = choose_thresholds(
                        tune, oof, cfg.max_papers, cfg.second_max, gate if rule == "floor" else None
                    )
                    kw = recall_at(tune, [ids for ids, _ in oof], 10, ("topic",))
                    para = recall_at(tune, [ids for ids, _ in oof], 10, ("topic_paraphrase",))
                    row = {
                        "ranking": ranking,
                        "pool": pool,
                        "l2": l2,
                        "accept_rule": rule,
                        "accept_threshold": ta,
                        "main_threshold": t1,
                        "uncertain_threshold": tu,
                        "second_threshold": t2,
                        "objective": objective(fig),
                        "topic r@10": kw,
                        "paraphrase r@10": para,
                        **fig,
                    }
                    variants.append(row)
                    print(
                        json.dumps(
                            {
                                k: (round(v, 3) if isinstance(v, float) else v)
                                for k, v in row.items()
                            }
                        )
                    )
    variants.sort(key=lambda r: -r["objective"])
    report["variants_cv_tune"] = variants
    best = variants[0]

    # 2b. the second tier's absolute evidence, on the winner's out-of-fold probabilities
    # The prior, for ties: a paper shares one of the question's topic terms, or one of its
    # chunks is as close in meaning as the older rule asked of a question worded unlike
    # the library (`dense_floor`, fitted before on the tuning half).
    best_oof = oof_probs(tune, best["ranking"], best["pool"], best["l2"], args.folds, cfg.rrf_k)
    (ev_lx, ev_d), curve, check = choose_evidence(
        tune,
        best_oof,
        best,
        cfg.max_papers,
        cfg.second_max,
        args.folds,
        (0.0, cfg.dense_floor),
        gate if best["accept_rule"] == "floor" else None,
    )
    report["evidence_curve_tune"] = curve
    report["evidence_cv_tune"] = check
    for row in curve:
        print(
            "evidence",
            {
                k: (round(v, 3) if isinstance(v, float) else v)
                for k, v in row.items()
                if k
                in (
                    "second_lexical",
                    "second_dense",
                    "second_precision",
                    "both_coverage",
                    "no_paper",
                    "unanswerable_second",
                )
            },
        )
    for row in check:
        print(
            "evidence fold",
            row["fold"],
            row["second_lexical"],
            row["second_dense"],
            {
                f"{h} {k}": round(row[h][k] or 0, 3)
                for h in ("held_out", "held_out_no_condition")
                for k in ("second_precision", "both_coverage")
            },
        )
    print("evidence chosen:", ev_lx, ev_d)

    # 2c. questions without a main list: closeness in meaning that lets a paper be offered
    # at the second tier's bar (on the same out-of-fold probabilities)
    u_dense, ucurve, ucheck = choose_uncertain_dense(
        tune, best_oof, best, cfg.max_papers, cfg.second_max, args.folds, (ev_lx, ev_d),
        gate if best["accept_rule"] == "floor" else None)
    report["uncertain_dense_curve_tune"] = ucurve
    report["uncertain_dense_cv_tune"] = ucheck
    shown = ("uncertain_dense", "both_coverage", "second_precision", "uncertain_precision",
             "no_paper", "unanswerable_second")
    for row in ucurve:
        print("uncertain dense", {k: (round(v, 3) if isinstance(v, float) else v)
                                  for k, v in row.items() if k in shown})
    for h in ("held_out", "held_out_bar_alone"):
        print("uncertain dense, held-out folds,", h, [r["uncertain_dense"] for r in ucheck],
              {k: round(float(np.mean([r[h][k] or 0.0 for r in ucheck])), 3) for k in shown[1:6]
               if k != "no_paper"},
              "no paper", sum(r[h]["no_paper"] for r in ucheck))
    print("uncertain dense chosen:", u_dense)

    # 3. baselines on the tuning half (nothing to fit: their settings are the old ones)
    report["older_cut_tune"] = list_figures(tune, [it.gap_list for it in tune], [[] for _ in tune])
    report["largest_gap_tune"] = list_figures(
        tune,
        largest_gap_lists(tune, best["ranking"], cfg.rrf_k, cfg.max_papers),
        [[] for _ in tune],
    )
    print("older cut (tune):", report["older_cut_tune"])
    print("largest gap (tune):", report["largest_gap_tune"])

    # 4. refit the winner on the whole tuning half; score the test half once
    designs = [_design(it, best["ranking"], best["pool"], cfg.rrf_k) for it in tune]
    w = fit_logistic(
        np.vstack([d[0] for d in designs]), np.concatenate([d[2] for d in designs]), best["l2"]
    )
    chosen = {
        "ranking": best["ranking"],
        "pool": best["pool"],
        "tier_weights": [round(float(v), 5) for v in w],
        "accept_rule": best["accept_rule"],
        "accept_threshold": best["accept_threshold"],
        "main_threshold": best["main_threshold"],
        "second_threshold": best["second_threshold"],
        "uncertain_threshold": best["uncertain_threshold"],
        "second_lexical": ev_lx,
        "second_dense": ev_d,
        "uncertain_dense": u_dense,
    }
    test_ranked = [
        _ordered(_design(it, best["ranking"], best["pool"], cfg.rrf_k), w) for it in test
    ]
    if test:
        test_gate = (
            floor_gate(test, cfg.floor, cfg.dense_floor) if best["accept_rule"] == "floor" else None
        )
        m, s = tiers(
            test_ranked,
            best["main_threshold"],
            best["second_threshold"],
            cfg.max_papers,
            cfg.second_max,
            best["accept_threshold"],
            test_gate,
            best["uncertain_threshold"],
            evidence_sets(test, ev_lx, ev_d),
            near_sets(test, u_dense),
        )
        m1, s1 = tiers(
            test_ranked,
            best["main_threshold"],
            best["second_threshold"],
            cfg.max_papers,
            cfg.second_max,
            best["accept_threshold"],
            test_gate,
            best["uncertain_threshold"],
            evidence_sets(test, ev_lx, ev_d),
        )
        m0, s0 = tiers(
            test_ranked,
            best["main_threshold"],
            best["second_threshold"],
            cfg.max_papers,
            cfg.second_max,
            best["accept_threshold"],
            test_gate,
            best["uncertain_threshold"],
        )
        report["test"] = {
            "model": list_figures(test, m, s),
            "model_uncertain_bar_alone": list_figures(test, m1, s1),
            "model_without_evidence": list_figures(test, m0, s0),
            "older_cut": list_figures(test, [it.gap_list for it in test], [[] for _ in test]),
            "topic r@10": recall_at(test, [ids for ids, _ in test_ranked], 10, ("topic",)),
            "paraphrase r@10": recall_at(
                test, [ids for ids, _ in test_ranked], 10, ("topic_paraphrase",)
            ),
        }
        print("test half:", json.dumps(report["test"], indent=1))
    report["chosen"] = chosen
    applied = settings.model_copy(
        update={
            "retrieval": cfg.model_copy(
                update={k: (tuple(v) if k == "tier_weights" else v) for k, v in chosen.items()}
            )
        }
    )
    report["config_hash"] = applied.config_hash()
    print("chosen:", json.dumps(chosen))
    if args.write:
        MODEL_FILE.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_FILE}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(main())

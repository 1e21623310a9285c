"""Calibrate the offline citation judge (the product's `Verifier`) on pairs built from the corpus.

For ``n`` abstract sentences (one per paper, seeded) the sentence is paired with:
- ``own``: its own abstract (supported; the sentence occurs in it verbatim);
- ``own_rest``: its own abstract with that sentence taken out (diagnostic: the right
  paper, but the sentence is not stated);
- ``random``: a random other abstract (wrong paper);
- ``closest``: the most similar other paper (mean chunk vector; the hard wrong paper);
- ``number``: its own abstract, the sentence with a number changed (contradicted);
- ``negation``: its own abstract, the sentence with a negation inserted (contradicted);
- ``title_own`` / ``title_closest``: the paper's title as the claim, against its own
  abstract (title left out) and the closest other paper's: a paraphrase-like claim, since
  ``own`` is verbatim and scores 1.0 by construction.

Scores are the Verifier's support without its number cap; the number rule (every number
of the claim occurs in the source) is applied as a separate flag, as the Verifier does.

Attribution (`calibrate_attribution`): every eligible paper's sentence and title, split by
paper into a tuning half (thresholds are chosen on it) and a held-out half (reported), scored
against its own abstract and wrong ones (closest, random, and the best of the 10 nearest:
an answer's sources are a paper's neighbours); plus the relevance floor, chosen on the eval
questions' tune split and reported on their test split.

Run: ``python -m evals.calibration [--n 100] [--attribution]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from assistant import Paper, SourceText, Verifier, numbers
from assistant import text_terms as terms

from .judge import paper_sentences
from .metrics import auroc

KINDS = ("own", "own_rest", "random", "closest", "number", "negation", "title_own", "title_closest")
TITLE = -2  # drop_sentence value: score against the abstract without the title
NEGATIVES = ("random", "closest", "number", "negation")
COS_WEIGHTS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)
_AUX = re.compile(
    r"\b(is|are|was|were|can|could|will|would|does|do|did|has|have|should|may|might)\b"
)
_WE = re.compile(r"\b(we|this paper|this work|it)\s+(\w+?)(s|es)?\b", re.IGNORECASE)
_NUM = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Pair:
    kind: str
    claim: str
    claim_paper: str
    source_paper: str
    drop_sentence: int = -1  # own_rest: index of the sentence taken out of the source


class _CachedEmbedder:
    """Memoises `encode` by text: the cos_weight sweep scores the same texts many times."""

    def __init__(self, embedder: Any):
        self.embedder = embedder
        self.cache: dict[str, np.ndarray] = {}

    def warm(self, texts: Sequence[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        for t, v in zip(todo, self.embedder.encode(todo), strict=True):
            self.cache[t] = v

    def encode(self, texts: list[str]) -> np.ndarray:
        self.warm(texts)
        return np.vstack([self.cache[t] for t in texts]) if texts else self.embedder.encode([])


def alter_number(sentence: str, source_text: str) -> str | None:
    """The sentence with its first number changed to one the source never states."""
    m = _NUM.search(sentence)
    if not m:
        return None
    have = numbers(source_text)
    value = m.group(0)
    for bump in (7, 3, 11, 29):
        if "." in value:
            whole, frac = value.split(".")
            new = f"{whole}.{(int(frac) + bump) % (10 ** len(frac)):0{len(frac)}d}"
        else:
            new = str(int(value) + bump)
        if new.replace(",", "") not in have:
            return sentence[: m.start()] + new + sentence[m.end() :]
    return None


def insert_negation(sentence: str) -> str:
    """The sentence with "not" after its first auxiliary verb (or its subject's verb)."""
    m = _AUX.search(sentence)
    if m:
        return sentence[: m.end()] + " not" + sentence[m.end() :]
    m = _WE.search(sentence)
    if m and m.group(1).lower() == "we":
        return sentence[: m.start(2)] + "do not " + sentence[m.start(2) :]
    return "It is not the case that " + sentence[0].lower() + sentence[1:]


def build_pairs(
    papers: dict[str, Paper], vectors: dict[str, np.ndarray], n: int = 100, seed: int = 0
) -> list[Pair]:
    """The calibration pairs (see the module docstring), deterministic for a seed."""
    rng = random.Random(seed)
    order = sorted(p for p in papers if p in vectors)
    mat = np.vstack([vectors[p] for p in order])
    sims = mat @ mat.T
    np.fill_diagonal(sims, -1.0)
    row = {p: i for i, p in enumerate(order)}
    shuffled = list(order)
    rng.shuffle(shuffled)
    pairs: list[Pair] = []
    used = 0
    for pid in shuffled:
        if used >= n:
            break
        paper = papers[pid]
        sents = paper_sentences(paper)
        good = [s for s in sents if len(terms(s.text)) >= 8]
        if len(sents) < 3 or not good:
            continue
        used += 1
        s = rng.choice(good)
        closest = order[int(np.argmax(sims[row[pid]]))]
        other = rng.choice([p for p in order if p != pid])
        pairs += [
            Pair("own", s.text, pid, pid),
            Pair("own_rest", s.text, pid, pid, s.index),
            Pair("random", s.text, pid, other),
            Pair("closest", s.text, pid, closest),
            Pair("negation", insert_negation(s.text), pid, pid),
        ]
        # The changed-number pair uses the first sentence that has a number, if any.
        with_number = next((x for x in sents if _NUM.search(x.text)), None)
        changed = (
            alter_number(with_number.text, paper.title + " " + paper.abstract)
            if with_number
            else None
        )
        if changed:
            pairs.append(Pair("number", changed, pid, pid))
        # A paraphrase-like claim: the title against the abstract without its title.
        pairs += [
            Pair("title_own", paper.title, pid, pid, TITLE),
            Pair("title_closest", paper.title, pid, closest, TITLE),
        ]
    return pairs


def mean_vectors(library: Any, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
    """One unit vector per paper: the mean of its chunk vectors in the library."""
    out = {}
    for pid, vecs in library.chunk_vectors(list(paper_ids)).items():
        v = vecs.mean(axis=0)
        out[pid] = v / (np.linalg.norm(v) or 1.0)
    return out


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
    cached = _CachedEmbedder(embedder)
    texts = [p.claim for p in pairs] + [
        papers[pid].title for pid in {p.source_paper for p in pairs}
    ]
    texts += [
        s.text for pid in {p.source_paper for p in pairs} for s in paper_sentences(papers[pid])
    ]
    texts.append("")
    cached.warm(texts)
    sweep: dict[str, dict[str, float]] = {}
    kept: dict[str, Any] = {}
    for w in COS_WEIGHTS:
        scores, num_ok = score_pairs(pairs, papers, cached, w)
        k = _by_kind(pairs, scores)
        sweep[str(w)] = {f"own_vs_{neg}": auroc(k["own"], k[neg]) for neg in NEGATIVES}
        sweep[str(w)]["own_rest_vs_closest"] = auroc(k["own_rest"], k["closest"])
        sweep[str(w)]["title_own_vs_title_closest"] = auroc(k["title_own"], k["title_closest"])
        if w == current_cos_weight:
            kept = {"scores": scores, "num_ok": num_ok}
    scores, num_ok = kept["scores"], kept["num_ok"]
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

    def at(t: float) -> dict[str, float]:
        return {
            kind: float(((k[kind] >= t) & ok[kind].astype(bool)).mean()) if len(k[kind]) else 0.0
            for kind in KINDS
        }

    result: dict[str, Any] = {
        "n_sentences": len({p.claim_paper for p in pairs}),
        "pairs": {kind: int(len(k[kind])) for kind in KINDS},
        "cos_weight": current_cos_weight,
        "distribution": {
            kind: {
                q: float(np.percentile(k[kind], p))
                for q, p in (("p5", 5), ("p25", 25), ("median", 50), ("p75", 75), ("p95", 95))
            }
            for kind in KINDS
            if len(k[kind])
        },
        "auroc": sweep[str(current_cos_weight)],
        "auroc_by_cos_weight": sweep,
        "threshold_table": table,
        "paraphrase_table": [r for r in para if round(r["threshold"] * 100) % 5 == 0],
        "paraphrase_at_recommended": best,
        "current_threshold": current_threshold,
        "pass_rate_at_current": at(current_threshold),
        "recommended_threshold": recommended,
        "pass_rate_at_recommended": at(recommended),
        "number_rule_catches": float(1 - ok["number"].mean()) if len(ok["number"]) else None,
        "scores": {kind: [round(float(x), 4) for x in k[kind]] for kind in KINDS},
    }
    if llm_judge is not None:
        result["llm_judge"] = judge_agreement(
            pairs, scores, num_ok, papers, llm_judge, current_threshold, judge_per_kind, seed
        )
    return result


# Kinds of the attribution set: claim (a sentence, or the title) against a source.
SUPPORTED = ("own", "title_own")
WRONG = ("closest", "random", "near10", "title_closest", "title_near10")
ATTRIBUTION_KINDS = (*SUPPORTED, "own_rest", *WRONG)
# An explicit [n] passes where at most this share of closest-wrong sentence pairs does.
CITE_MAX_WRONG = 0.02


def paper_split(paper_id: str) -> str:
    """ "tune" or "held" for a paper, fixed by its id (half the papers each)."""
    return "tune" if int(hashlib.sha1(paper_id.encode()).hexdigest(), 16) % 2 == 0 else "held"


def attribution_scores(
    papers: dict[str, Paper],
    vectors: dict[str, np.ndarray],
    embedder: Any,
    seed: int = 0,
    near: int = 10,
) -> dict[str, dict[str, np.ndarray]]:
    """Support per kind and split: {split: {kind: scores}} (number rule applied as a cap)."""
    rng = random.Random(seed)
    order = sorted(p for p in papers if p in vectors)
    mat = np.vstack([vectors[p] for p in order])
    sims = mat @ mat.T
    np.fill_diagonal(sims, -1.0)
    sents = {p: paper_sentences(papers[p]) for p in order}
    cached = embedder if isinstance(embedder, _CachedEmbedder) else _CachedEmbedder(embedder)
    cached.warm([t for p in order for t in (papers[p].title, *(x.text for x in sents[p]))])
    verifier = Verifier(
        cast(Any, cached), threshold=float("inf"), attribution_threshold=float("inf")
    )

    def support(claim: str, pid: str, drop: int = -1) -> float:
        paper = papers[pid]
        units = [x for x in sents[pid] if x.index != drop]
        if drop == TITLE:
            paper = dataclasses.replace(paper, title="")
        got, _ = verifier.support([claim], [SourceText(1, paper, units)])
        ok = not (numbers(claim) - numbers(paper.title + " " + paper.abstract))
        return float(got[0, 0]) if ok else 0.0

    out: dict[str, dict[str, list[float]]] = {
        s: {k: [] for k in ATTRIBUTION_KINDS} for s in ("tune", "held")
    }
    for i, pid in enumerate(order):
        good = [x for x in sents[pid] if len(terms(x.text)) >= 8]
        if len(sents[pid]) < 3 or not good:
            continue
        x = rng.choice(good)
        title = papers[pid].title
        nearest = [order[k] for k in np.argsort(-sims[i])[:near]]
        other = rng.choice([q for q in order if q != pid])
        r = out[paper_split(pid)]
        r["own"].append(support(x.text, pid))
        r["title_own"].append(support(title, pid, TITLE))
        r["own_rest"].append(support(x.text, pid, x.index))
        r["closest"].append(support(x.text, nearest[0]))
        r["random"].append(support(x.text, other))
        r["near10"].append(max(support(x.text, q) for q in nearest))
        r["title_closest"].append(support(title, nearest[0], TITLE))
        r["title_near10"].append(max(support(title, q, TITLE) for q in nearest))
    return {s: {k: np.asarray(v) for k, v in kinds.items()} for s, kinds in out.items()}


def choose_thresholds(tune: dict[str, np.ndarray]) -> dict[str, float]:
    """Thresholds from the tuning half only (0.01 steps).

    - attribution: the lowest at which no wrong-abstract pair of any kind passes;
    - explicit [n]: the lowest at which at most `CITE_MAX_WRONG` of closest pairs pass.
    """
    grid = np.round(np.arange(0.30, 1.001, 0.01), 2)
    attribution = next(float(t) for t in grid if all((tune[k] >= t).sum() == 0 for k in WRONG))
    cite = next(float(t) for t in grid if (tune["closest"] >= t).mean() <= CITE_MAX_WRONG)
    return {"cite": cite, "attribution": attribution}


def relevance_scores(
    papers: dict[str, Paper], embedder: Any, questions_path: Path, seed: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """Cosine of eval questions with sentences: each relevant paper's best sentence, every
    sentence of the relevant papers, and the best sentence of 10 random other papers."""
    rng = random.Random(seed)
    qs = [
        json.loads(line)
        for line in questions_path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    qs = [
        q
        for q in qs
        if q["kind"] in ("topic", "topic_paraphrase", "single", "comparison") and q["relevant"]
    ]
    order = sorted(papers)
    qvecs = embedder.encode([q["question"] for q in qs])
    svec: dict[str, np.ndarray] = {}

    def cos(qv: np.ndarray, pid: str) -> np.ndarray:
        if pid not in svec:
            texts = [x.text for x in paper_sentences(papers[pid])]
            svec[pid] = (
                embedder.encode(texts) if texts else np.zeros((0, len(qv)), dtype=np.float32)
            )
        return np.asarray(svec[pid] @ qv)

    out: dict[str, dict[str, list[float]]] = {}
    for q, qv in zip(qs, qvecs, strict=True):
        r = out.setdefault(q.get("split") or "tune", {"best": [], "all": [], "random_best": []})
        for pid in q["relevant"]:
            if pid in papers and len(c := cos(qv, pid)):
                r["best"].append(float(c.max()))
                r["all"] += [float(v) for v in c]
        taken = set(q["relevant"]) | set(q.get("partial") or ())
        for pid in rng.sample([p for p in order if p not in taken], 10):
            if len(c := cos(qv, pid)):
                r["random_best"].append(float(c.max()))
    return {s: {k: np.asarray(v) for k, v in kinds.items()} for s, kinds in out.items()}


def calibrate_attribution(
    library: Any, embedder: Any, questions_path: Path, seed: int = 0
) -> dict[str, Any]:
    """The attribution and relevance calibration: thresholds from tune, rates on both halves."""
    papers = library.papers()
    embedder = _CachedEmbedder(embedder)  # both parts encode the same sentences
    scores = attribution_scores(papers, mean_vectors(library, list(papers)), embedder, seed)
    chosen = choose_thresholds(scores["tune"])

    def rates(split: str, t: float) -> dict[str, float]:
        return {k: float((v >= t).mean()) for k, v in scores[split].items()}

    rel = relevance_scores(papers, embedder, questions_path, seed)
    # The floor: 0.08 under the lowest best sentence of a relevant paper on the tune questions.
    floor = round(float(rel["tune"]["best"].min()) - 0.08, 2)
    return {
        "pairs": {s: {k: len(v) for k, v in kinds.items()} for s, kinds in scores.items()},
        "thresholds": {**chosen, "relevance": floor},
        "at_cite": {s: rates(s, chosen["cite"]) for s in scores},
        "at_attribution": {s: rates(s, chosen["attribution"]) for s in scores},
        "max_wrong": {s: {k: float(scores[s][k].max()) for k in WRONG} for s in scores},
        "relevance": {
            s: {k: float((v >= floor).mean()) for k, v in kinds.items()}
            | {"n_best": len(kinds["best"])}
            for s, kinds in rel.items()
        },
    }


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
        lines.append(
            f"| {kind} | "
            + " | ".join(f"{d[q]:.3f}" for q in ("p5", "p25", "median", "p75", "p95"))
            + " |"
        )
    lines += [
        "",
        "AUROC of `own` against each negative, by cos_weight (score alone, no number rule):",
        "",
    ]
    cols = [
        *(f"own_vs_{n}" for n in NEGATIVES),
        "own_rest_vs_closest",
        "title_own_vs_title_closest",
    ]
    lines += ["| cos_weight | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for w, row in result["auroc_by_cos_weight"].items():
        lines.append(f"| {w} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    lines += [
        "",
        "Own (supported) vs random+closest (wrong paper), deciding `support >= t and numbers ok`:",
        "",
        "| t | recall | precision | wrong pairs passing |",
        "|---|---|---|---|",
    ]
    for r in result["threshold_table"]:
        lines.append(
            f"| {r['threshold']:.2f} | {r['recall']:.3f} | {r['precision']:.3f} | "
            f"{r['false_pass']:.3f} |"
        )
    lines += [
        "",
        "Paraphrase regime: title vs its own abstract (supported) against title vs the closest "
        "other paper's abstract (wrong paper); the recommended threshold maximises recall minus "
        "wrong pairs passing here:",
        "",
        "| t | recall | precision | wrong pairs passing |",
        "|---|---|---|---|",
    ]
    for r in result["paraphrase_table"]:
        lines.append(
            f"| {r['threshold']:.2f} | {r['recall']:.3f} | {r['precision']:.3f} | "
            f"{r['false_pass']:.3f} |"
        )
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
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from assistant import Library, get_embedder, get_settings

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
    "Pair",
    "alter_number",
    "attribution_markdown",
    "build_pairs",
    "calibrate",
    "calibrate_attribution",
    "choose_thresholds",
    "insert_negation",
    "markdown",
    "paper_split",
    "plot",
]

if __name__ == "__main__":
    raise SystemExit(main())

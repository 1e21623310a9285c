"""The library's co-occurrence vocabulary as query expansion (issue 21, item 3): a measurement.

A question described in the asker's own words ("a small model guesses several upcoming
tokens that the big model checks") shares few terms with the papers that answer it
("draft", "speculative", "verification"). The library itself says which of its terms go
with the question's words: those that co-occur with them in its abstract sentences (or
papers). This script expands a question by the library terms most associated with its
words, which the question lacks, weighted under its own terms, and measures whether the
product's ranking of relevant papers improves:

- `CoOccurrence`: term-term counts over the library's units (abstract sentences or
  papers), content terms only (`assistant.text.terms.terms`); a candidate's association with
  the question is the idf-weighted sum, over the question's terms, of their positive
  normalised PMI (co-occurring in at least ``MIN_CO`` units), kept when it goes with
  ``support`` or more of the question's terms; a term in more than ``MAX_SHARE`` of the
  papers or in fewer than 2 is never added (too generic to help, too rare to bridge);
- `ExpandingRetriever`: the product's `Retriever` as shipped (list rule, rrf3 ranking,
  feedback) with the expansion terms added to BM25 (weight ``w_lex`` x association:
  nomination and BM25 rank) and, with ``parts="both"``, to the lexical and title shares
  (their idf mass added at the same weight); optionally the question vector is moved
  toward the embedding of the expansion's words (``w_dense``, as feedback moves it);
- the grid (source x support x size x weights x parts; today's retriever first, so ties
  keep it) is chosen by topic-grouped 5-fold CV on the tuning half
  (`evals.tier_fit.topic_folds`), nested for an honest estimate; the objective, fixed
  before the run, is recall@10 plus MRR over the answerable list questions, all styles.

    python -m evals.vocabulary tune     # grid + CV on the tuning half -> tune.json
    python -m evals.vocabulary test     # the choice and today's retriever, test half, once
    python -m evals.vocabulary timing   # ms per question, both settings interleaved (tuning)
    python -m evals.vocabulary report   # the tables of evals/CALIBRATION.md

The questions are the list questions `python -m evals.tune_rule` tunes on (its features
file names them). Results are cached under artifacts/vocabulary/. Outcome (CALIBRATION.md,
"The library's co-occurrence vocabulary"): sentence co-occurrence, 10 terms, BM25 only was
chosen; it lifts paraphrase recall@10 on both halves, not the descriptive questions nor the
first paper; not adopted. The product is unchanged: this module subclasses `Retriever`
(overriding two of its steps) and reads its snapshot.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from assistant.retrieval.retriever import Retriever
from assistant.text.terms import terms as text_terms
from evals import metrics as M
from evals.metrics import rounded
from evals.tier_fit import topic_folds
from evals.tune_items import Item, load_items, load_questions

HERE = Path(__file__).resolve().parent
OUT = Path("artifacts/vocabulary")
FEATURES = Path("artifacts/tune_rule/features.json")
STYLES = ("descriptive", "paraphrase", "keyword", "narrow")
MIN_CO = 2  # co-occurrences under this are chance in a library of a few thousand sentences
MAX_SHARE = 0.1  # a term in more papers than this is too generic to bridge a wording
K_FOLDS = 5
GRID: dict[str, list[Any]] = {
    "source": ["sentence", "paper"],
    "support": [2, 1],
    "k": [3, 5, 10, 20],
    "w_lex": [0.0, 0.1, 0.25, 0.5, 1.0, 2.0],
    "w_dense": [0.0, 0.25, 0.5],
    # Where the lexical expansion goes: BM25 and the lexical/title shares, or BM25 alone
    # ("coverage", the shares alone, is a diagnostic of the chosen point).
    "parts": ["both", "bm25"],
}
BASE: dict[str, Any] = {
    "source": "none",
    "support": 0,
    "k": 0,
    "w_lex": 0.0,
    "w_dense": 0.0,
    "parts": "both",
}
_WORD = re.compile(r"[^\W_]+(?:[-+][^\W_]+)*\+*")  # as `assistant.text.terms` reads words
log = logging.getLogger(__name__)


def grid() -> list[dict[str, Any]]:
    """Today's retriever first (ties go to it), then every expansion in grid order."""
    points = [dict(zip(GRID, v, strict=True)) for v in itertools.product(*GRID.values())]
    # An expansion somewhere, and "parts" only where there is a lexical one.
    keep = [p for p in points if p["w_lex"] or (p["w_dense"] and p["parts"] == "both")]
    return [BASE, *keep]


def name(point: dict[str, Any]) -> str:
    if point["source"] == "none":
        return "current"
    key = "{source}/s{support}/k{k}/lex{w_lex}/dense{w_dense}".format(**point)
    return key if point["parts"] == "both" else f"{key}/{point['parts']}"


def combined(cfg: Any, dense: float, sentence: float, lexical: float, title: float) -> float:
    """The paper score as `assistant.retrieval.scoring.combined_score` sums the signals."""
    return (
        cfg.dense_weight * dense
        + cfg.sentence_weight * sentence
        + cfg.lexical_weight * lexical
        + cfg.title_weight * title
    )


# -- the library's vocabulary -----------------------------------------------------------
class CoOccurrence:
    """Term-term co-occurrence counts over units of the library (sentences or papers)."""

    def __init__(self, units: Sequence[frozenset[str]], lex: Any):
        self.lex = lex  # the snapshot's `LexicalIndex`: paper df and idf
        self.vocab: dict[str, int] = {}
        rows, cols = [], []
        for i, ts in enumerate(units):
            for t in ts:
                rows.append(i)
                cols.append(self.vocab.setdefault(t, len(self.vocab)))
        x = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(units), len(self.vocab))
        )
        self.n = len(units)
        self.counts = (x.T @ x).tocsr()
        self.df = np.asarray(x.sum(axis=0)).ravel()
        self.names = list(self.vocab)
        self.name_array = np.asarray(self.names)
        paper_df = np.asarray([lex.df.get(t, 0) for t in self.names])
        self.eligible = (
            (paper_df >= 2)
            & (paper_df <= MAX_SHARE * lex.n_papers)
            & np.asarray([len(t) > 2 and not t.isdigit() for t in self.names])
        )

    def associates(self, expanded: Any, k: int, support: int) -> list[tuple[str, float]]:
        """The ``k`` library terms most associated with the question's terms (``expanded``:
        each with its spellings) that it lacks in any spelling, each with its association
        relative to the first's."""
        score = np.zeros(len(self.names))
        votes = np.zeros(len(self.names))
        for t, _alts in expanded:
            j = self.vocab.get(t)
            if j is None:
                continue
            row = self.counts.getrow(j)
            keep = row.data >= MIN_CO
            idx, co = row.indices[keep], row.data[keep].astype(np.float64)
            p_joint = co / self.n
            pmi = np.log(p_joint / ((self.df[j] / self.n) * (self.df[idx] / self.n)))
            npmi = np.maximum(pmi / -np.log(np.minimum(p_joint, 1 - 1e-9)), 0.0)
            score[idx] += self.lex.idf(t) * npmi
            votes[idx] += npmi > 0
        score[~self.eligible | (votes < support)] = 0.0
        for own in {t for _t, alts in expanded for a in alts for t in a}:
            if (j := self.vocab.get(own)) is not None:
                score[j] = 0.0
        # Ties (terms always seen together) go by name: the vocabulary's order follows the
        # iteration of frozensets, which differs between processes.
        top = [int(j) for j in np.lexsort((self.name_array, -score))[:k] if score[j] > 0]
        return [(self.names[j], float(score[j] / score[top[0]])) for j in top]


def _words(text: str) -> list[str]:
    """Lower-cased words, a hyphenated word also as its parts (as `assistant.text.terms`)."""
    out: list[str] = []
    for tok in _WORD.findall(text.lower()):
        out += [tok, *(p for p in tok.split("-") if p)] if "-" in tok else [tok]
    return out


def surface_forms(snap: Any) -> dict[str, str]:
    """Each term's most frequent word in the library's abstracts and titles (the encoder
    reads words, not stems, on the dense side)."""
    texts = [s.text for sents, _rows in snap.vectors.sentences.values() for s in sents]
    texts += [p.title for p in snap.papers.values()]
    counts = Counter(w for text in texts for w in _words(text))
    seen: Counter[tuple[str, str]] = Counter()
    for w, n in counts.items():
        stem = text_terms(w)
        if len(stem) == 1:
            seen[(stem[0], w)] += n
    best: dict[str, tuple[int, str]] = {}
    for (t, w), n in seen.items():
        if n > best.get(t, (0, ""))[0]:
            best[t] = (n, w)
    return {t: w for t, (_n, w) in best.items()}


# -- retrieval with the expansion --------------------------------------------------------
@dataclass
class Expansion:
    """What one question is expanded by, and how strongly."""

    terms: list[tuple[str, float]]  # (term, association relative to the first)
    w_lex: float
    vector: np.ndarray | None  # the question vector moved toward the expansion's words
    parts: str = "both"  # "both", "bm25" or "coverage" (see GRID)


class ExpandingRetriever(Retriever):
    """The product's retriever with the expansion ``self.expansion`` added.

    It also keeps each candidate's score before feedback and best chunk cosine as the
    question's own wording and vector give them (``self.own``), so acceptance can be read
    on the question alone, as the product keeps feedback out of it.
    """

    expansion: Expansion | None = None
    own_vector: np.ndarray | None = None
    own: dict[str, tuple[float, float]]

    def _bm25_nominees(self, lex: Any, expanded: Any, allowed: set[str] | None) -> dict[str, float]:
        exp = self.expansion
        if exp is None or not exp.terms or not exp.w_lex or exp.parts == "coverage":
            return cast(dict[str, float], super()._bm25_nominees(lex, expanded, allowed))
        # As `LexicalIndex.search`, with the expansion's terms weighted.
        weighted = [(t, 1.0) for t in lex.search_terms(expanded)]
        weighted += [(t, exp.w_lex * a) for t, a in exp.terms]
        scores = np.zeros(len(lex.chunk_ids), dtype=np.float32)
        b = lex.bm25
        for t, w in weighted:
            if t in lex.df and t in lex.vocab:
                s, e = b.indptr[lex.vocab[t]], b.indptr[lex.vocab[t] + 1]
                scores[b.indices[s:e]] += np.float32(w) * b.data[s:e]
        k = min(self.settings.retrieval.lexical_k * 3, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        best: dict[str, float] = {}
        for i in top[np.argsort(-scores[top])]:
            pid = lex.chunk_papers[i]
            if scores[i] > 0 and (allowed is None or pid in allowed):
                best.setdefault(pid, float(scores[i]))
                if len(best) >= self.settings.retrieval.lexical_k:
                    break
        return best

    def _score(self, query: Any, cands: Any, snap: Any, timings: dict[str, float]) -> list[Any]:
        hits = super()._score(query, cands, snap, timings)
        self.own = {h.paper.id: (h.first_score, h.first_dense) for h in hits}
        exp = self.expansion
        if exp is None or (not exp.w_lex and exp.vector is None):
            return cast(list[Any], hits)
        lex, cfg, vecs = snap.lexical, self.settings.retrieval, snap.vectors
        moved = exp.vector is not None and self.own_vector is not None
        if moved:  # the question's own cosines, for acceptance on its own terms
            chunk_best = vecs.chunk_best(self.own_vector)
            sent_best = vecs.sentence_best_of(self.own_vector)
        q_mass = sum(lex.idf(t) for t, _ in query.expanded)
        e_mass = [exp.w_lex * a * lex.idf(t) for t, a in exp.terms]
        e_total = sum(e_mass) if exp.parts != "bm25" else 0.0
        for h in hits:
            own_dense, own_sentence = h.dense, h.sentence
            own_lexical, own_title = h.lexical, h.title
            if moved and (i := vecs.paper_index.get(h.paper.id)) is not None:
                own_dense, own_sentence = float(chunk_best[i]), max(sent_best(i), 0.0)
            if e_total:
                have = lex.paper_terms.get(h.paper.id, frozenset())
                title = lex.title_terms.get(h.paper.id, frozenset())
                got = sum(m for (t, _a), m in zip(exp.terms, e_mass, strict=True) if t in have)
                got_t = sum(m for (t, _a), m in zip(exp.terms, e_mass, strict=True) if t in title)
                h.lexical = (own_lexical * q_mass + got) / (q_mass + e_total)
                h.title = (own_title * q_mass + got_t) / (q_mass + e_total)
            h.score = h.first_score = combined(cfg, h.dense, h.sentence, h.lexical, h.title)
            own_first = combined(cfg, own_dense, own_sentence, own_lexical, own_title)
            self.own[h.paper.id] = (own_first, own_dense)
        hits.sort(key=lambda h: -h.score)
        return cast(list[Any], hits)


# -- one question, one setting -------------------------------------------------------------
@dataclass
class Bench:
    """The library, the retriever and the vocabularies, built once."""

    retriever: ExpandingRetriever
    snap: Any  # the library as retrieval reads it (`Retriever.snapshot()`)
    vocab: dict[str, CoOccurrence]
    surface: dict[str, str]
    cache: dict[str, np.ndarray]  # text hash -> its query vector

    @classmethod
    def open(cls) -> Bench:
        from assistant import Assistant

        base = Assistant().retriever
        r = ExpandingRetriever(base.settings, base.library, base.embedder)
        snap = r.refresh()
        assert snap.vectors is not None, "the measured library is held in memory"
        t = time.perf_counter()
        vocab = {
            "sentence": CoOccurrence(list(snap.vectors.sentence_terms.values()), snap.lexical),
            "paper": CoOccurrence(list(snap.lexical.paper_terms.values()), snap.lexical),
        }
        log.warning("co-occurrence models built in %.2f s", time.perf_counter() - t)
        cache_file = OUT / "vectors.npz"
        cache = dict(np.load(cache_file)) if cache_file.exists() else {}
        return cls(r, snap, vocab, surface_forms(snap), cache)

    def encode(self, text: str) -> np.ndarray:
        key = hashlib.md5(text.encode()).hexdigest()
        if key not in self.cache:
            self.cache[key] = self.retriever.embedder.encode_query(text)
        return self.cache[key]

    def save(self) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        np.savez(OUT / "vectors.npz", **cast(dict[str, Any], self.cache))

    def expansion(
        self,
        question: str,
        point: dict[str, Any],
        qvec: np.ndarray,
        encode: Callable[[str], np.ndarray] | None = None,
    ) -> Expansion | None:
        """The expansion ``point`` gives ``question`` (None: today's retriever)."""
        if point["source"] == "none":
            return None
        expanded = self.snap.lexical.expand(text_terms(question, question=True))
        found = self.vocab[point["source"]].associates(expanded, point["k"], point["support"])
        vector = None
        if point["w_dense"] and found:
            evec = (encode or self.encode)(" ".join(self.surface.get(t, t) for t, _ in found))
            v = qvec + point["w_dense"] * evec
            vector = (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)
        return Expansion(found, point["w_lex"], vector, point["parts"])

    def retrieve(self, question: str, exp: Expansion | None, qvec: np.ndarray) -> Any:
        r = self.retriever
        r.expansion, r.own_vector = exp, qvec
        vec = exp.vector if exp is not None and exp.vector is not None else qvec
        return r.retrieve(question, query_vector=vec, snapshot=self.snap)

    def run(self, q: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
        """The question retrieved under ``point``: ranking figures and the list rule's
        acceptance (as the app decided it, and as the question's own scores decide it)."""
        qvec = self.encode(q["question"])
        exp = self.expansion(q["question"], point, qvec)
        res = self.retrieve(q["question"], exp, qvec)
        cfg = self.retriever.settings.retrieval
        ranked = [h.paper.id for h in res.hits]
        own = [self.retriever.own.get(pid, (0.0, 0.0)) for pid in ranked] or [(0.0, 0.0)]
        best_own, dense_own = max(o[0] for o in own), max(o[1] for o in own)
        rel, part = set(q.get("relevant", [])), set(q.get("partial", []))
        out: dict[str, Any] = {
            "id": q["id"],
            "expansion": [t for t, _ in exp.terms] if exp else [],
            "best_first": max((h.first_score for h in res.hits), default=0.0),
            "best_dense": max((h.first_dense for h in res.hits), default=0.0),
            "best_first_own": best_own,
            "accepted": bool(res.relevant),
            "sure": res.confidence == "sure",
            # `assistant.retrieval.decision.rule_tiers`' acceptance and wording, on the own scores.
            "accepted_own": best_own >= cfg.floor or dense_own >= cfg.dense_floor,
            "sure_own": (best_own >= cfg.floor or dense_own >= cfg.dense_floor)
            and best_own >= cfg.sure_floor,
            "first_on_topic": bool(ranked) and (ranked[0] in rel or ranked[0] in part),
        }
        if rel:
            m = M.retrieval_metrics(ranked, sorted(rel), sorted(part))
            out["recall@10"], out["mrr"] = m["recall@10"], m["mrr"]
        return out


def list_questions(split: str) -> list[dict[str, Any]]:
    """The split's list questions as `evals.tune_rule` tunes on them (those answered by a
    list, not about a named paper), read from its features file."""
    if not FEATURES.exists():
        raise SystemExit(f"{FEATURES} is missing: run `python -m evals.tune_rule` first")
    ids = {it.id for it in load_items(FEATURES) if it.split == split}
    return [q for q in load_questions(HERE / "data" / "questions.jsonl") if q["id"] in ids]


# -- choosing by topic-grouped CV, and the figures -------------------------------------------
@dataclass
class _Group:
    group: str  # all `topic_folds` reads of an item


def objective(rows: Sequence[dict[str, Any]]) -> float:
    """recall@10 plus MRR, averaged over the answerable questions of ``rows``."""
    ans = [r for r in rows if "recall@10" in r]
    if not ans:
        return 0.0
    return float(np.mean([r["recall@10"] for r in ans]) + np.mean([r["mrr"] for r in ans]))


def fold_objective(rows: Sequence[dict[str, Any]], idx: Sequence[int], folds: list[int]) -> float:
    """The objective averaged over the folds of ``idx``, each scored apart."""
    parts = [[i for i in idx if folds[i] == f] for f in sorted({folds[i] for i in idx})]
    return float(np.mean([objective([rows[i] for i in p]) for p in parts]))


def choose(results: dict[str, list[dict[str, Any]]], idx: list[int], folds: list[int]) -> str:
    """The setting with the best `fold_objective` over ``idx`` (ties: the first)."""
    best, best_val = "", -np.inf
    for key, rows in results.items():
        if (val := fold_objective(rows, idx, folds)) > best_val + 1e-12:
            best, best_val = key, val
    return best


def figures(rows: Sequence[dict[str, Any]], styles: dict[str, str]) -> dict[str, Any]:
    """Per style: recall@10, first paper on topic, MRR; near misses: best score, acceptance."""
    out: dict[str, Any] = {}
    for style in ("all", *STYLES):
        sub = [r for r in rows if "recall@10" in r and style in ("all", styles[r["id"]])]
        if sub:
            out[style] = {"n": len(sub)} | {
                f: float(np.mean([r[f] for r in sub]))
                for f in ("recall@10", "first_on_topic", "mrr", "accepted")
            }
    near = [r for r in rows if styles[r["id"]] == "near_miss"]
    if near:
        best = np.asarray([r["best_first"] for r in near])
        out["near_miss"] = {
            "n": len(near),
            "best_first_quartiles": np.percentile(best, [25, 50, 75]).round(3).tolist(),
            "best_first_max": float(best.max()),
        } | {
            f: float(np.mean([r[f] for r in near]))
            for f in ("accepted", "sure", "accepted_own", "sure_own")
        }
    return out


def paired(
    rows: Sequence[dict[str, Any]], base: Sequence[dict[str, Any]], styles: dict[str, str]
) -> dict[str, Any]:
    """Per style, each figure's change against ``base`` on the same questions: the mean,
    a 95% bootstrap interval over questions, and how many questions gained and lost."""
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    for style in ("all", *STYLES):
        idx = [
            i for i, r in enumerate(base) if "recall@10" in r and style in ("all", styles[r["id"]])
        ]
        out[style] = {}
        for fig in ("recall@10", "first_on_topic", "mrr"):
            d = np.asarray([float(rows[i][fig]) - float(base[i][fig]) for i in idx])
            boots = d[rng.integers(0, len(d), (2000, len(d)))].mean(axis=1)
            out[style][fig] = {
                "diff": float(d.mean()),
                "ci95": np.percentile(boots, [2.5, 97.5]).round(3).tolist(),
                "gained": int((d > 1e-9).sum()),
                "lost": int((d < -1e-9).sum()),
            }
    return out


# -- the steps -------------------------------------------------------------------------------
def tune(bench: Bench) -> dict[str, Any]:
    """Every grid point on the tuning half (cached), the nested-CV estimate, the choice."""
    qs = list_questions("tune")
    styles = {q["id"]: q["style"] for q in qs}
    runs_file = OUT / "tune_runs.json"
    raw: dict[str, list[dict[str, Any]]] = (
        json.loads(runs_file.read_text()) if runs_file.exists() else {}
    )
    for i, point in enumerate(grid()):
        if (key := name(point)) not in raw:
            t = time.perf_counter()
            raw[key] = [bench.run(q, point) for q in qs]
            log.warning("%d %s %.1f s", i, key, time.perf_counter() - t)
            if i % 10 == 0:
                runs_file.write_text(json.dumps(raw))
    results = {name(p): raw[name(p)] for p in grid()}  # grid order: ties to the first
    folds = topic_folds(cast(list[Item], [_Group(q["topic_group"]) for q in qs]), K_FOLDS)
    every = list(range(len(qs)))
    oof: list[dict[str, Any]] = [{}] * len(qs)
    picks = []
    for f in range(K_FOLDS):
        picks.append(key := choose(results, [i for i in every if folds[i] != f], folds))
        for i in every:
            if folds[i] == f:
                oof[i] = results[key][i]
    chosen = choose(results, every, folds)
    point = next(p for p in grid() if name(p) == chosen)
    # Where the chosen point's gain comes from (in sample, after the choice).
    diagnostics: dict[str, Any] = {}
    if point["source"] != "none":
        for v in [dict(point, parts=p) for p in ("both", "bm25", "coverage")]:
            raw[name(v)] = raw.get(name(v)) or [bench.run(q, v) for q in qs]
            diagnostics[name(v)] = figures(raw[name(v)], styles)
    runs_file.write_text(json.dumps(raw))
    bench.save()
    base = results["current"]
    return rounded(
        {
            "n": len(qs),
            "objective": "recall@10 + MRR over answerable list questions, mean of 5 topic folds",
            "fold_picks": picks,
            "chosen": chosen,
            "chosen_point": point,
            "cv_out_of_fold": figures(oof, styles),
            "current": figures(base, styles),
            "cv_vs_current": paired(oof, base, styles),
            "chosen_in_sample": figures(results[chosen], styles),
            "diagnostics_in_sample": diagnostics,
            "by_setting": {k: fold_objective(rows, every, folds) for k, rows in results.items()},
            "examples": {
                q["id"]: {
                    "style": styles[q["id"]],
                    "question": q["question"],
                    "expansion": results[chosen][i]["expansion"],
                    "recall@10": [base[i].get("recall@10"), results[chosen][i].get("recall@10")],
                }
                for i, q in enumerate(qs)
                if styles[q["id"]] in ("paraphrase", "near_miss")
            },
        }
    )


def test(bench: Bench) -> dict[str, Any]:
    """Today's retriever and the chosen setting on the test half."""
    point = json.loads((OUT / "tune.json").read_text())["chosen_point"]
    qs = list_questions("test")
    styles = {q["id"]: q["style"] for q in qs}
    base = [bench.run(q, BASE) for q in qs]
    mine = [bench.run(q, point) for q in qs]
    bench.save()
    return rounded(
        {
            "n": len(qs),
            "chosen": name(point),
            "current": figures(base, styles),
            "chosen_figures": figures(mine, styles),
            "rows": {"current": base, "chosen": mine},
        }
    )


def timing(bench: Bench, point: dict[str, Any], rounds: int = 3) -> dict[str, Any]:
    """ms per question (encode + expansion + retrieval), both settings interleaved, no cache."""
    enc = bench.retriever.embedder.encode_query
    out: dict[str, list[float]] = {"current": [], "chosen": [], "expansion_only": []}
    for _ in range(rounds):
        for q in list_questions("tune"):
            for key, p in (("current", BASE), ("chosen", point)):
                t = time.perf_counter()
                qvec = enc(q["question"])
                t1 = time.perf_counter()
                exp = bench.expansion(q["question"], p, qvec, encode=enc)
                if exp is not None:
                    out["expansion_only"].append((time.perf_counter() - t1) * 1000)
                bench.retrieve(q["question"], exp, qvec)
                out[key].append((time.perf_counter() - t) * 1000)
    return rounded(
        {
            k: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95))}
            for k, v in out.items()
        }
    )


def report() -> str:
    """Markdown for evals/CALIBRATION.md: per style, the tuning half's nested-CV figure and
    the held-out half's, today's retriever in brackets; then the near misses."""
    tune_out = json.loads((OUT / "tune.json").read_text())
    test_out = json.loads((OUT / "test.json").read_text())
    styles = {q["id"]: q["style"] for q in load_questions(HERE / "data" / "questions.jsonl")}
    test_diff = paired(test_out["rows"]["chosen"], test_out["rows"]["current"], styles)
    lines = [
        "| style (n tuning / test) | figure | tuning, nested CV (current) | change, 95% CI "
        "| test, held out (current) | change, 95% CI |",
        "|---|---|---|---|---|---|",
    ]
    for style in ("all", *STYLES):
        cv, base = tune_out["cv_out_of_fold"][style], tune_out["current"][style]
        te, tb = test_out["chosen_figures"][style], test_out["current"][style]
        for fig in ("recall@10", "first_on_topic", "mrr"):
            a, b = tune_out["cv_vs_current"][style][fig], test_diff[style][fig]
            lines.append(
                f"| {style} ({cv['n']} / {te['n']}) | {fig} | {cv[fig]:.3f} ({base[fig]:.3f}) "
                f"| {a['diff']:+.3f} [{a['ci95'][0]:+.3f}, {a['ci95'][1]:+.3f}] "
                f"| {te[fig]:.3f} ({tb[fig]:.3f}) "
                f"| {b['diff']:+.3f} [{b['ci95'][0]:+.3f}, {b['ci95'][1]:+.3f}] |"
            )
    lines += [
        "",
        "| near misses (n) | best score before feedback: quartiles / max | accepted | 'sure' |",
        "|---|---|---|---|",
    ]
    rows = [
        ("tuning, current", tune_out["current"]),
        ("tuning, chosen (in sample)", tune_out["chosen_in_sample"]),
        ("tuning, nested CV", tune_out["cv_out_of_fold"]),
        *[
            (f"tuning, {k} (in sample)", f)
            for k, f in tune_out["diagnostics_in_sample"].items()
            if k != tune_out["chosen"]
        ],
        ("test, current", test_out["current"]),
        ("test, chosen", test_out["chosen_figures"]),
    ]
    for label, fig in rows:
        n = fig["near_miss"]
        lines.append(
            f"| {label} ({n['n']}) | {n['best_first_quartiles']} / {n['best_first_max']} "
            f"| {n['accepted']:.3f} | {n['sure']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("step", choices=["tune", "test", "timing", "report"])
    ap.add_argument("--again", action="store_true", help="score the test half a second time")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.step == "report":
        print(report())
        return 0
    bench = Bench.open()
    if args.step == "tune":
        out = tune(bench)
    elif args.step == "test":
        if (OUT / "test.json").exists() and not args.again:
            raise SystemExit(f"the test half was scored already ({OUT / 'test.json'})")
        out = test(bench)
    else:
        out = timing(bench, json.loads((OUT / "tune.json").read_text())["chosen_point"])
    (OUT / f"{args.step}.json").write_text(json.dumps(out, indent=1))
    brief = {k: v for k, v in out.items() if k not in ("by_setting", "rows", "examples")}
    print(json.dumps(brief, indent=1))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    raise SystemExit(main())

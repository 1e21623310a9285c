"""Two tiers instead of a hard cut (issue 12): the list decision, its wire form, its
rendering, the eval's figures for each half, and answers on the real bundled library."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from known_papers import SPECULATIVE

from assistant import Answer, Assistant
from assistant.answering.answer import SECOND_TIER_HEAD
from assistant.core.settings import RetrievalSettings, Settings
from assistant.core.types import Citation, Paper, Source
from assistant.retrieval.decision import (
    TIER_FEATURES,
    decide,
    rank_order,
    second_evidence,
    tier_features,
    tier_probability,
)
from assistant.retrieval.hits import PaperHit
from evals.runner import Question, score_answer
from evals.summary import check_floors, summarise
from evals.tune_cut import MODEL_FILE
from paperlens.cli_format import format_sources
from paperlens.web.cards import sources_html

SECOND_HEAD = "May also be relevant (an uncertain match, not part of the answer above):"
assert SECOND_HEAD == SECOND_TIER_HEAD


def sig(**cols: list[float]) -> dict[str, np.ndarray]:
    base = {
        k: [0.0] * len(next(iter(cols.values())))
        for k in (
            "score",
            "first_score",
            "dense",
            "sentence",
            "lexical",
            "title",
            "concepts",
            "bm25_rank",
            "dense_rank",
            "first_dense",
        )
    }
    base.update(cols)
    return {k: np.asarray(v, dtype=float) for k, v in base.items()}


# --- the decision, on hand-made signals ---------------------------------------------
def test_rrf_fuses_bm25_and_dense_ranks_and_a_side_that_did_not_nominate_gives_nothing():
    # Dense ranks: a 1st, b 2nd, c 3rd; BM25 nominated c first and a second, never b.
    s = sig(score=[0.3, 0.9, 0.5], dense=[0.9, 0.8, 0.7], bm25_rank=[2, 0, 1])
    assert rank_order(s, "weighted").tolist() == [1, 2, 0]
    # a: 1/61 + 1/62, c: 1/63 + 1/61, b: 1/62 alone.
    assert rank_order(s, "rrf", 60).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="unknown ranking 'bm25'"):
        rank_order(s, "bm25")


def test_features_place_each_paper_in_its_own_questions_distribution():
    s = sig(
        score=[0.8, 0.7, 0.3, 0.25],
        first_score=[0.6, 0.5, 0.2, 0.1],
        dense=[0.5, 0.6, 0.1, 0.2],
        bm25_rank=[1, 0, 2, 3],
    )
    x = tier_features(s, rank_order(s, "weighted"))
    col = {name: x[:, i] for i, name in enumerate(TIER_FEATURES)}
    assert col["rel_best"] == pytest.approx([1.0, 0.875, 0.375, 0.3125])
    assert col["above_gap"].tolist() == [1, 1, 0, 0]  # the largest drop is 0.7 -> 0.3
    assert col["gap_next"] == pytest.approx([0.1, 0.4, 0.05, 0.25])
    assert col["agree10"].tolist() == [1, 0, 1, 1]  # b was not nominated by BM25
    assert col["rank_recip"] == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4])
    assert col["best_first"].tolist() == [0.6] * 4
    with pytest.raises(ValueError, match=f"tier_weights needs {len(TIER_FEATURES) + 1} numbers"):
        tier_probability(x, [1.0, 2.0])


def _hits(scores: list[float], first_score: float, first_dense: float) -> list[PaperHit]:
    out = []
    for i, sc in enumerate(scores):
        h = PaperHit(Paper(f"p{i}", f"Paper {i}", "An abstract."), sc, 0.5, 0.5, 0.0)
        h.first_score, h.first_dense = first_score, first_dense
        out.append(h)
    return out


def _score_only(**over: object) -> RetrievalSettings:
    """Settings whose model reads the score alone: p = sigmoid(10 * score - 5)."""
    w = [0.0] * (len(TIER_FEATURES) + 1)
    w[TIER_FEATURES.index("score")], w[-1] = 10.0, -5.0
    base: dict[str, object] = dict(
        tier_weights=tuple(w),
        main_threshold=0.7,
        second_threshold=0.3,
        uncertain_threshold=0.6,
        uncertain_dense=2.0,
        floor=0.4,
        dense_floor=0.42,
        accept_rule="floor",
        list_method="model",
        second_lexical=0.1,
        second_dense=0.6,
    )
    return RetrievalSettings(**{**base, **over})


def test_decide_splits_the_main_list_and_the_second_tier_by_probability():
    hits = _hits([0.45, 0.9, 0.2, 0.6], first_score=0.5, first_dense=0.3)  # accepted: 0.5 >= floor
    main, second = decide(hits, _score_only())
    assert [h.paper.id for h in main] == ["p1", "p3"]  # p 0.98, 0.73
    assert [h.paper.id for h in second] == ["p0"]  # p 0.38; p2 (0.05) is under 0.3
    assert [h.tier for h in hits] == ["main", "main", "second", ""]
    assert [h.paper.id for h in hits] == ["p1", "p3", "p0", "p2"]  # ordered by probability


def test_a_question_not_accepted_gets_no_main_list_and_a_higher_bar_for_the_second_tier():
    hits = _hits([0.45, 0.9, 0.2, 0.6], first_score=0.3, first_dense=0.3)  # under both floors
    main, second = decide(hits, _score_only())
    assert main == []
    assert [h.paper.id for h in second] == ["p1", "p3"]  # p >= 0.6 (uncertain_threshold)
    hits = _hits([0.45, 0.9], first_score=0.3, first_dense=0.45)  # a chunk close in meaning
    assert [h.paper.id for h in decide(hits, _score_only())[0]] == ["p1"]
    # The model's own acceptance: the best candidate's probability must reach the bar.
    hits = _hits([0.45, 0.9, 0.6], first_score=0.3, first_dense=0.3)
    assert [
        h.paper.id for h in decide(hits, _score_only(accept_rule="model", accept_threshold=0.95))[0]
    ] == ["p1", "p2"]
    hits = _hits([0.45, 0.9, 0.6], first_score=0.9, first_dense=0.9)
    assert decide(hits, _score_only(accept_rule="model", accept_threshold=0.99))[0] == []


def test_without_a_main_list_a_paper_close_in_meaning_is_offered_at_the_second_tier_bar():
    # A paraphrased question: no main list; its relevant papers sit under the uncertain bar
    # (0.6) but their chunks are close to the question before feedback.
    hits = _hits([0.45, 0.9, 0.2, 0.6, 0.5], first_score=0.3, first_dense=0.2)  # under the floors
    hits[0].first_dense = 0.35  # p 0.38: over the second tier's bar (0.3), under 0.6
    hits[4].first_dense = 0.29  # p 0.50: as probable, but not close enough (uncertain_dense 0.3)
    main, second = decide(hits, _score_only(uncertain_dense=0.3))
    assert main == []
    assert [h.paper.id for h in second] == ["p1", "p3", "p0"]
    # Off (the bar alone): p0 is not offered.
    off = decide(hits, _score_only(uncertain_dense=2.0))[1]
    assert [h.paper.id for h in off] == ["p1", "p3"]
    # Closeness never lowers the bar under the second tier's own: p2 (p 0.05) stays out.
    hits[2].first_dense = 0.9
    assert "p2" not in [h.paper.id for h in decide(hits, _score_only(uncertain_dense=0.3))[1]]


def test_a_second_tier_paper_needs_shared_words_or_closeness_before_feedback():
    hits = _hits([0.45, 0.9, 0.5, 0.6], first_score=0.5, first_dense=0.3)  # p0, p2 over 0.3
    hits[0].lexical, hits[2].lexical = 0.0, 0.0
    hits[2].first_dense = 0.45  # close in meaning although no word is shared
    cfg = _score_only(second_lexical=0.0, second_dense=0.4)
    main, second = decide(hits, cfg)
    assert [h.paper.id for h in main] == ["p1", "p3"]
    assert [h.paper.id for h in second] == ["p2"]  # p0: no shared word, 0.3 < 0.4 before feedback
    assert not second_evidence(hits[[h.paper.id for h in hits].index("p0")], cfg)


def test_the_fitted_model_file_matches_the_settings_defaults():
    """The model's weights and its own thresholds are the fit's; the main list's bar and the
    second tier's evidence are now the list rule's (evals/rule_model.json, tests/test_lists.py)."""
    chosen = json.loads(MODEL_FILE.read_text())["chosen"]
    cfg = RetrievalSettings()
    assert list(cfg.tier_weights) == chosen["tier_weights"]
    for key in (
        "pool",
        "accept_rule",
        "main_threshold",
        "second_threshold",
        "uncertain_threshold",
        "uncertain_dense",
    ):
        assert getattr(cfg, key) == chosen[key], key


def model_settings(settings: Settings, **extra: object) -> Settings:
    """``settings`` with the list decided by the fitted model (method 'model'), as fitted."""
    chosen = json.loads(MODEL_FILE.read_text())["chosen"]
    fitted = {k: chosen[k] for k in ("ranking", "main_threshold", "second_lexical", "second_dense")}
    return settings.model_copy(
        update={
            "retrieval": settings.retrieval.model_copy(
                update={"list_method": "model", **fitted, **extra}
            )
        }
    )


# --- the wire form, the CLI and the UI ----------------------------------------------
def _two_tier_answer() -> Answer:
    cites = (
        Citation(1, "a", "Paper A", "A studies speculative decoding.", 0, 31, True, 0.8),
        Citation(2, "b", "Paper B", "B mentions drafts.", 0, 18, True, 0.5, tier="second"),
    )
    sources = (
        Source(1, "a", "Paper A", 0.9, 0.8, 0.7, "A studies speculative decoding."),
        Source(
            2, "b", "Paper B", 0.5, 0.5, 0.2, "B mentions drafts.", relevant=False, tier="second"
        ),
        Source(3, "c", "Paper C", 0.3, 0.3, 0.1, "C.", relevant=False, tier=""),
    )
    text = (
        "1 paper in the library addresses this:\n"
        "1. **Paper A**: A studies speculative decoding. [1]\n\n"
        f"{SECOND_HEAD}\n- **Paper B**: B mentions drafts. [2]"
    )
    return Answer("q?", text, cites, sources, "extractive")


def test_wire_form_carries_each_citation_and_source_tier():
    data = json.loads(json.dumps(_two_tier_answer().to_dict()))
    assert [c["tier"] for c in data["citations"]] == ["main", "second"]
    assert [s["tier"] for s in data["sources"]] == ["main", "second", ""]


def test_cli_sources_mark_the_second_tier_as_uncertain():
    lines = format_sources(_two_tier_answer()).splitlines()
    assert lines[0] == "[1] Paper A  (score 0.90)"
    assert (
        lines[2] == "[2] Paper B  (score 0.50)  "
        "(may also be relevant: uncertain match, not cited as an answer)"
    )
    assert lines[4] == "[3] Paper C  (score 0.30)  (considered, not cited)"


def test_ui_shows_the_second_tier_in_its_own_block_labelled_uncertain():
    papers = {
        "a": Paper("a", "Paper A", "A studies speculative decoding."),
        "b": Paper("b", "Paper B", "B mentions drafts."),
    }
    html = sources_html(_two_tier_answer(), papers, "k1")
    assert "Sources · 1 cited" in html
    main, second = html.split('<div class="pl-second">')
    assert 'id="pl-k1-1"' in main and 'id="pl-k1-2"' not in main
    assert second.startswith(
        '<div class="pl-second-head">May also be relevant <span class="pl-warn"'
    )
    assert 'id="pl-k1-2"' in second and "<mark>B mentions drafts.</mark>" in second


def test_ui_lists_the_second_tier_even_when_the_answer_quotes_none_of_it():
    # An LLM answer cites only main-list papers: the second tier still shows, with the
    # sentence that made each paper a candidate, and no "checked" badge.
    base = _two_tier_answer()
    answer = Answer(
        base.question, "Paper A studies it. [1]", base.citations[:1], base.sources, "llm"
    )
    papers = {
        "a": Paper("a", "Paper A", "A studies speculative decoding."),
        "b": Paper("b", "Paper B", "B mentions drafts."),
    }
    second = sources_html(answer, papers, "k2").split('<div class="pl-second">')[1]
    assert 'id="pl-k2-2"' in second and "B mentions drafts." in second
    assert "pl-ok" not in second and "<mark>" not in second
    assert "1 more considered" in second  # Paper C only


# --- the eval's figures -------------------------------------------------------------
def test_eval_scores_the_main_list_and_the_second_tier_apart():
    q = Question("q1", "topic", "Which papers study X?", ("a", "b"), ("p",), ())
    rec = score_answer(q, _two_tier_answer(), [], {})
    assert rec["cited"] == ["a"] and rec["second"] == ["b"]
    assert rec["list_precision"] == 1.0 and rec["list_recall"] == 0.5 and rec["both_recall"] == 1.0
    assert rec["no_paper"] is False


class FakeAlwaysSupportsJudge:
    """A fake citation judge for pure-logic tests: every cited paper supports its claim."""

    name, threshold = "offline", 0.5

    def __call__(self, claim: str, paper_ids: list[str]) -> list[float]:
        return [1.0] * len(paper_ids)


def test_eval_checks_only_the_main_lists_sentences_as_claims():
    q = Question("q1", "topic", "Which papers study X?", ("a", "b"), (), ())
    rec = score_answer(q, _two_tier_answer(), [FakeAlwaysSupportsJudge()], {})
    assert [d["claim"] for d in rec["citation"]["details"]] == ["A studies speculative decoding."]


def test_eval_summary_reports_each_half_and_floors_read_the_test_half():
    def rec(split: str, kind: str, cited: list[str], second: list[str], **kw: float) -> dict:
        return {
            "kind": kind,
            "split": split,
            "refused": not cited,
            "cited": cited,
            "second": second,
            "no_paper": not cited and not second,
            "total_ms": 1.0,
            "wall_ms": 1.0,
            "retrieval": {k: 1.0 for k in ("recall@5", "recall@10", "recall@20", "ndcg@10", "mrr")},
            **kw,
        }

    records = [
        rec("tune", "topic", ["a"], [], list_precision=1.0, list_recall=1.0, both_recall=1.0),
        rec("test", "topic", [], ["b"], list_precision=None, list_recall=0.0, both_recall=1.0),
        rec("test", "unanswerable", [], ["c"]),
    ]
    s = summarise(records, [])
    tune, test = s["splits"]["tune"], s["splits"]["test"]
    assert tune["overall"]["n"] == 1 and test["overall"]["n"] == 2
    assert (
        tune["by_kind"]["topic"]["list_recall"] == 1.0
        and test["by_kind"]["topic"]["list_recall"] == 0.0
    )
    assert (
        test["by_kind"]["topic"]["no_paper"] == 0 and test["by_kind"]["topic"]["both_recall"] == 1.0
    )
    assert test["by_kind"]["unanswerable"]["main_refusal_rate"] == 1.0
    assert test["by_kind"]["unanswerable"]["second_tier_rate"] == 1.0
    failures = check_floors(s, {"min": {"splits.test.by_kind.topic.list_recall": 0.5}})
    assert failures == ["splits.test.by_kind.topic.list_recall = 0.000, under the floor 0.500"]
    assert "by_style" not in test  # records without a style: no style groups


def test_eval_summary_and_report_give_each_question_style_per_half():
    from evals.report import halves_table

    def rec(split: str, style: str, recall: float) -> dict:
        return {
            "kind": "topic",
            "split": split,
            "style": style,
            "refused": False,
            "cited": ["a"],
            "second": [],
            "no_paper": False,
            "total_ms": 1.0,
            "wall_ms": 1.0,
            "retrieval": {k: 1.0 for k in ("recall@5", "recall@10", "recall@20", "ndcg@10", "mrr")},
            "list_precision": 1.0,
            "list_recall": recall,
            "both_recall": recall,
        }

    records = [
        rec("tune", "keyword", 1.0),
        rec("test", "descriptive", 0.25),
        rec("test", "keyword", 0.75),
    ]
    s = summarise(records, [])
    test = s["splits"]["test"]["by_style"]
    assert test["descriptive"]["list_recall"] == 0.25 and test["keyword"]["list_recall"] == 0.75
    assert set(s["splits"]["tune"]["by_style"]) == {"keyword"}
    table = "\n".join(halves_table(s))
    assert "| style descriptive (n 0/1) |" in table


# --- answers on the real bundled library --------------------------------------------
@pytest.fixture(scope="module")
def bot(bundled_library) -> Assistant:
    settings, _ = bundled_library
    return Assistant(model_settings(settings))


def test_second_tier_is_shown_apart_and_never_cited_as_support(bot):
    bot.reset()
    answer = bot.ask("Which papers study speculative decoding?", mode="extractive")
    lines = answer.text.splitlines()
    assert SECOND_HEAD in lines, answer.text
    head = lines.index(SECOND_HEAD)
    main = {c.n for c in answer.citations if c.tier == "main"}
    second = {c.n for c in answer.citations if c.tier == "second"}
    assert main and second and not main & second
    for i, line in enumerate(lines):
        ns = {int(n) for n in re.findall(r"\[(\d+)\]", line)}
        assert ns <= (main if i < head else second), (i, line)
    by_n = {s.n: s for s in answer.sources}
    assert all(by_n[n].tier == "second" and not by_n[n].relevant for n in second)
    assert all(by_n[n].tier == "main" and by_n[n].relevant for n in main)
    papers = bot.retriever.papers
    for c in answer.citations:  # each second-tier line quotes the sentence that made it a candidate
        assert papers[c.paper_id].abstract[c.start : c.end] == c.quote
    assert {c.paper_id for c in answer.citations} & SPECULATIVE == SPECULATIVE


def test_when_strict_evidence_fails_the_closest_papers_are_offered_as_uncertain(bundled_library):
    settings, _ = bundled_library
    strict = model_settings(settings, main_threshold=1.0)
    answer = Assistant(strict).ask("Which papers study speculative decoding?", mode="extractive")
    assert not answer.answerable
    assert answer.text.startswith(
        "No paper in the library clearly addresses this. These may be relevant (an uncertain "
        "match: "
        "check them before relying on them):"
    ), answer.text
    assert "The library has no paper" not in answer.text
    assert answer.citations and all(c.tier == "second" for c in answer.citations)
    assert len({c.paper_id for c in answer.citations} & SPECULATIVE) >= 3


ZEOLITE = "Zeolite Catalysts for Ammonia Synthesis"


def test_a_tiny_librarys_second_tier_offers_no_unrelated_paper(small_library, embedder, tmp_path):
    """Five papers on language models and retrieval plus one on zeolites: the zeolite
    question lists the zeolite paper and offers no LLM-agents paper as "may also be
    relevant" (it was, at probability 0.07: the best of a bad lot after feedback)."""
    from ingest import ingest

    settings, _, _ = small_library
    extra = tmp_path / "zeolite.jsonl"
    extra.write_text(
        json.dumps(
            {
                "title": ZEOLITE,
                "abstract": "We screen zeolite catalysts for ammonia synthesis at low pressure. "
                "The best zeolite catalysts double the ammonia yield of iron catalysts.",
            }
        ),
        encoding="utf-8",
    )
    ingest([extra], settings, embedder=embedder)
    answer = Assistant(settings, embedder=embedder).ask(
        "Which papers study zeolite catalysts for ammonia synthesis?", mode="extractive"
    )
    assert [c.title for c in answer.citations if c.tier == "main"] == [ZEOLITE]
    assert [s.title for s in answer.sources if s.tier == "second"] == []
    assert "Planning with Tool-Using Language Agents" not in answer.text

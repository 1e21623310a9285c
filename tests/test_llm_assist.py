"""LLM-assisted retrieval (issue 14): the rewrite, the judging and the combination rule.

The decision rule is tested deterministically: on hand-built candidates (`combine`), and
end to end through `Assistant` against `FakeLLM` (tests/fake_llm.py, a FAKE scripted
OpenAI-compatible server) whose judge names the papers a test chooses. The wiring with a
real model (rewrite + judge + answer through llama.cpp's SmolLM2) is in the ``llm`` tests
at the end: they assert structure, not the tiny model's judgement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fake_llm import FOREVER, FakeLLM, Reply

from assistant import Assistant, Settings
from assistant.answering.respond import complete_list
from assistant.core.types import Citation, Paper, Sentence
from assistant.retrieval.hits import PaperHit, Retrieval
from assistant.retrieval.llm_assist import JudgeReply, LLMUsage, RewriteReply, parse_reply
from assistant.retrieval.llm_combine import combine, extra_candidates, judge_pool

REWRITE_KEY = "help search a library"
JUDGE_KEY = "judge which research papers"
ANSWER_KEY = "You are paperlens"


# -- hand-built candidates -------------------------------------------------------------
def hit(
    pid: str,
    prob: float,
    tier: str = "",
    *,
    lexical: float = 0.3,
    quote: bool = True,
    first_dense: float = 0.5,
) -> PaperHit:
    text = f"We study topic {pid} in depth."
    paper = Paper(pid, f"Paper {pid}", text)
    h = PaperHit(paper, prob, 0.5, lexical, 1.0, prob=prob, tier=tier, first_dense=first_dense)
    if quote:
        h.sentences = [Sentence(pid, 0, 0, len(text), text)]
        h.sentence_scores = np.asarray([0.5], dtype=np.float32)
    return h


def retrieval(main: list[PaperHit], second: list[PaperHit], rest: list[PaperHit]) -> Retrieval:
    hits = [*main, *second, *rest]
    return Retrieval(
        "q", ["q"], np.zeros(4, dtype=np.float32), hits, list(main), {}, second=list(second)
    )


def ids(hs: list[PaperHit]) -> list[str]:
    return [h.paper.id for h in hs]


# The combination rule's unit tests read the offline tiers' evidence bars as the 17-feature
# model fitted them (the list rule turns the lexical route into the second tier off).
SETTINGS = Settings(retrieval={"list_method": "model", "second_lexical": 0.1, "second_dense": 0.6})
# Negative controls: judged candidates the offline evidence rules out (under
# llm.control_prob); a judge must reject them for its "relevant" to count.
NO = {"far1": False, "far2": False}


def far() -> list[PaperHit]:
    return [hit("far1", 0.01), hit("far2", 0.02)]


def test_llm_promotes_a_second_tier_paper_with_evidence_and_demotes_an_unsure_one():
    sure, unsure = hit("sure", 0.95, "main"), hit("unsure", 0.7, "main")
    backed, weak = hit("backed", 0.4, "second"), hit("weak", 0.1, "second")
    base = retrieval([sure, unsure], [backed, weak], [hit("mid", 0.4), *far()])
    verdicts = {"sure": True, "unsure": False, "backed": True, "weak": True, "mid": True, **NO}
    got = combine(base, [], verdicts, SETTINGS)
    # "weak" is under llm.promote_prob (0.25); "mid" was never in a tier: neither is promoted.
    assert ids(got.main) == ["sure", "backed"]
    assert ids(got.second) == ["unsure", "weak"]
    assert got.changes() == {"added": ["backed"], "removed": ["unsure"], "second_added": []}
    assert [h.tier for h in got.main] == ["main", "main"]
    assert got.notices() == [
        "The LLM added to the list (it was 'may also be relevant'): 'Paper backed'.",
        "The LLM judged off-topic, moved to 'may also be relevant': 'Paper unsure'.",
    ]


def test_a_judge_that_calls_everything_relevant_moves_nothing():
    # What the 1.5B does with near-misses: it also calls the ruled-out papers relevant.
    base = retrieval(
        [hit("sure", 0.95, "main"), hit("unsure", 0.7, "main")], [hit("s", 0.4, "second")], far()
    )
    got = combine(base, [], {h.paper.id: True for h in base.hits}, SETTINGS)
    assert ids(got.main) == ["sure", "unsure"] and ids(got.second) == ["s"]
    assert got.changes() == {"added": [], "removed": [], "second_added": []}
    assert got.notices() == [
        "The LLM judged relevant 2 of 2 papers the offline evidence rules "
        "out; its judgments were not used."
    ]


def test_a_judge_that_rejects_a_sure_paper_moves_nothing():
    base = retrieval(
        [hit("sure", 0.95, "main"), hit("unsure", 0.7, "main")], [hit("s", 0.4, "second")], far()
    )
    got = combine(base, [], {"sure": False, "unsure": False, "s": True, **NO}, SETTINGS)
    assert ids(got.main) == ["sure", "unsure"] and not got.promoted
    assert got.notices() == [
        "The LLM judged off-topic 1 paper(s) the offline evidence is sure "
        "of; its judgments were not used."
    ]


def test_without_a_sure_paper_the_llm_may_promote_but_not_demote():
    # A judge that calls nothing relevant would otherwise empty an unsure main list.
    base = retrieval(
        [hit("m1", 0.7, "main"), hit("m2", 0.6, "main")], [hit("s", 0.4, "second")], far()
    )
    got = combine(base, [], {"m1": False, "m2": False, "s": True, **NO}, SETTINGS)
    assert ids(got.main) == ["m1", "m2", "s"] and not got.demoted


def test_llm_cannot_give_a_question_without_a_main_list_one():
    # A near-miss unanswerable: offline, no main list; even a judge that passes the
    # controls cannot turn the refusal into an answer.
    base = retrieval([], [hit("near", 0.6, "second")], [hit("other", 0.3), *far()])
    got = combine(base, [], {"near": True, "other": True, **NO}, SETTINGS)
    assert got.main == [] and ids(got.second) == ["near"] and not got.promoted


def test_promotion_needs_a_supporting_sentence_and_is_capped():
    base = retrieval(
        [hit("m", 0.9, "main")],
        [
            hit("a", 0.5, "second"),
            hit("b", 0.45, "second"),
            hit("c", 0.4, "second"),
            hit("mute", 0.6, "second", quote=False),
        ],
        far(),
    )
    verdicts = {p: True for p in ("m", "a", "b", "c", "mute")} | NO
    got = combine(base, [], verdicts, SETTINGS)
    assert ids(got.promoted) == ["a", "b"]  # llm.max_promoted = 2, best offline first
    assert ids(got.second) == ["c", "mute"]


def test_nothing_leaves_the_answer_and_unjudged_papers_do_not_move():
    base = retrieval(
        [hit("sure", 0.9, "main"), hit("m1", 0.7, "main"), hit("m2", 0.6, "main")],
        [hit("s1", 0.3, "second"), hit("s2", 0.3, "second")],
        far(),
    )
    got = combine(base, [], {"sure": True, "m1": False, "s1": False, **NO}, SETTINGS)
    assert ids(got.main) == ["sure", "m2"]
    assert set(ids(got.second)) == {"m1", "s1", "s2"}


def test_rewrite_candidates_join_only_the_second_tier_with_evidence():
    base = retrieval([hit("m", 0.9, "main")], [], far())
    found = [
        hit("new", 0.99),
        hit("bare", 0.99, lexical=0.0, first_dense=0.1),
        hit("mute", 0.99, quote=False),
        hit("no", 0.99),
    ]
    verdicts = {"m": True, "new": True, "bare": True, "mute": True, "no": False, **NO}
    got = combine(base, found, verdicts, SETTINGS)
    assert ids(got.main) == ["m"]
    assert ids(got.added) == ["new"] and ids(got.second) == ["new"]
    assert got.changes()["second_added"] == ["new"]


def test_judge_pool_puts_the_offline_tiers_first_then_alternates():
    main, second = [hit("m", 0.9, "main")], [hit("s", 0.3, "second")]
    rest = [hit(f"r{i}", 0.01) for i in range(3)]
    extra = [hit("x0", 0.5), hit("r1", 0.5), hit("x1", 0.5)]
    pool = judge_pool(retrieval(main, second, rest), extra, 6)
    assert ids(pool) == ["m", "s", "r0", "x0", "r1", "r2"]  # r1 once; x1 is 7th


def test_extra_candidates_are_those_only_the_rewrite_found():
    base = retrieval([hit("m", 0.9, "main")], [], [hit("r", 0.1)])
    fused = retrieval([], [], [hit("y", 0.5), hit("m", 0.5), hit("x", 0.5), hit("r", 0.5)])
    assert ids(extra_candidates(base, fused)) == ["y", "x"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"relevant": [1, 3]}', [1, 3]),
        ('```json\n{"relevant": [2]}\n```', [2]),
        ('Sure! {"relevant": []} Hope this helps.', []),
        ('{"relevant": "1, 3"}', None),
        ("[1, 3]", None),
        ("", None),
    ],
)
def test_judge_replies_are_validated(text: str, expected: list[int] | None):
    got = parse_reply(text, JudgeReply)
    assert (got.relevant if got is not None else None) == expected


def test_rewrite_reply_keeps_short_nonblank_queries():
    got = parse_reply(
        '{"queries": ["  weight  quantization ", "", "x' + "y" * 300 + '"]}', RewriteReply
    )
    assert got is not None and got.queries[0] == "weight quantization"
    assert len(got.queries) == 2 and len(got.queries[1]) == 200 and got.abstract == ""


def test_complete_list_adds_uncited_main_papers_and_keeps_the_second_tier():
    from assistant.answering.answer import SECOND_TIER_HEAD

    def cite(n: int, tier: str = "main") -> Citation:
        return Citation(n, f"p{n}", f"T{n}", f"quote {n}", 0, 7, True, tier=tier)

    draft = "\n".join(
        [
            "2 papers in the library address this:",
            "1. **T1**: quote 1 [1]",
            "2. **T2**: quote 2 [2]",
            "",
            SECOND_TIER_HEAD,
            "- **T3**: quote 3 [3]",
        ]
    )
    text, cites = complete_list(
        "T1 does it [1].", [cite(1)], draft, [cite(1), cite(2), cite(3, "second")], [1, 2]
    )
    assert text == (
        "T1 does it [1].\n\nAlso in the list:\n2. **T2**: quote 2 [2]\n\n"
        f"{SECOND_TIER_HEAD}\n- **T3**: quote 3 [3]"
    )
    assert [(c.n, c.tier) for c in cites] == [(1, "main"), (2, "main"), (3, "second")]


def test_usage_sums_steps():
    from assistant.llm.client import Completion

    usage = LLMUsage()
    usage.add("judging", Completion("{}", 100, 10, 1.5))
    usage.add("judging", Completion("{}", 50, 5, 0.5))
    usage.add("answer", seconds=2.0, prompt_tokens=300, completion_tokens=40)
    got = usage.to_dict()
    assert (got["calls"], got["prompt_tokens"], got["completion_tokens"]) == (3, 450, 55)
    assert got["seconds"] == 4.0 and got["steps"]["judging"]["calls"] == 2


# -- end to end through Assistant, against the FAKE scripted server ---------------------
QUESTION = "Which papers study dense retrieval of passages?"
DPR = "Dense Passage Retrieval for Scientific Question Answering"
HYBRID = "Lexical and Dense Hybrid Ranking"
ABSTENTION = "Calibrated Abstention for Retrieval-Augmented Generation"
AGENTS = "Planning with Tool-Using Language Agents"
# A sentence of DPR's abstract, cited as [1]: the verifier accepts it.
DPR_ANSWER = (
    "A bi-encoder trained on citation contexts retrieves the abstracts that answer a question [1]."
)


def rewrite(*queries: str) -> Reply:
    return Reply(text=json.dumps({"queries": list(queries), "abstract": ""}))


def judge_naming(*titles: str) -> Callable[[dict[str, Any]], Reply]:
    """A scripted judge: the candidates it is shown whose titles are ``titles`` are relevant."""

    def reply(request: dict[str, Any]) -> Reply:
        shown = re.findall(r'<source n="(\d+)">(.*?): ', request["messages"][-1]["content"])
        return Reply(text=json.dumps({"relevant": [int(n) for n, t in shown if t in titles]}))

    return reply


def assisted(settings: Settings, url: str, embedder: Any, **llm: Any) -> Assistant:
    values = {
        "model": "fake",
        "timeout": 5.0,
        "max_retries": 0,
        "hypothetical_abstract": False,
        # These scenarios test the bounded rule (issue 14); a trusted judge deciding the
        # lists (llm.decide "judge") has its own tests below.
        "decide": "bounded",
        **llm,
    }
    s = settings.model_copy(
        update={"openai_base_url": url, "llm": settings.llm.model_copy(update=values)}
    )
    return Assistant(s, embedder=embedder)


@pytest.fixture
def scenario(small_library) -> Settings:
    """The fixture corpus with the offline outcome these scenarios are written on: DPR sure
    in the main list, the abstention paper in it but unsure, the hybrid paper second, the
    agents and sparse-denoiser papers in neither tier (the judge's negative controls).

    The fitted defaults move with each refit on the tuning half (the refit to config
    1c7cfdcfdd40 lowered the second tier's bar to 0.005, which offers the sparse-denoiser
    paper, sharing "dense", as "may also be relevant"); the scenarios pin the bar they
    were written for, so they keep testing the combination rule, not the fit.
    """
    settings, _, _ = small_library
    # Written on the 17-feature model's tiers (list_method "model", its fitted second-tier
    # evidence), which the combination rule reads: the list rule offers no second tier here.
    model = {
        "list_method": "model",
        "second_threshold": 0.05,
        "second_lexical": 0.1,
        "second_dense": 0.6,
        "main_threshold": 0.625,
    }
    return settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update=model)})


def main_titles(answer: Any) -> list[str]:
    return [s.title for s in answer.sources if s.tier == "main"]


def second_titles(answer: Any) -> list[str]:
    return [s.title for s in answer.sources if s.tier == "second"]


def test_judgments_that_add_and_remove_reach_the_answer(scenario, embedder):
    settings = scenario
    offline = Assistant(settings, embedder=embedder).ask(QUESTION, mode="extractive")
    # Offline: DPR (sure) and the abstention paper in the list, the hybrid one second.
    assert main_titles(offline) == [DPR, ABSTENTION] and second_titles(offline) == [HYBRID]
    routes = {
        REWRITE_KEY: [rewrite("dense passage retrieval")],
        JUDGE_KEY: judge_naming(DPR, HYBRID),
        ANSWER_KEY: [Reply(text=DPR_ANSWER)],
    }
    with FakeLLM([Reply()], routes) as ep:
        answer = assisted(settings, ep.url, embedder).ask(QUESTION)
    ids_of = {s.title: s.paper_id for s in offline.sources}
    assert answer.mode == "llm"
    assert main_titles(answer) == [DPR, HYBRID] and second_titles(answer) == [ABSTENTION]
    assert answer.llm_changes == {
        "added": [ids_of[HYBRID]],
        "removed": [ids_of[ABSTENTION]],
        "second_added": [],
    }
    assert (
        f"The LLM added to the list (it was 'may also be relevant'): '{HYBRID}'." in answer.notices
    )
    assert (
        f"The LLM judged off-topic, moved to 'may also be relevant': '{ABSTENTION}'."
        in answer.notices
    )
    # The LLM wrote about DPR only: the judged list is completed with the hybrid paper's
    # quoted line, every citation verified; the abstention paper is quoted as second tier.
    cited = {c.title: c.tier for c in answer.citations}
    assert cited == {DPR: "main", HYBRID: "main", ABSTENTION: "second"}
    assert all(c.verified for c in answer.citations)
    assert "Also in the list:\n2. **Lexical and Dense Hybrid Ranking**" in answer.text
    usage = answer.llm_usage
    assert {k: usage["steps"][k]["calls"] for k in usage["steps"]} == {
        "rewrite": 1,
        "judging": 1,
        "answer": 1,
    }
    assert usage["calls"] == 3 and usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert answer.to_dict()["llm_changes"] == answer.llm_changes
    # The rewrite saw the question only: no title or abstract text of any paper.
    sent = json.dumps(ep.requests[0]["messages"])
    assert REWRITE_KEY in sent and all(t not in sent for t in (DPR, HYBRID, ABSTENTION))


def test_a_judge_calling_every_candidate_relevant_changes_no_list(scenario, embedder):
    # The 1.5B model's failure mode, end to end: its verdicts fail the control papers.
    settings = scenario
    offline = Assistant(settings, embedder=embedder).ask(QUESTION, mode="extractive")
    every = judge_naming(
        DPR, HYBRID, ABSTENTION, AGENTS, "Sparse Denoisers for Fast Diffusion Sampling"
    )
    routes = {REWRITE_KEY: [rewrite()], JUDGE_KEY: every, ANSWER_KEY: [Reply(text="")]}
    with FakeLLM([Reply()], routes) as ep:
        answer = assisted(settings, ep.url, embedder).ask(QUESTION)
    assert ep.route_calls[JUDGE_KEY] == 1
    assert main_titles(answer) == main_titles(offline)
    assert second_titles(answer) == second_titles(offline)
    assert answer.llm_changes == {"added": [], "removed": [], "second_added": []}
    assert (
        "The LLM judged relevant 2 of 2 papers the offline evidence rules out; its "
        "judgments were not used."
    ) in answer.notices


def test_invalid_judgments_are_retried_once_then_ignored(scenario, embedder):
    settings = scenario
    offline = Assistant(settings, embedder=embedder).ask(QUESTION, mode="extractive")
    routes = {
        REWRITE_KEY: [rewrite()],
        ANSWER_KEY: [Reply(text="")],
        JUDGE_KEY: [Reply(text="Paper 1 is relevant."), Reply(text='{"relevant": [9]}')],
    }
    with FakeLLM([Reply()], routes) as ep:
        answer = assisted(settings, ep.url, embedder).ask(QUESTION)
    assert ep.route_calls[JUDGE_KEY] == 2  # one retry, no more
    assert main_titles(answer) == main_titles(offline)
    assert second_titles(answer) == second_titles(offline)
    assert answer.llm_changes == {}
    assert "The LLM's judging reply was not the JSON asked for, twice; it was ignored." in (
        answer.notices
    )
    assert answer.llm_usage["steps"]["judging"]["calls"] == 2


def test_an_invalid_judgment_retried_into_a_valid_one_counts(scenario, embedder):
    settings = scenario
    routes = {
        REWRITE_KEY: [rewrite()],
        ANSWER_KEY: [Reply(text="")],
        JUDGE_KEY: [Reply(text="{not json"), Reply(text='{"relevant": [1]}')],
    }
    with FakeLLM([Reply()], routes) as ep:
        answer = assisted(settings, ep.url, embedder).ask(QUESTION)
    # Candidate 1 is DPR (the offline list first): the abstention paper, unsure and not
    # named, moves to the second tier.
    assert ep.route_calls[JUDGE_KEY] == 2
    assert main_titles(answer) == [DPR] and ABSTENTION in second_titles(answer)


def test_a_hanging_judge_leaves_the_offline_list_within_the_budget(scenario, embedder):
    settings = scenario
    offline = Assistant(settings, embedder=embedder).ask(QUESTION, mode="extractive")
    routes = {
        REWRITE_KEY: [rewrite()],
        JUDGE_KEY: [Reply(hang=FOREVER)],
        ANSWER_KEY: [Reply(text=DPR_ANSWER)],
    }
    with FakeLLM([Reply()], routes) as ep:
        answer = assisted(settings, ep.url, embedder, question_budget_s=4.0).ask(QUESTION)
    assert main_titles(answer) == main_titles(offline) and answer.llm_changes == {}
    notice = next(n for n in answer.notices if n.startswith("The LLM's judging failed"))
    assert notice.endswith("; the offline list stands.") and "\n" not in notice
    assert ep.route_calls[ANSWER_KEY] == 1  # the answer still had its turn


def test_an_endpoint_failing_the_rewrite_is_not_asked_to_judge(scenario, embedder):
    settings = scenario
    routes = {
        REWRITE_KEY: [Reply(503)],
        JUDGE_KEY: judge_naming(DPR),
        ANSWER_KEY: [Reply(text=DPR_ANSWER)],
    }
    with FakeLLM([Reply()], routes) as ep:
        answer = assisted(settings, ep.url, embedder).ask(QUESTION)
    assert ep.route_calls == {REWRITE_KEY: 1, JUDGE_KEY: 0, ANSWER_KEY: 1}
    notice = next(n for n in answer.notices if n.startswith("The LLM's rewrite failed"))
    assert "failed with HTTP 503" in notice and notice.endswith("; the offline list stands.")
    assert answer.mode == "llm" and answer.llm_changes == {}


def test_papers_found_by_the_rewrite_join_only_the_second_tier(scenario, embedder):
    settings = scenario
    # One nominee per side, so that the rewrite's queries find papers the question did not.
    narrow = settings.model_copy(
        update={"retrieval": settings.retrieval.model_copy(update={"dense_k": 1, "lexical_k": 1})}
    )
    offline = Assistant(narrow, embedder=embedder).ask(QUESTION, mode="extractive")
    assert HYBRID not in [s.title for s in offline.sources]
    assert AGENTS not in [s.title for s in offline.sources]
    routes = {
        REWRITE_KEY: [
            rewrite("lexical and dense hybrid ranking", "planning with tool-using language agents")
        ],
        JUDGE_KEY: judge_naming(DPR, HYBRID, AGENTS),
        ANSWER_KEY: [Reply(text="")],
    }
    with FakeLLM([Reply()], routes) as ep:
        # So few candidates leave no negative control: trust the judge without (0).
        answer = assisted(narrow, ep.url, embedder, control_min=0).ask(QUESTION)
    # Both found papers were judged relevant; the hybrid one shares the question's terms,
    # the agents paper has no evidence for the question itself: only the first is added,
    # and only as "may also be relevant".
    assert main_titles(answer) == main_titles(offline)
    assert HYBRID in second_titles(answer) and AGENTS not in second_titles(answer)
    hybrid = next(s.paper_id for s in answer.sources if s.title == HYBRID)
    assert answer.llm_changes["second_added"] == [hybrid]


def test_a_near_miss_gets_no_main_list_from_a_judge_that_says_yes_to_all(scenario, embedder):
    settings = scenario
    question = "Which papers study protein folding?"
    routes = {
        REWRITE_KEY: [rewrite("protein structure prediction")],
        JUDGE_KEY: judge_naming(
            DPR, HYBRID, ABSTENTION, AGENTS, "Sparse Denoisers for Fast Diffusion Sampling"
        ),
        ANSWER_KEY: [Reply(text=DPR_ANSWER)],
    }
    with FakeLLM([Reply()], routes) as ep:
        answer = assisted(settings, ep.url, embedder).ask(question)
    assert main_titles(answer) == [] and not [c for c in answer.citations if c.tier == "main"]
    assert answer.llm_changes["added"] == []
    assert ep.route_calls[ANSWER_KEY] == 0  # nothing to answer from: no answer call


def test_extractive_mode_makes_no_llm_call(scenario, embedder):
    settings = scenario
    with FakeLLM([Reply()]) as ep:
        answer = assisted(settings, ep.url, embedder).ask(QUESTION, mode="extractive")
    assert ep.calls == 0 and answer.llm_usage == {} and answer.llm_changes == {}


# -- a trusted judge decides the lists (llm.decide "judge", issue 25) -------------------
JUDGE = Settings().llm.model_copy(
    update={
        "judge_floor": 0.1,
        "judge_evidence": "prob",
        "keep_prob": 0.9,
        "control_yes_max": 0.3,
        "far_wrong_max": 0,
        "control_min": 2,
    }
)


@pytest.mark.parametrize(
    ("title_ok", "far", "controls", "trusted"),
    [
        (True, [False, False], [False, False, False, True], True),  # a judge that passes
        (True, [True, True], [True, True, True], False),  # always yes: far papers
        (False, [False, False], [False, False, False], False),  # always no: the title check
        (False, [True, True], [True, True, False], False),  # inverted: both
        (True, [False, False], [True, True, False, True], False),  # coin: the controls
        (None, [], [False], False),  # nothing could be checked
    ],
)
def test_the_checks_trust_only_a_judge_that_passes_them(title_ok, far, controls, trusted):
    from assistant.retrieval.llm_decide import probe_trust

    trust = probe_trust(title_ok, far, controls, JUDGE)
    assert trust.yes is trusted and trust.no is trusted
    assert (trust.reason == "") is trusted
    if not trusted:
        assert trust.reason.startswith("The LLM's judgments were not used: ")


def _arrays(prob: list[float], support: list[bool] | None = None) -> dict[str, np.ndarray]:
    n = len(prob)
    return {
        "prob": np.asarray(prob),
        "first_score": np.asarray(prob),
        "score": np.asarray(prob),
        "support": np.asarray(support if support is not None else [True] * n),
        "has_evidence": np.asarray([True] * n),
    }


def test_a_trusted_judge_lists_papers_without_an_offline_main_list_and_no_cap():
    from assistant.retrieval.llm_decide import judged_tiers

    prob = [0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.12, 0.05, 0.01]
    verdict = {i: i != 1 and i < 8 for i in range(10)}
    verdict[9] = True  # judged relevant, but no offline evidence at all (under the floor)
    main, second, removed = judged_tiers(range(10), [], [1], verdict, _arrays(prob), JUDGE, 5)
    assert main == [0, 2, 3, 4, 5, 6, 7]  # seven papers: no fixed count
    assert second == [9] and removed == []  # the rejected second-tier paper is gone


def test_a_judged_irrelevant_paper_leaves_the_main_list_unless_the_offline_model_is_sure():
    from assistant.retrieval.llm_decide import judged_tiers

    prob = [0.95, 0.6, 0.5]
    verdict = {0: False, 1: False, 2: True}
    main, _, removed = judged_tiers(range(3), [0, 1], [], verdict, _arrays(prob), JUDGE, 5)
    assert main == [0, 2] and removed == [1]


def test_a_judged_paper_needs_a_sentence_to_quote():
    from assistant.retrieval.llm_decide import judged_tiers

    arrays = _arrays([0.5, 0.5], support=[False, True])
    main, _, _ = judged_tiers(range(2), [], [], {0: True, 1: True}, arrays, JUDGE, 5)
    assert main == [1]


def test_the_judge_settings_are_the_ones_tuned_on_the_tuning_half():
    from pathlib import Path

    chosen = json.loads(
        (Path(__file__).resolve().parent.parent / "evals" / "judge_model.json").read_text()
    )["settings"]
    cfg = Settings().llm
    assert cfg.decide == "judge"
    for key, value in chosen.items():
        assert getattr(cfg, key) == value, key


def checking_judge(*titles: str, check: bool = True) -> Callable[[dict[str, Any]], Reply]:
    """A scripted judge that passes the checks: the candidates titled ``titles`` are
    relevant, and it names the paper the check question asks for (when ``check``)."""

    def reply(request: dict[str, Any]) -> Reply:
        user = request["messages"][-1]["content"]
        shown = re.findall(r'<source n="(\d+)">(.*?): ', user)
        out: dict[str, list[int]] = {"relevant": [int(n) for n, t in shown if t in titles]}
        asked = re.search(r"Check question: Which paper is titled '(.*)'\?", user)
        if asked and check:
            out["check"] = [int(n) for n, t in shown if t == asked.group(1)]
        return Reply(text=json.dumps(out))

    return reply


def _unsure(settings: Settings) -> Settings:
    """``settings`` with acceptance bars no question reaches: offline, no main list."""
    never = {"list_method": "rule", "floor": 0.99, "dense_floor": 0.99}
    return settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update=never)})


def test_a_trusted_judge_answers_a_question_the_offline_model_has_no_list_for(
    small_library, embedder
):
    settings = _unsure(small_library[0])
    offline = Assistant(settings, embedder=embedder).ask(QUESTION, mode="extractive")
    assert main_titles(offline) == [] and not offline.answerable
    routes = {
        REWRITE_KEY: [rewrite()],
        JUDGE_KEY: checking_judge(DPR, HYBRID),
        ANSWER_KEY: [Reply(text="")],
    }
    with FakeLLM([Reply()], routes) as ep:
        bot = assisted(settings, ep.url, embedder, decide="judge", judge_floor=0.0)
        answer = bot.ask(QUESTION)
    assert answer.answerable and set(main_titles(answer)) == {DPR, HYBRID}
    assert answer.text.startswith("2 papers in the library address this, as judged by the LLM")
    assert all(c.verified for c in answer.citations if c.tier == "main")
    assert {s.title for s in answer.sources if s.tier == "main"} == {DPR, HYBRID}
    assert sorted(answer.llm_changes["added"]) == sorted(
        s.paper_id for s in answer.sources if s.tier == "main"
    )
    sent = ep.requests[1]["messages"][-1]["content"]
    assert "Check question: Which paper is titled '" in sent


def test_a_judged_paper_below_the_scored_ones_gets_its_sentences_and_is_listed(
    small_library, embedder
):
    """The offline decision scores the sentences of its top ``sentence_papers`` only; a
    judge reads further down, and a paper it lists there needs a sentence to quote."""
    settings = _unsure(small_library[0])
    settings = settings.model_copy(
        update={"retrieval": settings.retrieval.model_copy(update={"sentence_papers": 1})}
    )
    routes = {
        REWRITE_KEY: [rewrite()],
        JUDGE_KEY: checking_judge(DPR, HYBRID),
        ANSWER_KEY: [Reply(text="")],
    }
    with FakeLLM([Reply()], routes) as ep:
        answer = assisted(settings, ep.url, embedder, decide="judge", judge_floor=0.0).ask(QUESTION)
    assert set(main_titles(answer)) == {DPR, HYBRID}
    quoted = {c.title for c in answer.citations if c.tier == "main" and c.verified}
    assert quoted == {DPR, HYBRID}


@pytest.mark.parametrize(
    "judge",
    [
        "no-check",  # names the right papers but ignores the check question
        "yes-to-all",  # calls every candidate relevant and names them all for the check
        "endpoint-down",
    ],
)
def test_a_judge_that_fails_its_checks_leaves_the_offline_lists(scenario, embedder, judge):
    settings = scenario
    offline = Assistant(settings, embedder=embedder).ask(QUESTION, mode="extractive")
    every = [DPR, HYBRID, ABSTENTION, AGENTS, "Sparse Denoisers for Fast Diffusion Sampling"]
    scripted: Any = {
        "no-check": checking_judge(DPR, check=False),
        "yes-to-all": judge_naming(*every),
        "endpoint-down": [Reply(status=500)] * 4,
    }[judge]
    routes = {REWRITE_KEY: [rewrite()], JUDGE_KEY: scripted, ANSWER_KEY: [Reply(text="")]}
    with FakeLLM([Reply()], routes) as ep:
        answer = assisted(settings, ep.url, embedder, decide="judge").ask(QUESTION)
    assert main_titles(answer) == main_titles(offline)
    assert second_titles(answer) == second_titles(offline)
    assert not answer.llm_changes or not any(answer.llm_changes.values())
    if judge != "endpoint-down":
        assert any(n.startswith("The LLM's judgments were not used: ") for n in answer.notices)


# -- wiring with a real model (llama.cpp serving SmolLM2-135M) ------------------------
@pytest.mark.llm
def test_rewrite_judge_and_answer_run_end_to_end_on_a_real_server(scenario, embedder, llama):
    settings = scenario
    offline = Assistant(settings, embedder=embedder).ask(QUESTION, mode="extractive")
    llm = {"model": "smollm2", "max_tokens": 64, "timeout": 60.0, "max_retries": 1}
    s = settings.model_copy(
        update={"openai_base_url": f"{llama.url}/v1", "llm": settings.llm.model_copy(update=llm)}
    )
    answer = Assistant(s, embedder=embedder).ask(QUESTION)
    steps = answer.llm_usage["steps"]
    # The real server reports token usage for the JSON calls; the judge ran once (5 papers).
    assert steps["rewrite"]["calls"] in (1, 2) and steps["judging"]["calls"] in (1, 2)
    assert steps["judging"]["prompt_tokens"] > 0 and steps["rewrite"]["prompt_tokens"] > 0
    assert answer.llm_usage["calls"] == sum(v["calls"] for v in steps.values())
    assert answer.mode in ("llm", "extractive") and answer.citations
    assert all(c.verified for c in answer.citations)
    # Whatever the tiny model judged, the rule held: the sure paper stayed, no paper was
    # invented, and every change is recorded and said.
    before = {x.paper_id: x.tier for x in offline.sources}
    after = {x.paper_id: x.tier for x in answer.sources if x.tier}
    assert set(after) <= set(before)
    sure = offline.sources[0].paper_id  # DPR, offline probability 0.99
    assert after[sure] == "main"
    changes = answer.llm_changes or {"added": [], "removed": [], "second_added": []}
    assert all(before[p] == "second" and after[p] == "main" for p in changes["added"])
    assert all(before[p] == "main" and after[p] == "second" for p in changes["removed"])
    assert bool(changes["added"]) == any(n.startswith("The LLM added") for n in answer.notices)

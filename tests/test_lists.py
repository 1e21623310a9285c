"""The list rule (`assistant.retrieval.decision.rule_tiers`) and the answers it gives to questions
asked in a researcher's own words: an accepted question's list is headed by the paper the
ranking trusts most, the wording says how sure the list is, and nothing is padded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from known_papers import SPECULATIVE

from assistant.core.settings import RetrievalSettings
from assistant.retrieval.decision import SIGNALS, rule_tiers
from ingest import paper_id

RULE_FILE = Path(__file__).resolve().parent.parent / "evals" / "rule_model.json"


def _sig(**cols: list[float]) -> dict[str, np.ndarray]:
    """Signals for a few candidates: the named columns, the rest zero (ranks 0 = not nominated)."""
    n = len(next(iter(cols.values())))
    return {k: np.asarray(cols.get(k, [0.0] * n), dtype=np.float64) for k in SIGNALS}


CFG = RetrievalSettings(
    list_method="rule",
    ranking="weighted",
    floor=0.4,
    dense_floor=0.5,
    gap=0.7,
    main_floor=0.0,
    rule_threshold=0.0,
    sure_floor=0.6,
    second_lexical=0.5,
    second_dense=0.55,
    second_depth=10,
    second_max=5,
)


def test_an_accepted_question_lists_the_papers_within_the_gap_of_the_best():
    sig = _sig(
        score=[0.9, 0.7, 0.5, 0.2],
        first_score=[0.65, 0.5, 0.4, 0.1],
        first_dense=[0.5, 0.4, 0.3, 0.1],
        lexical=[0.6, 0.4, 0.2, 0.0],
    )
    order, main, second, confidence = rule_tiers(sig, CFG)
    assert list(order) == [0, 1, 2, 3]
    assert main == [0, 1]  # 0.5 and 0.2 are under 0.7 of the best
    assert confidence == "sure"  # best score before feedback 0.65 >= sure_floor
    assert second == []  # paper 2: lexical 0.2 <= 0.5 and first_dense 0.3 < 0.55


def test_weaker_evidence_is_stated_as_likely_not_denied():
    sig = _sig(score=[0.6, 0.55], first_score=[0.45, 0.3], first_dense=[0.3, 0.2])
    _, main, _, confidence = rule_tiers(sig, CFG)
    assert main == [0, 1] and confidence == "likely"


def _likely_answer(n: int) -> str:
    from assistant.answering.answer import answer_list
    from assistant.core.types import Paper, Sentence
    from assistant.retrieval.hits import PaperHit, Retrieval

    hits = []
    for i in range(n):
        text = f"We study topic {i} carefully."
        hit = PaperHit(Paper(f"p{i}", f"Paper {i}", text), 0.5, 0.5, 0.1, 0.0)
        hit.sentences = [Sentence(f"p{i}", 0, 0, len(text), text)]
        hit.sentence_scores = np.asarray([0.5], dtype=np.float32)
        hits.append(hit)
    retrieval = Retrieval("q?", [], np.zeros(3), hits, hits, {}, confidence="likely")
    return answer_list("q?", retrieval).text


def test_the_hedged_wording_reads_right_for_one_paper_and_for_several():
    assert _likely_answer(1).startswith("This paper appears to address this (a moderate match")
    assert _likely_answer(3).startswith("These 3 papers appear to address this (a moderate")
    assert "in the library address" not in _likely_answer(3)


def test_the_rankings_first_paper_heads_the_list_even_under_the_other_bars():
    cfg = CFG.model_copy(update={"main_floor": 0.95})
    sig = _sig(score=[0.9, 0.88], first_score=[0.7, 0.6], first_dense=[0.5, 0.5])
    _, main, _, _ = rule_tiers(sig, cfg)
    assert main == [0]


def test_a_question_not_accepted_gets_no_list_and_only_papers_with_evidence_nearby():
    sig = _sig(
        score=[0.5, 0.45, 0.4],
        first_score=[0.3, 0.2, 0.1],
        first_dense=[0.45, 0.56, 0.2],
        lexical=[0.1, 0.0, 0.6],
    )
    _, main, second, confidence = rule_tiers(sig, CFG.model_copy(update={"dense_floor": 0.6}))
    assert main == [] and confidence == ""
    assert second == [1, 2]  # close in meaning (0.56), or sharing the question's words (0.6)


def test_the_second_tier_has_no_fixed_count():
    sig = _sig(
        score=[0.9, 0.3, 0.3, 0.3, 0.3, 0.3],
        first_score=[0.7] + [0.1] * 5,
        first_dense=[0.6] + [0.1] * 5,
    )
    assert rule_tiers(sig, CFG)[2] == []


def test_the_chosen_rule_file_matches_the_settings_defaults():
    chosen = json.loads(RULE_FILE.read_text())["chosen"]
    cfg = RetrievalSettings()
    assert cfg.list_method == "rule"
    for key, value in chosen.items():
        assert getattr(cfg, key) == value, key


# --- questions in a researcher's own words, on the real bundled library --------------
OVEROPTIMIZATION = {
    paper_id(t)
    for t in (
        "Confronting Reward Model Overoptimization with Constrained RLHF",
        "Provably Mitigating Overoptimization in RLHF: Your SFT Loss is Implicitly an "
        "Adversarial Regularizer",
        "Reward Model Ensembles Help Mitigate Overoptimization",
        "Understanding Likelihood Over-optimisation in Direct Alignment Algorithms",
    )
}
COMPUTER_AGENTS = {
    paper_id(t)
    for t in (
        "Tree Search for Language Model Agents",
        "STEVE: AStep Verification Pipeline for Computer-use Agent Training",
    )
}


def _main(answer) -> list[str]:
    return [c.paper_id for c in answer.citations if c.tier == "main"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "Which papers try to make a large language model generate text faster by letting "
            "a small model guess several tokens ahead?",
            SPECULATIVE,
        ),
        (
            "Which papers try to stop a policy from gaming a learned reward model during "
            "preference fine-tuning?",
            OVEROPTIMIZATION,
        ),
        (
            "Which papers measure how well AI agents do on realistic computer tasks?",
            COMPUTER_AGENTS,
        ),
    ],
)
def test_a_described_topic_gets_a_list_headed_by_a_relevant_paper(bot, question, expected):
    bot.reset()
    answer = bot.ask(question, mode="extractive")
    assert answer.answerable, answer.text
    assert not answer.text.startswith("No paper"), answer.text
    main = _main(answer)
    assert main and main[0] in expected, answer.text


def test_the_headline_question_described_lists_speculative_decoding_papers_first(bot):
    bot.reset()
    answer = bot.ask(
        "Which papers try to make a large language model generate text faster by letting a "
        "small model guess several tokens ahead?",
        mode="extractive",
    )
    main = _main(answer)
    assert len(set(main[:3]) & SPECULATIVE) == 3, answer.text


def test_a_topic_the_library_lacks_is_never_stated_as_covered(bot):
    """No paper in the bundled library is about the key-value cache. Its best score sits
    in the band where near misses and described topics cannot be told apart (evals/
    CALIBRATION.md), so the answer may list the nearest papers, but only in the hedged
    wording, never as "N papers in the library address this"."""
    bot.reset()
    answer = bot.ask(
        "Which papers look at shrinking the memory that the key-value cache takes when the "
        "context is very long?",
        mode="extractive",
    )
    hedged = ("These ", "This ", "The library has no paper", "No paper in the library")
    assert answer.text.startswith(hedged), answer.text
    assert "in the library address" not in answer.text.split("\n")[0]


def test_an_absent_topic_shows_nothing(bot):
    bot.reset()
    answer = bot.ask("Which papers forecast earthquakes from seismic data?", mode="extractive")
    assert answer.text == "The library has no paper on this question.", answer.text
    assert answer.citations == ()


def test_a_listed_paper_is_quoted_with_the_sentence_that_answers(bot):
    """Reward Model Ensembles was quoted "RLHF is a standard approach for fine-tuning..."
    for a question about gaming the reward model: now its overoptimization sentence."""
    bot.reset()
    answer = bot.ask(
        "Which papers try to stop a policy from gaming a learned reward model during "
        "preference fine-tuning?",
        mode="extractive",
    )
    ensembles = paper_id("Reward Model Ensembles Help Mitigate Overoptimization")
    quotes = [c.quote for c in answer.citations if c.paper_id == ensembles and c.tier == "main"]
    assert quotes and "overoptimization" in quotes[0].lower(), answer.text

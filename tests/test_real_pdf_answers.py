"""Questions about a fact stated in a real paper's body (issue 22 item 3), on real PDFs.

Four small third-party papers of the real corpus (`real_corpus`, fetched once) are
ingested into this module's own library; questions from the corpus's blind question set
(evals/data/real_pdfs/questions.jsonl, tuning half) are asked as a user would. The answer
must be about the paper that states the fact, alone (no topic list, no "may also be
relevant"), and quote the sentence that answers, with its page. The whole set's figures
are `python -m evals.real_pdfs`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from evals.real_pdfs import QUESTIONS, quote_matches

FILES = (
    "distracted-driver-1706.09498.pdf",
    "mejsr-silkworm-phytojuvenoid.pdf",
    "neutron-capture-recoils-2110.02751.pdf",
    "black-hole-singularities-1805.05865.pdf",
)
ASKED = ("ra009", "ra010", "ra011", "ra018", "ra067", "rb001")
BY_ID = {
    q["id"]: q
    for q in (json.loads(x) for x in QUESTIONS.read_text(encoding="utf-8").splitlines() if x)
}


@pytest.fixture(scope="module")
def bot(real_corpus: Path, tmp_path_factory: pytest.TempPathFactory, embedder) -> Assistant:
    from ingest import ingest

    settings = Settings(data_dir=tmp_path_factory.mktemp("real-pdf-answers"))
    report = ingest([real_corpus / f for f in FILES], settings, embedder=embedder)
    assert len(report.added) == len(FILES), report.skipped
    return Assistant(settings, embedder=embedder)


@pytest.mark.parametrize("qid", ASKED)
def test_a_body_fact_is_answered_from_its_paper_with_the_sentence_and_page(bot, qid):
    q = BY_ID[qid]
    assert q["split"] == "tune" and q["style"] == "body"
    answer = bot.ask(q["question"], mode="extractive")
    files = {pid: Path(src).name for pid, p in bot.papers().items() for src in p.sources}
    listed = {s.paper_id for s in answer.sources if s.tier in ("main", "second")}
    assert {files[p] for p in listed} == {q["file"]}, answer.text  # that paper alone
    quotes = [c for c in answer.citations if quote_matches(c.quote, q["answer_sentence"])]
    assert quotes, answer.text
    assert quotes[0].page == q["page"] and f"p. {q['page']}" in answer.text

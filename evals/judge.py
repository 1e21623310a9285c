"""Judges of whether a cited paper supports a sentence: offline (the product's Verifier)
and, optionally, an LLM asked "supported: yes/no" per (sentence, cited abstract).

The offline judge is `assistant.answering.verify.Verifier`, so the eval and the product share one
definition of support. It measures citation relevance, not faithfulness.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from assistant import Paper
from assistant.answering.verify import SourceText, Verifier
from assistant.core.types import Sentence
from assistant.llm.client import LLMClient
from assistant.llm.prompts import load_prompt

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).resolve().parent / "prompts"
_YES = re.compile(r"^\W*(yes|supported|true)\b", re.IGNORECASE)
_NO = re.compile(r"^\W*(no|not|unsupported|false)\b", re.IGNORECASE)


def paper_sentences(paper: Paper) -> list[Sentence]:
    """Sentences of a paper's abstract, split as ingest splits them."""
    from ingest import paper_sentences as split

    return split(paper)


class OfflineJudge:
    """Support scores of a claim by cited papers, from the product's `Verifier`.

    Scores are on the Verifier's scale; a citation supports its claim at
    ``score >= judge.threshold`` (the Verifier's threshold).
    """

    name = "offline"

    def __init__(self, verifier: Verifier, papers: Mapping[str, Paper]):
        self.verifier = verifier
        self.papers = papers
        self._sentences: dict[str, list[Sentence]] = {}

    @property
    def threshold(self) -> float:
        return self.verifier.threshold

    def source(self, n: int, paper_id: str) -> SourceText:
        paper = self.papers[paper_id]
        if paper_id not in self._sentences:
            self._sentences[paper_id] = paper_sentences(paper)
        return SourceText(n, paper, self._sentences[paper_id])

    def __call__(self, claim: str, paper_ids: Sequence[str]) -> list[float]:
        known = [(j, p) for j, p in enumerate(paper_ids) if p in self.papers]
        out = [0.0] * len(paper_ids)
        if not known:
            return out
        scores, _ = self.verifier.support([claim], [self.source(j + 1, p) for j, p in known])
        for col, (j, _p) in enumerate(known):
            out[j] = float(scores[0, col])
        return out


class LLMJudge:
    """An LLM asked per (sentence, cited abstract): supported, yes or no (1.0 / 0.0).

    A reply that is neither yes nor no counts as no and is counted in ``unparsed``.
    """

    name = "llm"
    threshold = 0.5

    def __init__(self, llm: LLMClient, papers: Mapping[str, Paper]):
        self.llm = llm
        self.papers = papers
        self.prompt = load_prompt("judge", PROMPTS)
        self.calls = 0
        self.unparsed = 0

    def supported(self, sentence: str, paper: Paper) -> bool:
        messages = self.prompt.render(sentence=sentence, title=paper.title, abstract=paper.abstract)
        reply = self.llm.complete(messages).strip()
        self.calls += 1
        if _YES.match(reply):
            return True
        if not _NO.match(reply):
            self.unparsed += 1
            log.info("LLM judge reply neither yes nor no: %r", reply[:80])
        return False

    def __call__(self, claim: str, paper_ids: Sequence[str]) -> list[float]:
        return [
            float(self.supported(claim, self.papers[p])) if p in self.papers else 0.0
            for p in paper_ids
        ]

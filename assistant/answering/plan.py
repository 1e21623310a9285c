"""The plan of one answer, made in named steps under the conversation's lock (no `yield`).

`QuestionPlan.run`: read the question against the conversation (a follow-up rewritten by
the LLM, or read with the previous topic), retrieve candidates, let the LLM judge them (LLM
mode, list questions: assistant/retrieval/llm_assist.py), choose the papers the answer is
drawn from, find their evidence (assistant/answering/evidence.py), draft the extractive
answer, remember the turn.
The conversation (`assistant.chat.Assistant`) then streams the answer from the `Plan`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..core.errors import LibraryEmptyError, LLMUnavailableError
from ..core.settings import Settings
from ..core.types import RANKING_DEPTH, Mode, RankedPaper
from ..index.snapshot import Snapshot
from ..llm.client import LLMClient
from ..llm.prompts import load_prompt
from ..retrieval.hits import PaperHit, Retrieval
from ..retrieval.llm_assist import Assist, LLMUsage, assist_list
from ..retrieval.llm_combine import Combined
from ..retrieval.retriever import Filters, Retriever
from ..text.injection import is_topical_rewrite
from ..text.terms import terms
from .answer import (
    Draft,
    answer_comparison,
    answer_list,
    answer_metadata,
    answer_single,
    no_paper,
)
from .evidence import attach_passages, metadata_matches
from .questions import PaperNames, QuestionInfo, classify
from .verify import SourceText

log = logging.getLogger(__name__)

HISTORY_TURNS = 8  # turns a conversation remembers


@dataclass
class Turn:
    question: str
    paper_ids: list[str]
    titles: list[str]
    topic_terms: list[str]


@dataclass
class Reading:
    """A question read against the conversation: what to retrieve, and within what."""

    question: str  # what is retrieved and answered: a follow-up's rewrite, else the question
    info: QuestionInfo
    within: list[str] | None = None  # a narrowing follow-up: the previous answer's papers
    extra_terms: list[str] = field(default_factory=list)  # a follow-up: the previous topic
    notices: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What the plan decided; the answer is streamed from it outside the lock."""

    question: str
    info: QuestionInfo
    retrieval: Retrieval
    draft: Draft
    hits: list[PaperHit]
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    deadline: float | None = None  # time.monotonic() by which the LLM must be done
    # LLM-assisted retrieval (assistant/retrieval/llm_assist.py): what the LLM changed in the lists,
    # and every LLM call of the question.
    combined: Combined | None = None
    usage: LLMUsage = field(default_factory=LLMUsage)

    def ranking(self) -> tuple[RankedPaper, ...]:
        """The retrieval's ranked candidates as the answer carries them, with their tiers."""
        main = {h.paper.id for h in self.retrieval.relevant}
        second = {h.paper.id for h in self.retrieval.second}
        return tuple(
            RankedPaper(
                h.paper.id,
                rank,
                round(h.score, 4),
                "main" if h.paper.id in main else "second" if h.paper.id in second else "",
            )
            for rank, h in enumerate(self.retrieval.hits[:RANKING_DEPTH], 1)
        )

    def llm_sources(self, max_sources: int) -> list[SourceText]:
        """The draft's relevant papers, numbered as the draft numbers them, as the LLM's
        answer may cite them (at most ``max_sources``)."""
        numbered = {s.paper_id: s.n for s in self.draft.sources if s.relevant}
        out = []
        for hit in self.hits:
            if hit.paper.id in numbered:
                out.append(SourceText(numbered[hit.paper.id], hit.paper, hit.sentences))
        return sorted(out, key=lambda s: s.n)[:max_sources]


# A detail question is answered from its first paper alone when every other listed paper
# scores under this share of it: two papers saying the same both answer (on the real-PDF
# set's tuning half no question has a second paper this close).
FACT_LEAD = 0.9


class QuestionPlan:
    """One question's plan: the steps share the question's snapshot, budget and settings.

    Args:
        settings, retriever, llm: the conversation's (``llm`` None: extractive only).
        history: the conversation's turns; the plan reads them and appends this one.
        mode: the answerer asked for ("extractive" keeps the LLM out of the plan).
        filters: restrict the papers that may answer.
    """

    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        llm: LLMClient | None,
        history: list[Turn],
        mode: Mode | None,
        filters: Filters | None,
    ):
        self.settings, self.retriever, self.llm = settings, retriever, llm
        self.history, self.mode, self.filters = history, mode, filters
        # One time budget per question, shared by the rewrite, the answer and their retries.
        self.deadline = time.monotonic() + settings.llm.question_budget_s
        self.snap = retriever.refresh()  # the library as this question reads it, taken once

    def run(self, question: str, t: float) -> Plan:
        """The plan, step by step (``t``: when the question arrived, for the timings)."""
        reading = self.read(question)
        timings: dict[str, float] = {"classify": time.perf_counter() - t}
        retrieval = self.retrieve(reading)
        usage, combined = LLMUsage(), None
        if self.assisted(reading):
            t = time.perf_counter()
            retrieval, combined = self.judge(reading, retrieval, usage)
            timings["llm_assist"] = time.perf_counter() - t
        hits = self.choose(reading, retrieval)
        attach_passages(hits, retrieval, self.snap, self.retriever.library, self.retriever.embedder)
        draft = self.draft(reading, hits, retrieval)
        timings.update(retrieval.timings)
        used = [s.paper_id for s in draft.sources if s.relevant]
        self.remember(question, used, retrieval)
        return Plan(
            reading.question,
            reading.info,
            retrieval,
            draft,
            hits if draft.answerable else [],
            reading.notices,
            timings,
            self.deadline,
            combined,
            usage,
        )

    def assisted(self, reading: Reading) -> bool:
        """Whether the LLM helps choose this question's papers: a list question in LLM mode."""
        return (
            self.llm is not None
            and self.mode != "extractive"
            and self.settings.llm.assist
            and reading.info.kind == "list"
            and not reading.info.named
        )

    def judge(
        self, reading: Reading, retrieval: Retrieval, usage: LLMUsage
    ) -> tuple[Retrieval, Combined | None]:
        """The lists after the LLM's rewrite and judgments (the rule:
        assistant/retrieval/llm_combine.py)."""
        assert self.llm is not None
        assist = Assist(self.llm, self.settings, usage)

        def search(texts: list[str]) -> Retrieval:
            return self.retriever.retrieve(
                reading.question,
                within=reading.within,
                extra_terms=reading.extra_terms,
                filters=self.filters,
                snapshot=self.snap,
                extra_queries=texts,
            )

        def score_sentences(hits: Sequence[PaperHit]) -> None:
            self.retriever.score_sentences(hits, retrieval, self.snap)

        judged, combined = assist_list(
            assist, reading.question, retrieval, search, self.deadline, score_sentences
        )
        reading.notices += assist.notices + (combined.notices() if combined is not None else [])
        return judged, combined

    def read(self, question: str) -> Reading:
        """Classify the question; a follow-up is rewritten by the LLM, else read with the
        previous turn's topic (and, when it narrows, within the previous answer's papers)."""
        names = self.paper_names(self.snap)
        if not self.snap.papers:
            raise LibraryEmptyError(self.settings.store_location)
        reading = Reading(question, classify(question, names, has_history=bool(self.history)))
        if not (reading.info.follow_up and self.history):
            return reading
        last = self.history[-1]
        use_llm = self.llm is not None and self.mode != "extractive"
        rewritten = self.rewrite(question, reading.notices) if use_llm else None
        if rewritten:
            reading.question = rewritten
            reading.info = classify(rewritten, names)
            reading.notices.append(f"Follow-up read as: {rewritten}")
        else:
            reading.extra_terms = last.topic_terms
            if reading.info.narrow and last.paper_ids:
                reading.within = last.paper_ids
        return reading

    def retrieve(self, reading: Reading) -> Retrieval:
        """The ranked candidates and the relevant ones after the list decision."""
        return self.retriever.retrieve(
            reading.question,
            within=reading.within,
            extra_terms=reading.extra_terms,
            filters=self.filters,
            snapshot=self.snap,
        )

    def choose(self, reading: Reading, retrieval: Retrieval) -> list[PaperHit]:
        """The papers the answer is drawn from, by kind of question: the papers it names
        (in the order named), the first three for a comparison, the metadata matches, or
        the relevant candidates."""
        info = reading.info
        if info.named and info.kind in ("single", "comparison", "metadata"):
            # The question's vector is reused: embedding it is most of an ask's time.
            named = self.retriever.retrieve(
                reading.question,
                within=info.named_ids,
                filters=self.filters,
                query_vector=retrieval.query_vector,
                snapshot=self.snap,
            )
            order = {pid: i for i, pid in enumerate(info.named_ids)}
            return sorted(
                (h for h in named.hits if h.paper.id in order), key=lambda h: order[h.paper.id]
            )
        if info.kind == "comparison":
            return retrieval.relevant[:3]
        if info.kind == "metadata":
            cap = self.settings.retrieval.max_papers * 3
            return metadata_matches(reading.question, info, self.snap, self.filters, cap)
        if self.answers_fact(reading, retrieval):
            return retrieval.relevant[:1]
        return retrieval.relevant

    def answers_fact(self, reading: Reading, retrieval: Retrieval) -> bool:
        """Whether a question for a detail is answered from one paper's full text: the
        first of its list, when that paper is a PDF (whose body may state the detail) and
        no other listed paper comes close to it (``FACT_LEAD``: two papers that say the
        same both answer); a library of abstracts lists papers as for any other question."""
        rel = retrieval.relevant
        return (
            reading.info.fact
            and reading.within is None
            and bool(rel)
            and rel[0].paper.id in self.snap.fulltext_ids
            and all(h.score < FACT_LEAD * rel[0].score for h in rel[1:])
        )

    def draft(self, reading: Reading, hits: list[PaperHit], retrieval: Retrieval) -> Draft:
        """The extractive answer (also the LLM's fallback), by kind of question."""
        question, info = reading.question, reading.info
        if info.kind == "single" and hits:
            lex = self.snap.lexical
            return answer_single(question, hits[0], retrieval, info.named[0].name, lex)
        if info.kind == "comparison":
            return answer_comparison(question, hits, retrieval)
        if info.kind == "metadata":
            return answer_metadata(question, info, hits, retrieval)
        if not hits:
            return no_paper(question, retrieval)
        if self.answers_fact(reading, retrieval):
            top = hits[0]
            return answer_single(question, top, retrieval, top.paper.title, self.snap.lexical)
        draft = answer_list(question, retrieval)
        if reading.within is not None:
            draft.kind = "follow_up"
        return draft

    def remember(self, question: str, paper_ids: list[str], retrieval: Retrieval) -> None:
        """Append this turn: its papers and topic terms, for the follow-ups to come."""
        papers = self.snap.papers
        titles = [papers[p].title for p in paper_ids if p in papers]
        asked = set(terms(retrieval.question, question=True))
        topic = [t for t in retrieval.query_terms if t in asked]
        if paper_ids or not self.history:
            self.history.append(Turn(question, paper_ids, titles, topic or retrieval.query_terms))
        else:  # an empty follow-up keeps the previous topic alive
            last = self.history[-1]
            self.history.append(Turn(question, last.paper_ids, last.titles, last.topic_terms))
        del self.history[:-HISTORY_TURNS]

    def rewrite(self, question: str, notices: list[str]) -> str | None:
        """The LLM's rewrite of a follow-up as a question of its own, if it is one."""
        assert self.llm is not None
        # At most half the budget, so that a slow rewrite still leaves the answer its turn.
        budget = self.settings.llm.question_budget_s / 2
        deadline = min(self.deadline, time.monotonic() + budget)
        prompt = load_prompt("rewrite")
        history = [{"question": t.question, "titles": t.titles[:6]} for t in self.history[-3:]]
        try:
            messages = prompt.render(history=history, question=question)
            text = self.llm.complete(messages, deadline=deadline).strip()
        except LLMUnavailableError as exc:
            log.warning("follow-up rewrite failed: %s", exc)
            notices.append(
                f"The follow-up was not rewritten: the LLM failed ({exc}); it was read together "
                "with the previous question instead."
            )
            return None
        text = text.split("\n")[0].strip().strip('"')
        return text if is_topical_rewrite(text, question, self.history[-3:]) else None

    @staticmethod
    def paper_names(snap: Snapshot) -> PaperNames:
        # Built once per library snapshot, shared by every conversation reading it.
        names: PaperNames = snap.derived("paper_names", lambda s: PaperNames(s.papers.values()))
        return names

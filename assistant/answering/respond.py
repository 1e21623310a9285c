"""The answer, once the question is planned: the extractive draft as it stands, or the
LLM's answer streamed, checked against the sources it cites and made whole, falling back
to the draft when the LLM fails; then the `Answer`, with its timings and its ranking.

The steps of `Responder.stream`, in order:

1. choose the answerer: the LLM when one is configured, the mode allows it and the draft
   has papers to give it (never for metadata questions);
2. extractive: the draft's lines as they are;
3. LLM: the prompt with the sources as data (`prompt_sources`; `Prompt.render` escapes
   every inserted value), the streamed
   text, its check (`Verifier.check`: every sentence against the sources it cites), the
   judged list made whole (`complete_list`); the draft instead when the LLM fails, says
   nothing or has no supported sentence;
4. `finish`: the `Answer`, each citation credited with its paper's authors and year.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from ..core.errors import LLMUnavailableError
from ..core.settings import Settings
from ..core.types import Answer, Citation, Mode, Source, StreamEvent
from ..llm.client import LLMClient
from ..llm.prompts import load_prompt
from ..text.injection import prompt_sources
from .answer import SECOND_TIER_HEAD, Draft
from .plan import Plan, Turn
from .verify import Checked, Verifier

EMPTY_QUESTION = "Please type a question about the papers in the library."


class Responder:
    """Answers a planned question: shared by a conversation's questions, holds no state of
    its own between them."""

    def __init__(self, settings: Settings, llm: LLMClient | None, verifier: Verifier):
        self.settings = settings
        self.llm = llm
        self.verifier = verifier

    def stream(
        self, plan: Plan, asked: str, mode: Mode | None, t0: float, history: Sequence[Turn]
    ) -> Iterator[StreamEvent]:
        """The answer to ``plan`` as it is produced; the last event carries the `Answer`.

        ``asked`` is the question as the user typed it (the extractive answer carries it;
        the LLM answers the plan's reading of it), ``history`` the conversation's turns.
        """
        use_llm = (
            self.llm is not None
            and mode != "extractive"
            and plan.draft.answerable
            and plan.info.kind != "metadata"
            and bool(plan.hits)
        )
        if mode == "llm" and self.llm is None:
            plan.notices.append(
                "No LLM is configured (set OPENAI_BASE_URL or OPENAI_API_KEY); "
                "answered extractively."
            )
        if not use_llm:
            for line in plan.draft.text.split("\n"):
                yield StreamEvent(line + "\n")
            answer = self.finish(
                asked, plan.draft, "extractive", plan.notices, plan.timings, t0, plan
            )
            yield StreamEvent("", answer)
            return
        yield from self._stream_llm(plan, t0, history)

    def unanswered(self, notices: list[str], t0: float) -> Answer:
        """The answer to an empty question."""
        draft = Draft(EMPTY_QUESTION, [], [], "list", False)
        return self.finish("", draft, "none", notices, {}, t0)

    def _stream_llm(self, plan: Plan, t0: float, history: Sequence[Turn]) -> Iterator[StreamEvent]:
        assert self.llm is not None
        sources = plan.llm_sources(self.settings.llm.max_sources)
        messages = load_prompt("answer").render(
            question=plan.question,
            sources=prompt_sources(
                ((s.n, s.paper) for s in sources), self.settings.llm.max_source_chars
            ),
        )
        parts: list[str] = []
        t = time.perf_counter()

        def count() -> None:  # a stream reports no usage: its pieces, ~4 characters a token
            chars = sum(len(m["content"]) for m in messages)
            plan.usage.add(
                "answer",
                seconds=time.perf_counter() - t,
                prompt_tokens=round(chars / 4),
                completion_tokens=len(parts),
            )

        try:
            for delta in self.llm.stream(messages, deadline=plan.deadline):
                parts.append(delta)
                yield StreamEvent(delta, draft=True)
        except LLMUnavailableError as exc:
            count()
            plan.notices.append(f"The LLM failed ({exc}); showing the extractive answer instead.")
            plan.timings["llm"] = time.perf_counter() - t
            yield StreamEvent("", self._extractive(plan, t0))
            return
        count()
        plan.timings["llm"] = time.perf_counter() - t
        if not "".join(parts).strip():  # say so, rather than that no sentence was supported
            plan.notices.append(
                "The LLM returned an empty answer; showing the extractive answer instead."
            )
            yield StreamEvent("", self._extractive(plan, t0))
            return
        t = time.perf_counter()
        asked = [plan.question, *(t.question for t in history[-3:-1] if plan.info.follow_up)]
        checked = self.verifier.check("".join(parts), sources, question=asked)
        plan.timings["verify"] = time.perf_counter() - t
        if not checked.citations:
            plan.notices.append(
                "The LLM's answer had no sentence that the retrieved papers support; "
                "showing the extractive answer instead."
            )
            yield StreamEvent("", self._extractive(plan, t0, raw=checked))
            return
        answer = self.finish(
            plan.question,
            llm_draft(plan, checked),
            "llm",
            plan.notices,
            plan.timings,
            t0,
            plan,
            raw=checked,
        )
        yield StreamEvent("", answer)

    def _extractive(self, plan: Plan, t0: float, raw: Any = None) -> Answer:
        """The plan's extractive draft as the answer (also the LLM path's fallback)."""
        return self.finish(
            plan.question, plan.draft, "extractive", plan.notices, plan.timings, t0, plan, raw=raw
        )

    def finish(
        self,
        question: str,
        draft: Draft,
        mode: Mode,
        notices: list[str],
        timings: dict[str, float],
        t0: float,
        plan: Plan | None = None,
        raw: Any = None,
    ) -> Answer:
        """The `Answer` from ``draft``: timings in ms, the ranking and what the LLM changed
        (from ``plan``), the check's unsupported sentences (from ``raw``)."""
        timings = {k: round(v * 1000, 2) for k, v in timings.items()}
        timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        unsupported = tuple(raw.unsupported) if raw is not None else ()
        cited = {c.n for c in draft.citations}
        sources: list[Source] = list(draft.sources)
        # Every [n] in the text must have its source: drop markers that have none.
        valid = {s.n for s in sources}
        assert cited <= valid, f"citations {cited - valid} have no source"
        return Answer(
            question=question,
            text=draft.text,
            citations=tuple(credited(draft.citations, sources)),
            sources=tuple(sources),
            mode=mode,
            kind=draft.kind,
            answerable=draft.answerable,
            notices=tuple(notices + draft.notices),
            unsupported=unsupported,
            timings=timings,
            config_hash=self.settings.config_hash(),
            model=self.llm.model if (mode == "llm" and self.llm is not None) else None,
            ranking=plan.ranking() if plan is not None else (),
            llm_changes=plan.combined.changes() if plan and plan.combined else {},
            llm_usage=plan.usage.to_dict() if plan and plan.usage.steps else {},
        )


def credited(citations: Iterable[Citation], sources: Iterable[Source]) -> list[Citation]:
    """The citations with their papers' authors and year, as the sources carry them."""
    credit = {s.paper_id: (s.authors, s.year) for s in sources}
    return [
        replace(c, authors=credit[c.paper_id][0], year=credit[c.paper_id][1])
        if c.paper_id in credit
        else c
        for c in citations
    ]


def llm_draft(plan: Plan, checked: Checked) -> Draft:
    """The LLM's verified answer as a draft, with notices of what the check removed."""
    if checked.unsupported:
        plan.notices.append(
            f"Removed {len(checked.unsupported)} sentence(s) of the LLM's answer that no "
            "retrieved paper supports."
        )
    if checked.removed_markers:
        plan.notices.append(
            f"Removed {len(checked.removed_markers)} citation(s) that did not check out."
        )
    text, citations = checked.text, list(checked.citations)
    if plan.combined is not None:  # the judged list stays whole whatever the LLM wrote
        main = [s.n for s in plan.draft.sources if s.tier == "main" and s.relevant]
        text, citations = complete_list(
            text, citations, plan.draft.text, plan.draft.citations, main
        )
    return Draft(text, citations, plan.draft.sources, plan.draft.kind, True)


def complete_list(
    text: str,
    citations: Sequence[Citation],
    draft_text: str,
    draft_citations: Sequence[Citation],
    main_ns: Sequence[int],
) -> tuple[str, list[Citation]]:
    """The LLM's verified answer with the list made whole.

    The judged main list is the answer's list whatever the LLM chose to write about: a
    main-list paper its verified text does not cite is added with the extractive line
    (its quoted sentence), and the "may also be relevant" block follows unchanged.

    Args:
        text, citations: the verified LLM answer.
        draft_text, draft_citations: the extractive answer of the same judged lists
            (`answer.answer_list`), numbered as the LLM's sources.
        main_ns: the numbers of the main list's sources.
    """
    cited = {c.n for c in citations}
    lines = draft_text.split("\n")
    head = lines.index(SECOND_TIER_HEAD) if SECOND_TIER_HEAD in lines else len(lines)
    missing = [n for n in main_ns if n not in cited]
    extra_lines = [ln for ln in lines[:head] for n in missing if ln.startswith(f"{n}. ")]
    out = text.rstrip()
    if extra_lines:
        out += "\n\nAlso in the list:\n" + "\n".join(extra_lines)
    if head < len(lines):
        out += "\n\n" + "\n".join(lines[head:])
    keep = set(missing)
    more = [c for c in draft_citations if c.n in keep or c.tier == "second"]
    return out, [*citations, *more]

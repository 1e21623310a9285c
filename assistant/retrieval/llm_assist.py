"""LLM-assisted retrieval: the LLM helps choose the papers, within bounds.

In LLM mode, for a "which papers ...?" question:

1. **Rewrite** (`Assist.rewrite`): the LLM turns the question into a few keyword queries
   in the words papers use and, optionally, a two-sentence hypothetical abstract. The
   prompt (prompts/assist_rewrite.yaml) sees the question only, never source text.
   Their candidates join the question's own, each scored against the question itself
   (`Retriever.retrieve(..., extra_queries=...)`, `extra_candidates`, `judge_pool`).
2. **Judging** (`Assist.judge`): the LLM reads the top ``llm.judge_top_n`` candidates,
   each as its title and best sentence (escaped, injected sentences removed), in as few
   calls as ``llm.judge_batch`` allows (run concurrently), and replies with the numbers
   of those that address the question. A reply that is not the JSON asked for is retried
   once, then ignored: an unjudged candidate keeps its offline place.
3. **Combination** (assistant/retrieval/llm_combine.py): with ``llm.decide`` "judge", a judge that
   passes the checks asked beside the question (`Probes`) settles the lists over the
   judged pool (`decide_by_judge`); with "bounded", the offline decision stays the base
   and the judgments move papers only within it (`combine`).

`assist_list` runs the three for one list question.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator

from ..core.errors import LLMUnavailableError
from ..core.settings import Settings
from ..llm.client import Completion, LLMClient, run_concurrently
from ..llm.prompts import load_prompt
from ..text.injection import without_injected
from .hits import PaperHit, Retrieval
from .llm_combine import Combined, combine, extra_candidates, judge_pool, judged_retrieval
from .llm_decide import Probes, decide_by_judge

log = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


# -- replies ---------------------------------------------------------------------------
class RewriteReply(BaseModel):
    """The rewrite's JSON: keyword queries and an optional hypothetical abstract."""

    queries: list[str] = Field(default_factory=list)
    abstract: str = ""

    @field_validator("queries")
    @classmethod
    def _short_texts(cls, value: list[str]) -> list[str]:
        return [" ".join(q.split())[:200] for q in value if q.strip()]


class JudgeReply(BaseModel):
    """The judge's JSON: the numbers of the candidates that address the question, and of
    those that answer the check question when one was asked (None when not given)."""

    relevant: list[int]
    check: list[int] | None = None


def parse_reply(text: str, model: type[_M]) -> _M | None:
    """``text`` read as the JSON object ``model`` describes, or None.

    Tolerates what small models wrap around JSON (a code fence, a sentence before it):
    the outermost ``{...}`` is read.
    """
    found = _OBJECT.search(text)
    if found is None:
        return None
    try:
        return model.model_validate(json.loads(found.group(0)))
    except (ValueError, ValidationError):
        return None


# -- cost ------------------------------------------------------------------------------
@dataclass
class LLMUsage:
    """LLM calls, tokens and seconds of one question, per step (rewrite, judge, answer)."""

    steps: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(
        self,
        step: str,
        done: Completion | None = None,
        *,
        seconds: float = 0.0,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        """Count one call of ``step`` (a `Completion`, or its figures given apart)."""
        s = self.steps.setdefault(
            step, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0}
        )
        if done is not None:
            seconds, prompt_tokens = done.seconds, done.prompt_tokens
            completion_tokens = done.completion_tokens
        s["calls"] += 1
        s["prompt_tokens"] += prompt_tokens
        s["completion_tokens"] += completion_tokens
        s["seconds"] = round(s["seconds"] + seconds, 3)

    def to_dict(self) -> dict[str, Any]:
        """Totals and the per-step figures, JSON-able."""
        total = {
            k: sum(s[k] for s in self.steps.values())
            for k in ("calls", "prompt_tokens", "completion_tokens")
        }
        return {
            **{k: int(v) for k, v in total.items()},
            "seconds": round(sum(s["seconds"] for s in self.steps.values()), 3),
            "steps": {k: dict(v) for k, v in self.steps.items()},
        }


# -- the LLM's two jobs ----------------------------------------------------------------
@dataclass
class Assist:
    """The rewrite and judging calls of one question.

    Args:
        llm: the endpoint.
        settings: `LLMSettings` read from it (``judge_top_n``, ``judge_batch``, ...).
        usage: where calls and tokens are counted.
        notices: where what failed is said, in one line each.
    """

    llm: LLMClient
    settings: Settings
    usage: LLMUsage = field(default_factory=LLMUsage)
    notices: list[str] = field(default_factory=list)
    # Set when a call failed outright (endpoint down, out of time): the question's other
    # assist calls are skipped rather than failing again, and the answer keeps its turn.
    failed: bool = False

    def _json(
        self,
        step: str,
        messages: list[dict[str, str]],
        model: type[_M],
        deadline: float | None,
        check: Callable[[_M], bool] = lambda r: True,
    ) -> _M | None:
        """One JSON call, retried once when the reply is not what was asked; else None."""
        cfg = self.settings.llm
        for attempt in (1, 2):
            try:
                done = self.llm.complete_usage(
                    messages, deadline=deadline, max_tokens=cfg.assist_max_tokens, json_object=True
                )
            except LLMUnavailableError as exc:
                log.warning("LLM %s failed: %s", step, exc)
                self.notices.append(f"The LLM's {step} failed ({exc}); the offline list stands.")
                self.failed = True
                return None
            self.usage.add(step, done)
            reply = parse_reply(done.text, model)
            if reply is not None and check(reply):
                return reply
            log.warning(
                "LLM %s reply %d is not the JSON asked for: %r", step, attempt, done.text[:200]
            )
        self.notices.append(
            f"The LLM's {step} reply was not the JSON asked for, twice; it was ignored."
        )
        return None

    def rewrite(self, question: str, deadline: float | None) -> list[str]:
        """Search texts for ``question`` in the library's terms ([] when the LLM fails)."""
        cfg = self.settings.llm
        if cfg.rewrite_queries <= 0:
            return []
        messages = load_prompt("assist_rewrite").render(
            question=question,
            n_queries=cfg.rewrite_queries,
            abstract=cfg.hypothetical_abstract,
        )
        reply = self._json("rewrite", messages, RewriteReply, deadline)
        if reply is None:
            return []
        texts = reply.queries[: cfg.rewrite_queries]
        if cfg.hypothetical_abstract and reply.abstract.strip():
            texts.append(" ".join(reply.abstract.split())[:1000])
        low = question.lower()
        return [t for t in dict.fromkeys(texts) if t.lower() != low]

    def judge(
        self,
        question: str,
        hits: Sequence[PaperHit],
        deadline: float | None,
        check: tuple[str, str] | None = None,
    ) -> tuple[dict[str, bool], dict[str, bool]]:
        """Paper id -> whether the LLM judges it to address ``question``; and, for the batch
        holding the check's paper, paper id -> whether it answers the check question.

        Args:
            check: (a question whose answer is known, the id of the paper that answers
                it), asked beside ``question`` in the call that shows that paper.

        Candidates of a batch whose reply failed twice are left out (no verdict).
        """
        cfg = self.settings.llm
        if self.failed:
            return {}, {}
        # Even batches: 43 candidates in calls of at most 24 are 22 + 21, not 24 + 19.
        n = -(-len(hits) // cfg.judge_batch)
        cuts = [round(i * len(hits) / n) for i in range(n + 1)]
        batches = [list(hits[a:b]) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]
        prompt = load_prompt("judge")

        def one(batch: list[PaperHit]) -> Callable[[], tuple[dict[str, bool], dict[str, bool]]]:
            asks = check is not None and any(h.paper.id == check[1] for h in batch)
            check_text = check[0] if asks and check is not None else ""

            def valid(r: JudgeReply) -> bool:
                # A reply without the check answers is valid; it names no paper for the
                # check, so the check fails and the offline lists stand.
                return all(1 <= n <= len(batch) for n in [*r.relevant, *(r.check or [])])

            def call() -> tuple[dict[str, bool], dict[str, bool]]:
                # A title is the paper's stored text, not one of the snapshot's sentences.
                shown = [
                    {
                        "n": i,
                        "title": without_injected(h.paper.title).replace('"', "'"),
                        "text": judge_text(h, cfg.judge_sentence_chars),
                    }
                    for i, h in enumerate(batch, 1)
                ]
                messages = prompt.render(question=question, papers=shown, check=check_text)
                reply = self._json("judging", messages, JudgeReply, deadline, check=valid)
                if reply is None:
                    return {}, {}
                yes, named = set(reply.relevant), set(reply.check or [])
                verdicts = {h.paper.id: i in yes for i, h in enumerate(batch, 1)}
                checked = {h.paper.id: i in named for i, h in enumerate(batch, 1)} if asks else {}
                return verdicts, checked

            return call

        verdicts: dict[str, bool] = {}
        checked: dict[str, bool] = {}
        for part, named in run_concurrently([one(b) for b in batches], cfg.concurrency):
            verdicts.update(part)
            checked.update(named)
        return verdicts, checked


def judge_text(hit: PaperHit, chars: int) -> str:
    """The sentence a judge reads for ``hit``: its best one, else its abstract's start."""
    best = hit.best_sentences(3)
    # The abstract is the paper's stored text, not the snapshot's sentences.
    text = best[0].text if best else without_injected(hit.paper.abstract)
    return text if len(text) <= chars else text[: chars - 3].rsplit(" ", 1)[0] + "..."


def assist_list(
    assist: Assist,
    question: str,
    base: Retrieval,
    search: Callable[[list[str]], Retrieval],
    deadline: float | None,
    score_sentences: Callable[[Sequence[PaperHit]], None] = lambda hits: None,
) -> tuple[Retrieval, Combined | None]:
    """Rewrite, search, judge and combine for one list question.

    Args:
        assist: the question's `Assist` (its usage and notices are filled in).
        question: the question as retrieved (a follow-up already made standalone).
        base: its offline retrieval.
        search: the question retrieved again with extra query texts, over the same
            snapshot and filters (`Retriever.retrieve(..., extra_queries=texts)`).
        deadline: the question's LLM deadline; the rewrite gets at most a quarter of what
            is left, judging at most half of what is left after it, so the answer keeps
            its turn.
        score_sentences: scores the sentences of candidates the retrieval left unscored
            (`Retriever.score_sentences`), so the judge reads each one's best sentence and
            a paper it lists has one to quote.

    Returns:
        The retrieval to answer from, and the combination (None when nothing was judged:
        the offline lists stand).
    """
    cfg = assist.settings.llm
    t = time.perf_counter()

    def share(part: float) -> float | None:
        if deadline is None:
            return None
        return time.monotonic() + max(0.0, deadline - time.monotonic()) * part

    texts = assist.rewrite(question, share(0.25))
    extra = extra_candidates(base, search(texts)) if texts else []
    pool = judge_pool(base, extra, cfg.judge_top_n)
    if not pool or not cfg.judge_top_n:
        return base, None
    score_sentences(pool)
    probes = Probes.choose(base, pool, cfg) if cfg.decide == "judge" else Probes()
    verdicts, checked = assist.judge(question, probes.shuffle_in(pool), share(0.5), probes.check)
    log.debug(
        "assist: %d texts, %d extra, %d judged in %.1f s",
        len(texts),
        len(extra),
        len(verdicts),
        time.perf_counter() - t,
    )
    if not verdicts:
        return base, None
    if cfg.decide == "judge":
        combined = decide_by_judge(
            base,
            extra,
            probes.strip(verdicts),
            probes.checks(verdicts, checked, cfg),
            assist.settings,
        )
    else:
        combined = combine(base, extra, verdicts, assist.settings)
    return judged_retrieval(base, combined), combined

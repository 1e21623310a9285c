"""LLM-assisted retrieval: the LLM helps choose the papers, within bounds (issue 14).

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
3. **Combination** (`combine`): the offline decision (assistant/retrieval.py `decide`)
   stays the base; the judgments may move papers only as follows.

The combination rule, and why: the LLMs that install offline judge poorly (the 1.5B
Qwen2.5-Coder of ``make llm-local`` rated every near-miss pair relevant), and a hosted
model can be wrong too, so each move needs offline evidence beside the LLM's word, and
nothing the LLM says can make a paper vanish from the answer or appear from nowhere:

- **Promote** (second tier -> main list): only a paper the offline decision already put
  in "may also be relevant" (so it passed the second tier's probability bar and its
  absolute evidence, `second_evidence`), whose offline probability is at least
  ``llm.promote_prob``, that has a supporting sentence to quote, when the question
  already has an offline main list; at most ``llm.max_promoted`` per question. A question
  without a main list (the library may not cover the topic: near-miss unanswerables
  look exactly like this) never gets one from the LLM, so a model that calls every
  near-miss relevant cannot turn a refusal into a wrong answer.
- **Demote** (main list -> second tier): only a paper whose offline probability is
  under the "sure" bar ``llm.sure_prob``; it stays visible as "may also be relevant",
  so a wrong demotion costs the main list a paper but never the answer.
- **Add** (rewrite's candidates -> second tier): a paper found only by the rewrite's
  queries, judged relevant, with the second tier's absolute evidence for the question
  itself (a shared term, or closeness in meaning) and a supporting sentence, joins "may
  also be relevant" (at most ``llm.max_added``), never the main list. The offline
  decision itself is taken without the rewrite's candidates, so the LLM's queries cannot
  shift the offline probabilities either.
- The LLM cannot invent papers: it answers with the numbers of the candidates it was
  shown, and a number outside them makes the reply invalid.

So the main list can change by at most ``max_promoted`` papers with offline evidence,
and by demotions of papers the offline model was itself unsure of; the second tier only
grows. What changed is recorded on the `Answer` (``llm_changes``) and in its notices.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator

from .answer import SECOND_TIER_HEAD
from .decision import second_evidence
from .errors import LLMUnavailableError
from .hits import PaperHit, Retrieval
from .injection import escape_for_prompt, is_injected, source_for_prompt
from .llm import Completion, LLMClient, run_concurrently
from .prompts import load_prompt
from .settings import Settings
from .types import Citation

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
    """The judge's JSON: the numbers of the candidates that address the question."""

    relevant: list[int]


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

    def add(self, step: str, done: Completion | None = None, *, seconds: float = 0.0,
            prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
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
        total = {k: sum(s[k] for s in self.steps.values())
                 for k in ("calls", "prompt_tokens", "completion_tokens")}
        return {**{k: int(v) for k, v in total.items()},
                "seconds": round(sum(s["seconds"] for s in self.steps.values()), 3),
                "steps": {k: dict(v) for k, v in self.steps.items()}}


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

    def _json(self, step: str, messages: list[dict[str, str]], model: type[_M],
              deadline: float | None, check: Callable[[_M], bool] = lambda r: True) -> _M | None:
        """One JSON call, retried once when the reply is not what was asked; else None."""
        cfg = self.settings.llm
        for attempt in (1, 2):
            try:
                done = self.llm.complete_usage(messages, deadline=deadline,
                                               max_tokens=cfg.assist_max_tokens, json_object=True)
            except LLMUnavailableError as exc:
                log.warning("LLM %s failed: %s", step, exc)
                self.notices.append(f"The LLM's {step} failed ({exc}); the offline list stands.")
                self.failed = True
                return None
            self.usage.add(step, done)
            reply = parse_reply(done.text, model)
            if reply is not None and check(reply):
                return reply
            log.warning("LLM %s reply %d is not the JSON asked for: %r", step, attempt,
                        done.text[:200])
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
            question=escape_for_prompt(question), n_queries=cfg.rewrite_queries,
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

    def judge(self, question: str, hits: Sequence[PaperHit],
              deadline: float | None) -> dict[str, bool]:
        """Paper id -> whether the LLM judges it to address ``question``.

        Candidates of a batch whose reply failed twice are left out (no verdict).
        """
        cfg = self.settings.llm
        if self.failed:
            return {}
        batches = [list(hits[i: i + cfg.judge_batch]) for i in range(0, len(hits), cfg.judge_batch)]
        prompt = load_prompt("judge")

        def one(batch: list[PaperHit]) -> Callable[[], dict[str, bool]]:
            def call() -> dict[str, bool]:
                shown = [{"n": i, "title": source_for_prompt(h.paper.title).replace('"', "'"),
                          "text": judge_text(h, cfg.judge_sentence_chars)}
                         for i, h in enumerate(batch, 1)]
                messages = prompt.render(question=escape_for_prompt(question), papers=shown)
                reply = self._json("judging", messages, JudgeReply, deadline,
                                   check=lambda r: all(1 <= n <= len(batch) for n in r.relevant))
                if reply is None:
                    return {}
                yes = set(reply.relevant)
                return {h.paper.id: i in yes for i, h in enumerate(batch, 1)}
            return call

        verdicts: dict[str, bool] = {}
        for part in run_concurrently([one(b) for b in batches], cfg.concurrency):
            verdicts.update(part)
        return verdicts


def judge_text(hit: PaperHit, chars: int) -> str:
    """The sentence a judge reads for ``hit``: its best usable one, else its abstract's start."""
    best = [s.text for s in hit.best_sentences(3) if not is_injected(s.text, hit.paper)]
    text = best[0] if best else hit.paper.abstract
    text = source_for_prompt(text)
    return text if len(text) <= chars else text[: chars - 3].rsplit(" ", 1)[0] + "..."


def has_support(hit: PaperHit) -> bool:
    """Whether ``hit`` has a sentence to quote (not one aimed at a model)."""
    if hit.passage is not None and not is_injected(hit.passage.text, hit.paper):
        return True
    return any(not is_injected(s.text, hit.paper) for s in hit.best_sentences(1))


# -- candidates ------------------------------------------------------------------------
def extra_candidates(base: Retrieval, fused: Retrieval) -> list[PaperHit]:
    """The candidates only the rewrite's texts found: in ``fused`` (the question retrieved
    with them as extra queries, every candidate scored against the question), not among
    ``base``'s (the question alone), in ``fused``'s order."""
    known = {h.paper.id for h in base.hits}
    return [h for h in fused.hits if h.paper.id not in known]


def judge_pool(base: Retrieval, extra: Sequence[PaperHit], n: int) -> list[PaperHit]:
    """The ``n`` candidates the LLM judges: the offline tiers first (the decision is about
    them), then the offline ranking and the rewrite's candidates alternately."""
    pool: dict[str, PaperHit] = {h.paper.id: h for h in [*base.relevant, *base.second]}
    rest = [h for h in base.hits if h.paper.id not in pool]
    for i in range(max(len(rest), len(extra))):
        for side in (rest, extra):
            if i < len(side) and side[i].paper.id not in pool:
                pool[side[i].paper.id] = side[i]
    return list(pool.values())[:n]


# -- the combination rule --------------------------------------------------------------
@dataclass(frozen=True)
class Trust:
    """Which of a judge's verdicts the rule may act on, for one question.

    ``yes``: its "relevant" verdicts may promote or add papers; ``no``: its "irrelevant"
    verdicts may demote them; ``reason``: a notice when either is withheld, else "".
    """

    yes: bool
    no: bool
    reason: str = ""


def check_judge(base: Retrieval, verdicts: dict[str, bool], settings: Settings) -> Trust:
    """Test the judge on control papers whose answer the offline evidence is sure of.

    Positive controls: main-list papers at or over ``llm.sure_prob``; negative controls:
    judged candidates in neither tier under ``llm.control_prob``. A judge's "relevant"
    counts only when there are at least ``llm.control_min`` negative controls and it
    calls at most ``llm.control_yes_max`` of them relevant (a model that calls everything
    relevant, as the 1.5B does with near-misses, tells nothing); its "irrelevant" counts
    only when it recognises every positive control, and there is one (a model that calls
    nothing relevant would otherwise empty the list). Both need it to pass the other test
    too, so an inverted or random judge moves nothing.
    """
    cfg = settings.llm
    tiers = {h.paper.id for h in [*base.relevant, *base.second]}
    pos = [h for h in base.relevant if h.prob >= cfg.sure_prob and h.paper.id in verdicts]
    neg = [h for h in base.hits if h.paper.id in verdicts and h.paper.id not in tiers
           and h.prob < cfg.control_prob]
    neg_yes = sum(verdicts[h.paper.id] for h in neg)
    rejects = len(neg) >= cfg.control_min and neg_yes <= cfg.control_yes_max * len(neg)
    recognises = all(verdicts[h.paper.id] for h in pos)
    yes, no = rejects and recognises, rejects and recognises and bool(pos)
    reason = ""
    if not recognises:
        reason = (f"The LLM judged off-topic {len(pos) - sum(verdicts[h.paper.id] for h in pos)}"
                  " paper(s) the offline evidence is sure of; its judgments were not used.")
    elif not rejects and neg:
        reason = (f"The LLM judged relevant {neg_yes} of {len(neg)} papers the offline evidence "
                  "rules out; its judgments were not used.")
    return Trust(yes, no, reason)


@dataclass
class Combined:
    """The lists after the LLM's judgments, and what it changed."""

    main: list[PaperHit]
    second: list[PaperHit]
    promoted: list[PaperHit] = field(default_factory=list)
    demoted: list[PaperHit] = field(default_factory=list)
    added: list[PaperHit] = field(default_factory=list)
    trust: Trust | None = None

    def changes(self) -> dict[str, list[str]]:
        """Paper ids the LLM moved, as `Answer.llm_changes` records them."""
        return {"added": [h.paper.id for h in self.promoted],
                "removed": [h.paper.id for h in self.demoted],
                "second_added": [h.paper.id for h in self.added]}

    def notices(self) -> list[str]:
        """One line per kind of change, naming the papers."""
        def names(hs: list[PaperHit]) -> str:
            return "; ".join(f"'{h.paper.title}'" for h in hs)
        out = []
        if self.promoted:
            out.append(f"The LLM added to the list (it was 'may also be relevant'): "
                       f"{names(self.promoted)}.")
        if self.demoted:
            out.append(f"The LLM judged off-topic, moved to 'may also be relevant': "
                       f"{names(self.demoted)}.")
        if self.added:
            out.append(f"The LLM's search found (listed as 'may also be relevant'): "
                       f"{names(self.added)}.")
        if self.trust is not None and self.trust.reason:
            out.append(self.trust.reason)
        return out


def combine(base: Retrieval, extra: Sequence[PaperHit], verdicts: dict[str, bool],
            settings: Settings) -> Combined:
    """The main list and second tier after the LLM's ``verdicts`` (see the module's rule).

    Args:
        base: the offline retrieval of the question (its ``relevant`` and ``second``).
        extra: candidates found only by the rewrite's searches (`extra_candidates`).
        verdicts: paper id -> judged relevant; a paper without a verdict does not move.
        settings: ``llm.sure_prob``, ``promote_prob``, ``max_promoted``, ``max_added``.
    """
    cfg, rcfg = settings.llm, settings.retrieval
    trust = check_judge(base, verdicts, settings)
    demoted = [h for h in base.relevant if trust.no and verdicts.get(h.paper.id) is False
               and h.prob < cfg.sure_prob]
    main = [h for h in base.relevant if h not in demoted]
    promoted: list[PaperHit] = []
    if base.relevant and trust.yes:  # never a main list for a question without one
        room = max(0, min(cfg.max_promoted, rcfg.max_papers - len(main)))
        promoted = sorted(
            (h for h in base.second if verdicts.get(h.paper.id) is True
             and h.prob >= cfg.promote_prob and has_support(h)),
            key=lambda h: -h.prob,
        )[:room]
    seen = {h.paper.id for h in [*base.relevant, *base.second]}
    added = [h for h in extra if trust.yes and h.paper.id not in seen
             and verdicts.get(h.paper.id) is True and second_evidence(h, rcfg)
             and has_support(h)][: cfg.max_added]
    kept = [h for h in base.second if h not in promoted]
    # Judged-relevant second-tier papers first; nothing leaves the second tier.
    kept.sort(key=lambda h: verdicts.get(h.paper.id) is not True)
    second = [*demoted, *kept, *added]
    for h in [*main, *promoted]:
        h.tier = "main"
    for h in second:
        h.tier = "second"
    return Combined([*main, *promoted], second, promoted, demoted, added, trust)


def judged_retrieval(base: Retrieval, combined: Combined) -> Retrieval:
    """``base`` with the combined lists (the added papers joined to its candidates)."""
    known = {h.paper.id for h in base.hits}
    hits = [*base.hits, *(h for h in combined.added if h.paper.id not in known)]
    return dataclasses.replace(base, hits=hits, relevant=combined.main, second=combined.second)


def assist_list(
    assist: Assist,
    question: str,
    base: Retrieval,
    search: Callable[[list[str]], Retrieval],
    deadline: float | None,
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
    verdicts = assist.judge(question, pool, share(0.5)) if pool and cfg.judge_top_n else {}
    log.debug("assist: %d texts, %d extra, %d judged in %.1f s", len(texts), len(extra),
              len(verdicts), time.perf_counter() - t)
    if not verdicts:
        return base, None
    combined = combine(base, extra, verdicts, assist.settings)
    return judged_retrieval(base, combined), combined


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

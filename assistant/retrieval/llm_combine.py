"""How the LLM's judgments combine with the offline decision.

Two rules, chosen by ``llm.decide``: "judge" (the default: a judge that passes its
checks settles the lists, assistant/retrieval/llm_decide.py) and "bounded", this module's:

**"bounded": the judgments may only move papers between the offline tiers.**
The offline decision (assistant/retrieval/decision.py) stays the base; `combine` lets the
judgments of assistant/retrieval/llm_assist.py move papers only as follows.

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
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ..core.settings import Settings
from ..text.injection import is_injected
from .decision import second_evidence
from .hits import PaperHit, Retrieval


def has_support(hit: PaperHit) -> bool:
    """Whether ``hit`` has a sentence to quote (not one aimed at a model)."""
    # A passage is read from the stored full text, not from the snapshot's sentences.
    if hit.passage is not None and not is_injected(hit.passage.text, hit.paper):
        return True
    return bool(hit.best_sentences(1))


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


def ruled_out(base: Retrieval, judged: Collection[str], bar: float) -> list[PaperHit]:
    """The judged candidates the offline evidence rules out: in neither tier, offline
    probability under ``bar`` (the controls a judge worth trusting mostly rejects)."""
    tiers = {h.paper.id for h in [*base.relevant, *base.second]}
    return [
        h for h in base.hits if h.paper.id in judged and h.paper.id not in tiers and h.prob < bar
    ]


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
    pos = [h for h in base.relevant if h.prob >= cfg.sure_prob and h.paper.id in verdicts]
    neg = ruled_out(base, verdicts, cfg.control_prob)
    neg_yes = sum(verdicts[h.paper.id] for h in neg)
    rejects = len(neg) >= cfg.control_min and neg_yes <= cfg.control_yes_max * len(neg)
    recognises = all(verdicts[h.paper.id] for h in pos)
    yes, no = rejects and recognises, rejects and recognises and bool(pos)
    reason = ""
    if not recognises:
        reason = (
            f"The LLM judged off-topic {len(pos) - sum(verdicts[h.paper.id] for h in pos)}"
            " paper(s) the offline evidence is sure of; its judgments were not used."
        )
    elif not rejects and neg:
        reason = (
            f"The LLM judged relevant {neg_yes} of {len(neg)} papers the offline evidence "
            "rules out; its judgments were not used."
        )
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
    # "bounded" (`combine`) or "judge" (`decide_by_judge`: the judge settled the lists).
    mode: str = "bounded"

    def changes(self) -> dict[str, list[str]]:
        """Paper ids the LLM moved, as `Answer.llm_changes` records them."""
        return {
            "added": [h.paper.id for h in self.promoted],
            "removed": [h.paper.id for h in self.demoted],
            "second_added": [h.paper.id for h in self.added],
        }

    def notices(self) -> list[str]:
        """One line per kind of change, naming the papers."""

        def names(hs: list[PaperHit]) -> str:
            return "; ".join(f"'{h.paper.title}'" for h in hs)

        out = []
        if self.mode == "judge":
            if self.promoted:
                out.append(f"The LLM judged relevant and listed: {names(self.promoted)}.")
            if self.demoted:
                out.append(f"The LLM judged off-topic and left out: {names(self.demoted)}.")
        elif self.promoted:
            out.append(
                f"The LLM added to the list (it was 'may also be relevant'): "
                f"{names(self.promoted)}."
            )
        if self.demoted and self.mode != "judge":
            out.append(
                f"The LLM judged off-topic, moved to 'may also be relevant': {names(self.demoted)}."
            )
        if self.added:
            out.append(
                f"The LLM's search found (listed as 'may also be relevant'): {names(self.added)}."
            )
        if self.trust is not None and self.trust.reason:
            out.append(self.trust.reason)
        return out


def combine(
    base: Retrieval, extra: Sequence[PaperHit], verdicts: dict[str, bool], settings: Settings
) -> Combined:
    """The main list and second tier after the LLM's ``verdicts`` (see the module's rule).

    Args:
        base: the offline retrieval of the question (its ``relevant`` and ``second``).
        extra: candidates found only by the rewrite's searches (`extra_candidates`).
        verdicts: paper id -> judged relevant; a paper without a verdict does not move.
        settings: ``llm.sure_prob``, ``promote_prob``, ``max_promoted``, ``max_added``.
    """
    cfg, rcfg = settings.llm, settings.retrieval
    trust = check_judge(base, verdicts, settings)
    demoted = [
        h
        for h in base.relevant
        if trust.no and verdicts.get(h.paper.id) is False and h.prob < cfg.sure_prob
    ]
    main = [h for h in base.relevant if h not in demoted]
    promoted: list[PaperHit] = []
    if base.relevant and trust.yes:  # never a main list for a question without one
        room = max(0, min(cfg.max_promoted, rcfg.max_papers - len(main)))
        promoted = sorted(
            (
                h
                for h in base.second
                if verdicts.get(h.paper.id) is True
                and h.prob >= cfg.promote_prob
                and has_support(h)
            ),
            key=lambda h: -h.prob,
        )[:room]
    seen = {h.paper.id for h in [*base.relevant, *base.second]}
    added = [
        h
        for h in extra
        if trust.yes
        and h.paper.id not in seen
        and verdicts.get(h.paper.id) is True
        and second_evidence(h, rcfg)
        and has_support(h)
    ][: cfg.max_added]
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
    new = [h for h in [*combined.main, *combined.added] if h.paper.id not in known]
    hits = [*base.hits, *new]
    judged = combined.mode == "judge" and combined.trust is not None and combined.trust.yes
    confidence = ("judged" if combined.main else "") if judged else base.confidence
    return dataclasses.replace(
        base,
        hits=hits,
        relevant=combined.main,
        second=combined.second,
        confidence=confidence,
        semantic_only=base.semantic_only and not judged,
    )

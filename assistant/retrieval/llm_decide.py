"""A judge that passes its checks settles the lists (``llm.decide`` "judge").

Beside the question, each judging call carries checks whose answers are known without
any offline main list (`probe_trust`): far-topic papers slipped into the pool (all must
be rejected, up to ``far_wrong_max``), a second question whose answer is one candidate's
own title (it must be named, and not most others), and the candidates the offline
evidence rules out (few may be called relevant). A judge that passes decides over the
whole judged pool (`judged_tiers`, `decide_by_judge`): a paper it calls relevant, with a
sentence to quote and offline evidence of at least ``judge_floor``, is listed even when
the offline model had no list, with no fixed count; one it calls irrelevant leaves. One
that fails leaves the offline lists as they are, with a notice saying which check failed.
The settings were chosen with simulated judges on the eval set's tuning half
(evals/tune_judge.py): no always-yes, always-no, inverted or coin judge may make a list
figure worse than offline by more than 0.02.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.settings import LLMSettings, Settings
from .decision import second_evidence
from .hits import PaperHit, Retrieval
from .llm_combine import Combined, Trust, has_support, ruled_out


@dataclass
class Probes:
    """The checks asked beside a question, chosen from its own candidates.

    ``far``: the retriever's last candidates (far from the question), slipped into the
    judged pool: none should be judged relevant. ``check``: a known-answer question, "which
    paper is titled '<title>'?", for a judged candidate the offline evidence rules out, so
    a judge that just repeats the question's verdicts misses it.
    """

    far: list[PaperHit] = field(default_factory=list)
    check: tuple[str, str] | None = None

    @classmethod
    def choose(cls, base: Retrieval, pool: Sequence[PaperHit], cfg: LLMSettings) -> Probes:
        inside = {h.paper.id for h in pool}
        far = [h for h in reversed(base.hits) if h.paper.id not in inside][: cfg.far_probes]
        check = None
        if cfg.title_probe and pool:
            low = {h.paper.id for h in ruled_out(base, inside, cfg.judge_control_prob)}
            in_pool = [h for h in pool if h.paper.id in low]  # in the pool's order
            probe = in_pool[-1] if in_pool else pool[-1]
            check = (f"Which paper is titled '{probe.paper.title}'?", probe.paper.id)
        return cls(far, check)

    def shuffle_in(self, pool: Sequence[PaperHit]) -> list[PaperHit]:
        """``pool`` with the far papers spread through it at fixed, even places."""
        out = list(pool)
        for k, h in enumerate(self.far, 1):
            out.insert(k * len(out) // (len(self.far) + 1), h)
        return out

    def strip(self, verdicts: dict[str, bool]) -> dict[str, bool]:
        """The verdicts on the real candidates (a far paper is a probe, never listed)."""
        far = {h.paper.id for h in self.far}
        return {pid: v for pid, v in verdicts.items() if pid not in far}

    def checks(
        self, verdicts: dict[str, bool], checked: dict[str, bool], cfg: LLMSettings
    ) -> Checks:
        """The judge's answers to the checks, for `probe_trust`."""
        title_ok = None
        if self.check is not None and checked:
            others = [v for pid, v in checked.items() if pid != self.check[1]]
            title_ok = checked.get(self.check[1], False) and (
                sum(others) <= cfg.control_yes_max * max(1, len(others))
            )
        far = [verdicts[h.paper.id] for h in self.far if h.paper.id in verdicts]
        return Checks(title_ok, far)


# -- the checks ----------------------------------------------------------------------
def probe_trust(
    title_ok: bool | None, far: Sequence[bool], controls: Sequence[bool], cfg: LLMSettings
) -> Trust:
    """Whether a judge's verdicts may decide the lists, from checks whose answer is known.

    Args:
        title_ok: whether it answered the known-answer question (which candidate is about
            a given title) right, None when none was asked.
        far: its verdicts on the far-topic papers slipped into the pool (all should be no).
        controls: its verdicts on the judged candidates the offline evidence rules out
            (under ``judge_control_prob``, in neither tier); most should be no.

    Trusted only when no check failed and at least one was made: an always-yes judge
    fails the far papers, an always-no or inverted one the title question, a coin the
    controls. None of them needs an offline main list, so a question the offline
    evidence is unsure of can still be settled by a judge that passes.
    """
    reasons = []
    if title_ok is False:
        reasons.append("it missed a known-answer check (which candidate has a given title)")
    if sum(far) > cfg.far_wrong_max:
        reasons.append(f"it judged relevant {sum(far)} of {len(far)} far-topic check papers")
    checked = len(controls) >= cfg.control_min
    if checked and sum(controls) > cfg.control_yes_max * len(controls):
        reasons.append(
            f"it judged relevant {sum(controls)} of {len(controls)} papers the offline "
            "evidence rules out"
        )
    if not reasons and title_ok is None and not far and not checked:
        reasons.append("no check of its judgment could be made")
    if reasons:
        reason = "The LLM's judgments were not used: " + "; ".join(reasons) + "."
        return Trust(False, False, reason)
    return Trust(True, True)


def judged_tiers(
    order: Sequence[int],
    offline_main: Sequence[int],
    offline_second: Sequence[int],
    verdict: dict[int, bool],
    arrays: dict[str, np.ndarray],
    cfg: LLMSettings,
    second_max: int,
) -> tuple[list[int], list[int], list[int]]:
    """The lists a trusted judge decides, as indices into the candidates (in ``order``).

    Main list: every judged-relevant candidate with a sentence to quote whose offline
    evidence (``arrays[cfg.judge_evidence]``) reaches ``judge_floor``, with or without an
    offline main list, and no fixed count; an offline main-list paper stays unless judged
    irrelevant, or judged so while the offline model is sure of it (``prob`` at or over
    ``keep_prob``, when under 1). Second tier: the offline one's papers not judged
    irrelevant, and judged-relevant papers short of the floor that have the tier's own
    evidence (``has_evidence``), at most ``second_max``. Returns (main, second, the offline
    main papers it removed).
    The tuner (evals/tune_judge.py) calls this on stored signals, so what it fits is what
    the app runs.
    """
    main_set, second_set = set(offline_main), set(offline_second)
    evidence, prob = arrays[cfg.judge_evidence], arrays["prob"]
    support, has_ev = arrays["support"], arrays["has_evidence"]
    main, second, removed = [], [], []
    for i in order:
        v = verdict.get(i)
        if i in main_set:
            if v is not False or (cfg.keep_prob < 1 and prob[i] >= cfg.keep_prob):
                main.append(i)
            else:
                removed.append(i)
        elif v is True and support[i] and evidence[i] >= cfg.judge_floor:
            main.append(i)
        elif v is not False and (i in second_set or (v is True and has_ev[i])):
            second.append(i)
    return main, second[:second_max], removed


@dataclass
class Checks:
    """A judge's answers to the checks asked beside the question (see `probe_trust`).

    ``title_ok``: whether it named the paper of the known-answer title question (and not
    most of the others), None when that batch got no valid reply; ``far``: its verdicts
    on the far-topic papers slipped into the pool.
    """

    title_ok: bool | None = None
    far: list[bool] = field(default_factory=list)


def controls(base: Retrieval, verdicts: dict[str, bool], cfg: LLMSettings) -> list[bool]:
    """The verdicts on judged candidates the offline evidence rules out (in neither tier,
    under ``judge_control_prob``): a judge worth trusting calls few of them relevant."""
    return [verdicts[h.paper.id] for h in ruled_out(base, verdicts, cfg.judge_control_prob)]


def decide_by_judge(
    base: Retrieval,
    extra: Sequence[PaperHit],
    verdicts: dict[str, bool],
    checks: Checks,
    settings: Settings,
) -> Combined:
    """The lists when the judge passes its checks: its verdicts settle the judged pool
    (`judged_tiers`); when it fails them, the offline lists stand, with a notice."""
    cfg = settings.llm
    trust = probe_trust(checks.title_ok, checks.far, controls(base, verdicts, cfg), cfg)
    if not trust.yes:
        return Combined(list(base.relevant), list(base.second), trust=trust, mode="judge")
    hits = [*base.hits, *(h for h in extra if h.paper.id not in {x.paper.id for x in base.hits})]
    index = {h.paper.id: i for i, h in enumerate(hits)}
    arrays = {
        "prob": np.asarray([h.prob for h in hits]),
        "first_score": np.asarray([h.first_score for h in hits]),
        "score": np.asarray([h.score for h in hits]),
        "support": np.asarray([has_support(h) for h in hits], dtype=bool),
        "has_evidence": np.asarray([second_evidence(h, settings.retrieval) for h in hits]),
    }
    verdict = {index[pid]: v for pid, v in verdicts.items() if pid in index}
    main_i, second_i, removed_i = judged_tiers(
        range(len(hits)),
        [index[h.paper.id] for h in base.relevant],
        [index[h.paper.id] for h in base.second],
        verdict,
        arrays,
        cfg,
        settings.retrieval.second_max,
    )
    main = [hits[i] for i in main_i]
    second = [hits[i] for i in second_i]
    was_main = {h.paper.id for h in base.relevant}
    known = {h.paper.id for h in base.hits}
    for h in main:
        h.tier = "main"
    for h in second:
        h.tier = "second"
    return Combined(
        main,
        second,
        promoted=[h for h in main if h.paper.id not in was_main],
        demoted=[hits[i] for i in removed_i],
        added=[h for h in second if h.paper.id not in known],
        trust=trust,
        mode="judge",
    )

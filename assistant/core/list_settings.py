"""The list decision's settings: which candidates an answer lists, and how sure it says it is.

`RetrievalSettings` (assistant/core/settings.py) inherits them, so they live in the same
``retrieval`` group of `Settings` (``PAPERLENS_RETRIEVAL__GAP`` and so on); they are kept
apart because they are chosen together, by `python -m evals.tune_rule` (the rule) and
`python -m evals.tune_cut` (the older model), not one by one like the retrieval weights.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# Fitted by `python -m evals.tune_cut` (evals/tier_model.json holds the fit and its figures).
TIER_WEIGHTS: tuple[float, ...] = (
    2.24815,
    2.06898,
    0.6921,
    2.74421,
    1.46344,
    0.66818,
    -0.62729,
    -0.42916,
    -0.60205,
    0.45174,
    1.67019,
    0.16696,
    0.40857,
    0.09414,
    -0.09812,
    0.21371,
    8.60895,
    -6.23732,
)


class ListSettings(BaseModel):
    # Chosen by `python -m evals.tune_rule` with grouped k-fold cross-validation on the
    # tuning half of the eval set (evals/CALIBRATION.md, evals/rule_model.json).
    list_method: Literal["rule", "model", "gap"] = Field(
        "rule",
        description="'rule': accept on `floor`/`dense_floor`, list the ranking's papers within "
        "`gap` of the best, say how sure (`sure_floor`), and show a 'may also be relevant' "
        "paper only with evidence of its own; 'model': a logistic model over each candidate's "
        "signals decides both tiers; 'gap': the older cut under `floor` and `gap`.",
    )
    sure_floor: float = Field(
        0.375,
        description="Best score before feedback at or over which a list is stated plainly "
        "('N papers address this'); an accepted question under it is answered 'these papers "
        "appear to address it' (method 'rule').",
    )
    main_floor: float = Field(
        0.0,
        description="Score (after feedback) a paper other than the ranking's first needs to "
        "join an accepted question's main list, besides `gap` of the best (method 'rule').",
    )
    rule_threshold: float = Field(
        0.0,
        ge=0,
        le=1,
        description="The model's probability (`tier_weights`) a paper other than the ranking's "
        "first needs to join the main list (method 'rule'; 0: not used, as chosen).",
    )
    second_depth: int = Field(
        10,
        ge=0,
        description="How far down the ranking the 'may also be relevant' tier looks (method "
        "'rule'); each paper there still needs evidence of its own.",
    )
    ranking: Literal["weighted", "rrf", "rrf3"] = Field(
        "rrf3",
        description="Candidate order before the decision: the weighted score, reciprocal-rank "
        "fusion of BM25 and dense ranks ('rrf'), or of those and the weighted score ('rrf3').",
    )
    rrf_k: float = Field(
        60.0, gt=0, description="The k of reciprocal-rank fusion (1 / (k + rank))."
    )
    pool: int = Field(
        30, ge=1, description="Candidates of the ranking the list decision considers."
    )
    tier_weights: tuple[float, ...] = Field(
        TIER_WEIGHTS,
        description="Logistic weights of `assistant.retrieval.decision.TIER_FEATURES`, then "
        "the bias "
        "(fitted by evals/tune_cut.py; evals/tier_model.json records the fit).",
    )
    accept_rule: Literal["floor", "model"] = Field(
        "model",
        description="Whether a question gets a main list at all: 'floor': its best score before "
        "feedback reaches `floor` or a chunk's similarity reaches `dense_floor`; 'model': the best "
        "candidate's probability reaches `accept_threshold`. Otherwise second tier only.",
    )
    accept_threshold: float = Field(
        0.875,
        ge=0,
        le=1,
        description="Probability the best candidate needs for the question to get a main list "
        "at all (below it the library is not sure it has the topic: second tier only).",
    )
    main_threshold: float = Field(
        0.625,
        ge=0,
        le=1,
        description="Probability of relevance a paper needs to be in the main list.",
    )
    second_threshold: float = Field(
        0.005,
        ge=0,
        le=1,
        description="Probability a paper needs to be shown as 'may also be relevant' (uncertain).",
    )
    uncertain_threshold: float = Field(
        0.45,
        ge=0,
        le=1,
        description="Probability a paper needs to be offered as 'may also be relevant' when the "
        "question got no main list (the library may not cover the topic at all).",
    )
    uncertain_dense: float = Field(
        0.25,
        description="A question without a main list may still offer a paper at "
        "`second_threshold` when its best chunk's cosine similarity before feedback reaches "
        "this (paraphrased questions); others need `uncertain_threshold`.",
    )
    second_max: int = Field(5, ge=0, description="Most papers in the 'may also be relevant' tier.")
    # Absolute evidence a second-tier paper needs besides its probability,
    # chosen by grouped k-fold CV on the tuning half (`python -m evals.tune_cut`).
    second_lexical: float = Field(
        1.0,
        ge=-1,
        le=1,
        description="A 'may also be relevant' paper must match more than this share of the "
        "question's terms, or reach `second_dense` (-1: every paper passes).",
    )
    second_dense: float = Field(
        0.6,
        ge=-1,
        le=2,
        description="...or its best chunk's similarity to the question before feedback must "
        "reach this (-1: every paper passes; above 1: only the lexical condition).",
    )

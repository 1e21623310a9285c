"""The list decision's model: a logistic regression of "this candidate is relevant or
partial", fitted with k-fold cross-validation grouped by ``topic_group`` (no topic is in
both a training fold and its held-out fold)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from assistant.retrieval.decision import rank_order, tier_features
from evals.tune_items import Item


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Weights (then the bias) of an L2-regularised logistic regression, by Newton steps
    on standardised features; returned for the raw features."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    raw = w[:-1] / sd
    return np.r_[raw, w[-1] - float((w[:-1] * mu / sd).sum())]


def design(
    item: Item, ranking: str, pool: int, rrf_k: float
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The pool's feature rows, paper ids and labels (relevant or partial = 1)."""
    order = rank_order(item.sig, ranking, rrf_k)
    x = tier_features(item.sig, order)[order[:pool]]
    ids = [item.ids[i] for i in order[:pool]]
    y = np.asarray([float(p in item.relevant or p in item.partial) for p in ids])
    return x, ids, y


def topic_folds(items: list[Item], k: int) -> list[int]:
    """Fold of each item: topic groups dealt round-robin in a fixed (hashed) order."""
    groups = sorted({it.group for it in items}, key=lambda g: hashlib.md5(g.encode()).hexdigest())
    fold = {g: i % k for i, g in enumerate(groups)}
    return [fold[it.group] for it in items]


def fit_designs(designs: list[tuple[np.ndarray, list[str], np.ndarray]], l2: float) -> np.ndarray:
    """`fit_logistic` on the stacked rows and labels of several questions' pools."""
    return fit_logistic(
        np.vstack([d[0] for d in designs]), np.concatenate([d[2] for d in designs]), l2
    )


def oof_probs(
    items: list[Item], ranking: str, pool: int, l2: float, k: int, rrf_k: float
) -> list[tuple[list[str], np.ndarray]]:
    """Out-of-fold (ids ordered by probability, probabilities) for every item."""
    designs = [design(it, ranking, pool, rrf_k) for it in items]
    folds = topic_folds(items, k)
    out: list[Any] = [None] * len(items)
    for f in range(k):
        train = [d for d, g in zip(designs, folds, strict=True) if g != f]
        w = fit_designs(train, l2)
        for i, (d, g) in enumerate(zip(designs, folds, strict=True)):
            if g == f:
                out[i] = ordered(d, w)
    return out


def ordered(
    design: tuple[np.ndarray, list[str], np.ndarray], w: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """A pool's paper ids and probabilities under weights ``w``, most probable first."""
    x, ids, _ = design
    p = 1.0 / (1.0 + np.exp(-(x @ w[:-1] + w[-1])))
    o = np.argsort(-p, kind="stable")
    return [ids[i] for i in o], p[o]

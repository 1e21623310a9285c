"""The claim/source pairs that calibrate the offline citation judge, built from the corpus.

For ``n`` abstract sentences (one per paper, seeded) the sentence is paired with:
- ``own``: its own abstract (supported; the sentence occurs in it verbatim);
- ``own_rest``: its own abstract with that sentence taken out (diagnostic: the right
  paper, but the sentence is not stated);
- ``random``: a random other abstract (wrong paper);
- ``closest``: the most similar other paper (mean chunk vector; the hard wrong paper);
- ``number``: its own abstract, the sentence with a number changed (contradicted);
- ``negation``: its own abstract, the sentence with a negation inserted (contradicted);
- ``title_own`` / ``title_closest``: the paper's title as the claim, against its own
  abstract (title left out) and the closest other paper's: a paraphrase-like claim, since
  ``own`` is verbatim and scores 1.0 by construction.

`evals.calibration` scores them; `evals.attribution` shares the title-out marker, the paper
vectors and the memoising embedder.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant import Paper
from assistant.answering.verify import numbers
from assistant.text.terms import terms

from .judge import paper_sentences

KINDS = ("own", "own_rest", "random", "closest", "number", "negation", "title_own", "title_closest")
TITLE = -2  # drop_sentence value: score against the abstract without the title
NEGATIVES = ("random", "closest", "number", "negation")
_AUX = re.compile(
    r"\b(is|are|was|were|can|could|will|would|does|do|did|has|have|should|may|might)\b"
)
_WE = re.compile(r"\b(we|this paper|this work|it)\s+(\w+?)(s|es)?\b", re.IGNORECASE)
_NUM = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Pair:
    """A claim (from ``claim_paper``) to be judged against ``source_paper``'s abstract."""

    kind: str
    claim: str
    claim_paper: str
    source_paper: str
    drop_sentence: int = -1  # own_rest: index of the sentence taken out of the source


class CachedEmbedder:
    """Memoises `encode` by text: the cos_weight sweep scores the same texts many times."""

    def __init__(self, embedder: Any):
        self.embedder = embedder
        self.cache: dict[str, np.ndarray] = {}

    def warm(self, texts: Sequence[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        for t, v in zip(todo, self.embedder.encode(todo), strict=True):
            self.cache[t] = v

    def encode(self, texts: list[str]) -> np.ndarray:
        self.warm(texts)
        return np.vstack([self.cache[t] for t in texts]) if texts else self.embedder.encode([])


def alter_number(sentence: str, source_text: str) -> str | None:
    """The sentence with its first number changed to one the source never states."""
    m = _NUM.search(sentence)
    if not m:
        return None
    have = numbers(source_text)
    value = m.group(0)
    for bump in (7, 3, 11, 29):
        if "." in value:
            whole, frac = value.split(".")
            new = f"{whole}.{(int(frac) + bump) % (10 ** len(frac)):0{len(frac)}d}"
        else:
            new = str(int(value) + bump)
        if new.replace(",", "") not in have:
            return sentence[: m.start()] + new + sentence[m.end() :]
    return None


def insert_negation(sentence: str) -> str:
    """The sentence with "not" after its first auxiliary verb (or its subject's verb)."""
    m = _AUX.search(sentence)
    if m:
        return sentence[: m.end()] + " not" + sentence[m.end() :]
    m = _WE.search(sentence)
    if m and m.group(1).lower() == "we":
        return sentence[: m.start(2)] + "do not " + sentence[m.start(2) :]
    return "It is not the case that " + sentence[0].lower() + sentence[1:]


def build_pairs(
    papers: dict[str, Paper], vectors: dict[str, np.ndarray], n: int = 100, seed: int = 0
) -> list[Pair]:
    """The calibration pairs (see the module docstring), deterministic for a seed."""
    rng = random.Random(seed)
    order = sorted(p for p in papers if p in vectors)
    mat = np.vstack([vectors[p] for p in order])
    sims = mat @ mat.T
    np.fill_diagonal(sims, -1.0)
    row = {p: i for i, p in enumerate(order)}
    shuffled = list(order)
    rng.shuffle(shuffled)
    pairs: list[Pair] = []
    used = 0
    for pid in shuffled:
        if used >= n:
            break
        paper = papers[pid]
        sents = paper_sentences(paper)
        good = [s for s in sents if len(terms(s.text)) >= 8]
        if len(sents) < 3 or not good:
            continue
        used += 1
        s = rng.choice(good)
        closest = order[int(np.argmax(sims[row[pid]]))]
        other = rng.choice([p for p in order if p != pid])
        pairs += [
            Pair("own", s.text, pid, pid),
            Pair("own_rest", s.text, pid, pid, s.index),
            Pair("random", s.text, pid, other),
            Pair("closest", s.text, pid, closest),
            Pair("negation", insert_negation(s.text), pid, pid),
        ]
        # The changed-number pair uses the first sentence that has a number, if any.
        with_number = next((x for x in sents if _NUM.search(x.text)), None)
        changed = (
            alter_number(with_number.text, paper.title + " " + paper.abstract)
            if with_number
            else None
        )
        if changed:
            pairs.append(Pair("number", changed, pid, pid))
        # A paraphrase-like claim: the title against the abstract without its title.
        pairs += [
            Pair("title_own", paper.title, pid, pid, TITLE),
            Pair("title_closest", paper.title, pid, closest, TITLE),
        ]
    return pairs


def mean_vectors(library: Any, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
    """One unit vector per paper: the mean of its chunk vectors in the library."""
    out = {}
    for pid, vecs in library.chunk_vectors(list(paper_ids)).items():
        v = vecs.mean(axis=0)
        out[pid] = v / (np.linalg.norm(v) or 1.0)
    return out


__all__ = [
    "KINDS",
    "NEGATIVES",
    "TITLE",
    "CachedEmbedder",
    "Pair",
    "alter_number",
    "build_pairs",
    "insert_negation",
    "mean_vectors",
]

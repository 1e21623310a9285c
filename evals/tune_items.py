"""The candidates the list decision is tuned on: each list question's hits and raw signals.

Retrieved once per question (`collect`) and kept in a features file, so a later run of
``python -m evals.tune_cut --reuse`` refits without retrieving again (`load_items`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant import Settings

LIST_KINDS = ("topic", "topic_paraphrase", "unanswerable")


@dataclass
class Item:
    """One question's candidates as the retriever saw them."""

    id: str
    kind: str
    split: str
    group: str
    relevant: set[str]
    partial: set[str]
    ids: list[str]
    sig: dict[str, np.ndarray]
    gap_list: list[str]  # what the older floor/gap cut listed

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def load_questions(path: Path) -> list[dict[str, Any]]:
    """The eval set's list questions, each with its ``split`` and ``topic_group``."""
    questions = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    questions = [q for q in questions if q["kind"] in LIST_KINDS]
    missing = [q["id"] for q in questions if "split" not in q or "topic_group" not in q]
    if missing:
        raise SystemExit(
            f"{len(missing)} questions lack 'split'/'topic_group' (e.g. {missing[0]}): "
            "split the set first"
        )
    return questions


def load_items(path: Path) -> list[Item]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [
        Item(
            r["id"],
            r["kind"],
            r["split"],
            r["group"],
            set(r["relevant"]),
            set(r["partial"]),
            r["ids"],
            {k: np.asarray(v, dtype=np.float64) for k, v in r["sig"].items()},
            r["gap_list"],
        )
        for r in raw
    ]


def collect(settings: Settings, questions: list[dict[str, Any]], out: Path) -> list[Item]:
    """Retrieve each question once (model mode, so feedback always runs) and keep the signals."""
    from assistant import Library
    from assistant.answering.questions import PaperNames, classify
    from assistant.index.embeddings import get_embedder
    from assistant.retrieval.decision import hit_signals
    from assistant.retrieval.retriever import Retriever

    embedder = get_embedder(settings)
    library = Library(settings)
    model = Retriever(
        settings.model_copy(
            update={"retrieval": settings.retrieval.model_copy(update={"list_method": "model"})}
        ),
        library,
        embedder,
    )
    gap = Retriever(
        settings.model_copy(
            update={"retrieval": settings.retrieval.model_copy(update={"list_method": "gap"})}
        ),
        library,
        embedder,
    )
    names = PaperNames(model.papers.values())
    rows = []
    for q in questions:
        info = classify(q["question"], names)
        if info.named or info.kind == "metadata":
            continue  # answered about the named paper, not by a list: not this decision's job
        qvec = embedder.encode_query(q["question"])
        r = model.retrieve(q["question"], query_vector=qvec)
        sig = hit_signals(r.hits)
        g = gap.retrieve(q["question"], query_vector=qvec)
        rows.append(
            {
                "id": q["id"],
                "kind": q["kind"],
                "split": q["split"],
                "group": q["topic_group"],
                "relevant": q.get("relevant", []),
                "partial": q.get("partial", []),
                "ids": [h.paper.id for h in r.hits],
                "sig": {k: v.tolist() for k, v in sig.items()},
                "gap_list": [h.paper.id for h in g.relevant],
            }
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows), encoding="utf-8")
    return load_items(out)

"""The eval set's questions: what each asks, which papers answer it, its half and style
(schema in evals/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

ANSWERABLE = ("topic", "topic_paraphrase", "single", "comparison")

DEFAULT_SET = Path(__file__).resolve().parent / "data" / "questions.jsonl"


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    question: str
    relevant: tuple[str, ...]
    partial: tuple[str, ...]
    answer_points: tuple[str, ...]
    split: str = ""  # "tune" (settings are chosen on it) or "test" (reported, never tuned on)
    topic_group: str = ""
    style: str = ""  # how it is asked: keyword, descriptive, paraphrase, near_miss... (README)

    @property
    def answerable(self) -> bool:
        return self.kind in ANSWERABLE


def load_questions(path: Path | str = DEFAULT_SET, limit: int | None = None) -> list[Question]:
    """The questions of a JSONL eval set (schema in evals/README.md)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        out.append(
            Question(
                q["id"],
                q["kind"],
                q["question"],
                tuple(q.get("relevant", ())),
                tuple(q.get("partial", ())),
                tuple(q.get("answer_points", ())),
                q.get("split", ""),
                q.get("topic_group", ""),
                q.get("style", ""),
            )
        )
    return out[:limit] if limit else out

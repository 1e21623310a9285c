"""A library too big for memory is searched in its store, and answers as one held in memory.

Past ``retrieval.memory_max_vectors`` the snapshot holds no vectors: the store (Chroma's
index, embedded or on a `chroma run` server) nominates the dense candidates and every
signal is read from it. Switching the threshold to 0 serves the bundled library that way.
"""

from __future__ import annotations

import pytest

from assistant import Assistant
from evals.questions import DEFAULT_SET, load_questions

# Every 6th question of the eval set: each kind and style, both halves (75 questions).
SAMPLE_STEP = 6


@pytest.fixture(scope="module")
def both_paths(bundled_library) -> tuple[Assistant, Assistant]:
    settings, _ = bundled_library
    in_store = settings.model_copy(
        update={"retrieval": settings.retrieval.model_copy(update={"memory_max_vectors": 0})}
    )
    return Assistant(settings), Assistant(in_store)


def test_the_store_backed_path_holds_no_vectors(both_paths) -> None:
    memory, store = both_paths
    assert memory.retriever.refresh().vectors is not None
    assert store.retriever.refresh().vectors is None


def test_the_store_backed_path_gives_the_in_memory_answers(both_paths) -> None:
    memory, store = both_paths
    questions = load_questions(DEFAULT_SET)[::SAMPLE_STEP]
    differ = []
    for q in questions:
        memory.reset()
        store.reset()
        a = memory.ask(q.question, mode="extractive")
        b = store.ask(q.question, mode="extractive")
        top = [r.paper_id for r in a.ranking[:5]], [r.paper_id for r in b.ranking[:5]]
        if (
            a.text != b.text
            or [s.paper_id for s in a.sources] != [s.paper_id for s in b.sources]
            or top[0] != top[1]
        ):
            differ.append(q.id)
    assert differ == [], f"{len(differ)} of {len(questions)} answers differ: {differ}"

"""Retrieval's public surface after the split (issue 13): the snapshot and its BM25 cache,
and extra query texts that nominate candidates without changing how they are scored
(the hook LLM-assisted retrieval uses, issue 14)."""

from __future__ import annotations

from assistant.core.settings import Settings
from assistant.index.lexical import LexicalIndex
from assistant.retrieval.retriever import Retriever
from assistant.store.library import Library
from ingest import paper_id

PLANNING = paper_id("Planning with Tool-Using Language Agents")
SPARSE = paper_id("Sparse Denoisers for Fast Diffusion Sampling")
QUESTION = "planning with tool-using agents"


def one_nominee_per_side(settings: Settings) -> Settings:
    """Settings under which each side nominates one paper, so the extra nominees show."""
    narrow = settings.retrieval.model_copy(update={"dense_k": 1, "lexical_k": 1})
    return settings.model_copy(update={"retrieval": narrow})


def test_extra_queries_add_candidates_scored_against_the_question(small_library, embedder):
    settings, _, _ = small_library
    retriever = Retriever(one_nominee_per_side(settings), Library(settings), embedder)
    base = retriever.retrieve(QUESTION)
    assert [h.paper.id for h in base.hits] == [PLANNING]

    got = retriever.retrieve(QUESTION, extra_queries=["sparse denoisers for diffusion sampling"])
    assert {h.paper.id for h in got.hits} == {PLANNING, SPARSE}
    hit = next(h for h in got.hits if h.paper.id == SPARSE)
    assert (hit.dense_rank, hit.bm25_rank) == (0, 0)  # the question's own sides did not rank it
    # Scored against the question, not the extra text: its signals before feedback are
    # those it gets when the question's own candidates include it (every paper nominated).
    wide = Retriever(settings, Library(settings), embedder).retrieve(QUESTION)
    ref = next(h for h in wide.hits if h.paper.id == SPARSE)
    assert (hit.first_score, hit.first_dense, hit.lexical, hit.title) == (
        ref.first_score,
        ref.first_dense,
        ref.lexical,
        ref.title,
    )
    assert "extra_queries" in got.timings and "extra_queries" not in base.timings


def test_the_snapshot_names_the_bm25_cache_it_was_saved_to(small_library, embedder):
    settings, _, _ = small_library
    library = Library(settings)
    retriever = Retriever(settings, library, embedder)
    snap = retriever.snapshot()
    collection, version = library.identity()
    assert snap.cache_path == retriever.snapshots.cache_path(collection, version)
    cached = LexicalIndex.load(snap.cache_path)
    assert cached is not None and cached.chunk_ids == snap.lexical.chunk_ids
    assert retriever.snapshot() is snap  # held while the library is unchanged

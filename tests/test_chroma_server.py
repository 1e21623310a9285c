"""The same ingest against a real `chroma run` server instead of embedded Chroma."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SMALL_PAPERS
from servers import free_port

from assistant.core.errors import StoreUnavailableError
from assistant.core.settings import Settings
from assistant.store.library import Library
from ingest import ingest, paper_id, remove

pytestmark = pytest.mark.server


def server_settings(server, tmp_path: Path, collection: str) -> Settings:
    # Each test its own collection prefix: the server is shared by the whole session.
    return Settings(
        chroma_host="127.0.0.1",
        chroma_port=server.port,
        collection=collection,
        data_dir=tmp_path / "unused-data-dir",
    )


def test_ingest_into_chroma_server_counts_and_reingests_unchanged(
    chroma_server, small_corpus, embedder, tmp_path
) -> None:
    settings = server_settings(chroma_server, tmp_path, "srv-ingest")
    report = ingest([small_corpus], settings, embedder=embedder)
    assert len(report.added) == SMALL_PAPERS and report.skipped == []

    stats = Library(settings).stats()  # a new client: the data lives on the server
    assert stats.papers == SMALL_PAPERS
    assert stats.chunks == report.chunks_embedded == 6
    assert stats.sentences == 20
    assert stats.sources == {"agents.json": 2, "retrieval.jsonl": 3, "sparse_denoisers.md": 1}
    assert stats.location == f"chroma server http://127.0.0.1:{chroma_server.port}"
    assert not settings.resolved_chroma_path.exists()  # nothing went to an embedded store

    again = ingest([small_corpus], settings, embedder=embedder)
    assert again.added == [] and again.updated == []
    assert len(again.unchanged) == SMALL_PAPERS
    assert again.chunks_embedded == 0


def test_remove_on_chroma_server(chroma_server, small_corpus, embedder, tmp_path) -> None:
    settings = server_settings(chroma_server, tmp_path, "srv-remove")
    ingest([small_corpus], settings, embedder=embedder)
    sparse = paper_id("Sparse Denoisers for Fast Diffusion Sampling")
    assert remove([sparse], settings=settings) == [sparse]
    lib = Library(settings)
    assert sparse not in lib.papers()
    assert lib.chunks.get(where={"paper_id": sparse}, include=[])["ids"] == []
    assert lib.stats().papers == SMALL_PAPERS - 1


def test_collections_on_one_server_are_separate(chroma_server, tmp_path) -> None:
    settings = server_settings(chroma_server, tmp_path, "srv-empty")
    stats = Library(settings).stats()
    assert stats.papers == 0 and stats.chunks == 0


def test_unreachable_server_is_a_clear_error(tmp_path) -> None:
    port = free_port()  # nothing listens there
    settings = Settings(chroma_host="127.0.0.1", chroma_port=port, data_dir=tmp_path)
    with pytest.raises(StoreUnavailableError) as info:
        Library(settings)
    message = str(info.value)
    assert message.startswith(f"Cannot open the library at chroma server http://127.0.0.1:{port}: ")
    assert message.endswith(
        "check PAPERLENS_CHROMA_HOST/PAPERLENS_CHROMA_PORT or PAPERLENS_DATA_DIR."
    )


def test_running_assistant_sees_papers_another_client_adds_and_removes(
    chroma_server, small_corpus, embedder, tmp_path
) -> None:
    """The lexical index and vector cache follow the store's version, also on a server."""
    import json

    from assistant import Assistant

    settings = server_settings(chroma_server, tmp_path, "srv-fresh")
    settings = settings.model_copy(
        update={"retrieval": settings.retrieval.model_copy(update={"version_check_seconds": 0.0})}
    )
    ingest([small_corpus], settings, embedder=embedder)
    bot = Assistant(settings, embedder=embedder)
    question = "Which papers study zeolite catalysts for ammonia synthesis?"
    assert not bot.ask(question).answerable

    extra = tmp_path / "extra.jsonl"
    title = "Zeolite Catalysts for Ammonia Synthesis"
    extra.write_text(
        json.dumps(
            {
                "title": title,
                "abstract": "We screen zeolite catalysts for ammonia synthesis at low pressure. "
                "The best zeolite catalysts double the ammonia yield of iron catalysts.",
            }
        ),
        encoding="utf-8",
    )
    ingest([extra], settings, library=Library(settings), embedder=embedder)  # another client
    bot.reset()
    found = bot.ask(question)
    # The main list; a tiny library's "may also be relevant" tier may add a labelled guess.
    assert found.answerable and [c.title for c in found.citations if c.tier == "main"] == [title]

    remove([paper_id(title)], settings=settings, library=Library(settings))
    bot.reset()
    assert not bot.ask(question).answerable

"""BibTeX and JSON metadata attach to papers (by arXiv id, DOI or title) without creating
papers; year filters then restrict retrieval. Real bundled model and embedded Chroma."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.core.settings import Settings
from assistant.retrieval.retriever import Filters, Retriever
from assistant.store.library import Library
from ingest import ingest, paper_id
from ingest.bibtex import parse_bibtex

TREES = paper_id("Speculative Decoding with Draft Trees")
KERNELS = paper_id("Quantized Attention Kernels for Long Contexts")
CURRICULUM = paper_id("Curriculum Sampling for Reward Models")
DEPTHS = paper_id("Mixture of Depths for Efficient Transformers")
FIXTURE_DATA = Path(__file__).resolve().parent / "data"
UNKNOWN_REASON = "entry 'unknown': no abstract and no matching paper in the library - skipped"


@pytest.fixture
def bib_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "bib"
    folder.mkdir()
    shutil.copy(FIXTURE_DATA / "bib_papers.jsonl", folder / "bib_papers.jsonl")
    shutil.copy(FIXTURE_DATA / "bib_refs.bib", folder / "bib_refs.bib")
    return folder


def test_parse_bibtex_reads_authors_year_venue_and_ids() -> None:
    result = parse_bibtex(
        (FIXTURE_DATA / "bib_refs.bib").read_text(encoding="utf-8"), "bib_refs.bib"
    )
    assert result.problems == []
    by_title = {r.title: r for r in result.metadata}
    tree = by_title["Speculative Decoding with Draft Trees"]
    assert tree.authors == ("Ada Lovelace", "Charles Babbage")
    assert (tree.year, tree.venue, tree.arxiv_id) == (2024, "Proceedings of ICML", "2401.01234")
    qak = by_title["Quantised attention kernels (journal version)"]
    assert qak.doi == "10.5555/QAK.2024.7"
    assert by_title["Mixture of Depths for Efficient Transformers"].abstract.startswith(
        "Not every token"
    )


def test_broken_bibtex_entry_is_reported_and_the_rest_read() -> None:
    text = (
        "@article{ok, title={Fine}, year={2021}}\n@article{bad, title=\n"
        "@misc{ok2, title={Also Fine}}\n"
    )
    result = parse_bibtex(text, "x.bib")
    assert [r.title for r in result.metadata] == ["Fine", "Also Fine"]
    assert result.problems == ["x.bib: line 2: invalid BibTeX entry - skipped"]


def test_bib_attaches_metadata_to_stored_papers_and_year_filter_uses_it(
    tmp_path: Path, bib_folder: Path, embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = ingest([bib_folder / "bib_papers.jsonl"], settings, embedder=embedder)
    assert sorted(first.added) == sorted([TREES, KERNELS, CURRICULUM])
    assert all(p.year is None for p in Library(settings).papers().values())

    report = ingest([bib_folder / "bib_refs.bib"], settings, embedder=embedder)
    # Metadata only: no paper re-embedded; the entry with an abstract is a new paper.
    assert sorted(report.metadata_updated) == sorted([TREES, KERNELS, CURRICULUM])
    assert report.added == [DEPTHS] and report.updated == []
    assert report.skipped == [(str(bib_folder / "bib_refs.bib"), UNKNOWN_REASON)]
    papers = Library(settings).papers()
    assert set(papers) == {TREES, KERNELS, CURRICULUM, DEPTHS}
    assert papers[TREES].authors == ("Ada Lovelace", "Charles Babbage")
    assert (papers[TREES].year, papers[TREES].venue) == (2024, "Proceedings of ICML")
    assert (papers[KERNELS].authors, papers[KERNELS].year) == (("Grace Hopper",), 2024)
    assert (
        papers[CURRICULUM].year == 2023
        and papers[CURRICULUM].url == "https://example.org/curriculum"
    )
    assert papers[KERNELS].title == "Quantized Attention Kernels for Long Contexts"  # text kept

    retriever = Retriever(settings, Library(settings), embedder)
    question = "faster decoding and attention for language models"
    unfiltered = {h.paper.id for h in retriever.retrieve(question).hits}
    assert CURRICULUM in unfiltered or DEPTHS in unfiltered
    only_2024 = retriever.retrieve(question, filters=Filters(year_from=2024, year_to=2024))
    assert {h.paper.id for h in only_2024.hits} == {TREES, KERNELS}

    # Everything again, together: nothing changes, nothing is embedded.
    again = ingest([bib_folder], settings, embedder=embedder)
    assert again.chunks_embedded == 0 and again.metadata_updated == []
    assert sorted(again.unchanged) == sorted([TREES, KERNELS, CURRICULUM, DEPTHS])
    # The JSONL alone (no years) keeps the attached metadata.
    alone = ingest([bib_folder / "bib_papers.jsonl"], settings, embedder=embedder)
    assert alone.chunks_embedded == 0 and sorted(alone.unchanged) == sorted(
        [TREES, KERNELS, CURRICULUM]
    )
    assert Library(settings).papers()[TREES].year == 2024


def test_bib_in_the_same_run_attaches_without_creating_papers(
    tmp_path: Path, bib_folder: Path, embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    report = ingest([bib_folder], settings, embedder=embedder)
    assert sorted(report.added) == sorted([TREES, KERNELS, CURRICULUM, DEPTHS])
    assert report.skipped == [(str(bib_folder / "bib_refs.bib"), UNKNOWN_REASON)]
    papers = Library(settings).papers()
    assert papers[TREES].year == 2024 and papers[KERNELS].authors == ("Grace Hopper",)
    assert papers[DEPTHS].venue == "Transactions on Efficient Models"
    assert papers[TREES].sources == ("bib_papers.jsonl",)  # a .bib is not a source of text


def test_json_entry_without_abstract_attaches_metadata(
    tmp_path: Path, bib_folder: Path, embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    ingest([bib_folder / "bib_papers.jsonl"], settings, embedder=embedder)
    meta = tmp_path / "meta.jsonl"
    meta.write_text(
        json.dumps(
            {"title": "Curriculum sampling for reward models", "year": 2025, "venue": "ICLR"}
        )
        + "\n"
        + json.dumps({"title": "Not In The Library"})
        + "\n",
        encoding="utf-8",
    )
    report = ingest([meta], settings, embedder=embedder)
    assert report.metadata_updated == [CURRICULUM] and report.added == []
    assert report.skipped == [
        (str(meta), "line 2 'Not In The Library': title but no abstract - skipped")
    ]
    paper = Library(settings).papers()[CURRICULUM]
    assert (paper.year, paper.venue) == (2025, "ICLR")


def test_imported_years_and_authors_answer_metadata_questions(
    tmp_path: Path, bib_folder: Path, embedder
) -> None:
    from assistant import Assistant

    settings = Settings(data_dir=tmp_path / "data")
    ingest([bib_folder], settings, embedder=embedder)
    bot = Assistant(settings, embedder=embedder)
    years = bot.ask("Which papers are from 2024?")
    assert years.kind == "metadata" and years.answerable
    assert {c.paper_id for c in years.citations} == {TREES, KERNELS}
    assert "year 2024 (from imported metadata)" in years.text
    bot.reset()
    authors = bot.ask("Who wrote Speculative Decoding with Draft Trees?")
    assert authors.answerable and "authors Ada Lovelace, Charles Babbage" in authors.text
    # Every answer credits an imported paper by its authors and year, in its wire form too.
    cited = authors.to_dict()
    assert {s["byline"] for s in cited["sources"] if s["paper_id"] == TREES} == {
        "Lovelace & Babbage, 2024"
    }
    assert {c["byline"] for c in cited["citations"]} == {"Lovelace & Babbage, 2024"}
    bot.reset()
    none = bot.ask("Which papers are from 2019?")
    assert not none.answerable and "not recorded" in none.text

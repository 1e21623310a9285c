"""Parsers and sentence splitting: pure logic, no model, no store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BUNDLED_PAPERS, BUNDLED_TOTAL, FIXTURE_DATA

from assistant.core.errors import IngestError, UnsupportedFormatError
from assistant.core.types import IngestReport, Paper
from ingest import (
    collect_files,
    normalize_title,
    paper_id,
    parse_file,
    read_papers,
    supported_suffixes,
)
from ingest.chunking import paper_sentences, split_sentences

# Entries per bundled page and the date heading each carries (measured).
SEED_PAGES = {
    "000_b9901c8c1c455724.txt": (49, "Mar 13"),
    "001_f45d45220cbf9783.txt": (288, None),
    "002_44d1e5d38125c694.txt": (63, "Mar 14"),
    "003_eaf6fee32701ab9b.txt": (65, "Mar 14"),
    "004_cc92b33e8c7677da.txt": (57, "Mar 11"),
}


# --- the bundled daily-papers pages ---------------------------------------------------
@pytest.mark.parametrize("name", sorted(SEED_PAGES))
def test_seed_page_yields_every_entry_without_problems(name: str) -> None:
    result = parse_file(BUNDLED_PAPERS / name)
    assert result.problems == []
    assert len(result.papers) == SEED_PAGES[name][0]
    assert all(p.title and p.abstract for p in result.papers)
    assert all(p.sources == (name,) for p in result.papers)


@pytest.mark.parametrize("name", sorted(SEED_PAGES))
def test_seed_page_papers_carry_the_page_date(name: str) -> None:
    dates = {p.date for p in parse_file(BUNDLED_PAPERS / name).papers}
    assert dates == {SEED_PAGES[name][1]}


def test_seed_pages_total_522_entries_and_467_distinct_papers() -> None:
    report = IngestReport()
    files = collect_files([BUNDLED_PAPERS], report)
    assert [f.name for f in files] == sorted(SEED_PAGES)
    entries = sum(len(parse_file(f).papers) for f in files)
    papers = read_papers(files, report)
    assert entries == 522
    assert len(papers) == BUNDLED_TOTAL
    assert len({p.id for p in papers}) == BUNDLED_TOTAL
    assert report.skipped == []
    assert report.files_read == 5


def test_paper_on_several_pages_keeps_every_source() -> None:
    report = IngestReport()
    files = collect_files([BUNDLED_PAPERS], report)
    pages_of: dict[str, set[str]] = {}
    for f in files:
        for p in parse_file(f).papers:
            pages_of.setdefault(p.id, set()).add(f.name)
    merged = {p.id: p for p in read_papers(files, report)}
    shared = {pid for pid, pages in pages_of.items() if len(pages) > 1}
    # 522 entries, 467 papers: 39 papers account for the 55 repeated entries.
    assert len(shared) == 39
    assert sum(len(pages_of[pid]) - 1 for pid in shared) == 522 - BUNDLED_TOTAL
    for pid in shared:
        assert set(merged[pid].sources) == pages_of[pid]


def test_glued_subscribe_header_does_not_leak_into_first_title() -> None:
    first = parse_file(BUNDLED_PAPERS / "001_f45d45220cbf9783.txt").papers[0]
    assert first.title == "Bellman Optimal Step-size Straightening of Flow-Matching Models"
    assert first.abstract.startswith("Flow matching is a powerful framework")


def test_no_boilerplate_line_becomes_a_title() -> None:
    boilerplate = {"new", "subscribe", "byak and the research community"}
    for name in SEED_PAGES:
        for p in parse_file(BUNDLED_PAPERS / name).papers:
            low = p.title.lower()
            assert low not in boilerplate
            assert "get trending papers" not in low
            assert not low.startswith("subscribe")


def test_latex_title_parses_with_its_abstract() -> None:
    first = parse_file(BUNDLED_PAPERS / "000_b9901c8c1c455724.txt").papers[0]
    assert first.title == (
        r"$\textbf{Only-IF}$:Revealing the Decisive Effect of Instruction Diversity on "
        "Generalization"
    )
    assert first.abstract.startswith("Understanding and accurately following instructions")
    assert first.date == "Mar 13"


# --- text, Markdown, JSON, JSONL ------------------------------------------------------
def test_plain_text_file_is_one_paper_title_first(tmp_path: Path) -> None:
    f = tmp_path / "note.txt"
    f.write_text("A Study of Things\nWe study things.\nThings matter.\n", encoding="utf-8")
    result = parse_file(f)
    assert result.problems == []
    [paper] = result.papers
    assert paper.title == "A Study of Things"
    assert paper.abstract == "We study things. Things matter."
    assert paper.sources == ("note.txt",)


def test_markdown_heading_and_abstract_heading_are_layout_not_text() -> None:
    result = parse_file(FIXTURE_DATA / "sparse_denoisers.md")
    [paper] = result.papers
    assert paper.title == "Sparse Denoisers for Fast Diffusion Sampling"
    assert paper.abstract.startswith("Diffusion models generate images of high quality")
    assert "#" not in paper.abstract and "Abstract" not in paper.abstract


def test_json_papers_object_reads_metadata() -> None:
    result = parse_file(FIXTURE_DATA / "agents.json")
    assert result.problems == []
    planning, dense = result.papers
    assert planning.authors == ("Ada Lovelace", "Alan Turing")
    assert planning.year == 2024
    assert planning.venue == "NeurIPS"
    # Authors as one "A and B" string, the year as a string.
    assert dense.authors == ("Grace Hopper", "Edsger Dijkstra")
    assert dense.year == 2023


def test_json_list_of_papers(tmp_path: Path) -> None:
    f = tmp_path / "list.json"
    f.write_text(
        json.dumps(
            [
                {"title": "First Paper", "abstract": "One.", "year": 2021},
                {"title": "Second Paper", "abstract": "Two.", "doi": "10.1/xyz"},
            ]
        ),
        encoding="utf-8",
    )
    result = parse_file(f)
    assert [p.title for p in result.papers] == ["First Paper", "Second Paper"]
    assert result.papers[0].year == 2021
    assert result.papers[1].doi == "10.1/xyz"


def test_jsonl_reads_metadata_per_line() -> None:
    result = parse_file(FIXTURE_DATA / "retrieval.jsonl")
    assert result.problems == []
    dense, hybrid, abstention = result.papers
    assert dense.authors == ("Grace Hopper", "Edsger Dijkstra")
    assert hybrid.authors == ("Karen Sparck Jones",)
    assert hybrid.year == 2022 and hybrid.url == "https://example.org/hybrid"
    assert abstention.authors == () and abstention.arxiv_id == "2501.00001"


def test_jsonl_bad_line_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    f = tmp_path / "mixed.jsonl"
    f.write_text(
        '{"title": "Good One", "abstract": "Fine."}\n'
        '{"title": "Broken", "abstract": \n'
        "\n"
        '["not", "an", "object"]\n'
        '{"title": "Good Two", "abstract": "Also fine."}\n',
        encoding="utf-8",
    )
    result = parse_file(f)
    assert [p.title for p in result.papers] == ["Good One", "Good Two"]
    assert result.problems == [
        "mixed.jsonl: line 2: invalid JSON (Expecting value) - skipped",
        "mixed.jsonl: line 4: not a JSON object - skipped",
    ]


def test_invalid_json_file_raises_with_the_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.json"
    f.write_text('{"papers": [\n{"title": }\n]}', encoding="utf-8")
    with pytest.raises(IngestError) as info:
        parse_file(f)
    assert info.value.reason == "invalid JSON (line 2: Expecting value)"


def supported_list() -> str:
    """The formats an unsupported-format message lists (the set grows with new readers)."""
    listed = ", ".join(supported_suffixes())
    for core in (".json", ".jsonl", ".markdown", ".md", ".txt"):
        assert core in supported_suffixes()
    return listed


def test_unknown_extension_names_file_and_supported_formats(tmp_path: Path) -> None:
    f = tmp_path / "paper.docx"
    f.write_bytes(b"PK\x03\x04 not really a document")
    with pytest.raises(UnsupportedFormatError) as info:
        parse_file(f)
    assert (
        str(info.value) == f"{f}: unsupported format '.docx' (paperlens reads {supported_list()})"
    )


def test_file_without_extension_is_unsupported(tmp_path: Path) -> None:
    f = tmp_path / "README"
    f.write_text("Title\nAbstract.", encoding="utf-8")
    with pytest.raises(UnsupportedFormatError) as info:
        parse_file(f)
    assert (
        info.value.reason
        == f"unsupported format '(no extension)' (paperlens reads {supported_list()})"
    )


def test_windows_1252_text_is_decoded(tmp_path: Path) -> None:
    f = tmp_path / "legacy.txt"
    f.write_bytes("Caf\u00e9 Networks\nA na\u00efve approach \u2013 revisited.".encode("cp1252"))
    [paper] = parse_file(f).papers
    assert paper.title == "Caf\u00e9 Networks"
    assert paper.abstract == "A na\u00efve approach \u2013 revisited."


# --- ids -------------------------------------------------------------------------------
def test_paper_id_ignores_case_punctuation_and_unicode_form() -> None:
    assert paper_id("SpecTr: Fast Speculative Decoding") == paper_id(
        "spectr  fast speculative decoding"
    )
    assert paper_id("Cafe\u0301 Models") == paper_id("Caf\u00e9 Models")  # combining accent
    assert paper_id("A Title") != paper_id("Another Title")
    assert normalize_title("  Hello,  World!  ") == "hello world"


# --- sentences ------------------------------------------------------------------------
ABSTRACT = (
    "Large models, e.g. GPT-4, are costly. Smith et al. Showed this in 2020. "
    "Our method reaches 91.3% accuracy with v1.5 weights. J. Doe proposed it first! "
    "Does it scale? It does (see Fig. 2). Finally, results hold."
)


def test_sentence_spans_are_exact_offsets() -> None:
    spans = split_sentences(ABSTRACT)
    for s, e in spans:
        assert ABSTRACT[s:e] == ABSTRACT[s:e].strip()
    paper = Paper(id="p1", title="T", abstract=ABSTRACT)
    for sentence in paper_sentences(paper):
        assert ABSTRACT[sentence.start : sentence.end] == sentence.text


def test_sentences_do_not_split_at_abbreviations_decimals_or_initials() -> None:
    texts = [ABSTRACT[s:e] for s, e in split_sentences(ABSTRACT)]
    assert texts == [
        "Large models, e.g. GPT-4, are costly.",
        "Smith et al. Showed this in 2020.",
        "Our method reaches 91.3% accuracy with v1.5 weights.",
        "J. Doe proposed it first!",
        "Does it scale?",
        "It does (see Fig. 2).",
        "Finally, results hold.",
    ]


def test_sentences_cover_text_with_leading_and_trailing_space() -> None:
    text = "  First one. Second one.  "
    assert [text[s:e] for s, e in split_sentences(text)] == ["First one.", "Second one."]


def test_seed_abstract_sentences_match_their_offsets() -> None:
    papers = parse_file(BUNDLED_PAPERS / "002_44d1e5d38125c694.txt").papers
    for paper in papers:
        sentences = paper_sentences(paper)
        assert sentences, paper.title
        for s in sentences:
            assert paper.abstract[s.start : s.end] == s.text
        # Sentences are in order and do not overlap.
        assert all(a.end <= b.start for a, b in zip(sentences, sentences[1:], strict=False))

"""Related papers over real libraries: the bundled one (read-only) and the fixture corpus
with a near-duplicate paper added; the CLI run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from assistant import Assistant, PaperNotFoundError, Settings
from assistant.explore.related import related

PAPERLENS = Path(sys.executable).parent / "paperlens"
SPECTR = "p90007efee116"  # SpecTr: Fast Speculative Decoding via Optimal Transport
SPEC_TOPIC = {
    "p7d7d0320b811",
    "pb215c5bd6e9e",
    "p92f8b2c7e586",
    "pf19e5404bdff",
    "p369712690535",
    "p26031fbdf0f7",
}  # the eval set's speculative-decoding papers (relevant and partial)
PLANNING = "Planning with Tool-Using Language Agents"


@pytest.fixture(scope="module")
def bundled_bot(bundled_library, embedder):
    settings, _ = bundled_library
    with Assistant(settings, embedder=embedder) as bot:
        yield bot


def test_related_papers_share_the_topic_and_quote_the_linking_sentences(bundled_bot) -> None:
    got = bundled_bot.related(SPECTR, k=5)
    papers = bundled_bot.retriever.papers
    assert len(got) == 5
    ids = [r.paper_id for r in got]
    assert SPECTR not in ids and len(set(ids)) == 5
    assert len(SPEC_TOPIC & set(ids)) >= 4, [r.title for r in got]
    assert [r.score for r in got] == sorted((r.score for r in got), reverse=True)
    for r in got:
        # Each link is a real sentence of each abstract, at its offsets.
        assert papers[r.paper_id].abstract[r.start : r.end] == r.sentence != ""
        assert papers[SPECTR].abstract[r.anchor_start : r.anchor_end] == r.anchor != ""
        assert -1.0 <= r.link <= 1.0 and r.title == papers[r.paper_id].title


def test_a_paper_is_found_by_title_words_and_an_unknown_one_is_a_clear_error(bundled_bot) -> None:
    by_title = bundled_bot.related("SpecTr: Fast Speculative Decoding via Optimal Transport", k=3)
    assert [r.paper_id for r in by_title] == [r.paper_id for r in bundled_bot.related(SPECTR, k=3)]
    with pytest.raises(PaperNotFoundError) as err:
        bundled_bot.related("no such paper about zebra finches")
    assert str(err.value) == (
        "No paper in the library matches 'no such paper about zebra finches' - give a paper id "
        "(as in 'paperlens ask --json'), an arXiv id, a DOI or words of its title."
    )
    with pytest.raises(
        PaperNotFoundError,
        match=r"^\d+ papers match 'speculative decoding' - give one id, e\.g\. p",
    ):
        bundled_bot.related("speculative decoding")


@pytest.fixture
def library_with_duplicate(small_library, embedder):
    """The fixture corpus plus the planning paper again under another title (a second
    listing of one paper: its id differs, its abstract is the same but for one word)."""
    from ingest import ingest

    settings, corpus, _ = small_library
    original = json.loads((corpus / "agents.json").read_text())["papers"][0]
    dup = dict(
        original,
        title=original["title"] + " (extended version)",
        abstract=original["abstract"].replace("three benchmarks", "3 benchmarks"),
    )
    extra = corpus.parent / "dup.json"
    extra.write_text(json.dumps({"papers": [dup]}))
    report = ingest([extra], settings, embedder=embedder)
    assert len(report.added) == 1
    return settings


def test_near_duplicates_are_left_out(library_with_duplicate, embedder) -> None:
    with Assistant(library_with_duplicate, embedder=embedder) as bot:
        papers = bot.retriever.papers
        assert len(papers) == 6
        original = next(p for p in papers.values() if p.title == PLANNING)
        dup = next(p for p in papers.values() if p.title.endswith("(extended version)"))
        got = bot.related(original.id, k=10)
        # Every other paper but its duplicate.
        assert {r.paper_id for r in got} == set(papers) - {original.id, dup.id}
        # From another paper, the two listings count once.
        other = next(pid for pid in papers if pid not in (original.id, dup.id))
        listed = [r.paper_id for r in bot.related(other, k=10)]
        assert len({original.id, dup.id} & set(listed)) == 1
        assert len(listed) == 4


def test_a_library_too_large_for_memory_gives_the_same_related_papers(
    small_library, embedder
) -> None:
    settings, _, _ = small_library
    with Assistant(settings, embedder=embedder) as bot:
        pid = next(p.id for p in bot.retriever.papers.values() if p.title == PLANNING)
        in_memory = bot.related(pid, k=3)
    store_settings = Settings(data_dir=settings.data_dir, retrieval={"memory_max_vectors": 0})
    with Assistant(store_settings, embedder=embedder) as bot:
        assert bot.retriever.refresh().vectors is None  # the store is queried
        from_store = related(bot.retriever, pid, k=3)
    assert [(r.paper_id, r.sentence, r.anchor) for r in from_store] == [
        (r.paper_id, r.sentence, r.anchor) for r in in_memory
    ]
    assert [r.score for r in from_store] == pytest.approx([r.score for r in in_memory], abs=1e-3)


def test_cli_related_prints_titles_and_linking_sentences(small_library) -> None:
    settings, _, _ = small_library
    env = dict(os.environ, PAPERLENS_DATA_DIR=str(settings.data_dir))
    result = subprocess.run(
        [str(PAPERLENS), "related", "tool-using language agents", "-k", "2", "--json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["title"] == PLANNING and len(got["related"]) == 2
    assert all(r["sentence"] and r["anchor"] for r in got["related"])
    missing = subprocess.run(
        [str(PAPERLENS), "related", "p000000000000"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith("paperlens: No paper in the library matches 'p000000000000'")
    assert missing.stderr.count("\n") == 1


def test_related_list_and_download_links_are_escaped_html() -> None:
    from assistant.core.types import RelatedPaper
    from paperlens.web.cards import export_html, related_html

    hostile = '<img src=x onerror=alert(1)> & "quoted"'
    html = related_html([RelatedPaper("p1", hostile, 0.5, hostile, 0, 5, "a", 0, 1, 0.4)])
    assert (
        "<img" not in html and "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;" in html
    )
    assert html.startswith('<details class="pl-related"><summary') and "Related papers (1)" in html
    assert related_html([]) == "" and export_html([]) == ""
    links = export_html([("BibTeX", 'gradio_api/file=/tmp/x"><script>.bib')])
    assert (
        '<a class="pl-export-link" '
        'href="gradio_api/file=/tmp/x&quot;&gt;&lt;script&gt;.bib" download' in links
    )

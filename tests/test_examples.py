"""The page speaks about the user's library: examples drawn from it, authors and year in
citations, each quote's place in the footer, and the warm-up that makes the first answer
as fast as the rest (its speed is measured in `benchmarks.first_answer`, not here)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BUNDLED_PAPERS

from assistant import Answer, Assistant, Citation, Paper, Source, example_questions
from assistant.core.bylines import byline
from assistant.explore.examples import newest_papers, short_name, topic_name
from assistant.explore.library_map import LibraryMap, Topic
from paperlens.cli_format import format_sources
from paperlens.web.html import mode_line, quote_places
from paperlens.web.warmup import SAMPLE_EXAMPLES, SAMPLE_PAGES, Warmup


def _paper(pid: str, title: str, year: int | None = None, **kw) -> Paper:
    return Paper(pid, title, "An abstract.", year=year, **kw)


def _map(topics: list[tuple[list[str], list[str]]]) -> LibraryMap:
    ids = [pid for _, members in topics for pid in members]
    topic_of = tuple(i for i, (_, members) in enumerate(topics) for _ in members)
    return LibraryMap(
        "k",
        tuple(ids),
        tuple(ids),
        np.zeros((len(ids), 2), np.float32),
        topic_of,
        tuple(Topic(i, " · ".join(t), tuple(t), tuple(m)) for i, (t, m) in enumerate(topics)),
    )


@pytest.mark.parametrize(
    ("authors", "year", "expected"),
    [
        (("Smith, Jane", "John Doe"), 2024, "Smith & Doe, 2024"),
        (("Jane Smith",), 2021, "Smith, 2021"),
        (("A. Smith", "B. Doe", "C. Roe"), 2020, "Smith et al., 2020"),
        ((), 2019, "2019"),
        (("Jane Smith", "John Doe"), None, "Smith & Doe"),
        ((), None, ""),
    ],
)
def test_byline_names_families_and_year(authors, year, expected) -> None:
    assert byline(authors, year) == expected
    source = Source(1, "p", "T", 1.0, 1.0, 0.0, "s", authors=authors, year=year)
    assert source.byline == source.to_dict()["byline"] == expected


def test_examples_name_topics_their_titles_use_then_the_newest_papers() -> None:
    papers = {
        "a": _paper("a", "Speculative decoding with draft trees", 2023),
        "b": _paper("b", "Faster speculative decoding", 2024),
        "c": _paper("c", "A test of tests: checking packages", 2022),
        "d": _paper("d", "Model checking for programs", 2021),
        "e": _paper("e", "PaSa: An LLM Agent for Comprehensive Academic Paper Search", 2025),
        "f": _paper("f", "Tidal models of demand", 2025, date="Mar 11"),
    }
    lmap = _map(
        [
            (["draft", "speculative decoding"], ["a", "b"]),
            (["test", "checking"], ["c", "d", "f"]),  # "test" names 1 title of 3: not a name
            (["search agent"], ["e"]),  # one paper is no topic to ask "which papers" about
        ]
    )
    assert topic_name(lmap.topics[0], papers) == "speculative decoding"
    assert topic_name(lmap.topics[1], papers) == "checking"
    assert example_questions(lmap, papers) == [
        "Which papers study checking?",
        "Which papers study speculative decoding?",
        "What does “Tidal models of demand” propose?",  # 2025, and dated
        "What does PaSa propose?",
    ]
    assert [p.id for p in newest_papers(papers, 2)] == ["f", "e"]


def test_short_name_is_the_name_before_a_colon_or_the_quoted_title() -> None:
    assert short_name("PaSa: An LLM Agent for Comprehensive Academic Paper Search") == "PaSa"
    assert short_name("QWEN2 TECHNICAL REPORT") == "“Qwen2 Technical Report”"
    assert short_name("$\\textbf{Only-IF}$: Revealing the Decisive Effect") == "Only-IF"
    assert short_name(
        "Which Invariance Should We Transfer? A Causal Minimax Learning Approach: a study"
    ) == ("“Which Invariance Should We Transfer? A Causal Minimax Learning Approach: a study”")
    assert short_name("  ") == ""


def test_sample_pages_are_the_bundled_files() -> None:
    assert {p.name for p in BUNDLED_PAPERS.iterdir() if p.suffix == ".txt"} == SAMPLE_PAGES


def test_the_sample_keeps_its_examples_and_warm_up_says_when_answers_are_ready(
    bundled_library, embedder
) -> None:
    bot = Assistant(bundled_library[0], embedder=embedder)
    warm = Warmup(bot)
    assert warm.is_sample() and warm.examples() == list(SAMPLE_EXAMPLES)
    assert not warm.loading and warm.pending() == []  # never started: nothing to wait for
    warm.start()
    assert warm.answering.wait(300) and warm.drawn.wait(300)
    assert not warm.loading and warm.examples() == list(SAMPLE_EXAMPLES)


def test_another_library_gets_examples_drawn_from_itself(small_library, embedder) -> None:
    settings = small_library[0]
    bot = Assistant(settings, embedder=embedder)
    warm = Warmup(bot)
    assert not warm.is_sample() and warm.examples() == []  # drawn in the background
    warm.start()
    assert warm.drawn.wait(300)
    shown = warm.examples()
    assert shown and not set(shown) & set(SAMPLE_EXAMPLES)
    assert shown == example_questions(bot.library_map(), bot.papers())


def _answer(citations: list[Citation]) -> Answer:
    sources = tuple(
        Source(c.n, c.paper_id, c.title, 0.9, 0.9, 0.1, c.quote, authors=("Jane Smith",), year=2024)
        for c in citations
    )
    return Answer("q", "text", tuple(citations), sources, "extractive")


def test_footer_and_cli_say_where_each_quote_is_from_and_who_wrote_it() -> None:
    abstract = Citation(1, "a", "Lantern", "We present lanterns.", 0, 19, True)
    body = Citation(2, "b", "Tidal", "Batteries last.", 0, 15, True, section="2 Method", page=3)
    other = Citation(3, "c", "Quiet", "Quiet.", 0, 6, True, section="4 Results", page=7)
    assert quote_places(_answer([abstract])) == "the papers' abstracts"
    assert quote_places(_answer([body])) == "the full text (section 2 Method, p. 3)"
    assert quote_places(_answer([abstract, body, other])) == (
        "1 abstract and the full text (section 2 Method, p. 3; section 4 Results, p. 7)"
    )
    assert "quoted from the full text" in mode_line(_answer([body]))
    text = format_sources(_answer([abstract]))
    assert "[1] Lantern (Smith, 2024)" in text


def test_an_empty_library_shows_examples_once_papers_are_added(
    tmp_path, small_corpus, embedder
) -> None:
    from assistant import Settings
    from paperlens.web.app import WebApp
    from paperlens.web.warmup import EXAMPLES_SHOWN

    settings = Settings(data_dir=tmp_path / "data")
    web = WebApp(settings, Assistant(settings, embedder=embedder))
    assert web.warmup.examples() == []
    assert not any(u.get("visible") for u in web._examples_update())
    shown = web.add_papers([str(p) for p in sorted(small_corpus.iterdir())])[-EXAMPLES_SHOWN:]
    questions = [u["value"] for u in shown if u.get("visible")]
    assert questions and questions == web.warmup.examples()[:EXAMPLES_SHOWN]

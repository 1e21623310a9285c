"""Export of cited papers: BibTeX, RIS, CSL-JSON and Markdown read back by real parsers.

Pure-logic tests build `Paper` values directly; the answer tests ask the real
`Assistant` over the session's bundled library (the daily-papers pages: no authors).
"""

from __future__ import annotations

import json
import logging
import re

import bibtexparser
import pytest
import rispy

from assistant import Answer, Citation, Paper
from assistant.explore.export import (
    ExportFormatError,
    base_key,
    citation_keys,
    export_answer,
    export_papers,
    tex_unescape,
)

TRICKY = "Braces {and} 50% of $x^2$ & C# under_score ~ tilde \\ back: Résumé, naïve Ångström"
PAPERS = [
    Paper(
        "p0001aaaa0000",
        TRICKY,
        "An abstract.",
        authors=("José Álvarez", "Li Wei"),
        year=2024,
        venue="Proc. R&D",
        doi="10.1000/x%y",
    ),
    Paper(
        "p0002bbbb0000",
        "SpecTr: Fast Speculative Decoding via Optimal Transport",
        "Abstract two.",
        arxiv_id="2310.15141",
    ),
    Paper(
        "p0003cccc0000",
        "Only a title and an abstract",
        "From a daily-papers page.",
        sources=("000_page.txt",),
        date="Mar 13",
    ),
    # Same first author, year and first title word as each other: a collision.
    Paper("p0004dddd0000", "Scaling laws for agents", "x", authors=("Ann Smith",), year=2023),
    Paper("p0005eeee0000", "Scaling laws for robots", "y", authors=("Bob Smith",), year=2023),
    # The same title twice (two ids: e.g. one from a PDF, one from a page): a collision.
    Paper("p0006ffff0000", "Colliding Title", "a"),
    Paper("p0006ffff1111", "Colliding Title!", "b"),
]


def _bib_titles(text: str) -> dict[str, str]:
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)
    lib = bibtexparser.parse_string(text)
    assert not lib.failed_blocks, [b.error for b in lib.failed_blocks]
    return {e.key: tex_unescape(e["title"]) for e in lib.entries}


def test_bibtex_parses_back_with_the_same_titles_and_special_characters() -> None:
    text = export_papers(PAPERS, "bibtex")
    titles = _bib_titles(text)
    assert sorted(titles.values()) == sorted(" ".join(p.title.split()) for p in PAPERS)
    # Escaped, not raw: a bare % would comment out the rest of the line in TeX.
    assert r"50\% of \$x\textasciicircum{}2\$ \& C\# under\_score" in text
    assert "Résumé, naïve Ångström" in text  # accents stay UTF-8 (biber, Zotero read it)
    entry = {e.key: e for e in bibtexparser.parse_string(text).entries}["alvarez2024braces"]
    assert tex_unescape(entry["author"]) == "José Álvarez and Li Wei"
    assert entry["year"] == "2024" and tex_unescape(entry["journal"]) == "Proc. R&D"


def test_bibtex_protects_capitalised_words_from_lowercasing() -> None:
    text = export_papers([PAPERS[1]], "bib")
    assert "title = {{SpecTr}: Fast Speculative Decoding via Optimal Transport}" in text


def test_ris_parses_back_with_rispy_with_the_same_titles() -> None:
    text = export_papers(PAPERS, "ris")
    records = rispy.loads(text)
    assert [r["title"] for r in records] == [" ".join(p.title.split()) for p in PAPERS]
    assert records[0]["authors"] == ["Álvarez, José", "Wei, Li"]
    assert records[0]["year"] == "2024" and records[0]["doi"] == "10.1000/x%y"
    assert records[1]["urls"] == ["https://arxiv.org/abs/2310.15141"]
    assert not text.lstrip().startswith("1.")  # no rispy counter line before the record


def test_csl_json_is_json_with_authors_split_and_nothing_invented() -> None:
    items = json.loads(export_papers(PAPERS, "csl"))
    assert [i["title"] for i in items] == [" ".join(p.title.split()) for p in PAPERS]
    assert items[0]["author"] == [
        {"family": "Álvarez", "given": "José"},
        {"family": "Wei", "given": "Li"},
    ]
    assert items[0]["issued"] == {"date-parts": [[2024]]} and items[0]["type"] == "article-journal"
    page_paper = items[2]
    # A daily-papers paper: a title and an abstract, no authors, year or link made up.
    assert set(page_paper) == {"id", "type", "title", "abstract"}


def test_keys_are_unique_stable_and_follow_author_year_word() -> None:
    keys = citation_keys(PAPERS)
    assert len(set(keys.values())) == len(PAPERS)
    assert keys["p0001aaaa0000"] == "alvarez2024braces"
    assert keys["p0002bbbb0000"] == "arxiv2310.15141"
    assert keys["p0003cccc0000"] == "onlytitle"
    # Colliding base keys get their paper id's start: the same in any export they collide in.
    assert (
        keys["p0004dddd0000"] == "smith2023scaling_0004"
        and keys["p0005eeee0000"] == "smith2023scaling_0005"
    )
    assert keys["p0006ffff0000"] == "collidingtitle_0006ffff0"
    assert keys["p0006ffff1111"] == "collidingtitle_0006ffff1"
    assert citation_keys(list(reversed(PAPERS))) == keys  # not the order of the selection
    assert base_key(PAPERS[3]) == "smith2023scaling"  # alone, the plain key


def test_markdown_lists_title_link_and_quoted_sentence() -> None:
    answer = Answer(
        question="Which papers study speculative decoding?",
        text="SpecTr uses optimal transport [1].",
        citations=(
            Citation(
                1,
                "p0002bbbb0000",
                PAPERS[1].title,
                "We use *optimal transport* [sic].",
                0,
                10,
                True,
            ),
            Citation(
                2,
                "p0003cccc0000",
                PAPERS[2].title,
                "A second-tier quote.",
                0,
                5,
                False,
                tier="second",
            ),
        ),
        sources=(),
        mode="extractive",
    )
    md = export_answer(answer, "md", {p.id: p for p in PAPERS})
    assert md.splitlines() == [
        "# Sources for: Which papers study speculative decoding?",
        "",
        "1. **SpecTr: Fast Speculative Decoding via Optimal Transport** "
        "[link](<https://arxiv.org/abs/2310.15141>) `arxiv2310.15141`",
        r"   > We use \*optimal transport\* \[sic\].",
    ]  # the "may also be relevant" paper supports nothing: not exported
    # Without the library's papers: the title and the quote the answer holds.
    bare = json.loads(export_answer(answer, "csl-json"))
    assert bare == [
        {
            "id": "spectrfast",
            "type": "article",
            "title": PAPERS[1].title,
            "note": "Quoted: We use *optimal transport* [sic].",
        }
    ]


def test_unknown_format_is_a_one_line_error_naming_the_formats() -> None:
    with pytest.raises(ExportFormatError) as err:
        export_papers(PAPERS, "docx")
    assert str(err.value) == (
        "Unknown export format 'docx' - use one of: bibtex (bib), ris, csl-json (csl), markdown "
        "(md)."
    )


def test_answer_from_the_bundled_library_exports_its_cited_papers(
    bundled_library, embedder
) -> None:
    from assistant import Assistant

    settings, _ = bundled_library
    with Assistant(settings, embedder=embedder) as bot:
        answer = bot.ask("Which papers study speculative decoding?", mode="extractive")
        papers = bot.retriever.papers
    cited = list(dict.fromkeys(c.paper_id for c in answer.citations if c.tier != "second"))
    assert len(cited) >= 3
    titles = _bib_titles(export_answer(answer, "bibtex", papers))
    assert sorted(titles.values()) == sorted(" ".join(papers[p].title.split()) for p in cited)
    records = rispy.loads(export_answer(answer, "ris", papers))
    assert [r["title"] for r in records] == [" ".join(papers[p].title.split()) for p in cited]
    # The pages carry no authors, years or links: none appear.
    assert not any({"authors", "year", "urls"} & set(r) for r in records)
    # Markdown escapes undone.
    md = re.sub(r"\\(.)", r"\1", export_answer(answer, "markdown", papers))
    for c in answer.citations:
        if c.tier != "second":
            assert f"   > {' '.join(c.quote.split())}\n" in md

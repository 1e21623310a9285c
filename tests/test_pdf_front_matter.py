"""Front matter from laid-out lines (title, authors, abstract, identifiers, year), figure
text kept out of the running text, and the dingbat font repair: on lines and font
dictionaries built here. The real corpus is tests/test_real_pdfs.py."""

from __future__ import annotations

from ingest import pdf_ids
from ingest.front_matter import read_front_matter
from ingest.pdf_figures import without_figures
from ingest.pdf_fonts import repair_fonts
from ingest.pdf_lines import DocInfo, Line

ABSTRACT = [
    "We study how readers of long papers find the sentence that answers a question, and",
    "show that a small index of headings and captions halves the time they need to find",
    "it across four collections of scientific articles.",
]


def line(
    text: str,
    y: float,
    size: float = 10.0,
    x: float = 72.0,
    *,
    bold: bool = False,
    upright: bool = True,
    page: int = 1,
) -> Line:
    return Line(text, page, size, bold, y, 792.0, x, 612.0, upright)


def first_page() -> list[Line]:
    return [
        line("arXiv:2101.01234v2 [cs.IR] 3 Feb 2021", 400, 20.0, x=32, upright=False),
        line("future reading", 760, 28.0, x=380, bold=True),  # a journal logo
        line("Accepted Manuscript", 740, 12.0),
        line("Finding the Answer in a Long Paper:", 700, 17.0),
        line("Headings, Captions and Time", 680, 17.0),
        line("Ada Lovelace1, Alan M. Turing2,∗ and Grace Hopper1", 650, 12.0),
        line("1University of Examples, 2Institute of Tests", 636, 9.0),
        line("Abstract", 600, 12.0, bold=True),
        *[line(t, 580 - 12 * i) for i, t in enumerate(ABSTRACT)],
        line("∗Corresponding author. Published 12 March 2021.", 90, 8.0),
        line("1 Introduction", 500, 12.0, bold=True),
        line("Readers of papers cited in 1999 ...", 480),
    ]


def test_front_matter_skips_stamp_banner_and_label_and_joins_the_title() -> None:
    lines = first_page()
    front = read_front_matter(lines, DocInfo(), body=10.0)
    assert front.title == "Finding the Answer in a Long Paper: Headings, Captions and Time"
    assert front.authors == ("Ada Lovelace", "Alan M. Turing", "Grace Hopper")
    assert front.abstract == " ".join(ABSTRACT)
    assert (front.arxiv_id, front.year) == ("2101.01234", 2021)
    assert lines[front.end].text.startswith("∗Corresponding")  # the body starts after


def test_a_plausible_pdf_title_picks_its_block_over_larger_type() -> None:
    lines = [
        line("A Very Large Series Name Here", 700, 24.0),
        line("The Real Title of the Paper", 650, 16.0),
        *[line(t, 600 - 12 * i) for i, t in enumerate(ABSTRACT)],
    ]
    front = read_front_matter(lines, DocInfo(title="The real title of the paper"), body=10.0)
    assert front.title == "The Real Title of the Paper"
    junk = read_front_matter(lines, DocInfo(title="Microsoft Word - draft.docx"), body=10.0)
    assert junk.title == "A Very Large Series Name Here"


def test_an_unlabelled_abstract_is_the_first_prose_after_names_and_affiliations() -> None:
    lines = [
        line("A Title Set Large Enough", 700, 16.0),
        line("Ada Lovelace and Alan Turing", 670),
        line("Department of Examples, University of Tests, Sometown 12345, USA", 655, 9),
        *[line(t, 630 - 10 * i, 9.0) for i, t in enumerate(ABSTRACT * 2)],
        line("INTRODUCTION", 540, 9.0, bold=True),
    ]
    front = read_front_matter(lines, DocInfo(), body=10.0)
    assert front.abstract == " ".join(ABSTRACT * 2)
    assert front.authors == ("Ada Lovelace", "Alan Turing")


def test_year_prefers_the_stamp_then_publication_over_received_and_cited_years() -> None:
    received = line("Received 3 May 2019; Published 9 June 2020", 100)
    cited = line("as shown in May 2011 by others", 400)
    assert pdf_ids.year([received, cited], [], stamp_year=2021) == 2021
    assert pdf_ids.year([received, cited], [], stamp_year=None) == 2020
    # A sidebar sets the keyword on one line and the date on the next.
    sidebar = [
        line("Received", 300),
        line("1 May 2014", 290),
        line("Published", 280),
        line("3 March 2015", 270),
    ]
    assert pdf_ids.year(sidebar, [], None) == 2015
    assert pdf_ids.year([cited], [], None) is None  # a date in the body is not the paper's
    assert pdf_ids.year([cited], [cited], None) == 2011  # in the front matter it is


def test_identifiers_come_from_the_stamp_and_the_printed_doi() -> None:
    stamp = line("arXiv:hep-th/9901001v1 4 Jan 1999", 300, upright=False)
    assert pdf_ids.arxiv_stamp([stamp]) == ("hep-th/9901001", None)
    assert pdf_ids.is_stamp(stamp) and not pdf_ids.is_stamp(line("arXiv preprints", 300))
    footer = line("SCIENTIFIC REPORTS | 5 : 8555 | DOI: 10.1038/srep08555.", 14, 8.0)
    assert pdf_ids.doi([footer]) == "10.1038/srep08555"


def test_figure_ticks_are_dropped_and_a_caption_waits_for_the_sentence_to_end() -> None:
    lines = [
        line("the recent additions change the semantics, and exhibit", 120),
        *[line(t, 500 - 20 * i, 16.0, x=480) for i, t in enumerate(["0", "0.5", "1"])],
        line("Words in architecture manual", 310, 16.0, x=250),
        line("Figure 1: Complexity growth of the ISA", 470, x=312),
        line("complex interactions with prior features.", 437, x=312),
        line("x = 2", 425, x=312),
        line("Next sentence.", 413, x=312),
    ]
    texts = [ln.text for ln in without_figures(lines, body=10.0)]
    assert texts == [
        "the recent additions change the semantics, and exhibit",
        "complex interactions with prior features.",
        "Figure 1: Complexity growth of the ISA",
        "x = 2",
        "Next sentence.",
    ]


def test_a_dingbat_tounicode_map_of_a_type3_font_is_rewritten() -> None:
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        NumberObject,
    )

    cmap = DecodedStreamObject()
    cmap.set_data(b"2 beginbfrange\n<65><65><2761>\n<66><66><2762>\nendbfrange\n")
    font = DictionaryObject(
        {
            NameObject("/Subtype"): NameObject("/Type3"),
            NameObject("/Encoding"): DictionaryObject(
                {
                    NameObject("/Differences"): ArrayObject(
                        [NumberObject(101), NameObject("/a101"), NameObject("/a102")]
                    )
                }
            ),
            NameObject("/ToUnicode"): cmap,
        }
    )
    page = DictionaryObject(
        {
            NameObject("/Resources"): DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
            )
        }
    )
    assert repair_fonts(page) == 1
    data = font["/ToUnicode"].get_data()
    assert b"<65> <0065>" in data and b"<66> <0066>" in data
    assert repair_fonts(page) == 0  # a repaired map no longer says dingbats

"""An answer's download links and a source card's related papers, in a real headless Chromium.

Reuses the browser and page fixtures of tests/test_browser.py (Debian's chromium; never
``playwright install``) and the app served over a copy of the bundled library.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import bibtexparser
import pytest
import rispy
from app_server import served_app_fixture  # noqa: F401 - fixture
from test_browser import ARTIFACTS, SPEC_Q, _answers, _ask, _assert_all_local, browser, page  # noqa: F401

from assistant.explore.export import tex_unescape

pytestmark = pytest.mark.browser


def test_answer_downloads_its_cited_papers_and_cards_show_related_papers(page, served_app):  # noqa: F811
    _ask(page, SPEC_Q, 0)
    answer = _answers(page).nth(0)
    links = answer.locator(".pl-export a.pl-export-link")
    assert links.all_inner_texts() == ["BibTeX", "RIS", "CSL-JSON", "Markdown"]
    cards = answer.locator(".pl-source-list").first.locator("li.pl-source")
    cited_titles = cards.locator(".pl-title").all_inner_texts()
    assert len(cited_titles) >= 3

    # The BibTeX link downloads a file that parses back with the cited papers' titles.
    with page.expect_download() as got:
        links.nth(0).click()
    download = got.value
    assert download.suggested_filename == "sources.bib"
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)
    lib = bibtexparser.parse_string(Path(download.path()).read_text(encoding="utf-8"))
    assert not lib.failed_blocks
    assert sorted(tex_unescape(e["title"]) for e in lib.entries) == sorted(cited_titles)
    # The other formats are served too, and read back as theirs.
    base = served_app.url
    ris = page.request.get(base + links.nth(1).get_attribute("href"))
    assert ris.ok and sorted(r["title"] for r in rispy.loads(ris.text())) == sorted(cited_titles)
    csl = page.request.get(base + links.nth(2).get_attribute("href"))
    assert sorted(i["title"] for i in json.loads(csl.text())) == sorted(cited_titles)
    md = page.request.get(base + links.nth(3).get_attribute("href")).text()
    assert md.startswith(f"# Sources for: {SPEC_Q}\n") and md.count("\n   > ") >= len(cited_titles)

    # "Related papers" on a card: closed until clicked, then five papers with their linking
    # sentence.
    card = cards.nth(0)
    related = card.locator("details.pl-related")
    items = related.locator("li.pl-related-item")
    assert not items.first.is_visible()
    related.locator("summary").click()
    items.first.wait_for(state="visible", timeout=5_000)
    assert items.count() == 5
    assert all(t.strip() for t in items.locator(".pl-link").all_inner_texts())
    titles = items.locator("strong").all_inner_texts()
    library_titles = {p.title for p in served_app.assistant.retriever.papers.values()}
    assert set(titles) <= library_titles and cited_titles[0] not in titles
    assert sum("Speculative" in t for t in titles) >= 3, titles

    ARTIFACTS.mkdir(exist_ok=True)
    related.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "app-related.png"))
    links.first.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "app-export.png"))
    assert not page.dialogs
    _assert_all_local(page)


def test_library_search_results_download_in_the_chosen_format(page, served_app):  # noqa: F811
    from paperlens.web.search import search_papers

    page.get_by_role("tab", name="Library").click()
    page.locator("#pl-export-format input").click()
    page.get_by_role("option", name="RIS").click()
    page.locator("#pl-search textarea").fill("speculative decoding")
    page.locator("#pl-search-results").get_by_text("SpecTr").first.wait_for(timeout=15_000)
    button = page.locator("#pl-export-selection")
    expected = sorted(
        p.title
        for p in search_papers(
            served_app.assistant.retriever.papers.values(), "speculative decoding"
        )
    )
    page.wait_for_function(
        "n => (document.querySelector('#pl-export-selection')?.innerText || '')"
        ".includes(`Download ${n} papers`)",
        arg=len(expected),
        timeout=15_000,
    )
    with page.expect_download() as got:
        button.click()
    download = got.value
    assert download.suggested_filename == "library-selection.ris"
    records = rispy.loads(Path(download.path()).read_text(encoding="utf-8"))
    # Every matching paper, not only the first SEARCH_LIMIT shown.
    assert sorted(r["title"] for r in records) == sorted(" ".join(t.split()) for t in expected)
    ARTIFACTS.mkdir(exist_ok=True)
    button.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "app-library-export.png"))
    assert not page.dialogs
    _assert_all_local(page)

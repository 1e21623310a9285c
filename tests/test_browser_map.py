"""The Library tab's map and digest in a real headless Chromium (issue 15 §3, §4): the map
renders every paper, rings the papers of the last answer, labels topics without overlap,
hover shows a title, a click opens the paper; the digest panel lists a page's papers."""

from __future__ import annotations

import pytest
from app_server import served_app_fixture  # noqa: F401 - fixture
from test_browser import ARTIFACTS, SPEC_Q, _answers, _ask, _assert_all_local, browser, page  # noqa: F401

pytestmark = pytest.mark.browser

SPEC_TR = "p90007efee116"  # SpecTr: Fast Speculative Decoding via Optimal Transport
SPEC_DEC = "p7d7d0320b811"  # SpecDec++


def test_map_renders_rings_the_answer_and_opens_a_clicked_paper(page, served_app):  # noqa: F811
    _ask(page, SPEC_Q, 0)
    answer = _answers(page).nth(0)
    answer_text = answer.inner_text()
    n_cited = answer.locator("li.pl-source").count()

    page.get_by_role("tab", name="Library").click()
    n_papers = len(served_app.assistant.retriever.papers)
    page.wait_for_function(
        "n => document.querySelectorAll('#pl-map circle[data-paper]').length === n",
        arg=n_papers,
        timeout=120_000,
    )
    ringed = page.locator("#pl-map circle.pl-hl").evaluate_all(
        "els => els.map(e => e.dataset.paper)"
    )
    assert {SPEC_TR, SPEC_DEC} <= set(ringed)
    papers = served_app.assistant.retriever.papers
    # Exactly the answer's cited papers (titles with TeX are typeset in the chat: skipped).
    assert len(ringed) == len(set(ringed)) == n_cited
    assert all(papers[pid].title in answer_text for pid in ringed if "$" not in papers[pid].title)
    # Topic labels as the browser lays them out, in SVG units: none covers another.
    boxes = page.locator("#pl-map text.pl-topic").evaluate_all(
        "els => els.map(e => { const b = e.getBBox(); "
        "return [e.textContent, b.x, b.y, b.x + b.width, b.y + b.height]; })"
    )
    assert len(boxes) >= 2
    overlaps = [
        (a[0], b[0])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if min(a[3], b[3]) - max(a[1], b[1]) > 1 and min(a[4], b[4]) - max(a[2], b[2]) > 1
    ]
    assert not overlaps, overlaps
    assert "Ringed: the" in page.locator("#pl-map-note").inner_text()

    point = page.locator(f"#pl-map circle[data-paper='{SPEC_TR}']")
    point.hover()
    page.wait_for_function(
        "t => (document.querySelector('#pl-map .pl-map-hover')?.textContent || '').startsWith(t)",
        arg=papers[SPEC_TR].title,
        timeout=10_000,
    )
    point.click()
    opened = page.locator("#pl-map-paper")
    opened.get_by_text(papers[SPEC_TR].title).first.wait_for(timeout=30_000)
    assert "Gist:" in opened.inner_text() and "Nearest in the library:" in opened.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#pl-map").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "app-map.png"), full_page=False)
    _assert_all_local(page)


def test_digest_panel_lists_a_page_by_topic_and_refuses_a_bad_date(page, served_app):  # noqa: F811
    page.get_by_role("tab", name="Library").click()
    page.locator("#pl-digest-section").get_by_text("What's new").first.click()
    n = sum(1 for p in served_app.assistant.retriever.papers.values() if p.date == "Mar 13")
    box = page.locator("#pl-digest-date textarea, #pl-digest-date input").first
    box.fill("Mar 13")
    page.locator("#pl-digest-go").click()
    digest = page.locator("#pl-digest")
    digest.get_by_text(f"What's new: Mar 13 ({n} papers").first.wait_for(timeout=60_000)
    assert "relates to earlier:" in digest.inner_text()
    page.locator("#pl-digest-section").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "app-digest.png"), full_page=False)

    box.fill("Mar 32")
    page.locator("#pl-digest-go").click()
    digest.get_by_text("Cannot read the date 'Mar 32'").first.wait_for(timeout=30_000)
    _assert_all_local(page)

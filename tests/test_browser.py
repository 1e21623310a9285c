"""The web UI in a real headless Chromium (Playwright), against the app served by the test.

Needs Debian's chromium (``make browser``); never ``playwright install``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from app_server import served_app_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ANSWER_TIMEOUT_MS = 180_000
SPEC_Q = "Which papers study speculative decoding?"
FOLLOW_UP = "and which of those use a draft tree?"

# Records every element that showed a partly streamed answer before the final one.
WATCH_STREAMING = """
() => {
  window.__plStreamed = 0;
  new MutationObserver(() => {
    if (document.querySelector('#pl-chat .pl-streaming')) window.__plStreamed += 1;
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (run `make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, served_app):
    """A fresh browser context on the app; records every request and every dialog."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    pg.requests = []  # type: ignore[attr-defined]
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(served_app.url)
    pg.wait_for_selector("#pl-question textarea")
    # The load event has run (it fills the status line and restores the saved chat).
    pg.wait_for_function(
        "() => (document.querySelector('#pl-status')?.innerText || '').includes('papers')",
        timeout=30_000,
    )
    yield pg
    context.close()


def _assert_all_local(pg) -> None:
    hosts = {urlparse(u).hostname for u in pg.requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, f"requests left the machine: {hosts}"


def _ask(pg, question: str, answers_before: int) -> None:
    box = pg.locator("#pl-question textarea")
    box.fill(question)
    box.press("Enter")
    pg.wait_for_function(
        "n => document.querySelectorAll('#pl-chat .pl-answer:not(.pl-streaming)').length > n",
        arg=answers_before,
        timeout=ANSWER_TIMEOUT_MS,
    )


def _answers(pg):
    return pg.locator("#pl-chat .pl-answer:not(.pl-streaming)")


def _check_citations_resolve(answer) -> list[str]:
    """Every [n] link of ``answer`` targets an entry of its own sources panel."""
    hrefs = answer.locator("a.pl-cite").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert hrefs, "the answer has no citation links"
    for href in hrefs:
        assert re.fullmatch(r"#pl-[0-9a-f]+-\d+", href), href
        target = answer.locator(f".pl-sources li.pl-source{href}")
        assert target.count() == 1, f"no source entry for {href}"
        assert target.locator("mark").count() >= 1, f"no quoted span marked in {href}"
    return hrefs


def test_chat_streams_a_cited_answer_and_keeps_sources_through_follow_up_and_reload(
    page, served_app
):
    page.evaluate(WATCH_STREAMING)
    _ask(page, SPEC_Q, 0)
    first = _answers(page).nth(0)
    text = first.inner_text()
    assert "SpecDec++" in text and "SpecTr" in text
    assert page.evaluate("window.__plStreamed") > 0, "no partial answer was shown while streaming"
    assert "Extractive answer" in first.locator(".pl-mode").inner_text()
    hrefs = _check_citations_resolve(first)
    assert re.search(r"score \d\.\d\d", first.locator(".pl-sources").inner_text())

    # A click on [n] brings its source entry into view.
    link = first.locator("a.pl-cite").last
    link.click()
    target = first.locator(f"li.pl-source{link.get_attribute('href')}")
    page.wait_for_timeout(300)
    assert target.is_visible()
    assert target.evaluate(
        "e => { const r = e.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; }"
    )

    _ask(page, FOLLOW_UP, 1)
    assert _answers(page).count() == 2
    second = _answers(page).nth(1)
    assert "OPT-Tree" in second.inner_text()
    assert _check_citations_resolve(first) == hrefs  # the first answer kept its own sources
    assert set(_check_citations_resolve(second)).isdisjoint(hrefs)

    ARTIFACTS.mkdir(exist_ok=True)
    first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "app-chat.png"))

    page.reload()
    page.wait_for_function(
        "() => document.querySelectorAll('#pl-chat .pl-answer .pl-sources').length == 2",
        timeout=30_000,
    )
    assert _check_citations_resolve(_answers(page).nth(0)) == hrefs
    assert not page.dialogs
    _assert_all_local(page)


def test_hostile_question_is_shown_as_text_and_runs_nothing(page):
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> speculative decoding"
    _ask(page, hostile, 0)
    page.wait_for_timeout(500)
    chat = page.locator("#pl-chat")
    assert "<script>alert(1)</script>" in chat.inner_text()  # shown, as text
    assert chat.locator("script, img[src='x']").count() == 0
    assert not page.dialogs
    _assert_all_local(page)


def test_empty_question_is_refused_with_a_message(page):
    page.locator("#pl-question textarea").fill("   ")
    page.locator("#pl-question textarea").press("Enter")
    page.get_by_text("Please type a question about the papers in the library.").first.wait_for(
        timeout=15_000
    )
    assert _answers(page).count() == 0


def test_example_question_can_be_clicked(page):
    page.get_by_text(SPEC_Q, exact=True).first.click()
    page.wait_for_function(
        "q => document.querySelector('#pl-question textarea').value === q",
        arg=SPEC_Q,
        timeout=15_000,
    )


def test_library_tab_searches_and_adds_uploaded_papers(page, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.get_by_role("tab", name="Library").click()
    count = page.locator("#pl-paper-count")
    count.wait_for()
    before = int(count.inner_text().split()[0])
    assert before > 400

    page.locator("#pl-search textarea").fill("draft tree")
    page.locator("#pl-search-results").get_by_text("OPT-Tree").first.wait_for(timeout=15_000)

    paper = tmp_path / "tiny_paper.md"
    paper.write_text(
        "# Lantern Routing for Tiny Language Models\n\n## Abstract\n\n"
        "We route tokens through a lantern of small experts. Lantern routing halves the "
        "latency of tiny language models on phones while keeping their accuracy.\n"
    )
    bad = tmp_path / "notes.csv"
    bad.write_text("a,b\n1,2\n")
    # The tab's map loads when the tab is first shown and re-renders its column; files set
    # on a file input that is then replaced are lost, so upload once the tab has settled,
    # and set them again if the first input was replaced anyway (a person would just see
    # an empty box and choose the files again; what is tested is the upload itself).
    page.wait_for_function(
        "() => (document.querySelector('#pl-map-note')?.textContent || '').includes('papers in')",
        timeout=120_000,
    )
    shown = page.locator("#pl-upload").get_by_text("tiny_paper.md").first
    for attempt in range(2):
        page.locator("#pl-upload input[type=file]").set_input_files([str(paper), str(bad)])
        try:
            shown.wait_for(timeout=30_000)
            break
        except PlaywrightTimeout:
            if attempt:
                raise
    page.locator("#pl-add").click()
    page.wait_for_function(
        f"() => document.querySelector('#pl-paper-count')?.textContent.startsWith('{before + 1} ')",
        timeout=120_000,
    )
    report = page.locator("#pl-ingest-report").inner_text()
    assert "added 1" in report
    assert "notes.csv" in report and "unsupported format '.csv'" in report

    page.wait_for_timeout(1500)  # let the other outputs of the upload finish fading in
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-library.png"))
    _assert_all_local(page)

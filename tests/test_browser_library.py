"""The page speaks about the user's library, not the bundled sample, in a real headless
Chromium: a small library of generated PDFs, a Markdown paper and a .bib that gives one PDF
its authors and year, added through the app's upload path. The "Try" examples come from
that library (and a click puts one in the question box), each quote says where it is from
(abstract, or section and page) on its card and in the footer, the cards name authors and
year, and the map's topic labels do not overlap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from app_server import ServedApp, free_port
from test_browser import ARTIFACTS, _answers, _ask, _assert_all_local, browser  # noqa: F401 - fixture
from test_browser_pdf import LANTERN_Q, PDFJS, make_library_files

from assistant import Assistant, Settings

pytestmark = pytest.mark.browser

LANTERN_TITLE = "Lantern Caches for Streaming Speech Recognition"
BIB = """@article{smith2024lantern,
  title = {Lantern Caches for Streaming Speech Recognition},
  author = {Smith, Jane and Doe, John},
  year = {2024},
  journal = {Journal of Examples},
}
"""
ABSTRACT_Q = "Which papers schedule the batteries of photovoltaic microgrids?"
# Every pair of topic labels whose boxes on the page intersect by more than a pixel.
LABEL_OVERLAPS = """
() => {
  const boxes = [...document.querySelectorAll('#pl-map text.pl-topic')].map(e => {
    const r = e.getBoundingClientRect();
    return {text: e.textContent, l: r.left, t: r.top, r: r.right, b: r.bottom};
  });
  const out = [];
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      const wide = Math.min(a.r, b.r) - Math.max(a.l, b.l);
      const high = Math.min(a.b, b.b) - Math.max(a.t, b.t);
      if (wide > 1 && high > 1) out.push([a.text, b.text]);
    }
  return {count: boxes.length, overlaps: out};
}
"""


@pytest.fixture(scope="module")
def own_app(embedder, tmp_path_factory) -> Iterator[ServedApp]:
    """The app over the user's own small library, every file added as an upload is."""
    if not PDFJS.is_file():
        pytest.skip("pdf.js is not in place (run `make pdfjs`)")
    from paperlens.web import build_app, serve
    from paperlens.web.app import WebApp

    folder = tmp_path_factory.mktemp("own")
    files = make_library_files(folder)
    bib = folder / "library.bib"
    bib.write_text(BIB, encoding="utf-8")
    settings = Settings(data_dir=tmp_path_factory.mktemp("own-ui") / "data")
    bot = Assistant(settings, embedder=embedder)
    report = WebApp(settings, bot).add_papers([str(f) for f in [*files, bib]])[0]
    assert "added 3," in report, report
    demo = build_app(settings, bot)
    _, url, _ = serve(demo, settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield ServedApp(url.rstrip("/") + "/", settings, bot, demo)
    finally:
        demo.close()


@pytest.fixture
def own_page(browser, own_app) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = context.new_page()
    pg.requests = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.goto(own_app.url)
    pg.wait_for_selector("#pl-question textarea")
    yield pg
    context.close()


def test_examples_come_from_the_library_and_fill_the_question(own_page, own_app):
    from paperlens.web.warmup import SAMPLE_EXAMPLES

    # The header says the library is loading until the warm-up is done, then which answerer.
    own_page.wait_for_function(
        "() => (document.querySelector('#pl-status')?.innerText || '').includes('answers:')",
        timeout=120_000,
    )
    examples = own_page.locator("#pl-examples")
    examples.get_by_text("propose?").first.wait_for(timeout=120_000)
    shown = [
        t.strip() for t in examples.locator("button.pl-example").all_inner_texts() if t.strip()
    ]
    titles = [p.title for p in own_app.assistant.papers().values()]
    assert shown and not set(shown) & set(SAMPLE_EXAMPLES)
    # Each example asks about this library: a paper by its title, or a topic its titles name.
    for question in shown:
        asked = question.removeprefix("What does ").removesuffix(" propose?").strip("“”")
        assert any(asked in t for t in titles) or question.startswith("Which papers study"), (
            question
        )
    examples.get_by_text(shown[0]).first.click()
    own_page.wait_for_function(
        "q => document.querySelector('#pl-question textarea').value === q",
        arg=shown[0],
        timeout=30_000,
    )
    _assert_all_local(own_page)


def test_quotes_say_where_they_are_from_and_cards_name_authors_and_year(own_page):
    _ask(own_page, LANTERN_Q, 0)
    body = _answers(own_page).nth(0)
    card = body.locator("li.pl-source").filter(has_text=LANTERN_TITLE).first
    assert "Smith & Doe, 2024" in card.locator(".pl-byline").inner_text()
    assert "Full text, section 2 Method, page 2:" in card.inner_text()
    footer = body.locator(".pl-mode").inner_text()
    assert "quoted from" in footer and "section 2 Method, p. 2" in footer, footer
    assert "abstracts" not in footer or "abstract and" in footer, footer

    _ask(own_page, ABSTRACT_Q, 1)
    second = _answers(own_page).nth(1)
    assert "Tidal Scheduling for Photovoltaic Microgrids" in second.inner_text()
    assert "Abstract:" in second.locator("li.pl-source").first.inner_text()
    assert "quoted from the papers' abstracts" in second.locator(".pl-mode").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    body.scroll_into_view_if_needed()
    own_page.screenshot(path=str(ARTIFACTS / "app-own-library.png"), full_page=True)


def test_map_labels_do_not_overlap(own_page, own_app):
    own_page.get_by_role("tab", name="Library").click()
    n = len(own_app.assistant.papers())
    own_page.wait_for_function(
        "n => document.querySelectorAll('#pl-map circle[data-paper]').length === n",
        arg=n,
        timeout=120_000,
    )
    got = own_page.evaluate(LABEL_OVERLAPS)
    assert got["count"] >= 1 and not got["overlaps"], got

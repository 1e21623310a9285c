"""The web UI's API and HTML: gradio_client against the real served app, and the renderer.

The app runs on 127.0.0.1 over a copy of the bundled library (see app_server.py).
"""

from __future__ import annotations

import re

import httpx
import pytest
from app_server import free_port, served_app_fixture, start_app  # noqa: F401 - fixture

from assistant import Answer, Citation, Paper, Settings, Source
from paperlens.web.cards import answer_html
from paperlens.web.html import highlight, question_html
from paperlens.web.search import search_html

SPEC_Q = "Which papers study speculative decoding?"
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.fixture(scope="module")
def client(served_app):
    from gradio_client import Client

    return Client(served_app.url, verbose=False)


# --- the named endpoint ----------------------------------------------------------------
def test_ask_endpoint_returns_answer_with_its_sources(client):
    result = client.predict(SPEC_Q, api_name="/ask")
    assert "SpecDec++" in result["text"] and "SpecTr" in result["text"]
    assert result["mode"] == "extractive"
    numbers = {s["n"] for s in result["sources"]}
    cited = {c["n"] for c in result["citations"]}
    assert cited and cited <= numbers
    assert set(map(int, re.findall(r"\[(\d+)\]", result["text"]))) <= numbers
    for c in result["citations"]:
        assert c["quote"] and c["end"] - c["start"] == len(c["quote"])


def test_ask_endpoint_is_listed_under_its_name(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert "/ask" in api["named_endpoints"]


def test_ask_endpoint_keeps_no_conversation_between_calls(client):
    first = client.predict(SPEC_Q, api_name="/ask")
    again = client.predict(SPEC_Q, api_name="/ask")
    assert first["text"] == again["text"]
    assert again["kind"] != "follow_up"


def test_empty_question_gets_a_clear_message(client):
    result = client.predict("   ", api_name="/ask")
    assert result["text"] == "Please type a question about the papers in the library."
    assert result["mode"] == "none" and result["citations"] == []


def test_100kb_question_is_cut_and_says_so(client):
    question = SPEC_Q + " " + "speculative decoding " * 5000
    assert len(question) > 100_000
    result = client.predict(question, api_name="/ask")
    assert "The question was cut to its first 2000 characters." in result["notices"]
    assert result["text"]


def test_script_question_is_answered_as_plain_text(client):
    result = client.predict(HOSTILE, api_name="/ask")
    assert isinstance(result["text"], str) and result["text"]
    assert result["citations"] == [] or all(c["quote"] for c in result["citations"])


def test_empty_library_says_how_to_add_papers(tmp_path, embedder):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    served = start_app(Settings(data_dir=tmp_path / "empty"), embedder)
    try:
        with pytest.raises(AppError, match="The library is empty. Add papers in the Library tab"):
            Client(served.url, verbose=False).predict(SPEC_Q, api_name="/ask")
    finally:
        served.demo.close()


# --- server options -----------------------------------------------------------------------
def test_serves_on_localhost_by_default(served_app):
    assert served_app.settings.host == "127.0.0.1"
    assert served_app.url.startswith("http://127.0.0.1:")


def test_basic_auth_guards_the_app_when_configured(served_app):
    from paperlens.web import build_app, serve

    settings = Settings(
        data_dir=served_app.settings.data_dir, ui={"auth_user": "ada", "auth_password": "lovelace"}
    )
    demo = build_app(settings, served_app.assistant)
    _, url, _ = serve(demo, settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        assert httpx.get(url + "config").status_code == 401
        login = httpx.post(url + "login", data={"username": "ada", "password": "wrong"})
        assert login.status_code == 400
        with httpx.Client() as web:
            login = web.post(url + "login", data={"username": "ada", "password": "lovelace"})
            assert login.status_code == 200
            assert web.get(url + "config").status_code == 200
    finally:
        demo.close()


def test_upload_over_the_size_limit_is_refused_with_a_message(tmp_path, served_app):
    from paperlens.web import build_app, serve

    settings = Settings(data_dir=served_app.settings.data_dir, ui={"max_upload_mb": 0.01})
    demo = build_app(settings, served_app.assistant)
    _, url, _ = serve(demo, settings, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        big = tmp_path / "big.md"
        big.write_text("# A big paper\n\n" + "word " * 10_000)
        with big.open("rb") as fh:
            response = httpx.post(url + "gradio_api/upload", files={"files": ("big.md", fh)})
        assert response.status_code == 413
        assert "File size exceeded maximum allowed size of 10485 bytes." in response.text
    finally:
        demo.close()


# --- the HTML the chat renders ---------------------------------------------------------------
ABSTRACT = (
    "We study <b>tags</b> & things. SpecDec++ adapts the candidate length on the fly. The end."
)


def _answer(text: str, question: str = "q") -> Answer:
    quote = "SpecDec++ adapts the candidate length on the fly."
    start = ABSTRACT.index(quote)
    return Answer(
        question=question,
        text=text,
        citations=(
            Citation(1, "p1", "SpecDec++ <i>x</i>", quote, start, start + len(quote), True),
        ),
        sources=(
            Source(1, "p1", "SpecDec++ <i>x</i>", 0.7251, 0.7, 0.5, "s"),
            Source(2, "p2", "Other <script>alert(3)</script>", 0.41, 0.4, 0.1, "s", relevant=False),
        ),
        mode="extractive",
        notices=("The LLM failed (timeout); showing the extractive answer instead.",),
    )


PAPERS = {"p1": Paper("p1", "SpecDec++ <i>x</i>", ABSTRACT, sources=("a<b>.md",))}


def test_answer_html_links_each_citation_to_its_source_entry():
    html = answer_html(_answer("**SpecDec++**: adapts lengths. [1]"), PAPERS, key="k1")
    targets = re.findall(r'href="#([^"]+)"', html)
    assert targets == ["pl-k1-1"]
    assert all(f'id="{t}"' in html for t in targets)
    assert "<strong>SpecDec++</strong>" in html
    assert "score 0.73" in html


def test_answer_html_marks_the_quoted_span_in_the_abstract():
    html = answer_html(_answer("x [1]"), PAPERS, key="k1")
    assert "<mark>SpecDec++ adapts the candidate length on the fly.</mark>" in html
    assert "We study &lt;b&gt;tags&lt;/b&gt; &amp; things." in html


def test_answer_html_escapes_answer_paper_and_source_text():
    html = answer_html(_answer(f"Nothing about {HOSTILE} [1] [7]"), PAPERS, key="k1")
    assert "<script" not in html and "<img" not in html and "<i>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "[7]" in html and 'href="#pl-k1-7"' not in html  # no source 7: no dangling link


def test_answer_html_names_the_llm_that_answered():
    from dataclasses import replace

    llm_answer = replace(_answer("x [1]"), mode="llm", model="smollm2", notices=())
    html = answer_html(llm_answer, PAPERS, "k1")
    assert "Answered by the LLM <code>smollm2</code>" in html and "fallback" not in html


def test_unreachable_llm_falls_back_and_the_answer_says_so(served_app, embedder):
    from assistant import Assistant

    settings = Settings(
        data_dir=served_app.settings.data_dir,
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",  # nothing listens there
        llm={"max_retries": 0, "timeout": 5},
    )
    bot = Assistant(settings, library=served_app.assistant.library, embedder=embedder)
    answer = bot.ask(SPEC_Q)
    assert answer.mode == "extractive" and answer.citations
    html = answer_html(answer, bot.retriever.papers, key="k1")
    assert "Extractive answer (fallback: the LLM's answer could not be used)" in html
    assert "The LLM failed" in html


def test_answer_html_says_when_the_llm_fell_back():
    html = answer_html(_answer("x [1]"), PAPERS, key="k1")
    assert "fallback" in html and "The LLM failed (timeout)" in html


def test_hostile_and_huge_questions_are_shown_escaped_and_short():
    assert "<script" not in question_html(HOSTILE)
    shown = question_html("a" * 100_000)
    assert len(shown) < 1000 and "100,000 characters" in shown


def test_highlight_merges_overlapping_spans_and_escapes():
    marked = highlight("a<b>cdef", [(1, 4), (2, 5), (7, 8)])
    assert marked == "a<mark>&lt;b&gt;c</mark>de<mark>f</mark>"


def test_search_html_escapes_the_query():
    assert "<script" not in search_html([], HOSTILE, 0, 10)


def test_full_text_citation_shows_section_and_page_not_an_abstract_highlight():
    from assistant.core.types import Answer, Citation, Paper, Source
    from paperlens.web.cards import sources_html

    paper = Paper(id="p1", title="T", abstract="An abstract sentence.")
    cite = Citation(
        1, "p1", "T", "Heads are <trained> contrastively.", 10, 44, True, 0.9, "2 Method", 3
    )
    source = Source(1, "p1", "T", 0.8, 0.7, 0.5, "s")
    answer = Answer("q", "Heads are trained contrastively. [1]", (cite,), (source,), "extractive")
    html = sources_html(answer, {"p1": paper}, "k")
    assert "Full text, section 2 Method, page 3:" in html
    assert "<mark>Heads are &lt;trained&gt; contrastively.</mark>" in html
    assert "<mark>An abstract" not in html

"""The LLM path under endpoint faults, against `FakeLLM` (a fake: tests/fake_llm.py).

A real server cannot be made to cut a stream before ``[DONE]``, answer with a web page,
ask for a Retry-After or hang on demand; the fake does, on 127.0.0.1. Every fault must end
in one clear line and, inside `Assistant`, in the extractive answer with a notice naming
the cause, within the question's time budget (`llm.question_budget_s`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fake_llm import FOREVER, FakeLLM, Reply, http_date

from assistant import Assistant, Settings
from assistant.core.errors import LLMUnavailableError
from assistant.llm.client import LLMClient

QUESTION = "Which papers study dense retrieval of passages?"
FOLLOW_UP = "and which of those use a bi-encoder?"
HI = [{"role": "user", "content": "hi"}]
HTML = "<html><body><h1>Welcome to nginx!</h1></body></html>"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, embedder) -> Settings:
    """The fixture corpus, ingested once for this module: its tests only read it."""
    from ingest import ingest

    settings = Settings(data_dir=tmp_path_factory.mktemp("faults-library"))
    data = Path(__file__).parent / "data"
    files = [data / name for name in ("agents.json", "retrieval.jsonl", "sparse_denoisers.md")]
    ingest(files, settings, embedder=embedder)
    return settings


def fault_settings(base: Settings, url: str, **llm: Any) -> Settings:
    # The answer path's faults; those of LLM-assisted retrieval's calls (rewrite, judging)
    # are tested in tests/test_llm_assist.py, so here the script serves the answer alone.
    values = {"model": "fake", "timeout": 5.0, "max_retries": 2, "assist": False, **llm}
    return base.model_copy(
        update={"openai_base_url": url, "llm": base.llm.model_copy(update=values)}
    )


def client_for(url: str, sleeps: list[float] | None = None, **llm: Any) -> LLMClient:
    """A client whose waits are recorded instead of slept (when `sleeps` is given)."""
    client = LLMClient(fault_settings(Settings(), url, **llm))
    if sleeps is not None:
        client._sleep = sleeps.append
    return client


# --- streams that end before [DONE] ---------------------------------------------------
def test_stream_closed_before_done_is_a_cut_not_an_answer():
    cut = Reply(pieces=("Dense ", "retrieval "), finish=False, done=False)
    with FakeLLM([cut]) as ep, pytest.raises(LLMUnavailableError) as err:
        list(client_for(ep.url, []).stream(HI))
    assert str(err.value) == (
        f"the answer stream from the LLM endpoint at {ep.url} ended after 2 pieces "
        "without [DONE] (the connection closed early)"
    )
    assert ep.calls == 1  # text was shown: a retry would repeat it


def test_complete_stream_is_accepted_with_or_without_a_finish_chunk():
    with FakeLLM([Reply(pieces=("a", "b")), Reply(pieces=("c",), finish=False)]) as ep:
        client = client_for(ep.url, [])
        assert list(client.stream(HI)) == ["a", "b"]
        assert list(client.stream(HI)) == ["c"]


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (
            'data: {"error": {"message": "context overflow"}}\n\n',
            "{where} reported an error mid-stream: context overflow",
        ),
        (
            "data: <html>oops</html>\n\n",
            "the answer stream broke after 1 pieces: {where} sent something that is not a chat "
            "completion chunk (an event is not JSON: '<html>oops</html>')",
        ),
    ],
    ids=["error-event", "garbage-event"],
)
def test_a_bad_event_after_text_breaks_the_stream(tail, reason):
    with FakeLLM([Reply(pieces=("Dense ",), tail=tail)]) as ep:
        got: list[str] = []
        with pytest.raises(LLMUnavailableError) as err:
            got.extend(client_for(ep.url, []).stream(HI))
    assert got == ["Dense "] and ep.calls == 1
    assert str(err.value) == reason.format(where=f"the LLM endpoint at {ep.url}")


def test_keep_alive_comments_and_multi_line_events_are_read():
    tail = ': ping\n\ndata: {"choices": [{"index": 0,\ndata: "delta": {"content": "b"}}]}\n\n'
    with FakeLLM([Reply(pieces=("a",), tail=tail)]) as ep:
        assert list(client_for(ep.url, []).stream(HI)) == ["a", "b"]


@pytest.fixture(scope="module")
def supported_reply(library, embedder) -> tuple[Settings, str, tuple[str, ...]]:
    """(settings, the question, an LLM reply the verifier accepts, as stream pieces)."""
    settings = library
    first = Assistant(settings, embedder=embedder).ask(QUESTION, mode="extractive")
    quote = first.citations[0]
    words = f"{quote.quote} [{quote.n}]".split(" ")
    return settings, QUESTION, tuple(w + " " for w in words[:-1]) + (words[-1],)


def test_cut_stream_falls_back_to_the_extractive_answer_with_its_cause(supported_reply, embedder):
    settings, question, pieces = supported_reply
    with FakeLLM([Reply(pieces=pieces), Reply(pieces=pieces, finish=False, done=False)]) as ep:
        bot = Assistant(fault_settings(settings, ep.url), embedder=embedder)
        whole = bot.ask(question)
        bot.reset()
        cut = bot.ask(question)
    # The same text, complete, is a verified LLM answer: only the cut makes it a fallback.
    assert whole.mode == "llm" and whole.citations
    assert cut.mode == "extractive" and cut.citations and all(c.verified for c in cut.citations)
    assert (
        f"The LLM failed (the answer stream from the LLM endpoint at {ep.url} ended after "
        f"{len(pieces)} pieces without [DONE] (the connection closed early)); "
        "showing the extractive answer instead."
    ) in cut.notices


# --- bodies that are not chat completions ---------------------------------------------
@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        (Reply(body=HTML), "'<html><body><h1>Welcome to nginx!</h1></body></html>'"),
        (Reply(body="{not json", content_type="application/json"), "invalid JSON"),
        (Reply(body={"status": "ok"}), "no choices"),
    ],
    ids=["html", "broken-json", "other-json"],
)
def test_a_body_that_is_not_a_completion_is_one_clear_error_retried_once(reply, detail):
    with FakeLLM([reply]) as ep:
        sleeps: list[float] = []
        with pytest.raises(LLMUnavailableError) as err:
            client_for(ep.url, sleeps, max_retries=2).complete(HI)
    assert ep.calls == 2 and len(sleeps) == 1
    assert str(err.value) == (
        f"the LLM endpoint at {ep.url} returned a response that is not a chat completion "
        f"({detail}) - check that OPENAI_BASE_URL is an OpenAI-compatible API (it usually "
        "ends in /v1) (after 1 retries)"
    )


def test_garbage_then_a_completion_succeeds_on_the_retry():
    with FakeLLM([Reply(body=HTML), Reply(text="fine")]) as ep:
        assert client_for(ep.url, []).complete(HI) == "fine"
    assert ep.calls == 2


def test_follow_up_survives_a_garbage_rewrite_and_says_why(library, embedder):
    settings = library
    with FakeLLM([Reply(body=HTML)]) as ep:
        bot = Assistant(fault_settings(settings, ep.url), embedder=embedder)
        bot.llm._sleep = lambda s: None  # type: ignore[union-attr]
        bot.ask(QUESTION, mode="extractive")
        answer = bot.ask(FOLLOW_UP)
    assert answer.mode == "extractive" and answer.citations
    cause = f"the LLM endpoint at {ep.url} returned a response that is not a chat completion"
    rewrite = next(n for n in answer.notices if n.startswith("The follow-up was not rewritten"))
    assert cause in rewrite and "\n" not in rewrite
    # The answer's own notice names the same cause, not "no sentence supported".
    failed = next(n for n in answer.notices if n.startswith("The LLM failed"))
    assert cause + " stream" in failed
    assert not any("no sentence" in n for n in answer.notices)
    assert ep.calls == 4  # rewrite and answer: each tried twice


def test_garbage_on_the_answer_stream_names_the_cause_not_the_verifier(library, embedder):
    settings = library
    with FakeLLM([Reply(body=HTML)]) as ep:
        bot = Assistant(fault_settings(settings, ep.url), embedder=embedder)
        bot.llm._sleep = lambda s: None  # type: ignore[union-attr]
        answer = bot.ask(QUESTION)
    assert answer.mode == "extractive" and answer.citations
    assert any(
        f"the LLM endpoint at {ep.url} returned a response that is not a chat completion stream"
        in n
        for n in answer.notices
    ), answer.notices
    assert not any("no sentence" in n for n in answer.notices)


def test_an_empty_answer_is_reported_as_empty(library, embedder):
    settings = library
    with FakeLLM([Reply(pieces=())]) as ep:
        answer = Assistant(fault_settings(settings, ep.url), embedder=embedder).ask(QUESTION)
    assert answer.mode == "extractive"
    assert (
        "The LLM returned an empty answer; showing the extractive answer instead." in answer.notices
    )


# --- Retry-After ------------------------------------------------------------------------
def test_retry_after_seconds_is_honoured():
    with FakeLLM([Reply(429, headers={"Retry-After": "2"}), Reply(text="fine")]) as ep:
        sleeps: list[float] = []
        assert client_for(ep.url, sleeps).complete(HI) == "fine"
    assert sleeps == [2.0]


def test_retry_after_as_an_http_date_is_honoured():
    with FakeLLM([Reply(503, headers={"Retry-After": http_date(3)}), Reply(text="fine")]) as ep:
        sleeps: list[float] = []
        assert client_for(ep.url, sleeps).complete(HI) == "fine"
    # An HTTP-date has whole seconds: 3 s from now is 2 to 3 s away.
    assert len(sleeps) == 1 and 1.0 < sleeps[0] <= 3.0


def test_retry_after_beyond_the_cap_is_not_waited_for():
    with FakeLLM([Reply(429, headers={"Retry-After": "30"}), Reply(text="fine")]) as ep:
        sleeps: list[float] = []
        with pytest.raises(LLMUnavailableError) as err:
            client_for(ep.url, sleeps, retry_after_max_s=10).complete(HI)
    assert ep.calls == 1 and sleeps == []
    assert str(err.value) == (
        f"the LLM endpoint at {ep.url} is rate limiting requests (429) and asks to retry "
        "after 30 s, longer than llm.retry_after_max_s (10 s)"
    )


def test_retry_after_beyond_the_time_left_is_not_waited_for():
    with FakeLLM([Reply(503, headers={"Retry-After": "5"}), Reply(text="fine")]) as ep:
        sleeps: list[float] = []
        with pytest.raises(LLMUnavailableError, match=r"asks to retry after 5 s, more than the "):
            client_for(ep.url, sleeps).complete(HI, deadline=time.monotonic() + 2)
    assert ep.calls == 1 and sleeps == []


def test_rate_limited_answer_falls_back_at_once(library, embedder):
    settings = library
    with FakeLLM([Reply(503, headers={"Retry-After": "120"})]) as ep:
        bot = Assistant(fault_settings(settings, ep.url), embedder=embedder)
        sleeps: list[float] = []
        bot.llm._sleep = sleeps.append  # type: ignore[union-attr]
        answer = bot.ask(QUESTION)
    assert answer.mode == "extractive" and answer.citations
    assert ep.calls == 1 and sleeps == []
    assert any("asks to retry after 120 s" in n for n in answer.notices), answer.notices


# --- one time budget per question -------------------------------------------------------
def test_a_hanging_endpoint_costs_a_follow_up_one_budget_not_two(library, embedder):
    settings = library
    budget = 4.0
    with FakeLLM([Reply(hang=FOREVER)]) as ep:
        bot = Assistant(
            fault_settings(settings, ep.url, timeout=3.0, question_budget_s=budget),
            embedder=embedder,
        )
        bot.ask(QUESTION, mode="extractive")
        started = time.monotonic()
        answer = bot.ask(FOLLOW_UP)
        took = time.monotonic() - started
    assert answer.mode == "extractive" and answer.citations
    assert any(n.startswith("The follow-up was not rewritten") for n in answer.notices)
    assert any("time budget" in n for n in answer.notices), answer.notices
    # A correctness bound, not a speed target: before, this took 21 s (3 tries x 3 s,
    # twice, plus backoff).
    assert took < 2 * budget, took


def test_a_stream_slower_than_the_budget_is_cut(library, embedder):
    settings = library
    with FakeLLM([Reply(pieces=("word ",) * 40, gap=0.25)]) as ep:
        bot = Assistant(fault_settings(settings, ep.url, question_budget_s=2.0), embedder=embedder)
        started = time.monotonic()
        answer = bot.ask(QUESTION)
        took = time.monotonic() - started
    assert answer.mode == "extractive"
    assert any("question's 2 s time budget" in n for n in answer.notices), answer.notices
    assert took < 2 * 2.0 + 2.0, took  # 40 pieces at 0.25 s would take 10 s

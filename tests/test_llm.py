"""The LLM path against a real llama.cpp OpenAI-compatible server (SmolLM2-135M).

The 135M model writes fluent, mostly wrong answers and rarely cites: exactly what the
verifier must catch. Error handling that a real server cannot be made to show on demand
(HTTP 500/429/401 sequences) uses `FakeLLM` (tests/fake_llm.py), a fake named as one: a
stdlib HTTP server that replays a fixed list of responses on 127.0.0.1; the other faults
(cut streams, garbage bodies, Retry-After, hangs) are in tests/test_llm_faults.py.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from fake_llm import FakeLLM
from servers import free_port, start_llama_server

from assistant import Assistant, Settings
from assistant.answering.verify import SourceText, claims
from assistant.core.errors import LLMAuthError, LLMUnavailableError
from assistant.llm.client import LLMClient

pytestmark = pytest.mark.llm

QUESTION = "Which papers study dense retrieval of passages?"


def llm_settings(base: Settings, url: str, **llm) -> Settings:
    values = {"model": "smollm2", "max_tokens": 96, "timeout": 60.0, "max_retries": 1, **llm}
    return base.model_copy(
        update={"openai_base_url": url, "llm": base.llm.model_copy(update=values)}
    )


def test_non_streaming_completion_from_the_real_server(llama):
    client = LLMClient(llm_settings(Settings(), f"{llama.url}/v1"))
    text = client.complete([{"role": "user", "content": "Say hello in one word."}])
    assert isinstance(text, str) and text.strip()


def test_stream_from_the_real_server_ends_with_done_and_is_accepted(llama):
    # The client reads the SSE itself and treats a stream without [DONE] as cut: the real
    # server's streams must pass that check (a cut raises LLMUnavailableError).
    client = LLMClient(llm_settings(Settings(), f"{llama.url}/v1", max_tokens=16))
    pieces = list(client.stream([{"role": "user", "content": "Say hello."}]))
    assert len(pieces) > 1 and "".join(pieces).strip()


def test_streamed_llm_answer_is_verified_before_it_is_final(small_library, embedder, llama):
    settings, _, _ = small_library
    bot = Assistant(llm_settings(settings, f"{llama.url}/v1"), embedder=embedder)
    events = list(bot.stream(QUESTION))
    drafts = [e for e in events if e.draft]
    final = events[-1].answer
    assert drafts, "the LLM's text should stream before the verified answer"
    assert final is not None and all(e.answer is None for e in events[:-1])
    draft_text = "".join(e.delta for e in drafts)
    papers = bot.retriever.papers
    if final.mode == "llm":
        assert final.model == "smollm2"
        assert final.citations and all(c.verified for c in final.citations)
        for c in final.citations:
            assert papers[c.paper_id].abstract[c.start : c.end] == c.quote
    else:
        assert any("showing the extractive answer" in n for n in final.notices), final.notices
    # What the verifier judged unsupported in the draft never reaches the final text: the
    # draft checked again against the answer's sources as the LLM was given them.
    given = [s for s in final.sources if s.relevant][: bot.settings.llm.max_sources]
    stored = bot.library.sentences_for([s.paper_id for s in given])
    sources = [SourceText(s.n, papers[s.paper_id], stored[s.paper_id][0]) for s in given]
    checked = bot.verifier.check(draft_text, sources)
    for sentence in checked.unsupported:
        assert sentence not in final.text


def test_verifier_removes_the_tiny_models_unsupported_claims(small_library, embedder, llama):
    settings, _, _ = small_library
    bot = Assistant(llm_settings(settings, f"{llama.url}/v1"), embedder=embedder)
    questions = [
        QUESTION,
        "Which papers combine lexical and dense retrieval?",
        "Which papers speed up diffusion sampling?",
    ]
    flagged = 0
    for q in questions:
        bot.reset()
        events = list(bot.stream(q))
        answer = events[-1].answer
        draft = "".join(e.delta for e in events if e.draft)
        drafted = [c for c, _ in claims(draft)]
        # Every [n] left in the final text is a verified citation of a listed source.
        import re

        for n in re.findall(r"\[(\d+)\]", answer.text):
            assert any(c.n == int(n) and c.verified for c in answer.citations)
        removed = (
            answer.mode == "extractive"
            or bool(answer.unsupported)
            or any("Removed" in n for n in answer.notices)
        )
        flagged += removed
        if answer.mode == "llm":
            kept = [c for c in drafted if c in answer.text]
            assert len(kept) + len(answer.unsupported) <= len(drafted)
    # The 135M model's answers are mostly unsupported: the verifier must have acted.
    assert flagged >= 1


def test_server_killed_mid_stream_falls_back_to_the_extractive_answer(
    small_library, embedder, tmp_path
):
    settings, _, _ = small_library
    server = start_llama_server(tmp_path / "doomed")
    try:
        bot = Assistant(
            llm_settings(settings, f"{server.url}/v1", max_tokens=400), embedder=embedder
        )
        events = []
        for event in bot.stream(QUESTION):
            events.append(event)
            if event.draft and len(events) == 2:
                os.kill(server.pid, signal.SIGKILL)
    finally:
        server.stop()
    final = events[-1].answer
    assert final is not None
    assert final.mode == "extractive"
    assert any(n.startswith("The LLM failed (the answer stream broke") for n in final.notices), (
        final.notices
    )
    assert final.citations and all(c.verified for c in final.citations)


def test_unreachable_endpoint_gives_one_clear_line_and_an_extractive_answer(
    small_library, embedder
):
    settings, _, _ = small_library
    url = f"http://127.0.0.1:{free_port()}/v1"
    bot = Assistant(llm_settings(settings, url, max_retries=1), embedder=embedder)
    bot.llm._sleep = lambda s: None  # type: ignore[union-attr]
    answer = bot.ask(QUESTION)
    assert answer.mode == "extractive" and answer.citations
    notice = next(n for n in answer.notices if n.startswith("The LLM failed"))
    assert f"cannot reach the LLM endpoint at {url} - is the server running?" in notice
    assert "(after 1 retries)" in notice
    assert "\n" not in notice


OK = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "fine"}}
    ],
}
ERROR = {"error": {"message": "boom", "type": "server_error"}}


def scripted_client(url: str, retries: int = 2) -> LLMClient:
    client = LLMClient(llm_settings(Settings(), url, max_retries=retries))
    client._sleep = lambda s: None
    return client


def test_5xx_and_429_are_retried_then_succeed():
    with FakeLLM([(500, ERROR), (429, ERROR), (200, OK)]) as ep:
        client = scripted_client(ep.url)
        assert client.complete([{"role": "user", "content": "hi"}]) == "fine"
        assert ep.calls == 3 and client.retries_used == 2


def test_retries_are_bounded():
    with FakeLLM([(503, ERROR)]) as ep:
        client = scripted_client(ep.url, retries=2)
        with pytest.raises(LLMUnavailableError) as err:
            client.complete([{"role": "user", "content": "hi"}])
        assert ep.calls == 3
        assert (
            str(err.value) == f"the LLM endpoint at {ep.url} failed with HTTP 503 (after 2 retries)"
        )


def test_wrong_key_fails_at_once_with_one_clear_line():
    with FakeLLM([(401, {"error": {"message": "bad key"}})]) as ep:
        client = scripted_client(ep.url)
        with pytest.raises(LLMAuthError) as err:
            client.complete([{"role": "user", "content": "hi"}])
        assert ep.calls == 1
        assert (
            str(err.value)
            == f"the LLM endpoint at {ep.url} rejected the API key (401) - check OPENAI_API_KEY."
        )


def test_wrong_url_names_the_fix():
    with FakeLLM([(404, {"error": {"message": "not found"}})]) as ep:
        client = scripted_client(ep.url)
        with pytest.raises(LLMAuthError, match="check OPENAI_BASE_URL"):
            client.complete([{"role": "user", "content": "hi"}])


def test_auth_failure_still_answers_extractively(small_library, embedder):
    settings, _, _ = small_library
    with FakeLLM([(401, {"error": {"message": "bad key"}})]) as ep:
        bot = Assistant(llm_settings(settings, ep.url), embedder=embedder)
        answer = bot.ask(QUESTION)
    assert answer.mode == "extractive" and answer.citations
    assert any("rejected the API key (401)" in n for n in answer.notices)


def test_prompt_files_declare_exactly_their_placeholders(tmp_path: Path):
    from assistant.core.errors import PromptError
    from assistant.llm.prompts import load_prompt

    (tmp_path / "bad.yaml").write_text(
        "placeholders: [question]\nsystem: hi\nuser: '{{ question }} {{ extra }}'\n"
    )
    with pytest.raises(PromptError, match="templates use"):
        load_prompt("bad", tmp_path)
    with pytest.raises(PromptError, match="missing placeholders"):
        load_prompt("answer").render(question="q")

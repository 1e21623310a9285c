"""Concurrent conversations, uploads during questions, and caches that follow the
library's identity.

Issue #11: `Assistant.stream` held a lock across `yield`; gradio steps one generator on
several worker threads, so the lock was released by a thread that did not own it and
stayed held, hanging every later question. These tests drive the real served app through
the same queue the browser page uses (`/gradio_api/queue/join` and its SSE stream), call
the library from several threads, and reset a library (embedded and on a real `chroma run`
server) to the same version number with other content.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from app_server import ServedApp, copy_library, start_app

from assistant import Assistant, LibraryEmptyError, Settings

SPEC_Q = "Which papers study speculative decoding?"
SESSION_QUESTIONS = (
    SPEC_Q,
    "and which of those use a draft model?",
    "Which papers reduce the KV cache memory of long-context inference?",
)
SESSIONS = 8
# A guard against a hang, not a speed assertion: one question takes about a second here.
HANG_S = 150.0

UPLOAD_TITLE = "Zeolite Catalysts for Ammonia Synthesis at Low Pressure"
UPLOAD_MD = (
    f"# {UPLOAD_TITLE}\n\n## Abstract\n\n"
    "We screen zeolite catalysts for ammonia synthesis at low pressure. "
    "The best zeolite catalysts double the ammonia yield of iron catalysts.\n"
)
UPLOAD_Q = "Which papers study zeolite catalysts for ammonia synthesis?"


# --- a browser-like client of the gradio queue ------------------------------------------
def fn_index(demo: Any, name: str) -> int:
    """The index of the event whose function is called ``name`` (what the page posts)."""
    found = [i for i, fn in demo.fns.items() if getattr(fn.fn, "__name__", None) == name]
    assert len(found) == 1, (name, found)
    return found[0]


@dataclass
class QueueResult:
    completed: bool
    output: list[Any] | None
    error: str | None = None
    ended: float = field(default_factory=time.monotonic)


class BrowserSession:
    """One browser tab: its own gradio session hash, joining events as the page does."""

    def __init__(self, served: ServedApp, session_hash: str):
        self.base = served.url + "gradio_api/"
        self.session_hash = session_hash
        self.http = httpx.Client(timeout=httpx.Timeout(30.0, read=30.0))

    def close(self) -> None:
        self.http.close()

    def run(self, index: int, data: list[Any], deadline: float) -> QueueResult:
        """Join the queue with ``data`` and read the session's SSE stream until the event ends."""
        body = {
            "data": data,
            "fn_index": index,
            "session_hash": self.session_hash,
            "event_data": None,
            "trigger_id": None,
        }
        joined = self.http.post(self.base + "queue/join", json=body)
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        url = self.base + "queue/data"
        try:
            with self.http.stream("GET", url, params={"session_hash": self.session_hash}) as resp:
                for line in resp.iter_lines():
                    if time.monotonic() > deadline:
                        return QueueResult(False, None, "no answer before the hang guard")
                    if not line.startswith("data:"):
                        continue
                    msg = json.loads(line[5:])
                    if msg.get("event_id") not in (None, event_id):
                        continue
                    if msg.get("msg") == "process_completed":
                        output = msg.get("output") or {}
                        if not msg.get("success"):
                            return QueueResult(False, None, str(output.get("error")))
                        return QueueResult(True, output.get("data"))
                    if msg.get("msg") in ("close_stream", "unexpected_error"):
                        return QueueResult(False, None, str(msg))
        except httpx.ReadTimeout:  # nothing at all for 30 s, not even a heartbeat
            return QueueResult(False, None, "read timeout")
        return QueueResult(False, None, "stream ended")

    def ask(
        self,
        respond: int,
        question: str,
        history: list[Any],
        store: dict[str, Any],
        deadline: float,
    ) -> QueueResult:
        return self.run(respond, [question, history, store], deadline)


def last_message(result: QueueResult) -> str:
    """The text of the chat's last message (the assistant's answer or error)."""
    assert result.output is not None
    message = result.output[0][-1]
    content = message["content"]
    if isinstance(content, list):
        return "".join(c.get("text", "") for c in content if isinstance(c, dict))
    return str(content)


def is_answer(html: str) -> bool:
    """A finished answer: not a draft, not an error message."""
    return 'class="pl-answer"' in html and "pl-streaming" not in html and "pl-error" not in html


@pytest.fixture(scope="module")
def busy_app(bundled_library, embedder, tmp_path_factory) -> Iterator[ServedApp]:
    """The app over a private copy of the bundled library (uploads change it)."""
    settings = copy_library(bundled_library[0], tmp_path_factory.mktemp("busy") / "data")
    served = start_app(settings, embedder)
    try:
        yield served
    finally:
        served.demo.close()


def chat_session(
    served: ServedApp, respond: int, n: int, deadline: float, answered: threading.Event
) -> list[QueueResult]:
    """A browser tab asking its questions in turn, carrying the chat history as the page does;
    ``answered`` is set once its first question is answered."""
    tab = BrowserSession(served, f"tab{n}")
    store = {"sid": f"session-{n}", "history": []}
    history: list[Any] = []
    results = []
    try:
        for question in SESSION_QUESTIONS:
            result = tab.ask(respond, question, history, store, deadline)
            results.append(result)
            answered.set()
            if not result.completed:
                break
            history = result.output[0] if result.output else history
    finally:
        tab.close()
    return results


def upload(served: ServedApp, folder: Path, deadline: float) -> QueueResult:
    """Upload a paper as the Library tab does: the file first, then the `add_papers` event."""
    path = folder / "zeolite.md"
    path.write_text(UPLOAD_MD, encoding="utf-8")
    tab = BrowserSession(served, "uploader")
    try:
        with path.open("rb") as fh:
            sent = tab.http.post(tab.base + "upload", files={"files": ("zeolite.md", fh)})
        sent.raise_for_status()
        file_data = {
            "path": sent.json()[0],
            "orig_name": "zeolite.md",
            "meta": {"_type": "gradio.FileData"},
        }
        return tab.run(fn_index(served.demo, "add_papers"), [[file_data]], deadline)
    finally:
        tab.close()


def test_eight_browser_sessions_with_an_upload_all_get_answers(busy_app, tmp_path):
    """8 tabs x 3 questions through the page's queue while a paper is uploaded: all 24
    answered; then a new tab is answered, and sees the uploaded paper."""
    respond = fn_index(busy_app.demo, "respond")
    deadline = time.monotonic() + HANG_S
    with ThreadPoolExecutor(SESSIONS + 1) as pool:
        answered = threading.Event()
        tabs = [
            pool.submit(chat_session, busy_app, respond, n, deadline, answered)
            for n in range(SESSIONS)
        ]
        # Once the first answers are in, a paper is added while the rest are being answered.
        answered.wait(HANG_S)
        upload_start = time.monotonic()
        uploaded = pool.submit(upload, busy_app, tmp_path, deadline)
        results = [r for tab in tabs for r in tab.result()]
        added = uploaded.result()
    completed = [r for r in results if r.completed]
    during = sum(upload_start < r.ended < added.ended for r in completed)
    print(
        f"\n{len(completed)} of {SESSIONS * len(SESSION_QUESTIONS)} questions completed, "
        f"{during} of them while the upload ran"
    )
    assert len(completed) == SESSIONS * len(SESSION_QUESTIONS), [
        r.error for r in results if not r.completed
    ]
    for r in completed:
        assert is_answer(last_message(r)), last_message(r)[:300]
    spec = [last_message(r) for r in results[:: len(SESSION_QUESTIONS)]]
    assert all("SpecDec++" in html for html in spec)

    assert added.completed, added.error
    assert added.output is not None and "Added to the library" in str(added.output[0])

    fresh = BrowserSession(busy_app, "fresh-tab")
    try:
        after = fresh.ask(
            respond, UPLOAD_Q, [], {"sid": "fresh", "history": []}, time.monotonic() + HANG_S
        )
    finally:
        fresh.close()
    assert after.completed, after.error
    html = last_message(after)
    assert is_answer(html) and UPLOAD_TITLE in html


# --- the library: one conversation's generator on several threads ---------------------
def test_stream_stepped_on_one_thread_and_closed_on_another_leaves_the_conversation_usable(
    bundled_library, embedder
):
    """The issue's repro: no RuntimeError on close, and the next `ask` does not block."""
    bot = Assistant(bundled_library[0], embedder=embedder)
    stream = bot.stream(SPEC_Q)
    with ThreadPoolExecutor(1) as a, ThreadPoolExecutor(1) as b:
        a.submit(next, stream).result(timeout=HANG_S)
        b.submit(stream.close).result(timeout=HANG_S)  # RuntimeError before the fix
        answer = b.submit(bot.ask, "What does SpecDec++ adapt?").result(timeout=HANG_S)
    assert answer.answerable and "SpecDec++" in answer.text
    # The closed question was planned (it is a turn), the asked one too.
    assert [t.question for t in bot.history] == [SPEC_Q, "What does SpecDec++ adapt?"]


def test_questions_of_one_conversation_asked_at_once_are_planned_in_turn(bundled_library, embedder):
    """Two threads asking in one conversation: both answered, each a turn of its own."""
    bot = Assistant(bundled_library[0], embedder=embedder)
    questions = [SPEC_Q, SESSION_QUESTIONS[2], "Which papers propose benchmarks for LLM agents?"]
    start = threading.Barrier(len(questions))

    def ask(q: str) -> Any:
        start.wait()
        return bot.ask(q)

    with ThreadPoolExecutor(len(questions)) as pool:
        answers = list(pool.map(ask, questions))
    assert [a.question for a in answers] == questions
    assert answers[0].answerable and "SpecDec++" in answers[0].text
    assert sorted(t.question for t in bot.history) == sorted(questions)  # one turn each


# --- caches keyed by the library's identity, not its version number -------------------
# Another library, as many write batches (one) as the fixture corpus: the same version
# number after its ingest. Its questions need the lexical side: an index read from the
# old library's cache (lexical share 0) answered "no paper" to them.
OTHER_CORPUS = [
    {
        "title": UPLOAD_TITLE,
        "abstract": "We screen zeolite catalysts for ammonia synthesis at low "
        "pressure. The best zeolite catalysts double the ammonia yield of iron catalysts.",
    },
    {
        "title": "Perovskite Electrodes for Solid Oxide Fuel Cells",
        "abstract": "Perovskite electrodes "
        "lower the operating temperature of solid oxide fuel cells. We report a stable power "
        "density "
        "over a thousand hours.",
    },
    {
        "title": "Shape-Selective Cracking over ZSM-5",
        "abstract": "We study shape-selective cracking "
        "of hexane over ZSM-5 with varied silica to alumina ratios. Mesopores raise the propylene "
        "yield.",
    },
    {
        "title": "Membrane Reactors for Methane Steam Reforming",
        "abstract": "Palladium membrane "
        "reactors shift the equilibrium of methane steam reforming. Hydrogen permeation raises "
        "methane "
        "conversion at lower temperature.",
    },
]
ZSM_TITLE = "Shape-Selective Cracking over ZSM-5"
ZSM_QUESTIONS = ("Which papers use ZSM-5?", "Which papers vary the silica to alumina ratio?")


def assert_answers_from_the_new_library(bot: Assistant) -> None:
    for question in ZSM_QUESTIONS:
        bot.reset()
        answer = bot.ask(question)
        assert answer.answerable, (question, answer.text)
        assert ZSM_TITLE in [c.title for c in answer.citations], question


def other_corpus(folder: Path) -> Path:
    """A different library of the same size in write batches (one): the same version after
    ingest."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "chemistry.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in OTHER_CORPUS) + "\n", encoding="utf-8")
    return path


def fresh_settings(settings: Settings) -> Settings:
    """Check the store's version on every question (a running app after a reset)."""
    retrieval = settings.retrieval.model_copy(update={"version_check_seconds": 0.0})
    return settings.model_copy(update={"retrieval": retrieval})


def test_library_deleted_and_reingested_to_the_same_version_is_not_read_from_the_old_cache(
    small_library, embedder, tmp_path
):
    from chromadb.api.shared_system_client import SharedSystemClient

    from assistant.store.library import Library
    from ingest import ingest

    settings, _, _ = small_library
    first = Library(settings).identity()
    assert (
        not Assistant(settings, embedder=embedder).ask(ZSM_QUESTIONS[0]).answerable
    )  # BM25 cached
    assert list((settings.data_dir / "cache").glob("bm25-*.pkl"))

    shutil.rmtree(settings.resolved_chroma_path)  # the library folder, not the cache
    # A new process would open the new folder; this one's Chroma keeps the deleted one open.
    SharedSystemClient._identifier_to_system.pop(str(settings.resolved_chroma_path), None)
    ingest([other_corpus(tmp_path / "other")], settings, embedder=embedder)
    second = Library(settings).identity()
    assert second[1] == first[1] and second[0] != first[0]  # same version, another library

    assert_answers_from_the_new_library(Assistant(settings, embedder=embedder))


@pytest.mark.server
def test_chroma_server_restarted_without_its_data_is_not_read_from_old_caches(
    small_corpus, embedder, tmp_path
):
    """A running assistant and a new one, after the server came back empty and was refilled."""
    import sys

    from servers import start_chroma_server

    from assistant.store.library import Library
    from ingest import ingest

    chroma_exe = Path(sys.executable).parent / "chroma"
    server = start_chroma_server(tmp_path / "first", chroma_exe)
    try:
        settings = fresh_settings(
            Settings(
                chroma_host="127.0.0.1",
                chroma_port=server.port,
                collection="restart",
                data_dir=tmp_path / "data",
            )
        )
        ingest([small_corpus], settings, embedder=embedder)
        first = Library(settings).identity()
        running = Assistant(settings, embedder=embedder)
        assert not running.ask(ZSM_QUESTIONS[0]).answerable  # snapshot held, BM25 cached
    finally:
        server.stop()
    server = start_chroma_server(tmp_path / "second", chroma_exe, port=settings.chroma_port)
    try:
        # Back empty: the running app says the library is empty (not chromadb's NotFoundError).
        with pytest.raises(LibraryEmptyError):
            running.ask(ZSM_QUESTIONS[0])
        ingest([other_corpus(tmp_path / "other")], settings, embedder=embedder)
        second = Library(settings).identity()
        assert second[1] == first[1] and second[0] != first[0]  # same version, another library

        assert_answers_from_the_new_library(running)  # its snapshot and collections
        assert_answers_from_the_new_library(
            Assistant(settings, embedder=embedder)
        )  # the disk cache
    finally:
        server.stop()

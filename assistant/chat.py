"""`Assistant`: the library and models kept loaded, a conversation, and `ask`/`stream`.

Example:
    >>> from assistant import Assistant
    >>> with Assistant() as bot:                                     # doctest: +SKIP
    ...     print(bot.ask("Which papers study speculative decoding?").text)
    ...     print(bot.ask("and which of those use a draft model?").text)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .answering.evidence import search_papers
from .answering.plan import Plan, QuestionPlan, Turn
from .answering.questions import clean_question
from .answering.respond import Responder
from .answering.verify import Verifier
from .core.errors import LibraryEmptyError
from .core.settings import Settings, get_settings
from .core.types import (
    Answer,
    LibraryStats,
    Mode,
    Paper,
    RelatedPaper,
    SearchHit,
    StreamEvent,
)
from .index.embeddings import Embedder, get_embedder
from .llm.client import LLMClient
from .retrieval.retriever import Filters, Retriever
from .store.library import Library

if TYPE_CHECKING:
    from .explore.digest import Digest
    from .explore.library_map import LibraryMap

log = logging.getLogger(__name__)


class Assistant:
    """Answers questions about one library, keeping models loaded and the conversation.

    Args:
        settings: a `Settings`, a dict of overrides, or None for the environment's.
        library, embedder, llm: inject your own (tests, other stores or models).
        retriever: share an already loaded retriever (and its library and embedder)
            between several conversations, as the web UI does per browser session.
    """

    def __init__(
        self,
        settings: Settings | dict[str, Any] | None = None,
        *,
        library: Library | None = None,
        embedder: Embedder | None = None,
        llm: LLMClient | None = None,
        retriever: Retriever | None = None,
    ):
        self.settings = get_settings(settings)
        if retriever is not None:  # share one loaded index between conversations
            library, embedder = retriever.library, retriever.embedder
        self.library = library or Library(self.settings)
        self.embedder = embedder or get_embedder(self.settings)
        self.retriever = retriever or Retriever(self.settings, self.library, self.embedder)
        self.verifier = Verifier(self.embedder)
        if llm is None and self.settings.llm_enabled:
            llm = LLMClient(self.settings)
        self.responder = Responder(self.settings, llm, self.verifier)
        self.history: list[Turn] = []
        # Guards this conversation's history while a question is planned; never held across
        # a `yield` (see `stream`). What is shared between conversations (the retriever's
        # snapshot, the library, the models) needs no lock of this object.
        self._turn = threading.Lock()

    @property
    def llm(self) -> LLMClient | None:
        """The LLM that answers and judges (None: extractive answers only)."""
        return self.responder.llm

    @llm.setter
    def llm(self, llm: LLMClient | None) -> None:
        self.responder.llm = llm

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the conversation (models stay cached for the process)."""
        self.reset()

    def reset(self) -> None:
        """Start a new conversation."""
        with self._turn:
            self.history.clear()

    def new_conversation(self) -> Assistant:
        """A new, empty conversation sharing this one's loaded library, models and index.

        Nothing is loaded again: this is what the web UI gives each browser session and
        `ask` each call, so that conversations run side by side.

        Example:
            >>> alice, bob = bot.new_conversation(), bot.new_conversation()   # doctest: +SKIP
        """
        return Assistant(self.settings, retriever=self.retriever, llm=self.llm)

    def ask(
        self, question: str, *, mode: Mode | None = None, filters: Filters | None = None
    ) -> Answer:
        """Answer ``question``; the answer joins the conversation.

        Args:
            question: the question; follow-ups may refer to the previous answer.
            mode: "extractive" or "llm" to force an answerer (default: the LLM when
                configured, else extractive).
            filters: restrict the papers that may answer (source, date, ids, years).
        """
        answer = None
        for event in self.stream(question, mode=mode, filters=filters):
            if event.answer is not None:
                answer = event.answer
        assert answer is not None
        return answer

    def stream(
        self, question: str, *, mode: Mode | None = None, filters: Filters | None = None
    ) -> Iterator[StreamEvent]:
        """Yield the answer as it is produced; the last event carries the `Answer`.

        No lock is held while this generator is suspended: gradio steps one generator on
        several worker threads, and a caller may close it from any thread. The plan (the
        question classified against the conversation, retrieval, the extractive draft, the
        turn remembered) runs under the conversation's lock with no `yield` inside, so two
        questions of one conversation asked at once are planned one after the other, the
        second reading the first as its previous turn; streaming the LLM holds no lock.
        """
        t0 = time.perf_counter()
        question, notices = clean_question(question, self.settings.embedding.model)
        if not question:
            yield StreamEvent("", self.responder.unanswered(notices, t0))
            return
        with self._turn:  # no yield in here (see above)
            plan = self._plan(question, mode, filters)
        plan.notices[:0] = notices
        # The question as asked, cleaned, not a follow-up's rewrite (the LLM answers that).
        yield from self.responder.stream(plan, question, mode, t0, self.history)

    def stats(self) -> LibraryStats:
        """What the library holds: counts of papers, chunks and sentences, per source."""
        return self.library.stats()

    def papers(self) -> Mapping[str, Paper]:
        """The library's papers by id, as the next question reads them (read-only).

        Example:
            >>> len(bot.papers())                                          # doctest: +SKIP
            467
        """
        return self.retriever.refresh().papers

    def search(self, query: str, k: int = 10, filters: Filters | None = None) -> list[SearchHit]:
        """The ``k`` papers ranked best for ``query``, each with its best-matching sentence and
        the tier an answer would give it ("main", "second" or "" for ranked only).

        Raises:
            LibraryEmptyError: the library holds no paper.

        Example:
            >>> [h.title for h in bot.search("speculative decoding", k=3)]  # doctest: +SKIP
        """
        snap = self.retriever.refresh()
        if not snap.papers:
            raise LibraryEmptyError(self.settings.store_location)
        return search_papers(self.retriever, snap, query, k, filters)

    def related(self, paper: str, k: int = 5) -> list[RelatedPaper]:
        """The ``k`` papers of the library closest to ``paper`` (an id, arXiv id, DOI or
        words of its title), each with the sentence that links them; near duplicates left out.

        Example:
            >>> [r.title for r in bot.related("p90007efee116")]           # doctest: +SKIP
        """
        from .explore.related import related, resolve_paper

        snap = self.retriever.refresh()
        return related(snap, resolve_paper(snap.papers, paper).id, k, retriever=self.retriever)

    def library_map(self) -> LibraryMap:
        """The map of the library (topics and 2-D positions of its papers), built once per
        library content and cached.

        Example:
            >>> [t.label for t in bot.library_map().topics]                # doctest: +SKIP
        """
        from .explore.library_map import library_map

        return library_map(self.retriever)

    def digest(
        self, *, date: str | None = None, since: str | None = None, until: str | None = None
    ) -> Digest:
        """The library's papers of one day (``date``) or from ``since`` on (to ``until``),
        grouped by topic (see `assistant.explore.digest.digest`).

        Raises:
            DateError: a date cannot be read, or both ``date`` and ``since`` are given.

        Example:
            >>> print(bot.digest(since="2024-05-01").to_markdown())        # doctest: +SKIP
        """
        from .explore.digest import digest

        return digest(self.retriever, date=date, since=since, until=until)

    # -- internals
    def _plan(self, question: str, mode: Mode | None, filters: Filters | None = None) -> Plan:
        """The plan of the answer (assistant/answering/plan.py), under the conversation's lock."""
        t = time.perf_counter()
        steps = QuestionPlan(self.settings, self.retriever, self.llm, self.history, mode, filters)
        return steps.run(question, t)


_DEFAULT: dict[str, Assistant] = {}  # settings -> the loaded library and models, per process
_DEFAULT_LOCK = threading.Lock()  # held only to load them once, never while answering


def ask(
    question: str,
    *,
    mode: Mode | None = None,
    filters: Filters | None = None,
    settings: Settings | dict[str, Any] | None = None,
) -> Answer:
    """Answer one question about the library (no conversation kept between calls).

    Calls from several threads run side by side: each gets its own conversation over
    the library and models loaded by the first call.

    Example:
        >>> from assistant import ask
        >>> answer = ask("Which papers study speculative decoding?")   # doctest: +SKIP
        >>> [c.title for c in answer.citations]                        # doctest: +SKIP
    """
    s = get_settings(settings)
    key = s.config_hash() + str(s.resolved_chroma_path) + str(s.chroma_host)
    with _DEFAULT_LOCK:
        loaded = _DEFAULT.get(key)
        if loaded is None:
            loaded = _DEFAULT[key] = Assistant(s)
    return loaded.new_conversation().ask(question, mode=mode, filters=filters)


__all__ = ["Assistant", "ask"]

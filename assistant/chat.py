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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .answer import (
    Draft,
    answer_comparison,
    answer_list,
    answer_metadata,
    answer_single,
    no_paper,
)
from .errors import InvalidQuestionError, LibraryEmptyError, LLMUnavailableError, PaperLensError
from .injection import escape_for_prompt, is_topical_rewrite, source_for_prompt
from .lexical import terms
from .llm import LLMClient
from .prompts import load_prompt
from .embeddings import Embedder, get_embedder
from .questions import PaperNames, QuestionInfo, classify, looks_english
from .retrieval import Filters, PaperHit, Passage, Retrieval, Retriever, Snapshot
from .settings import Settings, get_settings
from .store import Library
from .sentences import split_sentences
from .types import Answer, Mode, RelatedPaper, Source
from .verify import SourceText, Verifier

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
# The bundled default; a multilingual model set in its place gets no language notice.
ENGLISH_ONLY_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer.

    ``delta`` is new text. While ``draft`` is True the text is the LLM's unverified
    output; the last event has ``answer`` set, whose text replaces the draft.
    """

    delta: str
    answer: Answer | None = None
    draft: bool = False


@dataclass
class Turn:
    question: str
    paper_ids: list[str]
    titles: list[str]
    topic_terms: list[str]


@dataclass
class _Plan:
    question: str
    info: QuestionInfo
    retrieval: Retrieval
    draft: Draft
    hits: list[PaperHit]
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    deadline: float | None = None  # time.monotonic() by which the LLM must be done


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
        self.llm = llm if llm is not None else (LLMClient(self.settings) if self.settings.llm_enabled else None)
        self.history: list[Turn] = []
        # Guards this conversation's history while a question is planned; never held across
        # a `yield` (see `stream`). What is shared between conversations (the retriever's
        # snapshot, the library, the models) needs no lock of this object.
        self._turn = threading.Lock()

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

    # -- public API
    def ask(self, question: str, *, mode: Mode | None = None, filters: Filters | None = None) -> Answer:
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
        question, notices = self._clean(question)
        if not question:
            yield StreamEvent("", self._finish("", Draft(
                "Please type a question about the papers in the library.", [], [], "list", False
            ), "none", notices, {}, t0))
            return
        with self._turn:  # no yield in here (see above)
            plan = self._plan(question, mode, filters)
        plan.notices[:0] = notices
        use_llm = (
            self.llm is not None
            and mode != "extractive"
            and plan.draft.answerable
            and plan.info.kind != "metadata"
            and bool(plan.hits)
        )
        if mode == "llm" and self.llm is None:
            plan.notices.append("No LLM is configured (set OPENAI_BASE_URL or OPENAI_API_KEY); answered extractively.")
        if not use_llm:
            for line in plan.draft.text.split("\n"):
                yield StreamEvent(line + "\n")
            answer = self._finish(question, plan.draft, "extractive", plan.notices, plan.timings, t0, plan)
            yield StreamEvent("", answer)
            return
        yield from self._stream_llm(plan, t0)

    def stats(self) -> Any:
        return self.library.stats()

    def related(self, paper: str, k: int = 5) -> list[RelatedPaper]:
        """The ``k`` papers of the library closest to ``paper`` (an id, arXiv id, DOI or
        words of its title), each with the sentence that links them; near duplicates left out.

        Example:
            >>> [r.title for r in bot.related("p90007efee116")]           # doctest: +SKIP
        """
        from .related import related, resolve_paper

        snap = self.retriever.refresh()
        return related(snap, resolve_paper(snap.papers, paper).id, k, retriever=self.retriever)

    def export(self, answer: Answer, fmt: str) -> str:
        """The papers ``answer`` cites in ``fmt`` ("bibtex", "ris", "csl-json", "markdown"),
        with the library's metadata (see `Answer.export`)."""
        return answer.export(fmt, self.retriever.papers)

    # -- internals
    def _clean(self, question: str) -> tuple[str, list[str]]:
        if not isinstance(question, str):  # bytes, None, a number: say so, not AttributeError
            got = "None" if question is None else type(question).__name__
            raise InvalidQuestionError(
                f"The question must be text (str), got {got} - pass a string, e.g. "
                "ask(\"Which papers study speculative decoding?\")."
            )
        notices = []
        question = " ".join(question.split())
        if len(question) > MAX_QUESTION_CHARS:
            notices.append(f"The question was cut to its first {MAX_QUESTION_CHARS} characters.")
            question = question[:MAX_QUESTION_CHARS]
        if question and self.settings.embedding.model == ENGLISH_ONLY_MODEL and not looks_english(question):
            notices.append(
                f"This question does not look like English: the embedding model ({ENGLISH_ONLY_MODEL}) "
                "reads English only, so papers may be missed - ask in English, or set "
                "PAPERLENS_EMBEDDING__MODEL to a multilingual model."
            )
        return question, notices

    @staticmethod
    def _paper_names(snap: Snapshot) -> PaperNames:
        # Built once per library snapshot, shared by every conversation reading it.
        names: PaperNames = snap.derived("paper_names", lambda s: PaperNames(s.papers.values()))
        return names

    def _plan(self, question: str, mode: Mode | None, filters: Filters | None = None) -> _Plan:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        # One time budget per question, shared by the rewrite, the answer and their retries.
        deadline = time.monotonic() + self.settings.llm.question_budget_s
        snap = self.retriever.refresh()  # the library as this question reads it, taken once
        names = self._paper_names(snap)
        if not snap.papers:
            raise LibraryEmptyError(self.settings.store_location)
        info = classify(question, names, has_history=bool(self.history))
        notices: list[str] = []
        within = None
        extra: list[str] = []
        retrieve_q = question
        if info.follow_up and self.history:
            last = self.history[-1]
            rewritten = self._rewrite(question, notices, deadline) if (self.llm is not None and mode != "extractive") else None
            if rewritten:
                retrieve_q = rewritten
                info = classify(rewritten, names)
                notices.append(f"Follow-up read as: {rewritten}")
            else:
                extra = last.topic_terms
                if info.narrow and last.paper_ids:
                    within = last.paper_ids
        timings["classify"] = time.perf_counter() - t

        retrieval = self.retriever.retrieve(
            retrieve_q, within=within, extra_terms=extra, filters=filters, snapshot=snap
        )
        hits: list[PaperHit]
        lex = snap.lexical
        if info.named and info.kind in ("single", "comparison", "metadata"):
            # The question's vector is reused: embedding it is most of an ask's time.
            named = self.retriever.retrieve(
                retrieve_q, within=info.named_ids, filters=filters, query_vector=retrieval.query_vector,
                snapshot=snap,
            )
            order = {pid: i for i, pid in enumerate(info.named_ids)}
            hits = sorted((h for h in named.hits if h.paper.id in order), key=lambda h: order[h.paper.id])
        elif info.kind == "comparison":
            hits = retrieval.relevant[:3]
        elif info.kind == "metadata":
            hits = self._metadata_matches(retrieve_q, info, filters, snap)
        else:
            hits = retrieval.relevant
        self._attach_passages(hits, retrieval, snap)
        if info.kind == "single" and hits:
            draft = answer_single(retrieve_q, hits[0], retrieval, info.named[0].name, lex)
        elif info.kind == "comparison":
            draft = answer_comparison(retrieve_q, hits, retrieval)
        elif info.kind == "metadata":
            draft = answer_metadata(retrieve_q, info, hits, retrieval)
        elif hits:
            draft = answer_list(retrieve_q, retrieval)
            if within is not None:
                draft.kind = "follow_up"
        else:
            draft = no_paper(retrieve_q, retrieval)
        timings.update(retrieval.timings)
        used = [s.paper_id for s in draft.sources if s.relevant]
        self._remember(question, used, retrieval, snap)
        return _Plan(retrieve_q, info, retrieval, draft, hits if draft.answerable else [], notices, timings, deadline)

    def _metadata_matches(
        self, question: str, info: QuestionInfo, filters: Filters | None, snap: Snapshot
    ) -> list[PaperHit]:
        """Papers whose imported year or venue is what a metadata question asks about."""
        low = question.lower()
        venues = [v for v in ("neurips", "icml", "iclr", "acl", "emnlp", "cvpr", "aaai") if v in low]
        out = []
        for p in snap.papers.values():
            if filters and not filters.allows(p):
                continue
            by_year = bool(info.years) and p.year in info.years
            by_venue = bool(venues) and bool(p.venue) and any(v in (p.venue or "").lower() for v in venues)
            if by_year or by_venue:
                out.append(p)
        out.sort(key=lambda p: (-(p.year or 0), p.title))
        cap = self.settings.retrieval.max_papers * 3
        return [PaperHit(p, 1.0, 0.0, 0.0, 0.0) for p in out[:cap]]

    def _attach_passages(self, hits: list[PaperHit], retrieval: Retrieval, snap: Snapshot) -> None:
        """For PDF papers, find the body sentence that answers better than the abstract.

        Body and abstract candidates are encoded together and scored alike (cosine plus
        coverage of the question's terms other than the paper's own title words).
        """
        wanted = [h.paper.id for h in hits if h.paper.id in snap.fulltext_ids]
        if not wanted:
            return
        found = self.library.fulltext_chunks(wanted)
        qvec = retrieval.query_vector
        for h in hits:
            chunks = found.get(h.paper.id, [])
            if not chunks:
                continue
            qterms = set(retrieval.query_terms) - set(terms(h.paper.title))
            body_cands: list[tuple[Any, int, int, str]] = []
            for chunk, _vec in sorted(chunks, key=lambda cv: -float(cv[1] @ qvec))[:3]:
                body = chunk.text[len(chunk.text) - (chunk.end - chunk.start) :]
                body_cands += [(chunk, a, b, body[a:b]) for a, b in split_sentences(body)]
            abstract = [h.sentences[i].text for i in np.argsort(-h.sentence_scores)[:3]] if (
                h.sentence_scores is not None and len(h.sentence_scores)) else []
            texts = [c[3] for c in body_cands] + abstract
            if not body_cands:
                continue
            vecs = self.embedder.encode(texts)
            cover = np.asarray([len(qterms & set(terms(t))) / (len(qterms) or 1) for t in texts], dtype=np.float32)
            scores = vecs @ qvec + 0.5 * cover
            i = int(np.argmax(scores))
            if i < len(body_cands):
                chunk, a, b, text = body_cands[i]
                h.passage = Passage(chunk.section, chunk.page, text, chunk.start + a, chunk.start + b, float(scores[i]))

    def _remember(self, question: str, paper_ids: list[str], retrieval: Retrieval, snap: Snapshot) -> None:
        papers = snap.papers
        titles = [papers[p].title for p in paper_ids if p in papers]
        topic = [t for t in retrieval.query_terms if t in set(terms(retrieval.question, question=True))]
        if paper_ids or not self.history:
            self.history.append(Turn(question, paper_ids, titles, topic or retrieval.query_terms))
        else:  # an empty follow-up keeps the previous topic alive
            self.history.append(Turn(question, self.history[-1].paper_ids, self.history[-1].titles, self.history[-1].topic_terms))
        del self.history[:-8]

    def _rewrite(self, question: str, notices: list[str], deadline: float) -> str | None:
        assert self.llm is not None
        # At most half the budget, so that a slow rewrite still leaves the answer its turn.
        deadline = min(deadline, time.monotonic() + self.settings.llm.question_budget_s / 2)
        prompt = load_prompt("rewrite")
        history = [{"question": t.question, "titles": t.titles[:6]} for t in self.history[-3:]]
        try:
            text = self.llm.complete(prompt.render(history=history, question=question), deadline=deadline).strip()
        except LLMUnavailableError as exc:
            log.warning("follow-up rewrite failed: %s", exc)
            notices.append(
                f"The follow-up was not rewritten: the LLM failed ({exc}); it was read together "
                "with the previous question instead."
            )
            return None
        text = text.split("\n")[0].strip().strip('"')
        return text if is_topical_rewrite(text, question, self.history[-3:]) else None

    def _llm_sources(self, plan: _Plan) -> list[SourceText]:
        numbered = {s.paper_id: s.n for s in plan.draft.sources if s.relevant}
        out = []
        for hit in plan.hits:
            if hit.paper.id in numbered:
                out.append(SourceText(numbered[hit.paper.id], hit.paper, hit.sentences))
        return sorted(out, key=lambda s: s.n)[: self.settings.llm.max_sources]

    def _stream_llm(self, plan: _Plan, t0: float) -> Iterator[StreamEvent]:
        assert self.llm is not None
        sources = self._llm_sources(plan)
        def clean(text: str) -> str:
            return source_for_prompt(text)  # no injected sentence, no delimiter of its own
        messages = load_prompt("answer").render(
            question=escape_for_prompt(plan.question),
            sources=[
                {
                    "n": s.n,
                    "title": clean(s.paper.title).replace('"', "'"),
                    "text": clean(s.paper.abstract[: self.settings.llm.max_source_chars]),
                }
                for s in sources
            ],
        )
        parts: list[str] = []
        t = time.perf_counter()
        try:
            for delta in self.llm.stream(messages, deadline=plan.deadline):
                parts.append(delta)
                yield StreamEvent(delta, draft=True)
        except LLMUnavailableError as exc:
            plan.notices.append(f"The LLM failed ({exc}); showing the extractive answer instead.")
            plan.timings["llm"] = time.perf_counter() - t
            yield StreamEvent("", self._finish(plan.question, plan.draft, "extractive", plan.notices, plan.timings, t0, plan))
            return
        plan.timings["llm"] = time.perf_counter() - t
        if not "".join(parts).strip():  # say so, rather than that no sentence was supported
            plan.notices.append("The LLM returned an empty answer; showing the extractive answer instead.")
            yield StreamEvent("", self._finish(plan.question, plan.draft, "extractive", plan.notices, plan.timings, t0, plan))
            return
        t = time.perf_counter()
        asked = [plan.question, *(t.question for t in self.history[-3:-1] if plan.info.follow_up)]
        checked = self.verifier.check("".join(parts), sources, question=asked)
        plan.timings["verify"] = time.perf_counter() - t
        if not checked.citations:
            plan.notices.append(
                "The LLM's answer had no sentence that the retrieved papers support; "
                "showing the extractive answer instead."
            )
            yield StreamEvent("", self._finish(plan.question, plan.draft, "extractive", plan.notices, plan.timings, t0, plan, raw=checked))
            return
        if checked.unsupported:
            plan.notices.append(
                f"Removed {len(checked.unsupported)} sentence(s) of the LLM's answer that no retrieved paper supports."
            )
        if checked.removed_markers:
            plan.notices.append(f"Removed {len(checked.removed_markers)} citation(s) that did not check out.")
        draft = Draft(checked.text, checked.citations, plan.draft.sources, plan.draft.kind, True)
        yield StreamEvent("", self._finish(plan.question, draft, "llm", plan.notices, plan.timings, t0, plan, raw=checked))

    def _finish(
        self,
        question: str,
        draft: Draft,
        mode: Mode,
        notices: list[str],
        timings: dict[str, float],
        t0: float,
        plan: _Plan | None = None,
        raw: Any = None,
    ) -> Answer:
        timings = {k: round(v * 1000, 2) for k, v in timings.items()}
        timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        unsupported = tuple(raw.unsupported) if raw is not None else ()
        cited = {c.n for c in draft.citations}
        sources: list[Source] = list(draft.sources)
        # Every [n] in the text must have its source: drop markers that have none.
        valid = {s.n for s in sources}
        assert cited <= valid, f"citations {cited - valid} have no source"
        return Answer(
            question=question,
            text=draft.text,
            citations=tuple(draft.citations),
            sources=tuple(sources),
            mode=mode,
            kind=draft.kind,
            answerable=draft.answerable,
            notices=tuple(notices + draft.notices),
            unsupported=unsupported,
            timings=timings,
            config_hash=self.settings.config_hash(),
            model=self.llm.model if (mode == "llm" and self.llm is not None) else None,
        )


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


__all__ = ["Assistant", "Filters", "PaperLensError", "StreamEvent", "ask"]

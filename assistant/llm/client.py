"""An OpenAI-compatible chat endpoint, with bounded retries and one-line errors.

Timeouts, connection failures, 429 and 5xx are retried with exponential backoff
(`LLMSettings.max_retries`), or after the server's ``Retry-After`` when it sends one and
asks for no more than `LLMSettings.retry_after_max_s`; a wrong key, URL or model fails at
once with a message that names the fix. A reply that is not a chat completion (a web page,
broken JSON) is retried once. Streams are retried only before their first token: once text
has been shown, a broken stream raises `LLMUnavailableError` and the caller falls back. A
stream is complete only when the server ends it with ``data: [DONE]``.

Every call takes an optional ``deadline`` (a `time.monotonic()` value): no request, wait or
stream outlasts it, so a caller can give one question one time budget.

What is retried and how long to wait: assistant/llm/retry.py; reading a stream:
assistant/llm/sse.py.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.errors import LLMAuthError, LLMUnavailableError
from .retry import ReplyFault, backoff, classify, preview, retry_after, seconds_text
from .sse import chat_deltas

if TYPE_CHECKING:
    from ..core.settings import Settings

log = logging.getLogger(__name__)

_NO_KEY = "sk-no-key-needed"  # local servers (llama.cpp, vLLM) accept any key
_T = TypeVar("_T")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


@dataclass(frozen=True)
class Completion:
    """One non-streamed reply with what it cost.

    ``prompt_tokens``/``completion_tokens`` are the server's own count (its ``usage``);
    0 when a server does not report one.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


def run_concurrently(calls: Sequence[Callable[[], _T]], workers: int) -> list[_T]:
    """Run independent calls (e.g. several LLM requests) side by side, results in order.

    Exceptions propagate from the first failed call, after every call has ended.
    """
    if len(calls) <= 1 or workers <= 1:
        return [c() for c in calls]
    with ThreadPoolExecutor(max_workers=min(workers, len(calls))) as pool:
        futures = [pool.submit(c) for c in calls]
        return [f.result() for f in futures]


class LLMClient:
    """Chat completions from the endpoint named by `OPENAI_BASE_URL`/`OPENAI_API_KEY`.

    One client may serve several conversations at once (the web UI shares it): per-call
    state, such as a question's deadline, is passed to each call, never stored.

    Example:
        >>> llm = LLMClient(Settings(openai_base_url="http://127.0.0.1:8080/v1"))  # doctest: +SKIP
        >>> "".join(llm.stream([{"role": "user", "content": "hi"}]))            # doctest: +SKIP
    """

    def __init__(self, settings: Settings, *, sleep: Callable[[float], Any] = time.sleep):
        self.settings = settings
        self.model = settings.llm.model
        self.base_url = settings.openai_base_url or "https://api.openai.com/v1"
        self.where = f"the LLM endpoint at {self.base_url}"
        self._sleep = sleep
        self._client: Any = None
        self.retries_used = 0

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            key = (
                self.settings.openai_api_key.get_secret_value()
                if self.settings.openai_api_key
                else _NO_KEY
            )
            self._client = openai.OpenAI(
                api_key=key,
                base_url=self.base_url,
                timeout=self.settings.llm.timeout,
                # Retries are ours: counted, logged, bounded by the question's deadline. The
                # client's own would honour Retry-After up to 2 minutes, past any budget.
                max_retries=0,
            )
        return self._client

    # -- public API
    def complete(self, messages: list[dict[str, str]], *, deadline: float | None = None) -> str:
        """The whole reply as one string.

        Args:
            messages: the chat messages.
            deadline: a `time.monotonic()` value no request or retry may outlast.

        Raises:
            LLMUnavailableError: the endpoint failed, after retries, or time ran out.
        """

        def once(timeout: float) -> str:
            try:
                resp = self.client.chat.completions.create(**self._request(messages, timeout))
            except json.JSONDecodeError as exc:  # a JSON Content-Type over a broken body
                raise ReplyFault("invalid JSON", malformed=True) from exc
            return self._completion_text(resp)

        return self._with_retries(once, deadline, "chat completion")

    def complete_usage(
        self,
        messages: list[dict[str, str]],
        *,
        deadline: float | None = None,
        max_tokens: int | None = None,
        json_object: bool = False,
    ) -> Completion:
        """The whole reply with its token counts and duration (retried as `complete` is).

        Args:
            messages: the chat messages.
            deadline: a `time.monotonic()` value no request or retry may outlast.
            max_tokens: overrides `LLMSettings.max_tokens` for this call (keep small
                replies small: a local model generates ~10 tokens/s).
            json_object: ask for a JSON object (``response_format``), which servers such
                as llama.cpp enforce with a grammar, when `LLMSettings.json_mode` is on.

        Raises:
            LLMUnavailableError: the endpoint failed, after retries, or time ran out.
        """
        t0 = time.perf_counter()

        def once(timeout: float) -> tuple[str, Any]:
            request = self._request(messages, timeout)
            if max_tokens is not None:
                request["max_tokens"] = max_tokens
            if json_object and self.settings.llm.json_mode:
                request["response_format"] = {"type": "json_object"}
            try:
                resp = self.client.chat.completions.create(**request)
            except json.JSONDecodeError as exc:  # a JSON Content-Type over a broken body
                raise ReplyFault("invalid JSON", malformed=True) from exc
            return self._completion_text(resp), getattr(resp, "usage", None)

        text, usage = self._with_retries(once, deadline, "chat completion")
        return Completion(
            text,
            _count(getattr(usage, "prompt_tokens", 0)),
            _count(getattr(usage, "completion_tokens", 0)),
            time.perf_counter() - t0,
        )

    def stream(
        self, messages: list[dict[str, str]], *, deadline: float | None = None
    ) -> Iterator[str]:
        """Text deltas as the endpoint produces them.

        Args:
            messages: the chat messages.
            deadline: a `time.monotonic()` value; a stream still running then is cut.

        Raises:
            LLMUnavailableError: the endpoint failed before the first delta (after
                retries), the stream broke or ended without ``[DONE]`` after some text,
                or time ran out.
        """

        def once(timeout: float) -> tuple[Any, Iterator[str], str | None, float]:
            manager = self.client.chat.completions.with_streaming_response.create(
                **self._request(messages, timeout), stream=True
            )
            pieces = chat_deltas(
                manager.__enter__(), deadline, self.where, self.settings.llm.question_budget_s
            )
            try:
                first = next(pieces, None)
            except BaseException:
                manager.__exit__(None, None, None)
                raise
            return manager, pieces, first, timeout

        manager, pieces, first, timeout = self._with_retries(
            once, deadline, "chat completion stream"
        )
        produced = 0
        try:
            if first is None:
                return
            produced = 1
            yield first
            for piece in pieces:
                produced += 1
                yield piece
        except ReplyFault as exc:
            if exc.malformed:
                raise LLMUnavailableError(
                    f"the answer stream broke after {produced} pieces: {self.where} sent "
                    f"something that is not a chat completion chunk ({exc.reason})"
                ) from exc
            raise LLMUnavailableError(exc.reason) from exc
        except Exception as exc:
            _, reason = classify(exc, self.where, self.model, timeout)
            raise LLMUnavailableError(
                f"the answer stream broke after {produced} pieces: {reason}"
            ) from exc
        finally:
            manager.__exit__(None, None, None)

    # -- internals
    def _request(self, messages: list[dict[str, str]], timeout: float) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "temperature": self.settings.llm.temperature,
            "max_tokens": self.settings.llm.max_tokens,
            "timeout": timeout,
        }

    def _completion_text(self, resp: Any) -> str:
        # The openai client hands back a non-JSON body as a plain str, and builds JSON
        # of any shape into a ChatCompletion without checking it.
        if isinstance(resp, str):
            raise ReplyFault(preview(resp) if resp.strip() else "an empty body", malformed=True)
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise ReplyFault("no choices", malformed=True)
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if message is None or not (content is None or isinstance(content, str)):
            raise ReplyFault("no message in its first choice", malformed=True)
        return content or ""

    def _timeout(self, deadline: float | None) -> float:
        timeout = self.settings.llm.timeout
        return timeout if deadline is None else min(timeout, deadline - time.monotonic())

    def _out_of_time(self, last: str) -> str:
        budget = seconds_text(self.settings.llm.question_budget_s)
        tail = f"no time left of the question's {budget} s time budget (llm.question_budget_s)"
        return f"{last}; {tail}" if last else tail

    def _with_retries(self, once: Callable[[float], _T], deadline: float | None, what: str) -> _T:
        """Call ``once(timeout)`` until it succeeds, retrying what may pass, within ``deadline``.

        ``what`` names the reply expected ("chat completion") in the message for one that is not.
        """
        import openai

        retries = self.settings.llm.max_retries
        cap = self.settings.llm.retry_after_max_s
        last = ""
        retried = malformed = 0
        while True:
            timeout = self._timeout(deadline)
            if timeout <= 0:
                raise LLMUnavailableError(self._out_of_time(last))
            wait: float | None = None
            try:
                return once(timeout)
            except ReplyFault as exc:
                last = exc.reason
                if exc.malformed:
                    malformed += 1
                    last = (
                        f"{self.where} returned a response that is not a {what} ({exc.reason}) - "
                        "check that OPENAI_BASE_URL is an OpenAI-compatible API "
                        "(it usually ends in /v1)"
                    )
                    if malformed > 1:
                        break
            except Exception as exc:
                retryable, last = classify(exc, self.where, self.model, timeout)
                if not retryable:
                    raise LLMAuthError(last) from exc
                if isinstance(exc, openai.APIStatusError):
                    wait = retry_after(exc.response.headers)
            if retried >= retries:
                break
            done = f" (after {retried} retries)" if retried else ""
            if wait is not None and wait > cap:
                raise LLMUnavailableError(
                    f"{last} and asks to retry after {seconds_text(wait)} s, longer than "
                    f"llm.retry_after_max_s ({seconds_text(cap)} s){done}"
                )
            delay = backoff(retried) if wait is None else wait
            if deadline is not None and delay >= deadline - time.monotonic():
                if wait is not None:
                    left = max(0.0, deadline - time.monotonic())
                    raise LLMUnavailableError(
                        f"{last} and asks to retry after {seconds_text(wait)} s, more than the "
                        f"{seconds_text(left)} s left of the question's "
                        f"{seconds_text(self.settings.llm.question_budget_s)} s time budget{done}"
                    )
                raise LLMUnavailableError(self._out_of_time(last) + done)
            retried += 1
            self.retries_used += 1
            log.warning("%s; retry %d in %.1f s", last, retried, delay)
            self._sleep(delay)
        raise LLMUnavailableError(f"{last} (after {retried} retries)")

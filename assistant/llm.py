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
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import LLMAuthError, LLMUnavailableError

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

_NO_KEY = "sk-no-key-needed"  # local servers (llama.cpp, vLLM) accept any key
_T = TypeVar("_T")


class _Fault(Exception):
    """A reply that failed in a way the openai client does not raise for (retryable)."""

    def __init__(self, reason: str, *, malformed: bool = False):
        super().__init__(reason)
        self.reason = reason
        # Not a chat completion at all: likely the wrong URL, so retried only once.
        self.malformed = malformed


def _preview(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text[:n]) + ("..." if len(text) > n else "")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _num(seconds: float) -> str:
    return f"{round(seconds, 1):g}"


def retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds a response's ``Retry-After`` (or ``retry-after-ms``) asks to wait, or None.

    Both forms of RFC 9110 are read: delay-seconds and an HTTP-date (a date in the past
    means now: 0).
    """
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


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

            key = self.settings.openai_api_key.get_secret_value() if self.settings.openai_api_key else _NO_KEY
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
                raise _Fault("invalid JSON", malformed=True) from exc
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
                raise _Fault("invalid JSON", malformed=True) from exc
            return self._completion_text(resp), getattr(resp, "usage", None)

        text, usage = self._with_retries(once, deadline, "chat completion")
        return Completion(
            text,
            _count(getattr(usage, "prompt_tokens", 0)),
            _count(getattr(usage, "completion_tokens", 0)),
            time.perf_counter() - t0,
        )

    def stream(self, messages: list[dict[str, str]], *, deadline: float | None = None) -> Iterator[str]:
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
            pieces = self._pieces(manager.__enter__(), deadline)
            try:
                first = next(pieces, None)
            except BaseException:
                manager.__exit__(None, None, None)
                raise
            return manager, pieces, first, timeout

        manager, pieces, first, timeout = self._with_retries(once, deadline, "chat completion stream")
        produced = 0
        try:
            if first is None:
                return
            produced = 1
            yield first
            for piece in pieces:
                produced += 1
                yield piece
        except _Fault as exc:
            if exc.malformed:
                raise LLMUnavailableError(
                    f"the answer stream broke after {produced} pieces: {self.where} sent "
                    f"something that is not a chat completion chunk ({exc.reason})"
                ) from exc
            raise LLMUnavailableError(exc.reason) from exc
        except Exception as exc:
            _, reason = self._classify(exc, timeout)
            raise LLMUnavailableError(f"the answer stream broke after {produced} pieces: {reason}") from exc
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
            raise _Fault(_preview(resp) if resp.strip() else "an empty body", malformed=True)
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise _Fault("no choices", malformed=True)
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if message is None or not (content is None or isinstance(content, str)):
            raise _Fault("no message in its first choice", malformed=True)
        return content or ""

    def _pieces(self, response: Any, deadline: float | None) -> Iterator[str]:
        """The content deltas of an SSE chat stream; raises `_Fault` on a cut or a bad event."""
        events = produced = 0
        data: list[str] = []
        budget = self.settings.llm.question_budget_s
        for line in response.iter_lines():
            if deadline is not None and time.monotonic() > deadline:
                raise _Fault(
                    f"the answer stream from {self.where} was cut after {produced} pieces: the "
                    f"question's {_num(budget)} s time budget (llm.question_budget_s) ran out"
                )
            if line.startswith(":"):  # an SSE comment (keep-alive)
                continue
            if line:
                field, _, value = line.partition(":")
                if field == "data":
                    data.append(value[1:] if value.startswith(" ") else value)
                continue
            if not data:
                continue
            payload, data = "\n".join(data), []
            if payload.strip() == "[DONE]":
                return
            events += 1
            delta = self._delta(payload)
            if delta:
                produced += 1
                yield delta
        if data and "\n".join(data).strip() == "[DONE]":  # [DONE] without its blank line
            return
        if not events:
            ctype = response.headers.get("content-type") or "no Content-Type"
            raise _Fault(f"{ctype}, no 'data:' events", malformed=True)
        raise _Fault(
            f"the answer stream from {self.where} ended after {produced} pieces without [DONE] "
            "(the connection closed early)"
        )

    def _delta(self, payload: str) -> str:
        try:
            event = json.loads(payload)
        except ValueError:
            raise _Fault(f"an event is not JSON: {_preview(payload)}", malformed=True) from None
        if not isinstance(event, dict):
            raise _Fault(f"an event is not an object: {_preview(payload)}", malformed=True)
        if event.get("error"):
            error = event["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise _Fault(f"{self.where} reported an error mid-stream: {str(message)[:200]}")
        choices = event.get("choices")
        if not isinstance(choices, list):
            raise _Fault(f"an event has no choices: {_preview(payload)}", malformed=True)
        if not choices:  # e.g. a usage-only chunk
            return ""
        delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
        content = delta.get("content") if isinstance(delta, dict) else None
        return content if isinstance(content, str) else ""

    def _timeout(self, deadline: float | None) -> float:
        timeout = self.settings.llm.timeout
        return timeout if deadline is None else min(timeout, deadline - time.monotonic())

    def _out_of_time(self, last: str) -> str:
        budget = _num(self.settings.llm.question_budget_s)
        tail = f"no time left of the question's {budget} s time budget (llm.question_budget_s)"
        return f"{last}; {tail}" if last else tail

    def _classify(self, exc: Exception, timeout: float) -> tuple[bool, str]:
        """(retryable, one-line reason) for an exception from the openai client."""
        import openai

        where = self.where
        if isinstance(exc, openai.AuthenticationError):
            return False, f"{where} rejected the API key (401) - check OPENAI_API_KEY."
        if isinstance(exc, openai.PermissionDeniedError):
            return False, f"{where} refused access (403) - check OPENAI_API_KEY and its permissions."
        if isinstance(exc, openai.NotFoundError):
            return False, (
                f"{where} has no such route or model {self.model!r} (404) - check OPENAI_BASE_URL "
                "(it usually ends in /v1) and PAPERLENS_LLM__MODEL."
            )
        # A stream is read through the HTTP library, whose timeouts the client does not wrap.
        if isinstance(exc, openai.APITimeoutError) or "Timeout" in type(exc).__name__:
            return True, f"{where} timed out after {_num(max(timeout, 0))} s"
        if isinstance(exc, openai.APIConnectionError):
            return True, f"cannot reach {where} - is the server running? ({exc.__class__.__name__})"
        if isinstance(exc, openai.RateLimitError):
            return True, f"{where} is rate limiting requests (429)"
        if isinstance(exc, openai.APIStatusError):
            code = exc.status_code
            if code >= 500:
                return True, f"{where} failed with HTTP {code}"
            return False, f"{where} rejected the request (HTTP {code}): {str(exc)[:200]}"
        if "Error" in type(exc).__name__ and type(exc).__module__.startswith(("httpx", "httpcore")):
            return True, f"the connection to {where} broke ({exc.__class__.__name__})"
        return False, f"{where} failed: {exc.__class__.__name__}: {str(exc)[:200]}"

    def _backoff(self, attempt: int) -> float:
        return min(8.0, 0.5 * 2**attempt) * (0.75 + 0.5 * random.random())

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
            except _Fault as exc:
                last = exc.reason
                if exc.malformed:
                    malformed += 1
                    last = (
                        f"{self.where} returned a response that is not a {what} ({exc.reason}) - "
                        "check that OPENAI_BASE_URL is an OpenAI-compatible API (it usually ends in /v1)"
                    )
                    if malformed > 1:
                        break
            except Exception as exc:
                retryable, last = self._classify(exc, timeout)
                if not retryable:
                    raise LLMAuthError(last) from exc
                if isinstance(exc, openai.APIStatusError):
                    wait = retry_after(exc.response.headers)
            if retried >= retries:
                break
            done = f" (after {retried} retries)" if retried else ""
            if wait is not None and wait > cap:
                raise LLMUnavailableError(
                    f"{last} and asks to retry after {_num(wait)} s, longer than "
                    f"llm.retry_after_max_s ({_num(cap)} s){done}"
                )
            delay = self._backoff(retried) if wait is None else wait
            if deadline is not None and delay >= deadline - time.monotonic():
                if wait is not None:
                    left = max(0.0, deadline - time.monotonic())
                    raise LLMUnavailableError(
                        f"{last} and asks to retry after {_num(wait)} s, more than the "
                        f"{_num(left)} s left of the question's "
                        f"{_num(self.settings.llm.question_budget_s)} s time budget{done}"
                    )
                raise LLMUnavailableError(self._out_of_time(last) + done)
            retried += 1
            self.retries_used += 1
            log.warning("%s; retry %d in %.1f s", last, retried, delay)
            self._sleep(delay)
        raise LLMUnavailableError(f"{last} (after {retried} retries)")

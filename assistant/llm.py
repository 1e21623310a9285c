"""An OpenAI-compatible chat endpoint, with bounded retries and one-line errors.

Timeouts, connection failures, 429 and 5xx are retried with exponential backoff
(`LLMSettings.max_retries`); a wrong key, URL or model fails at once with a message that
names the fix. Streams are retried only before their first token: once text has been
shown, a broken stream raises `LLMUnavailableError` and the caller falls back.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .errors import LLMAuthError, LLMUnavailableError

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

_NO_KEY = "sk-no-key-needed"  # local servers (llama.cpp, vLLM) accept any key


class LLMClient:
    """Chat completions from the endpoint named by `OPENAI_BASE_URL`/`OPENAI_API_KEY`.

    Example:
        >>> llm = LLMClient(Settings(openai_base_url="http://127.0.0.1:8080/v1"))  # doctest: +SKIP
        >>> "".join(llm.stream([{"role": "user", "content": "hi"}]))            # doctest: +SKIP
    """

    def __init__(self, settings: Settings, *, sleep: Any = time.sleep):
        self.settings = settings
        self.model = settings.llm.model
        self.base_url = settings.openai_base_url or "https://api.openai.com/v1"
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
                max_retries=0,  # retries are ours: counted, logged and bounded
            )
        return self._client

    def _classify(self, exc: Exception) -> tuple[bool, str]:
        """(retryable, one-line reason) for an exception from the openai client."""
        import openai

        where = f"the LLM endpoint at {self.base_url}"
        if isinstance(exc, openai.AuthenticationError):
            return False, f"{where} rejected the API key (401) - check OPENAI_API_KEY."
        if isinstance(exc, openai.PermissionDeniedError):
            return False, f"{where} refused access (403) - check OPENAI_API_KEY and its permissions."
        if isinstance(exc, openai.NotFoundError):
            return False, (
                f"{where} has no such route or model {self.model!r} (404) - check OPENAI_BASE_URL "
                "(it usually ends in /v1) and PAPERLENS_LLM__MODEL."
            )
        if isinstance(exc, openai.APITimeoutError):
            return True, f"{where} timed out after {self.settings.llm.timeout:.0f}s"
        if isinstance(exc, openai.APIConnectionError):
            return True, f"cannot reach {where} - is the server running? ({exc.__class__.__name__})"
        if isinstance(exc, openai.RateLimitError):
            return True, f"{where} is rate limiting requests (429)"
        if isinstance(exc, openai.APIStatusError):
            code = exc.status_code
            if code >= 500:
                return True, f"{where} failed with HTTP {code}"
            return False, f"{where} rejected the request (HTTP {code}): {str(exc)[:200]}"
        return False, f"{where} failed: {exc.__class__.__name__}: {str(exc)[:200]}"

    def _backoff(self, attempt: int) -> None:
        delay = min(8.0, 0.5 * 2**attempt) * (0.75 + 0.5 * random.random())
        self._sleep(delay)

    def _create(self, messages: list[dict[str, str]], stream: bool) -> Any:
        last = ""
        for attempt in range(self.settings.llm.max_retries + 1):
            try:
                return self.client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    temperature=self.settings.llm.temperature,
                    max_tokens=self.settings.llm.max_tokens,
                    stream=stream,
                )
            except Exception as exc:
                retryable, last = self._classify(exc)
                if not retryable:
                    raise LLMAuthError(last) from exc
                if attempt < self.settings.llm.max_retries:
                    self.retries_used += 1
                    log.warning("%s; retry %d", last, attempt + 1)
                    self._backoff(attempt)
        raise LLMUnavailableError(f"{last} (after {self.settings.llm.max_retries} retries)")

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The whole reply as one string."""
        resp = self._create(messages, stream=False)
        return str(resp.choices[0].message.content or "")

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Text deltas as the endpoint produces them."""
        stream = self._create(messages, stream=True)
        produced = 0
        try:
            for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta.content
                if delta:
                    produced += 1
                    yield delta
        except Exception as exc:
            _, reason = self._classify(exc)
            raise LLMUnavailableError(f"the answer stream broke after {produced} pieces: {reason}") from exc
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

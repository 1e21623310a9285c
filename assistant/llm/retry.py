"""The retry policy for an OpenAI-compatible endpoint: what is retried, and how long to wait.

Timeouts, connection failures, 429 and 5xx are retryable; a wrong key, URL or model is not
(its one-line reason names the fix). A reply that is not a chat completion is a `ReplyFault`
(`malformed`), which `assistant.llm.client.LLMClient` retries only once. Waits follow the server's
``Retry-After`` when it sends one, else exponential backoff with jitter.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from typing import Any


class ReplyFault(Exception):
    """A reply that failed in a way the openai client does not raise for (retryable)."""

    def __init__(self, reason: str, *, malformed: bool = False):
        super().__init__(reason)
        self.reason = reason
        # Not a chat completion at all: likely the wrong URL, so retried only once.
        self.malformed = malformed


def preview(text: str, n: int = 60) -> str:
    """The start of ``text`` on one line, quoted, for a fault's reason."""
    text = " ".join(text.split())
    return repr(text[:n]) + ("..." if len(text) > n else "")


def seconds_text(seconds: float) -> str:
    """``seconds`` as a message shows them (one decimal, no trailing zero)."""
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


def backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` + 1 when the server names no time."""
    return min(8.0, 0.5 * 2**attempt) * (0.75 + 0.5 * random.random())


def classify(exc: Exception, where: str, model: str, timeout: float) -> tuple[bool, str]:
    """(retryable, one-line reason) for an exception from the openai client.

    Args:
        exc: what the client raised.
        where: the endpoint in words ("the LLM endpoint at ...").
        model: the model asked for (named when the endpoint does not know it).
        timeout: the seconds the request was given.
    """
    import openai

    if isinstance(exc, openai.AuthenticationError):
        return False, f"{where} rejected the API key (401) - check OPENAI_API_KEY."
    if isinstance(exc, openai.PermissionDeniedError):
        return False, (f"{where} refused access (403) - check OPENAI_API_KEY and its permissions.")
    if isinstance(exc, openai.NotFoundError):
        return False, (
            f"{where} has no such route or model {model!r} (404) - check OPENAI_BASE_URL "
            "(it usually ends in /v1) and PAPERLENS_LLM__MODEL."
        )
    # A stream is read through the HTTP library, whose timeouts the client does not wrap.
    if isinstance(exc, openai.APITimeoutError) or "Timeout" in type(exc).__name__:
        return True, f"{where} timed out after {seconds_text(max(timeout, 0))} s"
    if isinstance(exc, openai.APIConnectionError):
        return True, (f"cannot reach {where} - is the server running? ({exc.__class__.__name__})")
    if isinstance(exc, openai.RateLimitError):
        return True, f"{where} is rate limiting requests (429)"
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code >= 500:
            return True, f"{where} failed with HTTP {code}"
        return False, f"{where} rejected the request (HTTP {code}): {str(exc)[:200]}"
    from_http = type(exc).__module__.startswith(("httpx", "httpcore"))
    if "Error" in type(exc).__name__ and from_http:
        return True, f"the connection to {where} broke ({exc.__class__.__name__})"
    return False, f"{where} failed: {exc.__class__.__name__}: {str(exc)[:200]}"

"""Reading an OpenAI-compatible chat stream (server-sent events) into text deltas.

A stream is complete only when the server ends it with ``data: [DONE]``; a cut, an event
that is not a chat completion chunk, or an error event raises `ReplyFault`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from .retry import ReplyFault, preview, seconds_text


def chat_deltas(
    response: Any, deadline: float | None, where: str, budget_s: float
) -> Iterator[str]:
    """The content deltas of an SSE chat stream; raises `ReplyFault` on a cut or a bad event.

    Args:
        response: the HTTP response (its ``iter_lines()`` and ``headers``).
        deadline: a `time.monotonic()` value; the stream is cut when it passes.
        where: the endpoint in words, for the messages.
        budget_s: the question's time budget (``llm.question_budget_s``), for the message.
    """
    events = produced = 0
    data: list[str] = []
    for line in response.iter_lines():
        if deadline is not None and time.monotonic() > deadline:
            raise ReplyFault(
                f"the answer stream from {where} was cut after {produced} pieces: the "
                f"question's {seconds_text(budget_s)} s time budget (llm.question_budget_s) "
                "ran out"
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
        delta = _delta(payload, where)
        if delta:
            produced += 1
            yield delta
    if data and "\n".join(data).strip() == "[DONE]":  # [DONE] without its blank line
        return
    if not events:
        ctype = response.headers.get("content-type") or "no Content-Type"
        raise ReplyFault(f"{ctype}, no 'data:' events", malformed=True)
    raise ReplyFault(
        f"the answer stream from {where} ended after {produced} pieces without [DONE] "
        "(the connection closed early)"
    )


def _delta(payload: str, where: str) -> str:
    try:
        event = json.loads(payload)
    except ValueError:
        raise ReplyFault(f"an event is not JSON: {preview(payload)}", malformed=True) from None
    if not isinstance(event, dict):
        raise ReplyFault(f"an event is not an object: {preview(payload)}", malformed=True)
    if event.get("error"):
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise ReplyFault(f"{where} reported an error mid-stream: {str(message)[:200]}")
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise ReplyFault(f"an event has no choices: {preview(payload)}", malformed=True)
    if not choices:  # e.g. a usage-only chunk
        return ""
    delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""
